//! `vigie store copy`: moving a register to another database (SQLite to PostgreSQL, or
//! back), every chain verified on arrival.

use super::{CliError, Ctx, print_json};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum StoreCmd {
    /// Copy everything (organisations, users, cases with their chains, reminders, the
    /// notification ledger) into a new, empty database, and verify every chain there.
    Copy {
        /// The database to copy (default: --db).
        #[arg(long)]
        from: Option<String>,
        /// The empty database to copy into: a path, sqlite://PATH or postgres://...
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(ctx: &Ctx, cmd: StoreCmd) -> Result<(), CliError> {
    match cmd {
        StoreCmd::Copy { from, to, json } => {
            let from = from.unwrap_or_else(|| ctx.db.clone());
            let mut progress = |what: &str| {
                if !json {
                    eprintln!("vigie: {what}");
                }
            };
            let r = crate::store::copy::run(&from, &to, &mut progress)?;
            if json {
                print_json(
                    &serde_json::to_value(&r).map_err(|e| CliError::runtime(e.to_string()))?,
                );
            } else {
                let c = &r.copied;
                say!(
                    "{} copied into {}: {} organisation(s), {} user(s), {} case(s) ({} events, every chain verified there), {} reminder(s), {} campaign(s) ({} ledger rows)",
                    r.from,
                    r.to,
                    c.organisations,
                    c.users,
                    c.cases,
                    r.verified_events,
                    c.timers,
                    c.campaigns,
                    c.ledger_rows
                );
            }
            Ok(())
        }
    }
}
