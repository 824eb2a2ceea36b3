//! From YAML text to a validated [`Workflow`]: every mistake found, each with
//! `file:line:column`, all reported at once.

mod clocks;
mod conditions;
mod documents;
mod events;
mod facts;
mod intake;
mod regimes;
mod tracks;

use super::raw::{RawCondition, RawWorkflow, S};
use super::{Condition, Workflow};
use crate::counting::Country;
use crate::time::{Lang, Period};
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde_saphyr::{Location, Spanned};
use std::fmt;

/// One mistake in a workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Every mistake found in one or more files.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowErrors(pub Vec<WorkflowError>);

impl fmt::Display for WorkflowErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for WorkflowErrors {}

/// Compiles one condition of another file (the assessment rules) against `wf`: its
/// facts and tracks, with errors at `origin:line:column`.
pub fn compile_condition(
    origin: &str,
    wf: &Workflow,
    raw: &Spanned<RawCondition>,
) -> Result<Condition, Vec<WorkflowError>> {
    let mut c = Compiler {
        origin,
        errors: Vec::new(),
    };
    match c.condition(wf, raw) {
        Some(cond) if c.errors.is_empty() => Ok(cond),
        _ => Err(c.errors),
    }
}

/// Reads and validates one workflow text. `origin` names it in error messages.
pub fn compile(origin: &str, text: &str) -> Result<Workflow, WorkflowErrors> {
    let raw: RawWorkflow = match crate::util::yaml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            return Err(WorkflowErrors(vec![WorkflowError {
                file: origin.to_string(),
                line: e.line,
                column: e.column,
                message: e.message,
            }]));
        }
    };
    let mut c = Compiler {
        origin,
        errors: Vec::new(),
    };
    let wf = c.workflow(raw, text);
    if c.errors.is_empty() {
        Ok(wf)
    } else {
        c.errors.sort_by_key(|e| (e.line, e.column));
        c.errors.dedup();
        Err(WorkflowErrors(c.errors))
    }
}

struct Compiler<'a> {
    origin: &'a str,
    errors: Vec<WorkflowError>,
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Compiler<'_> {
    fn err(&mut self, at: &Location, message: impl Into<String>) {
        self.errors.push(WorkflowError {
            file: self.origin.to_string(),
            line: at.line() as u32,
            column: at.column() as u32,
            message: message.into(),
        });
    }

    fn period(&mut self, s: &S, what: &str) -> Option<Period> {
        match Period::parse(&s.value) {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(&s.referenced, format!("{what}: {e}"));
                None
            }
        }
    }

    fn workflow(&mut self, raw: RawWorkflow, text: &str) -> Workflow {
        self.check_id(&raw);
        let timezone = self.timezone(&raw);
        let lang = self.lang(&raw);
        let languages = self.languages(&raw, lang);
        let country = self.country(&raw);
        let tracks = self.tracks(&raw);
        let facts = self.facts(&raw);
        let (version, effective_from) = self.version(&raw);
        let at = |l: &Location| (l.line() as u32, l.column() as u32);
        let mut wf = Workflow {
            id: raw.id.value.clone(),
            version,
            effective_from,
            version_at: at(&raw.version.as_ref().unwrap_or(&raw.id).referenced),
            effective_from_at: raw
                .effective_from
                .as_ref()
                .map(|e| at(&e.referenced))
                .unwrap_or_default(),
            title: raw.title.clone(),
            timezone,
            lang,
            languages,
            country,
            meta: raw.meta.clone(),
            tracks,
            facts,
            events: IndexMap::new(),
            clocks: IndexMap::new(),
            documents: IndexMap::new(),
            regimes: IndexMap::new(),
            labels: raw
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            source: text.to_string(),
            hash: crate::util::hash::sha256_hex(text),
            origin: self.origin.to_string(),
            assessment: raw.assessment.as_ref().map(|a| a.value.clone()),
            intake: None,
        };
        self.check_assessment_and_labels(&raw);
        self.events(&mut wf, &raw);
        let possible_events = self.reachability(&wf, &raw);
        self.clocks(&mut wf, &raw, &possible_events);
        self.documents(&mut wf, &raw);
        self.regimes(&mut wf, &raw);
        if let Some(i) = &raw.intake {
            wf.intake = Some(self.intake(&wf, i));
        }
        wf
    }

    /// The workflow's id: lowercase letters, digits, '_' or '-'.
    fn check_id(&mut self, raw: &RawWorkflow) {
        if !is_id(&raw.id.value) {
            self.err(
                &raw.id.referenced,
                format!(
                    "workflow id '{}' must be lowercase letters, digits, '_' or '-'",
                    raw.id.value
                ),
            );
        }
    }

    /// Its version and the date it is in force from: a version is an id's characters
    /// (or `.`), the date is `YYYY-MM-DD`, and a date needs a version.
    fn version(&mut self, raw: &RawWorkflow) -> (Option<String>, Option<chrono::NaiveDate>) {
        let version = raw.version.as_ref().and_then(|v| {
            let ok = !v.value.is_empty()
                && v.value.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
                });
            if ok {
                Some(v.value.clone())
            } else {
                self.err(
                    &v.referenced,
                    format!(
                        "version: {} must be lowercase letters, digits, '.', '_' or '-' (e.g. 2018-05-25)",
                        crate::util::quote(&v.value)
                    ),
                );
                None
            }
        });
        let date = raw.effective_from.as_ref().and_then(|e| {
            match chrono::NaiveDate::parse_from_str(e.value.trim(), "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    self.err(
                        &e.referenced,
                        format!(
                            "effective_from: {} is not a date: write YYYY-MM-DD (the first day the version is in force)",
                            crate::util::quote(&e.value)
                        ),
                    );
                    None
                }
            }
        });
        if let (None, Some(e)) = (&raw.version, &raw.effective_from) {
            self.err(
                &e.referenced,
                "effective_from: give the version it dates (`version:`) too",
            );
        }
        (version, date)
    }

    /// The zone its deadlines are shown in (UTC when unknown, with an error).
    fn timezone(&mut self, raw: &RawWorkflow) -> Tz {
        raw.timezone.value.parse().unwrap_or_else(|_| {
            self.err(
                &raw.timezone.referenced,
                format!(
                    "unknown time zone '{}': use an IANA name such as Europe/Paris",
                    raw.timezone.value
                ),
            );
            Tz::UTC
        })
    }

    /// Its own language (French when unset).
    fn lang(&mut self, raw: &RawWorkflow) -> Lang {
        match &raw.lang {
            None => Lang::Fr,
            Some(l) => Lang::parse(&l.value).unwrap_or_else(|| {
                self.err(
                    &l.referenced,
                    format!("unknown language '{}': use {}", l.value, Lang::choices()),
                );
                Lang::Fr
            }),
        }
    }

    /// The languages its documents are drafted in, its own among them.
    fn languages(&mut self, raw: &RawWorkflow, lang: Lang) -> Vec<Lang> {
        let mut languages = Vec::new();
        match &raw.languages {
            // Workflows written before Dutch keep passing `workflow check` without nl
            // templates: Dutch drafts are opted into by listing nl.
            None => {
                languages.extend([Lang::Fr, Lang::En]);
                if !languages.contains(&lang) {
                    languages.push(lang);
                }
            }
            Some(list) => {
                for l in list {
                    match Lang::parse(&l.value) {
                        Some(code) if languages.contains(&code) => self.err(
                            &l.referenced,
                            format!("languages: '{}' is listed twice", l.value),
                        ),
                        Some(code) => languages.push(code),
                        None => self.err(
                            &l.referenced,
                            format!(
                                "languages: unknown language '{}': use {}",
                                l.value,
                                Lang::choices()
                            ),
                        ),
                    }
                }
                if let Some(first) = list.first()
                    && !languages.contains(&lang)
                {
                    self.err(
                        &first.referenced,
                        format!(
                            "languages: the workflow's own language '{}' must be listed",
                            lang.code()
                        ),
                    );
                }
            }
        }
        languages
    }

    /// The country whose public holidays it skips, if it names one.
    fn country(&mut self, raw: &RawWorkflow) -> Option<Country> {
        raw.country.as_ref().and_then(|c| {
            let known = Country::parse(&c.value);
            if known.is_none() {
                self.err(
                    &c.referenced,
                    format!(
                        "unknown country {}: give the ISO 3166 code of one whose public holidays vigie knows (FR, BE)",
                        crate::util::quote(&c.value)
                    ),
                );
            }
            known
        })
    }

    /// The assessment rules file's name, and the languages of the workflow's own labels.
    fn check_assessment_and_labels(&mut self, raw: &RawWorkflow) {
        if let Some(a) = &raw.assessment
            && (a.value.trim().is_empty()
                || a.value.starts_with('/')
                || a.value.split('/').any(|part| part == ".."))
        {
            self.err(
                &a.referenced,
                format!(
                    "assessment: '{}' must be a file name relative to the workflow's folder",
                    a.value
                ),
            );
        }
        for (lang, l) in &raw.labels {
            if Lang::parse(lang).is_none() {
                self.err(
                    &l.referenced,
                    format!("labels: unknown language '{lang}': use {}", Lang::choices()),
                );
            }
        }
    }

    fn unknown<'k>(&mut self, s: &S, what: &str, known: impl Iterator<Item = &'k String>) {
        let h = crate::util::did_you_mean(&s.value, known);
        self.err(&s.referenced, format!("unknown {what} '{}'{h}", s.value));
    }

    fn state_ref(&mut self, track: &str, states: &[String], s: &S, what: &str) {
        if !states.contains(&s.value) {
            self.err(
                &s.referenced,
                format!(
                    "{what} '{}' is not a state of track '{track}' (states: {})",
                    s.value,
                    states.join(", ")
                ),
            );
        }
    }

    fn fact_ref(&mut self, wf: &Workflow, f: &S) {
        if !wf.facts.contains_key(&f.value) {
            self.unknown(f, "fact", wf.facts.keys());
        }
    }

    fn event_ref(&mut self, wf: &Workflow, e: &S) {
        if !wf.events.contains_key(&e.value) {
            self.unknown(e, "event", wf.events.keys());
        }
    }
}
