//! Sign-in through the company's identity provider (issue 25 part 2): OpenID Connect's
//! authorisation code flow with PKCE, `state` and `nonce`, with the `openidconnect`
//! crate.
//!
//! - `GET /oidc/start?next=PATH` sends the browser to the provider, and keeps the
//!   flow's secrets (state, nonce, PKCE verifier, where to go after) in the `vigie_oidc`
//!   cookie: HttpOnly, Secure, SameSite=Lax (the provider's redirect back is a top-level
//!   navigation from another site: Lax lets the cookie come with it, Strict would not),
//!   path `/oidc`, ten minutes. Nothing is kept in this process, so any of several
//!   vigie instances behind one address can take the callback. The cookie holds only
//!   random values and the path: it opens nothing by itself, and the callback checks
//!   the provider's `state` against it in constant time.
//! - `GET /oidc/callback?code&state` exchanges the code (with the verifier) for the
//!   tokens: the one round trip to the provider a sign-in costs. The ID token is checked
//!   by the crate: its signature with the provider's keys (JWKS), issuer, audience,
//!   expiry and nonce. Then the address must be verified by the provider
//!   (`email_verified`) and of an allowed domain, and `store::oidc` says who it is. The
//!   session is vigie's own, made as password sign-in makes it.
//!
//! The provider's discovery document and keys are fetched on the first sign-in and kept
//! (not at start: a provider that is down must not stop vigie, whose passwords still
//! work). A signature that no kept key verifies drops them, so that the provider's new
//! keys are fetched by the next sign-in.

use super::App;
use super::auth::{SESSION_COOKIE, local_target, same};
use super::page::{Page, lang_of, word};
use crate::oidc::Oidc;
use crate::store::oidc::{OidcAccount, sign_in_detail, subject_digest};
use crate::time::{self, Lang};
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

/// The flow's cookie: `STATE.NONCE.VERIFIER.NEXT` (NEXT in hex).
pub const FLOW_COOKIE: &str = "vigie_oidc";
/// How long a sign-in at the provider may take.
const FLOW_SECS: i64 = 600;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/oidc/start", get(start))
        .route("/oidc/callback", get(callback))
}

/// The provider's discovery document (with its keys), by issuer, once fetched.
static DISCOVERED: Mutex<Option<(String, CoreProviderMetadata)>> = Mutex::new(None);

/// The client for the provider: no redirects followed (the crate's advice: a redirect
/// would let the provider's answers send vigie elsewhere), and bounded waits.
fn http() -> &'static openidconnect::reqwest::Client {
    static C: OnceLock<openidconnect::reqwest::Client> = OnceLock::new();
    C.get_or_init(|| {
        openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .expect("the HTTP client for the identity provider")
    })
}

/// The discovery document: kept, or fetched now (two requests: the document and its
/// keys).
async fn metadata(cfg: &Oidc) -> Result<CoreProviderMetadata, String> {
    let issuer = cfg.issuer.trim().to_string();
    {
        let kept = DISCOVERED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((i, m)) = kept.as_ref()
            && *i == issuer
        {
            return Ok(m.clone());
        }
    }
    let url = IssuerUrl::new(issuer.clone()).map_err(|e| e.to_string())?;
    let m = CoreProviderMetadata::discover_async(url, http())
        .await
        .map_err(|e| error_chain(&e))?;
    *DISCOVERED.lock().unwrap_or_else(|p| p.into_inner()) = Some((issuer, m.clone()));
    Ok(m)
}

fn forget_metadata() {
    *DISCOVERED.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// An error and its sources on one line, for the server's log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s.replace(['\n', '\r'], " ")
}

/// The page that says why a sign-in through the provider did not happen, with a way
/// back to the sign-in page. `reason` is a stable word for scripts and tests
/// (`data-reason`).
fn refused(app: &App, lang: Lang, status: StatusCode, key: &str, reason: &str) -> Response {
    let esc = handlebars::html_escape;
    let heading = word(lang, "oidc_failed");
    let body = format!(
        "<h1>{}</h1>\n<p class=\"error\" id=\"oidc-error\" data-reason=\"{}\">{}</p>\n<p><a href=\"/login\" id=\"oidc-again\">{}</a></p>\n",
        esc(&heading),
        esc(reason),
        esc(&word(lang, key)),
        esc(&word(lang, "oidc_again")),
    );
    Page {
        lang,
        caller: None,
        title: heading,
        here: "/login".into(),
        flash: None,
        error: None,
    }
    .finish(app, body, status)
}

fn flow_cookie(value: String, max_age: i64) -> Cookie<'static> {
    let mut c = Cookie::new(FLOW_COOKIE, value);
    c.set_http_only(true);
    c.set_secure(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/oidc");
    let kept = format!("{c}; Max-Age={max_age}");
    Cookie::parse(kept).unwrap_or(c)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

/// The flow's secrets as the cookie brings them back.
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

impl Flow {
    fn of(jar: &CookieJar) -> Option<Flow> {
        let v = jar.get(FLOW_COOKIE)?.value().to_string();
        let mut parts = v.splitn(4, '.');
        let (state, nonce, verifier, next) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        Some(Flow {
            state: state.to_string(),
            nonce: nonce.to_string(),
            verifier: verifier.to_string(),
            next: local_target(Some(&unhex(next)?)),
        })
    }
}

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
}

/// The client, with the secret and the redirect URI of the configuration.
fn client(
    app: &App,
    cfg: &Oidc,
    meta: CoreProviderMetadata,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    String,
> {
    let secret = cfg
        .secret()
        .map_err(|b| format!("{}: {}", b.field, b.message))?;
    let public = app
        .config
        .http
        .public_url
        .as_deref()
        .ok_or("http.public_url is not set")?;
    let redirect = RedirectUrl::new(Oidc::redirect_uri(public)).map_err(|e| e.to_string())?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.trim().to_string()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(redirect))
}

async fn start(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<StartQuery>,
) -> Response {
    let lang = lang_of(&headers);
    let Some(cfg) = app.config.auth.oidc.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let next = local_target(q.next.as_deref());
    let meta = match metadata(&cfg).await {
        Ok(m) => m,
        Err(e) => {
            super::log(&format!("identity provider unreachable: {e}"));
            return refused(
                &app,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "oidc_down",
                "down",
            );
        }
    };
    let client = match client(&app, &cfg, meta) {
        Ok(c) => c,
        Err(e) => {
            super::log(&format!("identity provider: {e}"));
            return refused(
                &app,
                lang,
                StatusCode::SERVICE_UNAVAILABLE,
                "oidc_down",
                "config",
            );
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let value = format!(
        "{}.{}.{}.{}",
        state.secret(),
        nonce.secret(),
        verifier.secret(),
        hex(&next)
    );
    (
        jar.add(flow_cookie(value, FLOW_SECS)),
        Redirect::to(url.as_str()),
    )
        .into_response()
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let lang = lang_of(&headers);
    let Some(cfg) = app.config.auth.oidc.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // The flow's cookie is used once, whatever happens next.
    let flow = Flow::of(&jar);
    let jar = jar.remove(flow_cookie(String::new(), 0));
    let answer = sign_in(&app, &cfg, lang, flow, q, addr, &headers).await;
    match answer {
        Ok((secret, next)) => {
            let esc = handlebars::html_escape;
            // A page of ours, not a redirect: the session cookie is SameSite=Strict, and
            // a browser sends none on a redirect chain that started at another site (the
            // provider). Moving on from this page is a navigation from our own site.
            let page = format!(
                "<!doctype html>\n<html lang=\"{l}\"><head><meta charset=\"utf-8\">\
                 <meta http-equiv=\"refresh\" content=\"0;url={n}\"><title>vigie</title>\
                 <link rel=\"stylesheet\" href=\"/static/vigie.css\"></head>\
                 <body><p><a id=\"oidc-continue\" href=\"{n}\">{c}</a></p></body></html>\n",
                l = lang.code(),
                n = esc(&next),
                c = esc(&word(lang, "oidc_continue")),
            );
            (
                jar.add(super::auth::cookie(SESSION_COOKIE, secret)),
                [(header::CACHE_CONTROL, "no-store")],
                Html(page),
            )
                .into_response()
        }
        Err(r) => (jar, r).into_response(),
    }
}

/// The callback's checks, in order; Ok: the new session's secret and where to go.
async fn sign_in(
    app: &Arc<App>,
    cfg: &Oidc,
    lang: Lang,
    flow: Option<Flow>,
    q: CallbackQuery,
    addr: SocketAddr,
    headers: &HeaderMap,
) -> Result<(String, String), Response> {
    let fail = |status, key, reason| refused(app, lang, status, key, reason);
    let Some(flow) = flow else {
        return Err(fail(StatusCode::BAD_REQUEST, "oidc_state", "no-flow"));
    };
    let state_ok = q.state.as_deref().is_some_and(|s| same(s, &flow.state));
    if !state_ok {
        super::log("identity provider sign-in refused: the state does not match");
        return Err(fail(StatusCode::BAD_REQUEST, "oidc_state", "state"));
    }
    if let Some(e) = &q.error {
        let e: String = e
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(64)
            .collect();
        super::log(&format!("identity provider refused the sign-in: {e}"));
        return Err(fail(StatusCode::FORBIDDEN, "oidc_refused", "refused"));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return Err(fail(StatusCode::BAD_REQUEST, "oidc_state", "no-code"));
    };
    let meta = metadata(cfg).await.map_err(|e| {
        super::log(&format!("identity provider unreachable: {e}"));
        fail(StatusCode::SERVICE_UNAVAILABLE, "oidc_down", "down")
    })?;
    let client = client(app, cfg, meta).map_err(|e| {
        super::log(&format!("identity provider: {e}"));
        fail(StatusCode::SERVICE_UNAVAILABLE, "oidc_down", "config")
    })?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| {
            super::log(&format!("identity provider: {}", error_chain(&e)));
            fail(StatusCode::BAD_GATEWAY, "oidc_down", "config")
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()));
    let tokens = exchange.request_async(http()).await.map_err(|e| {
        super::log(&format!(
            "identity provider: the code exchange failed: {}",
            error_chain(&e)
        ));
        fail(StatusCode::BAD_GATEWAY, "oidc_down", "exchange")
    })?;
    let Some(id_token) = tokens.id_token() else {
        super::log("identity provider: no ID token in its answer");
        return Err(fail(StatusCode::BAD_GATEWAY, "oidc_invalid", "no-id-token"));
    };
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &Nonce::new(flow.nonce.clone()))
        .map_err(|e| {
            let reason = match &e {
                ClaimsVerificationError::SignatureVerification(_) => {
                    // Perhaps new keys at the provider: fetched again by the next sign-in.
                    forget_metadata();
                    "signature"
                }
                ClaimsVerificationError::Expired(_) => "expired",
                ClaimsVerificationError::InvalidNonce(_) => "nonce",
                ClaimsVerificationError::InvalidAudience(_) => "audience",
                ClaimsVerificationError::InvalidIssuer(_) => "issuer",
                _ => "claims",
            };
            super::log(&format!(
                "identity provider: ID token refused ({reason}): {}",
                error_chain(&e)
            ));
            fail(StatusCode::UNAUTHORIZED, "oidc_invalid", reason)
        })?;
    let sub = claims.subject().as_str().to_string();
    let issuer = cfg.issuer.trim().to_string();
    let who = subject_digest(&issuer, &sub);
    let Some(email) = claims.email().map(|e| e.as_str().trim().to_string()) else {
        super::log(&format!(
            "identity provider subject {who}: no e-mail address"
        ));
        return Err(fail(StatusCode::FORBIDDEN, "oidc_unverified", "no-email"));
    };
    if claims.email_verified() != Some(true) {
        super::log(&format!(
            "identity provider subject {who}: address not verified"
        ));
        return Err(fail(StatusCode::FORBIDDEN, "oidc_unverified", "unverified"));
    }
    if !cfg.domain_allowed(&email) {
        super::log(&format!(
            "identity provider subject {who}: domain not allowed"
        ));
        return Err(fail(StatusCode::FORBIDDEN, "oidc_domain", "domain"));
    }
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_string());
    let address =
        super::access::client_address(&app.config.http.trusted_proxies, Some(addr.ip()), headers);
    let now = time::now();
    let outcome = app
        .write(move |app, s| {
            let account = s.oidc_account(&issuer, &sub, &email, name.as_deref(), now)?;
            let OidcAccount::User { user, .. } = &account else {
                return Ok((account, None));
            };
            let (secret, _csrf) = s.create_session(user, now)?;
            // The access log names the person and the provider's subject.
            app.log_access(
                s,
                &user.org,
                &crate::app::issued::Reader {
                    actor: user.actor(),
                    address,
                    via: "web",
                },
                &crate::app::issued::Read {
                    action: "sign-in",
                    object: "session",
                    case_id: None,
                    detail: sign_in_detail(&issuer, &sub),
                },
                now,
            )?;
            Ok((account, Some(secret)))
        })
        .await;
    match outcome {
        Ok((
            OidcAccount::User {
                invited, linked, ..
            },
            Some(secret),
        )) => {
            let how = match (invited, linked) {
                (true, _) => " (invitation accepted)",
                (false, true) => " (linked now)",
                _ => "",
            };
            super::log(&format!("identity provider subject {who} signed in{how}"));
            Ok((secret, flow.next))
        }
        Ok((OidcAccount::Disabled, _)) => {
            super::log(&format!(
                "identity provider subject {who}: account disabled"
            ));
            Err(fail(StatusCode::FORBIDDEN, "oidc_disabled", "disabled"))
        }
        Ok((OidcAccount::OtherSubject, _)) => {
            super::log(&format!(
                "identity provider subject {who}: the address's account is linked to another subject"
            ));
            Err(fail(
                StatusCode::FORBIDDEN,
                "oidc_other_subject",
                "other-subject",
            ))
        }
        Ok(_) => {
            super::log(&format!(
                "identity provider subject {who}: no account and no invitation"
            ));
            Err(fail(StatusCode::FORBIDDEN, "oidc_unknown", "unknown"))
        }
        Err(e) => Err(e.into_response()),
    }
}
