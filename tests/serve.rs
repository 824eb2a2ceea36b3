//! `vigie serve` against a real SMTP server (tests/support/smtp_sink.py, aiosmtpd) on
//! loopback, with a real SQLite file. Time is moved with `VIGIE_NOW_OFFSET` instead of
//! waiting hours; outcomes are awaited by polling (the sink's folder, `vigie outbox list
//! --json`) against a generous deadline, never by asserting on elapsed time. Every child
//! process is owned by a guard that kills it on drop, so a failing test leaves none.
//!
//! Needs `python3` with `aiosmtpd` (`pip install aiosmtpd`); `VIGIE_TEST_PYTHON` picks
//! another interpreter.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::process::{Serve, in_flight_bound};
use common::smtp::{Pki, Received, Sink, free_port, read_sink, standard_config, tls_config};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

both_backends! {
    reminders_arrive_with_recipients_parts_and_ics,
    sigkill_at_several_moments_loses_nothing,
    smtp_down_then_up_delivers_after_retries,
    permanent_rejection_goes_to_dead_letter,
    invalid_mail_config_stops_serve_at_start,
    mail_test_sends_one_message,
    a_refused_owner_does_not_stop_the_dpo_reminder,
    dead_reminders_are_requeued_when_the_owners_change,
    owners_must_be_email_addresses,
    sigkill_during_a_burst_resends_at_most_what_was_in_flight,
    a_case_pinned_with_owners_as_free_text_still_reaches_the_dpo,
    a_dutch_organisation_gets_its_reminder_in_dutch,
    a_killed_dispatchers_claims_are_taken_back_without_waiting_for_the_lease,
}

const DEADLINE: Duration = Duration::from_secs(60);
/// The lease of the tests that SIGKILL a dispatcher: its claims are taken again once
/// the lease expires (never freed wholesale at start), so short to keep the tests short.
const LEASE: &str = "3";
const POLL: Duration = Duration::from_millis(50);

fn python() -> String {
    common::smtp_python()
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The program's clock in the dispatcher, as stored text (fixed-width UTC, comparable).
fn shifted_now(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The MIME structure of a message, read by Python's `email` package (an independent
/// parser): decoded subject, Message-ID, and each leaf part's type and decoded text.
fn parse_eml(path: &Path) -> Value {
    const SCRIPT: &str = r#"
import sys, json, email, email.policy
m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)
parts = []
for p in m.walk():
    if p.is_multipart():
        continue
    text = p.get_content() if p.get_content_maintype() == 'text' else None
    parts.append({'type': p.get_content_type(), 'filename': p.get_filename(), 'text': text})
print(json.dumps({
    'subject': str(m['subject']),
    'message_id': str(m['message-id']),
    'top': m.get_content_type(),
    'to': [str(a.addr_spec).lower() for h in m.get_all('to', []) for a in h.addresses],
    'parts': parts,
}))
"#;
    let out = Command::new(python())
        .arg("-c")
        .arg(SCRIPT)
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "parsing {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the parser prints JSON")
}

// ---------------------------------------------------------------------------------------
// `vigie serve`

// ---------------------------------------------------------------------------------------
// The harness: a database, a config pointing at the sink's port, logs.

struct Harness {
    v: Vigie,
    config: PathBuf,
    port: u16,
    sink_dir: PathBuf,
    logs: std::cell::RefCell<Vec<PathBuf>>,
}

impl Harness {
    fn new(config: impl FnOnce(u16) -> String) -> Harness {
        let v = Vigie::new();
        let port = free_port();
        let path = v.dir().join("config.yaml");
        std::fs::write(&path, config(port)).expect("write the config");
        let sink_dir = v.dir().join("sink");
        Harness {
            config: path,
            port,
            sink_dir,
            logs: Default::default(),
            v,
        }
    }

    fn with_args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["--config", self.config.to_str().expect("UTF-8 path")];
        a.extend_from_slice(args);
        a
    }

    fn run(&self, args: &[&str]) -> common::Output {
        self.v.run(&self.with_args(args))
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        self.v.ok(&self.with_args(args))
    }

    fn log_path(&self, what: &str) -> PathBuf {
        let mut logs = self.logs.borrow_mut();
        let p = self.v.dir().join(format!("{what}-{}.log", logs.len()));
        logs.push(p.clone());
        p
    }

    fn sink(&self) -> Sink {
        self.sink_with(&[])
    }

    /// The sink with options (`--starttls CERT KEY`, `--tls CERT KEY`, `--no-pipelining`).
    fn sink_with(&self, options: &[&std::ffi::OsStr]) -> Sink {
        let log = self.log_path("sink");
        Sink::start_with(self.port, &self.sink_dir, &log, options)
    }

    /// The text of the `n`th log (0: the first started).
    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(&self.logs.borrow()[n]).unwrap_or_default()
    }

    /// Opens a case of the French workflow, aware now.
    #[track_caller]
    fn open_case(&self, id: &str, owners: Option<&str>) {
        let aware = now_rfc3339();
        let owners_arg = owners.map(|o| format!("owners=[{o}]"));
        let mut args = vec![
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "T",
            "--aware-at",
            &aware,
            "--id",
            id,
        ];
        if let Some(o) = &owners_arg {
            args.extend(["--set", o]);
        }
        self.ok(&args);
    }

    /// `outbox list [--all] --json`.
    #[track_caller]
    fn outbox(&self, all: bool) -> Vec<Value> {
        let mut args = vec!["outbox", "list", "--json"];
        if all {
            args.push("--all");
        }
        let out = self.run(&args);
        assert_eq!(out.code, 0, "outbox list failed: {}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout)
            .expect("outbox list prints JSON")
            .as_array()
            .expect("an array of rows")
            .clone()
    }

    /// `vigie serve --idle-check-secs 1` with the clock shifted, stderr to a log file.
    fn serve(&self, offset: &str, extra: &[&str]) -> Serve {
        self.v
            .serve()
            .config(&self.config)
            .listen("none")
            .args(&["--idle-check-secs", "1"])
            .args(extra)
            .env("VIGIE_NOW_OFFSET", offset)
            .log(self.log_path("serve"))
            .spawn()
    }

    /// Everything useful when a test fails: the logs and the whole outbox.
    fn diag(&self) -> String {
        let mut s = String::new();
        for p in self.logs.borrow().iter() {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            s.push_str(&format!(
                "--- {} (last {} lines)\n{}\n",
                p.display(),
                tail.len(),
                tail.join("\n")
            ));
        }
        let out = self.run(&["outbox", "list", "--all"]);
        s.push_str(&format!(
            "--- outbox list --all\n{}{}",
            out.stdout, out.stderr
        ));
        s.push_str(&format!(
            "--- sink: {} message(s)\n",
            read_sink(&self.sink_dir).len()
        ));
        s
    }

    /// Fails at once when a reminder was dead-lettered where none should be: waiting for
    /// it to be sent would only time out.
    #[track_caller]
    fn no_dead(&self, rows: &[Value]) {
        if let Some(r) = rows.iter().find(|r| s(r, "state") == "dead") {
            panic!("a reminder was dead-lettered: {r}\n{}", self.diag());
        }
    }

    /// Polls `f` until it gives a value; panics with the diagnostics at the deadline.
    #[track_caller]
    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(t) = f() {
                return t;
            }
            if start.elapsed() > DEADLINE {
                panic!("timed out waiting for {what}\n{}", self.diag());
            }
            std::thread::sleep(POLL);
        }
    }
}

fn s<'a>(row: &'a Value, k: &str) -> &'a str {
    row[k].as_str().unwrap_or("")
}

/// Rows still waiting (pending or failed) whose next attempt is due by `now`.
fn due_waiting<'a>(rows: &'a [Value], now: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| matches!(s(r, "state"), "pending" | "failed") && s(r, "next_attempt_at") <= now)
        .collect()
}

fn find<'a>(rows: &'a [Value], case: &str, clock: &str, offset: &str) -> Option<&'a Value> {
    rows.iter()
        .find(|r| s(r, "case") == case && s(r, "clock") == clock && s(r, "offset") == offset)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Tests

fn reminders_arrive_with_recipients_parts_and_ics() {
    let h = Harness::new(standard_config);
    let sink = h.sink();
    h.open_case("c1", Some("owner@example.org"));

    // 70 h after awareness: art33 is due in 2 h; its 48h and 24h reminders are past and
    // superseded by the 6h one.
    let mut serve = h.serve("+70h", &[]);
    let rows = h.wait_for("every due reminder sent at +70h", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        let sent = find(&rows, "c1", "art33", "before-6h").map(|r| s(r, "state")) == Some("sent");
        (sent && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
    });
    let art33: BTreeMap<&str, &str> = rows
        .iter()
        .filter(|r| s(r, "clock") == "art33")
        .map(|r| (s(r, "offset"), s(r, "state")))
        .collect();
    assert_eq!(art33["before-48h"], "superseded", "{art33:?}");
    assert_eq!(art33["before-24h"], "superseded", "{art33:?}");
    assert_eq!(art33["before-6h"], "sent", "{art33:?}");
    assert_eq!(art33["before-1h"], "pending", "{art33:?}");
    assert_eq!(art33["overdue-0"], "pending", "{art33:?}");

    let sent: HashMap<&str, &Value> = rows
        .iter()
        .filter(|r| s(r, "state") == "sent")
        .map(|r| (s(r, "message_id"), r))
        .collect();
    let row = find(&rows, "c1", "art33", "before-6h").unwrap();
    let mid = s(row, "message_id").to_string();
    assert!(
        mid.starts_with('<') && mid.ends_with("@example.org>"),
        "{mid}"
    );

    let msgs = h.wait_for("the sink to hold every sent reminder", || {
        let m = sink.messages();
        (m.len() >= sent.len()).then_some(m)
    });
    // Exactly one message per sent row, and nothing else: in particular a single art33
    // message (the superseded 48h and 24h reminders never left).
    assert_eq!(msgs.len(), sent.len(), "{msgs:#?}\n{}", h.diag());
    for m in &msgs {
        let id = m.message_id.as_deref().expect("a Message-ID header");
        assert!(
            sent.contains_key(id),
            "unknown Message-ID {id}\n{}",
            h.diag()
        );
    }
    let art33_msgs: Vec<&Received> = msgs
        .iter()
        .filter(|m| sent[m.message_id.as_deref().unwrap()]["clock"] == "art33")
        .collect();
    assert_eq!(art33_msgs.len(), 1, "{art33_msgs:#?}");
    let m = art33_msgs[0];
    assert_eq!(m.message_id.as_deref(), Some(mid.as_str()));
    assert_eq!(
        m.rcpt.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["dpo@example.org", "owner@example.org"]),
        "envelope recipients of a reminder before the deadline: no escalation"
    );

    let p = parse_eml(&m.eml);
    assert_eq!(p["message_id"], mid.as_str());
    let subject = p["subject"].as_str().unwrap();
    assert!(subject.starts_with("H-2 "), "subject: {subject}");
    assert!(
        subject.contains("Notification à la CNIL"),
        "subject: {subject}"
    );
    assert_eq!(p["top"], "multipart/mixed", "{p:#}");
    let parts = p["parts"].as_array().unwrap();
    let part = |t: &str| {
        parts
            .iter()
            .find(|x| x["type"] == t)
            .unwrap_or_else(|| panic!("no {t} part in {p:#}"))
    };
    let plain = part("text/plain")["text"].as_str().unwrap();
    assert!(plain.contains("c1"), "{plain}");
    let html = part("text/html")["text"].as_str().unwrap();
    assert!(html.contains("<html") && html.contains("c1"), "{html}");
    let cal = part("text/calendar");
    let ics = cal["text"].as_str().unwrap();
    assert!(ics.contains("BEGIN:VCALENDAR"), "{ics}");
    assert!(ics.contains("BEGIN:VEVENT"), "{ics}");
    assert!(ics.contains("BEGIN:VALARM"), "{ics}");
    assert!(
        cal["filename"].as_str().unwrap_or("").ends_with(".ics"),
        "{cal:#}"
    );
    let mut to: Vec<String> = p["to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    to.sort();
    assert_eq!(to, ["dpo@example.org", "owner@example.org"]);

    // A clean stop.
    let st = serve.term().expect("serve stops on SIGTERM");
    assert_eq!(st.code(), Some(0), "serve exit on SIGTERM\n{}", h.diag());

    // 73 h: the deadline has passed; the first overdue reminder goes out, escalated.
    let before = msgs.len();
    let _serve = h.serve("+73h", &[]);
    let row = h.wait_for("art33 overdue-0 sent", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        find(&rows, "c1", "art33", "overdue-0")
            .filter(|r| s(r, "state") == "sent")
            .cloned()
    });
    let mid = s(&row, "message_id").to_string();
    let m = h.wait_for("the overdue reminder in the sink", || {
        sink.messages()
            .into_iter()
            .skip(before)
            .find(|m| m.message_id.as_deref() == Some(mid.as_str()))
    });
    assert_eq!(
        m.rcpt.iter().cloned().collect::<BTreeSet<_>>(),
        set(&["dpo@example.org", "owner@example.org", "boss@example.org"]),
        "an overdue reminder is escalated"
    );
    let p = parse_eml(&m.eml);
    assert!(
        p["subject"].as_str().unwrap().starts_with("EN RETARD"),
        "{p:#}"
    );
    assert_eq!(
        find(&h.outbox(true), "c1", "art33", "before-1h").map(|r| s(r, "state").to_string()),
        Some("superseded".into())
    );
    // The next overdue reminder (12 h later) is now planned.
    let pending = h.outbox(false);
    let next = find(&pending, "c1", "art33", "overdue-1")
        .unwrap_or_else(|| panic!("no art33 overdue-1 row\n{}", h.diag()));
    assert_eq!(s(next, "state"), "pending", "{next:#}");
    assert!(s(next, "due_at") > shifted_now(73).as_str(), "{next:#}");
}

fn sigkill_at_several_moments_loses_nothing() {
    const CASES: usize = 40;
    // Due at +70h in each case: art33, art34, nis2_notification and complaint_insurance
    // (before-6h), and nis2_early_warning (overdue-0).
    const PER_CASE: usize = 5;
    const BATCH: usize = 4;
    let h = Harness::new(standard_config);
    let sink = h.sink();
    for i in 0..CASES {
        h.open_case(&format!("k{i:02}"), None);
    }

    let thresholds = [3usize, 10, 25, 50, 90, 140];
    let mut next_kill = 0;
    let mut kills = 0usize;
    let batch = BATCH.to_string();
    let mut serve = h.serve("+70h", &["--batch", &batch, "--lease-secs", LEASE]);
    let start = Instant::now();
    let mut last_check = Instant::now() - Duration::from_secs(1);
    let rows = loop {
        if start.elapsed() > DEADLINE * 2 {
            panic!("reminders not all sent after {kills} kills\n{}", h.diag());
        }
        if let Some(st) = serve.try_exit() {
            panic!("serve exited on its own ({st})\n{}", h.diag());
        }
        if next_kill < thresholds.len() && sink.count() >= thresholds[next_kill] {
            serve.kill9();
            kills += 1;
            next_kill += 1;
            serve = h.serve("+70h", &["--batch", &batch, "--lease-secs", LEASE]);
            continue;
        }
        if last_check.elapsed() >= Duration::from_millis(250) {
            last_check = Instant::now();
            let rows = h.outbox(true);
            h.no_dead(&rows);
            let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
            if sent == CASES * PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty() {
                break rows;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    serve.term().expect("serve stops on SIGTERM");
    assert!(kills >= 1, "no kill happened\n{}", h.diag());

    // Each due (case, clock) sent exactly once in the outbox, nothing dead.
    let sent: Vec<&Value> = rows.iter().filter(|r| s(r, "state") == "sent").collect();
    let pairs: BTreeSet<(&str, &str)> =
        sent.iter().map(|r| (s(r, "case"), s(r, "clock"))).collect();
    assert_eq!(pairs.len(), CASES * PER_CASE);
    assert!(
        rows.iter()
            .all(|r| !matches!(s(r, "state"), "dead" | "failed")),
        "{}",
        h.diag()
    );
    let ours: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r["message_id"].as_str().map(String::from))
        .collect();
    let sent_ids: BTreeSet<String> = sent
        .iter()
        .map(|r| s(r, "message_id").to_string())
        .collect();
    assert_eq!(
        sent_ids.len(),
        sent.len(),
        "Message-IDs are distinct per reminder"
    );

    let msgs = sink.messages();
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for m in &msgs {
        *received
            .entry(m.message_id.clone().expect("a Message-ID header"))
            .or_default() += 1;
    }
    let received_ids: BTreeSet<String> = received.keys().cloned().collect();
    let strangers: Vec<&String> = received_ids.difference(&ours).collect();
    assert!(
        strangers.is_empty(),
        "Message-IDs not in the outbox: {strangers:?}"
    );
    let lost: Vec<&String> = sent_ids.difference(&received_ids).collect();
    assert!(
        lost.is_empty(),
        "sent per the outbox but never received: {lost:?}"
    );
    assert_eq!(received_ids, sent_ids, "every reminder arrived");

    let duplicates: usize = received.values().map(|n| n - 1).sum();
    eprintln!(
        "{} messages received for {} reminders, {kills} kills, {duplicates} duplicate(s)",
        msgs.len(),
        sent_ids.len()
    );
    assert!(
        duplicates <= kills * BATCH,
        "{duplicates} duplicates for {kills} kills with batch {BATCH}: {:?}",
        received.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

fn smtp_down_then_up_delivers_after_retries() {
    let h = Harness::new(standard_config);
    h.open_case("d1", Some("owner@example.org"));
    h.open_case("d2", None);

    // Phase 1: nobody listens on the port yet, every attempt fails with a transient
    // error and is retried with backoff.
    let _serve = h.serve("+70h", &[]);
    let failed = h.wait_for("a failed row (a retry scheduled)", || {
        let rows = h.outbox(false);
        h.no_dead(&rows);
        rows.into_iter().find(|r| s(r, "state") == "failed")
    });
    assert!(failed["last_error"].as_str().is_some(), "{failed:#}");
    assert!(failed["attempts"].as_i64().unwrap() >= 1, "{failed:#}");
    assert!(
        failed["next_attempt_at"].as_str().unwrap() > failed["due_at"].as_str().unwrap(),
        "the retry is scheduled after the due time: {failed:#}"
    );

    let mut sink = h.sink();
    let all_sent = |n: usize| {
        h.wait_for(&format!("{n} reminders sent"), || {
            let rows = h.outbox(true);
            h.no_dead(&rows);
            let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
            (sent == n && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
        })
    };
    let rows = all_sent(2 * 5);
    assert!(
        rows.iter()
            .filter(|r| s(r, "state") == "sent")
            .any(|r| r["attempts"].as_i64().unwrap() >= 2),
        "at least one reminder went out on a retry\n{}",
        h.diag()
    );

    // Phase 2: the server goes away while the dispatcher runs (its pooled connections
    // die with it); new reminders fall due, fail, and arrive once it is back.
    sink.stop();
    h.open_case("d3", None);
    h.wait_for("a d3 reminder failing", || {
        h.outbox(false)
            .into_iter()
            .find(|r| s(r, "case") == "d3" && s(r, "state") == "failed")
    });
    let sink = h.sink();
    let rows = all_sent(3 * 5);

    assert!(
        rows.iter()
            .all(|r| !matches!(s(r, "state"), "dead" | "failed")),
        "{}",
        h.diag()
    );
    let sent_ids: BTreeSet<String> = rows
        .iter()
        .filter(|r| s(r, "state") == "sent")
        .map(|r| s(r, "message_id").to_string())
        .collect();
    let received: BTreeSet<String> = h.wait_for("the sink to hold every sent reminder", || {
        let ids: BTreeSet<String> = sink
            .messages()
            .into_iter()
            .filter_map(|m| m.message_id)
            .collect();
        sent_ids.is_subset(&ids).then_some(ids)
    });
    assert_eq!(received, sent_ids);
}

fn permanent_rejection_goes_to_dead_letter() {
    let h = Harness::new(|port| {
        standard_config(port).replace(
            "reminders:\n  escalation: [boss@example.org]",
            "reminders:\n  to: [reject@example.org]",
        )
    });
    let sink = h.sink();
    h.open_case("r1", None);

    let mut serve = h.serve("+70h", &[]);
    let dead = h.wait_for("every due reminder dead-lettered", || {
        let rows = h.outbox(false);
        let dead: Vec<Value> = rows
            .iter()
            .filter(|r| s(r, "state") == "dead")
            .cloned()
            .collect();
        (dead.len() == 5 && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(dead)
    });
    for r in &dead {
        assert!(s(r, "last_error").contains("550"), "{r:#}");
        assert_eq!(r["attempts"], 1, "a permanent error is not retried: {r:#}");
    }
    assert_eq!(sink.count(), 0, "nothing was accepted");
    let st = serve.term().expect("serve stops on SIGTERM");
    assert_eq!(st.code(), Some(0), "{}", h.diag());

    // Requeued by hand: pending again, due now.
    let id = dead[0]["id"].as_i64().unwrap();
    let out = h.ok(&["outbox", "retry", &id.to_string()]);
    assert!(out.contains(&format!("reminder {id} requeued")), "{out}");
    let row = h
        .outbox(false)
        .into_iter()
        .find(|r| r["id"] == id)
        .expect("the row is listed");
    assert_ne!(s(&row, "state"), "dead", "{row:#}");
    assert_eq!(row["attempts"], 0, "{row:#}");
    let state =
        h.v.sql("SELECT state FROM timers WHERE id = ?1", &[id.into()]);
    assert_eq!(state, [[serde_json::json!("pending")]]);
    // The other dead rows are untouched.
    assert_eq!(
        h.outbox(false)
            .iter()
            .filter(|r| s(r, "state") == "dead")
            .count(),
        4
    );
    // A row that is not dead or pending cannot be retried.
    let out = h.run(&["outbox", "retry", "999999"]);
    assert_eq!(out.code, 2, "{out:?}");

    // The dispatcher sends it again: refused again, dead again after one attempt.
    let _serve = h.serve("+70h", &[]);
    h.wait_for("the retried reminder dead again", || {
        h.outbox(false)
            .into_iter()
            .find(|r| r["id"] == id && s(r, "state") == "dead" && r["attempts"] == 1)
    });
}

fn invalid_mail_config_stops_serve_at_start() {
    // No reminder recipient is not a configuration error: recipients are each
    // organisation's (tests/organisations.rs checks that serve starts and waits for one).
    let cases: [(&str, &str); 3] = [
        (
            "dpo:\n  email: dpo@example.org\nmail:\n  transport: smtp\n",
            "mail.smtp",
        ),
        (
            "dpo:\n  email: dpo@example.org\nmail:\n  transport: smtp\n  smtp:\n    host: 127.0.0.1\n    port: 2525\n    security: none\n  from: not an address\n",
            "mail.from",
        ),
        (
            "dpo:\n  email: dpo@example.org\nmail:\n  transport: smtp\n  smtp:\n    host: 127.0.0.1\n    security: starttls\n    ca_file: /nonexistent/relay-ca.pem\n",
            "mail.smtp.ca_file /nonexistent/relay-ca.pem",
        ),
    ];
    for (yaml, named) in cases {
        let h = Harness::new(|_| yaml.to_string());
        let mut serve = h.serve("+70h", &[]);
        let st = serve
            .wait_exit(DEADLINE)
            .unwrap_or_else(|| panic!("serve kept running with config:\n{yaml}"));
        let log = std::fs::read_to_string(&h.logs.borrow()[0]).unwrap();
        assert_eq!(st.code(), Some(2), "config:\n{yaml}\nstderr:\n{log}");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got:\n{log}");
        assert!(
            lines[0].starts_with("vigie: error: ") && lines[0].contains(named),
            "the error names {named}: {log}"
        );
    }
}

fn mail_test_sends_one_message() {
    let h = Harness::new(standard_config);
    let sink = h.sink();
    let out = h.ok(&["mail", "test", "someone@example.org"]);
    let msgs = h.wait_for("the test message", || {
        let m = sink.messages();
        (!m.is_empty()).then_some(m)
    });
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(msgs[0].rcpt, ["someone@example.org"]);
    let mid = msgs[0].message_id.clone().expect("a Message-ID");
    assert!(
        out.contains(&mid),
        "stdout names the Message-ID {mid}: {out}"
    );

    // With nobody listening, the command fails (exit 1) with one line.
    drop(sink);
    let line = h.v.fails(
        &[
            "--config",
            h.config.to_str().unwrap(),
            "mail",
            "test",
            "someone@example.org",
        ],
        1,
    );
    assert!(line.contains("not sent"), "{line}");
}

// ---------------------------------------------------------------------------------------
// Recipients: one refused address never stops the others (issue 9)

/// Every text cell of the outbox tables and the logs so far, to prove an address is
/// not stored or logged in clear.
fn outbox_text(h: &Harness) -> String {
    let mut s = String::new();
    for table in ["timers", "timer_recipients"] {
        let Ok(done) = h.v.try_sql(&format!("SELECT * FROM {table}"), &[]) else {
            continue;
        };
        for row in done.rows {
            for cell in row {
                s.push_str(&format!("{cell} "));
            }
            s.push('\n');
        }
    }
    for p in h.logs.borrow().iter() {
        s.push_str(&std::fs::read_to_string(p).unwrap_or_default());
    }
    s
}

fn a_refused_owner_does_not_stop_the_dpo_reminder() {
    const PER_CASE: usize = 5;
    let h = Harness::new(standard_config);
    let sink = h.sink();
    h.open_case("o1", Some("reject-owner@example.org"));

    let mut serve = h.serve("+70h", &[]);
    let rows = h.wait_for("every due reminder sent to the DPO", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
        (sent == PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
    });
    serve.term().expect("serve stops on SIGTERM");
    let sent: Vec<&Value> = rows.iter().filter(|r| s(r, "state") == "sent").collect();
    for r in &sent {
        // The owner is the last recipient: 2 of 2, or 2 of 3 with the escalation.
        let e = s(r, "last_error");
        assert!(
            e.contains("recipient 2 of") && e.contains("refused") && e.contains("550"),
            "the refusal is recorded by position: {r:#}"
        );
    }
    let msgs = h.wait_for("the sink to hold every sent reminder", || {
        let m = sink.messages();
        (m.len() >= PER_CASE).then_some(m)
    });
    assert_eq!(msgs.len(), PER_CASE, "{msgs:#?}\n{}", h.diag());
    for m in &msgs {
        assert!(m.rcpt.contains(&"dpo@example.org".to_string()), "{m:#?}");
        assert!(!m.rcpt.iter().any(|r| r.starts_with("reject")), "{m:#?}");
    }
    let text = outbox_text(&h);
    assert!(
        !text.contains("reject-owner"),
        "the refused address is stored or logged in clear:\n{text}"
    );
}

fn dead_reminders_are_requeued_when_the_owners_change() {
    const PER_CASE: usize = 5;
    let h = Harness::new(|port| {
        standard_config(port).replace(
            "reminders:\n  escalation: [boss@example.org]",
            "reminders:\n  to: [reject@example.org]",
        )
    });
    let sink = h.sink();
    h.open_case("q1", Some("reject-owner@example.org"));

    // Every recipient refuses: each reminder is dead.
    let mut serve = h.serve("+70h", &[]);
    h.wait_for("every due reminder dead-lettered", || {
        let rows = h.outbox(false);
        let dead = rows.iter().filter(|r| s(r, "state") == "dead").count();
        (dead == PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(())
    });
    assert_eq!(sink.count(), 0, "nothing was accepted");

    // The owners are corrected while the dispatcher runs: the dead reminders go out to
    // the new owner (the organisation's address is refused again).
    h.ok(&["case", "set", "q1", "owners=[owner@example.org]"]);
    let rows = h.wait_for("the requeued reminders sent", || {
        let rows = h.outbox(true);
        let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
        (sent == PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
    });
    serve.term().expect("serve stops on SIGTERM");
    for r in rows.iter().filter(|r| s(r, "state") == "sent") {
        assert!(
            s(r, "last_error").contains("recipient 1 of 2 refused"),
            "{r:#}"
        );
    }
    let msgs = sink.messages();
    assert_eq!(msgs.len(), PER_CASE, "{msgs:#?}\n{}", h.diag());
    for m in &msgs {
        assert_eq!(m.rcpt, ["owner@example.org"], "{m:#?}");
    }
    assert!(!outbox_text(&h).contains("reject-owner"));
}

fn owners_must_be_email_addresses() {
    let h = Harness::new(standard_config);
    h.open_case("e1", Some("owner@example.org"));
    let before = h.v.db_snapshot();
    for (value, shown) in [
        (
            "owners=[a@example.org, bad]",
            "'bad' is not an e-mail address (item 2 of 2)",
        ),
        (
            "owners=not an address",
            "'not an address' is not an e-mail address (item 1 of 1)",
        ),
        (
            "owners=[a@example.org, x\ny@example.org]",
            "'x\\ny@example.org'",
        ),
    ] {
        let line = h.v.fails(&["case", "set", "e1", value], 2);
        assert!(
            line.contains("fact 'owners'") && line.contains(shown),
            "{value:?}: {line}"
        );
    }
    assert_eq!(
        h.v.db_snapshot(),
        before,
        "a refused command writes nothing"
    );
    h.ok(&[
        "case",
        "set",
        "e1",
        "owners=[a@example.org, Camille Martin <c@example.org>]",
    ]);
}

fn sigkill_during_a_burst_resends_at_most_what_was_in_flight() {
    // 80 cases with 5 reminders each due at +70h: 400 due at once.
    const CASES: usize = 80;
    const PER_CASE: usize = 5;
    const KILLS: usize = 12;
    const EVERY: usize = 30;
    let h = Harness::new(standard_config);
    let sink = h.sink();
    for i in 0..CASES {
        h.open_case(&format!("b{i:02}"), None);
    }

    let mut serve = h.serve("+70h", &["--lease-secs", LEASE]);
    let mut kills = 0usize;
    let mut bound = 0usize;
    let mut seen_log = 0usize;
    let mut started = false;
    let start = Instant::now();
    let mut last_check = Instant::now() - Duration::from_secs(1);
    let rows = loop {
        if start.elapsed() > DEADLINE * 3 {
            panic!("reminders not all sent after {kills} kills\n{}", h.diag());
        }
        if let Some(st) = serve.try_exit() {
            panic!("serve exited on its own ({st})\n{}", h.diag());
        }
        // Killed only once dispatching (its start line logged): a kill before that
        // would test nothing, and its log would not state the bound.
        if !started {
            let log = h.logs.borrow().last().cloned().expect("a serve log");
            started = std::fs::read_to_string(log).is_ok_and(|t| t.contains(" in flight)"));
        }
        if started && kills < KILLS && sink.count() >= (kills + 1) * EVERY {
            serve.kill9();
            kills += 1;
            serve = h.serve("+70h", &["--lease-secs", LEASE]);
            started = false;
            continue;
        }
        if last_check.elapsed() >= Duration::from_millis(250) {
            last_check = Instant::now();
            let rows = h.outbox(true);
            h.no_dead(&rows);
            let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
            if sent == CASES * PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty() {
                break rows;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    serve.term().expect("serve stops on SIGTERM");
    for p in h.logs.borrow().iter().filter(|p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("serve"))
    }) {
        bound = bound.max(in_flight_bound(p));
        seen_log += 1;
    }
    assert_eq!(seen_log, kills + 1, "one log per dispatcher run");
    assert!(
        kills >= KILLS / 2,
        "only {kills} kills happened\n{}",
        h.diag()
    );

    let sent_ids: BTreeSet<String> = rows
        .iter()
        .filter(|r| s(r, "state") == "sent")
        .map(|r| s(r, "message_id").to_string())
        .collect();
    assert_eq!(sent_ids.len(), CASES * PER_CASE);
    let received: BTreeMap<String, usize> = h.wait_for("every reminder in the sink", || {
        let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
        for m in sink.messages() {
            *by_id
                .entry(m.message_id.expect("a Message-ID header"))
                .or_default() += 1;
        }
        sent_ids
            .iter()
            .all(|id| by_id.contains_key(id))
            .then_some(by_id)
    });
    let strangers: Vec<&String> = received.keys().filter(|k| !sent_ids.contains(*k)).collect();
    assert!(strangers.is_empty(), "unknown Message-IDs: {strangers:?}");

    // A kill can cost at most the reminders handed to the server and not yet recorded
    // as sent: the dispatcher keeps no more than its in-flight bound (from its log) in
    // that state, and records each outcome as soon as it is known.
    let total: usize = received.values().sum();
    let duplicates = total - received.len();
    let worst = received.values().max().copied().unwrap_or(0);
    eprintln!(
        "burst: {} reminders, {total} messages received, {kills} kills, {duplicates} duplicate(s) \
         ({:.1} per kill, bound {bound} per kill), at most {worst} copies of one",
        received.len(),
        duplicates as f64 / kills.max(1) as f64
    );
    assert!(
        duplicates <= kills * bound,
        "{duplicates} duplicates for {kills} kills, in-flight bound {bound}"
    );
    assert!(worst <= 1 + kills, "{worst} copies of one reminder");
}

fn a_case_pinned_with_owners_as_free_text_still_reaches_the_dpo() {
    // Cases opened before `owners` was an `emails` fact keep their pinned workflow, where
    // any text was accepted: a value that is not an address is reported, not fatal.
    const PER_CASE: usize = 5;
    let wf_dir = tempfile::TempDir::new().expect("a folder");
    let fr = std::fs::read_to_string(common::repo("workflows/fr.yaml")).expect("fr.yaml");
    let old = fr.replace("owners: { type: emails }", "owners: { type: list }");
    assert_ne!(old, fr, "fr.yaml declares owners as emails");
    std::fs::write(wf_dir.path().join("fr.yaml"), old).expect("write fr.yaml");
    let dir = wf_dir.path().display().to_string();
    let h = Harness::new(|port| format!("workflows_dir: {dir}\n{}", standard_config(port)));
    let sink = h.sink();
    h.open_case("p1", Some("not-an-address"));

    let mut serve = h.serve("+70h", &[]);
    let rows = h.wait_for("every due reminder sent to the DPO", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
        (sent == PER_CASE && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
    });
    serve.term().expect("serve stops on SIGTERM");
    for r in rows.iter().filter(|r| s(r, "state") == "sent") {
        assert!(
            s(r, "last_error").contains("refused: not an e-mail address"),
            "{r:#}"
        );
    }
    let msgs = h.wait_for("the sink to hold every reminder", || {
        let m = sink.messages();
        (m.len() >= PER_CASE).then_some(m)
    });
    assert_eq!(msgs.len(), PER_CASE, "{msgs:#?}");
    assert!(
        msgs.iter()
            .all(|m| m.rcpt.contains(&"dpo@example.org".to_string()))
    );
    assert!(!outbox_text(&h).contains("not-an-address"));
}

// ---------------------------------------------------------------------------------------
// Dutch (issue 12 part 5)

/// An organisation whose language is nl gets the reminder of its `be` case in Dutch:
/// subject, body and calendar event, with the GBA's Dutch name and the AVG's article.
fn a_dutch_organisation_gets_its_reminder_in_dutch() {
    let h = Harness::new(standard_config);
    let sink = h.sink();
    h.ok(&["org", "set", "--lang", "nl"]);
    let aware = now_rfc3339();
    h.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--title",
        "Proefgeval",
        "--aware-at",
        &aware,
        "--id",
        "nl1",
    ]);
    let _serve = h.serve("+70h", &[]);
    let row = h.wait_for("art33 before-6h sent", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        find(&rows, "nl1", "art33", "before-6h")
            .filter(|r| s(r, "state") == "sent")
            .cloned()
    });
    let mid = s(&row, "message_id").to_string();
    let m = h.wait_for("the reminder in the sink", || {
        sink.messages()
            .into_iter()
            .find(|m| m.message_id.as_deref() == Some(mid.as_str()))
    });
    let p = parse_eml(&m.eml);
    let subject = p["subject"].as_str().unwrap();
    assert!(subject.starts_with("H-2: "), "subject: {subject}");
    assert!(
        subject.contains("Melding aan de GBA binnen 72 uur vervalt op "),
        "subject: {subject}"
    );
    let part = |t: &str| -> String {
        p["parts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["type"] == t)
            .and_then(|x| x["text"].as_str())
            .unwrap_or_else(|| panic!("no {t} part in {p:#}"))
            .to_string()
    };
    let plain = part("text/plain");
    for said in [
        "**Nog ",
        "(AVG art. 33, lid 1) vervalt op ",
        "## Wat te doen",
        " om ",
    ] {
        assert!(plain.contains(said), "{said:?} not in:\n{plain}");
    }
    // Nothing of the French or English reminder is left.
    for foreign in [
        "RGPD",
        "GDPR",
        "Notification",
        "échéance",
        "What to do",
        "left",
        "due on",
    ] {
        assert!(!plain.contains(foreign), "{foreign:?} in:\n{plain}");
    }
    assert!(
        part("text/calendar").contains("SUMMARY:Melding aan de GBA binnen 72 uur"),
        "{p:#}"
    );
}

// ---------------------------------------------------------------------------------------
// SMTP with TLS (issue 14). The transport does not touch the database: SQLite only.

/// Reminders over STARTTLS and over TLS from the first byte, to a server whose
/// certificate comes from a private CA named by `mail.smtp.ca_file`: each sent reminder
/// arrives once, encrypted, pipelined, with its parts and its calendar attachment.
#[test]
fn reminders_arrive_over_starttls_and_tls() {
    for (security, flag) in [("starttls", "--starttls"), ("tls", "--tls")] {
        let pki_dir = tempfile::tempdir().expect("a temporary folder");
        let pki = Pki::new(pki_dir.path(), "relay");
        let h = Harness::new(|port| tls_config(port, security, &pki.ca));
        let sink = h.sink_with(&[flag.as_ref(), pki.cert.as_ref(), pki.key.as_ref()]);
        h.open_case("t1", Some("owner@example.org"));
        let _serve = h.serve("+70h", &[]);
        let rows = h.wait_for("every due reminder sent", || {
            let rows = h.outbox(true);
            h.no_dead(&rows);
            let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
            (sent > 0 && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
        });
        let sent: BTreeSet<String> = rows
            .iter()
            .filter(|r| s(r, "state") == "sent")
            .map(|r| s(r, "message_id").to_string())
            .collect();
        let msgs = h.wait_for("the sink to hold every sent reminder", || {
            let m = sink.messages();
            (m.len() >= sent.len()).then_some(m)
        });
        let got: BTreeSet<String> = msgs.iter().filter_map(|m| m.message_id.clone()).collect();
        assert_eq!(
            got,
            sent,
            "{security}: one message per sent reminder\n{}",
            h.diag()
        );
        assert_eq!(msgs.len(), sent.len(), "{security}: {msgs:#?}");
        for m in &msgs {
            assert!(
                m.tls.starts_with("TLSv1."),
                "{security}: came in clear: {m:?}"
            );
            assert!(m.pipelined, "{security}: {m:?}");
            assert!(
                m.rcpt.contains(&"dpo@example.org".to_string())
                    && m.rcpt.contains(&"owner@example.org".to_string()),
                "{security}: {m:?}"
            );
            let v = parse_eml(&m.eml);
            let types: Vec<&str> = v["parts"]
                .as_array()
                .expect("parts")
                .iter()
                .map(|p| s(p, "type"))
                .collect();
            assert!(
                types.contains(&"text/plain")
                    && types.contains(&"text/html")
                    && types.contains(&"text/calendar"),
                "{security}: {types:?}"
            );
        }
    }
}

/// Nothing is handed to a server vigie cannot trust: one whose certificate another CA
/// signed, or one that does not offer STARTTLS when it is required (never a silent
/// fall-back to clear text). The reminders wait, failed, with the reason; `vigie mail
/// test` says it in one line. With `danger_accept_invalid_certs` the untrusted server
/// is used, after a warning at start.
#[test]
fn reminders_are_not_sent_to_an_untrusted_or_clear_text_server() {
    let pki_dir = tempfile::tempdir().expect("a temporary folder");
    let relay = Pki::new(pki_dir.path(), "relay");
    let other = Pki::new(pki_dir.path(), "other");
    for (case, sink_tls, reason) in [
        ("another CA", true, "certificate"),
        ("no STARTTLS", false, "does not offer STARTTLS"),
    ] {
        let h = Harness::new(|port| tls_config(port, "starttls", &other.ca));
        let sink = if sink_tls {
            h.sink_with(&[
                "--starttls".as_ref(),
                relay.cert.as_ref(),
                relay.key.as_ref(),
            ])
        } else {
            h.sink()
        };
        h.open_case("u1", None);
        let _serve = h.serve("+70h", &[]);
        let failed = h.wait_for("a failed reminder", || {
            let rows = h.outbox(false);
            h.no_dead(&rows);
            rows.into_iter().find(|r| s(r, "state") == "failed")
        });
        assert!(
            s(&failed, "last_error").contains(reason),
            "{case}: {failed:#}"
        );
        let line = h.v.fails(
            &[
                "--config",
                h.config.to_str().unwrap(),
                "mail",
                "test",
                "someone@example.org",
            ],
            1,
        );
        assert!(
            line.contains("not sent") && line.contains(reason),
            "{case}: {line}"
        );
        assert_eq!(sink.count(), 0, "{case}: nothing reached the server");
    }

    let h = Harness::new(|port| {
        tls_config(port, "starttls", &other.ca).replace(
            "    ca_file:",
            "    danger_accept_invalid_certs: true\n    ca_file:",
        )
    });
    let sink = h.sink_with(&[
        "--starttls".as_ref(),
        relay.cert.as_ref(),
        relay.key.as_ref(),
    ]);
    h.open_case("u2", None);
    let _serve = h.serve("+70h", &[]);
    h.wait_for("a reminder through the unchecked server", || {
        (sink.count() > 0).then_some(())
    });
    assert!(
        h.log(1)
            .contains("warning: mail.smtp.danger_accept_invalid_certs"),
        "the warning at start:\n{}",
        h.diag()
    );
}

/// A relay with its own self-signed certificate, made by `openssl req -x509` (which
/// marks it as a CA), on a real TLS SMTP server (issue 23, N12). Named as a CA file it
/// is refused, and the error names `mail.smtp.pin_sha256`; pinned by the SHA-256 of the
/// certificate or of its public key it is verified and used; a wrong pin sends nothing.
#[test]
fn a_self_signed_relay_is_verified_by_its_pinned_digest() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (cert, key, public) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("public.der"),
    );
    let openssl = |args: &[&std::ffi::OsStr]| -> String {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    openssl(&[
        "req".as_ref(),
        "-x509".as_ref(),
        "-newkey".as_ref(),
        "ec".as_ref(),
        "-pkeyopt".as_ref(),
        "ec_paramgen_curve:prime256v1".as_ref(),
        "-nodes".as_ref(),
        "-days".as_ref(),
        "2".as_ref(),
        "-subj".as_ref(),
        "/CN=localhost".as_ref(),
        "-addext".as_ref(),
        "subjectAltName=DNS:localhost,IP:127.0.0.1".as_ref(),
        "-keyout".as_ref(),
        key.as_ref(),
        "-out".as_ref(),
        cert.as_ref(),
    ]);
    // The digests as openssl computes them: the certificate's fingerprint (with colons),
    // and the SHA-256 of the public key in DER.
    let fingerprint = openssl(&[
        "x509".as_ref(),
        "-in".as_ref(),
        cert.as_ref(),
        "-noout".as_ref(),
        "-fingerprint".as_ref(),
        "-sha256".as_ref(),
    ]);
    let fingerprint = fingerprint.trim().split('=').nth(1).expect("a fingerprint");
    let pem = openssl(&[
        "x509".as_ref(),
        "-in".as_ref(),
        cert.as_ref(),
        "-noout".as_ref(),
        "-pubkey".as_ref(),
    ]);
    let pem_file = dir.path().join("public.pem");
    std::fs::write(&pem_file, pem).unwrap();
    openssl(&[
        "pkey".as_ref(),
        "-pubin".as_ref(),
        "-in".as_ref(),
        pem_file.as_ref(),
        "-outform".as_ref(),
        "der".as_ref(),
        "-out".as_ref(),
        public.as_ref(),
    ]);
    let digest = openssl(&["dgst".as_ref(), "-sha256".as_ref(), public.as_ref()]);
    let key_pin = digest
        .trim()
        .rsplit(' ')
        .next()
        .expect("a digest")
        .to_string();
    assert_eq!(key_pin.len(), 64, "{digest}");

    let pinned = |pin: String| {
        move |port: u16| {
            standard_config(port).replace(
                "security: none",
                &format!("security: tls\n    pin_sha256: \"{pin}\""),
            )
        }
    };
    let mail_test = |h: &Harness| h.run(&["mail", "test", "someone@example.org"]);

    // As a CA file: webpki refuses a CA used as a server's certificate, and says how to
    // verify it instead.
    let h = Harness::new(|port| tls_config(port, "tls", &cert));
    let sink = h.sink_with(&["--tls".as_ref(), cert.as_ref(), key.as_ref()]);
    let line =
        h.v.fails(&h.with_args(&["mail", "test", "someone@example.org"]), 1);
    assert!(
        line.contains("CaUsedAsEnd") && line.contains("mail.smtp.pin_sha256"),
        "{line}"
    );
    assert_eq!(sink.count(), 0);
    drop(sink);

    // Pinned by the certificate's fingerprint, or by its public key: sent, over TLS.
    for pin in [fingerprint.to_string(), key_pin.clone()] {
        let h = Harness::new(pinned(pin.clone()));
        let sink = h.sink_with(&["--tls".as_ref(), cert.as_ref(), key.as_ref()]);
        let out = mail_test(&h);
        assert_eq!(out.code, 0, "pin {pin}: {}", out.stderr);
        let msgs = h.wait_for("the test message", || {
            let m = sink.messages();
            (!m.is_empty()).then_some(m)
        });
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0].tls.starts_with("TLSv1."), "{:?}", msgs[0]);
    }

    // Another pin: nothing is sent, and the error names the option and what the server
    // presented.
    let wrong = "00".repeat(32);
    let h = Harness::new(pinned(wrong.clone()));
    let sink = h.sink_with(&["--tls".as_ref(), cert.as_ref(), key.as_ref()]);
    let line =
        h.v.fails(&h.with_args(&["mail", "test", "someone@example.org"]), 1);
    assert!(
        line.contains("pin_sha256") && line.contains(&key_pin),
        "{line}"
    );
    assert_eq!(
        sink.count(),
        0,
        "nothing reached a server that is not the pinned one"
    );

    // A pin that is not a digest stops the command at once, naming the option.
    let h = Harness::new(pinned("not-a-digest".to_string()));
    let line =
        h.v.fails(&h.with_args(&["mail", "test", "someone@example.org"]), 2);
    assert!(line.contains("pin_sha256"), "{line}");
}

/// A crash does not delay every claimed reminder by the lease (issue 23, N11). The
/// dispatcher claims every due reminder and hangs on a relay that accepts connections
/// and never answers (so each claim is in flight), then is SIGKILLed; the relay comes
/// back as a real SMTP server, and the same server is started again. With a one-hour
/// lease, waiting for the lease would take an hour: the dead dispatcher stopped beating,
/// so its claims are taken back and every reminder arrives, once.
fn a_killed_dispatchers_claims_are_taken_back_without_waiting_for_the_lease() {
    const CASES: usize = 6;
    let h = Harness::new(standard_config);
    for i in 0..CASES {
        h.open_case(&format!("k{i}"), None);
    }
    // The silent relay: accepts, holds every connection open, says nothing.
    let silent = std::net::TcpListener::bind(("127.0.0.1", h.port)).expect("bind the relay port");
    silent.set_nonblocking(true).unwrap();
    let mut held = Vec::new();
    let mut serve = h.serve("+70h", &["--lease-secs", "3600"]);
    h.wait_for("the dispatcher to reach the relay", || {
        if let Ok((c, _)) = silent.accept() {
            held.push(c);
        }
        (!held.is_empty()).then_some(())
    });
    serve.kill9();
    drop(held);
    drop(silent);

    let sink = h.sink();
    let _serve = h.serve("+70h", &["--lease-secs", "3600"]);
    let rows = h.wait_for("every due reminder sent after the restart", || {
        let rows = h.outbox(true);
        h.no_dead(&rows);
        let sent = rows.iter().filter(|r| s(r, "state") == "sent").count();
        (sent > 0 && due_waiting(&rows, &shifted_now(70)).is_empty()).then_some(rows)
    });
    let sent: BTreeSet<String> = rows
        .iter()
        .filter(|r| s(r, "state") == "sent")
        .map(|r| s(r, "message_id").to_string())
        .collect();
    let msgs = h.wait_for("the sink to hold every sent reminder", || {
        let m = sink.messages();
        (m.len() >= sent.len()).then_some(m)
    });
    let got: BTreeSet<String> = msgs.iter().filter_map(|m| m.message_id.clone()).collect();
    assert_eq!(got, sent, "{}", h.diag());
    // Nothing had reached a server before the kill: each arrives once.
    assert_eq!(msgs.len(), sent.len(), "{msgs:#?}");
    assert!(
        h.log(2).contains("took back"),
        "the restarted server says what it took back:\n{}",
        h.diag()
    );
}
