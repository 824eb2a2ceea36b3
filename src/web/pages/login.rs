//! Sign-in, sign-out and the language links.

use crate::time::{self, Lang};
use crate::web::App;
use crate::web::auth::{LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, cookie, local_target, same};
use crate::web::form::{PageForm, PageLang, field, parse_form};
use crate::web::page::{Page, encode, lang_of, word};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

pub(super) async fn set_lang(
    Path(code): Path<String>,
    Query(q): Query<NextQuery>,
    jar: CookieJar,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let mut c = cookie(LANG_COOKIE, lang.code().to_string());
    c.set_http_only(false);
    (jar.add(c), Redirect::to(&local_target(q.next.as_deref()))).into_response()
}

pub(super) fn login_form(
    app: &App,
    lang: Lang,
    jar: CookieJar,
    next: &str,
    email: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    // Sign-in CSRF: the form and a cookie carry the same random value (double submit).
    let token = crate::store::random_hex(16);
    let jar = jar.add(cookie(LOGIN_COOKIE, token.clone()));
    let page = Page {
        lang,
        caller: None,
        title: word(lang, "sign_in"),
        here: format!("/login?next={}", encode(next)),
        flash: None,
        error,
    }
    .render(
        app,
        "login",
        json!({
            "login_token": token, "next": next, "email": email,
            // Sign-in through the company's identity provider (issue 25 part 2).
            "oidc": app.config.auth.oidc.is_some(),
            "next_encoded": encode(next),
        }),
        status,
    );
    (jar, page).into_response()
}

pub(super) async fn login_page(
    State(app): State<Arc<App>>,
    PageLang(lang): PageLang,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = local_target(q.next.as_deref());
    login_form(&app, lang, jar, &next, "", None, StatusCode::OK)
}

pub(super) async fn login(
    State(app): State<Arc<App>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    let email = field(&form, "email").unwrap_or("").trim().to_string();
    let password = field(&form, "password").unwrap_or("").to_string();
    let next = local_target(field(&form, "next"));
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    let given = field(&form, "_login").unwrap_or("");
    if !expected.is_some_and(|e| same(&e, given)) {
        let msg = word(lang, "bad_form");
        return login_form(
            &app,
            lang,
            jar,
            &next,
            &email,
            Some(msg),
            StatusCode::FORBIDDEN,
        );
    }
    let attempt = crate::web::auth::throttle::sign_in_keys(
        &email,
        &app.config.http.trusted_proxies,
        addr.ip(),
        &headers,
    );
    let locked = {
        let attempt = attempt.clone();
        app.read(move |_, s| Ok(crate::web::auth::throttle::check(s, &attempt, time::now())?))
            .await
    };
    let wait = match locked {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    if let Some(wait) = wait {
        let msg = word(lang, "too_many").replace("{secs}", &wait.as_secs().max(1).to_string());
        let mut r = login_form(
            &app,
            lang,
            jar,
            &next,
            &email,
            Some(msg),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let checked = {
        let email = email.clone();
        app.read(move |_, s| {
            let u = s.check_login(&email, &password)?;
            // Every organisation of the person: one that requires its identity provider
            // refuses a password session, which could switch into it.
            let orgs: Vec<String> = match &u {
                Some(u) => s
                    .memberships(&u.email)?
                    .into_iter()
                    .map(|m| m.user.org)
                    .collect(),
                None => vec![],
            };
            Ok(u.map(|u| (u, orgs)))
        })
        .await
    };
    let user = match checked {
        // An organisation that requires its identity provider refuses even a right
        // password (said only after the password was checked: it tells nothing to
        // someone guessing).
        Ok(Some((_, orgs)))
            if app
                .config
                .auth
                .oidc
                .as_ref()
                .is_some_and(|o| orgs.iter().any(|org| o.required(org))) =>
        {
            let msg = word(lang, "oidc_required");
            return login_form(
                &app,
                lang,
                jar,
                &next,
                &email,
                Some(msg),
                StatusCode::FORBIDDEN,
            );
        }
        Ok(Some((u, _))) => u,
        Ok(None) => {
            let address = attempt.address().to_string();
            let counted = app
                .write(move |_, s| {
                    Ok(crate::web::auth::throttle::failed(
                        s,
                        &attempt,
                        time::now(),
                    )?)
                })
                .await;
            if let Err(e) = counted {
                return e.into_response();
            }
            crate::web::log(&format!("failed sign-in from {address}"));
            let msg = word(lang, "wrong_login");
            return login_form(
                &app,
                lang,
                jar,
                &next,
                &email,
                Some(msg),
                StatusCode::UNAUTHORIZED,
            );
        }
        Err(e) => return e.into_response(),
    };
    let session = app
        .write(move |_, s| {
            let device = crate::web::auth::throttle::signed_in(s, &attempt, &user)?;
            Ok((s.create_session(&user, time::now())?, device))
        })
        .await;
    match session {
        Ok(((secret, _csrf), device)) => {
            let jar = jar
                .remove(cookie(LOGIN_COOKIE, String::new()))
                .add(cookie(SESSION_COOKIE, secret))
                .add(device);
            (jar, Redirect::to(&next)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

pub(super) async fn logout(jar: CookieJar, PageForm { ctx, .. }: PageForm) -> Response {
    if let Some(secret) = ctx.caller.session.clone() {
        let _ = ctx.app.write(move |_, s| Ok(s.end_session(&secret)?)).await;
    }
    (
        jar.remove(cookie(SESSION_COOKIE, String::new())),
        Redirect::to("/login"),
    )
        .into_response()
}
