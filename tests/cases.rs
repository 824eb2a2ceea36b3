//! Cases end to end: the JSON contract of `case open`, deadlines across DST changes,
//! facts and events, lateness frozen when an obligation is met, and refusals that
//! write nothing.

use crate::both_backends;
use crate::common;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::{Vigie, clock};
use serde_json::Value;

both_backends! {
    opening_a_case_prints_the_json_contract,
    a_spring_forward_case_is_due_an_hour_later_on_the_wall_clock,
    a_case_opened_long_after_awareness_is_overdue,
    facts_are_typed_and_shown,
    containing_requires_the_time_of_containment,
    a_late_notification_needs_reasons_and_stays_late_after_a_correction,
    a_notification_within_72_hours_is_met,
    deciding_not_to_notify_the_authority_needs_risk_none,
    refusals_name_the_mistake_and_write_nothing,
    a_case_can_be_listed_and_shown_as_text,
    the_case_list_puts_the_nearest_deadline_first,
    case_ids_are_numbered_per_workflow_and_year,
    an_automatic_case_id_skips_an_id_chosen_by_hand,
    instants_out_of_bounds_are_refused_naming_the_field,
    an_event_dated_before_its_clock_started_is_refused,
    an_error_quoting_a_typed_value_stays_one_line,
    an_error_is_one_line_whatever_the_values_typed_hold,
    escape_sequences_in_stored_values_never_reach_the_terminal,
}

/// A time certainly in the past: a breach the organisation knew of long ago, so every
/// 72 h clock is overdue whatever the date the tests run.
const LONG_AGO: &str = "2025-10-23T10:00";

fn rfc3339(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A French case, long known, contained, with everything `notify_authority` requires
/// except the reasons for being late.
fn contained_case(v: &Vigie, id: &str) {
    v.open_fr(id, LONG_AGO);
    v.ok(&["case", "set", id, "risk=high", "nature=[confidentiality]"]);
    v.ok(&[
        "case",
        "advance",
        id,
        "contain",
        "--set",
        "contained_at=2025-10-23T12:00",
    ]);
    v.ok(&[
        "case",
        "set",
        id,
        "subjects_approx=1200",
        "data_categories=[identity, contact]",
        "consequences=Phishing possible",
        "measures=Access revoked",
    ]);
}

fn opening_a_case_prints_the_json_contract() {
    let v = Vigie::new();
    let case = v.json(&[
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "T",
        "--aware-at",
        "2026-10-23T10:00",
        "--json",
    ]);
    for key in [
        "id", "workflow", "title", "tracks", "facts", "events", "clocks",
    ] {
        assert!(case.get(key).is_some(), "no '{key}' in {case:#}");
    }
    assert_eq!(case["workflow"], "fr");
    assert_eq!(case["title"], "T");
    assert!(
        case["id"].as_str().is_some_and(|id| id.starts_with("fr-")),
        "{case:#}"
    );
    assert_eq!(case["tracks"]["authority"], "pending");
    assert_eq!(case["tracks"]["response"], "detected");
    assert_eq!(case["facts"]["aware_at"], "2026-10-23T10:00:00+02:00");
    let events = case["events"].as_array().expect("events is an array");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "opened");
    assert_eq!(events[0]["seq"], 1);

    // 72 h from 10:00 CEST on Friday crosses the fall-back night: 09:00 CET on Monday.
    let art33 = clock(&case, "art33");
    let due = "2026-10-26T09:00:00+01:00";
    assert_eq!(art33["due_at"], due);
    assert_eq!(
        art33["applies"], true,
        "risk unknown: the obligation applies"
    );
    let overdue = Utc::now() > DateTime::parse_from_rfc3339(due).unwrap();
    let expected = if overdue { "overdue" } else { "pending" };
    assert_eq!(art33["status"], expected);
}

fn a_spring_forward_case_is_due_an_hour_later_on_the_wall_clock() {
    let v = Vigie::new();
    let case = v.open_fr("spring", "2026-03-27T12:00");
    assert_eq!(clock(&case, "art33")["due_at"], "2026-03-30T13:00:00+02:00");
}

fn a_case_opened_long_after_awareness_is_overdue() {
    let v = Vigie::new();
    let case = v.open_fr("old", LONG_AGO);
    let art33 = clock(&case, "art33");
    assert_eq!(art33["status"], "overdue");
    assert!(
        art33["seconds_left"].as_i64().is_some_and(|s| s < 0),
        "{art33:#}"
    );
}

fn facts_are_typed_and_shown() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let case = v.json(&[
        "case",
        "set",
        "c1",
        "risk=high",
        "nature=[confidentiality]",
        "--json",
    ]);
    assert_eq!(case["facts"]["risk"], "high");
    assert_eq!(
        case["facts"]["nature"],
        serde_json::json!(["confidentiality"])
    );
    assert_eq!(case["events"].as_array().unwrap().len(), 2);
    assert_eq!(case["events"][1]["kind"], "facts_set");
}

fn containing_requires_the_time_of_containment() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let err = v.fails(&["case", "advance", "c1", "contain"], 2);
    assert!(err.contains("'contained_at'"), "{err}");
    let case = v.json(&[
        "case",
        "advance",
        "c1",
        "contain",
        "--set",
        "contained_at=2025-10-23T12:00",
        "--json",
    ]);
    assert_eq!(case["tracks"]["response"], "contained");
    assert_eq!(case["facts"]["contained_at"], "2025-10-23T12:00:00+02:00");
}

fn a_late_notification_needs_reasons_and_stays_late_after_a_correction() {
    let v = Vigie::new();
    contained_case(&v, "c1");

    let before = v.db_snapshot();
    let err = v.fails(&["case", "advance", "c1", "notify_authority"], 2);
    assert!(err.contains("delay_reasons"), "{err}");
    assert!(err.contains("'art33'"), "{err}");
    assert_eq!(
        v.db_snapshot(),
        before,
        "a refused notification wrote something"
    );

    let case = v.json(&[
        "case",
        "advance",
        "c1",
        "notify_authority",
        "--set",
        "delay_reasons=Forensic analysis took a week",
        "--json",
    ]);
    assert_eq!(case["tracks"]["authority"], "notified");
    let art33 = clock(&case, "art33");
    assert_eq!(art33["status"], "late");
    assert_eq!(art33["due_at"], "2025-10-26T09:00:00+01:00");
    let met_at = art33["met_at"]
        .as_str()
        .expect("a met clock has met_at")
        .to_string();

    // The DPO learns awareness was in fact an hour ago: by the corrected facts the
    // notification would be on time, but lateness was frozen when it was recorded.
    let corrected = rfc3339(Utc::now() - Duration::hours(1));
    let case = v.json(&[
        "case",
        "set",
        "c1",
        &format!("aware_at={corrected}"),
        "--json",
    ]);
    let art33 = clock(&case, "art33");
    assert_eq!(art33["status"], "late");
    assert_eq!(art33["due_at"], "2025-10-26T09:00:00+01:00");
    assert_eq!(art33["met_at"], met_at.as_str());
    let corrected_due = art33["corrected_due_at"]
        .as_str()
        .expect("the correction is visible");
    assert!(
        DateTime::parse_from_rfc3339(corrected_due).unwrap()
            > DateTime::parse_from_rfc3339(&met_at).unwrap(),
        "the corrected due time should be after the notification: {art33:#}"
    );
}

fn a_notification_within_72_hours_is_met() {
    let v = Vigie::new();
    let aware = rfc3339(Utc::now() - Duration::hours(2));
    v.open_fr("c1", &aware);
    let case = v.json(&[
        "case",
        "advance",
        "c1",
        "notify_authority",
        "--set",
        "nature=[availability]",
        "--set",
        "subjects_approx=10",
        "--set",
        "data_categories=[contact]",
        "--set",
        "consequences=None known",
        "--set",
        "measures=Restored from backup",
        "--json",
    ]);
    assert_eq!(clock(&case, "art33")["status"], "met");
}

fn deciding_not_to_notify_the_authority_needs_risk_none() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let decide = [
        "case",
        "advance",
        "c1",
        "decide_no_authority_notice",
        "--set",
        "no_authority_reasons=Encrypted laptop, key not compromised",
        // Art. 33(5) (issue 22 A6): the effects and the remedial action are recorded.
        "--set",
        "consequences=None: the disk is unreadable without the key",
        "--set",
        "measures=Laptop wiped remotely",
    ];

    // No assessment recorded (and an unknown risk is not "none").
    let before = v.db_snapshot();
    let err = v.fails(&decide, 2);
    assert!(err.contains("'risk'"), "{err}");
    assert_eq!(v.db_snapshot(), before);

    // A risk decided (against vigie's recommendation, with reasons): not "none".
    v.ok(&[
        "case",
        "advance",
        "c1",
        "assess",
        "--set",
        "risk=risk",
        "--set",
        "risk_rationale=Contained at once",
    ]);
    let mut reasoned = decide.to_vec();
    reasoned.extend(["--set", "risk_rationale=The disk is encrypted"]);
    let before = v.db_snapshot();
    let err = v.fails(&reasoned, 2);
    assert!(err.contains("'risk'"), "{err}");
    assert_eq!(v.db_snapshot(), before);

    v.ok(&[
        "case",
        "advance",
        "c1",
        "assess",
        "--set",
        "risk=none",
        "--set",
        "risk_rationale=Encrypted laptop, key not compromised",
    ]);
    // Declining the notification vigie recommends needs its own reasons, given with it.
    let mut with_json = decide.to_vec();
    with_json.extend(["--set", "risk_rationale=The disk is encrypted", "--json"]);
    let case = v.json(&with_json);
    assert_eq!(case["tracks"]["authority"], "not_required");
    assert_eq!(clock(&case, "art33")["status"], "not_applicable");
}

/// Each of these commands, run against case c1 (French, long known), is refused with
/// exit 2 and one line containing every one of the words, and writes nothing.
fn refusals_name_the_mistake_and_write_nothing() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let refusals: &[(&[&str], &[&str])] = &[
        (
            &["case", "set", "nope", "risk=high"],
            &["unknown case", "'nope'"],
        ),
        (&["case", "advance", "nope", "contain"], &["'nope'"]),
        (&["case", "show", "nope"], &["'nope'"]),
        (
            &[
                "case",
                "open",
                "--workflow",
                "xx",
                "--title",
                "T",
                "--aware-at",
                LONG_AGO,
            ],
            &["unknown workflow", "'xx'"],
        ),
        (
            &["case", "advance", "c1", "explode"],
            &["unknown event", "'explode'"],
        ),
        (
            &["case", "set", "c1", "colour=red"],
            &["unknown fact", "'colour'"],
        ),
        (
            &["case", "set", "c1", "risk=extreme"],
            &["'risk'", "'extreme'"],
        ),
        (
            &["case", "set", "c1", "subjects_approx=many"],
            &["'subjects_approx'", "'many'"],
        ),
        (
            &["case", "set", "c1", "detected_at=yesterday"],
            &["'detected_at'", "'yesterday'"],
        ),
        (
            &[
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "T",
                "--aware-at",
                "soon",
            ],
            &["--aware-at", "'soon'"],
        ),
        (
            &["case", "set", "c1", "detected_at=2026-10-25T02:30"],
            &[
                "'detected_at'",
                "2026-10-25T02:30:00+02:00",
                "2026-10-25T02:30:00+01:00",
            ],
        ),
        (
            &[
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "T",
                "--aware-at",
                "2026-10-25T02:30",
            ],
            &["--aware-at", "+02:00", "+01:00"],
        ),
        (
            &["case", "advance", "c1", "close"],
            &["'close'", "'response'", "'detected'", "'contained'"],
        ),
        (
            &["case", "advance", "c1", "notify_individuals"],
            &["'notify_individuals'", "'individuals_channel'"],
        ),
        (
            &["case", "set", "c1", "risk=high", "--at", "2099-01-01T00:00"],
            &["future"],
        ),
        (
            &[
                "case",
                "advance",
                "c1",
                "contain",
                "--set",
                "contained_at=2025-10-23T12:00",
                "--at",
                "2099-01-01T00:00",
            ],
            &["future"],
        ),
        (&["case", "set", "c1", "aware_at="], &["'aware_at'"]),
        (&["case", "set", "c1"], &["nothing to set"]),
        (
            &[
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "T",
                "--aware-at",
                LONG_AGO,
                "--id",
                "c1",
            ],
            &["'c1'", "already exists"],
        ),
        (
            &[
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "T",
                "--aware-at",
                LONG_AGO,
                "--id",
                "a b",
            ],
            &["'a b'"],
        ),
    ];
    for (args, words) in refusals {
        let before = v.db_snapshot();
        let err = v.fails(args, 2);
        for w in *words {
            assert!(err.contains(w), "vigie {args:?}: '{err}' should name {w}");
        }
        assert_eq!(
            v.db_snapshot(),
            before,
            "vigie {args:?} was refused but wrote"
        );
    }
    // And the case is as it was opened.
    let case = v.show("c1");
    assert_eq!(case["events"].as_array().unwrap().len(), 1);
}

fn a_case_can_be_listed_and_shown_as_text() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let list = v.ok(&["case", "list"]);
    assert!(list.contains("c1"), "{list}");
    let show = v.ok(&["case", "show", "c1"]);
    assert!(show.contains("art33"), "{show}");
    assert!(show.contains("OVERDUE"), "{show}");
}

fn the_case_list_puts_the_nearest_deadline_first() {
    let v = Vigie::new();
    // Opened in an order that is neither the order of deadlines nor of ids.
    v.open_fr("b-middle", "2025-06-01T10:00");
    v.open_fr("c-recent", &rfc3339(Utc::now() - Duration::hours(1)));
    v.open_fr("a-oldest", "2025-01-15T10:00");
    let list = v.json(&["case", "list", "--json"]);
    let ids: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a-oldest", "b-middle", "c-recent"]);
    let dues: Vec<DateTime<chrono::FixedOffset>> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| DateTime::parse_from_rfc3339(c["next_due"].as_str().unwrap()).unwrap())
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{list:#}");
    assert!(
        list[0]["overdue"]
            .as_array()
            .unwrap()
            .contains(&Value::from("art33")),
        "{list:#}"
    );
    assert_eq!(list[2]["overdue"].as_array().unwrap().len(), 0, "{list:#}");
}

fn case_ids_are_numbered_per_workflow_and_year() {
    let v = Vigie::new();
    let open = [
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "T",
        "--aware-at",
        LONG_AGO,
        "--json",
    ];
    let first = v.json(&open)["id"].as_str().unwrap().to_string();
    let second = v.json(&open)["id"].as_str().unwrap().to_string();
    assert!(first.ends_with("-0001"), "{first}");
    assert_eq!(second, first.replace("-0001", "-0002"));
}

fn an_automatic_case_id_skips_an_id_chosen_by_hand() {
    let v = Vigie::new();
    let open = [
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "T",
        "--aware-at",
        LONG_AGO,
        "--json",
    ];
    let first = v.json(&open)["id"].as_str().unwrap().to_string();
    // A DPO picks the id the next automatic one would have after it.
    let chosen = first.replace("-0001", "-0003");
    v.open_fr(&chosen, LONG_AGO);
    let next = v.json(&open)["id"].as_str().unwrap().to_string();
    assert_ne!(next, chosen);
    assert_ne!(next, first);
}

/// Issue 9: instants outside what the program can read back (year 0, year -262143) and
/// an absurd `VIGIE_NOW_OFFSET` are refused at the edge with one line naming the field,
/// and nothing is written. Before: year 0 was stored and the case became unreadable,
/// `aware_at=0000-…` silently vanished, and the extreme ones panicked.
fn instants_out_of_bounds_are_refused_naming_the_field() {
    let v = Vigie::new();
    contained_case(&v, "c1");
    let before = v.db_snapshot();
    for (args, field) in [
        (
            vec![
                "case",
                "set",
                "c1",
                "--note",
                "x",
                "--at",
                "0000-01-01T00:00",
            ],
            "--at",
        ),
        (
            vec!["case", "set", "c1", "aware_at=0000-01-01T00:00"],
            "aware_at",
        ),
        (
            vec!["case", "set", "c1", "aware_at=1969-07-20T20:17Z"],
            "aware_at",
        ),
        (
            vec![
                "case",
                "advance",
                "c1",
                "assess",
                "--at=-262143-01-01T00:00",
            ],
            "--at",
        ),
        (
            vec![
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "t",
                "--aware-at",
                "0000-01-01T00:00",
            ],
            "--aware-at",
        ),
        (
            vec![
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "t",
                "--aware-at=-262143-01-01T00:00",
            ],
            "--aware-at",
        ),
        (
            vec![
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "t",
                "--aware-at",
                "+262142-12-31T23:59:59Z",
            ],
            "--aware-at",
        ),
    ] {
        let err = v.fails(&args, 2);
        assert!(err.contains(field), "{args:?}: {err}");
        assert!(err.contains("1970"), "the bounds are named: {err}");
    }
    assert_eq!(v.db_snapshot(), before, "a refused instant wrote something");
    for offset in [
        "+100000000d",
        "-100000000d",
        "+99999999999999999999h",
        "+40000d",
    ] {
        let out = v.run_env(&["case", "list"], &[("VIGIE_NOW_OFFSET", offset)]);
        assert_eq!(out.code, 2, "{offset}: {out:?}");
        assert!(out.stderr.contains("VIGIE_NOW_OFFSET"), "{offset}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{offset}: {out:?}");
    }
    // A sane shift still works, and the case reads back.
    let out = v.run_env(&["case", "show", "c1"], &[("VIGIE_NOW_OFFSET", "+3650d")]);
    assert_eq!(out.code, 0, "{out:?}");
    v.ok(&["audit", "verify"]);
}

/// Issue 9: a notification dated before the clock it meets started (backdated to look
/// on time) is refused in the core, naming the event, the clock and both instants.
/// Before: `--at 2001-01-01T00:00` was recorded as on time, with no reasons.
fn an_event_dated_before_its_clock_started_is_refused() {
    let v = Vigie::new();
    contained_case(&v, "c1");
    let before = v.db_snapshot();
    let err = v.fails(
        &[
            "case",
            "advance",
            "c1",
            "notify_authority",
            "--at",
            "2001-01-01T00:00",
        ],
        2,
    );
    for part in [
        "notify_authority",
        "art33",
        "2001-01-01T00:00:00+01:00",
        "2025-10-23T10:00:00+02:00",
    ] {
        assert!(err.contains(part), "missing {part}: {err}");
    }
    assert_eq!(v.db_snapshot(), before);
    // Backdating by moving the start at the same time is the same refusal.
    let err = v.fails(
        &[
            "case",
            "advance",
            "c1",
            "notify_authority",
            "--at",
            "2025-10-24T10:00",
            "--set",
            "aware_at=2025-10-25T10:00",
        ],
        2,
    );
    assert!(err.contains("art33"), "{err}");
    assert_eq!(v.db_snapshot(), before);
    // Dated after now: refused too, naming the event.
    let err = v.fails(
        &[
            "case",
            "advance",
            "c1",
            "notify_authority",
            "--at",
            "2999-01-01T00:00",
        ],
        2,
    );
    assert!(err.contains("notify_authority"), "{err}");
    assert_eq!(v.db_snapshot(), before);
}

/// Found by tests/fuzz.rs: a value with a newline or an ANSI escape was echoed as is in
/// the error, which then took two lines (and could rewrite the terminal).
fn an_error_quoting_a_typed_value_stays_one_line() {
    let v = Vigie::new();
    contained_case(&v, "c1");
    let err = v.fails(
        &["case", "set", "c1", "data_categories=one\ntwo\u{1b}[2J"],
        2,
    );
    assert!(err.contains(r"one\ntwo\u{1b}[2J"), "{err}");
}

/// Issue 9: errors spanned several lines, or carried raw control characters, when a
/// value typed on the command line held a line break or an escape sequence. Every
/// refusal is now one line, exit 2, with what was typed quoted and escaped
/// (`\n`, `\u{1b}`), and nothing written.
fn an_error_is_one_line_whatever_the_values_typed_hold() {
    let v = Vigie::new();
    v.open_fr("c1", LONG_AGO);
    let before = v.db_snapshot();
    let red = "\u{1b}[31m";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["case".into(), "show".into(), "c1\nrm -rf".into()],
            "'c1\\nrm -rf'",
        ),
        (
            vec!["case".into(), "show".into(), format!("{red}c1")],
            "'\\u{1b}[31mc1'",
        ),
        (
            vec![
                "case".into(),
                "set".into(),
                "c1\r".into(),
                "risk=high".into(),
            ],
            "'c1\\r'",
        ),
        (
            vec![
                "case".into(),
                "set".into(),
                "c1".into(),
                "risk=hi\ngh".into(),
            ],
            "\\n",
        ),
        (
            vec![
                "case".into(),
                "set".into(),
                "c1".into(),
                format!("ri{red}sk=high"),
            ],
            "\\u{1b}",
        ),
        (
            vec![
                "case".into(),
                "set".into(),
                "c1".into(),
                "no pair\nhere".into(),
            ],
            "'no pair\\nhere'",
        ),
        (
            vec![
                "case".into(),
                "set".into(),
                "c1".into(),
                "subjects_approx=12\r\n".into(),
                "aware_at=2026-13-01\n12:00".into(),
            ],
            "\\n",
        ),
        (
            vec![
                "case".into(),
                "advance".into(),
                "c1".into(),
                "con\ntain".into(),
            ],
            "'con\\ntain'",
        ),
        (
            vec![
                "case".into(),
                "advance".into(),
                "c1".into(),
                format!("{red}contain"),
            ],
            "\\u{1b}",
        ),
        (
            vec![
                "case".into(),
                "advance".into(),
                "c1".into(),
                "contain".into(),
                "--at".into(),
                "yesterday\nnoon".into(),
            ],
            "'yesterday\\nnoon'",
        ),
        (
            vec![
                "--org".into(),
                "ac\nme".into(),
                "case".into(),
                "list".into(),
            ],
            "'ac\\nme'",
        ),
        (
            vec![
                "--org".into(),
                format!("{red}acme"),
                "case".into(),
                "list".into(),
            ],
            "\\u{1b}",
        ),
        (
            vec![
                "draft".into(),
                "c1".into(),
                "cnil_notification".into(),
                "--lang".into(),
                "e\nn".into(),
            ],
            "'e\\nn'",
        ),
        (
            vec![
                "draft".into(),
                "c1".into(),
                "cnil_notification".into(),
                "--lang".into(),
                format!("{red}en"),
            ],
            "\\u{1b}",
        ),
        (
            vec!["draft".into(), "c1".into(), "cnil\n_notification".into()],
            "'cnil\\n_notification'",
        ),
        (
            vec![
                "draft".into(),
                "c1".into(),
                "cnil_notification".into(),
                "--format".into(),
                "p\rdf".into(),
            ],
            "'p\\rdf'",
        ),
        (
            vec![
                "case".into(),
                "open".into(),
                "--workflow".into(),
                "f\nr".into(),
                "--title".into(),
                "T".into(),
                "--aware-at".into(),
                LONG_AGO.into(),
            ],
            "'f\\nr'",
        ),
        (
            vec![
                "case".into(),
                "open".into(),
                "--workflow".into(),
                "fr".into(),
                "--title".into(),
                "T".into(),
                "--aware-at".into(),
                "2026-11\n-20".into(),
            ],
            "'2026-11\\n-20'",
        ),
        (
            vec![
                "case".into(),
                "open".into(),
                "--workflow".into(),
                "fr".into(),
                "--title".into(),
                "T".into(),
                "--aware-at".into(),
                LONG_AGO.into(),
                "--id".into(),
                "x\ny".into(),
            ],
            "'x\\ny'",
        ),
        // clap's own refusals too: no usage block, one line.
        (
            vec![
                "case".into(),
                "list".into(),
                "--colour".into(),
                "x\ny".into(),
            ],
            "--colour",
        ),
        (
            vec![
                "notify".into(),
                "c1".into(),
                "--recipients".into(),
                "r.csv".into(),
                "--concurrency".into(),
                "x\ny".into(),
            ],
            "\\n",
        ),
    ];
    for (args, shown) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = v.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let line = out.stderr.strip_suffix('\n').unwrap_or(&out.stderr);
        assert!(
            !line.chars().any(char::is_control),
            "{args:?}: not one clean line: {:?}",
            out.stderr
        );
        assert!(line.starts_with("vigie: error: "), "{args:?}: {line}");
        assert!(line.contains(shown), "{args:?}: {line} should show {shown}");
        assert_eq!(v.db_snapshot(), before, "{args:?} wrote something");
    }
}

/// A value typed by one user with an escape sequence in it (a contributor, an API
/// client) is shown escaped by every command that prints it for people, so it can never
/// clear or rewrite the terminal of the DPO who reads the case, the list or a draft.
fn escape_sequences_in_stored_values_never_reach_the_terminal() {
    let v = Vigie::new();
    contained_case(&v, "c1");
    v.ok(&[
        "case",
        "set",
        "c1",
        "consequences=before\u{1b}[2Jafter\u{9b}31m",
    ]);
    for args in [
        vec!["case", "show", "c1"],
        vec!["case", "list"],
        vec!["register"],
        vec!["draft", "c1", "cnil_notification"],
        vec!["draft", "c1", "cnil_notification", "--format", "txt"],
    ] {
        let out = v.ok(&args);
        assert!(
            !out.contains('\u{1b}') && !out.contains('\u{9b}'),
            "{args:?} printed a raw escape sequence:\n{out:?}"
        );
    }
    let shown = v.ok(&["case", "show", "c1"]);
    assert!(shown.contains(r"before\u{1b}[2Jafter"), "{shown}");
    // The CSV is data for a spreadsheet, not text for a terminal: byte-exact (issue 23
    // N2), the value as it was typed.
    let csv = v.ok(&["register", "--csv"]);
    assert!(csv.contains("before\u{1b}[2Jafter\u{9b}31m"), "{csv:?}");
    // JSON keeps the value exactly (escaped by JSON itself).
    let json = v.show("c1");
    assert_eq!(
        json["facts"]["consequences"],
        "before\u{1b}[2Jafter\u{9b}31m"
    );
}
