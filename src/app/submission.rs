//! The authority's answer, kept on the case (issue 25 part 3): a step sent to an
//! authority (`notify_authority`, the APD's part 2, a complement, a NIS2 or DORA report)
//! recorded with the reference the authority gave, the instant it was submitted (the
//! event's `at`), the channel, and optionally the acknowledgement file.
//!
//! The reference, the channel and the acknowledgement's SHA-256 are in the chained
//! event (`EventBody::Advanced.submission`). The reference also becomes the case's fact
//! (`authority_ref`, `nis2_ref`, `dora_authority_ref`) the first time it is given, so
//! later steps (the APD's part 2, a complement naming the initial notification) read it.
//! The acknowledgement's bytes are kept by their SHA-256 beside the issued texts (as
//! hex, the table holds text), before the event is appended: no event lacks its file.
//! The CLI (`case advance … --ref --channel --ack`) and the fill-assist page both call
//! [`App::submit`].

use super::{App, AppError, Change};
use crate::case::{Acknowledgement, Command, Submission};
use crate::store::backend::IssuedText;
use crate::store::{Loaded, Store};
use crate::time;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// How a step reaches an authority.
pub const CHANNELS: [&str; 4] = ["teleservice", "email", "letter", "phone"];

/// The longest reference accepted (the CNIL's, the APD's `DBN…` and the CCB's are short).
const REFERENCE_MAX: usize = 100;
/// The largest acknowledgement kept (a receipt PDF or an e-mail).
pub const ACK_MAX: usize = 10 * 1024 * 1024;
/// What a kept acknowledgement's text starts with: the bytes follow as hex.
const ACK_PREFIX: &str = "vigie-ack-hex:";

/// An acknowledgement file as received: the name it had and its bytes.
#[derive(Clone)]
pub struct AckFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for AckFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AckFile({} bytes)", self.bytes.len())
    }
}

/// A step recorded as submitted to an authority.
#[derive(Debug, Clone, Default)]
pub struct SubmissionRequest {
    /// The workflow event: notify_authority, notify_authority_part2, …
    pub event: String,
    /// The authority's reference (None or empty: none given).
    pub reference: Option<String>,
    /// When it was submitted (RFC 3339 or local time in the workflow's zone); None: now.
    pub at: Option<String>,
    /// teleservice, email, letter or phone.
    pub channel: String,
    pub ack: Option<AckFile>,
    /// Facts recorded with the step (as `case advance --set` gives them).
    pub facts: Vec<(String, serde_json::Value)>,
    pub note: Option<String>,
    pub reason: Option<String>,
    pub expected_seq: Option<i64>,
}

/// A submission checked, before anything is written: the command, and the file to keep.
#[derive(Clone)]
pub struct Prepared {
    pub command: Command,
    pub submission: Submission,
    pub at: DateTime<Utc>,
    pub ack: Option<AckFile>,
}

/// The fact the authority's reference goes to for `event` (by its track), or why the
/// event is not a submission to an authority.
pub fn reference_fact(wf: &Workflow, event: &str) -> Result<&'static str, AppError> {
    let not = || AppError::Field {
        field: "event",
        message: format!(
            "{} is not a step sent to an authority (a notification, a complement, a report)",
            crate::util::quote(event)
        ),
    };
    let def = wf.events.get(event).ok_or_else(not)?;
    if ["not_required", "not_major"].contains(&def.to.as_str()) {
        return Err(not());
    }
    match def.track.as_str() {
        "authority" => Ok("authority_ref"),
        "nis2" => Ok("nis2_ref"),
        "dora" => Ok("dora_authority_ref"),
        _ => Err(not()),
    }
}

/// The steps of a workflow that are submissions, in the workflow's order.
pub fn submission_events(wf: &Workflow) -> Vec<String> {
    wf.events
        .keys()
        .filter(|e| reference_fact(wf, e).is_ok())
        .cloned()
        .collect()
}

fn check_reference(r: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(r) = r.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| AppError::Field {
        field: "reference",
        message: format!("{} {why}", crate::util::quote(r)),
    };
    if r.chars().count() > REFERENCE_MAX {
        return Err(bad(&format!("is longer than {REFERENCE_MAX} characters")));
    }
    if r.chars().any(|c| c.is_control()) {
        return Err(bad("has a line break or a control character"));
    }
    if !r.chars().any(|c| c.is_alphanumeric()) {
        return Err(bad("has no letter or digit"));
    }
    Ok(Some(r.to_string()))
}

fn check_channel(c: &str) -> Result<String, AppError> {
    let c = c.trim().to_ascii_lowercase().replace(['-', ' '], "");
    let c = if c == "e-mail" || c == "mail" {
        "email".to_string()
    } else {
        c
    };
    if CHANNELS.contains(&c.as_str()) {
        return Ok(c);
    }
    Err(AppError::Field {
        field: "channel",
        message: format!(
            "{} is not one of {}",
            crate::util::quote(&c),
            CHANNELS.join(", ")
        ),
    })
}

/// The type of an acknowledgement: a PDF, or an e-mail (text with header lines).
fn ack_type(f: &AckFile) -> Result<&'static str, AppError> {
    let bad = |why: String| AppError::Field {
        field: "ack",
        message: format!("{} {why}", crate::util::quote(&f.name)),
    };
    if f.bytes.is_empty() {
        return Err(bad("is empty".into()));
    }
    if f.bytes.len() > ACK_MAX {
        return Err(bad(format!("is over {} MiB", ACK_MAX / 1024 / 1024)));
    }
    if f.bytes.starts_with(b"%PDF-") {
        return Ok("application/pdf");
    }
    if let Ok(text) = std::str::from_utf8(&f.bytes) {
        let headers = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                ["from:", "to:", "subject:", "date:", "message-id:"]
                    .iter()
                    .any(|h| l.starts_with(h))
            })
            .count();
        if headers >= 2 {
            return Ok("message/rfc822");
        }
    }
    Err(bad(
        "is neither a PDF nor an e-mail (.eml with its From:, Date:, Subject: lines)".into(),
    ))
}

/// The name an acknowledgement is recorded under: its last path part, one line.
fn ack_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let one: String = crate::util::one_line(base).chars().take(200).collect();
    if one.trim().is_empty() {
        "acknowledgement".into()
    } else {
        one
    }
}

/// The submission in one line: `ref DBN-2026-0042, teleservice, ack sha256:…`.
pub fn summary(s: &Submission) -> String {
    let mut out = Vec::new();
    if let Some(r) = &s.reference {
        out.push(format!("ref {r}"));
    }
    out.push(s.channel.clone());
    if let Some(a) = &s.ack {
        out.push(format!("ack sha256:{}", a.sha256));
    }
    out.join(", ")
}

impl App {
    /// Checks a submission against the case as it is now, writing nothing: the
    /// reference, the channel, the instant, the file, and the step itself (`decide`).
    pub fn check_submission(
        &self,
        store: &mut Store,
        org: &str,
        loaded: &Loaded,
        req: &SubmissionRequest,
        now: DateTime<Utc>,
    ) -> Result<Prepared, AppError> {
        let wf = &loaded.workflow;
        let fact = reference_fact(wf, &req.event)?;
        let reference = check_reference(req.reference.as_deref())?;
        let channel = check_channel(&req.channel)?;
        let at = match req.at.as_deref().map(str::trim) {
            None | Some("") | Some("now") => now,
            Some(s) => time::parse_instant(s, wf.timezone).map_err(|e| AppError::Field {
                field: "submitted_at",
                message: e.to_string(),
            })?,
        };
        let ack = match &req.ack {
            None => None,
            Some(f) => Some(Acknowledgement {
                sha256: crate::util::hash::sha256_hex(&f.bytes),
                name: ack_name(&f.name),
                media_type: ack_type(f)?.to_string(),
                size: f.bytes.len() as u64,
            }),
        };
        // The first reference given becomes the case's: a complement's own number never
        // replaces the initial notification's.
        let mut facts = req.facts.clone();
        if let Some(r) = &reference
            && wf.facts.contains_key(fact)
            && !loaded.case.facts.contains_key(fact)
            && !facts.iter().any(|(k, _)| k == fact)
        {
            facts.push((fact.to_string(), serde_json::Value::String(r.clone())));
        }
        let change = Change {
            event: Some(req.event.clone()),
            facts,
            note: req.note.clone(),
            at: Some(time::rfc3339_in(at, wf.timezone)),
            expected_seq: req.expected_seq,
            reason: req.reason.clone(),
            derive: false,
        };
        let (advance, _) =
            self.command(store, org, loaded, Some(req.event.clone()), &change, now)?;
        if !matches!(advance, Command::Advance { .. }) {
            return Err(AppError::Field {
                field: "event",
                message: format!(
                    "{} records a decision, not a submission",
                    crate::util::quote(&req.event)
                ),
            });
        }
        let submission = Submission {
            reference,
            channel,
            ack,
        };
        let command = Command::Submit {
            advance: Box::new(advance),
            submission: submission.clone(),
        };
        crate::case::decide(wf, Some(&loaded.case), &command, now)
            .map_err(|e| AppError::Store(e.into()))?;
        Ok(Prepared {
            command,
            submission,
            at,
            ack: req.ack.clone(),
        })
    }

    /// Records a step as submitted to an authority: the acknowledgement's bytes kept by
    /// their SHA-256 first, then the event with the reference, channel and hash.
    pub fn submit(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        req: &SubmissionRequest,
        now: DateTime<Utc>,
    ) -> Result<Arc<Loaded>, AppError> {
        let loaded = self.case(store, org, id)?;
        let p = self.check_submission(store, org, &loaded, req, now)?;
        if let (Some(file), Some(ack)) = (&p.ack, &p.submission.ack) {
            store.backend().keep_issued_text(&IssuedText {
                org: org.to_string(),
                case_id: id.to_string(),
                sha256: ack.sha256.clone(),
                text: format!("{ACK_PREFIX}{}", crate::util::hash::hex(&file.bytes)),
                created_at: now,
            })?;
        }
        let expected = req.expected_seq.or(Some(loaded.case.seq));
        let l = Arc::new(store.execute_at_seq(org, id, &p.command, actor, now, expected)?);
        self.remember(l.clone());
        self.wake(store);
        Ok(l)
    }

    /// The bytes of an acknowledgement kept for a case, checked against its hash.
    pub fn acknowledgement(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        sha256: &str,
    ) -> Result<(Acknowledgement, Vec<u8>), AppError> {
        let l = self.case(store, org, id)?;
        let ack = l
            .events
            .iter()
            .find_map(|e| match &e.body {
                crate::case::EventBody::Advanced {
                    submission: Some(Submission { ack: Some(a), .. }),
                    ..
                } if a.sha256 == sha256 => Some(a.clone()),
                _ => None,
            })
            .ok_or_else(|| {
                AppError::NotFound(format!(
                    "case {id} has no acknowledgement with sha256 {}",
                    crate::util::quote(sha256)
                ))
            })?;
        let text = store
            .backend()
            .issued_text(org, id, sha256)?
            .ok_or_else(|| {
                AppError::NotFound(format!("the acknowledgement {sha256} is not kept"))
            })?;
        let bytes = match text.strip_prefix(ACK_PREFIX) {
            Some(h) => (0..h.len() / 2)
                .filter_map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
            None => text.into_bytes(),
        };
        if crate::util::hash::sha256_hex(&bytes) != sha256 {
            return Err(AppError::Store(crate::store::StoreError::Db(format!(
                "the kept acknowledgement of case {id} does not hash to {sha256}: the database was altered"
            ))));
        }
        Ok((ack, bytes))
    }
}
