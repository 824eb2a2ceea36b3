//! The outbox against a real SQLite file: timers follow the case in its transaction,
//! claims are leased, only the lease holder completes.

use super::*;
use crate::case::Command;
use crate::catalog::WorkflowSet;
use crate::store::{DEFAULT_ORG, Store};
use crate::time::parse_instant;
use chrono_tz::Europe::Paris;
use serde_json::json;

fn t(s: &str) -> DateTime<Utc> {
    parse_instant(s, Paris).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    workflows: WorkflowSet,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("v.db")).unwrap();
    Fixture {
        _dir: dir,
        store,
        workflows: WorkflowSet::load(None).unwrap(),
    }
}

fn facts(pairs: &[(&str, serde_json::Value)]) -> Vec<(String, serde_json::Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

impl Fixture {
    fn open(&mut self, id: &str, aware: &str, now: &str) {
        let cmd = Command::Open {
            title: id.into(),
            facts: facts(&[
                ("aware_at", json!(aware)),
                ("nis2_entity", json!(false)),
                ("cyber_insured", json!(false)),
                ("risk", json!("risk")),
            ]),
            at: t(now),
        };
        self.store
            .open_case(
                DEFAULT_ORG,
                &self.workflows,
                "fr",
                Some(id),
                &cmd,
                "t",
                t(now),
            )
            .unwrap();
    }

    fn timers(&mut self, case: &str) -> Vec<(String, String, String)> {
        self.store
            .backend()
            .dump_timers()
            .unwrap()
            .into_iter()
            .filter(|t| t.case_id == case)
            .map(|t| (format!("{}/{}", t.clock, t.offset), t.state, ts(t.due_at)))
            .collect()
    }
}

#[test]
fn opening_a_case_plans_its_reminders_in_the_same_transaction() {
    let mut f = fixture();
    f.open("c1", "2026-10-23T10:00", "2026-10-23T10:30");
    let timers = f.timers("c1");
    let art33: Vec<_> = timers
        .iter()
        .filter(|(k, _, _)| k.starts_with("art33/"))
        .collect();
    assert_eq!(art33.len(), 5, "{timers:?}");
    // 72 h absolute across the fall-back change: due 2026-10-26 09:00+01:00 = 08:00Z.
    let due = |k: &str| {
        timers
            .iter()
            .find(|(key, _, _)| key == k)
            .unwrap()
            .2
            .clone()
    };
    assert_eq!(due("art33/overdue-0"), "2026-10-26T08:00:00.000000Z");
    assert_eq!(due("art33/before-48h"), "2026-10-24T08:00:00.000000Z");
    assert_eq!(due("art33/before-1h"), "2026-10-26T07:00:00.000000Z");
    // Clocks that do not apply plan nothing.
    assert!(
        !timers
            .iter()
            .any(|(k, _, _)| k.starts_with("nis2") || k.starts_with("complaint"))
    );
}

#[test]
fn moving_aware_at_moves_the_reminders_and_meeting_the_clock_cancels_them() {
    let mut f = fixture();
    f.open("c1", "2026-01-09T10:00", "2026-01-09T10:30");
    let set = Command::SetFacts {
        facts: facts(&[("aware_at", json!("2026-01-09T08:00"))]),
        note: None,
        at: t("2026-01-09T11:00"),
        reason: None,
    };
    f.store
        .execute(DEFAULT_ORG, "c1", &set, "t", t("2026-01-09T11:00"))
        .unwrap();
    let overdue = f
        .timers("c1")
        .into_iter()
        .find(|(k, _, _)| k == "art33/overdue-0")
        .unwrap();
    assert_eq!(
        (overdue.1.as_str(), overdue.2.as_str()),
        ("pending", "2026-01-12T07:00:00.000000Z")
    );

    let notify = Command::Advance {
        event: "notify_authority".into(),
        facts: facts(&[
            ("nature", json!("confidentiality")),
            ("subjects_approx", json!("10")),
            ("data_categories", json!("contact")),
            ("consequences", json!("c")),
            ("measures", json!("m")),
        ]),
        note: None,
        at: t("2026-01-10T09:00"),
        reason: None,
    };
    f.store
        .execute(DEFAULT_ORG, "c1", &notify, "t", t("2026-01-10T09:00"))
        .unwrap();
    for (k, state, _) in f
        .timers("c1")
        .iter()
        .filter(|(k, _, _)| k.starts_with("art33/"))
    {
        assert_eq!(state, "cancelled", "{k}");
    }
}

#[test]
fn after_downtime_only_the_latest_reminder_of_a_clock_is_sent() {
    let mut f = fixture();
    f.open("c1", "2026-01-09T10:00", "2026-01-09T10:30");
    // The server comes back 71 h 30 min later: 48h, 24h, 6h and 1h are all past.
    let now = t("2026-01-12T09:30");
    let claimed = claim(&mut f.store, now, Duration::seconds(60), 100, "tok").unwrap();
    let keys: Vec<_> = claimed
        .iter()
        .map(|c| format!("{}/{}", c.clock, c.offset))
        .collect();
    assert_eq!(keys, vec!["art33/before-1h"]);
    let states: Vec<_> = f
        .timers("c1")
        .into_iter()
        .map(|(k, s, _)| format!("{k}={s}"))
        .collect();
    for k in ["art33/before-48h", "art33/before-24h", "art33/before-6h"] {
        assert!(states.contains(&format!("{k}=superseded")), "{states:?}");
    }
    // Claimed under a lease: a second dispatcher gets nothing until it expires.
    assert!(
        claim(&mut f.store, now, Duration::seconds(60), 100, "other")
            .unwrap()
            .is_empty()
    );
    let after_lease = now + Duration::seconds(61);
    let again = claim(
        &mut f.store,
        after_lease,
        Duration::seconds(60),
        100,
        "other",
    )
    .unwrap();
    assert_eq!(again.len(), 1);
    // The first holder lost its lease: its recording leaves the row alone, the new
    // holder's settles it.
    let mid = crate::mail::message_id(&claimed[0].key, "example.org");
    assert_eq!(
        mid,
        crate::mail::message_id(&again[0].key, "example.org"),
        "same reminder, same Message-ID"
    );
    let sent = |c: &Claimed| delivery::Attempt {
        claimed: c.clone(),
        message_id: mid.clone(),
        next: None,
        recipients: vec![("h1".into(), Some(crate::mail::RcptOutcome::Accepted))],
    };
    assert_eq!(
        delivery::record(&mut f.store, &[sent(&claimed[0])], after_lease).unwrap(),
        [delivery::Recorded::NotOurs]
    );
    assert_eq!(
        delivery::record(&mut f.store, &[sent(&again[0])], after_lease).unwrap(),
        [delivery::Recorded::Sent(None)]
    );
    let states: Vec<_> = f.timers("c1").into_iter().map(|(_, s, _)| s).collect();
    assert!(states.contains(&"sent".to_string()), "{states:?}");
}

#[test]
fn failures_back_off_then_dead_letter() {
    let mut f = fixture();
    f.open("c1", "2026-01-09T10:00", "2026-01-09T10:30");
    let now = t("2026-01-12T09:30");
    let c = claim(&mut f.store, now, Duration::seconds(60), 100, "tok")
        .unwrap()
        .remove(0);
    assert!(fail(&mut f.store, &c, "421 try later", true, now).unwrap());
    let rows = list(&mut f.store, DEFAULT_ORG, false).unwrap();
    let row = rows.iter().find(|r| r.id == c.id).unwrap();
    assert_eq!(row.state, "failed");
    assert_eq!(row.next_attempt_at, ts(now + Duration::seconds(1)));
    // Not due again before its backoff.
    assert!(
        claim(&mut f.store, now, Duration::seconds(60), 100, "tok")
            .unwrap()
            .is_empty()
    );
    let c = claim(
        &mut f.store,
        now + Duration::seconds(1),
        Duration::seconds(60),
        100,
        "tok",
    )
    .unwrap()
    .remove(0);
    assert_eq!(c.attempts, 1);
    assert!(fail(&mut f.store, &c, "550 no such user", false, now).unwrap());
    let rows = list(&mut f.store, DEFAULT_ORG, false).unwrap();
    assert_eq!(rows.iter().find(|r| r.id == c.id).unwrap().state, "dead");
    assert!(retry(&mut f.store, DEFAULT_ORG, c.id, now).unwrap());
    assert!(!retry(&mut f.store, "another-org", c.id, now).unwrap());
}

#[test]
fn backoff_is_exponential_and_capped_at_15_minutes() {
    assert_eq!(backoff(0), Duration::seconds(1));
    assert_eq!(backoff(3), Duration::seconds(8));
    assert_eq!(backoff(9), Duration::seconds(512));
    assert_eq!(backoff(10), Duration::seconds(900));
    assert_eq!(backoff(60), Duration::seconds(900));
}

#[test]
fn overdue_repeats_resume_from_the_present() {
    let wf = crate::workflow::compile("fr.yaml", include_str!("../../workflows/fr.yaml")).unwrap();
    let due = t("2026-01-12T10:00");
    let every = Some(crate::time::Period::Hours(12));
    assert_eq!(
        plan::overdue_at(due, every, 2, &wf),
        Some(t("2026-01-13T10:00"))
    );
    // Down for three days: the next repeat is the first one after now, not a burst.
    let n = plan::next_overdue_index(due, every, t("2026-01-15T11:00"), &wf).unwrap();
    assert_eq!(n, 7);
    assert_eq!(
        plan::overdue_at(due, every, n, &wf),
        Some(t("2026-01-15T22:00"))
    );
}

#[test]
fn each_recipient_is_recorded_and_never_sent_twice() {
    use crate::mail::RcptOutcome::{Accepted, Deferred, Refused};
    use delivery::{Attempt, Recorded, done, recipient_hash, record, secret};
    let mut f = fixture();
    f.open("c1", "2026-01-09T10:00", "2026-01-09T10:30");
    let now = t("2026-01-12T09:30");
    let key = secret(&mut f.store).unwrap();
    let c = claim(&mut f.store, now, Duration::seconds(60), 100, "tok")
        .unwrap()
        .remove(0);
    let dpo = recipient_hash(&key, &c.key, "dpo@example.org");
    let owner = recipient_hash(&key, &c.key, "Owner@Example.org");
    assert_eq!(owner, recipient_hash(&key, &c.key, "owner@example.org"));
    assert_ne!(
        owner,
        recipient_hash(&key, "another/key", "owner@example.org")
    );
    assert!(!owner.contains("owner"));
    let attempt = |c: &Claimed, outcomes: Vec<Option<crate::mail::RcptOutcome>>| Attempt {
        claimed: c.clone(),
        message_id: crate::mail::message_id(&c.key, "example.org"),
        next: None,
        recipients: [dpo.clone(), owner.clone()]
            .into_iter()
            .zip(outcomes)
            .collect(),
    };

    // The DPO has it, the owner's server said "later": retried, for the owner only.
    let r = record(
        &mut f.store,
        &[attempt(
            &c,
            vec![Some(Accepted), Some(Deferred("421 busy".into()))],
        )],
        now,
    )
    .unwrap();
    assert_eq!(
        r,
        [Recorded::Retry(
            "recipient 2 of 2 not sent: 421 busy".into()
        )]
    );
    let d = done(&mut f.store, c.id).unwrap();
    assert_eq!(d.get(&dpo).map(String::as_str), Some("sent"));
    assert!(!d.contains_key(&owner));

    // The retry: the owner refuses for good. Sent (the DPO has it), refusal kept.
    let later = now + Duration::seconds(1);
    let c = claim(&mut f.store, later, Duration::seconds(60), 100, "tok")
        .unwrap()
        .remove(0);
    let r = record(
        &mut f.store,
        &[attempt(
            &c,
            vec![None, Some(Refused("550 5.1.1 unknown".into()))],
        )],
        later,
    )
    .unwrap();
    let why = "recipient 2 of 2 refused: 550 5.1.1 unknown".to_string();
    assert_eq!(r, [Recorded::Sent(Some(why.clone()))]);
    let row = list(&mut f.store, DEFAULT_ORG, true)
        .unwrap()
        .into_iter()
        .find(|r| r.id == c.id)
        .unwrap();
    assert_eq!((row.state.as_str(), row.last_error), ("sent", Some(why)));
}

#[test]
fn a_reminder_every_recipient_refuses_is_dead_until_the_owners_change() {
    use crate::mail::RcptOutcome::Refused;
    use delivery::{Attempt, Recorded, done, record};
    let mut f = fixture();
    f.open("c1", "2026-01-09T10:00", "2026-01-09T10:30");
    let now = t("2026-01-12T09:30");
    let c = claim(&mut f.store, now, Duration::seconds(60), 100, "tok")
        .unwrap()
        .remove(0);
    let a = Attempt {
        claimed: c.clone(),
        message_id: crate::mail::message_id(&c.key, "example.org"),
        next: None,
        recipients: vec![("h1".into(), Some(Refused("550 no".into())))],
    };
    let r = record(&mut f.store, &[a], now).unwrap();
    assert_eq!(
        r,
        [Recorded::Dead("recipient 1 of 1 refused: 550 no".into())]
    );

    // Setting another fact changes nothing; setting the owners requeues it, due now,
    // with its refusals forgotten.
    let later = now + Duration::hours(1);
    let set = |f: &mut Fixture, k: &str, v: serde_json::Value| {
        f.store
            .execute(
                DEFAULT_ORG,
                "c1",
                &Command::SetFacts {
                    facts: facts(&[(k, v)]),
                    note: None,
                    at: later,
                    reason: None,
                },
                "t",
                later,
            )
            .unwrap();
    };
    set(&mut f, "consequences", json!("x"));
    let state = |f: &mut Fixture| {
        list(&mut f.store, DEFAULT_ORG, true)
            .unwrap()
            .into_iter()
            .find(|r| r.id == c.id)
            .unwrap()
    };
    assert_eq!(state(&mut f).state, "dead");
    set(&mut f, "owners", json!(["owner@example.org"]));
    let row = state(&mut f);
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 0));
    assert_eq!(row.next_attempt_at, ts(later));
    assert!(done(&mut f.store, c.id).unwrap().is_empty());
}

/// Issue 12: the DORA final report is due one month after the LATEST intermediate
/// report. A second intermediate report moves it, and the reminder timers follow in
/// the same transaction.
#[test]
fn a_second_intermediate_report_moves_the_final_reports_reminders() {
    let mut f = fixture();
    let open = Command::Open {
        title: "ict".into(),
        facts: facts(&[
            ("aware_at", json!("2026-01-28T08:00")),
            ("classified_major_at", json!("2026-01-28T08:00")),
        ]),
        at: t("2026-01-28T08:30"),
    };
    f.store
        .open_case(
            DEFAULT_ORG,
            &f.workflows,
            "dora",
            Some("d1"),
            &open,
            "t",
            t("2026-01-28T08:30"),
        )
        .unwrap();
    let advance = |f: &mut Fixture, event: &str, at: &str, set: &[(&str, serde_json::Value)]| {
        let cmd = Command::Advance {
            event: event.into(),
            facts: facts(set),
            note: None,
            at: t(at),
            reason: None,
        };
        f.store
            .execute(DEFAULT_ORG, "d1", &cmd, "t", t(at))
            .unwrap();
    };
    advance(
        &mut f,
        "dora_initial_notification",
        "2026-01-28T11:00",
        &[("dora_description", json!("x"))],
    );
    let final_timer = |f: &mut Fixture, offset: &str| {
        f.timers("d1")
            .into_iter()
            .find(|(k, _, _)| k == &format!("dora_final/{offset}"))
            .map(|(_, state, due)| (state, due))
    };
    assert_eq!(final_timer(&mut f, "overdue-0"), None, "not started yet");
    advance(&mut f, "dora_intermediate_report", "2026-01-30T10:00", &[]);
    assert_eq!(
        final_timer(&mut f, "overdue-0"),
        Some(("pending".into(), "2026-02-28T09:00:00.000000Z".into()))
    );
    assert_eq!(
        final_timer(&mut f, "before-7d"),
        Some(("pending".into(), "2026-02-21T09:00:00.000000Z".into()))
    );
    advance(&mut f, "dora_intermediate_report", "2026-02-10T10:00", &[]);
    assert_eq!(
        final_timer(&mut f, "overdue-0"),
        Some(("pending".into(), "2026-03-10T09:00:00.000000Z".into()))
    );
    assert_eq!(
        final_timer(&mut f, "before-7d"),
        Some(("pending".into(), "2026-03-03T09:00:00.000000Z".into()))
    );
    advance(
        &mut f,
        "dora_final_report",
        "2026-02-20T10:00",
        &[("root_cause", json!("x"))],
    );
    assert_eq!(
        final_timer(&mut f, "overdue-0").map(|(s, _)| s),
        Some("cancelled".into())
    );
}
