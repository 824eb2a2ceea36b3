//! Sections 1.1, 2.2 and 2.3: the notification and the controller, the reporting
//! person, the DPO, the contact point and the other parties.

use super::fields::{boolean, s, text};
use super::{Ctx, Section};
use crate::org::Profile;
use serde_json::{Value, json};

/// 1.1 Notification and controller.
pub(super) fn notification_and_controller(c: &Ctx, sec: &mut Section) {
    let wf = c.wf;
    let case = c.case;
    let profile = c.profile;
    let withdrawn = c.withdrawn;
    let notified = c.notified;
    let follow_up = notified || withdrawn;
    sec.need(
        "notification_type",
        json!(if follow_up { "follow_up" } else { "new" }),
        true,
    );
    // Filled in once every other section is known (complete / incomplete / withdrawal).
    sec.put("notification_subtype", Value::Null);
    sec.need("withdrawal_reasons", c.txt("withdrawal_reasons"), withdrawn);
    sec.need(
        "previous_notification_id",
        c.txt("authority_ref"),
        follow_up,
    );
    sec.put("internal_reference", c.txt("internal_ref"));
    let identifier = s(profile.identifier.as_deref());
    sec.put(
        "controller_identifier_type",
        if identifier.is_null() {
            Value::Null
        } else {
            s(wf.meta.get("edpb_identifier_type").map(String::as_str))
        },
    );
    sec.put("controller_identifier", identifier);
    sec.need("controller_name", s(profile.name.as_deref()), true);
    sec.need("controller_contact", s(profile.address.as_deref()), true);
    sec.put("sector", c.txt("org_sector"));
    let private = text(case, "org_sector") != Some("public");
    sec.put(
        "organisation_size",
        if private {
            s(text(case, "org_size").map(|v| match v {
                "micro" => "micro",
                "sme" => "sme",
                "large" => "large",
                _ => "other",
            }))
        } else {
            Value::Null
        },
    );
    // Field 16: what the organisation is, when its size is none the template names.
    let other_type = private && sec.get("organisation_size") == "other";
    sec.put(
        "organisation_type_description",
        if other_type {
            c.txt("org_type_description")
        } else {
            Value::Null
        },
    );
    sec.put("economic_activity", s(profile.sector.as_deref()));
    sec.put("eea_representative_name", Value::Null);
    sec.put("eea_representative_contact", Value::Null);
}

/// The DPO's e-mail and phone, as one contact line; None when the profile has neither.
fn dpo_contact(profile: &Profile) -> Option<String> {
    let dpo_contact = [profile.dpo.email.as_deref(), profile.dpo.phone.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ");
    (!dpo_contact.is_empty()).then_some(dpo_contact)
}

/// 2.2 The reporting person (the DPO or the legal representative by default).
pub(super) fn reporting_person(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let profile = c.profile;
    let function = text(case, "reporter_function");
    let dpo_contact = dpo_contact(profile);
    let (default_name, default_contact) = match function {
        Some("dpo") => (profile.dpo.name.clone(), dpo_contact.clone()),
        Some("legal_representative") => (profile.representative.name.clone(), None),
        _ => (None, None),
    };
    sec.need(
        "reporter_name",
        s(text(case, "reporter_name").or(default_name.as_deref())),
        true,
    );
    sec.need(
        "reporter_contact",
        s(text(case, "reporter_contact").or(default_contact.as_deref())),
        true,
    );
    sec.need(
        "reporter_function",
        s(function.map(|f| match f {
            "dpo" => "dpo",
            "legal_representative" => "legal_representative",
            _ => "other",
        })),
        true,
    );
    sec.need(
        "reporter_function_description",
        c.txt("reporter_function_description"),
        function == Some("other_function"),
    );
}

/// 2.3 DPO, contact point, other parties.
pub(super) fn dpo_contact_and_parties(c: &Ctx, sec: &mut Section) {
    let case = c.case;
    let profile = c.profile;
    let dpo_contact = dpo_contact(profile);
    let designated = profile.dpo.name.is_some().then_some(true);
    sec.need("dpo_designated", json!(designated), true);
    sec.need(
        "dpo_name",
        s(profile.dpo.name.as_deref()),
        designated == Some(true),
    );
    sec.need(
        "dpo_contact",
        s(dpo_contact.as_deref()),
        designated == Some(true),
    );
    // Fields 33-36: who answers the authority's questions. The case's `contact_point`
    // when set; else another contact person when the case or the organisation's profile
    // names one; else the DPO. The contact person comes whole from the case's facts when
    // it names one, else from the profile: never a name from one and details from the other.
    let from_case = ["contact_name", "contact_function", "contact_details"]
        .iter()
        .any(|f| case.facts.contains_key(*f));
    let contact = &profile.contact;
    let from_profile = contact.name.is_some()
        || contact.function.is_some()
        || contact.email.is_some()
        || contact.phone.is_some();
    let contact_point = match text(case, "contact_point") {
        Some("dpo") => Some("dpo"),
        Some("reporter") => Some("reporter"),
        Some(_) => Some("other"),
        None if from_case || from_profile => Some("other"),
        None if designated == Some(true) => Some("dpo"),
        None => None,
    };
    sec.put("contact_point", s(contact_point));
    let other_contact = contact_point == Some("other");
    let (name, function, details) = if !other_contact {
        (None, None, None)
    } else if from_case {
        (
            text(case, "contact_name").map(str::to_string),
            text(case, "contact_function").map(str::to_string),
            text(case, "contact_details").map(str::to_string),
        )
    } else {
        let details = [contact.email.as_deref(), contact.phone.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        (
            contact.name.clone(),
            contact.function.clone(),
            (!details.is_empty()).then_some(details),
        )
    };
    sec.need("contact_name", s(name.as_deref()), other_contact);
    sec.need("contact_function", s(function.as_deref()), other_contact);
    sec.need("contact_details", s(details.as_deref()), other_contact);
    let mut parties = Vec::new();
    for (fact, role) in [
        ("processors", "processor"),
        ("joint_controllers", "joint_controller"),
    ] {
        if let Some(d) = text(case, fact) {
            parties.push(json!({"role": role, "description": d}));
        }
    }
    // Fields 38-41: `other_parties_involved` when the case says; else involved when a
    // processor or joint controller is named, or a processor reported the breach; else
    // unknown, and asked for (the template requires the answer, "no" included).
    let by_processor = text(case, "discovered_by") == Some("by_processor")
        || case.facts.contains_key("processor_informed_at");
    let involved = boolean(case, "other_parties_involved")
        .or((!parties.is_empty() || by_processor).then_some(true));
    sec.need("other_parties_involved", json!(involved), true);
    let involved = involved == Some(true);
    sec.need(
        "other_parties",
        if involved { json!(parties) } else { json!([]) },
        involved,
    );
    sec.need(
        "other_parties_contact",
        if involved {
            c.txt("other_parties_contact")
        } else {
            Value::Null
        },
        involved,
    );
}
