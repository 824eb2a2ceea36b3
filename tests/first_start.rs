//! The first hour (issue 13): `vigie serve` on a fresh database with no configuration,
//! reminders that wait for a recipient instead of dying, the one-time setup link (used
//! once, refused after, refused once expired, one account from two requests at once, on
//! two instances), the demo's way into the web page, and what reminder and checkpoint
//! e-mails carry (`Auto-Submitted`, links with `http.public_url`).

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::process::Serve;
use common::smtp::{Sink, decoded, free_port, read_sink, standard_config};
use common::web::{Browser, form_encode, hidden};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

both_backends! {
    reminders_wait_for_a_recipient_then_go_out,
    the_setup_link_makes_the_first_dpo_once,
    a_bad_setup_form_leaves_the_link_usable,
    an_expired_setup_link_is_refused,
    two_setups_at_once_make_one_account,
    the_demo_says_how_to_sign_in_and_it_works,
    reminders_and_checkpoints_say_they_are_automatic_and_link_to_the_page,
}

const PASSWORD: &str = "a long enough password";

/// `vigie serve` as a new user runs it: no `--config`, in a folder of its own (its
/// `./outbox` is there), its output in `serve.log` of that folder.
fn serve_bare(v: &Vigie, folder: &Path, args: &[&str], env: &[(&str, &str)]) -> (Serve, PathBuf) {
    std::fs::create_dir_all(folder).unwrap();
    let log = folder.join("serve.log");
    let mut serve = v.serve().in_dir(folder).log(&log).args(args);
    for (k, value) in env {
        serve = serve.env(k, value);
    }
    (serve.spawn(), log)
}

/// A web-serving instance with no config: its base URL and the setup link it printed.
fn serve_web(v: &Vigie, folder: &Path, env: &[(&str, &str)]) -> (Serve, String, Option<String>) {
    let (mut s, log) = serve_bare(v, folder, &["--listen", "127.0.0.1:0"], env);
    let base = s.url();
    // The link is printed right after the address, before the dispatcher's line.
    let t0 = Instant::now();
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("dispatching reminders") || t0.elapsed() > Duration::from_secs(20) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/setup/"))
        .map(|w| {
            let path = &w[w.find("/setup/").unwrap()..];
            path.to_string()
        });
    (s, base, link)
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(secs), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn outbox(v: &Vigie, all: bool) -> Vec<Value> {
    let mut args = vec!["outbox", "list", "--json"];
    if all {
        args.push("--all");
    }
    v.json(&args).as_array().unwrap().clone()
}

fn emls(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn open_case(v: &Vigie, id: &str, hours_ago: i64) {
    let aware = (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "Fuite",
        "--aware-at",
        &aware,
        "--id",
        id,
    ]);
}

fn reminders_wait_for_a_recipient_then_go_out() {
    let v = Vigie::new();
    // Aware 70 hours ago: art. 33's reminders before the 72 hours are due.
    open_case(&v, "w-1", 70);
    open_case(&v, "w-2", 70);
    let folder = v.dir().join("run");
    let (mut serve, log) = serve_bare(&v, &folder, &["--listen", "none"], &[]);
    // Every due reminder is set aside as waiting: none dead, none sent, none lost.
    wait_until("the due reminders never waited", 60, || {
        let rows = outbox(&v, false);
        let due_pending = rows.iter().any(|r| {
            r["state"] != "waiting"
                && r["due_at"].as_str().unwrap() <= chrono::Utc::now().to_rfc3339().as_str()
        });
        !due_pending && rows.iter().filter(|r| r["state"] == "waiting").count() >= 2
    });
    let rows = outbox(&v, true);
    assert!(
        rows.iter()
            .all(|r| r["state"] != "dead" && r["state"] != "sent"),
        "{rows:#?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r["state"] == "waiting")
            .all(|r| r["attempts"] == 0),
        "a reminder waiting for a recipient is not an attempt: {rows:#?}"
    );
    assert!(emls(&folder.join("outbox")).is_empty());
    // Said once, not once per reminder.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        text.matches("has no reminder recipient").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("organisation 'default' has no reminder recipient"),
        "{text}"
    );

    // A recipient: the waiting reminders go out, once each clock.
    v.ok(&["org", "set", "default", "--dpo-email", "dpo@example.org"]);
    wait_until("no reminder went out once a DPO was set", 60, || {
        emls(&folder.join("outbox")).len() >= 2
    });
    wait_until("reminders still waiting", 30, || {
        outbox(&v, false).iter().all(|r| r["state"] != "waiting")
    });
    for eml in emls(&folder.join("outbox")) {
        let text = decoded(&eml);
        assert!(text.contains("To: dpo@example.org"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
    }
    let sent = outbox(&v, true)
        .into_iter()
        .filter(|r| r["state"] == "sent")
        .count();
    assert!(sent >= 2, "{:#?}", outbox(&v, true));
    serve.kill9();
}

/// A browser-like client filling the setup form of `link`: the answer's status, and the
/// client (holding the session cookie on success).
fn post_setup(base: &str, link: &str, fields: &[(&str, &str)]) -> (u16, Browser, String) {
    let mut b = Browser::new(base);
    let (status, html, _) = b.get(link);
    if status != 200 {
        return (status, b, html);
    }
    let token = hidden(&html, "_login").expect("the setup form has a CSRF field");
    let mut form = vec![("_login", token.as_str())];
    form.extend_from_slice(fields);
    let r = b.post_form(link, &form);
    let status = r.status().as_u16();
    let body = r.text().unwrap_or_default();
    (status, b, body)
}

const FIRST: [(&str, &str); 8] = [
    ("org_id", "acme"),
    ("org_name", "ACME SA"),
    ("workflow", "be"),
    ("dpo_email", ""),
    ("name", "Camille Martin"),
    ("email", "camille@acme.example"),
    ("password", PASSWORD),
    ("password_again", PASSWORD),
];

fn the_setup_link_makes_the_first_dpo_once() {
    let v = Vigie::new();
    let (mut serve, base, link) = serve_web(&v, &v.dir().join("a"), &[]);
    let link = link.expect("a database with no account gets a setup link");
    assert!(link.len() == "/setup/".len() + 64, "{link}");

    // A new database has nothing waiting for a recipient: the first lines a new DPO
    // reads are the address and the link, not a warning about an organisation they
    // never made.
    let said = std::fs::read_to_string(v.dir().join("a").join("serve.log")).unwrap();
    assert!(!said.contains("has no reminder recipient"), "{said}");

    let (status, mut b, body) = post_setup(&base, &link, &FIRST);
    assert_eq!(status, 303, "{body}");
    // Signed in: the dashboard, with the notice that nobody receives the reminders.
    let (status, html, _) = b.get("/");
    assert_eq!(status, 200);
    assert!(html.contains("id=\"no-recipient\""), "{html}");
    assert!(html.contains("camille@acme.example"), "{html}");

    // The organisation and its DPO, made as `org add`, `org set` and `user add` make them.
    let users = v.json(&["user", "list", "--all", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1, "{users:#}");
    assert_eq!(users[0]["org"], "acme");
    assert_eq!(users[0]["role"], "dpo");
    let p = v.json(&["org", "show", "acme", "--json"]);
    assert_eq!(p["name"], "ACME SA", "{p:#}");
    assert_eq!(p["workflow"], "be", "{p:#}");

    // On the command line, a command on cases or people without --org would act on the
    // empty `default` organisation, which nobody set up: refused, naming the one that
    // was (a case opened there would be watched by nobody).
    let err = v.fails(&["case", "list"], 2);
    assert!(err.contains("--org 'acme'"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let err = v.fails(
        &[
            "case",
            "open",
            "--workflow",
            "be",
            "--title",
            "t",
            "--aware-at",
            "2026-11-20T09:00",
        ],
        2,
    );
    assert!(err.contains("--org 'acme'"), "{err}");
    assert_eq!(
        v.json(&["--org", "default", "case", "list", "--json"])
            .as_array()
            .map(|a| a.len()),
        Some(0),
        "nothing was opened in default; --org default still works when named"
    );
    v.ok(&["--org", "acme", "case", "list"]);
    let out = v.run_env(&["case", "list"], &[("VIGIE_ORG", "acme")]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Used: the link is refused, to read and to post, with a page that says so.
    let (status, _, body) = post_setup(&base, &link, &FIRST);
    assert_eq!(status, 410, "{body}");
    let (status, html, _) = Browser::new(&base).get(&link);
    assert_eq!(status, 410);
    assert!(html.contains("<h1>"), "{html}");
    // The DPO's address set later, the notice goes.
    v.ok(&["org", "set", "acme", "--dpo-email", "dpo@acme.example"]);
    let (_, html, _) = b.get("/");
    assert!(!html.contains("id=\"no-recipient\""), "{html}");
    // The next start has an account: no link.
    serve.kill9();
    let (_serve, _, link) = serve_web(&v, &v.dir().join("b"), &[]);
    assert_eq!(link, None);
}

fn a_bad_setup_form_leaves_the_link_usable() {
    let v = Vigie::new();
    let (_serve, base, link) = serve_web(&v, &v.dir().join("a"), &[]);
    let link = link.unwrap();
    let with = |k: &str, val: &'static str| -> Vec<(&'static str, &'static str)> {
        FIRST
            .iter()
            .map(|(f, x)| if *f == k { (*f, val) } else { (*f, *x) })
            .collect()
    };
    // The page's language (French: the browser names none), and every refusal says why
    // the passwords are blank again (issue 21 part 7).
    for (fields, says) in [
        (with("org_id", "ACME!"), "1 à 32 lettres sans accent"),
        (with("workflow", "xx"), "unknown workflow"),
        (with("email", "not-an-address"), "not an e-mail address"),
        (with("dpo_email", "nope"), "not an e-mail address"),
        (
            with("password", "short")
                .into_iter()
                .map(|(k, x)| {
                    if k == "password_again" {
                        (k, "short")
                    } else {
                        (k, x)
                    }
                })
                .collect(),
            "12 caractères ou plus",
        ),
        (
            with("password_again", "another long password"),
            "Les deux mots de passe diffèrent",
        ),
    ] {
        let (status, _, body) = post_setup(&base, &link, &fields);
        assert_eq!(status, 400, "{fields:?}: {body}");
        assert!(body.contains(says), "{fields:?}: {body}");
        assert!(
            body.contains("tapez-les à nouveau"),
            "{fields:?}: says why the passwords were cleared: {body}"
        );
        assert!(!body.contains(PASSWORD), "{fields:?}: never sent back");
        assert!(
            v.json(&["user", "list", "--all", "--json"])
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
    // A form without its CSRF pair is refused.
    let mut b = Browser::new(&base);
    let r = b.post_form(&link, &FIRST);
    assert_eq!(r.status().as_u16(), 403);
    // A capital letter in the organisation's id is lower-cased, not refused.
    let (status, _, body) = post_setup(&base, &link, &with("org_id", "Acme"));
    assert_eq!(status, 303, "{body}");
    let p = v.json(&["org", "show", "acme", "--json"]);
    assert_eq!(p["name"], "ACME SA", "{p:#}");
}

fn an_expired_setup_link_is_refused() {
    let v = Vigie::new();
    let (mut first, _, old) = serve_web(&v, &v.dir().join("a"), &[]);
    let old = old.unwrap();
    first.kill9();
    // An hour and a minute later (the program's clock moved, not the test's).
    let (_later, base, new) = serve_web(&v, &v.dir().join("b"), &[("VIGIE_NOW_OFFSET", "+61m")]);
    let new = new.expect("still no account: a new link");
    assert_ne!(old, new);
    let (status, html, _) = Browser::new(&base).get(&old);
    assert_eq!(status, 410, "{html}");
    let mut b = Browser::new(&base);
    let r = b.post_form(&old, &FIRST);
    assert!([403, 410].contains(&r.status().as_u16()), "{}", r.status());
    let (status, _, body) = post_setup(&base, &new, &FIRST);
    assert_eq!(status, 303, "{body}");
    assert_eq!(
        v.json(&["user", "list", "--all", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn two_setups_at_once_make_one_account() {
    let v = Vigie::new();
    let (_a, base_a, link_a) = serve_web(&v, &v.dir().join("a"), &[]);
    let (_b, base_b, link_b) = serve_web(&v, &v.dir().join("b"), &[]);
    let (link_a, link_b) = (link_a.unwrap(), link_b.unwrap());
    assert_ne!(link_a, link_b, "each instance prints its own link");
    // The same link posted to both instances at once, and the other instance's own link:
    // three first DPOs, one account.
    let forms: Vec<(String, String, String)> = vec![
        (base_a.clone(), link_a.clone(), "one@acme.example".into()),
        (base_b.clone(), link_a.clone(), "two@acme.example".into()),
        (base_b.clone(), link_b.clone(), "three@acme.example".into()),
    ];
    // Each client reads its form first, then all post together.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(forms.len()));
    let handles: Vec<_> = forms
        .into_iter()
        .map(|(base, link, email)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut b = Browser::new(&base);
                let (status, html, _) = b.get(&link);
                assert_eq!(status, 200);
                let token = hidden(&html, "_login").unwrap();
                let mut form: Vec<(&str, &str)> = FIRST
                    .iter()
                    .map(|(k, x)| {
                        if *k == "email" {
                            (*k, email.as_str())
                        } else {
                            (*k, *x)
                        }
                    })
                    .collect();
                form.push(("_login", &token));
                let body = form_encode(&form);
                barrier.wait();
                let r = b
                    .client
                    .post(format!("{base}{link}"))
                    .header(
                        "cookie",
                        format!("vigie_login={}", b.cookies["vigie_login"]),
                    )
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .unwrap();
                r.status().as_u16()
            })
        })
        .collect();
    let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(statuses, [303, 410, 410]);
    let users = v.json(&["user", "list", "--all", "--json"]);
    assert_eq!(users.as_array().unwrap().len(), 1, "{users:#}");
}

fn the_demo_says_how_to_sign_in_and_it_works() {
    let v = Vigie::new();
    let out = v.ok(&["demo"]);
    let line = out
        .lines()
        .find(|l| l.contains("vigie serve --db"))
        .unwrap_or_else(|| panic!("no serve command in:\n{out}"));
    assert!(
        line.contains(v.db_arg().to_str().unwrap()) || v.backend() == common::db::Backend::Postgres,
        "{line}"
    );
    let sign_in = out
        .lines()
        .find(|l| l.starts_with("Sign in as "))
        .unwrap_or_else(|| panic!("no sign-in line in:\n{out}"));
    let words: Vec<&str> = sign_in.split_whitespace().collect();
    let email = words[3];
    let password = words[words.iter().position(|w| *w == "password").unwrap() + 1];
    // Run again: the account is kept, its password not printed again.
    let again = v.ok(&["demo"]);
    assert!(!again.contains(password), "{again}");
    // No setup link (there is an account); sign in and see the five incidents.
    let (_serve, base, link) = serve_web(&v, &v.dir().join("a"), &[]);
    assert_eq!(link, None);
    let mut b = Browser::new(&base);
    let r = b.login(email, password);
    assert_eq!(r.status().as_u16(), 303);
    let (status, html, _) = b.get("/");
    assert_eq!(status, 200);
    for id in ["cpas-charleroi", "france-travail", "hubee-2026"] {
        assert!(html.contains(id), "{id} missing from the dashboard");
    }
}

fn reminders_and_checkpoints_say_they_are_automatic_and_link_to_the_page() {
    let v = Vigie::new();
    open_case(&v, "l-1", 70);
    // A checkpoint goes to the DPO once an event met a deadline.
    let port = free_port();
    let sink_dir = v.dir().join("sink");
    let _sink = Sink::start(port, &sink_dir, &v.dir().join("sink.log"));
    let cfg = v.dir().join("vigie.yaml");
    std::fs::write(
        &cfg,
        standard_config(port).replace(
            "checkpoints: { email: false }",
            "checkpoints: { email: true }",
        ) + "http:\n  public_url: https://vigie.example.org/\n",
    )
    .unwrap();
    let _serve = v
        .serve()
        .config(&cfg)
        .listen("none")
        .args(&["--idle-check-secs", "1"])
        .spawn();
    let is_checkpoint =
        |m: &common::smtp::Received| decoded(&m.eml).contains("audit verify --checkpoint");
    wait_until("no reminder and no checkpoint reached the sink", 60, || {
        let got = read_sink(&sink_dir);
        got.iter().any(is_checkpoint) && got.iter().any(|m| !is_checkpoint(m))
    });
    for m in read_sink(&sink_dir) {
        assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"), "{m:?}");
        let text = decoded(&m.eml);
        let want = if is_checkpoint(&m) {
            "https://vigie.example.org/register"
        } else {
            "https://vigie.example.org/cases/l-1"
        };
        assert!(text.contains(want), "{want} missing:\n{text}");
    }
    // A public URL that is not one is refused at start, with one line, exit 2.
    std::fs::write(&cfg, "http:\n  public_url: vigie.example.org\n").unwrap();
    let out = v.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "serve",
        "--listen",
        "none",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("public_url"), "{}", out.stderr);
}
