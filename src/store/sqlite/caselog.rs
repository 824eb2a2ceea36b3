//! The case log on SQLite: cases (the projection), events, pinned workflows, counters;
//! its write transaction is in `casetx`.

use super::{Sqlite, is_constraint, parse, parse_opt, rfc};
use crate::store::StoreError;
use crate::store::backend::{CaseHead, CaseLog, CaseTx, EventRow, PinnedWorkflow, Result};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

const HEAD_COLS: &str =
    "org, id, workflow, workflow_hash, title, opened_at, seq, last_hash, closed, next_due";

pub(super) const INSERT_EVENT: &str =
    "INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

type RawHead = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    bool,
    Option<String>,
);

fn raw_head(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawHead> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn head_of(raw: RawHead) -> Result<CaseHead> {
    let (org, id, workflow, workflow_hash, title, opened_at, seq, last_hash, closed, next_due) =
        raw;
    Ok(CaseHead {
        org,
        id,
        workflow,
        workflow_hash,
        title,
        opened_at: parse(&opened_at)?,
        seq,
        last_hash,
        closed,
        next_due: parse_opt(next_due)?,
    })
}

pub(super) fn head(conn: &Connection, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
    conn.prepare_cached(&format!(
        "SELECT {HEAD_COLS} FROM cases WHERE org = ?1 AND id = ?2"
    ))?
    .query_row(params![org, case_id], raw_head)
    .optional()?
    .map(head_of)
    .transpose()
}

pub(super) fn events(
    conn: &Connection,
    org: &str,
    case_id: &str,
    upto: Option<i64>,
) -> Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, recorded_at, actor, kind, payload, prev_hash, hash FROM events
         WHERE org = ?1 AND case_id = ?2 AND seq <= ?3 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map(params![org, case_id, upto.unwrap_or(i64::MAX)], |r| {
            Ok(EventRow {
                seq: r.get(0)?,
                at: r.get(1)?,
                recorded_at: r.get(2)?,
                actor: r.get(3)?,
                kind: r.get(4)?,
                payload: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

fn workflow_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn pinned(raw: (String, String, String, String, String)) -> Result<PinnedWorkflow> {
    let (hash, id, origin, source, stored_at) = raw;
    Ok(PinnedWorkflow {
        hash,
        id,
        origin,
        source,
        stored_at: parse(&stored_at)?,
    })
}

pub(super) fn workflow(conn: &Connection, hash: &str) -> Result<Option<PinnedWorkflow>> {
    conn.prepare_cached(
        "SELECT hash, id, origin, source, stored_at FROM workflows WHERE hash = ?1",
    )?
    .query_row(params![hash], workflow_row)
    .optional()?
    .map(pinned)
    .transpose()
}

pub(super) fn case_exists(conn: &Connection, org: &str, case_id: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT EXISTS(SELECT 1 FROM cases WHERE org = ?1 AND id = ?2)")?
        .query_row(params![org, case_id], |r| r.get(0))?)
}

pub(super) fn pin(conn: &Connection, w: &PinnedWorkflow) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO workflows (hash, id, origin, source, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![w.hash, w.id, w.origin, w.source, rfc(w.stored_at)])?;
    Ok(())
}

pub(super) fn insert_head(conn: &Connection, h: &CaseHead) -> Result<()> {
    let r = conn
        .prepare_cached(&format!(
            "INSERT INTO cases ({HEAD_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ))?
        .execute(params![
            h.org,
            h.id,
            h.workflow,
            h.workflow_hash,
            h.title,
            rfc(h.opened_at),
            h.seq,
            h.last_hash,
            h.closed,
            h.next_due.map(rfc)
        ]);
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) && case_exists(conn, &h.org, &h.id)? => {
            Err(StoreError::CaseExists(h.id.clone()))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) fn insert_event_with(
    stmt: &mut rusqlite::CachedStatement<'_>,
    org: &str,
    case_id: &str,
    e: &EventRow,
) -> Result<()> {
    stmt.execute(params![
        org,
        case_id,
        e.seq,
        e.at,
        e.recorded_at,
        e.actor,
        e.kind,
        e.payload,
        e.prev_hash,
        e.hash
    ])?;
    Ok(())
}

impl CaseLog for Sqlite {
    fn begin(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Box::new(super::casetx::Tx { tx }))
    }

    fn head(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        head(&self.conn, org, case_id)
    }

    fn heads(&mut self, org: Option<&str>) -> Result<Vec<CaseHead>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {HEAD_COLS} FROM cases WHERE (?1 IS NULL OR org = ?1) ORDER BY org, id"
        ))?;
        let raw: Vec<RawHead> = stmt
            .query_map(params![org], raw_head)?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter().map(head_of).collect()
    }

    fn events(&mut self, org: &str, case_id: &str, upto: Option<i64>) -> Result<Vec<EventRow>> {
        events(&self.conn, org, case_id, upto)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        workflow(&self.conn, hash)
    }

    fn workflows(&mut self) -> Result<Vec<PinnedWorkflow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT hash, id, origin, source, stored_at FROM workflows ORDER BY hash")?;
        let raw: Vec<_> = stmt
            .query_map([], workflow_row)?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter().map(pinned).collect()
    }

    fn case_ids(&mut self, org: &str, include_closed: bool) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM cases WHERE org = ?1 AND (?2 OR closed = 0)
             ORDER BY closed, next_due IS NULL, next_due, opened_at",
        )?;
        let ids = stmt
            .query_map(params![org, include_closed], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    fn has_cases(&mut self, org: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM cases WHERE org = ?1)")?
            .query_row(params![org], |r| r.get(0))?)
    }

    fn case_ids_by_opening(&mut self, org: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM cases WHERE org = ?1 ORDER BY opened_at, id")?;
        let ids = stmt
            .query_map(params![org], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    fn orphan_events(&mut self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self.conn.prepare(
            "SELECT e.org, e.case_id, MIN(e.seq) FROM events e LEFT JOIN cases c
             ON c.org = e.org AND c.id = e.case_id WHERE c.id IS NULL GROUP BY e.org, e.case_id",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn last_deadline_event(&mut self, org: &str) -> Result<Option<DateTime<Utc>>> {
        // The condition is the partial index `events_met`'s, word for word, so the
        // lookup uses it.
        let at: Option<String> = self.conn.query_row(
            "SELECT MAX(recorded_at) FROM events WHERE org = ?1 AND kind = 'advanced'
             AND json_extract(payload, '$.met[0]') IS NOT NULL",
            params![org],
            |r| r.get(0),
        )?;
        // An unreadable time is `audit verify`'s to report, not the dispatcher's to die of.
        Ok(at.and_then(|s| parse(&s).ok()))
    }

    fn counters(&mut self) -> Result<Vec<(String, String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT org, prefix, last FROM case_counters ORDER BY org, prefix")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
