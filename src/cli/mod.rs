//! The `vigie` command line: parse (clap), print. Each command group has its own file,
//! which turns arguments into a call of the application layer (`crate::app`) and its
//! answer into text or JSON. Exit codes are chosen here only: 0 on success, 1 on a
//! runtime failure, 2 on invalid input, with a one-line reason on stderr.

/// `println!` that stops quietly when stdout is closed (`vigie demo | head`), and
/// prints what users typed safely for a terminal (`util::terminal_safe`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        if let Err(e) = writeln!(std::io::stdout(), "{}", crate::util::terminal_safe(&text)) {
            if e.kind() == std::io::ErrorKind::BrokenPipe { std::process::exit(0) }
        }
    }};
}

/// `print!` with the same care.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        if let Err(e) = write!(std::io::stdout(), "{}", crate::util::terminal_safe(&text)) {
            if e.kind() == std::io::ErrorKind::BrokenPipe { std::process::exit(0) }
        }
    }};
}

/// Machine formats (CSV, and JSON already escaped by [`json_text`]) go out byte-exact:
/// their own serialiser escaped them, and a terminal filter would alter the data.
macro_rules! say_data {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($t)*);
        if let Err(e) = write!(std::io::stdout(), "{}", text) {
            if e.kind() == std::io::ErrorKind::BrokenPipe { std::process::exit(0) }
        }
    }};
}

mod assess;
mod audit;
mod calendar;
mod case;
mod demo;
mod draft;
mod notify;
mod org;
mod outbox;
pub mod output;
mod register;
mod serve;
mod store;
mod user;
mod whatif;
mod workflow;

pub use output::case_text;

use crate::app::{App, AppError};
use crate::catalog::WorkflowSet;
use crate::config::Config;
use crate::store::{DEFAULT_ORG, Store, StoreError};
use crate::time;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "GDPR breach-notification workflows: every legal deadline, drafts, and a tamper-evident register"
)]
pub struct Cli {
    /// The database: a SQLite file (created if absent), `sqlite://PATH`, or
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/NAME` (a password is never printed).
    #[arg(long, global = true, env = "VIGIE_DB", default_value = "vigie.db")]
    db: String,
    /// A configuration file (see config.example.yaml).
    #[arg(long, global = true, env = "VIGIE_CONFIG")]
    config: Option<PathBuf>,
    /// Who is acting, recorded in the register with each event.
    #[arg(long, global = true, env = "VIGIE_ACTOR")]
    actor: Option<String>,
    /// The organisation whose cases the command reads and changes [default: default].
    #[arg(long, global = true, env = "VIGIE_ORG")]
    org: Option<String>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check and draw workflow definitions.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCmd),
    /// Open, change and look at breach cases.
    #[command(subcommand)]
    Case(case::CaseCmd),
    /// The risk assessment of a case (ENISA severity, the duties and their reasons), or
    /// of facts alone (--workflow, --facts); --accept records it as the decision.
    Assess(assess::AssessArgs),
    /// Draft a document of a case: cnil_notification, apd_notification, nis2_notification,
    /// individual_letter, complaint, edpb_notification (also --format json).
    Draft(draft::DraftArgs),
    /// Notify every person concerned (art. 34) from a CSV, by e-mail or letter; a rerun
    /// resumes the campaign without sending anyone twice.
    Notify(notify::NotifyArgs),
    /// Replay a seed case file into a throwaway store and print its deadline report.
    Replay(demo::ReplayArgs),
    /// Replay the five real incidents into the database and show their deadlines.
    Demo,
    /// Check the register's hash chains.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// The breach register (art. 33(5)): every case, notified or not, with the reason.
    Register(register::RegisterArgs),
    /// The organisation's deadlines as an iCalendar file (the web's /calendar.ics).
    Calendar(calendar::CalendarArgs),
    /// Organisations and their profiles: each sees only its own cases, and every draft,
    /// letter and reminder of a case carries its own organisation's identity.
    #[command(subcommand)]
    Org(org::OrgCmd),
    /// People who sign in to the web page and the API.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Run the web page and API (http://127.0.0.1:8080/) and the reminder dispatcher,
    /// which e-mails every reminder the clocks ask for, when due.
    Serve(serve::ServeArgs),
    /// The reminders waiting, failing or dead-lettered.
    #[command(subcommand)]
    Outbox(outbox::OutboxCmd),
    /// Check the mail configuration.
    #[command(subcommand)]
    Mail(outbox::MailCmd),
    /// The database itself: copy it into another one (SQLite to PostgreSQL, or back).
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// A case (or --all) replayed under another version of the law: the Omnibus
    /// proposal (--workflow fr@omnibus-proposal), another counting, other rules. Writes
    /// nothing.
    Whatif(whatif::WhatIfArgs),
}

/// A failure the CLI reports: a one-line message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
    /// Exit 2 for what the user can correct, 1 for a runtime failure: the one place
    /// where a library's error becomes an exit code.
    fn of(is_input: bool, message: impl Into<String>) -> CliError {
        CliError {
            code: if is_input { 2 } else { 1 },
            message: message.into(),
        }
    }
    fn input(message: impl Into<String>) -> CliError {
        CliError {
            code: 2,
            message: message.into(),
        }
    }
    fn runtime(message: impl Into<String>) -> CliError {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
}

impl From<AppError> for CliError {
    fn from(e: AppError) -> CliError {
        if let AppError::Field { field, message } = &e {
            // The command line names a field by its flag.
            return CliError::input(format!("--{}: {message}", field.replace('_', "-")));
        }
        CliError::of(e.is_input(), e.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        CliError::from(AppError::Store(e))
    }
}

impl From<crate::render::RenderError> for CliError {
    fn from(e: crate::render::RenderError) -> CliError {
        CliError::from(AppError::Render(e))
    }
}

impl From<crate::store::AccountError> for CliError {
    fn from(e: crate::store::AccountError) -> CliError {
        CliError::from(AppError::Account(e))
    }
}

/// What every command may need: the resolved options and the one clock.
struct Ctx {
    /// The database URL (or SQLite path).
    db: String,
    config: Config,
    actor: String,
    org: String,
    /// Whether --org (or VIGIE_ORG) named it; else it is `default`.
    org_given: bool,
    now: DateTime<Utc>,
    /// Whether the command needs the embedded proposals (`whatif`, `workflow`, `serve`);
    /// the others start faster without them.
    proposals: bool,
}

impl Ctx {
    /// The workflows, each document with a template in every language.
    fn workflows(&self) -> Result<WorkflowSet, CliError> {
        let first = |e: crate::workflow::WorkflowErrors| {
            CliError::input(e.0.first().map(|x| x.to_string()).unwrap_or_default())
        };
        let dir = self.config.workflows_dir.as_deref();
        let set = if self.proposals {
            WorkflowSet::load(dir)
        } else {
            WorkflowSet::load_in_force(dir)
        }
        .map_err(first)?;
        let templates = self.config.templates();
        crate::render::check_documents(&set, &templates).map_err(first)?;
        Ok(set)
    }
    /// The application layer over the workflows and templates of this configuration.
    fn app(&self) -> Result<App, CliError> {
        Ok(App::new(
            self.db.clone(),
            self.config.clone(),
            self.workflows()?,
        ))
    }
    /// The organisation of a command about one person's membership (`user disable`,
    /// `enable`, `token create`): --org when given, else their only one.
    fn membership_org(&self) -> Option<&str> {
        self.org_given.then_some(self.org.as_str())
    }

    /// The database, checked to know the organisation of --org.
    fn store(&self) -> Result<Store, CliError> {
        let mut store = Store::open_url(&self.db)?;
        crate::app::check_org(&mut store, &self.org)?;
        Ok(store)
    }
    /// The database for a command on the organisation's cases or people (open, list,
    /// draft, notify, the register, `user add`...). Without --org it is `default`; when
    /// that organisation is empty (no case, no user) and the database holds others (the
    /// first DPO named theirs on the setup page), the command is refused with the
    /// names, rather than opening a case or adding a person where nobody will look.
    fn org_store(&self) -> Result<Store, CliError> {
        let mut store = self.store()?;
        if !self.org_given && self.org == DEFAULT_ORG {
            let others: Vec<String> = store
                .organisations()?
                .into_iter()
                .map(|(id, _)| id)
                .filter(|id| id != DEFAULT_ORG)
                .collect();
            if !others.is_empty()
                && !store.has_cases(DEFAULT_ORG)?
                && store.accounts(Some(DEFAULT_ORG))?.is_empty()
            {
                let names = others
                    .iter()
                    .map(|o| crate::util::quote(o))
                    .collect::<Vec<_>>()
                    .join(", ");
                let first = crate::util::quote(&others[0]);
                return Err(CliError::input(format!(
                    "no --org given, and organisation 'default' has no case and no user; this database has {names}: pass --org {first} (or set VIGIE_ORG)"
                )));
            }
        }
        Ok(store)
    }
}

/// JSON for scripts. serde_json escapes C0 controls; DEL and C1 controls (which some
/// terminals obey) can only stand inside strings, so they are written as `\u007f`,
/// `\u0080`..`\u009f` too: still valid JSON, the same value once parsed.
pub(crate) fn json_text(text: &str) -> std::borrow::Cow<'_, str> {
    let c1 = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    if !text.contains(c1) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c1(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

fn print_json(v: &Value) {
    let text = serde_json::to_string_pretty(v).expect("JSON values print");
    say_data!("{}\n", json_text(&text));
}

/// `KEY=VALUE`: the value is text, read by the fact's type (`[a, b]` or `a, b` for a
/// list, `true`/`oui`, a number, a time); an empty value unsets the fact.
pub fn parse_pair(pair: &str) -> Result<(String, Value), CliError> {
    let (k, v) = pair
        .split_once('=')
        .ok_or_else(|| CliError::input(format!("{} is not KEY=VALUE", crate::util::quote(pair))))?;
    let k = k.trim().to_string();
    let v = v.trim();
    if k.is_empty() {
        return Err(CliError::input(format!(
            "{} has no key",
            crate::util::quote(pair)
        )));
    }
    let value = if v.is_empty() || v == "null" || v == "~" {
        Value::Null
    } else {
        Value::String(v.to_string())
    };
    Ok((k, value))
}

fn read_facts_file(path: &Path) -> Result<Vec<(String, Value)>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
    let map: indexmap::IndexMap<String, Value> = crate::util::yaml::from_str(&text)
        .map_err(|e| CliError::input(format!("{}:{e}", path.display())))?;
    Ok(map.into_iter().collect())
}

/// Writes a file whole or not at all: a temporary file beside it, then a rename.
fn write_atomic(path: &Path, text: impl AsRef<[u8]>) -> Result<(), CliError> {
    let tmp = path.with_extension("vigie-tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::runtime(format!("{}: {e}", path.display())))
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = match &cli.config {
        Some(p) => Config::load(p).map_err(|e| CliError::input(e.to_string()))?,
        None => Config::default(),
    };
    let actor = cli
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "dpo".to_string());
    time::now_offset().map_err(CliError::input)?;
    time::fixed_now().map_err(CliError::input)?;
    let ctx = Ctx {
        db: cli.db.clone(),
        config,
        actor,
        org: cli.org.clone().unwrap_or_else(|| DEFAULT_ORG.to_string()),
        org_given: cli.org.is_some(),
        now: time::now(),
        proposals: matches!(
            cli.command,
            Cmd::Whatif(_) | Cmd::Workflow(_) | Cmd::Serve(_)
        ),
    };
    match cli.command {
        Cmd::Workflow(cmd) => workflow::run(&ctx, cmd),
        Cmd::Case(cmd) => case::run(&ctx, cmd),
        Cmd::Assess(args) => assess::run(&ctx, args),
        Cmd::Draft(args) => draft::run(&ctx, args),
        Cmd::Notify(args) => notify::run(&ctx, args),
        Cmd::Replay(args) => demo::replay(&ctx, args),
        Cmd::Demo => demo::demo(&ctx),
        Cmd::Audit(cmd) => audit::run(&ctx, cmd),
        Cmd::Register(args) => register::run(&ctx, args),
        Cmd::Calendar(args) => calendar::run(&ctx, args),
        Cmd::Org(cmd) => org::run(&ctx, cmd),
        Cmd::User(cmd) => user::run(&ctx, cmd),
        Cmd::Serve(args) => serve::run(&ctx, args),
        Cmd::Outbox(cmd) => outbox::run(&ctx, cmd),
        Cmd::Mail(cmd) => outbox::mail(&ctx, cmd),
        Cmd::Store(cmd) => store::run(&ctx, cmd),
        Cmd::Whatif(args) => whatif::run(&ctx, args),
    }
}
