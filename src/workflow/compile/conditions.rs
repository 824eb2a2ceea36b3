//! Conditions (`when:`, `applies:`, `if:`): facts and tracks tested.

use super::Compiler;
use crate::workflow::raw::RawCondition;
use crate::workflow::{Condition, FactDef, FactTest, FactType, Workflow};
use serde_saphyr::Spanned;

impl Compiler<'_> {
    pub(super) fn condition(
        &mut self,
        wf: &Workflow,
        c: &Spanned<RawCondition>,
    ) -> Option<Condition> {
        let at = &c.referenced;
        let r = &c.value;
        let forms = [
            r.fact.is_some(),
            r.track.is_some(),
            r.all.is_some(),
            r.any.is_some(),
            r.not.is_some(),
        ];
        if forms.iter().filter(|b| **b).count() != 1 {
            self.err(
                at,
                "a condition needs exactly one of fact, track, all, any, not",
            );
            return None;
        }
        let tests = [
            r.equals.is_some(),
            r.in_.is_some(),
            r.not_in.is_some(),
            r.is_set.is_some(),
            r.at_least.is_some(),
        ];
        let n_tests = tests.iter().filter(|b| **b).count();
        if let Some(items) = &r.all {
            return Some(Condition::All(
                items.iter().filter_map(|i| self.condition(wf, i)).collect(),
            ));
        }
        if let Some(items) = &r.any {
            return Some(Condition::Any(
                items.iter().filter_map(|i| self.condition(wf, i)).collect(),
            ));
        }
        if let Some(inner) = &r.not {
            return self
                .condition(wf, inner)
                .map(|c| Condition::Not(Box::new(c)));
        }
        if let Some(track) = &r.track {
            let Some(t) = wf.tracks.get(&track.value) else {
                self.unknown(track, "track", wf.tracks.keys());
                return None;
            };
            if n_tests != 1 || r.is_set.is_some() || r.at_least.is_some() {
                self.err(
                    at,
                    format!(
                        "condition on track '{}' needs one of equals, in, not_in",
                        track.value
                    ),
                );
                return None;
            }
            let (values, negate) = match (&r.equals, &r.in_, &r.not_in) {
                (Some(v), _, _) => (vec![v.clone()], false),
                (_, Some(v), _) => (v.clone(), false),
                (_, _, Some(v)) => (v.clone(), true),
                _ => unreachable!("checked above"),
            };
            let mut states = Vec::new();
            for v in values {
                let s = v.as_str().unwrap_or_default().to_string();
                if !t.states.contains(&s) {
                    self.err(
                        at,
                        format!(
                            "condition: '{}' is not a state of track '{}' (states: {})",
                            json_text(&v),
                            track.value,
                            t.states.join(", ")
                        ),
                    );
                }
                states.push(s);
            }
            return Some(Condition::Track {
                track: track.value.clone(),
                states,
                negate,
            });
        }
        let fact = r.fact.as_ref().expect("one form is set");
        let Some(def) = wf.facts.get(&fact.value) else {
            self.unknown(fact, "fact", wf.facts.keys());
            return None;
        };
        if n_tests != 1 {
            self.err(
                at,
                format!(
                    "condition on fact '{}' needs exactly one of equals, in, not_in, is_set, at_least",
                    fact.value
                ),
            );
            return None;
        }
        if let Some(n) = r.at_least {
            if def.kind != FactType::Integer {
                self.err(
                    at,
                    format!(
                        "condition on fact '{}': at_least compares integers, and this fact is {}",
                        fact.value,
                        def.kind.name()
                    ),
                );
                return None;
            }
            return Some(Condition::Fact {
                fact: fact.value.clone(),
                test: FactTest::AtLeast(n),
            });
        }
        if let Some(b) = r.is_set {
            return Some(Condition::Fact {
                fact: fact.value.clone(),
                test: FactTest::IsSet(b),
            });
        }
        let (values, negate) = match (&r.equals, &r.in_, &r.not_in) {
            (Some(v), _, _) => (vec![v.clone()], false),
            (_, Some(v), _) => (v.clone(), false),
            (_, _, Some(v)) => (v.clone(), true),
            _ => unreachable!("checked above"),
        };
        // A list fact is compared element by element: type each value as one choice.
        let item_def = FactDef {
            kind: if matches!(def.kind, FactType::List | FactType::Emails) {
                FactType::Choice
            } else {
                def.kind
            },
            choices: def.choices.clone(),
            format: def.format,
        };
        let mut typed = Vec::new();
        for v in &values {
            let coerced = if item_def.kind == FactType::Choice && item_def.choices.is_empty() {
                // a free list: any string
                v.as_str()
                    .map(|s| crate::workflow::FactValue::Text(s.to_string()))
                    .ok_or(())
            } else {
                item_def.coerce(v, wf.timezone).map_err(|e| {
                    self.err(at, format!("condition on fact '{}': {e}", fact.value));
                })
            };
            if let Ok(t) = coerced {
                typed.push(t);
            }
        }
        let test = if negate {
            FactTest::NotIn(typed)
        } else {
            FactTest::In(typed)
        };
        Some(Condition::Fact {
            fact: fact.value.clone(),
            test,
        })
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
