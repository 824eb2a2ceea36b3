//! Events: the track each moves, from which states to which, given what.

use super::Compiler;
use crate::workflow::raw::{OneOrMany, RawWorkflow};
use crate::workflow::{EventDef, Workflow};

impl Compiler<'_> {
    /// Events: each moves one track from some states to another, given facts and conditions.
    pub(super) fn events(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        for (name, e) in &raw.events {
            let ev = &e.value;
            let track = wf.tracks.get(&ev.track.value).cloned();
            if track.is_none() {
                self.unknown(&ev.track, "track", wf.tracks.keys());
            }
            let from = match &ev.from.value {
                OneOrMany::One(s) => vec![s.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            if let Some(t) = &track {
                for s in &from {
                    if !t.states.contains(s) {
                        self.err(
                            &ev.from.referenced,
                            format!(
                                "event '{name}': unknown state '{s}' in track '{}' (states: {})",
                                ev.track.value,
                                t.states.join(", ")
                            ),
                        );
                    }
                }
                self.state_ref(
                    &ev.track.value,
                    &t.states,
                    &ev.to,
                    &format!("event '{name}': target state"),
                );
            }
            for r in &ev.requires {
                self.fact_ref(wf, r);
            }
            let when = ev.when.as_ref().and_then(|c| self.condition(wf, c));
            let mut provisos = Vec::new();
            for p in &ev.conditions {
                let pv = &p.value;
                if pv.requires.is_empty() && pv.when.is_none() {
                    self.err(
                        &p.referenced,
                        format!(
                            "event '{name}': a condition needs 'requires' or 'when' besides 'if'"
                        ),
                    );
                }
                for r in &pv.requires {
                    self.fact_ref(wf, r);
                }
                let condition = self.condition(wf, &pv.if_);
                let guard = pv.when.as_ref().and_then(|c| self.condition(wf, c));
                if let Some(condition) = condition {
                    provisos.push(crate::workflow::Proviso {
                        condition,
                        basis: pv.basis.clone(),
                        requires: pv.requires.iter().map(|r| r.value.clone()).collect(),
                        when: guard,
                    });
                }
            }
            wf.events.insert(
                name.clone(),
                EventDef {
                    track: ev.track.value.clone(),
                    from,
                    to: ev.to.value.clone(),
                    requires: ev.requires.iter().map(|r| r.value.clone()).collect(),
                    when,
                    provisos,
                },
            );
        }
    }
}
