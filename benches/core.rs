//! Core benchmark (printed, not asserted): open 10,000 cases and append 100,000 events
//! to a real SQLite file, then time `case show` (load + fold + clocks + JSON).
//! Targets (issue 2): >= 5,000 events/s, `case show` under 5 ms.
//!
//! Run: cargo bench --bench core   (VIGIE_BENCH_CASES=1000 for a quicker run)

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::time::Instant;
use vigie::case::Command;
use vigie::catalog::WorkflowSet;
use vigie::store::{DEFAULT_ORG, Store};

fn main() {
    let cases: usize = std::env::var("VIGIE_BENCH_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.db");
    let workflows = WorkflowSet::load(None).expect("embedded workflows");
    let mut store = Store::open(&db).expect("store");
    let base = Utc::now() - Duration::days(30);
    let f = |pairs: &[(&str, Value)]| -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };

    let started = Instant::now();
    let mut events = 0usize;
    let mut ids = Vec::with_capacity(cases);
    for i in 0..cases {
        let aware = base + Duration::minutes(i as i64);
        let open = Command::Open {
            title: format!("bench case {i}"),
            facts: f(&[("aware_at", json!(aware.to_rfc3339()))]),
            at: aware,
        };
        let l = store
            .open_case(DEFAULT_ORG, &workflows, "fr", None, &open, "bench", aware)
            .expect("open");
        let id = l.case.id.clone();
        events += 1;
        let mut at = aware;
        let step = |store: &mut Store, cmd: Command| {
            store
                .execute(DEFAULT_ORG, &id, &cmd, "bench", Utc::now())
                .expect("append");
        };
        let adv = |event: &str, at, facts: Vec<(String, Value)>| Command::Advance {
            event: event.into(),
            facts,
            note: None,
            at,
            reason: None,
        };
        at += Duration::hours(1);
        step(
            &mut store,
            adv(
                "contain",
                at,
                f(&[("contained_at", json!(at.to_rfc3339()))]),
            ),
        );
        at += Duration::hours(1);
        step(
            &mut store,
            adv(
                "assess",
                at,
                f(&[
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
                &mut store,
                Command::SetFacts {
                    facts: f(&[(k, v)]),
                    note: None,
                    at,
                    reason: None,
                },
            );
        }
        at += Duration::hours(2);
        step(&mut store, adv("notify_authority", at, vec![]));
        at += Duration::hours(2);
        step(
            &mut store,
            adv(
                "notify_individuals",
                at,
                f(&[("individuals_channel", json!("e-mail"))]),
            ),
        );
        events += 9;
        ids.push(id);
    }
    let elapsed = started.elapsed();
    println!(
        "append: {cases} cases, {events} events in {:.2} s = {:.0} events/s (one IMMEDIATE transaction per command, WAL, synchronous=NORMAL)",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );

    // `case show`: a fresh Store per sample would measure opening the file; the CLI
    // does that once per process, so both are reported.
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
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    println!(
        "case show (in process, load + fold + clocks + JSON): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} cases",
        pct(0.5),
        pct(0.99),
        lat[lat.len() - 1],
        lat.len()
    );
    let bin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/vigie");
    if bin.exists() {
        let mut proc_lat = Vec::new();
        for i in 0..50 {
            let id = &ids[(i * 31) % ids.len()];
            let t = Instant::now();
            let out = std::process::Command::new(&bin)
                .args([
                    "--db",
                    db.to_str().expect("utf-8 path"),
                    "case",
                    "show",
                    id,
                    "--json",
                ])
                .output()
                .expect("run vigie");
            assert!(out.status.success());
            proc_lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        proc_lat.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        println!(
            "vigie case show --json (whole process: start, open db, compile pinned workflow, print): p50 {:.1} ms, p99 {:.1} ms",
            proc_lat[proc_lat.len() / 2],
            proc_lat[proc_lat.len() * 99 / 100]
        );
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!("database: {:.1} MiB", size as f64 / 1048576.0);
}
