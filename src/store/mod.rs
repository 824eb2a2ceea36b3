//! The store: one SQLite file holding the event log (the breach register), the pinned
//! workflow texts and a small projection of each case for listing. Every command runs
//! in one IMMEDIATE transaction: read the log, decide, append, or write nothing.
//!
//! Every query takes the organisation, so one organisation never reads another's cases.

mod accounts;
pub mod backend;
pub mod checkpoint;
pub mod copy;
mod orgs;
pub mod postgres;
mod schema;

pub use accounts::{AccountError, MIN_PASSWORD, Role, TOKEN_ID_LEN, TokenInfo, User, random_hex};

use crate::case::{self, Case, Command, EventBody, Recorded, Rejected};
use crate::workflow::{Workflow, WorkflowErrors, WorkflowSet, compile};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub const DEFAULT_ORG: &str = "default";

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
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
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
            || matches!(self, StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::DatabaseBusy)
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
pub struct Loaded {
    pub workflow: Arc<Workflow>,
    pub case: Case,
    pub events: Vec<Recorded>,
}

pub struct Store {
    conn: Connection,
    /// Pinned workflows compiled once per process, by hash.
    compiled: HashMap<String, Arc<Workflow>>,
}

/// One problem `audit verify` found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditProblem {
    pub case: String,
    pub seq: i64,
    pub problem: String,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let wrap = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        schema::migrate(&conn).map_err(wrap)?;
        Ok(Store {
            conn,
            compiled: HashMap::new(),
        })
    }

    fn read_events(
        conn: &Connection,
        org: &str,
        case_id: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, at, recorded_at, actor, payload, prev_hash, hash FROM events
             WHERE org = ?1 AND case_id = ?2 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![org, case_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, at, recorded_at, actor, payload, prev_hash, hash) = row?;
            let corrupt = |reason: String| StoreError::Corrupt {
                case: case_id.to_string(),
                seq,
                reason,
            };
            // Not the parser's message: it may quote a stored value.
            let body: EventBody = serde_json::from_str(&payload).map_err(|e| {
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
                at: parse(&at)?,
                recorded_at: parse(&recorded_at)?,
                actor,
                body,
                payload,
                prev_hash,
                hash,
            });
        }
        Ok(out)
    }

    /// A case, its pinned workflow and its log.
    pub fn load(&mut self, org: &str, case_id: &str) -> Result<Loaded, StoreError> {
        load_from(&self.conn, &mut self.compiled, org, case_id)
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = match case_id {
            Some(id) => {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS(SELECT 1 FROM cases WHERE org = ?1 AND id = ?2)",
                    params![org, id],
                    |r| r.get(0),
                )?;
                if exists {
                    return Err(StoreError::CaseExists(id.to_string()));
                }
                id.to_string()
            }
            None => {
                // The next free number of the year's series, from a counter (no scan of
                // every case); numbers taken by ids chosen by hand are skipped.
                let prefix = format!("{}-{}-", wf.id, now.format("%Y"));
                let mut n: i64 = tx
                    .query_row(
                        "SELECT last FROM case_counters WHERE org = ?1 AND prefix = ?2",
                        params![org, prefix],
                        |r| r.get(0),
                    )
                    .optional()?
                    .unwrap_or(0);
                let mut taken = tx.prepare_cached(
                    "SELECT EXISTS(SELECT 1 FROM cases WHERE org = ?1 AND id = ?2)",
                )?;
                let id = loop {
                    n += 1;
                    let id = format!("{prefix}{n:04}");
                    if !taken.query_row(params![org, id], |r| r.get::<_, bool>(0))? {
                        break id;
                    }
                };
                tx.execute(
                    "INSERT INTO case_counters (org, prefix, last) VALUES (?1, ?2, ?3)
                     ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last",
                    params![org, prefix, n],
                )?;
                id
            }
        };
        tx.execute(
            "INSERT OR IGNORE INTO workflows (hash, id, origin, source, stored_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![wf.hash, wf.id, wf.origin, wf.source, now.to_rfc3339()],
        )?;
        tx.execute(
            "INSERT INTO cases (org, id, workflow, workflow_hash, title, opened_at, seq, last_hash, closed, next_due)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, '', 0, NULL)",
            params![org, id, wf.id, wf.hash, title_of(cmd), now.to_rfc3339()],
        )?;
        let prev = case::event::genesis_hash(org, &id);
        let (events, case) = append(&tx, &wf, org, &id, None, &prev, 0, bodies, actor, now)?;
        tx.commit()?;
        self.compiled.insert(wf.hash.clone(), wf.clone());
        Ok(Loaded {
            workflow: wf,
            case,
            events,
        })
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
        // IMMEDIATE takes the write lock before reading, so two writers to one case
        // are serialised: the second decides on the log the first wrote.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Loaded {
            workflow: wf,
            case,
            mut events,
        } = load_from(&tx, &mut self.compiled, org, case_id)?;
        if let Some(expected) = expected_seq
            && expected != case.seq
        {
            return Err(StoreError::Conflict {
                case: case_id.to_string(),
                expected,
                actual: case.seq,
            });
        }
        let bodies = case::decide(&wf, Some(&case), cmd, now)?;
        let prev = case.last_hash.clone();
        let seq = case.seq;
        let (new, case) = append(
            &tx,
            &wf,
            org,
            case_id,
            Some(case),
            &prev,
            seq,
            bodies,
            actor,
            now,
        )?;
        tx.commit()?;
        events.extend(new);
        Ok(Loaded {
            workflow: wf,
            case,
            events,
        })
    }

    /// Every case of the organisation (open ones first, nearest deadline first).
    pub fn case_ids(&self, org: &str, include_closed: bool) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM cases WHERE org = ?1 AND (?2 OR closed = 0)
             ORDER BY closed, next_due IS NULL, next_due, opened_at",
        )?;
        let ids = stmt
            .query_map(params![org, include_closed], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Every case of the organisation, in the order they were opened.
    pub fn case_ids_by_opening(&self, org: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM cases WHERE org = ?1 ORDER BY opened_at, id")?;
        let ids = stmt
            .query_map(params![org], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// The sequence number of a case's last event: a cheap check that a cached copy is
    /// still current.
    pub fn case_seq(&self, org: &str, case_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT seq FROM cases WHERE org = ?1 AND id = ?2")?
            .query_row(params![org, case_id], |r| r.get(0))
            .optional()?)
    }

    pub fn exists(&self, org: &str, case_id: &str) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM cases WHERE org = ?1 AND id = ?2)",
            params![org, case_id],
            |r| r.get(0),
        )?)
    }

    /// Recomputes every hash chain; names each case and sequence number that differs.
    pub fn verify(&self) -> Result<(usize, usize, Vec<AuditProblem>), StoreError> {
        let mut problems = Vec::new();
        let mut cases = self
            .conn
            .prepare("SELECT org, id, seq, last_hash FROM cases ORDER BY org, id")?;
        let cases: Vec<(String, String, i64, String)> = cases
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<Result<_, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT seq, at, recorded_at, actor, kind, payload, prev_hash, hash FROM events
             WHERE org = ?1 AND case_id = ?2 ORDER BY seq",
        )?;
        let mut n_events = 0;
        for (org, id, seq, last_hash) in &cases {
            let mut prev = case::event::genesis_hash(org, id);
            let mut expected_seq = 1;
            let rows = stmt.query_map(params![org, id], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            })?;
            for row in rows {
                let (s, at, recorded_at, actor, kind, payload, prev_hash, hash) = row?;
                n_events += 1;
                let mut say = |problem: String| {
                    problems.push(AuditProblem {
                        case: id.clone(),
                        seq: s,
                        problem,
                    })
                };
                if s != expected_seq {
                    say(format!(
                        "sequence number {s} where {expected_seq} was expected: an event is missing"
                    ));
                }
                if prev_hash != prev {
                    say("its previous-hash link does not match the event before it".into());
                }
                let again = case::event::chain_hash(
                    org,
                    id,
                    s,
                    &at,
                    &recorded_at,
                    &actor,
                    &kind,
                    &payload,
                    &prev_hash,
                );
                if again != hash {
                    say("its content does not match its hash: the event was altered".into());
                }
                prev = hash;
                expected_seq = s + 1;
            }
            if expected_seq - 1 != *seq || prev != *last_hash {
                problems.push(AuditProblem {
                    case: id.clone(),
                    seq: expected_seq,
                    problem: format!(
                        "the case records {seq} events ending in {}, the log ends at {}: events were removed or added",
                        short(last_hash),
                        short(&prev)
                    ),
                });
            }
        }
        // Each case must read back: a chain can be intact around an event the program
        // cannot parse (a time RFC 3339 cannot write), and then the case is lost to every
        // list and reminder. An altered pinned text is reported below.
        let mut compiled = HashMap::new();
        for (org, id, _, _) in &cases {
            match load_from(&self.conn, &mut compiled, org, id) {
                Err(StoreError::Corrupt { seq, reason, .. }) => problems.push(AuditProblem {
                    case: id.clone(),
                    seq,
                    problem: format!("the case cannot be read back: {reason}"),
                }),
                Err(e @ StoreError::PinnedWorkflow { .. }) => problems.push(AuditProblem {
                    case: id.clone(),
                    seq: 1,
                    problem: format!("the case cannot be read back: {e}"),
                }),
                _ => {}
            }
        }
        // The pinned workflow texts: each must still hash to its key, and each case must
        // point at the workflow its (hashed) opening event names.
        let altered: Vec<String> = self
            .conn
            .prepare("SELECT hash, source FROM workflows")?
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .filter_map(|r| r.ok())
            .filter(|(h, src)| crate::workflow::sha256_hex(src) != *h)
            .map(|(h, _)| h)
            .collect();
        let mut pinned = self.conn.prepare(
            "SELECT c.id, c.workflow_hash, e.payload FROM cases c JOIN events e
             ON e.org = c.org AND e.case_id = c.id AND e.seq = 1 ORDER BY c.org, c.id",
        )?;
        let rows: Vec<(String, String, String)> = pinned
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (case, hash, payload) in rows {
            if altered.contains(&hash) {
                problems.push(AuditProblem {
                    case: case.clone(),
                    seq: 1,
                    problem: format!(
                        "the workflow text it pinned (sha256 {}…) was altered",
                        short(&hash)
                    ),
                });
            }
            let opened: Option<String> = serde_json::from_str::<serde_json::Value>(&payload)
                .ok()
                .and_then(|v| {
                    v.get("workflow_hash")
                        .and_then(|h| h.as_str())
                        .map(str::to_string)
                });
            if opened.as_deref() != Some(hash.as_str()) {
                problems.push(AuditProblem {
                    case,
                    seq: 1,
                    problem: "the case points at another workflow than the one it was opened with"
                        .into(),
                });
            }
        }
        // Events whose case row is gone.
        let orphans: Vec<(String, i64)> = self
            .conn
            .prepare(
                "SELECT e.case_id, MIN(e.seq) FROM events e LEFT JOIN cases c
                 ON c.org = e.org AND c.id = e.case_id WHERE c.id IS NULL GROUP BY e.org, e.case_id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (case, seq) in orphans {
            problems.push(AuditProblem {
                case,
                seq,
                problem: "events of a case that is no longer in the register".into(),
            });
        }
        Ok((cases.len(), n_events, problems))
    }

    /// The connection, for modules that add their own tables (outbox, ledger).
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Reads a case and its log through `conn` (the store's connection or a transaction on
/// it), compiling its pinned workflow once per process.
fn load_from(
    conn: &Connection,
    compiled: &mut HashMap<String, Arc<Workflow>>,
    org: &str,
    case_id: &str,
) -> Result<Loaded, StoreError> {
    let hash: String = conn
        .query_row(
            "SELECT workflow_hash FROM cases WHERE org = ?1 AND id = ?2",
            params![org, case_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::UnknownCase(case_id.to_string()))?;
    let events = Store::read_events(conn, org, case_id)?;
    let workflow = match compiled.get(&hash) {
        Some(wf) => wf.clone(),
        None => {
            let (origin, source): (String, String) = conn.query_row(
                "SELECT origin, source FROM workflows WHERE hash = ?1",
                [&hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let wf = compile_pinned(case_id, &hash, &origin, &source)?;
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
        events,
    })
}

/// Compiles a pinned workflow text, refusing one that no longer matches its hash.
fn compile_pinned(
    case_id: &str,
    hash: &str,
    origin: &str,
    source: &str,
) -> Result<Arc<Workflow>, StoreError> {
    if crate::workflow::sha256_hex(source) != hash {
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

fn short(h: &str) -> String {
    h.chars().take(12).collect()
}

fn title_of(cmd: &Command) -> String {
    match cmd {
        Command::Open { title, .. } => title.clone(),
        _ => String::new(),
    }
}

/// Seals and inserts events, then updates the case's projection. Inside a transaction.
#[allow(clippy::too_many_arguments)]
fn append(
    tx: &rusqlite::Transaction,
    wf: &Workflow,
    org: &str,
    case_id: &str,
    case: Option<Case>,
    prev_hash: &str,
    seq: i64,
    bodies: Vec<(DateTime<Utc>, EventBody)>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(Vec<Recorded>, Case), StoreError> {
    let mut out = Vec::new();
    let mut prev = prev_hash.to_string();
    let mut seq = seq;
    let mut case = case;
    let owners_before = case
        .as_ref()
        .and_then(|c| c.facts.get(crate::outbox::delivery::OWNERS).cloned());
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (at, body) in bodies {
        seq += 1;
        let ev = Recorded::seal(org, case_id, seq, at, now, actor, body, &prev);
        insert.execute(params![
            org,
            case_id,
            seq,
            ev.at_text(),
            ev.recorded_at_text(),
            ev.actor,
            ev.body.kind(),
            ev.payload,
            ev.prev_hash,
            ev.hash
        ])?;
        case = Some(case::evolve(wf, case, &ev));
        prev = ev.hash.clone();
        out.push(ev);
    }
    let case = case.expect("at least one event");
    let views = case::clocks(wf, &case, now);
    let next_due = case::clock::nearest_due(&views).map(|d| d.to_rfc3339());
    tx.execute(
        "UPDATE cases SET seq = ?3, last_hash = ?4, closed = ?5, next_due = ?6, title = ?7
         WHERE org = ?1 AND id = ?2",
        params![
            org,
            case_id,
            case.seq,
            case.last_hash,
            case.is_closed(wf),
            next_due,
            case.title
        ],
    )?;
    // New recipients: the reminders that could not reach the old ones go out again
    // (before `sync`, which cancels those the clocks no longer want).
    if case.facts.get(crate::outbox::delivery::OWNERS) != owners_before.as_ref() {
        crate::outbox::delivery::requeue_for_new_recipients(tx, org, Some(case_id), now)?;
    }
    // The reminders follow the case in the same transaction: none can be lost between.
    crate::outbox::sync(tx, wf, &case, now)?;
    Ok((out, case))
}
