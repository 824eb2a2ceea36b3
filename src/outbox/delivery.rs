//! What became of each recipient of a reminder. A recipient the server refuses never
//! stops the others; each one accepted is recorded as soon as the server has it, so a
//! crash or a retry never sends it again. Recipients are stored as a keyed hash (the
//! database's `ledger_key`, salted with the reminder's key), never as an address, and
//! reasons name a recipient by its position ("recipient 2 of 3 refused: ...").

use super::{Claimed, Planned, backoff, key};
use crate::mail::RcptOutcome;
use crate::store::backend::{Delivery, NewTimer, RecipientOutcome, Settle};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;

/// The secret recipients are hashed with: the database's own key, which never leaves it.
pub fn secret(store: &mut Store) -> Result<String, StoreError> {
    store
        .meta("ledger_key")?
        .ok_or_else(|| StoreError::Db("the database has no ledger key".into()))
}

/// HMAC-SHA256(secret, reminder key, address): the same recipient of the same reminder
/// always gives the same value, and nothing links it to an address without the key.
pub fn recipient_hash(secret: &str, timer_key: &str, address: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timer_key.as_bytes());
    mac.update(b"\0");
    mac.update(address.trim().to_lowercase().as_bytes());
    crate::util::hash::hex(&mac.finalize().into_bytes()[..16])
}

/// Recipients of a reminder already dealt with: hash -> `sent` or `refused`.
pub fn done(store: &mut Store, timer_id: i64) -> Result<HashMap<String, String>, StoreError> {
    store.backend().delivered(timer_id)
}

/// One attempt at a claimed reminder: each recipient by hash, in order, with what
/// became of it (None: dealt with by an earlier attempt).
#[derive(Debug)]
pub struct Attempt {
    pub claimed: Claimed,
    pub message_id: String,
    /// The next overdue reminder to plan once this one is sent.
    pub next: Option<Planned>,
    pub recipients: Vec<(String, Option<RcptOutcome>)>,
}

/// What `record` did with an attempt, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Every recipient has it or refused it, at least one has it. The refusals, if any.
    Sent(Option<String>),
    /// Some recipients are to be tried again (after the backoff). Why.
    Retry(String),
    /// Every recipient refused it. Why.
    Dead(String),
    /// The lease was no longer ours: the recipients are recorded, the row left alone.
    NotOurs,
}

/// Records attempts in one transaction: each recipient accepted or refused, then each
/// reminder sent (and its next overdue reminder planned), retried, or dead-lettered, as
/// [`decide`] says from every recipient's state.
pub fn record(
    store: &mut Store,
    attempts: &[Attempt],
    now: DateTime<Utc>,
) -> Result<Vec<Recorded>, StoreError> {
    let settles: Vec<_> = attempts
        .iter()
        .map(|a| move |states: &HashMap<String, (String, Option<String>)>| decide(a, states, now))
        .collect();
    let deliveries: Vec<Delivery<'_>> = attempts
        .iter()
        .zip(&settles)
        .map(|(a, settle)| Delivery {
            claimed: &a.claimed,
            recipients: outcomes(a),
            settle,
        })
        .collect();
    let settled = store.backend().record(&deliveries, now)?;
    Ok(settled
        .into_iter()
        .map(|s| match s {
            None => Recorded::NotOurs,
            Some(Settle::Sent { why, .. }) => Recorded::Sent(why),
            Some(Settle::Retry { why, .. }) => Recorded::Retry(why),
            Some(Settle::Dead { why }) => Recorded::Dead(why),
        })
        .collect())
}

/// The recipients' outcomes of an attempt to record: accepted and refused ones (a
/// deferred one is not recorded: it is tried again).
fn outcomes(a: &Attempt) -> Vec<RecipientOutcome> {
    let n = a.recipients.len();
    a.recipients
        .iter()
        .enumerate()
        .filter_map(|(i, (hash, outcome))| match outcome {
            Some(RcptOutcome::Accepted) => Some(RecipientOutcome {
                rcpt: hash.clone(),
                state: "sent",
                detail: None,
            }),
            Some(RcptOutcome::Refused(why)) => Some(RecipientOutcome {
                rcpt: hash.clone(),
                state: "refused",
                detail: Some(format!("recipient {} of {n} refused: {why}", i + 1)),
            }),
            _ => None,
        })
        .collect()
}

/// What becomes of an attempt, from every recipient's state once its outcomes are
/// recorded (`rcpt -> (state, detail)`, earlier attempts' too): retried when some wait,
/// dead when none has it, else sent (with the refusals, and its next overdue reminder).
/// Pure: shared by every backend.
pub fn decide(
    a: &Attempt,
    states: &HashMap<String, (String, Option<String>)>,
    now: DateTime<Utc>,
) -> Settle {
    let c = &a.claimed;
    let n = a.recipients.len();
    let sent_any = a
        .recipients
        .iter()
        .any(|(h, _)| states.get(h).is_some_and(|(s, _)| s == "sent"));
    let mut refusals: Vec<String> = a
        .recipients
        .iter()
        .filter_map(|(h, _)| match states.get(h) {
            Some((s, detail)) if s == "refused" => Some(detail.clone().unwrap_or_default()),
            _ => None,
        })
        .collect();
    let deferred: Vec<String> = a
        .recipients
        .iter()
        .enumerate()
        .filter_map(|(i, (_, o))| match o {
            Some(RcptOutcome::Deferred(why)) => {
                Some(format!("recipient {} of {n} not sent: {why}", i + 1))
            }
            _ => None,
        })
        .collect();
    if !deferred.is_empty() {
        refusals.extend(deferred);
        return Settle::Retry {
            next_attempt_at: now + backoff(c.attempts),
            why: refusals.join("; "),
        };
    }
    let why = (!refusals.is_empty()).then(|| refusals.join("; "));
    if !sent_any {
        return Settle::Dead {
            why: why.unwrap_or_else(|| "no recipient".into()),
        };
    }
    Settle::Sent {
        message_id: a.message_id.clone(),
        why,
        next: a.next.as_ref().map(|p| NewTimer {
            key: key(&c.org, &c.case_id, &p.clock, &p.offset),
            org: c.org.clone(),
            case_id: c.case_id.clone(),
            clock: p.clock.clone(),
            offset: p.offset.clone(),
            due_at: p.due_at,
            created_at: now,
        }),
    }
}
