//! Hostile input, second round (issue 23): machine formats that stay exact, facts
//! checked against what the law's forms accept, NUL refused alike by both backends,
//! disabled users' calendar addresses, decisions from the command line under
//! concurrent writers, copies of a database being written, error messages that cannot
//! be turned around, and events recorded long after their date said in the open.

use crate::both_backends;
use crate::common;

use common::web::{PASSWORD, Server, calendar_address, form_token};
use common::{Vigie, pg};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

both_backends! {
    machine_formats_go_out_byte_exact,
    counts_and_country_codes_are_checked_at_input,
    nul_is_refused_at_input_on_every_channel,
    disabling_a_user_ends_their_calendar_address,
    cli_decisions_are_decided_again_under_concurrent_writers,
    a_step_dated_more_than_a_day_back_needs_a_reason_and_says_so,
    a_rewritten_recording_time_is_caught_by_a_checkpoint,
}

/// Whether any string in `v` is `s`.
fn holds(v: &Value, s: &str) -> bool {
    match v {
        Value::String(x) => x == s,
        Value::Array(items) => items.iter().any(|i| holds(i, s)),
        Value::Object(m) => m.values().any(|i| holds(i, s)),
        _ => false,
    }
}

// N2 ----------------------------------------------------------------------------------

fn machine_formats_go_out_byte_exact() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    // A Windows-1252 paste (U+0092), DEL and NEL: data, not terminal commands.
    let pasted = "l\u{92}accès \u{7f} coupé\u{85}fin";
    v.ok(&["case", "set", "c1", &format!("measures={pasted}")]);

    let out = v.ok(&["draft", "c1", "edpb_notification", "--format", "json"]);
    let doc: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("draft --format json is not JSON ({e}):\n{out}"));
    assert!(holds(&doc, pasted), "the value reads back whole:\n{out}");
    // Escaped the JSON way (\u0092), never the Rust way (\u{92}).
    assert!(!out.contains("\\u{"), "{out}");
    assert!(out.contains("\\u0092") && out.contains("\\u007f"), "{out}");

    let out = v.ok(&["register", "--format", "json"]);
    let doc: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("register --format json is not JSON ({e}):\n{out}"));
    assert!(holds(&doc, pasted), "{out}");

    let out = v.ok(&["register", "--json"]);
    let doc: Value = serde_json::from_str(&out).expect("register --json is JSON");
    assert!(holds(&doc, pasted));

    // CSV is data: the very characters stored, in a cell a CSV reader gives back.
    let out = v.ok(&["register", "--csv"]);
    let mut rd =
        csv::ReaderBuilder::new().from_reader(out.trim_start_matches('\u{feff}').as_bytes());
    let header = rd.headers().unwrap().clone();
    let col = header
        .iter()
        .position(|h| h == "measures")
        .expect("a measures column");
    let row = rd.records().next().expect("one row").unwrap();
    assert_eq!(&row[col], pasted);
}

// N3 ----------------------------------------------------------------------------------

fn counts_and_country_codes_are_checked_at_input() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    let before = v.db_snapshot();
    for (pair, fact) in [
        ("subjects_approx=-5", "'subjects_approx'"),
        ("records_approx=-1", "'records_approx'"),
        ("establishment_countries=FRA", "'establishment_countries'"),
        (
            "establishment_countries=France",
            "'establishment_countries'",
        ),
        ("establishment_countries=FR=1", "'establishment_countries'"),
        ("subjects_per_country=FR=-3", "'subjects_per_country'"),
        ("subjects_per_country=XX=3", "'subjects_per_country'"),
        ("subjects_per_country=FR", "'subjects_per_country'"),
    ] {
        let err = v.fails(&["case", "set", "c1", pair], 2);
        assert!(err.contains(fact), "{pair}: {err}");
    }
    // From a facts file too, and at opening.
    let file = v.dir().join("facts.yaml");
    std::fs::write(&file, "subjects_approx: -12\n").unwrap();
    let err = v.fails(&["case", "set", "c1", "--facts", file.to_str().unwrap()], 2);
    assert!(
        err.contains("'subjects_approx'") && err.contains("-12"),
        "{err}"
    );
    let err = v.fails(
        &[
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "t",
            "--aware-at",
            "2025-10-23T10:00",
            "--id",
            "c2",
            "--set",
            "subjects_approx=-1",
        ],
        2,
    );
    assert!(err.contains("'subjects_approx'"), "{err}");
    assert_eq!(v.db_snapshot(), before, "nothing written");

    // The EU's own codes get the ISO one as a hint.
    let err = v.fails(&["case", "set", "c1", "establishment_countries=FR, EL"], 2);
    assert!(err.contains("'GR'") && err.contains("item 2 of 2"), "{err}");

    // Accepted values are stored normalised.
    v.ok(&[
        "case",
        "set",
        "c1",
        "establishment_countries=fr; be",
        "subjects_per_country=fr: 1 200, BE=0",
        "subjects_approx=0",
    ]);
    let case = v.show("c1");
    assert_eq!(case["facts"]["establishment_countries"], "FR, BE");
    assert_eq!(case["facts"]["subjects_per_country"], "FR=1200, BE=0");
    assert_eq!(case["facts"]["subjects_approx"], 0);
}

// N5 ----------------------------------------------------------------------------------

fn nul_is_refused_at_input_on_every_channel() {
    let s = Server::start();
    let api = s.api("dpo@acme.example");
    let refused = |r: &common::web::Answer, what: &str| {
        assert!(
            (400..500).contains(&r.status),
            "{what}: answered {} {}\n{}",
            r.status,
            r.json,
            s.log()
        );
    };
    // A case title.
    let r = api.post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "a\u{0}b", "aware_at": "2025-10-23T10:00", "id": "c0"}),
    );
    refused(&r, "title");
    assert!(r.json.to_string().contains("NUL"), "{}", r.json);
    // A case id, to open and to read.
    let r = api.post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "t", "aware_at": "2025-10-23T10:00", "id": "c\u{0}1"}),
    );
    refused(&r, "case id");
    let r = api.get("/api/cases/c%001");
    assert_eq!(r.status, 404, "{}", r.json);
    let r = api.post(
        "/api/cases/c%001/facts",
        &json!({"facts": {"risk": "high"}}),
    );
    assert_eq!(r.status, 404, "{}", r.json);
    // An event's note, a fact.
    let r = api.post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "t", "aware_at": "2025-10-23T10:00", "id": "c1"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let r = api.post(
        "/api/cases/c1/events",
        &json!({"event": "contain", "note": "x\u{0}y", "facts": {"contained_at": "2025-10-23T11:00"}}),
    );
    refused(&r, "event note");
    let r = api.post(
        "/api/cases/c1/facts",
        &json!({"facts": {"consequences": "x\u{0}y"}}),
    );
    refused(&r, "fact");
    let r = api.post(
        "/api/cases/c1/facts",
        &json!({"facts": {"measures": "ok"}, "note": "\u{0}"}),
    );
    refused(&r, "facts note");

    // The new-case page.
    let mut b = s.browser("dpo@acme.example");
    let (status, html, _) = b.get("/cases/new");
    assert_eq!(status, 200);
    let csrf = form_token(&html, "/cases").expect("a CSRF field");
    let r = b.post_form(
        "/cases",
        &[
            ("_csrf", &csrf),
            ("workflow", "fr"),
            ("title", "page\u{0}title"),
            ("aware_at", "2025-10-23T10:00"),
            ("id", ""),
        ],
    );
    let st = r.status().as_u16();
    assert!((400..500).contains(&st), "new-case page answered {st}");

    // The sign-in form, not signed in: a wrong sign-in like any other.
    let mut anon = common::web::Browser::new(&s.base);
    let r = anon.login("dpo\u{0}@acme.example", PASSWORD);
    assert_eq!(r.status().as_u16(), 401);

    // A facts file on the command line.
    let file = s.v.dir().join("nul.yaml");
    std::fs::write(&file, "consequences: \"a\\0b\"\n").unwrap();
    let err = s.v.fails(
        &[
            "--org",
            "acme",
            "case",
            "set",
            "c1",
            "--facts",
            file.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("'consequences'") && err.contains("NUL"),
        "{err}"
    );

    // Nothing half-written, nothing failed on the server side.
    let shown = api.get("/api/cases/c1");
    assert_eq!(
        shown.json["events"].as_array().map(Vec::len),
        Some(1),
        "{}",
        shown.json
    );
    assert!(!s.log().contains("500"), "{}", s.log());
    s.v.ok(&["audit", "verify"]);
}

// N6 ----------------------------------------------------------------------------------

fn disabling_a_user_ends_their_calendar_address() {
    let s = Server::start();
    // Not the organisation's only DPO: that one cannot be disabled (issue 21 part 5).
    let mut b = s.browser("contrib@acme.example");
    let path = calendar_address(&mut b);
    let anon = s.anonymous();
    assert_eq!(anon.get(&path).status, 200, "the address works");
    s.v.ok(&["user", "disable", "contrib@acme.example"]);
    assert_ne!(anon.get(&path).status, 200, "disabled: the address ends");
    s.v.ok(&["user", "enable", "contrib@acme.example"]);
    assert_ne!(
        anon.get(&path).status,
        200,
        "enabled again: the old address stays ended (it may have leaked meanwhile)"
    );
    // A new one can be made.
    let mut b = s.browser("contrib@acme.example");
    let again = calendar_address(&mut b);
    assert_ne!(again, path);
    assert_eq!(anon.get(&again).status, 200);
}

// N9 ----------------------------------------------------------------------------------

fn cli_decisions_are_decided_again_under_concurrent_writers() {
    let v = Vigie::new();
    let aware = (chrono::Utc::now() - chrono::Duration::hours(3))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    v.open_fr("c1", &aware);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let other = v.same_database();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    other.ok(&[
                        "case",
                        "set",
                        "c1",
                        &format!("consequences=writer {w} step {n}"),
                    ]);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut failures = Vec::new();
    for i in 0..12 {
        let risk = ["high", "risk", "none"][i % 3];
        let out = v.run(&[
            "case",
            "advance",
            "c1",
            "assess",
            "--set",
            &format!("risk={risk}"),
            "--set",
            &format!("risk_rationale=decision {i}"),
        ]);
        if out.code != 0 {
            failures.push(out.stderr);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(
        failures.is_empty(),
        "{} of 12 decisions refused while {written} other writes landed: {failures:#?}",
        failures.len()
    );
    v.ok(&["audit", "verify"]);
}

// Backdating --------------------------------------------------------------------------

fn a_step_dated_more_than_a_day_back_needs_a_reason_and_says_so() {
    let v = Vigie::new();
    let now = chrono::Utc::now();
    let aware = (now - chrono::Duration::days(40))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let notified = (now - chrono::Duration::days(39))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    v.open_fr("c1", &aware);
    let before = v.db_snapshot();
    let notify = |extra: &[&str]| {
        let mut a = vec![
            "case",
            "advance",
            "c1",
            "notify_authority",
            "--at",
            notified.as_str(),
            "--set",
            "nature=[confidentiality]",
            "--set",
            "subjects_approx=12",
            "--set",
            "data_categories=[identity]",
            "--set",
            "consequences=phishing",
            "--set",
            "measures=reset",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let args = notify(&[]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = v.fails(&refs, 2);
    assert!(
        err.contains("'notify_authority'") && err.contains("--reason") && err.contains("24 h"),
        "{err}"
    );
    assert_eq!(v.db_snapshot(), before, "nothing written");
    // Setting facts dated back needs one too; a day back does not.
    let back = (now - chrono::Duration::days(2))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let err = v.fails(&["case", "set", "c1", "risk=high", "--at", &back], 2);
    assert!(err.contains("setting facts"), "{err}");
    let recent = (now - chrono::Duration::hours(20))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    v.ok(&["case", "set", "c1", "risk=high", "--at", &recent]);

    let args = notify(&[
        "--reason",
        "the paper acknowledgement was found in the archive",
    ]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    v.ok(&refs);

    // case show says it, with the reason.
    let text = v.ok(&["case", "show", "c1"]);
    let line = text
        .lines()
        .find(|l| l.contains("recorded"))
        .unwrap_or_else(|| panic!("no 'recorded' line:\n{text}"));
    assert!(
        line.contains("dated ")
            && line.contains("(the paper acknowledgement was found in the archive)"),
        "{line}"
    );
    // The JSON gives the data a page shows.
    let case = v.show("c1");
    let events = case["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        last["backdated"]["reason"],
        "the paper acknowledgement was found in the archive"
    );
    assert!(
        last["backdated"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("dated ") && t.contains(", recorded ")),
        "{last}"
    );
    assert!(
        events[events.len() - 2].get("backdated").is_none(),
        "20 h back is in time"
    );
    // The register, in every form.
    let register = v.ok(&["register"]);
    assert!(
        register.contains("notify_authority dated ")
            && register.contains("(the paper acknowledgement was found in the archive)"),
        "{register}"
    );
    let rows: Value = v.json(&["register", "--json"]);
    assert!(
        rows[0]["backdated"]
            .as_str()
            .is_some_and(|b| b.starts_with("notify_authority dated ")),
        "{rows}"
    );
    let csv = v.ok(&["register", "--csv"]);
    assert!(csv.lines().next().unwrap().contains(",backdated,"), "{csv}");
    assert!(csv.contains("notify_authority dated "), "{csv}");
}

/// `audit checkpoint` covers each event's recording time: a rewrite of it is named.
fn a_rewritten_recording_time_is_caught_by_a_checkpoint() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&["case", "set", "c1", "risk=high"]);
    let cp = v.dir().join("checkpoint.txt");
    v.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    v.disable_append_only();
    // Only the recording time changes (as stored: text in SQLite, timestamptz in
    // PostgreSQL); the rest of the row and its stored hash stay.
    v.sql(
        "UPDATE events SET recorded_at = '2025-10-23T10:30:00.000000Z' WHERE case_id = 'c1' AND seq = 2",
        &[],
    );
    let out = v.run(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("rewritten"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

// N10 ---------------------------------------------------------------------------------

#[test]
fn a_checkpoint_saved_with_a_byte_order_mark_is_accepted() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    let cp = v.dir().join("checkpoint.txt");
    v.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    let text = std::fs::read_to_string(&cp).unwrap();
    // As a Windows editor saves it: a BOM and CRLF line ends.
    let saved = format!("\u{feff}{}", text.replace('\n', "\r\n"));
    std::fs::write(&cp, saved).unwrap();
    v.ok(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
}

#[test]
fn error_messages_and_case_show_cannot_be_turned_around_or_broken() {
    let v = Vigie::new();
    // U+202E would show the rest of the line right to left; U+2028 breaks it in many
    // viewers. Both come back escaped in an error.
    let err = v.fails(&["case", "show", "x\u{202e}txt.exe\u{2028}y"], 2);
    assert!(
        !err.contains('\u{202e}') && !err.contains('\u{2028}'),
        "{err:?}"
    );
    assert!(
        err.contains("\\u{202e}") && err.contains("\\u{2028}"),
        "{err}"
    );
    // A title pasted with CR/LF stays one line of `case show`.
    let file = v.dir().join("t.yaml");
    std::fs::write(&file, "aware_at: 2025-10-23T10:00\n").unwrap();
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "Title\r\n#2  2025-10-23 10:00  notify_authority (pending → notified)  by dpo",
        "--aware-at",
        "2025-10-23T10:00",
        "--id",
        "c1",
    ]);
    let text = v.ok(&["case", "show", "c1"]);
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("c1 — Title\\r\\n#2"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("#2")), "{text}");
    let list = v.ok(&["case", "list"]);
    assert_eq!(list.lines().count(), 2, "{list}");
}

/// Writes `measures` again and again into case c1 of `db` until `stop`.
fn keep_writing(db: Vigie, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            db.ok(&["case", "set", "c1", &format!("measures=step {n}")]);
            n += 1;
        }
        n
    })
}

#[test]
fn a_copy_of_a_sqlite_database_being_written_is_a_consistent_snapshot() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    for i in 0..5 {
        v.open_fr(&format!("o{i}"), "2025-10-23T10:00");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(v.same_database(), stop.clone());
    let mut failures = Vec::new();
    for k in 0..4 {
        let to = v.dir().join(format!("copy-{k}.db"));
        let out = v.run(&["store", "copy", "--to", to.to_str().unwrap()]);
        if out.code != 0 {
            failures.push(out.stderr.clone());
            continue;
        }
        let copy = common::command_on(&to)
            .args(["audit", "verify"])
            .output()
            .unwrap();
        assert!(
            copy.status.success(),
            "{}",
            String::from_utf8_lossy(&copy.stderr)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(
        failures.is_empty(),
        "{} of 4 copies failed while {written} writes landed: {failures:#?}",
        failures.len()
    );
}

#[test]
fn a_postgres_source_with_other_connections_is_refused_at_once() {
    let v = common::db::with_backend(common::db::Backend::Postgres, Vigie::new);
    v.open_fr("c1", "2025-10-23T10:00");
    let url = v.db_arg().into_string().unwrap();
    // Another client of the source (as a running `vigie serve` would be).
    let mut other = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    other.batch_execute("SELECT 1").unwrap();
    let to = v.dir().join("copy.db");
    let err = v.fails(&["store", "copy", "--to", to.to_str().unwrap()], 2);
    assert!(err.contains("other connection"), "{err}");
    assert!(!to.exists(), "nothing written before the refusal");
    drop(other);
    v.ok(&["store", "copy", "--to", to.to_str().unwrap()]);
}

// N5, store copy ----------------------------------------------------------------------

#[test]
fn a_sqlite_row_holding_nul_is_named_before_a_copy_to_postgres() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.open_fr("c2", "2025-10-23T10:00");
    // Written before vigie refused it (the cases' title column is the list projection).
    v.sql(
        "UPDATE cases SET title = 'a' || char(0) || 'b' WHERE id = 'c2'",
        &[],
    );
    let url = pg::url();
    let err = v.fails(&["store", "copy", "--to", &url], 2);
    assert!(err.contains("case 'c2'") && err.contains("NUL"), "{err}");
    // The target is left untouched: a copy can start there once the row is dealt with.
    let target = common::command_on(&url)
        .args(["case", "list"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&target.stdout).contains("no open case"),
        "{}",
        String::from_utf8_lossy(&target.stderr)
    );
}

// N3, the EDPB JSON for random accepted facts -----------------------------------------

mod edpb_schema {
    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use vigie::case::{Command, Recorded, decide, evolve};

    fn validator() -> jsonschema::Validator {
        let text =
            std::fs::read_to_string(super::common::repo("docs/edpb_notification.schema.json"))
                .expect("the schema");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&serde_json::from_str(&text).unwrap())
            .expect("a valid schema")
    }

    const FACTS: &[&str] = &[
        "subjects_approx",
        "records_approx",
        "establishment_countries",
        "subjects_per_country",
        "cross_border",
        "lead_authority",
        "nature",
        "data_categories",
        "consequences",
        "measures",
        "risk",
        "detected_at",
    ];

    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            (-2000i64..2000).prop_map(Value::from),
            Just(json!(i64::MIN)),
            Just(json!(true)),
            prop::sample::select(vec![
                "FR",
                "fr, be",
                "FRA",
                "France",
                "FR=1",
                "FR=1200, BE=300",
                "FR=-3",
                "XX=2",
                "EL",
                "-5",
                "0",
                "1 200",
                "high",
                "none",
                "[confidentiality]",
                "[identity]",
                "\u{7f}",
                "l\u{92}x",
                "x\u{202e}y",
                "2025-10-23T11:00",
                "",
            ])
            .prop_map(Value::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn the_edpb_json_of_accepted_facts_always_validates(
            facts in prop::collection::vec((prop::sample::select(FACTS), value()), 1..8)
        ) {
            let set = vigie::catalog::WorkflowSet::load(None).expect("embedded workflows");
            let wf = set.get("fr").expect("fr");
            let now = Utc.with_ymd_and_hms(2025, 11, 1, 12, 0, 0).unwrap();
            let open = Command::Open {
                title: "t".into(),
                facts: vec![("aware_at".into(), json!("2025-10-23T10:00"))],
                at: now,
            };
            let mut events: Vec<Recorded> = Vec::new();
            let mut case = None;
            let mut prev = vigie::case::event::genesis_hash("o", "c");
            let mut apply = |cmd: &Command, case: &mut Option<vigie::case::Case>, events: &mut Vec<Recorded>| -> bool {
                match decide(&wf, case.as_ref(), cmd, now) {
                    Err(_) => false,
                    Ok(bodies) => {
                        for (at, body) in bodies {
                            let e = Recorded::seal("o", "c", events.len() as i64 + 1, at, now, "a", body, &prev);
                            prev = e.hash.clone();
                            *case = Some(evolve(&wf, case.take(), &e));
                            events.push(e);
                        }
                        true
                    }
                }
            };
            prop_assert!(apply(&open, &mut case, &mut events));
            let cmd = Command::SetFacts {
                facts: facts.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
                note: None,
                at: now - Duration::hours(1),
                reason: None,
            };
            let accepted = apply(&cmd, &mut case, &mut events);
            let case = case.expect("opened");
            let (doc, _) = vigie::render::edpb::build(&wf, &case, &events, &vigie::org::Profile::default(), now);
            let errors: Vec<String> = validator()
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            prop_assert!(errors.is_empty(), "accepted {}: {:?} gave {:#?}", accepted, facts, errors);
        }
    }
}
