//! `vigie draft CASE DOCUMENT --initial` (issue 22 B7): once the authority is notified,
//! a draft of the notification is the complementary one; the initial notification is
//! still wanted (to file it again, to show an inspector). It is the text recorded as
//! issued before the notification (`draft --record`), when there is one in the language
//! and format asked; else the document drafted from the case as it stood when the
//! notification was sent: the events before it, with the facts given alongside it.

use super::{App, AppError, DraftRequest, draft_options};
use crate::case::EventBody;
use crate::render::{Draft, Format};
use crate::store::Store;
use crate::time::{self, Lang};
use chrono::{DateTime, Utc};

/// The event that makes a later draft complementary.
const NOTIFICATION: &str = "notify_authority";

/// Where an initial draft came from.
#[derive(Debug, Clone, PartialEq)]
pub enum InitialFrom {
    /// The exact text recorded as issued, when it was recorded (RFC 3339, workflow zone).
    Recorded { at: String, sha256: String },
    /// Drafted again from the case as it stood when the authority was notified (RFC 3339).
    AsNotified { at: String },
    /// The authority is not notified yet: the current draft is the initial one.
    NotNotified,
}

impl App {
    /// The initial notification of a case: see the module's comment.
    pub fn draft_initial(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        req: &DraftRequest,
        now: DateTime<Utc>,
    ) -> Result<(Draft, Format, Lang, InitialFrom), AppError> {
        let l = self.case(store, org, id)?;
        let Some(pos) = l.events.iter().position(
            |e| matches!(&e.body, EventBody::Advanced { event, .. } if event == NOTIFICATION),
        ) else {
            let (d, format, lang) = self.draft(store, org, id, req, now)?;
            return Ok((d, format, lang, InitialFrom::NotNotified));
        };
        let profile = self.profile(store, org)?;
        let wf = &l.workflow;
        let (lang, format) = draft_options(&profile, wf, req)?;
        let notified = &l.events[pos];
        let tz = wf.timezone;

        // The text recorded before the notification, latest first, in this language and
        // format, whose text is kept.
        let recorded = l.events[..pos].iter().rev().find_map(|e| match &e.body {
            EventBody::DocumentIssued {
                document,
                lang: issued_lang,
                format: issued_format,
                sha256,
            } if *document == req.document
                && issued_lang == lang.code()
                && issued_format == format.as_str() =>
            {
                Some((e.at, sha256.clone()))
            }
            _ => None,
        });
        if let Some((at, sha256)) = recorded
            && let Ok((_, text)) = self.issued_text(store, org, id, &sha256)
        {
            return Ok((
                Draft {
                    text,
                    missing: Vec::new(),
                    warning: None,
                },
                format,
                lang,
                InitialFrom::Recorded {
                    at: time::rfc3339_in(at, tz),
                    sha256,
                },
            ));
        }

        // The case as it stood when the notification was sent.
        let before = &l.events[..pos];
        let Some(mut case) = crate::case::fold(wf, before) else {
            return Err(AppError::NotFound(format!("case {id} has no events")));
        };
        if let EventBody::Advanced { facts, .. } = &notified.body {
            crate::case::apply_facts(wf, &mut case.facts, facts);
        }
        let d = crate::render::draft(
            &self.templates,
            &profile,
            wf,
            &case,
            before,
            &req.document,
            lang,
            format,
            notified.at,
            // The initial notification, as sent: no comparison with today's assessment.
            None,
        )?;
        Ok((
            d,
            format,
            lang,
            InitialFrom::AsNotified {
                at: time::rfc3339_in(notified.at, tz),
            },
        ))
    }
}
