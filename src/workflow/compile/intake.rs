//! The intake (`intake:`): how the case page asks the facts.

use super::{Compiler, is_id};
use crate::workflow::raw::{RawIntake, S};
use crate::workflow::{FactType, Intake, Section, Workflow};
use serde_saphyr::Spanned;
use std::collections::HashMap;

impl Compiler<'_> {
    /// `intake:`: every fact in exactly one section or hidden; the sections' regimes,
    /// the form, the steps and the derived facts' values and conditions checked.
    pub(super) fn intake(&mut self, wf: &Workflow, raw: &Spanned<RawIntake>) -> Intake {
        let r = &raw.value;
        let mut placed: HashMap<String, String> = HashMap::new();
        let mut sections = Vec::new();
        let mut place = |c: &mut Self, f: &S, whr: String| {
            if !wf.facts.contains_key(&f.value) {
                c.unknown(f, "fact", wf.facts.keys());
            } else if let Some(other) = placed.insert(f.value.clone(), whr.clone()) {
                c.err(
                    &f.referenced,
                    format!(
                        "intake: fact '{}' is in {other} and in {whr}: each fact is asked once",
                        f.value
                    ),
                );
            }
        };
        for (id, s) in &r.sections {
            if !is_id(id) {
                self.err(
                    &s.referenced,
                    format!(
                        "intake: section id '{id}' must be lowercase letters, digits, '_' or '-'"
                    ),
                );
            }
            if let Some(reg) = &s.value.regime
                && !wf.regimes.contains_key(&reg.value)
            {
                self.unknown(reg, "regime", wf.regimes.keys());
            }
            if s.value.facts.is_empty() {
                self.err(
                    &s.referenced,
                    format!("intake: section '{id}' asks no fact"),
                );
            }
            for f in &s.value.facts {
                place(self, f, format!("section '{id}'"));
            }
            sections.push(Section {
                id: id.clone(),
                regime: s.value.regime.as_ref().map(|r| r.value.clone()),
                facts: s.value.facts.iter().map(|f| f.value.clone()).collect(),
            });
        }
        for f in &r.hidden {
            place(self, f, "hidden".into());
        }
        let missing: Vec<&String> = wf
            .facts
            .keys()
            .filter(|f| !placed.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            self.err(
                &raw.referenced,
                format!(
                    "intake: every fact is in a section or hidden; not placed: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(d) = &r.form
            && !wf.documents.contains_key(&d.value)
        {
            self.unknown(d, "document", wf.documents.keys());
        }
        if let Some(e) = &r.form_event {
            self.event_ref(wf, e);
        }
        for f in &r.assessment {
            self.fact_ref(wf, f);
        }
        for e in &r.confirm {
            self.event_ref(wf, e);
        }
        let mut derive = Vec::new();
        for (fact, rules) in &r.derive {
            let Some(def) = wf.facts.get(fact) else {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: unknown fact '{fact}'"),
                );
                continue;
            };
            if placed.get(fact).map(String::as_str) != Some("hidden") {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: fact '{fact}' is asked in a section: only a hidden fact is derived"),
                );
            }
            if !matches!(def.kind, FactType::Choice | FactType::List) || def.choices.is_empty() {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: fact '{fact}' is not a choice or a list of choices"),
                );
            }
            let mut out = Vec::new();
            for d in &rules.value {
                if !def.choices.is_empty() && !def.choices.contains(&d.value.value.value) {
                    self.err(
                        &d.value.value.referenced,
                        format!(
                            "intake: derive: '{}' is not a choice of fact '{fact}' (choices: {})",
                            d.value.value.value,
                            def.choices.join(", ")
                        ),
                    );
                }
                if let Some(c) = self.condition(wf, &d.value.when) {
                    out.push((d.value.value.value.clone(), c));
                }
            }
            derive.push((fact.clone(), out));
        }
        Intake {
            sections,
            hidden: r.hidden.iter().map(|f| f.value.clone()).collect(),
            form: r.form.as_ref().map(|d| d.value.clone()),
            form_event: r.form_event.as_ref().map(|e| e.value.clone()),
            assessment: r.assessment.iter().map(|f| f.value.clone()).collect(),
            confirm: r.confirm.iter().map(|e| e.value.clone()).collect(),
            derive,
        }
    }
}
