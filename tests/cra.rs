//! Issue 26 part 4: the Cyber Resilience Act (Regulation (EU) 2024/2847 art. 14). A
//! manufacturer of products with digital elements (`cra_manufacturer` on the
//! organisation's profile) reports an actively exploited vulnerability or a severe
//! incident to the CSIRT designated as coordinator (CERT-FR, CCB) and to ENISA: an early
//! warning within 24 h, a notification within 72 h, and a final report 14 days after a
//! corrective measure is available (vulnerability) or one month after the incident
//! notification (severe incident). Hours are absolute; days and months are calendar
//! arithmetic in the workflow's zone, so each deadline is checked across a DST change.

use crate::both_backends;
use crate::common;

use common::web::{Server, form_token};
use common::{Vigie, clock};
use serde_json::Value;

both_backends! {
    an_exploited_vulnerability_has_its_three_deadlines_across_the_october_change,
    a_severe_incident_has_its_three_deadlines_across_the_march_change,
    the_one_month_final_report_after_31_january_ends_on_the_last_day_of_february,
    a_non_manufacturer_has_no_cra_deadline_step_or_draft,
    the_drafts_name_the_csirt_enisa_and_the_article_in_each_language,
    a_manufacturer_and_a_non_manufacturer_never_mix,
}

const VULN: [&str; 3] = ["cra_vuln_warning", "cra_vuln_notice", "cra_vuln_final"];
const INCIDENT: [&str; 3] = [
    "cra_incident_warning",
    "cra_incident_notice",
    "cra_incident_final",
];

/// A case recorded afterwards: its steps are dated in the past, with a reason.
const LATE: [&str; 2] = ["--reason", "recorded afterwards from the incident log"];

fn due(case: &Value, id: &str) -> String {
    clock(case, id)["due_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no due time for {id}: {:#}", clock(case, id)))
        .to_string()
}

fn status(case: &Value, id: &str) -> String {
    clock(case, id)["status"].as_str().unwrap().to_string()
}

fn allowed(case: &Value) -> Vec<String> {
    case["allowed"]
        .as_array()
        .expect("allowed is a list")
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

fn open(v: &Vigie, workflow: &str, id: &str, aware_at: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "case",
        "open",
        "--workflow",
        workflow,
        "--title",
        "Synthetic product vulnerability",
        "--aware-at",
        aware_at,
        "--id",
        id,
        "--json",
    ];
    args.extend_from_slice(extra);
    v.json(&args)
}

/// `case advance ID EVENT --at AT --reason ... [--set F=V]...`.
fn advance(v: &Vigie, id: &str, event: &str, at: &str, sets: &[&str]) {
    let mut args = vec!["case", "advance", id, event, "--at", at];
    args.extend_from_slice(&LATE);
    for s in sets {
        args.extend_from_slice(&["--set", s]);
    }
    v.ok(&args);
}

/// The 24 h early warning and the 72 h notification count from awareness across the
/// night the clocks go back (25 October 2026 in Europe/Paris): 10:00 CEST + 24 h is
/// 09:00 CET. The 14-day final report counts calendar days from the measure's
/// availability: the same local time, whatever the offset.
fn an_exploited_vulnerability_has_its_three_deadlines_across_the_october_change() {
    let v = Vigie::new();
    v.ok(&["org", "set", "--cra-manufacturer", "yes"]);
    let case = open(&v, "fr", "v1", "2026-10-24T10:00", &[]);
    assert_eq!(case["facts"]["cra_manufacturer"], true, "{case}");
    // The kind not known yet: both kinds' clocks run (an unknown hides nothing).
    assert_eq!(due(&case, "cra_vuln_warning"), "2026-10-25T09:00:00+01:00");
    assert_eq!(
        due(&case, "cra_incident_warning"),
        "2026-10-25T09:00:00+01:00"
    );

    v.ok(&["case", "set", "v1", "cra_kind=exploited_vulnerability"]);
    let case = v.show("v1");
    assert_eq!(due(&case, "cra_vuln_warning"), "2026-10-25T09:00:00+01:00");
    assert_eq!(due(&case, "cra_vuln_notice"), "2026-10-27T09:00:00+01:00");
    assert_eq!(clock(&case, "cra_vuln_final")["due_at"], Value::Null);
    for id in INCIDENT {
        assert_eq!(status(&case, id), "not_applicable", "{id}");
    }
    // The text shows the deadline with its offset.
    let text = v.ok(&["case", "show", "v1"]);
    assert!(text.contains("cra_vuln_warning"), "{text}");
    assert!(text.contains("2026-10-25 09:00 +01:00"), "{text}");

    advance(
        &v,
        "v1",
        "cra_early_warning",
        "2026-10-24T18:00",
        &[
            "cra_product=Synthetic router firmware",
            "cra_member_states=FR, BE",
        ],
    );
    advance(
        &v,
        "v1",
        "cra_vulnerability_notification",
        "2026-10-26T12:00",
        &["cra_description=Authentication bypass on the admin page"],
    );
    let case = v.show("v1");
    assert_eq!(status(&case, "cra_vuln_warning"), "met");
    assert_eq!(status(&case, "cra_vuln_notice"), "met");
    assert_eq!(case["tracks"]["cra"], "notified");

    // The final report needs the measure's availability, which starts its 14 days.
    let before = v.db_snapshot();
    let err = v.fails(
        &[
            "case",
            "advance",
            "v1",
            "cra_final_report",
            "--set",
            "cra_severity=High",
            "--set",
            "cra_corrective_measures=Firmware 2.4.1",
        ],
        2,
    );
    assert!(err.contains("cra_measure_available_at"), "{err}");
    assert!(err.contains("14(2)(c)"), "{err}");
    assert_eq!(v.db_snapshot(), before, "a refused step wrote something");

    // Available on 24 October at 20:00 CEST: due on 7 November at 20:00 CET, not 19:00.
    v.ok(&[
        "case",
        "set",
        "v1",
        "cra_measure_available_at=2026-10-24T20:00",
    ]);
    let case = v.show("v1");
    assert_eq!(due(&case, "cra_vuln_final"), "2026-11-07T20:00:00+01:00");
    assert_eq!(anchor(&case, "cra_vuln_final"), "cra_measure_available_at");

    advance(
        &v,
        "v1",
        "cra_final_report",
        "2026-11-02T10:00",
        &[
            "cra_severity=High",
            "cra_corrective_measures=Firmware 2.4.1",
        ],
    );
    let case = v.show("v1");
    assert_eq!(status(&case, "cra_vuln_final"), "met");
    assert_eq!(case["tracks"]["cra"], "final_reported");
}

fn anchor(case: &Value, id: &str) -> String {
    clock(case, id)["anchor"]
        .as_str()
        .unwrap_or_else(|| panic!("no anchor for {id}: {:#}", clock(case, id)))
        .to_string()
}

/// Belgium, the night the clocks go forward (29 March 2026 in Europe/Brussels): 10:00
/// CET + 24 h is 11:00 CEST. The final report is due one calendar month after the
/// incident notification, at the same local time.
fn a_severe_incident_has_its_three_deadlines_across_the_march_change() {
    let v = Vigie::new();
    v.ok(&["org", "set", "--cra-manufacturer", "yes"]);
    open(
        &v,
        "be",
        "i1",
        "2026-03-28T10:00",
        &["--set", "cra_kind=severe_incident"],
    );
    let case = v.show("i1");
    assert_eq!(
        due(&case, "cra_incident_warning"),
        "2026-03-29T11:00:00+02:00"
    );
    assert_eq!(
        due(&case, "cra_incident_notice"),
        "2026-03-31T11:00:00+02:00"
    );
    assert_eq!(clock(&case, "cra_incident_final")["due_at"], Value::Null);
    for id in VULN {
        assert_eq!(status(&case, id), "not_applicable", "{id}");
    }

    // Sent directly within 24 h, the notification meets the early warning too.
    advance(
        &v,
        "i1",
        "cra_incident_notification",
        "2026-03-28T16:00",
        &[
            "cra_product=Synthetic smart meter",
            "cra_description=Signing key of the update server stolen",
        ],
    );
    let case = v.show("i1");
    assert_eq!(status(&case, "cra_incident_warning"), "met");
    assert_eq!(status(&case, "cra_incident_notice"), "met");
    // 28 March 16:00 CET + one month: 28 April 16:00 CEST.
    assert_eq!(
        due(&case, "cra_incident_final"),
        "2026-04-28T16:00:00+02:00"
    );

    let err = v.fails(
        &[
            "case",
            "advance",
            "i1",
            "cra_final_report",
            "--set",
            "cra_severity=Updates could be forged",
            "--set",
            "cra_corrective_measures=Key revoked, new key in the devices",
        ],
        2,
    );
    assert!(err.contains("root_cause"), "{err}");
    assert!(err.contains("14(4)(c)"), "{err}");
    advance(
        &v,
        "i1",
        "cra_final_report",
        "2026-04-20T10:00",
        &[
            "cra_severity=Updates could be forged",
            "cra_corrective_measures=Key revoked, new key in the devices",
            "root_cause=Build server exposed to the internet",
        ],
    );
    assert_eq!(status(&v.show("i1"), "cra_incident_final"), "met");
}

/// One calendar month from 31 January is the last day of February (clamped), at the
/// same local time.
fn the_one_month_final_report_after_31_january_ends_on_the_last_day_of_february() {
    let v = Vigie::new();
    v.ok(&["org", "set", "--cra-manufacturer", "yes"]);
    open(
        &v,
        "fr",
        "m1",
        "2026-01-30T09:00",
        &["--set", "cra_kind=severe_incident"],
    );
    advance(
        &v,
        "m1",
        "cra_incident_notification",
        "2026-01-31T10:00",
        &[
            "cra_product=Synthetic badge reader",
            "cra_description=Readers unlocked remotely",
        ],
    );
    let case = v.show("m1");
    assert_eq!(
        due(&case, "cra_incident_final"),
        "2026-02-28T10:00:00+01:00"
    );
    assert_eq!(
        anchor(&case, "cra_incident_final"),
        "cra_incident_notification"
    );
}

/// No, and not known: no CRA deadline. No: the regime is not applicable, its steps and
/// drafts are refused.
fn a_non_manufacturer_has_no_cra_deadline_step_or_draft() {
    let v = Vigie::new();
    // Not known (the profile says nothing): the clocks do not run, as with DORA.
    let case = v.open_fr("u1", "2026-10-24T10:00");
    for id in VULN.iter().chain(INCIDENT.iter()) {
        assert_eq!(status(&case, id), "not_applicable", "{id}");
    }

    v.ok(&["org", "set", "--cra-manufacturer", "no"]);
    let case = v.open_fr("n1", "2026-10-24T10:00");
    assert_eq!(case["facts"]["cra_manufacturer"], false, "{case}");
    for id in VULN.iter().chain(INCIDENT.iter()) {
        assert_eq!(status(&case, id), "not_applicable", "{id}");
    }
    let na = case["not_applicable"].as_array().unwrap();
    assert!(na.contains(&Value::from("cra")), "{case}");
    assert!(!allowed(&case).iter().any(|e| e.starts_with("cra_")));
    let text = v.ok(&["case", "show", "n1"]);
    let deadlines = text.split("\nFacts:").next().unwrap();
    assert!(!deadlines.contains("  cra_"), "{text}");

    let before = v.db_snapshot();
    let err = v.fails(
        &[
            "case",
            "advance",
            "n1",
            "cra_early_warning",
            "--set",
            "cra_kind=exploited_vulnerability",
            "--set",
            "cra_product=X",
        ],
        2,
    );
    assert!(err.contains("'cra'"), "{err}");
    assert!(err.contains("cra_manufacturer=false"), "{err}");
    let err = v.fails(&["draft", "n1", "cra_early_warning"], 2);
    assert!(err.contains("'cra'"), "{err}");
    assert_eq!(v.db_snapshot(), before, "a refused step wrote something");
}

/// Each draft names the CSIRT designated as coordinator of its country and ENISA, never
/// the data protection authority, and the article of each report, in each language.
fn the_drafts_name_the_csirt_enisa_and_the_article_in_each_language() {
    let v = Vigie::new();
    v.ok(&["org", "set", "--cra-manufacturer", "yes"]);
    for (id, wf, kind) in [
        ("fr-v", "fr", "exploited_vulnerability"),
        ("fr-i", "fr", "severe_incident"),
        ("be-v", "be", "exploited_vulnerability"),
        ("be-i", "be", "severe_incident"),
    ] {
        let kind = format!("cra_kind={kind}");
        open(&v, wf, id, "2026-10-24T10:00", &["--set", kind.as_str()]);
    }
    // (case, language, CSIRT, data protection authority, the article's paragraph per
    // draft: early warning, notification, final report).
    let para = |lang: &str, p: u8| -> [String; 3] {
        ["a", "b", "c"].map(|l| match lang {
            "nl" => format!("art. 14, lid {p}, {l})"),
            _ => format!("art. 14({p})({l})"),
        })
    };
    for (case, lang, csirt, dpa, p) in [
        ("fr-v", "fr", "CERT-FR (ANSSI)", "CNIL", 2),
        ("fr-v", "en", "CERT-FR (ANSSI)", "CNIL", 2),
        ("fr-i", "fr", "CERT-FR (ANSSI)", "CNIL", 4),
        ("fr-i", "en", "CERT-FR (ANSSI)", "CNIL", 4),
        (
            "be-v",
            "fr",
            "CCB (Centre pour la Cybersécurité Belgique)",
            "APD",
            2,
        ),
        (
            "be-v",
            "nl",
            "CCB (Centrum voor Cybersecurity België)",
            "GBA",
            2,
        ),
        ("be-v", "en", "CCB", "APD", 2),
        (
            "be-i",
            "nl",
            "CCB (Centrum voor Cybersecurity België)",
            "GBA",
            4,
        ),
        ("be-i", "fr", "CCB", "APD", 4),
    ] {
        let articles = para(lang, p);
        for (doc, article) in ["cra_early_warning", "cra_notification", "cra_final"]
            .iter()
            .zip(articles.iter())
        {
            let out = v.run(&["draft", case, *doc, "--lang", lang]);
            assert_eq!(out.code, 0, "{case} {doc} {lang}: {}", out.stderr);
            let title = out.stdout.lines().next().unwrap_or_default();
            assert!(title.contains(csirt), "{case} {doc} {lang}: {title}");
            assert!(title.contains("ENISA"), "{case} {doc} {lang}: {title}");
            assert!(!title.contains(dpa), "{case} {doc} {lang}: {title}");
            assert!(
                out.stdout.contains(article.as_str()),
                "{case} {doc} {lang} lacks {article}:\n{}",
                out.stdout
            );
            assert!(
                out.stdout.contains("2024/2847"),
                "{case} {doc} {lang}:\n{}",
                out.stdout
            );
        }
    }
    // French and English drafts only for the French workflow (as its other drafts).
    let nl = v.ok(&["draft", "fr-v", "cra_final", "--lang", "nl"]);
    assert!(nl.contains("CERT-FR"), "{nl}");
}

/// Two organisations on one server, one a manufacturer, the other not: the profile is
/// each one's own (the page edits its own), and so are the clocks of their cases.
fn a_manufacturer_and_a_non_manufacturer_never_mix() {
    let s = Server::start();
    s.v.ok(&["org", "set", "other", "--cra-manufacturer", "no"]);

    // The DPO of acme says yes on the organisation page, in its own words.
    let mut dpo = s.browser("dpo@acme.example");
    let (code, html, _) = dpo.get("/organisation");
    assert_eq!(code, 200);
    assert!(html.contains("name=\"cra-manufacturer\""), "{html}");
    assert!(
        html.contains("Fabricant de produits comportant des éléments numériques")
            || html.contains("Manufacturer of products with digital elements"),
        "{html}"
    );
    let csrf = form_token(&html, "/organisation").expect("a CSRF field");
    let r = dpo.post_form(
        "/organisation",
        &[("_csrf", &csrf), ("cra-manufacturer", "yes")],
    );
    assert_eq!(r.status().as_u16(), 303, "saved, then shown again");
    let (_, html, _) = dpo.get("/organisation");
    let select = html
        .split("id=\"org-cra-manufacturer\"")
        .nth(1)
        .and_then(|rest| rest.split("</select>").next())
        .unwrap_or_else(|| panic!("no cra-manufacturer select: {html}"));
    assert!(select.contains("value=\"yes\" selected"), "{select}");

    let acme: Value = serde_json::from_str(&s.v.ok(&["org", "show", "acme", "--json"])).unwrap();
    let other: Value = serde_json::from_str(&s.v.ok(&["org", "show", "other", "--json"])).unwrap();
    assert_eq!(acme["cra_manufacturer"], true, "{acme}");
    assert_eq!(other["cra_manufacturer"], false, "{other}");

    // The same case opened by each: CRA deadlines for acme only.
    let mut ids = Vec::new();
    for email in ["dpo@acme.example", "dpo@other.example"] {
        let opened = s.api(email).post(
            "/api/cases",
            &serde_json::json!({"workflow": "fr", "title": "T", "aware_at": "2026-10-24T10:00"}),
        );
        assert_eq!(opened.status, 201, "{}", opened.json);
        ids.push(opened.json["id"].as_str().unwrap().to_string());
    }
    let acme_case =
        s.v.json(&["--org", "acme", "case", "show", ids[0].as_str(), "--json"]);
    let other_case =
        s.v.json(&["--org", "other", "case", "show", ids[1].as_str(), "--json"]);
    assert_eq!(acme_case["facts"]["cra_manufacturer"], true);
    assert_eq!(
        due(&acme_case, "cra_vuln_warning"),
        "2026-10-25T09:00:00+01:00"
    );
    assert_eq!(other_case["facts"]["cra_manufacturer"], false);
    for id in VULN.iter().chain(INCIDENT.iter()) {
        assert_eq!(status(&other_case, id), "not_applicable", "{id}");
    }
    let d = s
        .api("dpo@other.example")
        .get(&format!("/api/cases/{}/drafts/cra_early_warning", ids[1]));
    assert_eq!(d.status, 400, "{}", d.json);
    let d = s
        .api("dpo@acme.example")
        .get(&format!("/api/cases/{}/drafts/cra_early_warning", ids[0]));
    assert_eq!(d.status, 200, "{}", d.json);
    let text = d.json["text"].as_str().unwrap();
    assert!(text.contains("CERT-FR") && text.contains("ENISA"), "{text}");
    assert!(!text.contains("Other SA"), "{text}");
}
