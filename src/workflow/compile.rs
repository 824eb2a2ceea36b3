//! From YAML text to a validated [`Workflow`]: every mistake found, each with
//! `file:line:column`, all reported at once.

use super::raw::{OneOrMany, RawCondition, RawIntake, RawStart, RawWorkflow, S};
use super::{
    AUTHORITY_FIELDS, Authority, ClockDef, Condition, DocumentDef, EventDef, FactDef, FactTest,
    FactType, Intake, Regime, Section, Start, Track, Workflow,
};
use crate::counting::{Counting, Country};
use crate::time::{Lang, Period};
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde_saphyr::{Location, Spanned};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet, VecDeque};
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

pub fn sha256_hex(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

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
    let raw: RawWorkflow = match crate::yaml::from_str(text) {
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
        let mut wf = Workflow {
            id: raw.id.value.clone(),
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
            hash: sha256_hex(text),
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

    /// Tracks and their states.
    fn tracks(&mut self, raw: &RawWorkflow) -> IndexMap<String, Track> {
        let mut tracks = IndexMap::new();
        for (name, t) in &raw.tracks {
            let mut states: Vec<String> = Vec::new();
            for s in &t.value.states {
                if states.contains(&s.value) {
                    self.err(
                        &s.referenced,
                        format!("track '{name}': state '{}' is listed twice", s.value),
                    );
                } else {
                    states.push(s.value.clone());
                }
            }
            self.state_ref(name, &states, &t.value.initial, "initial state");
            for f in &t.value.finals {
                self.state_ref(name, &states, f, "final state");
            }
            if t.value.finals.is_empty() {
                self.err(&t.referenced, format!("track '{name}' has no final state"));
            }
            tracks.insert(
                name.clone(),
                Track {
                    initial: t.value.initial.value.clone(),
                    states,
                    finals: t.value.finals.iter().map(|f| f.value.clone()).collect(),
                },
            );
        }
        tracks
    }

    /// Facts: their types, choices and formats.
    fn facts(&mut self, raw: &RawWorkflow) -> IndexMap<String, FactDef> {
        let mut facts = IndexMap::new();
        for (name, f) in &raw.facts {
            let kind = match f.value.kind.value.as_str() {
                "datetime" => FactType::DateTime,
                "integer" => FactType::Integer,
                "boolean" => FactType::Boolean,
                "text" => FactType::Text,
                "choice" => FactType::Choice,
                "list" => FactType::List,
                "emails" => FactType::Emails,
                other => {
                    self.err(
                        &f.value.kind.referenced,
                        format!("fact '{name}': unknown type '{other}' (datetime, integer, boolean, text, choice, list, emails)"),
                    );
                    FactType::Text
                }
            };
            if kind == FactType::Choice && f.value.choices.is_empty() {
                self.err(
                    &f.referenced,
                    format!("fact '{name}' is a choice with no choices"),
                );
            }
            if !f.value.choices.is_empty() && !matches!(kind, FactType::Choice | FactType::List) {
                self.err(
                    &f.referenced,
                    format!("fact '{name}': only choice and list facts take choices"),
                );
            }
            let format = match &f.value.format {
                None => None,
                Some(fmt) => {
                    let format = match fmt.value.as_str() {
                        "countries" => Some(super::TextFormat::Countries),
                        "country_counts" => Some(super::TextFormat::CountryCounts),
                        other => {
                            self.err(
                                &fmt.referenced,
                                format!("fact '{name}': unknown format '{other}' (countries, country_counts)"),
                            );
                            None
                        }
                    };
                    if kind != FactType::Text {
                        self.err(
                            &fmt.referenced,
                            format!("fact '{name}': only text facts take a format"),
                        );
                    }
                    format
                }
            };
            facts.insert(
                name.clone(),
                FactDef {
                    kind,
                    choices: f.value.choices.iter().map(|c| c.value.clone()).collect(),
                    format,
                },
            );
        }
        facts
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

    /// Events: each moves one track from some states to another, given facts and conditions.
    fn events(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        for (name, e) in &raw.events {
            let ev = &e.value;
            let track = wf.tracks.get(&ev.track.value).cloned();
            if track.is_none() {
                self.unknown(&ev.track, "track", wf.tracks.keys());
            }
            let from = match &ev.from.value {
                OneOrMany::One(s) => vec![s.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            if let Some(t) = &track {
                for s in &from {
                    if !t.states.contains(s) {
                        self.err(
                            &ev.from.referenced,
                            format!(
                                "event '{name}': unknown state '{s}' in track '{}' (states: {})",
                                ev.track.value,
                                t.states.join(", ")
                            ),
                        );
                    }
                }
                self.state_ref(
                    &ev.track.value,
                    &t.states,
                    &ev.to,
                    &format!("event '{name}': target state"),
                );
            }
            for r in &ev.requires {
                self.fact_ref(&wf, r);
            }
            let when = ev.when.as_ref().and_then(|c| self.condition(&wf, c));
            let mut provisos = Vec::new();
            for p in &ev.conditions {
                let pv = &p.value;
                if pv.requires.is_empty() && pv.when.is_none() {
                    self.err(
                        &p.referenced,
                        format!(
                            "event '{name}': a condition needs 'requires' or 'when' besides 'if'"
                        ),
                    );
                }
                for r in &pv.requires {
                    self.fact_ref(&wf, r);
                }
                let condition = self.condition(&wf, &pv.if_);
                let guard = pv.when.as_ref().and_then(|c| self.condition(&wf, c));
                if let Some(condition) = condition {
                    provisos.push(super::Proviso {
                        condition,
                        basis: pv.basis.clone(),
                        requires: pv.requires.iter().map(|r| r.value.clone()).collect(),
                        when: guard,
                    });
                }
            }
            wf.events.insert(
                name.clone(),
                EventDef {
                    track: ev.track.value.clone(),
                    from,
                    to: ev.to.value.clone(),
                    requires: ev.requires.iter().map(|r| r.value.clone()).collect(),
                    when,
                    provisos,
                },
            );
        }
    }

    /// Reachability, per track: every state reachable from the initial one, and a final
    /// state reachable from every state. Returns the events that can happen.
    fn reachability(&mut self, wf: &Workflow, raw: &RawWorkflow) -> HashSet<String> {
        let mut possible_events: HashSet<String> = HashSet::new();
        for (tname, t) in &raw.tracks {
            let Some(track) = wf.tracks.get(tname) else {
                continue;
            };
            let edges: Vec<(&String, &EventDef)> = wf
                .events
                .iter()
                .filter(|(_, e)| &e.track == tname)
                .collect();
            let mut reached: HashSet<&str> = HashSet::from([track.initial.as_str()]);
            let mut queue = VecDeque::from([track.initial.as_str()]);
            while let Some(s) = queue.pop_front() {
                for (ename, e) in &edges {
                    if e.from.iter().any(|f| f == s) {
                        possible_events.insert((*ename).clone());
                        if reached.insert(e.to.as_str()) {
                            queue.push_back(e.to.as_str());
                        }
                    }
                }
            }
            for s in &t.value.states {
                if !reached.contains(s.value.as_str()) && track.states.contains(&s.value) {
                    self.err(
                        &s.referenced,
                        format!(
                            "track '{tname}': state '{}' cannot be reached from '{}'",
                            s.value, track.initial
                        ),
                    );
                }
            }
            let mut settles: HashSet<&str> = track.finals.iter().map(String::as_str).collect();
            loop {
                let before = settles.len();
                for (_, e) in &edges {
                    if settles.contains(e.to.as_str()) {
                        for f in &e.from {
                            settles.insert(f.as_str());
                        }
                    }
                }
                if settles.len() == before {
                    break;
                }
            }
            for s in &t.value.states {
                if reached.contains(s.value.as_str()) && !settles.contains(s.value.as_str()) {
                    self.err(
                        &s.referenced,
                        format!(
                            "track '{tname}': no final state ({}) can be reached from '{}'",
                            track.finals.join(", "),
                            s.value
                        ),
                    );
                }
            }
        }
        for (name, e) in &raw.events {
            if wf.tracks.contains_key(&e.value.track.value) && !possible_events.contains(name) {
                self.err(&e.value.from.referenced, format!("event '{name}' can never happen: track '{}' never reaches any of its 'from' states", e.value.track.value));
            }
        }
        possible_events
    }

    /// Clocks: when each starts, its period, how it counts, and the events that meet it.
    fn clocks(&mut self, wf: &mut Workflow, raw: &RawWorkflow, possible_events: &HashSet<String>) {
        for (name, c) in &raw.clocks {
            let ck = &c.value;
            let starts = self.start(&wf, name, &ck.starts);
            let within = ck
                .within
                .as_ref()
                .and_then(|w| self.period(w, &format!("clock '{name}' within")));
            let mut or_earlier = Vec::new();
            for alt in &ck.or_earlier {
                let start = self.start(&wf, name, &alt.value.starts);
                if let Some(p) = self.period(
                    &alt.value.within,
                    &format!("clock '{name}' or_earlier within"),
                ) {
                    or_earlier.push((start, p));
                }
            }
            if !ck.or_earlier.is_empty() && ck.within.is_none() {
                self.err(
                    &ck.or_earlier[0].referenced,
                    format!("clock '{name}': or_earlier needs the clock's own 'within'"),
                );
            }
            let counting = match &ck.counting {
                None => Counting::Conservative,
                Some(c) => match Counting::parse(&c.value) {
                    Some(Counting::Eu1182_71) if wf.country.is_none() => {
                        self.err(
                            &c.referenced,
                            format!("clock '{name}': counting eu_1182_71 needs the workflow's 'country' (FR or BE), whose public holidays it skips"),
                        );
                        Counting::Eu1182_71
                    }
                    Some(k) => k,
                    None => {
                        self.err(
                            &c.referenced,
                            format!(
                                "clock '{name}': unknown counting {}: use conservative or eu_1182_71",
                                crate::util::quote(&c.value)
                            ),
                        );
                        Counting::Conservative
                    }
                },
            };
            let applies = ck.applies.as_ref().and_then(|a| self.condition(&wf, a));
            let met_by = match &ck.met_by.value {
                OneOrMany::One(s) => vec![s.clone()],
                OneOrMany::Many(v) => v.clone(),
            };
            for m in &met_by {
                if !wf.events.contains_key(m) {
                    self.err(
                        &ck.met_by.referenced,
                        format!(
                            "clock '{name}' is met by unknown event '{m}'{}",
                            crate::util::did_you_mean(m, wf.events.keys())
                        ),
                    );
                } else if !possible_events.contains(m) {
                    self.err(
                        &ck.met_by.referenced,
                        format!("clock '{name}' is met by event '{m}', which can never happen"),
                    );
                }
            }
            for r in &ck.late_requires {
                self.fact_ref(&wf, r);
            }
            let remind_before = ck
                .remind_before
                .iter()
                .filter_map(|r| self.period(r, &format!("clock '{name}' remind_before")))
                .collect();
            let overdue_every = ck
                .overdue_every
                .as_ref()
                .and_then(|o| self.period(o, &format!("clock '{name}' overdue_every")));
            wf.clocks.insert(
                name.clone(),
                ClockDef {
                    title: ck.title.clone(),
                    basis: ck.basis.clone(),
                    starts,
                    within,
                    or_earlier,
                    counting,
                    internal: ck.internal,
                    applies,
                    met_by,
                    late_requires: ck.late_requires.iter().map(|r| r.value.clone()).collect(),
                    remind_before,
                    overdue_every,
                },
            );
        }
    }

    /// Documents: their templates and the facts they need.
    fn documents(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        for (name, d) in &raw.documents {
            if !is_id(&d.value.template.value) {
                self.err(&d.value.template.referenced, format!("document '{name}': template name '{}' must be lowercase letters, digits, '_' or '-'", d.value.template.value));
            }
            for n in &d.value.needs {
                self.fact_ref(&wf, n);
            }
            wf.documents.insert(
                name.clone(),
                DocumentDef {
                    template: d.value.template.value.clone(),
                    title: d.value.title.clone(),
                    needs: d.value.needs.iter().map(|n| n.value.clone()).collect(),
                    at: (d.referenced.line() as u32, d.referenced.column() as u32),
                },
            );
        }
    }

    /// `intake:`: every fact in exactly one section or hidden; the sections' regimes,
    /// the form, the steps and the derived facts' values and conditions checked.
    fn intake(&mut self, wf: &Workflow, raw: &Spanned<RawIntake>) -> Intake {
        let r = &raw.value;
        let mut placed: HashMap<String, String> = HashMap::new();
        let mut sections = Vec::new();
        let mut place = |c: &mut Self, f: &S, whr: String| {
            if !wf.facts.contains_key(&f.value) {
                c.unknown(f, "fact", wf.facts.keys());
            } else if let Some(other) = placed.insert(f.value.clone(), whr.clone()) {
                c.err(
                    &f.referenced,
                    format!(
                        "intake: fact '{}' is in {other} and in {whr}: each fact is asked once",
                        f.value
                    ),
                );
            }
        };
        for (id, s) in &r.sections {
            if !is_id(id) {
                self.err(
                    &s.referenced,
                    format!(
                        "intake: section id '{id}' must be lowercase letters, digits, '_' or '-'"
                    ),
                );
            }
            if let Some(reg) = &s.value.regime
                && !wf.regimes.contains_key(&reg.value)
            {
                self.unknown(reg, "regime", wf.regimes.keys());
            }
            if s.value.facts.is_empty() {
                self.err(
                    &s.referenced,
                    format!("intake: section '{id}' asks no fact"),
                );
            }
            for f in &s.value.facts {
                place(self, f, format!("section '{id}'"));
            }
            sections.push(Section {
                id: id.clone(),
                regime: s.value.regime.as_ref().map(|r| r.value.clone()),
                facts: s.value.facts.iter().map(|f| f.value.clone()).collect(),
            });
        }
        for f in &r.hidden {
            place(self, f, "hidden".into());
        }
        let missing: Vec<&String> = wf
            .facts
            .keys()
            .filter(|f| !placed.contains_key(*f))
            .collect();
        if !missing.is_empty() {
            self.err(
                &raw.referenced,
                format!(
                    "intake: every fact is in a section or hidden; not placed: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(d) = &r.form
            && !wf.documents.contains_key(&d.value)
        {
            self.unknown(d, "document", wf.documents.keys());
        }
        if let Some(e) = &r.form_event {
            self.event_ref(wf, e);
        }
        for f in &r.assessment {
            self.fact_ref(wf, f);
        }
        for e in &r.confirm {
            self.event_ref(wf, e);
        }
        let mut derive = Vec::new();
        for (fact, rules) in &r.derive {
            let Some(def) = wf.facts.get(fact) else {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: unknown fact '{fact}'"),
                );
                continue;
            };
            if placed.get(fact).map(String::as_str) != Some("hidden") {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: fact '{fact}' is asked in a section: only a hidden fact is derived"),
                );
            }
            if !matches!(def.kind, FactType::Choice | FactType::List) || def.choices.is_empty() {
                self.err(
                    &rules.referenced,
                    format!("intake: derive: fact '{fact}' is not a choice or a list of choices"),
                );
            }
            let mut out = Vec::new();
            for d in &rules.value {
                if !def.choices.is_empty() && !def.choices.contains(&d.value.value.value) {
                    self.err(
                        &d.value.value.referenced,
                        format!(
                            "intake: derive: '{}' is not a choice of fact '{fact}' (choices: {})",
                            d.value.value.value,
                            def.choices.join(", ")
                        ),
                    );
                }
                if let Some(c) = self.condition(wf, &d.value.when) {
                    out.push((d.value.value.value.clone(), c));
                }
            }
            derive.push((fact.clone(), out));
        }
        Intake {
            sections,
            hidden: r.hidden.iter().map(|f| f.value.clone()).collect(),
            form: r.form.as_ref().map(|d| d.value.clone()),
            form_event: r.form_event.as_ref().map(|e| e.value.clone()),
            assessment: r.assessment.iter().map(|f| f.value.clone()).collect(),
            confirm: r.confirm.iter().map(|e| e.value.clone()).collect(),
            derive,
        }
    }

    /// `regimes:`: each names tracks, clocks and documents that exist and belong to no
    /// other regime, and an authority from a known profile field or `meta` key.
    fn regimes(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        let mut owner: HashMap<String, String> = HashMap::new();
        for (name, r) in &raw.regimes {
            if !is_id(name) {
                self.err(
                    &r.referenced,
                    format!(
                        "regime '{name}': its id must be lowercase letters, digits, '_' or '-'"
                    ),
                );
            }
            let r = &r.value;
            let mut claim = |c: &mut Self, kind: &str, s: &S| {
                let key = format!("{kind} {}", s.value);
                if let Some(other) = owner.insert(key, name.clone())
                    && &other != name
                {
                    c.err(
                        &s.referenced,
                        format!(
                            "regime '{name}': {kind} '{}' already belongs to regime '{other}'",
                            s.value
                        ),
                    );
                }
            };
            for t in &r.tracks {
                if !wf.tracks.contains_key(&t.value) {
                    self.unknown(t, "track", wf.tracks.keys());
                }
                claim(self, "track", t);
            }
            for c in &r.clocks {
                if !wf.clocks.contains_key(&c.value) {
                    self.unknown(c, "clock", wf.clocks.keys());
                }
                claim(self, "clock", c);
            }
            for d in &r.documents {
                if !wf.documents.contains_key(&d.value) {
                    self.unknown(d, "document", wf.documents.keys());
                }
                claim(self, "document", d);
            }
            let applies = r.applies.as_ref().and_then(|c| self.condition(wf, c));
            let authority = r.authority.as_ref().and_then(|a| {
                let meta_ok = |c: &mut Self, m: &S| {
                    if !wf.meta.contains_key(&m.value) {
                        c.unknown(m, "meta key", wf.meta.keys());
                    }
                };
                match (&a.value.profile, &a.value.meta) {
                    (Some(p), m) => {
                        if !AUTHORITY_FIELDS.contains(&p.value.as_str()) {
                            self.err(
                                &p.referenced,
                                format!(
                                    "regime '{name}': authority: unknown profile field '{}' (known: {})",
                                    p.value,
                                    AUTHORITY_FIELDS.join(", ")
                                ),
                            );
                        }
                        if let Some(m) = m {
                            meta_ok(self, m);
                        }
                        Some(Authority::Profile {
                            field: p.value.clone(),
                            choices: m.as_ref().map(|m| m.value.clone()),
                        })
                    }
                    (None, Some(m)) => {
                        meta_ok(self, m);
                        Some(Authority::Meta(m.value.clone()))
                    }
                    (None, None) => {
                        self.err(
                            &a.referenced,
                            format!("regime '{name}': authority needs 'profile' or 'meta'"),
                        );
                        None
                    }
                }
            });
            let tracks: Vec<String> = r.tracks.iter().map(|t| t.value.clone()).collect();
            // The clocks its tracks' events meet, then the ones it names.
            let mut clocks: Vec<String> = wf
                .clocks
                .iter()
                .filter(|(_, c)| {
                    c.met_by.iter().any(|e| {
                        wf.events
                            .get(e)
                            .is_some_and(|ev| tracks.contains(&ev.track))
                    })
                })
                .map(|(id, _)| id.clone())
                .collect();
            for c in &r.clocks {
                if !clocks.contains(&c.value) {
                    clocks.push(c.value.clone());
                }
            }
            wf.regimes.insert(
                name.clone(),
                Regime {
                    applies,
                    tracks,
                    clocks,
                    documents: r.documents.iter().map(|d| d.value.clone()).collect(),
                    authority,
                },
            );
        }
    }

    /// A clock's `starts`: exactly one of a fact (a datetime), an event (its first time),
    /// `last_event` (its latest time) or `earliest` (the earliest of several datetime facts).
    fn start(&mut self, wf: &Workflow, name: &str, raw: &Spanned<RawStart>) -> Start {
        let r = &raw.value;
        match (&r.fact, &r.event, &r.last_event, &r.earliest) {
            (Some(f), None, None, None) => {
                self.datetime_fact_ref(wf, name, f);
                Start::Fact(f.value.clone())
            }
            (None, Some(e), None, None) => {
                self.event_ref(wf, e);
                Start::Event(e.value.clone())
            }
            (None, None, Some(e), None) => {
                self.event_ref(wf, e);
                Start::LastEvent(e.value.clone())
            }
            (None, None, None, Some(list)) => {
                let mut facts: Vec<String> = Vec::new();
                for f in &list.value {
                    if facts.contains(&f.value) {
                        self.err(
                            &f.referenced,
                            format!(
                                "clock '{name}': starts.earliest lists fact '{}' twice",
                                f.value
                            ),
                        );
                        continue;
                    }
                    self.datetime_fact_ref(wf, name, f);
                    facts.push(f.value.clone());
                }
                if list.value.len() < 2 {
                    self.err(
                        &list.referenced,
                        format!("clock '{name}': starts.earliest needs at least two datetime facts (for one, write starts: {{ fact: F }})"),
                    );
                }
                Start::Earliest(facts)
            }
            _ => {
                self.err(
                    &raw.referenced,
                    format!("clock '{name}': starts needs exactly one of 'fact', 'event', 'last_event' or 'earliest'"),
                );
                Start::Fact(String::new())
            }
        }
    }

    /// A fact a clock starts at: known, and a datetime.
    fn datetime_fact_ref(&mut self, wf: &Workflow, clock: &str, f: &S) {
        self.fact_ref(wf, f);
        if let Some(d) = wf.facts.get(&f.value)
            && d.kind != FactType::DateTime
        {
            self.err(
                &f.referenced,
                format!(
                    "clock '{clock}' starts at fact '{}', which is not a datetime",
                    f.value
                ),
            );
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

    fn condition(&mut self, wf: &Workflow, c: &Spanned<RawCondition>) -> Option<Condition> {
        let at = &c.referenced;
        let r = &c.value;
        let forms = [
            r.fact.is_some(),
            r.track.is_some(),
            r.all.is_some(),
            r.any.is_some(),
            r.not.is_some(),
        ];
        if forms.iter().filter(|b| **b).count() != 1 {
            self.err(
                at,
                "a condition needs exactly one of fact, track, all, any, not",
            );
            return None;
        }
        let tests = [
            r.equals.is_some(),
            r.in_.is_some(),
            r.not_in.is_some(),
            r.is_set.is_some(),
            r.at_least.is_some(),
        ];
        let n_tests = tests.iter().filter(|b| **b).count();
        if let Some(items) = &r.all {
            return Some(Condition::All(
                items.iter().filter_map(|i| self.condition(wf, i)).collect(),
            ));
        }
        if let Some(items) = &r.any {
            return Some(Condition::Any(
                items.iter().filter_map(|i| self.condition(wf, i)).collect(),
            ));
        }
        if let Some(inner) = &r.not {
            return self
                .condition(wf, inner)
                .map(|c| Condition::Not(Box::new(c)));
        }
        if let Some(track) = &r.track {
            let Some(t) = wf.tracks.get(&track.value) else {
                self.unknown(track, "track", wf.tracks.keys());
                return None;
            };
            if n_tests != 1 || r.is_set.is_some() || r.at_least.is_some() {
                self.err(
                    at,
                    format!(
                        "condition on track '{}' needs one of equals, in, not_in",
                        track.value
                    ),
                );
                return None;
            }
            let (values, negate) = match (&r.equals, &r.in_, &r.not_in) {
                (Some(v), _, _) => (vec![v.clone()], false),
                (_, Some(v), _) => (v.clone(), false),
                (_, _, Some(v)) => (v.clone(), true),
                _ => unreachable!("checked above"),
            };
            let mut states = Vec::new();
            for v in values {
                let s = v.as_str().unwrap_or_default().to_string();
                if !t.states.contains(&s) {
                    self.err(
                        at,
                        format!(
                            "condition: '{}' is not a state of track '{}' (states: {})",
                            json_text(&v),
                            track.value,
                            t.states.join(", ")
                        ),
                    );
                }
                states.push(s);
            }
            return Some(Condition::Track {
                track: track.value.clone(),
                states,
                negate,
            });
        }
        let fact = r.fact.as_ref().expect("one form is set");
        let Some(def) = wf.facts.get(&fact.value) else {
            self.unknown(fact, "fact", wf.facts.keys());
            return None;
        };
        if n_tests != 1 {
            self.err(
                at,
                format!(
                    "condition on fact '{}' needs exactly one of equals, in, not_in, is_set, at_least",
                    fact.value
                ),
            );
            return None;
        }
        if let Some(n) = r.at_least {
            if def.kind != FactType::Integer {
                self.err(
                    at,
                    format!(
                        "condition on fact '{}': at_least compares integers, and this fact is {}",
                        fact.value,
                        def.kind.name()
                    ),
                );
                return None;
            }
            return Some(Condition::Fact {
                fact: fact.value.clone(),
                test: FactTest::AtLeast(n),
            });
        }
        if let Some(b) = r.is_set {
            return Some(Condition::Fact {
                fact: fact.value.clone(),
                test: FactTest::IsSet(b),
            });
        }
        let (values, negate) = match (&r.equals, &r.in_, &r.not_in) {
            (Some(v), _, _) => (vec![v.clone()], false),
            (_, Some(v), _) => (v.clone(), false),
            (_, _, Some(v)) => (v.clone(), true),
            _ => unreachable!("checked above"),
        };
        // A list fact is compared element by element: type each value as one choice.
        let item_def = FactDef {
            kind: if matches!(def.kind, FactType::List | FactType::Emails) {
                FactType::Choice
            } else {
                def.kind
            },
            choices: def.choices.clone(),
            format: def.format,
        };
        let mut typed = Vec::new();
        for v in &values {
            let coerced = if item_def.kind == FactType::Choice && item_def.choices.is_empty() {
                // a free list: any string
                v.as_str()
                    .map(|s| super::FactValue::Text(s.to_string()))
                    .ok_or(())
            } else {
                item_def.coerce(v, wf.timezone).map_err(|e| {
                    self.err(at, format!("condition on fact '{}': {e}", fact.value));
                })
            };
            if let Ok(t) = coerced {
                typed.push(t);
            }
        }
        let test = if negate {
            FactTest::NotIn(typed)
        } else {
            FactTest::In(typed)
        };
        Some(Condition::Fact {
            fact: fact.value.clone(),
            test,
        })
    }
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
