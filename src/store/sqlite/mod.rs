//! The SQLite backend: one file, one `rusqlite::Connection` per `Store`. WAL, a 10 s
//! busy timeout, `synchronous = NORMAL`, foreign keys on; every write transaction is
//! BEGIN IMMEDIATE, so two writers are serialised before they read. Migrations are the
//! SQL files of `migrations/sqlite/`, applied by `PRAGMA user_version`.
//!
//! Times are stored as text: events, timers, ledger and throttle rows as fixed-width
//! RFC 3339 (`store::backend::ts`, compared as strings), the other columns as they always were
//! (`DateTime::to_rfc3339`), so a database written by an earlier version reads the same.

mod access;
mod accounts;
mod calendar;
mod caselog;
mod casetx;
mod invitations;
mod ledger;
mod meta;
mod oidc;
mod outbox;
mod throttle;
pub mod wake;

use super::StoreError;
use super::backend::{
    Backend, Campaign, CaseHead, EventRow, LedgerRow, PinnedWorkflow, Result, SessionRow, TokenRow,
    UserRow,
};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, TransactionBehavior, params};
use std::path::{Path, PathBuf};

/// The migrations, numbered from 1: `PRAGMA user_version` is how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../migrations/sqlite/0001_events.sql"),
    include_str!("../../../migrations/sqlite/0002_timers.sql"),
    include_str!("../../../migrations/sqlite/0003_workflows_immutable.sql"),
    include_str!("../../../migrations/sqlite/0004_ledger.sql"),
    include_str!("../../../migrations/sqlite/0005_case_counters.sql"),
    include_str!("../../../migrations/sqlite/0006_timers_leased.sql"),
    include_str!("../../../migrations/sqlite/0007_users.sql"),
    include_str!("../../../migrations/sqlite/0008_profiles.sql"),
    include_str!("../../../migrations/sqlite/0009_timer_recipients.sql"),
    include_str!("../../../migrations/sqlite/0010_events_met.sql"),
    include_str!("../../../migrations/sqlite/0011_sign_in_throttle.sql"),
    include_str!("../../../migrations/sqlite/0012_calendar_tokens.sql"),
    include_str!("../../../migrations/sqlite/0013_access_log.sql"),
    include_str!("../../../migrations/sqlite/0014_calendar_tokens_revoked.sql"),
    include_str!("../../../migrations/sqlite/0015_dispatchers.sql"),
    include_str!("../../../migrations/sqlite/0016_invitations.sql"),
    include_str!("../../../migrations/sqlite/0017_oidc_links.sql"),
    include_str!("../../../migrations/sqlite/0018_memberships.sql"),
    include_str!("../../../migrations/sqlite/0019_cases_open_due.sql"),
];

pub struct Sqlite {
    conn: Connection,
    path: PathBuf,
}

/// A driver error as ours: SQLITE_BUSY (or LOCKED) is `Busy`, anything else one line.
impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let line = one_line(&e.to_string());
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                StoreError::Busy(line)
            }
            _ => StoreError::Db(line),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether an error is a UNIQUE or PRIMARY KEY violation.
fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Fixed-width UTC text, compared as strings by SQL.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The text of the columns written with `to_rfc3339` since the first version.
fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// A stored time back; an unreadable one is a corrupt row, said in one line.
fn parse(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| StoreError::Db(format!("a stored time is unreadable: {e}")))
}

fn parse_opt(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse).transpose()
}

impl Sqlite {
    /// Opens (creating if needed) and migrates the database file at `path`.
    pub fn open(path: &Path) -> Result<Sqlite> {
        let wrap = |e: rusqlite::Error| StoreError::Unavailable {
            db: path.display().to_string(),
            reason: one_line(&e.to_string()),
        };
        // Connections opening a new file at the same instant (a server and a cron job on
        // a fresh install) can find it locked where SQLite does not wait for the busy
        // handler (switching to WAL, the first reads of the WAL index): set up again,
        // for as long as the busy timeout would have waited.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let conn = loop {
            match setup(path) {
                Ok(conn) => break conn,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(wrap(e)),
            }
        };
        Ok(Sqlite {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A private temporary folder (0700), removed with what it holds when dropped.
pub struct TempFolder(PathBuf);

impl TempFolder {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A consistent copy of the database at `path` (`VACUUM INTO`, one read transaction),
/// in a new private temporary folder: the folder (removed when dropped) and the file.
pub fn snapshot(path: &Path) -> Result<(TempFolder, PathBuf)> {
    let wrap = |reason: String| StoreError::Unavailable {
        db: path.display().to_string(),
        reason,
    };
    let dir = std::env::temp_dir().join(format!(
        "vigie-copy-{}-{}",
        std::process::id(),
        super::random_hex(8)
    ));
    crate::util::private::create_dir_all(&dir)
        .map_err(|e| wrap(format!("a temporary folder for the snapshot: {e}")))?;
    let dir = TempFolder(dir);
    let into = dir.path().join("snapshot.db");
    let conn = Connection::open(path).map_err(|e| wrap(one_line(&e.to_string())))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute("VACUUM INTO ?1", params![into.to_string_lossy()])
        .map_err(|e| wrap(format!("snapshot: {}", one_line(&e.to_string()))))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&into, std::fs::Permissions::from_mode(0o600));
    }
    Ok((dir, into))
}

/// `mode(0o600)` where the platform has modes.
trait ModePrivate {
    fn mode_private(&mut self) -> &mut Self;
}

impl ModePrivate for std::fs::OpenOptions {
    fn mode_private(&mut self) -> &mut Self {
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600);
        self
    }
}

/// How long a connection waits for another's write lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A connection to `path`, in WAL mode, migrated.
fn setup(path: &Path) -> rusqlite::Result<Connection> {
    // A new database holds personal data from its first case: created 0600 (SQLite
    // gives its -wal and -shm files the mode of the database file).
    if !path.exists()
        && let Err(e) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_private()
            .open(path)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("{}: {e}", path.display())),
        ));
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&conn)?;
    Ok(conn)
}

/// SQLITE_BUSY or SQLITE_LOCKED.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    // Two processes may open a new file at once: take the write lock, then re-read.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", i + 1)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl Backend for Sqlite {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn is_empty(&mut self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT NOT EXISTS(SELECT 1 FROM cases) AND NOT EXISTS(SELECT 1 FROM users)
             AND NOT EXISTS(SELECT 1 FROM timers) AND NOT EXISTS(SELECT 1 FROM campaigns)
             AND NOT EXISTS(SELECT 1 FROM organisations WHERE id <> 'default' OR profile <> '{}')",
            [],
            |r| r.get(0),
        )?)
    }

    fn load_cases(
        &mut self,
        heads: &[CaseHead],
        events: &[(String, String, Vec<EventRow>)],
    ) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for h in heads {
            caselog::insert_head(&tx, h)?;
        }
        {
            let mut insert = tx.prepare_cached(caselog::INSERT_EVENT)?;
            for (org, case_id, rows) in events {
                for e in rows {
                    caselog::insert_event_with(&mut insert, org, case_id, e)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn load_workflows(&mut self, wfs: &[PinnedWorkflow]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for w in wfs {
            caselog::pin(&tx, w)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_counters(&mut self, rows: &[(String, String, i64)]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (org, prefix, last) in rows {
            tx.execute(
                "INSERT INTO case_counters (org, prefix, last) VALUES (?1, ?2, ?3)
                 ON CONFLICT (org, prefix) DO UPDATE SET last = excluded.last",
                params![org, prefix, last],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_campaigns(&mut self, rows: &[Campaign]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for c in rows {
            ledger::insert_campaign(&tx, c, true)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_ledger(&mut self, rows: &[LedgerRow]) -> Result<()> {
        ledger::write(&mut self.conn, rows)
    }

    fn load_users(&mut self, rows: &[UserRow]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // One row per membership: the person once (their first row), then each
        // membership.
        for u in rows {
            tx.execute(
                "INSERT INTO users (id, org, email, name, password, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING",
                params![
                    u.user.id,
                    u.user.org,
                    u.user.email,
                    u.user.name,
                    u.password,
                    rfc(u.created_at),
                ],
            )?;
            accounts::insert_membership(
                &tx,
                u.user.id,
                &u.user.org,
                u.user.role,
                &rfc(u.since),
                &u.added_by,
                u.disabled,
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_sessions(&mut self, rows: &[SessionRow]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for s in rows {
            accounts::insert_session(&tx, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn load_tokens(&mut self, rows: &[TokenRow]) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for t in rows {
            accounts::insert_token(&tx, t)?;
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::backend::{CaseLog, Throttle};
    use chrono::Duration;

    #[test]
    fn a_url_picks_the_backend_and_never_echoes_a_password() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            format!("sqlite://{}", dir.path().join("a.db").display()),
            format!("sqlite:{}", dir.path().join("b.db").display()),
            dir.path().join("c.db").display().to_string(),
        ] {
            let s = Store::open_url(&url).unwrap();
            assert_eq!(s.kind(), "sqlite", "{url}");
        }
        assert!(dir.path().join("a.db").exists() && dir.path().join("b.db").exists());
        // A PostgreSQL URL goes to that backend: nobody listens on port 1, so the server
        // is unavailable (exit 1), and the message shows the URL without its password.
        for url in [
            "postgres://vigie:s3cr3t@127.0.0.1:1/vigie",
            "postgresql://vigie:s3cr3t@127.0.0.1:1/vigie?connect_timeout=5",
        ] {
            let e = Store::open_url(url).err().expect("refused");
            assert!(matches!(e, StoreError::Unavailable { .. }), "{url}: {e:?}");
            assert!(!e.is_input());
            let msg = e.to_string();
            assert!(!msg.contains("s3cr3t") && !msg.contains('\n'), "{msg}");
            assert!(msg.contains("vigie@127.0.0.1:1/vigie"), "{msg}");
        }
        let e = Store::open_url("mysql://vigie:s3cr3t@db.example.org/vigie")
            .err()
            .expect("refused");
        assert!(matches!(e, StoreError::BadUrl(_)), "{e:?}");
        assert!(e.is_input());
        let msg = e.to_string();
        assert!(!msg.contains("s3cr3t") && msg.contains("'mysql'"), "{msg}");
        assert!(matches!(
            Store::open_url("sqlite://"),
            Err(StoreError::BadUrl(_))
        ));
    }

    #[test]
    fn an_unopenable_file_is_unavailable_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let e = Store::open(&dir.path().join("no/such/dir/v.db"))
            .err()
            .expect("refused");
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains("v.db") && !msg.contains('\n'), "{msg}");
    }

    #[test]
    fn a_writer_waiting_on_another_is_busy_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        let mut a = Sqlite::open(&path).unwrap();
        let mut b = Sqlite::open(&path).unwrap();
        b.conn.busy_timeout(std::time::Duration::ZERO).unwrap();
        let held = a.begin().unwrap();
        let e = b.begin().err().expect("the write lock is held");
        assert!(e.is_busy(), "{e:?}");
        assert!(!e.to_string().contains('\n'));
        drop(held);
        assert!(b.begin().is_ok());
    }

    #[test]
    fn sign_in_failures_are_counted_locked_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Sqlite::open(&dir.path().join("v.db")).unwrap();
        let mut b = Sqlite::open(&dir.path().join("v.db")).unwrap();
        // Times are kept to the microsecond, as PostgreSQL keeps them.
        let now = DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
        assert_eq!(a.sign_in_failed("k", now).unwrap(), 1);
        // Another process sees and adds to the same count.
        assert_eq!(b.sign_in_failed("k", now).unwrap(), 2);
        assert_eq!(a.sign_in_failed("other", now).unwrap(), 1);
        assert_eq!(a.sign_in_locked_until("k").unwrap(), None);
        let until = now + Duration::minutes(15);
        a.sign_in_lock("k", until).unwrap();
        assert_eq!(b.sign_in_locked_until("k").unwrap(), Some(until));
        // Idle for an hour: counting starts again.
        assert_eq!(
            a.sign_in_failed("k", now + Duration::minutes(61)).unwrap(),
            1
        );
        b.sign_in_forget("k").unwrap();
        assert_eq!(a.sign_in_locked_until("k").unwrap(), None);
        assert_eq!(a.sign_in_failed("k", now).unwrap(), 1);
        // A lock on a key that never failed.
        a.sign_in_lock("new", until).unwrap();
        assert_eq!(a.sign_in_locked_until("new").unwrap(), Some(until));
    }

    #[test]
    fn a_database_of_the_previous_version_is_migrated_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.db");
        {
            let conn = Connection::open(&path).unwrap();
            for (i, sql) in MIGRATIONS.iter().take(10).enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.pragma_update(None, "user_version", i + 1).unwrap();
            }
            conn.execute(
                "INSERT INTO organisations (id, name) VALUES ('acme', 'ACME')",
                [],
            )
            .unwrap();
            conn.execute("DELETE FROM meta WHERE key = 'ledger_key'", [])
                .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert_eq!(
            s.organisation_name("acme").unwrap().as_deref(),
            Some("ACME")
        );
        // The ledger key is created at open when the database has none.
        let key = s.meta("ledger_key").unwrap().expect("a ledger key");
        assert_eq!(key.len(), 64);
        assert_eq!(s.backend().sign_in_failed("k", Utc::now()).unwrap(), 1);
        drop(s);
        let conn = Connection::open(&path).unwrap();
        let v: usize = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        // Opened again: the same key.
        let mut s = Store::open(&path).unwrap();
        assert_eq!(s.meta("ledger_key").unwrap(), Some(key));
    }
}
