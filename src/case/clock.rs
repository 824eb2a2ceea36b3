//! Clocks: the one place where every legal due time is computed, from the workflow and
//! the case. Never stored as truth; a met clock keeps the due time frozen by its event.

use super::Case;
use crate::workflow::{ClockDef, Scope, Start, Workflow};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    /// Applies, not met, not yet due (or waiting for its start).
    Pending,
    /// Applies, not met, past its due time.
    Overdue,
    Met,
    /// Met after its due time.
    Late,
    NotApplicable,
}

impl ClockStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockStatus::Pending => "pending",
            ClockStatus::Overdue => "overdue",
            ClockStatus::Met => "met",
            ClockStatus::Late => "late",
            ClockStatus::NotApplicable => "not_applicable",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClockView {
    pub id: String,
    pub title: String,
    pub basis: Option<String>,
    pub internal: bool,
    pub applies: bool,
    /// The start instant, when known (a fact set, or the starting event happened).
    pub started_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub status: ClockStatus,
    pub met_at: Option<DateTime<Utc>>,
    /// When met: the due time the facts give now, if a correction moved it.
    pub corrected_due_at: Option<DateTime<Utc>>,
    /// What the due time counts from: the fact (`detected_at`, `aware_at`) or event
    /// (`nis2_notification`) whose instant gave it, once known. With `or_earlier`, the
    /// start of the deadline that comes first.
    pub anchor: Option<String>,
}

/// Whether a clock applies: unless its condition is false (unknown applies).
pub fn applies(clock: &ClockDef, case: &Case) -> bool {
    let scope = Scope {
        facts: &case.facts,
        tracks: &case.tracks,
    };
    clock
        .applies
        .as_ref()
        .is_none_or(|c| c.eval(&scope) != Some(false))
}

/// Whether a clock of `wf` applies: its own condition, and its regime's (a clock of
/// NIS2 on a case with `nis2_entity: false` does not).
pub fn applies_in(wf: &Workflow, id: &str, clock: &ClockDef, case: &Case) -> bool {
    applies(clock, case) && super::regime::clock_in_force(wf, id, case)
}

/// When the clock started, if it has.
pub fn started_at(clock: &ClockDef, case: &Case) -> Option<DateTime<Utc>> {
    start_of(&clock.starts, case).map(|(t, _)| t)
}

/// A start's instant, with the fact or event that gave it.
fn start_of<'a>(start: &'a Start, case: &Case) -> Option<(DateTime<Utc>, &'a str)> {
    let fact = |f: &'a String| {
        case.facts
            .get(f)
            .and_then(|v| v.as_datetime())
            .map(|t| (t, f.as_str()))
    };
    match start {
        Start::Fact(f) => fact(f),
        Start::Event(e) => case
            .happened
            .get(e)
            .and_then(|t| t.first().copied())
            .map(|t| (t, e.as_str())),
        // Effective times may be given out of order (`--at`): the latest, not the last recorded.
        Start::LastEvent(e) => case
            .happened
            .get(e)
            .and_then(|t| t.iter().max().copied())
            .map(|t| (t, e.as_str())),
        // The earliest of those set; on a tie, the first listed names it.
        Start::Earliest(facts) => {
            facts
                .iter()
                .filter_map(fact)
                .fold(None, |best: Option<(DateTime<Utc>, &str)>, c| match best {
                    Some(b) if b.0 <= c.0 => Some(b),
                    _ => Some(c),
                })
        }
    }
}

/// The due time the current facts give (None: not started, or no statutory deadline):
/// `within` from the start, or earlier when an `or_earlier` deadline whose start is
/// known comes first. Each period is counted as the clock says (`counting`).
pub fn due_at(wf: &Workflow, clock: &ClockDef, case: &Case) -> Option<DateTime<Utc>> {
    due_and_anchor(wf, clock, case).map(|(d, _)| d)
}

/// [`due_at`], with the fact or event the winning deadline counts from.
pub fn due_and_anchor<'a>(
    wf: &Workflow,
    clock: &'a ClockDef,
    case: &Case,
) -> Option<(DateTime<Utc>, &'a str)> {
    let count = |p, start| crate::counting::due(p, start, wf.timezone, clock.counting, wf.country);
    let (start, anchor) = start_of(&clock.starts, case)?;
    let main = (count(clock.within?, start), anchor);
    Some(
        clock
            .or_earlier
            .iter()
            .filter_map(|(s, p)| start_of(s, case).map(|(t, a)| (count(*p, t), a)))
            .fold(main, |best, c| if c.0 < best.0 { c } else { best }),
    )
}

/// Every clock of the workflow, as of `now`.
pub fn clocks(wf: &Workflow, case: &Case, now: DateTime<Utc>) -> Vec<ClockView> {
    wf.clocks
        .iter()
        .map(|(id, c)| {
            let applies_now = applies_in(wf, id, c, case);
            let current = due_and_anchor(wf, c, case);
            let current_due = current.map(|(d, _)| d);
            // No deadline (no `within`): the start still names what it counts from.
            let anchor = current
                .map(|(_, a)| a)
                .or_else(|| start_of(&c.starts, case).map(|(_, a)| a))
                .map(str::to_string);
            let mut view = ClockView {
                id: id.clone(),
                title: c.title.clone(),
                basis: c.basis.clone(),
                internal: c.internal,
                applies: applies_now,
                started_at: started_at(c, case),
                due_at: None,
                status: ClockStatus::NotApplicable,
                met_at: None,
                corrected_due_at: None,
                anchor,
            };
            if let Some(m) = case.met.get(id) {
                view.applies = m.applies || applies_now;
                view.due_at = m.due_at;
                view.met_at = Some(m.at);
                view.status = if m.late {
                    ClockStatus::Late
                } else if !view.applies {
                    // Met by an event that happened anyway (a complaint filed without
                    // insurance): the obligation itself never applied.
                    ClockStatus::NotApplicable
                } else {
                    ClockStatus::Met
                };
                if current_due != m.due_at {
                    view.corrected_due_at = current_due;
                }
            } else if applies_now {
                view.due_at = current_due;
                view.status = running_status(current_due, now);
            }
            view
        })
        .collect()
}

/// A running clock's status at `now`: the only part of a clock that time alone changes.
fn running_status(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ClockStatus {
    match due {
        Some(d) if now > d => ClockStatus::Overdue,
        _ => ClockStatus::Pending,
    }
}

impl ClockView {
    /// This view as `clocks` would give it at `now` for the same case: a running clock
    /// (pending or overdue) becomes overdue once its due time has passed; nothing else
    /// depends on the time. Lets a list compute a case's clocks once per change.
    pub fn as_of(&self, now: DateTime<Utc>) -> ClockView {
        let mut v = self.clone();
        if matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue) {
            v.status = running_status(v.due_at, now);
        }
        v
    }
}

/// The nearest due time among clocks still running (pending or overdue).
pub fn nearest_due(views: &[ClockView]) -> Option<DateTime<Utc>> {
    views
        .iter()
        .filter(|v| matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue))
        .filter_map(|v| v.due_at)
        .min()
}
