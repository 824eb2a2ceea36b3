//! Issue 12 end to end, through the real binary: a DORA case replayed (open, classify,
//! notify, two intermediate reports, final), a GDPR breach that is also a DORA major
//! incident with both sets of clocks on one case, and Belgium's APD part 2. Issue 22:
//! each clock's own anchor, the exemptions' conditions, art. 33(5), NIS2's progress
//! report and the initial notification drafted after it was sent.

use crate::both_backends;
use crate::common;

use common::{Vigie, clock};
use serde_json::Value;

both_backends! {
    a_dora_case_is_replayed_end_to_end,
    a_gdpr_breach_that_is_a_dora_major_incident_keeps_both_clock_sets,
    a_belgian_case_has_the_apd_part_2_deadline_and_draft,
    each_clock_counts_from_the_anchor_its_law_names,
    an_exemption_from_informing_people_is_refused_without_its_condition,
    a_breach_not_notified_records_its_effects_and_remedial_action,
    a_nis2_progress_report_moves_the_final_report_to_the_end_of_handling,
    the_initial_notification_can_be_drafted_after_it_was_sent,
}

fn due(case: &Value, id: &str) -> String {
    clock(case, id)["due_at"]
        .as_str()
        .unwrap_or_else(|| panic!("no due time for {id}: {:#}", clock(case, id)))
        .to_string()
}

fn status(case: &Value, id: &str) -> String {
    clock(case, id)["status"].as_str().unwrap().to_string()
}

fn a_dora_case_is_replayed_end_to_end() {
    let v = Vigie::new();
    let out = v.ok(&["workflow", "list"]);
    assert!(out.contains("dora"), "the dora workflow is embedded: {out}");
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "dora",
        "--id",
        "ict-1",
        "--title",
        "Payment platform outage",
        "--aware-at",
        "2026-10-23T08:00",
    ]);
    let case = v.show("ict-1");
    assert_eq!(due(&case, "dora_initial"), "2026-10-24T08:00:00+02:00");
    assert_eq!(clock(&case, "dora_final")["due_at"], Value::Null);

    // Classified as major at 10:00: the initial notification is due 4 hours later.
    v.ok(&[
        "case",
        "set",
        "ict-1",
        "classified_major_at=2026-10-23T10:00",
        "--at",
        "2026-10-23T10:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    assert_eq!(
        due(&v.show("ict-1"), "dora_initial"),
        "2026-10-23T14:00:00+02:00"
    );

    v.ok(&[
        "case",
        "advance",
        "ict-1",
        "dora_initial_notification",
        "--at",
        "2026-10-23T13:30",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "dora_description=Card payments refused for all clients",
    ]);
    let case = v.show("ict-1");
    assert_eq!(status(&case, "dora_initial"), "met");
    // 72 real hours after the initial notification, across the fall-back night.
    assert_eq!(due(&case, "dora_intermediate"), "2026-10-26T12:30:00+01:00");

    v.ok(&[
        "case",
        "advance",
        "ict-1",
        "dora_intermediate_report",
        "--at",
        "2026-10-25T09:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    let case = v.show("ict-1");
    assert_eq!(status(&case, "dora_intermediate"), "met");
    assert_eq!(due(&case, "dora_final"), "2026-11-25T09:00:00+01:00");

    // Regular activities recovered: an updated intermediate report moves the final one.
    v.ok(&[
        "case",
        "advance",
        "ict-1",
        "dora_intermediate_report",
        "--at",
        "2026-10-31T16:00",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "dora_recovered_at=2026-10-31T12:00",
    ]);
    let case = v.show("ict-1");
    assert_eq!(due(&case, "dora_final"), "2026-11-30T16:00:00+01:00");

    let draft = v.ok(&["draft", "ict-1", "dora_final", "--lang", "en"]);
    assert!(draft.contains("30 November 2026 at 16:00"), "{draft}");
    assert!(draft.contains("Root cause"), "{draft}");

    v.ok(&[
        "case",
        "advance",
        "ict-1",
        "dora_final_report",
        "--at",
        "2026-11-20T10:00",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "root_cause=Expired certificate on the card gateway",
    ]);
    let case = v.show("ict-1");
    assert_eq!(status(&case, "dora_final"), "met");
    assert_eq!(due(&case, "dora_final"), "2026-11-30T16:00:00+01:00");
    v.ok(&["case", "advance", "ict-1", "close"]);
    assert_eq!(v.show("ict-1")["tracks"]["response"], "closed");
    for doc in ["dora_initial", "dora_intermediate", "dora_final"] {
        for lang in ["fr", "en"] {
            v.ok(&["draft", "ict-1", doc, "--lang", lang]);
        }
    }
}

fn a_gdpr_breach_that_is_a_dora_major_incident_keeps_both_clock_sets() {
    let v = Vigie::new();
    v.open_fr("both", "2026-10-23T08:00");
    // Without the DORA profile, no DORA clock applies.
    let case = v.show("both");
    assert_eq!(status(&case, "dora_initial"), "not_applicable");
    v.ok(&[
        "case",
        "set",
        "both",
        "dora_entity=true",
        "classified_major_at=2026-10-23T09:00",
        "--at",
        "2026-10-23T09:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    let case = v.show("both");
    assert_eq!(due(&case, "art33"), "2026-10-26T07:00:00+01:00");
    assert_eq!(due(&case, "dora_initial"), "2026-10-23T13:00:00+02:00");
    v.ok(&[
        "case",
        "advance",
        "both",
        "dora_initial_notification",
        "--at",
        "2026-10-23T12:00",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "dora_description=Customer database copied",
    ]);
    v.ok(&[
        "case",
        "advance",
        "both",
        "dora_intermediate_report",
        "--at",
        "2026-10-24T12:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    let case = v.show("both");
    assert_eq!(status(&case, "dora_initial"), "met");
    assert_eq!(status(&case, "dora_intermediate"), "met");
    assert_eq!(due(&case, "dora_final"), "2026-11-24T12:00:00+01:00");
    assert_eq!(due(&case, "art33"), "2026-10-26T07:00:00+01:00");
    assert_eq!(case["tracks"]["authority"], "pending");
    assert_eq!(case["tracks"]["dora"], "intermediate_reported");
}

fn a_belgian_case_has_the_apd_part_2_deadline_and_draft() {
    let v = Vigie::new();
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--id",
        "be-1",
        "--title",
        "Fuite",
        "--aware-at",
        "2026-10-19T09:00",
    ]);
    v.ok(&[
        "case",
        "advance",
        "be-1",
        "notify_authority",
        "--at",
        "2026-10-20T10:00",
        "--reason",
        "recorded afterwards from the incident log",
        "--set",
        "nature=[confidentiality]",
        "--set",
        "subjects_approx=120",
        "--set",
        "data_categories=[contact]",
        "--set",
        "consequences=Hameçonnage",
        "--set",
        "measures=Accès coupé",
        "--set",
        "authority_ref=DBN-2026-0042",
    ]);
    let case = v.show("be-1");
    assert_eq!(due(&case, "apd_part2"), "2026-11-10T10:00:00+01:00");
    let draft = v.ok(&["draft", "be-1", "apd_notification_part2", "--lang", "fr"]);
    assert!(draft.contains("DBN-2026-0042"), "{draft}");
    assert!(draft.contains("mardi 10 novembre 2026 à 10:00"), "{draft}");
    v.ok(&[
        "case",
        "advance",
        "be-1",
        "notify_authority_part2",
        "--at",
        "2026-11-02T10:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    assert_eq!(status(&v.show("be-1"), "apd_part2"), "met");
}

fn anchor(case: &Value, id: &str) -> String {
    clock(case, id)["anchor"].as_str().unwrap_or("").to_string()
}

/// The line of `case show` for one deadline.
fn shown_line(text: &str, id: &str) -> String {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{id} ")))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{text}"))
        .to_string()
}

/// Issue 22 A3: the insurance complaint, NIS2 and DORA's initial report count from the
/// incident's detection; GDPR art. 33 from awareness of the personal-data breach.
fn each_clock_counts_from_the_anchor_its_law_names() {
    let v = Vigie::new();
    // The review's example: detected on Tuesday 27 October 2026 at 22:00, the personal
    // data known to be affected on Friday 30 at 09:00.
    v.open_fr("late-aware", "2026-10-30T09:00");
    v.ok(&[
        "case",
        "set",
        "late-aware",
        "detected_at=2026-10-27T22:00",
        "cyber_insured=true",
        "cause=external_malicious",
        "nis2_entity=true",
        "dora_entity=true",
    ]);
    let case = v.show("late-aware");
    // 72 h from learning of the attack, not from aware_at (which would give 2 November).
    assert_eq!(
        due(&case, "complaint_insurance"),
        "2026-10-30T22:00:00+01:00"
    );
    assert_eq!(
        due(&case, "nis2_early_warning"),
        "2026-10-28T22:00:00+01:00"
    );
    assert_eq!(due(&case, "nis2_notification"), "2026-10-30T22:00:00+01:00");
    assert_eq!(due(&case, "dora_initial"), "2026-10-28T22:00:00+01:00");
    // GDPR art. 33 stays on awareness of the personal-data breach.
    assert_eq!(due(&case, "art33"), "2026-11-02T09:00:00+01:00");
    for id in [
        "complaint_insurance",
        "nis2_early_warning",
        "nis2_notification",
        "dora_initial",
    ] {
        assert_eq!(anchor(&case, id), "detected_at", "{id}");
    }
    assert_eq!(anchor(&case, "art33"), "aware_at");
    assert_eq!(anchor(&case, "art34"), "aware_at");
    // `case show` names the anchor beside each deadline.
    let text = v.ok(&["case", "show", "late-aware"]);
    assert!(
        shown_line(&text, "complaint_insurance").contains("(from detected_at)"),
        "{text}"
    );
    assert!(
        shown_line(&text, "art33").contains("(from aware_at)"),
        "{text}"
    );

    // Without a detection time, awareness; and the earlier of the two always wins.
    v.open_fr("aware-only", "2026-10-30T09:00");
    v.ok(&["case", "set", "aware-only", "nis2_entity=true"]);
    let case = v.show("aware-only");
    assert_eq!(
        due(&case, "nis2_early_warning"),
        "2026-10-31T09:00:00+01:00"
    );
    assert_eq!(anchor(&case, "nis2_early_warning"), "aware_at");
    v.ok(&["case", "set", "aware-only", "detected_at=2026-10-30T12:00"]);
    let case = v.show("aware-only");
    assert_eq!(
        due(&case, "nis2_early_warning"),
        "2026-10-31T09:00:00+01:00"
    );
    assert_eq!(anchor(&case, "nis2_early_warning"), "aware_at");

    // DORA: 4 h after the classification as major when that comes first, and it says so.
    v.ok(&[
        "case",
        "set",
        "late-aware",
        "classified_major_at=2026-10-28T09:00",
    ]);
    let case = v.show("late-aware");
    assert_eq!(due(&case, "dora_initial"), "2026-10-28T13:00:00+01:00");
    assert_eq!(anchor(&case, "dora_initial"), "classified_major_at");

    // The same in Belgium, for NIS2 and DORA.
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--id",
        "be-anchor",
        "--title",
        "Intrusion",
        "--aware-at",
        "2026-10-30T09:00",
        "--set",
        "detected_at=2026-10-27T22:00",
        "--set",
        "nis2_entity=true",
    ]);
    let case = v.show("be-anchor");
    assert_eq!(
        due(&case, "nis2_early_warning"),
        "2026-10-28T22:00:00+01:00"
    );
    assert_eq!(due(&case, "art33"), "2026-11-02T09:00:00+01:00");
}

fn assessed_high(v: &Vigie, id: &str) {
    v.open_fr(id, "2026-10-19T09:00");
    v.ok(&[
        "case",
        "advance",
        id,
        "assess",
        "--set",
        "risk=high",
        "--set",
        "risk_rationale=Health data of patients taken by an attacker",
    ]);
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Issue 22 A5: each exemption of art. 34(3) states its condition in the workflow, and
/// the decision is refused, with nothing written, until it holds.
fn an_exemption_from_informing_people_is_refused_without_its_condition() {
    let v = Vigie::new();
    assessed_high(&v, "c");
    let decide = |exemption: &str| -> Vec<String> {
        [
            "case",
            "advance",
            "c",
            "decide_no_individual_notice",
            "--set",
            "risk_rationale=Departing on purpose: this test checks the exemption's own condition",
            "--set",
            &format!("individuals_exemption={exemption}"),
            "--set",
            "individuals_rationale=Too many people to reach one by one",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // (c) disproportionate effort without the public communication that replaces it.
    let before = v.db_snapshot();
    let c = decide("disproportionate_effort");
    let err = v.fails(&args(&c), 2);
    for word in [
        "'public_communication_at'",
        "'public_communication_channel'",
        "'public_communication_text'",
        "art. 34(3)(c)",
    ] {
        assert!(err.contains(word), "{err} should name {word}");
    }
    assert_eq!(v.db_snapshot(), before);

    // No high risk, while the risk recorded is high.
    let err = v.fails(&args(&decide("no_high_risk")), 2);
    assert!(err.contains("'risk'") && err.contains("high"), "{err}");
    // (a) unintelligible data, when nothing says they were.
    let err = v.fails(&args(&decide("unintelligible")), 2);
    assert!(err.contains("'data_unintelligible'"), "{err}");
    assert!(err.contains("art. 34(3)(a)"), "{err}");
    assert_eq!(v.db_snapshot(), before);

    // With the public communication recorded, (c) is accepted.
    let mut c = decide("disproportionate_effort");
    for f in [
        "public_communication_at=2026-10-21T10:00",
        "public_communication_channel=Press release and the home page of the website",
        "public_communication_text=Our patient files were copied; be wary of calls",
    ] {
        c.push("--set".into());
        c.push(f.into());
    }
    v.ok(&args(&c));
    let case = v.show("c");
    assert_eq!(case["tracks"]["individuals"], "not_required");
    assert_eq!(
        case["facts"]["public_communication_channel"],
        "Press release and the home page of the website"
    );

    // (a) holds once the data are shown unintelligible and no misuse is seen.
    assessed_high(&v, "a");
    v.ok(&[
        "case",
        "set",
        "a",
        "data_unintelligible=true",
        "misuse_observed=true",
    ]);
    let a = |v: &Vigie| {
        v.run(&[
            "case",
            "advance",
            "a",
            "decide_no_individual_notice",
            "--set",
            "risk_rationale=Departing on purpose: this test checks the exemption's own condition",
            "--set",
            "individuals_exemption=unintelligible",
            "--set",
            "individuals_rationale=AES-256, key kept apart",
        ])
    };
    let out = a(&v);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("'misuse_observed'"), "{}", out.stderr);
    v.ok(&["case", "set", "a", "misuse_observed=false"]);
    assert_eq!(a(&v).code, 0);
}

/// Issue 22 A6: art. 33(5): a breach that was not notified, or is closed, has its
/// effects and the remedial action recorded; the register's CSV shows them with the
/// categories of people and the number of records.
fn a_breach_not_notified_records_its_effects_and_remedial_action() {
    let v = Vigie::new();
    v.open_fr("quiet", "2026-10-19T09:00");
    v.ok(&[
        "case",
        "advance",
        "quiet",
        "assess",
        "--set",
        "risk=none",
        "--set",
        "risk_rationale=Encrypted laptop, key not on it",
    ]);
    let before = v.db_snapshot();
    let err = v.fails(
        &[
            "case",
            "advance",
            "quiet",
            "decide_no_authority_notice",
            "--set",
            "risk_rationale=Departing on purpose: this test checks art. 33(5)",
            "--set",
            "no_authority_reasons=Encrypted laptop",
        ],
        2,
    );
    assert!(
        err.contains("'consequences'") && err.contains("'measures'"),
        "{err}"
    );
    assert_eq!(v.db_snapshot(), before);
    v.ok(&[
        "case",
        "advance",
        "quiet",
        "decide_no_authority_notice",
        "--set",
        "risk_rationale=Departing on purpose: this test checks art. 33(5)",
        "--set",
        "no_authority_reasons=Encrypted laptop",
        "--set",
        "consequences=None expected: the disk is unreadable without the key",
        "--set",
        "measures=Laptop wiped remotely, theft reported",
        "--set",
        "subject_categories=[employees]",
        "--set",
        "records_approx=340",
    ]);
    v.ok(&[
        "case",
        "advance",
        "quiet",
        "contain",
        "--set",
        "contained_at=2026-10-19T10:00",
    ]);
    v.ok(&[
        "case",
        "advance",
        "quiet",
        "decide_no_individual_notice",
        "--set",
        "risk_rationale=Departing on purpose: this test checks art. 33(5)",
        "--set",
        "individuals_exemption=no_high_risk",
        "--set",
        "individuals_rationale=No risk",
        "--set",
        "nis2_entity=false",
    ]);
    // Closing with the effects unset again is refused.
    v.ok(&["case", "set", "quiet", "consequences="]);
    let err = v.fails(&["case", "advance", "quiet", "close"], 2);
    assert!(err.contains("'consequences'"), "{err}");
    v.ok(&[
        "case",
        "set",
        "quiet",
        "consequences=None expected: the disk is unreadable without the key",
    ]);
    v.ok(&["case", "advance", "quiet", "close"]);

    let csv = v.ok(&["register", "--csv"]);
    let mut rd =
        csv::ReaderBuilder::new().from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let header: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    let row = rd.records().next().unwrap().unwrap();
    let cell = |name: &str| {
        let i = header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}: {header:?}"));
        row[i].to_string()
    };
    assert_eq!(
        cell("consequences"),
        "None expected: the disk is unreadable without the key"
    );
    assert_eq!(cell("subject_categories"), "employees");
    assert_eq!(cell("records_approx"), "340");
    assert_eq!(cell("measures"), "Laptop wiped remotely, theft reported");
}

/// Issue 22 A7: NIS2 art. 23(4)(e): an incident still being handled when the final report
/// is due gets a progress report then; the final report is due one month after the end
/// of the handling, and the entity is not shown overdue meanwhile.
fn a_nis2_progress_report_moves_the_final_report_to_the_end_of_handling() {
    let v = Vigie::new();
    v.open_fr("n", "2026-09-01T09:00");
    v.ok(&["case", "set", "n", "nis2_entity=true"]);
    v.ok(&[
        "case",
        "advance",
        "n",
        "nis2_notification",
        "--at",
        "2026-09-02T09:00",
        "--reason",
        "recorded afterwards (test)",
    ]);
    // The final report was due on 2 October: overdue today, unless a progress report
    // was sent then.
    let case = v.show("n");
    assert_eq!(due(&case, "nis2_final_report"), "2026-10-02T09:00:00+02:00");
    assert_eq!(status(&case, "nis2_final_report"), "overdue");
    v.ok(&[
        "case",
        "advance",
        "n",
        "nis2_progress_report",
        "--at",
        "2026-10-01T17:00",
        "--reason",
        "recorded afterwards (test)",
    ]);
    let case = v.show("n");
    assert_eq!(status(&case, "nis2_final_report"), "met");
    let after = clock(&case, "nis2_final_deferred");
    assert_eq!(after["status"], "pending", "{after:#}");
    assert_eq!(after["due_at"], Value::Null, "{after:#}");
    assert!(
        !case["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "overdue" && c["id"].as_str().unwrap().starts_with("nis2")),
        "{case:#}"
    );
    // The handling ends: the final report is due one calendar month later.
    v.ok(&["case", "set", "n", "handling_ended_at=2026-10-20T18:00"]);
    let case = v.show("n");
    assert_eq!(
        due(&case, "nis2_final_deferred"),
        "2026-11-20T18:00:00+01:00"
    );
    assert_eq!(anchor(&case, "nis2_final_deferred"), "handling_ended_at");
    v.ok(&[
        "case",
        "advance",
        "n",
        "nis2_final_report",
        "--at",
        "2026-11-10T10:00",
        "--reason",
        "recorded afterwards (test)",
        "--set",
        "root_cause=Phished administrator account",
    ]);
    let case = v.show("n");
    assert_eq!(status(&case, "nis2_final_deferred"), "met");
    assert_eq!(case["tracks"]["nis2"], "final_report");

    // A final report straight after the notification: the second clock never applied.
    v.open_fr("m", "2026-09-01T09:00");
    v.ok(&["case", "set", "m", "nis2_entity=true"]);
    v.ok(&[
        "case",
        "advance",
        "m",
        "nis2_notification",
        "--at",
        "2026-09-02T09:00",
        "--reason",
        "recorded afterwards (test)",
    ]);
    v.ok(&[
        "case",
        "advance",
        "m",
        "nis2_final_report",
        "--at",
        "2026-09-20T09:00",
        "--reason",
        "recorded afterwards (test)",
        "--set",
        "root_cause=Misconfigured share",
    ]);
    let case = v.show("m");
    assert_eq!(status(&case, "nis2_final_report"), "met");
    assert_eq!(status(&case, "nis2_final_deferred"), "not_applicable");
}

/// Issue 22 B7: after `notify_authority`, a draft is the complementary notification;
/// `--initial` gives the initial one: as recorded with `--record`, else as the case
/// stood when the authority was notified.
fn the_initial_notification_can_be_drafted_after_it_was_sent() {
    let v = Vigie::new();
    v.open_fr("d", "2026-10-19T09:00");
    v.ok(&[
        "case",
        "set",
        "d",
        "nature=[confidentiality]",
        "subjects_approx=1200",
        "data_categories=[contact]",
        "consequences=Phishing",
        "measures=Access cut",
    ]);
    let first = v.ok(&["draft", "d", "cnil_notification", "--lang", "fr"]);
    assert!(first.contains("Notification initiale"), "{first}");
    v.ok(&[
        "case",
        "advance",
        "d",
        "notify_authority",
        "--at",
        "2026-10-20T16:00",
        "--reason",
        "recorded afterwards (test)",
    ]);
    // A later fact: in the complementary notification, not in the initial one.
    v.ok(&["case", "set", "d", "subjects_approx=4800"]);
    let now = v.ok(&["draft", "d", "cnil_notification", "--lang", "fr"]);
    assert!(now.contains("Notification complémentaire"), "{now}");
    let out = v.run(&[
        "draft",
        "d",
        "cnil_notification",
        "--lang",
        "fr",
        "--initial",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Numbers are grouped with a narrow no-break space.
    let initial = out.stdout.replace(['\u{a0}', '\u{202f}'], " ");
    assert!(initial.starts_with("# Notification initiale"), "{initial}");
    assert!(
        initial.contains("personnes concernées : 1 200"),
        "{initial}"
    );
    assert!(!initial.contains("4 800"), "{initial}");
    assert!(out.stderr.contains("as it stood"), "{}", out.stderr);

    // Recorded before the notification: that exact text.
    v.open_fr("r", "2026-10-19T09:00");
    v.ok(&[
        "case",
        "set",
        "r",
        "nature=[confidentiality]",
        "subjects_approx=50",
        "data_categories=[contact]",
        "consequences=Phishing",
        "measures=Access cut",
    ]);
    let out = v.run(&[
        "draft",
        "r",
        "cnil_notification",
        "--lang",
        "fr",
        "--record",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sent = out.stdout;
    v.ok(&[
        "case",
        "advance",
        "r",
        "notify_authority",
        "--at",
        "2026-10-20T16:00",
        "--reason",
        "recorded afterwards (test)",
    ]);
    let out = v.run(&[
        "draft",
        "r",
        "cnil_notification",
        "--lang",
        "fr",
        "--initial",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, sent);
    assert!(out.stderr.contains("as recorded"), "{}", out.stderr);
    // --initial records nothing: what was issued then is already in the register.
    let out = v.run(&["draft", "r", "cnil_notification", "--initial", "--record"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--record"), "{}", out.stderr);
}
