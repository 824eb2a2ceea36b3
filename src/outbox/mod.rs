//! The durable outbox of reminders: timer rows with an absolute `due_at`, written in the
//! same transaction as the event that created them, claimed with a lease, completed only
//! by the lease holder, retried with capped exponential backoff, dead-lettered on a
//! permanent error. Sending is at-least-once; the Message-ID derived from the row's
//! idempotency key lets a receiver drop the rare duplicate.

pub mod delivery;

use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};

/// The reminders a case wants (pure, in `case`), under the name the dispatcher uses.
pub use crate::case::reminders as plan;
pub use crate::store::backend::{Claimed, TimerRow as Row, ts};
pub use plan::{Planned, key, plan};

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
