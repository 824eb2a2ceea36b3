//! `vigie notify`: art. 34 notification of every person concerned, by e-mail or as a
//! printable letter, at the scale of millions, resumable without duplicates.
//!
//! The recipient file is streamed row by row. Each person is keyed in the ledger by a
//! keyed hash of their identifier (never their address). A rerun of the same campaign
//! skips everyone already sent; e-mails and letters written as files are named by that
//! key, so rewriting one after a crash leaves no duplicate; over SMTP, at most the
//! messages in flight at a crash (the concurrency) go out twice, with the same Message-ID.
//!
//! A person sent by any campaign of the same case is skipped unless `resend_notified`.
//! A 5xx answer is final: the person is `refused`, listed in `refused.csv` for a letter,
//! never retried; a 4xx or a network error is `failed` and retried by a rerun.

mod batch;
mod campaign;
mod files;
pub mod letter;
mod lists;
pub mod print;
mod progress;
pub mod recipients;
pub mod refusal;

pub use progress::{Bar, Lines};

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::util::hash::hex;
use campaign::Campaign;
use recipients::Channel;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub struct Options {
    pub case_id: String,
    pub recipients: PathBuf,
    pub channel: Channel,
    pub dry_run: bool,
    pub concurrency: usize,
    pub limit: Option<u64>,
    pub new_campaign: bool,
    /// Send also to people already notified by another campaign of the case.
    pub resend_notified: bool,
    /// Letters as print-ready PDFs (`print`), not one text file per person.
    pub pdf: bool,
    /// Letters in each PDF (default `print::LETTERS_PER_FILE`).
    pub letters_per_file: usize,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct Outcome {
    pub campaign: i64,
    pub channel: String,
    pub sent: u64,
    pub rejected: u64,
    pub failed: u64,
    /// Refused for good by the mail server (5xx): to be notified by letter.
    pub refused: u64,
    /// Already notified, in this campaign or (unless --resend-notified) another of the case.
    pub skipped: u64,
    pub dry_run: bool,
    /// Where the rejected rows were written, if any.
    pub rejects: Option<String>,
    /// Where the refused people were listed (line, identifier, redacted refusal), if any.
    pub refused_list: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotifyError {
    /// True for what the caller can correct (a bad file, option or case).
    pub fn is_input(&self) -> bool {
        match self {
            NotifyError::Input(_) => true,
            NotifyError::Runtime(_) => false,
            NotifyError::Store(e) => e.is_input(),
        }
    }
}

/// What a progress display is told.
pub trait Progress {
    fn start(&mut self, total_rows: u64);
    fn tick(&mut self, done: u64, sent: u64);
    fn finish(&mut self);
}

/// SHA-256 of the file and its number of lines, in one streaming pass.
fn fingerprint(path: &Path) -> std::io::Result<(String, u64)> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finalize()), lines))
}

/// Runs (or resumes) the campaign of `opts.case_id` for `opts.channel`.
pub fn run(
    store: &mut Store,
    cfg: &Config,
    profile: &crate::org::Profile,
    org: &str,
    opts: &Options,
    actor: &str,
    progress: &mut dyn Progress,
) -> Result<Outcome, NotifyError> {
    let mut campaign = Campaign::open(store, cfg, profile, org, opts)?;
    campaign.resume()?;
    campaign.stream(progress)?;
    campaign.finish(actor, progress)
}
