//! What an `assess` event records, the event's contract: the assessment frozen in it
//! as JSON (also `vigie assess --json` and the API), and the decision read back from
//! the log, which the register and the assessment pages show.

use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The last `assess` event of a case: what was decided, on which assessment.
pub struct RecordedDecision {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    /// The risk decided (`risk` as the event left it).
    pub risk: Option<String>,
    pub rationale: Option<String>,
    /// The assessment frozen in the event (None: recorded without one, before vigie
    /// assessed, or by an older version).
    pub assessment: Option<Value>,
}

impl RecordedDecision {
    /// The risk the frozen assessment recommended.
    pub fn recommended_risk(&self) -> Option<&str> {
        self.assessment.as_ref()?.get("risk")?.as_str()
    }
    /// Whether the decision departs from the recommendation it was taken on.
    pub fn departs(&self) -> bool {
        match (self.recommended_risk(), self.risk.as_deref()) {
            (Some(rec), Some(decided)) => rec != decided,
            _ => false,
        }
    }
}

/// The JSON of an assessment (`vigie assess --json`, the API, and frozen in the `assess`
/// event): a public contract. Numbers are ENISA's (0.25 steps); `inputs` holds the facts
/// the rules read, as they were (text facts only as "set", never their words).
pub fn assessment_json(
    wf: &Workflow,
    a: &crate::assess::Assessment,
    facts: &std::collections::BTreeMap<String, crate::workflow::FactValue>,
) -> Value {
    use crate::workflow::FactValue;
    let q = |n: i64| json!(n as f64 / 4.0);
    let reasons = |rs: &[crate::assess::Reason]| -> Value {
        rs.iter()
            .map(|r| json!({ "rule": r.rule, "about": r.about.as_str(), "text": r.text, "data": r.data }))
            .collect()
    };
    let mut inputs = Map::new();
    for f in &a.inputs {
        let v = match facts.get(f) {
            None => Value::Null,
            Some(FactValue::Text(_)) if wf.facts.get(f).is_some_and(|d| d.choices.is_empty()) => {
                json!("set")
            }
            Some(v) => v.to_display_json(wf.timezone),
        };
        inputs.insert(f.clone(), v);
    }
    json!({
        "workflow": wf.id,
        "rules_version": a.rules_version,
        "lang": a.lang.code(),
        "severity": {
            "dpc": { "value": q(a.dpc.value), "why": reasons(&a.dpc.why) },
            "ei": { "value": q(a.ei.value), "why": reasons(&a.ei.why) },
            "cb": { "value": q(a.cb.value), "why": reasons(&a.cb.why) },
            "score": q(a.score),
            "band": a.band.as_str(),
        },
        "edpb_severity": a.edpb_severity,
        "risk": a.risk.as_str(),
        "document": true,
        "notify_authority": a.notify_authority,
        "inform_individuals": a.inform_individuals,
        "reasons": reasons(&a.reasons),
        "missing": a.missing,
        "exemptions": a.exemptions.iter().map(|x| json!({ "ground": x.ground, "rule": x.rule, "text": x.text })).collect::<Vec<_>>(),
        "inputs": inputs,
    })
}
