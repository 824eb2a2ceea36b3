//! The files a campaign writes: one per person, in shards, by writer threads.

use super::batch::Batch;
use super::recipients::Recipient;
use super::{NotifyError, Outcome};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The folder a person's file goes in: 4,096 shards, never millions of files in one.
pub(super) fn shard(root: &Path, campaign: i64, person: &str) -> PathBuf {
    root.join(format!("campaign-{campaign}")).join(&person[..3])
}

fn write_atomic(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    made: &mut HashSet<PathBuf>,
) -> std::io::Result<()> {
    if !made.contains(dir) {
        crate::util::private::create_dir_all(dir)?;
        made.insert(dir.to_path_buf());
    }
    let tmp = dir.join(format!(".{name}.tmp"));
    crate::util::private::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// File writers on their own threads: creating a million small files is bound by the
/// file system's metadata operations, which overlap well across threads. A row is
/// recorded as sent only once its file is written.
/// A file to write: folder, name, bytes, and the person and Message-ID to record.
type WriteJob = (PathBuf, String, Vec<u8>, String, String);

pub(super) struct Writers {
    jobs: Option<std::sync::mpsc::SyncSender<WriteJob>>,
    done: std::sync::mpsc::Receiver<(String, String, Result<(), String>)>,
    handles: Vec<std::thread::JoinHandle<()>>,
    in_flight: u64,
}

impl Writers {
    pub(super) fn new(threads: usize) -> Writers {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<WriteJob>(4096);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let (done_tx, done) = std::sync::mpsc::channel();
        let handles = (0..threads)
            .map(|_| {
                let queue = queue.clone();
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    let mut made = HashSet::new();
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((dir, name, bytes, person, mid))) = job else {
                            return;
                        };
                        let r = write_atomic(&dir, &name, &bytes, &mut made)
                            .map_err(|e| format!("{}: {e}", dir.display()));
                        if done_tx.send((person, mid, r)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Writers {
            jobs: Some(jobs),
            done,
            handles,
            in_flight: 0,
        }
    }

    pub(super) fn submit(
        &mut self,
        dir: PathBuf,
        name: String,
        bytes: Vec<u8>,
        person: String,
        mid: String,
    ) -> Result<(), NotifyError> {
        self.in_flight += 1;
        self.jobs
            .as_ref()
            .expect("open until finish")
            .send((dir, name, bytes, person, mid))
            .map_err(|_| NotifyError::Runtime("a file writer stopped".into()))
    }

    fn record(
        &mut self,
        item: (String, String, Result<(), String>),
        batch: &mut Batch,
        out: &mut Outcome,
    ) -> Result<(), NotifyError> {
        self.in_flight -= 1;
        let (person, mid, r) = item;
        r.map_err(NotifyError::Runtime)?;
        batch.sent(person, mid)?;
        out.sent += 1;
        Ok(())
    }

    /// Records what is written so far, without waiting.
    pub(super) fn drain(
        &mut self,
        batch: &mut Batch,
        out: &mut Outcome,
    ) -> Result<(), NotifyError> {
        while let Ok(item) = self.done.try_recv() {
            self.record(item, batch, out)?;
        }
        Ok(())
    }

    /// Waits for every file, then records them.
    pub(super) fn finish(
        &mut self,
        batch: &mut Batch,
        out: &mut Outcome,
    ) -> Result<(), NotifyError> {
        self.jobs = None;
        while self.in_flight > 0 {
            match self.done.recv() {
                Ok(item) => self.record(item, batch, out)?,
                Err(_) => break,
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        Ok(())
    }
}

pub(super) fn letter_file(r: &Recipient, org: &str, text: &str, date: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    out.push_str(org);
    out.push_str("\n\n");
    for line in [
        r.display_name(),
        r.address.clone(),
        format!("{} {}", r.postal_code, r.city).trim().to_string(),
        r.country.clone(),
    ] {
        if !line.is_empty() {
            out.push_str("                                        ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push('\n');
    out.push_str(date);
    out.push_str("\n\n");
    out.push_str(text);
    out
}
