//! `vigie calendar`: the organisation's deadlines as an iCalendar file, the same feed as
//! the web's `/calendar.ics`.

use super::{CliError, Ctx, write_atomic};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct CalendarArgs {
    /// Write the calendar to this file (whole or not at all) instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The web page's address, for the link to each case (default: `http.public_url`).
    #[arg(long)]
    url: Option<String>,
}

pub(super) fn run(ctx: &Ctx, a: CalendarArgs) -> Result<(), CliError> {
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let base = a.url.or_else(|| ctx.config.http.public_url.clone());
    let feed = app.calendar(&mut store, &ctx.org, base.as_deref(), ctx.now)?;
    feed.unreadable
        .iter()
        .for_each(|u| eprintln!("{}", u.warning()));
    match a.out {
        Some(path) => {
            write_atomic(&path, &feed.text)?;
            say!(
                "wrote the deadlines of organisation '{}' to {}",
                ctx.org,
                path.display()
            );
        }
        // The file's own bytes (CRLF lines), as `--out` writes them.
        None => {
            use std::io::Write as _;
            if let Err(e) = std::io::stdout().write_all(feed.text.as_bytes())
                && e.kind() != std::io::ErrorKind::BrokenPipe
            {
                return Err(CliError::runtime(format!("standard output: {e}")));
            }
        }
    }
    Ok(())
}
