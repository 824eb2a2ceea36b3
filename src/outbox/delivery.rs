//! What became of each recipient of a reminder. A recipient the server refuses never
//! stops the others; each one accepted is recorded as soon as the server has it, so a
//! crash or a retry never sends it again. Recipients are stored as a keyed hash (the
//! database's `ledger_key`, salted with the reminder's key), never as an address, and
//! reasons name a recipient by its position ("recipient 2 of 3 refused: ...").

use super::{Claimed, Planned, backoff, key, ts};
use crate::mail::RcptOutcome;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use sha2::Sha256;
use std::collections::HashMap;

/// The fact whose addresses receive a case's reminders besides the organisation's list.
/// When it changes, the case's dead and failing reminders are requeued.
pub const OWNERS: &str = "owners";

/// The secret recipients are hashed with: the database's own key, which never leaves it.
pub fn secret(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("SELECT value FROM meta WHERE key = 'ledger_key'", [], |r| {
        r.get(0)
    })
}

/// HMAC-SHA256(secret, reminder key, address): the same recipient of the same reminder
/// always gives the same value, and nothing links it to an address without the key.
pub fn recipient_hash(secret: &str, timer_key: &str, address: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timer_key.as_bytes());
    mac.update(b"\0");
    mac.update(address.trim().to_lowercase().as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Recipients of a reminder already dealt with: hash -> `sent` or `refused`.
pub fn done(conn: &Connection, timer_id: i64) -> rusqlite::Result<HashMap<String, String>> {
    let mut stmt =
        conn.prepare_cached("SELECT rcpt, state FROM timer_recipients WHERE timer_id = ?1")?;
    stmt.query_map([timer_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

/// One attempt at a claimed reminder: each recipient by hash, in order, with what
/// became of it (None: dealt with by an earlier attempt).
#[derive(Debug)]
pub struct Attempt {
    pub claimed: Claimed,
    pub message_id: String,
    /// The next overdue reminder to plan once this one is sent.
    pub next: Option<Planned>,
    pub recipients: Vec<(String, Option<RcptOutcome>)>,
}

/// What `record` did with an attempt, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Every recipient has it or refused it, at least one has it. The refusals, if any.
    Sent(Option<String>),
    /// Some recipients are to be tried again (after the backoff). Why.
    Retry(String),
    /// Every recipient refused it. Why.
    Dead(String),
    /// The lease was no longer ours: the recipients are recorded, the row left alone.
    NotOurs,
}

/// Records attempts in one transaction: each recipient accepted or refused, then each
/// reminder sent (and its next overdue reminder planned), retried, or dead-lettered.
pub fn record(
    conn: &mut Connection,
    attempts: &[Attempt],
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<Recorded>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(attempts.len());
    for a in attempts {
        out.push(record_one(&tx, a, now)?);
    }
    tx.commit()?;
    Ok(out)
}

fn record_one(tx: &Transaction, a: &Attempt, now: DateTime<Utc>) -> rusqlite::Result<Recorded> {
    let c = &a.claimed;
    let n = a.recipients.len();
    let mut upsert = tx.prepare_cached(
        "INSERT OR REPLACE INTO timer_recipients (timer_id, rcpt, state, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut deferred = Vec::new();
    for (i, (hash, outcome)) in a.recipients.iter().enumerate() {
        match outcome {
            Some(RcptOutcome::Accepted) => {
                upsert.execute(params![c.id, hash, "sent", None::<String>, ts(now)])?;
            }
            Some(RcptOutcome::Refused(why)) => {
                let detail = format!("recipient {} of {n} refused: {why}", i + 1);
                upsert.execute(params![c.id, hash, "refused", detail, ts(now)])?;
            }
            Some(RcptOutcome::Deferred(why)) => {
                deferred.push(format!("recipient {} of {n} not sent: {why}", i + 1));
            }
            None => {}
        }
    }
    // The reminder's outcome, from every recipient it has now (earlier attempts too).
    let hashes: Vec<&str> = a.recipients.iter().map(|(h, _)| h.as_str()).collect();
    let rows = super::delivery::done(tx, c.id)?;
    let sent_any = hashes
        .iter()
        .any(|h| rows.get(*h).is_some_and(|s| s == "sent"));
    let mut refusals: Vec<String> = {
        let mut stmt = tx.prepare_cached(
            "SELECT rcpt, detail FROM timer_recipients WHERE timer_id = ?1 AND state = 'refused'",
        )?;
        let all: HashMap<String, String> = stmt
            .query_map([c.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        hashes.iter().filter_map(|h| all.get(*h).cloned()).collect()
    };
    if !deferred.is_empty() {
        refusals.extend(deferred);
        let why = refusals.join("; ");
        let n = tx.execute(
            "UPDATE timers SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4,
             locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
            params![c.id, c.token, ts(now + backoff(c.attempts)), why],
        )?;
        return Ok(if n == 1 {
            Recorded::Retry(why)
        } else {
            Recorded::NotOurs
        });
    }
    let why = (!refusals.is_empty()).then(|| refusals.join("; "));
    if !sent_any {
        let why = why.unwrap_or_else(|| "no recipient".into());
        let n = tx.execute(
            "UPDATE timers SET attempts = attempts + 1, state = 'dead', last_error = ?3,
             locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
            params![c.id, c.token, why],
        )?;
        return Ok(if n == 1 {
            Recorded::Dead(why)
        } else {
            Recorded::NotOurs
        });
    }
    let n = tx.execute(
        "UPDATE timers SET state = 'sent', sent_at = ?3, message_id = ?4, attempts = attempts + 1,
         locked_until = NULL, lock_token = NULL, last_error = ?5
         WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
        params![c.id, c.token, ts(now), a.message_id, why],
    )?;
    if n == 0 {
        return Ok(Recorded::NotOurs);
    }
    if let Some(p) = &a.next {
        tx.execute(
            "INSERT OR IGNORE INTO timers (key, org, case_id, clock, offset, due_at, next_attempt_at, state, attempts, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending', 0, ?7)",
            params![
                key(&c.org, &c.case_id, &p.clock, &p.offset),
                c.org,
                c.case_id,
                p.clock,
                p.offset,
                ts(p.due_at),
                ts(now)
            ],
        )?;
    }
    Ok(Recorded::Sent(why))
}

/// Requeues, due now, the reminders of one case (or of a whole organisation) that are
/// dead or failing and not in flight: called when their recipients change. Recipients
/// that refused are tried again; those that have the reminder are not sent it twice.
/// Returns how many were requeued.
pub fn requeue_for_new_recipients(
    conn: &Connection,
    org: &str,
    case_id: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    const WHICH: &str = "org = ?1 AND (?2 IS NULL OR case_id = ?2) AND lock_token IS NULL
         AND (state = 'dead' OR (state = 'pending' AND last_error IS NOT NULL))";
    conn.execute(
        &format!(
            "DELETE FROM timer_recipients WHERE state = 'refused'
             AND timer_id IN (SELECT id FROM timers WHERE {WHICH})"
        ),
        params![org, case_id],
    )?;
    conn.execute(
        &format!(
            "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?3,
             last_error = NULL WHERE {WHICH}"
        ),
        params![org, case_id, ts(now)],
    )
}
