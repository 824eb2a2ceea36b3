//! `vigie case open|set|advance|show|list`.

use super::{CliError, Ctx, parse_pair, print_json, read_facts_file};
use crate::app::json::{case_json, summary_json};
use crate::app::{Change, OpenCase};
use crate::case::ClockStatus;
use crate::store::Loaded;
use crate::time;
use chrono::{DateTime, Utc};
use clap::Subcommand;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum CaseCmd {
    /// Open a case.
    Open {
        /// The workflow (default: the organisation's, see `vigie org set --workflow`).
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long)]
        title: String,
        /// When the organisation became aware (RFC 3339, or local time in the workflow's zone).
        #[arg(long)]
        aware_at: String,
        /// Choose the case id (default: <workflow>-<year>-<nnnn>).
        #[arg(long)]
        id: Option<String>,
        /// A YAML file of facts.
        #[arg(long)]
        facts: Option<PathBuf>,
        /// A fact, KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set facts: KEY=VALUE (a YAML scalar or [list]; KEY= unsets).
    Set {
        id: String,
        #[arg(value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        #[arg(long)]
        facts: Option<PathBuf>,
        #[arg(long)]
        note: Option<String>,
        /// Effective time (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Why it is recorded only now: needed when --at is more than 24 h ago.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record a workflow event (contain, assess, notify_authority, ...).
    Advance {
        id: String,
        event: String,
        /// When it happened (default: now).
        #[arg(long)]
        at: Option<String>,
        /// Why it is recorded only now: needed when --at is more than 24 h ago.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        note: Option<String>,
        /// The authority's reference for a step sent to it (CNIL, APD `DBN…`, CCB).
        #[arg(long = "ref", value_name = "REFERENCE")]
        reference: Option<String>,
        /// How it was sent: teleservice, email, letter or phone.
        #[arg(long)]
        channel: Option<String>,
        /// When it was submitted (the same as --at).
        #[arg(long, conflicts_with = "at")]
        submitted_at: Option<String>,
        /// The authority's acknowledgement (a PDF or an .eml), kept with its SHA-256.
        #[arg(long, value_name = "FILE")]
        ack: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show a case: tracks, deadlines, facts, events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List open cases, nearest deadline first.
    List {
        /// Include closed cases.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

/// Facts from a YAML file, then from KEY=VALUE pairs (which win).
fn facts(file: Option<&PathBuf>, pairs: &[String]) -> Result<Vec<(String, Value)>, CliError> {
    let mut all = Vec::new();
    if let Some(f) = file {
        all.extend(read_facts_file(f)?);
    }
    for p in pairs {
        all.push(parse_pair(p)?);
    }
    Ok(all)
}

pub(super) fn run(ctx: &Ctx, cmd: CaseCmd) -> Result<(), CliError> {
    let (org, actor, now) = (ctx.org.as_str(), ctx.actor.as_str(), ctx.now);
    match cmd {
        CaseCmd::Open {
            workflow,
            title,
            aware_at,
            id,
            facts: file,
            set,
            json,
        } => {
            let app = ctx.app()?;
            let mut store = ctx.org_store()?;
            let req = OpenCase {
                workflow,
                title,
                aware_at,
                id,
                facts: facts(file.as_ref(), &set)?,
            };
            let l = app.open_case(&mut store, org, actor, req, now)?;
            show(&l, now, json);
        }
        CaseCmd::Set {
            id,
            pairs,
            facts: file,
            note,
            at,
            reason,
            json,
        } => {
            let change = Change {
                event: None,
                facts: facts(file.as_ref(), &pairs)?,
                note,
                at,
                expected_seq: None,
                reason,
                derive: false,
            };
            advance(ctx, &id, change, json)?;
        }
        CaseCmd::Advance {
            id,
            event,
            at,
            reason,
            set,
            note,
            reference,
            channel,
            submitted_at,
            ack,
            json,
        } => {
            if reference.is_some() || channel.is_some() || ack.is_some() || submitted_at.is_some() {
                let sub = Submitted {
                    event,
                    reference,
                    channel,
                    at: submitted_at.or(at),
                    ack,
                    set,
                    note,
                    reason,
                };
                return submit(ctx, &id, sub, json);
            }
            let change = Change {
                event: Some(event),
                facts: facts(None, &set)?,
                note,
                at,
                expected_seq: None,
                reason,
                derive: false,
            };
            advance(ctx, &id, change, json)?;
        }
        CaseCmd::Show { id, json } => {
            let app = ctx.app()?;
            let mut store = ctx.org_store()?;
            let l = app.case(&mut store, org, &id)?;
            // The access log (views and downloads through the web and the API), merged
            // into the timeline: read by whoever holds the database, like the events.
            let access = app.access_log(&mut store, org, Some(&id))?;
            if json {
                print_json(&crate::app::issued::with_access(
                    case_json(&l.workflow, &l.case, &l.events, now),
                    &l,
                    &access,
                ));
            } else {
                say_raw!(
                    "{}",
                    super::output::case_text_with_access(
                        &l.workflow,
                        &l.case,
                        &l.events,
                        &access,
                        now
                    )
                );
            }
        }
        CaseCmd::List { all, json } => list(ctx, all, json)?,
    }
    Ok(())
}

/// `case advance` with what the authority answered (issue 25 part 3).
struct Submitted {
    event: String,
    reference: Option<String>,
    channel: Option<String>,
    at: Option<String>,
    ack: Option<PathBuf>,
    set: Vec<String>,
    note: Option<String>,
    reason: Option<String>,
}

fn submit(ctx: &Ctx, id: &str, s: Submitted, json: bool) -> Result<(), CliError> {
    let Some(channel) = s.channel else {
        return Err(CliError::input(format!(
            "--channel: say how {} was sent ({})",
            s.event,
            crate::app::submission::CHANNELS.join(", ")
        )));
    };
    let ack = match &s.ack {
        None => None,
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| CliError::input(format!("--ack {}: {e}", path.display())))?;
            Some(crate::app::submission::AckFile {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes,
            })
        }
    };
    let req = crate::app::submission::SubmissionRequest {
        event: s.event,
        reference: s.reference,
        at: s.at,
        channel,
        ack,
        facts: facts(None, &s.set)?,
        note: s.note,
        reason: s.reason,
        expected_seq: None,
    };
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let l = app.submit(&mut store, &ctx.org, &ctx.actor, id, &req, ctx.now)?;
    show(&l, ctx.now, json);
    Ok(())
}

fn advance(ctx: &Ctx, id: &str, change: Change, json: bool) -> Result<(), CliError> {
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let l = app.change(&mut store, &ctx.org, &ctx.actor, id, change, ctx.now)?;
    show(&l, ctx.now, json);
    Ok(())
}

pub(super) fn show(loaded: &Loaded, now: DateTime<Utc>, json: bool) {
    if json {
        print_json(&case_json(
            &loaded.workflow,
            &loaded.case,
            &loaded.events,
            now,
        ));
    } else {
        say_raw!(
            "{}",
            super::case_text(&loaded.workflow, &loaded.case, &loaded.events, now)
        );
    }
}

fn list(ctx: &Ctx, all: bool, json: bool) -> Result<(), CliError> {
    let now = ctx.now;
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let (rows, unreadable): (Vec<Arc<Loaded>>, _) = app.cases(&mut store, &ctx.org, all, now)?;
    unreadable.iter().for_each(|u| eprintln!("{}", u.warning()));
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|l| summary_json(&l.workflow, &l.case, now))
            .collect();
        print_json(&Value::Array(list));
        return Ok(());
    }
    if rows.is_empty() {
        say!(
            "no open case. Open one with: vigie case open --workflow fr --title \"...\" --aware-at 2026-11-23T09:00"
        );
        return Ok(());
    }
    say!(
        "{:<22} {:<4} {:<26} {:<10} {}",
        "CASE",
        "WF",
        "NEXT DEADLINE",
        "OVERDUE",
        "TITLE"
    );
    for l in &rows {
        let views = crate::case::clocks(&l.workflow, &l.case, now);
        let next = crate::case::clock::nearest_due(&views);
        let overdue = views
            .iter()
            .filter(|v| v.status == ClockStatus::Overdue)
            .count();
        let title: String = crate::util::one_line(&l.case.title)
            .chars()
            .take(50)
            .collect();
        say!(
            "{:<22} {:<4} {:<26} {:<10} {}",
            l.case.id,
            l.workflow.id,
            next.map(|d| time::short_in(d, l.workflow.timezone))
                .unwrap_or_else(|| "—".into()),
            overdue,
            title
        );
    }
    Ok(())
}
