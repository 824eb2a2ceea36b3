//! The reminder outbox on SQLite: claims under a lease in IMMEDIATE transactions (one
//! writer at a time is SQLite's own SKIP LOCKED), recipients' outcomes, settling.

use super::{Sqlite, parse, parse_opt, ts};
use crate::store::backend::{Claimed, TimerRow as Row};
use crate::store::backend::{Delivery, NewTimer, Outbox, Result, Settle, TimerDump};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;

pub(super) fn insert_timer(conn: &Connection, t: &NewTimer) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO timers (key, org, case_id, clock, offset, due_at, next_attempt_at, state, attempts, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 'pending', 0, ?7)",
    )?
    .execute(params![
        t.key,
        t.org,
        t.case_id,
        t.clock,
        t.offset,
        ts(t.due_at),
        ts(t.created_at)
    ])?;
    Ok(())
}

pub(super) fn requeue_for_new_recipients(
    conn: &Connection,
    org: &str,
    case_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize> {
    const WHICH: &str = "org = ?1 AND (?2 IS NULL OR case_id = ?2) AND lock_token IS NULL
         AND (state IN ('dead', 'waiting') OR (state = 'pending' AND last_error IS NOT NULL))";
    conn.execute(
        &format!(
            "DELETE FROM timer_recipients WHERE state = 'refused'
             AND timer_id IN (SELECT id FROM timers WHERE {WHICH})"
        ),
        params![org, case_id],
    )?;
    Ok(conn.execute(
        &format!(
            "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?3,
             last_error = NULL WHERE {WHICH}"
        ),
        params![org, case_id, ts(now)],
    )?)
}

/// A timer's recipients as `TimerDump` holds them: (rcpt, state, detail, at).
type Recipients = Vec<(String, String, Option<String>, DateTime<Utc>)>;

fn parse_or_min(s: &str) -> DateTime<Utc> {
    parse(s).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Outbox for Sqlite {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        token: &str,
    ) -> Result<Vec<Claimed>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now_s = ts(now);
        let groups: Vec<(String, String, String)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT DISTINCT org, case_id, clock FROM (
                    SELECT org, case_id, clock FROM timers
                    WHERE state = 'pending' AND next_attempt_at <= ?1
                      AND (locked_until IS NULL OR locked_until <= ?1)
                    ORDER BY next_attempt_at LIMIT +?2)",
            )?;
            stmt.query_map(params![now_s, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<_>>()?
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
                .collect::<rusqlite::Result<_>>()?
            };
            let Some(((id, key, offset, due_at, attempts), older)) = rows.split_first() else {
                continue;
            };
            for (old, ..) in older {
                tx.prepare_cached("UPDATE timers SET state = 'superseded' WHERE id = ?1")?
                    .execute([old])?;
            }
            tx.prepare_cached(
                "UPDATE timers SET locked_until = ?2, lock_token = ?3 WHERE id = ?1",
            )?
            .execute(params![id, locked_until, token])?;
            out.push(Claimed {
                id: *id,
                key: key.clone(),
                org: org.clone(),
                case_id: case_id.clone(),
                clock: clock.clone(),
                offset: offset.clone(),
                due_at: parse_or_min(due_at),
                attempts: *attempts,
                token: token.to_string(),
            });
        }
        tx.commit()?;
        Ok(out)
    }

    fn delivered(&mut self, timer_id: i64) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rcpt, state FROM timer_recipients WHERE timer_id = ?1")?;
        let rows = stmt
            .query_map([timer_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn record(
        &mut self,
        deliveries: &[Delivery<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Settle>>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let c = d.claimed;
            {
                let mut upsert = tx.prepare_cached(
                    "INSERT OR REPLACE INTO timer_recipients (timer_id, rcpt, state, detail, at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for r in &d.recipients {
                    upsert.execute(params![c.id, r.rcpt, r.state, r.detail, ts(now)])?;
                }
            }
            // Every recipient's state now, earlier attempts' too.
            let states: HashMap<String, (String, Option<String>)> = tx
                .prepare_cached(
                    "SELECT rcpt, state, detail FROM timer_recipients WHERE timer_id = ?1",
                )?
                .query_map([c.id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect::<rusqlite::Result<_>>()?;
            let settle = (d.settle)(&states);
            let n = match &settle {
                Settle::Retry {
                    next_attempt_at,
                    why,
                } => tx.prepare_cached(
                    "UPDATE timers SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4,
                     locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
                )?
                .execute(params![c.id, c.token, ts(*next_attempt_at), why])?,
                Settle::Dead { why } => tx.prepare_cached(
                    "UPDATE timers SET attempts = attempts + 1, state = 'dead', last_error = ?3,
                     locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
                )?
                .execute(params![c.id, c.token, why])?,
                Settle::Sent {
                    message_id,
                    why,
                    next,
                } => {
                    let n = tx
                        .prepare_cached(
                            "UPDATE timers SET state = 'sent', sent_at = ?3, message_id = ?4, attempts = attempts + 1,
                             locked_until = NULL, lock_token = NULL, last_error = ?5
                             WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
                        )?
                        .execute(params![c.id, c.token, ts(now), message_id, why])?;
                    if n == 1
                        && let Some(t) = next
                    {
                        insert_timer(&tx, t)?;
                    }
                    n
                }
            };
            out.push((n == 1).then_some(settle));
        }
        tx.commit()?;
        Ok(out)
    }

    fn fail(&mut self, c: &Claimed, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool> {
        let n = match retry_at {
            Some(at) => self.conn.execute(
                "UPDATE timers SET attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4,
                 locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
                params![c.id, c.token, ts(at), error],
            )?,
            None => self.conn.execute(
                "UPDATE timers SET attempts = attempts + 1, state = 'dead', last_error = ?3,
                 locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
                params![c.id, c.token, error],
            )?,
        };
        Ok(n == 1)
    }

    fn cancel(&mut self, c: &Claimed) -> Result<()> {
        self.conn.execute(
            "UPDATE timers SET state = 'cancelled', locked_until = NULL, lock_token = NULL
             WHERE id = ?1 AND lock_token = ?2",
            params![c.id, c.token],
        )?;
        Ok(())
    }

    fn wait_for_recipient(&mut self, c: &Claimed, why: &str) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE timers SET state = 'waiting', last_error = ?3,
             locked_until = NULL, lock_token = NULL WHERE id = ?1 AND lock_token = ?2 AND state = 'pending'",
            params![c.id, c.token, why],
        )?;
        Ok(n == 1)
    }

    fn release_waiting(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize> {
        Ok(self.conn.execute(
            "UPDATE timers SET state = 'pending', next_attempt_at = ?2, last_error = NULL
             WHERE org = ?1 AND state = 'waiting'",
            params![org, ts(now)],
        )?)
    }

    fn next_wake(&mut self) -> Result<Option<DateTime<Utc>>> {
        // Two index lookups, not a scan of every pending timer: the earliest free attempt,
        // and the earliest lease to expire.
        let free: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT next_attempt_at FROM timers WHERE state = 'pending' AND lock_token IS NULL
                 ORDER BY next_attempt_at LIMIT 1",
            )?
            .query_row([], |r| r.get(0))
            .optional()?;
        let lease: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT MIN(locked_until) FROM timers WHERE lock_token IS NOT NULL AND state = 'pending'",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(free
            .into_iter()
            .chain(lease)
            .map(|s| parse_or_min(&s))
            .min())
    }

    fn beat(&mut self, token: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO dispatchers (token, beat_at) VALUES (?1, ?2)
                 ON CONFLICT (token) DO UPDATE SET beat_at = excluded.beat_at",
            )?
            .execute(params![token, ts(at)])?;
        Ok(())
    }

    fn stop_beating(&mut self, token: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM dispatchers WHERE token = ?1", params![token])?;
        Ok(())
    }

    fn reclaim_dead(&mut self, dead_before: DateTime<Utc>) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let dead: Vec<String> = {
            let mut stmt = tx.prepare_cached("SELECT token FROM dispatchers WHERE beat_at < ?1")?;
            stmt.query_map(params![ts(dead_before)], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut freed = 0;
        for token in dead {
            freed += tx
                .prepare_cached(
                    "UPDATE timers SET locked_until = NULL, lock_token = NULL
                     WHERE lock_token = ?1 AND state = 'pending'",
                )?
                .execute(params![token])?;
            tx.prepare_cached("DELETE FROM dispatchers WHERE token = ?1")?
                .execute(params![token])?;
        }
        tx.commit()?;
        Ok(freed)
    }

    fn list(&mut self, org: &str, all: bool) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, case_id, clock, offset, due_at, state, attempts, next_attempt_at, last_error, message_id
             FROM timers WHERE org = ?1 AND (?2 OR state IN ('pending', 'dead', 'waiting'))
             ORDER BY state = 'dead' DESC, next_attempt_at, id",
        )?;
        let rows = stmt
            .query_map(params![org, all], |r| {
                let state: String = r.get(5)?;
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
                    attempts: r.get(6)?,
                    next_attempt_at: r.get(7)?,
                    last_error,
                    message_id: r.get(9)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn retry(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id =
             (SELECT id FROM timers WHERE id = ?1 AND org = ?2 AND state IN ('dead', 'pending', 'waiting'))",
            params![id, org],
        )?;
        let n = tx.execute(
            "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?3,
             locked_until = NULL, lock_token = NULL, last_error = NULL
             WHERE id = ?1 AND org = ?2 AND state IN ('dead', 'pending', 'waiting')",
            params![id, org, ts(now)],
        )?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn retry_org(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Recipients that refused are tried again; those that have a reminder are not.
        tx.execute(
            "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id IN
             (SELECT id FROM timers WHERE org = ?1
              AND (state IN ('dead', 'waiting') OR (state = 'pending' AND attempts > 0)))",
            [org],
        )?;
        let n = tx.execute(
            "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = ?2,
             locked_until = NULL, lock_token = NULL, last_error = NULL
             WHERE org = ?1 AND (state IN ('dead', 'waiting') OR (state = 'pending' AND attempts > 0))",
            params![org, ts(now)],
        )?;
        tx.commit()?;
        Ok(n)
    }

    fn dump_timers(&mut self) -> Result<Vec<TimerDump>> {
        let mut recipients: HashMap<i64, Recipients> = HashMap::new();
        {
            let mut stmt = self.conn.prepare(
                "SELECT timer_id, rcpt, state, detail, at FROM timer_recipients ORDER BY timer_id, rcpt",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let at: String = r.get(4)?;
                recipients.entry(r.get(0)?).or_default().push((
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    parse(&at)?,
                ));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT id, key, org, case_id, clock, offset, due_at, next_attempt_at, state, attempts,
                    last_error, locked_until, lock_token, sent_at, message_id, created_at
             FROM timers ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            out.push(TimerDump {
                id,
                key: r.get(1)?,
                org: r.get(2)?,
                case_id: r.get(3)?,
                clock: r.get(4)?,
                offset: r.get(5)?,
                due_at: parse(&r.get::<_, String>(6)?)?,
                next_attempt_at: parse(&r.get::<_, String>(7)?)?,
                state: r.get(8)?,
                attempts: r.get(9)?,
                last_error: r.get(10)?,
                locked_until: parse_opt(r.get(11)?)?,
                lock_token: r.get(12)?,
                sent_at: parse_opt(r.get(13)?)?,
                message_id: r.get(14)?,
                created_at: parse(&r.get::<_, String>(15)?)?,
                recipients: recipients.remove(&id).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    fn load_timers(&mut self, rows: &[TimerDump]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut timer = tx.prepare_cached(
                "INSERT INTO timers (id, key, org, case_id, clock, offset, due_at, next_attempt_at, state,
                    attempts, last_error, locked_until, lock_token, sent_at, message_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            )?;
            let mut rcpt = tx.prepare_cached(
                "INSERT INTO timer_recipients (timer_id, rcpt, state, detail, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for t in rows {
                timer.execute(params![
                    t.id,
                    t.key,
                    t.org,
                    t.case_id,
                    t.clock,
                    t.offset,
                    ts(t.due_at),
                    ts(t.next_attempt_at),
                    t.state,
                    t.attempts,
                    t.last_error,
                    t.locked_until.map(ts),
                    t.lock_token,
                    t.sent_at.map(ts),
                    t.message_id,
                    ts(t.created_at)
                ])?;
                for (r, state, detail, at) in &t.recipients {
                    rcpt.execute(params![t.id, r, state, detail, ts(*at)])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}
