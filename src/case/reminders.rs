//! Which reminders a case wants now: derived from its clocks, never stored as truth.
//! Pure: `reconcile` says what the case's timer rows need, and the store applies it in
//! the same transaction as the event that changed the case.

use crate::case::{Case, ClockStatus, clocks};
use crate::time::Period;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The fact whose addresses receive a case's reminders besides the organisation's list.
/// When it changes, the case's dead and failing reminders are requeued.
pub const OWNERS: &str = "owners";

/// One reminder a clock asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub clock: String,
    /// `before-48h`, or `overdue-0`, `overdue-1`, ...: with the case, the idempotency key.
    pub offset: String,
    pub due_at: DateTime<Utc>,
}

impl Planned {
    pub fn is_overdue(&self) -> bool {
        self.offset.starts_with("overdue-")
    }
}

/// The idempotency key of a reminder: stable across restarts, so its Message-ID is too.
pub fn key(org: &str, case_id: &str, clock: &str, offset: &str) -> String {
    format!("{org}/{case_id}/{clock}/{offset}")
}

/// The n-th overdue reminder of a clock due at `due`: at `due`, then every `every`.
pub fn overdue_at(
    due: DateTime<Utc>,
    every: Option<Period>,
    n: u32,
    wf: &Workflow,
) -> Option<DateTime<Utc>> {
    if n == 0 {
        return Some(due);
    }
    let every = every?;
    let mut t = due;
    for _ in 0..n {
        t = every.add_to(t, wf.timezone);
    }
    Some(t)
}

/// The first overdue index whose time is after `now` (or 0): after downtime the series
/// resumes from the present, not with a burst of every missed repeat.
pub fn next_overdue_index(
    due: DateTime<Utc>,
    every: Option<Period>,
    after: DateTime<Utc>,
    wf: &Workflow,
) -> Option<u32> {
    let every = every?;
    let mut n = 1;
    let mut t = every.add_to(due, wf.timezone);
    while t <= after {
        n += 1;
        t = every.add_to(t, wf.timezone);
        if n > 100_000 {
            return None;
        }
    }
    Some(n)
}

/// The reminders of every running clock: one per `remind_before` offset, and the first
/// overdue reminder at the due time. Later overdue reminders are planned when the one
/// before is sent (see `Outbox::complete`).
pub fn plan(wf: &Workflow, case: &Case, now: DateTime<Utc>) -> Vec<Planned> {
    if case.is_closed(wf) {
        return vec![];
    }
    let mut out = Vec::new();
    for view in clocks(wf, case, now) {
        if !matches!(view.status, ClockStatus::Pending | ClockStatus::Overdue) {
            continue;
        }
        let Some(due) = view.due_at else { continue };
        let def = &wf.clocks[&view.id];
        for r in &def.remind_before {
            out.push(Planned {
                clock: view.id.clone(),
                offset: format!("before-{}", r.to_string().replace(' ', "")),
                due_at: r.sub_from(due, wf.timezone),
            });
        }
        out.push(Planned {
            clock: view.id.clone(),
            offset: "overdue-0".into(),
            due_at: due,
        });
    }
    out
}

/// A timer row of a case, as `reconcile` reads it.
pub struct Timer<'a> {
    pub id: i64,
    pub clock: &'a str,
    pub offset: &'a str,
    /// pending | sent | dead | cancelled | superseded | waiting (for a recipient)
    pub state: &'a str,
    pub due_at: DateTime<Utc>,
}

/// What a case's timer rows need so they follow its clocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerChange {
    Cancel(i64),
    Reschedule(i64, DateTime<Utc>),
    /// A new timer (its key is `key(org, case, clock, offset)`).
    Create(Planned),
}

/// Reconciles the case's timer rows with what its clocks want now: the changes, in the
/// order the store applies them (inside the caller's transaction, so a reminder can
/// never be lost between an event and its timer).
pub fn reconcile(
    wf: &Workflow,
    case: &Case,
    timers: &[Timer<'_>],
    now: DateTime<Utc>,
) -> Vec<TimerChange> {
    let planned = plan(wf, case, now);
    let running: HashMap<&str, DateTime<Utc>> = planned
        .iter()
        .filter(|p| p.offset == "overdue-0")
        .map(|p| (p.clock.as_str(), p.due_at))
        .collect();
    // By (clock, offset): a timer's key is `key(org, case, clock, offset)`, made only for
    // the timers to create.
    let mut desired: HashMap<(&str, &str), DateTime<Utc>> = planned
        .iter()
        .map(|p| ((p.clock.as_str(), p.offset.as_str()), p.due_at))
        .collect();
    let mut out = Vec::new();
    for t in timers {
        let want = match desired.remove(&(t.clock, t.offset)) {
            Some(d) => Some(d),
            // Later overdue reminders follow the clock's due time while it runs.
            None if t.offset.starts_with("overdue-") && t.offset != "overdue-0" => {
                running.get(t.clock).and_then(|due| {
                    let n: u32 = t.offset["overdue-".len()..].parse().ok()?;
                    overdue_at(*due, wf.clocks.get(t.clock)?.overdue_every, n, wf)
                })
            }
            None => None,
        };
        match (t.state, want) {
            ("pending" | "waiting", None) => out.push(TimerChange::Cancel(t.id)),
            // Compared as stored (to the microsecond).
            ("pending" | "waiting", Some(d))
                if d.timestamp_micros() != t.due_at.timestamp_micros() =>
            {
                out.push(TimerChange::Reschedule(t.id, d))
            }
            ("cancelled", Some(d)) => out.push(TimerChange::Reschedule(t.id, d)),
            _ => {}
        }
    }
    for p in &planned {
        if desired.contains_key(&(p.clock.as_str(), p.offset.as_str())) {
            out.push(TimerChange::Create(p.clone()));
        }
    }
    out
}
