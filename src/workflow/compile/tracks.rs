//! Tracks: their states, and which states and events can be reached.

use super::Compiler;
use crate::workflow::raw::RawWorkflow;
use crate::workflow::{EventDef, Track, Workflow};
use indexmap::IndexMap;
use std::collections::{HashSet, VecDeque};

impl Compiler<'_> {
    /// Tracks and their states.
    pub(super) fn tracks(&mut self, raw: &RawWorkflow) -> IndexMap<String, Track> {
        let mut tracks = IndexMap::new();
        for (name, t) in &raw.tracks {
            let mut states: Vec<String> = Vec::new();
            for s in &t.value.states {
                if states.contains(&s.value) {
                    self.err(
                        &s.referenced,
                        format!("track '{name}': state '{}' is listed twice", s.value),
                    );
                } else {
                    states.push(s.value.clone());
                }
            }
            self.state_ref(name, &states, &t.value.initial, "initial state");
            for f in &t.value.finals {
                self.state_ref(name, &states, f, "final state");
            }
            if t.value.finals.is_empty() {
                self.err(&t.referenced, format!("track '{name}' has no final state"));
            }
            tracks.insert(
                name.clone(),
                Track {
                    initial: t.value.initial.value.clone(),
                    states,
                    finals: t.value.finals.iter().map(|f| f.value.clone()).collect(),
                },
            );
        }
        tracks
    }

    /// Reachability, per track: every state reachable from the initial one, and a final
    /// state reachable from every state. Returns the events that can happen.
    pub(super) fn reachability(&mut self, wf: &Workflow, raw: &RawWorkflow) -> HashSet<String> {
        let mut possible_events: HashSet<String> = HashSet::new();
        for (tname, t) in &raw.tracks {
            let Some(track) = wf.tracks.get(tname) else {
                continue;
            };
            let edges: Vec<(&String, &EventDef)> = wf
                .events
                .iter()
                .filter(|(_, e)| &e.track == tname)
                .collect();
            let mut reached: HashSet<&str> = HashSet::from([track.initial.as_str()]);
            let mut queue = VecDeque::from([track.initial.as_str()]);
            while let Some(s) = queue.pop_front() {
                for (ename, e) in &edges {
                    if e.from.iter().any(|f| f == s) {
                        possible_events.insert((*ename).clone());
                        if reached.insert(e.to.as_str()) {
                            queue.push_back(e.to.as_str());
                        }
                    }
                }
            }
            for s in &t.value.states {
                if !reached.contains(s.value.as_str()) && track.states.contains(&s.value) {
                    self.err(
                        &s.referenced,
                        format!(
                            "track '{tname}': state '{}' cannot be reached from '{}'",
                            s.value, track.initial
                        ),
                    );
                }
            }
            let mut settles: HashSet<&str> = track.finals.iter().map(String::as_str).collect();
            loop {
                let before = settles.len();
                for (_, e) in &edges {
                    if settles.contains(e.to.as_str()) {
                        for f in &e.from {
                            settles.insert(f.as_str());
                        }
                    }
                }
                if settles.len() == before {
                    break;
                }
            }
            for s in &t.value.states {
                if reached.contains(s.value.as_str()) && !settles.contains(s.value.as_str()) {
                    self.err(
                        &s.referenced,
                        format!(
                            "track '{tname}': no final state ({}) can be reached from '{}'",
                            track.finals.join(", "),
                            s.value
                        ),
                    );
                }
            }
        }
        for (name, e) in &raw.events {
            if wf.tracks.contains_key(&e.value.track.value) && !possible_events.contains(name) {
                self.err(&e.value.from.referenced, format!("event '{name}' can never happen: track '{}' never reaches any of its 'from' states", e.value.track.value));
            }
        }
        possible_events
    }
}
