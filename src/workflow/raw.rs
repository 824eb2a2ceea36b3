//! The workflow file as written: serde structs that keep every value's position, so the
//! validator can point at `file:line:column`.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

pub type S = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflow {
    pub id: S,
    /// This text's version of the law (`2018-05-25`, `omnibus-proposal`): a workflow id
    /// may have several files, one per version.
    #[serde(default)]
    pub version: Option<S>,
    /// The date (in the workflow's zone) from which this version is in force; none: a
    /// proposal, never pinned by a case by itself.
    #[serde(default)]
    pub effective_from: Option<S>,
    pub title: String,
    pub timezone: S,
    #[serde(default)]
    pub lang: Option<S>,
    /// The languages its documents are drafted in (default: fr, en and its own `lang`).
    #[serde(default)]
    pub languages: Option<Vec<S>>,
    /// ISO 3166 code whose public holidays `counting: eu_1182_71` skips.
    #[serde(default)]
    pub country: Option<S>,
    #[serde(default)]
    pub meta: IndexMap<String, String>,
    pub tracks: IndexMap<String, Spanned<RawTrack>>,
    #[serde(default)]
    pub facts: IndexMap<String, Spanned<RawFact>>,
    #[serde(default)]
    pub events: IndexMap<String, Spanned<RawEvent>>,
    #[serde(default)]
    pub clocks: IndexMap<String, Spanned<RawClock>>,
    #[serde(default)]
    pub documents: IndexMap<String, Spanned<RawDocument>>,
    #[serde(default)]
    pub labels: IndexMap<String, Spanned<IndexMap<String, String>>>,
    /// The regimes besides the workflow's own (NIS2, DORA, an insurance policy): what
    /// each covers, when it applies, and who its reports go to.
    #[serde(default)]
    pub regimes: IndexMap<String, Spanned<RawRegime>>,
    /// The risk-assessment rules file, relative to this file's folder.
    #[serde(default)]
    pub assessment: Option<S>,
    /// How the web page asks the facts (issue 21 part 2): sections, marks, derived facts.
    #[serde(default)]
    pub intake: Option<Spanned<RawIntake>>,
}

/// `intake:`: the case page's questions, in sections; the facts not asked (derived from
/// others by `derive`, or set by a decision); which form and rules each answer serves;
/// the steps the page confirms.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIntake {
    /// The authority's form (a document): its `needs`, with `form_event`'s `requires`,
    /// are marked "needed for the notification" and counted on the case page.
    #[serde(default)]
    pub form: Option<S>,
    #[serde(default)]
    pub form_event: Option<S>,
    /// The facts the risk assessment reads: marked "needed for the assessment".
    #[serde(default)]
    pub assessment: Vec<S>,
    /// The steps the page asks to confirm before recording them.
    #[serde(default)]
    pub confirm: Vec<S>,
    pub sections: IndexMap<String, Spanned<RawSection>>,
    /// Facts never asked: derived (see `derive`) or set by a decision.
    #[serde(default)]
    pub hidden: Vec<S>,
    /// A hidden fact's value derived from the facts asked: each value whose condition
    /// holds (a list collects them, a choice takes the first).
    #[serde(default)]
    pub derive: IndexMap<String, Spanned<Vec<Spanned<RawDerive>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSection {
    /// Shown only while this regime applies (its condition not false).
    #[serde(default)]
    pub regime: Option<S>,
    pub facts: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDerive {
    pub value: S,
    pub when: Spanned<RawCondition>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrack {
    pub initial: S,
    pub states: Vec<S>,
    #[serde(rename = "final")]
    pub finals: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFact {
    #[serde(rename = "type")]
    pub kind: S,
    #[serde(default)]
    pub choices: Vec<S>,
    /// A `text` fact with a shape the law's forms ask for: `countries` or
    /// `country_counts` (ISO 3166 alpha-2 codes).
    #[serde(default)]
    pub format: Option<S>,
}

/// `from: a` or `from: [a, b]`.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    pub track: S,
    pub from: Spanned<OneOrMany>,
    pub to: S,
    #[serde(default)]
    pub requires: Vec<S>,
    #[serde(default)]
    pub when: Option<Spanned<RawCondition>>,
    /// What the event needs in some circumstances only: `if` true, `requires` and `when`.
    #[serde(default)]
    pub conditions: Vec<Spanned<RawProviso>>,
}

/// One entry of an event's `conditions`: when `if` holds, the event also requires these
/// facts and this guard (an exemption and what the law asks of it).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProviso {
    #[serde(rename = "if")]
    pub if_: Spanned<RawCondition>,
    /// The legal source, named in the refusal.
    #[serde(default)]
    pub basis: Option<String>,
    #[serde(default)]
    pub requires: Vec<S>,
    #[serde(default)]
    pub when: Option<Spanned<RawCondition>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    #[serde(default)]
    pub fact: Option<S>,
    #[serde(default)]
    pub track: Option<S>,
    #[serde(default)]
    pub equals: Option<serde_json::Value>,
    #[serde(default, rename = "in")]
    pub in_: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub not_in: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub is_set: Option<bool>,
    #[serde(default)]
    pub at_least: Option<i64>,
    #[serde(default)]
    pub all: Option<Vec<Spanned<RawCondition>>>,
    #[serde(default)]
    pub any: Option<Vec<Spanned<RawCondition>>>,
    #[serde(default)]
    pub not: Option<Box<Spanned<RawCondition>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStart {
    #[serde(default)]
    pub fact: Option<S>,
    #[serde(default)]
    pub event: Option<S>,
    #[serde(default)]
    pub last_event: Option<S>,
    /// The earliest of several datetime facts, those set (`earliest: [detected_at, aware_at]`).
    #[serde(default)]
    pub earliest: Option<Spanned<Vec<S>>>,
}

/// One more deadline of a clock, in `or_earlier`: the clock is due at the earliest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlternative {
    pub starts: Spanned<RawStart>,
    pub within: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClock {
    pub title: String,
    #[serde(default)]
    pub basis: Option<String>,
    pub starts: Spanned<RawStart>,
    #[serde(default)]
    pub within: Option<S>,
    #[serde(default)]
    pub or_earlier: Vec<Spanned<RawAlternative>>,
    #[serde(default)]
    pub counting: Option<S>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub applies: Option<Spanned<RawCondition>>,
    pub met_by: Spanned<OneOrMany>,
    #[serde(default)]
    pub late_requires: Vec<S>,
    #[serde(default)]
    pub remind_before: Vec<S>,
    #[serde(default)]
    pub overdue_every: Option<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    pub template: S,
    pub title: String,
    #[serde(default)]
    pub needs: Vec<S>,
}

/// A regime of the workflow (`regimes:`): the tracks, clocks and documents it owns.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRegime {
    /// False (never unknown): the regime does not apply to the case.
    #[serde(default)]
    pub applies: Option<Spanned<RawCondition>>,
    /// Its tracks: their events, and the clocks those events meet, are the regime's.
    #[serde(default)]
    pub tracks: Vec<S>,
    /// Further clocks of the regime (met by events of a shared track).
    #[serde(default)]
    pub clocks: Vec<S>,
    #[serde(default)]
    pub documents: Vec<S>,
    #[serde(default)]
    pub authority: Option<Spanned<RawAuthority>>,
}

/// Who a regime's reports go to: a profile field the organisation fills in
/// (`financial_supervisor`), else the workflow's `meta` value (the choices, or the
/// authority itself when no profile field is named).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuthority {
    #[serde(default)]
    pub profile: Option<S>,
    #[serde(default)]
    pub meta: Option<S>,
}
