//! `decide`: a command and the current case give events, or a rejection saying exactly
//! what is wrong. Pure: the time is a parameter.

use super::clock::{applies_in, due_at, started_at};
use super::{Case, EventBody, MetClock};
use crate::time;
use crate::workflow::{Condition, EventDef, FactError, FactTest, FactValue, Scope, Workflow};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// What a user asks. Fact values are raw (YAML/JSON) and typed here against the workflow.
#[derive(Clone)]
pub enum Command {
    Open {
        title: String,
        facts: Vec<(String, Value)>,
        at: DateTime<Utc>,
    },
    /// Opening a case of an organisation whose profile says which regimes apply: the
    /// answers become the case's facts (those the workflow has and `facts` does not
    /// give), recorded in a second event marked as taken from the profile.
    OpenWithProfile {
        title: String,
        facts: Vec<(String, Value)>,
        profile_facts: Vec<(String, Value)>,
        at: DateTime<Utc>,
    },
    SetFacts {
        facts: Vec<(String, Value)>,
        note: Option<String>,
        at: DateTime<Utc>,
        /// Why it is recorded only now: needed when `at` is more than
        /// [`BACKDATE_FREE`] before the command is recorded.
        reason: Option<String>,
    },
    Advance {
        event: String,
        facts: Vec<(String, Value)>,
        note: Option<String>,
        at: DateTime<Utc>,
        reason: Option<String>,
    },
    /// A workflow event that records a risk decision, with the assessment it was taken
    /// on, frozen in the event (`assess`).
    Assess {
        event: String,
        facts: Vec<(String, Value)>,
        note: Option<String>,
        at: DateTime<Utc>,
        reason: Option<String>,
        assessment: Value,
    },
    RecordCampaign {
        run: super::CampaignRun,
        at: DateTime<Utc>,
    },
    /// A step sent to an authority (an `Advance`), with what the authority answered,
    /// kept in the event (issue 25 part 3).
    Submit {
        advance: Box<Command>,
        submission: super::Submission,
    },
    IssueDocument {
        document: String,
        lang: String,
        format: String,
        sha256: String,
        at: DateTime<Utc>,
    },
}

/// Why a command was refused. Each message is one line naming what is wrong.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Rejected {
    #[error("unknown fact {q_fact} in workflow {q_workflow}{hint}", q_fact = crate::util::quote(.fact), q_workflow = crate::util::quote(.workflow))]
    UnknownFact {
        fact: String,
        workflow: String,
        hint: String,
    },
    #[error("fact {q_fact}: {error}", q_fact = crate::util::quote(.fact))]
    BadFact { fact: String, error: FactError },
    #[error("fact {q_fact}: {at} is in the future (now is {now})", q_fact = crate::util::quote(.fact))]
    FactInFuture {
        fact: String,
        at: String,
        now: String,
    },
    #[error("unknown event {q_event} in workflow {q_workflow} (events: {known})", q_event = crate::util::quote(.event), q_workflow = crate::util::quote(.workflow))]
    UnknownEvent {
        event: String,
        workflow: String,
        known: String,
    },
    #[error("event {q_event} is not allowed now: track {q_track} is {q_state}, and {q_event} needs it to be {from}", q_event = crate::util::quote(.event), q_track = crate::util::quote(.track), q_state = crate::util::quote(.state))]
    WrongState {
        event: String,
        track: String,
        state: String,
        from: String,
    },
    #[error("event {q_event} is not allowed now: {reasons}", q_event = crate::util::quote(.event))]
    ConditionNotMet { event: String, reasons: String },
    #[error("event {q_event} is not allowed: regime {q_regime} does not apply to this case ({why})", q_event = crate::util::quote(.event), q_regime = crate::util::quote(.regime))]
    RegimeNotApplicable {
        event: String,
        regime: String,
        why: String,
    },
    #[error("event {q_event} needs {facts}: set them first or with --set", q_event = crate::util::quote(.event))]
    MissingFacts { event: String, facts: String },
    /// A condition of the event (`conditions:`) holds and asks for facts not set.
    #[error("event {q_event} needs {facts} when {because}: set them first or with --set", q_event = crate::util::quote(.event))]
    MissingFactsWhen {
        event: String,
        because: String,
        facts: String,
    },
    /// A condition of the event (`conditions:`) holds and its guard is not true.
    #[error("event {q_event} is not allowed when {because}: {reasons}", q_event = crate::util::quote(.event))]
    ConditionNotMetWhen {
        event: String,
        because: String,
        reasons: String,
    },
    #[error("event {q_event} is late for clock {q_clock} (due {due}): set {facts} to record the reasons for the delay", q_event = crate::util::quote(.event), q_clock = crate::util::quote(.clock))]
    LateWithoutReasons {
        event: String,
        clock: String,
        due: String,
        facts: String,
    },
    #[error("{what}: the effective time {at} is in the future (now is {now})")]
    InFuture {
        what: String,
        at: String,
        now: String,
    },
    #[error("{what}: the effective time {at} is outside the times vigie keeps: {bounds}", bounds = time::BOUNDS)]
    OutOfBounds { what: String, at: String },
    #[error(
        "event '{event}' dated {at} is before clock '{clock}' started ({started}): an event cannot meet a deadline before its clock starts"
    )]
    BeforeClockStart {
        event: String,
        clock: String,
        at: String,
        started: String,
    },
    #[error(
        "{what} is dated {at}, more than 24 h before it is recorded ({now}): give the reason it is recorded only now (--reason, or `reason` in the API)"
    )]
    BackdatedWithoutReason {
        what: String,
        at: String,
        now: String,
    },
    /// A text no backend can store as given (PostgreSQL's text refuses U+0000).
    #[error("{what} holds a NUL character (U+0000), which vigie does not store: remove it")]
    Unstorable { what: String },
    /// The facts of one clock's start, one of which a case must carry.
    #[error("a case needs {} when it is opened", missing_at_open(.0))]
    MissingAtOpen(Vec<String>),
    #[error("nothing to set: give KEY=VALUE pairs, --facts FILE or --note TEXT")]
    NothingToSet,
    #[error("unknown document {q_document} in workflow {q_workflow} (documents: {known})", q_document = crate::util::quote(.document), q_workflow = crate::util::quote(.workflow))]
    UnknownDocument {
        document: String,
        workflow: String,
        known: String,
    },
}

/// The facts each new case must carry: the start of the art. 33 clock and the like.
/// A clock that starts at a fact makes it required at opening; one that starts at the
/// `earliest` of several facts makes one of them required. Not a clock that cannot apply
/// to a new case: its `applies` is false whatever the facts, with every track in its
/// initial state (a final report due after a progress report).
fn facts_required_at_open(wf: &Workflow) -> Vec<Vec<String>> {
    let no_facts = std::collections::BTreeMap::new();
    let initial: indexmap::IndexMap<String, String> = wf
        .tracks
        .iter()
        .map(|(k, t)| (k.clone(), t.initial.clone()))
        .collect();
    let fresh = Scope {
        facts: &no_facts,
        tracks: &initial,
    };
    let mut out: Vec<Vec<String>> = Vec::new();
    for c in wf.clocks.values() {
        let group = match &c.starts {
            crate::workflow::Start::Fact(f) => vec![f.clone()],
            crate::workflow::Start::Earliest(facts) => facts.clone(),
            _ => continue,
        };
        if c.applies
            .as_ref()
            .is_some_and(|a| a.eval(&fresh) == Some(false))
        {
            continue;
        }
        // A group another one implies adds nothing (aware_at alone, and [detected_at, aware_at]).
        if out.iter().any(|g| g.iter().all(|f| group.contains(f))) {
            continue;
        }
        out.retain(|g| !group.iter().all(|f| g.contains(f)));
        out.push(group);
    }
    out
}

fn missing_at_open(group: &[String]) -> String {
    match group {
        [one] => format!("the fact {}", crate::util::quote(one)),
        many => format!(
            "one of the facts {}",
            many.iter()
                .map(|f| crate::util::quote(f))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn type_facts(
    wf: &Workflow,
    raw: &[(String, Value)],
    now: DateTime<Utc>,
) -> Result<Map<String, Value>, Rejected> {
    let mut out = Map::new();
    for (k, v) in raw {
        let Some(def) = wf.facts.get(k) else {
            return Err(Rejected::UnknownFact {
                fact: k.clone(),
                workflow: wf.id.clone(),
                hint: crate::util::did_you_mean(k, wf.facts.keys()),
            });
        };
        if v.is_null() {
            out.insert(k.clone(), Value::Null);
            continue;
        }
        let typed = def
            .coerce(v, wf.timezone)
            .map_err(|error| Rejected::BadFact {
                fact: k.clone(),
                error,
            })?;
        // Awareness, detection, containment: all already happened.
        if let Some(t) = typed.as_datetime()
            && t > now
        {
            return Err(Rejected::FactInFuture {
                fact: k.clone(),
                at: time::rfc3339_in(t, wf.timezone),
                now: time::rfc3339_in(now, wf.timezone),
            });
        }
        out.insert(k.clone(), typed.to_json());
    }
    Ok(out)
}

/// How far before its recording an event may be dated without a reason. Recording a
/// step that happened earlier is legitimate, but past this it says why, in the open: a
/// notification dated inside the 72 h window and recorded weeks later shows as such.
pub const BACKDATE_FREE: chrono::Duration = chrono::Duration::hours(24);

/// The reason kept with a command dated `at` (None: none given), refused when the
/// command is dated more than [`BACKDATE_FREE`] before `now` without one.
fn backdate_reason(
    what: impl Fn() -> String,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    reason: Option<&String>,
    wf: &Workflow,
) -> Result<Option<String>, Rejected> {
    let reason = reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if now - at > BACKDATE_FREE && reason.is_none() {
        return Err(Rejected::BackdatedWithoutReason {
            what: what(),
            at: time::rfc3339_in(at, wf.timezone),
            now: time::rfc3339_in(now, wf.timezone),
        });
    }
    Ok(reason)
}

/// An effective time must be one the log can read back, and not after now. `what`
/// names the command ("event 'notify_authority'", "setting facts").
fn check_time(
    what: impl Fn() -> String,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    wf: &Workflow,
) -> Result<(), Rejected> {
    if !time::in_bounds(at) {
        // Shown in UTC: out of bounds, the zone's arithmetic is not to be trusted.
        return Err(Rejected::OutOfBounds {
            what: what(),
            at: at.to_rfc3339(),
        });
    }
    if at > now {
        return Err(Rejected::InFuture {
            what: what(),
            at: time::rfc3339_in(at, wf.timezone),
            now: time::rfc3339_in(now, wf.timezone),
        });
    }
    Ok(())
}

/// Whether a JSON value holds no string a backend refuses (see [`crate::util::storable`]).
fn value_storable(v: &Value) -> bool {
    match v {
        Value::String(s) => crate::util::storable(s),
        Value::Array(items) => items.iter().all(value_storable),
        Value::Object(m) => m
            .iter()
            .all(|(k, v)| crate::util::storable(k) && value_storable(v)),
        _ => true,
    }
}

/// Every text a command would store, checked before anything else: one refusal naming
/// the field, the same on every backend.
fn check_storable(cmd: &Command) -> Result<(), Rejected> {
    let (title, facts, note, event, reason) = match cmd {
        Command::Open { title, facts, .. } => (Some(title), facts, None, None, None),
        Command::OpenWithProfile {
            title,
            facts,
            profile_facts,
            ..
        } => {
            if let Some((name, _)) = profile_facts.iter().find(|(_, v)| !value_storable(v)) {
                return Err(Rejected::Unstorable {
                    what: format!("the profile's fact {}", crate::util::quote(name)),
                });
            }
            (Some(title), facts, None, None, None)
        }
        Command::SetFacts {
            facts,
            note,
            reason,
            ..
        } => (None, facts, note.as_ref(), None, reason.as_ref()),
        Command::Advance {
            event,
            facts,
            note,
            reason,
            ..
        }
        | Command::Assess {
            event,
            facts,
            note,
            reason,
            ..
        } => (None, facts, note.as_ref(), Some(event), reason.as_ref()),
        Command::RecordCampaign { .. } | Command::IssueDocument { .. } => return Ok(()),
        Command::Submit {
            advance,
            submission,
        } => {
            let texts = [submission.reference.as_deref(), Some(&submission.channel)];
            let ack = submission.ack.as_ref().map(|a| a.name.as_str());
            if texts
                .into_iter()
                .chain([ack])
                .flatten()
                .any(|t| !crate::util::storable(t))
            {
                return Err(Rejected::Unstorable {
                    what: "the submission".into(),
                });
            }
            return check_storable(advance);
        }
    };
    let refuse = |what: String| Err(Rejected::Unstorable { what });
    if title.is_some_and(|t| !crate::util::storable(t)) {
        return refuse("the title".into());
    }
    if note.is_some_and(|n| !crate::util::storable(n)) {
        return refuse("the note".into());
    }
    if reason.is_some_and(|r| !crate::util::storable(r)) {
        return refuse("the reason".into());
    }
    if event.is_some_and(|e| !crate::util::storable(e)) {
        return refuse(format!(
            "event {}",
            crate::util::quote(event.expect("some"))
        ));
    }
    for (k, v) in facts {
        if !crate::util::storable(k) || !value_storable(v) {
            return refuse(format!("fact {}", crate::util::quote(k)));
        }
    }
    Ok(())
}

/// Decides what a command does to `case` (None: the case does not exist yet).
/// Returns the bodies to append, each with its effective time.
pub fn decide(
    wf: &Workflow,
    case: Option<&Case>,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, EventBody)>, Rejected> {
    check_storable(cmd)?;
    let d = Decider { wf, case, now };
    match cmd {
        Command::Open { title, facts, at } => d.open(title, facts, *at),
        Command::OpenWithProfile {
            title,
            facts,
            profile_facts,
            at,
        } => d.open_with_profile(title, facts, profile_facts, *at),
        Command::SetFacts {
            facts,
            note,
            at,
            reason,
        } => d.set_facts(facts, note, *at, reason),
        Command::RecordCampaign { run, at } => {
            check_time(|| "recording a notification campaign".into(), *at, now, wf)?;
            Ok(vec![(*at, EventBody::NotificationCampaign(run.clone()))])
        }
        Command::IssueDocument {
            document,
            lang,
            format,
            sha256,
            at,
        } => {
            check_time(|| format!("issuing document '{document}'"), *at, now, wf)?;
            d.known_document(document)?;
            Ok(vec![(
                *at,
                EventBody::DocumentIssued {
                    document: document.clone(),
                    lang: lang.clone(),
                    format: format.clone(),
                    sha256: sha256.clone(),
                },
            )])
        }
        Command::Advance {
            event,
            facts,
            note,
            at,
            reason,
        } => d.advance(event, facts, note, *at, reason),
        Command::Assess {
            event,
            facts,
            note,
            at,
            reason,
            assessment,
        } => {
            let advance = Command::Advance {
                event: event.clone(),
                facts: facts.clone(),
                note: note.clone(),
                at: *at,
                reason: reason.clone(),
            };
            let mut out = decide(wf, case, &advance, now)?;
            for (_, body) in &mut out {
                if let EventBody::Advanced { assessment: a, .. } = body {
                    *a = Some(assessment.clone());
                }
            }
            Ok(out)
        }
        Command::Submit {
            advance,
            submission,
        } => {
            if !matches!(**advance, Command::Advance { .. }) {
                return Err(Rejected::Unstorable {
                    what: "a submission that is not a step".into(),
                });
            }
            let mut out = decide(wf, case, advance, now)?;
            for (_, body) in &mut out {
                if let EventBody::Advanced { submission: s, .. } = body {
                    *s = Some(submission.clone());
                }
            }
            Ok(out)
        }
    }
}

/// What every step of `decide` reads: the workflow, the case (None: not opened yet) and
/// the time the command is recorded.
struct Decider<'a> {
    wf: &'a Workflow,
    case: Option<&'a Case>,
    now: DateTime<Utc>,
}

type Decided = Result<Vec<(DateTime<Utc>, EventBody)>, Rejected>;

impl Decider<'_> {
    fn open(&self, title: &str, facts: &[(String, Value)], at: DateTime<Utc>) -> Decided {
        let (wf, now) = (self.wf, self.now);
        check_time(|| "opening the case".into(), at, now, wf)?;
        let typed = type_facts(wf, facts, now)?;
        for group in facts_required_at_open(wf) {
            if group
                .iter()
                .all(|f| typed.get(f).is_none_or(Value::is_null))
            {
                return Err(Rejected::MissingAtOpen(group));
            }
        }
        Ok(vec![(
            at,
            EventBody::Opened {
                workflow: wf.id.clone(),
                workflow_hash: wf.hash.clone(),
                title: title.to_string(),
                facts: typed,
            },
        )])
    }

    /// The opening, then the profile's answers the command does not give, as a second
    /// event marked as taken from the profile.
    fn open_with_profile(
        &self,
        title: &str,
        facts: &[(String, Value)],
        profile_facts: &[(String, Value)],
        at: DateTime<Utc>,
    ) -> Decided {
        let wf = self.wf;
        let open = Command::Open {
            title: title.to_string(),
            facts: facts.to_vec(),
            at,
        };
        let mut out = decide(wf, self.case, &open, self.now)?;
        let inherited: Vec<(String, Value)> = profile_facts
            .iter()
            .filter(|(k, _)| wf.facts.contains_key(k) && !facts.iter().any(|(f, _)| f == k))
            .cloned()
            .collect();
        if !inherited.is_empty() {
            out.push((
                at,
                EventBody::FactsSet {
                    facts: type_facts(wf, &inherited, self.now)?,
                    note: None,
                    from_profile: true,
                    reason: None,
                },
            ));
        }
        Ok(out)
    }

    fn set_facts(
        &self,
        facts: &[(String, Value)],
        note: &Option<String>,
        at: DateTime<Utc>,
        reason: &Option<String>,
    ) -> Decided {
        let (wf, now) = (self.wf, self.now);
        check_time(|| "setting facts".into(), at, now, wf)?;
        if facts.is_empty() && note.is_none() {
            return Err(Rejected::NothingToSet);
        }
        let typed = type_facts(wf, facts, now)?;
        let reason = backdate_reason(|| "setting facts".into(), at, now, reason.as_ref(), wf)?;
        let case = self.case.expect("setting facts needs a case");
        // Unsetting the last fact a clock could start at is refused.
        for group in facts_required_at_open(wf) {
            let held = |f: &String| match typed.get(f) {
                Some(v) => !v.is_null(),
                None => case.facts.contains_key(f),
            };
            let was_held = group.iter().any(|f| case.facts.contains_key(f));
            if was_held && !group.iter().any(held) {
                return Err(Rejected::MissingAtOpen(group));
            }
        }
        Ok(vec![(
            at,
            EventBody::FactsSet {
                facts: typed,
                note: note.clone(),
                from_profile: false,
                reason,
            },
        )])
    }

    fn known_document(&self, document: &str) -> Result<(), Rejected> {
        let wf = self.wf;
        if wf.documents.contains_key(document) {
            return Ok(());
        }
        Err(Rejected::UnknownDocument {
            document: document.to_string(),
            workflow: wf.id.clone(),
            known: wf.documents.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// A workflow event: from a state of its track, in force for the case's regime, with
    /// the facts it requires, its condition met, the provisos that apply satisfied, and
    /// the clocks it meets frozen.
    fn advance(
        &self,
        event: &str,
        facts: &[(String, Value)],
        note: &Option<String>,
        at: DateTime<Utc>,
        reason: &Option<String>,
    ) -> Decided {
        let (wf, now) = (self.wf, self.now);
        let case = self.case.expect("advancing needs a case");
        check_time(|| format!("event '{event}'"), at, now, wf)?;
        let Some(def) = wf.events.get(event) else {
            return Err(Rejected::UnknownEvent {
                event: event.to_string(),
                workflow: wf.id.clone(),
                known: wf.events.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        };
        let state = case.tracks.get(&def.track).cloned().unwrap_or_default();
        if !def.from.contains(&state) {
            return Err(Rejected::WrongState {
                event: event.to_string(),
                track: def.track.clone(),
                state,
                from: one_of(&def.from),
            });
        }
        let typed = type_facts(wf, facts, now)?;
        // The case as it would be with the facts given alongside the event.
        let mut after = case.clone();
        super::apply_facts(wf, &mut after.facts, &typed);
        self.check_regime(event, &after)?;
        check_requires_and_when(event, def, &after)?;
        check_provisos(event, def, &after)?;
        let met = self.meet_clocks(event, at, &after)?;
        // Last: every other refusal says what is wrong with the step itself.
        let reason = backdate_reason(|| format!("event '{event}'"), at, now, reason.as_ref(), wf)?;
        Ok(vec![(
            at,
            EventBody::Advanced {
                event: event.to_string(),
                track: def.track.clone(),
                from: state,
                to: def.to.clone(),
                facts: typed,
                note: note.clone(),
                met,
                assessment: None,
                reason,
                submission: None,
            },
        )])
    }

    /// An event of a regime is refused while the regime is not in force for the case.
    fn check_regime(&self, event: &str, after: &Case) -> Result<(), Rejected> {
        if let Some((regime, r)) = self.wf.regime_of_event(event)
            && !super::regime::in_force(r, after)
        {
            return Err(Rejected::RegimeNotApplicable {
                event: event.to_string(),
                regime: regime.clone(),
                why: super::regime::why(r, after),
            });
        }
        Ok(())
    }

    /// Freezes the due time and lateness of every clock `event` meets.
    fn meet_clocks(
        &self,
        event: &str,
        at: DateTime<Utc>,
        after: &Case,
    ) -> Result<Vec<MetClock>, Rejected> {
        let wf = self.wf;
        let mut met = Vec::new();
        for (id, clock) in wf.clocks_met_by(event) {
            if after.met.contains_key(id) {
                continue;
            }
            // Backdating past the start would make any notification look on time.
            if let Some(started) = started_at(clock, after)
                && at < started
            {
                return Err(Rejected::BeforeClockStart {
                    event: event.to_string(),
                    clock: id.clone(),
                    at: time::rfc3339_in(at, wf.timezone),
                    started: time::rfc3339_in(started, wf.timezone),
                });
            }
            let applies = applies_in(wf, id, clock, after);
            let due = due_at(wf, clock, after);
            let late = applies && due.is_some_and(|d| at > d);
            if late && !clock.internal {
                let missing = unset(&clock.late_requires, after);
                if !missing.is_empty() {
                    return Err(Rejected::LateWithoutReasons {
                        event: event.to_string(),
                        clock: id.clone(),
                        due: time::rfc3339_in(due.expect("late implies due"), wf.timezone),
                        facts: list(&missing),
                    });
                }
            }
            met.push(MetClock {
                clock: id.clone(),
                applies,
                due_at: due,
                late,
            });
        }
        Ok(met)
    }
}

/// The facts of `required` the case does not hold.
fn unset<'r>(required: &'r [String], case: &Case) -> Vec<&'r String> {
    required
        .iter()
        .filter(|f| !case.facts.contains_key(*f))
        .collect()
}

/// The facts an event requires, and its condition, on the case as it would be.
fn check_requires_and_when(event: &str, def: &EventDef, after: &Case) -> Result<(), Rejected> {
    let missing = unset(&def.requires, after);
    if !missing.is_empty() {
        return Err(Rejected::MissingFacts {
            event: event.to_string(),
            facts: list(&missing),
        });
    }
    if let Some(cond) = &def.when {
        let scope = Scope {
            facts: &after.facts,
            tracks: &after.tracks,
        };
        if cond.eval(&scope) != Some(true) {
            return Err(Rejected::ConditionNotMet {
                event: event.to_string(),
                reasons: explain(cond, &scope).join("; "),
            });
        }
    }
    Ok(())
}

/// What the event needs in the circumstances at hand (an exemption's condition).
fn check_provisos(event: &str, def: &EventDef, after: &Case) -> Result<(), Rejected> {
    let scope = Scope {
        facts: &after.facts,
        tracks: &after.tracks,
    };
    for p in &def.provisos {
        if p.condition.eval(&scope) != Some(true) {
            continue;
        }
        let because = match &p.basis {
            Some(b) => format!("{} ({b})", describe(&p.condition)),
            None => describe(&p.condition),
        };
        let missing = unset(&p.requires, after);
        if !missing.is_empty() {
            return Err(Rejected::MissingFactsWhen {
                event: event.to_string(),
                because,
                facts: list(&missing),
            });
        }
        if let Some(guard) = &p.when
            && guard.eval(&scope) != Some(true)
        {
            return Err(Rejected::ConditionNotMetWhen {
                event: event.to_string(),
                because,
                reasons: explain(guard, &scope).join("; "),
            });
        }
    }
    Ok(())
}

fn list(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| crate::util::quote(s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn one_of(states: &[String]) -> String {
    match states {
        [one] => crate::util::quote(one),
        many => format!(
            "one of {}",
            many.iter()
                .map(|s| crate::util::quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn show(v: &FactValue) -> String {
    match v {
        FactValue::Boolean(b) => b.to_string(),
        FactValue::Integer(i) => i.to_string(),
        FactValue::Text(s) => s.clone(),
        FactValue::DateTime(d) => d.to_rfc3339(),
        FactValue::List(items) => format!("[{}]", items.join(", ")),
    }
}

/// A condition that holds, in words: `'individuals_exemption' is disproportionate_effort`.
fn describe(cond: &Condition) -> String {
    let vals = |v: &Vec<FactValue>| v.iter().map(show).collect::<Vec<_>>().join(", ");
    let join = |items: &Vec<Condition>, word: &str| {
        items.iter().map(describe).collect::<Vec<_>>().join(word)
    };
    match cond {
        Condition::All(items) => join(items, " and "),
        Condition::Any(items) => join(items, " or "),
        Condition::Not(inner) => format!("not ({})", describe(inner)),
        Condition::Track {
            track,
            states,
            negate,
        } => {
            let quoted: Vec<&String> = states.iter().collect();
            let verb = if *negate { "is not" } else { "is" };
            format!("track '{track}' {verb} {}", list(&quoted))
        }
        Condition::Fact { fact, test } => match test {
            FactTest::In(v) => format!("fact '{fact}' is {}", vals(v)),
            FactTest::NotIn(v) => format!("fact '{fact}' is not {}", vals(v)),
            FactTest::IsSet(true) => format!("fact '{fact}' is set"),
            FactTest::IsSet(false) => format!("fact '{fact}' is unset"),
            FactTest::AtLeast(n) => format!("fact '{fact}' is at least {n}"),
        },
    }
}

/// The parts of a condition that are not true, in words.
fn explain(cond: &Condition, scope: &Scope) -> Vec<String> {
    if cond.eval(scope) == Some(true) {
        return vec![];
    }
    match cond {
        Condition::All(items) => items.iter().flat_map(|c| explain(c, scope)).collect(),
        Condition::Any(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|c| explain(c, scope).join(" and "))
                .collect();
            vec![format!("one of these must change: {}", parts.join(" / "))]
        }
        Condition::Not(_) => vec!["a 'not' condition of the workflow is false".to_string()],
        Condition::Track {
            track,
            states,
            negate,
        } => {
            let now = scope.tracks.get(track).cloned().unwrap_or_default();
            let quoted: Vec<&String> = states.iter().collect();
            if *negate {
                vec![format!(
                    "track '{track}' must not be {} (it is '{now}')",
                    list(&quoted)
                )]
            } else {
                vec![format!(
                    "track '{track}' must be {} (it is '{now}')",
                    list(&quoted)
                )]
            }
        }
        Condition::Fact { fact, test } => {
            let now = scope
                .facts
                .get(fact)
                .map(show)
                .unwrap_or_else(|| "unset".into());
            let vals = |v: &Vec<FactValue>| v.iter().map(show).collect::<Vec<_>>().join(", ");
            vec![match test {
                FactTest::In(v) => format!("fact '{fact}' must be {} (it is {now})", vals(v)),
                FactTest::NotIn(v) => {
                    format!("fact '{fact}' must not be {} (it is {now})", vals(v))
                }
                FactTest::IsSet(true) => format!("fact '{fact}' must be set"),
                FactTest::IsSet(false) => format!("fact '{fact}' must be unset"),
                FactTest::AtLeast(n) => format!("fact '{fact}' must be at least {n} (it is {now})"),
            }]
        }
    }
}
