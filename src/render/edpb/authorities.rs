//! Sections 6.1 to 6.3: the police and other authorities, cross-border processing,
//! and the attachments.

use super::fields::{boolean, countries, per_country, s, text};
use super::{Ctx, Section};
use crate::case::EventBody;
use serde_json::{Value, json};

/// 6.1 Police and other authorities.
pub(super) fn other_authorities(c: &Ctx, sec: &mut Section) {
    let wf = c.wf;
    let case = c.case;
    let police = if case.tracks.get("complaint").map(String::as_str) == Some("filed") {
        Some(true)
    } else {
        boolean(case, "police_reported")
    };
    sec.put(
        "reported_to_police",
        s(police.map(|p| if p { "yes" } else { "no" })),
    );
    let nis2 = case.tracks.get("nis2").is_some_and(|t| t != "pending");
    let filed = case.tracks.get("complaint").map(String::as_str) == Some("filed");
    let others = boolean(case, "other_authorities_notified").or((nis2 || filed).then_some(true));
    sec.put(
        "other_authorities_notified",
        s(others.map(|p| if p { "yes" } else { "no" })),
    );
    // The other authorities: those typed, then those vigie knows were told (the NIS2
    // authority once a NIS2 step happened, the addressee of a complaint filed).
    let mut told: Vec<String> = text(case, "other_authorities")
        .map(|t| vec![t.to_string()])
        .unwrap_or_default();
    for (known, key) in [(nis2, "nis2_authority"), (filed, "complaint_addressee")] {
        if let Some(name) = wf.meta.get(key).filter(|_| known)
            && !told.iter().any(|t| t.contains(name.as_str()))
        {
            told.push(name.clone());
        }
    }
    let told = (!told.is_empty()).then(|| told.join("; "));
    sec.need(
        "other_authorities",
        s(told.as_deref()),
        others == Some(true),
    );
}

/// 6.2 Cross-border processing.
pub(super) fn cross_border(c: &Ctx, sec: &mut Section) {
    let wf = c.wf;
    let case = c.case;
    let notified = c.notified;
    let cross = boolean(case, "cross_border");
    sec.need(
        "cross_border",
        s(cross.map(|p| if p { "yes" } else { "no" })),
        true,
    );
    let cross = cross == Some(true);
    sec.need("lead_authority", c.txt("lead_authority"), cross);
    sec.need(
        "establishment_countries",
        text(case, "establishment_countries")
            .map(countries)
            .unwrap_or(Value::Null),
        cross,
    );
    let counts = text(case, "subjects_per_country").and_then(per_country);
    sec.need(
        "subjects_per_country",
        counts
            .map(|c| {
                json!(
                    c.into_iter()
                        .map(|(country, count)| json!({"country": country, "count": count}))
                        .collect::<Vec<_>>()
                )
            })
            .unwrap_or(Value::Null),
        cross,
    );
    sec.put(
        "authorities_notified",
        if notified {
            json!([wf.meta.get("authority").cloned().unwrap_or_default()])
        } else {
            json!([])
        },
    );
}

/// 6.3 Attachments: the documents of the case issued (recorded) so far.
pub(super) fn attachments(c: &Ctx) -> Value {
    let mut attachments: Vec<&str> = Vec::new();
    for ev in c.events {
        if let EventBody::DocumentIssued { document, .. } = &ev.body {
            let a = match document.as_str() {
                "individual_letter" => "communication_to_data_subjects",
                _ => continue,
            };
            if !attachments.contains(&a) {
                attachments.push(a);
            }
        }
    }

    // Field 125's "other", described in field 126.
    let other_attachments = c.txt("other_attachments");
    if !other_attachments.is_null() {
        attachments.push("other");
    }
    json!({ "attachments": attachments, "other_attachments": other_attachments })
}
