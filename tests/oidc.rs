//! Issue 25 part 2: sign-in through the company's identity provider (OpenID Connect),
//! against a real provider: panva's `oidc-provider` (tests/oidc/provider.mjs), driven
//! as a person would through its own sign-in page (tests/common/oidc.rs).
//!
//! - Sign-in: the dashboard shows the person's organisation; the provider's subject is
//!   linked to the user found by verified address, and the access log names both.
//! - Refused: a domain outside `allowed_domains`, an unverified address, a person with
//!   no account and no invitation, a disabled user, a `state` that is not the one sent.
//! - An invited address becomes a user with the invited role.
//! - ID tokens the provider got wrong: altered after signing, expired, with another
//!   nonce, for another client. Nobody is signed in.
//! - A provider that is down: a clear page; passwords still work where allowed, and an
//!   organisation that requires the provider refuses a right password.
//! - Bad `auth.oidc` settings: one line naming the field, exit 2.

use crate::both_backends;
use crate::common;

use common::oidc::{Agent, PASSWORD, Site, oidc_link, reason};

both_backends! {
    a_person_signs_in_through_the_provider_and_an_invited_one_becomes_a_user,
    the_provider_refuses_strangers_other_domains_and_a_wrong_state,
}

/// The session cookie of vigie in `a`, if any.
fn session(a: &Agent, site: &Site) -> Option<String> {
    a.cookies
        .get(&(site.base.clone(), "vigie_session".to_string()))
        .cloned()
}

fn a_person_signs_in_through_the_provider_and_an_invited_one_becomes_a_user() {
    let site = Site::start(Some("honest"));

    // The sign-in page offers the provider, in the page's language.
    let mut fr = Agent::new().speaking("fr");
    let page = fr.get(&site.url("/login?next=/register"));
    assert!(
        page.body
            .contains("Se connecter avec le compte de l&#x27;entreprise")
            || page
                .body
                .contains("Se connecter avec le compte de l'entreprise"),
        "{}",
        page.body
    );
    assert_eq!(
        oidc_link(&page.body).as_deref(),
        Some("/oidc/start?next=%2Fregister")
    );
    let mut en = Agent::new().speaking("en");
    assert!(
        en.get(&site.url("/login"))
            .body
            .contains("Sign in with your company account")
    );

    // The DPO of acme signs in at the provider: the dashboard is acme's.
    let mut dpo = Agent::new();
    let dash = dpo.signed_in(&site, "dpo@acme.example");
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("dpo@acme.example"), "{}", dash.body);
    assert!(dash.body.contains("acme"), "{}", dash.body);
    assert!(!dash.body.contains("other.example"));
    // The provider's subject is linked to the user, on the database.
    let linked = site.v.sql(
        "SELECT l.issuer, l.sub FROM oidc_links l JOIN users u ON u.id = l.user_id \
         WHERE u.email = 'dpo@acme.example'",
        &[],
    );
    assert_eq!(
        linked,
        vec![vec![
            serde_json::json!(site.issuer),
            serde_json::json!("dpo@acme.example")
        ]]
    );
    // The access log names the person and the provider's subject.
    let access = dpo.get(&site.url("/access"));
    assert_eq!(access.status, 200);
    assert!(
        access
            .body
            .contains(&format!("oidc {} sub dpo@acme.example", site.issuer)),
        "{}",
        access.body
    );

    // Sign-in again: the same user (linked by subject now), a new session.
    let mut again = Agent::new();
    assert_eq!(again.signed_in(&site, "dpo@acme.example").status, 200);
    assert_ne!(session(&again, &site), session(&dpo, &site));

    // An invited address becomes a user with the invited role.
    site.v.ok(&[
        "--org",
        "acme",
        "user",
        "invite",
        "new.colleague@acme.example",
        "--role",
        "contributor",
        "--no-email",
    ]);
    let mut newcomer = Agent::new().speaking("fr");
    let dash = newcomer.signed_in(&site, "new.colleague@acme.example");
    assert_eq!(dash.status, 200, "{}", dash.body);
    assert!(dash.body.contains("new.colleague@acme.example"));
    assert!(dash.body.contains("contributeur"), "{}", dash.body);
    let users = site.v.ok(&["--org", "acme", "user", "list"]);
    assert!(
        users.contains("new.colleague@acme.example") && users.contains("contributor"),
        "{users}"
    );
    let invitations = site.v.ok(&["--org", "acme", "user", "invitations"]);
    assert!(invitations.contains("used"), "{invitations}");
    assert_eq!(
        site.v.sql(
            "SELECT count(*) FROM oidc_links l JOIN users u ON u.id = l.user_id \
             WHERE u.email = 'new.colleague@acme.example'",
            &[],
        ),
        vec![vec![serde_json::json!(1)]]
    );
}

fn the_provider_refuses_strangers_other_domains_and_a_wrong_state() {
    let site = Site::start(Some("honest"));

    // Someone of an allowed domain with no account and no invitation.
    let mut stranger = Agent::new().speaking("fr");
    let back = stranger.through_provider(&site, "stranger@acme.example");
    assert_eq!(back.status, 403, "{}", back.body);
    assert_eq!(reason(&back.body).as_deref(), Some("unknown"));
    assert!(
        back.body
            .contains("Aucun compte vigie ni aucune invitation pour cette adresse"),
        "{}",
        back.body
    );
    assert!(session(&stranger, &site).is_none());
    assert_eq!(
        site.v.sql(
            "SELECT count(*) FROM users WHERE email = 'stranger@acme.example'",
            &[]
        ),
        vec![vec![serde_json::json!(0)]]
    );

    // A user whose domain is not allowed through the provider.
    let mut other = Agent::new().speaking("en");
    let back = other.through_provider(&site, "dpo@other.example");
    assert_eq!(back.status, 403);
    assert_eq!(reason(&back.body).as_deref(), Some("domain"));
    assert!(
        back.body
            .contains("Addresses of this domain cannot sign in")
    );
    assert!(session(&other, &site).is_none());

    // An address the provider did not verify is not linked to its user.
    let mut unverified = Agent::new();
    let back = unverified.through_provider(&site, "unverified:viewer@acme.example");
    assert_eq!(back.status, 403);
    assert_eq!(reason(&back.body).as_deref(), Some("unverified"));
    assert!(session(&unverified, &site).is_none());

    // A disabled user.
    site.v.ok(&["user", "disable", "viewer@acme.example"]);
    let mut disabled = Agent::new();
    let back = disabled.through_provider(&site, "viewer@acme.example");
    assert_eq!(back.status, 403);
    assert_eq!(reason(&back.body).as_deref(), Some("disabled"));
    assert!(session(&disabled, &site).is_none());

    // A state that is not the one vigie sent (a callback forged or from another
    // sign-in): refused before the code is used.
    let mut forged = Agent::new();
    let back = forged.through_provider_with(&site, "dpo@acme.example", |url| {
        let (head, tail) = url.split_once("state=").expect("a state");
        let rest = tail.split_once('&').map(|(_, r)| r).unwrap_or("");
        format!("{head}state=forged-state&{rest}")
    });
    assert_eq!(back.status, 400, "{}", back.body);
    assert_eq!(reason(&back.body).as_deref(), Some("state"));
    assert!(session(&forged, &site).is_none());

    // A callback with no sign-in started in this browser.
    let mut cold = Agent::new();
    let back = cold.get(&site.url("/oidc/callback?code=abc&state=xyz"));
    assert_eq!(back.status, 400);
    assert_eq!(reason(&back.body).as_deref(), Some("no-flow"));

    // The log names no address of the refused people.
    let log = site.log();
    assert!(!log.contains("stranger@acme.example"), "{log}");
    assert!(!log.contains("dpo@other.example"), "{log}");
}

/// Each way the provider's ID token can be wrong, on a provider that gets it wrong on
/// purpose (tests/oidc/provider.mjs, OIDC_MODE): nobody is signed in, and the page says
/// the answer could not be verified.
#[test]
fn id_tokens_the_provider_got_wrong_sign_nobody_in() {
    for (mode, why) in [
        ("tampered", "signature"),
        ("expired", "expired"),
        ("nonce", "nonce"),
        ("audience", "audience"),
    ] {
        let site = Site::start(Some(mode));
        let mut a = Agent::new().speaking("en");
        let back = a.through_provider(&site, "dpo@acme.example");
        assert_eq!(back.status, 401, "{mode}: {}", back.body);
        assert_eq!(reason(&back.body).as_deref(), Some(why), "{mode}");
        assert!(
            back.body
                .contains("The identity provider&#x27;s answer could not be verified")
                || back
                    .body
                    .contains("The identity provider's answer could not be verified"),
            "{mode}: {}",
            back.body
        );
        assert!(session(&a, &site).is_none(), "{mode}: no session");
        assert_eq!(
            site.v.sql("SELECT count(*) FROM oidc_links", &[]),
            vec![vec![serde_json::json!(0)]],
            "{mode}: nothing linked"
        );
    }
}

/// A provider that does not answer: a clear page, and passwords still work where the
/// organisation allows them; acme requires the provider and refuses a right password.
#[test]
fn a_provider_that_is_down_leaves_passwords_where_allowed() {
    let site = Site::start(None);
    let mut a = Agent::new().speaking("fr");
    let page = a.get(&site.url("/login"));
    let href = oidc_link(&page.body).expect("the link is there even with the provider down");
    let down = a.get(&site.url(&href));
    assert_eq!(down.status, 503, "{}", down.body);
    assert_eq!(reason(&down.body).as_deref(), Some("down"));
    assert!(
        down.body
            .contains("Le fournisseur d&#x27;identité de l&#x27;entreprise ne répond pas")
            || down
                .body
                .contains("Le fournisseur d'identité de l'entreprise ne répond pas"),
        "{}",
        down.body
    );
    assert!(down.body.contains("id=\"oidc-again\""));

    // Other's DPO signs in with a password.
    let mut other = Agent::new();
    let r = other.password(&site, "dpo@other.example", PASSWORD);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(session(&other, &site).is_some());

    // Acme requires the provider: its DPO's right password is refused, with why.
    let mut acme = Agent::new().speaking("fr");
    let r = acme.password(&site, "dpo@acme.example", PASSWORD);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body
            .contains("Votre organisation exige la connexion par le fournisseur"),
        "{}",
        r.body
    );
    assert!(session(&acme, &site).is_none());
    // A wrong password still says only that it is wrong.
    let r = acme.password(&site, "dpo@acme.example", "not the password at all");
    assert_eq!(r.status, 401);
    assert!(!r.body.contains("exige la connexion"));
}

/// An organisation that requires the provider refuses a right password while the
/// provider is up too, and its people get in through the provider.
#[test]
fn an_organisation_that_requires_the_provider_refuses_a_right_password() {
    let site = Site::start(Some("honest"));
    let mut a = Agent::new().speaking("en");
    let r = a.password(&site, "viewer@acme.example", PASSWORD);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body
            .contains("Your organisation requires signing in through the company"),
        "{}",
        r.body
    );
    assert!(session(&a, &site).is_none());
    let dash = a.signed_in(&site, "viewer@acme.example");
    assert_eq!(dash.status, 200);
    assert!(dash.body.contains("viewer@acme.example"));
}

/// In Chromium, by clicking: the company account button, the provider's own sign-in
/// page, and back to vigie's dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_company_account_button_leads_to_the_dashboard() {
    use common::browser::{browser, click, shot, start_driver, wait_text};
    use fantoccini::Locator;
    use std::time::Duration;
    // The provider is waited for with a blocking client: off the async threads.
    let site = tokio::task::spawn_blocking(|| Site::start(Some("honest")))
        .await
        .unwrap();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    c.goto(&site.url("/login")).await.unwrap();
    click(&c, Locator::Id("oidc")).await;
    // The provider's own sign-in page (any password).
    let login = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("input[name='login']"))
        .await
        .expect("the provider's sign-in page");
    login.send_keys("dpo@acme.example").await.unwrap();
    c.find(Locator::Css("input[name='password']"))
        .await
        .unwrap()
        .send_keys("any password")
        .await
        .unwrap();
    click(&c, Locator::Css("button[type='submit']")).await;
    // Back at vigie, signed in: the header names the person and the organisation.
    let who = wait_text(&c, ".who", &["dpo@acme.example"]).await;
    assert!(who.contains("acme"), "{who}");
    assert!(
        c.current_url()
            .await
            .unwrap()
            .as_str()
            .starts_with(&site.base)
    );
    shot(&c, "oidc-01-dashboard").await;
    c.close().await.unwrap();
}

/// Bad settings are refused at start with one line naming the field, exit 2.
#[test]
fn bad_oidc_settings_name_their_field() {
    let v = common::Vigie::new();
    let cases = [
        (
            "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'http://login.example.com', client_id: x, client_secret_env: S, allowed_domains: [example.com] } }\n",
            "auth.oidc.issuer",
        ),
        (
            "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'https://login.example.com', client_id: x, allowed_domains: [example.com] } }\n",
            "auth.oidc.client_secret_file",
        ),
        (
            "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'https://login.example.com', client_id: x, client_secret_env: S, allowed_domains: [] } }\n",
            "auth.oidc.allowed_domains",
        ),
        (
            "auth: { oidc: { issuer: 'https://login.example.com', client_id: x, client_secret_env: S, allowed_domains: [example.com] } }\n",
            "http.public_url",
        ),
        (
            "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'https://login.example.com', client_id: x, client_secret_env: S, allowed_domains: [example.com], required_for: ['ACME Corp'] } }\n",
            "auth.oidc.required_for",
        ),
        (
            "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'https://login.example.com', client_id: x, client_secret_env: S, allowed_domains: [example.com], colour: blue } }\n",
            "colour",
        ),
    ];
    for (yaml, field) in cases {
        let cfg = v.dir().join("bad.yaml");
        std::fs::write(&cfg, yaml).unwrap();
        let out = v
            .command()
            .arg("--config")
            .arg(&cfg)
            .args(["case", "list"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{field}: one line: {err}");
        assert!(
            err.contains("bad.yaml") && err.contains(field),
            "{field}: {err}"
        );
    }
    // The secret is read when `vigie serve` starts: a missing file stops it.
    let cfg = v.dir().join("nosecret.yaml");
    std::fs::write(
        &cfg,
        "http: { public_url: https://vigie.example.org }\nauth: { oidc: { issuer: 'https://login.example.com', client_id: x, client_secret_file: missing-secret, allowed_domains: [example.com] } }\n",
    )
    .unwrap();
    let out = v
        .command()
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("auth.oidc.client_secret_file") && err.contains("missing-secret"),
        "{err}"
    );
}
