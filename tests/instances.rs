//! Several `vigie serve` instances on one PostgreSQL database (issue 10, "Several
//! instances"): real processes, a throwaway PostgreSQL cluster (tests/common/pg.rs), a real
//! SMTP server on loopback (aiosmtpd), SIGKILL. Outcomes are awaited by polling against a
//! generous deadline; nothing asserts on elapsed time.

use crate::common;

use common::Vigie;
use common::db::{Backend, with_backend};
use common::process::{Serve, in_flight_bound};
use common::smtp::{Sink, free_port, standard_config};
use common::web::{Browser, PASSWORD, Server, form_token};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ACME: &str = "dpo@acme.example";
/// Long enough for any machine; the tests normally finish far sooner.
const DEADLINE: Duration = Duration::from_secs(240);

/// A fresh PostgreSQL database: these tests are about several instances on one server.
fn postgres() -> Vigie {
    with_backend(Backend::Postgres, Vigie::new)
}

/// A small seeded generator (SplitMix64): the kill moments can be replayed with
/// `VIGIE_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn seed() -> u64 {
    match std::env::var("VIGIE_TEST_SEED") {
        Ok(s) => s.trim().parse().expect("VIGIE_TEST_SEED is a number"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("a clock after 1970")
            .as_nanos() as u64,
    }
}

/// `vigie serve --listen none` on `v`'s database, the clock at +70 h, its log in `log`.
fn dispatcher(v: &Vigie, config: &Path, log: &Path) -> Serve {
    v.serve()
        .config(config)
        .listen("none")
        .args(&["--idle-check-secs", "1", "--lease-secs", "3"])
        .env("VIGIE_NOW_OFFSET", "+70h")
        .log(log)
        .spawn()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Reminders a dispatcher's log says it sent ("vigie serve: sent <key> <Message-ID>").
fn sent_lines(log: &Path) -> usize {
    read(log)
        .lines()
        .filter(|l| l.contains("vigie serve: sent "))
        .count()
}

fn tails(logs: &[PathBuf]) -> String {
    let mut s = String::new();
    for p in logs {
        let text = read(p);
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(30)..];
        s.push_str(&format!("--- {}\n{}\n", p.display(), tail.join("\n")));
    }
    s
}

#[test]
fn two_instances_share_the_reminders_and_survive_sigkills() {
    // 60 cases, each with 5 reminders due at +70 h (art33, art34, nis2_notification and
    // complaint_insurance before-6h, nis2_early_warning overdue-0): 300 at once.
    const CASES: usize = 60;
    const PER_CASE: usize = 5;
    const KILLS: usize = 10;
    let seed = seed();
    eprintln!("two instances: seed {seed} (VIGIE_TEST_SEED={seed} replays the kill moments)");
    let mut rng = Rng(seed);

    let v = postgres();
    let port = free_port();
    let config = v.dir().join("config.yaml");
    std::fs::write(&config, standard_config(port)).expect("write the config");
    let cfg = config.to_str().expect("UTF-8 path");
    let sink = Sink::start(port, &v.dir().join("sink"), &v.dir().join("sink.log"));
    let aware = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for i in 0..CASES {
        let id = format!("m{i:02}");
        v.ok(&[
            "--config",
            cfg,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "T",
            "--aware-at",
            &aware,
            "--id",
            &id,
        ]);
    }
    // A is killed when the sink has received these many messages (random, distinct).
    let mut moments = BTreeSet::new();
    while moments.len() < KILLS {
        moments.insert(5 + rng.below((CASES * PER_CASE - 60) as u64) as usize);
    }
    let moments: Vec<usize> = moments.into_iter().collect();
    eprintln!("two instances: A killed at sink counts {moments:?}");

    let mut a_logs: Vec<PathBuf> = vec![v.dir().join("a-0.log")];
    let b_log = v.dir().join("b.log");
    let mut a = dispatcher(&v, &config, &a_logs[0]);
    let mut b: Option<Serve> = None;
    let all_logs = |a_logs: &[PathBuf]| {
        let mut l = a_logs.to_vec();
        l.push(b_log.clone());
        l.push(v.dir().join("sink.log"));
        l
    };
    let diag = |a_logs: &[PathBuf]| {
        let out = v.run(&["--config", cfg, "outbox", "list", "--all"]);
        format!(
            "{}--- outbox\n{}{}--- sink: {} message(s)",
            tails(&all_logs(a_logs)),
            out.stdout,
            out.stderr,
            sink.count()
        )
    };
    let outbox = || -> Vec<Value> {
        let out = v.run(&["--config", cfg, "outbox", "list", "--all", "--json"]);
        assert_eq!(out.code, 0, "outbox list: {}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout)
            .expect("outbox list prints JSON")
            .as_array()
            .expect("an array")
            .clone()
    };
    let state = |r: &Value| r["state"].as_str().unwrap_or("").to_string();

    let start = Instant::now();
    let mut kills = 0usize;
    let mut last_check = Instant::now();
    let rows = loop {
        assert!(
            start.elapsed() < DEADLINE,
            "reminders not all sent after {kills} kills (seed {seed})\n{}",
            diag(&a_logs)
        );
        if let Some(st) = a.try_exit() {
            panic!("instance A exited on its own ({st})\n{}", diag(&a_logs));
        }
        if let Some(st) = b.as_mut().and_then(Serve::try_exit) {
            panic!("instance B exited on its own ({st})\n{}", diag(&a_logs));
        }
        // B joins once A has sent: otherwise B alone might send everything and the kills
        // of A would prove little.
        if b.is_none() && a_logs.iter().any(|l| sent_lines(l) > 0) {
            b = Some(dispatcher(&v, &config, &b_log));
        }
        if kills < KILLS && sink.count() >= moments[kills] {
            a.kill9();
            kills += 1;
            a_logs.push(v.dir().join(format!("a-{kills}.log")));
            a = dispatcher(&v, &config, a_logs.last().expect("a log"));
            continue;
        }
        if kills == KILLS && last_check.elapsed() >= Duration::from_millis(300) {
            last_check = Instant::now();
            let rows = outbox();
            if let Some(r) = rows.iter().find(|r| state(r) == "dead") {
                panic!("a reminder was dead-lettered: {r}\n{}", diag(&a_logs));
            }
            let sent = rows.iter().filter(|r| state(r) == "sent").count();
            let waiting = rows
                .iter()
                .filter(|r| matches!(state(r).as_str(), "failed" | "claimed"))
                .count();
            if sent == CASES * PER_CASE && waiting == 0 {
                break rows;
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let a_st = a.term();
    let b_st = b.as_mut().expect("B started").term();
    assert_eq!(
        a_st.and_then(|s| s.code()),
        Some(0),
        "A stops cleanly on SIGTERM\n{}",
        diag(&a_logs)
    );
    assert_eq!(
        b_st.and_then(|s| s.code()),
        Some(0),
        "B stops cleanly on SIGTERM\n{}",
        diag(&a_logs)
    );

    let sent_ids: BTreeSet<String> = rows
        .iter()
        .filter(|r| state(r) == "sent")
        .map(|r| r["message_id"].as_str().expect("a Message-ID").to_string())
        .collect();
    assert_eq!(
        sent_ids.len(),
        CASES * PER_CASE,
        "one Message-ID per reminder"
    );
    // The sink writes a message before answering 250, and a reminder is recorded as sent
    // only after that answer: every sent reminder is already there.
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        *received
            .entry(m.message_id.expect("a Message-ID header"))
            .or_default() += 1;
    }
    let strangers: Vec<&String> = received.keys().filter(|k| !sent_ids.contains(*k)).collect();
    assert!(strangers.is_empty(), "unknown Message-IDs: {strangers:?}");
    let lost: Vec<&String> = sent_ids
        .iter()
        .filter(|k| !received.contains_key(*k))
        .collect();
    assert!(lost.is_empty(), "sent but never received: {lost:?}");

    // A kill of A can cost at most what A had handed to the server and not yet recorded:
    // its stated in-flight bound. B is never killed.
    let bound = a_logs
        .iter()
        .filter(|l| read(l).contains(" in flight)"))
        .map(|l| in_flight_bound(l))
        .max()
        .expect("A's log states its in-flight bound");
    let total: usize = received.values().sum();
    let duplicates = total - received.len();
    let worst = received.values().max().copied().unwrap_or(0);
    let by_a: usize = a_logs.iter().map(|l| sent_lines(l)).sum();
    let by_b = sent_lines(&b_log);
    eprintln!(
        "two instances: {} reminders, {total} messages received, {kills} kills of A, \
         {duplicates} duplicate(s) (bound {} = kills x {bound}), at most {worst} copies of one; \
         recorded as sent by A {by_a}, by B {by_b} (seed {seed})",
        received.len(),
        kills * bound
    );
    assert!(
        duplicates <= kills * bound,
        "{duplicates} duplicates for {kills} kills, in-flight bound {bound} (seed {seed})"
    );
    assert!(worst <= 1 + kills, "{worst} copies of one reminder");
    assert!(by_a > 0, "A sent nothing (seed {seed})\n{}", diag(&a_logs));
    assert!(by_b > 0, "B sent nothing (seed {seed})\n{}", diag(&a_logs));
    // Each reminder is recorded as sent once, by one of them (a resend after a kill is
    // recorded by its new claimer only); the database says so above. The log lines
    // follow the commit of each group of sends, so a SIGKILL between the two can cut
    // the lines of one group (at most the in-flight bound) though the sends are recorded.
    assert!(
        by_a + by_b + kills * bound >= CASES * PER_CASE,
        "A {by_a} + B {by_b} recorded fewer than {} sends",
        CASES * PER_CASE
    );
}

/// A case's JSON without what depends on the moment it was read.
fn timeless(mut case: Value) -> Value {
    let obj = case.as_object_mut().expect("a case object");
    obj.remove("as_of");
    for c in obj
        .get_mut("clocks")
        .and_then(Value::as_array_mut)
        .expect("clocks")
    {
        c.as_object_mut().expect("a clock").remove("seconds_left");
    }
    case
}

fn open_case(s: &Server, id: &str) -> Value {
    let aware = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Shared", "aware_at": aware, "id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    r.json
}

#[test]
fn a_case_opened_through_one_instance_is_read_through_the_other() {
    let a = Server::start_on(postgres(), "0s");
    let b = a.another_instance("0s");
    assert_ne!(a.base, b.base);

    // The API: opened on A, read on B at once, the same case.
    let opened = open_case(&a, "shared-1");
    let read = b.api(ACME).get("/api/cases/shared-1");
    assert_eq!(read.status, 200, "{}", read.json);
    // A DPO's read also carries the case's access log (empty: nothing was read yet) and
    // the timeline it is merged into; the rest is the case as opened.
    let mut read = read.json;
    assert_eq!(read["access"], json!([]), "{read}");
    let obj = read.as_object_mut().unwrap();
    obj.remove("access");
    obj.remove("timeline");
    assert_eq!(timeless(read), timeless(opened));

    // A session signed in on A is a session on B.
    let mut on_a = a.browser(ACME);
    let (status, page_a, _) = on_a.get("/cases/shared-1");
    assert_eq!(status, 200);
    let mut on_b = Browser::new(&b.base);
    on_b.cookies = on_a.cookies.clone();
    let (status, page_b, _) = on_b.get("/cases/shared-1");
    assert_eq!(status, 200, "A's session cookie works on B");
    assert!(page_b.contains("shared-1"), "{page_b}");
    // A form of A's page, with A's CSRF token, posted to B.
    let csrf = form_token(&page_a, "/cases/shared-1/facts").expect("a CSRF token on A's page");
    let r = on_b.post_form(
        "/cases/shared-1/facts",
        &[
            ("_csrf", &csrf),
            ("seq", "1"),
            ("present", "risk"),
            ("f.risk", "high"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303, "A's CSRF token is good on B");
    assert_eq!(
        a.api(ACME).get("/api/cases/shared-1").json["facts"]["risk"],
        "high",
        "written through B, read through A"
    );

    // The sign-in throttle counts the failures made on both instances together: 5 wrong
    // passwords, 3 on A and 2 on B, lock the account on both.
    let user = "contrib@acme.example";
    for (i, s) in [&a, &b, &a, &b, &a].into_iter().enumerate() {
        let mut br = Browser::new(&s.base);
        let r = br.login(user, "a wrong password, surely");
        assert_eq!(r.status().as_u16(), 401, "wrong password {}", i + 1);
    }
    for (name, s) in [("A", &a), ("B", &b)] {
        let mut br = Browser::new(&s.base);
        let r = br.login(user, PASSWORD);
        assert_eq!(
            r.status().as_u16(),
            429,
            "the account is locked on {name}, even with the right password"
        );
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .expect("ASCII")
            .parse()
            .expect("Retry-After in seconds");
        assert!(wait >= 1, "Retry-After {wait} on {name}");
        assert!(!br.cookies.contains_key("vigie_session"));
    }
}

#[test]
fn eight_writers_across_two_instances_one_case_exactly_one_wins() {
    let a = Server::start_on(postgres(), "0s");
    let b = a.another_instance("0s");
    let case = open_case(&a, "race-2");
    let seq = case["seq"].as_i64().expect("seq");
    let events = |s: &Server| -> usize {
        let r = s.api(ACME).get("/api/cases/race-2/events");
        assert_eq!(r.status, 200, "{}", r.json);
        r.json
            .as_array()
            .or_else(|| r.json["events"].as_array())
            .expect("a list of events")
            .len()
    };
    let before = events(&b);

    let token = a.token(ACME).to_string();
    let start = std::sync::Arc::new(std::sync::Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base }.clone();
            let token = token.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                start.wait();
                client
                    .post(format!("{base}/api/cases/race-2/facts"))
                    .bearer_auth(token)
                    .json(&json!({"facts": {"subjects_approx": i + 1}, "expected_seq": seq}))
                    .send()
                    .expect("the server answers")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut codes: Vec<u16> = handles
        .into_iter()
        .map(|h| h.join().expect("writer"))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![200, 409, 409, 409, 409, 409, 409, 409],
        "exactly one writer wins\nA:\n{}\nB:\n{}",
        a.log(),
        b.log()
    );
    assert_eq!(events(&a), before + 1, "one new event, seen through A");
    assert_eq!(events(&b), before + 1, "one new event, seen through B");
    a.v.ok(&["audit", "verify"]);
}

/// A dispatcher SIGKILLed while it holds claims: the other instance, running beside it,
/// takes them over once it stops beating (issue 23 N11, issue 25 "Speed"), without
/// waiting for the lease (an hour here), and every reminder arrives exactly once.
///
/// A's relay accepts connections and never answers, so A claims every due reminder (one
/// batch) and sends none; B's relay is a real SMTP server. B is started once A holds the
/// claims, then A is killed.
#[test]
fn a_killed_instances_claims_are_taken_over_by_the_other_within_seconds() {
    const CASES: usize = 30;
    const PER_CASE: usize = 5;
    let v = postgres();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the silent relay");
    silent.set_nonblocking(true).expect("non-blocking");
    let silent_port = silent.local_addr().expect("its port").port();
    let port = free_port();
    let config_a = v.dir().join("config-a.yaml");
    let config_b = v.dir().join("config-b.yaml");
    std::fs::write(&config_a, standard_config(silent_port)).expect("write A's config");
    std::fs::write(&config_b, standard_config(port)).expect("write B's config");
    let sink = Sink::start(port, &v.dir().join("sink"), &v.dir().join("sink.log"));
    let cfg = config_b.to_str().expect("UTF-8 path");
    let aware = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for i in 0..CASES {
        let id = format!("k{i:02}");
        v.ok(&[
            "--config",
            cfg,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "T",
            "--aware-at",
            &aware,
            "--id",
            &id,
        ]);
    }
    let (a_log, b_log) = (v.dir().join("a.log"), v.dir().join("b.log"));
    let long_lease = |config: &Path, log: &Path| {
        v.serve()
            .config(config)
            .listen("none")
            .args(&["--idle-check-secs", "1", "--lease-secs", "3600"])
            .env("VIGIE_NOW_OFFSET", "+70h")
            .log(log)
            .spawn()
    };
    let outbox = || -> Vec<Value> {
        let out = v.run(&["--config", cfg, "outbox", "list", "--all", "--json"]);
        assert_eq!(out.code, 0, "outbox list: {}", out.stderr);
        serde_json::from_str::<Value>(&out.stdout)
            .expect("outbox list prints JSON")
            .as_array()
            .expect("an array")
            .clone()
    };
    let state = |r: &Value| r["state"].as_str().unwrap_or("").to_string();
    let diag = || tails(&[a_log.clone(), b_log.clone(), v.dir().join("sink.log")]);

    // A claims everything due (one batch: the claim comes before the first send) and
    // hangs on its relay.
    let mut a = long_lease(&config_a, &a_log);
    let mut held = Vec::new();
    let start = Instant::now();
    while held.is_empty() {
        assert!(
            start.elapsed() < DEADLINE,
            "A never reached its relay\n{}",
            diag()
        );
        if let Some(st) = a.try_exit() {
            panic!("A exited on its own ({st})\n{}", diag());
        }
        if let Ok((c, _)) = silent.accept() {
            held.push(c);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = long_lease(&config_b, &b_log);
    // B is up and beating before A dies: the dispatcher that takes over is one that was
    // already running, not a restart.
    while !read(&b_log).contains("dispatching reminders") {
        assert!(start.elapsed() < DEADLINE, "B did not start\n{}", diag());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sink.count(), 0, "nothing sent while A holds the claims");
    a.kill9();
    let killed = Instant::now();
    drop(held);
    drop(silent);

    let rows = loop {
        assert!(
            killed.elapsed() < DEADLINE,
            "the reminders A held were not all sent\n{}",
            diag()
        );
        if let Some(st) = b.try_exit() {
            panic!("B exited on its own ({st})\n{}", diag());
        }
        let rows = outbox();
        if let Some(r) = rows.iter().find(|r| state(r) == "dead") {
            panic!("a reminder was dead-lettered: {r}\n{}", diag());
        }
        let sent = rows.iter().filter(|r| state(r) == "sent").count();
        if sent == CASES * PER_CASE && sink.count() >= sent {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "a killed instance: {} reminders taken over and sent by the other {:.1} s after the kill (lease 3600 s)",
        CASES * PER_CASE,
        killed.elapsed().as_secs_f64()
    );
    assert!(
        read(&b_log).contains("took back"),
        "B says it took A's claims back\n{}",
        diag()
    );
    let sent_ids: BTreeSet<String> = rows
        .iter()
        .filter(|r| state(r) == "sent")
        .map(|r| r["message_id"].as_str().expect("a Message-ID").to_string())
        .collect();
    assert_eq!(sent_ids.len(), CASES * PER_CASE, "one Message-ID each");
    let mut received: BTreeMap<String, usize> = BTreeMap::new();
    for m in sink.messages() {
        *received
            .entry(m.message_id.expect("a Message-ID header"))
            .or_default() += 1;
    }
    let got: BTreeSet<String> = received.keys().cloned().collect();
    assert_eq!(got, sent_ids, "every reminder received, and nothing else");
    let doubled: Vec<(&String, &usize)> = received.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "received more than once: {doubled:?}");
    assert_eq!(
        b.term().and_then(|s| s.code()),
        Some(0),
        "B stops cleanly\n{}",
        diag()
    );
}
