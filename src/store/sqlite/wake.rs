//! Waking the reminder dispatchers of a SQLite file: a datagram on `<db>.wake`, sent
//! after every write that may change a timer, from any process (CLI, web, another
//! dispatcher). Silent when no dispatcher listens; a dispatcher also looks at the
//! database at least every `--idle-check-secs`.
//!
//! One socket per file: the first dispatcher binds it; another one on the same file
//! (several instances are allowed) finds it answered and keeps to its idle check rather
//! than taking the socket away from the first.

use super::Sqlite;
use crate::store::backend::{Wake, WakeListener};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// The wake-up socket beside a database.
pub fn wake_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".wake");
    PathBuf::from(p)
}

/// Tells a running dispatcher that timers changed.
pub fn poke(db: &Path) {
    if let Ok(sock) = UnixDatagram::unbound() {
        let _ = sock.send_to(b"!", wake_path(db));
    }
}

/// The socket, bound for this dispatcher; Err says why not (another one has it, or the
/// folder cannot hold it).
pub fn listener(db: &Path) -> Result<Box<dyn WakeListener>, String> {
    let path = wake_path(db);
    if path.exists() {
        // Answered: a live dispatcher holds it. Refused: left by one that died.
        let live = UnixDatagram::unbound()
            .and_then(|s| s.send_to(b"!", &path))
            .is_ok();
        if live {
            return Err(format!("{} is held by another dispatcher", path.display()));
        }
        let _ = std::fs::remove_file(&path);
    }
    let sock = UnixDatagram::bind(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Box::new(Socket { sock, path }))
}

struct Socket {
    sock: UnixDatagram,
    path: PathBuf,
}

impl WakeListener for Socket {
    fn wait(&mut self, timeout: std::time::Duration) -> bool {
        let _ = self
            .sock
            .set_read_timeout(Some(timeout.max(std::time::Duration::from_millis(1))));
        let mut buf = [0u8; 64];
        let poked = self.sock.recv(&mut buf).is_ok();
        // Several pokes in a burst are one wake-up.
        let _ = self.sock.set_nonblocking(true);
        while self.sock.recv(&mut buf).is_ok() {}
        let _ = self.sock.set_nonblocking(false);
        poked
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Wake for Sqlite {
    fn poke(&mut self) {
        poke(&self.path);
    }
}
