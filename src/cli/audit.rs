//! `vigie audit verify`: every hash chain of the register, recomputed, and optionally
//! compared with a checkpoint kept outside the database. `vigie audit checkpoint`
//! writes one (signed with `audit.signing_key`, stamped by a TSA with `--tsa` or
//! `audit.tsa.url`); `audit stamp` stamps one afterwards; `audit verify-checkpoint`
//! checks a file's signature and stamp without any database; `audit keygen` makes the
//! signing key.

use super::{CliError, Ctx, print_json};
use crate::app::proof;
use crate::store::checkpoint;
use clap::Subcommand;
use std::path::{Path, PathBuf};

/// Exit code of `audit checkpoint` / `audit stamp` when the checkpoint is written but
/// the TSA could not stamp it (down, refused, a bad reply): a script can retry the
/// stamp later with `audit stamp FILE`.
pub const EXIT_NOT_STAMPED: i32 = 3;

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Recompute every hash chain; exit 1 naming each altered case and event.
    Verify {
        #[arg(long)]
        json: bool,
        /// Also compare with a checkpoint written earlier by `audit checkpoint`: names
        /// each case removed, truncated or rewritten since. Its signature (with --key or
        /// audit.signing_key) and its stamp FILE.tsr (with --tsa-ca or
        /// audit.tsa.ca_file) are verified too.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The verifier key (NAME+ID+BASE64, or a file holding it).
        #[arg(long, requires = "checkpoint")]
        key: Option<String>,
        /// The TSA's CA certificates (PEM), for the stamp FILE.tsr.
        #[arg(long, requires = "checkpoint")]
        tsa_ca: Option<PathBuf>,
    },
    /// Write a checkpoint of every case (event counts and head hashes, self-hashed), to
    /// keep outside the database; signed with audit.signing_key, stamped by the TSA.
    Checkpoint {
        #[arg(long)]
        out: Option<PathBuf>,
        /// A time-stamping authority (RFC 3161) to stamp it (default audit.tsa.url):
        /// the token is written beside it, FILE.tsr (and the query, FILE.tsq). A TSA
        /// that does not answer: the checkpoint is still written, exit 3.
        #[arg(long, requires = "out")]
        tsa: Option<String>,
    },
    /// Stamp a checkpoint file written earlier (after a TSA was down): FILE.tsr beside
    /// it. Exit 3 when the TSA does not stamp it.
    Stamp {
        file: PathBuf,
        /// Default audit.tsa.url.
        #[arg(long)]
        tsa: Option<String>,
    },
    /// Check a checkpoint file alone, without any database: its own hash and root, its
    /// signature with the verifier key, and its stamp FILE.tsr against the TSA's CA.
    VerifyCheckpoint {
        file: PathBuf,
        /// The verifier key (NAME+ID+BASE64 as `audit keygen` prints it, or a file).
        #[arg(long)]
        key: String,
        /// The TSA's CA certificates (PEM); required when FILE.tsr is there.
        #[arg(long)]
        tsa_ca: Option<PathBuf>,
    },
    /// Make an Ed25519 key to sign checkpoints (audit.signing_key); prints the verifier
    /// key to give auditors.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        /// The key's name, the origin line of each signed checkpoint.
        #[arg(long, default_value = "vigie")]
        name: String,
    },
}

pub(super) fn run(ctx: &Ctx, cmd: AuditCmd) -> Result<(), CliError> {
    match cmd {
        AuditCmd::Checkpoint { out, tsa } => write_checkpoint(ctx, out, tsa),
        AuditCmd::Stamp { file, tsa } => {
            let url = tsa_url(ctx, tsa).ok_or_else(|| {
                CliError::input("no TSA: give --tsa URL or set audit.tsa.url".to_string())
            })?;
            let (_, text) = checkpoint::read_file_text(&file).map_err(CliError::input)?;
            stamp_file(ctx, &url, &file, text.as_bytes())
        }
        AuditCmd::VerifyCheckpoint { file, key, tsa_ca } => {
            let key = proof::verifier_of(&key).map_err(CliError::input)?;
            let required = tsa_ca.is_some();
            let ca = tsa_ca.or_else(|| ca_file(ctx));
            let found = proof::verify_file(&file, Some(&key), ca.as_deref(), required, ctx.now)
                .map_err(CliError::input)?;
            for l in &found.lines {
                say!("{l}");
            }
            Ok(())
        }
        AuditCmd::Keygen { out, name } => {
            let verifier = proof::keygen(&out, &name).map_err(CliError::input)?;
            say!("{verifier}");
            eprintln!(
                "signing key written to {} (keep it secret; set audit.signing_key to it); give auditors the verifier key above",
                out.display()
            );
            Ok(())
        }
        AuditCmd::Verify {
            json,
            checkpoint,
            key,
            tsa_ca,
        } => verify(ctx, json, checkpoint, key, tsa_ca),
    }
}

fn tsa_url(ctx: &Ctx, given: Option<String>) -> Option<String> {
    given.or_else(|| ctx.config.audit.tsa.as_ref().map(|t| t.url.clone()))
}

fn ca_file(ctx: &Ctx) -> Option<PathBuf> {
    ctx.config
        .audit
        .tsa
        .as_ref()
        .and_then(|t| t.ca_file.clone())
}

fn write_checkpoint(ctx: &Ctx, out: Option<PathBuf>, tsa: Option<String>) -> Result<(), CliError> {
    let mut store = ctx.store()?;
    let cp = checkpoint::checkpoint(&mut store, ctx.now)?;
    drop(store);
    let (text, _) = proof::checkpoint_text(&cp, &ctx.config.audit).map_err(CliError::input)?;
    let Some(path) = out else {
        say_raw!("{text}");
        return Ok(());
    };
    super::write_atomic(&path, &text)?;
    say!(
        "checkpoint of {} cases, {} events written to {} (root {}…): keep it outside this database",
        cp.cases.len(),
        cp.events(),
        path.display(),
        &cp.root()[..12]
    );
    match tsa_url(ctx, tsa) {
        Some(url) => stamp_file(ctx, &url, &path, text.as_bytes()),
        None => Ok(()),
    }
}

/// Stamps a checkpoint already written; the checkpoint stays whatever the TSA does.
fn stamp_file(ctx: &Ctx, url: &str, path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    match proof::stamp(url, ca_file(ctx).as_deref(), bytes, ctx.now) {
        Ok(s) => {
            proof::write_stamp(path, &s).map_err(CliError::runtime)?;
            let (tsr, _) = proof::stamp_paths(path);
            match &s.proven {
                Some(p) => say!("time-stamped: {} ({})", p.line(), tsr.display()),
                None => say!(
                    "time-stamped by {url} at {} UTC ({}; not verified: no audit.tsa.ca_file)",
                    s.at.format("%Y-%m-%d %H:%M:%S"),
                    tsr.display()
                ),
            }
            Ok(())
        }
        Err(e) => Err(CliError {
            code: EXIT_NOT_STAMPED,
            message: format!(
                "{} is written but not time-stamped: {e}; stamp it later with `vigie audit stamp {}`",
                path.display(),
                path.display()
            ),
        }),
    }
}

fn verify(
    ctx: &Ctx,
    json: bool,
    checkpoint: Option<PathBuf>,
    key: Option<String>,
    tsa_ca: Option<PathBuf>,
) -> Result<(), CliError> {
    let mut store = ctx.store()?;
    let anchor = match &checkpoint {
        None => None,
        Some(path) => {
            let key = match (&key, &ctx.config.audit.signing_key) {
                (Some(k), _) => Some(proof::verifier_of(k).map_err(CliError::input)?),
                (None, Some(p)) => {
                    let s = proof::load_signer(p).map_err(CliError::input)?;
                    Some(
                        crate::proof::note::Verifier::parse(&s.verifier())
                            .map_err(CliError::input)?,
                    )
                }
                (None, None) => None,
            };
            let required = tsa_ca.is_some();
            let ca = tsa_ca.or_else(|| ca_file(ctx));
            let found = proof::verify_file(path, key.as_ref(), ca.as_deref(), required, ctx.now)
                .map_err(CliError::input)?;
            let cp = found.checkpoint;
            if let Some(org) = cp.org.as_deref().filter(|o| *o != ctx.org) {
                return Err(CliError::input(format!(
                    "checkpoint {}: it is organisation {org}'s, not {}'s: use --org {org}",
                    path.display(),
                    ctx.org
                )));
            }
            Some((cp, found.lines))
        }
    };
    let (cases, events, mut problems) = store.verify()?;
    if let Some((cp, _)) = &anchor {
        problems.extend(checkpoint::verify_against(&mut store, cp)?);
    }
    if json {
        print_json(&serde_json::json!({"cases": cases, "events": events, "problems": problems}));
    }
    if problems.is_empty() {
        if !json {
            say!("register intact: {cases} cases, {events} events, every hash chain verified");
            if let Some((cp, lines)) = &anchor {
                say!(
                    "and every case of the checkpoint of {} is still there, unchanged ({} cases)",
                    cp.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    cp.cases.len()
                );
                for l in &lines[1..] {
                    say!("{l}");
                }
            }
        }
        Ok(())
    } else {
        if !json {
            for p in &problems {
                let line = format!("case {} event #{}: {}", p.case, p.seq, p.problem);
                eprintln!("{}", crate::util::one_line(&line));
            }
        }
        Err(CliError::runtime(format!(
            "register altered: {} problem(s), first: case {} event #{}",
            problems.len(),
            problems[0].case,
            problems[0].seq
        )))
    }
}
