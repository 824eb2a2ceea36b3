//! A campaign run, in named steps: `open` (the letters, the transport, the file's header,
//! the campaign), `resume` (who is already done), `stream` (the file, row by row) and
//! `finish` (the last writes, the lists, the register).

use super::batch::{Batch, Handoff, Smtp};
use super::files::{Writers, letter_file, shard};
use super::letter::{self, Letter};
use super::lists::Lists;
use super::recipients::{Channel, Reader, Recipient};
use super::{NotifyError, Options, Outcome, Progress, fingerprint, print};
use crate::case::Command;
use crate::config::Config;
use crate::mail::Mailer;
use crate::render::{ViewRequest, build_view};
use crate::store::Store;
use crate::store::backend::Campaign as CampaignRow;
use crate::time::{self, Lang};
use crate::util::hash::hex;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

/// One run of the campaign of a case for a channel, from `open` to `finish`.
pub(super) struct Campaign<'a> {
    opts: &'a Options,
    org: &'a str,
    /// When the run started: the letters' date, the campaign's creation.
    now: DateTime<Utc>,
    wf: Arc<Workflow>,
    /// The letter in each language the workflow drafts in, rendered once.
    letters: HashMap<Lang, Letter>,
    org_name: String,
    recipients_sha: String,
    total_lines: u64,
    transport: Transport,
    reader: Reader<BufReader<File>>,
    /// The key of the people's keys in the ledger (never their identifiers).
    ledger_key: String,
    /// The campaign's id (0: a dry run that would create one).
    id: i64,
    /// Already notified (8 bytes of each key, so 1.6 million fit in ~20 MB).
    already: HashSet<u64>,
    /// Refused for good by this campaign's mail server: listed again, never resent.
    refused_before: HashMap<u64, String>,
    /// The people of the file so far, to reject a duplicate.
    seen: HashSet<u64>,
    lists: Lists,
    out: Outcome,
    batch: Batch<'a>,
    writers: Writers,
    letters_root: PathBuf,
    /// Print-ready letters (`--pdf`).
    printer: Option<print::Printer>,
    done_rows: u64,
    /// Handed to the transport in this run, for --limit.
    attempted: u64,
}

/// Where a run's e-mails go, checked before the first row.
struct Transport {
    from: lettre::message::Mailbox,
    domain: String,
    /// The `file` transport: each e-mail a file under `outbox`.
    files: bool,
    outbox: PathBuf,
    /// The SMTP pool, handed to the batch when the campaign opens.
    smtp: Option<Smtp>,
}

/// What `stream` does after a row.
enum Flow {
    Next,
    /// `--limit` reached.
    Stop,
}

impl<'a> Campaign<'a> {
    /// Everything checked before a campaign exists: the workflow's letter in each
    /// language (a template error stops everything here), the transport, the file's
    /// header; then the campaign, resumed when the same file and template are given
    /// again.
    pub(super) fn open(
        store: &'a mut Store,
        cfg: &Config,
        profile: &crate::org::Profile,
        org: &'a str,
        opts: &'a Options,
    ) -> Result<Campaign<'a>, NotifyError> {
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

        // The letters are signed by the case's own organisation, never by another's.
        let org_name = profile
            .name
            .clone()
            .unwrap_or_else(|| "[organisation]".to_string());
        let (letters, template_sha) = letters(cfg, &loaded, profile, &org_name, now)?;
        let transport = Transport::open(cfg, opts)?;

        // The header is checked before a campaign exists: a refused file leaves nothing.
        let f = File::open(&opts.recipients).map_err(input_err)?;
        let mut buffered = BufReader::with_capacity(1 << 16, f);
        let first_line = buffered
            .fill_buf()
            .map_err(input_err)?
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default()
            .to_vec();
        let reader = Reader::new(buffered, &first_line, opts.channel, &file)
            .map_err(|e| NotifyError::Input(e.to_string()))?;

        let ledger_key: String = crate::outbox::delivery::secret(store)?;
        let id = choose_campaign(store, org, opts, &recipients_sha, &template_sha, now)?;
        // Rejected rows and refused people go beside the input, each with its line.
        let lists = Lists::new(&opts.recipients, &reader.header)?;
        let out = Outcome {
            campaign: id,
            channel: opts.channel.as_str().into(),
            dry_run: opts.dry_run,
            ..Outcome::default()
        };
        let mut transport = transport;
        let batch = Batch::new(store, id, transport.smtp.take(), opts.concurrency.max(1));
        Ok(Campaign {
            opts,
            org,
            now,
            wf,
            letters,
            org_name,
            recipients_sha,
            total_lines,
            transport,
            reader,
            ledger_key,
            id,
            already: HashSet::new(),
            refused_before: HashMap::new(),
            seen: HashSet::new(),
            lists,
            out,
            batch,
            writers: Writers::new(4),
            letters_root: cfg
                .letters_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("letters")),
            printer: None,
            done_rows: 0,
            attempted: 0,
        })
    }

    /// Who is already done: in this campaign, and unless asked to resend, in any other
    /// campaign of this case (of this organisation); who this campaign's mail server
    /// refused for good; and, for print-ready letters, what a killed run put in an
    /// index, recorded as sent now.
    pub(super) fn resume(&mut self) -> Result<(), NotifyError> {
        let opts = self.opts;
        let already = &mut self.already;
        self.batch.store().backend().sent_people(
            self.org,
            &opts.case_id,
            self.id,
            !opts.resend_notified,
            &mut |p| {
                already.insert(short_key(p));
            },
        )?;
        if self.id != 0 {
            let refused_before = &mut self.refused_before;
            self.batch
                .store()
                .backend()
                .refused_people(self.id, &mut |p, e| {
                    refused_before.insert(short_key(p), e.to_string());
                })?;
        }
        if opts.channel == Channel::Letter && opts.pdf && !opts.dry_run {
            let (p, printed) = print::Printer::open(
                self.letters_root
                    .join(format!("campaign-{}", self.id))
                    .join("print"),
                opts.letters_per_file,
                print::Shared {
                    sender: vec![self.org_name.clone()],
                    footer: crate::render::pdf::Footer {
                        reference: opts.case_id.clone(),
                        generated_at: self.now,
                        zone: self.wf.timezone,
                        lang: self.wf.lang,
                    },
                },
                2,
            )?;
            for person in printed {
                if self.already.insert(short_key(&person)) {
                    let mid = self.message_id(&person);
                    self.batch.sent(person, mid)?;
                }
            }
            self.batch.flush()?;
            self.printer = Some(p);
        }
        Ok(())
    }

    /// The file, row by row, until its end or `--limit`.
    pub(super) fn stream(&mut self, progress: &mut dyn Progress) -> Result<(), NotifyError> {
        progress.start(self.total_lines.saturating_sub(1));
        while let Some(row) = self.reader.next_row() {
            self.done_rows += 1;
            if self.done_rows.is_multiple_of(4096) {
                progress.tick(self.done_rows, self.out.sent);
            }
            let r = match row {
                Ok(r) => r,
                Err(rej) => {
                    self.out.rejected += 1;
                    self.lists.reject(rej.line, &rej.reason, &rej.fields)?;
                    continue;
                }
            };
            match self.row(r)? {
                Flow::Next => {}
                Flow::Stop => break,
            }
        }
        Ok(())
    }

    /// One usable row: a duplicate, someone already done or refused before, or a person
    /// whose letter or e-mail is built (in a dry run too: what the dry run accepts, the
    /// run sends) and handed over.
    fn row(&mut self, r: Recipient) -> Result<Flow, NotifyError> {
        let opts = self.opts;
        let person = self.person(&r.id);
        let short = short_key(&person);
        if !self.seen.insert(short) {
            return self.reject(
                &r,
                "duplicate identifier: this person is already in the file",
            );
        }
        if self.already.contains(&short) {
            self.out.skipped += 1;
            return Ok(Flow::Next);
        }
        if let Some(why) = self.refused_before.get(&short) {
            self.out.refused += 1;
            self.lists.refused(r.line, &r.id, why)?;
            return Ok(Flow::Next);
        }
        if opts.limit.is_some_and(|l| self.attempted >= l) {
            return Ok(Flow::Stop);
        }
        let lang = r
            .lang
            .as_deref()
            .and_then(Lang::parse)
            .map(|l| self.wf.draft_lang(l))
            .unwrap_or(self.wf.lang);
        let rendered = self.letters[&lang]
            .render(&r)
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        let mid = self.message_id(&person);
        // A print-ready letter needs an address that fits the envelope's window.
        let address = if opts.channel == Channel::Letter && opts.pdf {
            let lines = print::address_lines(&r);
            if let Some(why) = crate::render::pdf::address_problem(&lines) {
                return self.reject(&r, &why);
            }
            lines
        } else {
            Vec::new()
        };
        let msg = match opts.channel {
            Channel::Letter => None,
            Channel::Email => {
                let subject = rendered.subject.clone();
                match email(&self.transport.from, &r, subject, &rendered, &mid) {
                    Ok(m) => Some(m),
                    Err(reason) => return self.reject(&r, reason),
                }
            }
        };
        if opts.dry_run {
            std::hint::black_box((&rendered, &msg));
            self.out.sent += 1;
            return Ok(Flow::Next);
        }
        self.attempted += 1;
        match (opts.channel, msg) {
            (Channel::Email, Some(msg)) if self.transport.files => {
                let dir = shard(&self.transport.outbox, self.id, &person);
                let name = format!("{person}.eml");
                self.writers
                    .submit(dir, name, msg.formatted(), person, mid)?;
            }
            (Channel::Email, Some(msg)) => {
                let h = Handoff {
                    person,
                    mid,
                    msg,
                    recipient: r,
                };
                self.batch.mail(h, &mut self.out, &mut self.lists)?;
            }
            _ if self.printer.is_some() => {
                let job = print::Job {
                    person,
                    mid,
                    postal_code: r.postal_code.clone(),
                    address,
                    lang,
                    date: self.date(lang),
                    body: rendered.text,
                };
                self.printer.as_mut().expect("checked").submit(job)?;
            }
            _ => {
                let body = letter_file(&r, &self.org_name, &rendered.text, &self.date(lang));
                let dir = shard(&self.letters_root, self.id, &person);
                let name = format!("{person}.txt");
                self.writers
                    .submit(dir, name, body.into_bytes(), person, mid)?;
            }
        }
        self.collect()?;
        Ok(Flow::Next)
    }

    /// A row that cannot be used, listed in `rejects.csv` with its line and identifier.
    fn reject(&mut self, r: &Recipient, reason: &str) -> Result<Flow, NotifyError> {
        self.out.rejected += 1;
        self.lists
            .reject(r.line, reason, std::slice::from_ref(&r.id))?;
        Ok(Flow::Next)
    }

    /// Records what the file writers and the printer finished, without waiting.
    fn collect(&mut self) -> Result<(), NotifyError> {
        self.writers.drain(&mut self.batch, &mut self.out)?;
        if let Some(p) = self.printer.as_mut() {
            for (person, mid) in p.drain()? {
                self.batch.sent(person, mid)?;
                self.out.sent += 1;
            }
        }
        Ok(())
    }

    /// Waits for the last files, letters and e-mails, records them, puts the lists in
    /// place, and records the run in the case's register.
    pub(super) fn finish(
        mut self,
        actor: &str,
        progress: &mut dyn Progress,
    ) -> Result<Outcome, NotifyError> {
        self.writers.finish(&mut self.batch, &mut self.out)?;
        if let Some(p) = self.printer.as_mut() {
            for (person, mid) in p.finish()? {
                self.batch.sent(person, mid)?;
                self.out.sent += 1;
            }
        }
        self.batch.finish(&mut self.out, &mut self.lists)?;
        progress.tick(self.done_rows, self.out.sent);
        progress.finish();
        let (rejects, refused_list) = self.lists.finish()?;
        let mut out = self.out;
        out.rejects = rejects;
        out.refused_list = refused_list;

        // The register records what this run did.
        if !self.opts.dry_run {
            let store = self.batch.store();
            let total_sent: i64 = store.backend().count_sent(self.id)?;
            store.execute(
                self.org,
                &self.opts.case_id,
                &Command::RecordCampaign {
                    run: crate::case::CampaignRun {
                        campaign: self.id,
                        channel: self.opts.channel.as_str().into(),
                        sent: out.sent,
                        failed: out.failed,
                        refused: out.refused,
                        rejected: out.rejected,
                        skipped: out.skipped,
                        total_sent: total_sent as u64,
                        recipients_sha256: self.recipients_sha,
                    },
                    at: time::now(),
                },
                actor,
                time::now(),
            )?;
        }
        Ok(out)
    }

    /// A person's key in the ledger: a keyed hash of their identifier.
    fn person(&self, id: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(self.ledger_key.as_bytes()).expect("HMAC takes any key");
        mac.update(id.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// A person's Message-ID in this campaign: the same on every rerun.
    fn message_id(&self, person: &str) -> String {
        let h = Sha256::digest(format!("campaign:{}:{person}", self.id).as_bytes());
        format!("<{}@{}>", hex(&h[..16]), self.transport.domain)
    }

    /// The letters' date, in the workflow's zone.
    fn date(&self, lang: Lang) -> String {
        time::date_in(self.now.with_timezone(&self.wf.timezone).date_naive(), lang)
    }
}

/// The letter in each language the workflow drafts in (a person asking another gets the
/// workflow's), and the hash of their templates.
fn letters(
    cfg: &Config,
    loaded: &crate::store::Loaded,
    profile: &crate::org::Profile,
    org_name: &str,
    now: DateTime<Utc>,
) -> Result<(HashMap<Lang, Letter>, String), NotifyError> {
    let wf = &loaded.workflow;
    let templates = cfg.templates();
    let mut letters: HashMap<Lang, Letter> = HashMap::new();
    let mut template_hash = Sha256::new();
    for lang in wf.languages.clone() {
        let labels = templates
            .labels(wf, lang)
            .map_err(|e| NotifyError::Input(e.to_string()))?;
        let (base, _) = build_view(&ViewRequest {
            wf,
            case: &loaded.case,
            events: &loaded.events,
            profile,
            labels: &labels,
            document: "individual_letter",
            lang,
            now,
            current: None,
        });
        let l = Letter::new(&templates, wf, lang, base, org_name)
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
    Ok((letters, hex(&template_hash.finalize())))
}

impl Transport {
    /// The transport, checked before the first row. A server that cannot be reached,
    /// refuses the sign-in or refuses the sender with a 5xx would look like every person
    /// failing or refusing: the run stops before a campaign or a ledger row.
    fn open(cfg: &Config, opts: &Options) -> Result<Transport, NotifyError> {
        let needs_mail = opts.channel == Channel::Email && !opts.dry_run;
        // The SMTP pool lives in a runtime.
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
        // Inside the runtime's context, the pool can start (and, when dropped, stop) its
        // task; `Smtp` enters it again to drop the pool.
        let in_runtime = rt.as_ref().map(|rt| rt.enter());
        let mailer = if needs_mail {
            let built = match &rt {
                Some(rt) => rt.block_on(async { cfg.mail.mailer() }),
                None => cfg.mail.mailer(),
            };
            let built =
                built.map_err(|e| NotifyError::Input(format!("mail configuration: {e}")))?;
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
        if let (Some(m), Some(rt)) = (&mailer, &rt) {
            rt.block_on(m.check(Some(&from.email)))
                .map_err(|e| NotifyError::Runtime(format!("mail server: {e}")))?;
        }
        drop(in_runtime);
        let files = matches!(mailer, Some(Mailer::File(_)));
        let smtp = match (mailer, rt) {
            (Some(m @ Mailer::Smtp(_)), Some(rt)) => Some(Smtp::new(rt, m)),
            _ => None,
        };
        Ok(Transport {
            from,
            domain: cfg.mail.message_id_domain(),
            files,
            outbox: cfg.mail.outbox_dir(),
            smtp,
        })
    }
}

/// The first 8 bytes of a person's key, as kept in memory.
pub(super) fn short_key(person: &str) -> u64 {
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
        _ => Ok(db.create_campaign(&CampaignRow {
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
