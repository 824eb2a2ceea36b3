//! Structured conditions (`fact`, `equals`, `in`, `not_in`, `is_set`, `track`, `all`,
//! `any`, `not`) evaluated in three-valued logic: a comparison on an unset fact is
//! unknown, so that an unknown never suppresses an obligation.

use super::fact::FactValue;
use indexmap::IndexMap;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    Fact {
        fact: String,
        test: FactTest,
    },
    Track {
        track: String,
        states: Vec<String>,
        negate: bool,
    },
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum FactTest {
    In(Vec<FactValue>),
    NotIn(Vec<FactValue>),
    IsSet(bool),
    /// An integer fact at least this large.
    AtLeast(i64),
}

/// What a condition reads: the case's facts and the state of each track.
pub struct Scope<'a> {
    pub facts: &'a BTreeMap<String, FactValue>,
    pub tracks: &'a IndexMap<String, String>,
}

fn matches(value: &FactValue, wanted: &FactValue) -> bool {
    match (value, wanted) {
        (FactValue::List(items), FactValue::Text(w)) => items.iter().any(|i| i == w),
        _ => value == wanted,
    }
}

impl Condition {
    /// `Some(true)`, `Some(false)`, or `None` when it depends on an unset fact.
    pub fn eval(&self, scope: &Scope) -> Option<bool> {
        match self {
            Condition::Fact { fact, test } => {
                let value = scope.facts.get(fact);
                match (test, value) {
                    (FactTest::IsSet(want), v) => Some(v.is_some() == *want),
                    (_, None) => None,
                    (FactTest::In(set), Some(v)) => Some(set.iter().any(|w| matches(v, w))),
                    (FactTest::NotIn(set), Some(v)) => Some(!set.iter().any(|w| matches(v, w))),
                    (FactTest::AtLeast(n), Some(v)) => match v {
                        FactValue::Integer(i) => Some(i >= n),
                        _ => None,
                    },
                }
            }
            Condition::Track {
                track,
                states,
                negate,
            } => {
                let state = scope.tracks.get(track)?;
                Some(states.contains(state) != *negate)
            }
            Condition::All(items) => {
                let mut unknown = false;
                for c in items {
                    match c.eval(scope) {
                        Some(false) => return Some(false),
                        None => unknown = true,
                        Some(true) => {}
                    }
                }
                if unknown { None } else { Some(true) }
            }
            Condition::Any(items) => {
                let mut unknown = false;
                for c in items {
                    match c.eval(scope) {
                        Some(true) => return Some(true),
                        None => unknown = true,
                        Some(false) => {}
                    }
                }
                if unknown { None } else { Some(false) }
            }
            Condition::Not(inner) => inner.eval(scope).map(|b| !b),
        }
    }

    /// The facts this condition reads (for "what is still needed" hints).
    pub fn facts(&self, out: &mut Vec<String>) {
        match self {
            Condition::Fact { fact, .. } => {
                if !out.contains(fact) {
                    out.push(fact.clone())
                }
            }
            Condition::Track { .. } => {}
            Condition::All(v) | Condition::Any(v) => v.iter().for_each(|c| c.facts(out)),
            Condition::Not(c) => c.facts(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with(
        facts: &[(&str, FactValue)],
    ) -> (BTreeMap<String, FactValue>, IndexMap<String, String>) {
        let f = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut t = IndexMap::new();
        t.insert("authority".to_string(), "pending".to_string());
        (f, t)
    }

    fn text(s: &str) -> FactValue {
        FactValue::Text(s.into())
    }

    #[test]
    fn unset_facts_are_unknown_and_kleene_logic_holds() {
        let (f, t) = scope_with(&[("cause", text("external_malicious"))]);
        let scope = Scope {
            facts: &f,
            tracks: &t,
        };
        let insured = Condition::Fact {
            fact: "cyber_insured".into(),
            test: FactTest::In(vec![FactValue::Boolean(true)]),
        };
        let malicious = Condition::Fact {
            fact: "cause".into(),
            test: FactTest::In(vec![text("external_malicious"), text("internal_malicious")]),
        };
        let accidental = Condition::Fact {
            fact: "cause".into(),
            test: FactTest::In(vec![text("internal_accidental")]),
        };
        assert_eq!(insured.eval(&scope), None);
        assert_eq!(malicious.eval(&scope), Some(true));
        assert_eq!(
            Condition::All(vec![insured.clone(), malicious.clone()]).eval(&scope),
            None
        );
        assert_eq!(
            Condition::All(vec![insured.clone(), accidental.clone()]).eval(&scope),
            Some(false)
        );
        assert_eq!(
            Condition::Any(vec![insured.clone(), malicious]).eval(&scope),
            Some(true)
        );
        assert_eq!(
            Condition::Any(vec![insured.clone(), accidental]).eval(&scope),
            None
        );
        assert_eq!(Condition::Not(Box::new(insured)).eval(&scope), None);
        let is_set = Condition::Fact {
            fact: "risk".into(),
            test: FactTest::IsSet(false),
        };
        assert_eq!(is_set.eval(&scope), Some(true));
    }

    #[test]
    fn lists_match_any_element_and_tracks_compare_states() {
        let (f, t) = scope_with(&[(
            "nature",
            FactValue::List(vec!["confidentiality".into(), "integrity".into()]),
        )]);
        let scope = Scope {
            facts: &f,
            tracks: &t,
        };
        let has_integrity = Condition::Fact {
            fact: "nature".into(),
            test: FactTest::In(vec![text("integrity")]),
        };
        let no_availability = Condition::Fact {
            fact: "nature".into(),
            test: FactTest::NotIn(vec![text("availability")]),
        };
        assert_eq!(has_integrity.eval(&scope), Some(true));
        assert_eq!(no_availability.eval(&scope), Some(true));
        let pending = Condition::Track {
            track: "authority".into(),
            states: vec!["pending".into()],
            negate: true,
        };
        assert_eq!(pending.eval(&scope), Some(false));
    }
}
