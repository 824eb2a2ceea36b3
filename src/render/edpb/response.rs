//! Sections 4.1 to 4.4: the consequences and their severity, the controller's risk
//! assessment, the measures taken, and the communication to the people concerned.

use super::fields::{boolean, has, informed_by_runs, items, mapped, measure, s, text};
use super::{Ctx, Section, severity};
use crate::time;
use serde_json::{Value, json};

/// 4.1 Consequences and severity.
pub(super) fn consequences(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let events = c.events;
    let conf = has(case, "nature", "confidentiality");
    let integ = has(case, "nature", "integrity");
    let avail = has(case, "nature", "availability");
    sec.need(
        "confidentiality_consequences",
        if conf {
            mapped(case, "consequence_types", |c| match c {
                "spread_beyond_control" => Some("disclosed_beyond_scope"),
                "cross_matchable" => Some("linkable"),
                "misusable" => Some("misused"),
                _ => None,
            })
        } else {
            Value::Null
        },
        conf,
    );
    let mut integrity: Vec<&str> = Vec::new();
    for c in items(case, "integrity_consequences") {
        integrity.push(match c.as_str() {
            "invalid_data_used" => "invalid_data_used",
            "altered_into_valid_data" => "altered_into_valid_data",
            _ => "other",
        });
    }
    if has(case, "consequence_types", "falsifiable")
        && !integrity.contains(&"altered_into_valid_data")
    {
        integrity.push("altered_into_valid_data");
    }
    sec.need(
        "integrity_consequences",
        if integ && !integrity.is_empty() {
            json!(integrity)
        } else {
            Value::Null
        },
        integ,
    );
    sec.need(
        "availability_consequences",
        if avail {
            mapped(case, "availability_consequences", |c| match c {
                "services_inaccessible" => Some("services_inaccessible"),
                "services_disrupted" => Some("services_disrupted"),
                _ => Some("other"),
            })
        } else {
            Value::Null
        },
        avail,
    );
    sec.put("consequences_description", c.txt("consequences"));
    sec.need(
        "impacts",
        mapped(case, "harms", |h| {
            Some(match h {
                "loss_of_control" => "loss_of_control",
                "discrimination" => "discrimination",
                "identity_theft" => "identity_theft",
                "fraud" => "fraud",
                "financial_loss" => "financial_loss",
                "reputation" => "reputation",
                "professional_secrecy" => "professional_secrecy_loss",
                "physical" | "psychological" => "physical_mental_harm",
                _ => "other",
            })
        }),
        true,
    );
    sec.need("severity", s(severity(case, events)), true);
}

/// 4.2 The controller's risk assessment.
pub(super) fn risk_assessment(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    // Field 89. A risk not decided yet: "more information is needed", which the
    // template allows only in an incomplete notification, so the field stays listed.
    let outcome = match text(case, "risk") {
        Some("high") => "high_risk",
        Some("risk") => "risk",
        Some(_) => "unlikely_risk",
        None => {
            sec.missing.push("section_4_2.risk_outcome".into());
            "more_information_needed"
        }
    };
    sec.put("risk_outcome", json!(outcome));
    sec.need("risk_description", c.txt("risk_rationale"), true);
}

/// 4.3 Measures taken to address the breach.
pub(super) fn mitigation(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let mitigation = [text(case, "measures"), text(case, "measures_medium")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    sec.need(
        "mitigation_measures",
        s((!mitigation.is_empty()).then_some(mitigation.as_str())),
        true,
    );
}

/// 4.4 Prevention, and the communication to the data subjects.
pub(super) fn prevention_and_communication(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let events = c.events;
    let tz = c.tz;
    sec.need(
        "prevention_measures",
        mapped(case, "prevention_measures", measure),
        true,
    );
    // Field 95 is mandatory.
    sec.need("prevention_description", c.txt("measures_long"), true);
    let track = case.tracks.get("individuals").map(String::as_str);
    let informed = text(case, "individuals_informed");
    let exemption = text(case, "individuals_exemption");
    let communication = if track == Some("notified") || informed == Some("yes") {
        Some("yes")
    } else if track == Some("not_required") || informed == Some("will_not_be") {
        match exemption {
            Some("no_high_risk") => Some("not_required_no_high_risk"),
            Some(_) => Some("not_required_art34_3"),
            None => None,
        }
    } else {
        match informed {
            Some("will_be") => Some("planned"),
            Some("not_determined") => Some("investigation_ongoing"),
            _ => None,
        }
    };
    sec.need("communication", s(communication), true);
    let done = communication == Some("yes");
    sec.need(
        "communicated_at",
        c.first("notify_individuals")
            .map(|d| json!(time::rfc3339_in(d, tz)))
            .unwrap_or(Value::Null),
        done,
    );
    sec.need(
        "planned_at",
        c.dt("individuals_planned_at"),
        communication == Some("planned"),
    );
    sec.need(
        "art34_3_condition",
        s(match exemption {
            Some("unintelligible") => Some("protective_measures"),
            Some("later_measures") => Some("subsequent_measures"),
            Some("disproportionate_effort") => Some("disproportionate_effort"),
            _ => None,
        }),
        communication == Some("not_required_art34_3"),
    );
    sec.need(
        "not_required_justification",
        c.txt("individuals_rationale"),
        communication.is_some_and(|c| c.starts_with("not_required")),
    );
    sec.need(
        "means",
        s(text(case, "individuals_means").map(|m| match m {
            "individual_communication" => "individual",
            "public_communication" => "public",
            _ => "other",
        })),
        done,
    );
    sec.put("means_description", c.txt("individuals_channel"));
    sec.need("content", c.txt("individual_advice"), done);
    // Fields 102-103: whether every person concerned was told, and why not.
    let all = if done {
        boolean(case, "individuals_all_informed").or_else(|| informed_by_runs(case, events))
    } else {
        None
    };
    sec.need(
        "subjects_informed",
        s(all.map(|a| if a { "all" } else { "not_all" })),
        done,
    );
    let not_all = all == Some(false);
    sec.need(
        "not_all_informed_reasons",
        if not_all {
            c.txt("individuals_not_all_reasons")
        } else {
            Value::Null
        },
        not_all,
    );
}
