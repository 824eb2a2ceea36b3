//! Wake-ups on PostgreSQL: `NOTIFY vigie_wake`, and the connection that listens for it.

use super::{Postgres, config};
use crate::store::backend::{Wake, WakeListener};
use postgres::{Client, NoTls};
use std::time::Duration as StdDuration;

/// A dedicated connection that waits for `NOTIFY vigie_wake`. It connects when first
/// asked to wait, and again after losing its connection; while the server cannot be
/// reached, `wait` sleeps its timeout and says it was not poked.
pub fn listener(url: &str) -> Box<dyn WakeListener> {
    Box::new(Listener {
        url: url.to_string(),
        client: None,
    })
}

impl Wake for Postgres {
    fn poke(&mut self) {
        // A lost wake-up costs a dispatcher its next periodic look, nothing more.
        let _ = self.client.batch_execute("NOTIFY vigie_wake");
    }
}

struct Listener {
    url: String,
    client: Option<Client>,
}

impl Listener {
    fn connect(&mut self) -> bool {
        if self.client.is_some() {
            return true;
        }
        let Ok((config, _)) = config(&self.url) else {
            return false;
        };
        if let Ok(mut c) = config.connect(NoTls)
            && c.batch_execute("LISTEN vigie_wake").is_ok()
        {
            self.client = Some(c);
        }
        self.client.is_some()
    }
}

impl WakeListener for Listener {
    fn wait(&mut self, timeout: StdDuration) -> bool {
        if !self.connect() {
            std::thread::sleep(timeout);
            return false;
        }
        use postgres::fallible_iterator::FallibleIterator;
        let client = self.client.as_mut().expect("connected");
        let first = client.notifications().timeout_iter(timeout).next();
        match first {
            Ok(Some(_)) => {
                // Several pokes while we were busy are one wake-up.
                let mut notes = client.notifications();
                let mut more = notes.iter();
                while let Ok(Some(_)) = more.next() {}
                true
            }
            Ok(None) => false,
            Err(_) => {
                // Lost: connect again on the next wait.
                self.client = None;
                false
            }
        }
    }
}
