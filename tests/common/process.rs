//! `vigie serve` as the tests start it: one builder ([`Vigie::serve`]:
//! `v.serve().listen(..).config(..).env(..).spawn()`) and one guard, [`Serve`], that
//! SIGKILLs the child on drop (a failing test leaves no process behind), signals it by
//! pid, gives its address and reads its log.
#![allow(dead_code)]

use super::Vigie;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a stopping `vigie serve` may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// Sends a signal to a child by pid (std only knows SIGKILL).
pub fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .expect("kill runs");
    assert!(st.success(), "kill -{sig} {pid} failed");
}

/// Waits for a child with a deadline; None when it is still running at the deadline.
pub fn wait_deadline(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How `vigie serve` is started: built by [`Vigie::serve`] (or [`ServeBuilder::on`] for a
/// database a test names itself), started by [`ServeBuilder::spawn`].
pub struct ServeBuilder {
    command: Command,
    config: Option<PathBuf>,
    args: Vec<OsString>,
    log: PathBuf,
}

impl Vigie {
    /// `vigie serve` on this database, its output (stdout and stderr) in `serve.log` of
    /// the test's folder.
    pub fn serve(&self) -> ServeBuilder {
        ServeBuilder::on(self.command(), self.dir().join("serve.log"))
    }
}

impl ServeBuilder {
    /// `vigie serve` run by `command` (the binary and its database: `common::command_on`),
    /// its output in `log`.
    pub fn on(command: Command, log: impl Into<PathBuf>) -> ServeBuilder {
        ServeBuilder {
            command,
            config: None,
            args: Vec::new(),
            log: log.into(),
        }
    }

    /// `--listen ADDR`: `127.0.0.1:0` for a random port (then [`Serve::url`]), `none`
    /// for the dispatcher alone.
    pub fn listen(self, addr: &str) -> ServeBuilder {
        self.args(&["--listen", addr])
    }

    /// `--config FILE`.
    pub fn config(mut self, path: impl AsRef<Path>) -> ServeBuilder {
        self.config = Some(path.as_ref().to_path_buf());
        self
    }

    /// More arguments of `serve` (`--idle-check-secs 1`, say).
    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: &[S]) -> ServeBuilder {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// An environment variable (`VIGIE_NOW_OFFSET`, say).
    pub fn env(mut self, key: &str, value: &str) -> ServeBuilder {
        self.command.env(key, value);
        self
    }

    /// Runs in `folder` (a new user's folder: its `./outbox` is there).
    pub fn in_dir(mut self, folder: impl AsRef<Path>) -> ServeBuilder {
        self.command.current_dir(folder);
        self
    }

    /// The log file, instead of the default.
    pub fn log(mut self, path: impl Into<PathBuf>) -> ServeBuilder {
        self.log = path.into();
        self
    }

    /// Starts it; the guard kills it when dropped.
    pub fn spawn(mut self) -> Serve {
        let file = std::fs::File::create(&self.log).expect("serve log");
        if let Some(cfg) = &self.config {
            self.command.arg("--config").arg(cfg);
        }
        let child = self
            .command
            .arg("serve")
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("vigie serve starts");
        Serve {
            child: Some(child),
            log: Some(self.log),
            url: None,
        }
    }
}

/// A running `vigie serve` (or another child of the binary), SIGKILLed when dropped.
pub struct Serve {
    child: Option<Child>,
    log: Option<PathBuf>,
    url: Option<String>,
}

impl Serve {
    /// Guards a child started otherwise (`vigie notify`, say).
    pub fn new(child: Child) -> Serve {
        Serve {
            child: Some(child),
            log: None,
            url: None,
        }
    }

    /// Where the web page and API listen (`http://127.0.0.1:PORT`), as its log states:
    /// waits for that line; panics if it exits first or stays silent 20 s.
    pub fn url(&mut self) -> String {
        if self.url.is_none() {
            let log = self.log.clone().expect("a serve started by the builder");
            self.url = Some(super::web::listening_at(self.child(), &log));
        }
        self.url.clone().expect("set above")
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        self.log.as_deref().expect("a serve started by the builder")
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("serve is running")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("serve is running").id()
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; the exit status (None if it did not stop before the deadline).
    pub fn term(&mut self) -> Option<ExitStatus> {
        signal(self.pid(), "TERM");
        self.wait_exit(DEADLINE)
    }

    /// Waits for it to exit by itself (reaped then); None if still running at `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let st = wait_deadline(self.child.as_mut().expect("serve is running"), limit);
        if st.is_some() {
            self.child = None;
        }
        st
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The bound the dispatcher states in its log: "at most N in flight".
pub fn in_flight_bound(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.split("at most ")
        .nth(1)
        .and_then(|t| t.split(" in flight").next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'at most N in flight' in the serve log:\n{text}"))
}
