//! `vigie audit verify`: every hash chain of the register, recomputed, and optionally
//! compared with a checkpoint kept outside the database. `vigie audit checkpoint`
//! writes one.

use super::{CliError, Ctx, print_json};
use crate::store::checkpoint;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Recompute every hash chain; exit 1 naming each altered case and event.
    Verify {
        #[arg(long)]
        json: bool,
        /// Also compare with a checkpoint written earlier by `audit checkpoint`: names
        /// each case removed, truncated or rewritten since.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Write a checkpoint of every case (event counts and head hashes, self-hashed), to
    /// keep outside the database.
    Checkpoint {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(super) fn run(ctx: &Ctx, cmd: AuditCmd) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Checkpoint { out } => {
            let mut store = ctx.store()?;
            let cp = checkpoint::checkpoint(&mut store, ctx.now)?;
            match out {
                None => say_raw!("{}", cp.to_text()),
                Some(path) => {
                    std::fs::write(&path, cp.to_text())
                        .map_err(|e| CliError::runtime(format!("{}: {e}", path.display())))?;
                    say!(
                        "checkpoint of {} cases, {} events written to {} (root {}…): keep it outside this database",
                        cp.cases.len(),
                        cp.events(),
                        path.display(),
                        &cp.root()[..12]
                    );
                }
            }
            Ok(())
        }
        AuditCmd::Verify { json, checkpoint } => {
            let mut store = ctx.store()?;
            let anchor = match &checkpoint {
                None => None,
                Some(path) => {
                    let cp = checkpoint::read_file(path).map_err(CliError::input)?;
                    if let Some(org) = cp.org.as_deref().filter(|o| *o != ctx.org) {
                        return Err(CliError::input(format!(
                            "checkpoint {}: it is organisation {org}'s, not {}'s: use --org {org}",
                            path.display(),
                            ctx.org
                        )));
                    }
                    Some(cp)
                }
            };
            let (cases, events, mut problems) = store.verify()?;
            if let Some(cp) = &anchor {
                problems.extend(checkpoint::verify_against(&mut store, cp)?);
            }
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
                    if let Some(cp) = &anchor {
                        say!(
                            "and every case of the checkpoint of {} is still there, unchanged ({} cases)",
                            cp.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            cp.cases.len()
                        );
                    }
                }
                Ok(())
            } else {
                if !json {
                    for p in &problems {
                        let line = format!("case {} event #{}: {}", p.case, p.seq, p.problem);
                        eprintln!("{}", crate::util::one_line(&line));
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
