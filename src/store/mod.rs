//! The store: the event log (the breach register), the pinned workflow texts and a
//! small projection of each case for listing, over a backend (`sqlite`, or PostgreSQL)
//! chosen by the database URL. Every command runs in one write transaction of the
//! backend: lock the case, read the log, decide, append, or write nothing. Deciding,
//! sealing the chain, folding and planning reminders happen here, once for every backend.
//!
//! Every query takes the organisation, so one organisation never reads another's cases.

pub(crate) mod accounts;
pub mod backend;
pub mod calendar_tokens;
pub mod checkpoint;
pub mod copy;
pub mod invitations;
pub mod memberships;
pub mod oidc;
mod orgs;
pub mod postgres;
mod reads;
pub mod sqlite;
mod verify;

pub use accounts::{AccountError, MIN_PASSWORD, Role, TOKEN_ID_LEN, TokenInfo, User, random_hex};

use crate::case::{self, Case, Command, EventBody, Recorded, Rejected};
use crate::catalog::WorkflowSet;
use crate::workflow::{Workflow, WorkflowErrors, compile};
use backend::{Backend, CaseHead, CaseTx, EventRow, NewEvent, PinnedWorkflow};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const DEFAULT_ORG: &str = "default";

pub use crate::util::storable;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Rejected(#[from] Rejected),
    #[error("unknown case {q_0} (see `vigie case list`)", q_0 = crate::util::quote(.0))]
    UnknownCase(String),
    #[error("unknown workflow {q_id} (known: {known})", q_id = crate::util::quote(.id))]
    UnknownWorkflow { id: String, known: String },
    #[error("a case with id {q_0} already exists", q_0 = crate::util::quote(.0))]
    CaseExists(String),
    #[error("case id {q_0} must be letters, digits, '-' or '_' (at most 64)", q_0 = crate::util::quote(.0))]
    BadCaseId(String),
    #[error("the workflow pinned by case {q_case} no longer compiles: {errors}", q_case = crate::util::quote(.case))]
    PinnedWorkflow {
        case: String,
        errors: WorkflowErrors,
    },
    #[error("the workflow text pinned by case {q_case} (sha256 {hash}…) was altered: run `vigie audit verify`", q_case = crate::util::quote(.case))]
    PinnedAltered { case: String, hash: String },
    #[error("case {q_case} changed while you were looking at it (you saw event #{expected}, it is now at #{actual}): reload and try again", q_case = crate::util::quote(.case))]
    Conflict {
        case: String,
        expected: i64,
        actual: i64,
    },
    /// The database cannot be opened or reached (`db` never carries a password).
    #[error("database {db}: {reason}")]
    Unavailable { db: String, reason: String },
    /// Another writer holds what this one needs: worth retrying, not the caller's fault.
    #[error("database busy: {0}")]
    Busy(String),
    /// A failure of the database or the driver, as one line (no personal data: values
    /// are never quoted in it).
    #[error("database: {0}")]
    Db(String),
    /// An optimistic transaction's commit found the case, its timers or its counter
    /// changed since it read them, and wrote nothing. `Store` decides again; it never
    /// reaches a user.
    #[error("the case changed while the command was decided")]
    Moved,
    /// A database URL that cannot be used (the password, if any, is not in it).
    #[error("{0}")]
    BadUrl(String),
    #[error("stored event {case}#{seq} is unreadable: {reason} (see `vigie audit verify`)")]
    Corrupt {
        case: String,
        seq: i64,
        reason: String,
    },
}

impl StoreError {
    /// True when another writer holds the database: worth retrying, not the caller's fault.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy(_))
    }

    /// True for what the caller can correct (the edges answer exit 2, HTTP 4xx); false
    /// for a failure of the program or its database.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            StoreError::Rejected(_)
                | StoreError::UnknownCase(_)
                | StoreError::UnknownWorkflow { .. }
                | StoreError::CaseExists(_)
                | StoreError::BadCaseId(_)
                | StoreError::Conflict { .. }
                | StoreError::BadUrl(_)
        )
    }
}

impl StoreError {
    /// Whether the error is one case that cannot be read back (a corrupt event, a
    /// pinned workflow altered or no longer compiling): lists skip that case and name
    /// it instead of failing for the whole organisation.
    pub fn is_unreadable_case(&self) -> bool {
        matches!(
            self,
            StoreError::Corrupt { .. }
                | StoreError::PinnedAltered { .. }
                | StoreError::PinnedWorkflow { .. }
        )
    }
}

/// A case a list skipped because it cannot be read back.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Unreadable {
    pub case: String,
    pub reason: String,
}

impl Unreadable {
    /// The line a command prints on stderr for it.
    pub fn warning(&self) -> String {
        format!(
            "vigie: warning: case {} skipped, it cannot be read back: {}",
            self.case, self.reason
        )
    }
}

/// A case loaded with its pinned workflow and log.
#[derive(Clone)]
pub struct Loaded {
    pub workflow: Arc<Workflow>,
    pub case: Case,
    /// Shared with the connection's folded copy (`Store::folded`): a command on a long
    /// case does not copy its log twice.
    pub events: Arc<Vec<Recorded>>,
}

pub struct Store {
    db: Box<dyn Backend>,
    /// Pinned workflows compiled once per process, by hash.
    compiled: HashMap<String, Arc<Workflow>>,
    /// The cases this connection last wrote, folded, by (org, id): a command on one of
    /// them reads no event when the case's head (seq and hash, which the chain makes
    /// unique) is still the one it was folded at. A case moved by another writer is a
    /// miss, read again.
    folded: HashMap<(String, String), Loaded>,
}

/// How many cases a `Store` keeps folded.
const FOLDED: usize = 64;

/// How many times a command is decided, when an optimistic transaction finds the case
/// moved (the backend locks on the next attempt, so the second one normally holds).
const ATTEMPTS: usize = 4;

/// One problem `audit verify` found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditProblem {
    pub case: String,
    pub seq: i64,
    pub problem: String,
}

/// The one place a `postgres://` URL becomes a backend.
fn open_postgres(url: &str) -> Result<Box<dyn Backend>, StoreError> {
    postgres::open(url)
}

/// A database named by `--db`: a path or `sqlite://PATH` / `sqlite:PATH`, or a
/// `postgres://` / `postgresql://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl DbUrl {
    /// Errors never quote a password.
    pub fn parse(url: &str) -> Result<DbUrl, StoreError> {
        let path = match scheme_of(url) {
            None => url,
            Some("sqlite") => {
                let rest = &url["sqlite:".len()..];
                rest.strip_prefix("//").unwrap_or(rest)
            }
            Some("postgres" | "postgresql") => return Ok(DbUrl::Postgres(url.to_string())),
            Some(other) => {
                return Err(StoreError::BadUrl(format!(
                    "database URL scheme {} is not supported (a path, sqlite://PATH or postgres://...)",
                    crate::util::quote(other)
                )));
            }
        };
        if path.is_empty() {
            return Err(StoreError::BadUrl(
                "the database URL names no file (sqlite://PATH)".into(),
            ));
        }
        Ok(DbUrl::Sqlite(path.into()))
    }
}

/// A URL's scheme (before `:`), when it has one that is not a Windows drive letter.
fn scheme_of(url: &str) -> Option<&str> {
    let (scheme, _) = url.split_once(':')?;
    (scheme.len() > 1
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(scheme)
}

impl Store {
    /// Opens the SQLite database file at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::with(Box::new(sqlite::Sqlite::open(path)?))
    }

    /// Opens the database a URL names: a path, `sqlite://PATH` or `sqlite:PATH` (SQLite),
    /// `postgres://...` or `postgresql://...` (PostgreSQL). Errors never quote a password.
    pub fn open_url(url: &str) -> Result<Store, StoreError> {
        match DbUrl::parse(url)? {
            DbUrl::Sqlite(path) => Store::open(&path),
            DbUrl::Postgres(url) => Store::with(open_postgres(&url)?),
        }
    }

    /// What a dispatcher waits on for wake-ups from the other processes of this
    /// database; Err says why there is none (it then looks at its idle-check interval).
    pub fn listener(url: &str) -> Result<Box<dyn backend::WakeListener>, String> {
        match DbUrl::parse(url).map_err(|e| e.to_string())? {
            DbUrl::Sqlite(path) => sqlite::wake::listener(&path),
            DbUrl::Postgres(url) => Ok(postgres::listener(&url)),
        }
    }

    /// A store over an opened backend: refuses a half-copied database, and gives the
    /// ledger its key if the backend's migrations did not.
    pub fn with(mut db: Box<dyn Backend>) -> Result<Store, StoreError> {
        copy::check_complete(db.as_mut())?;
        if db.meta("ledger_key")?.is_none() {
            db.init_meta("ledger_key", &random_hex(32))?;
        }
        Ok(Store {
            db,
            compiled: HashMap::new(),
            folded: HashMap::new(),
        })
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        self.db.kind()
    }

    /// The database, for messages (never with a password).
    pub fn describe(&self) -> String {
        self.db.describe()
    }

    /// The backend, for the modules above it (outbox, notify, copy).
    pub fn backend(&mut self) -> &mut dyn Backend {
        self.db.as_mut()
    }

    /// Tells every running dispatcher that timers may have changed. Never fails.
    pub fn wake(&mut self) {
        self.db.poke();
    }

    /// A case, its pinned workflow and its log.
    pub fn load(&mut self, org: &str, case_id: &str) -> Result<Loaded, StoreError> {
        if !storable(case_id) {
            return Err(StoreError::UnknownCase(case_id.to_string()));
        }
        let head = self.db.head(org, case_id)?;
        let rows = match &head {
            Some(_) => self.db.events(org, case_id, None)?,
            None => Vec::new(),
        };
        let db = &mut self.db;
        load_from(head, rows, &mut self.compiled, org, case_id, |h| {
            db.workflow(h)
        })
    }

    /// The cases `ids` of `org`, for a list: a case that cannot be read back is set
    /// aside in the second list, and the others are loaded; any other error fails.
    pub fn load_each(
        &mut self,
        org: &str,
        ids: &[String],
    ) -> Result<(Vec<Loaded>, Vec<Unreadable>), StoreError> {
        let mut loaded = Vec::with_capacity(ids.len());
        let mut unreadable = Vec::new();
        for id in ids {
            match self.load(org, id) {
                Ok(l) => loaded.push(l),
                Err(e) if e.is_unreadable_case() => unreadable.push(Unreadable {
                    case: id.clone(),
                    reason: e.to_string(),
                }),
                Err(e) => return Err(e),
            }
        }
        Ok((loaded, unreadable))
    }

    /// Opens a case with the current version of `workflow_id`, pinning its text.
    /// `case_id` None picks the next `<workflow>-<year>-<nnnn>`.
    #[allow(clippy::too_many_arguments)]
    pub fn open_case(
        &mut self,
        org: &str,
        workflows: &WorkflowSet,
        workflow_id: &str,
        case_id: Option<&str>,
        cmd: &Command,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Loaded, StoreError> {
        let wf = workflows
            .get(workflow_id)
            .ok_or_else(|| StoreError::UnknownWorkflow {
                id: workflow_id.to_string(),
                known: workflows.ids().cloned().collect::<Vec<_>>().join(", "),
            })?;
        if let Some(id) = case_id
            && (id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(StoreError::BadCaseId(id.to_string()));
        }
        let bodies = case::decide(&wf, None, cmd, now)?;
        for _ in 0..ATTEMPTS {
            match self.try_open(org, &wf, case_id, cmd, &bodies, actor, now) {
                Err(StoreError::Moved) => continue,
                r => return r,
            }
        }
        Err(StoreError::Busy(
            "the case series kept changing while the case was opened".into(),
        ))
    }

    /// One attempt of [`Store::open_case`] (`Moved`: decide again).
    #[allow(clippy::too_many_arguments)]
    fn try_open(
        &mut self,
        org: &str,
        wf: &Arc<Workflow>,
        case_id: Option<&str>,
        cmd: &Command,
        bodies: &[(DateTime<Utc>, EventBody)],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Loaded, StoreError> {
        let mut tx = self.db.begin_optimistic()?;
        let id = match case_id {
            Some(id) => {
                if tx.case_exists(org, id)? {
                    return Err(StoreError::CaseExists(id.to_string()));
                }
                id.to_string()
            }
            None => {
                // The next free number of the year's series, from a counter (no scan of
                // every case); numbers taken by ids chosen by hand are skipped.
                let prefix = format!("{}-{}-", wf.id, now.format("%Y"));
                let mut n = tx.take_counter(org, &prefix)?;
                let id = loop {
                    n += 1;
                    let id = format!("{prefix}{n:04}");
                    if !tx.case_exists(org, &id)? {
                        break id;
                    }
                };
                tx.set_counter(org, &prefix, n)?;
                id
            }
        };
        tx.pin_workflow(&PinnedWorkflow {
            hash: wf.hash.clone(),
            id: wf.id.clone(),
            origin: wf.origin.clone(),
            source: wf.source.clone(),
            stored_at: now,
        })?;
        let mut head = CaseHead {
            org: org.to_string(),
            id: id.clone(),
            workflow: wf.id.clone(),
            workflow_hash: wf.hash.clone(),
            title: title_of(cmd),
            opened_at: now,
            seq: 0,
            last_hash: String::new(),
            closed: false,
            next_due: None,
        };
        tx.insert_case(&head)?;
        let prev = case::event::genesis_hash(org, &id);
        let (events, case) = append(
            tx.as_mut(),
            wf,
            &mut head,
            None,
            &prev,
            bodies.to_vec(),
            actor,
            now,
        )?;
        tx.commit()?;
        self.compiled.insert(wf.hash.clone(), wf.clone());
        let l = Loaded {
            workflow: wf.clone(),
            case,
            events: Arc::new(events),
        };
        self.keep_folded(org, &id, &l);
        Ok(l)
    }

    /// Keeps a case just written, folded, for the next command on it.
    fn keep_folded(&mut self, org: &str, id: &str, l: &Loaded) {
        if self.folded.len() >= FOLDED
            && let Some(k) = self.folded.keys().next().cloned()
        {
            self.folded.remove(&k);
        }
        self.folded
            .insert((org.to_string(), id.to_string()), l.clone());
    }

    /// Runs a command against an existing case: one transaction, all or nothing.
    pub fn execute(
        &mut self,
        org: &str,
        case_id: &str,
        cmd: &Command,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Loaded, StoreError> {
        self.execute_at_seq(org, case_id, cmd, actor, now, None)
    }

    /// [`Store::execute`], refused with [`StoreError::Conflict`] when the case has moved
    /// past `expected_seq`: the user decided on a page that is no longer current.
    pub fn execute_at_seq(
        &mut self,
        org: &str,
        case_id: &str,
        cmd: &Command,
        actor: &str,
        now: DateTime<Utc>,
        expected_seq: Option<i64>,
    ) -> Result<Loaded, StoreError> {
        if !storable(case_id) {
            return Err(StoreError::UnknownCase(case_id.to_string()));
        }
        for _ in 0..ATTEMPTS {
            match self.try_execute(org, case_id, cmd, actor, now, expected_seq) {
                Err(StoreError::Moved) => continue,
                r => return r,
            }
        }
        Err(StoreError::Busy(format!(
            "case {} kept changing while the command was decided",
            crate::util::quote(case_id)
        )))
    }

    /// One attempt of [`Store::execute_at_seq`] (`Moved`: decide again).
    fn try_execute(
        &mut self,
        org: &str,
        case_id: &str,
        cmd: &Command,
        actor: &str,
        now: DateTime<Utc>,
        expected_seq: Option<i64>,
    ) -> Result<Loaded, StoreError> {
        // The case is locked before it is read, so two writers to one case are
        // serialised: the second decides on the log the first wrote. (An optimistic
        // transaction checks that at its commit instead, and before refusing.)
        let key = (org.to_string(), case_id.to_string());
        let kept = self.folded.remove(&key);
        let mut tx = self.db.begin_optimistic()?;
        let Some(mut head) = tx.lock_case(org, case_id)? else {
            return Err(StoreError::UnknownCase(case_id.to_string()));
        };
        let loaded = match kept {
            Some(l)
                if l.case.seq == head.seq
                    && l.case.last_hash == head.last_hash
                    && l.workflow.hash == head.workflow_hash =>
            {
                l
            }
            _ => {
                let rows = tx.events(org, case_id)?;
                load_from(
                    Some(head.clone()),
                    rows,
                    &mut self.compiled,
                    org,
                    case_id,
                    |h| tx.workflow(h),
                )?
            }
        };
        // A refusal decided on what the transaction read stands only if that is still
        // the case's head.
        let refuse = |tx: &mut Box<dyn CaseTx + '_>, e: StoreError| match tx.confirm()? {
            true => Err(e),
            false => Err(StoreError::Moved),
        };
        if let Some(expected) = expected_seq
            && expected != loaded.case.seq
        {
            let actual = loaded.case.seq;
            let r = refuse(
                &mut tx,
                StoreError::Conflict {
                    case: case_id.to_string(),
                    expected,
                    actual,
                },
            );
            drop(tx);
            if matches!(r, Err(StoreError::Conflict { .. })) {
                self.folded.insert(key, loaded);
            }
            return r;
        }
        let bodies = match case::decide(&loaded.workflow, Some(&loaded.case), cmd, now) {
            Ok(b) => b,
            Err(e) => {
                let r = refuse(&mut tx, e.into());
                drop(tx);
                if matches!(r, Err(StoreError::Rejected(_))) {
                    self.folded.insert(key, loaded);
                }
                return r;
            }
        };
        let Loaded {
            workflow: wf,
            case,
            mut events,
        } = loaded;
        let prev = case.last_hash.clone();
        head.seq = case.seq;
        let (new, case) = append(
            tx.as_mut(),
            &wf,
            &mut head,
            Some(case),
            &prev,
            bodies,
            actor,
            now,
        )?;
        tx.commit()?;
        Arc::make_mut(&mut events).extend(new);
        let l = Loaded {
            workflow: wf,
            case,
            events,
        };
        self.keep_folded(org, case_id, &l);
        Ok(l)
    }

    /// Every case of the organisation (open ones first, nearest deadline first).
    pub fn case_ids(&mut self, org: &str, include_closed: bool) -> Result<Vec<String>, StoreError> {
        self.db.case_ids(org, include_closed)
    }

    /// Whether the organisation has any case.
    pub fn has_cases(&mut self, org: &str) -> Result<bool, StoreError> {
        self.db.has_cases(org)
    }

    /// Every case of the organisation, in the order they were opened.
    pub fn case_ids_by_opening(&mut self, org: &str) -> Result<Vec<String>, StoreError> {
        self.db.case_ids_by_opening(org)
    }

    /// The sequence number of a case's last event: a cheap check that a cached copy is
    /// still current.
    pub fn case_seq(&mut self, org: &str, case_id: &str) -> Result<Option<i64>, StoreError> {
        if !storable(case_id) {
            return Ok(None);
        }
        Ok(self.db.head(org, case_id)?.map(|h| h.seq))
    }

    pub fn exists(&mut self, org: &str, case_id: &str) -> Result<bool, StoreError> {
        Ok(storable(case_id) && self.db.head(org, case_id)?.is_some())
    }

    /// When an event of `org` last met a legal deadline (a notification to an authority,
    /// a complaint): when it was recorded.
    pub fn last_deadline_event(&mut self, org: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.db.last_deadline_event(org)
    }

    /// A small value kept by the program (`meta`), by key.
    pub fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.db.meta(key)
    }

    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.db.set_meta(key, value)
    }

    /// Sets `key` only when it has no value; returns the value it has after (a claim
    /// that one of several processes wins).
    pub fn init_meta(&mut self, key: &str, value: &str) -> Result<String, StoreError> {
        self.db.init_meta(key, value)
    }

    /// Deletes `key` and returns its value: of several processes at once, one gets it.
    pub fn take_meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.db.take_meta(key)
    }
}

/// Parses a case's stored events (a row the program cannot read is corrupt, never a
/// panic); the parser's message is not kept, it may quote a stored value.
fn parse_events(
    org: &str,
    case_id: &str,
    rows: Vec<EventRow>,
) -> Result<Vec<Recorded>, StoreError> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let seq = row.seq;
        let corrupt = |reason: String| StoreError::Corrupt {
            case: case_id.to_string(),
            seq,
            reason,
        };
        let body: EventBody = serde_json::from_str(&row.payload).map_err(|e| {
            corrupt(format!(
                "its content is not an event ({:?} error at column {})",
                e.classify(),
                e.column()
            ))
        })?;
        let parse = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| corrupt(format!("{s}: {e}")))
        };
        out.push(Recorded {
            org: org.to_string(),
            case_id: case_id.to_string(),
            seq,
            at: parse(&row.at)?,
            recorded_at: parse(&row.recorded_at)?,
            actor: row.actor,
            body,
            payload: row.payload,
            prev_hash: row.prev_hash,
            hash: row.hash,
        });
    }
    Ok(out)
}

/// Folds a case from its head and log as read (by the store or inside a transaction),
/// compiling its pinned workflow once per process (`workflow` fetches the text).
pub(super) fn load_from(
    head: Option<CaseHead>,
    rows: Vec<EventRow>,
    compiled: &mut HashMap<String, Arc<Workflow>>,
    org: &str,
    case_id: &str,
    workflow: impl FnOnce(&str) -> Result<Option<PinnedWorkflow>, StoreError>,
) -> Result<Loaded, StoreError> {
    let hash = head
        .ok_or_else(|| StoreError::UnknownCase(case_id.to_string()))?
        .workflow_hash;
    let events = parse_events(org, case_id, rows)?;
    let workflow = match compiled.get(&hash) {
        Some(wf) => wf.clone(),
        None => {
            let pinned = workflow(&hash)?.ok_or_else(|| {
                StoreError::Db(format!(
                    "case {} pins a workflow that is not stored",
                    crate::util::quote(case_id)
                ))
            })?;
            let wf = compile_pinned(case_id, &hash, &pinned.origin, &pinned.source)?;
            compiled.insert(hash, wf.clone());
            wf
        }
    };
    // `evolve` starts from an opening: a log that does not is corrupt, not a panic.
    for ev in &events {
        if matches!(ev.body, EventBody::Opened { .. }) != (ev.seq == 1) {
            return Err(StoreError::Corrupt {
                case: case_id.to_string(),
                seq: ev.seq,
                reason: "a case's log opens with its first event, and only there".into(),
            });
        }
    }
    let case = case::fold(&workflow, &events).ok_or_else(|| StoreError::Corrupt {
        case: case_id.to_string(),
        seq: 0,
        reason: "a case with no events".into(),
    })?;
    Ok(Loaded {
        workflow,
        case,
        events: Arc::new(events),
    })
}

/// Compiles a pinned workflow text, refusing one that no longer matches its hash.
fn compile_pinned(
    case_id: &str,
    hash: &str,
    origin: &str,
    source: &str,
) -> Result<Arc<Workflow>, StoreError> {
    if crate::util::hash::sha256_hex(source) != hash {
        return Err(StoreError::PinnedAltered {
            case: case_id.to_string(),
            hash: short(hash),
        });
    }
    compile(origin, source)
        .map(Arc::new)
        .map_err(|errors| StoreError::PinnedWorkflow {
            case: case_id.to_string(),
            errors,
        })
}

pub(super) fn short(h: &str) -> String {
    h.chars().take(12).collect()
}

fn title_of(cmd: &Command) -> String {
    match cmd {
        Command::Open { title, .. } | Command::OpenWithProfile { title, .. } => title.clone(),
        _ => String::new(),
    }
}

/// Seals and inserts events, then updates the case's projection (`head`) and its
/// reminders. Inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
fn append(
    tx: &mut dyn CaseTx,
    wf: &Workflow,
    head: &mut CaseHead,
    case: Option<Case>,
    prev_hash: &str,
    bodies: Vec<(DateTime<Utc>, EventBody)>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Recorded>, Case), StoreError> {
    let (org, case_id) = (head.org.clone(), head.id.clone());
    let mut out = Vec::new();
    let mut prev = prev_hash.to_string();
    let mut seq = head.seq;
    let mut case = case;
    let owners_before = case
        .as_ref()
        .and_then(|c| c.facts.get(crate::case::reminders::OWNERS).cloned());
    for (at, body) in bodies {
        seq += 1;
        let ev = Recorded::seal(&org, &case_id, seq, at, now, actor, body, &prev);
        tx.insert_event(&NewEvent {
            org: &org,
            case_id: &case_id,
            row: EventRow {
                seq,
                at: ev.at_text(),
                recorded_at: ev.recorded_at_text(),
                actor: ev.actor.clone(),
                kind: ev.body.kind().to_string(),
                payload: ev.payload.clone(),
                prev_hash: ev.prev_hash.clone(),
                hash: ev.hash.clone(),
            },
        })?;
        case = Some(case::evolve(wf, case, &ev));
        prev = ev.hash.clone();
        out.push(ev);
    }
    let case = case.expect("at least one event");
    let views = case::clocks(wf, &case, now);
    head.seq = case.seq;
    head.last_hash = case.last_hash.clone();
    head.closed = case.is_closed(wf);
    head.next_due = case::clock::nearest_due(&views);
    head.title = case.title.clone();
    tx.update_head(head)?;
    // New recipients: the reminders that could not reach the old ones go out again
    // (before `sync`, which cancels those the clocks no longer want).
    if case.facts.get(crate::case::reminders::OWNERS) != owners_before.as_ref() {
        tx.requeue_for_new_recipients(&org, Some(&case_id), now)?;
    }
    // The reminders follow the case in the same transaction: none can be lost between.
    sync_reminders(tx, wf, &case, now)?;
    Ok((out, case))
}

/// Applies to the case's timer rows the changes its clocks want now
/// (`case::reminders::reconcile`), inside the caller's transaction.
fn sync_reminders(
    tx: &mut dyn CaseTx,
    wf: &Workflow,
    case: &Case,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    use crate::case::reminders::{Timer, TimerChange, key, reconcile};
    let rows = tx.timers_of_case(&case.org, &case.id)?;
    let timers: Vec<Timer<'_>> = rows
        .iter()
        .map(|t| Timer {
            id: t.id,
            clock: &t.clock,
            offset: &t.offset,
            state: &t.state,
            due_at: t.due_at,
        })
        .collect();
    for change in reconcile(wf, case, &timers, now) {
        match change {
            TimerChange::Cancel(id) => tx.cancel_timer(id)?,
            TimerChange::Reschedule(id, due_at) => tx.reschedule_timer(id, due_at)?,
            TimerChange::Create(p) => tx.insert_timer(&backend::NewTimer {
                key: key(&case.org, &case.id, &p.clock, &p.offset),
                org: case.org.clone(),
                case_id: case.id.clone(),
                clock: p.clock,
                offset: p.offset,
                due_at: p.due_at,
                created_at: now,
            })?,
        }
    }
    Ok(())
}
