//! Issue 12 end to end, through the real binary: a DORA case replayed (open, classify,
//! notify, two intermediate reports, final), a GDPR breach that is also a DORA major
//! incident with both sets of clocks on one case, and Belgium's APD part 2.

mod common;

use common::{Vigie, clock};
use serde_json::Value;

both_backends! {
    a_dora_case_is_replayed_end_to_end,
    a_gdpr_breach_that_is_a_dora_major_incident_keeps_both_clock_sets,
    a_belgian_case_has_the_apd_part_2_deadline_and_draft,
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
