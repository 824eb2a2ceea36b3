//! The breach register (RGPD art. 33(5)): every case of an organisation, notified or
//! not, with the reason. One row shape for `vigie register`, the web page, the API and
//! the CSV export, so the four never disagree.

use crate::case::Case;
use crate::store::{Store, StoreError};
use crate::time;
use crate::workflow::Workflow;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// One case in the register. Times are RFC 3339 in the workflow's zone.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub case: String,
    pub workflow: String,
    pub title: String,
    pub aware_at: String,
    pub status: &'static str,
    pub risk: String,
    /// The authority track's state: pending, notified or not_required.
    pub authority: String,
    pub authority_notified_at: String,
    pub authority_late: bool,
    /// Why the authority was not notified, or why it was notified late.
    pub authority_reason: String,
    pub individuals: String,
    pub individuals_notified_at: String,
    /// The exemption and its rationale when the people concerned were not told.
    pub individuals_reason: String,
    pub nature: String,
    pub data_categories: String,
    pub subjects_approx: String,
    pub measures: String,
    /// From the notification ledger (what was really handed off, killed runs included):
    /// people notified by at least one campaign of the case,
    pub people_notified: u64,
    /// refused for good by the mail server and never notified (a letter is due),
    pub people_refused: u64,
    /// and neither: a failure to retry, or a hand-off cut short by a crash.
    pub people_to_retry: u64,
    /// The risk decision's rationale (`risk_rationale`).
    pub risk_rationale: String,
    /// The risk vigie recommended when the decision was recorded (frozen in the
    /// `assess` event; empty when it was recorded without an assessment).
    pub risk_recommended: String,
    /// Whether the decision (`risk`) departs from that recommendation.
    pub risk_departs: bool,
    /// The version of the assessment rules that recommended it.
    pub assessment_rules: String,
    /// What vigie recommended when the authority's decision was taken (`notify`,
    /// `not_required`; empty without a recorded assessment), beside `authority`.
    pub authority_recommended: String,
    /// The same for the people (`inform`, `not_required`), beside `individuals`.
    pub individuals_recommended: String,
    /// The steps recorded more than 24 h after their date, each "event dated …,
    /// recorded … (reason)", joined by "; ": a notification dated inside its window but
    /// recorded weeks later shows here.
    pub backdated: String,
    /// Art. 33(5): the breach's effects, whom it concerned and how many records, the
    /// only record of them for a breach that was not notified.
    pub consequences: String,
    pub subject_categories: String,
    pub records_approx: String,
    /// The version of the workflow the case pinned (the law in force at its `aware_at`;
    /// empty for a text written before versions).
    pub workflow_version: String,
    /// The authority's reference for the notification (`authority_ref`).
    pub authority_ref: String,
    /// Each step sent to an authority with what came back (issue 25 part 3): "event:
    /// ref …, submitted …, channel, ack sha256:…", joined by "; ", times in the
    /// workflow's zone with their offset.
    pub submissions: String,
    /// The same steps one by one, for a page to put in its own words (the CSV and the
    /// API keep `submissions`).
    #[serde(skip)]
    pub submitted: Vec<Submitted>,
}

/// One step sent to an authority, as the register page shows it.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub event: String,
    pub reference: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    pub channel: String,
    /// The kept acknowledgement's SHA-256, if one was attached.
    pub ack: Option<String>,
}

/// The CSV header, in the order of [`Row`]'s fields.
pub const COLUMNS: [&str; 33] = [
    "case",
    "workflow",
    "title",
    "aware_at",
    "status",
    "risk",
    "authority",
    "authority_notified_at",
    "authority_late",
    "authority_reason",
    "individuals",
    "individuals_notified_at",
    "individuals_reason",
    "nature",
    "data_categories",
    "subjects_approx",
    "measures",
    "people_notified",
    "people_refused",
    "people_to_retry",
    "risk_rationale",
    "risk_recommended",
    "risk_departs",
    "assessment_rules",
    "authority_recommended",
    "individuals_recommended",
    "backdated",
    "consequences",
    "subject_categories",
    "records_approx",
    "workflow_version",
    "authority_ref",
    "submissions",
];

fn fact(wf: &Workflow, case: &Case, name: &str) -> String {
    match case.facts.get(name).map(|v| v.to_display_json(wf.timezone)) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| i.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(other) => other.to_string(),
    }
}

fn first(wf: &Workflow, case: &Case, event: &str) -> String {
    case.happened
        .get(event)
        .and_then(|v| v.first())
        .map(|d| time::rfc3339_in(*d, wf.timezone))
        .unwrap_or_default()
}

pub fn row(wf: &Workflow, case: &Case) -> Row {
    let track = |t: &str| case.tracks.get(t).cloned().unwrap_or_default();
    let authority = track("authority");
    let late = wf
        .clocks_met_by("notify_authority")
        .any(|(id, _)| case.met.get(id).is_some_and(|m| m.late));
    let authority_reason = match authority.as_str() {
        "not_required" => fact(wf, case, "no_authority_reasons"),
        _ if late => fact(wf, case, "delay_reasons"),
        _ => String::new(),
    };
    let individuals = track("individuals");
    let individuals_reason = if individuals == "not_required" {
        [
            fact(wf, case, "individuals_exemption"),
            fact(wf, case, "individuals_rationale"),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
    } else {
        String::new()
    };
    Row {
        case: case.id.clone(),
        workflow: wf.id.clone(),
        title: case.title.clone(),
        aware_at: fact(wf, case, "aware_at"),
        status: if case.is_closed(wf) { "closed" } else { "open" },
        risk: fact(wf, case, "risk"),
        authority,
        authority_notified_at: first(wf, case, "notify_authority"),
        authority_late: late,
        authority_reason,
        individuals,
        individuals_notified_at: first(wf, case, "notify_individuals"),
        individuals_reason,
        nature: fact(wf, case, "nature"),
        data_categories: fact(wf, case, "data_categories"),
        subjects_approx: fact(wf, case, "subjects_approx"),
        measures: fact(wf, case, "measures"),
        people_notified: 0,
        people_refused: 0,
        people_to_retry: 0,
        risk_rationale: fact(wf, case, "risk_rationale"),
        risk_recommended: String::new(),
        risk_departs: false,
        assessment_rules: String::new(),
        authority_recommended: String::new(),
        individuals_recommended: String::new(),
        backdated: String::new(),
        consequences: fact(wf, case, "consequences"),
        subject_categories: fact(wf, case, "subject_categories"),
        records_approx: fact(wf, case, "records_approx"),
        workflow_version: wf.version.clone().unwrap_or_default(),
        authority_ref: fact(wf, case, "authority_ref"),
        submissions: String::new(),
        submitted: Vec::new(),
    }
}

/// One submission in words: `notify_authority: ref CNIL-123, submitted
/// 2026-11-21T10:00:00+01:00, teleservice, ack sha256:…`.
pub fn submission_text(
    event: &str,
    s: &crate::case::Submission,
    at: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &s.reference {
        parts.push(format!("ref {r}"));
    }
    parts.push(format!("submitted {}", time::rfc3339_in(at, tz)));
    parts.push(s.channel.clone());
    if let Some(a) = &s.ack {
        parts.push(format!("ack sha256:{}", a.sha256));
    }
    format!("{event}: {}", parts.join(", "))
}

/// The notification figures of one case, read from the ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Notified {
    pub notified: u64,
    pub refused: u64,
    pub to_retry: u64,
}

impl Row {
    /// The row with its case's ledger figures (see [`ledger_figures`]).
    pub fn with_ledger(mut self, figures: &HashMap<String, Notified>) -> Row {
        let n = figures.get(&self.case).copied().unwrap_or_default();
        self.people_notified = n.notified;
        self.people_refused = n.refused;
        self.people_to_retry = n.to_retry;
        self
    }

    /// The row with the case's steps recorded more than 24 h after their date.
    pub fn with_backdating(mut self, wf: &Workflow, events: &[crate::case::Recorded]) -> Row {
        self.backdated = events
            .iter()
            .filter_map(|e| match &e.body {
                crate::case::EventBody::Advanced { event, .. } => {
                    crate::case::backdating_text(e, wf.timezone).map(|t| format!("{event} {t}"))
                }
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("; ");
        self
    }

    /// The row with each step sent to an authority and what came back.
    pub fn with_submissions(mut self, wf: &Workflow, events: &[crate::case::Recorded]) -> Row {
        let steps: Vec<(&String, &crate::case::Submission, _)> = events
            .iter()
            .filter_map(|e| match &e.body {
                crate::case::EventBody::Advanced {
                    event,
                    submission: Some(s),
                    ..
                } => Some((event, s, e.at)),
                _ => None,
            })
            .collect();
        self.submissions = steps
            .iter()
            .map(|(event, s, at)| submission_text(event, s, *at, wf.timezone))
            .collect::<Vec<_>>()
            .join("; ");
        self.submitted = steps
            .into_iter()
            .map(|(event, s, at)| Submitted {
                event: event.clone(),
                reference: s.reference.clone(),
                at,
                channel: s.channel.clone(),
                ack: s.ack.as_ref().map(|a| a.sha256.clone()),
            })
            .collect();
        self
    }

    /// The row with the recommendation frozen in the case's last risk decision.
    pub fn with_decision(mut self, d: Option<&crate::assess::RecordedDecision>) -> Row {
        if let Some(d) = d {
            self.risk_recommended = d.recommended_risk().unwrap_or_default().to_string();
            self.risk_departs = d.departs();
            self.assessment_rules = d
                .assessment
                .as_ref()
                .and_then(|a| a.get("rules_version"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
        }
        self
    }

    /// The row with what vigie recommended for each duty when it was decided (see
    /// `app::assess::decision_recommendations`).
    pub fn with_recommendations(
        mut self,
        (authority, individuals): (Option<bool>, Option<bool>),
    ) -> Row {
        if let Some(n) = authority {
            self.authority_recommended = if n { "notify" } else { "not_required" }.into();
        }
        if let Some(i) = individuals {
            self.individuals_recommended = if i { "inform" } else { "not_required" }.into();
        }
        self
    }

    /// The ledger figures in words, those not zero: `1200 notified, 3 refused`.
    pub fn people_summary(&self) -> String {
        [
            (self.people_notified, "notified"),
            (self.people_refused, "refused"),
            (self.people_to_retry, "to retry"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Per case of `org`, each person of its campaigns counted once, by their best outcome
/// across the campaigns: notified, else refused, else to retry. Campaigns are filtered by
/// organisation and case: a case id may exist in two organisations.
pub fn ledger_figures(
    store: &mut Store,
    org: &str,
) -> Result<HashMap<String, Notified>, StoreError> {
    Ok(store
        .backend()
        .ledger_figures(org)?
        .into_iter()
        .map(|(case, (notified, refused, to_retry))| {
            (
                case,
                Notified {
                    notified,
                    refused,
                    to_retry,
                },
            )
        })
        .collect())
}

/// A CSV cell a spreadsheet shows as text: one starting with = + - @ (or a tab or a
/// carriage return) gets a leading ' so no spreadsheet runs it as a formula.
pub fn csv_cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The register as CSV (RFC 4180, UTF-8 with a BOM so spreadsheets read the accents).
/// A cell starting with = + - @ is prefixed with ' so no spreadsheet runs it as a formula.
pub fn csv(rows: &[Row]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(COLUMNS).expect("write to memory");
    for r in rows {
        let late = if r.authority_late { "yes" } else { "no" };
        let departs = if r.risk_departs { "yes" } else { "no" };
        let counts =
            [r.people_notified, r.people_refused, r.people_to_retry].map(|n| n.to_string());
        let cells = [
            r.case.as_str(),
            &r.workflow,
            &r.title,
            &r.aware_at,
            r.status,
            &r.risk,
            &r.authority,
            &r.authority_notified_at,
            late,
            &r.authority_reason,
            &r.individuals,
            &r.individuals_notified_at,
            &r.individuals_reason,
            &r.nature,
            &r.data_categories,
            &r.subjects_approx,
            &r.measures,
            &counts[0],
            &counts[1],
            &counts[2],
            &r.risk_rationale,
            &r.risk_recommended,
            departs,
            &r.assessment_rules,
            &r.authority_recommended,
            &r.individuals_recommended,
            &r.backdated,
            &r.consequences,
            &r.subject_categories,
            &r.records_approx,
            &r.workflow_version,
            &r.authority_ref,
            &r.submissions,
        ];
        w.write_record(cells.iter().map(|c| csv_cell(c)))
            .expect("write to memory");
    }
    let bytes = w.into_inner().expect("flush to memory");
    let mut out = String::from("\u{feff}");
    out.push_str(&String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"));
    out
}
