//! Colleagues from the web (issue 21 part 5): the DPO's users page lists the
//! organisation's users with their role and last sign-in; inviting a colleague by e-mail
//! address and role gives a one-time link valid 7 days (shown once, and e-mailed through
//! the configured transport); the invitee chooses their own password and is signed in;
//! a used, expired or revoked link says so (410). The DPO changes roles and disables or
//! enables users, never leaving the organisation without an enabled DPO. The same rules
//! hold in the API and in `vigie user invite|invitations|revoke-invitation|role`, and
//! one organisation never sees or touches another's users or invitations.
//!
//! Last, one Chromium test of the whole flow by clicking.

use crate::both_backends;
use crate::common;

use crate::common::browser as chrome;

use common::smtp::decoded;
use common::web::{Browser, PASSWORD, Server, form_token};
use serde_json::json;
use std::path::PathBuf;

both_backends! {
    the_dpo_invites_a_colleague_who_chooses_a_password_and_is_signed_in,
    an_invitation_used_expired_or_revoked_says_so,
    members_are_not_invited_again_and_an_organisation_keeps_its_dpo,
    organisations_never_see_each_others_users_or_invitations,
    the_command_line_invites_lists_revokes_and_changes_roles,
}

const NEW_PASSWORD: &str = "the invitee's own password";

/// An attribute value as the page wrote it, read back as the browser would.
fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&#x3D;", "=")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
}

/// The invitation link shown once on the users page (`#invite-link`).
#[track_caller]
fn invite_link(html: &str) -> String {
    let needle = "id=\"invite-link\" value=\"";
    let i = html
        .find(needle)
        .unwrap_or_else(|| panic!("no #invite-link on the page:\n{html}"))
        + needle.len();
    unescape(&html[i..][..html[i..].find('"').unwrap()])
}

/// The path of a link (`/invitations/<token>`).
fn path_of(link: &str) -> String {
    link[link.find("/invitations/").expect("an invitation link")..].to_string()
}

/// The users page's row of `email`, if it lists one.
fn row<'a>(html: &'a str, email: &str) -> Option<&'a str> {
    let i = html.find(&format!("data-user=\"{email}\""))?;
    let rest = &html[i..];
    Some(&rest[..rest.find("</tr>").unwrap_or(rest.len())])
}

/// Invites through the users page as `b`; the page answered, and its HTML.
fn invite_on_page(b: &mut Browser, email: &str, role: &str) -> (u16, String) {
    let (status, html, _) = b.get("/users");
    assert_eq!(status, 200, "{html}");
    let csrf = form_token(&html, "/users/invitations").expect("the invite form's token");
    let r = b.post_form(
        "/users/invitations",
        &[("_csrf", &csrf), ("email", email), ("role", role)],
    );
    let status = r.status().as_u16();
    (status, r.text().unwrap())
}

/// Opens the invitation at `path` in a fresh browser and chooses a password: the answer.
fn accept(
    base: &str,
    path: &str,
    name: &str,
    password: &str,
    again: &str,
) -> (Browser, u16, String) {
    let mut b = Browser::new(base);
    let (status, html, _) = b.get(path);
    if status != 200 {
        return (b, status, html);
    }
    assert!(html.contains("id=\"accept-invitation\""), "{html}");
    let csrf = form_token(&html, path).expect("the invitation form's token");
    let r = b.post_form(
        path,
        &[
            ("_csrf", &csrf),
            ("name", name),
            ("password", password),
            ("password2", again),
        ],
    );
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = r.text().unwrap();
    (b, status, location.unwrap_or(body))
}

/// The `.eml` files the server's file transport wrote (`./outbox` beside its config).
fn outbox(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("outbox"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default()
}

fn the_dpo_invites_a_colleague_who_chooses_a_password_and_is_signed_in() {
    let s = Server::start();
    let mut dpo = s.browser("dpo@acme.example");

    // The DPO's menu has the users page; it lists the organisation's users only.
    let (status, home, _) = dpo.get("/");
    assert_eq!(status, 200);
    assert!(home.contains("id=\"nav-users\""), "{home}");
    let (status, html, _) = dpo.get("/users");
    assert_eq!(status, 200, "{html}");
    for email in [
        "dpo@acme.example",
        "contrib@acme.example",
        "viewer@acme.example",
    ] {
        assert!(row(&html, email).is_some(), "{email} listed:\n{html}");
    }
    assert!(!html.contains("other.example"), "{html}");
    // Signed in just now (the page's clock is the organisation's zone, with its offset);
    // the viewer never did.
    assert!(!row(&html, "dpo@acme.example").unwrap().contains("jamais"));
    assert!(
        row(&html, "viewer@acme.example")
            .unwrap()
            .contains("jamais")
    );

    // Inviting: the link shown once, right after.
    let (status, html) = invite_on_page(&mut dpo, "Nouvelle@acme.example", "viewer");
    assert_eq!(status, 200, "{html}");
    let link = invite_link(&html);
    assert!(
        link.starts_with(&format!("{}/invitations/", s.base)),
        "{link}"
    );
    let path = path_of(&link);
    assert!(
        html.contains("data-invitation=\"Nouvelle@acme.example\""),
        "{html}"
    );
    // ... and e-mailed through the configured transport (here the outbox folder).
    assert!(html.contains("id=\"invite-mail\""), "{html}");
    let mails = outbox(s.v.dir());
    assert_eq!(mails.len(), 1, "one e-mail: {mails:?}");
    let mail = decoded(&mails[0]);
    assert!(mail.contains("To: Nouvelle@acme.example"), "{mail}");
    assert!(mail.contains(&link), "the e-mail carries the link:\n{mail}");
    // Shown once: the page read again lists the invitation, not its link.
    let (_, again, _) = dpo.get("/users");
    assert!(
        !again.contains(&path[13..]),
        "the secret is not shown again"
    );
    assert!(again.contains("data-invitation=\"Nouvelle@acme.example\""));

    // The invitee chooses their own password: it must be typed twice alike, and follow
    // the rules of every account.
    let (_, status, body) = accept(
        &s.base,
        &path,
        "Nina Nouvelle",
        NEW_PASSWORD,
        "something else entirely",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("id=\"error\""), "{body}");
    let (_, status, body) = accept(&s.base, &path, "Nina Nouvelle", "short", "short");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("12"), "the rule is named: {body}");
    let (mut nina, status, to) =
        accept(&s.base, &path, "Nina Nouvelle", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(
        (status, to.as_str()),
        (303, "/"),
        "signed in, to the dashboard"
    );
    let (status, home, _) = nina.get("/");
    assert_eq!(status, 200, "{home}");
    assert!(
        home.contains("Nouvelle@acme.example"),
        "signed in as the invitee: {home}"
    );
    assert!(
        home.contains("lecteur"),
        "the role in the page's words: {home}"
    );
    assert!(
        !home.contains("id=\"nav-users\""),
        "a viewer has no users page link"
    );
    let (status, _, _) = nina.get("/users");
    assert_eq!(status, 403, "only the DPO sees the users page");
    // Their password is theirs: it signs in again.
    let mut later = Browser::new(&s.base);
    assert_eq!(
        later
            .login("nouvelle@acme.example", NEW_PASSWORD)
            .status()
            .as_u16(),
        303
    );

    // The link worked once.
    let (_, status, body) = accept(
        &s.base,
        &path,
        "Mallory",
        "a password of mallory",
        "a password of mallory",
    );
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("déjà été utilisée"), "{body}");

    // The DPO's page: the new user with their role and a last sign-in; no pending
    // invitation left.
    let (_, html, _) = dpo.get("/users");
    let r = row(&html, "Nouvelle@acme.example").expect("the new user is listed");
    assert!(r.contains("data-role=\"viewer\""), "{r}");
    assert!(!r.contains("jamais"), "{r}");
    assert!(html.contains("id=\"no-invitations\""), "{html}");
    // The API says the same.
    let users = s.api("dpo@acme.example").get("/api/users");
    assert_eq!(users.status, 200, "{}", users.json);
    let nina_json = users
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "Nouvelle@acme.example")
        .cloned()
        .expect("listed by the API");
    assert_eq!(nina_json["role"], "viewer");
    assert_eq!(nina_json["name"], "Nina Nouvelle");
    assert!(nina_json["last_sign_in"].is_string(), "{nina_json}");
}

fn an_invitation_used_expired_or_revoked_says_so() {
    let s = Server::start();
    let api = s.api("dpo@acme.example");

    // Through the API: 201, the link, what became of the e-mail.
    let r = api.post(
        "/api/users/invitations",
        &json!({"email": "revoked@acme.example", "role": "contributor", "lang": "en"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    assert_eq!(r.json["state"], "pending");
    assert_eq!(r.json["mail"], "outbox");
    let revoked = path_of(r.json["link"].as_str().unwrap());
    let id = r.json["id"].as_i64().unwrap();
    let r = api.post(&format!("/api/users/invitations/{id}/revoke"), &json!({}));
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["state"], "revoked");
    let (_, status, body) = accept(&s.base, &revoked, "", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("révoquée"), "{body}");
    // Revoked twice: there is no pending invitation with that id.
    let r = api.post(&format!("/api/users/invitations/{id}/revoke"), &json!({}));
    assert_eq!(r.status, 404, "{}", r.json);

    // Inviting the same address again replaces the pending invitation: the first link
    // stops working.
    let first = api.post(
        "/api/users/invitations",
        &json!({"email": "twice@acme.example", "role": "viewer"}),
    );
    let second = api.post(
        "/api/users/invitations",
        &json!({"email": "twice@acme.example", "role": "contributor"}),
    );
    assert_eq!((first.status, second.status), (201, 201));
    let first = path_of(first.json["link"].as_str().unwrap());
    let (_, status, _) = accept(&s.base, &first, "", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 410, "the replaced link");

    // Valid 7 days: a server whose clock is 8 days later finds it expired (and so says
    // the API's list).
    let pending = api.post(
        "/api/users/invitations",
        &json!({"email": "late@acme.example", "role": "viewer"}),
    );
    let late = path_of(pending.json["link"].as_str().unwrap());
    let later = s.another_instance("8d");
    let (_, status, body) = accept(&later.base, &late, "", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 410, "{body}");
    assert!(body.contains("expiré"), "{body}");
    let list = later.api("dpo@acme.example").get("/api/users/invitations");
    let state = |email: &str| {
        list.json
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["email"] == email)
            .map(|i| i["state"].clone())
    };
    assert_eq!(state("late@acme.example"), Some(json!("expired")));
    assert_eq!(state("revoked@acme.example"), Some(json!("revoked")));
    // ... while 6 days later it still works (and is then used).
    let sooner = s.another_instance("6d");
    let (_, status, to) = accept(&sooner.base, &late, "", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!((status, to.as_str()), (303, "/"));
    let list = sooner.api("dpo@acme.example").get("/api/users/invitations");
    assert!(
        list.json
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["email"] == "late@acme.example" && i["state"] == "used"),
        "{}",
        list.json
    );
    // A link that never was one.
    let mut b = Browser::new(&s.base);
    let (status, _, _) = b.get(&format!("/invitations/{}", "0".repeat(64)));
    assert_eq!(status, 404);
    // The list never carries a link.
    assert!(
        !list.json.to_string().contains("/invitations/"),
        "{}",
        list.json
    );
}

fn members_are_not_invited_again_and_an_organisation_keeps_its_dpo() {
    let s = Server::start();
    let api = s.api("dpo@acme.example");

    // An address that has an account here is refused, clearly, in the API and the page.
    let r = api.post(
        "/api/users/invitations",
        &json!({"email": "Contrib@acme.example", "role": "viewer"}),
    );
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("already has an account in this organisation"),
        "{}",
        r.json
    );
    let mut dpo = s.browser("dpo@acme.example");
    let (status, html) = invite_on_page(&mut dpo, "viewer@acme.example", "viewer");
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("already has an account in this organisation"),
        "{html}"
    );
    assert!(!html.contains("id=\"invite-link\""));
    // Not an address, not a role.
    let r = api.post(
        "/api/users/invitations",
        &json!({"email": "not an address", "role": "viewer"}),
    );
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().starts_with("email:"),
        "{}",
        r.json
    );
    let r = api.post(
        "/api/users/invitations",
        &json!({"email": "x@acme.example", "role": "admin"}),
    );
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().starts_with("role:"),
        "{}",
        r.json
    );
    // Only the DPO invites.
    let r = s.api("contrib@acme.example").post(
        "/api/users/invitations",
        &json!({"email": "y@acme.example", "role": "dpo"}),
    );
    assert_eq!(r.status, 403, "{}", r.json);
    let r = s.api("contrib@acme.example").get("/api/users");
    assert_eq!(r.status, 403, "{}", r.json);

    // The only DPO can be neither demoted nor disabled: in the API, the page, the CLI.
    let r = api.post("/api/users/dpo@acme.example", &json!({"role": "viewer"}));
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"].as_str().unwrap().contains("no enabled DPO"),
        "{}",
        r.json
    );
    let r = api.post("/api/users/dpo@acme.example", &json!({"disabled": true}));
    assert_eq!(r.status, 400, "{}", r.json);
    let (_, html, _) = dpo.get("/users");
    let csrf = form_token(&html, "/users/disable").unwrap();
    let r = dpo.post_form(
        "/users/disable",
        &[("_csrf", &csrf), ("email", "dpo@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("no enabled DPO"));
    let err =
        s.v.fails(&["--org", "acme", "user", "disable", "dpo@acme.example"], 2);
    assert!(err.contains("no enabled DPO"), "{err}");
    let err = s.v.fails(
        &[
            "--org",
            "acme",
            "user",
            "role",
            "dpo@acme.example",
            "--role",
            "contributor",
        ],
        2,
    );
    assert!(err.contains("no enabled DPO"), "{err}");
    assert_eq!(s.api("dpo@acme.example").get("/api/me").json["role"], "dpo");

    // With a second DPO (made on the page), the first can step down.
    let (_, html, _) = dpo.get("/users");
    let csrf = form_token(&html, "/users/role").unwrap();
    let r = dpo.post_form(
        "/users/role",
        &[
            ("_csrf", &csrf),
            ("email", "contrib@acme.example"),
            ("role", "dpo"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let (_, html, _) = dpo.get("/users?ok=role");
    assert!(
        row(&html, "contrib@acme.example")
            .unwrap()
            .contains("data-role=\"dpo\"")
    );
    let r = api.post(
        "/api/users/dpo@acme.example",
        &json!({"role": "contributor"}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["role"], "contributor");
    assert_eq!(
        s.api("dpo@acme.example").get("/api/me").json["role"],
        "contributor"
    );
    // The former DPO's page lost the users link at once.
    let (status, _, _) = dpo.get("/users");
    assert_eq!(status, 403);

    // Disabling (by the new DPO): signed out, API token refused; enabling again.
    let mut boss = s.browser("contrib@acme.example");
    let (_, html, _) = boss.get("/users");
    let csrf = form_token(&html, "/users/disable").unwrap();
    let mut viewer = s.browser("viewer@acme.example");
    let r = boss.post_form(
        "/users/disable",
        &[("_csrf", &csrf), ("email", "viewer@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 303);
    let (_, html, _) = boss.get("/users?ok=disabled");
    assert!(
        row(&html, "viewer@acme.example")
            .unwrap()
            .contains("data-disabled=\"true\"")
    );
    let (status, _, headers) = viewer.get("/");
    assert_eq!(status, 303, "the disabled user's session ended");
    assert!(headers["location"].to_str().unwrap().starts_with("/login"));
    assert_eq!(s.api("viewer@acme.example").get("/api/me").status, 401);
    let csrf = form_token(&html, "/users/enable").unwrap();
    let r = boss.post_form(
        "/users/enable",
        &[("_csrf", &csrf), ("email", "viewer@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(s.api("viewer@acme.example").get("/api/me").status, 200);
    // A form sent with another form's token of another session is refused.
    let r = boss.post_form(
        "/users/disable",
        &[("_csrf", "0123"), ("email", "viewer@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 403);
}

fn organisations_never_see_each_others_users_or_invitations() {
    let s = Server::start();
    let acme = s.api("dpo@acme.example");
    let r = acme.post(
        "/api/users/invitations",
        &json!({"email": "secret-hire@acme.example", "role": "viewer"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let id = r.json["id"].as_i64().unwrap();

    // Pages: the other organisation's DPO sees only its own.
    let mut other = s.browser("dpo@other.example");
    let (status, html, _) = other.get("/users");
    assert_eq!(status, 200);
    assert!(row(&html, "dpo@other.example").is_some(), "{html}");
    assert!(!html.contains("acme.example"), "{html}");
    // ... and can touch nothing of acme's: users and invitations are not found.
    let csrf = form_token(&html, "/users/disable").unwrap();
    let r = other.post_form(
        "/users/disable",
        &[("_csrf", &csrf), ("email", "contrib@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 404);
    let r = other.post_form(
        "/users/role",
        &[
            ("_csrf", &csrf),
            ("email", "viewer@acme.example"),
            ("role", "dpo"),
        ],
    );
    assert_eq!(r.status().as_u16(), 404);
    let r = other.post_form(
        &format!("/users/invitations/{id}/revoke"),
        &[("_csrf", &csrf)],
    );
    assert_eq!(r.status().as_u16(), 404);

    // API: the same.
    let api = s.api("dpo@other.example");
    let users = api.get("/api/users");
    assert_eq!(users.status, 200);
    assert!(
        !users.json.to_string().contains("acme.example"),
        "{}",
        users.json
    );
    let inv = api.get("/api/users/invitations");
    assert_eq!(inv.json, json!([]), "{}", inv.json);
    let r = api.post(
        "/api/users/contrib@acme.example",
        &json!({"disabled": true}),
    );
    assert_eq!(r.status, 404, "{}", r.json);
    let r = api.post(&format!("/api/users/invitations/{id}/revoke"), &json!({}));
    assert_eq!(r.status, 404, "{}", r.json);

    // CLI: the same, by --org.
    let out = s.v.ok(&["--org", "other", "user", "invitations"]);
    assert!(!out.contains("acme.example"), "{out}");
    let err = s.v.fails(
        &[
            "--org",
            "other",
            "user",
            "revoke-invitation",
            &id.to_string(),
        ],
        2,
    );
    assert!(err.contains("no pending invitation"), "{err}");
    let err = s.v.fails(
        &[
            "--org",
            "other",
            "user",
            "role",
            "contrib@acme.example",
            "--role",
            "viewer",
        ],
        2,
    );
    assert!(err.contains("no user with e-mail"), "{err}");

    // Nothing of acme's moved.
    assert_eq!(
        s.api("contrib@acme.example").get("/api/me").json["role"],
        "contributor"
    );
    let mine = acme.get("/api/users/invitations");
    assert_eq!(mine.json[0]["state"], "pending", "{}", mine.json);
    let out = s.v.ok(&["--org", "acme", "user", "invitations"]);
    assert!(
        out.contains("secret-hire@acme.example") && out.contains("pending"),
        "{out}"
    );
}

fn the_command_line_invites_lists_revokes_and_changes_roles() {
    let s = Server::start();
    let cfg = s.v.dir().join("vigie.yaml");
    let cfg = cfg.to_str().unwrap();
    // The link on standard output, the rest on standard error; e-mailed through the
    // configuration's transport (its outbox folder).
    let out = s.v.run(&[
        "--config",
        cfg,
        "--org",
        "acme",
        "user",
        "invite",
        "cli@acme.example",
        "--role",
        "contributor",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let link = out.stdout.trim();
    assert!(link.contains("/invitations/"), "{link}");
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "the link alone: {}",
        out.stdout
    );
    assert!(out.stderr.contains("outbox"), "{}", out.stderr);
    let mails = outbox(s.v.dir());
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(decoded(&mails[0]).contains(link));
    // The link opens an account on the web page.
    let path = path_of(link);
    let (_, status, to) = accept(&s.base, &path, "Claude CLI", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!((status, to.as_str()), (303, "/"));
    let list = s.v.ok(&["--org", "acme", "user", "list"]);
    assert!(
        list.lines()
            .any(|l| l.contains("cli@acme.example") && l.contains("contributor")),
        "{list}"
    );
    let inv =
        s.v.json(&["--org", "acme", "user", "invitations", "--json"]);
    assert_eq!(inv[0]["state"], "used", "{inv}");

    // Refused as on the web: a member, a bad role, a bad address (exit 2, one line).
    let err = s.v.fails(
        &[
            "--org",
            "acme",
            "user",
            "invite",
            "cli@acme.example",
            "--role",
            "viewer",
        ],
        2,
    );
    assert!(
        err.contains("already has an account in this organisation"),
        "{err}"
    );
    let err = s.v.fails(
        &[
            "--org",
            "acme",
            "user",
            "invite",
            "z@acme.example",
            "--role",
            "owner",
        ],
        2,
    );
    assert!(err.contains("role"), "{err}");
    let err = s.v.fails(
        &[
            "--org", "acme", "user", "invite", "nobody", "--role", "viewer",
        ],
        2,
    );
    assert!(err.contains("not an e-mail address"), "{err}");

    // Revoke, by id; the link then says so.
    let out = s.v.run(&[
        "--org",
        "acme",
        "user",
        "invite",
        "gone@acme.example",
        "--role",
        "viewer",
        "--no-email",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let gone = path_of(out.stdout.trim());
    let inv =
        s.v.json(&["--org", "acme", "user", "invitations", "--json"]);
    let id = inv
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "gone@acme.example")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    s.v.ok(&[
        "--org",
        "acme",
        "user",
        "revoke-invitation",
        &id.to_string(),
    ]);
    let (_, status, _) = accept(&s.base, &gone, "", NEW_PASSWORD, NEW_PASSWORD);
    assert_eq!(status, 410);

    // A role changed on the command line holds on the next request.
    s.v.ok(&[
        "--org",
        "acme",
        "user",
        "role",
        "viewer@acme.example",
        "--role",
        "contributor",
    ]);
    assert_eq!(
        s.api("viewer@acme.example").get("/api/me").json["role"],
        "contributor"
    );
}

/// The flow in a real Chromium, by clicking: the DPO invites a viewer from the users
/// page; the invitee opens the link in a fresh browser, chooses a password, lands signed
/// in on the dashboard, reads the case, and can change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_dpo_invites_a_viewer_who_reads_the_case() {
    use chrome::*;
    use fantoccini::Locator;
    use std::time::Duration;

    let s = Server::start();
    let r = s.api("dpo@acme.example").post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier partagé par erreur", "id": "inv-1",
                "aware_at": (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339()}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    sign_in(&c, &s.base, "dpo@acme.example", PASSWORD).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("nav-users"))
        .await
        .expect("the DPO's menu has the users page");
    click(&c, Locator::Id("nav-users")).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("invite-form"))
        .await
        .unwrap();
    fill(&c, "invite-email", "lectrice@acme.example").await;
    click(&c, Locator::Css("#invite-role option[value='viewer']")).await;
    shot(&c, "users-01-invite").await;
    click(&c, Locator::Id("invite")).await;
    let link = c
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("invite-link"))
        .await
        .expect("the link is shown after inviting")
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(
        link.starts_with(&format!("{}/invitations/", s.base)),
        "{link}"
    );
    shot(&c, "users-02-link").await;

    // A fresh browser (its own driver and profile: nothing of the DPO's session).
    let driver2 = start_driver();
    let downloads2 = tempfile::tempdir().unwrap();
    let c2 = browser(&driver2, downloads2.path()).await;
    c2.goto(&link).await.unwrap();
    fill(&c2, "name", "Léa Lectrice").await;
    fill(&c2, "password", NEW_PASSWORD).await;
    fill(&c2, "password2", NEW_PASSWORD).await;
    shot(&c2, "users-03-accept").await;
    click(&c2, Locator::Id("accept-invitation")).await;
    c2.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("nav-dashboard"))
        .await
        .expect("signed in, on the dashboard");
    let who = text_of(&c2, "header .who").await;
    assert!(who.contains("lectrice@acme.example"), "{who}");
    assert!(
        c2.find(Locator::Id("nav-users")).await.is_err(),
        "no users page for a viewer"
    );
    c2.goto(&format!("{}/cases/inv-1", s.base)).await.unwrap();
    let h1 = text_of(&c2, "h1").await;
    assert!(h1.contains("Fichier partagé par erreur"), "{h1}");
    assert!(
        c2.find_all(Locator::Css("[data-event]"))
            .await
            .unwrap()
            .is_empty(),
        "no step buttons"
    );
    assert!(
        c2.find(Locator::Id("save-facts")).await.is_err(),
        "no facts to save"
    );
    let editable = c2
        .execute(
            "return [...document.querySelectorAll('form[action$=\"/facts\"] input, form[action$=\"/facts\"] select, form[action$=\"/facts\"] textarea')]
                .filter(e => e.type !== 'hidden' && !e.disabled).length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(editable, json!(0), "no editable facts");
    shot(&c2, "users-04-viewer-case").await;

    // The DPO's page now lists her, with a last sign-in.
    c.goto(&format!("{}/users", s.base)).await.unwrap();
    let r = text_of(&c, "tr[data-user='lectrice@acme.example']").await;
    assert!(!r.contains("jamais"), "{r}");
    c2.close().await.unwrap();
    c.close().await.unwrap();
}
