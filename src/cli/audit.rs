//! `vigie audit verify`: every hash chain of the register, recomputed.

use super::{CliError, Ctx, print_json};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Recompute every hash chain; exit 1 naming each altered case and event.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

pub(super) fn run(ctx: &Ctx, cmd: AuditCmd) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Verify { json } => {
            let store = ctx.store()?;
            let (cases, events, problems) = store.verify()?;
            if json {
                print_json(
                    &serde_json::json!({"cases": cases, "events": events, "problems": problems}),
                );
            }
            if problems.is_empty() {
                if !json {
                    say!(
                        "register intact: {cases} cases, {events} events, every hash chain verified"
                    );
                }
                Ok(())
            } else {
                if !json {
                    for p in &problems {
                        eprintln!("case {} event #{}: {}", p.case, p.seq, p.problem);
                    }
                }
                Err(CliError::runtime(format!(
                    "register altered: {} problem(s), first: case {} event #{}",
                    problems.len(),
                    problems[0].case,
                    problems[0].seq
                )))
            }
        }
    }
}
