//! The PostgreSQL backend: the traits of `store::backend` on one blocking connection of
//! the `postgres` crate. Several `vigie serve` instances share one database: writers of
//! one case serialise on its row (`FOR UPDATE`), dispatchers claim reminders with
//! `FOR UPDATE SKIP LOCKED` and leases that expire, sign-in failures are counted in the
//! database, and wake-ups travel as `NOTIFY vigie_wake`.
//!
//! Migrations are the SQL files of `migrations/postgres/`, applied in order, one
//! transaction each, under an advisory lock so instances starting at once do not race.

mod access;
/// The columns of a head (`CaseHead`), in its order (a macro, for `concat!`).
macro_rules! head_cols {
    () => {
        "org, id, workflow, workflow_hash, title, opened_at, seq, last_hash, closed, next_due"
    };
}
/// The columns of an event (`EventRow`), in its order.
macro_rules! event_cols {
    () => {
        "seq, at, recorded_at, actor, kind, payload, prev_hash, hash"
    };
}

mod accounts;
mod calendar;
mod caselog;
mod casetx;
mod invitations;
mod ledger;
mod meta;
mod oidc;
mod outbox;
mod reads;
mod throttle;
mod wake;

pub use wake::listener;

use super::StoreError;
use super::backend::{Backend, Result};
use postgres::error::SqlState;
use postgres::{Client, GenericClient, NoTls, Statement};
use std::collections::HashMap;

/// The migrations, in order; `schema_migrations` records which are applied.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/postgres/0002_calendar_tokens.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/postgres/0003_access_log.sql"),
    ),
    (
        4,
        include_str!("../../../migrations/postgres/0004_append.sql"),
    ),
    (
        5,
        include_str!("../../../migrations/postgres/0005_append_slim.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/postgres/0006_calendar_tokens_revoked.sql"),
    ),
    (
        7,
        include_str!("../../../migrations/postgres/0007_dispatchers.sql"),
    ),
    (
        8,
        include_str!("../../../migrations/postgres/0008_invitations.sql"),
    ),
    (
        9,
        include_str!("../../../migrations/postgres/0009_oidc_links.sql"),
    ),
    (
        10,
        include_str!("../../../migrations/postgres/0010_memberships.sql"),
    ),
    (
        11,
        include_str!("../../../migrations/postgres/0011_cases_open_due.sql"),
    ),
];

/// Any constant: the advisory lock the migrations are applied under.
const MIGRATION_LOCK: i64 = 0x7669_6769_655f_6d67; // "vigie_mg"

/// The channel `Wake::poke` notifies and the dispatchers listen on.
pub const WAKE_CHANNEL: &str = "vigie_wake";

/// One connection to a PostgreSQL database.
pub struct Postgres {
    client: Conn,
    /// The statements this connection has prepared (valid for its life; dropped after
    /// the client, when they have nothing left to close).
    stmts: Stmts,
    /// The URL without its password.
    shown: String,
    /// What this connection last read or wrote of each case, for optimistic commands.
    seen: casetx::Seen,
    /// After an optimistic command found its case moved, the next one locks first.
    lock_next: bool,
    /// An opening found the series' counter moved once already (see `casetx::optimistic`).
    opening_moved: bool,
    /// The hashes of the workflow texts this connection knows are pinned (append-only):
    /// an opening does not send the text again.
    pinned: std::collections::HashSet<String>,
}

/// A connection's prepared statements, by their SQL text. A statement sent as text is
/// parsed and described by the server on every call (one more round trip each time);
/// prepared once, it is only bound and executed.
#[derive(Default)]
pub(super) struct Stmts(HashMap<&'static str, Statement>);

impl Stmts {
    /// The statement for `sql`, prepared on `c` the first time (a statement prepared
    /// inside a transaction outlives it: preparing is not transactional).
    pub(super) fn get(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
    ) -> Result<Statement> {
        self.get_raw(c, sql).map_err(db_err)
    }

    fn get_raw(
        &mut self,
        c: &mut impl GenericClient,
        sql: &'static str,
    ) -> std::result::Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(sql)?;
        self.0.insert(sql, s.clone());
        Ok(s)
    }
}

type Params<'a> = &'a [&'a (dyn postgres::types::ToSql + Sync)];
type PgResult<T> = std::result::Result<T, postgres::Error>;

/// Statements on the connection itself, prepared once.
impl Postgres {
    fn query_c(&mut self, sql: &'static str, p: Params<'_>) -> PgResult<Vec<postgres::Row>> {
        let st = self.stmts.get_raw(&mut *self.client, sql)?;
        self.client.query(&st, p)
    }

    fn query_one_c(&mut self, sql: &'static str, p: Params<'_>) -> PgResult<postgres::Row> {
        let st = self.stmts.get_raw(&mut *self.client, sql)?;
        self.client.query_one(&st, p)
    }

    fn query_opt_c(&mut self, sql: &'static str, p: Params<'_>) -> PgResult<Option<postgres::Row>> {
        let st = self.stmts.get_raw(&mut *self.client, sql)?;
        self.client.query_opt(&st, p)
    }

    fn execute_c(&mut self, sql: &'static str, p: Params<'_>) -> PgResult<u64> {
        let st = self.stmts.get_raw(&mut *self.client, sql)?;
        self.client.execute(&st, p)
    }
}

/// Opens (and migrates) the database at a `postgres://` or `postgresql://` URL.
pub fn open(url: &str) -> std::result::Result<Box<dyn Backend>, StoreError> {
    Ok(Box::new(Postgres::open(url)?))
}

impl Postgres {
    pub fn open(url: &str) -> std::result::Result<Postgres, StoreError> {
        let (config, shown) = config(url)?;
        let client = config.connect(NoTls).map_err(|e| StoreError::Unavailable {
            db: shown.clone(),
            reason: db_message(&e),
        })?;
        let mut pg = Postgres {
            client: Conn(Some(client)),
            stmts: Stmts::default(),
            shown,
            seen: casetx::Seen::default(),
            lock_next: false,
            opening_moved: false,
            pinned: Default::default(),
        };
        pg.migrate()?;
        Ok(pg)
    }

    fn migrate(&mut self) -> Result<()> {
        for (version, sql) in MIGRATIONS {
            let mut tx = self.client.transaction().map_err(db_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .map_err(db_err)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .map_err(db_err)?;
            let done = tx
                .query_opt(
                    "SELECT 1 FROM schema_migrations WHERE version = $1",
                    &[version],
                )
                .map_err(db_err)?
                .is_some();
            if !done {
                tx.batch_execute(sql).map_err(|e| {
                    StoreError::Db(format!("migration {version}: {}", db_message(&e)))
                })?;
                tx.execute(
                    "INSERT INTO schema_migrations (version) VALUES ($1)",
                    &[version],
                )
                .map_err(db_err)?;
            }
            tx.commit().map_err(db_err)?;
        }
        Ok(())
    }
}

/// The client, closed off any async worker when dropped: the `postgres` crate ends a
/// connection by running a small runtime of its own, which panics on a thread that is
/// driving tasks (the web's pool and the dispatcher are dropped on one when `vigie serve`
/// stops).
struct Conn(Option<Client>);

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("open until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("open until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::scope(|s| {
                    s.spawn(move || drop(client));
                });
            } else {
                drop(client);
            }
        }
    }
}

/// Parses the URL (refusing TLS modes we cannot honour yet) and shows it without password.
fn config(url: &str) -> std::result::Result<(postgres::Config, String), StoreError> {
    let shown = redact(url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::BadUrl(format!(
            "database {shown}: a PostgreSQL URL starts with postgres:// or postgresql://"
        )));
    }
    if let Some(mode) = query_param(url, "sslmode")
        && matches!(mode, "require" | "verify-ca" | "verify-full")
    {
        return Err(StoreError::BadUrl(format!(
            "database {shown}: sslmode={mode} is not supported yet (vigie connects without TLS); use sslmode=disable or prefer, on a trusted network or a unix socket"
        )));
    }
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        StoreError::BadUrl(format!("database {shown}: {}", with_causes(&e)))
    })?;
    Ok((config, shown))
}

fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// The URL with its password (in the authority or as `password=`) left out.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "<not a URL>".into(),
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match main.find('/') {
        Some(i) => (&main[..i], &main[i..]),
        None => (main, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .filter(|kv| !kv.starts_with("password="))
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) if !q.is_empty() => format!("{scheme}://{authority}{path}?{q}"),
        _ => format!("{scheme}://{authority}{path}"),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The server's message without what follows its first ": " (where values are quoted,
/// `invalid input syntax for type bigint: "..."`), with its SQLSTATE.
fn db_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let msg = db.message();
            let msg = msg.split(": ").next().unwrap_or(msg);
            format!("{} (SQLSTATE {})", one_line(msg), db.code().code())
        }
        None if e.is_closed() => "the connection to the server was lost".into(),
        None => with_causes(e),
    }
}

/// The driver's error with its causes ("error connecting to server: Connection
/// refused"): its own text alone says little ("db error").
fn with_causes(e: &postgres::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    one_line(&out)
}

/// Serialization failures and deadlocks are `Busy` (worth retrying); the rest `Db`.
fn db_err(e: postgres::Error) -> StoreError {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            StoreError::Busy(db_message(&e))
        }
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => StoreError::Busy(db_message(&e)),
        _ => StoreError::Db(db_message(&e)),
    }
}

fn is_unique_violation(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl Backend for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn other_connections(&mut self) -> Result<Option<u64>> {
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                &[],
            )
            .map_err(db_err)?;
        Ok(Some(row.get::<_, i64>(0).max(0) as u64))
    }

    fn token_case(
        &mut self,
        token_hash: &str,
        case_id: &str,
    ) -> Result<Option<super::backend::TokenCase>> {
        self.read_token_case(token_hash, case_id)
    }

    fn is_empty(&mut self) -> Result<bool> {
        let row = self
            .client
            .query_one(
                "SELECT NOT (EXISTS (SELECT 1 FROM cases) OR EXISTS (SELECT 1 FROM users)
                   OR EXISTS (SELECT 1 FROM timers) OR EXISTS (SELECT 1 FROM campaigns)
                   OR EXISTS (SELECT 1 FROM organisations WHERE id <> 'default' OR profile <> '{}'))",
                &[],
            )
            .map_err(db_err)?;
        Ok(row.get(0))
    }

    fn load_cases(
        &mut self,
        heads: &[super::backend::CaseHead],
        events: &[(String, String, Vec<super::backend::EventRow>)],
    ) -> Result<()> {
        caselog::load_cases(&mut self.client, heads, events)
    }

    fn load_workflows(&mut self, wfs: &[super::backend::PinnedWorkflow]) -> Result<()> {
        caselog::load_workflows(&mut self.client, wfs)
    }

    fn load_counters(&mut self, rows: &[(String, String, i64)]) -> Result<()> {
        caselog::load_counters(&mut self.client, rows)
    }

    fn load_campaigns(&mut self, rows: &[super::backend::Campaign]) -> Result<()> {
        ledger::load_campaigns(&mut self.client, rows)
    }

    fn load_ledger(&mut self, rows: &[super::backend::LedgerRow]) -> Result<()> {
        ledger::load_ledger(&mut self.client, rows)
    }

    fn load_users(&mut self, rows: &[super::backend::UserRow]) -> Result<()> {
        accounts::load_users(&mut self.client, rows)
    }

    fn load_sessions(&mut self, rows: &[super::backend::SessionRow]) -> Result<()> {
        accounts::load_sessions(&mut self.client, rows)
    }

    fn load_tokens(&mut self, rows: &[super::backend::TokenRow]) -> Result<()> {
        accounts::load_tokens(&mut self.client, rows)
    }
}
