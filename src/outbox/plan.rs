//! Which reminders a case wants now: derived from its clocks, never stored as truth.
//! Pure: the store reconciles its timer rows with this plan in the same transaction
//! as the event that changed the case.

use crate::case::{Case, ClockStatus, clocks};
use crate::time::Period;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};

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
