//! Checkpoints that hold outside vigie (issue 26), once for the CLI and `vigie serve`:
//! written as a signed note when `audit.signing_key` is set, stamped by a
//! time-stamping authority, and verified from the file alone.
//!
//! What is stamped: the SHA-256 of the checkpoint file's exact bytes, signature
//! included. The token is kept beside it as `FILE.tsr` (the TSA's reply, DER) with the
//! query `FILE.tsq`: the checkpoint is unchanged by its stamp, and anyone can check the
//! pair with OpenSSL alone (`openssl ts -verify -data FILE -in FILE.tsr -CAfile CA`).

use crate::config::Audit;
use crate::proof::note::{Signer, Verifier};
use crate::proof::{stamp, verify};
use crate::store::checkpoint::{self, Checkpoint};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A token obtained for a checkpoint.
#[derive(Clone, Debug)]
pub struct Stamped {
    pub query: Vec<u8>,
    pub reply: Vec<u8>,
    /// The TSA's time.
    pub at: DateTime<Utc>,
    /// The full verification, when the CAs are known.
    pub proven: Option<verify::Proven>,
}

/// Reads the signing key of `audit.signing_key`; one line naming the file.
pub fn load_signer(path: &Path) -> Result<Signer, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Signer::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The checkpoint's text as written: a signed note when a key is configured, with the
/// verifier key of that signature.
pub fn checkpoint_text(cp: &Checkpoint, audit: &Audit) -> Result<(String, Option<String>), String> {
    match &audit.signing_key {
        None => Ok((cp.to_text(), None)),
        Some(p) => {
            let key = load_signer(p)?;
            Ok((cp.to_signed(&key), Some(key.verifier())))
        }
    }
}

/// A new key named `name`, written to `out` (never over an existing file, readable by
/// its owner only); returns the verifier key to publish.
pub fn keygen(out: &Path, name: &str) -> Result<String, String> {
    use std::io::Write as _;
    let signer = Signer::generate(name)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    f.write_all(format!("{}\n", signer.encode()).as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(signer.verifier())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Runs `f` to completion: on the current runtime from a blocking thread (`vigie
/// serve`'s checkpoint job), or on a small one of its own (the CLI).
fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) => Ok(h.block_on(f)),
        Err(_) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            Ok(rt.block_on(f))
        }
    }
}

/// Asks the TSA at `url` for a token over `bytes`. Never called inside a case
/// command's transaction: a TSA that is slow or down delays nothing but the stamp.
pub fn stamp(
    url: &str,
    ca_file: Option<&Path>,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Result<Stamped, String> {
    let sha = sha256(bytes);
    let q = stamp::query(&sha);
    let reply = block_on(stamp::post(url, &q.der))??;
    let at = stamp::accept(&reply, &q, &sha).map_err(|e| format!("TSA {url}: {e}"))?;
    let proven = match ca_file {
        None => None,
        Some(ca) => {
            let cas = crate::proof::read_cas(ca)?;
            Some(verify::verify(&reply, &sha, &cas, now).map_err(|e| format!("TSA {url}: {e}"))?)
        }
    };
    Ok(Stamped {
        query: q.der,
        reply,
        at,
        proven,
    })
}

/// `FILE.tsr` and `FILE.tsq`, beside the checkpoint.
pub fn stamp_paths(file: &Path) -> (PathBuf, PathBuf) {
    let mut tsr = file.as_os_str().to_owned();
    tsr.push(".tsr");
    let mut tsq = file.as_os_str().to_owned();
    tsq.push(".tsq");
    (PathBuf::from(tsr), PathBuf::from(tsq))
}

/// Writes a stamp beside its checkpoint.
pub fn write_stamp(file: &Path, s: &Stamped) -> Result<(), String> {
    let (tsr, tsq) = stamp_paths(file);
    std::fs::write(&tsq, &s.query).map_err(|e| format!("{}: {e}", tsq.display()))?;
    std::fs::write(&tsr, &s.reply).map_err(|e| format!("{}: {e}", tsr.display()))
}

/// What a verification of a checkpoint file found: one line per proof.
#[derive(Debug)]
pub struct FileProof {
    pub checkpoint: Checkpoint,
    pub lines: Vec<String>,
}

/// The verifier key: given as `NAME+ID+BASE64`, or as a file holding it (or holding
/// the private key, whose verifier is then used).
pub fn verifier_of(given: &str) -> Result<Verifier, String> {
    if let Ok(v) = Verifier::parse(given) {
        return Ok(v);
    }
    let path = Path::new(given);
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "--key {}: neither a verifier key (NAME+ID+BASE64) nor a readable file ({e})",
            crate::util::quote(given)
        )
    })?;
    if text.trim().starts_with("PRIVATE+KEY+") {
        let s = Signer::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return Verifier::parse(&s.verifier());
    }
    Verifier::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks a checkpoint file without the database: its own hash and root, its signature
/// when `key` is given, and its stamp `FILE.tsr` when there is one (against the CAs of
/// `ca_file`, required then; a missing stamp fails only when `stamp_required`, the CA
/// given on the command line). Each failure is one line naming the file.
pub fn verify_file(
    path: &Path,
    key: Option<&Verifier>,
    ca_file: Option<&Path>,
    stamp_required: bool,
    now: DateTime<Utc>,
) -> Result<FileProof, String> {
    let name = path.display().to_string();
    let (cp, text) = checkpoint::read_file_text(path)?;
    let mut lines = vec![format!(
        "checkpoint of {}: {} cases, {} events, root {}…; its own hash and root agree with its lines",
        cp.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        cp.cases.len(),
        cp.events(),
        &cp.root()[..12]
    )];
    let note = crate::proof::note::open(&text).and_then(Result::ok);
    match (&note, key) {
        (Some(n), Some(k)) => {
            n.verify(k).map_err(|e| format!("checkpoint {name}: {e}"))?;
            lines.push(format!("signed by {}: the signature verifies", k.short()));
        }
        (Some(n), None) => lines.push(format!(
            "signed by {} (signature not checked: give the verifier key with --key)",
            n.signers().join(", ")
        )),
        (None, Some(k)) => {
            return Err(format!(
                "checkpoint {name}: not signed, but a key was given ({}): a signed checkpoint was replaced by an unsigned one, or the wrong file",
                k.short()
            ));
        }
        (None, None) => {}
    }
    let (tsr, tsq) = stamp_paths(path);
    match (tsr.exists(), ca_file) {
        (false, Some(_)) if stamp_required => {
            return Err(format!(
                "checkpoint {name}: no stamp {} beside it",
                tsr.display()
            ));
        }
        (false, _) => lines.push(format!("not time-stamped (no {})", tsr.display())),
        (true, None) => {
            return Err(format!(
                "stamp {}: cannot be checked without the TSA's CA certificates: give --tsa-ca FILE (or audit.tsa.ca_file)",
                tsr.display()
            ));
        }
        (true, Some(ca)) => lines.extend(verify_stamp(&cp, text.as_bytes(), &tsr, &tsq, ca, now)?),
    }
    Ok(FileProof {
        checkpoint: cp,
        lines,
    })
}

fn verify_stamp(
    cp: &Checkpoint,
    bytes: &[u8],
    tsr: &Path,
    tsq: &Path,
    ca: &Path,
    now: DateTime<Utc>,
) -> Result<Vec<String>, String> {
    let name = tsr.display();
    let reply = std::fs::read(tsr).map_err(|e| format!("stamp {name}: {e}"))?;
    let cas = crate::proof::read_cas(ca)?;
    let proven = verify::verify(&reply, &sha256(bytes), &cas, now)
        .map_err(|e| format!("stamp {name}: {e}"))?;
    // The checkpoint's own time cannot be later than the stamp: a stamp older than it
    // belongs to an earlier text.
    if proven.before + Duration::minutes(10) < cp.at {
        return Err(format!(
            "stamp {name}: its time {} is before the checkpoint's own time {}",
            proven.gen_time.to_rfc3339_opts(SecondsFormat::Secs, true),
            cp.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    let mut lines = vec![format!(
        "{}; chain to {} verified",
        proven.line(),
        ca.display()
    )];
    if tsq.exists() {
        let q = std::fs::read(tsq).map_err(|e| format!("query {}: {e}", tsq.display()))?;
        let asked =
            stamp::nonce_of_query(&q).map_err(|e| format!("query {}: {e}", tsq.display()))?;
        if proven.nonce.as_deref() != Some(asked.as_slice()) {
            return Err(format!(
                "stamp {name}: its nonce is not the one of the query {}: the token answers another query",
                tsq.display()
            ));
        }
        lines.push(format!(
            "the token answers the query {} (same nonce)",
            tsq.display()
        ));
    }
    Ok(lines)
}
