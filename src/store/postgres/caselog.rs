//! The case log on PostgreSQL: cases, events, pinned workflows, counters; its write
//! transactions are in `casetx`.

use super::{Postgres, Stmts, db_err, is_unique_violation};
use crate::store::StoreError;
use crate::store::backend::ts;
use crate::store::backend::{
    CaseHead, CaseLog, CaseTx, EventRow, NewTimer, PinnedWorkflow, Result,
};
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};

/// The checkpoint's question: an `advanced` event whose `met` list is not empty (the
/// same expression as the partial index `events_met`, so the planner uses it).
macro_rules! met {
    () => {
        "CASE WHEN kind = 'advanced' THEN (payload::jsonb -> 'met' -> 0) IS NOT NULL ELSE false END"
    };
}

pub(super) fn head(r: &Row) -> CaseHead {
    head_at(r, 0)
}

/// The head whose columns (`head_cols!()`) start at column `first` of `r`.
pub(super) fn head_at(r: &Row, first: usize) -> CaseHead {
    CaseHead {
        org: r.get(first),
        id: r.get(first + 1),
        workflow: r.get(first + 2),
        workflow_hash: r.get(first + 3),
        title: r.get(first + 4),
        opened_at: r.get(first + 5),
        seq: r.get(first + 6),
        last_hash: r.get(first + 7),
        closed: r.get(first + 8),
        next_due: r.get(first + 9),
    }
}

/// An event time as the chain hashes it. A value no instant can hold ('infinity', written
/// behind vigie's back) becomes a text that does not read as a time: the case is then
/// unreadable (named by the lists and `audit verify`), never a panic of the reader.
pub(super) fn time_text(r: &Row, i: usize) -> String {
    match r.try_get::<_, DateTime<Utc>>(i) {
        Ok(t) => ts(t),
        Err(_) => "(not an instant)".into(),
    }
}

fn event(r: &Row) -> EventRow {
    event_at(r, 0)
}

/// The event whose columns (`event_cols!()`) start at column `first` of `r`.
pub(super) fn event_at(r: &Row, first: usize) -> EventRow {
    EventRow {
        seq: r.get(first),
        at: time_text(r, first + 1),
        recorded_at: time_text(r, first + 2),
        actor: r.get(first + 3),
        kind: r.get(first + 4),
        payload: r.get(first + 5),
        prev_hash: r.get(first + 6),
        hash: r.get(first + 7),
    }
}

/// A head as the parameters of its columns, in `head_cols!()` order (what `head` reads).
pub(super) fn head_params(h: &CaseHead) -> [&(dyn ToSql + Sync); 10] {
    [
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
    ]
}

/// A pinned workflow as the parameters of its columns (what `workflow_row` reads).
pub(super) fn workflow_params(wf: &PinnedWorkflow) -> [&(dyn ToSql + Sync); 5] {
    [&wf.hash, &wf.id, &wf.origin, &wf.source, &wf.stored_at]
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
pub(super) fn parse(text: &str, what: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| StoreError::Db(format!("an event's {what} is not an RFC 3339 time")))
}

const READ_EVENTS: &str = concat!(
    "SELECT ",
    event_cols!(),
    " FROM events WHERE org = $1 AND case_id = $2 ORDER BY seq"
);
const READ_EVENTS_UPTO: &str = concat!(
    "SELECT ",
    event_cols!(),
    " FROM events WHERE org = $1 AND case_id = $2 AND seq <= $3 ORDER BY seq"
);
const READ_WORKFLOW: &str =
    "SELECT hash, id, origin, source, stored_at FROM workflows WHERE hash = $1";
const INSERT_CASE: &str = concat!(
    "INSERT INTO cases (",
    head_cols!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
);
const PIN_WORKFLOW: &str =
    "INSERT INTO workflows (hash, id, origin, source, stored_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (hash) DO NOTHING";
const SET_COUNTER: &str = "INSERT INTO case_counters (org, prefix, last) VALUES ($1, $2, $3)
     ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last";
const INSERT_TIMER: &str = "INSERT INTO timers (key, org, case_id, clock, \"offset\", due_at, next_attempt_at, state, attempts, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $6, 'pending', 0, $7) ON CONFLICT (key) DO NOTHING";
const HEAD: &str = concat!(
    "SELECT ",
    head_cols!(),
    " FROM cases WHERE org = $1 AND id = $2"
);

pub(super) fn read_events(
    c: &mut impl GenericClient,
    st: &mut Stmts,
    org: &str,
    case_id: &str,
    upto: Option<i64>,
) -> Result<Vec<EventRow>> {
    let rows = match upto {
        None => {
            let s = st.get(c, READ_EVENTS)?;
            c.query(&s, &[&org, &case_id])
        }
        Some(upto) => {
            let s = st.get(c, READ_EVENTS_UPTO)?;
            c.query(&s, &[&org, &case_id, &upto])
        }
    }
    .map_err(db_err)?;
    Ok(rows.iter().map(event).collect())
}

pub(super) fn read_workflow(
    c: &mut impl GenericClient,
    st: &mut Stmts,
    hash: &str,
) -> Result<Option<PinnedWorkflow>> {
    let s = st.get(c, READ_WORKFLOW)?;
    Ok(c.query_opt(&s, &[&hash])
        .map_err(db_err)?
        .as_ref()
        .map(workflow_row))
}

pub(super) fn insert_case(c: &mut impl GenericClient, st: &mut Stmts, h: &CaseHead) -> Result<()> {
    let s = st.get(c, INSERT_CASE)?;
    c.execute(&s, &head_params(h)).map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::CaseExists(h.id.clone())
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

pub(super) fn pin_workflow(
    c: &mut impl GenericClient,
    st: &mut Stmts,
    wf: &PinnedWorkflow,
) -> Result<()> {
    let s = st.get(c, PIN_WORKFLOW)?;
    c.execute(&s, &workflow_params(wf)).map_err(db_err)?;
    Ok(())
}

pub(super) fn set_counter(
    c: &mut impl GenericClient,
    st: &mut Stmts,
    org: &str,
    prefix: &str,
    last: i64,
) -> Result<()> {
    let s = st.get(c, SET_COUNTER)?;
    c.execute(&s, &[&org, &prefix, &last]).map_err(db_err)?;
    Ok(())
}

pub(super) fn insert_timer(c: &mut impl GenericClient, st: &mut Stmts, t: &NewTimer) -> Result<()> {
    let s = st.get(c, INSERT_TIMER)?;
    c.execute(
        &s,
        &[
            &t.key,
            &t.org,
            &t.case_id,
            &t.clock,
            &t.offset,
            &t.due_at,
            &t.created_at,
        ],
    )
    .map_err(db_err)?;
    Ok(())
}

impl CaseLog for Postgres {
    fn begin_optimistic(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        self.begin_optimistic_tx()
    }

    fn begin(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        self.begin_locking_tx()
    }

    fn head(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        let st = self.stmts.get(&mut *self.client, HEAD)?;
        Ok(self
            .client
            .query_opt(&st, &[&org, &case_id])
            .map_err(db_err)?
            .as_ref()
            .map(head))
    }

    fn heads(&mut self, org: Option<&str>) -> Result<Vec<CaseHead>> {
        const SQL: &str = concat!(
            "SELECT ",
            head_cols!(),
            " FROM cases WHERE ($1::TEXT IS NULL OR org = $1) ORDER BY org, id"
        );
        let st = self.stmts.get(&mut *self.client, SQL)?;
        let rows = self.client.query(&st, &[&org]).map_err(db_err)?;
        Ok(rows.iter().map(head).collect())
    }

    fn events(&mut self, org: &str, case_id: &str, upto: Option<i64>) -> Result<Vec<EventRow>> {
        read_events(&mut *self.client, &mut self.stmts, org, case_id, upto)
    }

    fn events_of(&mut self, cases: &[(&str, &str)]) -> Result<Vec<Vec<EventRow>>> {
        read_events_of(&mut *self.client, &mut self.stmts, cases)
    }

    fn heads_of(&mut self, cases: &[(&str, &str)]) -> Result<Vec<Option<CaseHead>>> {
        const SQL: &str = concat!(
            "SELECT k.n, c.* FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(org, id, n)
             JOIN LATERAL (SELECT ",
            head_cols!(),
            " FROM cases WHERE org = k.org AND id = k.id) c ON TRUE"
        );
        let orgs: Vec<&str> = cases.iter().map(|(o, _)| *o).collect();
        let ids: Vec<&str> = cases.iter().map(|(_, i)| *i).collect();
        let st = self.stmts.get(&mut *self.client, SQL)?;
        let rows = self.client.query(&st, &[&orgs, &ids]).map_err(db_err)?;
        let mut out: Vec<Option<CaseHead>> = (0..cases.len()).map(|_| None).collect();
        for r in &rows {
            let n: i64 = r.get(0);
            out[(n - 1) as usize] = Some(head_at(r, 1));
        }
        Ok(out)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        read_workflow(&mut *self.client, &mut self.stmts, hash)
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

    fn has_cases(&mut self, org: &str) -> Result<bool> {
        let r = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM cases WHERE org = $1)",
                &[&org],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
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
                concat!(
                    "SELECT MAX(recorded_at) FROM events WHERE org = $1 AND ",
                    met!()
                ),
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

/// A batch of cases and their events, in two statements (the columns as arrays, unnested
/// by the server): a copy of 10,000 cases is a few round trips, not one per row.
pub(super) fn load_cases(
    c: &mut Client,
    heads: &[CaseHead],
    events: &[(String, String, Vec<EventRow>)],
) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    let col = |f: fn(&CaseHead) -> String| heads.iter().map(f).collect::<Vec<String>>();
    let (org, id, wf, wf_hash, title, last_hash) = (
        col(|h| h.org.clone()),
        col(|h| h.id.clone()),
        col(|h| h.workflow.clone()),
        col(|h| h.workflow_hash.clone()),
        col(|h| h.title.clone()),
        col(|h| h.last_hash.clone()),
    );
    let opened: Vec<DateTime<Utc>> = heads.iter().map(|h| h.opened_at).collect();
    let seq: Vec<i64> = heads.iter().map(|h| h.seq).collect();
    let closed: Vec<bool> = heads.iter().map(|h| h.closed).collect();
    let due: Vec<Option<DateTime<Utc>>> = heads.iter().map(|h| h.next_due).collect();
    tx.execute(
        concat!(
            "INSERT INTO cases (",
            head_cols!(),
            ") SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
               $6::timestamptz[], $7::bigint[], $8::text[], $9::bool[], $10::timestamptz[])"
        ),
        &[
            &org, &id, &wf, &wf_hash, &title, &opened, &seq, &last_hash, &closed, &due,
        ],
    )
    // The copy checked that the target was empty before its first write.
    .map_err(db_err)?;
    let rows = events
        .iter()
        .flat_map(|(o, c, evs)| evs.iter().map(move |e| (o, c, e)));
    let n = events.iter().map(|(_, _, e)| e.len()).sum();
    let mut cols: [Vec<String>; 7] = Default::default();
    let (mut seqs, mut ats, mut recs) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (o, case_id, e) in rows {
        for (v, x) in cols.iter_mut().zip([
            o,
            case_id,
            &e.actor,
            &e.kind,
            &e.payload,
            &e.prev_hash,
            &e.hash,
        ]) {
            v.push(x.clone());
        }
        seqs.push(e.seq);
        ats.push(parse(&e.at, "time")?);
        recs.push(parse(&e.recorded_at, "recording time")?);
    }
    let [o, cid, actor, kind, payload, prev, hash] = &cols;
    tx.execute(
        "INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::timestamptz[],
           $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])",
        &[o, cid, &seqs, &ats, &recs, actor, kind, payload, prev, hash],
    )
    .map_err(db_err)?;
    tx.commit().map_err(db_err)
}

/// The events of many cases in one query, grouped per case in the order asked.
pub(super) fn read_events_of(
    c: &mut impl GenericClient,
    st: &mut Stmts,
    cases: &[(&str, &str)],
) -> Result<Vec<Vec<EventRow>>> {
    const SQL: &str = concat!(
        "SELECT k.n, ",
        event_cols!(),
        " FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS k(org, case_id, n)
          JOIN events USING (org, case_id) ORDER BY k.n, seq"
    );
    let orgs: Vec<&str> = cases.iter().map(|(o, _)| *o).collect();
    let ids: Vec<&str> = cases.iter().map(|(_, i)| *i).collect();
    let s = st.get(c, SQL)?;
    let rows = c.query(&s, &[&orgs, &ids]).map_err(db_err)?;
    let mut out: Vec<Vec<EventRow>> = vec![Vec::new(); cases.len()];
    for r in &rows {
        let n: i64 = r.get(0);
        out[(n - 1) as usize].push(event_at(r, 1));
    }
    Ok(out)
}

pub(super) fn load_workflows(c: &mut Client, wfs: &[PinnedWorkflow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    let st = &mut Stmts::default();
    for wf in wfs {
        pin_workflow(&mut tx, st, wf)?;
    }
    tx.commit().map_err(db_err)
}

pub(super) fn load_counters(c: &mut Client, rows: &[(String, String, i64)]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    let st = &mut Stmts::default();
    for (org, prefix, last) in rows {
        set_counter(&mut tx, st, org, prefix, *last)?;
    }
    tx.commit().map_err(db_err)
}
