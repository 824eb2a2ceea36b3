//! One run of a campaign: the letters, the transport, the recipient file row by row.

use super::batch::{Handoff, Ledger, send_batch};
use super::files::{Writers, letter_file, shard};
use super::letter::{self, Letter};
use super::lists::Lists;
use super::recipients::{Channel, Reader, Recipient};
use super::{NotifyError, Options, Outcome, Progress, fingerprint, hex, print};
use crate::case::Command;
use crate::config::Config;
use crate::mail::Mailer;
use crate::render::{Templates, build_view};
use crate::store::Store;
use crate::store::backend::Campaign;
use crate::time::{self, Lang};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

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
        let (base, _) = build_view(
            &wf,
            &loaded.case,
            &loaded.events,
            profile,
            &labels,
            "individual_letter",
            lang,
            now,
        );
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
