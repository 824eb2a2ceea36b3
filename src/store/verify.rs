//! The audit of the whole register: every hash chain recomputed, every case read back,
//! every pinned workflow text hashed again.

use super::{AuditProblem, Store, StoreError, load_from, short};
use crate::case;
use std::collections::HashMap;

impl Store {
    /// Recomputes every hash chain; names each case and sequence number that differs.
    pub fn verify(&mut self) -> Result<(usize, usize, Vec<AuditProblem>), StoreError> {
        let mut problems = Vec::new();
        let heads = self.db.heads(None)?;
        let mut n_events = 0;
        // Each case must read back: a chain can be intact around an event the program
        // cannot parse (a time RFC 3339 cannot write), and then the case is lost to every
        // list and reminder. An altered pinned text is reported below.
        let mut compiled = HashMap::new();
        let mut unreadable = Vec::new();
        let mut opened_with = Vec::new();
        // The events of a thousand cases at a time: one round trip to a server.
        let mut batches = heads.chunks(1000).map(|chunk| {
            let keys: Vec<(&str, &str)> = chunk.iter().map(|h| (&*h.org, &*h.id)).collect();
            (chunk, keys)
        });
        let mut read: Vec<Vec<super::backend::EventRow>> = Vec::new();
        let mut left = 0usize;
        for h in &heads {
            if left == 0 {
                let (chunk, keys) = batches.next().expect("a batch for every head");
                read = self.db.events_of(&keys)?;
                read.reverse();
                left = chunk.len();
            }
            left -= 1;
            let rows = read.pop().expect("one list per case asked");
            let (org, id, seq, last_hash) = (&h.org, &h.id, h.seq, &h.last_hash);
            let mut prev = case::event::genesis_hash(org, id);
            let mut expected_seq = 1;
            for e in &rows {
                let s = e.seq;
                n_events += 1;
                let mut say = |problem: String| {
                    problems.push(AuditProblem {
                        case: id.clone(),
                        seq: s,
                        problem,
                    })
                };
                if s != expected_seq {
                    say(format!(
                        "sequence number {s} where {expected_seq} was expected: an event is missing"
                    ));
                }
                if e.prev_hash != prev {
                    say("its previous-hash link does not match the event before it".into());
                }
                let again = case::event::chain_hash(
                    org,
                    id,
                    s,
                    &e.at,
                    &e.recorded_at,
                    &e.actor,
                    &e.kind,
                    &e.payload,
                    &e.prev_hash,
                );
                if again != e.hash {
                    say("its content does not match its hash: the event was altered".into());
                }
                prev = e.hash.clone();
                expected_seq = s + 1;
            }
            if expected_seq - 1 != seq || prev != *last_hash {
                problems.push(AuditProblem {
                    case: id.clone(),
                    seq: expected_seq,
                    problem: format!(
                        "the case records {seq} events ending in {}, the log ends at {}: events were removed or added",
                        short(last_hash),
                        short(&prev)
                    ),
                });
            }
            // The workflow its (hashed) opening event names.
            opened_with.push(rows.iter().find(|e| e.seq == 1).map(|e| {
                serde_json::from_str::<serde_json::Value>(&e.payload)
                    .ok()
                    .and_then(|v| {
                        v.get("workflow_hash")
                            .and_then(|h| h.as_str())
                            .map(str::to_string)
                    })
            }));
            let db = &mut self.db;
            match load_from(Some(h.clone()), rows, &mut compiled, org, id, |hash| {
                db.workflow(hash)
            }) {
                Err(StoreError::Corrupt { seq, reason, .. }) => unreadable.push(AuditProblem {
                    case: id.clone(),
                    seq,
                    problem: format!("the case cannot be read back: {reason}"),
                }),
                Err(e @ StoreError::PinnedWorkflow { .. }) => unreadable.push(AuditProblem {
                    case: id.clone(),
                    seq: 1,
                    problem: format!("the case cannot be read back: {e}"),
                }),
                _ => {}
            }
        }
        problems.extend(unreadable);
        // The pinned workflow texts: each must still hash to its key, and each case must
        // point at the workflow its (hashed) opening event names.
        let altered: Vec<String> = self
            .db
            .workflows()?
            .into_iter()
            .filter(|w| crate::util::hash::sha256_hex(&w.source) != w.hash)
            .map(|w| w.hash)
            .collect();
        for (h, opened) in heads.iter().zip(opened_with) {
            // A case without a first event is reported above.
            let Some(opened) = opened else { continue };
            if altered.contains(&h.workflow_hash) {
                problems.push(AuditProblem {
                    case: h.id.clone(),
                    seq: 1,
                    problem: format!(
                        "the workflow text it pinned (sha256 {}…) was altered",
                        short(&h.workflow_hash)
                    ),
                });
            }
            if opened.as_deref() != Some(h.workflow_hash.as_str()) {
                problems.push(AuditProblem {
                    case: h.id.clone(),
                    seq: 1,
                    problem: "the case points at another workflow than the one it was opened with"
                        .into(),
                });
            }
        }
        // Events whose case row is gone.
        for (_, case, seq) in self.db.orphan_events()? {
            problems.push(AuditProblem {
                case,
                seq,
                problem: "events of a case that is no longer in the register".into(),
            });
        }
        Ok((heads.len(), n_events, problems))
    }
}
