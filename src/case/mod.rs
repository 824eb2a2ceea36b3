//! Cases: the functional core. `decide` turns a command and the current case into new
//! events or a rejection with a reason; `evolve` folds events into the case. Neither
//! touches a database, a clock or a network.

pub mod clock;
mod decide;
pub mod event;
pub mod regime;
pub mod reminders;

pub use clock::{ClockStatus, ClockView, clocks};
pub use decide::{Command, Rejected, decide};
pub use event::{
    Acknowledgement, CampaignRun, EventBody, MetClock, Recorded, Submission, backdating_text,
};

use crate::workflow::{FactValue, Workflow};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A case as its events say it is.
#[derive(Clone, Debug)]
pub struct Case {
    pub org: String,
    pub id: String,
    pub workflow: String,
    pub workflow_hash: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub facts: BTreeMap<String, FactValue>,
    /// track → current state
    pub tracks: IndexMap<String, String>,
    /// workflow event → the effective times it happened, in order
    pub happened: BTreeMap<String, Vec<DateTime<Utc>>>,
    /// clock → the record frozen by the event that met it
    pub met: BTreeMap<String, Met>,
    pub seq: i64,
    pub last_hash: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Met {
    pub event: String,
    pub at: DateTime<Utc>,
    pub applies: bool,
    pub due_at: Option<DateTime<Utc>>,
    pub late: bool,
}

impl Case {
    /// Whether the workflow's `close` event has moved its track to its target.
    pub fn is_closed(&self, wf: &Workflow) -> bool {
        // A case is closed when the track of the `close` event (if any) reached its target.
        match wf.events.get("close") {
            Some(close) => self.tracks.get(&close.track) == Some(&close.to),
            None => false,
        }
    }
}

pub(crate) fn apply_facts(
    wf: &Workflow,
    facts: &mut BTreeMap<String, FactValue>,
    set: &Map<String, Value>,
) {
    for (k, v) in set {
        if v.is_null() {
            facts.remove(k);
        } else if let Some(value) = wf.facts.get(k).and_then(|d| d.from_stored(v)) {
            facts.insert(k.clone(), value);
        }
    }
}

/// Folds one event into the case. The first event must be `Opened`.
pub fn evolve(wf: &Workflow, case: Option<Case>, ev: &Recorded) -> Case {
    let mut case = match (case, &ev.body) {
        (
            None,
            EventBody::Opened {
                workflow,
                workflow_hash,
                title,
                ..
            },
        ) => Case {
            org: ev.org.clone(),
            id: ev.case_id.clone(),
            workflow: workflow.clone(),
            workflow_hash: workflow_hash.clone(),
            title: title.clone(),
            opened_at: ev.at,
            facts: BTreeMap::new(),
            tracks: wf
                .tracks
                .iter()
                .map(|(k, t)| (k.clone(), t.initial.clone()))
                .collect(),
            happened: BTreeMap::new(),
            met: BTreeMap::new(),
            seq: 0,
            last_hash: String::new(),
        },
        (Some(c), _) => c,
        (None, _) => panic!("a case log starts with an Opened event"),
    };
    match &ev.body {
        EventBody::Opened { facts, .. } | EventBody::FactsSet { facts, .. } => {
            apply_facts(wf, &mut case.facts, facts)
        }
        EventBody::Advanced {
            event,
            track,
            to,
            facts,
            met,
            ..
        } => {
            apply_facts(wf, &mut case.facts, facts);
            case.tracks.insert(track.clone(), to.clone());
            case.happened.entry(event.clone()).or_default().push(ev.at);
            for m in met {
                case.met.entry(m.clock.clone()).or_insert(Met {
                    event: event.clone(),
                    at: ev.at,
                    applies: m.applies,
                    due_at: m.due_at,
                    late: m.late,
                });
            }
        }
        EventBody::DocumentIssued { .. } | EventBody::NotificationCampaign(_) => {}
    }
    case.seq = ev.seq;
    case.last_hash = ev.hash.clone();
    case
}

/// Folds a whole log.
pub fn fold(wf: &Workflow, events: &[Recorded]) -> Option<Case> {
    events
        .iter()
        .fold(None, |case, ev| Some(evolve(wf, case, ev)))
}

#[cfg(test)]
mod tests;
