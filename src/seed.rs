//! Seed case files (docs/seeds.md): a real incident as facts and a timeline of events
//! with effective times, replayed through the same `decide` as a DPO's commands.

use crate::case::Command;
use crate::store::{Loaded, Store, StoreError};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

/// The shipped incidents, compiled into the binary for `vigie demo`.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("caf-2021.yaml", include_str!("../seeds/caf-2021.yaml")),
    ("hubee-2026.yaml", include_str!("../seeds/hubee-2026.yaml")),
    (
        "france-travail.yaml",
        include_str!("../seeds/france-travail.yaml"),
    ),
    (
        "cpas-charleroi.yaml",
        include_str!("../seeds/cpas-charleroi.yaml"),
    ),
    (
        "france-visas-2021.yaml",
        include_str!("../seeds/france-visas-2021.yaml"),
    ),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    id: Spanned<String>,
    workflow: Spanned<String>,
    title: String,
    #[serde(default)]
    opened_at: Option<Spanned<String>>,
    #[serde(default)]
    facts: IndexMap<String, Value>,
    #[serde(default)]
    timeline: Vec<Spanned<Step>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at: String,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    set: IndexMap<String, Value>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SeedError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// True when the file is wrong; false when the store failed.
    pub input: bool,
}

/// What a replay did: the case as of its last step.
pub struct Replayed {
    pub loaded: Loaded,
    /// The effective time of the last step: the "now" of the deadline report.
    pub as_of: DateTime<Utc>,
    pub skipped: bool,
}

fn at_loc(file: &str, loc: &serde_saphyr::Location, message: String, input: bool) -> SeedError {
    SeedError {
        file: file.to_string(),
        line: loc.line() as u32,
        column: loc.column() as u32,
        message,
        input,
    }
}

/// Replays a seed into `store`. With `skip_existing`, a case whose id is already in the
/// store is left as it is (so `vigie demo` can run twice).
pub fn replay(
    store: &mut Store,
    org: &str,
    app: &crate::app::App,
    file: &str,
    text: &str,
    actor: &str,
    skip_existing: bool,
) -> Result<Replayed, SeedError> {
    let seed: SeedFile = crate::util::yaml::from_str(text).map_err(|e| SeedError {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
        input: true,
    })?;
    let workflows = &app.workflows;
    let store_err = |loc: &serde_saphyr::Location, e: StoreError, what: &str| {
        let input = e.is_input();
        at_loc(file, loc, format!("{what}{e}"), input)
    };
    let wf = workflows.get(&seed.workflow.value).ok_or_else(|| {
        at_loc(
            file,
            &seed.workflow.referenced,
            format!(
                "unknown workflow '{}' (known: {})",
                seed.workflow.value,
                workflows.ids().cloned().collect::<Vec<_>>().join(", ")
            ),
            true,
        )
    })?;
    let parse = |s: &str, loc: &serde_saphyr::Location| {
        crate::time::parse_instant(s, wf.timezone)
            .map_err(|e| at_loc(file, loc, e.to_string(), true))
    };
    if skip_existing
        && store
            .exists(org, &seed.id.value)
            .map_err(|e| store_err(&seed.id.referenced, e, ""))?
    {
        let loaded = store
            .load(org, &seed.id.value)
            .map_err(|e| store_err(&seed.id.referenced, e, ""))?;
        let as_of = loaded
            .events
            .last()
            .map(|e| e.at)
            .unwrap_or(loaded.case.opened_at);
        return Ok(Replayed {
            loaded,
            as_of,
            skipped: true,
        });
    }
    let opened_at = match &seed.opened_at {
        Some(o) => parse(&o.value, &o.referenced)?,
        None => match seed.facts.get("aware_at").and_then(Value::as_str) {
            Some(a) => parse(a, &seed.id.referenced)?,
            None => {
                return Err(at_loc(
                    file,
                    &seed.id.referenced,
                    "a seed needs opened_at or facts.aware_at".into(),
                    true,
                ));
            }
        },
    };
    let open = Command::Open {
        title: seed.title.clone(),
        facts: seed.facts.clone().into_iter().collect(),
        at: opened_at,
    };
    let mut loaded = store
        .open_case(
            org,
            workflows,
            &wf.id,
            Some(&seed.id.value),
            &open,
            actor,
            opened_at,
        )
        .map_err(|e| store_err(&seed.id.referenced, e, "opening the case: "))?;
    let mut last = opened_at;
    for (i, step) in seed.timeline.iter().enumerate() {
        let loc = &step.referenced;
        let s = &step.value;
        let at = parse(&s.at, loc)?;
        if at < last {
            return Err(at_loc(
                file,
                loc,
                format!(
                    "step {}: {} is earlier than the step before it",
                    i + 1,
                    s.at
                ),
                true,
            ));
        }
        last = at;
        let facts: Vec<(String, Value)> = s.set.clone().into_iter().collect();
        let what = match &s.event {
            Some(e) => format!("step {} ({e}): ", i + 1),
            None => format!("step {}: ", i + 1),
        };
        // A decision step goes through the application layer as a DPO's would: the
        // assessment of the moment is frozen in its event, and a decision that departs
        // from it needs its reasons in the same step.
        let decision = match &s.event {
            Some(event) => {
                let change = crate::app::Change {
                    event: None,
                    facts: facts.clone(),
                    note: s.note.clone(),
                    at: None,
                    expected_seq: None,
                    reason: None,
                    derive: false,
                };
                app.decision_command(store, org, &loaded, event, &change, at)
                    .map_err(|e| at_loc(file, loc, format!("{what}{e}"), e.is_input()))?
            }
            None => None,
        };
        let cmd = match &s.event {
            _ if decision.is_some() => decision.expect("some"),
            Some(event) => Command::Advance {
                event: event.clone(),
                facts,
                note: s.note.clone(),
                at,
                reason: None,
            },
            None => Command::SetFacts {
                facts,
                note: s.note.clone(),
                at,
                reason: None,
            },
        };
        loaded = store
            .execute(org, &seed.id.value, &cmd, actor, at)
            .map_err(|e| store_err(loc, e, &what))?;
    }
    Ok(Replayed {
        loaded,
        as_of: last,
        skipped: false,
    })
}
