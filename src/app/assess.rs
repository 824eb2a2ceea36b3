//! The risk assessment's use-cases (issue 11): a case's assessment beside the one
//! recorded, accepting it (the `assess` event, with the assessment frozen in it), a
//! what-if on facts without a case, and the departure rule (a decision that departs
//! from the recommendation needs its rationale, given with the decision).

use super::{App, AppError, Change};
use crate::assess::{self, Assessment, RecordedDecision, Risk, Rules};
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

/// How a recommendation is accepted: against the case as the caller saw it (the last
/// event seen; None: as it now is), when the decision was taken (None: now, else read
/// in the workflow's zone) and why it is recorded only now.
#[derive(Debug, Clone, Copy, Default)]
pub struct Acceptance<'a> {
    pub expected_seq: Option<i64>,
    pub at: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// A what-if assessment: the workflow, the facts it read, and what it concluded.
pub type WhatIf = (Arc<Workflow>, BTreeMap<String, FactValue>, Assessment);

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
        let how = Acceptance {
            expected_seq,
            ..Acceptance::default()
        };
        self.accept_assessment_at(store, org, actor, id, &how, now)
    }

    /// [`App::accept_assessment`] with the decision's effective time (`vigie assess
    /// --accept --at`: a decision taken earlier, recorded now), read in the workflow's
    /// zone like every `--at`; None: now.
    pub fn accept_assessment_at(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        how: &Acceptance,
        now: DateTime<Utc>,
    ) -> Result<CaseAssessment, AppError> {
        let expected_seq = how.expected_seq;
        // Without a page's `expected_seq` (the CLI), a case moved meanwhile is assessed
        // again and the recommendation as it now stands is accepted.
        let mut tries = 0;
        loop {
            match self.accept_once(store, org, actor, id, how, now) {
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
        how: &Acceptance,
        now: DateTime<Utc>,
    ) -> Result<CaseAssessment, AppError> {
        let Acceptance {
            expected_seq,
            at,
            reason,
        } = *how;
        let before = self.assessment(store, org, id)?;
        let at = match at.map(str::trim) {
            None | Some("") | Some("now") => now,
            Some(s) => {
                crate::time::parse_instant(s, before.case.workflow.timezone).map_err(|e| {
                    AppError::Field {
                        field: "at",
                        message: e.to_string(),
                    }
                })?
            }
        };
        // Accepting again what is already accepted records nothing (a retried request,
        // a form sent twice): the answer is the decision as it stands.
        if before.is_accepted() {
            return Ok(before);
        }
        let rules = self.rules(&before.case.workflow.id)?;
        let a = &before.current;
        let rationale = accepted_rationale(a);
        let frozen = assess::assessment_json(&before.case.workflow, a, &before.case.case.facts);
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
            at,
            assessment: frozen,
            reason: reason.map(str::to_string),
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
    ) -> Result<WhatIf, AppError> {
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

    /// The departure rule for `risk` set by hand (`case set risk=none`, a form, the API):
    /// a risk that departs from the recommendation on the facts as they will be needs the
    /// rationale given with it, as the decision event does (issue 22 A2).
    pub(crate) fn check_risk_set(
        &self,
        store: &mut Store,
        org: &str,
        l: &Loaded,
        change: &Change,
    ) -> Result<(), AppError> {
        let Some(rules) = self.workflows.rules(&l.workflow.id) else {
            return Ok(());
        };
        // A change made on a stale view is refused as such by the store (409).
        if change.expected_seq.is_some_and(|seq| seq != l.case.seq) {
            return Ok(());
        }
        if !change
            .facts
            .iter()
            .any(|(k, v)| *k == rules.records.risk && !v.is_null())
        {
            return Ok(());
        }
        let Some((a, after, given)) = self.assess_after(store, org, l, &rules, change)? else {
            return Ok(());
        };
        self.check_departure(
            &rules,
            &a,
            &after,
            &given,
            &format!("fact '{}'", rules.records.risk),
        )
    }

    /// The assessment on a case's facts as `change` would leave them, those facts, and the
    /// facts the change gives (typed). None when a value does not type: left to `decide`,
    /// which names it.
    #[allow(clippy::type_complexity)]
    fn assess_after(
        &self,
        store: &mut Store,
        org: &str,
        l: &Loaded,
        rules: &Rules,
        change: &Change,
    ) -> Result<
        Option<(
            Assessment,
            BTreeMap<String, FactValue>,
            BTreeMap<String, FactValue>,
        )>,
        AppError,
    > {
        let Ok(given) = type_facts(&l.workflow, &change.facts) else {
            return Ok(None);
        };
        let mut after = l.case.facts.clone();
        for (k, _) in change.facts.iter().filter(|(_, v)| v.is_null()) {
            after.remove(k);
        }
        after.extend(given.clone());
        let lang = self.assess_lang(store, org, &l.workflow)?;
        let a = self.evaluate(rules, &l.workflow, &after, &l.case.tracks, lang)?;
        Ok(Some((a, after, given)))
    }

    /// Refuses a decided risk that departs from `a` without a rationale given with it.
    fn check_departure(
        &self,
        rules: &Rules,
        a: &Assessment,
        after: &BTreeMap<String, FactValue>,
        given: &BTreeMap<String, FactValue>,
        what: &str,
    ) -> Result<(), AppError> {
        let decided = match after.get(&rules.records.risk) {
            Some(FactValue::Text(r)) => Risk::parse(r),
            _ => None,
        };
        if let Some(decided) = decided
            && decided != a.risk
            && !rationale_given(rules, given)
        {
            return Err(AppError::Input(format!(
                "{what}: the risk decided ({}) departs from the recommendation ({}, rules {}): give the reasons for departing with this decision (fact '{}')",
                decided.as_str(),
                a.risk.as_str(),
                a.rules_version,
                rules.records.rationale
            )));
        }
        Ok(())
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
        let declines = rules
            .records
            .declines
            .iter()
            .find(|(e, _)| e == event)
            .map(|(_, d)| *d);
        if event != rules.records.event && declines.is_none() {
            return Ok(None);
        }
        // Declining a duty: only on a recorded assessment (issue 22 A2).
        if declines.is_some() && recorded_decision(l, Some(rules.as_ref())).is_none() {
            return Err(AppError::Input(format!(
                "event '{event}': no risk assessment is recorded on this case: record one first (`vigie assess {} --accept`, or the '{}' event with '{}' and '{}')",
                l.case.id, rules.records.event, rules.records.risk, rules.records.rationale
            )));
        }
        // Facts as they would be.
        let Some((a, after, given)) = self.assess_after(store, org, l, &rules, change)? else {
            return Ok(None);
        };
        match declines {
            Some(duty) => {
                let recommended = match duty {
                    assess::Duty::NotifyAuthority => a.notify_authority,
                    assess::Duty::InformIndividuals => a.inform_individuals,
                };
                if recommended && !rationale_given(&rules, &given) {
                    return Err(AppError::Input(format!(
                        "event '{event}': vigie recommends to {} (risk {}, rules {}): declining departs from the recommendation; give the reasons for departing with this decision (fact '{}')",
                        match duty {
                            assess::Duty::NotifyAuthority => "notify the authority",
                            assess::Duty::InformIndividuals => "inform the people",
                        },
                        a.risk.as_str(),
                        a.rules_version,
                        rules.records.rationale
                    )));
                }
            }
            None => {
                self.check_departure(&rules, &a, &after, &given, &format!("event '{event}'"))?
            }
        }
        Ok(Some(Command::Assess {
            event: event.to_string(),
            facts: change.facts.clone(),
            note: change.note.clone(),
            at,
            assessment: assess::assessment_json(&l.workflow, &a, &after),
            reason: change.reason.clone(),
        }))
    }
}

/// Whether `given` (the facts of a change) holds a rationale that is not blank.
fn rationale_given(rules: &Rules, given: &BTreeMap<String, FactValue>) -> bool {
    matches!(
        given.get(&rules.records.rationale),
        Some(FactValue::Text(t)) if !t.trim().is_empty()
    )
}

/// What vigie recommended for the duty each decision settled, for the register: for the
/// last event that moved the `authority` (resp. `individuals`) track, the assessment
/// frozen in it (a declining event freezes it), else the last one frozen before it.
/// (notify the authority, inform the people); None where no assessment was recorded.
pub fn decision_recommendations(l: &Loaded) -> (Option<bool>, Option<bool>) {
    let mut last: Option<&Value> = None;
    let (mut authority, mut individuals) = (None, None);
    for e in l.events.iter() {
        if let EventBody::Advanced {
            assessment, track, ..
        } = &e.body
        {
            if let Some(a) = assessment {
                last = Some(a);
            }
            let rec = |k: &str| last.and_then(|a| a.get(k)).and_then(Value::as_bool);
            match track.as_str() {
                "authority" => authority = Some(rec("notify_authority")),
                "individuals" => individuals = Some(rec("inform_individuals")),
                _ => {}
            }
        }
    }
    (authority.flatten(), individuals.flatten())
}

/// The rationale recorded when a DPO accepts the recommendation: the rules' own reasons.
fn accepted_rationale(a: &Assessment) -> String {
    let reasons: Vec<String> = a
        .reasons
        .iter()
        .filter(|r| r.about == assess::About::Risk)
        .map(|r| r.text.clone())
        .collect();
    assess::accepted_rationale(&a.rules_version, &reasons, a.lang)
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
                == assess::assessment_json(
                    &self.case.workflow,
                    &self.current,
                    &self.case.case.facts,
                )
    }
}
