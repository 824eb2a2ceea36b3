//! The `vigie` command line: parse (clap), resolve the config and the store, call the
//! core, print. Exit 0 on success, 1 on a runtime failure, 2 on invalid input, with a
//! one-line reason on stderr.

pub mod output;

/// `println!` that stops quietly when stdout is closed (`vigie demo | head`).
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe { std::process::exit(0) }
        }
    }};
}

/// `print!` with the same care.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = write!(std::io::stdout(), $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe { std::process::exit(0) }
        }
    }};
}

pub use output::{case_json, case_text};

use crate::case::Command;
use crate::config::Config;
use crate::render::{self, Format, Templates};
use crate::seed;
use crate::store::{DEFAULT_ORG, Store, StoreError};
use crate::time::{self, Lang};
use crate::workflow::{self, WorkflowSet};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "vigie",
    version,
    about = "GDPR breach-notification workflows: every legal deadline, drafts, and a tamper-evident register"
)]
pub struct Cli {
    /// The SQLite database file (created if absent).
    #[arg(long, global = true, env = "VIGIE_DB", default_value = "vigie.db")]
    db: PathBuf,
    /// A configuration file (see config.example.yaml).
    #[arg(long, global = true, env = "VIGIE_CONFIG")]
    config: Option<PathBuf>,
    /// Who is acting, recorded in the register with each event.
    #[arg(long, global = true, env = "VIGIE_ACTOR")]
    actor: Option<String>,
    /// The organisation whose cases the command reads and changes.
    #[arg(long, global = true, env = "VIGIE_ORG", default_value = DEFAULT_ORG)]
    org: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check and draw workflow definitions.
    #[command(subcommand)]
    Workflow(WorkflowCmd),
    /// Open, change and look at breach cases.
    #[command(subcommand)]
    Case(CaseCmd),
    /// Draft a document of a case: cnil_notification, apd_notification, nis2_notification,
    /// individual_letter, complaint.
    Draft(DraftArgs),
    /// Notify every person concerned (art. 34) from a CSV, by e-mail or letter; a rerun
    /// resumes the campaign without sending anyone twice.
    Notify {
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
        #[arg(long)]
        json: bool,
    },
    /// Replay a seed case file into a throwaway store and print its deadline report.
    Replay {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// Write every draft of the case into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Replay the five real incidents into the database and show their deadlines.
    Demo,
    /// Check the register's hash chains.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The breach register (art. 33(5)): every case, notified or not, with the reason.
    Register {
        /// As CSV (UTF-8 with a BOM, for spreadsheets).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        #[arg(long)]
        json: bool,
    },
    /// Organisations: each sees only its own cases.
    #[command(subcommand)]
    Org(OrgCmd),
    /// People who sign in to the web page and the API.
    #[command(subcommand)]
    User(UserCmd),
    /// Run the web page and API (http://127.0.0.1:8080/) and the reminder dispatcher,
    /// which e-mails every reminder the clocks ask for, when due.
    Serve {
        /// Address of the web page and API (default: http.listen in the config, else
        /// 127.0.0.1:8080; port 0 picks a free one). `none` serves no HTTP.
        #[arg(long)]
        listen: Option<String>,
        /// Timers claimed per round.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Seconds a claim is held before another dispatcher may take it.
        #[arg(long, default_value_t = 120)]
        lease_secs: i64,
        /// Longest sleep, in seconds, without looking at the database.
        #[arg(long, default_value_t = 60)]
        idle_check_secs: u64,
    },
    /// The reminders waiting, failing or dead-lettered.
    #[command(subcommand)]
    Outbox(OutboxCmd),
    /// Check the mail configuration.
    #[command(subcommand)]
    Mail(MailCmd),
}

#[derive(Subcommand)]
enum OrgCmd {
    /// Add an organisation.
    Add {
        /// Short id: lowercase letters, digits, '-' or '_'.
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List the organisations.
    List,
}

#[derive(Subcommand)]
enum UserCmd {
    /// Add a user to the organisation given by --org. The password is read from the
    /// terminal (asked twice), or from the first line of standard input.
    Add {
        email: String,
        /// dpo (everything), contributor (facts and events) or viewer (read only).
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List users (of every organisation with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (signs out every session of the user).
    Password { email: String },
    /// Create an API token for scripts; it is shown once.
    Token {
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
}

#[derive(Subcommand)]
enum OutboxCmd {
    /// Pending, failed and dead reminders (--all: sent and cancelled too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Requeue a dead or failing reminder now.
    Retry { id: i64 },
}

#[derive(Subcommand)]
enum MailCmd {
    /// Send a test message through the configured transport.
    Test { address: String },
}

#[derive(Subcommand)]
enum WorkflowCmd {
    /// Validate workflow files (default: the embedded ones and the configured folder).
    Check { paths: Vec<PathBuf> },
    /// Print a Mermaid state diagram per track.
    Graph { id: String },
    /// List the known workflows.
    List,
}

#[derive(Subcommand)]
enum CaseCmd {
    /// Open a case.
    Open {
        #[arg(long)]
        workflow: String,
        #[arg(long)]
        title: String,
        /// When the organisation became aware (RFC 3339, or local time in the workflow's zone).
        #[arg(long)]
        aware_at: String,
        /// Choose the case id (default: <workflow>-<year>-<nnnn>).
        #[arg(long)]
        id: Option<String>,
        /// A YAML file of facts.
        #[arg(long)]
        facts: Option<PathBuf>,
        /// A fact, KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Set facts: KEY=VALUE (a YAML scalar or [list]; KEY= unsets).
    Set {
        id: String,
        #[arg(value_name = "KEY=VALUE")]
        pairs: Vec<String>,
        #[arg(long)]
        facts: Option<PathBuf>,
        #[arg(long)]
        note: Option<String>,
        /// Effective time (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Record a workflow event (contain, assess, notify_authority, ...).
    Advance {
        id: String,
        event: String,
        /// When it happened (default: now).
        #[arg(long)]
        at: Option<String>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a case: tracks, deadlines, facts, events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List open cases, nearest deadline first.
    List {
        /// Include closed cases.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditCmd {
    /// Recompute every hash chain; exit 1 naming each altered case and event.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct DraftArgs {
    id: String,
    document: String,
    /// fr or en (default: the workflow's language).
    #[arg(long)]
    lang: Option<String>,
    /// md, html or txt.
    #[arg(long, default_value = "md")]
    format: String,
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fail when facts the document needs are missing.
    #[arg(long)]
    strict: bool,
    /// Record in the register that this exact text was issued (its SHA-256).
    #[arg(long)]
    record: bool,
}

/// A failure the CLI reports: a one-line message and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

impl CliError {
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

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        CliError {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

impl From<render::RenderError> for CliError {
    fn from(e: render::RenderError) -> CliError {
        let code = match e {
            render::RenderError::Read { .. } => 1,
            _ => 2,
        };
        CliError {
            code,
            message: e.to_string(),
        }
    }
}

struct Ctx {
    cli_db: PathBuf,
    config: Config,
    actor: String,
    org: String,
}

impl Ctx {
    fn workflows(&self) -> Result<WorkflowSet, CliError> {
        WorkflowSet::load(self.config.workflows_dir.as_deref())
            .map_err(|e| CliError::input(e.0.first().map(|x| x.to_string()).unwrap_or_default()))
    }
    /// The database, checked to know the organisation of --org.
    fn store(&self) -> Result<Store, CliError> {
        let store = Store::open(&self.cli_db)?;
        if self.org != DEFAULT_ORG && store.organisation_name(&self.org)?.is_none() {
            let known: Vec<String> = store
                .organisations()?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            return Err(CliError::input(format!(
                "unknown organisation '{}' (known: {}); create it with `vigie org add {} --name \"...\"`",
                self.org,
                known.join(", "),
                self.org
            )));
        }
        Ok(store)
    }
    fn templates(&self) -> Templates {
        Templates::from_config(&self.config)
    }
}

fn print_json(v: &Value) {
    say!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values print")
    );
}

/// `KEY=VALUE`: the value is text, read by the fact's type (`[a, b]` or `a, b` for a
/// list, `true`/`oui`, a number, a time); an empty value unsets the fact.
pub fn parse_pair(pair: &str) -> Result<(String, Value), CliError> {
    let (k, v) = pair
        .split_once('=')
        .ok_or_else(|| CliError::input(format!("'{pair}' is not KEY=VALUE")))?;
    let k = k.trim().to_string();
    let v = v.trim();
    if k.is_empty() {
        return Err(CliError::input(format!("'{pair}' has no key")));
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
    let map: indexmap::IndexMap<String, Value> = crate::yaml::from_str(&text)
        .map_err(|e| CliError::input(format!("{}:{e}", path.display())))?;
    Ok(map.into_iter().collect())
}

fn parse_time(
    s: Option<&str>,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    what: &str,
) -> Result<DateTime<Utc>, CliError> {
    match s {
        None | Some("now") => Ok(now),
        Some(s) => time::parse_instant(s, tz).map_err(|e| CliError::input(format!("{what}: {e}"))),
    }
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
    let ctx = Ctx {
        cli_db: cli.db.clone(),
        config,
        actor,
        org: cli.org.clone(),
    };
    time::now_offset().map_err(CliError::input)?;
    let now = time::now();
    let org = cli.org.as_str();
    let db = ctx.cli_db.clone();
    let poke = |r: Result<(), CliError>| {
        if r.is_ok() {
            crate::serve::poke(&db);
        }
        r
    };
    match cli.command {
        Cmd::Workflow(WorkflowCmd::Check { paths }) => workflow_check(&ctx, &paths),
        Cmd::Workflow(WorkflowCmd::Graph { id }) => {
            let set = ctx.workflows()?;
            let wf = set.get(&id).ok_or_else(|| {
                CliError::input(format!(
                    "unknown workflow '{id}' (known: {})",
                    set.ids().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            say_raw!("{}", workflow::graph::mermaid(&wf));
            Ok(())
        }
        Cmd::Workflow(WorkflowCmd::List) => {
            let set = ctx.workflows()?;
            for id in set.ids() {
                let wf = set.get(id).expect("listed");
                say!(
                    "{:<6} {:<16} {}  {}",
                    wf.id,
                    wf.timezone.name(),
                    &wf.hash[..12],
                    wf.title
                );
            }
            Ok(())
        }
        Cmd::Case(CaseCmd::Open {
            workflow,
            title,
            aware_at,
            id,
            facts,
            set,
            json,
        }) => {
            let set_wf = ctx.workflows()?;
            let wf = set_wf.get(&workflow).ok_or_else(|| {
                CliError::input(format!(
                    "unknown workflow '{workflow}' (known: {})",
                    set_wf.ids().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            let aware = time::parse_instant(&aware_at, wf.timezone)
                .map_err(|e| CliError::input(format!("--aware-at: {e}")))?;
            let mut all = Vec::new();
            if let Some(f) = &facts {
                all.extend(read_facts_file(f)?);
            }
            for p in &set {
                all.push(parse_pair(p)?);
            }
            all.retain(|(k, _)| k != "aware_at");
            all.push((
                "aware_at".into(),
                Value::String(time::rfc3339_in(aware, wf.timezone)),
            ));
            let cmd = Command::Open {
                title,
                facts: all,
                at: now,
            };
            let mut store = ctx.store()?;
            let loaded = store.open_case(
                org,
                &set_wf,
                &workflow,
                id.as_deref(),
                &cmd,
                &ctx.actor,
                now,
            )?;
            if json {
                print_json(&case_json(
                    &loaded.workflow,
                    &loaded.case,
                    &loaded.events,
                    now,
                ));
            } else {
                say_raw!(
                    "{}",
                    case_text(&loaded.workflow, &loaded.case, &loaded.events, now)
                );
            }
            Ok(())
        }
        Cmd::Case(CaseCmd::Set {
            id,
            pairs,
            facts,
            note,
            at,
            json,
        }) => {
            let mut store = ctx.store()?;
            let tz = store.load(org, &id)?.workflow.timezone;
            let mut all = Vec::new();
            if let Some(f) = &facts {
                all.extend(read_facts_file(f)?);
            }
            for p in &pairs {
                all.push(parse_pair(p)?);
            }
            let at = parse_time(at.as_deref(), tz, now, "--at")?;
            let loaded = store.execute(
                org,
                &id,
                &Command::SetFacts {
                    facts: all,
                    note,
                    at,
                },
                &ctx.actor,
                now,
            )?;
            show(&loaded, now, json);
            Ok(())
        }
        Cmd::Case(CaseCmd::Advance {
            id,
            event,
            at,
            set,
            note,
            json,
        }) => {
            let mut store = ctx.store()?;
            let tz = store.load(org, &id)?.workflow.timezone;
            let facts = set
                .iter()
                .map(|p| parse_pair(p))
                .collect::<Result<Vec<_>, _>>()?;
            let at = parse_time(at.as_deref(), tz, now, "--at")?;
            let loaded = store.execute(
                org,
                &id,
                &Command::Advance {
                    event,
                    facts,
                    note,
                    at,
                },
                &ctx.actor,
                now,
            )?;
            show(&loaded, now, json);
            Ok(())
        }
        Cmd::Case(CaseCmd::Show { id, json }) => {
            let mut store = ctx.store()?;
            let loaded = store.load(org, &id)?;
            show(&loaded, now, json);
            Ok(())
        }
        Cmd::Case(CaseCmd::List { all, json }) => case_list(&ctx, org, all, json, now),
        Cmd::Draft(args) => draft(&ctx, org, args, now),
        Cmd::Notify {
            case,
            recipients,
            channel,
            dry_run,
            concurrency,
            limit,
            new_campaign,
            resend_notified,
            json,
        } => {
            let channel = match channel.as_str() {
                "email" => crate::notify::recipients::Channel::Email,
                "letter" => crate::notify::recipients::Channel::Letter,
                other => {
                    return Err(CliError::input(format!(
                        "--channel: '{other}' is not email or letter"
                    )));
                }
            };
            let opts = crate::notify::Options {
                case_id: case,
                recipients,
                channel,
                dry_run,
                concurrency,
                limit,
                new_campaign,
                resend_notified,
            };
            let mut store = ctx.store()?;
            use std::io::IsTerminal as _;
            let mut bar = crate::notify::Bar::new();
            let mut lines = crate::notify::Lines::new();
            let progress: &mut dyn crate::notify::Progress = if std::io::stderr().is_terminal() {
                &mut bar
            } else {
                &mut lines
            };
            let out = crate::notify::run(&mut store, &ctx.config, org, &opts, &ctx.actor, progress)
                .map_err(|e| CliError {
                    code: e.exit_code(),
                    message: e.to_string(),
                })?;
            if json {
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
        Cmd::Replay { file, json, out } => replay(&ctx, &file, json, out.as_deref()),
        Cmd::Demo => poke(demo(&ctx, org, now)),
        Cmd::Register { csv, json } => {
            let mut store = ctx.store()?;
            let rows = crate::register::rows(&mut store, org)?;
            if csv {
                say_raw!("{}", crate::register::csv(&rows).trim_end());
            } else if json {
                print_json(&serde_json::to_value(&rows).expect("rows serialize"));
            } else if rows.is_empty() {
                say!("the register is empty: no case in organisation '{org}'");
            } else {
                say!(
                    "{:<22} {:<7} {:<13} {:<13} {:<24} {}",
                    "CASE",
                    "STATUS",
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
                    let people = [
                        (r.people_notified, "notified"),
                        (r.people_refused, "refused"),
                        (r.people_to_retry, "to retry"),
                    ]
                    .iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, what)| format!("{n} {what}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                    say!(
                        "{:<22} {:<7} {:<13} {:<13} {:<24} {}",
                        r.case,
                        r.status,
                        format!(
                            "{}{}",
                            r.authority,
                            if r.authority_late { " LATE" } else { "" }
                        ),
                        r.individuals,
                        people,
                        reason
                    );
                }
            }
            Ok(())
        }
        Cmd::Org(cmd) => org_cmd(&ctx, cmd),
        Cmd::User(cmd) => user_cmd(&ctx, cmd, now),
        Cmd::Serve {
            listen,
            batch,
            lease_secs,
            idle_check_secs,
        } => {
            let opts = crate::serve::ServeOptions {
                db: ctx.cli_db.clone(),
                config: ctx.config.clone(),
                batch: batch.max(1),
                lease: chrono::Duration::seconds(lease_secs.max(1)),
                idle_check: std::time::Duration::from_secs(idle_check_secs.max(1)),
                listen: match listen.or_else(|| ctx.config.http.listen.clone()) {
                    Some(l) if l == "none" => None,
                    Some(l) => Some(l),
                    None => Some("127.0.0.1:8080".to_string()),
                },
                workflows: ctx.workflows()?,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::runtime(e.to_string()))?;
            rt.block_on(crate::serve::run(opts)).map_err(|e| CliError {
                code: e.exit_code(),
                message: e.to_string(),
            })
        }
        Cmd::Outbox(OutboxCmd::List { all, json }) => {
            let mut store = ctx.store()?;
            let rows = crate::outbox::list(store.conn(), org, all)
                .map_err(|e| CliError::runtime(e.to_string()))?;
            if json {
                print_json(&serde_json::to_value(&rows).expect("rows serialize"));
            } else if rows.is_empty() {
                say!("no reminder waiting");
            } else {
                say!(
                    "{:<6} {:<20} {:<20} {:<12} {:<24} {:<10} {:<4} {}",
                    "ID",
                    "CASE",
                    "CLOCK",
                    "OFFSET",
                    "DUE (UTC)",
                    "STATE",
                    "TRY",
                    "LAST ERROR"
                );
                for r in rows {
                    say!(
                        "{:<6} {:<20} {:<20} {:<12} {:<24} {:<10} {:<4} {}",
                        r.id,
                        r.case,
                        r.clock,
                        r.offset,
                        &r.due_at[..19],
                        r.state,
                        r.attempts,
                        r.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        Cmd::Outbox(OutboxCmd::Retry { id }) => {
            let mut store = ctx.store()?;
            if crate::outbox::retry(store.conn(), org, id, now)
                .map_err(|e| CliError::runtime(e.to_string()))?
            {
                crate::serve::poke(&ctx.cli_db);
                say!("reminder {id} requeued");
                Ok(())
            } else {
                Err(CliError::input(format!(
                    "no pending or dead reminder with id {id} (see `vigie outbox list`)"
                )))
            }
        }
        Cmd::Mail(MailCmd::Test { address }) => mail_test(&ctx, &address),
        Cmd::Audit(AuditCmd::Verify { json }) => {
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

fn org_cmd(ctx: &Ctx, cmd: OrgCmd) -> Result<(), CliError> {
    let mut store = Store::open(&ctx.cli_db)?;
    match cmd {
        OrgCmd::Add { id, name } => {
            store.add_organisation(&id, &name).map_err(account_error)?;
            say!(
                "organisation '{id}' added: add its users with `vigie --org {id} user add EMAIL --role dpo`"
            );
        }
        OrgCmd::List => {
            for (id, name) in store.organisations()? {
                say!("{id:<20} {name}");
            }
        }
    }
    Ok(())
}

fn account_error(e: crate::store::AccountError) -> CliError {
    CliError {
        code: e.exit_code(),
        message: e.to_string(),
    }
}

/// A password from the terminal (asked twice, not echoed) or standard input's first line.
fn read_password() -> Result<String, CliError> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        let b = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        if a != b {
            return Err(CliError::input("the two passwords differ"));
        }
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

fn user_cmd(ctx: &Ctx, cmd: UserCmd, now: DateTime<Utc>) -> Result<(), CliError> {
    use crate::store::Role;
    match cmd {
        UserCmd::Add { email, role, name } => {
            let role = Role::parse(&role).ok_or_else(|| {
                CliError::input(format!(
                    "--role: '{role}' is not dpo, contributor or viewer"
                ))
            })?;
            let mut store = ctx.store()?;
            let password = read_password()?;
            let name = name.unwrap_or_else(|| email.clone());
            let u = store
                .add_user(&ctx.org, &email, &name, role, &password, now)
                .map_err(account_error)?;
            say!(
                "user {} added to organisation '{}' as {}",
                u.email,
                u.org,
                u.role.as_str()
            );
        }
        UserCmd::List { all, json } => {
            let store = ctx.store()?;
            let users = store.users(if all { None } else { Some(&ctx.org) })?;
            if json {
                print_json(&serde_json::to_value(&users).expect("users serialize"));
            } else if users.is_empty() {
                say!("no user yet: add one with `vigie user add EMAIL --role dpo`");
            } else {
                for u in users {
                    say!(
                        "{:<32} {:<12} {:<16} {}",
                        u.email,
                        u.role.as_str(),
                        u.org,
                        u.name
                    );
                }
            }
        }
        UserCmd::Password { email } => {
            let mut store = ctx.store()?;
            let password = read_password()?;
            store
                .set_password(&email, &password)
                .map_err(account_error)?;
            say!("password of {email} changed; their sessions are signed out");
        }
        UserCmd::Token { email, name } => {
            let mut store = ctx.store()?;
            let token = store
                .create_token(&email, &name, now)
                .map_err(account_error)?;
            eprintln!(
                "API token '{name}' for {email} (shown once; send it as 'Authorization: Bearer TOKEN'):"
            );
            say!("{token}");
        }
    }
    Ok(())
}

fn mail_test(ctx: &Ctx, address: &str) -> Result<(), CliError> {
    let to = crate::mail::mailbox(address).map_err(|e| CliError::input(e.to_string()))?;
    let from = ctx
        .config
        .mail
        .from_mailbox()
        .map_err(|e| CliError::input(format!("mail configuration: {e}")))?;
    let id = crate::outbox::message_id(
        &format!(
            "test/{}",
            time::now().timestamp_nanos_opt().unwrap_or_default()
        ),
        &ctx.config.mail.message_id_domain(),
    );
    let msg = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject("vigie : message de test / test message")
        .message_id(Some(id.clone()))
        .body("Ce message confirme que vigie peut envoyer les rappels d'échéance.\nThis message confirms that vigie can send deadline reminders.\n".to_string())
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    // The SMTP pool starts a task when built: inside the runtime.
    rt.block_on(async {
        let mailer = ctx
            .config
            .mail
            .mailer()
            .map_err(|e| CliError::input(format!("mail configuration: {e}")))?;
        mailer
            .send(msg, &id)
            .await
            .map_err(|e| CliError::runtime(format!("test message not sent: {}", e.message)))?;
        match &mailer {
            crate::mail::Mailer::File(dir) => say!("test message written to {}", dir.display()),
            crate::mail::Mailer::Smtp(..) | crate::mail::Mailer::Relay(_) => {
                say!("test message handed to the SMTP server, Message-ID {id}")
            }
        }
        Ok(())
    })
}

fn show(loaded: &crate::store::Loaded, now: DateTime<Utc>, json: bool) {
    if json {
        print_json(&case_json(
            &loaded.workflow,
            &loaded.case,
            &loaded.events,
            now,
        ));
    } else {
        say_raw!(
            "{}",
            case_text(&loaded.workflow, &loaded.case, &loaded.events, now)
        );
    }
}

fn workflow_check(ctx: &Ctx, paths: &[PathBuf]) -> Result<(), CliError> {
    if paths.is_empty() {
        let set = WorkflowSet::load(ctx.config.workflows_dir.as_deref());
        return match set {
            Ok(set) => {
                for id in set.ids() {
                    let wf = set.get(id).expect("listed");
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
                for e in &errors.0 {
                    eprintln!("{e}");
                }
                Err(CliError::input(format!(
                    "{} error(s) in the workflows",
                    errors.0.len()
                )))
            }
        };
    }
    let mut n = 0;
    for p in paths {
        match WorkflowSet::compile_file(p) {
            Ok(wf) => say!(
                "{}: ok ({} tracks, {} events, {} clocks)",
                p.display(),
                wf.tracks.len(),
                wf.events.len(),
                wf.clocks.len()
            ),
            Err(errors) => {
                for e in &errors.0 {
                    eprintln!("{e}");
                }
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

fn case_list(
    ctx: &Ctx,
    org: &str,
    all: bool,
    json: bool,
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    let mut store = ctx.store()?;
    let ids = store.case_ids(org, all)?;
    let mut rows = Vec::new();
    for id in ids {
        let l = store.load(org, &id)?;
        let views = crate::case::clocks(&l.workflow, &l.case, now);
        let next = crate::case::clock::nearest_due(&views);
        rows.push((next, l, views));
    }
    // Recomputed now: a stored next_due may be stale after a clock fell due.
    rows.sort_by_key(|(next, l, _)| (l.case.is_closed(&l.workflow), next.is_none(), *next));
    if json {
        let list: Vec<Value> = rows
            .iter()
            .map(|(_, l, _)| output::summary_json(&l.workflow, &l.case, now))
            .collect();
        print_json(&Value::Array(list));
        return Ok(());
    }
    if rows.is_empty() {
        say!(
            "no open case. Open one with: vigie case open --workflow fr --title \"...\" --aware-at 2026-11-23T09:00"
        );
        return Ok(());
    }
    say!(
        "{:<22} {:<4} {:<26} {:<10} {}",
        "CASE",
        "WF",
        "NEXT DEADLINE",
        "OVERDUE",
        "TITLE"
    );
    for (next, l, views) in &rows {
        let overdue = views
            .iter()
            .filter(|v| v.status == crate::case::ClockStatus::Overdue)
            .count();
        let title: String = l.case.title.chars().take(50).collect();
        say!(
            "{:<22} {:<4} {:<26} {:<10} {}",
            l.case.id,
            l.workflow.id,
            next.map(|d| time::short_in(d, l.workflow.timezone))
                .unwrap_or_else(|| "—".into()),
            overdue,
            title
        );
    }
    Ok(())
}

fn draft(ctx: &Ctx, org: &str, args: DraftArgs, now: DateTime<Utc>) -> Result<(), CliError> {
    let mut store = ctx.store()?;
    let loaded = store.load(org, &args.id)?;
    let wf = &loaded.workflow;
    let lang = match &args.lang {
        Some(l) => Lang::parse(l)
            .ok_or_else(|| CliError::input(format!("--lang: '{l}' is not fr or en")))?,
        None => wf.lang,
    };
    let format = Format::parse(&args.format).ok_or_else(|| {
        CliError::input(format!(
            "--format: '{}' is not md, html or txt",
            args.format
        ))
    })?;
    let d = render::draft(
        &ctx.templates(),
        &ctx.config,
        wf,
        &loaded.case,
        &loaded.events,
        &args.document,
        lang,
        format,
        now,
    )?;
    if args.strict && !d.missing.is_empty() {
        return Err(CliError::input(format!(
            "draft '{}' is missing: {} (--strict)",
            args.document,
            d.missing.join(", ")
        )));
    }
    match &args.out {
        Some(path) => write_atomic(path, &d.text)?,
        None => say_raw!("{}", d.text),
    }
    if !d.missing.is_empty() {
        eprintln!(
            "note: {} fact(s) missing, shown as placeholders: {}",
            d.missing.len(),
            d.missing.join(", ")
        );
    }
    if args.record {
        let sha = crate::workflow::sha256_hex(&d.text);
        store.execute(
            org,
            &args.id,
            &Command::IssueDocument {
                document: args.document.clone(),
                lang: lang.code().into(),
                format: format.as_str().into(),
                sha256: sha.clone(),
                at: now,
            },
            &ctx.actor,
            now,
        )?;
        eprintln!("recorded in the register: {} sha256:{sha}", args.document);
    }
    Ok(())
}

/// Writes a file whole or not at all: a temporary file beside it, then a rename.
fn write_atomic(path: &Path, text: &str) -> Result<(), CliError> {
    let tmp = path.with_extension("vigie-tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::runtime(format!("{}: {e}", path.display())))
}

fn replay(ctx: &Ctx, file: &Path, json: bool, out: Option<&Path>) -> Result<(), CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::input(format!("{}: {e}", file.display())))?;
    let workflows = ctx.workflows()?;
    let mut store = Store::open(Path::new(":memory:"))?;
    let r = seed::replay(
        &mut store,
        DEFAULT_ORG,
        &workflows,
        &file.display().to_string(),
        &text,
        &ctx.actor,
        false,
    )
    .map_err(|e| CliError {
        code: e.code,
        message: e.to_string(),
    })?;
    let l = &r.loaded;
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::runtime(format!("{}: {e}", dir.display())))?;
        for doc in l.workflow.documents.keys() {
            let d = render::draft(
                &ctx.templates(),
                &ctx.config,
                &l.workflow,
                &l.case,
                &l.events,
                doc,
                l.workflow.lang,
                Format::Md,
                r.as_of,
            )?;
            write_atomic(&dir.join(format!("{}-{doc}.md", l.case.id)), &d.text)?;
        }
    }
    if json {
        print_json(&case_json(&l.workflow, &l.case, &l.events, r.as_of));
    } else {
        say_raw!("{}", case_text(&l.workflow, &l.case, &l.events, r.as_of));
        if let Some(dir) = out {
            say!("\ndrafts written to {}", dir.display());
        }
    }
    Ok(())
}

fn demo(ctx: &Ctx, org: &str, now: DateTime<Utc>) -> Result<(), CliError> {
    let workflows = ctx.workflows()?;
    let mut store = ctx.store()?;
    let mut added = 0;
    let mut rows = Vec::new();
    for (name, text) in seed::EMBEDDED {
        let r = seed::replay(
            &mut store,
            org,
            &workflows,
            &format!("embedded:seeds/{name}"),
            text,
            "vigie-demo",
            true,
        )
        .map_err(|e| CliError {
            code: e.code,
            message: e.to_string(),
        })?;
        if !r.skipped {
            added += 1;
        }
        rows.push(r.loaded);
    }
    say!(
        "{} real incidents in {} ({} added now, {} already there). Deadlines as of {}:\n",
        rows.len(),
        ctx.cli_db.display(),
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
    for l in &rows {
        let wf = &l.workflow;
        let mut first = true;
        for c in crate::case::clocks(wf, &l.case, now) {
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
            say!(
                "{:<20} {:<3} {:<20} {:<24} {}",
                case_col,
                wf_col,
                c.id,
                due,
                c.status.as_str()
            );
        }
    }
    let db = ctx.cli_db.display();
    let db_flag = if ctx.cli_db == Path::new("vigie.db") {
        String::new()
    } else {
        format!(" --db {db}")
    };
    say!("\nLook at one case:          vigie{db_flag} case show caf-2021");
    say!("Draft its CNIL notification: vigie{db_flag} draft caf-2021 cnil_notification");
    say!(
        "Open your own case:        vigie{db_flag} case open --workflow fr --title \"...\" --aware-at 2026-11-23T09:00"
    );
    Ok(())
}
