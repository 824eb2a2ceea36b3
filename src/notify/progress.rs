//! Progress displays: a bar on a terminal, a plain line every few seconds elsewhere.

use super::Progress;
use std::io::Write;

/// Progress on a terminal: a bar with rate and ETA.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new() -> Bar {
        Bar(None)
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&mut self, total: u64) {
        let pb = indicatif::ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        self.0 = Some(pb);
    }
    fn tick(&mut self, done: u64, sent: u64) {
        if let Some(pb) = &self.0 {
            pb.set_position(done);
            pb.set_message(format!("{sent} sent"));
        }
    }
    fn finish(&mut self) {
        if let Some(pb) = &self.0 {
            pb.finish_and_clear();
        }
    }
}

/// Progress elsewhere: a plain line every few seconds.
pub struct Lines {
    total: u64,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl Lines {
    pub fn new() -> Lines {
        let now = std::time::Instant::now();
        Lines {
            total: 0,
            started: now,
            last: now,
        }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Lines::new()
    }
}

impl Progress for Lines {
    fn start(&mut self, total: u64) {
        self.total = total;
    }
    fn tick(&mut self, done: u64, sent: u64) {
        if self.last.elapsed().as_secs() >= 5 {
            self.last = std::time::Instant::now();
            let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            let _ = writeln!(
                std::io::stderr(),
                "vigie notify: {done}/{} rows, {sent} sent, {rate:.0} rows/s",
                self.total
            );
        }
    }
    fn finish(&mut self) {}
}
