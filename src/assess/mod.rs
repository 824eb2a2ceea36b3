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

pub mod rules;

pub use rules::{Quarters, Rules, compile_rules};

use crate::time::Lang;
use crate::workflow::{Condition, FactValue, Scope};
use indexmap::IndexMap;
use std::collections::BTreeMap;

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
    /// The risk written out in a sentence.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Risk::None, Lang::Fr) => "un risque improbable",
            (Risk::Risk, Lang::Fr) => "un risque",
            (Risk::High, Lang::Fr) => "un risque élevé",
            (Risk::None, Lang::En) => "a risk unlikely",
            (Risk::Risk, Lang::En) => "a risk",
            (Risk::High, Lang::En) => "a high risk",
            (Risk::None, Lang::Nl) => "een onwaarschijnlijk risico",
            (Risk::Risk, Lang::Nl) => "een risico",
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

/// One reason: the rule that produced it and what it says, in the assessment's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub rule: String,
    pub about: About,
    pub text: String,
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

impl Labeler for crate::render::Labels {
    fn label(&self, id: &str) -> String {
        self.get(id).to_string()
    }
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

    fn t(&self, fr: String, en: String) -> String {
        // The engine's own sentences are in French and English; Dutch reads the English.
        match self.lang {
            Lang::Fr => fr,
            Lang::En | Lang::Nl => en,
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
        let fact = self.labels.label(&s.fact);
        let best = values
            .iter()
            .filter_map(|v| s.scores.get(v).map(|q| (v, *q)))
            .max_by_key(|(_, q)| *q);
        match best {
            Some((v, q)) => {
                let n = quarters_text(q, self.lang);
                let value = self.labels.label(v);
                let text = if values.len() > 1 {
                    self.t(
                        format!(
                            "{fact} : « {value} » vaut {n}, la plus haute des valeurs données."
                        ),
                        format!("{fact}: \"{value}\" scores {n}, the highest of the values given."),
                    )
                } else {
                    self.t(
                        format!("{fact} : « {value} » vaut {n}."),
                        format!("{fact}: \"{value}\" scores {n}."),
                    )
                };
                Component {
                    value: q,
                    why: vec![Reason {
                        rule: s.id.clone(),
                        about,
                        text,
                    }],
                }
            }
            None => {
                if !self.missing.contains(&s.fact) {
                    self.missing.push(s.fact.clone());
                }
                let n = quarters_text(s.unset, self.lang);
                Component {
                    value: s.unset,
                    why: vec![Reason {
                        rule: s.id.clone(),
                        about,
                        text: self.t(
                            format!("{fact} : inconnu, compté {n} (la valeur la plus grave) tant qu'il n'est pas renseigné."),
                            format!("{fact}: unknown, counted as {n} (the most severe value) until it is set."),
                        ),
                    }],
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

    // DPC: the highest category, then whole steps by context, within its bounds.
    let mut dpc = e.scored(&rules.dpc, About::Dpc);
    let mut level = dpc.value / 4;
    for a in &rules.dpc_adjust {
        let applies = match e.eval(&a.when) {
            Some(b) => b,
            // Unknown: a step up applies, a step down does not.
            None => a.step > 0,
        };
        if applies {
            let before = level;
            level = (level + a.step).clamp(rules.dpc_min, rules.dpc_max);
            let suffix = if before == level {
                e.t(
                    format!(" (déjà à la borne : {level})"),
                    format!(" (already at the bound: {level})"),
                )
            } else {
                format!(" ({before} → {level})")
            };
            dpc.why.push(Reason {
                rule: a.id.clone(),
                about: About::Dpc,
                text: format!("{}{suffix}", a.text.get(lang)),
            });
        }
    }
    level = level.clamp(rules.dpc_min, rules.dpc_max);
    dpc.value = level * 4;

    let ei = e.scored(&rules.ei, About::Ei);

    let mut cb = Component {
        value: 0,
        why: Vec::new(),
    };
    for t in &rules.cb {
        match t {
            rules::Term::Scored(s) => {
                let c = e.scored(s, About::Cb);
                cb.value += c.value;
                cb.why.extend(c.why);
            }
            rules::Term::Add {
                id,
                when,
                add,
                text,
            } => {
                let v = e.eval(when);
                if v != Some(false) {
                    cb.value += add;
                    let n = quarters_text(*add, lang);
                    let unknown = if v.is_none() {
                        e.t(" (inconnu : compté)".into(), " (unknown: counted)".into())
                    } else {
                        String::new()
                    };
                    cb.why.push(Reason {
                        rule: id.clone(),
                        about: About::Cb,
                        text: format!("{} +{n}{unknown}", text.get(lang)),
                    });
                }
            }
        }
    }

    // SE = DPC × EI + CB, in quarters: dpc (whole) × ei (quarters) + cb (quarters).
    let score = level * ei.value + cb.value;
    let band = rules
        .bands
        .iter()
        .find(|b| b.below.is_none_or(|below| score < below))
        .or(rules.bands.last())
        .expect("at least one band");
    let mut risk = band.risk;
    let mut reasons = vec![Reason {
        rule: format!("band_{}", band.band.as_str()),
        about: About::Risk,
        text: e.t(
            format!(
                "Gravité {} (DPC {} × EI {} + CB {}) : niveau « {} », gravité CEPD « {} » ; soit {}.",
                quarters_text(score, lang),
                level,
                quarters_text(ei.value, lang),
                quarters_text(cb.value, lang),
                band.band.name(Lang::Fr),
                edpb_name(&band.edpb, Lang::Fr),
                band.risk.name(Lang::Fr),
            ),
            format!(
                "Severity {} (DPC {} × EI {} + CB {}): band \"{}\", EDPB severity \"{}\"; that is {}.",
                quarters_text(score, lang),
                level,
                quarters_text(ei.value, lang),
                quarters_text(cb.value, lang),
                band.band.name(Lang::En),
                edpb_name(&band.edpb, Lang::En),
                band.risk.name(Lang::En),
            ),
        ),
    }];

    // Rules after the score, in file order, each one a floor or a ceiling.
    for r in &rules.risk {
        let v = e.eval(&r.when);
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
        let unknown = if v.is_none() {
            e.t(
                " (condition inconnue : appliquée par prudence)".into(),
                " (condition unknown: applied to be safe)".into(),
            )
        } else {
            String::new()
        };
        let change = if before == risk {
            String::new()
        } else {
            format!(" ({} → {})", before.name(lang), risk.name(lang))
        };
        reasons.push(Reason {
            rule: r.id.clone(),
            about: About::Risk,
            text: format!("{}{unknown}{change}", r.text.get(lang)),
        });
    }

    let k = &rules.conclusions;
    let reason = |c: &rules::Conclusion, about: About| Reason {
        rule: c.id.clone(),
        about,
        text: c.text.get(lang).to_string(),
    };
    // If in doubt, notify: never "no risk" while a fact the rules read is unknown.
    if risk == Risk::None && !e.missing.is_empty() {
        risk = Risk::Risk;
        let missing = e
            .missing
            .iter()
            .map(|f| e.labels.label(f))
            .collect::<Vec<_>>()
            .join(", ");
        let mut r = reason(&k.in_doubt, About::Risk);
        r.text = format!("{} ({missing})", r.text);
        reasons.push(r);
    }
    // Exemptions (art. 34(3)): only when their condition is true.
    // They matter only when the risk is high: otherwise their facts are not missing.
    let mut exemptions = Vec::new();
    // A ground is invoked by the DPO (or a fact already weighed above): an unknown one is
    // not a missing fact.
    for x in rules.exemptions.iter().filter(|_| risk == Risk::High) {
        let v = x.when.eval(&e.scope);
        e.note(&x.when, false);
        if v == Some(true) {
            exemptions.push(ExemptionHit {
                rule: x.id.clone(),
                ground: x.ground.clone(),
                text: x.text.get(lang).to_string(),
            });
        }
    }

    reasons.push(reason(&k.document, About::Document));
    let notify_authority = risk != Risk::None;
    reasons.push(if notify_authority {
        reason(&k.notify, About::NotifyAuthority)
    } else {
        reason(&k.no_notify, About::NotifyAuthority)
    });
    let inform_individuals = risk == Risk::High && exemptions.is_empty();
    if risk == Risk::High {
        if exemptions.is_empty() {
            reasons.push(reason(&k.inform, About::InformIndividuals));
        } else {
            reasons.push(reason(&k.exempt, About::InformIndividuals));
            for x in &exemptions {
                reasons.push(Reason {
                    rule: x.rule.clone(),
                    about: About::InformIndividuals,
                    text: x.text.clone(),
                });
            }
        }
    } else {
        reasons.push(reason(&k.no_inform, About::InformIndividuals));
    }

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
        notify_authority,
        inform_individuals,
        reasons,
        missing: e.missing,
        exemptions,
        inputs: e.read,
    }
}

#[cfg(test)]
mod tests;
