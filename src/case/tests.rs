//! The functional core, tested without a database: decide, evolve, clocks.

use super::*;
use crate::time::{parse_instant, rfc3339_in};
use crate::workflow::{Workflow, compile};
use chrono::Duration;
use chrono_tz::Europe::Paris;
use proptest::prelude::*;
use serde_json::json;

fn fr() -> Workflow {
    compile("fr.yaml", include_str!("../../workflows/fr.yaml")).expect("fr compiles")
}

fn t(s: &str) -> DateTime<Utc> {
    parse_instant(s, Paris).unwrap()
}

/// A log kept in memory: decide, seal, evolve, as the store does.
struct Log<'a> {
    wf: &'a Workflow,
    events: Vec<Recorded>,
    case: Option<Case>,
}

impl<'a> Log<'a> {
    fn open(wf: &'a Workflow, aware: &str, facts: &[(&str, serde_json::Value)]) -> Log<'a> {
        let mut all: Vec<(String, serde_json::Value)> = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        all.push(("aware_at".into(), json!(aware)));
        let mut log = Log {
            wf,
            events: vec![],
            case: None,
        };
        let at = t(aware);
        log.apply(
            &Command::Open {
                title: "test".into(),
                facts: all,
                at,
            },
            at,
        )
        .unwrap();
        log
    }

    fn apply(&mut self, cmd: &Command, now: DateTime<Utc>) -> Result<(), Rejected> {
        for (at, body) in decide(self.wf, self.case.as_ref(), cmd, now)? {
            let (seq, prev) = match &self.case {
                Some(c) => (c.seq + 1, c.last_hash.clone()),
                None => (1, event::genesis_hash("default", "c1")),
            };
            let ev = Recorded::seal("default", "c1", seq, at, now, "tester", body, &prev);
            self.case = Some(evolve(self.wf, self.case.take(), &ev));
            self.events.push(ev);
        }
        Ok(())
    }

    fn advance(
        &mut self,
        event: &str,
        at: &str,
        facts: &[(&str, serde_json::Value)],
    ) -> Result<(), Rejected> {
        let at = t(at);
        let facts = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.apply(
            &Command::Advance {
                event: event.into(),
                facts,
                note: None,
                at,
            },
            at,
        )
    }

    fn set(&mut self, at: &str, facts: &[(&str, serde_json::Value)]) -> Result<(), Rejected> {
        let at = t(at);
        let facts = facts
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.apply(
            &Command::SetFacts {
                facts,
                note: None,
                at,
            },
            at,
        )
    }

    fn clock(&self, id: &str, now: &str) -> ClockView {
        clocks(self.wf, self.case.as_ref().unwrap(), t(now))
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
    }
}

const NOTIFY_FACTS: &[(&str, &str)] = &[
    ("nature", "confidentiality"),
    ("subjects_approx", "7000"),
    ("data_categories", "contact"),
    ("consequences", "phishing"),
    ("measures", "site closed"),
];

fn notify_facts() -> Vec<(&'static str, serde_json::Value)> {
    NOTIFY_FACTS.iter().map(|(k, v)| (*k, json!(v))).collect()
}

#[test]
fn art33_is_72_real_hours_across_both_dst_changes() {
    let wf = fr();
    let autumn = Log::open(&wf, "2026-10-23T10:00", &[]);
    let c = autumn.clock("art33", "2026-10-23T11:00");
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-10-26T09:00:00+01:00"
    );
    assert_eq!(c.status, ClockStatus::Pending);
    let spring = Log::open(&wf, "2026-03-27T12:00", &[]);
    let c = spring.clock("art33", "2026-03-27T12:00");
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-03-30T13:00:00+02:00"
    );
    assert_eq!(
        spring.clock("art33", "2026-03-30T13:01").status,
        ClockStatus::Overdue
    );
    assert_eq!(
        spring.clock("art33", "2026-03-30T13:00").status,
        ClockStatus::Pending
    );
}

#[test]
fn unknown_facts_never_suppress_an_obligation() {
    let wf = fr();
    let log = Log::open(&wf, "2026-01-09T10:00", &[]);
    for id in [
        "art33",
        "art34",
        "nis2_early_warning",
        "nis2_notification",
        "complaint_insurance",
    ] {
        assert!(
            log.clock(id, "2026-01-09T11:00").applies,
            "{id} must apply while unknown"
        );
    }
    // The final report waits for the incident notification: applies, not started.
    let final_report = log.clock("nis2_final_report", "2026-01-09T11:00");
    assert!(final_report.applies);
    assert_eq!(final_report.due_at, None);
    assert_eq!(final_report.status, ClockStatus::Pending);
}

#[test]
fn facts_switch_clocks_off() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &[]);
    log.set(
        "2026-01-09T11:00",
        &[
            ("risk", json!("none")),
            ("nis2_entity", json!(false)),
            ("cyber_insured", json!("no")),
        ],
    )
    .unwrap();
    for id in [
        "art33",
        "art34",
        "nis2_early_warning",
        "nis2_final_report",
        "complaint_insurance",
    ] {
        assert_eq!(
            log.clock(id, "2026-01-09T12:00").status,
            ClockStatus::NotApplicable,
            "{id}"
        );
    }
    log.set("2026-01-09T12:00", &[("risk", json!("high"))])
        .unwrap();
    assert_eq!(
        log.clock("art34", "2026-01-09T12:00").status,
        ClockStatus::Pending
    );
}

#[test]
fn a_late_notification_needs_reasons_and_its_lateness_is_frozen() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &notify_facts());
    let err = log
        .advance("notify_authority", "2026-01-12T10:01", &[])
        .unwrap_err();
    assert!(
        matches!(err, Rejected::LateWithoutReasons { ref clock, .. } if clock == "art33"),
        "{err}"
    );
    assert!(err.to_string().contains("delay_reasons"), "{err}");
    assert!(
        err.to_string().contains("2026-01-12T10:00:00+01:00"),
        "{err}"
    );
    log.advance(
        "notify_authority",
        "2026-01-12T10:01",
        &[("delay_reasons", json!("forensics"))],
    )
    .unwrap();
    assert_eq!(
        log.clock("art33", "2026-01-20T00:00").status,
        ClockStatus::Late
    );
    // Correcting aware_at afterwards shows the correction, never rewrites the lateness.
    log.set(
        "2026-01-13T09:00",
        &[("aware_at", json!("2026-01-10T12:00"))],
    )
    .unwrap();
    let c = log.clock("art33", "2026-01-20T00:00");
    assert_eq!(c.status, ClockStatus::Late);
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-01-12T10:00:00+01:00"
    );
    assert_eq!(
        rfc3339_in(c.corrected_due_at.unwrap(), Paris),
        "2026-01-13T12:00:00+01:00"
    );
}

#[test]
fn on_time_notification_is_met() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &notify_facts());
    log.advance("notify_authority", "2026-01-12T10:00", &[])
        .unwrap();
    let c = log.clock("art33", "2026-02-01T00:00");
    assert_eq!(c.status, ClockStatus::Met);
    assert_eq!(c.met_at, Some(t("2026-01-12T10:00")));
}

#[test]
fn the_final_report_is_one_calendar_month_after_the_notification() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-29T09:00", &[("nis2_entity", json!(true))]);
    log.advance("nis2_notification", "2026-01-31T16:00", &[])
        .unwrap();
    let c = log.clock("nis2_final_report", "2026-02-01T00:00");
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-02-28T16:00:00+01:00"
    );
    // And across the spring change: same local time, new offset.
    let mut log = Log::open(&wf, "2026-03-10T09:00", &[("nis2_entity", json!(true))]);
    log.advance("nis2_notification", "2026-03-12T16:00", &[])
        .unwrap();
    let c = log.clock("nis2_final_report", "2026-03-13T00:00");
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-04-12T16:00:00+02:00"
    );
}

#[test]
fn refusals_say_what_is_wrong() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &[]);
    let e = log
        .advance("notify_authority", "2026-01-09T11:00", &[])
        .unwrap_err();
    assert!(
        e.to_string().contains("'nature'") && e.to_string().contains("'measures'"),
        "{e}"
    );
    let e = log
        .advance("nis2_early_warning", "2026-01-09T11:00", &[])
        .unwrap_err();
    assert!(e.to_string().contains("nis2_entity"), "{e}");
    let e = log.advance("close", "2026-01-09T11:00", &[]).unwrap_err();
    assert!(matches!(e, Rejected::WrongState { .. }), "{e}");
    log.advance(
        "contain",
        "2026-01-09T11:00",
        &[("contained_at", json!("2026-01-09T10:30"))],
    )
    .unwrap();
    let e = log.advance("close", "2026-01-09T12:00", &[]).unwrap_err();
    assert!(
        e.to_string()
            .contains("track 'authority' must not be 'pending'"),
        "{e}"
    );
    let e = log
        .advance(
            "decide_no_authority_notice",
            "2026-01-09T12:00",
            &[("no_authority_reasons", json!("x"))],
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("fact 'risk' must be none (it is unset)"),
        "{e}"
    );
    let e = log
        .advance("notify_everyone", "2026-01-09T12:00", &[])
        .unwrap_err();
    assert!(matches!(e, Rejected::UnknownEvent { .. }), "{e}");
    let e = log
        .set("2026-01-09T12:00", &[("risk", json!("catastrophic"))])
        .unwrap_err();
    assert!(e.to_string().contains("none, risk, high"), "{e}");
    let e = log
        .set("2026-01-09T12:00", &[("riks", json!("high"))])
        .unwrap_err();
    assert!(e.to_string().contains("did you mean 'risk'"), "{e}");
    let now = t("2026-01-09T12:00");
    let e = decide(
        &wf,
        log.case.as_ref(),
        &Command::SetFacts {
            facts: vec![("risk".into(), json!("high"))],
            note: None,
            at: now + Duration::hours(1),
        },
        now,
    )
    .unwrap_err();
    assert!(matches!(e, Rejected::InFuture { .. }), "{e}");
}

#[test]
fn a_case_closes_once_every_obligation_is_decided() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &notify_facts());
    log.advance(
        "contain",
        "2026-01-09T11:00",
        &[("contained_at", json!("2026-01-09T10:30"))],
    )
    .unwrap();
    log.advance(
        "assess",
        "2026-01-09T12:00",
        &[("risk", json!("high")), ("risk_rationale", json!("NIR"))],
    )
    .unwrap();
    log.advance("notify_authority", "2026-01-10T12:00", &[])
        .unwrap();
    log.advance(
        "notify_individuals",
        "2026-01-11T12:00",
        &[("individuals_channel", json!("e-mail"))],
    )
    .unwrap();
    let e = log.advance("close", "2026-01-12T12:00", &[]).unwrap_err();
    assert!(e.to_string().contains("nis2_entity"), "{e}");
    log.advance(
        "close",
        "2026-01-12T12:00",
        &[("nis2_entity", json!(false))],
    )
    .unwrap();
    assert!(log.case.as_ref().unwrap().is_closed(&wf));
}

const EVENTS: &[&str] = &[
    "contain",
    "assess",
    "notify_authority",
    "notify_authority_complement",
    "notify_individuals",
    "decide_no_individual_notice",
    "file_complaint",
    "nis2_early_warning",
    "nis2_notification",
    "nis2_final_report",
    "close",
];

fn all_facts() -> Vec<(&'static str, serde_json::Value)> {
    let mut f = notify_facts();
    f.extend([
        ("contained_at", json!("2026-01-09T09:30")),
        ("risk", json!("high")),
        ("risk_rationale", json!("r")),
        ("individuals_channel", json!("mail")),
        ("individuals_exemption", json!("unintelligible")),
        ("individuals_rationale", json!("r")),
        ("complaint_place", json!("p")),
        ("root_cause", json!("r")),
        ("nis2_entity", json!(true)),
        ("delay_reasons", json!("d")),
    ]);
    f
}

proptest! {
    /// Replaying the same events gives the same state and the same hashes, whatever
    /// the order in which commands were tried (refused ones change nothing).
    #[test]
    fn replay_is_deterministic(steps in proptest::collection::vec((0..EVENTS.len(), 1i64..40), 1..25)) {
        let wf = fr();
        let mut log = Log::open(&wf, "2026-01-09T10:00", &all_facts());
        let mut at = t("2026-01-09T10:00");
        for (i, hours) in steps {
            at += Duration::hours(hours);
            let before = log.events.len();
            let cmd = Command::Advance { event: EVENTS[i].into(), facts: vec![], note: None, at };
            if log.apply(&cmd, at).is_err() {
                prop_assert_eq!(log.events.len(), before);
            }
        }
        let again = fold(&wf, &log.events).unwrap();
        let live = log.case.as_ref().unwrap();
        prop_assert_eq!(&again.tracks, &live.tracks);
        prop_assert_eq!(&again.met, &live.met);
        prop_assert_eq!(&again.last_hash, &live.last_hash);
        // Re-sealing each event from its content gives the same chain.
        let mut prev = event::genesis_hash("default", "c1");
        for e in &log.events {
            let resealed = Recorded::seal("default", "c1", e.seq, e.at, e.recorded_at, &e.actor, e.body.clone(), &prev);
            prop_assert_eq!(&resealed.hash, &e.hash);
            prev = resealed.hash;
        }
        // Every track is in one of its states.
        for (track, state) in &live.tracks {
            prop_assert!(wf.tracks[track].states.contains(state));
        }
    }
}

/// The web and the API pass raw JSON straight to `decide`: the core itself refuses an
/// effective time or a time fact the log could not read back (issue 9: year 0).
#[test]
fn the_core_refuses_instants_outside_the_bounds() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &notify_facts());
    let now = t("2026-01-09T12:00");
    let year0 = DateTime::parse_from_rfc3339("0000-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let set = |at, facts: Vec<(String, serde_json::Value)>| Command::SetFacts {
        facts,
        note: Some("x".into()),
        at,
    };
    let e = decide(&wf, log.case.as_ref(), &set(year0, vec![]), now).unwrap_err();
    assert!(matches!(e, Rejected::OutOfBounds { .. }), "{e}");
    assert!(e.to_string().contains("setting facts"), "{e}");
    for v in [
        "0000-01-01T00:00",
        "-262143-01-01T00:00",
        "1969-12-31T23:00:00Z",
    ] {
        let e = decide(
            &wf,
            log.case.as_ref(),
            &set(now, vec![("aware_at".into(), json!(v))]),
            now,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("fact 'aware_at'"), "{v}: {e}");
    }
    let e = decide(
        &wf,
        None,
        &Command::Open {
            title: "t".into(),
            facts: vec![("aware_at".into(), json!("0000-01-01T00:00"))],
            at: now,
        },
        now,
    )
    .unwrap_err();
    assert!(e.to_string().contains("aware_at"), "{e}");
    let e = log.set(
        "2026-01-09T11:00",
        &[("aware_at", json!("0000-01-01T00:00"))],
    );
    assert!(e.is_err());
}

/// Issue 9: backdating a notification before the clock it meets started would record
/// it as on time. The core refuses, naming the event, the clock and both instants.
#[test]
fn an_event_cannot_meet_a_clock_before_it_started() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-11-01T00:00", &notify_facts());
    log.advance(
        "contain",
        "2026-11-01T10:00",
        &[("contained_at", json!("2026-11-01T09:00"))],
    )
    .unwrap();
    let e = log
        .advance("notify_authority", "2001-01-01T00:00", &[])
        .unwrap_err();
    assert!(matches!(e, Rejected::BeforeClockStart { .. }), "{e}");
    let msg = e.to_string();
    for part in [
        "notify_authority",
        "art33",
        "2001-01-01T00:00:00+01:00",
        "2026-11-01T00:00:00+01:00",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    // At the very start it is allowed, and on time.
    log.advance("notify_authority", "2026-11-01T00:00", &[])
        .unwrap();
    assert!(!log.case.as_ref().unwrap().met["art33"].late);
}
