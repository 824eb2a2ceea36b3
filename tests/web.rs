//! The HTTP API and the pages, over real HTTP on a random loopback port, against a real
//! SQLite file and the real `vigie serve` process.

use crate::both_backends;
use crate::common;

use common::db::Backend;
use common::web::{Browser, PASSWORD, Server, form_token, hidden};
use serde_json::{Value, json};

both_backends! {
    api_runs_a_case_to_notification_recording_the_user_as_actor,
    roles_limit_what_each_user_may_do,
    another_organisation_gets_404_on_every_route_and_changes_nothing,
    a_person_in_both_organisations_acting_in_the_other_gets_404_and_changes_nothing,
    stale_and_concurrent_writes_get_409_and_nothing_is_lost,
    bad_requests_get_a_json_error_naming_the_problem,
    openapi_document_describes_every_api_route,
    pages_use_secure_cookies_security_headers_and_refuse_forged_csrf,
    repeated_failed_sign_ins_are_slowed_down,
    pages_show_cases_take_forms_and_export_the_register,
    accounts_from_the_command_line_refuse_bad_input_and_write_nothing,
    the_new_case_form_opens_a_case_for_dpos_only,
    api_refuses_unreadable_times_and_lists_survive_an_unreadable_case,
    redirect_targets_stay_on_this_site_whatever_next_says,
    tokens_are_listed_revoked_and_die_with_a_disabled_user_or_a_new_password,
    the_risk_assessment_is_read_by_its_organisation_and_accepted_by_its_dpo_once,
    deciding_otherwise_needs_a_rationale_and_is_the_dpos_on_the_api_and_the_pages,
    pages_speak_dutch_on_request_and_to_a_dutch_browser,
}

const ACME: &str = "dpo@acme.example";
const OTHER: &str = "dpo@other.example";

/// Opens an fr case for acme as its DPO, aware two hours ago.
fn open_acme_case(s: &Server, id: &str) -> Value {
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Laptop stolen", "aware_at": "2026-11-20T09:00", "id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/api/cases/{id}")
    );
    r.json
}

fn event_count(s: &Server) -> i64 {
    s.v.sql("SELECT COUNT(*) FROM events", &[])[0][0]
        .as_i64()
        .unwrap()
}

fn api_runs_a_case_to_notification_recording_the_user_as_actor() {
    let s = Server::start();
    let case = open_acme_case(&s, "laptop-1");
    assert_eq!(case["workflow"], "fr");
    assert!(case["clocks"][0]["id"].as_str().is_some());
    let api = s.api("contrib@acme.example");

    // Missing facts: the CLI's reason, as JSON, status 400, nothing written.
    let before = event_count(&s);
    let r = api.post(
        "/api/cases/laptop-1/events",
        &json!({"event": "notify_authority"}),
    );
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().contains("nature"),
        "{}",
        r.json
    );
    assert_eq!(r.json["status"], 400);
    assert_eq!(event_count(&s), before);

    let r = api.post(
        "/api/cases/laptop-1/facts",
        &json!({"facts": {
            "nature": ["confidentiality"], "subjects_approx": 1200,
            "data_categories": ["identity"], "consequences": "phishing risk",
            "measures": "remote wipe", "risk": "high", "risk_rationale": "unencrypted disk"
        }, "note": "from the IT ticket"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["facts"]["subjects_approx"], 1200);

    let r = api.post(
        "/api/cases/laptop-1/events",
        &json!({"event": "notify_authority", "at": "2026-11-21T10:00", "reason": "recorded from the CNIL's receipt", "facts": {"authority_ref": "CNIL-123"}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["tracks"]["authority"], "notified");
    let clock = common::clock(&r.json, "art33");
    assert_eq!(clock["status"], "met", "{clock}");

    let events = api.get("/api/cases/laptop-1/events");
    assert_eq!(events.status, 200);
    let list = events.json.as_array().unwrap();
    assert_eq!(list[0]["actor"], ACME, "opened by the DPO");
    assert_eq!(list.last().unwrap()["actor"], "contrib@acme.example");
    assert_eq!(list.last().unwrap()["event"], "notify_authority");

    let d = api.get("/api/cases/laptop-1/drafts/cnil_notification?lang=en&format=md");
    assert_eq!(d.status, 200, "{}", d.json);
    assert!(
        d.json["text"].as_str().unwrap().contains("1,200"),
        "{}",
        d.json["text"]
    );
    assert_eq!(d.json["lang"], "en");
    let strict = api.get("/api/cases/laptop-1/drafts/cnil_notification?strict=true");
    assert_eq!(
        strict.status, 400,
        "facts are still missing: {}",
        strict.json
    );
    let unknown = api.get("/api/cases/laptop-1/drafts/love_letter");
    assert_eq!(unknown.status, 404);

    // The same register the CLI prints, in JSON and CSV.
    let reg = api.get("/api/register");
    assert_eq!(reg.json[0]["case"], "laptop-1");
    assert_eq!(reg.json[0]["authority"], "notified");
    let csv = api.get("/api/register.csv");
    let text = csv.json.as_str().unwrap();
    assert!(text.starts_with("\u{feff}case,workflow,title"), "{text}");
    let cli = s.v.ok(&["--org", "acme", "register", "--csv"]);
    assert_eq!(cli.trim_end(), text.trim_end());
    // The audit holds: web writes are chained like the CLI's.
    assert!(s.v.ok(&["audit", "verify"]).contains("register intact"));
}

fn roles_limit_what_each_user_may_do() {
    let s = Server::start();
    open_acme_case(&s, "roles-1");
    let viewer = s.api("viewer@acme.example");
    assert_eq!(viewer.get("/api/cases/roles-1").status, 200);
    let before = event_count(&s);
    for (path, body) in [
        (
            "/api/cases/roles-1/facts",
            json!({"facts": {"risk": "high"}}),
        ),
        ("/api/cases/roles-1/events", json!({"event": "contain"})),
        (
            "/api/cases",
            json!({"workflow": "fr", "title": "x", "aware_at": "2026-11-20T09:00"}),
        ),
    ] {
        let r = viewer.post(path, &body);
        assert_eq!(r.status, 403, "viewer POST {path}: {}", r.json);
    }
    let contrib = s.api("contrib@acme.example");
    let r = contrib.post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "x", "aware_at": "2026-11-20T09:00"}),
    );
    assert_eq!(r.status, 403, "a contributor does not open cases");
    assert_eq!(event_count(&s), before);
    assert_eq!(
        contrib
            .post(
                "/api/cases/roles-1/events",
                &json!({"event": "contain", "facts": {"contained_at": "2026-11-21T09:00"}})
            )
            .status,
        200
    );
    let me = contrib.get("/api/me");
    assert_eq!(me.json["role"], "contributor");
    assert_eq!(me.json["org"], "acme");
}

fn another_organisation_gets_404_on_every_route_and_changes_nothing() {
    let s = Server::start();
    open_acme_case(&s, "secret-1");
    let apis = [OTHER, "contrib@other.example"].map(|who| (who.to_string(), s.api(who)));
    let b = s.browser(OTHER);
    sees_nothing_of_acme(&s, &apis, b);

    // And the same id in the other organisation is another case.
    let r = s.api(OTHER).post(
        "/api/cases",
        &json!({"workflow": "be", "title": "Other's own", "aware_at": "2026-11-20T09:00", "id": "secret-1"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(
        s.api(ACME).get("/api/cases/secret-1").json["title"],
        "Laptop stolen"
    );
}

/// The same, with one person holding a role in both organisations (issue 25 part 1): their
/// token made in `other`, and their session switched to `other`, see nothing of acme's.
fn a_person_in_both_organisations_acting_in_the_other_gets_404_and_changes_nothing() {
    let s = Server::start();
    for org in ["acme", "other"] {
        crate::memberships::add_ext(&s.v, org, "dpo");
    }
    open_acme_case(&s, "secret-1");
    let ext = crate::memberships::EXT;
    let token = s.v.ok(&["--org", "other", "user", "token", ext]);
    let apis = [(format!("{ext} in other"), s.api_with_token(token.trim()))];
    let mut b = s.browser(ext);
    // Acting in acme, the person sees the case; switched to other, nothing of it.
    assert_eq!(b.get("/cases/secret-1").0, 200);
    assert_eq!(crate::memberships::switch(&mut b, "other"), 303);
    sees_nothing_of_acme(&s, &apis, b);
}

/// Acme's case `secret-1`, asked for by each of `apis` and by the browser `b` acting in
/// another organisation: 404 everywhere, in no list, and nothing written.
fn sees_nothing_of_acme(s: &Server, apis: &[(String, common::web::Api)], mut b: Browser) {
    let snapshot = s.v.db_snapshot();
    for (who, api) in apis {
        for path in [
            "/api/cases/secret-1",
            "/api/cases/secret-1/events",
            "/api/cases/secret-1/drafts/cnil_notification",
            "/api/cases/secret-1/drafts/individual_letter?format=html",
        ] {
            let r = api.get(path);
            assert_eq!(r.status, 404, "{who} GET {path}: {}", r.json);
            assert!(!r.json.to_string().contains("Laptop"), "{}", r.json);
        }
        for (path, body) in [
            (
                "/api/cases/secret-1/facts",
                json!({"facts": {"risk": "none"}}),
            ),
            ("/api/cases/secret-1/events", json!({"event": "contain"})),
        ] {
            let r = api.post(path, &body);
            assert_eq!(r.status, 404, "{who} POST {path}: {}", r.json);
        }
        // Opening a case with the same id in one's own organisation is fine: ids are
        // per organisation, and it tells nothing about the other's.
        let lists = api.get("/api/cases?all=true");
        assert!(!lists.json.to_string().contains("secret-1"));
        let reg = api.get("/api/register");
        assert!(!reg.json.to_string().contains("secret-1"));
        let csv = api.get("/api/register.csv");
        assert!(!csv.json.to_string().contains("secret-1"));
    }
    assert_eq!(
        s.v.db_snapshot(),
        snapshot,
        "nothing written by the other organisation"
    );

    // The pages too: another organisation's case page, drafts and forms are 404.
    for path in [
        "/cases/secret-1",
        "/cases/secret-1/drafts/cnil_notification",
        "/cases/secret-1/drafts/cnil_notification/download?format=md",
    ] {
        let (status, html, _) = b.get(path);
        assert_eq!(status, 404, "page {path}");
        assert!(!html.contains("Laptop"));
    }
    let (_, dash, _) = b.get("/");
    let csrf = form_token(&dash, "/logout").expect("a CSRF token on the page");
    for (path, form) in [
        (
            "/cases/secret-1/facts",
            vec![("present", "risk"), ("f.risk", "none")],
        ),
        ("/cases/secret-1/events", vec![("event", "contain")]),
    ] {
        let mut form = form;
        form.push(("_csrf", &csrf));
        let r = b.post_form(path, &form);
        assert_eq!(r.status().as_u16(), 404, "form {path}");
    }
    let (_, reg, _) = b.get("/register");
    assert!(!reg.contains("secret-1"));
    assert_eq!(s.v.db_snapshot(), snapshot);
}

fn stale_and_concurrent_writes_get_409_and_nothing_is_lost() {
    let s = Server::start();
    let case = open_acme_case(&s, "race-1");
    let seq = case["seq"].as_i64().unwrap();
    let api = s.api(ACME);
    let ok = api.post(
        "/api/cases/race-1/facts",
        &json!({"facts": {"risk": "high"}, "expected_seq": seq}),
    );
    assert_eq!(ok.status, 200);
    let stale = api.post(
        "/api/cases/race-1/facts",
        &json!({"facts": {"risk": "none"}, "expected_seq": seq}),
    );
    assert_eq!(stale.status, 409, "{}", stale.json);
    assert!(stale.json["error"].as_str().unwrap().contains("reload"));

    // Eight writers decide on the same page at once: exactly one wins.
    let seq = ok.json["seq"].as_i64().unwrap();
    let base = s.base.clone();
    let token = s.token(ACME).to_string();
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let base = base.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(format!("{base}/api/cases/race-1/facts"))
                    .bearer_auth(token)
                    .json(&json!({"facts": {"subjects_approx": i + 1}, "expected_seq": seq}))
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut codes: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec![200, 409, 409, 409, 409, 409, 409, 409]);

    // Without expected_seq, concurrent writes all land, each once, in one chain.
    let before = event_count(&s);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let base = base.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                reqwest::blocking::Client::new()
                    .post(format!("{base}/api/cases/race-1/facts"))
                    .bearer_auth(token)
                    .json(&json!({"facts": {"records_approx": 100 + i}}))
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 200);
    }
    assert_eq!(event_count(&s), before + 8);
    assert!(s.v.ok(&["audit", "verify"]).contains("register intact"));
}

fn bad_requests_get_a_json_error_naming_the_problem() {
    let s = Server::start();
    open_acme_case(&s, "bad-1");
    let api = s.api(ACME);
    let cases: [(&str, &str, u16, &str); 8] = [
        ("/api/cases/bad-1/facts", "{not json", 400, "line 1"),
        (
            "/api/cases/bad-1/facts",
            r#"{"facts": {"risk": "enormous"}}"#,
            400,
            "risk",
        ),
        (
            "/api/cases/bad-1/facts",
            r#"{"facts": {"colour": "red"}}"#,
            400,
            "unknown fact 'colour'",
        ),
        (
            "/api/cases/bad-1/facts",
            r#"{"fact": {"risk": "high"}}"#,
            400,
            "unknown field `fact`",
        ),
        (
            "/api/cases/bad-1/events",
            r#"{"event": "explode"}"#,
            400,
            "unknown event 'explode'",
        ),
        (
            "/api/cases/bad-1/events",
            r#"{"event": "contain", "when": "now"}"#,
            400,
            "unknown field 'when'",
        ),
        (
            "/api/cases/nope/events",
            r#"{"event": "contain"}"#,
            404,
            "unknown case 'nope'",
        ),
        (
            "/api/cases",
            r#"{"workflow": "xx", "title": "t", "aware_at": "2026-11-20T09:00"}"#,
            400,
            "unknown workflow 'xx'",
        ),
    ];
    let before = s.v.db_snapshot();
    for (path, body, status, needle) in cases {
        let r = api.post_raw(path, body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.json);
        let msg = r.json["error"].as_str().unwrap_or_default();
        assert!(
            msg.contains(needle),
            "{path} {body}: '{msg}' lacks '{needle}'"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }
    assert_eq!(s.v.db_snapshot(), before);
    let r = api.post_raw(
        "/api/cases",
        r#"{"workflow": "fr", "title": "t", "aware_at": "2026-03-29T02:30"}"#,
    );
    assert_eq!(
        r.status, 400,
        "a local time that does not exist: {}",
        r.json
    );
    assert!(r.json["error"].as_str().unwrap().contains("aware_at"));

    let anon = s.anonymous();
    let r = anon.get("/api/cases");
    assert_eq!(r.status, 401);
    assert!(r.headers.contains_key("www-authenticate"));
    let r = s.api_with_token("vigie_0123").get("/api/cases");
    assert_eq!(r.status, 401);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("invalid API token")
    );
}

fn openapi_document_describes_every_api_route() {
    let s = Server::start();
    let r = s.anonymous().get("/api/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let src = std::fs::read_to_string(common::repo("src/web/api.rs")).unwrap();
    // Every `.route("/api/...", ...)` of the router is in the document, and no more.
    let routes: Vec<String> = src
        .lines()
        .filter_map(|l| l.trim().strip_prefix(".route(\""))
        .map(|l| l.split('"').next().unwrap().to_string())
        .collect();
    assert!(routes.len() >= 9, "{routes:?}");
    for r in &routes {
        assert!(paths.contains_key(r), "{r} is not in openapi.json");
    }
    assert_eq!(
        paths.len(),
        routes.len(),
        "openapi.json lists a route the router lacks"
    );
    // Each operation names its error answers.
    for (p, ops) in paths {
        for (m, op) in ops.as_object().unwrap() {
            assert!(op["responses"].is_object(), "{m} {p}");
        }
    }
}

fn pages_use_secure_cookies_security_headers_and_refuse_forged_csrf() {
    let s = Server::start();
    open_acme_case(&s, "csrf-1");
    let mut anon = Browser::new(&s.base);
    let (status, _, headers) = anon.get("/cases/csrf-1");
    assert_eq!(status, 303, "not signed in: to the sign-in page");
    assert_eq!(headers["location"], "/login?next=%2Fcases%2Fcsrf-1");

    let mut b = s.browser(ACME);
    let session = b
        .set_cookies
        .iter()
        .find(|c| c.starts_with("vigie_session="))
        .expect("a session cookie")
        .clone();
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    let (status, html, headers) = b.get("/cases/csrf-1");
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(!html.contains("<script>"), "no inline script");
    let csrf = form_token(&html, "/cases/csrf-1/facts").unwrap();

    let before = s.v.db_snapshot();
    for token in ["", "0000", &"f".repeat(64)] {
        let r = b.post_form(
            "/cases/csrf-1/facts",
            &[("_csrf", token), ("present", "risk"), ("f.risk", "high")],
        );
        assert_eq!(r.status().as_u16(), 403, "forged token '{token}'");
    }
    let r = b.post_form("/cases/csrf-1/events", &[("event", "contain")]);
    assert_eq!(r.status().as_u16(), 403, "no token at all");
    // The API with the session cookie needs the X-CSRF-Token header too.
    let r = b
        .client
        .post(format!("{}/api/cases/csrf-1/events", s.base))
        .header(
            "cookie",
            format!("vigie_session={}", b.cookies["vigie_session"]),
        )
        .json(&json!({"event": "contain"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(
        s.v.db_snapshot(),
        before,
        "no forged request wrote anything"
    );

    // With the page's token the same form works, and redirects back (303).
    let r = b.post_form(
        "/cases/csrf-1/facts",
        &[
            ("_csrf", &csrf),
            ("seq", "1"),
            ("present", "risk"),
            ("f.risk", "high"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let api = s.api(ACME).get("/api/cases/csrf-1");
    assert_eq!(api.json["facts"]["risk"], "high");

    // Sign-out ends the session on the server, not just in the browser.
    let stolen = b.cookies["vigie_session"].clone();
    let r = b.post_form("/logout", &[("_csrf", &csrf)]);
    assert_eq!(r.status().as_u16(), 303);
    let mut thief = Browser::new(&s.base);
    thief.cookies.insert("vigie_session".into(), stolen);
    assert_eq!(thief.get("/").0, 303);
}

fn repeated_failed_sign_ins_are_slowed_down() {
    let s = Server::start();
    let mut b = Browser::new(&s.base);
    let r = b.login(ACME, "wrong password here");
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().unwrap().contains("id=\"error\""));
    assert!(!b.cookies.contains_key("vigie_session"));
    for _ in 1..5 {
        assert_eq!(b.login(ACME, "still the wrong one").status().as_u16(), 401);
    }
    // Locked now: even the right password waits, and says how long.
    let r = b.login(ACME, PASSWORD);
    assert_eq!(r.status().as_u16(), 429);
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(!b.cookies.contains_key("vigie_session"));
    // Another account from the same address is not locked by this one.
    let mut other = Browser::new(&s.base);
    assert_eq!(other.login(OTHER, PASSWORD).status().as_u16(), 303);
    // A forged sign-in form (no matching cookie) is refused before any password check.
    let mut forged = Browser::new(&s.base);
    let r = forged.post_form(
        "/login",
        &[("_login", "abc"), ("email", OTHER), ("password", PASSWORD)],
    );
    assert_eq!(r.status().as_u16(), 403);
    assert!(s.log().contains("failed sign-in"), "{}", s.log());
}

fn pages_show_cases_take_forms_and_export_the_register() {
    let s = Server::start();
    open_acme_case(&s, "form-1");
    let mut b = s.browser("contrib@acme.example");
    let (status, dash, _) = b.get("/");
    assert_eq!(status, 200);
    assert!(dash.contains("data-case=\"form-1\""), "{dash}");
    assert!(dash.contains("class=\"countdown st-"));
    let (_, page, _) = b.get("/cases/form-1");
    let csrf = form_token(&page, "/cases/form-1/facts").unwrap();
    assert!(page.contains("id=\"event-contain\""));
    assert!(page.contains("id=\"f-confidentiality_loss\""));
    // Checkbox lists, numbers and choices come back typed; unchanged facts are not
    // written again; an empty field that was empty stays unset.
    let r = b.post_form(
        "/cases/form-1/facts",
        &[
            ("_csrf", &csrf),
            ("seq", "1"),
            ("present", "nature"),
            ("f.nature", "confidentiality"),
            ("f.nature", "integrity"),
            ("present", "subjects_approx"),
            ("f.subjects_approx", "8700"),
            ("present", "risk"),
            ("f.risk", "high"),
            ("present", "measures"),
            ("f.measures", ""),
            ("present", "aware_at"),
            ("f.aware_at", "2026-11-20T09:00:00+01:00"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let case = s.api(ACME).get("/api/cases/form-1").json;
    assert_eq!(
        case["facts"]["nature"],
        json!(["confidentiality", "integrity"])
    );
    assert_eq!(case["facts"]["subjects_approx"], 8700);
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    let set: Vec<&str> = last["facts"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        set,
        ["nature", "subjects_approx", "risk"],
        "only what changed"
    );
    assert_eq!(last["actor"], "contrib@acme.example");

    // A refused step shows the page again with the reason, status 400.
    let r = b.post_form(
        "/cases/form-1/events",
        &[("_csrf", &csrf), ("event", "notify_authority")],
    );
    assert_eq!(r.status().as_u16(), 400);
    let html = r.text().unwrap();
    assert!(html.contains("id=\"error\""), "{html}");
    // A page loaded before someone else's change: 409, and the reason says reload.
    let r = b.post_form(
        "/cases/form-1/events",
        &[("_csrf", &csrf), ("seq", "1"), ("event", "contain")],
    );
    assert_eq!(r.status().as_u16(), 409);

    // A refused facts form keeps what was typed, and says why.
    let (_, page, _) = b.get("/cases/form-1");
    let seq = hidden(&page, "seq").unwrap();
    let r = b.post_form(
        "/cases/form-1/facts",
        &[
            ("_csrf", &csrf),
            ("seq", &seq),
            ("present", "consequences"),
            ("f.consequences", "Typed at 3 a.m., not to be lost"),
            ("present", "contained_at"),
            ("f.contained_at", "next tuesday"),
        ],
    );
    assert_eq!(r.status().as_u16(), 400);
    let html = r.text().unwrap();
    assert!(html.contains("contained_at"), "the reason names the fact");
    assert!(
        html.contains("Typed at 3 a.m., not to be lost"),
        "what was typed is shown again"
    );
    assert!(html.contains("value=\"next tuesday\""));

    let (status, reg, _) = b.get("/register");
    assert_eq!(status, 200);
    assert!(reg.contains("data-case=\"form-1\""));
    let (status, csv, headers) = b.get("/register.csv");
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("register-acme-")
    );
    assert!(csv.contains("form-1"));
    let (status, draft, headers) =
        b.get("/cases/form-1/drafts/cnil_notification/download?format=md");
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("form-1-cnil_notification.fr.md")
    );
    assert!(draft.contains("8"), "{draft}");
    // English pages on request.
    let (_, _, _) = b.get("/lang/en?next=/");
    let (_, dash_en, _) = b.get("/");
    assert!(dash_en.contains("Open cases"));
}

fn accounts_from_the_command_line_refuse_bad_input_and_write_nothing() {
    let v = common::Vigie::new();
    v.ok(&["org", "add", "acme", "--name", "ACME SA"]);
    let snapshot = v.db_snapshot();
    for (args, input, needle) in [
        (
            vec!["user", "add", "a@acme.example", "--role", "boss"],
            "long enough password\n",
            "--role: 'boss'",
        ),
        (
            vec![
                "--org",
                "acme",
                "user",
                "add",
                "a@acme.example",
                "--role",
                "dpo",
            ],
            "short\n",
            "at least 12 characters",
        ),
        (
            vec![
                "--org",
                "nope",
                "user",
                "add",
                "a@acme.example",
                "--role",
                "dpo",
            ],
            "long enough password\n",
            "unknown organisation 'nope'",
        ),
        (
            vec![
                "--org",
                "acme",
                "user",
                "add",
                "not-an-address",
                "--role",
                "dpo",
            ],
            "long enough password\n",
            "not an e-mail address",
        ),
        (
            vec!["org", "add", "Bad Id", "--name", "x"],
            "",
            "lowercase letters",
        ),
        (
            vec!["org", "add", "acme", "--name", "again"],
            "",
            "already exists",
        ),
        (
            vec!["user", "token", "ghost@acme.example"],
            "",
            "no user with e-mail",
        ),
        (
            vec!["--org", "nope", "case", "list"],
            "",
            "unknown organisation 'nope'",
        ),
    ] {
        let out = v.run_stdin(&args, input);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        assert_eq!(v.db_snapshot(), snapshot, "{args:?} wrote something");
    }
    let out = v.run_stdin(
        &[
            "--org",
            "acme",
            "user",
            "add",
            "a@acme.example",
            "--role",
            "viewer",
        ],
        "long enough password\n",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = v.run_stdin(
        &[
            "--org",
            "acme",
            "user",
            "add",
            "A@ACME.example",
            "--role",
            "dpo",
        ],
        "long enough password\n",
    );
    assert_eq!(out.code, 2, "e-mails are unique whatever the case");
    let list = v.json(&["--org", "acme", "user", "list", "--json"]);
    assert_eq!(list[0]["email"], "a@acme.example");
    assert_eq!(list[0]["role"], "viewer");
    assert!(!list.to_string().contains("argon2"), "no hash printed");
    // The register of an organisation with no case.
    assert!(v.ok(&["--org", "acme", "register"]).contains("empty"));
}

fn the_new_case_form_opens_a_case_for_dpos_only() {
    let s = Server::start();
    let mut contrib = s.browser("contrib@acme.example");
    assert_eq!(contrib.get("/cases/new").0, 403);
    let mut b = s.browser(ACME);
    let (status, html, _) = b.get("/cases/new");
    assert_eq!(status, 200);
    let csrf = form_token(&html, "/cases").unwrap();
    // A refused form comes back with the reason and what was typed.
    let r = b.post_form(
        "/cases",
        &[
            ("_csrf", &csrf),
            ("workflow", "be"),
            ("title", "Passeports"),
            ("aware_at", "yesterday"),
        ],
    );
    assert_eq!(r.status().as_u16(), 400);
    let page = r.text().unwrap();
    assert!(page.contains("aware_at"), "{page}");
    assert!(
        page.contains("value=\"Passeports\""),
        "what was typed stays"
    );
    let r = b.post_form(
        "/cases",
        &[
            ("_csrf", &csrf),
            ("workflow", "be"),
            ("title", "Passeports"),
            ("aware_at", "2026-11-20 09:00"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    assert!(to.starts_with("/cases/be-2026-"), "{to}");
    let id = to.trim_start_matches("/cases/").split('?').next().unwrap();
    let case = s.api(ACME).get(&format!("/api/cases/{id}")).json;
    assert_eq!(case["facts"]["aware_at"], "2026-11-20T09:00:00+01:00");
    assert_eq!(case["events"][0]["actor"], ACME);
}

/// Issue 9, over HTTP: the API passes raw JSON to the core, which refuses year 0 and a
/// notification dated before awareness (400, nothing written); and a case that cannot
/// be read back no longer turns the organisation's lists into 500s.
fn api_refuses_unreadable_times_and_lists_survive_an_unreadable_case() {
    let s = Server::start();
    open_acme_case(&s, "good-1");
    open_acme_case(&s, "bad-1");
    let api = s.api(ACME);
    let before = event_count(&s);
    for (path, body, word) in [
        (
            "/api/cases/good-1/facts",
            json!({"facts": {"aware_at": "0000-01-01T00:00"}}),
            "aware_at",
        ),
        (
            "/api/cases/good-1/facts",
            json!({"facts": {"risk": "high"}, "at": "0000-01-01T00:00"}),
            "1970",
        ),
        (
            "/api/cases/good-1/events",
            json!({"event": "assess", "at": "-262143-01-01T00:00"}),
            "1970",
        ),
        (
            "/api/cases/good-1/events",
            json!({"event": "nis2_early_warning", "at": "2001-01-01T00:00", "facts": {"nis2_entity": true}}),
            "before clock",
        ),
    ] {
        let r = api.post(path, &body);
        assert_eq!(r.status, 400, "{body}: {}", r.json);
        let error = r.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(word), "{body}: {error}");
    }
    assert_eq!(event_count(&s), before, "a refused request wrote something");

    // bad-1 gets an event whose time cannot be read back (as year 0 used to be stored).
    // Appended behind the server's back, with the case row moved on so that its cache
    // of the case is stale.
    // PostgreSQL's timestamptz holds no malformed text: 'infinity' is the value it
    // holds that no instant of the program can be.
    let unreadable = match s.v.backend() {
        Backend::Sqlite => "'-0001-12-31T23:50:39.000000Z'",
        Backend::Postgres => "'infinity'",
    };
    s.v.sql(
        &format!(
            r#"INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
           SELECT org, case_id, 2, {unreadable}, recorded_at, actor, 'facts_set',
                  '{{"kind":"facts_set","facts":{{}},"note":"x"}}', hash, 'forged'
           FROM events WHERE case_id = 'bad-1' AND seq = 1"#
        ),
        &[],
    );
    s.v.sql("UPDATE cases SET seq = 2 WHERE id = 'bad-1'", &[]);
    let r = api.get("/api/cases");
    assert_eq!(r.status, 200, "{}", r.json);
    let ids: Vec<&str> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["good-1"], "{}", r.json);
    let r = api.get("/api/register");
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(r.json.to_string().contains("good-1"), "{}", r.json);
    assert!(!r.json.to_string().contains("bad-1"), "{}", r.json);
    assert!(
        s.log().contains("bad-1"),
        "the skipped case is not logged:\n{}",
        s.log()
    );
}

/// The `next` of `/lang/..`, of the sign-in page and of the sign-in form: a hostile
/// value (another host, a backslash, a control character, bytes that are not UTF-8)
/// sends the browser to `/`, never elsewhere and never with a 500; a local path stays,
/// with what is not plain ASCII percent-encoded.
fn redirect_targets_stay_on_this_site_whatever_next_says() {
    let s = Server::start();
    // (query value as sent on the wire, the Location expected)
    let table: &[(&str, &str)] = &[
        ("/cases/x%3Fok%3D1", "/cases/x?ok=1"),
        ("/%09/evil.example/", "/"),
        ("//evil.example/", "/"),
        ("%2F%2Fevil.example%2F", "/"),
        ("/%5Cevil.example", "/"),
        ("/%5cevil.example", "/"),
        ("%5C%5Cevil.example", "/"),
        ("/x%5C..%5C..%5Cevil", "/"),
        ("https://evil.example/", "/"),
        ("https:%2F%2Fevil.example", "/"),
        ("evil.example", "/"),
        ("%09/evil.example", "/"),
        ("/%0a", "/"),
        ("%0a", "/"),
        ("/%0d", "/"),
        ("/%0d%0aSet-Cookie:%20x=1", "/"),
        ("/%7f", "/"),
        ("/%00", "/"),
        ("/%C2%85evil", "/"),
        ("/caf%C3%A9", "/caf%C3%A9"),
        ("/%E2%80%A8evil", "/%E2%80%A8evil"),
        ("/%FF%FE", "/%EF%BF%BD%EF%BF%BD"),
        ("", "/"),
    ];
    let anon = s.anonymous();
    let located = |r: reqwest::blocking::Response, what: &str| -> String {
        assert!(
            r.status().is_redirection(),
            "{what}: {} (a redirect, never a 500)",
            r.status()
        );
        r.headers()["location"]
            .to_str()
            .unwrap_or_else(|_| panic!("{what}: Location is not visible ASCII"))
            .to_string()
    };
    for (next, expected) in table {
        let what = format!("/lang/en?next={next}");
        let r = anon.client.get(s.url(&what)).send().unwrap();
        let to = located(r, &what);
        assert_eq!(&to, expected, "{what}");
        assert!(
            !to.chars().any(|c| c.is_control() || c == '\\'),
            "{what}: {to:?}"
        );

        // The sign-in page carries next into its form, and the form sends it back.
        let mut b = Browser::new(&s.base);
        let (status, html, _) = b.get(&format!("/login?next={next}"));
        assert_eq!(status, 200, "/login?next={next}");
        let carried = unescape(&hidden(&html, "next").expect("the form carries next"));
        assert_eq!(&carried, expected, "/login?next={next}");
        // The form as a browser would post it, then the hostile value posted directly.
        for posted in [carried.clone(), decoded(next)] {
            let mut b = Browser::new(&s.base);
            let (_, html, _) = b.get("/login");
            let token = hidden(&html, "_login").unwrap();
            let r = b.post_form(
                "/login",
                &[
                    ("_login", &token),
                    ("email", ACME),
                    ("password", PASSWORD),
                    ("next", &posted),
                ],
            );
            let to = located(r, &format!("sign-in with next={posted:?}"));
            assert_eq!(&to, expected, "sign-in with next={posted:?}");
        }
    }
    // A page asked for without a session sends to the sign-in page with its own path
    // as next, through the same check.
    let r = anon.client.get(s.url("/register?x=%0a")).send().unwrap();
    let to = located(r, "/register?x=%0a");
    assert_eq!(to, "/login?next=%2Fregister%3Fx%3D%250a");
}

/// Percent-decodes a query value the way the server reads it (lossy UTF-8).
fn decoded(q: &str) -> String {
    form_urlencoded::parse(format!("v={q}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The text of an HTML attribute as the page escaped it.
fn unescape(html: &str) -> String {
    html.replace("&#x3D;", "=")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The id `vigie user token list` shows for a token: the start of its SHA-256.
fn token_id(token: &str) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect::<String>()[..12].to_string()
}

/// Issue 9: API tokens outlived a password change, and no token could be revoked nor a
/// user disabled. Now a disabled user's sessions and tokens stop at the next request,
/// a token can be listed (never its secret) and revoked, and a new password revokes the
/// user's tokens.
fn tokens_are_listed_revoked_and_die_with_a_disabled_user_or_a_new_password() {
    let s = Server::start();
    let v = &s.v;
    const CONTRIB: &str = "contrib@acme.example";
    const OTHER_CONTRIB: &str = "contrib@other.example";
    assert_eq!(s.api(ACME).get("/api/cases").status, 200);

    // Listing: the organisation's tokens, with an id, never the secret.
    let list = v.json(&["--org", "acme", "user", "token", "list", "--json"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{list}");
    for (email, token) in &s.tokens {
        assert!(!list.to_string().contains(token.as_str()), "secret printed");
        let row = rows.iter().find(|r| r["email"] == email.as_str());
        if email.ends_with("@acme.example") {
            let row = row.unwrap_or_else(|| panic!("{email} listed: {list}"));
            assert_eq!(row["id"], token_id(token));
            assert_eq!(row["name"], "tests");
            assert_eq!(row["org"], "acme");
        } else {
            assert!(row.is_none(), "another organisation's token listed: {list}");
        }
    }
    let acme_row = rows.iter().find(|r| r["email"] == ACME).unwrap();
    assert!(
        acme_row["last_used_at"].is_string(),
        "used above: {acme_row}"
    );
    let text = v.ok(&["--org", "acme", "user", "token", "list"]);
    assert!(text.contains(&token_id(s.token(ACME))), "{text}");

    // A second token, created with the subcommand, revoked by its id.
    let backup = v
        .ok(&["user", "token", "create", ACME, "--name", "backup"])
        .trim()
        .to_string();
    // The single-case read checks the token on the same call as its read (issue 14): a
    // valid token gets as far as the case (none here: 404) and is marked used.
    assert_eq!(
        s.api_with_token(&backup)
            .get("/api/cases/no-such-case")
            .status,
        404
    );
    let mine = v.json(&["user", "token", "list", ACME, "--json"]);
    assert_eq!(mine.as_array().unwrap().len(), 2, "{mine}");
    let backup_row = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "backup")
        .expect("the backup token listed");
    assert!(
        backup_row["last_used_at"].is_string(),
        "used by the case read: {backup_row}"
    );
    assert_eq!(s.api_with_token(&backup).get("/api/cases").status, 200);
    let out = v.ok(&["user", "token", "revoke", &token_id(&backup)]);
    assert!(out.contains("revoked"), "{out}");
    assert_eq!(s.api_with_token(&backup).get("/api/cases").status, 401);
    assert_eq!(
        s.api_with_token(&backup)
            .get("/api/cases/no-such-case")
            .status,
        401,
        "a revoked token is refused before any case is looked up"
    );
    assert_eq!(
        s.api(ACME).get("/api/cases").status,
        200,
        "the other token lives"
    );
    let err = v.fails(&["user", "token", "revoke", &token_id(&backup)], 2);
    assert!(err.contains("no API token"), "{err}");
    let err = v.fails(&["user", "token", "list", "ghost@acme.example"], 2);
    assert!(err.contains("no user with e-mail"), "{err}");

    // Disabling: the session and the token stop at the next request; signing in fails.
    let mut b = s.browser(CONTRIB);
    assert_eq!(b.get("/").0, 200);
    let out = v.ok(&["user", "disable", CONTRIB]);
    assert!(out.contains("disabled"), "{out}");
    assert_eq!(s.api(CONTRIB).get("/api/cases").status, 401);
    assert_eq!(s.api(CONTRIB).get("/api/cases/no-such-case").status, 401);
    let (status, _, headers) = b.get("/");
    assert_eq!(status, 303, "a disabled user's session ends");
    assert!(
        headers["location"].to_str().unwrap().starts_with("/login"),
        "{headers:?}"
    );
    let mut again = Browser::new(&s.base);
    assert_eq!(again.login(CONTRIB, PASSWORD).status().as_u16(), 401);
    let users = v.json(&["--org", "acme", "user", "list", "--json"]);
    let row = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == CONTRIB)
        .expect("a disabled user is still listed");
    assert_eq!(row["disabled"], true);
    assert_eq!(
        s.api(ACME).get("/api/cases").status,
        200,
        "others unaffected"
    );
    // Enabling again: the token works, the ended session stays ended.
    v.ok(&["user", "enable", CONTRIB]);
    assert_eq!(s.api(CONTRIB).get("/api/cases").status, 200);
    assert_eq!(b.get("/").0, 303);
    s.browser(CONTRIB);

    // A new password revokes the user's tokens, and says so.
    let out = v.run_stdin(&["user", "password", OTHER], "another long password\n");
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("1 API token(s) revoked"),
        "{}",
        out.stdout
    );
    assert_eq!(s.api(OTHER).get("/api/cases").status, 401);
    assert_eq!(s.api(OTHER_CONTRIB).get("/api/cases").status, 200);
    let left = v.json(&["user", "token", "list", OTHER, "--json"]);
    assert_eq!(left, serde_json::json!([]));
}

/// The facts of a high-risk breach (issue 11): health data of patients, read by unknown
/// recipients, fully identifiable, by an attacker.
fn high_risk_facts() -> Value {
    json!({
        "nature": ["confidentiality"], "cause": "external_malicious",
        "data_categories": ["health"], "subject_categories": ["patients"],
        "subjects_approx": 1200, "identifiability": "maximum",
        "confidentiality_loss": "unknown_recipients", "integrity_loss": "none",
        "availability_loss": "none", "data_unintelligible": false, "misuse_observed": false
    })
}

fn open_assessed_case(s: &Server, who: &str, id: &str, title: &str) {
    let r = s.api(who).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": title, "aware_at": "2026-11-20T09:00", "id": id,
                "facts": high_risk_facts()}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
}

/// The `assess` events of a case, as the API lists them.
fn decisions(s: &Server, id: &str) -> Vec<Value> {
    let events = s.api(ACME).get(&format!("/api/cases/{id}/events"));
    assert_eq!(events.status, 200, "{}", events.json);
    events
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "assess")
        .cloned()
        .collect()
}

fn the_risk_assessment_is_read_by_its_organisation_and_accepted_by_its_dpo_once() {
    let s = Server::start();
    open_assessed_case(&s, ACME, "assess-1", "Patient files leaked");
    let path = "/api/cases/assess-1/assessment";
    let dpo = s.api(ACME);

    // Read: the app layer's JSON, nothing recorded yet.
    let a = dpo.get(path);
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["case"], "assess-1");
    assert_eq!(a.json["current"]["risk"], "high", "{}", a.json);
    assert_eq!(a.json["current"]["severity"]["band"], "very_high");
    assert_eq!(a.json["current"]["notify_authority"], true);
    assert_eq!(a.json["current"]["inform_individuals"], true);
    assert!(a.json["recorded"].is_null());
    assert_eq!(a.json["changed"], false);
    // The CLI says the same (as_of aside, nothing in it depends on the hour).
    let cli: Value =
        serde_json::from_str(&s.v.ok(&["--org", "acme", "assess", "assess-1", "--json"])).unwrap();
    assert_eq!(cli["current"], a.json["current"]);

    // Any role of the organisation reads it; only its DPO accepts (403 before anything).
    let viewer = s.api("viewer@acme.example");
    assert_eq!(viewer.get(path).json, a.json);
    let before = s.v.db_snapshot();
    for who in ["viewer@acme.example", "contrib@acme.example"] {
        let r = s.api(who).post(path, &json!({}));
        assert_eq!(r.status, 403, "{who}: {}", r.json);
    }
    // Another organisation: the same answers as for a case that does not exist (its
    // DPO: 404 on both; its contributor: 403 on POST, whatever the case), and its own
    // case of the same id (below) is another case.
    for who in [OTHER, "contrib@other.example"] {
        let api = s.api(who);
        let answers = [api.get(path), api.post(path, &json!({}))];
        let missing = [
            api.get("/api/cases/nope/assessment"),
            api.post("/api/cases/nope/assessment", &json!({})),
        ];
        for (r, m) in answers.iter().zip(&missing) {
            assert!(!r.json.to_string().contains("Patient"), "{}", r.json);
            assert!(!r.json.to_string().contains("health"), "{}", r.json);
            assert_eq!(r.status, m.status, "{who}: {}", r.json);
            assert_eq!(
                r.json.to_string().replace("assess-1", "nope"),
                m.json.to_string(),
                "{who}"
            );
        }
        assert_eq!(answers[0].status, 404, "{who}");
    }
    assert_eq!(s.api(OTHER).post(path, &json!({})).status, 404);
    assert_eq!(
        s.v.db_snapshot(),
        before,
        "nothing written by a refused request"
    );

    // A stale page: 409, nothing written.
    let seq = a.json["seq"].as_i64().unwrap();
    let r = dpo.post(path, &json!({"expected_seq": seq - 1}));
    assert_eq!(r.status, 409, "{}", r.json);
    let r = dpo.post_raw(path, r#"{"expected": 1}"#);
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().contains("unknown field"),
        "{}",
        r.json
    );
    assert_eq!(s.v.db_snapshot(), before);

    // Accept: the decision event, once, with the assessment frozen in it.
    let r = dpo.post(path, &json!({"expected_seq": seq}));
    assert_eq!(r.status, 200, "{}", r.json);
    let rec = &r.json["recorded"];
    assert_eq!(rec["seq"], seq + 1, "{}", r.json);
    assert_eq!(rec["actor"], ACME);
    assert_eq!(rec["risk"], "high");
    assert_eq!(rec["recommended_risk"], "high");
    assert_eq!(rec["departs"], false);
    assert_eq!(
        rec["assessment"], a.json["current"],
        "the assessment accepted, frozen"
    );
    assert_eq!(r.json["changed"], false);
    let case = dpo.get("/api/cases/assess-1").json;
    assert_eq!(case["facts"]["risk"], "high");
    assert_eq!(case["tracks"]["assessment"], "assessed");
    assert_eq!(decisions(&s, "assess-1").len(), 1);
    assert_eq!(
        decisions(&s, "assess-1")[0]["assessment"],
        a.json["current"]
    );

    // Accepting again when nothing changed records nothing: the same answer (an empty
    // body, as a retry would send it).
    let after_first = s.v.db_snapshot();
    let again = dpo.post_raw(path, "");
    assert_eq!(again.status, 200, "{}", again.json);
    assert_eq!(again.json, r.json);
    assert_eq!(
        s.v.db_snapshot(),
        after_first,
        "a second accept wrote something"
    );
    assert_eq!(decisions(&s, "assess-1").len(), 1);

    // The other organisation accepts its own case of the same id; acme's is untouched.
    open_assessed_case(&s, OTHER, "assess-1", "Other's own");
    let theirs = s.api(OTHER).post(path, &json!({}));
    assert_eq!(theirs.status, 200, "{}", theirs.json);
    assert_eq!(theirs.json["recorded"]["actor"], OTHER);
    assert_eq!(
        dpo.get(path).json,
        r.json,
        "acme's decision is still acme's"
    );

    // The facts change: the new recommendation beside the recorded one, never rewriting
    // it; accepting now records a second decision.
    let f = dpo.post(
        "/api/cases/assess-1/facts",
        &json!({"facts": {"data_unintelligible": true}, "note": "the disk was encrypted after all"}),
    );
    assert_eq!(f.status, 200, "{}", f.json);
    let now = dpo.get(path).json;
    assert_eq!(now["changed"], true, "{now}");
    assert_eq!(now["current"]["risk"], "none", "{now}");
    assert_eq!(
        now["recorded"], r.json["recorded"],
        "the recorded decision is never rewritten"
    );
    let second = dpo.post(path, &json!({}));
    assert_eq!(second.status, 200, "{}", second.json);
    assert_eq!(second.json["recorded"]["risk"], "none");
    assert_eq!(second.json["changed"], false);
    assert_eq!(decisions(&s, "assess-1").len(), 2);
    assert!(s.v.ok(&["audit", "verify"]).contains("register intact"));
}

fn deciding_otherwise_needs_a_rationale_and_is_the_dpos_on_the_api_and_the_pages() {
    let s = Server::start();
    open_assessed_case(&s, ACME, "assess-2", "Patient files leaked");
    let dpo = s.api(ACME);
    let before = s.v.db_snapshot();

    // API: departing from the recommendation (high) without a rationale is refused
    // with the application layer's one line, nothing written.
    let r = dpo.post(
        "/api/cases/assess-2/events",
        &json!({"event": "assess", "facts": {"risk": "risk"}}),
    );
    assert_eq!(r.status, 400, "{}", r.json);
    let msg = r.json["error"].as_str().unwrap();
    assert!(
        msg.contains("departs from the recommendation") && msg.contains("risk_rationale"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // A contributor does not take the risk decision (it is the DPO's, like accepting).
    let r = s.api("contrib@acme.example").post(
        "/api/cases/assess-2/events",
        &json!({"event": "assess", "facts": {"risk": "high", "risk_rationale": "as recommended"}}),
    );
    assert_eq!(r.status, 403, "{}", r.json);
    assert_eq!(s.v.db_snapshot(), before);

    // The pages: the viewer sees the assessment read-only and gets 403 on both forms.
    let mut viewer = s.browser("viewer@acme.example");
    let (status, html, _) = viewer.get("/cases/assess-2");
    assert_eq!(status, 200);
    assert!(
        html.contains("id=\"assessment\""),
        "the viewer sees the assessment"
    );
    assert!(html.contains("id=\"as-dpo-only\""));
    assert!(!html.contains("id=\"accept-form\"") && !html.contains("id=\"decide-form\""));
    let csrf = form_token(&html, "/logout").expect("a CSRF token");
    for (path, form) in [
        (
            "/cases/assess-2/assessment/accept",
            vec![("_csrf", csrf.as_str())],
        ),
        (
            "/cases/assess-2/assessment/decide",
            vec![
                ("_csrf", csrf.as_str()),
                ("risk", "none"),
                ("rationale", "viewer says so"),
            ],
        ),
    ] {
        let r = viewer.post_form(path, &form);
        assert_eq!(r.status().as_u16(), 403, "viewer {path}");
    }
    // Another organisation's DPO: 404 on the forms.
    let mut other = s.browser(OTHER);
    let (_, dash, _) = other.get("/");
    let other_csrf = form_token(&dash, "/logout").unwrap();
    for path in [
        "/cases/assess-2/assessment/accept",
        "/cases/assess-2/assessment/decide",
    ] {
        let r = other.post_form(
            path,
            &[("_csrf", &other_csrf), ("risk", "none"), ("rationale", "x")],
        );
        assert_eq!(r.status().as_u16(), 404, "other {path}");
    }
    // The DPO's forms: a forged CSRF token is refused; a departure without rationale is
    // refused with the reason and what was chosen kept; with one, it is recorded.
    let mut b = s.browser(ACME);
    let (_, html, _) = b.get("/cases/assess-2");
    assert!(html.contains("id=\"accept-form\"") && html.contains("id=\"decide-form\""));
    assert!(
        !html.contains("id=\"event-assess\""),
        "the decision is taken in its own section"
    );
    let csrf = form_token(&html, "/cases/assess-2/assessment/accept").unwrap();
    let seq = hidden(&html, "seq").unwrap();
    let r = b.post_form(
        "/cases/assess-2/assessment/accept",
        &[("_csrf", "forged"), ("seq", &seq)],
    );
    assert_eq!(r.status().as_u16(), 403);
    let r = b.post_form(
        "/cases/assess-2/assessment/decide",
        &[
            ("_csrf", &csrf),
            ("seq", &seq),
            ("risk", "risk"),
            ("rationale", "  "),
        ],
    );
    assert_eq!(r.status().as_u16(), 400);
    let page = r.text().unwrap();
    assert!(page.contains("departs from the recommendation"), "{page}");
    assert!(
        page.contains("<option value=\"risk\" selected>"),
        "the choice is kept"
    );
    assert_eq!(
        s.v.db_snapshot(),
        before,
        "nothing written by a refused decision"
    );

    let r = b.post_form(
        "/cases/assess-2/assessment/decide",
        &[
            ("_csrf", &csrf),
            ("seq", &seq),
            ("risk", "risk"),
            (
                "rationale",
                "Only appointment dates; the provider confirmed the copy was deleted.",
            ),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let a = dpo.get("/api/cases/assess-2/assessment").json;
    assert_eq!(a["recorded"]["risk"], "risk", "{a}");
    assert_eq!(a["recorded"]["recommended_risk"], "high");
    assert_eq!(a["recorded"]["departs"], true);
    assert_eq!(
        a["recorded"]["assessment"]["risk"], "high",
        "the recommendation departed from, frozen"
    );
    let (_, html, _) = b.get("/cases/assess-2?ok=assessed");
    assert!(
        html.contains("id=\"as-departs\""),
        "the page shows the departure"
    );
    assert!(html.contains("provider confirmed the copy was deleted"));
    assert_eq!(decisions(&s, "assess-2").len(), 1);
}

/// Dutch pages (issue 12 part 5): chosen with the language switch, or by a browser whose
/// first language is Dutch; a `be` case's deadlines and drafts in Dutch; the draft page
/// offers the languages of the case's workflow (no Dutch for the French one).
fn pages_speak_dutch_on_request_and_to_a_dutch_browser() {
    let s = Server::start();
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "be", "title": "Proefgeval", "aware_at": "2026-11-20T09:00", "id": "be-1"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    open_acme_case(&s, "fr-1");

    // A browser that prefers Belgian Dutch gets the sign-in page in Dutch.
    let client = reqwest::blocking::Client::new();
    let page = client
        .get(s.url("/login"))
        .header("accept-language", "nl-BE,nl;q=0.9,fr;q=0.8")
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(page.contains("<html lang=\"nl\">"), "{page}");
    assert!(page.contains("Aanmelden"), "{page}");

    let mut b = s.browser(ACME);
    let (_, fr_dash, _) = b.get("/");
    assert!(
        fr_dash.contains("Dossiers ouverts"),
        "French by default: {fr_dash}"
    );
    // The switch offers each other language, named in itself.
    assert!(fr_dash.contains("id=\"lang-nl\""), "{fr_dash}");
    assert!(fr_dash.contains(">Nederlands</a>"), "{fr_dash}");
    let (status, _, _) = b.get("/lang/nl?next=/");
    assert_eq!(status, 303, "the switch sets the cookie and goes back");
    let (_, dash, _) = b.get("/");
    assert!(dash.contains("<html lang=\"nl\">"), "{dash}");
    assert!(dash.contains("Open dossiers"), "{dash}");
    assert!(
        dash.contains(">Français</a>") && dash.contains(">English</a>"),
        "{dash}"
    );
    assert!(
        !dash.contains(">Nederlands</a>"),
        "no link to the page's own language"
    );

    let (_, case, _) = b.get("/cases/be-1");
    for said in [
        "Melding aan de GBA binnen 72 uur",
        "AVG art. 33, lid 1",
        "Termijnen",
        "Feiten",
    ] {
        assert!(case.contains(said), "{said:?} not on the case page: {case}");
    }
    for foreign in [
        "Notification à l'APD",
        "RGPD art.",
        "Deadlines",
        "Échéances",
    ] {
        assert!(
            !case.contains(foreign),
            "{foreign:?} on the Dutch case page"
        );
    }

    let (status, draft, _) = b.get("/cases/be-1/drafts/apd_notification?lang=nl");
    assert_eq!(status, 200);
    assert!(
        draft.contains("Eerste melding van een inbreuk in verband met persoonsgegevens"),
        "{draft}"
    );
    for l in ["fr", "nl", "en"] {
        assert!(
            draft.contains(&format!("id=\"draft-lang-{l}\"")),
            "{l}: {draft}"
        );
    }
    let (_, md, headers) = b.get("/cases/be-1/drafts/apd_notification/download?format=md&lang=nl");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("be-1-apd_notification.nl.md"),
        "{headers:?}"
    );
    assert!(md.contains("Gegevensbeschermingsautoriteit (GBA)"), "{md}");

    // The French workflow drafts in fr and en only: asked in nl, the draft is French.
    let (_, fr_draft, _) = b.get("/cases/fr-1/drafts/cnil_notification?lang=nl");
    assert!(!fr_draft.contains("id=\"draft-lang-nl\""), "{fr_draft}");
    assert!(fr_draft.contains("notification"), "{fr_draft}");
    let api = s
        .api(ACME)
        .get("/api/cases/fr-1/drafts/cnil_notification?lang=nl&format=md");
    assert_eq!(api.status, 200, "{}", api.json);
    assert_eq!(
        api.json["lang"], "fr",
        "the API says which language it wrote"
    );
}
