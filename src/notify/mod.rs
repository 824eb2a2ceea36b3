//! `vigie notify`: art. 34 notification of every person concerned, by e-mail or as a
//! printable letter, at the scale of millions, resumable without duplicates.
//!
//! The recipient file is streamed row by row. Each person is keyed in the ledger by a
//! keyed hash of their identifier (never their address). A rerun of the same campaign
//! skips everyone already sent; e-mails and letters written as files are named by that
//! key, so rewriting one after a crash leaves no duplicate; over SMTP, at most the
//! messages in flight at a crash (the concurrency) go out twice, with the same Message-ID.
//!
//! A person sent by any campaign of the same case is skipped unless `resend_notified`.
//! A 5xx answer is final: the person is `refused`, listed in `refused.csv` for a letter,
//! never retried; a 4xx or a network error is `failed` and retried by a rerun.

pub mod letter;
pub mod print;
pub mod recipients;
pub mod refusal;

use crate::case::Command;
use crate::config::Config;
use crate::mail::Mailer;
use crate::render::{Templates, ViewRequest, build_view};
use crate::store::backend::{Campaign, LedgerRow};
use crate::store::{Store, StoreError};
use crate::time::{self, Lang};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use letter::Letter;
use recipients::{Channel, Reader, Recipient};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

pub struct Options {
    pub case_id: String,
    pub recipients: PathBuf,
    pub channel: Channel,
    pub dry_run: bool,
    pub concurrency: usize,
    pub limit: Option<u64>,
    pub new_campaign: bool,
    /// Send also to people already notified by another campaign of the case.
    pub resend_notified: bool,
    /// Letters as print-ready PDFs (`print`), not one text file per person.
    pub pdf: bool,
    /// Letters in each PDF (default `print::LETTERS_PER_FILE`).
    pub letters_per_file: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Outcome {
    pub campaign: i64,
    pub channel: String,
    pub sent: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Refused for good by the mail server (5xx): to be notified by letter.
    pub refused: u64,
    /// Already notified, in this campaign or (unless --resend-notified) another of the case.
    pub skipped: u64,
    pub dry_run: bool,
    /// Where the rejected rows were written, if any.
    pub rejects: Option<String>,
    /// Where the refused people were listed (line, identifier, redacted refusal), if any.
    pub refused_list: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    /// True for what the caller can correct (a bad file, option or case).
    pub fn is_input(&self) -> bool {
        match self {
            NotifyError::Input(_) => true,
            NotifyError::Runtime(_) => false,
            NotifyError::Store(e) => e.is_input(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a progress display is told.
pub trait Progress {
    fn start(&mut self, total_rows: u64);
    fn tick(&mut self, done: u64, sent: u64);
    fn finish(&mut self);
}

/// SHA-256 of the file and its number of lines, in one streaming pass.
fn fingerprint(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finalize()), lines))
}

/// The folder a person's file goes in: 4,096 shards, never millions of files in one.
fn shard(root: &Path, campaign: i64, person: &str) -> PathBuf {
    root.join(format!("campaign-{campaign}")).join(&person[..3])
}

fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    made: &mut HashSet<PathBuf>,
) -> std::io::Result<()> {
    if !made.contains(dir) {
        crate::util::private::create_dir_all(dir)?;
        made.insert(dir.to_path_buf());
    }
    let tmp = dir.join(format!(".{name}.tmp"));
    crate::util::private::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// File writers on their own threads: creating a million small files is bound by the
/// file system's metadata operations, which overlap well across threads. A row is
/// recorded as sent only once its file is written.
/// A file to write: folder, name, bytes, and the person and Message-ID to record.
type WriteJob = (PathBuf, String, Vec<u8>, String, String);

struct Writers {
    jobs: Option<std::sync::mpsc::SyncSender<WriteJob>>,
    done: std::sync::mpsc::Receiver<(String, String, Result<(), String>)>,
    handles: Vec<std::thread::JoinHandle<()>>,
    in_flight: u64,
}

impl Writers {
    fn new(threads: usize) -> Writers {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<WriteJob>(4096);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let (done_tx, done) = std::sync::mpsc::channel();
        let handles = (0..threads)
            .map(|_| {
                let queue = queue.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    let mut made = HashSet::new();
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((dir, name, bytes, person, mid))) = job else {
                            return;
                        };
                        let r = write_atomic(&dir, &name, &bytes, &mut made)
                            .map_err(|e| format!("{}: {e}", dir.display()));
                        if done_tx.send((person, mid, r)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Writers {
            jobs: Some(jobs),
            done,
            handles,
            in_flight: 0,
        }
    }

    fn submit(
        &mut self,
        dir: PathBuf,
        name: String,
        bytes: Vec<u8>,
        person: String,
        mid: String,
    ) -> Result<(), NotifyError> {
        self.in_flight += 1;
        self.jobs
            .as_ref()
            .expect("open until finish")
            .send((dir, name, bytes, person, mid))
            .map_err(|_| NotifyError::Runtime("a file writer stopped".into()))
    }

    fn record(
        &mut self,
        item: (String, String, Result<(), String>),
        ledger: &mut Ledger,
        out: &mut Outcome,
    ) -> Result<(), NotifyError> {
        self.in_flight -= 1;
        let (person, mid, r) = item;
        r.map_err(NotifyError::Runtime)?;
        ledger.pending.push((person, mid, "sent", None));
        out.sent += 1;
        Ok(())
    }

    /// Records what is written so far, without waiting.
    fn drain(&mut self, ledger: &mut Ledger, out: &mut Outcome) -> Result<(), NotifyError> {
        while let Ok(item) = self.done.try_recv() {
            self.record(item, ledger, out)?;
        }
        Ok(())
    }

    /// Waits for every file, then records them.
    fn finish(&mut self, ledger: &mut Ledger, out: &mut Outcome) -> Result<(), NotifyError> {
        self.jobs = None;
        while self.in_flight > 0 {
            match self.done.recv() {
                Ok(item) => self.record(item, ledger, out)?,
                Err(_) => break,
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        Ok(())
    }
}

fn letter_file(r: &Recipient, org: &str, text: &str, date: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(org);
    out.push_str("\n\n");
    for line in [
        r.display_name(),
        r.address.clone(),
        format!("{} {}", r.postal_code, r.city).trim().to_string(),
        r.country.clone(),
    ] {
        if !line.is_empty() {
            out.push_str("                                        ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(date);
    out.push_str("\n\n");
    out.push_str(text);
    out
}

struct Ledger<'a> {
    store: &'a mut Store,
    campaign: i64,
    pending: Vec<(String, String, &'static str, Option<String>)>,
}

impl Ledger<'_> {
    fn flush(&mut self, now: DateTime<Utc>) -> Result<(), NotifyError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let rows: Vec<LedgerRow> = self
            .pending
            .drain(..)
            .map(|(person, message_id, status, error)| LedgerRow {
                campaign: self.campaign,
                person,
                status: status.to_string(),
                message_id: Some(message_id),
                at: now,
                error,
            })
            .collect();
        self.store.backend().write_ledger(&rows)?;
        Ok(())
    }
}

/// Runs (or resumes) the campaign of `opts.case_id` for `opts.channel`.
pub fn run(
    store: &mut Store,
    cfg: &Config,
    profile: &crate::org::Profile,
    org: &str,
    opts: &Options,
    actor: &str,
    progress: &mut dyn Progress,
) -> Result<Outcome, NotifyError> {
    let now = time::now();
    let loaded = store.load(org, &opts.case_id)?;
    let wf = loaded.workflow.clone();
    if !wf.documents.contains_key("individual_letter") {
        return Err(NotifyError::Input(format!(
            "workflow '{}' has no individual_letter document",
            wf.id
        )));
    }
    let file = opts.recipients.display().to_string();
    let input_err = |e: std::io::Error| NotifyError::Input(format!("{file}: {e}"));
    let (recipients_sha, total_lines) = fingerprint(&opts.recipients).map_err(input_err)?;

    // The letter in each language, rendered once: a template error stops everything here.
    let templates = Templates::from_config(cfg);
    // The letters are signed by the case's own organisation, never by another's.
    let org_name = profile
        .name
        .clone()
        .unwrap_or_else(|| "[organisation]".to_string());
    let mut letters: HashMap<Lang, Letter> = HashMap::new();
    let mut template_hash = Sha256::new();
    // In each language the workflow drafts in; a person asking another gets the workflow's.
    for lang in wf.languages.clone() {
        let labels = templates
            .labels(&wf, lang)
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        let (base, _) = build_view(&ViewRequest {
            wf: &wf,
            case: &loaded.case,
            events: &loaded.events,
            profile,
            labels: &labels,
            document: "individual_letter",
            lang,
            now,
            current: None,
        });
        let l = Letter::new(&templates, &wf, lang, base, &org_name)
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        let src = templates
            .source(&format!(
                "{}.{}.md.hbs",
                wf.documents["individual_letter"].template,
                lang.code()
            ))
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        template_hash.update(src.as_bytes());
        letters.insert(lang, l);
    }
    let template_sha = hex(&template_hash.finalize());
    let default_lang = wf.lang;

    // The transport, checked before the first row. The SMTP pool lives in a runtime.
    let needs_mail = opts.channel == Channel::Email && !opts.dry_run;
    let rt = if needs_mail && cfg.mail.transport == crate::mail::TransportKind::Smtp {
        Some(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| NotifyError::Runtime(e.to_string()))?,
        )
    } else {
        None
    };
    // Inside the runtime's context, the pool can start (and, when dropped, stop) its task.
    let _in_runtime = rt.as_ref().map(|rt| rt.enter());
    let mailer = if needs_mail {
        let built = match &rt {
            Some(rt) => rt.block_on(async { cfg.mail.mailer() }),
            None => cfg.mail.mailer(),
        };
        let built = built.map_err(|e| NotifyError::Input(format!("mail configuration: {e}")))?;
        if let Some(w) = cfg.mail.warning() {
            eprintln!("{w}");
        }
        Some(built)
    } else {
        None
    };
    let from = cfg
        .mail
        .from_mailbox()
        .map_err(|e| NotifyError::Input(format!("mail configuration: {e}")))?;
    // A server that cannot be reached, refuses the sign-in or refuses the sender with a
    // 5xx would look like every person failing or refusing: the run stops before a
    // campaign or a ledger row.
    if let (Some(m), Some(rt)) = (&mailer, &rt) {
        rt.block_on(m.check(Some(&from.email)))
            .map_err(|e| NotifyError::Runtime(format!("mail server: {e}")))?;
    }
    let domain = cfg.mail.message_id_domain();

    // The header is checked before a campaign exists: a refused file leaves nothing.
    let f = std::fs::File::open(&opts.recipients).map_err(input_err)?;
    let mut buffered = BufReader::with_capacity(1 << 16, f);
    let first_line = buffered
        .fill_buf()
        .map_err(input_err)?
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default()
        .to_vec();
    let mut reader = Reader::new(buffered, &first_line, opts.channel, &file)
        .map_err(|e| NotifyError::Input(e.to_string()))?;

    // The campaign: resumed when the same file and template are given again.
    let ledger_key: String = crate::outbox::delivery::secret(store)?;
    let campaign = choose_campaign(store, org, opts, &recipients_sha, &template_sha, now)?;

    // Who is already notified: in this campaign, and unless asked to resend, in any other
    // campaign of this case (of this organisation). 8 bytes of each key, so 1.6 million
    // fit in ~20 MB.
    let mut already: HashSet<u64> = HashSet::new();
    store.backend().sent_people(
        org,
        &opts.case_id,
        campaign,
        !opts.resend_notified,
        &mut |p| {
            already.insert(short_key(p));
        },
    )?;
    // Who this campaign's mail server refused for good: listed again, never resent.
    let mut refused_before: HashMap<u64, String> = HashMap::new();
    if campaign != 0 {
        store.backend().refused_people(campaign, &mut |p, e| {
            refused_before.insert(short_key(p), e.to_string());
        })?;
    }
    let mut seen: HashSet<u64> = HashSet::new();

    // Rejected rows and refused people go beside the input, each with its line.
    let mut lists = Lists::new(&opts.recipients, &reader.header)?;

    let mut out = Outcome {
        campaign,
        channel: opts.channel.as_str().into(),
        dry_run: opts.dry_run,
        ..Outcome::default()
    };
    let mut ledger = Ledger {
        store,
        campaign,
        pending: Vec::new(),
    };
    let mut writers = Writers::new(4);
    let letters_root = cfg
        .letters_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("letters"));
    let outbox_root = cfg.mail.outbox_dir();
    let date = |lang: Lang| time::date_in(now.with_timezone(&wf.timezone).date_naive(), lang);
    let message_id = |person: &str| {
        let h = Sha256::digest(format!("campaign:{campaign}:{person}").as_bytes());
        format!("<{}@{domain}>", hex(&h[..16]))
    };
    // Print-ready letters: what a killed run put in an index is recorded as sent now.
    let mut printer = None;
    if opts.channel == Channel::Letter && opts.pdf && !opts.dry_run {
        let (p, printed) = print::Printer::open(
            letters_root
                .join(format!("campaign-{campaign}"))
                .join("print"),
            opts.letters_per_file,
            print::Shared {
                sender: vec![org_name.clone()],
                footer: crate::render::pdf::Footer {
                    reference: opts.case_id.clone(),
                    generated_at: now,
                    zone: wf.timezone,
                    lang: default_lang,
                },
            },
            2,
        )?;
        for person in printed {
            if already.insert(short_key(&person)) {
                let mid = message_id(&person);
                ledger.pending.push((person, mid, "sent", None));
            }
        }
        ledger.flush(time::now())?;
        printer = Some(p);
    }
    let mut batch: Vec<Handoff> = Vec::new();
    let concurrency = opts.concurrency.max(1);
    let mut done_rows = 0u64;
    // Handed to the transport in this run, for --limit.
    let mut attempted = 0u64;
    progress.start(total_lines.saturating_sub(1));

    while let Some(row) = reader.next_row() {
        done_rows += 1;
        if done_rows.is_multiple_of(4096) {
            progress.tick(done_rows, out.sent);
        }
        let r = match row {
            Ok(r) => r,
            Err(rej) => {
                out.rejected += 1;
                lists.reject(rej.line, &rej.reason, &rej.fields)?;
                continue;
            }
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(ledger_key.as_bytes()).expect("HMAC takes any key");
        mac.update(r.id.as_bytes());
        let person = hex(&mac.finalize().into_bytes());
        let short = short_key(&person);
        if !seen.insert(short) {
            out.rejected += 1;
            lists.reject(
                r.line,
                "duplicate identifier: this person is already in the file",
                std::slice::from_ref(&r.id),
            )?;
            continue;
        }
        if already.contains(&short) {
            out.skipped += 1;
            continue;
        }
        if let Some(why) = refused_before.get(&short) {
            out.refused += 1;
            lists.refused(r.line, &r.id, why)?;
            continue;
        }
        if opts.limit.is_some_and(|l| attempted >= l) {
            break;
        }
        let lang = r
            .lang
            .as_deref()
            .and_then(Lang::parse)
            .map(|l| wf.draft_lang(l))
            .unwrap_or(default_lang);
        let rendered = letters[&lang]
            .render(&r)
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        let mid = message_id(&person);
        // A print-ready letter needs an address that fits the envelope's window.
        let address = if opts.channel == Channel::Letter && opts.pdf {
            let lines = print::address_lines(&r);
            if let Some(why) = crate::render::pdf::address_problem(&lines) {
                out.rejected += 1;
                lists.reject(r.line, &why, std::slice::from_ref(&r.id))?;
                continue;
            }
            lines
        } else {
            Vec::new()
        };
        // The message is built in a dry run too: what the dry run accepts, the run sends.
        let msg = match opts.channel {
            Channel::Letter => None,
            Channel::Email => match email(&from, &r, rendered.subject.clone(), &rendered, &mid) {
                Ok(m) => Some(m),
                Err(reason) => {
                    out.rejected += 1;
                    lists.reject(r.line, reason, std::slice::from_ref(&r.id))?;
                    continue;
                }
            },
        };
        if opts.dry_run {
            std::hint::black_box((&rendered, &msg));
            out.sent += 1;
            continue;
        }
        attempted += 1;
        match (opts.channel, msg) {
            (Channel::Email, Some(msg)) => match mailer.as_ref().expect("checked above") {
                Mailer::File(_) => {
                    let dir = shard(&outbox_root, campaign, &person);
                    writers.submit(dir, format!("{person}.eml"), msg.formatted(), person, mid)?;
                }
                Mailer::Smtp(_) => {
                    batch.push(Handoff {
                        person,
                        mid,
                        msg,
                        recipient: r,
                    });
                    if batch.len() >= concurrency {
                        send_batch(
                            &mut ledger,
                            &mut batch,
                            mailer.as_ref().expect("smtp"),
                            rt.as_ref().expect("runtime"),
                            &mut out,
                            &mut lists,
                        )?;
                    }
                }
            },
            _ if printer.is_some() => {
                printer.as_mut().expect("checked").submit(print::Job {
                    person,
                    mid,
                    postal_code: r.postal_code.clone(),
                    address,
                    lang,
                    date: date(lang),
                    body: rendered.text,
                })?;
            }
            _ => {
                let body = letter_file(&r, &org_name, &rendered.text, &date(lang));
                let dir = shard(&letters_root, campaign, &person);
                writers.submit(dir, format!("{person}.txt"), body.into_bytes(), person, mid)?;
            }
        }
        writers.drain(&mut ledger, &mut out)?;
        if let Some(p) = printer.as_mut() {
            for (person, mid) in p.drain()? {
                ledger.pending.push((person, mid, "sent", None));
                out.sent += 1;
            }
        }
        if ledger.pending.len() >= 2048 {
            ledger.flush(time::now())?;
        }
    }
    writers.finish(&mut ledger, &mut out)?;
    if let Some(p) = printer.as_mut() {
        for (person, mid) in p.finish()? {
            ledger.pending.push((person, mid, "sent", None));
            out.sent += 1;
        }
    }
    if !batch.is_empty() {
        send_batch(
            &mut ledger,
            &mut batch,
            mailer.as_ref().expect("smtp"),
            rt.as_ref().expect("runtime"),
            &mut out,
            &mut lists,
        )?;
    }
    ledger.flush(time::now())?;
    progress.tick(done_rows, out.sent);
    progress.finish();
    let (rejects, refused_list) = lists.finish()?;
    out.rejects = rejects;
    out.refused_list = refused_list;

    // The register records what this run did.
    if !opts.dry_run {
        let store = ledger.store;
        let total_sent: i64 = store.backend().count_sent(campaign)?;
        store.execute(
            org,
            &opts.case_id,
            &Command::RecordCampaign {
                run: crate::case::CampaignRun {
                    campaign,
                    channel: opts.channel.as_str().into(),
                    sent: out.sent,
                    failed: out.failed,
                    refused: out.refused,
                    rejected: out.rejected,
                    skipped: out.skipped,
                    total_sent: total_sent as u64,
                    recipients_sha256: recipients_sha,
                },
                at: time::now(),
            },
            actor,
            time::now(),
        )?;
    }
    Ok(out)
}

/// The first 8 bytes of a person's key, as kept in memory.
fn short_key(person: &str) -> u64 {
    u64::from_str_radix(&person[..16], 16).unwrap_or(0)
}

/// The campaign this run belongs to: the latest one of this case and channel with the
/// same file and template is resumed (an earlier campaign too); a new one is started for
/// the first run or on --new-campaign; another file or template is refused. A dry run
/// creates nothing (campaign 0 when it would create one).
fn choose_campaign(
    store: &mut Store,
    org: &str,
    opts: &Options,
    recipients_sha: &str,
    template_sha: &str,
    now: DateTime<Utc>,
) -> Result<i64, NotifyError> {
    let channel = opts.channel.as_str();
    let db = store.backend();
    let same = db
        .last_campaign(
            org,
            &opts.case_id,
            channel,
            Some((recipients_sha, template_sha)),
        )?
        .map(|c| c.id);
    let last = db
        .last_campaign(org, &opts.case_id, channel, None)?
        .map(|c| (c.id, c.recipients_sha256));
    match (same, last) {
        (Some(id), _) if !opts.new_campaign => Ok(id),
        // A dry run of another file checks it as a new campaign would, refusing nothing.
        _ if opts.dry_run => Ok(0),
        (None, Some((id, r))) if !opts.new_campaign => {
            let what = if r != recipients_sha {
                "recipient file"
            } else {
                "letter template"
            };
            Err(NotifyError::Input(format!(
                "campaign {id} of case {} was started with another {what}: rerun it with the same {}, or give --new-campaign",
                opts.case_id,
                if r != recipients_sha {
                    "file"
                } else {
                    "template"
                }
            )))
        }
        _ => Ok(db.create_campaign(&Campaign {
            id: 0,
            org: org.to_string(),
            case_id: opts.case_id.clone(),
            channel: channel.to_string(),
            recipients_sha256: recipients_sha.to_string(),
            template_sha256: template_sha.to_string(),
            created_at: now,
        })?),
    }
}

/// The e-mail to one person. A message that cannot be built is a rejected row.
fn email(
    from: &lettre::message::Mailbox,
    r: &Recipient,
    subject: String,
    rendered: &letter::Rendered,
    mid: &str,
) -> Result<lettre::Message, &'static str> {
    let to = r.mailbox.clone().ok_or("missing e-mail address")?;
    lettre::Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .message_id(Some(mid.to_string()))
        .multipart(lettre::message::MultiPart::alternative_plain_html(
            rendered.text.clone(),
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>\n{}</body></html>\n",
                rendered.html
            ),
        ))
        .map_err(|_| "the e-mail cannot be built for this address")
}

/// `rejects.csv` (rows that cannot be used) and `refused.csv` (people the mail server
/// refused for good, to notify by letter), written beside the input under temporary
/// names and put in place at the end; a list left empty removes a stale one.
struct Lists {
    rejects: (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
    refused: (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
}

impl Lists {
    fn new(input: &Path, header: &[String]) -> Result<Lists, NotifyError> {
        let open = |name: &str, head: Vec<String>| {
            let path = input.with_file_name(name);
            let tmp = input.with_file_name(format!(".{name}.tmp"));
            let file = crate::util::private::create(&tmp)
                .map_err(|e| NotifyError::Runtime(format!("{}: {e}", tmp.display())))?;
            let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
            w.write_record(&head)
                .map_err(|e| NotifyError::Runtime(e.to_string()))?;
            Ok::<_, NotifyError>((w, tmp, path, false))
        };
        let mut rejects_head = vec!["line".to_string(), "reason".to_string()];
        rejects_head.extend(header.iter().cloned());
        Ok(Lists {
            rejects: open("rejects.csv", rejects_head)?,
            refused: open(
                "refused.csv",
                vec!["line".into(), "id".into(), "refusal".into()],
            )?,
        })
    }

    fn write(
        list: &mut (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool),
        rec: Vec<String>,
    ) -> Result<(), NotifyError> {
        list.3 = true;
        list.0
            .write_record(&rec)
            .map_err(|e| NotifyError::Runtime(e.to_string()))
    }

    fn reject(&mut self, line: u64, reason: &str, fields: &[String]) -> Result<(), NotifyError> {
        let mut rec = vec![line.to_string(), reason.to_string()];
        rec.extend(fields.iter().cloned());
        Lists::write(&mut self.rejects, rec)
    }

    fn refused(&mut self, line: u64, id: &str, why: &str) -> Result<(), NotifyError> {
        Lists::write(
            &mut self.refused,
            vec![line.to_string(), id.to_string(), why.to_string()],
        )
    }

    /// Puts the lists in place; their paths, when not empty.
    fn finish(self) -> Result<(Option<String>, Option<String>), NotifyError> {
        let put =
            |(mut w, tmp, path, used): (csv::Writer<std::fs::File>, PathBuf, PathBuf, bool)| {
                w.flush()
                    .map_err(|e| NotifyError::Runtime(format!("{}: {e}", tmp.display())))?;
                drop(w);
                if used {
                    std::fs::rename(&tmp, &path)
                        .map_err(|e| NotifyError::Runtime(format!("{}: {e}", path.display())))?;
                    Ok::<_, NotifyError>(Some(path.display().to_string()))
                } else {
                    // No stale list from an earlier run may suggest rows are still listed.
                    let _ = std::fs::remove_file(&tmp);
                    let _ = std::fs::remove_file(&path);
                    Ok(None)
                }
            };
        Ok((put(self.rejects)?, put(self.refused)?))
    }
}

/// One e-mail waiting for its SMTP batch.
struct Handoff {
    person: String,
    mid: String,
    msg: lettre::Message,
    /// For the follow-up list and to redact the server's answer.
    recipient: Recipient,
}

/// Sends one batch over SMTP: the batch is written as `sending` first, so a crash
/// leaves at most this batch (the concurrency) to send again, with the same Message-IDs.
/// A 5xx answer is final (refused, listed for a letter); anything else is retried by a
/// rerun. Only the codes and a redacted text of the answer are kept.
fn send_batch(
    ledger: &mut Ledger,
    batch: &mut Vec<Handoff>,
    mailer: &Mailer,
    rt: &tokio::runtime::Runtime,
    out: &mut Outcome,
    lists: &mut Lists,
) -> Result<(), NotifyError> {
    for h in batch.iter() {
        ledger
            .pending
            .push((h.person.clone(), h.mid.clone(), "sending", None));
    }
    ledger.flush(time::now())?;
    let results = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for h in batch.drain(..) {
            let mailer = mailer.clone();
            set.spawn(async move {
                let r = mailer.send(h.msg, &h.mid).await;
                (h.person, h.mid, h.recipient, r)
            });
        }
        let mut results = Vec::new();
        while let Some(j) = set.join_next().await {
            if let Ok(r) = j {
                results.push(r);
            }
        }
        results
    });
    for (person, mid, recipient, r) in results {
        match r {
            Ok(()) => {
                out.sent += 1;
                ledger.pending.push((person, mid, "sent", None));
            }
            Err(e) => {
                let why = refusal::redact(&e.message, &recipient);
                if e.transient {
                    out.failed += 1;
                    ledger.pending.push((person, mid, "failed", Some(why)));
                } else {
                    out.refused += 1;
                    lists.refused(recipient.line, &recipient.id, &why)?;
                    ledger.pending.push((person, mid, "refused", Some(why)));
                }
            }
        }
    }
    ledger.flush(time::now())
}

/// Progress on a terminal: a bar with rate and ETA.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new() -> Bar {
        Bar(None)
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&mut self, total: u64) {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.0 = Some(pb);
    }
    fn tick(&mut self, done: u64, sent: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(done);
            pb.set_message(format!("{sent} sent"));
        }
    }
    fn finish(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Progress elsewhere: a plain line every few seconds.
pub struct Lines {
    total: u64,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Lines {
    pub fn new() -> Lines {
        let now = std::time::Instant::now();
        Lines {
            total: 0,
            started: now,
            last: now,
        }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl Progress for Lines {
    fn start(&mut self, total: u64) {
        self.total = total;
    }
    fn tick(&mut self, done: u64, sent: u64) {
        if self.last.elapsed().as_secs() >= 5 {
            self.last = std::time::Instant::now();
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            let _ = writeln!(
                std::io::stderr(),
                "vigie notify: {done}/{} rows, {sent} sent, {rate:.0} rows/s",
                self.total
            );
        }
    }
    fn finish(&mut self) {}
}
