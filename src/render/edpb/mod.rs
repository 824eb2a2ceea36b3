//! The EDPB common notification template (draft of June 2026) as one JSON object: its
//! sections and fields, values from the case, `null` for what is unknown, and the
//! fields still missing. Stable and versioned: docs/edpb_notification.schema.json is
//! its schema, docs/edpb-template.md maps each field to the case.
//!
//! Built once here; the Markdown draft (`edpb_notification.<lang>.md.hbs`) reads the
//! derived values through `view`, the JSON draft is `build` serialised.

mod authorities;
mod breach;
mod controller;
mod fields;
mod response;

pub use fields::per_country;

use super::Labels;
use crate::case::{Case, EventBody, Recorded};
use crate::org::Profile;
use crate::time;
use crate::workflow::{FactValue, Workflow};
use authorities::{attachments, cross_border, other_authorities};
use breach::{data_subjects, measures_before, nature, personal_data, timeline};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use controller::{dpo_contact_and_parties, notification_and_controller, reporting_person};
use fields::{is_empty, s, text};
use response::{consequences, mitigation, prevention_and_communication, risk_assessment};
use serde_json::{Map, Value, json};

/// The `schema_version` of the JSON: bump it on any change a reader could notice.
pub const SCHEMA_VERSION: &str = "2";
/// The `$schema` of the JSON: the `$id` of docs/edpb_notification.schema.json.
pub const SCHEMA_ID: &str = "urn:vigie:schema:edpb-notification:2";
/// The template a workflow document names to be drafted as the EDPB template.
pub const TEMPLATE: &str = "edpb_notification";

/// The template's severity of the likely impacts (its field 4.1, minor / moderate /
/// severe), read from the case. The one place that decides it: the EDPB severity of the
/// assessment recorded with the decision (issue 11's `vigie assess`), when the risk
/// decided is the one that assessment recommended; otherwise (no recorded assessment,
/// or a decision that departs from it) from the decided `risk`: none → minor,
/// risk → moderate, high → severe; unset → unknown.
pub fn severity(case: &Case, events: &[Recorded]) -> Option<&'static str> {
    let decided = text(case, "risk")?;
    let frozen = events.iter().rev().find_map(|e| match &e.body {
        EventBody::Advanced {
            assessment: Some(a),
            ..
        } => Some(a),
        _ => None,
    });
    if let Some(a) = frozen
        && a["risk"].as_str() == Some(decided)
    {
        match a["edpb_severity"].as_str() {
            Some("minor") => return Some("minor"),
            Some("moderate") => return Some("moderate"),
            Some("severe") => return Some("severe"),
            _ => {}
        }
    }
    match decided {
        "none" => Some("minor"),
        "risk" => Some("moderate"),
        "high" => Some("severe"),
        _ => None,
    }
}

/// One section being filled, and the paths of the required fields left empty.
struct Section<'a> {
    name: &'static str,
    map: Map<String, Value>,
    missing: &'a mut Vec<String>,
}

impl Section<'_> {
    fn put(&mut self, key: &str, v: Value) -> &mut Self {
        self.map.insert(key.to_string(), v);
        self
    }
    /// A field the template requires (when `required`): listed as missing when empty.
    fn need(&mut self, key: &str, v: Value, required: bool) -> &mut Self {
        if required && is_empty(&v) {
            self.missing.push(format!("{}.{key}", self.name));
        }
        self.put(key, v)
    }
    fn get(&self, key: &str) -> &Value {
        self.map.get(key).unwrap_or(&Value::Null)
    }
}

/// What every section reads: the case, its log, the organisation, and the instant of
/// the draft.
struct Ctx<'a> {
    wf: &'a Workflow,
    case: &'a Case,
    events: &'a [Recorded],
    profile: &'a Profile,
    now: DateTime<Utc>,
    tz: Tz,
    /// The notice to the authority withdrawn, or given.
    withdrawn: bool,
    notified: bool,
}

impl Ctx<'_> {
    /// A date-time fact, RFC 3339 in the workflow's zone.
    fn dt(&self, id: &str) -> Value {
        match self.case.facts.get(id) {
            Some(FactValue::DateTime(d)) => Value::String(time::rfc3339_in(*d, self.tz)),
            _ => Value::Null,
        }
    }
    fn int(&self, id: &str) -> Value {
        match self.case.facts.get(id) {
            Some(FactValue::Integer(i)) => json!(i),
            _ => Value::Null,
        }
    }
    fn txt(&self, id: &str) -> Value {
        s(text(self.case, id))
    }
    /// When `event` first happened.
    fn first(&self, event: &str) -> Option<DateTime<Utc>> {
        self.case
            .happened
            .get(event)
            .and_then(|v| v.first())
            .copied()
    }
}

/// The sections the case fills, in the template's order, each by its function.
type Fill = fn(&Ctx, &mut Section);
const SECTIONS: [(&str, Fill); 14] = [
    ("section_1_1", notification_and_controller),
    ("section_2_2", reporting_person),
    ("section_2_3", dpo_contact_and_parties),
    ("section_3_1", timeline),
    ("section_3_2", nature),
    ("section_3_3", data_subjects),
    ("section_3_4", personal_data),
    ("section_3_5", measures_before),
    ("section_4_1", consequences),
    ("section_4_2", risk_assessment),
    ("section_4_3", mitigation),
    ("section_4_4", prevention_and_communication),
    ("section_6_1", other_authorities),
    ("section_6_2", cross_border),
];

/// The JSON of the EDPB template for a case, and the paths of the fields still missing.
pub fn build(
    wf: &Workflow,
    case: &Case,
    events: &[Recorded],
    profile: &Profile,
    now: DateTime<Utc>,
) -> (Value, Vec<String>) {
    let mut c = Ctx {
        wf,
        case,
        events,
        profile,
        now,
        tz: wf.timezone,
        withdrawn: false,
        notified: false,
    };
    c.withdrawn = c.first("withdraw_authority_notice").is_some();
    c.notified = c.first("notify_authority").is_some();
    let mut missing = Vec::new();
    let mut sections = Map::new();
    for (name, fill) in SECTIONS {
        let mut sec = Section {
            name,
            map: Map::new(),
            missing: &mut missing,
        };
        fill(&c, &mut sec);
        sections.insert(name.into(), Value::Object(sec.map));
    }
    sections.insert("section_6_3".into(), attachments(&c));
    // The sub-type, now that what is missing is known.
    sections["section_1_1"]["notification_subtype"] = json!(subtype(&c, &missing));

    let mut out = Map::new();
    out.insert("$schema".into(), json!(SCHEMA_ID));
    out.insert("schema_version".into(), json!(SCHEMA_VERSION));
    out.insert(
        "template".into(),
        json!({"name": "EDPB common template for the notification of a personal data breach (GDPR art. 33)", "version": "draft 2026-06-08"}),
    );
    out.insert(
        "case".into(),
        json!({
            "id": case.id,
            "workflow": wf.id,
            "authority": wf.meta.get("authority"),
            "generated_at": time::rfc3339_in(now, c.tz),
        }),
    );
    out.insert("missing".into(), json!(missing));
    out.extend(sections);
    (Value::Object(out), missing)
}

/// 1.1's sub-type: a withdrawal; else complete or incomplete as the case says, or as
/// `missing` (every other section filled) shows.
fn subtype(c: &Ctx, missing: &[String]) -> &'static str {
    if c.withdrawn {
        "withdrawal"
    } else {
        match text(c.case, "notification_completeness") {
            Some("complete") => "complete",
            Some(_) => "incomplete",
            None if missing.is_empty() => "complete",
            None => "incomplete",
        }
    }
}

/// What the Markdown draft shows of the template beyond the facts: the derived values,
/// by their labels (`edpb_*` in labels.<lang>.yaml), or a placeholder when unknown.
pub fn view(json: &Value, labels: &Labels) -> Value {
    let label = |section: &str, key: &str| -> Value {
        match json[section][key].as_str() {
            Some(v) => json!(labels.get(&format!("edpb_{v}"))),
            None => json!(labels.placeholder(&format!("edpb_field_{key}"))),
        }
    };
    let per_country = json["section_6_2"]["subjects_per_country"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| format!("{}: {}", c["country"].as_str().unwrap_or(""), c["count"]))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let plain = |section: &str, key: &str, fact: &str| -> Value {
        match json[section][key].as_str() {
            Some(v) => json!(v),
            None => json!(labels.placeholder(fact)),
        }
    };
    let nature = |n: &str| {
        json["section_3_2"]["nature"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == n))
    };
    // A kind derived for the template (from its own fact or the assessment's), by its
    // label; a placeholder naming the fact when unknown.
    let kind = |key: &str| -> Value {
        match json["section_3_2"][key].as_str() {
            Some(v) => json!(labels.get(v)),
            None => json!(labels.placeholder(key)),
        }
    };
    let communication = json["section_4_4"]["communication"].as_str();
    json!({
        "confidentiality": nature("confidentiality"),
        "integrity": nature("integrity"),
        "availability": nature("availability"),
        "confidentiality_kind": kind("confidentiality_kind"),
        "data_unintelligible": kind("data_unintelligible"),
        "integrity_kind": kind("integrity_kind"),
        "availability_kind": kind("availability_kind"),
        "communicates": matches!(communication, Some("yes" | "planned")),
        "reporter_name": plain("section_2_2", "reporter_name", "reporter_name"),
        "reporter_contact": plain("section_2_2", "reporter_contact", "reporter_contact"),
        "notification_type": label("section_1_1", "notification_type"),
        "notification_subtype": label("section_1_1", "notification_subtype"),
        "follow_up": json["section_1_1"]["notification_type"] == "follow_up",
        "withdrawn": json["section_1_1"]["notification_subtype"] == "withdrawal",
        "occurrence": label("section_3_1", "occurrence"),
        "late": !json["section_3_1"]["late_notification_reasons"].is_null()
            || json["missing"].as_array().is_some_and(|m| m.iter().any(|p| p == "section_3_1.late_notification_reasons")),
        "severity": label("section_4_1", "severity"),
        "risk_outcome": label("section_4_2", "risk_outcome"),
        "communication": label("section_4_4", "communication"),
        "contact_point": match json["section_2_3"]["contact_point"].as_str() {
            Some(v) => json!(labels.get(&format!("edpb_contact_{v}"))),
            None => json!(labels.placeholder("contact_point")),
        },
        "contact_other": json["section_2_3"]["contact_point"] == "other",
        "contact_name": plain("section_2_3", "contact_name", "contact_name"),
        "contact_function": plain("section_2_3", "contact_function", "contact_function"),
        "contact_details": plain("section_2_3", "contact_details", "contact_details"),
        "parties_involved": json["section_2_3"]["other_parties_involved"] == true,
        "other_parties_contact": plain("section_2_3", "other_parties_contact", "other_parties_contact"),
        "organisation_type_description": json["section_1_1"]["organisation_type_description"],
        "told": communication == Some("yes"),
        "subjects_informed": label("section_4_4", "subjects_informed"),
        "not_all_informed": json["section_4_4"]["subjects_informed"] == "not_all",
        "not_all_informed_reasons": plain("section_4_4", "not_all_informed_reasons", "individuals_not_all_reasons"),
        "other_attachments": json["section_6_3"]["other_attachments"],
        "reported_to_police": label("section_6_1", "reported_to_police"),
        "other_authorities_notified": label("section_6_1", "other_authorities_notified"),
        "cross_border": label("section_6_2", "cross_border"),
        "is_cross_border": json["section_6_2"]["cross_border"] == "yes",
        "per_country": per_country,
        "missing": json["missing"],
    })
}
