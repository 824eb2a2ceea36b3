//! The calendar feed (`GET /calendar.ics?token=...`) and the settings page where each
//! user makes, replaces or revokes the token in its address (issue 13 part 2).
//!
//! Calendar clients cannot sign in nor send a header, so the secret is in the URL. It
//! is a token of its own (`vcal_...`, stored hashed, one per user): it reads the user's
//! organisation's deadlines and nothing else, and no API token or session opens the
//! feed. A revoked or replaced token, or a disabled user's, answers 410 Gone, so that
//! calendar clients stop asking (issue 23, N1: a stale subscription polled every ten
//! minutes locked its own address out of sign-in). An unknown token answers 404 like any
//! missing page and counts on the feed's own limiter of the client's address (the
//! forwarded one behind a trusted proxy): past `throttle::FEED_THRESHOLD` that
//! address's feed requests get 429 for a while. It never touches sign-in.

use super::auth::throttle;
use super::form::{PageCtx, PageForm, PageResult, see_other};
use super::page::{Page, error_page, word};
use super::{App, WebError};
use crate::time;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/calendar.ics", get(feed))
        .route("/settings", get(settings_page))
        .route("/settings/calendar", post(settings_calendar))
}

/// Where the case pages are, as seen from outside: `http.public_url`, else the address
/// the client used to reach this server.
pub(super) fn base_url(app: &App, headers: &HeaderMap) -> Option<String> {
    if let Some(u) = app.config.http.public_url.as_deref().map(str::trim)
        && !u.is_empty()
    {
        return Some(u.trim_end_matches('/').to_string());
    }
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    ok.then(|| format!("http://{host}"))
}

#[derive(Deserialize)]
struct FeedQuery {
    token: Option<String>,
}

enum Answer {
    Locked(std::time::Duration),
    Unknown,
    Gone,
    Feed(crate::app::calendar::Feed),
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "not found\n",
    )
        .into_response()
}

async fn feed(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<FeedQuery>,
) -> Response {
    let client =
        super::access::client_address(&app.config.http.trusted_proxies, Some(addr.ip()), &headers);
    let address = throttle::feed_key(&client);
    let token = q.token.unwrap_or_default();
    let base = base_url(&app, &headers);
    let answer = {
        let address = address.clone();
        app.read(move |app, s| {
            let now = time::now();
            if let Some(wait) = throttle::locked(s, &[&address], now)? {
                return Ok(Answer::Locked(wait));
            }
            let Some((user, portfolio)) = s.calendar_user(token.trim())? else {
                return Ok(if s.calendar_token_gone(token.trim())? {
                    Answer::Gone
                } else {
                    Answer::Unknown
                });
            };
            let feed = if portfolio {
                // The person's enabled memberships now: one removed is gone from the
                // next answer.
                let orgs: Vec<String> = s
                    .memberships(&user.email)?
                    .into_iter()
                    .filter(|m| !m.disabled)
                    .map(|m| m.user.org)
                    .collect();
                app.core
                    .portfolio_calendar(s, &orgs, base.as_deref(), now)?
            } else {
                app.core.calendar(s, &user.org, base.as_deref(), now)?
            };
            super::log_unreadable(&user.org, &feed.unreadable);
            Ok(Answer::Feed(feed))
        })
        .await
    };
    let feed = match answer {
        Err(e) => return e.into_response(),
        Ok(Answer::Locked(wait)) => {
            let secs = wait.as_secs().max(1).to_string();
            let mut r =
                (StatusCode::TOO_MANY_REQUESTS, "too many failed attempts\n").into_response();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Ok(Answer::Unknown) => {
            let counted = app
                .write(move |_, s| {
                    throttle::fail(
                        s,
                        &address,
                        throttle::FEED_THRESHOLD,
                        throttle::FEED_LOCK_MAX,
                        time::now(),
                    )?;
                    Ok(())
                })
                .await;
            if let Err(e) = counted {
                return e.into_response();
            }
            super::log(&format!("calendar feed: unknown token from {client}"));
            return not_found();
        }
        Ok(Answer::Gone) => {
            return (
                StatusCode::GONE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "gone: this calendar address was revoked or replaced; make a new one on \
                 the settings page\n",
            )
                .into_response();
        }
        Ok(Answer::Feed(f)) => f,
    };
    let etag = format!("\"{}\"", &crate::util::hash::sha256_hex(&feed.text)[..32]);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            )],
            feed.text,
        )
            .into_response()
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(t) = feed.last_modified
        && let Ok(v) = HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        h.insert(header::LAST_MODIFIED, v);
    }
    // Clients may keep it, but must ask again (the ETag makes that cheap).
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    r
}

#[derive(Deserialize)]
struct OkQuery {
    ok: Option<String>,
}

/// The settings page's view: when the token was made, and the feed's address when one
/// was just made (shown once: only its hash is kept).
fn view(
    app: &App,
    lang: crate::time::Lang,
    c: &crate::web::Caller,
    since: Option<Since>,
    feed_url: Option<String>,
) -> serde_json::Value {
    json!({
        "csrf": c.csrf.clone(),
        "since": since.as_ref().map(|(t, zone, _)| time::long_in(*t, *zone, lang)),
        // A person with several organisations chooses what the address reads.
        "scopes": (c.orgs.len() > 1).then(|| json!({
            "portfolio": since.as_ref().is_some_and(|(_, _, org)| org.is_none()),
        })),
        "feed_url": feed_url,
        // Without `http.public_url`, the address is the one this browser used, which a
        // phone or a calendar service may not reach: the page says so.
        "no_public_url": feed_url.is_some()
            && app.config.http.public_url.as_deref().is_none_or(|u| u.trim().is_empty()),
    })
}

/// When the caller's calendar token was made, in the zone of their organisation's
/// workflow (its profile's, else the first known), as the case pages show times.
/// When a calendar token was made, the zone to show it in, and its organisation (None:
/// the portfolio).
type Since = (chrono::DateTime<chrono::Utc>, chrono_tz::Tz, Option<String>);

fn token_since(
    app: &App,
    s: &mut crate::store::Store,
    user: &crate::store::accounts::User,
) -> Result<Option<Since>, WebError> {
    let Some((since, org)) = s.calendar_token_since(user)? else {
        return Ok(None);
    };
    let zone = app.core.zone_of_org(s, &user.org);
    Ok(Some((since, zone, org)))
}

async fn settings_page(ctx: PageCtx, Query(q): Query<OkQuery>) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let user = c.user.clone();
    match app.read(move |app, s| token_since(app, s, &user)).await {
        Ok(since) => {
            let mut page = Page::of(lang, &c, word(lang, "settings"), "/settings");
            page.flash =
                q.ok.filter(|k| k == "revoked")
                    .map(|_| word(lang, "ok_calendar_revoked"));
            page.render(
                &app,
                "settings",
                view(&app, lang, &c, since, None),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

/// Makes (or replaces) the caller's calendar token and shows its address once, or
/// revokes it. Every role, each for themselves.
async fn settings_calendar(headers: HeaderMap, PageForm { ctx, form }: PageForm) -> PageResult {
    let user = ctx.caller.user.clone();
    // Only a person with several organisations has the choice.
    let portfolio = ctx.caller.orgs.len() > 1 && form.get("scope") == Some("portfolio");
    match form.get("action") {
        Some("new") => {
            let made = ctx
                .app
                .write(move |app, s| {
                    let now = time::now();
                    let token = s.new_calendar_token(&user, portfolio, now)?;
                    Ok((token, token_since(app, s, &user)?))
                })
                .await;
            let (token, since) = made.map_err(ctx.fail())?;
            let base = base_url(&ctx.app, &headers).unwrap_or_default();
            let url = format!("{base}/calendar.ics?token={token}");
            Ok(ctx.page(ctx.word("settings"), "/settings").render(
                &ctx.app,
                "settings",
                view(&ctx.app, ctx.lang, &ctx.caller, since, Some(url)),
                StatusCode::OK,
            ))
        }
        Some("revoke") => {
            ctx.app
                .write(move |_, s| Ok(s.revoke_calendar_token(&user)?))
                .await
                .map_err(ctx.fail())?;
            Ok(see_other("/settings?ok=revoked"))
        }
        _ => Err(ctx.error(WebError::bad("action: new or revoke"))),
    }
}
