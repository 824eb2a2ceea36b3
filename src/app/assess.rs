//! The risk assessment's use-cases (issue 11): a case's assessment beside the one
//! recorded, accepting it (the `assess` event, with the assessment frozen in it), a
//! what-if on facts without a case, and the departure rule (a decision that departs
//! from the recommendation needs its rationale, given with the decision).

use super::{App, AppError, Change};
use crate::assess::{self, Assessment, Risk, Rules};
use crate::case::{Command, EventBody};
use crate::store::{Loaded, Store};
use crate::time::Lang;
use crate::workflow::{FactValue, Workflow};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A case's assessment now, and the decision recorded last (if any).
pub struct CaseAssessment {
    pub case: Arc<Loaded>,
    /// The rules' recommendation on the case's facts as they are now.
    pub current: Assessment,
    pub recorded: Option<RecordedDecision>,
}

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

/// The last decision recorded in a case's log by `event`.
pub fn recorded_decision(l: &Loaded, rules: Option<&Rules>) -> Option<RecordedDecision> {
    let event_name = rules.map(|r| r.records.event.as_str()).unwrap_or("assess");
    let (risk_fact, rationale_fact) = rules
        .map(|r| (r.records.risk.as_str(), r.records.rationale.as_str()))
        .unwrap_or(("risk", "risk_rationale"));
    // Facts as they stood after each event: fold them as we go.
    let mut facts: BTreeMap<String, FactValue> = BTreeMap::new();
    let mut out = None;
    for e in l.events.iter() {
        match &e.body {
            EventBody::Opened { facts: f, .. } | EventBody::FactsSet { facts: f, .. } => {
                crate::case::apply_facts(&l.workflow, &mut facts, f)
            }
            EventBody::Advanced {
                event,
                facts: f,
                assessment,
                ..
            } => {
                crate::case::apply_facts(&l.workflow, &mut facts, f);
                if event == event_name {
                    let text = |k: &str| match facts.get(k) {
                        Some(FactValue::Text(s)) => Some(s.clone()),
                        _ => None,
                    };
                    out = Some(RecordedDecision {
                        seq: e.seq,
                        at: e.at,
                        actor: e.actor.clone(),
                        risk: text(risk_fact),
                        rationale: text(rationale_fact),
                        assessment: assessment.clone(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

impl App {
    /// The rules of a workflow (by id: the current rules, whatever text the case pinned).
    pub fn rules(&self, workflow: &str) -> Result<Arc<Rules>, AppError> {
        self.workflows.rules(workflow).ok_or_else(|| {
            AppError::Input(format!(
                "workflow {} names no assessment rules (add `assessment: rules/assessment.yaml`)",
                crate::util::quote(workflow)
            ))
        })
    }

    /// The language of `org`'s assessments: its profile's, else the workflow's.
    pub fn assess_lang(
        &self,
        store: &mut Store,
        org: &str,
        wf: &Workflow,
    ) -> Result<Lang, AppError> {
        Ok(self.profile(store, org)?.lang().unwrap_or(wf.lang))
    }

    fn evaluate(
        &self,
        rules: &Rules,
        wf: &Workflow,
        facts: &BTreeMap<String, FactValue>,
        tracks: &indexmap::IndexMap<String, String>,
        lang: Lang,
    ) -> Result<Assessment, AppError> {
        let labels = self.templates.labels(wf, lang)?;
        Ok(assess::assess(rules, facts, tracks, lang, &labels))
    }

    /// The assessment of a case of `org` on its facts now, beside the decision recorded.
    pub fn assessment(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
    ) -> Result<CaseAssessment, AppError> {
        let l = self.case(store, org, id)?;
        let lang = self.assess_lang(store, org, &l.workflow)?;
        self.assessment_of(l, lang)
    }

    /// The assessment of a case already read, in `lang` (see `assess_lang`): what the
    /// case page shows of exactly the case and language it keyed its render on.
    pub fn assessment_of(&self, l: Arc<Loaded>, lang: Lang) -> Result<CaseAssessment, AppError> {
        let rules = self.rules(&l.workflow.id)?;
        let current = self.evaluate(&rules, &l.workflow, &l.case.facts, &l.case.tracks, lang)?;
        let recorded = recorded_decision(&l, Some(&rules));
        Ok(CaseAssessment {
            case: l,
            current,
            recorded,
        })
    }

    /// Accepts the recommendation: records the `assess` event with the assessment
    /// frozen in it, `risk` set to the recommended one and `risk_rationale` to the
    /// reasons. `expected_seq`: the last event the caller saw (a newer one refuses).
    pub fn accept_assessment(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        expected_seq: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<CaseAssessment, AppError> {
        // Without a page's `expected_seq` (the CLI), a case moved meanwhile is assessed
        // again and the recommendation as it now stands is accepted.
        let mut tries = 0;
        loop {
            match self.accept_once(store, org, actor, id, expected_seq, now) {
                Err(AppError::Store(crate::store::StoreError::Conflict { .. }))
                    if expected_seq.is_none() && tries < 20 =>
                {
                    tries += 1;
                }
                r => return r,
            }
        }
    }

    fn accept_once(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        expected_seq: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<CaseAssessment, AppError> {
        let before = self.assessment(store, org, id)?;
        // Accepting again what is already accepted records nothing (a retried request,
        // a form sent twice): the answer is the decision as it stands.
        if before.is_accepted() {
            return Ok(before);
        }
        let rules = self.rules(&before.case.workflow.id)?;
        let a = &before.current;
        let rationale = accepted_rationale(a);
        let frozen =
            super::json::assessment_json(&before.case.workflow, a, &before.case.case.facts);
        let cmd = Command::Assess {
            event: rules.records.event.clone(),
            facts: vec![
                (
                    rules.records.risk.clone(),
                    Value::String(a.risk.as_str().into()),
                ),
                (rules.records.rationale.clone(), Value::String(rationale)),
            ],
            note: None,
            at: now,
            assessment: frozen,
            reason: None,
        };
        let seq = expected_seq.or(Some(before.case.case.seq));
        let l = Arc::new(store.execute_at_seq(org, id, &cmd, actor, now, seq)?);
        self.remember(l);
        self.wake(store);
        self.assessment(store, org, id)
    }

    /// The assessment of facts without a case (`vigie assess --workflow fr --facts FILE`),
    /// in `lang` (None: the workflow's). Returns the workflow too, for the JSON.
    pub fn what_if(
        &self,
        workflow: &str,
        facts: Vec<(String, Value)>,
        lang: Option<Lang>,
    ) -> Result<(Arc<Workflow>, BTreeMap<String, FactValue>, Assessment), AppError> {
        let wf = self.workflow(workflow)?;
        let rules = self.rules(workflow)?;
        let typed = type_facts(&wf, &facts)?;
        let lang = lang.unwrap_or(wf.lang);
        let tracks = wf
            .tracks
            .iter()
            .map(|(k, t)| (k.clone(), t.initial.clone()))
            .collect();
        let a = self.evaluate(&rules, &wf, &typed, &tracks, lang)?;
        Ok((wf, typed, a))
    }

    /// The departure rule, for a change that records the decision event by hand:
    /// when the risk decided departs from the recommendation on the facts as they will
    /// be, the rationale must come with the decision (a rationale left from an earlier
    /// decision does not explain this one). Returns the command to execute, with the
    /// assessment frozen in it.
    pub(crate) fn decision_command(
        &self,
        store: &mut Store,
        org: &str,
        l: &Loaded,
        event: &str,
        change: &Change,
        at: DateTime<Utc>,
    ) -> Result<Option<Command>, AppError> {
        let Some(rules) = self.workflows.rules(&l.workflow.id) else {
            return Ok(None);
        };
        if event != rules.records.event {
            return Ok(None);
        }
        // Facts as they would be; a value that does not type is left to `decide`,
        // which names it.
        let Ok(given) = type_facts(&l.workflow, &change.facts) else {
            return Ok(None);
        };
        let mut after = l.case.facts.clone();
        for (k, _) in change.facts.iter().filter(|(_, v)| v.is_null()) {
            after.remove(k);
        }
        after.extend(given.clone());
        let lang = self.assess_lang(store, org, &l.workflow)?;
        let a = self.evaluate(&rules, &l.workflow, &after, &l.case.tracks, lang)?;
        let decided = match after.get(&rules.records.risk) {
            Some(FactValue::Text(r)) => Risk::parse(r),
            _ => None,
        };
        let rationale_given = matches!(
            given.get(&rules.records.rationale),
            Some(FactValue::Text(t)) if !t.trim().is_empty()
        );
        if let Some(decided) = decided
            && decided != a.risk
            && !rationale_given
        {
            return Err(AppError::Input(format!(
                "event '{event}': the risk decided ({}) departs from the recommendation ({}, rules {}): give the reasons for departing with this decision (fact '{}')",
                decided.as_str(),
                a.risk.as_str(),
                a.rules_version,
                rules.records.rationale
            )));
        }
        Ok(Some(Command::Assess {
            event: event.to_string(),
            facts: change.facts.clone(),
            note: change.note.clone(),
            at,
            assessment: super::json::assessment_json(&l.workflow, &a, &after),
            reason: change.reason.clone(),
        }))
    }
}

/// The rationale recorded when a DPO accepts the recommendation: the rules' own reasons.
fn accepted_rationale(a: &Assessment) -> String {
    let reasons: Vec<&str> = a
        .reasons
        .iter()
        .filter(|r| r.about == assess::About::Risk)
        .map(|r| r.text.as_str())
        .collect();
    match a.lang {
        Lang::Fr => format!(
            "Recommandation de vigie acceptée (règles {}) : {}",
            a.rules_version,
            reasons.join(" ")
        ),
        Lang::En | Lang::Nl => format!(
            "vigie's recommendation accepted (rules {}): {}",
            a.rules_version,
            reasons.join(" ")
        ),
    }
}

/// Types facts given as raw values (a what-if file): an unknown fact or a bad value is
/// a one-line error naming it. Null leaves a fact unset.
pub fn type_facts(
    wf: &Workflow,
    raw: &[(String, Value)],
) -> Result<BTreeMap<String, FactValue>, AppError> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let Some(def) = wf.facts.get(k) else {
            return Err(AppError::Input(format!(
                "unknown fact {} in workflow {}{}",
                crate::util::quote(k),
                crate::util::quote(&wf.id),
                crate::util::did_you_mean(k, wf.facts.keys())
            )));
        };
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let typed = def
            .coerce(v, wf.timezone)
            .map_err(|e| AppError::Input(format!("fact {}: {e}", crate::util::quote(k))))?;
        out.insert(k.clone(), typed);
    }
    Ok(out)
}

impl CaseAssessment {
    /// Whether the decision recorded last is the acceptance of this very assessment: the
    /// risk and the rationale accepting writes, and the same assessment frozen (same
    /// facts read, rules, result and words). Accepting it again records nothing.
    pub fn is_accepted(&self) -> bool {
        let Some(r) = &self.recorded else {
            return false;
        };
        let Some(frozen) = &r.assessment else {
            return false;
        };
        r.risk.as_deref() == Some(self.current.risk.as_str())
            && r.rationale.as_deref() == Some(accepted_rationale(&self.current).as_str())
            && *frozen
                == super::json::assessment_json(
                    &self.case.workflow,
                    &self.current,
                    &self.case.case.facts,
                )
    }
}
