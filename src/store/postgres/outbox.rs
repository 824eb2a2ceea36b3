//! The reminder outbox: claims are `FOR UPDATE SKIP LOCKED` leases, so dispatchers of
//! several instances never claim one timer and never wait on each other; a lease whose
//! `locked_until` passed is claimable again; a timer is settled only under our token.

use super::caselog::insert_timer;
use super::{Postgres, db_err};
use crate::store::backend::{Claimed, ts};
use crate::store::backend::{Delivery, Outbox, Result, Settle, TimerDump, TimerRow};
use chrono::{DateTime, Duration, Utc};
use postgres::GenericClient;
use std::collections::HashMap;

const CLEAR_LEASE: &str = "locked_until = NULL, lock_token = NULL";

/// Free and due at $1 (pending, not leased or its lease over).
macro_rules! free {
    ($t:literal) => {
        concat!(
            $t,
            ".state = 'pending' AND ",
            $t,
            ".next_attempt_at <= $1 AND (",
            $t,
            ".locked_until IS NULL OR ",
            $t,
            ".locked_until <= $1)"
        )
    };
}

/// See `Outbox::record`: each recipient's outcome written ($1-$5: timer, recipient,
/// state, detail, now) and the state of every recipient of the timers $6 read back, the
/// new ones included (the insert's own rows: the rest of the statement sees the table as
/// it was before it).
const RECIPIENTS: &str = "WITH ins AS (
        INSERT INTO timer_recipients (timer_id, rcpt, state, detail, at)
        SELECT u.t, u.r, u.s, u.d, $5
        FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(t, r, s, d)
        ON CONFLICT (timer_id, rcpt)
        DO UPDATE SET state = excluded.state, detail = excluded.detail, at = excluded.at
        RETURNING timer_id, rcpt, state, detail)
     SELECT timer_id, rcpt, state, detail FROM ins
     UNION ALL
     SELECT r.timer_id, r.rcpt, r.state, r.detail FROM timer_recipients r
     WHERE r.timer_id = ANY($6)
       AND NOT EXISTS (SELECT 1 FROM ins WHERE ins.timer_id = r.timer_id AND ins.rcpt = r.rcpt)";

/// See `Outbox::record`: each timer retried (at), dead, or sent (Message-ID, at $7),
/// with its reason, where it is still pending under the token that claimed it.
const SETTLE: &str = "UPDATE timers t SET
        attempts = t.attempts + 1,
        state = CASE u.kind WHEN 'retry' THEN t.state ELSE u.kind END,
        next_attempt_at = CASE u.kind WHEN 'retry' THEN u.at ELSE t.next_attempt_at END,
        sent_at = CASE u.kind WHEN 'sent' THEN $7 ELSE t.sent_at END,
        message_id = CASE u.kind WHEN 'sent' THEN u.mid ELSE t.message_id END,
        last_error = u.why, locked_until = NULL, lock_token = NULL
     FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TIMESTAMPTZ[], $5::TEXT[], $6::TEXT[])
          AS u(id, tok, kind, at, why, mid)
     WHERE t.id = u.id AND t.lock_token = u.tok AND t.state = 'pending'
     RETURNING t.id";

/// See `Outbox::claim`: $1 now, $2 the batch, $3 the lease's end, $4 our token. The
/// rows are locked by the first two parts; window functions cannot sit beside
/// `FOR UPDATE`, so the ranking reads the locked rows in a part of its own.
const CLAIM: &str = concat!(
    "WITH due AS (
        SELECT DISTINCT d.org, d.case_id, d.clock FROM (
            SELECT org, case_id, clock FROM timers t WHERE ",
    free!("t"),
    " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) d),
     locked AS (
        SELECT t.id, t.org, t.case_id, t.clock, t.due_at FROM timers t
        JOIN due ON due.org = t.org AND due.case_id = t.case_id AND due.clock = t.clock
        WHERE ",
    free!("t"),
    " FOR UPDATE OF t SKIP LOCKED),
     ranked AS (
        SELECT id, row_number() OVER (PARTITION BY org, case_id, clock
                                      ORDER BY due_at DESC, id DESC) AS n
        FROM locked),
     superseded AS (
        UPDATE timers t SET state = 'superseded' FROM ranked
        WHERE t.id = ranked.id AND ranked.n > 1 RETURNING t.id),
     claimed AS (
        UPDATE timers t SET locked_until = $3, lock_token = $4 FROM ranked
        WHERE t.id = ranked.id AND ranked.n = 1
        RETURNING t.id, t.key, t.org, t.case_id, t.clock, t.\"offset\", t.due_at, t.attempts)
     SELECT * FROM claimed"
);
const OURS: &str = "id = $1 AND lock_token = $2 AND state = 'pending'";

impl Outbox for Postgres {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        token: &str,
    ) -> Result<Vec<Claimed>> {
        // ONE statement, prepared once (issue 25: the claim path takes a batch per round
        // trip): the due timers are locked (`SKIP LOCKED`: never one another dispatcher
        // holds), with every other free due timer of their clocks; of each clock the
        // latest is leased to us and the older are superseded.
        let rows = self
            .query_c(CLAIM, &[&now, &(limit as i64), &(now + lease), &token])
            .map_err(db_err)?;
        let mut out: Vec<Claimed> = rows
            .iter()
            .map(|r| Claimed {
                id: r.get(0),
                key: r.get(1),
                org: r.get(2),
                case_id: r.get(3),
                clock: r.get(4),
                offset: r.get(5),
                due_at: r.get(6),
                attempts: r.get(7),
                token: token.to_string(),
            })
            .collect();
        out.sort_by_key(|c| (c.due_at, c.id));
        Ok(out)
    }

    fn delivered(&mut self, timer_id: i64) -> Result<HashMap<String, String>> {
        let rows = self
            .query_c(
                "SELECT rcpt, state FROM timer_recipients WHERE timer_id = $1",
                &[&timer_id],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn delivered_of(&mut self, timer_ids: &[i64]) -> Result<Vec<HashMap<String, String>>> {
        let rows = self
            .query_c(
                "SELECT k.n, r.rcpt, r.state FROM UNNEST($1::BIGINT[]) WITH ORDINALITY AS k(id, n)
                 JOIN timer_recipients r ON r.timer_id = k.id",
                &[&timer_ids],
            )
            .map_err(db_err)?;
        let mut out: Vec<HashMap<String, String>> = vec![HashMap::new(); timer_ids.len()];
        for r in &rows {
            let n: i64 = r.get(0);
            out[(n - 1) as usize].insert(r.get(1), r.get(2));
        }
        Ok(out)
    }

    fn record(
        &mut self,
        deliveries: &[Delivery<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Settle>>> {
        // Two prepared statements for the whole batch (arrays, unnest), in one
        // transaction: the recipients' outcomes written and every state read back, then
        // every timer settled; the dispatcher records a burst in a few round trips.
        let mut latest: HashMap<(i64, &str), (&str, Option<&str>)> = HashMap::new();
        for d in deliveries {
            for r in &d.recipients {
                latest.insert(
                    (d.claimed.id, r.rcpt.as_str()),
                    (r.state, r.detail.as_deref()),
                );
            }
        }
        let mut ids = Vec::with_capacity(latest.len());
        let mut rcpts = Vec::with_capacity(latest.len());
        let mut states = Vec::with_capacity(latest.len());
        let mut details = Vec::with_capacity(latest.len());
        for ((id, rcpt), (state, detail)) in &latest {
            ids.push(*id);
            rcpts.push(*rcpt);
            states.push(*state);
            details.push(*detail);
        }
        let timer_ids: Vec<i64> = deliveries.iter().map(|d| d.claimed.id).collect();
        let mut tx = self.client.transaction().map_err(db_err)?;
        let st = self.stmts.get(&mut tx, RECIPIENTS)?;
        let mut all: HashMap<i64, HashMap<String, (String, Option<String>)>> = HashMap::new();
        for r in tx
            .query(&st, &[&ids, &rcpts, &states, &details, &now, &timer_ids])
            .map_err(db_err)?
        {
            all.entry(r.get(0))
                .or_default()
                .insert(r.get(1), (r.get(2), r.get(3)));
        }
        let none = HashMap::new();
        let settles: Vec<Settle> = deliveries
            .iter()
            .map(|d| (d.settle)(all.get(&d.claimed.id).unwrap_or(&none)))
            .collect();

        // Each outcome in one statement, applied only where the lease is still ours.
        let n = deliveries.len();
        let (mut u_id, mut u_tok, mut u_kind) = (vec![], vec![], vec![]);
        let (mut u_at, mut u_why, mut u_mid) = (vec![], vec![], vec![]);
        for (d, settle) in deliveries.iter().zip(&settles) {
            let c = d.claimed;
            u_id.push(c.id);
            u_tok.push(c.token.as_str());
            let (kind, at, why, mid) = match settle {
                Settle::Retry {
                    next_attempt_at,
                    why,
                } => ("retry", Some(*next_attempt_at), Some(why.as_str()), None),
                Settle::Dead { why } => ("dead", None, Some(why.as_str()), None),
                Settle::Sent {
                    message_id, why, ..
                } => ("sent", None, why.as_deref(), Some(message_id.as_str())),
            };
            u_kind.push(kind);
            u_at.push(at);
            u_why.push(why);
            u_mid.push(mid);
        }
        let st = self.stmts.get(&mut tx, SETTLE)?;
        let settled: std::collections::HashSet<i64> = tx
            .query(&st, &[&u_id, &u_tok, &u_kind, &u_at, &u_why, &u_mid, &now])
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::with_capacity(n);
        for (d, settle) in deliveries.iter().zip(settles) {
            if !settled.contains(&d.claimed.id) {
                out.push(None);
                continue;
            }
            if let Settle::Sent {
                next: Some(next), ..
            } = &settle
            {
                insert_timer(&mut tx, &mut self.stmts, next)?;
            }
            out.push(Some(settle));
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

    fn wait_for_recipient(&mut self, c: &Claimed, why: &str) -> Result<bool> {
        let n = self
            .client
            .execute(
                &format!(
                    "UPDATE timers SET state = 'waiting', last_error = $3, {CLEAR_LEASE}
                     WHERE {OURS}"
                ),
                &[&c.id, &c.token, &why],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn release_waiting(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize> {
        let n = self
            .client
            .execute(
                "UPDATE timers SET state = 'pending', next_attempt_at = $2, last_error = NULL
                 WHERE org = $1 AND state = 'waiting'",
                &[&org, &now],
            )
            .map_err(db_err)?;
        Ok(n as usize)
    }

    fn next_wake(&mut self) -> Result<Option<DateTime<Utc>>> {
        let r = self.query_one_c("SELECT LEAST(
                    (SELECT next_attempt_at FROM timers WHERE state = 'pending' AND lock_token IS NULL
                     ORDER BY next_attempt_at LIMIT 1),
                    (SELECT MIN(locked_until) FROM timers WHERE lock_token IS NOT NULL AND state = 'pending'))",
                &[],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn beat(&mut self, token: &str, at: DateTime<Utc>) -> Result<()> {
        self.execute_c(
            "INSERT INTO dispatchers (token, beat_at) VALUES ($1, $2)
             ON CONFLICT (token) DO UPDATE SET beat_at = excluded.beat_at",
            &[&token, &at],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn stop_beating(&mut self, token: &str) -> Result<()> {
        self.execute_c("DELETE FROM dispatchers WHERE token = $1", &[&token])
            .map_err(db_err)?;
        Ok(())
    }

    fn reclaim_dead(&mut self, dead_before: DateTime<Utc>) -> Result<usize> {
        // One statement: the dead dispatchers are forgotten and their pending claims
        // freed together (a timer row being claimed right now is waited for).
        let r = self
            .query_one_c(
                "WITH dead AS (DELETE FROM dispatchers WHERE beat_at < $1 RETURNING token),
                      freed AS (UPDATE timers SET locked_until = NULL, lock_token = NULL
                                WHERE lock_token IN (SELECT token FROM dead)
                                  AND state = 'pending' RETURNING 1)
                 SELECT COUNT(*) FROM freed",
                &[&dead_before],
            )
            .map_err(db_err)?;
        Ok(r.get::<_, i64>(0) as usize)
    }

    fn list(&mut self, org: &str, all: bool) -> Result<Vec<TimerRow>> {
        let rows = self
            .query_c(
                "SELECT id, case_id, clock, \"offset\", due_at, state, attempts, next_attempt_at,
                        last_error, message_id
                 FROM timers WHERE org = $1 AND ($2 OR state IN ('pending', 'dead', 'waiting'))
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
             (SELECT id FROM timers WHERE id = $1 AND org = $2 AND state IN ('dead', 'pending', 'waiting'))",
            &[&id, &org],
        )
        .map_err(db_err)?;
        let n = tx
            .execute(
                &format!(
                    "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = $3,
                     {CLEAR_LEASE}, last_error = NULL
                     WHERE id = $1 AND org = $2 AND state IN ('dead', 'pending', 'waiting')"
                ),
                &[&id, &org, &now],
            )
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n == 1)
    }

    fn retry_org(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        const WHICH: &str =
            "org = $1 AND (state IN ('dead', 'waiting') OR (state = 'pending' AND attempts > 0))";
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
        for r in self.query_c("SELECT timer_id, rcpt, state, detail, at FROM timer_recipients ORDER BY timer_id, rcpt",
                &[],
            )
            .map_err(db_err)?
        {
            recipients
                .entry(r.get(0))
                .or_default()
                .push((r.get(1), r.get(2), r.get(3), r.get(4)));
        }
        let rows = self.query_c("SELECT id, key, org, case_id, clock, \"offset\", due_at, next_attempt_at, state,
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
        // Columns as arrays, unnested by the server: one statement for every timer and
        // one for every recipient (a copy holds several timers per case).
        let mut tx = self.client.transaction().map_err(db_err)?;
        let text = |f: fn(&TimerDump) -> &String| rows.iter().map(f).cloned().collect::<Vec<_>>();
        let opt =
            |f: fn(&TimerDump) -> &Option<String>| rows.iter().map(f).cloned().collect::<Vec<_>>();
        let time = |f: fn(&TimerDump) -> DateTime<Utc>| rows.iter().map(f).collect::<Vec<_>>();
        let maybe =
            |f: fn(&TimerDump) -> Option<DateTime<Utc>>| rows.iter().map(f).collect::<Vec<_>>();
        let ids: Vec<i64> = rows.iter().map(|t| t.id).collect();
        let attempts: Vec<i64> = rows.iter().map(|t| t.attempts).collect();
        tx.execute(
            "INSERT INTO timers (id, key, org, case_id, clock, \"offset\", due_at, next_attempt_at,
                state, attempts, last_error, locked_until, lock_token, sent_at, message_id, created_at)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::bigint[],
                $11::text[], $12::timestamptz[], $13::text[], $14::timestamptz[], $15::text[],
                $16::timestamptz[])",
            &[
                &ids,
                &text(|t| &t.key),
                &text(|t| &t.org),
                &text(|t| &t.case_id),
                &text(|t| &t.clock),
                &text(|t| &t.offset),
                &time(|t| t.due_at),
                &time(|t| t.next_attempt_at),
                &text(|t| &t.state),
                &attempts,
                &opt(|t| &t.last_error),
                &maybe(|t| t.locked_until),
                &opt(|t| &t.lock_token),
                &maybe(|t| t.sent_at),
                &opt(|t| &t.message_id),
                &time(|t| t.created_at),
            ],
        )
        .map_err(db_err)?;
        let rcpts: Vec<(i64, &_)> = rows
            .iter()
            .flat_map(|t| t.recipients.iter().map(move |r| (t.id, r)))
            .collect();
        let timer: Vec<i64> = rcpts.iter().map(|(id, _)| *id).collect();
        let rcpt: Vec<&str> = rcpts.iter().map(|(_, r)| r.0.as_str()).collect();
        let state: Vec<&str> = rcpts.iter().map(|(_, r)| r.1.as_str()).collect();
        let detail: Vec<Option<&str>> = rcpts.iter().map(|(_, r)| r.2.as_deref()).collect();
        let at: Vec<DateTime<Utc>> = rcpts.iter().map(|(_, r)| r.3).collect();
        tx.execute(
            "INSERT INTO timer_recipients (timer_id, rcpt, state, detail, at)
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])",
            &[&timer, &rcpt, &state, &detail, &at],
        )
        .map_err(db_err)?;
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
