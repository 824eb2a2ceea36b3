//! A `vigie serve` child owned by a guard that SIGKILLs it on drop (a failing test leaves
//! no process behind), signals by pid, and what its log states.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, ExitStatus};
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

/// A running `vigie serve`, SIGKILLed when dropped.
pub struct Serve {
    child: Option<Child>,
}

impl Serve {
    pub fn new(child: Child) -> Serve {
        Serve { child: Some(child) }
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
