//! One person, several organisations (issue 25 part 1): `vigie user add` of an address
//! that has an account elsewhere adds a membership; the header's switcher moves a
//! session between the person's organisations and nothing else; the portfolio lists
//! every running deadline of the person's organisations with the organisation's name;
//! an API token reads its own organisation only; a membership removed while the person
//! is signed in is lost on the next request (pages, API, calendar feed); and databases
//! made before memberships are migrated, each user a person with one membership.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::web::{Browser, PASSWORD, Server, form_token};
use serde_json::json;

both_backends! {
    a_person_in_two_organisations_switches_between_them_and_sees_one_at_a_time,
    the_portfolio_lists_every_running_deadline_with_its_organisation_and_no_action_for_a_viewer,
    a_token_reads_the_organisation_it_was_made_in_and_no_other,
    a_membership_removed_while_signed_in_is_lost_on_the_next_request,
    users_made_before_memberships_are_people_with_one_membership_and_still_sign_in,
}

/// The external DPO of the tests.
pub const EXT: &str = "ext@dpo.example";

/// Makes `EXT` a member of `org` with `role`: a new person the first time, a new
/// membership after. Returns the command's output.
pub fn add_ext(v: &Vigie, org: &str, role: &str) -> String {
    let out = v.run_stdin(
        &["--org", org, "user", "add", EXT, "--role", role],
        &format!("{PASSWORD}\n"),
    );
    assert_eq!(out.code, 0, "user add {EXT} to {org}: {}", out.stderr);
    out.stdout
}

/// Opens a case of `org` through the API with `token`, aware two hours ago.
fn open(s: &Server, token: &str, id: &str, title: &str) {
    let aware = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = s.api_with_token(token).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": title, "aware_at": aware, "id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
}

/// Switches the browser's session to `org` with the header's form; the status.
pub fn switch(b: &mut Browser, org: &str) -> u16 {
    let (_, html, _) = b.get("/");
    let csrf = form_token(&html, "/switch").expect("the header has the switcher");
    let r = b.post_form("/switch", &[("_csrf", &csrf), ("org", org), ("next", "/")]);
    r.status().as_u16()
}

/// The organisation the header names for the session now (its id, kept in `data-org`;
/// the line shows its name).
fn acting_in(b: &mut Browser) -> String {
    let (status, html, _) = b.get("/");
    assert_eq!(status, 200, "{html}");
    let marker = "class=\"who\" data-org=\"";
    let i = html.find(marker).expect("the header names the user") + marker.len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

fn a_person_in_two_organisations_switches_between_them_and_sees_one_at_a_time() {
    let s = Server::start();
    let first = add_ext(&s.v, "acme", "dpo");
    assert!(first.contains("added"), "{first}");
    let second = add_ext(&s.v, "other", "dpo");
    assert!(
        second.contains("already has an account") && second.contains("'other'"),
        "the output says it is a membership: {second}"
    );
    // The same person: one password, two memberships.
    let list = s.v.json(&["user", "list", "--all", "--json"]);
    let mine: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"] == EXT)
        .collect();
    assert_eq!(mine.len(), 2, "{list}");
    assert_eq!(mine[0]["id"], mine[1]["id"], "one person: {list}");
    open(&s, s.token("dpo@acme.example"), "acme-1", "Acme laptop");
    open(&s, s.token("dpo@other.example"), "other-1", "Other USB key");

    let mut b = s.browser(EXT);
    assert_eq!(acting_in(&mut b), "acme", "the first organisation first");
    let (_, dash, _) = b.get("/");
    assert!(dash.contains("id=\"org-switch\"") && dash.contains("id=\"nav-portfolio\""));
    assert!(
        dash.contains("acme-1") && !dash.contains("other-1"),
        "{dash}"
    );
    assert_eq!(b.get("/cases/other-1").0, 404);
    let stale = form_token(&dash, "/logout").unwrap();

    assert_eq!(switch(&mut b, "other"), 303);
    assert_eq!(acting_in(&mut b), "other");
    let (_, dash, _) = b.get("/");
    assert!(
        dash.contains("other-1") && !dash.contains("acme-1"),
        "{dash}"
    );
    assert_eq!(b.get("/cases/other-1").0, 200);
    for path in ["/cases/acme-1", "/cases/acme-1/drafts/cnil_notification"] {
        let (status, html, _) = b.get(path);
        assert_eq!(status, 404, "{path}");
        assert!(!html.contains("Acme laptop"));
    }
    let (_, reg, _) = b.get("/register");
    assert!(reg.contains("other-1") && !reg.contains("acme-1"), "{reg}");
    let (_, csv, _) = b.get("/register.csv");
    assert!(!csv.contains("acme-1"));

    // A form of a page shown while acting in acme, sent after switching: refused, and
    // nothing is written in either organisation.
    let snapshot = s.v.db_snapshot();
    let r = b.post_form(
        "/cases/other-1/events",
        &[("_csrf", &stale), ("event", "contain")],
    );
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(s.v.db_snapshot(), snapshot);

    // An organisation the person is not a member of cannot be picked.
    s.v.ok(&["org", "add", "third", "--name", "Third SA"]);
    assert_eq!(switch(&mut b, "third"), 403);
    assert_eq!(switch(&mut b, "nope"), 403);
    assert_eq!(acting_in(&mut b), "other", "nothing changed");

    // Someone with one organisation has no switcher.
    let mut one = s.browser("dpo@acme.example");
    let (_, html, _) = one.get("/");
    assert!(!html.contains("id=\"org-switch\"") && !html.contains("nav-portfolio"));
    assert_eq!(switch_refused(&mut one, "other"), 403);
}

/// A person of one organisation posting the switcher's form by hand.
fn switch_refused(b: &mut Browser, org: &str) -> u16 {
    let (_, html, _) = b.get("/");
    let csrf = form_token(&html, "/logout").unwrap();
    b.post_form("/switch", &[("_csrf", &csrf), ("org", org)])
        .status()
        .as_u16()
}

fn the_portfolio_lists_every_running_deadline_with_its_organisation_and_no_action_for_a_viewer() {
    let s = Server::start();
    s.v.ok(&["org", "add", "third", "--name", "Third SA"]);
    s.v.run_stdin(
        &[
            "--org",
            "third",
            "user",
            "add",
            "dpo@third.example",
            "--role",
            "dpo",
        ],
        &format!("{PASSWORD}\n"),
    );
    let third =
        s.v.ok(&["--org", "third", "user", "token", "dpo@third.example"])
            .trim()
            .to_string();
    add_ext(&s.v, "acme", "dpo");
    add_ext(&s.v, "other", "contributor");
    add_ext(&s.v, "third", "viewer");
    for (token, prefix) in [
        (s.token("dpo@acme.example").to_string(), "acme"),
        (s.token("dpo@other.example").to_string(), "other"),
        (third, "third"),
    ] {
        for i in 1..=2 {
            open(
                &s,
                &token,
                &format!("{prefix}-{i}"),
                &format!("{prefix} case {i}"),
            );
        }
    }
    let mut b = s.browser(EXT);
    let (status, html, _) = b.get("/portfolio");
    assert_eq!(status, 200, "{html}");
    let rows: Vec<&str> = html.split("<tr class=\"portfolio-row\"").skip(1).collect();
    assert_eq!(rows.len(), 6, "every running deadline: {html}");
    for (org, name) in [
        ("acme", "ACME SA"),
        ("other", "Other SA"),
        ("third", "Third SA"),
    ] {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.contains(&format!("data-org=\"{org}\"")))
            .collect();
        assert_eq!(mine.len(), 2, "{org}: {html}");
        for r in mine {
            assert!(r.contains(name), "{org}'s rows name it: {r}");
            // A viewer sees the deadline, with nothing to act on.
            assert_eq!(r.contains("portfolio-open"), org != "third", "{r}");
        }
    }
    // Nearest first: the due times shown never go back.
    let dues: Vec<&str> = rows
        .iter()
        .map(|r| {
            let i = r.find("data-due=\"").unwrap() + 10;
            &r[i..i + r[i..].find('"').unwrap()]
        })
        .collect();
    let mut sorted = dues.clone();
    sorted.sort_by_key(|d| chrono::DateTime::parse_from_rfc3339(d).unwrap());
    assert_eq!(dues, sorted);

    // A row opens its case in its organisation.
    let (status, _, headers) = b.get("/portfolio/other/cases/other-2");
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/cases/other-2");
    let (status, html, _) = b.get("/cases/other-2");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("other case 2"), "{html}");
    assert_eq!(acting_in(&mut b), "other");
    // Never into an organisation of someone else's.
    let mut acme = s.browser("dpo@acme.example");
    let (status, html, _) = acme.get("/portfolio/other/cases/other-2");
    assert_eq!(status, 403);
    assert!(!html.contains("other case 2"));
    let (_, html, _) = acme.get("/portfolio");
    assert!(html.contains("acme-1") && !html.contains("other-1") && !html.contains("third-1"));
}

fn a_token_reads_the_organisation_it_was_made_in_and_no_other() {
    let s = Server::start();
    add_ext(&s.v, "acme", "dpo");
    add_ext(&s.v, "other", "dpo");
    open(&s, s.token("dpo@acme.example"), "acme-1", "Acme laptop");
    open(&s, s.token("dpo@other.example"), "other-1", "Other USB key");
    // Without --org, a person of two organisations is asked which.
    let err = s.v.fails(&["user", "token", EXT], 2);
    assert!(
        err.contains("several organisations") && err.contains("--org"),
        "{err}"
    );
    let out =
        s.v.command()
            .args(["--org", "other", "user", "token", EXT])
            .output()
            .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("'other'"));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let api = s.api_with_token(&token);
    assert_eq!(api.get("/api/me").json["org"], "other");
    assert_eq!(api.get("/api/cases/other-1").status, 200);
    for path in [
        "/api/cases/acme-1",
        "/api/cases/acme-1/events",
        "/api/cases/acme-1/drafts/cnil_notification",
    ] {
        let r = api.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.json);
        assert!(!r.json.to_string().contains("Acme laptop"));
    }
    let all = api.get("/api/cases?all=true").json.to_string();
    assert!(all.contains("other-1") && !all.contains("acme-1"), "{all}");
    let reg = api.get("/api/register").json.to_string();
    assert!(!reg.contains("acme-1"));
    let snapshot = s.v.db_snapshot();
    let r = api.post("/api/cases/acme-1/events", &json!({"event": "contain"}));
    assert_eq!(r.status, 404);
    assert_eq!(s.v.db_snapshot(), snapshot);
    // The token list names the membership's organisation.
    let list = s.v.ok(&["--org", "other", "user", "token", "list"]);
    assert!(list.contains(EXT), "{list}");
    let list = s.v.ok(&["--org", "acme", "user", "token", "list"]);
    assert!(!list.contains(EXT), "{list}");
}

/// Makes the browser's calendar address, for the portfolio or the current organisation.
fn calendar(b: &mut Browser, scope: &str) -> String {
    let (_, html, _) = b.get("/settings");
    assert!(html.contains("id=\"calendar-scope\""), "{html}");
    let csrf = form_token(&html, "/settings/calendar").unwrap();
    let r = b.post_form(
        "/settings/calendar",
        &[("_csrf", &csrf), ("action", "new"), ("scope", scope)],
    );
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().unwrap();
    let i = html.find("/calendar.ics?token").expect("the address");
    let rest = &html[i..];
    rest[..rest.find('"').unwrap()].replace("&#x3D;", "=")
}

fn a_membership_removed_while_signed_in_is_lost_on_the_next_request() {
    let s = Server::start();
    add_ext(&s.v, "acme", "dpo");
    add_ext(&s.v, "other", "dpo");
    open(&s, s.token("dpo@acme.example"), "acme-1", "Acme laptop");
    open(&s, s.token("dpo@other.example"), "other-1", "Other USB key");
    let token =
        s.v.ok(&["--org", "other", "user", "token", EXT])
            .trim()
            .to_string();
    let api = s.api_with_token(&token);
    assert_eq!(api.get("/api/cases/other-1").status, 200);
    let mut b = s.browser(EXT);
    assert_eq!(switch(&mut b, "other"), 303);
    let feed = calendar(&mut b, "portfolio");
    let anon = s.anonymous();
    let ics = anon.get(&feed);
    assert_eq!(ics.status, 200);
    let text = ics.json.as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("other-1") && text.contains("acme-1"),
        "{text}"
    );
    assert_eq!(b.get("/cases/other-1").0, 200);

    // Removed from other by the command line while signed in.
    let out = s.v.ok(&["--org", "other", "user", "disable", EXT]);
    assert!(out.contains("'other'"), "{out}");

    // Pages: the session acts in acme now; other's case is gone, and so is the switcher.
    let (status, html, _) = b.get("/cases/other-1");
    assert_eq!(status, 404, "{html}");
    assert!(!html.contains("Other USB key"));
    assert_eq!(acting_in(&mut b), "acme");
    let (_, dash, _) = b.get("/");
    assert!(!dash.contains("id=\"org-switch\""), "one organisation left");
    assert_eq!(switch_refused(&mut b, "other"), 403);
    let (_, port, _) = b.get("/portfolio");
    assert!(
        !port.contains("other-1") && port.contains("acme-1"),
        "{port}"
    );
    // API: the token of that membership is refused.
    assert_eq!(api.get("/api/cases/other-1").status, 401);
    assert_eq!(api.get("/api/me").status, 401);
    // Feed: other's deadlines are gone from the portfolio calendar.
    let text = anon
        .get(&feed)
        .json
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !text.contains("other-1") && text.contains("acme-1"),
        "{text}"
    );
    // Acme is untouched.
    assert_eq!(b.get("/cases/acme-1").0, 200);

    // Back in other: the membership and its token work again.
    s.v.ok(&["--org", "other", "user", "enable", EXT]);
    assert_eq!(api.get("/api/cases/other-1").status, 200);
    assert_eq!(switch(&mut b, "other"), 303);
    assert_eq!(b.get("/cases/other-1").0, 200);

    // An address of one organisation ends with its membership (410 for the calendar).
    let feed = calendar(&mut b, "org");
    assert_eq!(anon.get(&feed).status, 200);
    s.v.ok(&["--org", "other", "user", "disable", EXT]);
    assert_eq!(anon.get(&feed).status, 410);
    // The last organisation gone: signed out.
    s.v.ok(&["--org", "acme", "user", "disable", EXT]);
    let (status, _, _) = b.get("/");
    assert_eq!(status, 303, "signed out");
}

/// Runs `migrations/<backend>/` up to the last one before memberships on a fresh
/// database, as a database made by an earlier vigie.
fn old_schema(v: &Vigie) {
    let backend = v.backend();
    let (dir, last) = match backend {
        common::db::Backend::Sqlite => ("migrations/sqlite", "0017"),
        common::db::Backend::Postgres => ("migrations/postgres", "0009"),
    };
    let mut files: Vec<_> = std::fs::read_dir(common::repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".sql") && n[..4] <= *last)
        })
        .collect();
    files.sort();
    match backend {
        common::db::Backend::Sqlite => {
            let conn = rusqlite::Connection::open(v.db_path()).unwrap();
            for (i, f) in files.iter().enumerate() {
                conn.execute_batch(&std::fs::read_to_string(f).unwrap())
                    .unwrap();
                conn.pragma_update(None, "user_version", i + 1).unwrap();
            }
        }
        common::db::Backend::Postgres => {
            let url = v.db_arg().into_string().unwrap();
            let mut script = String::from(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now());\n",
            );
            for (i, f) in files.iter().enumerate() {
                script.push_str(&std::fs::read_to_string(f).unwrap());
                script.push_str(&format!(
                    "\nINSERT INTO schema_migrations (version) VALUES ({});\n",
                    i + 1
                ));
            }
            common::db::pg_script(&url, &script).unwrap();
        }
    }
}

fn sha256(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn users_made_before_memberships_are_people_with_one_membership_and_still_sign_in() {
    let v = Vigie::new();
    old_schema(&v);
    // Two organisations and their users as the old schema held them: a password, an
    // API token, a live session and a calendar address.
    let hash = {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let salt = SaltString::encode_b64(b"sixteen bytes ok").unwrap();
        argon2::Argon2::default()
            .hash_password(PASSWORD.as_bytes(), &salt)
            .unwrap()
            .to_string()
    };
    let token = format!("vigie_{}", "ab".repeat(32));
    let session = "cd".repeat(32);
    let cal = format!("vcal_{}", "ef".repeat(32));
    let at = "'2026-11-01T08:00:00.000000Z'";
    let far = "'2099-01-01T00:00:00.000000Z'";
    v.sql_script(&format!(
        "INSERT INTO organisations (id, name) VALUES ('acme', 'ACME SA'), ('beta', 'Beta SA');
         INSERT INTO users (id, org, email, name, role, password, created_at, disabled) VALUES
           (1, 'acme', 'dpo@acme.example', 'Anna', 'dpo', '{hash}', {at}, FALSE),
           (2, 'beta', 'viewer@beta.example', 'Bob', 'viewer', '{hash}', {at}, FALSE);
         INSERT INTO api_tokens (hash, user_id, name, created_at) VALUES ('{}', 1, 'old', {at});
         INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at)
           VALUES ('{}', 1, 'x', {at}, {far});
         INSERT INTO calendar_tokens (user_id, hash, created_at) VALUES (2, '{}', {at});",
        sha256(&token),
        sha256(&session),
        sha256(&cal),
    ));
    // Upgraded on first open.
    let list = v.json(&["user", "list", "--all", "--json"]);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{list}");
    assert_eq!(
        (
            &rows[0]["email"],
            &rows[0]["org"],
            &rows[0]["role"],
            &rows[0]["id"]
        ),
        (
            &json!("dpo@acme.example"),
            &json!("acme"),
            &json!("dpo"),
            &json!(1)
        )
    );
    assert_eq!(
        (&rows[1]["email"], &rows[1]["org"], &rows[1]["role"]),
        (
            &json!("viewer@beta.example"),
            &json!("beta"),
            &json!("viewer")
        )
    );
    let n = v.sql("SELECT COUNT(*) FROM memberships", &[]);
    assert_eq!(n[0][0], json!(2));
    let tokens = v.ok(&["user", "token", "list", "--all"]);
    assert!(
        tokens.contains("acme") && tokens.contains("old"),
        "{tokens}"
    );
    // A membership more for the first, with the same password.
    let out = v.run_stdin(
        &[
            "--org",
            "beta",
            "user",
            "add",
            "dpo@acme.example",
            "--role",
            "contributor",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("already has an account"),
        "{}",
        out.stdout
    );

    let mut serve = v.serve().listen("127.0.0.1:0").spawn();
    let base = serve.url();
    // The old session is still signed in, in its organisation.
    let mut old = Browser::new(&base);
    old.cookies
        .insert("vigie_session".to_string(), session.clone());
    let (status, html, _) = old.get("/");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("dpo@acme.example") && html.contains("· ACME SA<"),
        "{html}"
    );
    // The password still signs in, now with both organisations to switch between.
    let mut b = Browser::new(&base);
    assert_eq!(b.login("dpo@acme.example", PASSWORD).status().as_u16(), 303);
    let (_, html, _) = b.get("/");
    assert!(html.contains("id=\"org-switch\""), "{html}");
    assert_eq!(switch(&mut b, "beta"), 303);
    let mut viewer = Browser::new(&base);
    assert_eq!(
        viewer
            .login("viewer@beta.example", PASSWORD)
            .status()
            .as_u16(),
        303
    );
    // The old API token reads its organisation.
    let client = reqwest::blocking::Client::new();
    let me: serde_json::Value = client
        .get(format!("{base}/api/me"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (&me["org"], &me["role"]),
        (&json!("acme"), &json!("dpo")),
        "{me}"
    );
    // The old calendar address still reads beta's deadlines.
    let r = client
        .get(format!("{base}/calendar.ics?token={cal}"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.text().unwrap().contains("Beta SA"));
    drop(serve);
}

/// As a DPO would, in Chromium: sign in, pick the other organisation in the header's
/// switcher and press its button, then open the portfolio from the header: both
/// organisations' deadlines, each row naming its organisation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_switcher_and_the_portfolio_work_by_clicking() {
    use common::browser::*;
    use fantoccini::Locator;
    let s = Server::start();
    add_ext(&s.v, "acme", "dpo");
    add_ext(&s.v, "other", "dpo");
    open(&s, s.token("dpo@acme.example"), "acme-1", "Acme laptop");
    open(&s, s.token("dpo@other.example"), "other-1", "Other USB key");
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    sign_in(&c, &s.base, EXT, PASSWORD).await;
    let who = wait_text(&c, ".who", &["ACME SA"]).await;
    assert!(!who.contains("Other SA"), "{who}");
    click(&c, Locator::Css("#org-select option[value='other']")).await;
    click(&c, Locator::Id("org-switch-go")).await;
    let who = wait_text(&c, ".who", &["Other SA"]).await;
    assert!(!who.contains("ACME SA"), "{who}");
    shot(&c, "memberships-01-switched").await;
    click(&c, Locator::Id("nav-portfolio")).await;
    let page = wait_text(&c, "main", &["Acme laptop", "Other USB key"]).await;
    assert!(
        page.contains("ACME SA") && page.contains("Other SA"),
        "each row names its organisation: {page}"
    );
    shot(&c, "memberships-02-portfolio").await;
    let _ = c.close().await;
}
