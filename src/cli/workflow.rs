//! `vigie workflow check|graph|list`.

use super::{CliError, Ctx};
use crate::catalog::WorkflowSet;
use crate::render;
use crate::workflow;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum WorkflowCmd {
    /// Validate workflow files (default: the embedded ones and the configured folder).
    Check { paths: Vec<PathBuf> },
    /// Print a Mermaid state diagram per track.
    Graph { id: String },
    /// List the known workflows.
    List,
}

pub(super) fn run(ctx: &Ctx, cmd: WorkflowCmd) -> Result<(), CliError> {
    match cmd {
        WorkflowCmd::Check { paths } => check(ctx, &paths),
        WorkflowCmd::Graph { id } => {
            let set = ctx.workflows()?;
            let wf = set.get(&id).ok_or_else(|| {
                CliError::input(format!(
                    "unknown workflow {} (known: {})",
                    crate::util::quote(&id),
                    set.ids().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            say_raw!("{}", workflow::graph::mermaid(&wf));
            Ok(())
        }
        WorkflowCmd::List => {
            let set = ctx.workflows()?;
            // Every version: the plain id names the one in force today.
            for wf in set.all() {
                let current = set.get(&wf.id).is_some_and(|c| c.hash == wf.hash);
                let key = if current { wf.id.clone() } else { wf.key() };
                let status = match (&wf.version, wf.effective_from) {
                    (None, _) => String::new(),
                    (Some(_), None) => "  (proposal, not in force)".to_string(),
                    (Some(v), Some(d)) if current || wf.in_force_from() <= Some(ctx.now) => {
                        format!("  (version {v}, in force from {d})")
                    }
                    (Some(v), Some(d)) => format!("  (version {v}, in force from {d}, not yet)"),
                };
                say!(
                    "{:<6} {:<16} {}  {}{status}",
                    key,
                    wf.timezone.name(),
                    &wf.hash[..12],
                    wf.title
                );
            }
            Ok(())
        }
    }
}

fn check(ctx: &Ctx, paths: &[PathBuf]) -> Result<(), CliError> {
    let templates = ctx.config.templates();
    // One line per mistake, whatever the file holds (a state named with an escape
    // sequence is shown escaped).
    let report = |errors: &[workflow::WorkflowError]| {
        for e in errors {
            eprintln!("{}", crate::util::one_line(&e.to_string()));
        }
    };
    if paths.is_empty() {
        let set = WorkflowSet::load(ctx.config.workflows_dir.as_deref())
            .and_then(|set| render::check_documents(&set, &templates).map(|()| set));
        return match set {
            Ok(set) => {
                for wf in set.all() {
                    say!(
                        "{}: ok ({} tracks, {} events, {} clocks)",
                        wf.origin,
                        wf.tracks.len(),
                        wf.events.len(),
                        wf.clocks.len()
                    );
                }
                Ok(())
            }
            Err(errors) => {
                report(&errors.0);
                Err(CliError::input(format!(
                    "{} error(s) in the workflows",
                    errors.0.len()
                )))
            }
        };
    }
    let mut n = 0;
    for p in paths {
        let checked = WorkflowSet::compile_file(p).and_then(|wf| {
            let missing = render::missing_templates(&wf, &templates);
            if missing.is_empty() {
                Ok(wf)
            } else {
                Err(workflow::WorkflowErrors(missing))
            }
        });
        match checked {
            Ok(wf) => say!(
                "{}: ok ({} tracks, {} events, {} clocks)",
                crate::util::one_line(&p.display().to_string()),
                wf.tracks.len(),
                wf.events.len(),
                wf.clocks.len()
            ),
            Err(errors) => {
                report(&errors.0);
                n += errors.0.len();
            }
        }
    }
    if n > 0 {
        Err(CliError::input(format!(
            "{n} error(s) in {} file(s) checked",
            paths.len()
        )))
    } else {
        Ok(())
    }
}
