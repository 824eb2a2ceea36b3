//! A refused step in the reader's language (issue 21 part 6): the core's refusals name
//! ids in English ("event 'close' is not allowed now: track 'authority' is 'pending'");
//! a page says the same with the workflow's labels ("« Clôture » n'est pas possible
//! maintenant : « Autorité » en est à « À notifier »"). The CLI and the API keep the
//! core's message, which scripts read.

use crate::case::{Case, Rejected};
use crate::render::Labels;
use crate::workflow::{Condition, FactTest, FactValue, Scope, Workflow};

/// The refusal in `labels`' language, or None for one the core's words must say.
pub fn refusal_in(wf: &Workflow, case: &Case, r: &Rejected, labels: &Labels) -> Option<String> {
    let q = |id: &str| quoted(labels, labels.get(id));
    let ids = |list: &str| {
        list.split(',')
            .map(|s| s.trim().trim_matches('\''))
            .filter(|s| !s.is_empty())
            .map(&q)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let fill = |key: &str, pairs: &[(&str, String)]| fill(labels, key, pairs);
    Some(match r {
        Rejected::WrongState {
            event,
            track,
            state,
            ..
        } => {
            let needed: Vec<String> = wf
                .events
                .get(event)
                .map(|e| {
                    e.from
                        .iter()
                        .map(|s| quoted(labels, labels.value(track, s)))
                        .collect()
                })
                .unwrap_or_default();
            fill(
                "refused_wrong_state",
                &[
                    ("event", q(event)),
                    ("track", q(track)),
                    ("state", quoted(labels, labels.value(track, state))),
                    ("from", needed.join(", ")),
                ],
            )
        }
        Rejected::ConditionNotMet { event, .. } | Rejected::ConditionNotMetWhen { event, .. } => {
            let reasons = wf
                .events
                .get(event)
                .and_then(|e| e.when.as_ref())
                .map(|c| {
                    let scope = Scope {
                        facts: &case.facts,
                        tracks: &case.tracks,
                    };
                    explain_in(c, &scope, labels).join(" ; ")
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| labels.get("refused_condition_other").to_string());
            fill(
                "refused_condition",
                &[("event", q(event)), ("reasons", reasons)],
            )
        }
        Rejected::RegimeNotApplicable { event, regime, .. } => fill(
            "refused_regime",
            &[("event", q(event)), ("regime", q(regime))],
        ),
        Rejected::MissingFacts { event, facts }
        | Rejected::MissingFactsWhen { event, facts, .. } => fill(
            "refused_missing",
            &[("event", q(event)), ("facts", ids(facts))],
        ),
        Rejected::LateWithoutReasons {
            event,
            clock,
            facts,
            ..
        } => fill(
            "refused_late",
            &[
                ("event", q(event)),
                ("clock", q(clock)),
                ("facts", ids(facts)),
            ],
        ),
        Rejected::BackdatedWithoutReason { .. } => labels.get("refused_backdated").to_string(),
        Rejected::InFuture { .. } => labels.get("refused_in_future").to_string(),
        _ => return None,
    })
}

/// The label `key` with each `{name}` replaced by its value.
fn fill(labels: &Labels, key: &str, pairs: &[(&str, String)]) -> String {
    let mut s = labels.get(key).to_string();
    for (k, v) in pairs {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    s
}

/// A label between the language's quotation marks.
fn quoted(labels: &Labels, text: &str) -> String {
    match labels.lang() {
        crate::time::Lang::Fr => format!("« {text} »"),
        crate::time::Lang::Nl => format!("‘{text}’"),
        crate::time::Lang::En => format!("“{text}”"),
    }
}

/// Why a condition does not hold, each part in words: the labels of the facts, tracks
/// and values it names (the core's `explain`, for a reader).
fn explain_in(cond: &Condition, scope: &Scope, labels: &Labels) -> Vec<String> {
    if cond.eval(scope) == Some(true) {
        return vec![];
    }
    let q = |text: &str| quoted(labels, text);
    let fill = |key: &str, pairs: &[(&str, String)]| fill(labels, key, pairs);
    match cond {
        Condition::All(items) => items
            .iter()
            .flat_map(|c| explain_in(c, scope, labels))
            .collect(),
        Condition::Any(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|c| explain_in(c, scope, labels).join(", "))
                .collect();
            vec![fill("cond_any", &[("parts", parts.join(" / "))])]
        }
        Condition::Not(_) => vec![labels.get("refused_condition_other").to_string()],
        Condition::Track {
            track,
            states,
            negate,
        } => {
            let now = scope.tracks.get(track).cloned().unwrap_or_default();
            let want = states
                .iter()
                .map(|s| q(labels.value(track, s)))
                .collect::<Vec<_>>()
                .join(", ");
            vec![fill(
                if *negate {
                    "cond_track_not"
                } else {
                    "cond_track"
                },
                &[
                    ("track", q(labels.get(track))),
                    ("states", want),
                    ("now", q(labels.value(track, &now))),
                ],
            )]
        }
        Condition::Fact { fact, test } => {
            let shown = |v: &FactValue| match v {
                FactValue::Text(s) => q(labels.value(fact, s)),
                FactValue::List(items) => items
                    .iter()
                    .map(|s| q(labels.value(fact, s)))
                    .collect::<Vec<_>>()
                    .join(", "),
                FactValue::Boolean(b) => labels.get(if *b { "yes" } else { "no" }).to_string(),
                FactValue::Integer(i) => i.to_string(),
                FactValue::DateTime(d) => d.to_rfc3339(),
            };
            let now = scope
                .facts
                .get(fact)
                .map(shown)
                .unwrap_or_else(|| labels.get("cond_unset").to_string());
            let vals = |v: &Vec<FactValue>| v.iter().map(shown).collect::<Vec<_>>().join(", ");
            let f = q(labels.get(fact));
            vec![match test {
                FactTest::In(v) => {
                    fill("cond_in", &[("fact", f), ("values", vals(v)), ("now", now)])
                }
                FactTest::NotIn(v) => fill(
                    "cond_not_in",
                    &[("fact", f), ("values", vals(v)), ("now", now)],
                ),
                FactTest::IsSet(true) => fill("cond_set", &[("fact", f)]),
                FactTest::IsSet(false) => fill("cond_unset_needed", &[("fact", f)]),
                FactTest::AtLeast(n) => fill(
                    "cond_at_least",
                    &[("fact", f), ("n", n.to_string()), ("now", now)],
                ),
            }]
        }
    }
}
