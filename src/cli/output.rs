//! What the CLI prints for people: the view of one case. The JSON shapes are in
//! `crate::app::json`, shared with the HTTP API.

use crate::app::json::{allowed_events, event_summary};
use crate::app::regimes::shown_clocks;
use crate::case::{Case, ClockStatus, ClockView, Recorded, clocks};
use crate::time;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt::Write;

fn status_cell(c: &ClockView, now: DateTime<Utc>) -> String {
    match (c.status, c.due_at) {
        (ClockStatus::Pending, Some(due)) => format!("pending, {} left", time::span(due - now)),
        (ClockStatus::Pending, None) => "pending (not started)".into(),
        (ClockStatus::Overdue, Some(due)) => format!("OVERDUE by {}", time::span(now - due)),
        (ClockStatus::Late, Some(due)) => match c.met_at {
            Some(m) => format!("late by {}", time::span(m - due)),
            None => "late".into(),
        },
        (s, _) => s.as_str().replace('_', " "),
    }
}

/// The human view of one case.
pub fn case_text(wf: &Workflow, case: &Case, events: &[Recorded], now: DateTime<Utc>) -> String {
    case_text_with_access(wf, case, events, &[], now)
}

/// [`case_text`] with the case's access log merged into its events by the time each was
/// recorded, each entry marked `access` (a view or download, not an event of the case).
pub fn case_text_with_access(
    wf: &Workflow,
    case: &Case,
    events: &[Recorded],
    access: &[crate::store::backend::AccessRow],
    now: DateTime<Utc>,
) -> String {
    let tz = wf.timezone;
    let mut out = String::new();
    // A title is one line of this view, whatever was typed in it (a CR/LF pasted in a
    // form would otherwise forge lines of the view below).
    let _ = writeln!(out, "{} — {}", case.id, crate::util::one_line(&case.title));
    let _ = writeln!(
        out,
        "workflow {} ({}){}, times in {}{}",
        wf.id,
        &wf.hash[..12],
        wf.version_text()
            .map(|v| format!(", {v}"))
            .unwrap_or_default(),
        tz.name(),
        if case.is_closed(wf) { ", CLOSED" } else { "" }
    );
    let _ = writeln!(out, "\nTracks:");
    for (t, s) in &case.tracks {
        let _ = writeln!(out, "  {t:<12} {s}");
    }
    let _ = writeln!(out, "\nDeadlines (as of {}):", time::short_in(now, tz));
    for c in shown_clocks(wf, case, clocks(wf, case, now)) {
        let due = c
            .due_at
            .map(|d| time::short_in(d, tz))
            .unwrap_or_else(|| "—".into());
        let internal = if c.internal { " (internal target)" } else { "" };
        // What the deadline counts from: laws start their clocks at different instants.
        let anchor = c
            .anchor
            .as_deref()
            .map(|a| format!("  (from {a})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<22} {:<24} {}{}{}",
            c.id,
            due,
            status_cell(&c, now),
            internal,
            anchor
        );
    }
    let regimes: Vec<String> = crate::case::regime::not_applicable(wf, case)
        .into_iter()
        .map(|id| format!("{id} ({})", crate::case::regime::why(&wf.regimes[id], case)))
        .collect();
    if !regimes.is_empty() {
        let _ = writeln!(out, "  Not applicable: {}", regimes.join(", "));
    }
    let _ = writeln!(out, "\nFacts:");
    for (k, v) in &case.facts {
        let shown = match v.to_display_json(tz) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let shown: String = if shown.chars().count() > 90 {
            shown.chars().take(87).collect::<String>() + "..."
        } else {
            shown
        };
        let _ = writeln!(out, "  {k:<22} {shown}");
    }
    let _ = writeln!(
        out,
        "\n{}",
        if access.is_empty() {
            "Events:"
        } else {
            "Events and access (views and downloads, not events):"
        }
    );
    let mut reads = access.iter().peekable();
    for e in events {
        while let Some(a) = reads.next_if(|a| a.at < e.recorded_at) {
            let _ = writeln!(out, "{}", access_line(a, tz));
        }
        let what = event_summary(e);
        let _ = writeln!(
            out,
            "  #{:<3} {}  {}  by {}",
            e.seq,
            time::short_in(e.at, tz),
            what,
            e.actor
        );
        if let Some(late) = crate::case::backdating_text(e, tz) {
            let _ = writeln!(out, "        {late}");
        }
    }
    for a in reads {
        let _ = writeln!(out, "{}", access_line(a, tz));
    }
    let allowed = allowed_events(wf, case);
    if !allowed.is_empty() {
        let _ = writeln!(
            out,
            "\nNext steps: vigie case advance {} EVENT, with EVENT one of {}",
            case.id,
            allowed.join(", ")
        );
    }
    out
}

fn access_line(a: &crate::store::backend::AccessRow, tz: chrono_tz::Tz) -> String {
    format!(
        "  access {}  {}  by {}",
        time::short_in(a.at, tz),
        crate::app::issued::access_summary(a),
        a.actor
    )
}
