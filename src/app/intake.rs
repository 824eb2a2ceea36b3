//! The intake as a workflow declares it (`intake:`, issue 21 part 2): the sections a
//! case's facts are asked in, which of them the authority's form and the risk
//! assessment need, and the facts derived from others (one question per thing asked,
//! the other shapes by a mapping). The pages render what this says.

use crate::case::{Case, regime};
use crate::workflow::{FactType, FactValue, Scope, Section, Workflow};
use serde_json::{Value, json};

/// The facts derived from those a change sets (`intake.derive`), as values to set with
/// them: each derived fact one of whose sources the change sets, not given itself, and
/// whose derived value differs from the case's. A derivation that yields nothing leaves
/// the fact as it is.
pub fn derived(wf: &Workflow, case: &Case, given: &[(String, Value)]) -> Vec<(String, Value)> {
    let Some(intake) = &wf.intake else {
        return Vec::new();
    };
    let mut after = case.facts.clone();
    for (k, v) in given {
        let Some(def) = wf.facts.get(k) else {
            continue;
        };
        if v.is_null() {
            after.remove(k);
        } else if let Ok(fv) = def.coerce(v, wf.timezone) {
            after.insert(k.clone(), fv);
        }
    }
    let scope = Scope {
        facts: &after,
        tracks: &case.tracks,
    };
    let mut out = Vec::new();
    for (fact, rules) in &intake.derive {
        if given.iter().any(|(k, _)| k == fact) {
            continue;
        }
        let mut sources = Vec::new();
        for (_, c) in rules {
            c.facts(&mut sources);
        }
        if !given.iter().any(|(k, _)| sources.contains(k)) {
            continue;
        }
        let def = &wf.facts[fact];
        let mut values: Vec<&String> = Vec::new();
        for (v, c) in rules {
            if c.eval(&scope) == Some(true) && !values.contains(&v) {
                values.push(v);
            }
        }
        let value = match (def.kind, values.first()) {
            (_, None) => continue,
            (FactType::List, _) => json!(values),
            (_, Some(v)) => json!(v),
        };
        let same = match (def.coerce(&value, wf.timezone), case.facts.get(fact)) {
            (Ok(a), Some(b)) => &a == b,
            _ => false,
        };
        if !same {
            out.push((fact.clone(), value));
        }
    }
    out
}

/// The sections shown for a case: those of the workflow's `intake:` whose regime
/// applies (or is not known not to); without `intake:`, every fact in groups of ten.
pub fn sections(wf: &Workflow, case: &Case) -> Vec<Section> {
    match &wf.intake {
        Some(i) => i
            .sections
            .iter()
            .filter(|s| {
                s.regime
                    .as_ref()
                    .and_then(|r| wf.regimes.get(r))
                    .is_none_or(|r| regime::in_force(r, case))
            })
            .cloned()
            .collect(),
        None => wf
            .facts
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .chunks(10)
            .enumerate()
            .map(|(i, facts)| Section {
                id: format!("part{}", i + 1),
                regime: None,
                facts: facts.to_vec(),
            })
            .collect(),
    }
}

/// What a fact is needed for: the authority's form (directly, or through a fact derived
/// from it), the risk assessment.
pub struct Needs {
    pub form: bool,
    pub assessment: bool,
}

pub fn needs(wf: &Workflow, fact: &str) -> Needs {
    let Some(i) = &wf.intake else {
        return Needs {
            form: false,
            assessment: false,
        };
    };
    let form_needs = wf.form_needs();
    let form = form_needs.iter().any(|f| *f == fact)
        || i.derive.iter().any(|(derived, rules)| {
            form_needs.contains(&derived) && {
                let mut sources = Vec::new();
                rules.iter().for_each(|(_, c)| c.facts(&mut sources));
                sources.iter().any(|s| s == fact)
            }
        });
    Needs {
        form,
        assessment: i.assessment.iter().any(|f| f == fact),
    }
}

/// The authority's form's answers not given yet, in the workflow's order.
pub fn form_missing(wf: &Workflow, case: &Case) -> Vec<String> {
    wf.form_needs()
        .into_iter()
        .filter(|f| !case.facts.contains_key(*f))
        .cloned()
        .collect()
}

/// Whether a fact counts as answered (an empty list does not).
pub fn answered(value: Option<&FactValue>) -> bool {
    match value {
        None => false,
        Some(FactValue::List(v)) => !v.is_empty(),
        Some(FactValue::Text(t)) => !t.trim().is_empty(),
        Some(_) => true,
    }
}

/// The facts a step needs that the case does not have: its own, those of a condition
/// that holds (an exemption invoked), and the reasons for a deadline it meets late.
pub fn step_missing(
    wf: &Workflow,
    case: &Case,
    event: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let Some(def) = wf.events.get(event) else {
        return Vec::new();
    };
    let scope = Scope {
        facts: &case.facts,
        tracks: &case.tracks,
    };
    let mut needed: Vec<String> = def.requires.clone();
    for p in &def.provisos {
        if p.condition.eval(&scope) == Some(true) {
            needed.extend(p.requires.iter().cloned());
        }
    }
    let views = crate::case::clocks(wf, case, now);
    for (id, cd) in wf.clocks_met_by(event) {
        let late = views.iter().any(|v| {
            &v.id == id
                && v.status == crate::case::ClockStatus::Overdue
                && v.due_at.is_some_and(|d| d < now)
                && crate::case::regime::clock_in_force(wf, id, case)
        });
        if late {
            needed.extend(cd.late_requires.iter().cloned());
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for f in needed {
        if !case.facts.contains_key(&f) && wf.facts.contains_key(&f) && !missing.contains(&f) {
            missing.push(f);
        }
    }
    missing
}
