//! `vigie register`: the breach register of the organisation (art. 33(5)).

use super::{CliError, Ctx, print_json};
use clap::Args;

#[derive(Args)]
pub struct RegisterArgs {
    /// As CSV (UTF-8 with a BOM, for spreadsheets).
    #[arg(long, conflicts_with = "json")]
    csv: bool,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Ctx, a: RegisterArgs) -> Result<(), CliError> {
    let org = ctx.org.as_str();
    let app = ctx.app()?;
    let mut store = ctx.store()?;
    let (rows, unreadable) = app.register(&mut store, org)?;
    unreadable.iter().for_each(|u| eprintln!("{}", u.warning()));
    if a.csv {
        say_raw!("{}", crate::register::csv(&rows).trim_end());
    } else if a.json {
        print_json(&serde_json::to_value(&rows).expect("rows serialize"));
    } else if rows.is_empty() {
        say!("the register is empty: no case in organisation '{org}'");
    } else {
        say!(
            "{:<22} {:<7} {:<14} {:<13} {:<13} {:<24} {}",
            "CASE",
            "STATUS",
            "RISK (VIGIE)",
            "AUTHORITY",
            "INDIVIDUALS",
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
            // The decision, and vigie's recommendation when the decision departs from it.
            let risk = if r.risk_departs {
                format!("{} ({})", r.risk, r.risk_recommended)
            } else {
                r.risk.clone()
            };
            say!(
                "{:<22} {:<7} {:<14} {:<13} {:<13} {:<24} {}",
                r.case,
                r.status,
                risk,
                format!(
                    "{}{}",
                    r.authority,
                    if r.authority_late { " LATE" } else { "" }
                ),
                r.individuals,
                r.people_summary(),
                reason
            );
        }
    }
    Ok(())
}
