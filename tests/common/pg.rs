//! A throwaway PostgreSQL for tests: `url()` gives a fresh, empty database.
//!
//! With `VIGIE_TEST_POSTGRES` set (a URL a test may create databases with), each call
//! creates a uniquely named database on that server. Otherwise ONE cluster is started per
//! test process: `initdb` + `pg_ctl` (from PATH or /usr/lib/postgresql/*/bin) in a temporary
//! folder, on a free port of 127.0.0.1 and a unix socket in that folder, `fsync=off`; as
//! the `postgres` user (`runuser`) when we are root.
//!
//! Stopping it: neither a static's Drop nor `atexit` is reliable for a test process (a
//! static is never dropped; a SIGKILL runs nothing). So a small watcher shell is started
//! beside the cluster with its stdin on a pipe whose only writer is this process (Rust
//! opens pipes close-on-exec, so no child inherits it). When this process ends, however
//! it ends, the kernel closes the pipe, the watcher's `read` returns, and it stops the
//! cluster (`pg_ctl stop -m immediate`) and deletes the folder.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// The role with a password, for the tests of refused sign-ins (local cluster only).
pub const PASSWORD_ROLE: &str = "vigie_pw";
pub const PASSWORD: &str = "right-horse-battery";

struct Cluster {
    dir: PathBuf,
    port: u16,
    /// The watcher's stdin: held until this process ends.
    _watch: Mutex<ChildStdin>,
    /// How long initdb + start took, for the report.
    pub started_in: std::time::Duration,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static N: AtomicUsize = AtomicUsize::new(0);

/// A URL of a fresh empty database.
pub fn url() -> String {
    let name = format!(
        "vigie_t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    if let Ok(admin) = std::env::var("VIGIE_TEST_POSTGRES") {
        create_db(&admin, &name);
        return with_db(&admin, &name);
    }
    let c = cluster();
    let admin = c.socket_url("postgres");
    create_db(&admin, &name);
    c.socket_url(&name)
}

/// A TCP URL of a fresh database as the password role, with `password` (right or wrong)
/// in it; None when the tests run against `VIGIE_TEST_POSTGRES`.
pub fn password_url(password: &str) -> Option<String> {
    if std::env::var("VIGIE_TEST_POSTGRES").is_ok() {
        return None;
    }
    let name = format!(
        "vigie_pw{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let c = cluster();
    create_db_owned(&c.socket_url("postgres"), &name, Some(PASSWORD_ROLE));
    Some(format!(
        "postgres://{PASSWORD_ROLE}:{password}@127.0.0.1:{}/{name}",
        c.port
    ))
}

/// How long the local cluster took to start (None with `VIGIE_TEST_POSTGRES`).
pub fn started_in() -> Option<std::time::Duration> {
    CLUSTER.get().map(|c| c.started_in)
}

/// The local cluster's postmaster process id (None with `VIGIE_TEST_POSTGRES`), for the
/// benches' CPU accounting of the server.
pub fn server_pid() -> Option<u32> {
    let c = CLUSTER.get()?;
    let text = std::fs::read_to_string(c.dir.join("data").join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn create_db(admin: &str, name: &str) {
    create_db_owned(admin, name, None)
}

fn create_db_owned(admin: &str, name: &str, owner: Option<&str>) {
    let mut client = postgres::Client::connect(admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to the test server: {e}"));
    client
        .batch_execute(&match owner {
            Some(o) => format!("CREATE DATABASE {name} OWNER {o}"),
            None => format!("CREATE DATABASE {name}"),
        })
        .expect("CREATE DATABASE");
}

/// `url` with its database replaced by `name` (query kept).
fn with_db(url: &str, name: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = main.split_once("://").expect("a postgres:// URL");
    let authority = rest.split('/').next().unwrap();
    format!("{scheme}://{authority}/{name}{query}")
}

impl Cluster {
    fn socket_url(&self, db: &str) -> String {
        let host: String = self.dir.to_str().unwrap().replace('/', "%2F");
        format!("postgres://postgres@{host}:{}/{db}", self.port)
    }
}

fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(start)
}

/// The folder holding initdb and pg_ctl.
fn bin_dir() -> PathBuf {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let p = std::fs::canonicalize(&p).unwrap_or(p);
        if let Some(d) = p.parent()
            && d.join("pg_ctl").exists()
        {
            return d.to_path_buf();
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found
        .pop()
        .expect("PostgreSQL's initdb and pg_ctl (PATH or /usr/lib/postgresql/*/bin), or VIGIE_TEST_POSTGRES")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A command run as the cluster's owner: `postgres` via runuser when we are root.
fn as_owner(program: &Path, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Cluster {
    let t0 = Instant::now();
    let bin = bin_dir();
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("vigie-pg-")
        .tempdir_in("/tmp")
        .expect("a temporary folder")
        .keep();
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.arg("postgres:").arg(&dir);
                c
            },
            "chown",
        );
    }
    let data = dir.join("data");
    let port = super::smtp::free_port();

    // The watcher first, so a failure below still removes the folder.
    let pg_ctl = bin.join("pg_ctl");
    let stop = if root {
        format!(
            "runuser -u postgres -- '{}' -D '{}' -m immediate stop >/dev/null 2>&1",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "'{}' -D '{}' -m immediate stop >/dev/null 2>&1",
            pg_ctl.display(),
            data.display()
        )
    };
    // Never waited for: it outlives this process by design.
    #[allow(clippy::zombie_processes)]
    let mut watcher = Command::new("sh")
        .arg("-c")
        // Killed while initdb or pg_ctl start still ran, they may write after a first
        // removal: try again a few times.
        .arg(format!(
            "read _ignored; for i in 1 2 3 4 5; do {stop}; rm -rf '{d}'; [ -e '{d}' ] || break; sleep 1; done",
            d = dir.display()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the cluster's watcher");
    let watch = watcher.stdin.take().expect("the watcher's stdin");

    let mut initdb = as_owner(&bin.join("initdb"), root);
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    run(initdb, "initdb");
    let mut ctl = as_owner(&pg_ctl, root);
    ctl.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .arg("-w")
        .arg("-o")
        .arg(format!(
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -p {port} -c listen_addresses=127.0.0.1 -k {}",
            dir.display()
        ))
        .arg("start");
    run(ctl, "pg_ctl start");
    let c = Cluster {
        dir,
        port,
        _watch: Mutex::new(watch),
        started_in: t0.elapsed(),
    };
    let mut admin = postgres::Client::connect(&c.socket_url("postgres"), postgres::NoTls)
        .expect("connecting to the test cluster");
    admin
        .batch_execute(&format!(
            "CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD '{PASSWORD}'"
        ))
        .expect("the password role");
    // Keep the watcher's pipe open for the life of this process.
    let _ = c._watch.lock().map(|mut w| w.flush());
    c
}
