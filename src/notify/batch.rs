//! What a campaign records in the ledger, and the e-mails it sends over SMTP in batches.

use super::lists::Lists;
use super::recipients::Recipient;
use super::{NotifyError, Outcome, refusal};
use crate::mail::Mailer;
use crate::store::Store;
use crate::store::backend::LedgerRow;
use crate::time;
use chrono::{DateTime, Utc};

pub(super) struct Ledger<'a> {
    pub(super) store: &'a mut Store,
    pub(super) campaign: i64,
    pub(super) pending: Vec<(String, String, &'static str, Option<String>)>,
}

impl Ledger<'_> {
    pub(super) fn flush(&mut self, now: DateTime<Utc>) -> Result<(), NotifyError> {
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

/// One e-mail waiting for its SMTP batch.
pub(super) struct Handoff {
    pub(super) person: String,
    pub(super) mid: String,
    pub(super) msg: lettre::Message,
    /// For the follow-up list and to redact the server's answer.
    pub(super) recipient: Recipient,
}

/// Sends one batch over SMTP: the batch is written as `sending` first, so a crash
/// leaves at most this batch (the concurrency) to send again, with the same Message-IDs.
/// A 5xx answer is final (refused, listed for a letter); anything else is retried by a
/// rerun. Only the codes and a redacted text of the answer are kept.
pub(super) fn send_batch(
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
