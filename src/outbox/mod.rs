//! The durable outbox of reminders: timer rows with an absolute `due_at`, written in the
//! same transaction as the event that created them, claimed with a lease, completed only
//! by the lease holder, retried with capped exponential backoff, dead-lettered on a
//! permanent error. Sending is at-least-once; the Message-ID derived from the row's
//! idempotency key lets a receiver drop the rare duplicate.

pub mod delivery;
pub mod plan;
pub mod wake;

use crate::case::Case;
use crate::workflow::Workflow;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub use plan::{Planned, key, plan};

/// Fixed-width UTC text, so that SQL compares instants as strings.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Reconciles the case's timer rows with what its clocks want now. Inside the caller's
/// transaction: a reminder can never be lost between an event and its timer.
pub fn sync(
    conn: &Connection,
    wf: &Workflow,
    case: &Case,
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let planned = plan(wf, case, now);
    let running: HashMap<&str, DateTime<Utc>> = planned
        .iter()
        .filter(|p| p.offset == "overdue-0")
        .map(|p| (p.clock.as_str(), p.due_at))
        .collect();
    let mut desired: HashMap<String, DateTime<Utc>> = planned
        .iter()
        .map(|p| (key(&case.org, &case.id, &p.clock, &p.offset), p.due_at))
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT id, key, clock, offset, state, due_at FROM timers WHERE org = ?1 AND case_id = ?2",
    )?;
    let existing: Vec<(i64, String, String, String, String, String)> = stmt
        .query_map(params![case.org, case.id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut reschedule = conn.prepare_cached(
        "UPDATE timers SET due_at = ?2, next_attempt_at = ?2, state = 'pending', attempts = 0,
         last_error = NULL, locked_until = NULL, lock_token = NULL WHERE id = ?1",
    )?;
    let mut cancel = conn.prepare_cached("UPDATE timers SET state = 'cancelled' WHERE id = ?1")?;
    for (id, k, clock, offset, state, due_at) in existing {
        let want = match desired.remove(&k) {
            Some(d) => Some(d),
            // Later overdue reminders follow the clock's due time while it runs.
            None if offset.starts_with("overdue-") && offset != "overdue-0" => {
                running.get(clock.as_str()).and_then(|due| {
                    let n: u32 = offset["overdue-".len()..].parse().ok()?;
                    plan::overdue_at(*due, wf.clocks.get(&clock)?.overdue_every, n, wf)
                })
            }
            None => None,
        };
        match (state.as_str(), want) {
            ("pending", None) => {
                cancel.execute([id])?;
            }
            ("pending", Some(d)) if ts(d) != due_at => {
                reschedule.execute(params![id, ts(d)])?;
            }
            ("cancelled", Some(d)) => {
                reschedule.execute(params![id, ts(d)])?;
            }
            _ => {}
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO timers (key, org, case_id, clock, offset, due_at, next_attempt_at, state, attempts, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending', 0, ?7)",
    )?;
    for p in &planned {
        let k = key(&case.org, &case.id, &p.clock, &p.offset);
        if desired.contains_key(&k) {
            insert.execute(params![
                k,
                case.org,
                case.id,
                p.clock,
                p.offset,
                ts(p.due_at),
                ts(now)
            ])?;
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
    let h = Sha256::digest(key.as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}@{domain}>")
}

/// Claims up to `limit` due timers. Of several due reminders of one clock (after a
/// downtime), only the latest is sent; the others are marked `superseded`.
pub fn claim(
    conn: &mut Connection,
    now: DateTime<Utc>,
    lease: Duration,
    limit: usize,
    token: &str,
) -> rusqlite::Result<Vec<Claimed>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now_s = ts(now);
    let groups: Vec<(String, String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT org, case_id, clock FROM (
                SELECT org, case_id, clock FROM timers
                WHERE state = 'pending' AND next_attempt_at <= ?1
                  AND (locked_until IS NULL OR locked_until <= ?1)
                ORDER BY next_attempt_at LIMIT ?2)",
        )?;
        stmt.query_map(params![now_s, limit as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?
    };
    let mut out = Vec::new();
    let locked_until = ts(now + lease);
    for (org, case_id, clock) in groups {
        let rows: Vec<(i64, String, String, String, i64)> = {
            // By case, not by due time: left to itself (no statistics), SQLite walked
            // every due timer for each group, quadratic in a burst (936 -> 16,474 msg/s).
            let mut stmt = tx.prepare_cached(
                "SELECT id, key, offset, due_at, attempts FROM timers INDEXED BY timers_case
                 WHERE org = ?1 AND case_id = ?2 AND clock = ?3 AND state = 'pending'
                   AND next_attempt_at <= ?4 AND (locked_until IS NULL OR locked_until <= ?4)
                 ORDER BY due_at DESC, id DESC",
            )?;
            stmt.query_map(params![org, case_id, clock, now_s], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?
        };
        let Some(((id, key, offset, due_at, attempts), older)) = rows.split_first() else {
            continue;
        };
        for (old, ..) in older {
            tx.execute(
                "UPDATE timers SET state = 'superseded' WHERE id = ?1",
                [old],
            )?;
        }
        tx.execute(
            "UPDATE timers SET locked_until = ?2, lock_token = ?3 WHERE id = ?1",
            params![id, locked_until, token],
        )?;
        out.push(Claimed {
            id: *id,
            key: key.clone(),
            org: org.clone(),
            case_id: case_id.clone(),
            clock: clock.clone(),
            offset: offset.clone(),
            due_at: parse_ts(due_at),
            attempts: *attempts,
            token: token.to_string(),
        });
    }
    tx.commit()?;
    Ok(out)
}

/// Marks claimed timers sent, each only if its lease is still ours, and plans each
/// one's next overdue reminder, all in one transaction. Returns how many were ours.
pub fn complete(
    conn: &mut Connection,
    done: &[(Claimed, String, Option<Planned>)],
    now: DateTime<Utc>,
) -> rusqlite::Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ours = 0;
    {
        let mut sent = tx.prepare_cached(
            "UPDATE timers SET state = 'sent', sent_at = ?3, message_id = ?4, attempts = attempts + 1,
             locked_until = NULL, lock_token = NULL, last_error = NULL
             WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
        )?;
        let mut next_row = tx.prepare_cached(
            "INSERT OR IGNORE INTO timers (key, org, case_id, clock, offset, due_at, next_attempt_at, state, attempts, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending', 0, ?7)",
        )?;
        for (c, message_id, next) in done {
            let n = sent.execute(params![c.id, c.token, ts(now), message_id])?;
            ours += n;
            if n == 1
                && let Some(p) = next
            {
                next_row.execute(params![
                    key(&c.org, &c.case_id, &p.clock, &p.offset),
                    c.org,
                    c.case_id,
                    p.clock,
                    p.offset,
                    ts(p.due_at),
                    ts(now)
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(ours)
}

/// Frees every lease: called by a dispatcher that holds the database's dispatcher lock,
/// so any lease left is from a process that died mid-send.
pub fn release_all(conn: &Connection) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE timers SET locked_until = NULL, lock_token = NULL WHERE state = 'pending' AND lock_token IS NOT NULL",
        [],
    )
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
    conn: &Connection,
    c: &Claimed,
    error: &str,
    transient: bool,
    now: DateTime<Utc>,
) -> rusqlite::Result<bool> {
    let n = if transient {
        conn.execute(
            "UPDATE timers SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4,
             locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
            params![c.id, c.token, ts(now + backoff(c.attempts)), error],
        )?
    } else {
        conn.execute(
            "UPDATE timers SET attempts = attempts + 1, state = 'dead', last_error = ?3,
             locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
            params![c.id, c.token, error],
        )?
    };
    Ok(n == 1)
}

/// Drops a claimed timer whose clock no longer needs it.
pub fn cancel(conn: &Connection, c: &Claimed) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE timers SET state = 'cancelled', locked_until = NULL, lock_token = NULL
         WHERE id = ?1 AND lock_token = ?2",
        params![c.id, c.token],
    )?;
    Ok(())
}

/// When the dispatcher must next look: the earliest pending attempt (or lease expiry).
pub fn next_wake(conn: &Connection) -> rusqlite::Result<Option<DateTime<Utc>>> {
    // Two index lookups, not a scan of every pending timer: the earliest free attempt,
    // and the earliest lease to expire.
    let free: Option<String> = conn
        .query_row(
            "SELECT next_attempt_at FROM timers WHERE state = 'pending' AND lock_token IS NULL
         ORDER BY next_attempt_at LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let lease: Option<String> = conn.query_row(
        "SELECT MIN(locked_until) FROM timers WHERE lock_token IS NOT NULL AND state = 'pending'",
        [],
        |r| r.get(0),
    )?;
    Ok(free.into_iter().chain(lease).map(|s| parse_ts(&s)).min())
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
/// dead, and with `all`, sent, cancelled and superseded too.
pub fn list(conn: &Connection, org: &str, all: bool) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT id, case_id, clock, offset, due_at, state, attempts, next_attempt_at, last_error, message_id
         FROM timers WHERE org = ?1 AND (?2 OR state IN ('pending', 'dead'))
         ORDER BY state = 'dead' DESC, next_attempt_at",
    )?;
    let rows = stmt
        .query_map(params![org, all], |r| {
            let state: String = r.get(5)?;
            let attempts: i64 = r.get(6)?;
            let last_error: Option<String> = r.get(8)?;
            let shown = if state == "pending" && last_error.is_some() {
                "failed".to_string()
            } else {
                state
            };
            Ok(Row {
                id: r.get(0)?,
                case: r.get(1)?,
                clock: r.get(2)?,
                offset: r.get(3)?,
                due_at: r.get(4)?,
                state: shown,
                attempts,
                next_attempt_at: r.get(7)?,
                last_error,
                message_id: r.get(9)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Requeues a dead or failing timer now. Returns false when there is no such timer.
/// Recipients that refused it are tried again; those that have it are not sent it twice.
pub fn retry(conn: &Connection, org: &str, id: i64, now: DateTime<Utc>) -> rusqlite::Result<bool> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id =
         (SELECT id FROM timers WHERE id = ?1 AND org = ?2 AND state IN ('dead', 'pending'))",
        params![id, org],
    )?;
    let n = tx.execute(
        "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?3,
         locked_until = NULL, lock_token = NULL, last_error = NULL
         WHERE id = ?1 AND org = ?2 AND state IN ('dead', 'pending')",
        params![id, org, ts(now)],
    )?;
    tx.commit()?;
    Ok(n == 1)
}

/// Requeues every dead or failing timer of `org` now: its reminder recipients changed.
pub fn retry_org(conn: &Connection, org: &str, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    // Recipients that refused are tried again; those that have a reminder are not.
    conn.execute(
        "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id IN
         (SELECT id FROM timers WHERE org = ?1
          AND (state = 'dead' OR (state = 'pending' AND attempts > 0)))",
        [org],
    )?;
    conn.execute(
        "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?2,
         locked_until = NULL, lock_token = NULL, last_error = NULL
         WHERE org = ?1 AND (state = 'dead' OR (state = 'pending' AND attempts > 0))",
        params![org, ts(now)],
    )
}

#[cfg(test)]
mod tests;
