//! The two storage backends side by side (printed, not asserted). Issue 10's figures,
//! in one run, on the same machine:
//!
//! 1. append: 4 writers (threads, one connection each) on different cases, each case
//!    opened then moved through 9 events: events appended per second.
//! 2. `case show` in process (load + fold + clocks + JSON): p50 / p99.
//! 3. 10,000 reminders due at the same instant D, sent through TWO `vigie serve`
//!    instances on the same database to a loopback SMTP sink: delay from D to the
//!    hand-off (p50 / p99), messages per second, and copies received.
//! 4. Web API reads: `GET /api/cases/{id}` from 8 client threads split across both
//!    instances: requests per second.
//!
//! SQLite is a file in a temporary folder; PostgreSQL is a throwaway cluster started
//! here (or `VIGIE_TEST_POSTGRES=postgres://...`), with `fsync` off like the tests' (say
//! so when quoting the figures).
//!
//! Run: cargo bench --bench backends   (VIGIE_BENCH_CASES=2000 VIGIE_BENCH_HOT=10000)
//!
//! The append line also gives the CPU time per event of this process (the writers:
//! deciding, sealing, folding, the driver) and, on the local throwaway cluster, of the
//! PostgreSQL server (its processes, ended ones included): on a loaded machine the rate
//! moves with the neighbours, the CPU per event much less. `VIGIE_BENCH_ONLY=append`
//! runs the append phase alone (for profiling it), `VIGIE_BENCH_BACKEND=postgres` (or
//! `sqlite`) one backend alone.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use vigie::case::Command;
use vigie::catalog::WorkflowSet;
use vigie::store::{DEFAULT_ORG, Store};

#[path = "../tests/common/pg.rs"]
mod pg;
#[path = "support/sink.rs"]
mod sink;
/// What tests/common/pg.rs takes from its sibling module there.
mod smtp {
    pub use super::free_port;
}

#[path = "support/workflow.rs"]
mod workflow;
use workflow::BENCH_WORKFLOW;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

fn facts(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The reason each step of `one_case` gives: its steps are dated weeks before they are
/// recorded, which the engine refuses without one (issue 22).
const LATE: &str = "benchmark: recorded after the fact";

/// One case opened and moved through 9 more commands, as in benches/core.rs: its id and
/// how many events its log holds (what the commands appended).
fn one_case(store: &mut Store, workflows: &WorkflowSet, i: usize) -> (String, usize) {
    let aware = Utc::now() - Duration::days(30) + Duration::minutes(i as i64);
    let open = Command::Open {
        title: format!("bench case {i}"),
        facts: facts(&[("aware_at", json!(aware.to_rfc3339()))]),
        at: aware,
    };
    let l = store
        .open_case(DEFAULT_ORG, workflows, "fr", None, &open, "bench", aware)
        .expect("open");
    let id = l.case.id.clone();
    let adv = |event: &str, at, facts: Vec<(String, Value)>| Command::Advance {
        event: event.into(),
        facts,
        note: None,
        at,
        reason: Some(LATE.into()),
    };
    let mut at = aware;
    let mut n = l.case.seq as usize;
    let mut step = |store: &mut Store, cmd: Command| {
        n = store
            .execute(DEFAULT_ORG, &id, &cmd, "bench", Utc::now())
            .expect("append")
            .case
            .seq as usize;
    };
    at += Duration::hours(1);
    step(
        store,
        adv(
            "contain",
            at,
            facts(&[("contained_at", json!(at.to_rfc3339()))]),
        ),
    );
    at += Duration::hours(1);
    step(
        store,
        adv(
            "assess",
            at,
            facts(&[
                ("risk", json!("high")),
                ("risk_rationale", json!("NIR exposed")),
            ]),
        ),
    );
    for (k, v) in [
        ("nature", json!(["confidentiality"])),
        ("subjects_approx", json!(1000 + i)),
        ("data_categories", json!(["identity", "contact"])),
        ("consequences", json!("phishing risk")),
        ("measures", json!("accounts locked")),
    ] {
        at += Duration::minutes(10);
        step(
            store,
            Command::SetFacts {
                facts: facts(&[(k, v)]),
                note: None,
                at,
                reason: Some(LATE.into()),
            },
        );
    }
    at += Duration::hours(2);
    step(store, adv("notify_authority", at, vec![]));
    at += Duration::hours(2);
    step(
        store,
        adv(
            "notify_individuals",
            at,
            facts(&[("individuals_channel", json!("e-mail"))]),
        ),
    );
    (id, n)
}

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`; with `ended`, plus
/// those of its children that ended and were waited for.
fn cpu_of(pid: &str, ended: bool) -> Option<(u32, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = n(11) + n(12) + if ended { n(13) + n(14) } else { 0.0 };
    Some((ppid, ticks / 100.0))
}

/// CPU seconds of the PostgreSQL server: the postmaster and the backends it waited for,
/// plus the live ones.
fn server_cpu(postmaster: u32) -> f64 {
    let mut total = cpu_of(&postmaster.to_string(), true).map_or(0.0, |(_, t)| t);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.chars().all(|c| c.is_ascii_digit())
            && let Some((ppid, t)) = cpu_of(&name, false)
            && ppid == postmaster
        {
            total += t;
        }
    }
    total
}

struct Figures {
    append: f64,
    show_p50: f64,
    show_p99: f64,
    burst: String,
    reads: f64,
}

fn main() {
    let cases = env_usize("VIGIE_BENCH_CASES", 2_000);
    let hot = env_usize("VIGIE_BENCH_HOT", 10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let wf_dir = dir.path().join("workflows");
    std::fs::create_dir_all(&wf_dir).expect("mkdir");
    std::fs::write(wf_dir.join("bench.yaml"), BENCH_WORKFLOW).expect("write workflow");
    let workflows = WorkflowSet::load(Some(&wf_dir)).expect("workflows");

    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    let postgres = pg::url();
    let only = std::env::var("VIGIE_BENCH_BACKEND").unwrap_or_default();
    let mut results = Vec::new();
    for (name, url) in [("SQLite", sqlite), ("PostgreSQL", postgres)] {
        if !name.to_lowercase().starts_with(&only.to_lowercase()) {
            continue;
        }
        println!("== {name}");
        results.push((name, run(&url, &workflows, &wf_dir, dir.path(), cases, hot)));
    }
    println!();
    let names: Vec<&str> = results.iter().map(|(n, _)| *n).collect();
    println!("| | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    let row = |label: &str, f: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = results.iter().map(|(_, r)| f(r)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("events appended/s, 4 writers", &|f| {
        format!("{:.0}", f.append)
    });
    row("case show p50 / p99 (ms)", &|f| {
        format!("{:.2} / {:.2}", f.show_p50, f.show_p99)
    });
    row(&format!("{hot} reminders through 2 instances"), &|f| {
        f.burst.clone()
    });
    row("web API reads/s (8 clients, 2 instances)", &|f| {
        format!("{:.0}", f.reads)
    });
}

fn run(
    url: &str,
    workflows: &WorkflowSet,
    wf_dir: &std::path::Path,
    dir: &std::path::Path,
    cases: usize,
    hot: usize,
) -> Figures {
    // 1. Four writers on different cases.
    let writers = 4;
    let per = cases / writers;
    let server = url.starts_with("postgres").then(pg::server_pid).flatten();
    let cpu0 = (
        cpu_of("self", false).map_or(0.0, |(_, t)| t),
        server.map(server_cpu),
    );
    // Migrations applied before the writers start, so that the clock measures appends.
    drop(Store::open_url(url).expect("store"));
    let t = Instant::now();
    let done: Vec<(Vec<String>, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..writers)
            .map(|w| {
                s.spawn(move || {
                    let mut store = Store::open_url(url).expect("store");
                    let mut ids = Vec::with_capacity(per);
                    let mut events = 0;
                    for i in 0..per {
                        let (id, n) = one_case(&mut store, workflows, w * per + i);
                        ids.push(id);
                        events += n;
                    }
                    (ids, events)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("writer")).collect()
    });
    let elapsed = t.elapsed().as_secs_f64();
    let events: usize = done.iter().map(|(_, n)| n).sum();
    let ids: Vec<String> = done.into_iter().flat_map(|(ids, _)| ids).collect();
    let append = events as f64 / elapsed;
    let client_cpu = cpu_of("self", false).map_or(0.0, |(_, t)| t) - cpu0.0;
    let per_event = |s: f64| s * 1e6 / events as f64;
    let server_part = match (server, cpu0.1) {
        (Some(pid), Some(before)) => {
            format!(", server {:.0} µs", per_event(server_cpu(pid) - before))
        }
        _ => String::new(),
    };
    println!(
        "append: {} cases, {events} events by {writers} writers in {elapsed:.2} s = {append:.0} events/s; CPU per event: client {:.0} µs{server_part}",
        ids.len(),
        per_event(client_cpu)
    );
    if std::env::var("VIGIE_BENCH_ONLY").as_deref() == Ok("append") {
        return Figures {
            append,
            show_p50: f64::NAN,
            show_p99: f64::NAN,
            burst: "-".into(),
            reads: f64::NAN,
        };
    }

    // 2. case show.
    let mut store = Store::open_url(url).expect("store");
    let mut lat = Vec::new();
    let now = Utc::now();
    for i in 0..2000 {
        let id = &ids[(i * 7919) % ids.len()];
        let t = Instant::now();
        let l = store.load(DEFAULT_ORG, id).expect("load");
        let v = vigie::app::json::case_json(&l.workflow, &l.case, &l.events, now);
        std::hint::black_box(serde_json::to_string(&v).expect("json"));
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    let (show_p50, show_p99) = (pct(&lat, 0.5), pct(&lat, 0.99));
    println!("case show (in process): p50 {show_p50:.3} ms, p99 {show_p99:.3} ms");

    // 3. and 4. Two instances of `vigie serve`, a sink, and an API token.
    let user = store
        .add_user(
            DEFAULT_ORG,
            "bench@example.org",
            "Bench",
            vigie::store::Role::Dpo,
            "a long bench password",
            Utc::now(),
        )
        .expect("user");
    let (_, token) = store
        .create_token(&user.email, None, "bench", Utc::now())
        .expect("token");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let arrivals: sink::Arrivals = Default::default();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(sink::sink(listener, arrivals.clone()));
    let cfg = dir.join(format!("config-{port}.yaml"));
    let mut f = std::fs::File::create(&cfg).expect("config");
    writeln!(
        f,
        "checkpoints: {{ email: false }}\ndpo: {{ email: dpo@example.org }}\nworkflows_dir: {}\nmail:\n  transport: smtp\n  from: vigie <vigie@example.org>\n  smtp: {{ host: 127.0.0.1, port: {port}, security: none, pool_size: 8 }}",
        wf_dir.display()
    )
    .expect("write config");
    let mut children = Vec::new();
    let mut webs = Vec::new();
    for n in 0..2 {
        let web_port = free_port();
        let log = std::fs::File::create(dir.join(format!("serve-{port}-{n}.log"))).expect("log");
        children.push(
            std::process::Command::new(env!("CARGO_BIN_EXE_vigie"))
                .args(["--db", url, "--config", cfg.to_str().expect("utf-8")])
                .args(["serve", "--listen", &format!("127.0.0.1:{web_port}")])
                .stderr(log)
                .spawn()
                .expect("start vigie serve"),
        );
        webs.push(web_port);
    }
    for p in &webs {
        wait_port(*p);
    }

    // The cases of step 1 have overdue reminders of their own: let the instances send
    // them, then count only the burst.
    let mut last = usize::MAX;
    loop {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let n = arrivals.lock().expect("lock").len();
        if n == last {
            break;
        }
        last = n;
    }
    arrivals.lock().expect("lock").clear();
    let d = Utc::now() + Duration::seconds(20);
    for i in 0..hot {
        let cmd = Command::Open {
            title: format!("hot {i}"),
            facts: vec![(
                "aware_at".into(),
                json!((d - Duration::hours(1)).to_rfc3339()),
            )],
            at: Utc::now(),
        };
        store
            .open_case(
                DEFAULT_ORG,
                workflows,
                "bench",
                None,
                &cmd,
                "bench",
                Utc::now(),
            )
            .expect("open hot");
    }
    // What the application layer does after every write: the dispatchers look now.
    store.wake();
    println!(
        "opened {hot} cases due at D; D is {} s away",
        (d - Utc::now()).num_seconds()
    );
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    while arrivals.lock().expect("lock").len() < hot && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let burst = {
        let arr = arrivals.lock().expect("lock");
        let copies: usize = arr.values().map(|(_, n)| n).sum();
        let mut delays: Vec<f64> = arr
            .values()
            .map(|(t, _)| (*t - d).num_milliseconds() as f64 / 1000.0)
            .collect();
        delays.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        if delays.is_empty() {
            "none arrived".to_string()
        } else {
            let span = delays[delays.len() - 1] - delays[0].max(0.0);
            let s = format!(
                "p50 {:.2} s, p99 {:.2} s, {:.0} msg/s, {} copies of {}",
                pct(&delays, 0.5),
                pct(&delays, 0.99),
                delays.len() as f64 / span.max(0.001),
                copies,
                delays.len()
            );
            println!("burst through 2 instances: {s}");
            s
        }
    };

    // 4. API reads across both instances.
    let client = reqwest::blocking::Client::new();
    let served = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let window = std::time::Duration::from_secs(5);
    std::thread::scope(|s| {
        for c in 0..8 {
            let (client, served, ids, token) = (&client, served.clone(), &ids, &token);
            let port = webs[c % 2];
            s.spawn(move || {
                let mut i = c;
                while t.elapsed() < window {
                    let id = &ids[(i * 7919) % ids.len()];
                    let r = client
                        .get(format!("http://127.0.0.1:{port}/api/cases/{id}"))
                        .bearer_auth(token)
                        .send()
                        .expect("GET");
                    assert!(r.status().is_success(), "{}", r.status());
                    std::hint::black_box(r.bytes().expect("body"));
                    served.fetch_add(1, Ordering::Relaxed);
                    i += 8;
                }
            });
        }
    });
    let reads = served.load(Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64();
    println!("web API: {reads:.0} reads/s");

    for mut c in children {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let _ = c.wait();
    }
    Figures {
        append,
        show_p50,
        show_p99,
        burst,
        reads,
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_port(port: u16) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "vigie serve did not listen on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
