//! `vigie replay FILE` and `vigie demo`: the real incidents of `seeds/`.

use super::{CliError, Ctx, print_json, write_atomic};
use crate::app::json::case_json;
use crate::render::Format;
use crate::seed;
use crate::store::{DEFAULT_ORG, Store};
use crate::time;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ReplayArgs {
    file: PathBuf,
    #[arg(long)]
    json: bool,
    /// Write every draft of the case into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn seed_error(e: seed::SeedError) -> CliError {
    CliError::of(e.input, e.to_string())
}

pub(super) fn replay(ctx: &Ctx, a: ReplayArgs) -> Result<(), CliError> {
    let file = &a.file;
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    let app = crate::app::App::new(":memory:".into(), ctx.config.clone(), ctx.workflows()?);
    let mut store = Store::open(Path::new(":memory:"))?;
    let r = seed::replay(
        &mut store,
        DEFAULT_ORG,
        &app,
        &file.display().to_string(),
        &text,
        &ctx.actor,
        false,
    )
    .map_err(seed_error)?;
    let l = &r.loaded;
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::runtime(format!("{}: {e}", dir.display())))?;
        // Not the documents of a regime that does not apply to the case (they are refused).
        for doc in &crate::app::regimes::shown_documents(&l.workflow, &l.case) {
            let req = crate::app::DraftRequest {
                document: doc.clone(),
                lang: Some(l.workflow.lang.code().to_string()),
                format: Some(Format::Md.as_str().to_string()),
            };
            let (d, _, _) = app.draft(&mut store, DEFAULT_ORG, &l.case.id, &req, r.as_of)?;
            write_atomic(&dir.join(format!("{}-{doc}.md", l.case.id)), &d.text)?;
        }
    }
    if a.json {
        print_json(&case_json(&l.workflow, &l.case, &l.events, r.as_of));
    } else {
        say_raw!(
            "{}",
            super::case_text(&l.workflow, &l.case, &l.events, r.as_of)
        );
        if let Some(dir) = &a.out {
            say!("\ndrafts written to {}", dir.display());
        }
    }
    Ok(())
}

pub(super) fn demo(ctx: &Ctx) -> Result<(), CliError> {
    let (org, now) = (ctx.org.as_str(), ctx.now);
    let app = ctx.app()?;
    let mut store = ctx.store()?;
    let mut added = 0;
    let mut rows = Vec::new();
    for (name, text) in seed::EMBEDDED {
        let r = seed::replay(
            &mut store,
            org,
            &app,
            &format!("embedded:seeds/{name}"),
            text,
            "vigie-demo",
            true,
        )
        .map_err(seed_error)?;
        if !r.skipped {
            added += 1;
        }
        rows.push(r.loaded);
    }
    app.wake(&mut store);
    say!(
        "{} real incidents in {} ({} added now, {} already there). Deadlines as of {}:\n",
        rows.len(),
        store.describe(),
        added,
        rows.len() - added,
        now.format("%Y-%m-%d %H:%M UTC")
    );
    say!(
        "{:<20} {:<3} {:<20} {:<24} {}",
        "CASE",
        "WF",
        "CLOCK",
        "DUE",
        "STATUS"
    );
    // Clocks that do not apply to a case (NIS2 for a body outside it, DORA for one that
    // is not a financial entity) would bury the ones that do: counted, not listed.
    let mut hidden = 0;
    for l in &rows {
        let wf = &l.workflow;
        let mut first = true;
        for c in crate::case::clocks(wf, &l.case, now) {
            if c.status == crate::case::ClockStatus::NotApplicable {
                hidden += 1;
                continue;
            }
            let (case_col, wf_col) = if first {
                (l.case.id.as_str(), wf.id.as_str())
            } else {
                ("", "")
            };
            first = false;
            let due = c
                .due_at
                .map(|d| time::short_in(d, wf.timezone))
                .unwrap_or_else(|| "—".into());
            // The same words as `case show`: a target the organisation set is not a
            // statutory deadline, and "late" against it must say so.
            let internal = if c.internal { " (internal target)" } else { "" };
            say!(
                "{:<20} {:<3} {:<20} {:<24} {}{}",
                case_col,
                wf_col,
                c.id,
                due,
                c.status.as_str(),
                internal
            );
        }
    }
    if hidden > 0 {
        say!(
            "({hidden} deadlines that do not apply to these cases are not listed; `case show` lists every one.)"
        );
    }
    // Never the password of a URL: the command to type again names the database without it.
    let db_flag = if ctx.db == "vigie.db" {
        String::new()
    } else {
        format!(" --db {}", store.describe())
    };
    say!("\nLook at one case:          vigie{db_flag} case show caf-2021");
    say!("Draft its CNIL notification: vigie{db_flag} draft caf-2021 cnil_notification");
    say!(
        "Open your own case:        vigie{db_flag} case open --workflow fr --title \"...\" --aware-at 2026-11-23T09:00"
    );
    // The web page: the incidents are in this organisation, so the demo gives it a DPO
    // account to sign in with (a setup link would make a new, empty organisation).
    let account = demo_account(&app, &mut store, org, now)?;
    say!(
        "\nSee them in the browser:   vigie serve --db {}   then open http://127.0.0.1:8080/",
        store.describe()
    );
    match account {
        DemoAccount::Made(password) => say!(
            "Sign in as {DEMO_DPO} with the password {password} (shown once; `vigie{db_flag} user password {DEMO_DPO}` sets another)"
        ),
        DemoAccount::Exists => say!(
            "Sign in as {DEMO_DPO} with the password printed when the demo first ran (`vigie{db_flag} user password {DEMO_DPO}` sets another)"
        ),
        DemoAccount::Others => say!("Sign in with an account of organisation '{org}'"),
    }
    Ok(())
}

/// The demo organisation's DPO account.
pub const DEMO_DPO: &str = "dpo@demo.invalid";

enum DemoAccount {
    /// Made now, with this password.
    Made(String),
    /// Made by an earlier run.
    Exists,
    /// The organisation has accounts of its own: no demo account is added.
    Others,
}

/// A DPO account for the demo's organisation, made once with a random password, unless
/// the organisation has accounts already.
fn demo_account(
    app: &crate::app::App,
    store: &mut Store,
    org: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DemoAccount, CliError> {
    let users = store.accounts(Some(org))?;
    if users.iter().any(|(u, _)| u.email == DEMO_DPO) {
        return Ok(DemoAccount::Exists);
    }
    if !users.is_empty() {
        return Ok(DemoAccount::Others);
    }
    let password = crate::store::random_hex(8);
    app.add_user(
        store,
        org,
        &crate::app::NewUser {
            email: DEMO_DPO,
            name: "DPO (demo)",
            role: crate::store::Role::Dpo,
            password: &password,
        },
        now,
    )?;
    Ok(DemoAccount::Made(password))
}
