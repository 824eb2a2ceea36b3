//! `vigie whatif CASE|--all --workflow ID@VERSION | --counting eu_1182_71 | --rules FILE`:
//! a case replayed under another version of the law, side by side with what it pinned.
//! Writes nothing.

use super::{CliError, Ctx, print_json};
use crate::app::whatif::{CaseWhatIf, WhatIfRequest};
use clap::Args;

#[derive(Args)]
pub struct WhatIfArgs {
    /// The case (or --all for every case of the organisation).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    case: Option<String>,
    /// Every case of the organisation, one line each.
    #[arg(long)]
    all: bool,
    /// Another workflow version: fr@omnibus-proposal, be@omnibus-proposal, fr@2018-05-25
    /// (see `vigie workflow list`).
    #[arg(long)]
    workflow: Option<String>,
    /// Count every period another way: eu_1182_71 or conservative.
    #[arg(long)]
    counting: Option<String>,
    /// Another assessment rule set: a file, or a shipped one by name
    /// (rules/assessment-omnibus-proposal.yaml).
    #[arg(long)]
    rules: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Ctx, a: WhatIfArgs) -> Result<(), CliError> {
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let req = WhatIfRequest {
        workflow: a.workflow.clone(),
        counting: a.counting.clone(),
        rules: a.rules.clone(),
    };
    if a.all {
        let all = app.whatif_all(&mut store, &ctx.org, &req, ctx.now)?;
        if a.json {
            print_json(&serde_json::to_value(&all).expect("JSON"));
        } else {
            say_raw!("{}", table(&all));
        }
        return Ok(());
    }
    let id = a.case.as_deref().unwrap_or_default();
    let w = app.whatif(&mut store, &ctx.org, id, &req, ctx.now)?;
    if a.json {
        print_json(&serde_json::to_value(&w).expect("JSON"));
    } else {
        say_raw!("{}", one(&w));
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn or_dash(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("—")
}

/// One case: the versions compared, then each difference side by side.
fn one(w: &CaseWhatIf) -> String {
    let mut out = format!(
        "{} — {}\nwhat if: {} instead of {}{}, times in {}\n\n",
        w.case,
        crate::util::one_line(&w.title),
        w.workflow_whatif,
        w.workflow_now,
        match (&w.rules_now, &w.rules_whatif) {
            (Some(a), Some(b)) if a != b => format!(" (rules {b} instead of {a})"),
            _ => String::new(),
        },
        w.timezone
    );
    let mut rows = vec![(
        "authority notification required".to_string(),
        yes(w.authority_required_now).to_string(),
        yes(w.authority_required_whatif).to_string(),
    )];
    rows.extend(
        w.differences
            .iter()
            .map(|d| (d.what.clone(), d.now.clone(), d.whatif.clone())),
    );
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let nw = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(3);
    out.push_str(&format!("{:<width$}  {:<nw$}  what if\n", "", "now"));
    for (what, now, whatif) in &rows {
        let mark = if now != whatif { "  *" } else { "" };
        out.push_str(&format!("{what:<width$}  {now:<nw$}  {whatif}{mark}\n"));
    }
    if w.differences.is_empty() {
        out.push_str("\nno deadline, status or recommendation differs\n");
    }
    out
}

/// Every case: the authority's deadline and whether notifying it is required, now →
/// what if.
fn table(all: &[CaseWhatIf]) -> String {
    let Some(first) = all.first() else {
        return "no case in this organisation\n".into();
    };
    let cw = all
        .iter()
        .map(|w| w.case.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let deadline = |w: &CaseWhatIf| {
        format!(
            "{} → {}",
            or_dash(&w.authority_deadline_now),
            or_dash(&w.authority_deadline_whatif)
        )
    };
    let dw = all
        .iter()
        .map(|w| deadline(w).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!(
        "what if: {} (each case against the version it pinned)\n{:<cw$}  {:<dw$}  {}\n",
        first.workflow_whatif,
        "case",
        "authority deadline now → what if",
        "notification required now → what if"
    );
    for w in all {
        let req = format!(
            "{} → {}{}",
            yes(w.authority_required_now),
            yes(w.authority_required_whatif),
            if w.authority_required_now && !w.authority_required_whatif {
                "  (no longer required)"
            } else if !w.authority_required_now && w.authority_required_whatif {
                "  (now required)"
            } else {
                ""
            }
        );
        out.push_str(&format!("{:<cw$}  {:<dw$}  {req}\n", w.case, deadline(w)));
    }
    let dropped: Vec<&str> = all
        .iter()
        .filter(|w| w.authority_required_now && !w.authority_required_whatif)
        .map(|w| w.case.as_str())
        .collect();
    out.push_str(&format!(
        "\nno longer required to notify the authority: {}\n",
        if dropped.is_empty() {
            "none of these cases".to_string()
        } else {
            dropped.join(", ")
        }
    ));
    out
}
