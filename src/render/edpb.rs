//! The EDPB common notification template (draft of June 2026) as one JSON object: its
//! sections and fields, values from the case, `null` for what is unknown, and the
//! fields still missing. Stable and versioned: docs/edpb_notification.schema.json is
//! its schema, docs/edpb-template.md maps each field to the case.
//!
//! Built once here; the Markdown draft (`edpb_notification.<lang>.md.hbs`) reads the
//! derived values through `view`, the JSON draft is `build` serialised.

use super::view::Labels;
use crate::case::{CampaignRun, Case, ClockStatus, EventBody, Recorded, clocks};
use crate::org::Profile;
use crate::time;
use crate::workflow::{FactValue, Workflow};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
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

fn text<'a>(case: &'a Case, id: &str) -> Option<&'a str> {
    match case.facts.get(id) {
        Some(FactValue::Text(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn items<'a>(case: &'a Case, id: &str) -> &'a [String] {
    match case.facts.get(id) {
        Some(FactValue::List(v)) => v.as_slice(),
        _ => &[],
    }
}

fn has(case: &Case, list: &str, item: &str) -> bool {
    items(case, list).iter().any(|i| i == item)
}

fn boolean(case: &Case, id: &str) -> Option<bool> {
    match case.facts.get(id) {
        Some(FactValue::Boolean(b)) => Some(*b),
        _ => None,
    }
}

fn s(v: Option<&str>) -> Value {
    v.map(|x| Value::String(x.to_string()))
        .unwrap_or(Value::Null)
}

/// Items mapped and deduplicated, in the order given; `None` when the fact is unset.
fn mapped(case: &Case, id: &str, map: impl Fn(&str) -> Option<&'static str>) -> Value {
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

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
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

fn countries(text: &str) -> Value {
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
fn informed_by_runs(case: &Case, events: &[Recorded]) -> Option<bool> {
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

/// 1.1 Notification and controller.
fn notification_and_controller(c: &Ctx, sec: &mut Section) {
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
fn reporting_person(c: &Ctx, sec: &mut Section) {
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
fn dpo_contact_and_parties(c: &Ctx, sec: &mut Section) {
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

/// 3.1 Timeline.
fn timeline(c: &Ctx, sec: &mut Section) {
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
fn nature(c: &Ctx, sec: &mut Section) {
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
fn data_subjects(c: &Ctx, sec: &mut Section) {
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
fn personal_data(c: &Ctx, sec: &mut Section) {
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

/// A security measure's id in the template (sections 3.5 and 4.4).
fn measure(m: &str) -> Option<&'static str> {
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

/// 3.5 Measures in place before the breach.
fn measures_before(c: &Ctx, sec: &mut Section) {
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

/// 4.1 Consequences and severity.
fn consequences(c: &Ctx, sec: &mut Section) {
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
fn risk_assessment(c: &Ctx, sec: &mut Section) {
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
fn mitigation(c: &Ctx, sec: &mut Section) {
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
fn prevention_and_communication(c: &Ctx, sec: &mut Section) {
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

/// 6.1 Police and other authorities.
fn other_authorities(c: &Ctx, sec: &mut Section) {
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
fn cross_border(c: &Ctx, sec: &mut Section) {
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
fn attachments(c: &Ctx) -> Value {
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
