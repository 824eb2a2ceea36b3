//! What a campaign has done and not yet recorded, and the e-mails waiting for their SMTP
//! batch: a `Batch` that flushes itself.

use super::lists::Lists;
use super::recipients::Recipient;
use super::{NotifyError, Outcome, refusal};
use crate::mail::Mailer;
use crate::store::Store;
use crate::store::backend::LedgerRow;
use crate::time;

/// Ledger rows written at once.
const LEDGER_ROWS: usize = 2048;

/// A ledger row waiting: person, Message-ID, status, error.
type Row = (String, String, &'static str, Option<String>);

/// The rows a campaign has to record and the e-mails it has to send. Rows go to the
/// ledger at `LEDGER_ROWS`, e-mails to the SMTP server at the concurrency (recorded as
/// `sending` first), and what is left at `finish`. A batch dropped before its finish (a
/// run stopped by an error) still records its rows, whose people are done; the e-mails
/// it holds were never sent nor recorded, and a rerun sends them.
pub(super) struct Batch<'a> {
    store: &'a mut Store,
    campaign: i64,
    rows: Vec<Row>,
    mail: Vec<Handoff>,
    smtp: Option<Smtp>,
    concurrency: usize,
}

/// One e-mail waiting for its SMTP batch.
pub(super) struct Handoff {
    pub(super) person: String,
    pub(super) mid: String,
    pub(super) msg: lettre::Message,
    /// For the follow-up list and to redact the server's answer.
    pub(super) recipient: Recipient,
}

/// The SMTP pool and the runtime it lives in.
pub(super) struct Smtp {
    rt: tokio::runtime::Runtime,
    /// Always set; taken by `drop`, which stops the pool inside the runtime's context.
    mailer: Option<Mailer>,
}

impl Smtp {
    pub(super) fn new(rt: tokio::runtime::Runtime, mailer: Mailer) -> Smtp {
        Smtp {
            rt,
            mailer: Some(mailer),
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _in_runtime = self.rt.enter();
        drop(self.mailer.take());
    }
}

impl<'a> Batch<'a> {
    pub(super) fn new(
        store: &'a mut Store,
        campaign: i64,
        smtp: Option<Smtp>,
        concurrency: usize,
    ) -> Batch<'a> {
        Batch {
            store,
            campaign,
            rows: Vec::new(),
            mail: Vec::new(),
            smtp,
            concurrency,
        }
    }

    /// The store the rows go to, for the campaign's other reads and writes.
    pub(super) fn store(&mut self) -> &mut Store {
        self.store
    }

    /// Records a person as sent (a file written, a letter printed).
    pub(super) fn sent(&mut self, person: String, mid: String) -> Result<(), NotifyError> {
        self.rows.push((person, mid, "sent", None));
        if self.rows.len() >= LEDGER_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the rows held to the ledger.
    pub(super) fn flush(&mut self) -> Result<(), NotifyError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let now = time::now();
        let rows: Vec<LedgerRow> = self
            .rows
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

    /// Holds an e-mail; at the concurrency, the batch goes to the SMTP server.
    pub(super) fn mail(
        &mut self,
        h: Handoff,
        out: &mut Outcome,
        lists: &mut Lists,
    ) -> Result<(), NotifyError> {
        self.mail.push(h);
        if self.mail.len() >= self.concurrency {
            self.send(out, lists)?;
        }
        Ok(())
    }

    /// Sends the e-mails held and records everything.
    pub(super) fn finish(
        &mut self,
        out: &mut Outcome,
        lists: &mut Lists,
    ) -> Result<(), NotifyError> {
        if !self.mail.is_empty() {
            self.send(out, lists)?;
        }
        self.flush()
    }

    /// Sends the e-mails held over SMTP: they are written as `sending` first, so a crash
    /// leaves at most this batch (the concurrency) to send again, with the same
    /// Message-IDs. A 5xx answer is final (refused, listed for a letter); anything else
    /// is retried by a rerun. Only the codes and a redacted text of the answer are kept.
    fn send(&mut self, out: &mut Outcome, lists: &mut Lists) -> Result<(), NotifyError> {
        for h in self.mail.iter() {
            self.rows
                .push((h.person.clone(), h.mid.clone(), "sending", None));
        }
        self.flush()?;
        let smtp = self.smtp.as_ref().expect("smtp");
        let mailer = smtp.mailer.as_ref().expect("smtp");
        let batch = std::mem::take(&mut self.mail);
        let results = smtp.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for h in batch {
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
                    self.rows.push((person, mid, "sent", None));
                }
                Err(e) => {
                    let why = refusal::redact(&e.message, &recipient);
                    if e.transient {
                        out.failed += 1;
                        self.rows.push((person, mid, "failed", Some(why)));
                    } else {
                        out.refused += 1;
                        lists.refused(recipient.line, &recipient.id, &why)?;
                        self.rows.push((person, mid, "refused", Some(why)));
                    }
                }
            }
        }
        self.flush()
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // A run stopped by an error: the people of the rows held are done.
        let _ = self.flush();
    }
}
