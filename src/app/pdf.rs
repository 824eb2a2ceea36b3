//! Drafts as PDF: the markdown draft laid out on A4 (src/render/pdf.rs), and the record
//! of an issued PDF by the SHA-256 of its exact bytes.

use super::{App, AppError, DraftRequest};
use crate::case::Command;
use crate::render::Draft;
use crate::render::pdf::{Footer, markdown_to_pdf};
use crate::store::Store;
use crate::time::Lang;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// A draft rendered as PDF.
pub struct PdfDraft {
    pub bytes: Vec<u8>,
    /// Facts the document needs that are missing (shown as placeholders).
    pub missing: Vec<String>,
    pub lang: Lang,
}

impl App {
    /// The document as a PDF: the markdown draft on A4 pages, the case reference and `now`
    /// (in the workflow's zone) in the footer, and `now` as the PDF's creation date, so
    /// the same case, document and time give the same bytes.
    pub fn draft_pdf(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        req: &DraftRequest,
        now: DateTime<Utc>,
    ) -> Result<PdfDraft, AppError> {
        let md = DraftRequest {
            document: req.document.clone(),
            lang: req.lang.clone(),
            format: Some("md".into()),
        };
        let (Draft { text, missing, .. }, _, lang) = self.draft(store, org, id, &md, now)?;
        let l = self.case(store, org, id)?;
        let footer = Footer {
            reference: l.case.id.clone(),
            generated_at: now,
            zone: l.workflow.timezone,
            lang,
        };
        Ok(PdfDraft {
            bytes: markdown_to_pdf(&text, &footer)?,
            missing,
            lang,
        })
    }

    /// Records in the register that these exact bytes of a document were issued in
    /// `format` (e.g. a PDF); returns their SHA-256, and whether they were already
    /// recorded (then nothing is appended).
    #[allow(clippy::too_many_arguments)]
    pub fn record_issued_bytes(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        document: &str,
        lang: Lang,
        format: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(String, bool), AppError> {
        let sha256 = crate::util::hash::sha256_hex(bytes);
        let already = self.case(store, org, id)?.events.iter().any(|e| {
            matches!(&e.body, crate::case::EventBody::DocumentIssued { document: d, sha256: s, .. }
                if d == document && *s == sha256)
        });
        if already {
            return Ok((sha256, true));
        }
        let l = store.execute(
            org,
            id,
            &Command::IssueDocument {
                document: document.to_string(),
                lang: lang.code().into(),
                format: format.into(),
                sha256: sha256.clone(),
                at: now,
            },
            actor,
            now,
        )?;
        self.remember(Arc::new(l));
        self.wake(store);
        Ok((sha256, false))
    }
}
