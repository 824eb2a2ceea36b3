//! `vigie notify CASE --recipients FILE`: art. 34 notices to every person concerned.

use super::{CliError, Ctx, print_json};
use crate::notify::recipients::Channel;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct NotifyArgs {
    case: String,
    #[arg(long)]
    recipients: PathBuf,
    /// email (through the configured transport) or letter (files in letters_dir).
    #[arg(long, default_value = "email")]
    channel: String,
    /// Render every letter and check every row, send nothing, record nothing.
    #[arg(long)]
    dry_run: bool,
    /// Messages handed to SMTP at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Send to at most N people in this run.
    #[arg(long)]
    limit: Option<u64>,
    /// Start a new campaign even though one exists with another file or template.
    #[arg(long)]
    new_campaign: bool,
    /// Send also to people already notified by another campaign of this case.
    #[arg(long)]
    resend_notified: bool,
    /// For letters: txt (one file per person) or pdf (print-ready, for a DL window
    /// envelope, in PDFs of --letters-per-file letters with an index).
    #[arg(long, default_value = "txt")]
    format: String,
    /// Letters in each PDF (--format pdf).
    #[arg(long, default_value_t = crate::notify::print::LETTERS_PER_FILE)]
    letters_per_file: usize,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Ctx, a: NotifyArgs) -> Result<(), CliError> {
    let channel = match a.channel.as_str() {
        "email" => Channel::Email,
        "letter" => Channel::Letter,
        other => {
            return Err(CliError::input(format!(
                "--channel: {} is not email or letter",
                crate::util::quote(other)
            )));
        }
    };
    let pdf = match (a.format.as_str(), channel) {
        ("txt", _) => false,
        ("pdf", Channel::Letter) => true,
        ("pdf", Channel::Email) => {
            return Err(CliError::input(
                "--format pdf: only for --channel letter".to_string(),
            ));
        }
        (other, _) => {
            return Err(CliError::input(format!(
                "--format: {} is not txt or pdf",
                crate::util::quote(other)
            )));
        }
    };
    if a.letters_per_file == 0 {
        return Err(CliError::input(
            "--letters-per-file: give at least 1".to_string(),
        ));
    }
    let opts = crate::notify::Options {
        pdf,
        letters_per_file: a.letters_per_file,
        case_id: a.case,
        recipients: a.recipients,
        channel,
        dry_run: a.dry_run,
        concurrency: a.concurrency,
        limit: a.limit,
        new_campaign: a.new_campaign,
        resend_notified: a.resend_notified,
    };
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    use std::io::IsTerminal as _;
    let mut bar = crate::notify::Bar::new();
    let mut lines = crate::notify::Lines::new();
    let progress: &mut dyn crate::notify::Progress = if std::io::stderr().is_terminal() {
        &mut bar
    } else {
        &mut lines
    };
    let out = app
        .notify(&mut store, &ctx.org, &opts, &ctx.actor, progress)
        .map_err(|e| CliError::of(e.is_input(), e.to_string()))?;
    if a.json {
        print_json(&serde_json::to_value(&out).expect("outcome serializes"));
    } else {
        say!(
            "campaign {}{}: {} sent, {} rejected, {} failed, {} refused, {} skipped as already notified",
            out.campaign,
            if out.dry_run {
                " (dry run: nothing sent)"
            } else {
                ""
            },
            out.sent,
            out.rejected,
            out.failed,
            out.refused,
            out.skipped
        );
        if let Some(r) = &out.rejects {
            say!("rejected rows, with line and reason: {r}");
        }
        if let Some(r) = &out.refused_list {
            say!("refused by the mail server for good, to notify by letter: {r}");
        }
    }
    if out.failed > 0 {
        return Err(CliError::runtime(format!(
            "{} message(s) failed: rerun the same command to retry them",
            out.failed
        )));
    }
    Ok(())
}
