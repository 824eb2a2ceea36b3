//! The storage contract: every backend answers the traits of `store::backend` the same
//! way. Each check is written once, as a function of a `Db` (a way to open connections
//! to one fresh database, and to run raw SQL on it), and run against each backend.
//!
//! PostgreSQL: a throwaway cluster (`tests/common/pg.rs`), a fresh database per test.
//! SQLite: a fresh file per test (`vigie::store::sqlite::Sqlite`).

use crate::common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use vigie::outbox::Claimed;
use vigie::store::StoreError;
use vigie::store::backend::{
    AccessRow, Backend, Campaign, CaseHead, Delivery, EventRow, IssuedText, LedgerRow, NewEvent,
    NewTimer, PinnedWorkflow, RecipientOutcome, SessionRow, Settle, TokenRow,
};
use vigie::store::{Role, User};

type RawSql = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// One fresh database of one backend.
struct Db {
    kind: &'static str,
    open: Box<dyn Fn() -> Box<dyn Backend> + Send + Sync>,
    /// Runs one statement outside the traits (to prove what the database refuses).
    raw: RawSql,
}

fn postgres_db() -> Db {
    let url = common::pg::url();
    let u2 = url.clone();
    Db {
        kind: "postgres",
        open: Box::new(move || vigie::store::postgres::open(&url).expect("open the test database")),
        raw: Box::new(move |sql| {
            let mut c =
                postgres::Client::connect(&u2, postgres::NoTls).map_err(|e| e.to_string())?;
            c.batch_execute(sql).map_err(|e| e.to_string())
        }),
    }
}

fn sqlite_db() -> Db {
    // A fresh file in its own folder (the test builder's), kept while the closures live;
    // raw SQL goes through the builder's helper like the other tests' tampering.
    let v = Arc::new(common::Vigie::new());
    let v2 = v.clone();
    Db {
        kind: "sqlite",
        open: Box::new(move || {
            Box::new(
                vigie::store::sqlite::Sqlite::open(v.db_path()).expect("open the test database"),
            )
        }),
        raw: Box::new(move |sql| v2.try_sql(sql, &[]).map(|_| ())),
    }
}

/// Each contract check, run against each backend.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(#[test] fn $name() { super::$name(&super::postgres_db()); })*
        }
        mod on_sqlite {
            $(#[test] fn $name() { super::$name(&super::sqlite_db()); })*
        }
    };
}

contract!(
    case_log_append_and_read,
    dropped_transaction_writes_nothing,
    insert_case_twice_is_case_exists,
    lock_case_serialises_writers_of_one_case,
    take_counter_gives_distinct_numbers,
    events_and_workflows_are_append_only,
    timers_of_a_case,
    writes_of_a_transaction_apply_in_order,
    claims_never_overlap,
    claim_supersedes_older_reminders_of_a_clock,
    expired_lease_is_claimable_and_the_old_token_settles_nothing,
    record_settles_under_our_lease,
    outbox_list_retry_next_wake,
    ledger_upsert_and_figures,
    accounts_sessions_tokens,
    throttle_counts_across_connections,
    meta_values,
    copy_loads_round_trip,
    calendar_tokens_one_per_user_revocable,
    memberships_sessions_tokens_and_portfolio,
    access_log_and_issued_texts,
    stores_interleaved_on_one_case_lose_nothing,
    a_stale_case_is_read_again_not_refused,
    timers_changed_by_a_dispatcher_are_read_again,
    a_number_taken_by_hand_is_skipped,
    nul_is_refused_before_any_query,
    reads_in_one_go_answer_as_the_reads_one_by_one,
);

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ts(d: DateTime<Utc>) -> String {
    vigie::outbox::ts(d)
}

fn wf() -> PinnedWorkflow {
    PinnedWorkflow {
        hash: "a".repeat(64),
        id: "fr-gdpr".into(),
        origin: "workflows/fr.yaml".into(),
        source: "id: fr-gdpr\n".into(),
        stored_at: t("2026-03-01T09:00:00Z"),
    }
}

fn head(org: &str, id: &str, seq: i64) -> CaseHead {
    CaseHead {
        org: org.into(),
        id: id.into(),
        workflow: "fr-gdpr".into(),
        workflow_hash: "a".repeat(64),
        title: format!("Case {id}"),
        opened_at: t("2026-03-01T10:00:00Z"),
        seq,
        last_hash: format!("h{seq}"),
        closed: false,
        next_due: None,
    }
}

fn ev(seq: i64, kind: &str, payload: &str) -> EventRow {
    EventRow {
        seq,
        // Microseconds, as `case::event::ts` writes them: they must come back exactly.
        at: format!("2026-03-01T10:00:0{seq}.123456Z"),
        recorded_at: format!("2026-03-01T10:00:0{seq}.654321Z"),
        actor: "test-dpo".into(),
        kind: kind.into(),
        payload: payload.into(),
        prev_hash: format!("h{}", seq - 1),
        hash: format!("h{seq}"),
    }
}

/// A case with one event, committed.
fn open_case(b: &mut dyn Backend, org: &str, id: &str) {
    let mut tx = b.begin().unwrap();
    tx.pin_workflow(&wf()).unwrap();
    tx.insert_case(&head(org, id, 1)).unwrap();
    tx.insert_event(&NewEvent {
        org,
        case_id: id,
        row: ev(1, "opened", "{\"title\":\"x\"}"),
    })
    .unwrap();
    tx.commit().unwrap();
}

/// Appends event `seq` to a case under its lock (the way `Store::execute` does).
fn append(b: &mut dyn Backend, org: &str, id: &str, seq: i64) {
    let mut tx = b.begin().unwrap();
    let h = tx.lock_case(org, id).unwrap().expect("the case");
    assert_eq!(h.seq, seq - 1);
    tx.insert_event(&NewEvent {
        org,
        case_id: id,
        row: ev(seq, "note", "{}"),
    })
    .unwrap();
    tx.update_head(&head(org, id, seq)).unwrap();
    tx.commit().unwrap();
}

fn timer(org: &str, case: &str, clock: &str, offset: &str, due: DateTime<Utc>) -> NewTimer {
    NewTimer {
        key: format!("{org}/{case}/{clock}/{offset}"),
        org: org.into(),
        case_id: case.into(),
        clock: clock.into(),
        offset: offset.into(),
        due_at: due,
        created_at: t("2026-03-01T10:00:00Z"),
    }
}

fn add_timers(b: &mut dyn Backend, timers: &[NewTimer]) {
    let mut tx = b.begin().unwrap();
    for x in timers {
        tx.insert_timer(x).unwrap();
    }
    tx.commit().unwrap();
}

fn case_log_append_and_read(db: &Db) {
    let mut b = (db.open)();
    let b = &mut *b;
    assert!(!b.has_cases("default").unwrap());
    open_case(b, "default", "C-1");
    append(b, "default", "C-1", 2);
    assert!(b.has_cases("default").unwrap());
    assert!(!b.has_cases("other").unwrap());
    let mut tx = b.begin().unwrap();
    tx.pin_workflow(&wf()).unwrap(); // pinned twice: nothing
    assert!(tx.case_exists("default", "C-1").unwrap());
    assert!(!tx.case_exists("other", "C-1").unwrap());
    assert_eq!(tx.events("default", "C-1").unwrap().len(), 2);
    assert_eq!(tx.workflow(&"a".repeat(64)).unwrap(), Some(wf()));
    drop(tx);

    let evs = b.events("default", "C-1", None).unwrap();
    assert_eq!(
        evs,
        vec![ev(1, "opened", "{\"title\":\"x\"}"), ev(2, "note", "{}")]
    );
    assert_eq!(b.events("default", "C-1", Some(1)).unwrap().len(), 1);
    assert_eq!(
        b.head("default", "C-1").unwrap(),
        Some(head("default", "C-1", 2))
    );
    assert_eq!(b.head("default", "C-2").unwrap(), None);
    assert_eq!(b.workflows().unwrap(), vec![wf()]);

    // Listing: open cases by nearest deadline, then closed ones when asked.
    open_case(b, "default", "C-2");
    open_case(b, "default", "C-3");
    let mut tx = b.begin().unwrap();
    let mut h2 = head("default", "C-2", 1);
    h2.next_due = Some(t("2026-03-02T00:00:00Z"));
    tx.update_head(&h2).unwrap();
    let mut h3 = head("default", "C-3", 1);
    h3.closed = true;
    tx.update_head(&h3).unwrap();
    tx.commit().unwrap();
    assert_eq!(b.case_ids("default", false).unwrap(), vec!["C-2", "C-1"]);
    assert_eq!(
        b.case_ids("default", true).unwrap(),
        vec!["C-2", "C-1", "C-3"]
    );
    assert_eq!(
        b.case_ids_by_opening("default").unwrap(),
        vec!["C-1", "C-2", "C-3"]
    );
    assert_eq!(b.heads(None).unwrap().len(), 3);
    assert!(b.heads(Some("other")).unwrap().is_empty());
    assert!(b.orphan_events().unwrap().is_empty());

    // The checkpoint's question: the latest event that met a deadline.
    assert_eq!(b.last_deadline_event("default").unwrap(), None);
    let mut tx = b.begin().unwrap();
    tx.insert_event(&NewEvent {
        org: "default",
        case_id: "C-2",
        row: ev(2, "advanced", "{\"met\":[]}"),
    })
    .unwrap();
    tx.insert_event(&NewEvent {
        org: "default",
        case_id: "C-2",
        row: ev(3, "advanced", "{\"met\":[\"cnil\"]}"),
    })
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        b.last_deadline_event("default").unwrap(),
        Some(t("2026-03-01T10:00:03.654321Z"))
    );
}

fn dropped_transaction_writes_nothing(db: &Db) {
    let mut b = (db.open)();
    {
        let mut tx = b.begin().unwrap();
        tx.pin_workflow(&wf()).unwrap();
        tx.insert_case(&head("default", "C-1", 0)).unwrap();
        tx.set_counter("default", "C-", 1).unwrap();
    }
    assert_eq!(b.head("default", "C-1").unwrap(), None);
    assert!(b.workflows().unwrap().is_empty());
    assert!(b.counters().unwrap().is_empty());
    assert!(b.is_empty().unwrap());
}

fn insert_case_twice_is_case_exists(db: &Db) {
    let mut b = (db.open)();
    open_case(&mut *b, "default", "C-1");
    let mut tx = b.begin().unwrap();
    match tx.insert_case(&head("default", "C-1", 0)) {
        Err(StoreError::CaseExists(id)) => assert_eq!(id, "C-1"),
        other => panic!("expected CaseExists, got {other:?}"),
    }
}

fn lock_case_serialises_writers_of_one_case(db: &Db) {
    let mut b = (db.open)();
    open_case(&mut *b, "default", "A");
    open_case(&mut *b, "default", "B");

    // Writer 1 locks A, appends #2, and commits only when told.
    let (go_commit, commit_rx) = mpsc::channel::<()>();
    let (locked_tx, locked_rx) = mpsc::channel::<()>();
    let mut w1 = (db.open)();
    let first = std::thread::spawn(move || {
        let mut tx = w1.begin().unwrap();
        tx.lock_case("default", "A").unwrap().unwrap();
        tx.insert_event(&NewEvent {
            org: "default",
            case_id: "A",
            row: ev(2, "note", "{}"),
        })
        .unwrap();
        tx.update_head(&head("default", "A", 2)).unwrap();
        locked_tx.send(()).unwrap();
        commit_rx.recv().unwrap();
        tx.commit().unwrap();
    });
    locked_rx.recv().unwrap();

    // A writer of ANOTHER case is not blocked by A's lock (PostgreSQL locks rows; SQLite
    // serialises the whole database, so this part is PostgreSQL's only).
    if db.kind == "postgres" {
        append(&mut *b, "default", "B", 2);
        assert_eq!(b.head("default", "B").unwrap().unwrap().seq, 2);
    }

    // Writer 2 of A waits for writer 1, then decides on the log writer 1 wrote.
    let mut w2 = (db.open)();
    let second = std::thread::spawn(move || {
        let mut tx = w2.begin().unwrap();
        let h = tx.lock_case("default", "A").unwrap().unwrap();
        let seen = tx.events("default", "A").unwrap().len();
        (h.seq, seen)
    });
    // Give writer 2 the chance to get past the lock if the lock did not hold it; it must
    // not have (it is checked below by what it saw, not by time).
    std::thread::sleep(std::time::Duration::from_millis(300));
    go_commit.send(()).unwrap();
    first.join().unwrap();
    let (seq, seen) = second.join().unwrap();
    assert_eq!((seq, seen), (2, 2), "writer 2 must see writer 1's event");
}

fn take_counter_gives_distinct_numbers(db: &Db) {
    let mut b = (db.open)();
    let mut tx = b.begin().unwrap();
    assert_eq!(tx.take_counter("default", "X-").unwrap(), 0, "a new series");
    tx.set_counter("default", "X-", 5).unwrap();
    tx.commit().unwrap();

    // Taker 1 holds the counter until told to commit; taker 2 must wait for it and
    // continue from its number, not from the one both could read.
    let (go_commit, commit_rx) = mpsc::channel::<()>();
    let (taken_tx, taken_rx) = mpsc::channel::<()>();
    let mut w1 = (db.open)();
    let first = std::thread::spawn(move || {
        let mut tx = w1.begin().unwrap();
        let n = tx.take_counter("default", "X-").unwrap() + 1;
        tx.set_counter("default", "X-", n).unwrap();
        taken_tx.send(()).unwrap();
        commit_rx.recv().unwrap();
        tx.commit().unwrap();
        n
    });
    taken_rx.recv().unwrap();
    let mut w2 = (db.open)();
    let second = std::thread::spawn(move || {
        let mut tx = w2.begin().unwrap();
        let n = tx.take_counter("default", "X-").unwrap() + 1;
        tx.set_counter("default", "X-", n).unwrap();
        tx.commit().unwrap();
        n
    });
    // Give taker 2 the chance to read past the lock if it did not hold (checked by the
    // numbers below, not by time).
    std::thread::sleep(std::time::Duration::from_millis(300));
    go_commit.send(()).unwrap();
    let got = (first.join().unwrap(), second.join().unwrap());
    assert_eq!(got, (6, 7), "distinct numbers, in order");
    assert_eq!(
        b.counters().unwrap(),
        vec![("default".to_string(), "X-".to_string(), 7)]
    );
}

fn events_and_workflows_are_append_only(db: &Db) {
    let mut b = (db.open)();
    open_case(&mut *b, "default", "C-1");
    for sql in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "UPDATE workflows SET source = 'x'",
        "DELETE FROM workflows",
    ] {
        let r = (db.raw)(sql);
        assert!(r.is_err(), "{sql} must be refused");
    }
    // The runner itself works: the projection is not append-only.
    (db.raw)("UPDATE cases SET title = 'x'").expect("an ordinary update passes");
    assert_eq!(b.events("default", "C-1", None).unwrap().len(), 1);
    assert_eq!(b.workflows().unwrap(), vec![wf()]);
}

fn timers_of_a_case(db: &Db) {
    let mut b = (db.open)();
    let due = t("2026-03-03T10:00:00Z");
    let x = timer("default", "C-1", "cnil", "before-48h", due);
    add_timers(&mut *b, &[x.clone(), x.clone()]); // the second is ignored (same key)
    let mut tx = b.begin().unwrap();
    let rows = tx.timers_of_case("default", "C-1").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].state.as_str(), rows[0].due_at), ("pending", due));
    let id = rows[0].id;
    tx.cancel_timer(id).unwrap();
    assert_eq!(
        tx.timers_of_case("default", "C-1").unwrap()[0].state,
        "cancelled"
    );
    let later = due + Duration::hours(1);
    tx.reschedule_timer(id, later).unwrap();
    let r = &tx.timers_of_case("default", "C-1").unwrap()[0];
    assert_eq!((r.state.as_str(), r.due_at), ("pending", later));
    assert!(tx.timers_of_case("default", "C-2").unwrap().is_empty());
    tx.commit().unwrap();
}

/// A backend may hold writes back and send several in one statement (PostgreSQL: the
/// counter, pinned text and case of an opening; a case's timer writes): what a transaction
/// reads and commits must be what the calls, in their order, would have done one by one.
fn writes_of_a_transaction_apply_in_order(db: &Db) {
    let mut b = (db.open)();
    let due = t("2026-03-03T10:00:00Z");
    let (x1, x2) = (
        timer("default", "C-1", "cnil", "before-48h", due),
        timer("default", "C-1", "cnil", "before-24h", due),
    );
    // An opening as `Store::open_case` makes it: counter, pin, case, event, head, timers.
    let mut tx = b.begin().unwrap();
    assert_eq!(tx.take_counter("default", "C-").unwrap(), 0);
    assert!(!tx.case_exists("default", "C-1").unwrap());
    tx.set_counter("default", "C-", 1).unwrap();
    tx.pin_workflow(&wf()).unwrap();
    tx.insert_case(&head("default", "C-1", 0)).unwrap();
    tx.insert_event(&NewEvent {
        org: "default",
        case_id: "C-1",
        row: ev(1, "opened", "{}"),
    })
    .unwrap();
    tx.update_head(&head("default", "C-1", 1)).unwrap();
    assert!(tx.timers_of_case("default", "C-1").unwrap().is_empty());
    tx.insert_timer(&x1).unwrap();
    tx.insert_timer(&x2).unwrap();
    tx.insert_timer(&x1).unwrap(); // the same key again: ignored
    tx.commit().unwrap();
    assert_eq!(
        b.head("default", "C-1").unwrap(),
        Some(head("default", "C-1", 1))
    );
    assert_eq!(b.events("default", "C-1", None).unwrap().len(), 1);
    assert_eq!(b.workflows().unwrap(), vec![wf()]);
    assert_eq!(
        b.counters().unwrap(),
        vec![("default".to_string(), "C-".to_string(), 1)]
    );

    // The same opening again: the case exists, and nothing of it is written.
    let mut tx = b.begin().unwrap();
    assert_eq!(tx.take_counter("default", "C-").unwrap(), 1);
    tx.set_counter("default", "C-", 2).unwrap();
    tx.pin_workflow(&wf()).unwrap();
    match tx.insert_case(&head("default", "C-1", 0)) {
        Err(StoreError::CaseExists(id)) => assert_eq!(id, "C-1"),
        other => panic!("expected CaseExists, got {other:?}"),
    }
    drop(tx);
    assert_eq!(b.counters().unwrap()[0].2, 1);

    // Timer writes, then reads in the same transaction, then a second write to one row.
    let mut tx = b.begin().unwrap();
    let rows = tx.timers_of_case("default", "C-1").unwrap();
    assert_eq!(rows.len(), 2);
    let id = |offset: &str| rows.iter().find(|r| r.offset == offset).unwrap().id;
    let later = due + Duration::hours(2);
    tx.cancel_timer(id("before-48h")).unwrap();
    tx.reschedule_timer(id("before-24h"), later).unwrap();
    let x3 = timer("default", "C-1", "cnil", "before-1h", due);
    tx.insert_timer(&x3).unwrap();
    tx.reschedule_timer(id("before-48h"), later).unwrap(); // after its cancel
    tx.cancel_timer(id("before-24h")).unwrap(); // after its rescheduling
    let seen: BTreeSet<(String, String, String)> = tx
        .timers_of_case("default", "C-1")
        .unwrap()
        .into_iter()
        .map(|r| (r.offset, r.state, ts(r.due_at)))
        .collect();
    tx.commit().unwrap();
    let expected: BTreeSet<(String, String, String)> = [
        ("before-48h", "pending", later),
        ("before-24h", "cancelled", later),
        ("before-1h", "pending", due),
    ]
    .into_iter()
    .map(|(o, s, d)| (o.to_string(), s.to_string(), ts(d)))
    .collect();
    assert_eq!(seen, expected);
    let mut tx = b.begin().unwrap();
    let after: BTreeSet<(String, String, String)> = tx
        .timers_of_case("default", "C-1")
        .unwrap()
        .into_iter()
        .map(|r| (r.offset, r.state, ts(r.due_at)))
        .collect();
    assert_eq!(after, expected, "as committed");
}

fn claims_never_overlap(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    let timers: Vec<NewTimer> = (0..40)
        .map(|i| {
            timer(
                "default",
                &format!("C-{i}"),
                "cnil",
                "overdue-0",
                now - Duration::minutes(i),
            )
        })
        .collect();
    add_timers(&mut *b, &timers);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = ["tok-a", "tok-b"]
        .into_iter()
        .map(|token| {
            let mut c = (db.open)();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut ids = Vec::new();
                for _ in 0..4 {
                    ids.extend(
                        c.claim(now, Duration::minutes(5), 10, token)
                            .unwrap()
                            .into_iter()
                            .map(|c| c.id),
                    );
                }
                ids
            })
        })
        .collect();
    let got: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let a: BTreeSet<i64> = got[0].iter().copied().collect();
    let bb: BTreeSet<i64> = got[1].iter().copied().collect();
    assert_eq!(
        a.len() + bb.len(),
        got[0].len() + got[1].len(),
        "no timer twice in one claimer"
    );
    assert!(
        a.is_disjoint(&bb),
        "a timer claimed by both: {:?}",
        a.intersection(&bb).collect::<Vec<_>>()
    );
    assert_eq!(a.len() + bb.len(), 40, "every due timer claimed once");
    // Leased: nothing left to claim now.
    assert!(
        b.claim(now, Duration::minutes(5), 100, "tok-c")
            .unwrap()
            .is_empty()
    );
}

fn claim_supersedes_older_reminders_of_a_clock(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    add_timers(
        &mut *b,
        &[
            timer(
                "default",
                "C-1",
                "cnil",
                "before-48h",
                now - Duration::hours(50),
            ),
            timer(
                "default",
                "C-1",
                "cnil",
                "overdue-0",
                now - Duration::hours(2),
            ),
            timer(
                "default",
                "C-1",
                "cnil",
                "overdue-1",
                now + Duration::hours(22),
            ),
        ],
    );
    let got = b.claim(now, Duration::minutes(5), 10, "tok").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].offset, "overdue-0");
    assert_eq!(got[0].due_at, now - Duration::hours(2));
    let rows = b.list("default", true).unwrap();
    let state = |off: &str| rows.iter().find(|r| r.offset == off).unwrap().state.clone();
    assert_eq!(state("before-48h"), "superseded");
    assert_eq!(state("overdue-0"), "pending");
    assert_eq!(state("overdue-1"), "pending");
}

fn expired_lease_is_claimable_and_the_old_token_settles_nothing(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    add_timers(
        &mut *b,
        &[timer("default", "C-1", "cnil", "overdue-0", now)],
    );
    let dead = b
        .claim(now, Duration::minutes(1), 10, "dead-dispatcher")
        .unwrap();
    assert_eq!(dead.len(), 1);
    // The lease holds until `locked_until`, and is claimable after it.
    assert!(
        b.claim(
            now + Duration::seconds(30),
            Duration::minutes(1),
            10,
            "alive"
        )
        .unwrap()
        .is_empty()
    );
    assert_eq!(b.next_wake().unwrap(), Some(now + Duration::minutes(1)));
    let alive = b
        .claim(
            now + Duration::seconds(61),
            Duration::minutes(1),
            10,
            "alive",
        )
        .unwrap();
    assert_eq!(alive.len(), 1);
    assert_eq!(alive[0].id, dead[0].id);
    // The dead dispatcher's token settles nothing any more.
    assert!(!b.fail(&dead[0], "late", None).unwrap());
    b.cancel(&dead[0]).unwrap();
    let settle = |_: &HashMap<String, (String, Option<String>)>| Settle::Dead { why: "x".into() };
    let r = b
        .record(
            &[Delivery {
                claimed: &dead[0],
                recipients: vec![],
                settle: &settle,
            }],
            now,
        )
        .unwrap();
    assert_eq!(r, vec![None]);
    assert_eq!(b.list("default", true).unwrap()[0].state, "pending");
    // The live one does.
    assert!(
        b.fail(&alive[0], "timeout", Some(now + Duration::minutes(2)))
            .unwrap()
    );
    let row = &b.list("default", false).unwrap()[0];
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 1));
    assert_eq!(row.last_error.as_deref(), Some("timeout"));
}

fn record_settles_under_our_lease(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    add_timers(
        &mut *b,
        &[
            timer("default", "C-1", "cnil", "overdue-0", now),
            timer("default", "C-2", "cnil", "overdue-0", now),
            timer("default", "C-3", "cnil", "overdue-0", now),
        ],
    );
    let mut got = b.claim(now, Duration::minutes(5), 10, "tok").unwrap();
    got.sort_by(|a, b| a.case_id.cmp(&b.case_id));
    let [c1, c2, c3]: [Claimed; 3] = got.try_into().unwrap();
    let next = timer(
        "default",
        "C-1",
        "cnil",
        "overdue-1",
        now + Duration::days(1),
    );
    let sent = |all: &HashMap<String, (String, Option<String>)>| {
        assert_eq!(all["r1"].0, "sent");
        assert_eq!(
            all["r2"],
            (
                "refused".to_string(),
                Some("recipient 2 of 2 refused: 550".to_string())
            )
        );
        Settle::Sent {
            message_id: "<m1@x>".into(),
            why: Some("recipient 2 of 2 refused: 550".into()),
            next: Some(next.clone()),
        }
    };
    let retry = |_: &HashMap<String, (String, Option<String>)>| Settle::Retry {
        next_attempt_at: now + Duration::minutes(1),
        why: "recipient 1 of 1 not sent: 451".into(),
    };
    let dead = |_: &HashMap<String, (String, Option<String>)>| Settle::Dead {
        why: "recipient 1 of 1 refused: 550".into(),
    };
    let out = b
        .record(
            &[
                Delivery {
                    claimed: &c1,
                    recipients: vec![
                        RecipientOutcome {
                            rcpt: "r1".into(),
                            state: "sent",
                            detail: None,
                        },
                        RecipientOutcome {
                            rcpt: "r2".into(),
                            state: "refused",
                            detail: Some("recipient 2 of 2 refused: 550".into()),
                        },
                    ],
                    settle: &sent,
                },
                Delivery {
                    claimed: &c2,
                    recipients: vec![],
                    settle: &retry,
                },
                Delivery {
                    claimed: &c3,
                    recipients: vec![RecipientOutcome {
                        rcpt: "r9".into(),
                        state: "refused",
                        detail: Some("recipient 1 of 1 refused: 550".into()),
                    }],
                    settle: &dead,
                },
            ],
            now,
        )
        .unwrap();
    assert!(out.iter().all(|o| o.is_some()));
    assert_eq!(
        b.delivered(c1.id).unwrap(),
        HashMap::from([
            ("r1".to_string(), "sent".to_string()),
            ("r2".to_string(), "refused".to_string())
        ])
    );
    let rows = b.list("default", true).unwrap();
    let find = |case: &str, off: &str| {
        rows.iter()
            .find(|r| r.case == case && r.offset == off)
            .unwrap()
            .clone()
    };
    let r1 = find("C-1", "overdue-0");
    assert_eq!(
        (r1.state.as_str(), r1.message_id.as_deref()),
        ("sent", Some("<m1@x>"))
    );
    assert_eq!(find("C-1", "overdue-1").state, "pending");
    assert_eq!(find("C-1", "overdue-1").due_at, ts(now + Duration::days(1)));
    let r2 = find("C-2", "overdue-0");
    assert_eq!(
        (r2.state.as_str(), r2.next_attempt_at.clone()),
        ("failed", ts(now + Duration::minutes(1)))
    );
    assert_eq!(find("C-3", "overdue-0").state, "dead");
    // Settled: the token holds nothing any more.
    let again = b
        .record(
            &[Delivery {
                claimed: &c1,
                recipients: vec![],
                settle: &dead,
            }],
            now,
        )
        .unwrap();
    assert_eq!(again, vec![None]);
}

fn outbox_list_retry_next_wake(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    assert_eq!(b.next_wake().unwrap(), None);
    add_timers(
        &mut *b,
        &[
            timer("default", "C-1", "cnil", "overdue-0", now),
            timer(
                "default",
                "C-2",
                "cnil",
                "overdue-0",
                now + Duration::hours(1),
            ),
            timer("acme", "C-1", "cnil", "overdue-0", now),
        ],
    );
    assert_eq!(b.next_wake().unwrap(), Some(now));
    assert_eq!(b.list("default", false).unwrap().len(), 2);
    assert_eq!(
        b.list("acme", false).unwrap().len(),
        1,
        "organisations see only their own"
    );
    let got = b.claim(now, Duration::minutes(5), 10, "tok").unwrap();
    assert_eq!(got.len(), 2);
    for c in &got {
        assert!(b.fail(c, "550 no", None).unwrap());
    }
    let dead = b.list("default", false).unwrap();
    assert_eq!(dead[0].state, "dead", "dead first");
    let id = dead[0].id;
    assert!(
        !b.retry("acme", id, now).unwrap(),
        "not another organisation's timer"
    );
    assert!(b.retry("default", id, now).unwrap());
    assert_eq!(
        b.list("default", false)
            .unwrap()
            .iter()
            .filter(|r| r.state == "dead")
            .count(),
        0
    );
    assert_eq!(b.retry_org("acme", now).unwrap(), 1);
    assert_eq!(b.retry_org("acme", now).unwrap(), 0);
    assert!(!b.retry("default", 999_999, now).unwrap());
}

fn ledger_upsert_and_figures(db: &Db) {
    let mut b = (db.open)();
    let at = t("2026-03-05T10:00:00Z");
    let k = |case: &str, r: &str| Campaign {
        id: 0,
        org: "default".into(),
        case_id: case.into(),
        channel: "email".into(),
        recipients_sha256: r.into(),
        template_sha256: "t".into(),
        created_at: at,
    };
    let c1 = b.create_campaign(&k("C-1", "r1")).unwrap();
    let c2 = b.create_campaign(&k("C-1", "r2")).unwrap();
    let c3 = b.create_campaign(&k("C-2", "r1")).unwrap();
    assert!(c1 < c2 && c2 < c3);
    assert_eq!(
        b.last_campaign("default", "C-1", "email", None)
            .unwrap()
            .unwrap()
            .id,
        c2
    );
    assert_eq!(
        b.last_campaign("default", "C-1", "email", Some(("r1", "t")))
            .unwrap()
            .unwrap()
            .id,
        c1
    );
    assert_eq!(
        b.last_campaign("default", "C-1", "email", Some(("r1", "other")))
            .unwrap(),
        None
    );
    assert_eq!(b.last_campaign("acme", "C-1", "email", None).unwrap(), None);
    let row = |c: i64, p: &str, s: &str| LedgerRow {
        campaign: c,
        person: p.into(),
        status: s.into(),
        message_id: (s == "sent").then(|| format!("<{p}@x>")),
        at,
        error: (s != "sent").then(|| "550".to_string()),
    };
    b.write_ledger(&[
        row(c1, "p1", "failed"),
        row(c1, "p2", "refused"),
        row(c1, "p3", "failed"),
    ])
    .unwrap();
    // Upsert: p1 is sent on a second try of the same campaign.
    b.write_ledger(&[row(c1, "p1", "sent")]).unwrap();
    // p2 refused by the first campaign, sent by the second: notified, once.
    b.write_ledger(&[row(c2, "p2", "sent"), row(c3, "p9", "refused")])
        .unwrap();
    assert_eq!(b.count_sent(c1).unwrap(), 1);
    let mut sent = Vec::new();
    b.sent_people("default", "C-1", c1, false, &mut |p| {
        sent.push(p.to_string())
    })
    .unwrap();
    assert_eq!(sent, vec!["p1"]);
    let mut sent = BTreeSet::new();
    b.sent_people("default", "C-1", c1, true, &mut |p| {
        sent.insert(p.to_string());
    })
    .unwrap();
    assert_eq!(sent, BTreeSet::from(["p1".to_string(), "p2".to_string()]));
    let mut refused = Vec::new();
    b.refused_people(c1, &mut |p, why| {
        refused.push((p.to_string(), why.to_string()))
    })
    .unwrap();
    assert_eq!(refused, vec![("p2".to_string(), "550".to_string())]);
    let figures = b.ledger_figures("default").unwrap();
    assert_eq!(figures["C-1"], (2, 0, 1));
    assert_eq!(figures["C-2"], (0, 1, 0));
    assert!(b.ledger_figures("acme").unwrap().is_empty());
    assert_eq!(b.campaigns().unwrap().len(), 3);
    let mut all = Vec::new();
    b.ledger_rows(&mut |r| {
        all.push((r.campaign, r.person));
        Ok(())
    })
    .unwrap();
    assert_eq!(all.len(), 5);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "in (campaign, person) order"
    );
}

fn accounts_sessions_tokens(db: &Db) {
    let mut b = (db.open)();
    let now = t("2026-03-05T10:00:00Z");
    assert_eq!(
        b.organisations().unwrap().len(),
        1,
        "the default organisation"
    );
    b.insert_organisation("acme", "Acme SAS", "{}").unwrap();
    assert!(b.set_profile("acme", "{\"name\":\"Acme SAS\"}").unwrap());
    assert!(!b.set_profile("nobody", "{}").unwrap());
    assert_eq!(
        b.profile("acme").unwrap().as_deref(),
        Some("{\"name\":\"Acme SAS\"}")
    );
    assert_eq!(b.organisation("acme").unwrap().unwrap().0, "Acme SAS");
    assert_eq!(b.organisation("nobody").unwrap(), None);
    // The organisation's name follows its profile's, when the profile has one.
    assert!(b.set_profile("acme", "{\"name\":\"Acme Group\"}").unwrap());
    assert_eq!(b.organisation("acme").unwrap().unwrap().0, "Acme Group");
    assert!(b.set_profile("acme", "{}").unwrap());
    assert_eq!(b.organisation("acme").unwrap().unwrap().0, "Acme Group");

    let id = b
        .insert_user(
            "acme",
            "Dpo@Example.org",
            "Dee",
            Role::Dpo,
            "$argon2id$x",
            now,
            "test",
        )
        .unwrap();
    let other = b
        .insert_user(
            "default",
            "v@example.org",
            "Vee",
            Role::Viewer,
            "$argon2id$y",
            now,
            "test",
        )
        .unwrap();
    assert_ne!(id, other);
    let u = b
        .user_by_email("dpo@example.ORG")
        .unwrap()
        .expect("e-mail compared without case");
    assert_eq!((u.user.id, u.user.role, u.disabled), (id, Role::Dpo, false));
    assert_eq!(b.user_rows(Some("acme")).unwrap().len(), 1);
    assert_eq!(b.user_rows(None).unwrap().len(), 2);

    let session = |h: &str, exp: DateTime<Utc>| SessionRow {
        hash: h.into(),
        user_id: id,
        csrf: "csrf".into(),
        created_at: now,
        expires_at: exp,
        org: Some("acme".into()),
    };
    b.insert_session(
        &session("s-old", now - Duration::minutes(1)),
        now - Duration::hours(2),
    )
    .unwrap();
    b.insert_session(&session("s1", now + Duration::hours(1)), now)
        .unwrap();
    assert_eq!(b.sessions().unwrap().len(), 1, "expired sessions are swept");
    let found = b.session("s1", now).unwrap().unwrap();
    assert_eq!((found.user.id, found.csrf.as_str()), (id, "csrf"));
    assert_eq!(found.orgs.len(), 1);
    assert_eq!(
        b.session("s1", now + Duration::hours(2))
            .unwrap()
            .map(|x| x.user.id),
        None
    );

    let token = |h: &str| TokenRow {
        hash: h.into(),
        user_id: id,
        org: "acme".into(),
        name: "ci".into(),
        created_at: now,
        last_used_at: None,
    };
    b.insert_token(&token("abcdef0123")).unwrap();
    b.insert_token(&token("abcd990000")).unwrap();
    let (tu, used) = b.token_user("abcdef0123").unwrap().unwrap();
    assert_eq!((tu.id, used), (id, None));
    b.touch_token("abcdef0123", now).unwrap();
    assert_eq!(b.token_user("abcdef0123").unwrap().unwrap().1, Some(now));
    assert_eq!(b.tokens(Some("acme"), None, None).unwrap().len(), 2);
    assert_eq!(b.tokens(Some("default"), None, None).unwrap().len(), 0);
    assert_eq!(
        b.tokens(None, Some("DPO@example.org"), Some("abcdef"))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(b.delete_tokens_by_prefix("abcdef").unwrap(), 1);
    assert_eq!(b.token_rows().unwrap().len(), 1);

    // Disabling the (only) membership ends the sessions and refuses the tokens;
    // enabling brings the tokens back. (acme has another DPO meanwhile.)
    let dpo2 = b
        .insert_user(
            "acme",
            "dpo2@example.org",
            "D2",
            Role::Dpo,
            "$argon2id$w",
            now,
            "test",
        )
        .unwrap();
    assert!(b.set_member(id, "acme", Role::Dpo, true).unwrap());
    assert!(b.session("s1", now).unwrap().is_none());
    assert!(b.token_user("abcd990000").unwrap().is_none());
    assert!(b.tokens(Some("acme"), None, None).unwrap()[0].user_disabled);
    assert!(b.set_member(id, "acme", Role::Dpo, false).unwrap());
    assert!(b.token_user("abcd990000").unwrap().is_some());
    // The last enabled DPO of an organisation stays.
    assert!(b.set_member(dpo2, "acme", Role::Dpo, true).unwrap());
    assert!(!b.set_member(id, "acme", Role::Viewer, false).unwrap());
    // A new password ends sessions and deletes tokens.
    b.insert_session(&session("s2", now + Duration::hours(1)), now)
        .unwrap();
    assert_eq!(b.set_password(id, "$argon2id$z").unwrap(), 1);
    assert!(b.session("s2", now).unwrap().is_none());
    assert_eq!(
        b.user_by_email("dpo@example.org")
            .unwrap()
            .unwrap()
            .password,
        "$argon2id$z"
    );
    b.delete_session("s2").unwrap();
    let _: Option<User> = None;
}

fn throttle_counts_across_connections(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut a = (db.open)();
    let mut c = (db.open)();
    assert_eq!(a.sign_in_failed("k", now).unwrap(), 1);
    assert_eq!(c.sign_in_failed("k", now).unwrap(), 2);
    // At once from two connections: each failure counts.
    let barrier = Arc::new(Barrier::new(2));
    let hs: Vec<_> = [a, c]
        .into_iter()
        .map(|mut x| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut last = 0;
                for _ in 0..10 {
                    last = x.sign_in_failed("k", now).unwrap();
                }
                (x, last)
            })
        })
        .collect();
    let mut conns = Vec::new();
    let mut maxes = Vec::new();
    for h in hs {
        let (x, last) = h.join().unwrap();
        conns.push(x);
        maxes.push(last);
    }
    assert_eq!(maxes.into_iter().max(), Some(22));
    let mut a = conns.pop().unwrap();
    // An hour idle starts again from 1.
    assert_eq!(
        a.sign_in_failed("k", now + Duration::minutes(61)).unwrap(),
        1
    );
    assert_eq!(a.sign_in_locked_until("k").unwrap(), None);
    a.sign_in_lock("k", now + Duration::minutes(15)).unwrap();
    assert_eq!(
        conns[0].sign_in_locked_until("k").unwrap(),
        Some(now + Duration::minutes(15))
    );
    a.sign_in_forget("k").unwrap();
    assert_eq!(a.sign_in_locked_until("k").unwrap(), None);
    assert_eq!(a.sign_in_failed("k", now).unwrap(), 1);
    assert_eq!(a.sign_in_failed("other", now).unwrap(), 1);
}

/// Issue 13: a calendar token per user, found by its hash only while the user is
/// enabled; a new one replaces the old; revoking or a new password ends it; API tokens
/// and calendar tokens never answer for each other.
fn calendar_tokens_one_per_user_revocable(db: &Db) {
    let mut b = (db.open)();
    let now = t("2026-03-05T10:00:00Z");
    b.insert_organisation("acme", "Acme SAS", "{}").unwrap();
    let id = b
        .insert_user(
            "acme",
            "dpo@acme.example",
            "Dee",
            Role::Dpo,
            "$argon2id$x",
            now,
            "test",
        )
        .unwrap();
    let other = b
        .insert_user(
            "acme",
            "v@acme.example",
            "Vee",
            Role::Viewer,
            "$argon2id$y",
            now,
            "test",
        )
        .unwrap();
    assert_eq!(b.calendar_token_since(id).unwrap(), None);
    assert!(b.calendar_token_user("h1").unwrap().is_none());
    b.set_calendar_token(id, Some("acme"), "h1", now).unwrap();
    b.set_calendar_token(other, None, "h2", now).unwrap();
    let (u, portfolio) = b.calendar_token_user("h1").unwrap().expect("h1 is dpo's");
    assert_eq!((u.id, u.org.as_str(), u.role), (id, "acme", Role::Dpo));
    assert!(!portfolio);
    assert_eq!(
        b.calendar_token_since(id).unwrap(),
        Some((now, Some("acme".to_string())))
    );
    // Seen from another connection; h2 is a portfolio address.
    let mut c = (db.open)();
    let (u, portfolio) = c.calendar_token_user("h2").unwrap().unwrap();
    assert_eq!((u.id, portfolio), (other, true));
    // A calendar token is no API token.
    assert!(c.token_user("h1").unwrap().is_none());
    // Replaced: the old hash stops working.
    let later = now + Duration::hours(1);
    b.set_calendar_token(id, Some("acme"), "h3", later).unwrap();
    assert!(b.calendar_token_user("h1").unwrap().is_none());
    assert_eq!(b.calendar_token_user("h3").unwrap().unwrap().0.id, id);
    assert_eq!(
        b.calendar_token_since(id).unwrap().map(|x| x.0),
        Some(later)
    );
    // A disabled membership's token answers nothing (gone), and again once enabled.
    b.insert_user(
        "acme",
        "d2@acme.example",
        "D2",
        Role::Dpo,
        "$argon2id$w",
        now,
        "test",
    )
    .unwrap();
    assert!(b.set_member(id, "acme", Role::Dpo, true).unwrap());
    assert!(b.calendar_token_user("h3").unwrap().is_none());
    assert!(b.calendar_token_gone("h3").unwrap());
    assert!(b.set_member(id, "acme", Role::Dpo, false).unwrap());
    assert!(b.calendar_token_user("h3").unwrap().is_some());
    // Revoked.
    assert!(b.delete_calendar_token(id).unwrap());
    assert!(!b.delete_calendar_token(id).unwrap());
    assert!(b.calendar_token_user("h3").unwrap().is_none());
    // A new password ends the other user's token too.
    b.set_password(other, "$argon2id$z").unwrap();
    assert!(b.calendar_token_user("h2").unwrap().is_none());
}

/// Issue 25 part 1: one person, several organisations. A session acts in one enabled
/// membership (the session's organisation, else the first), switches only to another
/// enabled one, loses a disabled one at once; a token reads its own membership; the
/// portfolio is every running deadline of the enabled memberships, nearest first.
fn memberships_sessions_tokens_and_portfolio(db: &Db) {
    let mut b = (db.open)();
    let now = t("2026-03-05T10:00:00Z");
    for o in ["a", "b", "c"] {
        b.insert_organisation(o, &format!("Org {o}"), "{}").unwrap();
    }
    let id = b
        .insert_user(
            "a",
            "ext@example.org",
            "Ext",
            Role::Dpo,
            "$argon2id$x",
            now,
            "test",
        )
        .unwrap();
    b.insert_membership(id, "b", Role::Viewer, now, "dpo@b")
        .unwrap();
    // A second membership in the same organisation is refused by the database.
    assert!(b.insert_membership(id, "b", Role::Dpo, now, "x").is_err());
    let rows = b.memberships_by_email("EXT@example.org").unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.user.org.as_str(), r.user.role, r.added_by.as_str()))
            .collect::<Vec<_>>(),
        vec![("a", Role::Dpo, "test"), ("b", Role::Viewer, "dpo@b")]
    );
    assert_eq!(b.user_rows(Some("b")).unwrap().len(), 1);
    b.insert_session(
        &SessionRow {
            hash: "s".into(),
            user_id: id,
            csrf: "c".into(),
            created_at: now,
            expires_at: now + Duration::hours(1),
            org: Some("a".into()),
        },
        now,
    )
    .unwrap();
    let s = b.session("s", now).unwrap().unwrap();
    assert_eq!((s.user.org.as_str(), s.user.role), ("a", Role::Dpo));
    assert_eq!(
        s.orgs,
        vec![
            ("a".to_string(), "Org a".to_string(), Role::Dpo),
            ("b".to_string(), "Org b".to_string(), Role::Viewer)
        ]
    );
    assert!(!b.set_session_org("s", "c").unwrap(), "not a member of c");
    assert!(b.set_session_org("s", "b").unwrap());
    let s = b.session("s", now).unwrap().unwrap();
    assert_eq!((s.user.org.as_str(), s.user.role), ("b", Role::Viewer));
    // Tokens of each membership.
    for (h, org) in [("ta", "a"), ("tb", "b")] {
        b.insert_token(&TokenRow {
            hash: h.into(),
            user_id: id,
            org: org.into(),
            name: "ci".into(),
            created_at: now,
            last_used_at: None,
        })
        .unwrap();
    }
    assert_eq!(b.token_user("tb").unwrap().unwrap().0.org, "b");
    // Removed from b (b's viewer is not its DPO: allowed): the session falls back to a,
    // b's token is refused, a's still works.
    assert!(b.set_member(id, "b", Role::Viewer, true).unwrap());
    let s = b.session("s", now).unwrap().unwrap();
    assert_eq!((s.user.org.as_str(), s.orgs.len()), ("a", 1));
    assert!(!b.set_session_org("s", "b").unwrap());
    assert!(b.token_user("tb").unwrap().is_none());
    assert_eq!(b.token_user("ta").unwrap().unwrap().0.org, "a");
    assert!(b.set_member(id, "b", Role::Viewer, false).unwrap());

    // The portfolio: open cases with a due time of a and b, nearest first, none of c.
    let mut tx = b.begin().unwrap();
    tx.pin_workflow(&wf()).unwrap();
    let due = |h: i64| Some(now + Duration::hours(h));
    for (org, case, d, closed) in [
        ("a", "a-1", due(30), false),
        ("a", "a-2", due(5), false),
        ("a", "a-3", due(1), true),
        ("a", "a-4", None, false),
        ("b", "b-1", due(10), false),
        ("c", "c-1", due(2), false),
    ] {
        let mut h = head(org, case, 1);
        h.next_due = d;
        h.closed = closed;
        tx.insert_case(&h).unwrap();
    }
    tx.commit().unwrap();
    let (rows, total) = b.portfolio(id, 10, 0).unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        rows.iter()
            .map(|r| (r.case_id.as_str(), r.org_name.as_str(), r.role))
            .collect::<Vec<_>>(),
        vec![
            ("a-2", "Org a", Role::Dpo),
            ("b-1", "Org b", Role::Viewer),
            ("a-1", "Org a", Role::Dpo)
        ]
    );
    let (rows, total) = b.portfolio(id, 2, 2).unwrap();
    assert_eq!((rows.len(), total), (1, 3));
    let (rows, total) = b.portfolio(id, 2, 10).unwrap();
    assert_eq!((rows.len(), total), (0, 3));
    assert!(b.set_member(id, "b", Role::Viewer, true).unwrap());
    assert_eq!(b.portfolio(id, 10, 0).unwrap().1, 2);
}

fn meta_values(db: &Db) {
    // (A backend may set its own keys when it creates the database, SQLite its
    // `ledger_key`: only this test's keys are looked at.)
    let mut a = (db.open)();
    let mut c = (db.open)();
    assert_eq!(a.meta("test_key").unwrap(), None);
    assert_eq!(a.init_meta("test_key", "k1").unwrap(), "k1");
    assert_eq!(
        c.init_meta("test_key", "k2").unwrap(),
        "k1",
        "the first value stays"
    );
    c.set_meta("checkpoint", "2026").unwrap();
    c.set_meta("checkpoint", "2027").unwrap();
    assert_eq!(a.meta("checkpoint").unwrap().as_deref(), Some("2027"));
    let ours: Vec<(String, String)> = a
        .metas()
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k == "checkpoint" || k == "test_key")
        .collect();
    assert_eq!(
        ours,
        vec![
            ("checkpoint".to_string(), "2027".to_string()),
            ("test_key".to_string(), "k1".to_string())
        ]
    );
}

fn copy_loads_round_trip(db: &Db) {
    // A source with one of everything, loaded into a fresh database of the same kind.
    let now = t("2026-03-05T10:00:00Z");
    let mut from = (db.open)();
    open_case(&mut *from, "default", "C-1");
    add_timers(
        &mut *from,
        &[timer("default", "C-1", "cnil", "overdue-0", now)],
    );
    let c = from.claim(now, Duration::minutes(5), 1, "tok").unwrap();
    let settle = |_: &HashMap<String, (String, Option<String>)>| Settle::Retry {
        next_attempt_at: now,
        why: "w".into(),
    };
    from.record(
        &[Delivery {
            claimed: &c[0],
            recipients: vec![RecipientOutcome {
                rcpt: "r".into(),
                state: "sent",
                detail: None,
            }],
            settle: &settle,
        }],
        now,
    )
    .unwrap();
    assert!(!from.is_empty().unwrap());

    let to_db = same_kind_db(db);
    let mut to = (to_db.open)();
    assert!(to.is_empty().unwrap());
    to.load_workflows(&from.workflows().unwrap()).unwrap();
    let heads = from.heads(None).unwrap();
    let evs = vec![(
        "default".to_string(),
        "C-1".to_string(),
        from.events("default", "C-1", None).unwrap(),
    )];
    to.load_cases(&heads, &evs).unwrap();
    let dump = from.dump_timers().unwrap();
    to.load_timers(&dump).unwrap();
    assert_eq!(to.dump_timers().unwrap(), dump);
    assert_eq!(to.events("default", "C-1", None).unwrap(), evs[0].2);
    assert_eq!(to.heads(None).unwrap(), heads);
    // Ids continue after the loaded ones.
    add_timers(
        &mut *to,
        &[timer("default", "C-1", "cnil", "overdue-1", now)],
    );
    let ids: BTreeSet<i64> = to.dump_timers().unwrap().iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 2);
}

/// Another fresh database of the same backend as `db`.
fn same_kind_db(db: &Db) -> Db {
    match db.kind {
        "postgres" => postgres_db(),
        "sqlite" => sqlite_db(),
        other => panic!("no second database for {other} yet"),
    }
}

// ---- PostgreSQL only: URLs, errors, migrations, wake-ups ----

#[test]
fn postgres_password_never_in_messages() {
    let Some(wrong) = common::pg::password_url("s3cret-Wrong-pw") else {
        return;
    };
    let e = vigie::store::postgres::open(&wrong)
        .err()
        .expect("a wrong password is refused");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{msg}");
    assert!(!msg.contains("s3cret-Wrong-pw"), "{msg}");
    assert!(
        msg.contains(common::pg::PASSWORD_ROLE),
        "names the user: {msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(
        msg.contains("password authentication failed"),
        "says why: {msg}"
    );

    // Nothing listens on this port.
    let port = common::smtp::free_port();
    let url = format!("postgres://u:s3cret-Unreach@127.0.0.1:{port}/db?connect_timeout=5");
    let e = vigie::store::postgres::open(&url).err().unwrap();
    assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    assert!(!e.to_string().contains("s3cret-Unreach"), "{e}");
    assert!(e.to_string().contains("refused"), "says why: {e}");

    for url in [
        "postgres://u:s3cret-Tls@127.0.0.1/db?sslmode=require",
        "postgresql://u:s3cret-Tls@127.0.0.1/db?sslmode=verify-full",
        "postgres://u:s3cret-Tls@127.0.0.1/db?port=notaport",
        "postgres://127.0.0.1/db?password=s3cret-Tls&sslmode=verify-ca",
    ] {
        let e = vigie::store::postgres::open(url).err().unwrap();
        assert!(matches!(e, StoreError::BadUrl(_)), "{url}: {e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }

    // The right password opens it; describe() leaves the password out.
    let right = common::pg::password_url(common::pg::PASSWORD).unwrap();
    let b = vigie::store::postgres::open(&right).unwrap();
    assert_eq!(b.kind(), "postgres");
    assert!(
        !b.describe().contains(common::pg::PASSWORD),
        "{}",
        b.describe()
    );
    assert!(b.describe().contains(common::pg::PASSWORD_ROLE));
}

/// Several processes or threads opening a new SQLite file at the same instant (a
/// server and a cron job on a fresh install): every one opens, the migrations run once.
#[test]
fn sqlite_connections_open_a_new_file_at_once() {
    for round in 0..20 {
        let v = common::Vigie::new();
        let path = v.db_path().to_path_buf();
        let barrier = Arc::new(Barrier::new(6));
        let hs: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    vigie::store::sqlite::Sqlite::open(&path).map(|_| ())
                })
            })
            .collect();
        for h in hs {
            if let Err(e) = h.join().unwrap() {
                panic!("round {round}: a connection did not open: {e}");
            }
        }
    }
}

#[test]
fn postgres_instances_migrate_at_once() {
    let url = common::pg::url();
    let barrier = Arc::new(Barrier::new(4));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                vigie::store::postgres::open(&url).map(|_| ())
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap().expect("every instance opens");
    }
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    // Each migration once: one row per file of migrations/postgres.
    let files = std::fs::read_dir(common::repo("migrations/postgres"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    assert_eq!(n as usize, files);
}

#[test]
fn postgres_poke_reaches_a_listener() {
    let url = common::pg::url();
    let mut b = vigie::store::postgres::open(&url).unwrap();
    let mut l = vigie::store::postgres::listener(&url);
    // Nobody poked: the wait times out.
    assert!(!l.wait(std::time::Duration::from_millis(200)));
    let (ready_tx, ready_rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        // Connected and listening (the first wait connects).
        ready_tx.send(()).unwrap();
        l.wait(std::time::Duration::from_secs(30))
    });
    ready_rx.recv().unwrap();
    b.poke();
    assert!(waiter.join().unwrap(), "the poke woke the listener");
}

#[test]
fn postgres_event_times_round_trip_to_the_microsecond() {
    let db = postgres_db();
    let mut b = (db.open)();
    let mut tx = b.begin().unwrap();
    tx.pin_workflow(&wf()).unwrap();
    tx.insert_case(&head("default", "C-1", 1)).unwrap();
    let odd = [
        "1999-12-31T23:59:59.999999Z",
        "2026-03-29T01:00:00.000001Z",
        "2026-10-25T00:59:59.500000Z",
    ];
    for (i, at) in odd.iter().enumerate() {
        let mut row = ev(i as i64 + 1, "note", "{}");
        row.at = at.to_string();
        tx.insert_event(&NewEvent {
            org: "default",
            case_id: "C-1",
            row,
        })
        .unwrap();
    }
    tx.commit().unwrap();
    let back: Vec<String> = b
        .events("default", "C-1", None)
        .unwrap()
        .into_iter()
        .map(|e| e.at)
        .collect();
    assert_eq!(back, odd);
    let _ = Utc.timestamp_opt(0, 0);
    if let Some(d) = common::pg::started_in() {
        eprintln!("test cluster started in {d:?}");
    }
}

#[test]
fn postgres_deadlock_is_busy_and_errors_quote_no_values() {
    let db = postgres_db();
    let mut b = (db.open)();
    open_case(&mut *b, "default", "A");
    open_case(&mut *b, "default", "B");
    // Two writers lock A and B in opposite orders: the server breaks the deadlock by
    // failing one of them, which the caller is told is `Busy` (worth retrying).
    let barrier = Arc::new(Barrier::new(2));
    let hs: Vec<_> = [("A", "B"), ("B", "A")]
        .into_iter()
        .map(|(first, second)| {
            let mut w = (db.open)();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut tx = w.begin().unwrap();
                tx.lock_case("default", first).unwrap();
                barrier.wait();
                let r = tx.lock_case("default", second).map(|_| ());
                drop(tx);
                r
            })
        })
        .collect();
    let results: Vec<_> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let busy: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(busy.len(), 1, "{results:?}");
    assert!(busy[0].is_busy(), "{}", busy[0]);

    // A refused write names the constraint, never the value.
    let now = t("2026-03-05T10:00:00Z");
    b.insert_user(
        "default",
        "Taken.Person@example.org",
        "T",
        Role::Viewer,
        "$x",
        now,
        "test",
    )
    .unwrap();
    let e = b
        .insert_user(
            "default",
            "taken.person@EXAMPLE.org",
            "T",
            Role::Viewer,
            "$x",
            now,
            "test",
        )
        .expect_err("the e-mail is taken");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Db(_)), "{msg}");
    assert!(!msg.to_lowercase().contains("taken.person"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
}

/// Numbers, not a check of time: `cargo test --release --test store_contract -- --ignored
/// --nocapture postgres_measure`. Two dispatchers claim and settle 20,000 due reminders.
#[test]
#[ignore]
fn postgres_measure_claims() {
    let now = t("2026-03-05T10:00:00Z");
    let db = postgres_db();
    let mut b = (db.open)();
    let n = 20_000;
    let t0 = std::time::Instant::now();
    let timers: Vec<NewTimer> = (0..n)
        .map(|i| timer("default", &format!("C-{i}"), "cnil", "overdue-0", now))
        .collect();
    for chunk in timers.chunks(1000) {
        add_timers(&mut *b, chunk);
    }
    eprintln!("inserted {n} timers in {:?}", t0.elapsed());
    let t0 = std::time::Instant::now();
    let hs: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tok| {
            let mut c = (db.open)();
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                let settle = |_: &HashMap<String, (String, Option<String>)>| Settle::Sent {
                    message_id: "<m@x>".into(),
                    why: None,
                    next: None,
                };
                loop {
                    let got = c.claim(now, Duration::minutes(5), 100, tok).unwrap();
                    if got.is_empty() {
                        break ids;
                    }
                    let ds: Vec<Delivery> = got
                        .iter()
                        .map(|g| Delivery {
                            claimed: g,
                            recipients: vec![RecipientOutcome {
                                rcpt: "r".into(),
                                state: "sent",
                                detail: None,
                            }],
                            settle: &settle,
                        })
                        .collect();
                    let r = c.record(&ds, now).unwrap();
                    assert!(r.iter().all(|x| x.is_some()));
                    ids.extend(got.iter().map(|g| g.id));
                }
            })
        })
        .collect();
    let got: Vec<Vec<i64>> = hs.into_iter().map(|h| h.join().unwrap()).collect();
    let all: BTreeSet<i64> = got.iter().flatten().copied().collect();
    assert_eq!(all.len(), n);
    assert_eq!(got[0].len() + got[1].len(), n);
    let e = t0.elapsed();
    eprintln!(
        "two dispatchers claimed and settled {n} reminders in {e:?} ({:.0}/s; {} and {})",
        n as f64 / e.as_secs_f64(),
        got[0].len(),
        got[1].len()
    );
}

/// Issue 13 part 4: the access log and the issued texts, per organisation, append-only,
/// and copied by `store copy`.
fn access_log_and_issued_texts(db: &Db) {
    let mut a = (db.open)();
    let row = |org: &str, case: Option<&str>, at: &str, who: &str| AccessRow {
        id: 0,
        org: org.into(),
        case_id: case.map(str::to_string),
        at: t(at),
        actor: who.into(),
        action: "download".into(),
        object: if case.is_some() { "draft" } else { "register" }.into(),
        detail: "cnil_notification (md, fr)".into(),
        address: "192.0.2.7".into(),
        via: "web".into(),
    };
    a.log_access(&row(
        "acme",
        Some("c-1"),
        "2026-03-05T10:00:00.123456Z",
        "dpo@acme.example",
    ))
    .unwrap();
    a.log_access(&row(
        "other",
        Some("c-1"),
        "2026-03-05T10:01:00Z",
        "dpo@other.example",
    ))
    .unwrap();
    a.log_access(&row(
        "acme",
        None,
        "2026-03-05T10:02:00Z",
        "dpo@acme.example",
    ))
    .unwrap();
    a.log_access(&row(
        "acme",
        Some("c-1"),
        "2026-03-05T10:03:00Z",
        "viewer@acme.example",
    ))
    .unwrap();
    let mut b = (db.open)();
    let case = b.access_log("acme", Some("c-1")).unwrap();
    assert_eq!(case.len(), 2, "one case of one organisation");
    assert_eq!(case[0].actor, "dpo@acme.example");
    assert_eq!(
        case[0].at,
        t("2026-03-05T10:00:00.123456Z"),
        "to the microsecond"
    );
    assert_eq!(case[1].actor, "viewer@acme.example");
    assert!(case[0].id < case[1].id);
    let expected = AccessRow {
        id: case[0].id,
        ..row(
            "acme",
            Some("c-1"),
            "2026-03-05T10:00:00.123456Z",
            "dpo@acme.example",
        )
    };
    assert_eq!(case[0], expected, "every field reads back");
    let org = b.access_log("acme", None).unwrap();
    assert_eq!(org.len(), 3, "the organisation's, the register's included");
    assert!(org.iter().all(|r| r.org == "acme"));
    assert_eq!(b.access_log("other", None).unwrap().len(), 1);
    assert!(b.access_log("nobody", None).unwrap().is_empty());

    let text = IssuedText {
        org: "acme".into(),
        case_id: "c-1".into(),
        sha256: "abc".into(),
        text: "Texte exact\r\n — é\n".into(),
        created_at: t("2026-03-05T10:00:00Z"),
    };
    a.keep_issued_text(&text).unwrap();
    // Kept again (recorded twice): nothing changes, no error.
    a.keep_issued_text(&IssuedText {
        text: "something else".into(),
        ..text.clone()
    })
    .unwrap();
    assert_eq!(
        b.issued_text("acme", "c-1", "abc").unwrap().as_deref(),
        Some("Texte exact\r\n — é\n")
    );
    assert_eq!(b.issued_text("other", "c-1", "abc").unwrap(), None);
    assert_eq!(b.issued_texts().unwrap(), vec![text.clone()]);

    // Append-only: the database refuses to rewrite or delete either.
    for sql in [
        "UPDATE access_log SET address = '10.0.0.1'",
        "DELETE FROM access_log",
        "UPDATE issued_texts SET text = 'forged'",
        "DELETE FROM issued_texts",
    ] {
        assert!((db.raw)(sql).is_err(), "{}: {sql} was allowed", db.kind);
    }

    // Copied as they are into a fresh database of the same kind.
    let target = same_kind_db(db);
    let mut to = (target.open)();
    let mut all = a.access_log("acme", None).unwrap();
    all.extend(a.access_log("other", None).unwrap());
    to.load_access(&all, &a.issued_texts().unwrap()).unwrap();
    assert_eq!(to.access_log("acme", Some("c-1")).unwrap(), case);
    assert_eq!(to.issued_texts().unwrap(), vec![text]);
    // New entries after the copy get new ids.
    to.log_access(&row(
        "acme",
        Some("c-1"),
        "2026-03-06T10:00:00Z",
        "dpo@acme.example",
    ))
    .unwrap();
    let after = to.access_log("acme", Some("c-1")).unwrap();
    assert!(after[2].id > all.iter().map(|r| r.id).max().unwrap());
}

// --- Store commands over an optimistic transaction (issue 10: PostgreSQL at 5,000
// events/s). A connection decides on what it last wrote, checked at the commit: two
// stores writing one case in turn, each deciding on a case the other moved, must still
// append every command once, in a chain that verifies, and refuse nothing a fresh read
// accepts, and never rewrite a timer a dispatcher changed meanwhile.

fn store_of(db: &Db) -> vigie::store::Store {
    vigie::store::Store::with((db.open)()).expect("a store")
}

fn workflows() -> vigie::catalog::WorkflowSet {
    vigie::catalog::WorkflowSet::load(None).expect("embedded workflows")
}

fn fact(k: &str, v: serde_json::Value) -> Vec<(String, serde_json::Value)> {
    vec![(k.to_string(), v)]
}

/// Opens an `fr` case aware `hours_ago` hours before `now`.
fn open_fr(s: &mut vigie::store::Store, now: DateTime<Utc>, hours_ago: i64) -> String {
    let aware = now - Duration::hours(hours_ago);
    let cmd = vigie::case::Command::Open {
        title: "optimistic".into(),
        facts: fact("aware_at", serde_json::json!(aware.to_rfc3339())),
        at: aware,
    };
    s.open_case("default", &workflows(), "fr", None, &cmd, "a", now)
        .expect("open")
        .case
        .id
}

fn set(k: &str, v: serde_json::Value, at: DateTime<Utc>) -> vigie::case::Command {
    vigie::case::Command::SetFacts {
        facts: fact(k, v),
        note: None,
        at,
        reason: None,
    }
}

fn stores_interleaved_on_one_case_lose_nothing(db: &Db) {
    let now = Utc::now();
    let (mut a, mut b) = (store_of(db), store_of(db));
    let id = open_fr(&mut a, now, 2);
    for i in 0..10 {
        // Each store decides on the case as it last wrote it: the other moved it since.
        for (s, who) in [(&mut a, "a"), (&mut b, "b")] {
            let l = s
                .execute(
                    "default",
                    &id,
                    &set("consequences", serde_json::json!(format!("{who} {i}")), now),
                    who,
                    now,
                )
                .expect("append");
            assert_eq!(
                l.events.len() as i64,
                l.case.seq,
                "the whole log is returned"
            );
        }
    }
    let (_, n, problems) = a.verify().expect("verify");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(n, 21, "the opening and every command once");
    let log = b.load("default", &id).expect("load").events;
    let said: Vec<String> = log[1..]
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
            v.to_string()
        })
        .collect();
    for i in 0..10 {
        for (k, who) in ["a", "b"].iter().enumerate() {
            assert!(
                said[2 * i + k].contains(&format!("{who} {i}")),
                "event {} is {who}'s command {i}: {}",
                2 * i + k + 2,
                said[2 * i + k]
            );
        }
    }
    // A command decided on a page that showed the latest event passes, even from the
    // store whose own copy is older; on an older page it is refused.
    let seq = b.case_seq("default", &id).unwrap().unwrap();
    let cmd = set("measures", serde_json::json!("locked"), now);
    a.execute_at_seq("default", &id, &cmd, "a", now, Some(seq))
        .expect("the current page");
    match b.execute_at_seq("default", &id, &cmd, "b", now, Some(seq)) {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (seq, seq + 1)),
        other => panic!("expected a conflict, got {:?}", other.map(|l| l.case.seq)),
    }
}

fn a_stale_case_is_read_again_not_refused(db: &Db) {
    let now = Utc::now();
    let (mut a, mut b) = (store_of(db), store_of(db));
    let id = open_fr(&mut a, now, 2);
    // B notifies the authority; A last saw the authority track pending.
    let notify = vigie::case::Command::Advance {
        event: "notify_authority".into(),
        facts: vec![
            ("nature".into(), serde_json::json!(["confidentiality"])),
            ("subjects_approx".into(), serde_json::json!(10)),
            ("data_categories".into(), serde_json::json!(["identity"])),
            ("consequences".into(), serde_json::json!("phishing")),
            ("measures".into(), serde_json::json!("locked")),
        ],
        note: None,
        at: now,
        reason: None,
    };
    b.execute("default", &id, &notify, "b", now)
        .expect("notify");
    // A complement is only possible once notified: A must decide on B's log.
    let complement = vigie::case::Command::Advance {
        event: "notify_authority_complement".into(),
        facts: vec![],
        note: None,
        at: now,
        reason: None,
    };
    let l = a
        .execute("default", &id, &complement, "a", now)
        .expect("accepted on the case as it is");
    assert_eq!(l.case.seq, 3);
    assert_eq!(l.case.tracks["authority"], "notified");
    // And what the current case refuses stays refused (here: a second notification).
    match a.execute("default", &id, &notify, "a", now) {
        Err(StoreError::Rejected(_)) => {}
        other => panic!("expected a refusal, got {:?}", other.map(|l| l.case.seq)),
    }
    let (_, n, problems) = b.verify().expect("verify");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(n, 3);
}

fn timers_changed_by_a_dispatcher_are_read_again(db: &Db) {
    let now = Utc::now();
    let mut a = store_of(db);
    // Aware 80 hours ago: the 72-hour clock is overdue, its reminders due.
    let id = open_fr(&mut a, now, 80);
    // A dispatcher (another connection) sends the latest due reminder of each clock.
    let mut d = (db.open)();
    let claimed = d
        .claim(now, Duration::minutes(2), 100, "dispatcher")
        .unwrap();
    assert!(!claimed.is_empty(), "reminders were due");
    let settle = |_: &HashMap<String, (String, Option<String>)>| Settle::Sent {
        message_id: "<m@example.org>".into(),
        why: None,
        next: None,
    };
    let deliveries: Vec<Delivery<'_>> = claimed
        .iter()
        .map(|c| Delivery {
            claimed: c,
            recipients: vec![RecipientOutcome {
                rcpt: "r1".into(),
                state: "sent",
                detail: None,
            }],
            settle: &settle,
        })
        .collect();
    d.record(&deliveries, now).unwrap();
    let sent: BTreeSet<(i64, String)> = claimed.iter().map(|c| (c.id, c.key.clone())).collect();
    // A moves the deadline (a later awareness): every clock's reminders are planned
    // again. A reminder already sent is not sent again (it stays sent), whatever A saw
    // of it when it last wrote the case.
    let later = now - Duration::hours(79);
    a.execute(
        "default",
        &id,
        &set("aware_at", serde_json::json!(later.to_rfc3339()), now),
        "a",
        now,
    )
    .expect("set");
    let rows = d.list("default", true).unwrap();
    for (id, key) in &sent {
        let r = rows
            .iter()
            .find(|r| r.id == *id)
            .expect("the sent reminder");
        assert_eq!(r.state, "sent", "{key} was sent and must stay so");
    }
    // A's copy of the timers still says pending for those it found sent. Its next
    // command (the deadline back where it was) must leave the table as deciding on the
    // table itself would: a store that reads everything afresh then finds nothing to
    // change, and the sent reminders stay sent.
    let back = now - Duration::hours(80);
    a.execute(
        "default",
        &id,
        &set("aware_at", serde_json::json!(back.to_rfc3339()), now),
        "a",
        now,
    )
    .expect("set back");
    let table = |d: &mut Box<dyn Backend>| -> Vec<(i64, String, String, String)> {
        let mut v: Vec<_> = d
            .list("default", true)
            .unwrap()
            .into_iter()
            .map(|r| (r.id, format!("{}/{}", r.clock, r.offset), r.state, r.due_at))
            .collect();
        v.sort();
        v
    };
    let before = table(&mut d);
    for (tid, key) in &sent {
        let r = before
            .iter()
            .find(|r| r.0 == *tid)
            .expect("the sent reminder");
        assert_eq!(r.2, "sent", "{key} was sent and must stay so");
    }
    let mut fresh = store_of(db);
    fresh
        .execute(
            "default",
            &id,
            &set("consequences", serde_json::json!("none"), now),
            "b",
            now,
        )
        .expect("a command that moves no clock");
    assert_eq!(
        table(&mut d),
        before,
        "the timers A left are those a fresh read decides"
    );
}

/// A series number taken by hand is skipped by the next opening, on every path (an
/// optimistic opening takes the number as free without asking, and opens again under a
/// lock when the insertion finds it taken); the same id by hand again is refused.
fn a_number_taken_by_hand_is_skipped(db: &Db) {
    let now = Utc::now();
    let year = now.format("%Y");
    let taken = format!("fr-{year}-0001");
    let open = vigie::case::Command::Open {
        title: "by hand".into(),
        facts: fact("aware_at", serde_json::json!(now.to_rfc3339())),
        at: now,
    };
    let mut a = store_of(db);
    a.open_case("default", &workflows(), "fr", Some(&taken), &open, "a", now)
        .expect("an id chosen by hand");
    let mut b = store_of(db);
    let next = open_fr(&mut b, now, 1);
    assert_eq!(
        next,
        format!("fr-{year}-0002"),
        "the taken number is skipped"
    );
    let mut c = store_of(db);
    match c.open_case("default", &workflows(), "fr", Some(&next), &open, "c", now) {
        Err(StoreError::CaseExists(id)) => assert_eq!(id, next),
        other => panic!("expected CaseExists, got {:?}", other.map(|l| l.case.id)),
    }
    let third = open_fr(&mut c, now, 1);
    assert_eq!(third, format!("fr-{year}-0003"));
    let (_, n, problems) = c.verify().expect("verify");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(n, 3, "three openings, one event each");
}

// --- Issue 23 N5: PostgreSQL's text refuses U+0000, SQLite keeps it. Both stores refuse
// it at input, before any query, with the same answer: a title, a note, a fact, a case
// id to look up, a sign-in e-mail.

fn nul_is_refused_before_any_query(db: &Db) {
    use vigie::case::{Command, Rejected};
    let now = Utc::now();
    let mut s = store_of(db);
    let open = Command::Open {
        title: "a\0b".into(),
        facts: fact(
            "aware_at",
            serde_json::json!((now - Duration::hours(1)).to_rfc3339()),
        ),
        at: now,
    };
    match s.open_case("default", &workflows(), "fr", Some("n1"), &open, "a", now) {
        Err(StoreError::Rejected(Rejected::Unstorable { what })) => assert_eq!(what, "the title"),
        other => panic!("a title with NUL: {:?}", other.map(|l| l.case.seq)),
    }
    let id = open_fr(&mut s, now, 2);
    let note = Command::SetFacts {
        facts: fact("measures", serde_json::json!("ok")),
        note: Some("x\0".into()),
        at: now,
        reason: None,
    };
    let in_fact = set("consequences", serde_json::json!(["a", "b\0"]), now);
    for (cmd, what) in [(note, "the note"), (in_fact, "fact 'consequences'")] {
        match s.execute("default", &id, &cmd, "a", now) {
            Err(StoreError::Rejected(Rejected::Unstorable { what: w })) => assert_eq!(w, what),
            other => panic!("{what} with NUL: {:?}", other.map(|l| l.case.seq)),
        }
    }
    assert_eq!(s.case_seq("default", "c\0").unwrap(), None);
    assert!(!s.exists("default", "c\0").unwrap());
    assert!(matches!(
        s.load("default", "c\0"),
        Err(StoreError::UnknownCase(_))
    ));
    assert!(matches!(
        s.execute(
            "default",
            "c\0",
            &set("risk", serde_json::json!("high"), now),
            "a",
            now
        ),
        Err(StoreError::UnknownCase(_))
    ));
    assert!(s.check_login("dpo\0@example.org", "x").unwrap().is_none());
    let (cases, events, problems) = s.verify().expect("verify");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        (cases, events),
        (1, 1),
        "nothing but the one opening written"
    );
}

/// The reads of the hot paths of several instances (issue 25, "Speed"), which a server
/// backend answers in one round trip, say what the reads one by one say: an API read
/// of a case (`token_case`), the heads, events and delivered recipients of a batch.
fn reads_in_one_go_answer_as_the_reads_one_by_one(db: &Db) {
    let now = t("2026-03-05T10:00:00Z");
    let mut b = (db.open)();
    for o in ["acme", "other"] {
        b.insert_organisation(o, &format!("Org {o}"), "{}").unwrap();
    }
    let user = |b: &mut dyn Backend, org: &str, email: &str, role: Role| {
        b.insert_user(org, email, "X", role, "$argon2id$x", now, "test")
            .unwrap()
    };
    let dpo = user(&mut *b, "acme", "dpo@acme.example", Role::Dpo);
    let viewer = user(&mut *b, "acme", "viewer@acme.example", Role::Viewer);
    let gone = user(&mut *b, "acme", "gone@acme.example", Role::Dpo);
    // The DPO of acme is a viewer in other; gone's membership is disabled.
    b.insert_membership(dpo, "other", Role::Viewer, now, "test")
        .unwrap();
    user(&mut *b, "acme", "second@acme.example", Role::Dpo);
    assert!(b.set_member(gone, "acme", Role::Dpo, true).unwrap());
    let token = |b: &mut dyn Backend, hash: &str, user_id: i64, org: &str| {
        b.insert_token(&TokenRow {
            hash: hash.into(),
            user_id,
            org: org.into(),
            name: "ci".into(),
            created_at: now,
            last_used_at: None,
        })
        .unwrap()
    };
    token(&mut *b, "t-dpo", dpo, "acme");
    token(&mut *b, "t-dpo-other", dpo, "other");
    token(&mut *b, "t-viewer", viewer, "acme");
    token(&mut *b, "t-gone", gone, "acme");
    b.touch_token("t-dpo", now).unwrap();
    open_case(&mut *b, "acme", "c-1");
    append(&mut *b, "acme", "c-1", 2);
    open_case(&mut *b, "other", "c-1");
    open_case(&mut *b, "other", "c-2");
    for (org, who, minute) in [("acme", "a", 1), ("other", "o", 2), ("acme", "b", 3)] {
        b.log_access(&AccessRow {
            id: 0,
            org: org.into(),
            case_id: Some("c-1".into()),
            at: now + Duration::minutes(minute),
            actor: who.into(),
            action: "download".into(),
            object: "draft".into(),
            detail: "d".into(),
            address: "192.0.2.7".into(),
            via: "api".into(),
        })
        .unwrap();
    }

    for hash in ["t-dpo", "t-dpo-other", "t-viewer", "t-gone", "t-none"] {
        for case in ["c-1", "c-2", "c-9"] {
            let got = b.token_case(hash, case).unwrap();
            let Some((user, last_used)) = b.token_user(hash).unwrap() else {
                assert!(got.is_none(), "{hash}: no such token, or disabled");
                continue;
            };
            let got = got.unwrap_or_else(|| panic!("{hash} is a token"));
            assert_eq!(
                (got.user.id, &got.user.org, got.user.role, got.last_used),
                (user.id, &user.org, user.role, last_used),
                "{hash} {case}"
            );
            let head = b.head(&user.org, case).unwrap();
            assert_eq!(
                got.head, head,
                "{hash} {case}: the head in the token's organisation"
            );
            let access = (head.is_some() && user.role == Role::Dpo)
                .then(|| b.access_log(&user.org, Some(case)).unwrap());
            assert_eq!(got.access, access, "{hash} {case}: a DPO's access log");
        }
    }
    let got = b.token_case("t-dpo", "c-1").unwrap().unwrap();
    assert_eq!(got.head.map(|h| h.seq), Some(2));
    assert_eq!(
        got.access
            .unwrap()
            .iter()
            .map(|a| a.actor.as_str())
            .collect::<Vec<_>>(),
        vec!["a", "b"],
        "acme's entries of its own c-1, oldest first"
    );

    let cases = [
        ("other", "c-2"),
        ("acme", "c-9"),
        ("acme", "c-1"),
        ("other", "c-1"),
    ];
    let heads = b.heads_of(&cases).unwrap();
    let one_by_one: Vec<Option<CaseHead>> =
        cases.iter().map(|(o, c)| b.head(o, c).unwrap()).collect();
    assert_eq!(heads, one_by_one);
    assert_eq!(heads[1], None);
    let events = b.events_of(&cases).unwrap();
    let one_by_one: Vec<Vec<EventRow>> = cases
        .iter()
        .map(|(o, c)| b.events(o, c, None).unwrap())
        .collect();
    assert_eq!(events, one_by_one);

    add_timers(
        &mut *b,
        &[
            timer("acme", "c-1", "cnil", "before-1h", now),
            timer("other", "c-1", "cnil", "before-1h", now),
        ],
    );
    let mut claimed = b.claim(now, Duration::minutes(5), 10, "tok").unwrap();
    claimed.sort_by(|x, y| x.org.cmp(&y.org));
    let retry = |_: &HashMap<String, (String, Option<String>)>| Settle::Retry {
        next_attempt_at: now + Duration::minutes(1),
        why: "r3 not sent".into(),
    };
    let out = b
        .record(
            &[Delivery {
                claimed: &claimed[0],
                recipients: vec![
                    RecipientOutcome {
                        rcpt: "r1".into(),
                        state: "sent",
                        detail: None,
                    },
                    RecipientOutcome {
                        rcpt: "r2".into(),
                        state: "refused",
                        detail: Some("550".into()),
                    },
                ],
                settle: &retry,
            }],
            now,
        )
        .unwrap();
    assert!(out[0].is_some(), "settled under our lease");
    let ids = [claimed[1].id, claimed[0].id, -1];
    let one_by_one: Vec<HashMap<String, String>> =
        ids.iter().map(|i| b.delivered(*i).unwrap()).collect();
    assert_eq!(b.delivered_of(&ids).unwrap(), one_by_one);
    assert_eq!(one_by_one[1].len(), 2, "{one_by_one:?}");
}
