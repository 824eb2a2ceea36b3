//! `vigie store copy` (SQLite to PostgreSQL and back), end to end: the real binary, real
//! SQLite files, a real PostgreSQL (the throwaway cluster of `common::pg`), a real SMTP
//! server on loopback for the reminders and the notification campaign, real `vigie serve`
//! processes. What the copy must keep is checked by running the same commands against
//! the source and the target and comparing what they print, byte for byte.
//!
//! The only lines set aside in those comparisons are the ones that read the clock of the
//! run (`"as_of"`, `"seconds_left"` in `case show --json` / `case list --json`): two
//! runs never happen at the same instant. The in-process test of 10,000 cases passes one
//! fixed `now` to both stores, and compares those too.

use crate::common;

use common::process::{Serve, ServeBuilder};
use common::smtp::{Received, Sink, free_port, read_sink};
use common::web::{Browser, PASSWORD};
use common::{Output, Vigie, pg};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// The binary against any database: `Vigie` owns one fresh SQLite file; here a test names
// the database (a path or a URL) itself, since a copy has two.

#[derive(Clone)]
struct Db {
    db: String,
    config: Option<PathBuf>,
}

impl Db {
    fn new(db: impl Into<String>) -> Db {
        Db {
            db: db.into(),
            config: None,
        }
    }

    fn with_config(&self, config: &Path) -> Db {
        Db {
            db: self.db.clone(),
            config: Some(config.to_path_buf()),
        }
    }

    fn command(&self) -> Command {
        let mut c = common::command_on(&self.db);
        c.env("VIGIE_ACTOR", "test-dpo");
        if let Some(cfg) = &self.config {
            c.arg("--config").arg(cfg);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command().args(args).output().expect("vigie runs");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
        }
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.code, 0,
            "vigie --db {} {args:?} should succeed\nstdout:\n{}\nstderr:\n{}",
            self.db, out.stdout, out.stderr
        );
        out.stdout
    }

    #[track_caller]
    fn json(&self, args: &[&str]) -> Value {
        let text = self.ok(args);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: no JSON ({e}):\n{text}"))
    }

    /// `vigie serve` in the background, output to `log`, the clock shifted by `offset`.
    fn serve(&self, log: &Path, offset: &str, extra: &[&str]) -> Serve {
        ServeBuilder::on(self.command(), log)
            .args(&["--idle-check-secs", "1"])
            .args(extra)
            .env("VIGIE_NOW_OFFSET", offset)
            .spawn()
    }
}

/// A child process, SIGKILLed and reaped when dropped.
#[track_caller]
fn wait_for<T>(what: &str, diag: impl Fn() -> String, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        if start.elapsed() > DEADLINE {
            panic!("timed out waiting for {what}\n{}", diag());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts one `vigie: error:` line and the exit code; returns the line.
#[track_caller]
fn one_line(out: &Output, code: i32, what: &str) -> String {
    assert_eq!(
        out.code, code,
        "{what}: exit {code} expected\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("vigie: error: "),
        "{what}: one 'vigie: error:' line expected, stderr was:\n{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{what}: stdout {:?}", out.stdout);
    lines[0].to_string()
}

// ---------------------------------------------------------------------------------------
// What a database shows: the same commands on both sides.

/// Drops the lines that read the clock of the run (see the module's comment).
fn without_clock(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let t = l.trim_start();
            !t.starts_with("\"as_of\":") && !t.starts_with("\"seconds_left\":")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Every view of the register and the accounts, per organisation: (what, output).
fn views(db: &Db) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |what: String, text: String| out.push((what, text));
    add("org list".into(), db.ok(&["org", "list"]));
    add("user list --all".into(), db.ok(&["user", "list", "--all"]));
    add(
        "user token list --all --json".into(),
        db.ok(&["user", "token", "list", "--all", "--json"]),
    );
    for org in orgs(db) {
        let o = |args: &[&str]| -> Vec<String> {
            let mut a = vec!["--org".to_string(), org.clone()];
            a.extend(args.iter().map(|s| s.to_string()));
            a
        };
        let run = |args: &[&str]| {
            let a = o(args);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            db.ok(&a)
        };
        for args in [
            &["register", "--csv"][..],
            &["register", "--json"],
            &["register"],
            &["outbox", "list", "--all", "--json"],
            &["org", "show", "--json"],
            &["user", "list"],
            &["user", "list", "--json"],
        ] {
            add(format!("--org {org} {}", args.join(" ")), run(args));
        }
        let list = run(&["case", "list", "--all", "--json"]);
        add(
            format!("--org {org} case list --all --json"),
            without_clock(&list),
        );
        let list: Value = serde_json::from_str(&list).expect("case list JSON");
        for c in list.as_array().expect("a list") {
            let id = c["id"].as_str().expect("an id");
            add(
                format!("--org {org} case show {id} --json"),
                without_clock(&run(&["case", "show", id, "--json"])),
            );
        }
    }
    out
}

fn orgs(db: &Db) -> Vec<String> {
    let text = db.ok(&["org", "list"]);
    let ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .map(String::from)
        .collect();
    assert!(ids.contains(&"default".to_string()), "org list:\n{text}");
    ids
}

#[track_caller]
fn assert_same_views(a: &[(String, String)], b: &[(String, String)], what: &str) {
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(a), names(b), "{what}: the same commands on both");
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            let (xl, yl): (Vec<&str>, Vec<&str>) = (x.lines().collect(), y.lines().collect());
            let i = (0..xl.len().max(yl.len()))
                .find(|&i| xl.get(i) != yl.get(i))
                .unwrap_or(0);
            let around = |l: &[&str]| l[i.saturating_sub(8)..(i + 3).min(l.len())].join("\n");
            panic!(
                "{what}: `{name}` differs at line {}:\n--- first\n{}\n--- second\n{}",
                i + 1,
                around(&xl),
                around(&yl)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// People for the notification campaign

const HEADER: &str = "id;prenom;nom;email;adresse;code_postal;ville";

fn people_csv(n: usize) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..n {
        s.push_str(&format!(
            "\"P{i:06}\";\"Zoé\";\"Martin{i}\";\"p{i}@example.org\";\"{i} rue de la Paix\";\"75001\";\"Paris\"\n"
        ));
    }
    s
}

fn counts(v: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no '{k}' in {v:#}"));
    (n("sent"), n("rejected"), n("failed"), n("skipped"))
}

fn config(port: u16) -> String {
    format!(
        r#"checkpoints: {{ email: false }}
organisation:
  name: Exemple SA
dpo:
  name: Dora Delegate
  email: dpo@example.org
  phone: "+33 1 23 45 67 89"
mail:
  from: "vigie <vigie@example.org>"
  transport: smtp
  smtp:
    host: 127.0.0.1
    port: {port}
    security: none
    timeout_secs: 10
"#
    )
}

fn outbox(db: &Db, org: &str) -> Vec<Value> {
    db.json(&["--org", org, "outbox", "list", "--all", "--json"])
        .as_array()
        .expect("rows")
        .clone()
}

fn st<'a>(r: &'a Value, k: &str) -> &'a str {
    r[k].as_str().unwrap_or("")
}

fn shifted_now(hours: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(hours))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// (Message-ID, recipient) of every message the sink holds.
fn deliveries(msgs: &[Received]) -> Vec<(String, String)> {
    msgs.iter()
        .flat_map(|m| {
            let mid = m.message_id.clone().unwrap_or_default();
            m.rcpt.iter().map(move |r| (mid.clone(), r.clone()))
        })
        .collect()
}

fn api_me(base: &str, token: &str) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .expect("the server answers");
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

// ---------------------------------------------------------------------------------------
// 1. The five seeds and everything around them, to PostgreSQL and back

#[test]
fn seeds_accounts_campaign_and_reminders_survive_a_copy_to_postgres_and_back() {
    let v = Vigie::new();
    let dir = v.dir().to_path_buf();
    let port = free_port();
    let cfg = dir.join("config.yaml");
    std::fs::write(&cfg, config(port)).unwrap();
    let sink_dir = dir.join("sink");
    let mut sink = Sink::start(port, &sink_dir, &dir.join("sink.log"));
    let src = Db::new(v.db_path().to_str().unwrap()).with_config(&cfg);

    // The five seeds, a second organisation with a profile, users, a token.
    src.ok(&["demo"]);
    src.ok(&["org", "add", "acme", "--name", "ACME SA"]);
    src.ok(&[
        "org",
        "set",
        "acme",
        "--identifier",
        "552100554",
        "--dpo-name",
        "Alice Martin",
        "--dpo-email",
        "reject-dpo@acme.example",
        "--representative-name",
        "Jean Dupont",
        "--representative-role",
        "Directeur général",
    ]);
    for (org, email, role) in [
        ("default", "dpo@example.org", "dpo"),
        ("default", "viewer@example.org", "viewer"),
        ("acme", "it@acme.example", "contributor"),
    ] {
        let out = v.run_stdin(
            &[
                "--org", org, "user", "add", email, "--role", role, "--name", "Camille",
            ],
            &format!("{PASSWORD}\n"),
        );
        assert_eq!(out.code, 0, "user add {email}: {}", out.stderr);
    }
    let token = src
        .ok(&["user", "token", "dpo@example.org", "--name", "backup"])
        .trim()
        .to_string();

    // Cases whose reminders end sent (r2), failing for one recipient after another got it
    // (r1: the owner's mailbox answers 451 until `busy-ok`), dead (a1: acme's only
    // recipient is refused), and pending (the later ones).
    let aware = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let open = |org: &str, id: &str, extra: &[&str]| {
        let mut a = vec![
            "--org",
            org,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "Fichier exposé",
            "--aware-at",
            &aware,
            "--id",
            id,
        ];
        a.extend_from_slice(extra);
        src.ok(&a);
    };
    open(
        "default",
        "r1",
        &["--set", "owners=[busy-owner@example.org]"],
    );
    open("default", "r2", &[]);
    open("acme", "a1", &[]);
    open(
        "default",
        "c1",
        &[
            "--set",
            "measures=Les mots de passe ont été réinitialisés",
            "--set",
            "individual_advice=Changez votre mot de passe",
        ],
    );
    src.ok(&[
        "case",
        "set",
        "r2",
        "risk=high",
        "subjects_approx=1200",
        "nature=[confidentiality]",
    ]);

    // A campaign of 6 people, stopped after 3: the ledger holds 3.
    let csv = dir.join("people.csv");
    std::fs::write(&csv, people_csv(6)).unwrap();
    let csv_arg = csv.to_str().unwrap();
    let first = src.json(&[
        "notify",
        "c1",
        "--recipients",
        csv_arg,
        "--limit",
        "3",
        "--json",
    ]);
    assert_eq!(counts(&first), (3, 0, 0, 0), "{first:#}");

    // The dispatcher, 70 hours later, until nothing due is left waiting untried.
    let mut serve = src.serve(&dir.join("serve-src.log"), "+70h", &["--listen", "none"]);
    let diag = || {
        format!(
            "{}\n{}\nsink: {} message(s)",
            std::fs::read_to_string(dir.join("serve-src.log")).unwrap_or_default(),
            src.run(&["outbox", "list", "--all"]).stdout,
            read_sink(&sink_dir).len()
        )
    };
    wait_for("sent, failing and dead reminders", diag, || {
        let now = shifted_now(70);
        let def = outbox(&src, "default");
        let acme = outbox(&src, "acme");
        let untried = def.iter().chain(&acme).any(|r| {
            st(r, "state") == "pending"
                && r["attempts"] == 0
                && st(r, "next_attempt_at") <= now.as_str()
        });
        let has = |rows: &[Value], case: &str, state: &str| {
            rows.iter()
                .any(|r| st(r, "case") == case && st(r, "state") == state)
        };
        (!untried
            && has(&def, "r1", "failed")
            && has(&def, "r2", "sent")
            && has(&acme, "a1", "dead")
            && (has(&def, "r2", "pending") || has(&def, "r1", "pending")))
        .then_some(())
    });
    assert_eq!(
        serve.term().and_then(|s| s.code()),
        Some(0),
        "serve stops cleanly on SIGTERM"
    );

    // A session, signed in through the web page of the source.
    let log = dir.join("web-src.log");
    let mut web = src.serve(&log, "0s", &["--listen", "127.0.0.1:0"]);
    let base = web.url();
    let mut browser = Browser::new(&base);
    let r = browser.login("dpo@example.org", PASSWORD);
    assert_eq!(r.status().as_u16(), 303, "signed in");
    assert_eq!(browser.get("/").0, 200, "the session works on the source");
    let (status, me) = api_me(&base, &token);
    assert_eq!(status, 200, "{me}");
    // A calendar address made on the settings page (a DPO subscribes once).
    let feed = common::web::calendar_address(&mut browser);
    let calendar = |base: &str| {
        let r = reqwest::blocking::get(format!("{base}{feed}")).unwrap();
        let status = r.status().as_u16();
        // DTSTAMP is the time of the request and the links name the instance (its
        // port): compared without them. (Lines folded at 75 octets can split the
        // address, so the folds are undone first.)
        let text: String = r
            .text()
            .unwrap()
            .replace("\r\n ", "")
            .replace("\n ", "")
            .replace(base, "BASE")
            .lines()
            .filter(|l| !l.starts_with("DTSTAMP"))
            .collect::<Vec<_>>()
            .join("\n");
        (status, text)
    };
    let src_calendar = calendar(&base);
    assert_eq!(src_calendar.0, 200, "{}", src_calendar.1);
    assert!(
        src_calendar.1.contains("BEGIN:VEVENT"),
        "{}",
        src_calendar.1
    );
    assert_eq!(
        web.term().and_then(|s| s.code()),
        Some(0),
        "serve stops cleanly on SIGTERM"
    );
    let src_sent = read_sink(&sink_dir);

    // The copy.
    let url = pg::url();
    let pgdb = Db::new(url.clone()).with_config(&cfg);
    let started = Instant::now();
    let report = src.json(&["store", "copy", "--to", &url, "--json"]);
    println!("copy of the seeds: {:?}", started.elapsed());
    let c = &report["copied"];
    for k in [
        "organisations",
        "cases",
        "events",
        "timers",
        "campaigns",
        "ledger_rows",
        "users",
        "sessions",
        "tokens",
        "calendar_tokens",
    ] {
        assert!(c[k].as_u64().unwrap_or(0) > 0, "{k} copied: {report:#}");
    }
    assert_eq!(report["verified_cases"], c["cases"], "{report:#}");
    assert_eq!(report["verified_events"], c["events"], "{report:#}");

    // The same register, cases, outbox, organisations and accounts on both.
    let before = views(&src);
    assert!(before.len() > 20, "{} views", before.len());
    assert_same_views(&before, &views(&pgdb), "SQLite -> PostgreSQL");
    let verified = pgdb.ok(&["audit", "verify"]);
    assert!(!verified.trim().is_empty());

    // The token and the session made on the source work on the target.
    let log = dir.join("web-pg.log");
    let mut web = pgdb.serve(&log, "0s", &["--listen", "127.0.0.1:0"]);
    let base = web.url();
    let (status, me2) = api_me(&base, &token);
    assert_eq!((status, &me2), (200, &me), "the token on the target");
    let (status, _) = api_me(&base, "not-a-token");
    assert_eq!(status, 401, "a wrong token is still refused");
    let pg_calendar = calendar(&base);
    assert!(
        pg_calendar == src_calendar,
        "the calendar address made on the source serves the same feed on the target: {} {} bytes, then {} {} bytes",
        src_calendar.0,
        src_calendar.1.len(),
        pg_calendar.0,
        pg_calendar.1.len()
    );
    let mut again = Browser::new(&base);
    again.cookies = browser.cookies.clone();
    assert_eq!(again.get("/").0, 200, "the session on the target");
    assert_eq!(Browser::new(&base).get("/").0, 303, "no session: sign in");
    assert_eq!(
        web.term().and_then(|s| s.code()),
        Some(0),
        "serve stops cleanly on SIGTERM"
    );

    // The campaign resumes on the target: the 3 already notified are skipped.
    let rerun = pgdb.json(&["notify", "c1", "--recipients", csv_arg, "--json"]);
    assert_eq!(counts(&rerun), (3, 0, 0, 3), "{rerun:#}");
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for m in read_sink(&sink_dir) {
        for r in m.rcpt.iter().filter(|r| r.starts_with('p')) {
            *per.entry(r.clone()).or_default() += 1;
        }
    }
    assert_eq!(per.len(), 6, "{per:?}");
    assert!(per.values().all(|n| *n == 1), "nobody twice: {per:?}");

    // The failing reminder goes out on the target to the owner only: the DPO had it.
    std::fs::write(sink_dir.join("busy-ok"), "").unwrap();
    let log = dir.join("serve-pg.log");
    let mut serve = pgdb.serve(&log, "+71h", &["--listen", "none", "--lease-secs", "3"]);
    let diag = || {
        format!(
            "{}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            pgdb.run(&["outbox", "list", "--all"]).stdout
        )
    };
    wait_for("r1's reminders sent from the target", diag, || {
        let rows = outbox(&pgdb, "default");
        let r1: Vec<&Value> = rows.iter().filter(|r| st(r, "case") == "r1").collect();
        (r1.iter().any(|r| st(r, "state") == "sent")
            && !r1.iter().any(|r| st(r, "state") == "failed"))
        .then_some(())
    });
    assert_eq!(
        serve.term().and_then(|s| s.code()),
        Some(0),
        "serve stops cleanly on SIGTERM"
    );
    let all = read_sink(&sink_dir);
    let new = &all[src_sent.len()..];
    assert!(
        new.iter()
            .any(|m| m.rcpt == ["busy-owner@example.org".to_string()]),
        "the owner got r1's reminder from the target: {new:#?}"
    );
    let pairs = deliveries(&all);
    let unique: BTreeSet<&(String, String)> = pairs.iter().collect();
    assert_eq!(
        unique.len(),
        pairs.len(),
        "a reminder reached a recipient twice: {pairs:#?}"
    );
    sink.stop();

    // And back into a new SQLite file: identical again.
    let back_path = dir.join("back.db");
    let back = Db::new(back_path.to_str().unwrap()).with_config(&cfg);
    let report = pgdb.json(&[
        "store",
        "copy",
        "--to",
        back_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["verified_cases"], report["copied"]["cases"]);
    let on_pg = views(&pgdb);
    assert_same_views(&on_pg, &views(&back), "PostgreSQL -> SQLite");
    back.ok(&["audit", "verify"]);
}

// ---------------------------------------------------------------------------------------
// 2. 10,000 cases

/// A SQLite database of `n` cases (most in `default`, every 100th in `acme`), built
/// in-process with the library; some advanced, some closed without notice.
fn big_sqlite(path: &Path, n: usize) {
    use chrono::Utc;
    use serde_json::json;
    use vigie::case::Command as Cmd;
    use vigie::store::{DEFAULT_ORG, Store};
    let workflows = vigie::catalog::WorkflowSet::load(None).expect("embedded workflows");
    let mut store = Store::open_url(path.to_str().unwrap()).expect("store");
    store.add_organisation("acme", "ACME SA").expect("acme");
    let base = Utc::now() - chrono::Duration::days(40);
    let f = |pairs: &[(&str, Value)]| -> Vec<(String, Value)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    for i in 0..n {
        let org = if i % 100 == 7 { "acme" } else { DEFAULT_ORG };
        let aware = base + chrono::Duration::minutes(i as i64);
        let open = Cmd::Open {
            title: format!("Cas n°{i} — fichier « clients »"),
            facts: f(&[("aware_at", json!(aware.to_rfc3339()))]),
            at: aware,
        };
        let wf = if i % 3 == 0 { "be" } else { "fr" };
        let l = store
            .open_case(org, &workflows, wf, None, &open, "bulk", aware)
            .expect("open");
        let id = l.case.id.clone();
        let adv = |event: &str, at, facts| Cmd::Advance {
            event: event.to_string(),
            facts,
            note: None,
            at,
            // Dated weeks back on purpose (bulk history): the reason is required.
            reason: Some("history loaded for the copy test".into()),
        };
        if i % 2 == 0 {
            let at = aware + chrono::Duration::hours(1);
            store
                .execute(
                    org,
                    &id,
                    &adv(
                        "contain",
                        at,
                        f(&[("contained_at", json!(at.to_rfc3339()))]),
                    ),
                    "bulk",
                    Utc::now(),
                )
                .expect("contain");
        }
        if i % 5 == 0 {
            let at = aware + chrono::Duration::hours(2);
            store
                .execute(
                    org,
                    &id,
                    &adv(
                        "assess",
                        at,
                        f(&[
                            ("risk", json!("high")),
                            ("risk_rationale", json!("NIR exposés")),
                        ]),
                    ),
                    "bulk",
                    Utc::now(),
                )
                .expect("assess");
        }
    }
}

/// Every case's `case show --json` (as src/cli/case.rs prints it, at one fixed `now`)
/// and the register (rows, CSV) of each organisation.
fn in_process_views(url: &str, now: chrono::DateTime<chrono::Utc>) -> BTreeMap<String, String> {
    let cfg = vigie::config::Config::default();
    let workflows = vigie::catalog::WorkflowSet::load(None).expect("workflows");
    let app = vigie::app::App::new(url.to_string(), cfg, workflows);
    let mut store = vigie::store::Store::open_url(url).expect("open");
    let mut out = BTreeMap::new();
    for (org, _) in store.organisations().expect("orgs") {
        let (rows, unreadable) = app.register(&mut store, &org).expect("register");
        assert!(unreadable.is_empty(), "{unreadable:?}");
        out.insert(
            format!("{org} register"),
            serde_json::to_string_pretty(&rows).unwrap(),
        );
        out.insert(format!("{org} register.csv"), vigie::register::csv(&rows));
        for id in store.case_ids(&org, true).expect("ids") {
            let l = app.case(&mut store, &org, &id).expect("case");
            let json = vigie::app::json::case_json(&l.workflow, &l.case, &l.events, now);
            out.insert(
                format!("{org} case {id}"),
                serde_json::to_string_pretty(&json).unwrap(),
            );
        }
    }
    out
}

#[test]
fn ten_thousand_cases_copy_to_postgres_identically_and_a_killed_copy_is_refused() {
    const N: usize = 10_000;
    let v = Vigie::new();
    let path = v.db_path().to_path_buf();
    let started = Instant::now();
    big_sqlite(&path, N);
    println!("built {N} cases in SQLite: {:?}", started.elapsed());
    let src = Db::new(path.to_str().unwrap());

    let url = pg::url();
    let started = Instant::now();
    let report = src.json(&["store", "copy", "--to", &url, "--json"]);
    println!(
        "store copy of {N} cases ({} events) to PostgreSQL: {:?}",
        report["copied"]["events"],
        started.elapsed()
    );
    assert_eq!(report["copied"]["cases"], N as u64, "{report:#}");
    assert_eq!(report["verified_cases"], N as u64, "{report:#}");

    let now = chrono::Utc::now();
    let a = in_process_views(path.to_str().unwrap(), now);
    let b = in_process_views(&url, now);
    assert_eq!(
        a.len(),
        N + 4,
        "every case and two registers per organisation"
    );
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same cases"
    );
    for (k, x) in &a {
        assert_eq!(x, &b[k], "{k} differs");
    }
    let pgdb = Db::new(url.clone());
    let verified = pgdb.ok(&["audit", "verify"]);
    println!("audit verify on the copy: {}", verified.trim());

    // Killed half-way: the copy's own progress line says cases are being written.
    let killed = pg::url();
    let mut child = src
        .command()
        .args(["store", "copy", "--to", &killed])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("store copy starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let seen = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("copied 2000 case(s)"));
    assert!(seen.is_some(), "the copy reports its progress");
    let _ = child.kill();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt as _;
    if status.signal() == Some(9) {
        refused_as_incomplete(&Db::new(killed.clone()), "killed copy");
    } else {
        // 8,000 cases and the verification still to go when the line came out: not
        // expected, but then this half proves nothing; the simulated one below does.
        println!("the copy finished before SIGKILL reached it ({status})");
    }
    // The source is untouched by the killed copy (the first copy above showed that a
    // copy into a new database then succeeds).
    src.ok(&["audit", "verify"]);
}

/// Every command refuses a database a copy did not finish, with one line naming
/// `store copy`; `vigie serve` too (stopped by the test if it ran anyway).
#[track_caller]
fn refused_as_incomplete(db: &Db, what: &str) {
    let dir = tempfile::TempDir::new().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        "dpo: { email: dpo@example.org }\nmail: { from: vigie <vigie@example.org>, transport: file, outbox_dir: ./outbox }\n",
    )
    .unwrap();
    let db = db.with_config(&cfg);
    for args in [
        &["case", "list"][..],
        &["register", "--csv"],
        &["audit", "verify"],
        &["outbox", "list"],
        &["org", "list"],
        &["user", "list", "--all"],
        &["serve", "--listen", "none"],
    ] {
        let out = bounded(&db, args);
        assert_ne!(out.code, 0, "{what}: {args:?} accepted an incomplete copy");
        let line = one_line(&out, out.code, &format!("{what}: {args:?}"));
        assert!(
            line.contains("store copy") && line.contains("did not finish"),
            "{what}: {args:?}: {line}"
        );
    }
}

/// [`Db::run`] for a command that might not return (`serve`): killed after the deadline,
/// which then fails the caller's assertions (exit -1).
fn bounded(db: &Db, args: &[&str]) -> Output {
    let child = db
        .command()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigie runs");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.expect("vigie finishes"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            rx.recv().expect("reaped").expect("output")
        }
    };
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8"),
    }
}

// ---------------------------------------------------------------------------------------
// 3. Refusals

/// A small source: one case, one organisation.
fn small_source(v: &Vigie) -> Db {
    let src = Db::new(v.db_path().to_str().unwrap());
    src.ok(&[
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "T",
        "--aware-at",
        "2026-11-20T09:00",
        "--id",
        "s1",
    ]);
    src
}

/// The tables of a PostgreSQL database (none before vigie first opens it).
fn pg_tables(url: &str) -> usize {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    let row = c
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()",
            &[],
        )
        .expect("count");
    row.get::<_, i64>(0) as usize
}

fn pg_meta(url: &str, key: &str) -> Option<String> {
    let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
    c.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .expect("meta")
        .map(|r| r.get(0))
}

#[test]
fn a_non_empty_target_is_refused_and_left_as_it_was() {
    let v = Vigie::new();
    let src = small_source(&v);
    let url = pg::url();
    let target = Db::new(url.clone());
    target.ok(&["org", "add", "acme", "--name", "ACME SA"]);
    let before = views(&target);
    let out = src.run(&["store", "copy", "--to", &url]);
    let line = one_line(&out, 2, "non-empty target");
    assert!(line.contains("not empty"), "{line}");
    assert_eq!(pg_meta(&url, "copied"), None, "nothing written");
    assert_same_views(&before, &views(&target), "the refused target");

    // Nor is one whose only content is the default organisation's profile: the copy
    // would have replaced it with the source's.
    let profiled = pg::url();
    let target = Db::new(profiled.clone());
    target.ok(&["org", "set", "default", "--dpo-email", "dpo@target.example"]);
    let before = views(&target);
    let out = src.run(&["store", "copy", "--to", &profiled]);
    assert!(one_line(&out, 2, "a profile only").contains("not empty"));
    assert_same_views(&before, &views(&target), "the refused target");

    // A finished copy is not empty either.
    let done = pg::url();
    src.ok(&["store", "copy", "--to", &done]);
    let marked = pg_meta(&done, "copied");
    let out = src.run(&["store", "copy", "--to", &done]);
    assert!(one_line(&out, 2, "copied twice").contains("not empty"));
    assert_eq!(pg_meta(&done, "copied"), marked);
}

#[test]
fn a_missing_source_a_same_database_and_an_unknown_scheme_are_refused() {
    let v = Vigie::new();
    let src = small_source(&v);
    let snapshot = v.db_snapshot();
    let path = v.db_path().to_str().unwrap().to_string();

    // --from a file that does not exist: not created, the target untouched.
    let missing = v.dir().join("nope.db");
    let url = pg::url();
    let out = src.run(&[
        "store",
        "copy",
        "--from",
        missing.to_str().unwrap(),
        "--to",
        &url,
    ]);
    let line = one_line(&out, 2, "missing source");
    assert!(line.contains("nope.db"), "{line}");
    assert!(!missing.exists(), "the missing source was created");
    assert_eq!(pg_tables(&url), 0, "the target was written");

    // The same database, however it is named.
    for (from, to) in [
        (path.clone(), path.clone()),
        (path.clone(), format!("sqlite://{path}")),
        (
            path.clone(),
            format!(
                "{}/./{}",
                v.dir().display(),
                v.db_path().file_name().unwrap().to_str().unwrap()
            ),
        ),
    ] {
        let out = src.run(&["store", "copy", "--from", &from, "--to", &to]);
        let line = one_line(&out, 2, &format!("{from} -> {to}"));
        assert!(line.contains("same database"), "{from} -> {to}: {line}");
    }
    let out = Db::new(url.clone()).run(&["store", "copy", "--to", &url]);
    let line = one_line(&out, 2, "the same PostgreSQL database");
    assert!(line.contains("same database"), "{line}");
    assert_eq!(v.db_snapshot(), snapshot, "the source changed");

    // Unsupported schemes, either side: nothing created.
    let new = v.dir().join("new.db");
    for (from, to) in [
        (path.clone(), "mysql://root@localhost/vigie".to_string()),
        (
            "mysql://root@localhost/vigie".to_string(),
            new.display().to_string(),
        ),
    ] {
        let out = src.run(&["store", "copy", "--from", &from, "--to", &to]);
        let line = one_line(&out, 2, &format!("{from} -> {to}"));
        assert!(line.contains("mysql"), "{line}");
    }
    assert!(!new.exists(), "a target was created");
    assert_eq!(v.db_snapshot(), snapshot, "the source changed");
}

#[test]
fn a_password_in_a_url_is_never_printed() {
    let Some(url) = pg::password_url(pg::PASSWORD) else {
        println!("VIGIE_TEST_POSTGRES is set: no local password role");
        return;
    };
    let v = Vigie::new();
    let src = small_source(&v);
    let secret = pg::PASSWORD;
    let mut outputs = Vec::new();
    outputs.push(src.run(&["store", "copy", "--to", &url]));
    assert_eq!(outputs[0].code, 0, "{:?}", outputs[0]);
    outputs.push(src.run(&["store", "copy", "--to", &url, "--json"]));
    one_line(&outputs[1], 2, "non-empty target with a password");
    // Back from it, with the password in --from.
    let back = v.dir().join("back.db");
    outputs.push(src.run(&[
        "store",
        "copy",
        "--from",
        &url,
        "--to",
        back.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(outputs[2].code, 0, "{:?}", outputs[2]);
    // A wrong password, and a database that does not exist.
    let wrong = pg::password_url("Wr0ng-Secret-Horse").unwrap();
    let out = src.run(&["store", "copy", "--to", &wrong]);
    assert_ne!(out.code, 0);
    one_line(&out, out.code, "wrong password");
    assert!(!out.stderr.contains("Wr0ng-Secret-Horse"), "{}", out.stderr);
    let nodb = format!("{}_missing", url);
    outputs.push(src.run(&["store", "copy", "--to", &nodb]));
    one_line(&outputs[3], outputs[3].code, "no such database");
    assert_ne!(outputs[3].code, 0);
    for o in &outputs {
        assert!(
            !o.stdout.contains(secret) && !o.stderr.contains(secret),
            "the password was printed: {o:?}"
        );
    }
    // It said where it copied: the role and the database, never the password.
    assert!(
        outputs[0].stdout.contains(pg::PASSWORD_ROLE),
        "{:?}",
        outputs[0]
    );
}

#[test]
fn a_target_marked_incomplete_is_refused_until_copied_again() {
    let v = Vigie::new();
    let src = small_source(&v);
    let url = pg::url();
    src.ok(&["store", "copy", "--to", &url]);
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
    c.execute(
        "UPDATE meta SET value = 'incomplete: started 2026-11-27T10:00:00+00:00' WHERE key = 'copied'",
        &[],
    )
    .expect("mark");
    refused_as_incomplete(&Db::new(url.clone()), "marked incomplete");
    let out = src.run(&["store", "copy", "--to", &url]);
    let line = one_line(&out, out.code, "a copy into an incomplete copy");
    assert_ne!(out.code, 0);
    assert!(line.contains("store copy"), "{line}");

    // A SQLite target too (copied back), marked the way anyone holding the file could.
    let back = Vigie::new();
    let fresh = pg::url();
    src.ok(&["store", "copy", "--to", &fresh]);
    let back_db = Db::new(back.db_path().to_str().unwrap());
    Db::new(fresh.clone()).ok(&["store", "copy", "--to", back.db_path().to_str().unwrap()]);
    back.sql(
        "UPDATE meta SET value = 'incomplete: started 2026-11-27T10:00:00+00:00' WHERE key = 'copied'",
        &[],
    );
    refused_as_incomplete(&back_db, "SQLite marked incomplete");
}
