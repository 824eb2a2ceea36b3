//! The test builder: one `Vigie` is one fresh SQLite file in its own temporary folder,
//! and the real `vigie` binary run against it from the repository root (so
//! `workflows/fr.yaml`, `seeds/` and `tests/fixtures/` are reachable by relative path).
#![allow(dead_code)] // each test file uses a different part of it

use serde_json::Value;
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
    db: PathBuf,
}

/// The dump of the register's tables, to prove a refused command wrote nothing.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot(Vec<String>);

impl Vigie {
    pub fn new() -> Vigie {
        let dir = TempDir::new().expect("a temporary folder");
        let db = dir.path().join("vigie.db");
        Vigie { dir, db }
    }

    pub fn db_path(&self) -> &Path {
        &self.db
    }

    /// A fresh PostgreSQL database ([`pg::url`]) instead of a SQLite file: for the tests
    /// of several `vigie serve` on one database.
    pub fn postgres() -> Vigie {
        let dir = TempDir::new().expect("a temporary folder");
        Vigie {
            dir,
            db: PathBuf::from(pg::url()),
        }
    }

    /// Another handle on the same database, with a temporary folder of its own (for a
    /// second `vigie serve` instance and its config and logs).
    pub fn same_database(&self) -> Vigie {
        Vigie {
            dir: TempDir::new().expect("a temporary folder"),
            db: self.db.clone(),
        }
    }

    /// What `--db` gets: the SQLite file's path or the PostgreSQL URL.
    pub fn db_arg(&self) -> std::ffi::OsString {
        self.db.clone().into()
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
        let out = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("VIGIE_DB")
            .env_remove("VIGIE_CONFIG")
            .env_remove("VIGIE_ORG")
            .env_remove("VIGIE_NOW_OFFSET")
            .env("VIGIE_ACTOR", "test-dpo")
            .env("RUST_BACKTRACE", "0")
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

    /// Runs, asserts exit 0, returns stdout.
    #[track_caller]
    /// Runs with `input` on standard input (a password for `user add`, say).
    pub fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--db")
            .arg(&self.db)
            .args(args)
            .env_remove("VIGIE_DB")
            .env_remove("VIGIE_CONFIG")
            .env_remove("VIGIE_ORG")
            .env("RUST_BACKTRACE", "0")
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

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code, 0,
            "vigie {args:?} should succeed\nstdout:\n{}\nstderr:\n{}",
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
        let mut rows = Vec::new();
        for (table, order) in [
            ("workflows", "hash"),
            ("cases", "org, id"),
            ("events", "org, case_id, seq"),
        ] {
            for row in self.sql(&format!("SELECT * FROM {table} ORDER BY {order}"), &[]) {
                let cells: Vec<String> = row.iter().map(Value::to_string).collect();
                rows.push(format!("{table}: {}", cells.join(" | ")));
            }
        }
        Snapshot(rows)
    }

    /// One SQL statement on the database file, run the way anyone holding the file
    /// could (Python's sqlite3): for tests that inspect or tamper with it. The rows, or
    /// the database's refusal.
    pub fn try_sql(&self, sql: &str, params: &[Value]) -> Result<SqlDone, String> {
        raw_sql(&self.db, "one", sql, params)
    }

    /// [`Vigie::try_sql`] that must succeed; its rows.
    #[track_caller]
    pub fn sql(&self, sql: &str, params: &[Value]) -> Vec<Vec<Value>> {
        self.try_sql(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows
    }

    /// Several SQL statements on the database file (see [`Vigie::try_sql`]).
    #[track_caller]
    pub fn sql_script(&self, sql: &str) {
        raw_sql(&self.db, "script", sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e}"));
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
    static READY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    READY
        .get_or_init(|| {
            let py = std::env::var("VIGIE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
            let has = |py: &str| {
                std::process::Command::new(py)
                    .args(["-c", "import aiosmtpd"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            };
            if !has(&py) {
                let _ = std::process::Command::new(&py)
                    .args(["-m", "pip", "install", "--quiet", "aiosmtpd"])
                    .status();
            }
            assert!(
                has(&py),
                "{py} cannot import aiosmtpd, and pip could not install it"
            );
            py
        })
        .clone()
}
pub mod pg;
pub mod process;
pub mod smtp;
pub mod web;
