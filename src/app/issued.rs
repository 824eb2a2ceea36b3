//! What was issued, and who read it (issue 13 part 4): recording a document's exact
//! text as issued (the CLI's `draft --record` and the web's button call the same
//! use-case), downloading that exact text again, and the access log.
//!
//! The issued text is stored, not re-rendered: a draft depends on the templates (which
//! a release or a configured folder changes), the organisation's profile, the labels and
//! the time it was drafted, so a re-render after any of those changed could never give
//! the bytes that were sent. The text is kept by its SHA-256 (the hash the
//! `document_issued` event holds in the case's chain) and checked against it on every
//! download.

use super::{App, AppError};
use crate::case::{Command, EventBody};
use crate::render::Format;
use crate::store::Store;
use crate::store::backend::{AccessRow, IssuedText};
use crate::time::{self, Lang};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;

/// A document recorded as issued, from the case's `document_issued` event.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    pub seq: i64,
    /// When it was recorded, RFC 3339 in the workflow's zone.
    pub at: String,
    pub actor: String,
    pub document: String,
    pub lang: String,
    pub format: String,
    pub sha256: String,
    /// Whether its exact text is kept (false for one recorded before vigie kept texts).
    pub stored: bool,
}

/// The outcome of recording: the hash, and whether this exact text was recorded before
/// (then nothing was appended).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub sha256: String,
    pub already: bool,
}

/// Where a view or download came from: the client's address and the edge.
#[derive(Debug, Clone)]
pub struct Reader {
    pub actor: String,
    pub address: String,
    /// `web` or `api`
    pub via: &'static str,
}

/// What was read: (object, detail, case).
#[derive(Debug, Clone)]
pub struct Read {
    pub action: &'static str,
    pub object: &'static str,
    pub case_id: Option<String>,
    pub detail: String,
}

/// The file extension and type of a format's text.
pub fn mime_of(format: &str) -> (&'static str, &'static str) {
    match format {
        "html" => ("text/html; charset=utf-8", "html"),
        "txt" => ("text/plain; charset=utf-8", "txt"),
        "json" => ("application/json", "json"),
        _ => ("text/markdown; charset=utf-8", "md"),
    }
}

/// What is recorded as issued: a text (kept, by its hash, so it can be downloaded
/// again), or the bytes of a file such as a PDF (only their hash is kept).
#[derive(Debug, Clone, Copy)]
pub enum Content<'a> {
    Text { text: &'a str, format: Format },
    Bytes { bytes: &'a [u8], format: &'a str },
}

/// One "record as issued": the case, the document, its language and content, who
/// records it and when. The CLI's `draft --record` and the web's button both build one.
#[derive(Debug, Clone, Copy)]
pub struct IssueRequest<'a> {
    pub org: &'a str,
    pub actor: &'a str,
    pub id: &'a str,
    pub document: &'a str,
    pub lang: Lang,
    pub content: Content<'a>,
    pub now: DateTime<Utc>,
}

impl Content<'_> {
    fn sha256(&self) -> String {
        match self {
            Content::Text { text, .. } => crate::util::hash::sha256_hex(text),
            Content::Bytes { bytes, .. } => crate::util::hash::sha256_hex(bytes),
        }
    }

    fn format(&self) -> &str {
        match self {
            Content::Text { format, .. } => format.as_str(),
            Content::Bytes { format, .. } => format,
        }
    }
}

impl App {
    /// Records that this exact content of a document was issued: a text is kept by its
    /// SHA-256 before the `document_issued` event is appended (so no event ever lacks
    /// its text); of bytes, only the hash is recorded. The same content of the same
    /// document recorded again appends nothing.
    pub fn issue(&self, store: &mut Store, req: &IssueRequest) -> Result<Recorded, AppError> {
        let IssueRequest {
            org,
            actor,
            id,
            document,
            lang,
            content,
            now,
        } = *req;
        let sha256 = content.sha256();
        let l = self.case(store, org, id)?;
        if !l.workflow.documents.contains_key(document) {
            // The same refusal `decide` gives, before anything is kept.
            return Err(
                crate::store::StoreError::from(crate::case::Rejected::UnknownDocument {
                    document: document.to_string(),
                    workflow: l.workflow.id.clone(),
                    known: l
                        .workflow
                        .documents
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .into(),
            );
        }
        let already = l.events.iter().any(|e| {
            matches!(&e.body, EventBody::DocumentIssued { document: d, sha256: s, .. }
                if d == document && *s == sha256)
        });
        if let Content::Text { text, .. } = content {
            store.backend().keep_issued_text(&IssuedText {
                org: org.to_string(),
                case_id: id.to_string(),
                sha256: sha256.clone(),
                text: text.to_string(),
                created_at: now,
            })?;
        }
        if already {
            return Ok(Recorded {
                sha256,
                already: true,
            });
        }
        let l = store.execute(
            org,
            id,
            &Command::IssueDocument {
                document: document.to_string(),
                lang: lang.code().into(),
                format: content.format().into(),
                sha256: sha256.clone(),
                at: now,
            },
            actor,
            now,
        )?;
        self.remember(Arc::new(l));
        self.wake(store);
        Ok(Recorded {
            sha256,
            already: false,
        })
    }

    /// The documents of a case recorded as issued, in the order recorded.
    pub fn issued(&self, store: &mut Store, org: &str, id: &str) -> Result<Vec<Issued>, AppError> {
        let l = self.case(store, org, id)?;
        let mut out = Vec::new();
        for e in l.events.iter() {
            if let EventBody::DocumentIssued {
                document,
                lang,
                format,
                sha256,
            } = &e.body
            {
                let stored = store.backend().issued_text(org, id, sha256)?.is_some();
                out.push(Issued {
                    seq: e.seq,
                    at: time::rfc3339_in(e.at, l.workflow.timezone),
                    actor: e.actor.clone(),
                    document: document.clone(),
                    lang: lang.clone(),
                    format: format.clone(),
                    sha256: sha256.clone(),
                    stored,
                });
            }
        }
        Ok(out)
    }

    /// The exact text of an issued document, checked against its recorded hash.
    pub fn issued_text(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        sha256: &str,
    ) -> Result<(Issued, String), AppError> {
        let Some(issued) = self
            .issued(store, org, id)?
            .into_iter()
            .find(|i| i.sha256 == sha256)
        else {
            return Err(AppError::NotFound(format!(
                "case {id} has no document issued with sha256 {}",
                crate::util::quote(sha256)
            )));
        };
        let Some(text) = store.backend().issued_text(org, id, sha256)? else {
            return Err(AppError::NotFound(format!(
                "the text of {} issued in case {id} (sha256 {sha256}) was recorded before vigie kept issued texts",
                issued.document
            )));
        };
        if crate::util::hash::sha256_hex(&text) != sha256 {
            return Err(AppError::Store(crate::store::StoreError::Db(format!(
                "the kept text of {} issued in case {id} does not hash to {sha256}: the database was altered",
                issued.document
            ))));
        }
        Ok((issued, text))
    }

    /// Appends one entry to the access log.
    pub fn log_access(
        &self,
        store: &mut Store,
        org: &str,
        who: &Reader,
        what: &Read,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        store.backend().log_access(&AccessRow {
            id: 0,
            org: org.to_string(),
            case_id: what.case_id.clone(),
            at: now,
            actor: who.actor.clone(),
            action: what.action.to_string(),
            object: what.object.to_string(),
            detail: what.detail.clone(),
            address: who.address.clone(),
            via: who.via.to_string(),
        })?;
        Ok(())
    }

    /// The access log of one case of `org` (404 for a case that is not the org's), or of
    /// the whole organisation when `id` is None.
    pub fn access_log(
        &self,
        store: &mut Store,
        org: &str,
        id: Option<&str>,
    ) -> Result<Vec<AccessRow>, AppError> {
        if let Some(id) = id {
            self.case(store, org, id)?;
        }
        Ok(store.backend().access_log(org, id)?)
    }
}

/// An access entry in words: `downloaded draft cnil_notification (md, fr) from 192.0.2.1 (web)`.
pub fn access_summary(a: &AccessRow) -> String {
    let verb = match a.action.as_str() {
        "view" => "viewed",
        "download" => "downloaded",
        other => other,
    };
    format!(
        "{verb} {} {} from {} ({})",
        a.object, a.detail, a.address, a.via
    )
}

/// [`access_summary`] in the reader's language (issue 21 part 6): "Consultation
/// cnil_notification depuis 127.0.0.1 (web)" reads "Consultation : Notification à la
/// CNIL, depuis 127.0.0.1 (web)".
pub fn access_summary_in(a: &AccessRow, labels: &crate::render::Labels) -> String {
    let verb = match a.action.as_str() {
        "view" => labels.get("access_view"),
        "download" => labels.get("access_download"),
        other => labels.get(other),
    };
    let colon = match labels.lang() {
        crate::time::Lang::Fr => " : ",
        _ => ": ",
    };
    let object = labels
        .find(&format!("access_{}", a.object))
        .unwrap_or(&a.object);
    let what = std::iter::once(object)
        .chain(a.detail.split_whitespace().map(|w| labels.get(w)))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{verb}{colon}{what}, {} {} ({})",
        labels.get("access_from"),
        a.address,
        a.via
    )
}

/// An access entry as JSON (`case show --json`, the API), marked `"kind": "access"`.
pub fn access_json(a: &AccessRow, tz: chrono_tz::Tz) -> serde_json::Value {
    serde_json::json!({
        "kind": "access",
        "at": time::rfc3339_in(a.at, tz),
        "actor": a.actor,
        "action": a.action,
        "object": a.object,
        "detail": a.detail,
        "address": a.address,
        "via": a.via,
        "what": access_summary(a),
    })
}

/// A case's JSON with its access log: `access` (oldest first) and `timeline`, the
/// events and the access entries merged by when they were recorded, each marked with its
/// `kind` (`event` or `access`). The events' list and `seq` are unchanged.
pub fn with_access(
    mut v: serde_json::Value,
    l: &crate::store::Loaded,
    access: &[AccessRow],
) -> serde_json::Value {
    let tz = l.workflow.timezone;
    let mut timeline: Vec<(DateTime<Utc>, u8, serde_json::Value)> = l
        .events
        .iter()
        .map(|e| {
            (
                e.recorded_at,
                0,
                serde_json::json!({
                    "kind": "event",
                    "seq": e.seq,
                    "at": time::rfc3339_in(e.at, tz),
                    "recorded_at": time::rfc3339_in(e.recorded_at, tz),
                    "actor": e.actor,
                    "what": super::json::event_summary(e),
                }),
            )
        })
        .collect();
    timeline.extend(access.iter().map(|a| (a.at, 1, access_json(a, tz))));
    timeline.sort_by_key(|(at, k, _)| (*at, *k));
    v["access"] = access.iter().map(|a| access_json(a, tz)).collect();
    v["timeline"] = timeline.into_iter().map(|(_, _, j)| j).collect();
    v
}
