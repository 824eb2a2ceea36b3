//! Sections 3.1 to 3.5: the timeline, the nature of the breach, the people and the
//! data concerned, and the measures in place before it.

use super::fields::{boolean, has, items, mapped, measure, s, text};
use super::{Ctx, Section};
use crate::case::{ClockStatus, clocks};
use crate::workflow::FactValue;
use serde_json::{Value, json};

/// 3.1 Timeline.
pub(super) fn timeline(c: &Ctx, sec: &mut Section) {
    let wf = c.wf;
    let case = c.case;
    let now = c.now;
    let tz = c.tz;
    let start = case
        .facts
        .get("started_at")
        .and_then(FactValue::as_datetime);
    let end = case.facts.get("ended_at").and_then(FactValue::as_datetime);
    let occurrence = match (start, end, boolean(case, "ongoing")) {
        (None, _, _) => "to_be_determined",
        (Some(_), _, Some(true)) => "ongoing",
        (Some(a), Some(b), _)
            if a.with_timezone(&tz).date_naive() == b.with_timezone(&tz).date_naive() =>
        {
            "single_day"
        }
        (Some(_), Some(_), _) => "period",
        (Some(_), None, _) => "to_be_determined",
    };
    sec.need("occurrence", json!(occurrence), true);
    sec.put("dates_estimated", json!(boolean(case, "dates_estimated")));
    sec.need(
        "start",
        c.dt("started_at"),
        occurrence != "to_be_determined",
    );
    sec.need(
        "end",
        c.dt("ended_at"),
        matches!(occurrence, "single_day" | "period"),
    );
    sec.need("awareness", c.dt("aware_at"), true);
    let late = clocks(wf, case, now)
        .iter()
        .any(|c| c.id == "art33" && matches!(c.status, ClockStatus::Late | ClockStatus::Overdue));
    sec.need("late_notification_reasons", c.txt("delay_reasons"), late);
    let discovered = text(case, "discovered_by");
    sec.need(
        "discovery_method",
        s(discovered.map(|d| d.strip_prefix("by_").unwrap_or(d))),
        true,
    );
    sec.need("discovery_description", c.txt("discovery"), true);
    let mut told = c.dt("informed_by_other_at");
    if told.is_null() && discovered == Some("by_processor") {
        told = c.dt("processor_informed_at");
    }
    sec.need(
        "informed_by_other_party_at",
        told,
        discovered.is_some_and(|d| d != "by_controller"),
    );
    sec.put("timeline_comments", c.txt("aware_basis"));
}

/// 3.2 Nature of the breach.
pub(super) fn nature(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let conf = has(case, "nature", "confidentiality");
    let integ = has(case, "nature", "integrity");
    let avail = has(case, "nature", "availability");
    sec.need(
        "nature",
        mapped(case, "nature", |n| match n {
            "confidentiality" => Some("confidentiality"),
            "integrity" => Some("integrity"),
            "availability" => Some("availability"),
            _ => None,
        }),
        true,
    );
    // The template's own facts when set; else read from the risk assessment's facts
    // (issue 11), so that the DPO does not answer the same question twice.
    let confidentiality =
        text(case, "confidentiality_kind").or_else(|| match text(case, "confidentiality_loss")? {
            "not_accessed" => Some("not_disclosed"),
            "trusted_recipient" | "known_recipients" | "unknown_recipients" => Some("disclosed"),
            "unknown" => Some("cannot_assess"),
            _ => None,
        });
    let unintelligible = match boolean(case, "data_unintelligible") {
        Some(true) => Some("protection_intact"),
        Some(false) => Some("not_protected"),
        None => None,
    };
    let integrity = text(case, "integrity_kind").or_else(|| {
        let loss = text(case, "integrity_loss")?;
        match (loss, boolean(case, "misuse_observed")?) {
            ("recoverable" | "not_recoverable", false) => Some("altered_no_misuse"),
            ("recoverable", true) => Some("altered_misuse_reversible"),
            ("not_recoverable", true) => Some("altered_misuse_irreversible"),
            _ => None,
        }
    });
    let availability =
        text(case, "availability_kind").or_else(|| match text(case, "availability_loss")? {
            "temporary" => Some("temporary"),
            "permanent" => Some("permanent"),
            _ => None,
        });
    // A kind is declared only for a breach of that nature: the template asks for it
    // under its condition, and the Markdown draft shows what the JSON says.
    let only = |cond: bool, v: Option<&str>| if cond { s(v) } else { Value::Null };
    sec.need("confidentiality_kind", only(conf, confidentiality), conf);
    sec.need("data_unintelligible", only(conf, unintelligible), conf);
    sec.need("integrity_kind", only(integ, integrity), integ);
    sec.need("availability_kind", only(avail, availability), avail);
    sec.need(
        "incident_kind",
        s(text(case, "incident_kind").map(|k| match k {
            "kind_to_be_determined" => "to_be_determined",
            "other_kind" => "other",
            k => k,
        })),
        true,
    );
    sec.need(
        "cause",
        s(text(case, "cause").map(|c| match c {
            "internal_malicious" => "internal_malicious",
            "internal_accidental" => "internal_non_malicious",
            "external_malicious" => "external_malicious",
            "external_accidental" => "external_non_malicious",
            _ => "unknown",
        })),
        true,
    );
    sec.need("incident_description", c.txt("incident_description"), true);
    sec.need("systems", c.txt("systems"), true);
}

/// 3.3 Data subjects.
pub(super) fn data_subjects(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    sec.need(
        "subject_categories",
        mapped(case, "subject_categories", |c| {
            Some(match c {
                "customers" | "prospects" => "customers",
                "employees" => "employees",
                // Applicants (for a visa, an allowance, a job) are not staff: "other",
                // described in `subjects_description`.
                "users" => "users",
                "patients" => "patients",
                "minors" => "minors",
                "vulnerable" => "vulnerable",
                _ => "other",
            })
        }),
        true,
    );
    // Field 66 is mandatory (and says who "other" or vulnerable people are).
    sec.need("subjects_description", c.txt("subjects_description"), true);
    let subjects_kind = text(case, "subjects_count_kind").or(case
        .facts
        .contains_key("subjects_approx")
        .then_some("approximate"));
    sec.need("subjects_count_kind", s(subjects_kind), true);
    sec.need(
        "subjects_count",
        c.int("subjects_approx"),
        subjects_kind != Some("cannot_be_determined"),
    );
}

/// 3.4 Personal data concerned.
pub(super) fn personal_data(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let mut types: Vec<&str> = Vec::new();
    for c in items(case, "data_categories") {
        let m = match c.as_str() {
            "identity" | "civil_status" => Some("basic"),
            "contact" => Some("contact"),
            "nir" | "ip_address" => Some("identification"),
            "connection_location" => Some("location"),
            "official_documents" => Some("official_documents"),
            "offences" => Some("criminal"),
            "financial" => Some("economic_financial"),
            "behavioural" => Some("profile"),
            "credentials" => Some("credentials"),
            "payment_means" => Some("payment_means"),
            "health" => Some("health"),
            // Which special category is said by `data_special`; else it is "other".
            "sensitive" if items(case, "data_special").is_empty() => Some("other"),
            "sensitive" => None,
            _ => Some("other"),
        };
        if let Some(m) = m
            && !types.contains(&m)
        {
            types.push(m);
        }
    }
    for c in items(case, "data_special") {
        let m = match c.as_str() {
            "profile_data" => "profile",
            "payment_means" => "payment_means",
            "credentials" => "credentials",
            "health" => "health",
            "employment_health" => "employment_health",
            "biometric" => "biometric",
            "genetic" => "genetic",
            "political" => "political",
            "racial_ethnic" => "racial_ethnic",
            "religious" => "religious",
            "sex_life" => "sex_life",
            _ => "trade_union",
        };
        if !types.contains(&m) {
            types.push(m);
        }
    }
    let data_known =
        case.facts.contains_key("data_categories") || case.facts.contains_key("data_special");
    sec.need(
        "data_types",
        if data_known {
            json!(types)
        } else {
            Value::Null
        },
        true,
    );
    // Field 71 is mandatory (and says what "other" is).
    sec.need("data_description", c.txt("data_description"), true);
    let records_kind = text(case, "records_count_kind").or(case
        .facts
        .contains_key("records_approx")
        .then_some("approximate"));
    sec.need("records_count_kind", s(records_kind), true);
    sec.need(
        "records_count",
        c.int("records_approx"),
        records_kind != Some("cannot_be_determined"),
    );
}

/// 3.5 Measures in place before the breach.
pub(super) fn measures_before(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    sec.need(
        "measures_in_place",
        mapped(case, "measures_before", measure),
        true,
    );
    // Field 76 is mandatory (and says what "other measures" are).
    sec.need(
        "measures_in_place_description",
        c.txt("measures_before_description"),
        true,
    );
}
