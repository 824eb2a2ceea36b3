//! The reminder outbox: claims are `FOR UPDATE SKIP LOCKED` leases, so dispatchers of
//! several instances never claim one timer and never wait on each other; a lease whose
//! `locked_until` passed is claimable again; a timer is settled only under our token.

use super::caselog::insert_timer;
use super::{Postgres, db_err};
use crate::outbox::{Claimed, ts};
use crate::store::backend::{Delivery, Outbox, Result, Settle, TimerDump, TimerRow};
use chrono::{DateTime, Duration, Utc};
use postgres::GenericClient;
use std::collections::{BTreeSet, HashMap};

const CLEAR_LEASE: &str = "locked_until = NULL, lock_token = NULL";
const OURS: &str = "id = $1 AND lock_token = $2 AND state = 'pending'";

impl Outbox for Postgres {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        token: &str,
    ) -> Result<Vec<Claimed>> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        const FREE: &str = "state = 'pending' AND next_attempt_at <= $1
             AND (locked_until IS NULL OR locked_until <= $1)";
        let due = tx
            .query(
                &format!(
                    "SELECT org, case_id, clock FROM timers WHERE {FREE}
                     ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED"
                ),
                &[&now, &(limit as i64)],
            )
            .map_err(db_err)?;
        let groups: BTreeSet<(String, String, String)> =
            due.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        let until = now + lease;
        let mut out = Vec::new();
        for (org, case_id, clock) in groups {
            let rows = tx
                .query(
                    &format!(
                        "SELECT id, key, \"offset\", due_at, attempts FROM timers
                         WHERE org = $2 AND case_id = $3 AND clock = $4 AND {FREE}
                         ORDER BY due_at DESC, id DESC FOR UPDATE SKIP LOCKED"
                    ),
                    &[&now, &org, &case_id, &clock],
                )
                .map_err(db_err)?;
            let Some((latest, older)) = rows.split_first() else {
                continue;
            };
            let older: Vec<i64> = older.iter().map(|r| r.get(0)).collect();
            if !older.is_empty() {
                tx.execute(
                    "UPDATE timers SET state = 'superseded' WHERE id = ANY($1)",
                    &[&older],
                )
                .map_err(db_err)?;
            }
            let id: i64 = latest.get(0);
            tx.execute(
                "UPDATE timers SET locked_until = $2, lock_token = $3 WHERE id = $1",
                &[&id, &until, &token],
            )
            .map_err(db_err)?;
            out.push(Claimed {
                id,
                key: latest.get(1),
                org,
                case_id,
                clock,
                offset: latest.get(2),
                due_at: latest.get(3),
                attempts: latest.get(4),
                token: token.to_string(),
            });
        }
        tx.commit().map_err(db_err)?;
        out.sort_by_key(|c| c.due_at);
        Ok(out)
    }

    fn delivered(&mut self, timer_id: i64) -> Result<HashMap<String, String>> {
        let rows = self
            .client
            .query(
                "SELECT rcpt, state FROM timer_recipients WHERE timer_id = $1",
                &[&timer_id],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn record(
        &mut self,
        deliveries: &[Delivery<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Settle>>> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        let mut out = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            let c = d.claimed;
            for r in &d.recipients {
                tx.execute(
                    "INSERT INTO timer_recipients (timer_id, rcpt, state, detail, at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (timer_id, rcpt)
                     DO UPDATE SET state = excluded.state, detail = excluded.detail, at = excluded.at",
                    &[&c.id, &r.rcpt, &r.state, &r.detail, &now],
                )
                .map_err(db_err)?;
            }
            let all: HashMap<String, (String, Option<String>)> = tx
                .query(
                    "SELECT rcpt, state, detail FROM timer_recipients WHERE timer_id = $1",
                    &[&c.id],
                )
                .map_err(db_err)?
                .iter()
                .map(|r| (r.get(0), (r.get(1), r.get(2))))
                .collect();
            let settle = (d.settle)(&all);
            let n = match &settle {
                Settle::Retry {
                    next_attempt_at,
                    why,
                } => tx.execute(
                    &format!(
                        "UPDATE timers SET attempts = attempts + 1, next_attempt_at = $3,
                         last_error = $4, {CLEAR_LEASE} WHERE {OURS}"
                    ),
                    &[&c.id, &c.token, next_attempt_at, why],
                ),
                Settle::Dead { why } => tx.execute(
                    &format!(
                        "UPDATE timers SET attempts = attempts + 1, state = 'dead',
                         last_error = $3, {CLEAR_LEASE} WHERE {OURS}"
                    ),
                    &[&c.id, &c.token, why],
                ),
                Settle::Sent {
                    message_id, why, ..
                } => tx.execute(
                    &format!(
                        "UPDATE timers SET state = 'sent', sent_at = $3, message_id = $4,
                         attempts = attempts + 1, last_error = $5, {CLEAR_LEASE} WHERE {OURS}"
                    ),
                    &[&c.id, &c.token, &now, message_id, why],
                ),
            }
            .map_err(db_err)?;
            if n == 1 {
                if let Settle::Sent {
                    next: Some(next), ..
                } = &settle
                {
                    insert_timer(&mut tx, next)?;
                }
                out.push(Some(settle));
            } else {
                out.push(None);
            }
        }
        tx.commit().map_err(db_err)?;
        Ok(out)
    }

    fn fail(&mut self, c: &Claimed, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool> {
        let n = match retry_at {
            Some(at) => self.client.execute(
                &format!(
                    "UPDATE timers SET attempts = attempts + 1, next_attempt_at = $3,
                     last_error = $4, {CLEAR_LEASE} WHERE {OURS}"
                ),
                &[&c.id, &c.token, &at, &error],
            ),
            None => self.client.execute(
                &format!(
                    "UPDATE timers SET attempts = attempts + 1, state = 'dead', last_error = $3,
                     {CLEAR_LEASE} WHERE {OURS}"
                ),
                &[&c.id, &c.token, &error],
            ),
        }
        .map_err(db_err)?;
        Ok(n == 1)
    }

    fn cancel(&mut self, c: &Claimed) -> Result<()> {
        self.client
            .execute(
                &format!(
                    "UPDATE timers SET state = 'cancelled', {CLEAR_LEASE}
                     WHERE id = $1 AND lock_token = $2"
                ),
                &[&c.id, &c.token],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn next_wake(&mut self) -> Result<Option<DateTime<Utc>>> {
        let r = self
            .client
            .query_one(
                "SELECT LEAST(
                    (SELECT next_attempt_at FROM timers WHERE state = 'pending' AND lock_token IS NULL
                     ORDER BY next_attempt_at LIMIT 1),
                    (SELECT MIN(locked_until) FROM timers WHERE lock_token IS NOT NULL AND state = 'pending'))",
                &[],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn list(&mut self, org: &str, all: bool) -> Result<Vec<TimerRow>> {
        let rows = self
            .client
            .query(
                "SELECT id, case_id, clock, \"offset\", due_at, state, attempts, next_attempt_at,
                        last_error, message_id
                 FROM timers WHERE org = $1 AND ($2 OR state IN ('pending', 'dead'))
                 ORDER BY state = 'dead' DESC, next_attempt_at, id",
                &[&org, &all],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let state: String = r.get(5);
                let last_error: Option<String> = r.get(8);
                let shown = if state == "pending" && last_error.is_some() {
                    "failed".to_string()
                } else {
                    state
                };
                TimerRow {
                    id: r.get(0),
                    case: r.get(1),
                    clock: r.get(2),
                    offset: r.get(3),
                    due_at: ts(r.get(4)),
                    state: shown,
                    attempts: r.get(6),
                    next_attempt_at: ts(r.get(7)),
                    last_error,
                    message_id: r.get(9),
                }
            })
            .collect())
    }

    fn retry(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        tx.execute(
            "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id =
             (SELECT id FROM timers WHERE id = $1 AND org = $2 AND state IN ('dead', 'pending'))",
            &[&id, &org],
        )
        .map_err(db_err)?;
        let n = tx
            .execute(
                &format!(
                    "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = $3,
                     {CLEAR_LEASE}, last_error = NULL
                     WHERE id = $1 AND org = $2 AND state IN ('dead', 'pending')"
                ),
                &[&id, &org, &now],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n == 1)
    }

    fn retry_org(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        const WHICH: &str = "org = $1 AND (state = 'dead' OR (state = 'pending' AND attempts > 0))";
        tx.execute(
            &format!(
                "DELETE FROM timer_recipients WHERE state = 'refused' AND timer_id IN
                 (SELECT id FROM timers WHERE {WHICH})"
            ),
            &[&org],
        )
        .map_err(db_err)?;
        let n = tx
            .execute(
                &format!(
                    "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = $2,
                     {CLEAR_LEASE}, last_error = NULL WHERE {WHICH}"
                ),
                &[&org, &now],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n as usize)
    }

    fn dump_timers(&mut self) -> Result<Vec<TimerDump>> {
        let mut recipients: HashMap<i64, Vec<_>> = HashMap::new();
        for r in self
            .client
            .query(
                "SELECT timer_id, rcpt, state, detail, at FROM timer_recipients ORDER BY timer_id, rcpt",
                &[],
            )
            .map_err(db_err)?
        {
            recipients
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2), r.get(3), r.get(4)));
        }
        let rows = self
            .client
            .query(
                "SELECT id, key, org, case_id, clock, \"offset\", due_at, next_attempt_at, state,
                        attempts, last_error, locked_until, lock_token, sent_at, message_id, created_at
                 FROM timers ORDER BY id",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                TimerDump {
                    id,
                    key: r.get(1),
                    org: r.get(2),
                    case_id: r.get(3),
                    clock: r.get(4),
                    offset: r.get(5),
                    due_at: r.get(6),
                    next_attempt_at: r.get(7),
                    state: r.get(8),
                    attempts: r.get(9),
                    last_error: r.get(10),
                    locked_until: r.get(11),
                    lock_token: r.get(12),
                    sent_at: r.get(13),
                    message_id: r.get(14),
                    created_at: r.get(15),
                    recipients: recipients.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }

    fn load_timers(&mut self, rows: &[TimerDump]) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        for t in rows {
            tx.execute(
                "INSERT INTO timers (id, key, org, case_id, clock, \"offset\", due_at, next_attempt_at,
                    state, attempts, last_error, locked_until, lock_token, sent_at, message_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                &[
                    &t.id,
                    &t.key,
                    &t.org,
                    &t.case_id,
                    &t.clock,
                    &t.offset,
                    &t.due_at,
                    &t.next_attempt_at,
                    &t.state,
                    &t.attempts,
                    &t.last_error,
                    &t.locked_until,
                    &t.lock_token,
                    &t.sent_at,
                    &t.message_id,
                    &t.created_at,
                ],
            )
            .map_err(db_err)?;
            for (rcpt, state, detail, at) in &t.recipients {
                tx.execute(
                    "INSERT INTO timer_recipients (timer_id, rcpt, state, detail, at)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&t.id, rcpt, state, detail, at],
                )
                .map_err(db_err)?;
            }
        }
        advance_identity(&mut tx, "timers")?;
        tx.commit().map_err(db_err)
    }
}

/// After rows were inserted with their ids, the next generated id follows the largest.
pub(super) fn advance_identity(c: &mut impl GenericClient, table: &str) -> Result<()> {
    c.batch_execute(&format!(
        "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                       GREATEST((SELECT MAX(id) FROM {table}), 1),
                       (SELECT MAX(id) FROM {table}) IS NOT NULL)"
    ))
    .map_err(db_err)
}
