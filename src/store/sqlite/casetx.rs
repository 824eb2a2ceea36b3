//! The write transaction of the case log on SQLite (BEGIN IMMEDIATE), with the timers it
//! reconciles.

use super::caselog::{
    INSERT_EVENT, case_exists, events, head, insert_event_with, insert_head, pin, workflow,
};
use super::{parse, rfc, ts};
use crate::store::backend::{
    CaseHead, CaseTx, EventRow, NewEvent, NewTimer, PinnedWorkflow, Result, TimerOfCase,
};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

/// The write transaction of the case log: BEGIN IMMEDIATE, so the whole database is
/// ours from the first read.
pub(super) struct Tx<'c> {
    pub(super) tx: Transaction<'c>,
}

impl CaseTx for Tx<'_> {
    fn lock_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        // The IMMEDIATE transaction already holds the write lock.
        head(&self.tx, org, case_id)
    }

    fn events(&mut self, org: &str, case_id: &str) -> Result<Vec<EventRow>> {
        events(&self.tx, org, case_id, None)
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        workflow(&self.tx, hash)
    }

    fn case_exists(&mut self, org: &str, case_id: &str) -> Result<bool> {
        case_exists(&self.tx, org, case_id)
    }

    fn take_counter(&mut self, org: &str, prefix: &str) -> Result<i64> {
        Ok(self
            .tx
            .prepare_cached("SELECT last FROM case_counters WHERE org = ?1 AND prefix = ?2")?
            .query_row(params![org, prefix], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn set_counter(&mut self, org: &str, prefix: &str, last: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO case_counters (org, prefix, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last",
            )?
            .execute(params![org, prefix, last])?;
        Ok(())
    }

    fn pin_workflow(&mut self, wf: &PinnedWorkflow) -> Result<()> {
        pin(&self.tx, wf)
    }

    fn insert_case(&mut self, head: &CaseHead) -> Result<()> {
        insert_head(&self.tx, head)
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> Result<()> {
        let mut stmt = self.tx.prepare_cached(INSERT_EVENT)?;
        insert_event_with(&mut stmt, ev.org, ev.case_id, &ev.row)
    }

    fn update_head(&mut self, h: &CaseHead) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE cases SET seq = ?3, last_hash = ?4, closed = ?5, next_due = ?6, title = ?7
                 WHERE org = ?1 AND id = ?2",
            )?
            .execute(params![
                h.org,
                h.id,
                h.seq,
                h.last_hash,
                h.closed,
                h.next_due.map(rfc),
                h.title
            ])?;
        Ok(())
    }

    fn timers_of_case(&mut self, org: &str, case_id: &str) -> Result<Vec<TimerOfCase>> {
        let mut stmt = self.tx.prepare_cached(
            "SELECT id, key, clock, offset, state, due_at FROM timers WHERE org = ?1 AND case_id = ?2",
        )?;
        let raw: Vec<(i64, String, String, String, String, String)> = stmt
            .query_map(params![org, case_id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(id, key, clock, offset, state, due_at)| {
                Ok(TimerOfCase {
                    id,
                    key,
                    clock,
                    offset,
                    state,
                    due_at: parse(&due_at)?,
                })
            })
            .collect()
    }

    fn reschedule_timer(&mut self, id: i64, due: DateTime<Utc>) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE timers SET due_at = ?2, next_attempt_at = ?2, state = 'pending', attempts = 0,
                 last_error = NULL, locked_until = NULL, lock_token = NULL
                 WHERE id = ?1 AND state IN ('pending', 'waiting', 'cancelled')",
            )?
            .execute(params![id, ts(due)])?;
        Ok(())
    }

    fn cancel_timer(&mut self, id: i64) -> Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE timers SET state = 'cancelled' WHERE id = ?1 AND state IN ('pending', 'waiting')",
            )?
            .execute([id])?;
        Ok(())
    }

    fn insert_timer(&mut self, t: &NewTimer) -> Result<()> {
        super::outbox::insert_timer(&self.tx, t)
    }

    fn requeue_for_new_recipients(
        &mut self,
        org: &str,
        case_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        super::outbox::requeue_for_new_recipients(&self.tx, org, case_id, now)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        self.tx.commit()?;
        Ok(())
    }
}
