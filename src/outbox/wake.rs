//! Waking the reminder dispatcher: a datagram on `<db>.wake`, sent after every write that
//! may change a timer, from any process (CLI, web, another dispatcher). Silent when no
//! dispatcher listens; the dispatcher also looks at the database at least every minute.

use std::path::{Path, PathBuf};

/// The wake-up socket beside a database.
pub fn wake_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(".wake");
    PathBuf::from(p)
}

/// Tells a running dispatcher that timers changed.
pub fn poke(db: &Path) {
    #[cfg(unix)]
    if let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() {
        let _ = sock.send_to(b"!", wake_path(db));
    }
}
