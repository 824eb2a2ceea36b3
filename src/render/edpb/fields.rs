//! Reading the case's facts as the template's values: texts, lists, booleans, lists
//! mapped to the template's ids, and what `vigie notify` runs say of who was told.

use crate::case::{CampaignRun, Case, EventBody, Recorded};
use crate::workflow::FactValue;
use serde_json::{Value, json};

pub(super) fn text<'a>(case: &'a Case, id: &str) -> Option<&'a str> {
    match case.facts.get(id) {
        Some(FactValue::Text(s)) => Some(s.as_str()),
        _ => None,
    }
}

pub(super) fn items<'a>(case: &'a Case, id: &str) -> &'a [String] {
    match case.facts.get(id) {
        Some(FactValue::List(v)) => v.as_slice(),
        _ => &[],
    }
}

pub(super) fn has(case: &Case, list: &str, item: &str) -> bool {
    items(case, list).iter().any(|i| i == item)
}

pub(super) fn boolean(case: &Case, id: &str) -> Option<bool> {
    match case.facts.get(id) {
        Some(FactValue::Boolean(b)) => Some(*b),
        _ => None,
    }
}

pub(super) fn s(v: Option<&str>) -> Value {
    v.map(|x| Value::String(x.to_string()))
        .unwrap_or(Value::Null)
}

/// Items mapped and deduplicated, in the order given; `None` when the fact is unset.
pub(super) fn mapped(case: &Case, id: &str, map: impl Fn(&str) -> Option<&'static str>) -> Value {
    if !case.facts.contains_key(id) {
        return Value::Null;
    }
    let mut out: Vec<&str> = Vec::new();
    for i in items(case, id) {
        if let Some(m) = map(i)
            && !out.contains(&m)
        {
            out.push(m);
        }
    }
    json!(out)
}

pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// "FR=1200, BE 300; NL: 4": ISO 3166 alpha-2 code and count. None: an entry does not read.
pub fn per_country(text: &str) -> Option<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for entry in text.split([',', ';', '\n']).map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let (code, count) = entry.split_once(['=', ':', ' '])?;
        let code = code.trim().to_ascii_uppercase();
        let count: i64 = count
            .trim()
            .replace(['_', ' ', '\u{202f}'], "")
            .parse()
            .ok()?;
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_alphabetic()) || count < 0 {
            return None;
        }
        out.push((code, count));
    }
    Some(out)
}

pub(super) fn countries(text: &str) -> Value {
    let codes: Vec<String> = text
        .split([',', ';', ' ', '\n'])
        .map(|c| c.trim().to_ascii_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    json!(codes)
}

/// Whether the `vigie notify` runs of the case told every person concerned (the
/// template's field 102): yes when the campaigns sent to at least as many people as
/// `subjects_approx`; no when a run left people unreached (rejected, refused or to
/// retry), or sent to fewer than an exact count; unknown otherwise, and without a run.
pub(super) fn informed_by_runs(case: &Case, events: &[Recorded]) -> Option<bool> {
    let mut last: Vec<&CampaignRun> = Vec::new();
    let mut refused = 0;
    for e in events {
        if let EventBody::NotificationCampaign(r) = &e.body {
            refused += r.refused;
            last.retain(|l| l.campaign != r.campaign);
            last.push(r);
        }
    }
    if last.is_empty() {
        return None;
    }
    let sent: u64 = last.iter().map(|r| r.total_sent).sum();
    let subjects = match case.facts.get("subjects_approx") {
        Some(FactValue::Integer(n)) => u64::try_from(*n).ok(),
        _ => None,
    };
    if subjects.is_some_and(|n| sent >= n) {
        return Some(true);
    }
    let unreached = refused + last.iter().map(|r| r.failed + r.rejected).sum::<u64>();
    if unreached > 0 || (subjects.is_some() && text(case, "subjects_count_kind") == Some("exact")) {
        return Some(false);
    }
    None
}

/// A security measure's id in the template (sections 3.5 and 4.4).
pub(super) fn measure(m: &str) -> Option<&'static str> {
    Some(match m {
        "pseudonymisation" => "pseudonymisation",
        "backup" => "backup",
        "encryption" => "encryption",
        "security_policies" => "security_policies",
        "security_training" => "security_training",
        "incident_log" => "incident_log",
        "access_levels" => "access_levels",
        "logical_access_control" => "logical_access_control",
        "periodic_audits" => "periodic_audits",
        "physical_access_control" => "physical_access_control",
        "up_to_date_systems" => "up_to_date_systems",
        "anonymisation" => "anonymisation",
        "process_change" => "process_change",
        "erasure" => "erasure",
        _ => "other",
    })
}
