//! The EDPB common notification template (issue 12 part 1): `edpb_notification` drafted
//! as Markdown in fr and en and as JSON, the JSON checked against the schema shipped in
//! docs/ by a real validator, the fields still missing listed, and a withdrawal that
//! needs its reasons and that the draft states.

use crate::both_backends;
use crate::common;

use common::{Vigie, repo};
use serde_json::Value;

both_backends! {
    the_json_of_every_seed_validates_against_the_shipped_schema,
    the_schema_refuses_what_the_template_does_not_allow,
    missing_fields_are_listed_null_and_leave_the_list_once_set,
    a_withdrawal_without_reasons_is_refused_and_writes_nothing,
    a_withdrawn_notification_says_so_in_french_english_and_json,
    json_is_only_for_the_edpb_template,
    severity_and_cross_border_counts_come_from_the_case,
}

/// The validator of docs/edpb_notification.schema.json, formats (date-time) checked too.
fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo("docs/edpb_notification.schema.json"))
        .expect("the schema is shipped in docs/");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema is a valid JSON Schema")
}

#[track_caller]
fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}\n{doc:#}");
}

/// `draft ID edpb_notification --format json`, parsed.
#[track_caller]
fn edpb_json(v: &Vigie, id: &str) -> Value {
    v.json(&["draft", id, "edpb_notification", "--format", "json"])
}

/// The value at a `missing` path ("section_3_1.discovery_method").
fn at<'a>(doc: &'a Value, path: &str) -> &'a Value {
    let (section, field) = path.split_once('.').expect("section.field");
    &doc[section][field]
}

const SEEDS: [&str; 5] = [
    "caf-2021",
    "cpas-charleroi",
    "france-travail",
    "france-visas-2021",
    "hubee-2026",
];

fn the_json_of_every_seed_validates_against_the_shipped_schema() {
    let v = Vigie::new();
    v.ok(&["demo"]);
    let schema = validator();
    for id in SEEDS {
        let doc = edpb_json(&v, id);
        assert_valid(&schema, &doc, id);
        assert_eq!(doc["schema_version"], "2", "{id}");
        assert_eq!(doc["case"]["id"], id);
        // Every path listed as missing is a field of the object, and it is empty (or,
        // for the risk, says that more information is needed).
        for p in doc["missing"].as_array().expect("a list") {
            let p = p.as_str().unwrap();
            let value = at(&doc, p);
            assert!(
                value.is_null()
                    || value.as_array().is_some_and(|a| a.is_empty())
                    || value == "more_information_needed",
                "{id}: {p} is listed as missing but holds {value}"
            );
        }
        // The seeds' new facts reach the template.
        assert_eq!(doc["section_3_1"]["discovery_method"], "controller", "{id}");
        assert!(doc["section_3_2"]["incident_kind"].is_string(), "{id}");
        assert_eq!(doc["section_1_1"]["sector"], "public", "{id}");
        // Each seed notified its authority: this is a follow-up of that notification.
        assert_eq!(doc["section_1_1"]["notification_type"], "follow_up", "{id}");
    }
}

fn the_schema_refuses_what_the_template_does_not_allow() {
    let v = Vigie::new();
    v.ok(&["demo"]);
    let schema = validator();
    let good = edpb_json(&v, "hubee-2026");
    assert_valid(&schema, &good, "hubee-2026");
    let mut bad_choice = good.clone();
    bad_choice["section_4_1"]["severity"] = "catastrophic".into();
    let mut no_section = good.clone();
    no_section.as_object_mut().unwrap().remove("section_3_2");
    let mut bad_date = good.clone();
    bad_date["section_3_1"]["awareness"] = "yesterday".into();
    let mut unknown_field = good.clone();
    unknown_field["section_6_2"]["planet"] = "Mars".into();
    for (what, doc) in [
        ("a severity not in the template", bad_choice),
        ("a section left out", no_section),
        ("a date that is not a date", bad_date),
        ("a field the template does not have", unknown_field),
    ] {
        assert!(!schema.is_valid(&doc), "the schema accepts {what}");
    }
}

fn missing_fields_are_listed_null_and_leave_the_list_once_set() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    let doc = edpb_json(&v, "c1");
    assert_valid(&validator(), &doc, "a fresh case");
    let missing: Vec<&str> = doc["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for p in [
        "section_3_1.discovery_method",
        "section_3_2.incident_kind",
        "section_3_2.nature",
        "section_4_1.severity",
        "section_6_2.cross_border",
    ] {
        assert!(missing.contains(&p), "{p} not in {missing:?}");
        assert!(at(&doc, p).is_null(), "{p}");
    }
    assert_eq!(doc["section_1_1"]["notification_type"], "new");
    assert_eq!(doc["section_1_1"]["notification_subtype"], "incomplete");
    // Known: the awareness is there, not missing.
    assert!(!missing.contains(&"section_3_1.awareness"));
    assert!(doc["section_3_1"]["awareness"].is_string());

    // The Markdown draft lists them too, by label and by path.
    let md = v.run(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    assert_eq!(md.code, 0, "{}", md.stderr);
    assert!(
        md.stdout.contains("- Who discovered the breach"),
        "{}",
        md.stdout
    );
    assert!(
        md.stdout.contains("`section_3_2.incident_kind`"),
        "{}",
        md.stdout
    );
    assert!(md.stderr.contains("Kind of incident"), "{}", md.stderr);

    v.ok(&[
        "case",
        "set",
        "c1",
        "discovered_by=by_press",
        "incident_kind=open_recipient_list",
        "cross_border=false",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_3_1"]["discovery_method"], "press");
    assert_eq!(doc["section_3_2"]["incident_kind"], "open_recipient_list");
    assert_eq!(doc["section_6_2"]["cross_border"], "no");
    let missing = doc["missing"].as_array().unwrap();
    for p in [
        "section_3_1.discovery_method",
        "section_3_2.incident_kind",
        "section_6_2.cross_border",
    ] {
        assert!(!missing.iter().any(|m| m == p), "{p} still missing");
    }
    // Told by the press: the date another party told the controller is now asked.
    assert!(
        missing
            .iter()
            .any(|m| m == "section_3_1.informed_by_other_party_at")
    );
    // --strict refuses a JSON draft with fields missing, as it does a Markdown one.
    let line = v.fails(
        &[
            "draft",
            "c1",
            "edpb_notification",
            "--format",
            "json",
            "--strict",
        ],
        2,
    );
    assert!(line.contains("section_3_2.nature"), "{line}");
}

/// A case notified to the CNIL, with the reference the CNIL gave.
fn notified_case(v: &Vigie) {
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&[
        "case",
        "advance",
        "c1",
        "notify_authority",
        "--at",
        "2025-10-24T09:00",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "nature=[confidentiality]",
        "--set",
        "subjects_approx=120",
        "--set",
        "data_categories=[identity]",
        "--set",
        "consequences=Phishing possible",
        "--set",
        "measures=Mailbox closed",
        "--set",
        "authority_ref=CNIL-2025-0042",
    ]);
}

fn a_withdrawal_without_reasons_is_refused_and_writes_nothing() {
    let v = Vigie::new();
    notified_case(&v);
    let before = v.db_snapshot();
    let line = v.fails(&["case", "advance", "c1", "withdraw_authority_notice"], 2);
    assert!(
        line.contains("withdraw_authority_notice") && line.contains("withdrawal_reasons"),
        "{line}"
    );
    // An empty reason is no reason either.
    v.fails(
        &[
            "case",
            "advance",
            "c1",
            "withdraw_authority_notice",
            "--set",
            "withdrawal_reasons=",
        ],
        2,
    );
    assert_eq!(
        v.db_snapshot(),
        before,
        "a refused withdrawal wrote something"
    );
    assert_eq!(v.show("c1")["tracks"]["authority"], "notified");
}

fn a_withdrawn_notification_says_so_in_french_english_and_json() {
    let v = Vigie::new();
    notified_case(&v);
    v.ok(&[
        "case",
        "advance",
        "c1",
        "withdraw_authority_notice",
        "--set",
        "withdrawal_reasons=Doublon de la notification du 23 octobre",
    ]);
    assert_eq!(v.show("c1")["tracks"]["authority"], "withdrawn");

    let fr = v.ok(&["draft", "c1", "edpb_notification", "--lang", "fr"]);
    for s in [
        "**Retrait de la notification.**",
        "Sous-type : Retrait de la notification antérieure",
        "Type de notification : Notification de suivi",
        "CNIL-2025-0042",
        "Doublon de la notification du 23 octobre",
    ] {
        assert!(fr.contains(s), "the French draft lacks {s:?}:\n{fr}");
    }
    let en = v.ok(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    for s in [
        "**Withdrawal of the notification.**",
        "Sub-type: Withdrawal of the earlier notification",
        "Type of notification: Follow-up notification",
        "CNIL-2025-0042",
        "Doublon de la notification du 23 octobre",
    ] {
        assert!(en.contains(s), "the English draft lacks {s:?}:\n{en}");
    }

    let doc = edpb_json(&v, "c1");
    assert_valid(&validator(), &doc, "a withdrawal");
    let s11 = &doc["section_1_1"];
    assert_eq!(s11["notification_type"], "follow_up");
    assert_eq!(s11["notification_subtype"], "withdrawal");
    assert_eq!(s11["previous_notification_id"], "CNIL-2025-0042");
    assert_eq!(
        s11["withdrawal_reasons"],
        "Doublon de la notification du 23 octobre"
    );

    // A withdrawn notification is not withdrawn twice, nor completed afterwards.
    v.fails(
        &[
            "case",
            "advance",
            "c1",
            "withdraw_authority_notice",
            "--set",
            "withdrawal_reasons=again",
        ],
        2,
    );
    v.fails(&["case", "advance", "c1", "notify_authority_complement"], 2);
}

fn json_is_only_for_the_edpb_template() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    let line = v.fails(&["draft", "c1", "cnil_notification", "--format", "json"], 2);
    assert!(line.contains("cnil_notification"), "{line}");
    // The other formats of the EDPB draft work as for every draft.
    for format in ["md", "txt", "html"] {
        let out = v.ok(&["draft", "c1", "edpb_notification", "--format", format]);
        assert!(out.contains("CEPD"), "{format}: {out}");
    }
}

fn severity_and_cross_border_counts_come_from_the_case() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    for (risk, severity) in [("none", "minor"), ("risk", "moderate"), ("high", "severe")] {
        v.ok(&[
            "case",
            "set",
            "c1",
            &format!("risk={risk}"),
            "risk_rationale=As the test needs",
        ]);
        let doc = edpb_json(&v, "c1");
        assert_eq!(doc["section_4_1"]["severity"], severity, "risk {risk}");
    }
    v.ok(&[
        "case",
        "set",
        "c1",
        "cross_border=true",
        "lead_authority=CNIL",
        "establishment_countries=FR, be",
        "subjects_per_country=FR=1200; BE: 300",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_valid(&validator(), &doc, "a cross-border case");
    let s62 = &doc["section_6_2"];
    assert_eq!(s62["cross_border"], "yes");
    assert_eq!(s62["lead_authority"], "CNIL");
    assert_eq!(
        s62["establishment_countries"],
        serde_json::json!(["FR", "BE"])
    );
    assert_eq!(
        s62["subjects_per_country"],
        serde_json::json!([{"country": "FR", "count": 1200}, {"country": "BE", "count": 300}])
    );
    let md = v.ok(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    assert!(
        md.contains("Data subjects per country: FR: 1200; BE: 300"),
        "{md}"
    );
    // Counts that do not read are refused at input (issue 23 N3), naming the fact; the
    // counts set before stay.
    let err = v.fails(
        &[
            "case",
            "set",
            "c1",
            "subjects_per_country=France twelve hundred",
        ],
        2,
    );
    assert!(err.contains("'subjects_per_country'"), "{err}");
    let doc = edpb_json(&v, "c1");
    assert_eq!(
        doc["section_6_2"]["subjects_per_country"],
        serde_json::json!([{"country": "FR", "count": 1200}, {"country": "BE", "count": 300}])
    );
}

/// The HTML draft (the web's draft page) shows identifiers in code spans as they are
/// typed: Markdown escapes there would print as backslashes (`fr\-2026\-0001`,
/// `section\_3\_1`), and a DPO copying the command would get a command that fails.
#[test]
fn identifiers_in_code_spans_of_the_html_draft_carry_no_escapes() {
    let v = Vigie::new();
    v.open_fr("fr-2026-0001", "2025-10-23T10:00");
    let html = v.ok(&[
        "draft",
        "fr-2026-0001",
        "edpb_notification",
        "--format",
        "html",
    ]);
    assert!(
        html.contains("<code>vigie draft fr-2026-0001 edpb_notification --format json</code>"),
        "{html}"
    );
    assert!(
        html.contains("<code>section_3_1.discovery_method</code>"),
        "{html}"
    );
    assert!(!html.contains("\\-") && !html.contains("\\_"), "{html}");
}
