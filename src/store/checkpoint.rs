//! Checkpoints: an anchor for the register outside the database file.
//!
//! Nothing inside one SQLite file can prove that the file is complete: whoever holds it
//! can drop the append-only triggers, delete a case's last events or a whole case, or
//! rewrite a log and recompute every hash. A checkpoint is a small text listing, for
//! every case, its number of events and the hash at the head of its chain, with a root
//! hash over them and the time. Kept elsewhere (sent to the DPO, printed, archived), it
//! lets `audit verify --checkpoint` name each case removed, truncated or rewritten since,
//! while cases opened or grown since are accepted (their first events must still hash to
//! the checkpointed head).
//!
//! The text ends with its own SHA-256, so an edit of the file shows. That hash protects
//! against mistakes, not against a forger who rewrites both: the protection is that a
//! copy sits where the database's holder cannot reach it, or a signature
//! ([`Checkpoint::to_signed`]: a C2SP signed note whose text carries the checkpoint's
//! lines after the origin, tree size and root hash), or a time-stamp (`crate::proof`).

use super::{AuditProblem, Store, StoreError};
use crate::case::event::{chain_hash, genesis_hash};
use crate::util::hash::{hex, sha256_hex};
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const MAGIC: &str = "vigie checkpoint v1";

/// One case as the checkpoint saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointCase {
    pub org: String,
    pub case: String,
    /// The number of events in its log.
    pub events: i64,
    /// The chain hash of its last event, recomputed from the events' content.
    pub head: String,
}

/// What the register held at a moment: every case (of one organisation, or of all).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub at: DateTime<Utc>,
    /// `Some(org)`: the cases of that organisation only.
    pub org: Option<String>,
    /// Sorted by organisation, then case id.
    pub cases: Vec<CheckpointCase>,
}

/// Why a checkpoint file cannot be used. One line, naming the line of the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckpointError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error(
        "its content does not match its own hash (self {stated}…, content {actual}…): the file was edited"
    )]
    SelfHash { stated: String, actual: String },
    #[error("its root hash does not match its cases: the file was edited")]
    Root,
}

/// A checkpoint of every organisation's cases.
pub fn checkpoint(store: &mut Store, now: DateTime<Utc>) -> Result<Checkpoint, StoreError> {
    build(store, None, now)
}

/// A checkpoint of one organisation's cases only: what its DPO may receive.
pub fn checkpoint_of(
    store: &mut Store,
    org: &str,
    now: DateTime<Utc>,
) -> Result<Checkpoint, StoreError> {
    build(store, Some(org), now)
}

fn build(
    store: &mut Store,
    org: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Checkpoint, StoreError> {
    let ids: Vec<(String, String)> = store
        .backend()
        .heads(org)?
        .into_iter()
        .map(|h| (h.org, h.id))
        .collect();
    let mut cases = Vec::with_capacity(ids.len());
    for (org, case) in ids {
        let (events, head) = head_of(store, &org, &case, None)?;
        cases.push(CheckpointCase {
            org,
            case,
            events,
            head,
        });
    }
    // A checkpoint is written to be compared later: second precision is enough, and the
    // text then reads back to the same value.
    let at = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    Ok(Checkpoint {
        at,
        org: org.map(str::to_string),
        cases,
    })
}

/// The number of events of a case's log (at most `limit`) and the chain hash after
/// them, recomputed from each event's stored content (never from its stored hash) and
/// following the sequence numbers from 1: a gap ends the walk.
fn head_of(
    store: &mut Store,
    org: &str,
    case: &str,
    limit: Option<i64>,
) -> Result<(i64, String), StoreError> {
    let rows = store.backend().events(org, case, limit)?;
    let mut head = genesis_hash(org, case);
    let mut n = 0;
    for r in rows {
        if r.seq != n + 1 {
            break;
        }
        head = chain_hash(
            org,
            case,
            r.seq,
            &r.at,
            &r.recorded_at,
            &r.actor,
            &r.kind,
            &r.payload,
            &head,
        );
        n = r.seq;
    }
    Ok((n, head))
}

/// Compares the store with a checkpoint taken earlier: each checkpointed case must still
/// exist, hold at least as many events, and its first events must hash to the
/// checkpointed head. Cases added or grown since are fine.
pub fn verify_against(store: &mut Store, cp: &Checkpoint) -> Result<Vec<AuditProblem>, StoreError> {
    let mut problems = Vec::new();
    let when = cp.at.to_rfc3339_opts(SecondsFormat::Secs, true);
    for c in &cp.cases {
        let exists = store.exists(&c.org, &c.case)?
            || !store.backend().events(&c.org, &c.case, None)?.is_empty();
        let (n, head) = head_of(store, &c.org, &c.case, Some(c.events))?;
        let problem = if !exists {
            format!(
                "removed: the checkpoint of {when} lists it with {} events, the register no longer has it",
                c.events
            )
        } else if n < c.events {
            format!(
                "truncated: the checkpoint of {when} lists {} events, the log now holds {n} in sequence",
                c.events
            )
        } else if head != c.head {
            format!(
                "rewritten: its first {} events no longer hash to the head in the checkpoint of {when}",
                c.events
            )
        } else {
            continue;
        };
        problems.push(AuditProblem {
            case: c.case.clone(),
            seq: (n + 1).min(c.events),
            problem,
        });
    }
    Ok(problems)
}

impl Checkpoint {
    /// The root hash: SHA-256 over every case line, in order.
    pub fn root(&self) -> String {
        hex(&self.root_bytes())
    }

    /// The root hash's bytes.
    pub fn root_bytes(&self) -> Vec<u8> {
        let mut h = Sha256::new();
        for c in &self.cases {
            h.update(case_line(c).as_bytes());
            h.update(b"\n");
        }
        h.finalize().to_vec()
    }

    /// The checkpoint as a C2SP signed note (tlog-checkpoint layout): the origin (the
    /// key's name), the tree size (the number of events), the root hash in base64, then
    /// the whole `vigie checkpoint v1` text as extension lines, a blank line and the
    /// signature. Read back by [`Checkpoint::parse`].
    pub fn to_signed(&self, key: &crate::proof::note::Signer) -> String {
        use base64::Engine as _;
        let root = base64::engine::general_purpose::STANDARD.encode(self.root_bytes());
        let body = format!(
            "{}\n{}\n{root}\n{}",
            key.name(),
            self.events(),
            self.to_text()
        );
        key.sign(&body)
    }

    /// Reads a signed checkpoint's note text: origin, tree size, root, then the vigie
    /// text, which must agree with both. The signature is checked by the caller, who
    /// holds the key.
    fn parse_note(text: &str) -> Result<Checkpoint, CheckpointError> {
        use base64::Engine as _;
        let bad = |line: usize, reason: &str| CheckpointError::Line {
            line,
            reason: reason.to_string(),
        };
        let mut lines = text.splitn(4, '\n');
        let (_origin, size, root, rest) = (
            lines.next().unwrap_or(""),
            lines.next().unwrap_or(""),
            lines.next().unwrap_or(""),
            lines.next().unwrap_or(""),
        );
        if !rest.starts_with(MAGIC) {
            return Err(bad(
                4,
                &format!("not a vigie checkpoint (expected '{MAGIC}' after the note's root)"),
            ));
        }
        let cp = Checkpoint::parse(rest).map_err(|e| match e {
            CheckpointError::Line { line, reason } => CheckpointError::Line {
                line: line + 3,
                reason,
            },
            other => other,
        })?;
        if size.parse::<i64>().ok() != Some(cp.events()) {
            return Err(bad(
                2,
                &format!(
                    "the tree size '{}' is not the checkpoint's {} events: the file was edited",
                    crate::util::one_line(size),
                    cp.events()
                ),
            ));
        }
        let stated = base64::engine::general_purpose::STANDARD
            .decode(root.trim())
            .map_err(|_| bad(3, "the root hash is not base64"))?;
        if stated != cp.root_bytes() {
            return Err(CheckpointError::Root);
        }
        Ok(cp)
    }

    /// The number of events in all its cases.
    pub fn events(&self) -> i64 {
        self.cases.iter().map(|c| c.events).sum()
    }

    /// The text to keep elsewhere: one line per field, ending with its own hash.
    pub fn to_text(&self) -> String {
        let mut body = String::new();
        body.push_str(MAGIC);
        body.push('\n');
        body.push_str(&format!(
            "time {}\n",
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
        body.push_str(&format!(
            "scope {}\n",
            match &self.org {
                Some(o) => format!("org {o}"),
                None => "all".to_string(),
            }
        ));
        for c in &self.cases {
            body.push_str(&case_line(c));
            body.push('\n');
        }
        body.push_str(&format!("root {}\n", self.root()));
        let own = sha256_hex(&body);
        body.push_str(&format!("self {own}\n"));
        body
    }

    /// Reads a checkpoint written by [`Checkpoint::to_text`], checking its own hash and
    /// its root.
    pub fn parse(text: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |line: usize, reason: &str| CheckpointError::Line {
            line,
            reason: reason.to_string(),
        };
        // A checkpoint saved by an editor that starts files with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines: Vec<&str> = text.lines().collect();
        let Some(last) = lines.iter().rposition(|l| !l.trim().is_empty()) else {
            return Err(bad(1, "empty file: not a vigie checkpoint"));
        };
        if lines.first().map(|l| l.trim_end()) != Some(MAGIC) {
            if let Some(note) = crate::proof::note::open(text) {
                let note = note.map_err(|e| bad(lines.len(), &e))?;
                return Checkpoint::parse_note(&note.text);
            }
            return Err(bad(
                1,
                &format!("not a vigie checkpoint (expected '{MAGIC}')"),
            ));
        }
        let stated = lines[last]
            .strip_prefix("self ")
            .ok_or_else(|| bad(last + 1, "the last line must be 'self <sha256>'"))?
            .trim();
        let mut body = String::new();
        for l in &lines[..last] {
            body.push_str(l);
            body.push('\n');
        }
        let actual = sha256_hex(&body);
        if actual != stated {
            return Err(CheckpointError::SelfHash {
                stated: stated.chars().take(12).collect(),
                actual: actual.chars().take(12).collect(),
            });
        }
        let mut at = None;
        let mut org = None;
        let mut root = None;
        let mut cases = Vec::new();
        let mut seen = BTreeMap::new();
        for (i, l) in lines[1..last].iter().enumerate() {
            let n = i + 2;
            let parts: Vec<&str> = l.split(' ').collect();
            match parts.as_slice() {
                ["time", t] => {
                    at = Some(
                        DateTime::parse_from_rfc3339(t)
                            .map_err(|e| bad(n, &format!("time '{t}': {e}")))?
                            .with_timezone(&Utc),
                    )
                }
                ["scope", "all"] => org = Some(None),
                ["scope", "org", o] => org = Some(Some(o.to_string())),
                ["case", o, c, events, head] => {
                    let events: i64 =
                        events.parse().ok().filter(|e| *e >= 1).ok_or_else(|| {
                            bad(n, &format!("'{events}' is not a number of events"))
                        })?;
                    if head.len() != 64 || !head.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad(n, "the head is not a SHA-256 in hex"));
                    }
                    if seen.insert((o.to_string(), c.to_string()), n).is_some() {
                        return Err(bad(n, &format!("case {o} {c} listed twice")));
                    }
                    cases.push(CheckpointCase {
                        org: o.to_string(),
                        case: c.to_string(),
                        events,
                        head: head.to_string(),
                    });
                }
                ["root", r] => root = Some(r.to_string()),
                _ => {
                    return Err(bad(
                        n,
                        &format!(
                            "unexpected line '{}'",
                            l.chars().take(60).collect::<String>()
                        ),
                    ));
                }
            }
        }
        let cp = Checkpoint {
            at: at.ok_or_else(|| bad(last + 1, "no 'time' line"))?,
            org: org.ok_or_else(|| bad(last + 1, "no 'scope' line"))?,
            cases,
        };
        if root.as_deref() != Some(cp.root().as_str()) {
            return Err(CheckpointError::Root);
        }
        Ok(cp)
    }
}

/// Reads and checks a checkpoint file; the error is one line naming the file.
pub fn read_file(path: &std::path::Path) -> Result<Checkpoint, String> {
    read_file_text(path).map(|(cp, _)| cp)
}

/// [`read_file`], with the file's text (for its signature and its stamp).
pub fn read_file_text(path: &std::path::Path) -> Result<(Checkpoint, String), String> {
    let name = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("checkpoint {name}: {e}"))?;
    let cp = Checkpoint::parse(&text).map_err(|e| format!("checkpoint {name}: {e}"))?;
    Ok((cp, text))
}

fn case_line(c: &CheckpointCase) -> String {
    format!("case {} {} {} {}", c.org, c.case, c.events, c.head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::Command;
    use crate::catalog::WorkflowSet;
    use serde_json::Value;

    fn store_with_two_orgs() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().unwrap();
        let mut store = Store::open(&dir.path().join("v.db")).unwrap();
        store.add_organisation("acme", "ACME").unwrap();
        let set = WorkflowSet::load(None).unwrap();
        let now = Utc::now();
        for (org, id) in [("default", "a1"), ("acme", "b1"), ("acme", "b2")] {
            let cmd = Command::Open {
                title: "t".into(),
                facts: vec![(
                    "aware_at".into(),
                    Value::String("2025-10-23T10:00:00Z".into()),
                )],
                at: now,
            };
            store
                .open_case(org, &set, "fr", Some(id), &cmd, "dpo", now)
                .unwrap();
        }
        (dir, store)
    }

    #[test]
    fn an_organisation_checkpoint_holds_its_cases_only() {
        let (_dir, mut store) = store_with_two_orgs();
        let now = Utc::now();
        let acme = checkpoint_of(&mut store, "acme", now).unwrap();
        let text = acme.to_text();
        assert!(text.contains("scope org acme"), "{text}");
        assert!(
            !text.contains("default") && !text.contains(" a1 "),
            "{text}"
        );
        assert_eq!(acme.cases.len(), 2);
        let all = checkpoint(&mut store, now).unwrap();
        assert_eq!(all.cases.len(), 3);
        assert_eq!(Checkpoint::parse(&all.to_text()), Ok(all.clone()));
        assert!(verify_against(&mut store, &all).unwrap().is_empty());
        assert!(verify_against(&mut store, &acme).unwrap().is_empty());
    }

    #[test]
    fn an_edited_checkpoint_does_not_parse() {
        let (_dir, mut store) = store_with_two_orgs();
        let text = checkpoint(&mut store, Utc::now()).unwrap().to_text();
        let edited = text.replacen("case acme b1 1 ", "case acme b1 2 ", 1);
        assert_ne!(edited, text);
        assert!(matches!(
            Checkpoint::parse(&edited),
            Err(CheckpointError::SelfHash { .. })
        ));
        assert!(Checkpoint::parse("").is_err());
        assert!(Checkpoint::parse("hello\nself 00\n").is_err());
    }
}
