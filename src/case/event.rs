//! Events: what happened to a case, appended to its log and never changed. Each one is
//! chained to the one before by a SHA-256 hash, so that the log is the breach register.

use crate::util::hash::{hex, sha256_hex};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What the event says. Stored as JSON in the `payload` column, tagged by `kind`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
// `Advanced` carries an optional submission record: events are made and folded one at a
// time, so boxing it would only add an indirection to every pattern that reads it.
#[allow(clippy::large_enum_variant)]
pub enum EventBody {
    /// The case was opened with this workflow, pinned by the hash of its text.
    Opened {
        workflow: String,
        workflow_hash: String,
        title: String,
        facts: Map<String, Value>,
    },
    /// Facts were set (a JSON null unsets one).
    FactsSet {
        facts: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// Taken from the organisation's profile when the case was opened (which regimes
        /// apply): recorded, so a later change of the profile never changes the case.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        from_profile: bool,
        /// Why it was recorded only now, when dated more than 24 h before it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A workflow event moved a track.
    Advanced {
        event: String,
        track: String,
        from: String,
        to: String,
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        facts: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// The clocks this event met, with the due time and lateness as they stood:
        /// correcting a fact later never rewrites whether a notification was late.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        met: Vec<MetClock>,
        /// The risk assessment as it stood when the decision was recorded (the `assess`
        /// event): inputs, score, recommendation and rules version, frozen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        assessment: Option<Value>,
        /// Why it was recorded only now, when dated more than 24 h before it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// What the authority answered to this step, when it was a submission (issue
        /// 25 part 3): its reference, the channel, the acknowledgement's SHA-256. Its
        /// instant is the event's `at`. Absent from events before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        submission: Option<Submission>,
    },
    /// A bulk notification run (art. 34): what it did, and the campaign's total so far.
    NotificationCampaign(CampaignRun),
    /// A document was issued: the SHA-256 of its exact text proves what was sent.
    DocumentIssued {
        document: String,
        lang: String,
        format: String,
        sha256: String,
    },
}

/// What one `vigie notify` run did, as the register records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignRun {
    pub campaign: i64,
    pub channel: String,
    pub sent: u64,
    pub failed: u64,
    /// Refused for good by the mail server (5xx); absent from runs before it was counted.
    #[serde(default)]
    pub refused: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub total_sent: u64,
    pub recipients_sha256: String,
}

/// A step sent to an authority, as the authority answered it: kept in the chained event,
/// so the reference, the channel and the acknowledgement's hash are proven like the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The authority's reference (CNIL, APD `DBN…`, CCB); None when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// teleservice, email, letter or phone.
    pub channel: String,
    /// The acknowledgement file, kept by this hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<Acknowledgement>,
}

/// The acknowledgement an authority sent back (a PDF or an e-mail): its SHA-256, the
/// name it was given and its type. The bytes are kept by the hash beside issued texts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub sha256: String,
    pub name: String,
    /// application/pdf or message/rfc822
    pub media_type: String,
    pub size: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetClock {
    pub clock: String,
    pub applies: bool,
    pub due_at: Option<DateTime<Utc>>,
    pub late: bool,
}

impl EventBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Opened { .. } => "opened",
            EventBody::FactsSet { .. } => "facts_set",
            EventBody::Advanced { .. } => "advanced",
            EventBody::DocumentIssued { .. } => "document_issued",
            EventBody::NotificationCampaign(_) => "notification_campaign",
        }
    }
}

// Fact values and notes may carry personal data: Debug names the keys, not the values.
impl std::fmt::Debug for EventBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<Vec<_>>().join(",");
        match self {
            EventBody::Opened {
                workflow, facts, ..
            } => {
                write!(f, "Opened({workflow}; facts: {})", keys(facts))
            }
            EventBody::FactsSet { facts, .. } => write!(f, "FactsSet({})", keys(facts)),
            EventBody::Advanced { event, facts, .. } => {
                write!(f, "Advanced({event}; facts: {})", keys(facts))
            }
            EventBody::DocumentIssued {
                document, sha256, ..
            } => {
                write!(f, "DocumentIssued({document}, {sha256})")
            }
            EventBody::NotificationCampaign(c) => {
                write!(f, "NotificationCampaign({}, {} sent)", c.campaign, c.sent)
            }
        }
    }
}

/// An event as stored: its place in the case's log and its link in the hash chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    pub org: String,
    pub case_id: String,
    pub seq: i64,
    /// Effective time: when it happened ("the CNIL was notified at 14:02").
    pub at: DateTime<Utc>,
    /// When vigie recorded it.
    pub recorded_at: DateTime<Utc>,
    pub actor: String,
    pub body: EventBody,
    /// The exact JSON text hashed and stored.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The hash before a case's first event.
pub fn genesis_hash(org: &str, case_id: &str) -> String {
    sha256_hex(format!("vigie:{org}:{case_id}"))
}

/// SHA-256 over every stored field and the previous hash, with lengths so that no two
/// different events can produce the same input.
#[allow(clippy::too_many_arguments)] // one argument per stored column, as audit reads them
pub fn chain_hash(
    org: &str,
    case_id: &str,
    seq: i64,
    at: &str,
    recorded_at: &str,
    actor: &str,
    kind: &str,
    payload: &str,
    prev_hash: &str,
) -> String {
    let mut h = Sha256::new();
    for field in [
        org,
        case_id,
        &seq.to_string(),
        at,
        recorded_at,
        actor,
        kind,
        payload,
        prev_hash,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

impl Recorded {
    /// For an event dated more than 24 h before it was recorded (a step recorded after
    /// the fact): Some, with the reason given (None for one recorded before vigie asked
    /// for reasons). None for an event recorded in time.
    pub fn backdated(&self) -> Option<Option<&str>> {
        if self.recorded_at - self.at <= super::decide::BACKDATE_FREE {
            return None;
        }
        Some(match &self.body {
            EventBody::FactsSet { reason, .. } | EventBody::Advanced { reason, .. } => {
                reason.as_deref()
            }
            _ => None,
        })
    }

    /// Builds the next event of a log, computing its payload text and hash.
    #[allow(clippy::too_many_arguments)] // the fields of the event, in column order
    pub fn seal(
        org: &str,
        case_id: &str,
        seq: i64,
        at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
        actor: &str,
        body: EventBody,
        prev_hash: &str,
    ) -> Recorded {
        let payload = serde_json::to_string(&body).expect("events serialize");
        let hash = chain_hash(
            org,
            case_id,
            seq,
            &ts(at),
            &ts(recorded_at),
            actor,
            body.kind(),
            &payload,
            prev_hash,
        );
        Recorded {
            org: org.to_string(),
            case_id: case_id.to_string(),
            seq,
            at,
            recorded_at,
            actor: actor.to_string(),
            body,
            payload,
            prev_hash: prev_hash.to_string(),
            hash,
        }
    }

    pub fn at_text(&self) -> String {
        ts(self.at)
    }
    pub fn recorded_at_text(&self) -> String {
        ts(self.recorded_at)
    }
}

/// "dated …, recorded … (reason)" for an event dated more than 24 h before it was
/// recorded (None for one recorded in time): what `case show`, the register and the
/// case page say of it, so a late record is never mistaken for a timely one.
pub fn backdating_text(e: &Recorded, tz: chrono_tz::Tz) -> Option<String> {
    let reason = e.backdated()?;
    Some(format!(
        "dated {}, recorded {} ({})",
        crate::time::short_in(e.at, tz),
        crate::time::short_in(e.recorded_at, tz),
        crate::util::one_line(reason.unwrap_or("no reason recorded"))
    ))
}
