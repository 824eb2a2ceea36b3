//! The test builder: one `Vigie` is one fresh database (a SQLite file in its own
//! temporary folder, or a PostgreSQL database: see [`db`]), and the real `vigie` binary
//! run against it from the repository root (so `workflows/fr.yaml`, `seeds/` and
//! `tests/fixtures/` are reachable by relative path).
#![allow(dead_code)] // each test file uses a different part of it

use db::{Backend, Target};
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// What one run of the binary did.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct Vigie {
    dir: TempDir,
    db: Target,
}

/// The dump of the register's tables, to prove a refused command wrote nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(Vec<String>);

impl Vigie {
    /// A fresh database of this thread's backend ([`db::backend`]).
    pub fn new() -> Vigie {
        let dir = TempDir::new().expect("a temporary folder");
        let db = match db::backend() {
            Backend::Sqlite => Target::Sqlite(dir.path().join("vigie.db")),
            Backend::Postgres => Target::Postgres(pg::url()),
        };
        Vigie { dir, db }
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// What `--db` gets: the SQLite file's path or the PostgreSQL URL.
    pub fn db_arg(&self) -> OsString {
        match &self.db {
            Target::Sqlite(path) => path.clone().into(),
            Target::Postgres(url) => url.into(),
        }
    }

    /// The SQLite file, for tests about the file itself.
    #[track_caller]
    pub fn db_path(&self) -> &Path {
        match &self.db {
            Target::Sqlite(path) => path,
            Target::Postgres(_) => panic!("db_path() is for SQLite tests only"),
        }
    }

    /// The binary, run from the repository root against this database, with none of
    /// the caller's `VIGIE_*` settings: every run of the binary in the tests starts here.
    pub fn command(&self) -> Command {
        command_on(self.db_arg())
    }

    /// Another handle on the same database, with a temporary folder of its own (for a
    /// second `vigie serve` instance and its config and logs).
    pub fn same_database(&self) -> Vigie {
        Vigie {
            dir: TempDir::new().expect("a temporary folder"),
            db: match &self.db {
                Target::Sqlite(path) => Target::Sqlite(path.clone()),
                Target::Postgres(url) => Target::Postgres(url.clone()),
            },
        }
    }

    /// The temporary folder, for files a test writes (seed copies, --out folders).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }

    /// [`Vigie::run`] with extra environment variables (`VIGIE_NOW_OFFSET`, say).
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let out = self
            .command()
            .args(args)
            .env("VIGIE_ACTOR", "test-dpo")
            .envs(env.iter().copied())
            .output()
            .expect("the vigie binary runs");
        Output {
            // None: killed by a signal (a panic that aborts, say): never a valid answer.
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Runs with `input` on standard input (a password for `user add`, say).
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .command()
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the vigie binary runs");
        // A command that refuses its arguments exits before reading: a broken pipe then
        // is its answer, not the test's failure.
        if let Err(e) = child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
        {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
        }
        let out = child.wait_with_output().expect("vigie finishes");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Runs, asserts exit 0, returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code, 0,
            "vigie {args:?} should succeed\nstdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// [`Vigie::ok`] with the program's clock stopped at `now` (`VIGIE_NOW`): for outputs
    /// that say when they were made (a draft, a PDF) and that a test compares.
    #[track_caller]
    pub fn ok_at(&self, now: &str, args: &[&str]) -> String {
        let out = self.run_env(args, &[("VIGIE_NOW", now)]);
        assert_eq!(
            out.code, 0,
            "VIGIE_NOW={now} vigie {args:?} should succeed\nstdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs, asserts the exit code and that stderr is exactly one `vigie: error:` line.
    /// Returns that line.
    #[track_caller]
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code, code,
            "vigie {args:?} should exit {code}\nstdout:\n{}\nstderr:\n{}",
            out.stdout, out.stderr
        );
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("vigie: error: "),
            "vigie {args:?} should give one 'vigie: error:' line, stderr was:\n{}",
            out.stderr
        );
        lines[0].to_string()
    }

    /// Runs with exit 0 expected and parses stdout as JSON (add `--json` to `args`).
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("vigie {args:?} printed no JSON ({e}):\n{stdout}"))
    }

    /// Opens a case of the French workflow with a chosen id; returns its JSON.
    #[track_caller]
    pub fn open_fr(&self, id: &str, aware_at: &str) -> Value {
        self.json(&[
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "Test breach",
            "--aware-at",
            aware_at,
            "--id",
            id,
            "--json",
        ])
    }

    /// `case show ID --json`.
    #[track_caller]
    pub fn show(&self, id: &str) -> Value {
        self.json(&["case", "show", id, "--json"])
    }

    /// Every row of the tables events, cases and workflows, in key order.
    pub fn db_snapshot(&self) -> Snapshot {
        let tables = [
            ("workflows", "hash"),
            ("cases", "org, id"),
            ("events", "org, case_id, seq"),
        ];
        let per_table: Vec<Vec<Vec<Value>>> = match &self.db {
            // One Python run for the three tables: a snapshot is taken before and after
            // every refused command, and each run costs a start of python3.
            Target::Sqlite(path) => {
                let queries: Vec<Value> = tables
                    .iter()
                    .map(|(t, o)| format!("SELECT * FROM {t} ORDER BY {o}").into())
                    .collect();
                let done = raw_sql(path, "many", &Value::Array(queries).to_string(), &[])
                    .unwrap_or_else(|e| panic!("snapshot: {e}"));
                done.rows
                    .into_iter()
                    .map(|t| serde_json::from_value(Value::Array(t)).expect("rows of a table"))
                    .collect()
            }
            Target::Postgres(_) => tables
                .iter()
                .map(|(t, o)| {
                    self.sql(
                        &format!("SELECT row_to_json(x)::text FROM {t} x ORDER BY {o}"),
                        &[],
                    )
                })
                .collect(),
        };
        let mut rows = Vec::new();
        for ((table, _), table_rows) in tables.iter().zip(per_table) {
            for row in table_rows {
                let cells: Vec<String> = row.iter().map(Value::to_string).collect();
                rows.push(format!("{table}: {}", cells.join(" | ")));
            }
        }
        Snapshot(rows)
    }

    /// One SQL statement run behind the binary's back, for tests that inspect or tamper
    /// with the database: SQLite's file through Python's sqlite3 (as anyone holding the
    /// file could), PostgreSQL through its own client. Placeholders `?1` or `?` (turned
    /// into `$1` for PostgreSQL). The rows, or the database's refusal.
    pub fn try_sql(&self, sql: &str, params: &[Value]) -> Result<SqlDone, String> {
        match &self.db {
            Target::Sqlite(path) => raw_sql(path, "one", sql, params),
            Target::Postgres(url) => db::pg_sql(url, sql, params),
        }
    }

    /// [`Vigie::try_sql`] that must succeed; its rows.
    #[track_caller]
    pub fn sql(&self, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
        self.try_sql(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows
    }

    /// Several SQL statements (see [`Vigie::try_sql`]).
    #[track_caller]
    pub fn sql_script(&self, sql: &str) {
        let done = match &self.db {
            Target::Sqlite(path) => raw_sql(path, "script", sql, &[]).map(|_| ()),
            Target::Postgres(url) => db::pg_script(url, sql),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// What someone holding the database does first to rewrite the register: switch
    /// off the append-only guards of `events` and `workflows` (SQLite: drop the
    /// triggers; PostgreSQL: disable them, as the tables' owner).
    pub fn disable_append_only(&self) {
        self.sql_script(match self.backend() {
            Backend::Sqlite => {
                "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;
                 DROP TRIGGER IF EXISTS workflows_no_update"
            }
            Backend::Postgres => {
                "ALTER TABLE events DISABLE TRIGGER USER; ALTER TABLE workflows DISABLE TRIGGER USER"
            }
        });
    }

    /// Everything the database holds as text, for a search for personal data in clear:
    /// SQLite's files as they are on disk (with the journal and WAL, free pages
    /// included); every row of every table of PostgreSQL's as JSON.
    pub fn stored_text(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        match &self.db {
            Target::Sqlite(path) => {
                for suffix in ["", "-wal", "-journal"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    if let Ok(b) = std::fs::read(&p) {
                        out.push((PathBuf::from(p).display().to_string(), b));
                    }
                }
            }
            Target::Postgres(_) => {
                let tables = self.sql(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
                    &[],
                );
                for t in tables {
                    let t = t[0].as_str().expect("a table name");
                    let rows = self.sql(&format!("SELECT row_to_json(t)::text FROM {t} t"), &[]);
                    let text: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
                    out.push((format!("table {t}"), text.join("\n").into_bytes()));
                }
            }
        }
        out
    }
}

/// What a statement of [`Vigie::try_sql`] returned.
#[derive(Debug)]
pub struct SqlDone {
    pub rows: Vec<Vec<Value>>,
    /// Rows changed.
    pub changes: i64,
}

fn raw_sql(db: &Path, mode: &str, sql: &str, params: &[Value]) -> Result<SqlDone, String> {
    let py = std::env::var("VIGIE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(py)
        .arg(repo("tests/support/raw_sql.py"))
        .arg(db)
        .arg(mode)
        .arg(sql)
        .arg(Value::Array(params.to_vec()).to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "raw_sql.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("raw_sql.py prints JSON");
    if let Some(e) = v["error"].as_str() {
        return Err(e.to_string());
    }
    Ok(SqlDone {
        rows: serde_json::from_value(v["rows"].clone()).expect("rows"),
        changes: v["changes"].as_i64().unwrap_or(0),
    })
}

/// The clock `id` of a case's JSON.
#[track_caller]
pub fn clock<'a>(case: &'a Value, id: &str) -> &'a Value {
    case["clocks"]
        .as_array()
        .expect("clocks is an array")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no clock '{id}' in {case:#}"))
}

/// The path of a file of the repository, as the binary (run from the root) sees it.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Python that runs the loopback SMTP server (`VIGIE_TEST_PYTHON`, default
/// `python3`), with `aiosmtpd` installed by pip the first time it is missing, so that
/// `cargo test --release` works on a fresh machine.
#[allow(dead_code)]
pub fn smtp_python() -> String {
    python_with("aiosmtpd")
}

/// The test Python (`VIGIE_TEST_PYTHON`, default `python3`) able to import `module`,
/// installed by pip the first time it is missing (`aiosmtpd` for the SMTP sink,
/// `icalendar` for the calendar tests).
#[allow(dead_code)]
pub fn python_with(module: &str) -> String {
    static READY: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let py = std::env::var("VIGIE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    if ready.iter().any(|m| m == module) {
        return py;
    }
    let has = |py: &str| {
        std::process::Command::new(py)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has(&py) {
        let _ = std::process::Command::new(&py)
            .args(["-m", "pip", "install", "--quiet", module])
            .status();
    }
    assert!(
        has(&py),
        "{py} cannot import {module}, and pip could not install it"
    );
    ready.push(module.to_string());
    py
}
/// The current instant to the second (RFC 3339), to pin the program's clock at for two
/// runs a test compares ([`Vigie::ok_at`], `VIGIE_NOW`).
pub fn pinned_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The real binary run from the repository root against `db` (a path or a URL), with
/// none of the `VIGIE_*` variables of the caller's environment.
pub fn command_on(db: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--db")
        .arg(db)
        .env_remove("VIGIE_DB")
        .env_remove("VIGIE_CONFIG")
        .env_remove("VIGIE_ORG")
        .env_remove("VIGIE_NOW_OFFSET")
        .env_remove("VIGIE_NOW")
        .env("RUST_BACKTRACE", "0");
    c
}

pub mod browser;
pub mod db;
pub mod oidc;
pub mod pg;
pub mod process;
pub mod smtp;
pub mod tsa;
pub mod web;
