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
                reason: None,
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
                reason: None,
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
    // Art. 33(5) (issue 22 A6): a case closes with its effects and remedial action.
    let e = log.advance("close", "2026-01-09T12:00", &[]).unwrap_err();
    assert!(e.to_string().contains("'consequences', 'measures'"), "{e}");
    let e = log
        .advance("close", "2026-01-09T12:00", &notify_facts())
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("track 'authority' must not be 'pending'"),
        "{e}"
    );
    let mut reasons = notify_facts();
    reasons.push(("no_authority_reasons", json!("x")));
    let e = log
        .advance("decide_no_authority_notice", "2026-01-09T12:00", &reasons)
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
            reason: None,
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
            let cmd = Command::Advance { event: EVENTS[i].into(), facts: vec![], note: None, at, reason: None };
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
        reason: None,
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

// --- issue 12: DORA clocks, APD part 2, counting ---

fn be() -> Workflow {
    compile("be.yaml", include_str!("../../workflows/be.yaml")).expect("be compiles")
}

fn dora() -> Workflow {
    compile("dora.yaml", include_str!("../../workflows/dora.yaml")).expect("dora compiles")
}

/// The due time of `clock` as of `now`, in the workflow's zone.
fn due_of(log: &Log, clock: &str, now: &str) -> String {
    let c = log.clock(clock, now);
    rfc3339_in(c.due_at.expect("a due time"), log.wf.timezone)
}

#[test]
fn dora_initial_is_due_at_the_earlier_of_4h_after_classification_and_24h_after_awareness() {
    let wf = dora();
    let mut log = Log::open(&wf, "2026-10-23T08:00", &[]);
    // Not classified yet: the 24 hours after awareness.
    assert_eq!(
        due_of(&log, "dora_initial", "2026-10-23T09:00"),
        "2026-10-24T08:00:00+02:00"
    );
    // Classified at 10:00: 4 hours later comes first.
    log.set(
        "2026-10-23T10:00",
        &[("classified_major_at", json!("2026-10-23T10:00"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_initial", "2026-10-23T11:00"),
        "2026-10-23T14:00:00+02:00"
    );
    // Classified late, at 06:00 the next day: the 24 hours still cap it.
    log.set(
        "2026-10-24T06:00",
        &[("classified_major_at", json!("2026-10-24T06:00"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_initial", "2026-10-24T06:30"),
        "2026-10-24T08:00:00+02:00"
    );
    // Classified as not major: no DORA deadline at all.
    log.set("2026-10-24T07:00", &[("dora_major", json!(false))])
        .unwrap();
    assert_eq!(
        log.clock("dora_initial", "2026-10-24T07:00").status,
        ClockStatus::NotApplicable
    );
}

#[test]
fn dora_hour_deadlines_are_absolute_across_dst_both_ways() {
    let wf = dora();
    // Fall back (25 October 2026): 24 real hours, 4 real hours.
    let mut log = Log::open(&wf, "2026-10-24T12:00", &[]);
    assert_eq!(
        due_of(&log, "dora_initial", "2026-10-24T13:00"),
        "2026-10-25T11:00:00+01:00"
    );
    log.set(
        "2026-10-25T03:00",
        &[("classified_major_at", json!("2026-10-25T01:30:00+02:00"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_initial", "2026-10-25T03:00"),
        "2026-10-25T04:30:00+01:00"
    );
    log.advance(
        "dora_initial_notification",
        "2026-10-25T04:00",
        &[("dora_description", json!("x"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_intermediate", "2026-10-25T05:00"),
        "2026-10-28T04:00:00+01:00"
    );
    // Spring forward (29 March 2026).
    let mut log = Log::open(&wf, "2026-03-28T12:00", &[]);
    log.set(
        "2026-03-28T20:00",
        &[("classified_major_at", json!("2026-03-28T20:00"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_initial", "2026-03-28T13:00"),
        "2026-03-29T00:00:00+01:00"
    );
    log.advance(
        "dora_initial_notification",
        "2026-03-28T23:00",
        &[("dora_description", json!("x"))],
    )
    .unwrap();
    assert_eq!(
        due_of(&log, "dora_intermediate", "2026-03-29T00:00"),
        "2026-04-01T00:00:00+02:00"
    );
}

/// Issue 12: a clock may start at the latest time an event happened. The DORA final
/// report is due one month after the LATEST intermediate report.
#[test]
fn a_second_intermediate_report_moves_the_dora_final_deadline() {
    let wf = dora();
    let mut log = Log::open(
        &wf,
        "2026-01-29T08:00",
        &[("classified_major_at", json!("2026-01-29T08:00"))],
    );
    log.advance(
        "dora_initial_notification",
        "2026-01-29T11:00",
        &[("dora_description", json!("x"))],
    )
    .unwrap();
    assert_eq!(log.clock("dora_final", "2026-01-29T12:00").due_at, None);
    log.advance("dora_intermediate_report", "2026-01-31T15:30", &[])
        .unwrap();
    // A month from 31 January: the last day of February, same local time.
    assert_eq!(
        due_of(&log, "dora_final", "2026-02-01T00:00"),
        "2026-02-28T15:30:00+01:00"
    );
    assert_eq!(
        log.clock("dora_intermediate", "2026-02-01T00:00").status,
        ClockStatus::Met
    );
    // Regular activities recovered: an updated intermediate report; the final report
    // moves with it (across the spring change: same local time, new offset).
    log.advance("dora_intermediate_report", "2026-03-02T09:00", &[])
        .unwrap();
    assert_eq!(
        due_of(&log, "dora_final", "2026-03-03T00:00"),
        "2026-04-02T09:00:00+02:00"
    );
    // The latest effective time counts, not the last one recorded.
    log.advance("dora_intermediate_report", "2026-02-20T09:00", &[])
        .unwrap();
    assert_eq!(
        due_of(&log, "dora_final", "2026-03-03T00:00"),
        "2026-04-02T09:00:00+02:00"
    );
    // Late: the reasons are required, then the lateness is frozen.
    let e = log
        .advance(
            "dora_final_report",
            "2026-04-03T09:00",
            &[("root_cause", json!("x"))],
        )
        .unwrap_err();
    assert!(matches!(e, Rejected::LateWithoutReasons { .. }), "{e}");
    log.advance(
        "dora_final_report",
        "2026-04-03T09:00",
        &[
            ("root_cause", json!("x")),
            ("dora_delay_reasons", json!("y")),
        ],
    )
    .unwrap();
    let c = log.clock("dora_final", "2026-05-01T00:00");
    assert_eq!(c.status, ClockStatus::Late);
    assert_eq!(
        rfc3339_in(c.due_at.unwrap(), Paris),
        "2026-04-02T09:00:00+02:00"
    );
    // Fall back: a month from 10 October 2026 at 09:00 (+02:00) is 10 November at 09:00
    // (+01:00).
    let mut log = Log::open(
        &wf,
        "2026-10-08T08:00",
        &[("classified_major_at", json!("2026-10-08T08:00"))],
    );
    log.advance(
        "dora_initial_notification",
        "2026-10-08T12:00",
        &[("dora_description", json!("x"))],
    )
    .unwrap();
    log.advance("dora_intermediate_report", "2026-10-10T09:00", &[])
        .unwrap();
    assert_eq!(
        due_of(&log, "dora_final", "2026-10-11T00:00"),
        "2026-11-10T09:00:00+01:00"
    );
}

#[test]
fn apd_part2_is_due_21_calendar_days_after_part_1() {
    let wf = be();
    let part1 = |aware: &str, at: &str| {
        let mut log = Log::open(&wf, aware, &[("risk", json!("risk"))]);
        log.advance("notify_authority", at, &notify_facts())
            .unwrap();
        due_of(&log, "apd_part2", at)
    };
    // Same local time 21 days later, across both DST changes and a month end.
    assert_eq!(
        part1("2026-10-19T09:00", "2026-10-20T10:00"),
        "2026-11-10T10:00:00+01:00"
    );
    assert_eq!(
        part1("2026-03-19T09:00", "2026-03-20T10:00"),
        "2026-04-10T10:00:00+02:00"
    );
    assert_eq!(
        part1("2026-01-30T09:00", "2026-01-31T10:00"),
        "2026-02-21T10:00:00+01:00"
    );
    // Part 2 meets it, under the DBN reference.
    let mut log = Log::open(&wf, "2026-10-19T09:00", &[("risk", json!("risk"))]);
    log.advance("notify_authority", "2026-10-20T10:00", &notify_facts())
        .unwrap();
    let e = log
        .advance("notify_authority_part2", "2026-11-02T10:00", &[])
        .unwrap_err();
    assert!(e.to_string().contains("authority_ref"), "{e}");
    log.advance(
        "notify_authority_part2",
        "2026-11-02T10:00",
        &[("authority_ref", json!("DBN-2026-0042"))],
    )
    .unwrap();
    assert_eq!(
        log.clock("apd_part2", "2026-11-03T00:00").status,
        ClockStatus::Met
    );
}

#[test]
fn apd_part2_counted_under_1182_71_when_the_workflow_opts_in() {
    let text = include_str!("../../workflows/be.yaml").replace(
        "    met_by: notify_authority_part2\n",
        "    met_by: notify_authority_part2\n    counting: eu_1182_71\n",
    );
    let wf = compile("be.yaml", &text).expect("be with eu_1182_71 compiles");
    let part1 = |at: &str| {
        let mut log = Log::open(&wf, "2026-10-19T09:00", &[("risk", json!("risk"))]);
        log.advance("notify_authority", at, &notify_facts())
            .unwrap();
        let c = log.clock("apd_part2", at);
        c.due_at
            .unwrap()
            .with_timezone(&wf.timezone)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    };
    // Tuesday 20 October + 21 days: the end of Tuesday 10 November (fall back between).
    assert_eq!(part1("2026-10-20T10:00"), "2026-11-10T23:59:59.999+01:00");
    // Wednesday 21 October + 21 days = 11 November, a public holiday: Thursday 12.
    assert_eq!(part1("2026-10-21T10:00"), "2026-11-12T23:59:59.999+01:00");
    // The 72 hours of art. 33 never move.
    let mut log = Log::open(&wf, "2026-07-18T09:00", &[("risk", json!("risk"))]);
    log.set("2026-07-18T09:00", &[("nature", json!("confidentiality"))])
        .unwrap();
    assert_eq!(
        due_of(&log, "art33", "2026-07-18T10:00"),
        "2026-07-21T09:00:00+02:00"
    );
}

/// Issue 12: a GDPR breach that is also a DORA major incident keeps both sets of
/// clocks on one case; a GDPR case without the DORA profile shows none.
#[test]
fn a_gdpr_case_carries_the_dora_clocks_when_its_profile_is_on() {
    for wf in [fr(), be()] {
        let mut log = Log::open(&wf, "2026-10-23T08:00", &[("risk", json!("high"))]);
        for id in ["dora_initial", "dora_intermediate", "dora_final"] {
            assert_eq!(
                log.clock(id, "2026-10-23T09:00").status,
                ClockStatus::NotApplicable,
                "{} {id}",
                wf.id
            );
        }
        let e = log
            .advance(
                "dora_initial_notification",
                "2026-10-23T09:00",
                &[
                    ("classified_major_at", json!("2026-10-23T09:00")),
                    ("dora_description", json!("x")),
                ],
            )
            .unwrap_err();
        assert!(e.to_string().contains("dora_entity"), "{e}");
        log.set(
            "2026-10-23T09:00",
            &[
                ("dora_entity", json!(true)),
                ("classified_major_at", json!("2026-10-23T09:00")),
            ],
        )
        .unwrap();
        assert_eq!(
            due_of(&log, "art33", "2026-10-23T10:00"),
            "2026-10-26T07:00:00+01:00"
        );
        assert_eq!(
            due_of(&log, "dora_initial", "2026-10-23T10:00"),
            "2026-10-23T13:00:00+02:00"
        );
        log.advance(
            "dora_initial_notification",
            "2026-10-23T12:00",
            &[("dora_description", json!("x"))],
        )
        .unwrap();
        assert_eq!(
            due_of(&log, "dora_intermediate", "2026-10-23T13:00"),
            "2026-10-26T11:00:00+01:00"
        );
        assert_eq!(
            log.clock("art33", "2026-10-23T13:00").status,
            ClockStatus::Pending
        );
    }
}

/// The DORA block of fr.yaml and be.yaml is dora.yaml's, but for the profile switch
/// (`dora_entity` in each `applies` and in the initial notification's `when`): the
/// three copies must not drift.
#[test]
fn the_dora_blocks_of_fr_and_be_match_the_dora_workflow() {
    let d = dora();
    for wf in [fr(), be()] {
        for (id, f) in &d.facts {
            let g = wf
                .facts
                .get(id)
                .unwrap_or_else(|| panic!("{}: no fact {id}", wf.id));
            assert_eq!(
                (g.kind, &g.choices),
                (f.kind, &f.choices),
                "{} fact {id}",
                wf.id
            );
        }
        for (id, e) in d.events.iter().filter(|(id, _)| id.starts_with("dora_")) {
            let g = &wf.events[id];
            assert_eq!(
                (&g.track, &g.from, &g.to, &g.requires),
                (&e.track, &e.from, &e.to, &e.requires),
                "{} event {id}",
                wf.id
            );
        }
        for (id, c) in &d.clocks {
            let g = &wf.clocks[id];
            assert_eq!(
                (
                    &g.title,
                    &g.basis,
                    &g.starts,
                    &g.within,
                    &g.or_earlier,
                    g.counting
                ),
                (
                    &c.title,
                    &c.basis,
                    &c.starts,
                    &c.within,
                    &c.or_earlier,
                    c.counting
                ),
                "{} clock {id}",
                wf.id
            );
            assert_eq!(
                (
                    &g.met_by,
                    &g.late_requires,
                    &g.remind_before,
                    &g.overdue_every
                ),
                (
                    &c.met_by,
                    &c.late_requires,
                    &c.remind_before,
                    &c.overdue_every
                ),
                "{} clock {id}",
                wf.id
            );
        }
        for (id, doc) in &d.documents {
            let g = &wf.documents[id];
            assert_eq!(
                (&g.template, &g.needs),
                (&doc.template, &doc.needs),
                "{} {id}",
                wf.id
            );
        }
        assert_eq!(wf.tracks["dora"].states, d.tracks["dora"].states);
    }
}

/// A list computes a case's clocks once per change and moves them to `now` with
/// `as_of` (issue 14): that must be what `clocks` itself says at `now`, before, at and
/// after each due time, for running, met and waiting clocks.
#[test]
fn clocks_moved_in_time_are_the_clocks_of_that_time() {
    let wf = fr();
    let mut log = Log::open(&wf, "2026-01-09T10:00", &[]);
    log.apply(
        &Command::Advance {
            event: "contain".into(),
            facts: vec![("contained_at".into(), json!("2026-01-09T11:00"))],
            note: None,
            at: t("2026-01-09T11:00"),
            reason: None,
        },
        t("2026-01-09T11:00"),
    )
    .unwrap();
    let case = log.case.as_ref().unwrap();
    let early = clocks(&wf, case, t("2026-01-09T10:30"));
    let mut instants: Vec<DateTime<Utc>> = early.iter().filter_map(|v| v.due_at).collect();
    instants.extend(
        instants
            .clone()
            .iter()
            .flat_map(|d| [*d - Duration::seconds(1), *d + Duration::seconds(1)]),
    );
    instants.push(t("2027-06-01T00:00"));
    for now in instants {
        let moved: Vec<String> = early
            .iter()
            .map(|v| format!("{:?}", v.as_of(now)))
            .collect();
        let direct: Vec<String> = clocks(&wf, case, now)
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
        assert_eq!(moved, direct, "at {now}");
    }
}
