//! Optimistic case commands: one statement per command (`vigie_append`,
//! `migrations/postgres/0005_append_slim.sql`) instead of a transaction of four or more.
//!
//! Nothing is locked while the command is decided. The head and the timers of the case
//! come from what this connection wrote or read last (`Seen`), or from one read without a
//! lock (head, events and timers in one statement). The writes are held, then sent as one
//! call, which writes only if the head and a counter taken are still as read (the timer
//! writes carry the states they were decided on: `migrations/postgres/0005_append_slim.sql`
//! says why that is enough): else `StoreError::Moved`, nothing is written, and the
//! next transaction of the connection locks first (`Postgres::lock_next`), so a command
//! decided again on a case two writers fight over goes through. (An opening whose series
//! counter moved, which writers opening cases at once do to each other, reads it again
//! once before it locks.)
//!
//! The transaction keeps to the calls `Store` makes, in its order (lock, events,
//! decide, events and head, timers read once then written; an opening's counter, pinned
//! text and case). Anything else (requeueing reminders for new recipients, a second
//! case, reading timers after writing them) answers `Moved` at once, and the command is
//! done again under a lock, as before.

use super::{EventArrays, Held, moved_head_params};
use crate::store::StoreError;
use crate::store::backend::{
    CaseHead, CaseTx, EventRow, NewEvent, NewTimer, PinnedWorkflow, Result, TimerOfCase,
};
use crate::store::postgres::caselog::{event_at, head, read_workflow};
use crate::store::postgres::{Postgres, Stmts, db_err, is_unique_violation};
use chrono::{DateTime, Utc};
use postgres::Client;
use postgres::error::SqlState;
use postgres::types::ToSql;
use std::collections::HashMap;

/// What `vigie_append` raises when what the command read has moved.
const MOVED: &str = "VG001";

/// How many cases a connection remembers.
const SEEN: usize = 256;

/// The last known head and timers of the cases a connection worked on, by (org, id).
/// Never trusted: the commit checks them under the case's lock.
#[derive(Default)]
pub(in crate::store::postgres) struct Seen(HashMap<(String, String), (CaseHead, Vec<TimerOfCase>)>);

impl Seen {
    fn keep(&mut self, key: (String, String), head: CaseHead, timers: Vec<TimerOfCase>) {
        if self.0.len() >= SEEN
            && !self.0.contains_key(&key)
            && let Some(k) = self.0.keys().next().cloned()
        {
            self.0.remove(&k);
        }
        self.0.insert(key, (head, timers));
    }
}

/// A case's head, events and timers read at one instant, without a lock: the events
/// rows first (with the head's columns; one row with NULL events for a case without
/// any), then the timer rows (ordered by position: `seq` is the head's and the event's).
const READ_CASE: &str = concat!(
    "WITH h AS (SELECT ",
    head_cols!(),
    " FROM cases WHERE org = $1 AND id = $2)
SELECT h.*, e.seq, e.at, e.recorded_at, e.actor, e.kind, e.payload, e.prev_hash, e.hash,
       NULL::BIGINT AS t_id, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::TIMESTAMPTZ
FROM h LEFT JOIN events e ON e.org = h.org AND e.case_id = h.id
UNION ALL
SELECT h.*, NULL::BIGINT, NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, NULL::TEXT, NULL::TEXT,
       NULL::TEXT, NULL::TEXT, NULL::TEXT, t.id, t.key, t.clock, t.\"offset\", t.state, t.due_at
FROM h JOIN timers t ON t.org = h.org AND t.case_id = h.id
ORDER BY 19 NULLS FIRST, 11"
);

const APPEND: &str = "SELECT * FROM vigie_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
    $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28,
    $29, $30, $31, $32, $33, $34, $35)";

pub(super) struct OptimisticTx<'a> {
    client: &'a mut Client,
    stmts: &'a mut Stmts,
    seen: &'a mut Seen,
    lock_next: &'a mut bool,
    opening_moved: &'a mut bool,
    pinned: &'a mut std::collections::HashSet<String>,
    /// The id of the opening was taken as free without asking (`case_exists`): a unique
    /// violation at the commit is then a number taken by hand, and the opening is done
    /// again under a lock, which asks.
    guessed_free: bool,
    /// The case of the transaction: locked (read) or inserted.
    case: Option<(String, String)>,
    /// The head the command is decided on, and whether it came from `seen` (then
    /// `confirm` asks the server).
    read_head: Option<(CaseHead, bool)>,
    read_events: Option<Vec<EventRow>>,
    /// The case's timers the command is decided on.
    read_timers: Option<Vec<TimerOfCase>>,
    /// (org, prefix, as read, new value)
    counter: Option<(String, String, i64, Option<i64>)>,
    pin: Option<PinnedWorkflow>,
    new_case: Option<CaseHead>,
    events: Vec<Held>,
    new_head: Option<CaseHead>,
    /// Timer writes in order: None cancels, a due reschedules.
    ops: Vec<(i64, Option<DateTime<Utc>>)>,
    new_timers: Vec<NewTimer>,
}

impl Postgres {
    /// An optimistic transaction, or a locking one after a command found its case moved.
    pub(in crate::store::postgres) fn begin_optimistic_tx(
        &mut self,
    ) -> Result<Box<dyn CaseTx + '_>> {
        if std::mem::take(&mut self.lock_next) {
            return crate::store::backend::CaseLog::begin(self);
        }
        Ok(Box::new(OptimisticTx {
            client: &mut self.client,
            stmts: &mut self.stmts,
            seen: &mut self.seen,
            lock_next: &mut self.lock_next,
            opening_moved: &mut self.opening_moved,
            pinned: &mut self.pinned,
            guessed_free: false,
            case: None,
            read_head: None,
            read_events: None,
            read_timers: None,
            counter: None,
            pin: None,
            new_case: None,
            events: Vec::new(),
            new_head: None,
            ops: Vec::new(),
            new_timers: Vec::new(),
        }))
    }
}

impl OptimisticTx<'_> {
    /// A call this transaction does not answer: the command is done again, locking.
    fn unsupported(&mut self) -> StoreError {
        self.moved()
    }

    /// What was read moved: forget it, and lock on the next attempt.
    fn moved(&mut self) -> StoreError {
        *self.lock_next = true;
        if let Some(k) = &self.case {
            self.seen.0.remove(k);
        }
        StoreError::Moved
    }

    fn is_case(&self, org: &str, case_id: &str) -> bool {
        self.case
            .as_ref()
            .is_some_and(|(o, c)| o == org && c == case_id)
    }

    /// Reads the case (head, events, timers) at one instant, without a lock.
    fn read_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        let st = self.stmts.get(&mut *self.client, READ_CASE)?;
        let rows = self.client.query(&st, &[&org, &case_id]).map_err(db_err)?;
        let Some(first) = rows.first() else {
            self.seen.0.remove(&(org.to_string(), case_id.to_string()));
            return Ok(None);
        };
        let h = head(first);
        let (mut evs, mut timers) = (Vec::new(), Vec::new());
        for r in &rows {
            if let Some(id) = r.get::<_, Option<i64>>(18) {
                timers.push(TimerOfCase {
                    id,
                    key: r.get(19),
                    clock: r.get(20),
                    offset: r.get(21),
                    state: r.get(22),
                    due_at: r.get(23),
                });
            } else if r.get::<_, Option<i64>>(10).is_some() {
                evs.push(event_at(r, 10));
            }
        }
        self.case = Some((org.to_string(), case_id.to_string()));
        self.read_head = Some((h.clone(), false));
        self.read_events = Some(evs);
        self.read_timers = Some(timers);
        Ok(Some(h))
    }

    /// The case's timers after a commit, from those the command was decided on, its timer
    /// writes and the timers it created (`ids`, `keys`: what the server inserted). None
    /// when the server did not do all of it (a timer write skipped because a dispatcher
    /// had moved the timer, a key that existed): the copy is then forgotten, and the next
    /// command on the case reads the timers again.
    fn timers_after(
        &mut self,
        applied: i32,
        ids: Vec<i64>,
        keys: Vec<String>,
    ) -> Option<Vec<TimerOfCase>> {
        let mut timers = self.read_timers.take()?;
        if applied as usize != self.ops.len() || ids.len() != self.new_timers.len() {
            return None;
        }
        for (id, due) in &self.ops {
            let t = timers.iter_mut().find(|t| t.id == *id)?;
            match due {
                Some(d) => {
                    t.state = "pending".into();
                    t.due_at = *d;
                }
                None => t.state = "cancelled".into(),
            }
        }
        for (id, key) in ids.into_iter().zip(keys) {
            let n = self.new_timers.iter().find(|n| n.key == key)?;
            timers.push(TimerOfCase {
                id,
                key,
                clock: n.clock.clone(),
                offset: n.offset.clone(),
                state: "pending".into(),
                due_at: n.due_at,
            });
        }
        timers.sort_by_key(|t| t.id);
        Some(timers)
    }

    /// Whether anything waits to be written.
    fn holds(&self) -> bool {
        self.counter.as_ref().is_some_and(|c| c.3.is_some())
            || self.pin.is_some()
            || self.new_case.is_some()
            || !self.events.is_empty()
            || self.new_head.is_some()
            || !self.ops.is_empty()
            || !self.new_timers.is_empty()
    }
}

impl CaseTx for OptimisticTx<'_> {
    fn lock_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>> {
        if self.case.is_some() || self.holds() {
            return Err(self.unsupported());
        }
        let key = (org.to_string(), case_id.to_string());
        // Taken out, not copied: the commit puts the case back as it wrote it (or as it
        // was, when nothing was written).
        if let Some((h, timers)) = self.seen.0.remove(&key) {
            self.case = Some(key);
            self.read_head = Some((h.clone(), true));
            self.read_timers = Some(timers);
            return Ok(Some(h));
        }
        self.read_case(org, case_id)
    }

    fn events(&mut self, org: &str, case_id: &str) -> Result<Vec<EventRow>> {
        if !self.is_case(org, case_id) || self.holds() {
            return Err(self.unsupported());
        }
        if let Some(evs) = self.read_events.take() {
            return Ok(evs);
        }
        // The head came from `seen`: the events, the head and the timers again, at one
        // instant (the command is then decided on this head).
        match self.read_case(org, case_id)? {
            Some(_) => Ok(self.read_events.take().unwrap_or_default()),
            None => Err(self.moved()),
        }
    }

    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>> {
        // Pinned texts are append-only: a read without a lock is as good.
        read_workflow(&mut *self.client, self.stmts, hash)
    }

    fn case_exists(&mut self, org: &str, case_id: &str) -> Result<bool> {
        // Cases are never deleted and the insertion of a taken id fails (23505): an id
        // chosen by hand is refused then (CaseExists); a number of the series is taken as
        // free without asking (one round trip less an opening), and when it was taken by
        // hand, the opening is done again under a lock, which asks.
        if self.counter.is_some() && !self.guessed_free {
            self.guessed_free = true;
            return Ok(false);
        }
        const SQL: &str = "SELECT EXISTS (SELECT 1 FROM cases WHERE org = $1 AND id = $2)";
        let st = self.stmts.get(&mut *self.client, SQL)?;
        let r = self
            .client
            .query_one(&st, &[&org, &case_id])
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn take_counter(&mut self, org: &str, prefix: &str) -> Result<i64> {
        if self.counter.is_some() {
            return Err(self.unsupported());
        }
        const SQL: &str = "SELECT last FROM case_counters WHERE org = $1 AND prefix = $2";
        let st = self.stmts.get(&mut *self.client, SQL)?;
        let last = self
            .client
            .query_opt(&st, &[&org, &prefix])
            .map_err(db_err)?
            .map_or(0, |r| r.get(0));
        self.counter = Some((org.to_string(), prefix.to_string(), last, None));
        Ok(last)
    }

    fn set_counter(&mut self, org: &str, prefix: &str, last: i64) -> Result<()> {
        match &mut self.counter {
            Some((o, p, _, now)) if o == org && p == prefix => {
                *now = Some(last);
                Ok(())
            }
            _ => Err(self.unsupported()),
        }
    }

    fn pin_workflow(&mut self, wf: &PinnedWorkflow) -> Result<()> {
        if self.pin.is_some() || self.new_case.is_some() {
            return Err(self.unsupported());
        }
        if self.pinned.contains(&wf.hash) {
            return Ok(());
        }
        self.pin = Some(wf.clone());
        Ok(())
    }

    fn insert_case(&mut self, h: &CaseHead) -> Result<()> {
        if self.case.is_some() || self.new_case.is_some() || !self.events.is_empty() {
            return Err(self.unsupported());
        }
        self.case = Some((h.org.clone(), h.id.clone()));
        self.new_case = Some(h.clone());
        // A new case has no timers (cases are never deleted; a key taken is skipped by the
        // insertion, and the copy forgotten).
        self.read_timers = Some(Vec::new());
        Ok(())
    }

    fn insert_event(&mut self, ev: &NewEvent<'_>) -> Result<()> {
        if !self.is_case(ev.org, ev.case_id)
            || self.new_head.is_some()
            || !self.ops.is_empty()
            || !self.new_timers.is_empty()
        {
            return Err(self.unsupported());
        }
        self.events.push(Held::of(&ev.row)?);
        Ok(())
    }

    fn update_head(&mut self, h: &CaseHead) -> Result<()> {
        if !self.is_case(&h.org, &h.id) || !self.ops.is_empty() || !self.new_timers.is_empty() {
            return Err(self.unsupported());
        }
        self.new_head = Some(h.clone());
        Ok(())
    }

    fn timers_of_case(&mut self, org: &str, case_id: &str) -> Result<Vec<TimerOfCase>> {
        if !self.is_case(org, case_id) || !self.ops.is_empty() || !self.new_timers.is_empty() {
            return Err(self.unsupported());
        }
        match &self.read_timers {
            Some(t) => Ok(t.clone()),
            None => Err(self.unsupported()),
        }
    }

    fn reschedule_timer(&mut self, id: i64, due: DateTime<Utc>) -> Result<()> {
        if !self.new_timers.is_empty() {
            return Err(self.unsupported());
        }
        self.ops.push((id, Some(due)));
        Ok(())
    }

    fn cancel_timer(&mut self, id: i64) -> Result<()> {
        if !self.new_timers.is_empty() {
            return Err(self.unsupported());
        }
        self.ops.push((id, None));
        Ok(())
    }

    fn insert_timer(&mut self, t: &NewTimer) -> Result<()> {
        if !self.is_case(&t.org, &t.case_id)
            || self
                .new_timers
                .first()
                .is_some_and(|f| f.created_at != t.created_at)
        {
            return Err(self.unsupported());
        }
        // The same key again is ignored, as by the table.
        if !self.new_timers.iter().any(|n| n.key == t.key) {
            self.new_timers.push(t.clone());
        }
        Ok(())
    }

    fn requeue_for_new_recipients(
        &mut self,
        _org: &str,
        _case_id: Option<&str>,
        _now: DateTime<Utc>,
    ) -> Result<usize> {
        // It changes timers the command then reads: done under a lock.
        Err(self.unsupported())
    }

    fn confirm(&mut self) -> Result<bool> {
        let Some((h, from_seen)) = &self.read_head else {
            return Ok(true);
        };
        if !from_seen {
            // Read from the server for this command: what it refuses, it refused on the
            // case as it was then.
            return Ok(true);
        }
        const SQL: &str = "SELECT seq, last_hash FROM cases WHERE org = $1 AND id = $2";
        let st = self.stmts.get(&mut *self.client, SQL)?;
        let now = self
            .client
            .query_opt(&st, &[&h.org, &h.id])
            .map_err(db_err)?;
        let same =
            now.is_some_and(|r| r.get::<_, i64>(0) == h.seq && r.get::<_, &str>(1) == h.last_hash);
        if !same {
            self.moved();
        }
        Ok(same)
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        if !self.holds() {
            // Nothing to write: what was read is still worth keeping.
            if let (Some(k), Some((h, _)), Some(t)) = (
                self.case.take(),
                self.read_head.take(),
                self.read_timers.take(),
            ) {
                self.seen.keep(k, h, t);
            }
            return Ok(());
        }
        let Some((org, case_id)) = self.case.clone() else {
            return Err(self.unsupported());
        };
        // The head the command was decided on (none: an opening).
        let (expect_seq, expect_hash) = match (&self.new_case, &self.read_head) {
            (Some(_), _) => (None, None),
            (None, Some((h, _))) => (Some(h.seq), Some(h.last_hash.clone())),
            (None, None) => return Err(self.unsupported()),
        };
        let Some(new_head) = self.new_head.clone().or_else(|| self.new_case.clone()) else {
            return Err(self.unsupported());
        };
        let (prefix, counter_was, counter_now) = match &self.counter {
            Some((_, p, was, Some(now))) => (Some(p.as_str()), Some(*was), Some(*now)),
            _ => (None, None, None),
        };
        let pin = self.pin.as_ref();
        let (wf_hash, wf_id, wf_origin, wf_source, wf_stored_at) = (
            pin.map(|w| w.hash.as_str()),
            pin.map(|w| w.id.as_str()),
            pin.map(|w| w.origin.as_str()),
            pin.map(|w| w.source.as_str()),
            pin.map(|w| w.stored_at),
        );
        let new_case = self.new_case.as_ref();
        let (workflow, workflow_hash, opened_at) = (
            new_case.map(|h| h.workflow.as_str()),
            new_case.map(|h| h.workflow_hash.as_str()),
            new_case.map(|h| h.opened_at),
        );
        let events = EventArrays::of(&self.events.iter().collect::<Vec<_>>());
        let o_ids: Vec<i64> = self.ops.iter().map(|o| o.0).collect();
        let o_dues: Vec<Option<DateTime<Utc>>> = self.ops.iter().map(|o| o.1).collect();
        let nt = &self.new_timers;
        let n_keys: Vec<&str> = nt.iter().map(|t| t.key.as_str()).collect();
        let n_clocks: Vec<&str> = nt.iter().map(|t| t.clock.as_str()).collect();
        let n_offsets: Vec<&str> = nt.iter().map(|t| t.offset.as_str()).collect();
        let n_dues: Vec<DateTime<Utc>> = nt.iter().map(|t| t.due_at).collect();
        let n_created: Option<DateTime<Utc>> = nt.first().map(|t| t.created_at);
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![
            &org,
            &case_id,
            &expect_seq,
            &expect_hash,
            &prefix,
            &counter_was,
            &counter_now,
            &wf_hash,
            &wf_id,
            &wf_origin,
            &wf_source,
            &wf_stored_at,
            &workflow,
            &workflow_hash,
            &opened_at,
        ];
        params.extend(events.params());
        params.extend(moved_head_params(&new_head));
        params.extend([
            &o_ids as &(dyn ToSql + Sync),
            &o_dues,
            &n_keys,
            &n_clocks,
            &n_offsets,
            &n_dues,
            &n_created,
        ]);
        let st = self.stmts.get(&mut *self.client, APPEND)?;
        if self.new_case.is_none() {
            *self.opening_moved = false;
        }
        let row = match self.client.query_one(&st, &params) {
            Ok(row) => row,
            Err(e) => {
                let key = (org.clone(), case_id.clone());
                self.seen.0.remove(&key);
                if e.code() == Some(&SqlState::from_code(MOVED)) {
                    // Writers opening cases at once move the series' counter under each
                    // other: an opening reads it again once before it locks.
                    if self.new_case.is_some() && !std::mem::replace(self.opening_moved, true) {
                        return Err(StoreError::Moved);
                    }
                    *self.opening_moved = false;
                    return Err(self.moved());
                }
                if self.new_case.is_some() && is_unique_violation(&e) {
                    if self.guessed_free {
                        return Err(self.moved());
                    }
                    return Err(StoreError::CaseExists(case_id));
                }
                return Err(db_err(e));
            }
        };
        if let Some(w) = &self.pin {
            self.pinned.insert(w.hash.clone());
        }
        let applied: i32 = row.get(0);
        let ids: Vec<i64> = row.get(1);
        let keys: Vec<String> = row.get(2);
        let timers = self.timers_after(applied, ids, keys);
        let mut head = new_head;
        if let Some(c) = &self.new_case {
            head.workflow = c.workflow.clone();
            head.workflow_hash = c.workflow_hash.clone();
            head.opened_at = c.opened_at;
        }
        match timers {
            Some(timers) => self.seen.keep((org, case_id), head, timers),
            None => {
                self.seen.0.remove(&(org, case_id));
            }
        }
        *self.opening_moved = false;
        Ok(())
    }
}
