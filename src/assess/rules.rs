//! The assessment rules file (`workflows/rules/assessment.yaml`), read and checked
//! against the workflow that names it: every fact and choice it mentions must exist
//! there, every score is a multiple of 0.25, an unset fact scores at least as high as
//! any value (conservative), and the bands rise. Errors are `file:line:column`.

use super::{Band, Risk, Text};
use crate::workflow::raw::RawCondition;
use crate::workflow::{Condition, FactType, Workflow, WorkflowError, compile_condition};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    version: S,
    /// The lowest risk the authority is notified of: `risk` (GDPR art. 33(1), the
    /// default) or `high` (the Digital Omnibus proposal).
    #[serde(default)]
    notify_from: Option<S>,
    records: RawRecords,
    severity: RawSeverity,
    bands: Vec<Spanned<RawBand>>,
    #[serde(default)]
    risk: Vec<Spanned<RawRiskRule>>,
    #[serde(default)]
    exemptions: Vec<Spanned<RawExemption>>,
    conclusions: RawConclusions,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecords {
    event: S,
    risk: S,
    rationale: S,
    /// The events that decline a duty, and the duty (`notify_authority`,
    /// `inform_individuals`).
    #[serde(default)]
    declines: IndexMap<String, S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeverity {
    dpc: Spanned<RawScored>,
    ei: Spanned<RawScored>,
    cb: Vec<Spanned<RawTerm>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScored {
    id: S,
    fact: S,
    scores: Spanned<IndexMap<String, Spanned<f64>>>,
    unset: Spanned<f64>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    adjust: Vec<Spanned<RawAdjust>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdjust {
    id: S,
    when: Spanned<RawCondition>,
    step: Spanned<i64>,
    text: RawText,
}

/// A circumstance term: a scored fact (`fact` + `scores` + `unset`) or a condition
/// that adds (`when` + `add`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerm {
    id: S,
    #[serde(default)]
    fact: Option<S>,
    #[serde(default)]
    scores: Option<Spanned<IndexMap<String, Spanned<f64>>>>,
    #[serde(default)]
    unset: Option<Spanned<f64>>,
    #[serde(default)]
    when: Option<Spanned<RawCondition>>,
    #[serde(default)]
    add: Option<Spanned<f64>>,
    #[serde(default)]
    text: Option<RawText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    band: S,
    #[serde(default)]
    below: Option<Spanned<f64>>,
    risk: S,
    edpb: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRiskRule {
    id: S,
    when: Spanned<RawCondition>,
    #[serde(default)]
    at_least: Option<S>,
    #[serde(default)]
    at_most: Option<S>,
    /// `apply` (default for `at_least`) or `ignore`: what an unknown condition does.
    #[serde(default)]
    if_unknown: Option<S>,
    text: RawText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExemption {
    id: S,
    ground: S,
    when: Spanned<RawCondition>,
    text: RawText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConclusion {
    id: S,
    text: RawText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConclusions {
    document: RawConclusion,
    notify: RawConclusion,
    no_notify: RawConclusion,
    in_doubt: RawConclusion,
    inform: RawConclusion,
    no_inform: RawConclusion,
    exempt: RawConclusion,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    fr: String,
    en: String,
    #[serde(default)]
    nl: Option<String>,
}

impl From<RawText> for Text {
    fn from(t: RawText) -> Text {
        Text {
            fr: t.fr,
            en: t.en,
            nl: t.nl,
        }
    }
}

/// A number of quarters: every ENISA value is a multiple of 0.25, so the arithmetic
/// is exact (4.0 is 16).
pub type Quarters = i64;

/// A fact scored by its value (DPC, EI, and the losses of CB).
#[derive(Debug, Clone)]
pub struct Scored {
    pub id: String,
    pub fact: String,
    pub scores: IndexMap<String, Quarters>,
    pub unset: Quarters,
}

#[derive(Debug, Clone)]
pub struct Adjust {
    pub id: String,
    pub when: Condition,
    pub step: i64,
    pub text: Text,
}

#[derive(Debug, Clone)]
pub enum Term {
    Scored(Scored),
    Add {
        id: String,
        when: Condition,
        add: Quarters,
        text: Text,
    },
}

#[derive(Debug, Clone)]
pub struct RiskRule {
    pub id: String,
    pub when: Condition,
    pub at_least: Option<Risk>,
    pub at_most: Option<Risk>,
    /// Whether the rule applies when its condition is unknown (never for `at_most`).
    pub on_unknown: bool,
    pub text: Text,
}

#[derive(Debug, Clone)]
pub struct Exemption {
    pub id: String,
    pub ground: String,
    pub when: Condition,
    pub text: Text,
}

#[derive(Debug, Clone)]
pub struct Conclusion {
    pub id: String,
    pub text: Text,
}

#[derive(Debug, Clone)]
pub struct Conclusions {
    pub document: Conclusion,
    pub notify: Conclusion,
    pub no_notify: Conclusion,
    pub in_doubt: Conclusion,
    pub inform: Conclusion,
    pub no_inform: Conclusion,
    pub exempt: Conclusion,
}

/// The event that records a decision, and the facts it sets.
#[derive(Debug, Clone)]
pub struct Records {
    pub event: String,
    pub risk: String,
    pub rationale: String,
    /// The events that decline a duty (issue 22 A2): each needs an assessment recorded
    /// first, and declining a duty the rules recommend needs the rationale with it.
    pub declines: Vec<(String, Duty)>,
}

/// A duty an event can decline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duty {
    NotifyAuthority,
    InformIndividuals,
}

impl Duty {
    pub fn parse(s: &str) -> Option<Duty> {
        match s {
            "notify_authority" => Some(Duty::NotifyAuthority),
            "inform_individuals" => Some(Duty::InformIndividuals),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Duty::NotifyAuthority => "notify_authority",
            Duty::InformIndividuals => "inform_individuals",
        }
    }
}

/// A rules file, compiled against one workflow.
#[derive(Debug, Clone)]
pub struct Rules {
    pub version: String,
    /// The lowest risk the authority is notified of (`notify_from`, default `risk`).
    pub notify_from: Risk,
    pub origin: String,
    pub records: Records,
    pub dpc: Scored,
    pub dpc_min: i64,
    pub dpc_max: i64,
    pub dpc_adjust: Vec<Adjust>,
    pub ei: Scored,
    pub cb: Vec<Term>,
    pub bands: Vec<BandDef>,
    pub risk: Vec<RiskRule>,
    pub exemptions: Vec<Exemption>,
    pub conclusions: Conclusions,
}

impl Rules {
    /// Every text of the rules, by the id of the rule that gives it.
    pub fn texts(&self) -> super::Texts {
        let mut out = super::Texts::new();
        for a in &self.dpc_adjust {
            out.insert(a.id.clone(), a.text.clone());
        }
        for t in &self.cb {
            if let Term::Add { id, text, .. } = t {
                out.insert(id.clone(), text.clone());
            }
        }
        for r in &self.risk {
            out.insert(r.id.clone(), r.text.clone());
        }
        for x in &self.exemptions {
            out.insert(x.id.clone(), x.text.clone());
        }
        let k = &self.conclusions;
        for c in [
            &k.document,
            &k.notify,
            &k.no_notify,
            &k.in_doubt,
            &k.inform,
            &k.no_inform,
            &k.exempt,
        ] {
            out.insert(c.id.clone(), c.text.clone());
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct BandDef {
    pub band: Band,
    /// None: the last band, open-ended.
    pub below: Option<Quarters>,
    pub risk: Risk,
    pub edpb: String,
}

pub const EDPB_SEVERITIES: [&str; 3] = ["minor", "moderate", "severe"];
pub const GROUNDS: [&str; 3] = [
    "unintelligible",
    "later_measures",
    "disproportionate_effort",
];

struct Checker<'a> {
    origin: &'a str,
    wf: &'a Workflow,
    errors: Vec<WorkflowError>,
}

impl Checker<'_> {
    fn err(&mut self, at: &Location, message: impl Into<String>) {
        self.errors.push(WorkflowError {
            file: self.origin.to_string(),
            line: at.line() as u32,
            column: at.column() as u32,
            message: message.into(),
        });
    }

    fn quarters(&mut self, v: &Spanned<f64>, what: &str) -> Quarters {
        let q = v.value * 4.0;
        if !q.is_finite() || q.fract() != 0.0 || !(0.0..=400.0).contains(&q) {
            self.err(
                &v.referenced,
                format!(
                    "{what}: {} is not a multiple of 0.25 between 0 and 100",
                    v.value
                ),
            );
            return 0;
        }
        q as Quarters
    }

    fn condition(&mut self, c: &Spanned<RawCondition>) -> Option<Condition> {
        match compile_condition(self.origin, self.wf, c) {
            Ok(c) => Some(c),
            Err(e) => {
                self.errors.extend(e);
                None
            }
        }
    }

    fn fact(&mut self, f: &S, kinds: &[FactType], what: &str) -> bool {
        match self.wf.facts.get(&f.value) {
            None => {
                let h = crate::util::did_you_mean(&f.value, self.wf.facts.keys());
                self.err(
                    &f.referenced,
                    format!(
                        "{what}: unknown fact '{}' in workflow '{}'{h}",
                        f.value, self.wf.id
                    ),
                );
                false
            }
            Some(d) if !kinds.contains(&d.kind) => {
                self.err(
                    &f.referenced,
                    format!("{what}: fact '{}' is {}", f.value, d.kind.name()),
                );
                false
            }
            Some(_) => true,
        }
    }

    fn scored(&mut self, raw: &Spanned<RawScored>, what: &str) -> Scored {
        let r = &raw.value;
        self.scored_parts(&r.id, &r.fact, &r.scores, &r.unset, what)
    }

    fn scored_parts(
        &mut self,
        id: &S,
        fact: &S,
        scores: &Spanned<IndexMap<String, Spanned<f64>>>,
        unset: &Spanned<f64>,
        what: &str,
    ) -> Scored {
        let what = format!("{what} '{}'", id.value);
        let known = self.fact(fact, &[FactType::Choice, FactType::List], &what);
        let mut out = IndexMap::new();
        for (value, score) in &scores.value {
            let q = self.quarters(score, &format!("{what}: score of '{value}'"));
            out.insert(value.clone(), q);
        }
        if known {
            let choices = self.wf.facts[&fact.value].choices.clone();
            for v in out.keys() {
                if !choices.contains(v) {
                    self.err(
                        &scores.referenced,
                        format!(
                            "{what}: '{v}' is not a choice of fact '{}' (choices: {})",
                            fact.value,
                            choices.join(", ")
                        ),
                    );
                }
            }
            let unscored: Vec<&String> = choices.iter().filter(|c| !out.contains_key(*c)).collect();
            if !unscored.is_empty() {
                self.err(
                    &scores.referenced,
                    format!(
                        "{what}: no score for {} of fact '{}': score every choice",
                        unscored
                            .iter()
                            .map(|s| format!("'{s}'"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        fact.value
                    ),
                );
            }
        }
        let unset_q = self.quarters(unset, &format!("{what}: unset"));
        if let Some(max) = out.values().max()
            && unset_q < *max
        {
            self.err(
                &unset.referenced,
                format!(
                    "{what}: an unset fact must score at least the highest value ({}), so that an unknown never lowers the severity",
                    *max as f64 / 4.0
                ),
            );
        }
        Scored {
            id: id.value.clone(),
            fact: fact.value.clone(),
            scores: out,
            unset: unset_q,
        }
    }

    fn risk(&mut self, s: &S, what: &str) -> Risk {
        match Risk::parse(&s.value) {
            Some(r) => {
                if let Some(def) = self.wf.facts.get("risk")
                    && !def.choices.is_empty()
                    && !def.choices.contains(&s.value)
                {
                    self.err(
                        &s.referenced,
                        format!("{what}: '{}' is not a choice of fact 'risk'", s.value),
                    );
                }
                r
            }
            None => {
                self.err(
                    &s.referenced,
                    format!("{what}: unknown risk '{}' (none, risk, high)", s.value),
                );
                Risk::High
            }
        }
    }
}

/// Reads and checks a rules file for workflow `wf`. `origin` names it in errors.
pub fn compile_rules(origin: &str, text: &str, wf: &Workflow) -> Result<Rules, Vec<WorkflowError>> {
    let raw: RawRules = crate::util::yaml::from_str(text).map_err(|e| {
        vec![WorkflowError {
            file: origin.to_string(),
            line: e.line,
            column: e.column,
            message: e.message,
        }]
    })?;
    let mut c = Checker {
        origin,
        wf,
        errors: Vec::new(),
    };
    if raw.version.value.trim().is_empty() {
        c.err(&raw.version.referenced, "version: give the rules a version");
    }
    let notify_from = match &raw.notify_from {
        None => Risk::Risk,
        Some(n) => match Risk::parse(&n.value) {
            Some(r @ (Risk::Risk | Risk::High)) => r,
            _ => {
                c.err(
                    &n.referenced,
                    format!(
                        "notify_from: {} must be risk or high",
                        crate::util::quote(&n.value)
                    ),
                );
                Risk::Risk
            }
        },
    };
    let records = c.records(&raw.records);
    let (dpc, dpc_min, dpc_max, dpc_adjust) = c.dpc(&raw.severity.dpc);
    let ei = c.scored(&raw.severity.ei, "ei");
    let cb = c.cb(raw.severity.cb);
    let bands = c.bands(&raw.bands);
    let risk = c.risk_rules(&raw.risk);
    let exemptions = c.exemptions(raw.exemptions);
    let conclusion = |r: RawConclusion| Conclusion {
        id: r.id.value.clone(),
        text: r.text.into(),
    };
    let k = raw.conclusions;
    let rules = Rules {
        version: raw.version.value.clone(),
        notify_from,
        origin: origin.to_string(),
        records,
        dpc,
        dpc_min: dpc_min as i64,
        dpc_max: dpc_max as i64,
        dpc_adjust,
        ei,
        cb,
        bands,
        risk,
        exemptions,
        conclusions: Conclusions {
            document: conclusion(k.document),
            notify: conclusion(k.notify),
            no_notify: conclusion(k.no_notify),
            in_doubt: conclusion(k.in_doubt),
            inform: conclusion(k.inform),
            no_inform: conclusion(k.no_inform),
            exempt: conclusion(k.exempt),
        },
    };
    if c.errors.is_empty() {
        super::register_texts(&rules.version, rules.texts());
        Ok(rules)
    } else {
        c.errors.sort_by_key(|e| (e.line, e.column));
        c.errors.dedup();
        Err(c.errors)
    }
}

impl Checker<'_> {
    /// The event that records the decision, and its facts.
    fn records(&mut self, raw: &RawRecords) -> Records {
        let wf = self.wf;
        if !wf.events.contains_key(&raw.event.value) {
            let h = crate::util::did_you_mean(&raw.event.value, wf.events.keys());
            self.err(
                &raw.event.referenced,
                format!(
                    "records: unknown event '{}' in workflow '{}'{h}",
                    raw.event.value, wf.id
                ),
            );
        }
        let mut declines = Vec::new();
        for (event, duty) in &raw.declines {
            if !wf.events.contains_key(event) {
                let h = crate::util::did_you_mean(event, wf.events.keys());
                self.err(
                    &duty.referenced,
                    format!(
                        "records.declines: unknown event '{event}' in workflow '{}'{h}",
                        wf.id
                    ),
                );
            }
            match Duty::parse(&duty.value) {
                Some(d) => declines.push((event.clone(), d)),
                None => self.err(
                    &duty.referenced,
                    format!(
                        "records.declines: '{}' is not notify_authority or inform_individuals",
                        duty.value
                    ),
                ),
            }
        }
        self.fact(&raw.risk, &[FactType::Choice], "records.risk");
        self.fact(&raw.rationale, &[FactType::Text], "records.rationale");
        Records {
            event: raw.event.value.clone(),
            risk: raw.risk.value.clone(),
            rationale: raw.rationale.value.clone(),
            declines,
        }
    }

    /// DPC: its scores (whole numbers), its bounds and its adjustments.
    fn dpc(&mut self, raw: &Spanned<RawScored>) -> (Scored, f64, f64, Vec<Adjust>) {
        let dpc = self.scored(raw, "dpc");
        let (dpc_min, dpc_max) = (raw.value.min.unwrap_or(1.0), raw.value.max.unwrap_or(4.0));
        if dpc_min.fract() != 0.0 || dpc_max.fract() != 0.0 || dpc_min < 0.0 || dpc_max < dpc_min {
            self.err(
                &raw.referenced,
                "dpc: min and max are whole numbers, min at most max",
            );
        }
        for (v, q) in dpc
            .scores
            .iter()
            .chain([(&"unset".to_string(), &dpc.unset)])
        {
            if q % 4 != 0 {
                self.err(
                    &raw.value.scores.referenced,
                    format!("dpc: the score of '{v}' must be a whole number"),
                );
            }
        }
        let mut dpc_adjust = Vec::new();
        for a in &raw.value.adjust {
            let when = self.condition(&a.value.when);
            if a.value.step.value == 0 {
                self.err(&a.value.step.referenced, "dpc adjust: step must not be 0");
            }
            if let Some(when) = when {
                dpc_adjust.push(Adjust {
                    id: a.value.id.value.clone(),
                    when,
                    step: a.value.step.value,
                    text: Text {
                        fr: a.value.text.fr.clone(),
                        en: a.value.text.en.clone(),
                        nl: a.value.text.nl.clone(),
                    },
                });
            }
        }
        (dpc, dpc_min, dpc_max, dpc_adjust)
    }

    /// CB: each term a scored fact or a condition that adds.
    fn cb(&mut self, terms: Vec<Spanned<RawTerm>>) -> Vec<Term> {
        let mut cb = Vec::new();
        for t in terms {
            let r = t.value;
            match (&r.fact, &r.scores, &r.unset, &r.when, &r.add) {
                (Some(fact), Some(scores), Some(unset), None, None) => {
                    cb.push(Term::Scored(
                        self.scored_parts(&r.id, fact, scores, unset, "cb"),
                    ));
                }
                (None, None, None, Some(when), Some(add)) => {
                    let q = self.quarters(add, &format!("cb '{}': add", r.id.value));
                    let when = self.condition(when);
                    match (when, r.text) {
                        (Some(when), Some(text)) => cb.push(Term::Add {
                            id: r.id.value.clone(),
                            when,
                            add: q,
                            text: text.into(),
                        }),
                        (_, None) => self.err(
                            &t.referenced,
                            format!("cb '{}': a condition term needs a text", r.id.value),
                        ),
                        _ => {}
                    }
                }
                _ => self.err(
                    &t.referenced,
                    format!(
                        "cb '{}': give either fact, scores and unset, or when and add",
                        r.id.value
                    ),
                ),
            }
        }
        cb
    }

    /// The bands: rising, each but the last with its `below`, never to a lower risk.
    fn bands(&mut self, raw: &[Spanned<RawBand>]) -> Vec<BandDef> {
        let mut bands = Vec::new();
        let mut last: Option<Quarters> = None;
        let n = raw.len();
        for (i, b) in raw.iter().enumerate() {
            let band = match Band::parse(&b.value.band.value) {
                Some(band) => band,
                None => {
                    self.err(
                        &b.value.band.referenced,
                        format!(
                            "band '{}': bands are low, medium, high, very_high",
                            b.value.band.value
                        ),
                    );
                    Band::VeryHigh
                }
            };
            let below = b
                .value
                .below
                .as_ref()
                .map(|v| self.quarters(v, "band below"));
            match (below, i + 1 == n) {
                (Some(_), true) => self.err(
                    &b.referenced,
                    "the last band has no 'below': it is open-ended",
                ),
                (None, false) => self.err(&b.referenced, "every band but the last needs 'below'"),
                _ => {}
            }
            if let (Some(prev), Some(now)) = (last, below)
                && now <= prev
            {
                self.err(
                    &b.referenced,
                    "bands must rise: each 'below' above the previous one",
                );
            }
            if let Some(prev) = bands.last().map(|p: &BandDef| p.risk)
                && self.risk(&b.value.risk, "band").rank() < prev.rank()
            {
                self.err(
                    &b.value.risk.referenced,
                    "a higher band cannot map to a lower risk",
                );
            }
            if !EDPB_SEVERITIES.contains(&b.value.edpb.value.as_str()) {
                self.err(
                    &b.value.edpb.referenced,
                    format!(
                        "band edpb: '{}' is not minor, moderate or severe",
                        b.value.edpb.value
                    ),
                );
            }
            last = below.or(last);
            bands.push(BandDef {
                band,
                below,
                risk: self.risk(&b.value.risk, "band"),
                edpb: b.value.edpb.value.clone(),
            });
        }
        if bands.is_empty() {
            self.err(&Location::UNKNOWN, "bands: give at least one band");
        }
        bands
    }

    /// The rules after the score: each a floor or a ceiling, with what an unknown does.
    fn risk_rules(&mut self, raw: &[Spanned<RawRiskRule>]) -> Vec<RiskRule> {
        let mut risk = Vec::new();
        for r in raw {
            let v = &r.value;
            let when = self.condition(&v.when);
            let at_least = v
                .at_least
                .as_ref()
                .map(|s| self.risk(s, &format!("risk rule '{}'", v.id.value)));
            let at_most = v
                .at_most
                .as_ref()
                .map(|s| self.risk(s, &format!("risk rule '{}'", v.id.value)));
            if at_least.is_some() == at_most.is_some() {
                self.err(
                    &r.referenced,
                    format!(
                        "risk rule '{}': give one of at_least or at_most",
                        v.id.value
                    ),
                );
            }
            let on_unknown = self.on_unknown(v, at_least.is_some(), at_most.is_some());
            if let Some(when) = when {
                risk.push(RiskRule {
                    id: v.id.value.clone(),
                    when,
                    at_least,
                    at_most,
                    on_unknown,
                    text: Text {
                        fr: v.text.fr.clone(),
                        en: v.text.en.clone(),
                        nl: v.text.nl.clone(),
                    },
                });
            }
        }
        risk
    }

    /// Whether a risk rule applies when its condition is unknown: by default a floor
    /// does and a ceiling does not; a ceiling may never.
    fn on_unknown(&mut self, v: &RawRiskRule, floor: bool, ceiling: bool) -> bool {
        match v.if_unknown.as_ref().map(|s| s.value.as_str()) {
            None => floor,
            Some("apply") if ceiling => {
                self.err(
                    &v.if_unknown.as_ref().expect("some").referenced,
                    format!(
                        "risk rule '{}': a rule that lowers the risk never applies on an unknown",
                        v.id.value
                    ),
                );
                false
            }
            Some("apply") => true,
            Some("ignore") => false,
            Some(other) => {
                self.err(
                    &v.if_unknown.as_ref().expect("some").referenced,
                    format!(
                        "risk rule '{}': if_unknown is apply or ignore, not '{other}'",
                        v.id.value
                    ),
                );
                false
            }
        }
    }

    /// The exemptions from informing the people, each on a known ground.
    fn exemptions(&mut self, raw: Vec<Spanned<RawExemption>>) -> Vec<Exemption> {
        let mut exemptions = Vec::new();
        for e in raw {
            let v = e.value;
            if !GROUNDS.contains(&v.ground.value.as_str()) {
                self.err(
                    &v.ground.referenced,
                    format!(
                        "exemption '{}': ground '{}' is not one of {}",
                        v.id.value,
                        v.ground.value,
                        GROUNDS.join(", ")
                    ),
                );
            }
            if let Some(when) = self.condition(&v.when) {
                exemptions.push(Exemption {
                    id: v.id.value.clone(),
                    ground: v.ground.value.clone(),
                    when,
                    text: v.text.into(),
                });
            }
        }
        exemptions
    }
}
