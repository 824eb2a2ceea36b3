//! The risk assessment (issue 11): ENISA's severity (`SE = DPC × EI + CB`), its band,
//! the risk it maps to, and the recommendation for the three duties (document, notify
//! the authority, inform the people), each with its reasons.
//!
//! The rules are data (`rules`: a YAML file each workflow names); this module only
//! evaluates them. It is pure: facts in, an [`Assessment`] out. Conservative with the
//! unknown, by construction: an unset scored fact takes its `unset` score (checked to
//! be the highest), a rule that raises the risk applies when its condition is unknown,
//! a rule that lowers it or an exemption only when its condition is true, and a risk
//! of `none` with any fact still missing becomes `risk` ("if in doubt, notify").

mod frozen;
pub mod rules;

pub use frozen::{RecordedDecision, assessment_json};
pub use rules::{Duty, Quarters, Rules, compile_rules};

use crate::time::Lang;
use crate::workflow::{Condition, FactValue, Scope};
use indexmap::IndexMap;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// A text in each language vigie writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    pub fr: String,
    pub en: String,
    /// Dutch, when the rules file gives it; English otherwise.
    pub nl: Option<String>,
}

impl Text {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Fr => &self.fr,
            Lang::En => &self.en,
            Lang::Nl => self.nl.as_deref().unwrap_or(&self.en),
        }
    }
}

/// The `risk` fact's values, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Risk {
    None,
    Risk,
    High,
}

impl Risk {
    pub fn parse(s: &str) -> Option<Risk> {
        match s {
            "none" => Some(Risk::None),
            "risk" => Some(Risk::Risk),
            "high" => Some(Risk::High),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::None => "none",
            Risk::Risk => "risk",
            Risk::High => "high",
        }
    }
    pub fn rank(self) -> u8 {
        self as u8
    }
    /// The risk as a label: "risque (non élevé)" for the middle level, which a DPO
    /// would otherwise read as "a risk, so notify everyone".
    pub fn label(self, lang: Lang) -> &'static str {
        let name = self.name(lang);
        name.split_once(' ').map_or(name, |(_, rest)| rest)
    }

    /// The risk written out in a sentence.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Risk::None, Lang::Fr) => "un risque improbable",
            (Risk::Risk, Lang::Fr) => "un risque (non élevé)",
            (Risk::High, Lang::Fr) => "un risque élevé",
            (Risk::None, Lang::En) => "a risk unlikely",
            (Risk::Risk, Lang::En) => "a risk (not high)",
            (Risk::High, Lang::En) => "a high risk",
            (Risk::None, Lang::Nl) => "een onwaarschijnlijk risico",
            (Risk::Risk, Lang::Nl) => "een risico (niet hoog)",
            (Risk::High, Lang::Nl) => "een hoog risico",
        }
    }
}

/// ENISA's severity bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    Low,
    Medium,
    High,
    VeryHigh,
}

impl Band {
    pub fn parse(s: &str) -> Option<Band> {
        match s {
            "low" => Some(Band::Low),
            "medium" => Some(Band::Medium),
            "high" => Some(Band::High),
            "very_high" => Some(Band::VeryHigh),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Medium => "medium",
            Band::High => "high",
            Band::VeryHigh => "very_high",
        }
    }
}

impl Band {
    /// ENISA's name of the band, written out.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Band::Low, Lang::Fr) => "faible",
            (Band::Medium, Lang::Fr) => "moyen",
            (Band::High, Lang::Fr) => "élevé",
            (Band::VeryHigh, Lang::Fr) => "très élevé",
            (Band::Low, Lang::En) => "low",
            (Band::Medium, Lang::En) => "medium",
            (Band::High, Lang::En) => "high",
            (Band::VeryHigh, Lang::En) => "very high",
            (Band::Low, Lang::Nl) => "laag",
            (Band::Medium, Lang::Nl) => "gemiddeld",
            (Band::High, Lang::Nl) => "hoog",
            (Band::VeryHigh, Lang::Nl) => "zeer hoog",
        }
    }
}

/// The EDPB template's severity, written out.
pub fn edpb_name(s: &str, lang: Lang) -> &str {
    match (s, lang) {
        ("minor", Lang::Fr) => "mineure",
        ("moderate", Lang::Fr) => "modérée",
        ("severe", Lang::Fr) => "grave",
        ("minor", Lang::Nl) => "gering",
        ("moderate", Lang::Nl) => "matig",
        ("severe", Lang::Nl) => "ernstig",
        _ => s,
    }
}

/// What a conclusion is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About {
    Dpc,
    Ei,
    Cb,
    Risk,
    Document,
    NotifyAuthority,
    InformIndividuals,
}

impl About {
    pub fn as_str(self) -> &'static str {
        match self {
            About::Dpc => "dpc",
            About::Ei => "ei",
            About::Cb => "cb",
            About::Risk => "risk",
            About::Document => "document",
            About::NotifyAuthority => "notify_authority",
            About::InformIndividuals => "inform_individuals",
        }
    }
}

/// One reason: the rule that produced it, what it says as ids and numbers (`data`, the
/// same in every language: see [`say`]), and that rendered in the assessment's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule: String,
    pub about: About,
    pub text: String,
    pub data: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// In quarters (ENISA's values are multiples of 0.25).
    pub value: Quarters,
    pub why: Vec<Reason>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExemptionHit {
    pub rule: String,
    pub ground: String,
    pub text: String,
}

/// The result of evaluating the rules on a set of facts.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub rules_version: String,
    pub lang: Lang,
    pub dpc: Component,
    pub ei: Component,
    pub cb: Component,
    pub score: Quarters,
    pub band: Band,
    pub edpb_severity: String,
    pub risk: Risk,
    pub notify_authority: bool,
    pub inform_individuals: bool,
    /// Every conclusion's reasons, in order: risk, then the duties.
    pub reasons: Vec<Reason>,
    /// Facts still unset that the rules read: setting them could change the result.
    pub missing: Vec<String>,
    pub exemptions: Vec<ExemptionHit>,
    /// The facts read, as they were (names only for the facts the rules read).
    pub inputs: Vec<String>,
}

/// How a fact and its values are written in reasons (the labels of the language).
pub trait Labeler {
    fn label(&self, id: &str) -> String;
}

/// Ids as they are: for tests and callers without labels.
pub struct Ids;
impl Labeler for Ids {
    fn label(&self, id: &str) -> String {
        id.to_string()
    }
}

pub fn quarters_text(q: Quarters, lang: Lang) -> String {
    let whole = q / 4;
    let frac = match q % 4 {
        0 => "",
        1 => ".25",
        2 => ".5",
        _ => ".75",
    };
    let s = format!("{whole}{frac}");
    match lang {
        Lang::Fr | Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

/// The texts a rules file gives, by rule id (rules, adjustments, terms, exemptions and
/// conclusions): what [`say`] needs to render a reason in any language.
pub type Texts = HashMap<String, Text>;

/// The texts of every rules file compiled in this process, by rules version: a reason
/// frozen in an event is rendered in the reader's language from its rules' texts when
/// they are known, else its stored text stands (an older event, or rules since changed
/// without a new version are told apart by the version only).
fn registry() -> &'static Mutex<HashMap<String, Arc<Texts>>> {
    static R: OnceLock<Mutex<HashMap<String, Arc<Texts>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

pub(crate) fn register_texts(version: &str, texts: Texts) {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(version.to_string(), Arc::new(texts));
}

/// The texts of the rules of `version`, if compiled in this process.
pub fn texts_of(version: &str) -> Option<Arc<Texts>> {
    registry()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(version)
        .cloned()
}

fn q_of(v: &Value) -> Quarters {
    (v.as_f64().unwrap_or_default() * 4.0).round() as Quarters
}

fn q_json(q: Quarters) -> Value {
    json!(q as f64 / 4.0)
}

/// Renders what a reason says (`data`, see [`Reason`]) in `lang`. `text`: the rule's own
/// text (for the kinds that quote it). None when the data are not understood, or a text
/// they need is not given: the caller keeps the stored text.
pub fn say(data: &Value, text: Option<&Text>, lang: Lang, labels: &dyn Labeler) -> Option<String> {
    let t = |fr: String, en: String, nl: String| match lang {
        Lang::Fr => fr,
        Lang::En => en,
        Lang::Nl => nl,
    };
    let rule_text = || text.map(|x| x.get(lang).to_string());
    let risk = |k: &str| data.get(k).and_then(Value::as_str).and_then(Risk::parse);
    let unknown = |on: bool| {
        if on {
            t(
                " (condition inconnue : appliquée par prudence)".into(),
                " (condition unknown: applied to be safe)".into(),
                " (voorwaarde onbekend: voor de zekerheid toegepast)".into(),
            )
        } else {
            String::new()
        }
    };
    Some(match data.get("says")?.as_str()? {
        "scored" => {
            let fact = labels.label(data["fact"].as_str()?);
            let value = labels.label(data["value"].as_str()?);
            let n = quarters_text(q_of(&data["score"]), lang);
            if data["of"].as_u64().unwrap_or(1) > 1 {
                t(
                    format!("{fact} : « {value} » vaut {n}, la plus haute des valeurs données."),
                    format!("{fact}: \"{value}\" scores {n}, the highest of the values given."),
                    format!("{fact}: \"{value}\" telt {n}, de hoogste van de opgegeven waarden."),
                )
            } else {
                t(
                    format!("{fact} : « {value} » vaut {n}."),
                    format!("{fact}: \"{value}\" scores {n}."),
                    format!("{fact}: \"{value}\" telt {n}."),
                )
            }
        }
        "unset" => {
            let fact = labels.label(data["fact"].as_str()?);
            let n = quarters_text(q_of(&data["score"]), lang);
            t(
                format!(
                    "{fact} : inconnu, compté {n} (la valeur la plus grave) tant qu'il n'est pas renseigné."
                ),
                format!("{fact}: unknown, counted as {n} (the most severe value) until it is set."),
                format!(
                    "{fact}: onbekend, geteld als {n} (de ernstigste waarde) zolang het niet is ingevuld."
                ),
            )
        }
        "adjust" => {
            let (from, to) = (data["from"].as_i64()?, data["to"].as_i64()?);
            let suffix = if from == to {
                t(
                    format!(" (déjà à la borne : {to})"),
                    format!(" (already at the bound: {to})"),
                    format!(" (al aan de grens: {to})"),
                )
            } else {
                format!(" ({from} → {to})")
            };
            format!("{}{suffix}", rule_text()?)
        }
        "add" => {
            let n = quarters_text(q_of(&data["add"]), lang);
            let unknown = if data["unknown"] == true {
                t(
                    " (inconnu : compté)".into(),
                    " (unknown: counted)".into(),
                    " (onbekend: meegeteld)".into(),
                )
            } else {
                String::new()
            };
            format!("{} +{n}{unknown}", rule_text()?)
        }
        "band" => {
            let band = Band::parse(data["band"].as_str()?)?;
            let edpb = data["edpb"].as_str()?;
            let r = risk("risk")?;
            let (score, ei, cb) = (
                quarters_text(q_of(&data["score"]), lang),
                quarters_text(q_of(&data["ei"]), lang),
                quarters_text(q_of(&data["cb"]), lang),
            );
            let dpc = data["dpc"].as_i64()?;
            t(
                format!(
                    "Gravité {score} (DPC {dpc} × EI {ei} + CB {cb}) : niveau « {} », gravité CEPD « {} » ; soit {}.",
                    band.name(lang),
                    edpb_name(edpb, lang),
                    r.name(lang)
                ),
                format!(
                    "Severity {score} (DPC {dpc} × EI {ei} + CB {cb}): band \"{}\", EDPB severity \"{}\"; that is {}.",
                    band.name(lang),
                    edpb_name(edpb, lang),
                    r.name(lang)
                ),
                format!(
                    "Ernst {score} (DPC {dpc} × EI {ei} + CB {cb}): niveau \"{}\", EDPB-ernst \"{}\"; dus {}.",
                    band.name(lang),
                    edpb_name(edpb, lang),
                    r.name(lang)
                ),
            )
        }
        "rule" => {
            let change = match (risk("from"), risk("to")) {
                (Some(a), Some(b)) if a != b => format!(" ({} → {})", a.name(lang), b.name(lang)),
                _ => String::new(),
            };
            format!(
                "{}{}{change}",
                rule_text()?,
                unknown(data["unknown"] == true)
            )
        }
        "conclusion" | "exemption" => rule_text()?,
        "in_doubt" => {
            let missing: Vec<String> = data["missing"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(|f| labels.label(f))
                .collect();
            format!("{} ({})", rule_text()?, missing.join(", "))
        }
        _ => return None,
    })
}

/// A reason of a frozen assessment (its JSON: `rule`, `about`, `text`, `data`) in `lang`:
/// rendered from its data and its rules' texts when they are known, else the text it was
/// stored with (events recorded before reasons carried their data).
pub fn frozen_reason_text(
    reason: &Value,
    rules_version: &str,
    lang: Lang,
    labels: &dyn Labeler,
) -> String {
    let stored = reason["text"].as_str().unwrap_or_default().to_string();
    let Some(data) = reason.get("data") else {
        return stored;
    };
    let texts = texts_of(rules_version);
    let text = reason["rule"]
        .as_str()
        .and_then(|id| texts.as_ref().and_then(|t| t.get(id)));
    say(data, text, lang, labels).unwrap_or(stored)
}

/// Like [`frozen_reason_text`], for the frozen assessment's exemption `x` (its JSON).
pub fn frozen_exemption_text(x: &Value, rules_version: &str, lang: Lang) -> String {
    let stored = x["text"].as_str().unwrap_or_default().to_string();
    let texts = texts_of(rules_version);
    match x["rule"]
        .as_str()
        .and_then(|id| texts.as_ref().and_then(|t| t.get(id)))
    {
        Some(t) => t.get(lang).to_string(),
        None => stored,
    }
}

/// The rationale recorded when a DPO accepts the recommendation: the rules' own reasons
/// for the risk (`risk_reasons`, in `lang`).
pub fn accepted_rationale(rules_version: &str, risk_reasons: &[String], lang: Lang) -> String {
    let reasons = risk_reasons.join(" ");
    match lang {
        Lang::Fr => {
            format!("Recommandation de vigie acceptée (règles {rules_version}) : {reasons}")
        }
        Lang::En => format!("vigie's recommendation accepted (rules {rules_version}): {reasons}"),
        Lang::Nl => format!("Aanbeveling van vigie aanvaard (regels {rules_version}): {reasons}"),
    }
}

/// When `rationale` is the one accepting the frozen assessment `a` (its JSON) wrote, that
/// rationale in `lang`; None otherwise (the DPO's own words, or an older wording).
pub fn accepted_rationale_in(
    a: &Value,
    rationale: &str,
    lang: Lang,
    labels: &dyn Labeler,
) -> Option<String> {
    let version = a["rules_version"].as_str()?;
    let stored_lang = Lang::parse(a["lang"].as_str()?)?;
    let risk: Vec<&Value> = a["reasons"]
        .as_array()?
        .iter()
        .filter(|r| r["about"] == "risk")
        .collect();
    let stored: Vec<String> = risk
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_string())
        .collect();
    // An nl assessment accepted before Dutch had its own sentence wrote the English one.
    let matches = accepted_rationale(version, &stored, stored_lang) == rationale
        || (stored_lang == Lang::Nl && accepted_rationale(version, &stored, Lang::En) == rationale);
    if !matches {
        return None;
    }
    let now: Vec<String> = risk
        .iter()
        .map(|r| frozen_reason_text(r, version, lang, labels))
        .collect();
    Some(accepted_rationale(version, &now, lang))
}

struct Eval<'a> {
    scope: Scope<'a>,
    lang: Lang,
    labels: &'a dyn Labeler,
    missing: Vec<String>,
    read: Vec<String>,
}

impl Eval<'_> {
    /// Notes the facts `c` reads; when its value is unknown, the unset ones are missing.
    fn note(&mut self, c: &Condition, unknown: bool) {
        let mut fs = Vec::new();
        c.facts(&mut fs);
        for f in fs {
            if !self.read.contains(&f) {
                self.read.push(f.clone());
            }
            if unknown && !self.scope.facts.contains_key(&f) && !self.missing.contains(&f) {
                self.missing.push(f);
            }
        }
    }

    fn eval(&mut self, c: &Condition) -> Option<bool> {
        let v = c.eval(&self.scope);
        self.note(c, v.is_none());
        v
    }

    /// A reason saying `data` (with `text`, the rule's own, for the kinds that quote it).
    fn reason(&self, rule: &str, about: About, data: Value, text: Option<&Text>) -> Reason {
        let rendered = say(&data, text, self.lang, self.labels).unwrap_or_default();
        Reason {
            rule: rule.to_string(),
            about,
            text: rendered,
            data,
        }
    }

    /// The score of a scored fact: the highest of its values (a list), or `unset`.
    fn scored(&mut self, s: &rules::Scored, about: About) -> Component {
        if !self.read.contains(&s.fact) {
            self.read.push(s.fact.clone());
        }
        let values: Vec<String> = match self.scope.facts.get(&s.fact) {
            Some(FactValue::Text(v)) => vec![v.clone()],
            Some(FactValue::List(v)) if !v.is_empty() => v.clone(),
            _ => Vec::new(),
        };
        let best = values
            .iter()
            .filter_map(|v| s.scores.get(v).map(|q| (v, *q)))
            .max_by_key(|(_, q)| *q);
        match best {
            Some((v, q)) => Component {
                value: q,
                why: vec![self.reason(
                    &s.id,
                    about,
                    json!({ "says": "scored", "fact": s.fact, "value": v, "score": q_json(q), "of": values.len() }),
                    None,
                )],
            },
            None => {
                if !self.missing.contains(&s.fact) {
                    self.missing.push(s.fact.clone());
                }
                Component {
                    value: s.unset,
                    why: vec![self.reason(
                        &s.id,
                        about,
                        json!({ "says": "unset", "fact": s.fact, "score": q_json(s.unset) }),
                        None,
                    )],
                }
            }
        }
    }
}

/// Evaluates `rules` on `facts` (and the tracks, for conditions that read them).
pub fn assess(
    rules: &Rules,
    facts: &BTreeMap<String, FactValue>,
    tracks: &IndexMap<String, String>,
    lang: Lang,
    labels: &dyn Labeler,
) -> Assessment {
    let mut e = Eval {
        scope: Scope { facts, tracks },
        lang,
        labels,
        missing: Vec::new(),
        read: Vec::new(),
    };
    let (dpc, level) = e.dpc(rules);
    let ei = e.scored(&rules.ei, About::Ei);
    let cb = e.cb(rules);
    // SE = DPC × EI + CB, in quarters: dpc (whole) × ei (quarters) + cb (quarters).
    let score = level * ei.value + cb.value;
    let (band, mut reasons) = e.band(rules, score, level, &ei, &cb);
    let mut risk = e.risk_rules(rules, band.risk, &mut reasons);
    e.in_doubt(rules, &mut risk, &mut reasons);
    let exemptions = e.exemptions(rules, risk);
    e.conclusions(rules, risk, &exemptions, &mut reasons);
    Assessment {
        rules_version: rules.version.clone(),
        lang,
        dpc,
        ei,
        cb,
        score,
        band: band.band,
        edpb_severity: band.edpb.clone(),
        risk,
        notify_authority: risk >= rules.notify_from,
        inform_individuals: risk == Risk::High && exemptions.is_empty(),
        reasons,
        missing: e.missing,
        exemptions,
        inputs: e.read,
    }
}

impl Eval<'_> {
    /// DPC: the highest category, then whole steps by context, within its bounds. The
    /// component (in quarters) and its level (whole).
    fn dpc(&mut self, rules: &Rules) -> (Component, Quarters) {
        let mut dpc = self.scored(&rules.dpc, About::Dpc);
        let mut level = dpc.value / 4;
        for a in &rules.dpc_adjust {
            let applies = match self.eval(&a.when) {
                Some(b) => b,
                // Unknown: a step up applies, a step down does not.
                None => a.step > 0,
            };
            if applies {
                let before = level;
                level = (level + a.step).clamp(rules.dpc_min, rules.dpc_max);
                let r = self.reason(
                    &a.id,
                    About::Dpc,
                    json!({ "says": "adjust", "from": before, "to": level }),
                    Some(&a.text),
                );
                dpc.why.push(r);
            }
        }
        level = level.clamp(rules.dpc_min, rules.dpc_max);
        dpc.value = level * 4;
        (dpc, level)
    }

    /// CB: the scored losses and the terms whose condition is not false, added up.
    fn cb(&mut self, rules: &Rules) -> Component {
        let mut cb = Component {
            value: 0,
            why: Vec::new(),
        };
        for t in &rules.cb {
            match t {
                rules::Term::Scored(s) => {
                    let c = self.scored(s, About::Cb);
                    cb.value += c.value;
                    cb.why.extend(c.why);
                }
                rules::Term::Add {
                    id,
                    when,
                    add,
                    text,
                } => {
                    let v = self.eval(when);
                    if v != Some(false) {
                        cb.value += add;
                        let r = self.reason(
                            id,
                            About::Cb,
                            json!({ "says": "add", "add": q_json(*add), "unknown": v.is_none() }),
                            Some(text),
                        );
                        cb.why.push(r);
                    }
                }
            }
        }
        cb
    }

    /// The band the score falls in, and the first reason of the risk, which says it.
    fn band<'r>(
        &self,
        rules: &'r Rules,
        score: Quarters,
        level: Quarters,
        ei: &Component,
        cb: &Component,
    ) -> (&'r rules::BandDef, Vec<Reason>) {
        let band = rules
            .bands
            .iter()
            .find(|b| b.below.is_none_or(|below| score < below))
            .or(rules.bands.last())
            .expect("at least one band");
        let reasons = vec![self.reason(
            &format!("band_{}", band.band.as_str()),
            About::Risk,
            json!({
                "says": "band",
                "score": q_json(score),
                "dpc": level,
                "ei": q_json(ei.value),
                "cb": q_json(cb.value),
                "band": band.band.as_str(),
                "edpb": band.edpb,
                "risk": band.risk.as_str(),
            }),
            None,
        )];
        (band, reasons)
    }

    /// Rules after the score, in file order, each one a floor or a ceiling.
    fn risk_rules(&mut self, rules: &Rules, mut risk: Risk, reasons: &mut Vec<Reason>) -> Risk {
        for r in &rules.risk {
            let v = self.eval(&r.when);
            let applies = match v {
                Some(b) => b,
                None => r.on_unknown,
            };
            if !applies {
                continue;
            }
            let before = risk;
            if let Some(floor) = r.at_least {
                risk = risk.max(floor);
            }
            if let Some(ceiling) = r.at_most {
                risk = risk.min(ceiling);
            }
            let reason = self.reason(
                &r.id,
                About::Risk,
                json!({ "says": "rule", "unknown": v.is_none(), "from": before.as_str(), "to": risk.as_str() }),
                Some(&r.text),
            );
            reasons.push(reason);
        }
        risk
    }

    /// If in doubt, notify: never "no risk" while a fact the rules read is unknown; and
    /// whatever the risk, the facts still unknown are named beside the duty to notify
    /// (they could raise it).
    fn in_doubt(&self, rules: &Rules, risk: &mut Risk, reasons: &mut Vec<Reason>) {
        if self.missing.is_empty() {
            return;
        }
        if *risk == Risk::None {
            *risk = Risk::Risk;
        }
        let k = &rules.conclusions;
        let r = self.reason(
            &k.in_doubt.id,
            About::Risk,
            json!({ "says": "in_doubt", "missing": self.missing }),
            Some(&k.in_doubt.text),
        );
        reasons.push(r);
    }

    /// Exemptions (art. 34(3)): only when their condition is true.
    /// They matter only when the risk is high: otherwise their facts are not missing.
    fn exemptions(&mut self, rules: &Rules, risk: Risk) -> Vec<ExemptionHit> {
        let mut exemptions = Vec::new();
        // A ground is invoked by the DPO (or a fact already weighed above): an unknown one is
        // not a missing fact.
        for x in rules.exemptions.iter().filter(|_| risk == Risk::High) {
            let v = x.when.eval(&self.scope);
            self.note(&x.when, false);
            if v == Some(true) {
                exemptions.push(ExemptionHit {
                    rule: x.id.clone(),
                    ground: x.ground.clone(),
                    text: x.text.get(self.lang).to_string(),
                });
            }
        }
        exemptions
    }

    /// The recommendation for the three duties, each with the rules' own words.
    fn conclusions(
        &self,
        rules: &Rules,
        risk: Risk,
        exemptions: &[ExemptionHit],
        reasons: &mut Vec<Reason>,
    ) {
        let k = &rules.conclusions;
        let conclusion = |c: &rules::Conclusion, about: About| {
            self.reason(&c.id, about, json!({ "says": "conclusion" }), Some(&c.text))
        };
        reasons.push(conclusion(&k.document, About::Document));
        reasons.push(if risk >= rules.notify_from {
            conclusion(&k.notify, About::NotifyAuthority)
        } else {
            conclusion(&k.no_notify, About::NotifyAuthority)
        });
        if risk != Risk::High {
            reasons.push(conclusion(&k.no_inform, About::InformIndividuals));
        } else if exemptions.is_empty() {
            reasons.push(conclusion(&k.inform, About::InformIndividuals));
        } else {
            reasons.push(conclusion(&k.exempt, About::InformIndividuals));
            for x in exemptions {
                let t = rules
                    .exemptions
                    .iter()
                    .find(|r| r.id == x.rule)
                    .map(|r| &r.text);
                let r = self.reason(
                    &x.rule,
                    About::InformIndividuals,
                    json!({ "says": "exemption" }),
                    t,
                );
                reasons.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests;
