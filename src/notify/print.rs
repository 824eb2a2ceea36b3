//! Print-ready letters (`notify --channel letter --format pdf`): the letters gathered into
//! PDFs of `per_file` letters (1,000 by default) for a mailing house, each with its index
//! (`letters-000001.pdf` + `letters-000001.csv`: file, page, pages, key, postal code),
//! and `index.csv`, all the indexes of the campaign in order, rewritten at the end of a run.
//!
//! A batch is laid out and written on a worker thread; its people are recorded as sent
//! only once its PDF and then its index are in place (the index's rename is the commit).
//! A run killed before that leaves no index: its PDF, if renamed already, is an orphan
//! removed by the next run, which prints those letters again. A run killed after the
//! index but before the ledger is reconciled by the next run from the indexes on disk.
//! So every person is in exactly one index, whatever the crash. The index names people
//! by their pseudonymous key only, never by name.

use super::NotifyError;
use super::recipients::Recipient;
use crate::render::pdf::{Footer, LetterBatch, LetterPage};
use crate::time::Lang;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};

pub const LETTERS_PER_FILE: usize = 1000;
const INDEX_HEADER: &str = "file,page,pages,key,postal_code\n";

/// The address block of a person, line by line.
pub fn address_lines(r: &Recipient) -> Vec<String> {
    let mut lines = vec![r.display_name()];
    lines.extend(r.address.lines().map(|l| l.trim().to_string()));
    lines.push(format!("{} {}", r.postal_code, r.city).trim().to_string());
    lines.push(r.country.clone());
    lines.retain(|l| !l.trim().is_empty());
    lines
}

/// One letter waiting for its batch.
pub struct Job {
    pub person: String,
    pub mid: String,
    pub postal_code: String,
    pub address: Vec<String>,
    pub lang: Lang,
    pub date: String,
    pub body: String,
}

/// What every letter of the run shares.
pub struct Shared {
    pub sender: Vec<String>,
    pub footer: Footer,
}

type Done = (Vec<(String, String)>, Result<(), String>);

pub struct Printer {
    dir: PathBuf,
    next: u64,
    per_file: usize,
    batch: Vec<Job>,
    jobs: Option<SyncSender<(u64, Vec<Job>)>>,
    done: Receiver<Done>,
    handles: Vec<std::thread::JoinHandle<()>>,
    in_flight: u64,
}

fn file_name(n: u64, ext: &str) -> String {
    format!("letters-{n:06}.{ext}")
}

fn number(name: &str, ext: &str) -> Option<u64> {
    name.strip_prefix("letters-")?
        .strip_suffix(&format!(".{ext}"))?
        .parse()
        .ok()
}

/// The indexes in `dir`, by number.
fn indexes(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(n) = number(&name, "csv") {
            out.push((n, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn runtime(path: &Path, e: impl std::fmt::Display) -> NotifyError {
    NotifyError::Runtime(format!("{}: {e}", path.display()))
}

impl Printer {
    /// Opens the campaign's folder: removes what a killed run left unfinished (temporary
    /// files, a PDF without its index) and returns the keys of the people already in an
    /// index, for the caller to record as sent.
    pub fn open(
        dir: PathBuf,
        per_file: usize,
        shared: Shared,
        threads: usize,
    ) -> Result<(Printer, Vec<String>), NotifyError> {
        crate::util::private::create_dir_all(&dir).map_err(|e| runtime(&dir, e))?;
        let idx = indexes(&dir).map_err(|e| runtime(&dir, e))?;
        let mut printed = Vec::new();
        for (_, path) in &idx {
            let text = std::fs::read_to_string(path).map_err(|e| runtime(path, e))?;
            for line in text.lines().skip(1) {
                if let Some(key) = line.split(',').nth(3) {
                    printed.push(key.to_string());
                }
            }
        }
        let mut last = idx.last().map(|(n, _)| *n).unwrap_or(0);
        for e in std::fs::read_dir(&dir).map_err(|e| runtime(&dir, e))? {
            let e = e.map_err(|e| runtime(&dir, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            let orphan = number(&name, "pdf").is_some_and(|n| !idx.iter().any(|(i, _)| *i == n));
            if name.ends_with(".tmp") || orphan {
                std::fs::remove_file(e.path()).map_err(|err| runtime(&e.path(), err))?;
            } else if let Some(n) = number(&name, "pdf") {
                last = last.max(n);
            }
        }
        let (jobs, queue) = sync_channel::<(u64, Vec<Job>)>(threads.max(1));
        let queue = Arc::new(Mutex::new(queue));
        let (done_tx, done) = channel::<Done>();
        let shared = Arc::new(shared);
        let handles = (0..threads.max(1))
            .map(|_| {
                let queue = queue.clone();
                let done_tx = done_tx.clone();
                let shared = shared.clone();
                let dir = dir.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((n, letters))) = job else {
                            return;
                        };
                        let r = write_batch(&dir, n, &letters, &shared);
                        let people = letters.into_iter().map(|j| (j.person, j.mid)).collect();
                        if done_tx.send((people, r)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Ok((
            Printer {
                dir,
                next: last + 1,
                per_file: per_file.max(1),
                batch: Vec::new(),
                jobs: Some(jobs),
                done,
                handles,
                in_flight: 0,
            },
            printed,
        ))
    }

    pub fn submit(&mut self, job: Job) -> Result<(), NotifyError> {
        self.batch.push(job);
        if self.batch.len() >= self.per_file {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), NotifyError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let n = self.next;
        self.next += 1;
        self.in_flight += 1;
        self.jobs
            .as_ref()
            .expect("open until finish")
            .send((n, std::mem::take(&mut self.batch)))
            .map_err(|_| NotifyError::Runtime("a PDF writer stopped".into()))
    }

    /// The people of the batches written so far, without waiting.
    pub fn drain(&mut self) -> Result<Vec<(String, String)>, NotifyError> {
        let mut out = Vec::new();
        while let Ok((people, r)) = self.done.try_recv() {
            self.in_flight -= 1;
            r.map_err(NotifyError::Runtime)?;
            out.extend(people);
        }
        Ok(out)
    }

    /// Writes the last batch, waits for every batch, writes `index.csv`; the people of
    /// the batches written since the last `drain`.
    pub fn finish(&mut self) -> Result<Vec<(String, String)>, NotifyError> {
        self.send()?;
        self.jobs = None;
        let mut out = Vec::new();
        let mut failed = None;
        while self.in_flight > 0 {
            match self.done.recv() {
                Ok((people, r)) => {
                    self.in_flight -= 1;
                    match r {
                        Ok(()) => out.extend(people),
                        Err(e) => failed = Some(e),
                    }
                }
                Err(_) => break,
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        if let Some(e) = failed {
            return Err(NotifyError::Runtime(e));
        }
        self.write_index()?;
        Ok(out)
    }

    /// `index.csv`: every batch's index, in order, under one header.
    fn write_index(&self) -> Result<(), NotifyError> {
        let mut all = String::from(INDEX_HEADER);
        for (_, path) in indexes(&self.dir).map_err(|e| runtime(&self.dir, e))? {
            let text = std::fs::read_to_string(&path).map_err(|e| runtime(&path, e))?;
            for line in text.lines().skip(1) {
                all.push_str(line);
                all.push('\n');
            }
        }
        let path = self.dir.join("index.csv");
        let tmp = self.dir.join("index.csv.tmp");
        crate::util::private::write(&tmp, all)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| runtime(&path, e))
    }
}

/// A postal code as a CSV field: quoted when it must be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Lays out one batch and puts its PDF, then its index, in place.
fn write_batch(dir: &Path, n: u64, letters: &[Job], shared: &Shared) -> Result<(), String> {
    let mut pdf = LetterBatch::new(shared.footer.clone());
    let pdf_name = file_name(n, "pdf");
    let mut index = String::with_capacity(INDEX_HEADER.len() + letters.len() * 100);
    index.push_str(INDEX_HEADER);
    for j in letters {
        let (page, pages) = pdf.add(&LetterPage {
            sender: &shared.sender,
            address: &j.address,
            date: &j.date,
            body: &j.body,
            lang: j.lang,
        });
        index.push_str(&format!(
            "{pdf_name},{page},{pages},{},{}\n",
            j.person,
            csv_field(&j.postal_code)
        ));
    }
    let bytes = pdf.finish().map_err(|e| format!("{pdf_name}: {e}"))?;
    let put = |name: &str, bytes: &[u8]| {
        let tmp = dir.join(format!("{name}.tmp"));
        crate::util::private::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, dir.join(name)))
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    put(&pdf_name, &bytes)?;
    put(&file_name(n, "csv"), index.as_bytes())
}
