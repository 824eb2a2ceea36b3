//! Regimes (NIS2, DORA, a cyber-insurance policy): which apply to a case. A regime whose
//! condition is false for the case (`nis2_entity: false`) shows nothing: its clocks do
//! not apply, its events are neither offered nor accepted, its documents are not drafted.
//! An unknown condition keeps the regime in force: an unknown never hides an obligation.

use super::Case;
use crate::workflow::{FactValue, Regime, Scope, Workflow};

/// Whether the regime's condition holds for the case: `Some(false)` only when the facts
/// say it does not apply, `None` when they do not say.
pub fn status(regime: &Regime, case: &Case) -> Option<bool> {
    let scope = Scope {
        facts: &case.facts,
        tracks: &case.tracks,
    };
    match &regime.applies {
        None => Some(true),
        Some(c) => c.eval(&scope),
    }
}

/// Whether the regime is in force for the case (true unless its condition is false).
pub fn in_force(regime: &Regime, case: &Case) -> bool {
    status(regime, case) != Some(false)
}

/// The regimes of the workflow that do not apply to the case, by id.
pub fn not_applicable<'a>(wf: &'a Workflow, case: &Case) -> Vec<&'a String> {
    wf.regimes
        .iter()
        .filter(|(_, r)| !in_force(r, case))
        .map(|(id, _)| id)
        .collect()
}

/// Whether a clock's regime (if any) is in force.
pub fn clock_in_force(wf: &Workflow, clock: &str, case: &Case) -> bool {
    wf.regime_of_clock(clock)
        .is_none_or(|(_, r)| in_force(r, case))
}

/// Whether an event's regime (if any) is in force.
pub fn event_in_force(wf: &Workflow, event: &str, case: &Case) -> bool {
    wf.regime_of_event(event)
        .is_none_or(|(_, r)| in_force(r, case))
}

/// The facts a regime's condition reads, as they stand: `nis2_entity=false`, or
/// `dora_entity unset`.
pub fn why(regime: &Regime, case: &Case) -> String {
    let mut facts = Vec::new();
    if let Some(c) = &regime.applies {
        c.facts(&mut facts);
    }
    facts
        .iter()
        .map(|f| match case.facts.get(f) {
            Some(FactValue::Boolean(b)) => format!("{f}={b}"),
            Some(FactValue::Text(s)) => format!("{f}={s}"),
            Some(FactValue::Integer(i)) => format!("{f}={i}"),
            Some(FactValue::List(v)) => format!("{f}=[{}]", v.join(", ")),
            Some(FactValue::DateTime(d)) => format!("{f}={}", d.to_rfc3339()),
            None => format!("{f} unset"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
