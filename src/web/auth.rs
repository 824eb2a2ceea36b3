//! Who is calling: a session cookie (pages, and the API from a page) or a bearer token
//! (scripts). CSRF tokens for every change made with a cookie, and the brake on
//! repeated failed sign-ins.

use super::{App, WebError};
use crate::store::User;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use std::sync::Arc;

pub const SESSION_COOKIE: &str = "vigie_session";
pub const LOGIN_COOKIE: &str = "vigie_login";
pub const LANG_COOKIE: &str = "vigie_lang";

/// A signed-in person acting in one organisation (`user.org`, with the role of that
/// membership), and how they signed in.
#[derive(Clone)]
pub struct Caller {
    pub user: User,
    /// The session's CSRF token for its current organisation (see [`org_csrf`]); None
    /// for a bearer token (no cookie, no CSRF).
    pub csrf: Option<String>,
    /// The session secret (to end it on sign-out).
    pub session: Option<String>,
    /// A session's person's enabled memberships: (org, organisation name, role). Empty
    /// for a bearer token, which belongs to one membership.
    pub orgs: Vec<(String, String, crate::store::Role)>,
}

/// The CSRF token of a session acting in `org`: a form rendered while the session
/// acted in another organisation (a tab left open before switching) is refused, never
/// applied to the organisation the session acts in now.
pub fn org_csrf(session_csrf: &str, org: &str) -> String {
    crate::util::hash::sha256_hex(format!("vigie-csrf\0{session_csrf}\0{org}"))
}

impl Caller {
    /// Refuses a change made with a session cookie unless it carries the session's
    /// CSRF token (a form field or the X-CSRF-Token header).
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        match &self.csrf {
            None => Ok(()),
            Some(expected) if given.is_some_and(|g| same(g, expected)) => Ok(()),
            Some(_) => Err(WebError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong CSRF token: reload the page and try again",
            )),
        }
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// A cookie only this site's pages send back: HttpOnly, SameSite=Strict, Secure.
/// (Browsers accept Secure cookies from http://localhost and http://127.0.0.1, so this
/// works on loopback; anywhere else, serve through TLS.)
pub fn cookie(name: &'static str, value: String) -> Cookie<'static> {
    let mut c = Cookie::new(name, value);
    c.set_http_only(true);
    c.set_same_site(SameSite::Strict);
    c.set_secure(true);
    c.set_path("/");
    c
}

/// What a request presents, read from its headers without touching the database: a
/// bearer token (which wins), a session cookie, or nothing.
#[derive(Clone)]
pub enum Credentials {
    Bearer(String),
    Session(String),
    Nobody,
}

impl Credentials {
    pub fn of(headers: &axum::http::HeaderMap) -> Credentials {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        if let Some(token) = bearer {
            return Credentials::Bearer(token);
        }
        let jar = CookieJar::from_headers(headers);
        match jar.get(SESSION_COOKIE) {
            Some(c) => Credentials::Session(c.value().to_string()),
            None => Credentials::Nobody,
        }
    }

    /// Who they are, on a reading connection (so that a handler can check them on the
    /// same blocking call as its own read). A bearer token that is unknown, revoked or
    /// of a disabled user is a 401; no cookie or a dead session is None. The second
    /// value is the token to mark as used (see [`Credentials::touch`]).
    pub fn check(
        &self,
        s: &mut crate::store::Store,
    ) -> Result<Option<(Caller, Option<String>)>, WebError> {
        match self {
            Credentials::Bearer(token) => match s.token_user(token)? {
                Some((user, last_used)) => Ok(Some(bearer_caller(token, user, last_used))),
                None => Err(invalid_token()),
            },
            Credentials::Session(secret) => {
                // The memberships are read on every request: one removed meanwhile is
                // lost now, whatever organisation the session acted in.
                let found = s.session(secret, crate::time::now())?;
                Ok(found.map(|f| {
                    let caller = Caller {
                        csrf: Some(org_csrf(&f.csrf, &f.user.org)),
                        user: f.user,
                        session: Some(secret.clone()),
                        orgs: f.orgs,
                    };
                    (caller, None)
                }))
            }
            Credentials::Nobody => Ok(None),
        }
    }

    /// Records that a token was used (after [`Credentials::check`] said so).
    pub async fn touch(app: &Arc<App>, token: Option<String>) -> Result<(), WebError> {
        if let Some(token) = token {
            let now = crate::time::now();
            app.write(move |_, s| Ok(s.touch_token(&token, now)?))
                .await?;
        }
        Ok(())
    }
}

/// The caller of a valid bearer token, and the token when its "last used" is to be
/// written: to the minute, one write a minute per token, not per request.
pub fn bearer_caller(
    token: &str,
    user: User,
    last_used: Option<chrono::DateTime<chrono::Utc>>,
) -> (Caller, Option<String>) {
    let now = crate::time::now();
    let stale =
        last_used.is_none_or(|t| now.signed_duration_since(t) > chrono::Duration::minutes(1));
    let caller = Caller {
        user,
        csrf: None,
        session: None,
        orgs: Vec::new(),
    };
    (caller, stale.then(|| token.to_string()))
}

/// The 401 of a bearer token that is unknown, revoked or of a disabled membership.
pub fn invalid_token() -> WebError {
    WebError::new(
        StatusCode::UNAUTHORIZED,
        "invalid API token: unknown, revoked, or of a disabled user (create one with `vigie user token create EMAIL`)",
    )
}

/// The 401 of an API route called by nobody.
pub fn nobody() -> WebError {
    WebError::new(
        StatusCode::UNAUTHORIZED,
        "sign in, or send an API token as 'Authorization: Bearer TOKEN'",
    )
}

async fn authenticate(app: &Arc<App>, parts: &Parts) -> Result<Option<Caller>, WebError> {
    let creds = Credentials::of(&parts.headers);
    if matches!(creds, Credentials::Nobody) {
        return Ok(None);
    }
    let found = app.read(move |_, s| creds.check(s)).await?;
    match found {
        Some((caller, touch)) => {
            Credentials::touch(app, touch).await?;
            Ok(Some(caller))
        }
        None => Ok(None),
    }
}

/// The caller of an API route: 401 in JSON when nobody is signed in. A change made
/// with a session cookie must carry the X-CSRF-Token header.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<Arc<App>> for ApiCaller {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, WebError> {
        let caller = authenticate(app, parts).await?.ok_or_else(nobody)?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            caller.check_csrf(given)?;
        }
        Ok(ApiCaller(caller))
    }
}

/// Where to send the browser back to after signing in or switching language: `next`
/// when it is a path of this site, else `/`. The one check for every redirect target
/// taken from a request (issue 9: `/%09/host/` was followed to another host, `%0a` gave
/// a 500).
///
/// Refused: anything not starting with one `/` (`//host`, `https://host`, `host`), a
/// backslash anywhere (browsers read `/\host` as `//host`), and any control character
/// (browsers drop tab and line breaks from a URL, so `/\t/host` became `//host`; in a
/// header they are invalid). What is left is percent-encoded outside a small set of
/// plain ASCII, so the answer is always a valid `Location` header.
pub fn local_target(next: Option<&str>) -> String {
    let Some(n) = next else {
        return "/".to_string();
    };
    let hostile = !n.starts_with('/')
        || n.starts_with("//")
        || n.chars().any(|c| c == '\\' || c.is_control());
    if hostile {
        return "/".to_string();
    }
    let mut out = String::with_capacity(n.len());
    for b in n.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(b as char),
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+'
            | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' | b'#' | b'%' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The caller of a page: sent to the sign-in page when nobody is signed in.
pub struct PageCaller(pub Caller);

impl FromRequestParts<Arc<App>> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Response> {
        match authenticate(app, parts).await {
            Ok(Some(c)) if c.session.is_some() => Ok(PageCaller(c)),
            Ok(_) => {
                let next = local_target(parts.uri.path_and_query().map(|p| p.as_str()));
                let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?next={next}")).into_response())
            }
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The brakes on guessing (issue 23, N1; the threat model is in docs/admin.md).
///
/// Failed sign-ins are counted in the database, so that every `vigie serve` behind a
/// load balancer sees the same counts and locks. Keys are stored hashed: the table names
/// no account and no address. Past a key's threshold each further failure locks it for
/// longer (30 s, then 60 s), never longer than [`SIGN_IN_LOCK_MAX`]: a lock only
/// delays, and a count idle for an hour starts again.
///
/// Which keys a sign-in attempt counts against ([`sign_in_keys`]):
/// - from a browser that already signed in to this account (its `vigie_device` cookie,
///   a mark only the account's password hash can make): that browser's own key, and
///   nothing anybody else does can lock it;
/// - from any other browser: the account (low threshold) and the client's address as
///   [`super::access::client_address`] reads it, the forwarded one behind a proxy of
///   `http.trusted_proxies` (a much higher threshold: an office behind one address).
///
/// The calendar feed has a limiter of its own ([`FEED_THRESHOLD`], its own keys): a
/// wrong token there slows that address's feed requests down and never touches sign-in.
pub mod throttle {
    use super::super::access::client_address;
    use crate::store::{Store, StoreError, User};
    use axum_extra::extract::cookie::{Cookie, CookieJar};
    use chrono::{DateTime, Utc};
    use std::time::Duration;

    fn key(k: &str) -> String {
        crate::util::hash::sha256_hex(format!("vigie-sign-in:{k}"))
    }

    /// How long the longest-locked of these keys stays locked.
    pub fn locked(
        store: &mut Store,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, StoreError> {
        let mut longest = None;
        for k in keys {
            if let Some(until) = store.backend().sign_in_locked_until(&key(k))?
                && until > now
            {
                let left = (until - now).to_std().unwrap_or_default();
                longest = longest.max(Some(left));
            }
        }
        Ok(longest)
    }

    /// Counts a failure of `k`, and locks it once past `threshold`: 30 s, doubling with
    /// each further failure, at most `max`.
    pub fn fail(
        store: &mut Store,
        k: &str,
        threshold: u32,
        max: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let k = key(k);
        let count = store.backend().sign_in_failed(&k, now)?;
        if count >= threshold {
            let secs = (30i64 << (count - threshold).min(10)).min(max.as_secs() as i64);
            store
                .backend()
                .sign_in_lock(&k, now + chrono::Duration::seconds(secs))?;
        }
        Ok(())
    }

    /// Forgets the failures of these keys.
    pub fn forget(store: &mut Store, keys: &[&str]) -> Result<(), StoreError> {
        for k in keys {
            store.backend().sign_in_forget(&key(k))?;
        }
        Ok(())
    }

    /// The cookie marking a browser that signed in to an account: `NONCE.MARK`.
    pub const DEVICE_COOKIE: &str = "vigie_device";
    /// How long a browser is remembered.
    const DEVICE_DAYS: i64 = 180;

    /// One sign-in attempt: the account, the client's address, and the browser's mark.
    #[derive(Clone)]
    pub struct SignIn {
        email: String,
        address: String,
        device: Option<(String, String)>,
    }

    /// The sign-in attempt of `email` from `peer` (through `trusted` proxies).
    pub fn sign_in_keys(
        email: &str,
        trusted: &[std::net::IpAddr],
        peer: std::net::IpAddr,
        headers: &axum::http::HeaderMap,
    ) -> SignIn {
        let device = CookieJar::from_headers(headers)
            .get(DEVICE_COOKIE)
            .and_then(|c| {
                let (nonce, mark) = c.value().split_once('.')?;
                let plain = nonce.len() == 32 && nonce.bytes().all(|b| b.is_ascii_hexdigit());
                plain.then(|| (nonce.to_string(), mark.to_string()))
            });
        SignIn {
            email: email.trim().to_lowercase(),
            address: client_address(trusted, Some(peer), headers),
            device,
        }
    }

    impl SignIn {
        /// The client's address (for the log line of a failure).
        pub fn address(&self) -> &str {
            &self.address
        }

        /// The keys this attempt counts against, with their thresholds.
        fn keys(&self, store: &mut Store) -> Result<Vec<(String, u32)>, StoreError> {
            if let Some((nonce, mark)) = &self.device
                && store
                    .device_mark(&self.email, nonce)?
                    .is_some_and(|m| super::same(&m, mark))
            {
                return Ok(vec![(
                    format!("device:{}:{nonce}", self.email),
                    super::ACCOUNT_THRESHOLD,
                )]);
            }
            Ok(vec![
                (format!("account:{}", self.email), super::ACCOUNT_THRESHOLD),
                (
                    format!("address:{}", self.address),
                    super::ADDRESS_THRESHOLD,
                ),
            ])
        }
    }

    /// How long this attempt must wait before any password is checked; None: go on.
    pub fn check(
        store: &mut Store,
        attempt: &SignIn,
        now: DateTime<Utc>,
    ) -> Result<Option<Duration>, StoreError> {
        let keys = attempt.keys(store)?;
        let keys: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        locked(store, &keys, now)
    }

    /// A wrong password (or unknown account): counted against every key of the attempt.
    pub fn failed(
        store: &mut Store,
        attempt: &SignIn,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for (k, threshold) in attempt.keys(store)? {
            fail(store, &k, threshold, SIGN_IN_LOCK_MAX, now)?;
        }
        Ok(())
    }

    /// A right password: the failures of the attempt's keys are forgotten (the account's
    /// and the address's, or the browser's own), and the browser gets (or keeps) its
    /// mark for this account.
    pub fn signed_in(
        store: &mut Store,
        attempt: &SignIn,
        user: &User,
    ) -> Result<Cookie<'static>, StoreError> {
        let keys = attempt.keys(store)?;
        let keys: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        forget(store, &keys)?;
        let nonce = match &attempt.device {
            Some((n, _)) => n.clone(),
            None => crate::store::random_hex(16),
        };
        let mark = store.device_mark(&user.email, &nonce)?.unwrap_or_default();
        // Like every cookie of ours (HttpOnly, SameSite=Strict, Secure), but kept
        // DEVICE_DAYS (the cookie crate's durations are not reachable from here: parsed).
        let c = super::cookie(DEVICE_COOKIE, format!("{nonce}.{mark}"));
        let kept = format!("{c}; Max-Age={}", DEVICE_DAYS * 86_400);
        Ok(Cookie::parse(kept).unwrap_or(c))
    }

    /// The longest a sign-in lock lasts: a right password is never refused for longer
    /// at a time.
    pub const SIGN_IN_LOCK_MAX: Duration = Duration::from_secs(60);
    /// The longest the calendar feed's lock lasts (it slows only the feed).
    pub const FEED_LOCK_MAX: Duration = Duration::from_secs(900);
    /// Unknown calendar tokens from one address before its feed requests wait.
    pub const FEED_THRESHOLD: u32 = 20;

    /// The feed limiter's key of a client address (never a sign-in key).
    pub fn feed_key(address: &str) -> String {
        format!("feed:{address}")
    }
}

/// Failed sign-ins of one account (from browsers that never signed in to it) before it
/// is locked.
pub const ACCOUNT_THRESHOLD: u32 = 5;
/// Failed sign-ins from one client address, whatever the account, before it is locked:
/// much higher, since an office may share one address.
pub const ADDRESS_THRESHOLD: u32 = 100;
