//! Workflows: the law of one jurisdiction as data. `compile` turns a YAML text into an
//! immutable, validated [`Workflow`]; [`crate::catalog::WorkflowSet`] holds the ones a process knows
//! (embedded in the binary, or a configured folder).

mod compile;
pub mod condition;
pub mod fact;
pub mod graph;
pub mod overlay;
pub(crate) mod raw;

pub use compile::{WorkflowError, WorkflowErrors, compile, compile_condition};
pub use condition::{Condition, FactTest, Scope};
pub use fact::{FactError, FactValue};

use crate::counting::{Counting, Country};
use crate::time::{Lang, Period};
use chrono_tz::Tz;
use indexmap::IndexMap;

#[derive(Debug)]
pub struct Workflow {
    pub id: String,
    /// The version of the law this text encodes (`version:`); None: a text written
    /// before versions (in force whenever it is the only one).
    pub version: Option<String>,
    /// The first day (in `timezone`) this version is in force; None with a version: a
    /// proposal, not in force.
    pub effective_from: Option<chrono::NaiveDate>,
    /// Where `version` (else `id`) and `effective_from` are written, for errors found
    /// when the versions of one id are put together.
    pub version_at: (u32, u32),
    pub effective_from_at: (u32, u32),
    pub title: String,
    pub timezone: Tz,
    pub lang: Lang,
    /// The languages its documents are drafted in; another is drafted in `lang`.
    pub languages: Vec<Lang>,
    /// The country whose public holidays `counting: eu_1182_71` skips.
    pub country: Option<Country>,
    pub meta: IndexMap<String, String>,
    pub tracks: IndexMap<String, Track>,
    pub facts: IndexMap<String, FactDef>,
    pub events: IndexMap<String, EventDef>,
    pub clocks: IndexMap<String, ClockDef>,
    pub documents: IndexMap<String, DocumentDef>,
    /// The regimes besides the workflow's own (`regimes:`), each with what it owns.
    pub regimes: IndexMap<String, Regime>,
    /// lang → id → label, from the workflow's own `labels:` section.
    pub labels: IndexMap<String, IndexMap<String, String>>,
    /// The exact text compiled, and its SHA-256: a case pins both.
    pub source: String,
    pub hash: String,
    /// Where the text came from (a path, or `embedded:fr.yaml`).
    pub origin: String,
    /// The risk-assessment rules file this workflow names (`assessment:`), relative
    /// to its folder; the [`crate::catalog::WorkflowSet`] loads and checks it.
    pub assessment: Option<String>,
    /// How the web page asks the facts (`intake:`); None: every fact, in order.
    pub intake: Option<Intake>,
}

/// The case page's questions (`intake:` in a workflow): every fact is in exactly one
/// section or hidden.
#[derive(Debug, Clone, Default)]
pub struct Intake {
    pub sections: Vec<Section>,
    pub hidden: Vec<String>,
    /// The authority's form (a document) and the step that files it.
    pub form: Option<String>,
    pub form_event: Option<String>,
    pub assessment: Vec<String>,
    pub confirm: Vec<String>,
    /// A hidden fact → (value, condition) in order.
    pub derive: Vec<(String, Vec<(String, Condition)>)>,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub id: String,
    pub regime: Option<String>,
    pub facts: Vec<String>,
}

/// The steps a page confirms when a workflow's `intake:` does not name them.
pub const CONFIRMED_STEPS: [&str; 4] = [
    "notify_authority",
    "decide_no_authority_notice",
    "decide_no_individual_notice",
    "close",
];

#[derive(Debug, Clone)]
pub struct Track {
    pub initial: String,
    pub states: Vec<String>,
    pub finals: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    DateTime,
    Integer,
    Boolean,
    Text,
    Choice,
    List,
    /// A list of e-mail addresses (`owners`): each one parsed as the mail layer will.
    Emails,
}

#[derive(Debug, Clone)]
pub struct FactDef {
    pub kind: FactType,
    pub choices: Vec<String>,
    /// The shape a `text` fact must have (None: free text).
    pub format: Option<TextFormat>,
}

/// The shapes a `text` fact may be given (`format:` in a workflow), checked when it is
/// set and stored normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// ISO 3166 alpha-2 country codes: `FR, BE`.
    Countries,
    /// ISO 3166 alpha-2 code = a count ≥ 0: `FR=1200, BE=300`.
    CountryCounts,
}

#[derive(Debug, Clone)]
pub struct EventDef {
    pub track: String,
    pub from: Vec<String>,
    pub to: String,
    pub requires: Vec<String>,
    pub when: Option<Condition>,
    /// What the event also needs in some circumstances (`conditions:`).
    pub provisos: Vec<Proviso>,
}

/// When `condition` holds on the case (with the facts given alongside the event), the
/// event also needs `requires` set and `when` true: art. 34(3)(c) invoked needs the
/// public communication that replaces the notice.
#[derive(Debug, Clone)]
pub struct Proviso {
    pub condition: Condition,
    pub basis: Option<String>,
    pub requires: Vec<String>,
    pub when: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    Fact(String),
    /// The first time the event happened.
    Event(String),
    /// The latest time the event happened: the clock restarts each time it happens.
    LastEvent(String),
    /// The earliest instant among these datetime facts, of those set: a law that counts
    /// from the incident's detection where known, else from awareness, the earlier
    /// when both are known.
    Earliest(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct ClockDef {
    pub title: String,
    pub basis: Option<String>,
    pub starts: Start,
    /// None: no statutory deadline (never late).
    pub within: Option<Period>,
    /// Further deadlines (`or_earlier`): the clock is due at the earliest of `within`
    /// and each of these whose start is known.
    pub or_earlier: Vec<(Start, Period)>,
    /// How `within` and `or_earlier` periods are counted.
    pub counting: Counting,
    /// A target the organisation set where the law says "without undue delay".
    pub internal: bool,
    pub applies: Option<Condition>,
    pub met_by: Vec<String>,
    pub late_requires: Vec<String>,
    pub remind_before: Vec<Period>,
    pub overdue_every: Option<Period>,
}

/// A regime (NIS2, DORA, a cyber-insurance policy): when its condition is false for a
/// case (never when unknown), none of its tracks' events, clocks or documents apply.
#[derive(Debug, Clone)]
pub struct Regime {
    pub applies: Option<Condition>,
    pub tracks: Vec<String>,
    /// Every clock of the regime: those its tracks' events meet, and those it names.
    pub clocks: Vec<String>,
    pub documents: Vec<String>,
    pub authority: Option<Authority>,
}

/// Who a regime's reports are addressed to.
#[derive(Debug, Clone, PartialEq)]
pub enum Authority {
    /// A `meta` value of the workflow (`nis2_authority`).
    Meta(String),
    /// A field of the organisation's profile (`financial_supervisor`); until it is set,
    /// the draft says the authority is to be chosen among `choices` (a `meta` key).
    Profile {
        field: String,
        choices: Option<String>,
    },
}

/// The profile fields a regime's authority can be taken from.
pub const AUTHORITY_FIELDS: &[&str] = &["financial_supervisor"];

#[derive(Debug, Clone)]
pub struct DocumentDef {
    pub template: String,
    pub title: String,
    pub needs: Vec<String>,
    /// Where the document is defined in its file (line, column), for errors found later
    /// (a template missing for a language).
    pub at: (u32, u32),
}

impl Workflow {
    /// `id@version`, or the id alone for a text without a version: what `case show`,
    /// the register and `--workflow` name.
    pub fn key(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.id),
            None => self.id.clone(),
        }
    }

    /// "version 2018-05-25, in force from 2018-05-25" (or "a proposal, not in force");
    /// None for a text without a version.
    pub fn version_text(&self) -> Option<String> {
        let v = self.version.as_ref()?;
        Some(match self.effective_from {
            Some(d) => format!("version {v}, in force from {d}"),
            None => format!("version {v}, a proposal, not in force"),
        })
    }

    /// A version with no `effective_from`: a proposal, never pinned by itself.
    pub fn is_proposal(&self) -> bool {
        self.version.is_some() && self.effective_from.is_none()
    }

    /// The instant this version comes into force: 00:00 of `effective_from` in the
    /// workflow's zone.
    pub fn in_force_from(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.effective_from.map(|d| {
            crate::time::resolve_local(self.timezone, d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
    }

    /// The language a document asked in `lang` is drafted in: `lang` when the workflow
    /// offers it, else the workflow's own (a CNIL form has no Dutch version).
    pub fn draft_lang(&self, lang: Lang) -> Lang {
        if self.languages.contains(&lang) {
            lang
        } else {
            self.lang
        }
    }

    /// The workflow's own label for `id` in `lang`, if it has one.
    pub fn label(&self, lang: Lang, id: &str) -> Option<&str> {
        self.labels
            .get(lang.code())
            .and_then(|m| m.get(id))
            .map(String::as_str)
    }

    /// The regime an event belongs to (through its track), if any.
    pub fn regime_of_event(&self, event: &str) -> Option<(&String, &Regime)> {
        let track = &self.events.get(event)?.track;
        self.regimes.iter().find(|(_, r)| r.tracks.contains(track))
    }

    /// The regime a clock belongs to, if any.
    pub fn regime_of_clock(&self, clock: &str) -> Option<(&String, &Regime)> {
        self.regimes
            .iter()
            .find(|(_, r)| r.clocks.iter().any(|c| c == clock))
    }

    /// The regime a document belongs to, if any.
    pub fn regime_of_document(&self, document: &str) -> Option<(&String, &Regime)> {
        self.regimes
            .iter()
            .find(|(_, r)| r.documents.iter().any(|d| d == document))
    }

    /// Whether the page asks to confirm `event` before recording it.
    pub fn confirmed(&self, event: &str) -> bool {
        match &self.intake {
            Some(i) => i.confirm.iter().any(|e| e == event),
            None => CONFIRMED_STEPS.contains(&event),
        }
    }

    /// The facts the authority's form needs (its document's `needs` and the step's
    /// `requires`), in the workflow's order.
    pub fn form_needs(&self) -> Vec<&String> {
        let Some(i) = &self.intake else {
            return Vec::new();
        };
        let doc = i.form.as_ref().and_then(|d| self.documents.get(d));
        let ev = i.form_event.as_ref().and_then(|e| self.events.get(e));
        self.facts
            .keys()
            .filter(|f| {
                doc.is_some_and(|d| d.needs.contains(f))
                    || ev.is_some_and(|e| e.requires.contains(f))
            })
            .collect()
    }

    /// The clocks an event meets.
    pub fn clocks_met_by<'a>(
        &'a self,
        event: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a ClockDef)> {
        self.clocks
            .iter()
            .filter(move |(_, c)| c.met_by.iter().any(|e| e == event))
    }
}
