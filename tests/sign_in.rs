//! Issue 23, N1: nobody can lock everyone out of sign-in. A real `vigie serve` behind
//! a "reverse proxy" (the test sends `X-Forwarded-For` from 127.0.0.1, listed in
//! `http.trusted_proxies`), on both backends.
//!
//! - Unknown calendar tokens from one forwarded address slow down only that address's
//!   feed requests: sign-in from there, and everything from elsewhere, still works.
//! - A revoked calendar address answers 410 Gone, however often it is polled, and never
//!   locks anything.
//! - Someone failing an account's password again and again does not keep its owner out:
//!   the owner's browser, which signed in before, still signs in; a new browser waits a
//!   bounded time (Retry-After at most 60 s), never a growing one.
//! - An address failing many accounts is throttled too, with a much higher threshold.

use crate::both_backends;
use crate::common;

use common::web::{Browser, PASSWORD, Server, form_encode, form_token, hidden};
use reqwest::header::COOKIE;

both_backends! {
    calendar_guesses_slow_only_their_feed_and_revoked_addresses_are_gone,
    a_stranger_failing_a_password_does_not_keep_its_owner_out,
}

const DPO: &str = "dpo@acme.example";
const VIEWER: &str = "viewer@acme.example";
const PROXY: &str = "http: { trusted_proxies: [127.0.0.1] }\n";

/// A request from `client`, as the trusted proxy forwards it.
fn feed_from(s: &Server, client: &str, path: &str) -> u16 {
    reqwest::blocking::Client::new()
        .get(s.url(path))
        .header("x-forwarded-for", client)
        .send()
        .expect("the server answers")
        .status()
        .as_u16()
}

/// The sign-in form posted by `b` from `client` (forwarded); the status and the
/// Retry-After header.
fn login_from(
    b: &mut Browser,
    s: &Server,
    client: &str,
    email: &str,
    pw: &str,
) -> (u16, Option<u64>) {
    let (status, html, _) = b.get("/login");
    assert_eq!(status, 200);
    let token = hidden(&html, "_login").expect("the sign-in form has a CSRF field");
    let cookies = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = b
        .client
        .post(s.url("/login"))
        .header(COOKIE, cookies)
        .header("x-forwarded-for", client)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&[
            ("_login", &token),
            ("email", email),
            ("password", pw),
            ("next", "/"),
        ]))
        .send()
        .expect("the server answers");
    let status = r.status().as_u16();
    let wait = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    for v in r.headers().get_all("set-cookie") {
        let v = v.to_str().unwrap();
        let pair = v.split(';').next().unwrap();
        if let Some((k, val)) = pair.split_once('=')
            && !val.is_empty()
        {
            b.cookies.insert(k.to_string(), val.to_string());
        }
    }
    (status, wait)
}

fn calendar_guesses_slow_only_their_feed_and_revoked_addresses_are_gone() {
    let s = Server::start_with_config(PROXY);
    let mut viewer = s.browser(VIEWER);
    let feed = common::web::calendar_address(&mut viewer);
    assert_eq!(feed_from(&s, "198.51.100.20", &feed), 200);

    // An anonymous client behind the proxy guesses tokens until its feed requests are
    // refused.
    let attacker = "203.0.113.66";
    let mut last = 0;
    for _ in 0..60 {
        last = feed_from(&s, attacker, "/calendar.ics?token=vcal_junk");
        if last == 429 {
            break;
        }
        assert_eq!(last, 404);
    }
    assert_eq!(last, 429, "guessing the feed is throttled");
    // Even a right address waits there: the lock is the address's, for the feed.
    assert_eq!(feed_from(&s, attacker, &feed), 429);

    // Nobody else is touched: a DPO at another forwarded address signs in and reads
    // their feed, and so does someone at the guessing address itself.
    let mut dpo = Browser::new(&s.base);
    assert_eq!(
        login_from(&mut dpo, &s, "198.51.100.7", DPO, PASSWORD).0,
        303,
        "sign-in from another address"
    );
    assert_eq!(feed_from(&s, "198.51.100.7", &feed), 200);
    let mut neighbour = Browser::new(&s.base);
    assert_eq!(
        login_from(&mut neighbour, &s, attacker, DPO, PASSWORD).0,
        303,
        "feed guesses never lock sign-in"
    );

    // A revoked address answers 410 Gone, and polling it forever locks nothing: not its
    // own address's sign-in, not its feed.
    let (_, html, _) = viewer.get("/settings");
    let csrf = form_token(&html, "/settings/calendar").unwrap();
    let r = viewer.post_form(
        "/settings/calendar",
        &[("_csrf", &csrf), ("action", "revoke")],
    );
    assert_eq!(r.status().as_u16(), 303);
    let stale = "192.0.2.44";
    for _ in 0..60 {
        assert_eq!(
            feed_from(&s, stale, &feed),
            410,
            "a revoked address is gone"
        );
    }
    let fresh = common::web::calendar_address(&mut viewer);
    assert_eq!(
        feed_from(&s, stale, &fresh),
        200,
        "the stale poller's feed works"
    );
    let mut b = Browser::new(&s.base);
    assert_eq!(login_from(&mut b, &s, stale, VIEWER, PASSWORD).0, 303);
    // Replaced: the old address is gone too.
    let (_, html, _) = viewer.get("/settings");
    let csrf = form_token(&html, "/settings/calendar").unwrap();
    let r = viewer.post_form("/settings/calendar", &[("_csrf", &csrf), ("action", "new")]);
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(feed_from(&s, stale, &fresh), 410);
    assert!(!s.log().contains("vcal_junk"), "a token in the log");
}

fn a_stranger_failing_a_password_does_not_keep_its_owner_out() {
    let s = Server::start_with_config(PROXY);
    // The DPO signs in from their browser, once, then signs out.
    let home = "198.51.100.7";
    let mut owner = Browser::new(&s.base);
    assert_eq!(login_from(&mut owner, &s, home, DPO, PASSWORD).0, 303);
    owner.cookies.remove("vigie_session");

    // A stranger elsewhere fails the DPO's password until the account is locked, and
    // goes on failing.
    let stranger = "203.0.113.66";
    let mut guesser = Browser::new(&s.base);
    let mut locked = 0;
    for i in 0..30 {
        let (status, wait) = login_from(&mut guesser, &s, stranger, DPO, &format!("guess {i}"));
        match status {
            401 => {}
            429 => {
                let wait = wait.expect("a lock says how long");
                assert!((1..=60).contains(&wait), "a bounded lock, not {wait} s");
                locked += 1;
            }
            other => panic!("status {other}"),
        }
    }
    assert!(
        locked > 0,
        "the account's password cannot be guessed at will"
    );

    // The owner's browser still gets in, with the right password, from anywhere.
    assert_eq!(
        login_from(&mut owner, &s, home, DPO, PASSWORD).0,
        303,
        "the owner's browser is not locked out by a stranger"
    );
    owner.cookies.remove("vigie_session");
    assert_eq!(
        login_from(&mut owner, &s, "192.0.2.1", DPO, PASSWORD).0,
        303
    );
    // Its own mistakes still count, on its own key: then it waits, a bounded time.
    owner.cookies.remove("vigie_session");
    let mut waited = None;
    for _ in 0..6 {
        let (status, wait) = login_from(&mut owner, &s, home, DPO, "my own typo");
        if status == 429 {
            waited = wait;
            break;
        }
        assert_eq!(status, 401);
    }
    let waited = waited.expect("a browser's own failures lock it");
    assert!((1..=60).contains(&waited), "{waited}");

    // A new browser of the DPO is locked with the account, for at most a minute.
    let mut laptop = Browser::new(&s.base);
    let (status, wait) = login_from(&mut laptop, &s, "192.0.2.9", DPO, PASSWORD);
    assert_eq!(status, 429);
    assert!((1..=60).contains(&wait.unwrap()));

    // Other accounts are not locked by the stranger's failures on this one.
    let mut other = Browser::new(&s.base);
    assert_eq!(
        login_from(&mut other, &s, stranger, "dpo@other.example", PASSWORD).0,
        303
    );

    // Spraying many accounts from one address locks that address for new browsers,
    // after far more failures than one account allows; the lock is bounded too.
    let sprayer = "203.0.113.99";
    let mut b = Browser::new(&s.base);
    let mut sprayed = None;
    for i in 0..150 {
        let (status, wait) = login_from(
            &mut b,
            &s,
            sprayer,
            &format!("nobody{i}@acme.example"),
            "password1234",
        );
        if status == 429 {
            sprayed = Some((i, wait.unwrap()));
            break;
        }
        assert_eq!(status, 401);
    }
    let (after, wait) = sprayed.expect("an address failing many accounts is throttled");
    assert!(
        after > 20,
        "much higher than one account's threshold: {after}"
    );
    assert!((1..=60).contains(&wait), "{wait}");
    // ...but a browser that signed in before still gets in from there.
    let mut contrib = Browser::new(&s.base);
    assert_eq!(
        login_from(
            &mut contrib,
            &s,
            "198.51.100.8",
            "contrib@acme.example",
            PASSWORD
        )
        .0,
        303
    );
    contrib.cookies.remove("vigie_session");
    assert_eq!(
        login_from(&mut contrib, &s, sprayer, "contrib@acme.example", PASSWORD).0,
        303
    );
}
