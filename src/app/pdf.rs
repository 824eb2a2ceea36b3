//! Drafts as PDF: the markdown draft laid out on A4 (src/render/pdf.rs); an issued PDF
//! is recorded by the SHA-256 of its exact bytes (`app::issued`).

use super::{App, AppError, DraftRequest};
use crate::render::Draft;
use crate::render::pdf::{Footer, markdown_to_pdf};
use crate::store::Store;
use crate::time::Lang;
use chrono::{DateTime, Utc};

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
}
