//! `vigie register`: the breach register of the organisation (art. 33(5)), and with
//! `--format`, the register for an inspection (`app::inspection`).

use super::{CliError, Ctx, print_json, write_atomic};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct RegisterArgs {
    /// As CSV (UTF-8 with a BOM, for spreadsheets): the working register, whose columns
    /// stay as they are.
    #[arg(long, conflicts_with_all = ["json", "format"])]
    csv: bool,
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// The register for an inspection (every breach with its facts, effects, measures,
    /// decisions and reasons): md, csv, json or pdf.
    #[arg(long, value_parser = ["md", "csv", "json", "pdf"])]
    format: Option<String>,
    /// Only the breaches detected in this year (`detected_at`, else `aware_at`, in the
    /// workflow's time zone).
    #[arg(long)]
    year: Option<i32>,
    /// fr, en or nl: the inspection document's language (default: the organisation's).
    #[arg(long, requires = "format")]
    lang: Option<String>,
    /// Write the inspection document to this file instead of stdout.
    #[arg(long, requires = "format")]
    out: Option<PathBuf>,
}

fn inspection(ctx: &Ctx, a: &RegisterArgs, format: &str) -> Result<(), CliError> {
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let lang = match a.lang.as_deref() {
        None => None,
        Some(s) => Some(crate::time::Lang::parse(s).ok_or_else(|| {
            CliError::input(format!(
                "--lang: {} is not {}",
                crate::util::quote(s),
                crate::time::Lang::choices()
            ))
        })?),
    };
    let (ins, unreadable) = app.inspection(&mut store, &ctx.org, a.year, lang, ctx.now)?;
    unreadable.iter().for_each(|u| eprintln!("{}", u.warning()));
    let text = match format {
        "csv" => crate::app::inspection::csv(&ins),
        "json" => {
            serde_json::to_string_pretty(&crate::app::inspection::json(&ins)).expect("JSON") + "\n"
        }
        "md" => crate::app::inspection::markdown(&ins)?,
        _ => {
            // A PDF goes to a file: on a terminal its bytes would be noise.
            let Some(path) = &a.out else {
                return Err(CliError::input(
                    "--format pdf needs --out FILE (a PDF is not printed to the terminal)",
                ));
            };
            write_atomic(path, crate::app::inspection::pdf(&ins)?)?;
            return Ok(());
        }
    };
    match &a.out {
        Some(path) => write_atomic(path, &text)?,
        // CSV and JSON are for programs: byte-exact, escaped by their own rules;
        // Markdown is for people, shown safely for a terminal.
        None if format == "json" => say_data!("{}", super::json_text(text.trim_end())),
        None if format == "csv" => say_data!("{}", text.trim_end()),
        None => say_raw!("{}", text.trim_end()),
    }
    Ok(())
}

pub(super) fn run(ctx: &Ctx, a: RegisterArgs) -> Result<(), CliError> {
    if let Some(format) = a.format.clone() {
        return inspection(ctx, &a, &format);
    }
    let org = ctx.org.as_str();
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let (mut rows, unreadable) = app.register(&mut store, org)?;
    unreadable.iter().for_each(|u| eprintln!("{}", u.warning()));
    if let Some(year) = a.year {
        let (ins, _) = app.inspection(&mut store, org, Some(year), None, ctx.now)?;
        rows.retain(|r| ins.breaches.iter().any(|b| b.row.case == r.case));
    }
    if a.csv {
        say_data!("{}", crate::register::csv(&rows).trim_end());
    } else if a.json {
        print_json(&serde_json::to_value(&rows).expect("rows serialize"));
    } else if rows.is_empty() {
        say!("the register is empty: no case in organisation '{org}'");
    } else {
        say!(
            "{:<22} {:<7} {:<14} {:<28} {:<28} {:<24} {}",
            "CASE",
            "STATUS",
            "RISK (VIGIE)",
            "AUTHORITY (VIGIE)",
            "INDIVIDUALS (VIGIE)",
            "PEOPLE (LEDGER)",
            "REASON"
        );
        for r in rows {
            let mut reason = r.authority_reason.clone();
            if !r.individuals_reason.is_empty() {
                if !reason.is_empty() {
                    reason.push_str(" / ");
                }
                reason.push_str(&r.individuals_reason);
            }
            let reason: String = reason.chars().take(70).collect();
            // Every decision beside vigie's recommendation when it was taken (issue 22 A2).
            let beside = |decided: &str, recommended: &str| {
                if recommended.is_empty() {
                    decided.to_string()
                } else {
                    format!("{decided} ({recommended})")
                }
            };
            let risk = beside(&r.risk, &r.risk_recommended);
            say!(
                "{:<22} {:<7} {:<14} {:<28} {:<28} {:<24} {}",
                r.case,
                r.status,
                risk,
                format!(
                    "{}{}",
                    beside(&r.authority, &r.authority_recommended),
                    if r.authority_late { " LATE" } else { "" }
                ),
                beside(&r.individuals, &r.individuals_recommended),
                r.people_summary(),
                reason
            );
            // A step recorded long after its date, on its own line: never truncated.
            for late in r.backdated.split("; ").filter(|l| !l.is_empty()) {
                say!("  {:<20} {late}", "");
            }
            // Each step sent to an authority, with what came back (issue 25 part 3).
            for sent in r.submissions.split("; ").filter(|l| !l.is_empty()) {
                say!("  {:<20} {sent}", "");
            }
        }
    }
    Ok(())
}
