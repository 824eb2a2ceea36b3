//! The write transactions of the case log on PostgreSQL: the locking one here (READ
//! COMMITTED; a case's writers serialise on its row, `FOR UPDATE`), the optimistic one in
//! `optimistic`.

mod optimistic;

pub(super) use optimistic::Seen;

use super::caselog::{
    event_at, head, head_params, insert_case, parse, pin_workflow, read_events, read_workflow,
    set_counter, workflow_params,
};
use super::{Postgres, Stmts, db_err, is_unique_violation};
use crate::store::StoreError;
use crate::store::backend::{
    CaseHead, CaseTx, EventRow, NewEvent, NewTimer, PinnedWorkflow, Result, TimerOfCase,
};
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{IsolationLevel, Row, Transaction};

/// Writes a case transaction holds back and sends with its next statement (or its
/// commit): events and the head's update travel in one round trip with the reading of
/// the case's timers that follows them in `Store::execute`.
macro_rules! flush_cte {
    () => {
        "WITH e AS (
    INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TIMESTAMPTZ[], $5::TIMESTAMPTZ[],
                         $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[])
), h AS (
    UPDATE cases SET seq = $13, last_hash = $14, closed = $15, next_due = $16, title = $17
    WHERE $18 AND org = $11 AND id = $12
)
"
    };
}
const FLUSH: &str = concat!(flush_cte!(), "SELECT 1");
const FLUSH_THEN_TIMERS: &str = concat!(
    flush_cte!(),
    "SELECT id, key, clock, \"offset\", state, due_at FROM timers
     WHERE org = $19 AND case_id = $20 ORDER BY id"
);

/// The reminders `case::reminders::reconcile` creates, held and sent as one statement before the next
/// one or the commit: a case opened with 20 reminders costs one round trip for them
/// instead of 20. (Cancelling and rescheduling go at once, one row by primary key each:
/// sent as arrays, a plan cached while the table was small scanned every timer,
/// which cost the server more than the round trips saved.)
const INSERT_TIMERS: &str = "INSERT INTO timers (key, org, case_id, clock, \"offset\", due_at, next_attempt_at, state, attempts, created_at)
    SELECT k, o, c, cl, off, d, d, 'pending', 0, cr
    FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TIMESTAMPTZ[],
                $7::TIMESTAMPTZ[]) AS n(k, o, c, cl, off, d, cr)
    ON CONFLICT (key) DO NOTHING";

/// An event waiting to be sent, its times parsed when it was handed over.
struct Held {
    at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    row: EventRow,
}

impl Held {
    fn of(row: &EventRow) -> Result<Held> {
        Ok(Held {
            at: parse(&row.at, "time")?,
            recorded_at: parse(&row.recorded_at, "recording time")?,
            row: row.clone(),
        })
    }
}

/// An event of the locking transaction, which may write several cases.
struct HeldEvent {
    org: String,
    case_id: String,
    event: Held,
}

/// Held events as the arrays `unnest` takes, in `event_cols!()` order; both
/// transactions send them so.
struct EventArrays<'a> {
    seq: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    recorded_at: Vec<DateTime<Utc>>,
    actor: Vec<&'a str>,
    kind: Vec<&'a str>,
    payload: Vec<&'a str>,
    prev_hash: Vec<&'a str>,
    hash: Vec<&'a str>,
}

impl<'a> EventArrays<'a> {
    fn of(events: &[&'a Held]) -> EventArrays<'a> {
        let col = |f: fn(&'a Held) -> &'a str| events.iter().copied().map(f).collect::<Vec<_>>();
        EventArrays {
            seq: events.iter().map(|e| e.row.seq).collect(),
            at: events.iter().map(|e| e.at).collect(),
            recorded_at: events.iter().map(|e| e.recorded_at).collect(),
            actor: col(|e| &e.row.actor),
            kind: col(|e| &e.row.kind),
            payload: col(|e| &e.row.payload),
            prev_hash: col(|e| &e.row.prev_hash),
            hash: col(|e| &e.row.hash),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.seq,
            &self.at,
            &self.recorded_at,
            &self.actor,
            &self.kind,
            &self.payload,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

/// The columns of a head a command moves, in the order both transactions send them.
fn moved_head_params(h: &CaseHead) -> [&(dyn ToSql + Sync); 5] {
    [&h.seq, &h.last_hash, &h.closed, &h.next_due, &h.title]
}

struct PgTx<'a> {
    tx: Transaction<'a>,
    /// The connection's statements (a second borrow of `Postgres`, beside its client's).
    stmts: &'a mut Stmts,
    /// The events `lock_case` read with the lock, for the `events` call that follows.
    read: Option<(String, String, Vec<EventRow>)>,
    /// Events and a head update not sent yet (see `FLUSH`).
    held_events: Vec<HeldEvent>,
    held_head: Option<CaseHead>,
    /// New timers not sent yet (see `INSERT_TIMERS`); each key once.
    held_timers: Vec<NewTimer>,
    /// A counter's new value and a workflow to pin, held to go with the case's insertion.
    held_counter: Option<(String, String, i64)>,
    held_pin: Option<PinnedWorkflow>,
}

impl PgTx<'_> {
    /// Whether events, a head, a counter or a pinned text wait (timers: `held_timers`).
    fn holds(&self) -> bool {
        !self.held_events.is_empty()
            || self.held_head.is_some()
            || self.held_counter.is_some()
            || self.held_pin.is_some()
    }

    /// Sends the held writes; with `timers_of` (org, case), in the same statement as the
    /// reading of that case's timers, whose rows it returns.
    fn flush(&mut self, timers_of: Option<(&str, &str)>) -> Result<Vec<Row>> {
        self.send_opening()?;
        let ev = std::mem::take(&mut self.held_events);
        let h = self.held_head.take();
        let col = |f: fn(&HeldEvent) -> &str| ev.iter().map(f).collect::<Vec<&str>>();
        let (orgs, cases) = (col(|e| &e.org), col(|e| &e.case_id));
        let events = EventArrays::of(&ev.iter().map(|e| &e.event).collect::<Vec<_>>());
        let none = CaseHead {
            org: String::new(),
            id: String::new(),
            workflow: String::new(),
            workflow_hash: String::new(),
            title: String::new(),
            opened_at: DateTime::<Utc>::MIN_UTC,
            seq: 0,
            last_hash: String::new(),
            closed: false,
            next_due: None,
        };
        let has_head = h.is_some();
        let h = h.unwrap_or(none);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&orgs, &cases];
        params.extend(events.params());
        params.extend([&h.org as &(dyn ToSql + Sync), &h.id]);
        params.extend(moved_head_params(&h));
        params.push(&has_head);
        let (org, case_id) = timers_of.unwrap_or(("", ""));
        let sql = match timers_of {
            Some(_) => {
                params.push(&org);
                params.push(&case_id);
                FLUSH_THEN_TIMERS
            }
            None => FLUSH,
        };
        let st = self.stmts.get(&mut self.tx, sql)?;
        self.tx.query(&st, &params).map_err(db_err)
    }

    /// Sends the held writes before a statement that is not `timers_of_case`.
    fn send_held(&mut self) -> Result<()> {
        if self.holds() {
            self.flush(None)?;
        }
        self.send_timers()
    }

    /// Sends a held counter and pinned text (when no case insertion took them along).
    fn send_opening(&mut self) -> Result<()> {
        if let Some((org, prefix, last)) = self.held_counter.take() {
            set_counter(&mut self.tx, self.stmts, &org, &prefix, last)?;
        }
        if let Some(wf) = self.held_pin.take() {
            pin_workflow(&mut self.tx, self.stmts, &wf)?;
        }
        Ok(())
    }

    /// Sends the held new timers.
    fn send_timers(&mut self) -> Result<()> {
        self.send_opening()?;
        if self.held_timers.is_empty() {
            return Ok(());
        }
        let t = std::mem::take(&mut self.held_timers);
        let col = |f: fn(&NewTimer) -> &str| t.iter().map(f).collect::<Vec<&str>>();
        let (keys, orgs, cases) = (col(|n| &n.key), col(|n| &n.org), col(|n| &n.case_id));
        let (clocks, offsets) = (col(|n| &n.clock), col(|n| &n.offset));
        let due: Vec<DateTime<Utc>> = t.iter().map(|n| n.due_at).collect();
        let created: Vec<DateTime<Utc>> = t.iter().map(|n| n.created_at).collect();
        let st = self.stmts.get(&mut self.tx, INSERT_TIMERS)?;
        self.tx
            .execute(
                &st,
                &[&keys, &orgs, &cases, &clocks, &offsets, &due, &created],
            )
            .map_err(db_err)?;
        Ok(())
    }
}

impl CaseTx for PgTx<'_> {
    /// The lock and the case's events in one statement. The events come from the
    /// statement's snapshot, taken before any wait for the lock: when a writer that held
    /// the lock moved the case meanwhile, the locked (newest) head is past the events
    /// read, and they are read again, after the lock (`events`).
    fn lock_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        const SQL: &str = concat!(
            "WITH h AS (SELECT ",
            head_cols!(),
            " FROM cases WHERE org = $1 AND id = $2 FOR UPDATE)
             SELECT h.*, e.seq, e.at, e.recorded_at, e.actor, e.kind, e.payload, e.prev_hash, e.hash
             FROM h LEFT JOIN events e ON e.org = h.org AND e.case_id = h.id ORDER BY e.seq"
        );
        self.send_held()?;
        self.read = None;
        let st = self.stmts.get(&mut self.tx, SQL)?;
        let rows = self.tx.query(&st, &[&org, &case_id]).map_err(db_err)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let h = head(first);
        let mut evs = Vec::with_capacity(rows.len());
        for r in &rows {
            if r.get::<_, Option<i64>>(10).is_some() {
                evs.push(event_at(r, 10));
            }
        }
        let current = match evs.last() {
            Some(last) => last.seq == h.seq && last.hash == h.last_hash,
            None => h.seq == 0,
        };
        if current {
            self.read = Some((org.to_string(), case_id.to_string(), evs));
        }
        Ok(Some(h))
    }

    fn events(&mut self, org: &str, case_id: &str) -> Result<Vec<EventRow>> {
        if !self.holds()
            && let Some((o, c, _)) = &self.read
            && o == org
            && c == case_id
        {
            let (_, _, evs) = self.read.take().expect("just matched");
            return Ok(evs);
        }
        self.send_held()?;
        read_events(&mut self.tx, self.stmts, org, case_id, None)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        self.send_held()?;
        read_workflow(&mut self.tx, self.stmts, hash)
    }

    fn case_exists(&mut self, org: &str, case_id: &str) -> Result<bool> {
        self.send_held()?;
        const SQL: &str = "SELECT EXISTS (SELECT 1 FROM cases WHERE org = $1 AND id = $2)";
        let st = self.stmts.get(&mut self.tx, SQL)?;
        let r = self.tx.query_one(&st, &[&org, &case_id]).map_err(db_err)?;
        Ok(r.get(0))
    }

    fn take_counter(&mut self, org: &str, prefix: &str) -> Result<i64> {
        self.send_held()?;
        // Created at 0 or left as it is, and locked (the no-op update) in one statement.
        const TAKE: &str = "INSERT INTO case_counters (org, prefix, last) VALUES ($1, $2, 0)
             ON CONFLICT (org, prefix) DO UPDATE SET last = case_counters.last RETURNING last";
        let st = self.stmts.get(&mut self.tx, TAKE)?;
        let r = self.tx.query_one(&st, &[&org, &prefix]).map_err(db_err)?;
        Ok(r.get(0))
    }

    fn set_counter(&mut self, org: &str, prefix: &str, last: i64) -> Result<()> {
        self.send_held()?;
        self.held_counter = Some((org.to_string(), prefix.to_string(), last));
        Ok(())
    }

    fn pin_workflow(&mut self, wf: &PinnedWorkflow) -> Result<()> {
        if !self.held_events.is_empty()
            || self.held_head.is_some()
            || self.held_pin.is_some()
            || !self.held_timers.is_empty()
        {
            self.send_held()?;
        }
        self.held_pin = Some(wf.clone());
        Ok(())
    }

    /// With the counter and the pinned text held (opening a case), the three writes
    /// travel as one statement.
    fn insert_case(&mut self, h: &CaseHead) -> Result<()> {
        if !self.held_events.is_empty()
            || self.held_head.is_some()
            || !self.held_timers.is_empty()
            || self.held_pin.is_none()
        {
            self.send_held()?;
            return insert_case(&mut self.tx, self.stmts, h);
        }
        let wf = self.held_pin.take().expect("held");
        let (org, prefix, last) = self
            .held_counter
            .take()
            .unwrap_or_else(|| (String::new(), String::new(), 0));
        let has_counter = !org.is_empty();
        const SQL: &str = concat!(
            "WITH s AS (
    INSERT INTO case_counters (org, prefix, last) SELECT $16, $17, $18 WHERE $19
    ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last
), w AS (
    INSERT INTO workflows (hash, id, origin, source, stored_at) VALUES ($11, $12, $13, $14, $15)
    ON CONFLICT (hash) DO NOTHING
)
INSERT INTO cases (",
            head_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        );
        let st = self.stmts.get(&mut self.tx, SQL)?;
        let mut params: Vec<&(dyn ToSql + Sync)> = head_params(h).to_vec();
        params.extend(workflow_params(&wf));
        params.extend([&org as &(dyn ToSql + Sync), &prefix, &last, &has_counter]);
        self.tx.execute(&st, &params).map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::CaseExists(h.id.clone())
            } else {
                db_err(e)
            }
        })?;
        Ok(())
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> Result<()> {
        let event = Held::of(&ev.row)?;
        if self.held_head.is_some() || !self.held_timers.is_empty() {
            // Sent in the order given: a head update or timers, then events.
            self.send_held()?;
        }
        self.held_events.push(HeldEvent {
            org: ev.org.to_string(),
            case_id: ev.case_id.to_string(),
            event,
        });
        Ok(())
    }

    fn update_head(&mut self, h: &CaseHead) -> Result<()> {
        if self.held_head.is_some() || !self.held_timers.is_empty() {
            self.send_held()?;
        }
        self.held_head = Some(h.clone());
        Ok(())
    }

    fn timers_of_case(&mut self, org: &str, case_id: &str) -> Result<Vec<TimerOfCase>> {
        self.send_timers()?;
        let rows = if self.holds() {
            self.flush(Some((org, case_id)))?
        } else {
            const SQL: &str = "SELECT id, key, clock, \"offset\", state, due_at FROM timers
                 WHERE org = $1 AND case_id = $2 ORDER BY id";
            let st = self.stmts.get(&mut self.tx, SQL)?;
            self.tx.query(&st, &[&org, &case_id]).map_err(db_err)?
        };
        Ok(rows
            .iter()
            .map(|r| TimerOfCase {
                id: r.get(0),
                key: r.get(1),
                clock: r.get(2),
                offset: r.get(3),
                state: r.get(4),
                due_at: r.get(5),
            })
            .collect())
    }

    fn reschedule_timer(&mut self, id: i64, due: DateTime<Utc>) -> Result<()> {
        self.send_held()?;
        const SQL: &str =
            "UPDATE timers SET due_at = $2, next_attempt_at = $2, state = 'pending', attempts = 0,
             last_error = NULL, locked_until = NULL, lock_token = NULL
             WHERE id = $1 AND state IN ('pending', 'waiting', 'cancelled')";
        let st = self.stmts.get(&mut self.tx, SQL)?;
        self.tx.execute(&st, &[&id, &due]).map_err(db_err)?;
        Ok(())
    }

    fn cancel_timer(&mut self, id: i64) -> Result<()> {
        self.send_held()?;
        // A dispatcher does not take the case's lock: a timer it sent, dead-lettered or
        // superseded since the command read it stays as it is (see 0005_append_slim.sql).
        const SQL: &str = "UPDATE timers SET state = 'cancelled' WHERE id = $1 AND state IN ('pending', 'waiting')";
        let st = self.stmts.get(&mut self.tx, SQL)?;
        self.tx.execute(&st, &[&id]).map_err(db_err)?;
        Ok(())
    }

    fn insert_timer(&mut self, t: &NewTimer) -> Result<()> {
        if self.holds() || self.held_timers.iter().any(|h| h.key == t.key) {
            self.send_held()?;
        }
        self.held_timers.push(t.clone());
        Ok(())
    }

    fn requeue_for_new_recipients(
        &mut self,
        org: &str,
        case_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        self.send_held()?;
        macro_rules! which {
            () => {
                "org = $1 AND ($2::TEXT IS NULL OR case_id = $2) AND lock_token IS NULL
             AND (state IN ('dead', 'waiting') OR (state = 'pending' AND last_error IS NOT NULL))"
            };
        }
        const FORGET: &str = concat!(
            "DELETE FROM timer_recipients WHERE state = 'refused'
                     AND timer_id IN (SELECT id FROM timers WHERE ",
            which!(),
            ")"
        );
        const REQUEUE: &str = concat!(
            "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = $3,
                     last_error = NULL WHERE ",
            which!()
        );
        let st = self.stmts.get(&mut self.tx, FORGET)?;
        self.tx.execute(&st, &[&org, &case_id]).map_err(db_err)?;
        let st = self.stmts.get(&mut self.tx, REQUEUE)?;
        let n = self
            .tx
            .execute(&st, &[&org, &case_id, &now])
            .map_err(db_err)?;
        Ok(n as usize)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.send_held()?;
        self.tx.commit().map_err(db_err)
    }
}

impl Postgres {
    /// A transaction that locks the case it reads.
    pub(in crate::store::postgres) fn begin_locking_tx(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(db_err)?;
        Ok(Box::new(PgTx {
            tx,
            stmts: &mut self.stmts,
            read: None,
            held_events: Vec::new(),
            held_head: None,
            held_timers: Vec::new(),
            held_counter: None,
            held_pin: None,
        }))
    }
}
