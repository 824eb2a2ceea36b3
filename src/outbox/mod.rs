//! The durable outbox of reminders: timer rows with an absolute `due_at`, written in the
//! same transaction as the event that created them, claimed with a lease, completed only
//! by the lease holder, retried with capped exponential backoff, dead-lettered on a
//! permanent error. Sending is at-least-once; the Message-ID derived from the row's
//! idempotency key lets a receiver drop the rare duplicate.

pub mod delivery;
pub mod plan;

use crate::case::Case;
use crate::store::backend::{CaseTx, NewTimer};
use crate::store::{Store, StoreError};
use crate::workflow::Workflow;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;

pub use plan::{Planned, key, plan};

/// Fixed-width UTC text, so that SQL compares instants as strings.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Reconciles the case's timer rows with what its clocks want now. Inside the caller's
/// transaction: a reminder can never be lost between an event and its timer.
pub fn sync(
    tx: &mut dyn CaseTx,
    wf: &Workflow,
    case: &Case,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let planned = plan(wf, case, now);
    let running: HashMap<&str, DateTime<Utc>> = planned
        .iter()
        .filter(|p| p.offset == "overdue-0")
        .map(|p| (p.clock.as_str(), p.due_at))
        .collect();
    // By (clock, offset): a timer's key is `key(org, case, clock, offset)`, made only for
    // the timers to create.
    let mut desired: HashMap<(&str, &str), DateTime<Utc>> = planned
        .iter()
        .map(|p| ((p.clock.as_str(), p.offset.as_str()), p.due_at))
        .collect();
    let timers = tx.timers_of_case(&case.org, &case.id)?;
    for t in &timers {
        let want = match desired.remove(&(t.clock.as_str(), t.offset.as_str())) {
            Some(d) => Some(d),
            // Later overdue reminders follow the clock's due time while it runs.
            None if t.offset.starts_with("overdue-") && t.offset != "overdue-0" => {
                running.get(t.clock.as_str()).and_then(|due| {
                    let n: u32 = t.offset["overdue-".len()..].parse().ok()?;
                    plan::overdue_at(*due, wf.clocks.get(&t.clock)?.overdue_every, n, wf)
                })
            }
            None => None,
        };
        match (t.state.as_str(), want) {
            ("pending" | "waiting", None) => tx.cancel_timer(t.id)?,
            // Compared as stored (to the microsecond).
            ("pending" | "waiting", Some(d))
                if d.timestamp_micros() != t.due_at.timestamp_micros() =>
            {
                tx.reschedule_timer(t.id, d)?
            }
            ("cancelled", Some(d)) => tx.reschedule_timer(t.id, d)?,
            _ => {}
        }
    }
    for p in &planned {
        if desired.contains_key(&(p.clock.as_str(), p.offset.as_str())) {
            tx.insert_timer(&NewTimer {
                key: key(&case.org, &case.id, &p.clock, &p.offset),
                org: case.org.clone(),
                case_id: case.id.clone(),
                clock: p.clock.clone(),
                offset: p.offset.clone(),
                due_at: p.due_at,
                created_at: now,
            })?;
        }
    }
    Ok(())
}

/// A timer claimed by a dispatcher: it holds the lease until `locked_until`.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub org: String,
    pub case_id: String,
    pub clock: String,
    pub offset: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub token: String,
}

impl Claimed {
    /// `<sha256(key)[..32]@domain>`: the same for every attempt of the same reminder.
    pub fn message_id(&self, domain: &str) -> String {
        message_id(&self.key, domain)
    }
}

pub fn message_id(key: &str, domain: &str) -> String {
    let hex = crate::util::hash::sha256_hex(key);
    format!("<{}@{domain}>", &hex[..32])
}

/// Claims up to `limit` due timers. Of several due reminders of one clock (after a
/// downtime), only the latest is sent; the others are marked `superseded`.
pub fn claim(
    store: &mut Store,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
    token: &str,
) -> Result<Vec<Claimed>, StoreError> {
    store.backend().claim(now, lease, limit, token)
}

/// Capped exponential backoff: 1 s, 2 s, 4 s, ... up to 15 minutes.
pub fn backoff(attempts: i64) -> Duration {
    let secs = 1i64
        .checked_shl(attempts.clamp(0, 20) as u32)
        .unwrap_or(900);
    Duration::seconds(secs.min(900))
}

/// Records a failed attempt under our lease: retried later when transient, dead-lettered
/// when permanent.
pub fn fail(
    store: &mut Store,
    c: &Claimed,
    error: &str,
    transient: bool,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let retry_at = transient.then(|| now + backoff(c.attempts));
    store.backend().fail(c, error, retry_at)
}

/// Drops a claimed timer whose clock no longer needs it.
pub fn cancel(store: &mut Store, c: &Claimed) -> Result<(), StoreError> {
    store.backend().cancel(c)
}

/// Sets a claimed reminder aside until its organisation has a recipient: it is neither
/// lost nor dead, and the dispatcher does not look at it again (no busy loop) until the
/// recipients change (`retry_org`, a case's `owners`) or a dispatcher starts and finds
/// the organisation has one now (`release_waiting`).
pub fn wait_for_recipient(store: &mut Store, c: &Claimed, why: &str) -> Result<bool, StoreError> {
    store.backend().wait_for_recipient(c, why)
}

/// The waiting reminders of `org` pending again now.
pub fn release_waiting(
    store: &mut Store,
    org: &str,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    store.backend().release_waiting(org, now)
}

/// When the dispatcher must next look: the earliest pending attempt (or lease expiry).
pub fn next_wake(store: &mut Store) -> Result<Option<DateTime<Utc>>, StoreError> {
    store.backend().next_wake()
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: i64,
    pub case: String,
    pub clock: String,
    pub offset: String,
    pub due_at: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
}

/// Timers for `vigie outbox list`: pending (with `failed` = pending after an error),
/// waiting for a recipient, dead, and with `all`, sent, cancelled and superseded too.
pub fn list(store: &mut Store, org: &str, all: bool) -> Result<Vec<Row>, StoreError> {
    store.backend().list(org, all)
}

/// Requeues a dead or failing timer now. Returns false when there is no such timer.
/// Recipients that refused it are tried again; those that have it are not sent it twice.
pub fn retry(
    store: &mut Store,
    org: &str,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    store.backend().retry(org, id, now)
}

/// Requeues every dead or failing timer of `org` now: its reminder recipients changed.
/// Recipients that refused are tried again; those that have a reminder are not.
pub fn retry_org(store: &mut Store, org: &str, now: DateTime<Utc>) -> Result<usize, StoreError> {
    store.backend().retry_org(org, now)
}

#[cfg(test)]
mod tests;
