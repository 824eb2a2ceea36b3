//! Clocks: when each starts, its period and counting, and what meets it.

use super::Compiler;
use crate::counting::Counting;
use crate::workflow::raw::{OneOrMany, RawStart, RawWorkflow, S};
use crate::workflow::{ClockDef, FactType, Start, Workflow};
use serde_saphyr::Spanned;
use std::collections::HashSet;

impl Compiler<'_> {
    /// Clocks: when each starts, its period, how it counts, and the events that meet it.
    pub(super) fn clocks(
        &mut self,
        wf: &mut Workflow,
        raw: &RawWorkflow,
        possible_events: &HashSet<String>,
    ) {
        for (name, c) in &raw.clocks {
            let ck = &c.value;
            let starts = self.start(wf, name, &ck.starts);
            let within = ck
                .within
                .as_ref()
                .and_then(|w| self.period(w, &format!("clock '{name}' within")));
            let mut or_earlier = Vec::new();
            for alt in &ck.or_earlier {
                let start = self.start(wf, name, &alt.value.starts);
                if let Some(p) = self.period(
                    &alt.value.within,
                    &format!("clock '{name}' or_earlier within"),
                ) {
                    or_earlier.push((start, p));
                }
            }
            if !ck.or_earlier.is_empty() && ck.within.is_none() {
                self.err(
                    &ck.or_earlier[0].referenced,
                    format!("clock '{name}': or_earlier needs the clock's own 'within'"),
                );
            }
            let counting = match &ck.counting {
                None => Counting::Conservative,
                Some(c) => match Counting::parse(&c.value) {
                    Some(Counting::Eu1182_71) if wf.country.is_none() => {
                        self.err(
                            &c.referenced,
                            format!("clock '{name}': counting eu_1182_71 needs the workflow's 'country' (FR or BE), whose public holidays it skips"),
                        );
                        Counting::Eu1182_71
                    }
                    Some(k) => k,
                    None => {
                        self.err(
                            &c.referenced,
                            format!(
                                "clock '{name}': unknown counting {}: use conservative or eu_1182_71",
                                crate::util::quote(&c.value)
                            ),
                        );
                        Counting::Conservative
                    }
                },
            };
            let applies = ck.applies.as_ref().and_then(|a| self.condition(wf, a));
            let met_by = match &ck.met_by.value {
                OneOrMany::One(s) => vec![s.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            for m in &met_by {
                if !wf.events.contains_key(m) {
                    self.err(
                        &ck.met_by.referenced,
                        format!(
                            "clock '{name}' is met by unknown event '{m}'{}",
                            crate::util::did_you_mean(m, wf.events.keys())
                        ),
                    );
                } else if !possible_events.contains(m) {
                    self.err(
                        &ck.met_by.referenced,
                        format!("clock '{name}' is met by event '{m}', which can never happen"),
                    );
                }
            }
            for r in &ck.late_requires {
                self.fact_ref(wf, r);
            }
            let remind_before = ck
                .remind_before
                .iter()
                .filter_map(|r| self.period(r, &format!("clock '{name}' remind_before")))
                .collect();
            let overdue_every = ck
                .overdue_every
                .as_ref()
                .and_then(|o| self.period(o, &format!("clock '{name}' overdue_every")));
            wf.clocks.insert(
                name.clone(),
                ClockDef {
                    title: ck.title.clone(),
                    basis: ck.basis.clone(),
                    starts,
                    within,
                    or_earlier,
                    counting,
                    internal: ck.internal,
                    applies,
                    met_by,
                    late_requires: ck.late_requires.iter().map(|r| r.value.clone()).collect(),
                    remind_before,
                    overdue_every,
                },
            );
        }
    }

    /// A clock's `starts`: exactly one of a fact (a datetime), an event (its first time),
    /// `last_event` (its latest time) or `earliest` (the earliest of several datetime facts).
    pub(super) fn start(&mut self, wf: &Workflow, name: &str, raw: &Spanned<RawStart>) -> Start {
        let r = &raw.value;
        match (&r.fact, &r.event, &r.last_event, &r.earliest) {
            (Some(f), None, None, None) => {
                self.datetime_fact_ref(wf, name, f);
                Start::Fact(f.value.clone())
            }
            (None, Some(e), None, None) => {
                self.event_ref(wf, e);
                Start::Event(e.value.clone())
            }
            (None, None, Some(e), None) => {
                self.event_ref(wf, e);
                Start::LastEvent(e.value.clone())
            }
            (None, None, None, Some(list)) => {
                let mut facts: Vec<String> = Vec::new();
                for f in &list.value {
                    if facts.contains(&f.value) {
                        self.err(
                            &f.referenced,
                            format!(
                                "clock '{name}': starts.earliest lists fact '{}' twice",
                                f.value
                            ),
                        );
                        continue;
                    }
                    self.datetime_fact_ref(wf, name, f);
                    facts.push(f.value.clone());
                }
                if list.value.len() < 2 {
                    self.err(
                        &list.referenced,
                        format!("clock '{name}': starts.earliest needs at least two datetime facts (for one, write starts: {{ fact: F }})"),
                    );
                }
                Start::Earliest(facts)
            }
            _ => {
                self.err(
                    &raw.referenced,
                    format!("clock '{name}': starts needs exactly one of 'fact', 'event', 'last_event' or 'earliest'"),
                );
                Start::Fact(String::new())
            }
        }
    }

    /// A fact a clock starts at: known, and a datetime.
    pub(super) fn datetime_fact_ref(&mut self, wf: &Workflow, clock: &str, f: &S) {
        self.fact_ref(wf, f);
        if let Some(d) = wf.facts.get(&f.value)
            && d.kind != FactType::DateTime
        {
            self.err(
                &f.referenced,
                format!(
                    "clock '{clock}' starts at fact '{}', which is not a datetime",
                    f.value
                ),
            );
        }
    }
}
