//! The case log: cases, events, pinned workflows, counters, and the write transaction
//! (READ COMMITTED; a case's writers serialise on its row, `FOR UPDATE`).

use super::{Postgres, db_err, is_unique_violation};
use crate::outbox::ts;
use crate::store::StoreError;
use crate::store::backend::{
    CaseHead, CaseLog, CaseTx, EventRow, NewEvent, NewTimer, PinnedWorkflow, Result, TimerOfCase,
};
use chrono::{DateTime, Utc};
use postgres::{Client, GenericClient, IsolationLevel, Row, Transaction};

const HEAD_COLS: &str =
    "org, id, workflow, workflow_hash, title, opened_at, seq, last_hash, closed, next_due";
const EVENT_COLS: &str = "seq, at, recorded_at, actor, kind, payload, prev_hash, hash";

/// The checkpoint's question: an `advanced` event whose `met` list is not empty (the
/// same expression as the partial index `events_met`, so the planner uses it).
const MET: &str =
    "CASE WHEN kind = 'advanced' THEN (payload::jsonb -> 'met' -> 0) IS NOT NULL ELSE false END";

fn head(r: &Row) -> CaseHead {
    CaseHead {
        org: r.get(0),
        id: r.get(1),
        workflow: r.get(2),
        workflow_hash: r.get(3),
        title: r.get(4),
        opened_at: r.get(5),
        seq: r.get(6),
        last_hash: r.get(7),
        closed: r.get(8),
        next_due: r.get(9),
    }
}

/// An event time as the chain hashes it. A value no instant can hold ('infinity', written
/// behind vigie's back) becomes a text that does not read as a time: the case is then
/// unreadable (named by the lists and `audit verify`), never a panic of the reader.
fn time_text(r: &Row, i: usize) -> String {
    match r.try_get::<_, DateTime<Utc>>(i) {
        Ok(t) => ts(t),
        Err(_) => "(not an instant)".into(),
    }
}

fn event(r: &Row) -> EventRow {
    EventRow {
        seq: r.get(0),
        at: time_text(r, 1),
        recorded_at: time_text(r, 2),
        actor: r.get(3),
        kind: r.get(4),
        payload: r.get(5),
        prev_hash: r.get(6),
        hash: r.get(7),
    }
}

fn workflow_row(r: &Row) -> PinnedWorkflow {
    PinnedWorkflow {
        hash: r.get(0),
        id: r.get(1),
        origin: r.get(2),
        source: r.get(3),
        stored_at: r.get(4),
    }
}

/// An event's time text back to the instant it names (microseconds, as hashed).
fn parse(text: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| StoreError::Db(format!("an event's {what} is not an RFC 3339 time")))
}

fn read_events(
    c: &mut impl GenericClient,
    org: &str,
    case_id: &str,
    upto: Option<i64>,
) -> Result<Vec<EventRow>> {
    let rows = c
        .query(
            &format!(
                "SELECT {EVENT_COLS} FROM events WHERE org = $1 AND case_id = $2
                 AND ($3::BIGINT IS NULL OR seq <= $3) ORDER BY seq"
            ),
            &[&org, &case_id, &upto],
        )
        .map_err(db_err)?;
    Ok(rows.iter().map(event).collect())
}

fn read_workflow(c: &mut impl GenericClient, hash: &str) -> Result<Option<PinnedWorkflow>> {
    Ok(c.query_opt(
        "SELECT hash, id, origin, source, stored_at FROM workflows WHERE hash = $1",
        &[&hash],
    )
    .map_err(db_err)?
    .as_ref()
    .map(workflow_row))
}

fn insert_event(c: &mut impl GenericClient, org: &str, case_id: &str, e: &EventRow) -> Result<()> {
    let at = parse(&e.at, "time")?;
    let recorded_at = parse(&e.recorded_at, "recording time")?;
    c.execute(
        "INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &org,
            &case_id,
            &e.seq,
            &at,
            &recorded_at,
            &e.actor,
            &e.kind,
            &e.payload,
            &e.prev_hash,
            &e.hash,
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

fn insert_case(c: &mut impl GenericClient, h: &CaseHead) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO cases ({HEAD_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &[
            &h.org,
            &h.id,
            &h.workflow,
            &h.workflow_hash,
            &h.title,
            &h.opened_at,
            &h.seq,
            &h.last_hash,
            &h.closed,
            &h.next_due,
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::CaseExists(h.id.clone())
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

fn pin_workflow(c: &mut impl GenericClient, wf: &PinnedWorkflow) -> Result<()> {
    c.execute(
        "INSERT INTO workflows (hash, id, origin, source, stored_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (hash) DO NOTHING",
        &[&wf.hash, &wf.id, &wf.origin, &wf.source, &wf.stored_at],
    )
    .map_err(db_err)?;
    Ok(())
}

fn set_counter(c: &mut impl GenericClient, org: &str, prefix: &str, last: i64) -> Result<()> {
    c.execute(
        "INSERT INTO case_counters (org, prefix, last) VALUES ($1, $2, $3)
         ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last",
        &[&org, &prefix, &last],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn insert_timer(c: &mut impl GenericClient, t: &NewTimer) -> Result<()> {
    c.execute(
        "INSERT INTO timers (key, org, case_id, clock, \"offset\", due_at, next_attempt_at, state, attempts, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6, 'pending', 0, $7) ON CONFLICT (key) DO NOTHING",
        &[&t.key, &t.org, &t.case_id, &t.clock, &t.offset, &t.due_at, &t.created_at],
    )
    .map_err(db_err)?;
    Ok(())
}

struct PgTx<'a> {
    tx: Transaction<'a>,
}

impl CaseTx for PgTx<'_> {
    fn lock_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        Ok(self
            .tx
            .query_opt(
                &format!("SELECT {HEAD_COLS} FROM cases WHERE org = $1 AND id = $2 FOR UPDATE"),
                &[&org, &case_id],
            )
            .map_err(db_err)?
            .as_ref()
            .map(head))
    }

    fn events(&mut self, org: &str, case_id: &str) -> Result<Vec<EventRow>> {
        read_events(&mut self.tx, org, case_id, None)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        read_workflow(&mut self.tx, hash)
    }

    fn case_exists(&mut self, org: &str, case_id: &str) -> Result<bool> {
        let r = self
            .tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE org = $1 AND id = $2)",
                &[&org, &case_id],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn take_counter(&mut self, org: &str, prefix: &str) -> Result<i64> {
        self.tx
            .execute(
                "INSERT INTO case_counters (org, prefix, last) VALUES ($1, $2, 0)
                 ON CONFLICT (org, prefix) DO NOTHING",
                &[&org, &prefix],
            )
            .map_err(db_err)?;
        let r = self
            .tx
            .query_one(
                "SELECT last FROM case_counters WHERE org = $1 AND prefix = $2 FOR UPDATE",
                &[&org, &prefix],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn set_counter(&mut self, org: &str, prefix: &str, last: i64) -> Result<()> {
        set_counter(&mut self.tx, org, prefix, last)
    }

    fn pin_workflow(&mut self, wf: &PinnedWorkflow) -> Result<()> {
        pin_workflow(&mut self.tx, wf)
    }

    fn insert_case(&mut self, h: &CaseHead) -> Result<()> {
        insert_case(&mut self.tx, h)
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> Result<()> {
        insert_event(&mut self.tx, ev.org, ev.case_id, &ev.row)
    }

    fn update_head(&mut self, h: &CaseHead) -> Result<()> {
        self.tx
            .execute(
                "UPDATE cases SET seq = $3, last_hash = $4, closed = $5, next_due = $6, title = $7
                 WHERE org = $1 AND id = $2",
                &[
                    &h.org,
                    &h.id,
                    &h.seq,
                    &h.last_hash,
                    &h.closed,
                    &h.next_due,
                    &h.title,
                ],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn timers_of_case(&mut self, org: &str, case_id: &str) -> Result<Vec<TimerOfCase>> {
        let rows = self
            .tx
            .query(
                "SELECT id, key, clock, \"offset\", state, due_at FROM timers
                 WHERE org = $1 AND case_id = $2 ORDER BY id",
                &[&org, &case_id],
            )
            .map_err(db_err)?;
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
        self.tx
            .execute(
                "UPDATE timers SET due_at = $2, next_attempt_at = $2, state = 'pending', attempts = 0,
                 last_error = NULL, locked_until = NULL, lock_token = NULL WHERE id = $1",
                &[&id, &due],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn cancel_timer(&mut self, id: i64) -> Result<()> {
        self.tx
            .execute(
                "UPDATE timers SET state = 'cancelled' WHERE id = $1",
                &[&id],
            )
            .map_err(db_err)?;
        Ok(())
    }

    fn insert_timer(&mut self, t: &NewTimer) -> Result<()> {
        insert_timer(&mut self.tx, t)
    }

    fn requeue_for_new_recipients(
        &mut self,
        org: &str,
        case_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        const WHICH: &str = "org = $1 AND ($2::TEXT IS NULL OR case_id = $2) AND lock_token IS NULL
             AND (state = 'dead' OR (state = 'pending' AND last_error IS NOT NULL))";
        self.tx
            .execute(
                &format!(
                    "DELETE FROM timer_recipients WHERE state = 'refused'
                     AND timer_id IN (SELECT id FROM timers WHERE {WHICH})"
                ),
                &[&org, &case_id],
            )
            .map_err(db_err)?;
        let n = self
            .tx
            .execute(
                &format!(
                    "UPDATE timers SET state = 'pending', attempts = 0, next_attempt_at = $3,
                     last_error = NULL WHERE {WHICH}"
                ),
                &[&org, &case_id, &now],
            )
            .map_err(db_err)?;
        Ok(n as usize)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit().map_err(db_err)
    }
}

impl CaseLog for Postgres {
    fn begin(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .map_err(db_err)?;
        Ok(Box::new(PgTx { tx }))
    }

    fn head(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        Ok(self
            .client
            .query_opt(
                &format!("SELECT {HEAD_COLS} FROM cases WHERE org = $1 AND id = $2"),
                &[&org, &case_id],
            )
            .map_err(db_err)?
            .as_ref()
            .map(head))
    }

    fn heads(&mut self, org: Option<&str>) -> Result<Vec<CaseHead>> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT {HEAD_COLS} FROM cases WHERE ($1::TEXT IS NULL OR org = $1) ORDER BY org, id"
                ),
                &[&org],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(head).collect())
    }

    fn events(&mut self, org: &str, case_id: &str, upto: Option<i64>) -> Result<Vec<EventRow>> {
        read_events(&mut *self.client, org, case_id, upto)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        read_workflow(&mut *self.client, hash)
    }

    fn workflows(&mut self) -> Result<Vec<PinnedWorkflow>> {
        let rows = self
            .client
            .query(
                "SELECT hash, id, origin, source, stored_at FROM workflows ORDER BY stored_at, hash",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(workflow_row).collect())
    }

    fn case_ids(&mut self, org: &str, include_closed: bool) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT id FROM cases WHERE org = $1 AND ($2 OR NOT closed)
                 ORDER BY closed, next_due NULLS LAST, opened_at, id",
                &[&org, &include_closed],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn case_ids_by_opening(&mut self, org: &str) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT id FROM cases WHERE org = $1 ORDER BY opened_at, id",
                &[&org],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn orphan_events(&mut self) -> Result<Vec<(String, String, i64)>> {
        let rows = self
            .client
            .query(
                "SELECT e.org, e.case_id, MIN(e.seq) FROM events e LEFT JOIN cases c
                 ON c.org = e.org AND c.id = e.case_id WHERE c.id IS NULL
                 GROUP BY e.org, e.case_id ORDER BY e.org, e.case_id",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn last_deadline_event(&mut self, org: &str) -> Result<Option<DateTime<Utc>>> {
        let r = self
            .client
            .query_one(
                &format!("SELECT MAX(recorded_at) FROM events WHERE org = $1 AND {MET}"),
                &[&org],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn counters(&mut self) -> Result<Vec<(String, String, i64)>> {
        let rows = self
            .client
            .query(
                "SELECT org, prefix, last FROM case_counters ORDER BY org, prefix",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }
}

pub(super) fn load_cases(
    c: &mut Client,
    heads: &[CaseHead],
    events: &[(String, String, Vec<EventRow>)],
) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for h in heads {
        insert_case(&mut tx, h)?;
    }
    for (org, case_id, evs) in events {
        for e in evs {
            insert_event(&mut tx, org, case_id, e)?;
        }
    }
    tx.commit().map_err(db_err)
}

pub(super) fn load_workflows(c: &mut Client, wfs: &[PinnedWorkflow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for wf in wfs {
        pin_workflow(&mut tx, wf)?;
    }
    tx.commit().map_err(db_err)
}

pub(super) fn load_counters(c: &mut Client, rows: &[(String, String, i64)]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for (org, prefix, last) in rows {
        set_counter(&mut tx, org, prefix, *last)?;
    }
    tx.commit().map_err(db_err)
}
