//! The first start's setup page, `/setup/<token>`: the link `vigie serve` prints when the
//! database has no account. The first DPO names the organisation, chooses its workflow,
//! and creates their account; they are then signed in and sent to the dashboard. The use
//! case is `app::setup`; here the form is parsed and answered. An unknown, used or
//! expired link, or a database that has an account, gets 410 and a page that says so.
//! The form has the sign-in page's CSRF protection (a double-submit cookie): there is no
//! session yet.

use super::App;
use super::auth::{LOGIN_COOKIE, SESSION_COOKIE, cookie, same};
use super::form::{field, parse_form};
use super::page::{Page, lang_of, word};
use crate::app::setup::FirstDpo;
use crate::time::{self, Lang};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde_json::{Value, json};
use std::sync::Arc;

pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/setup/{token}", get(setup_page).post(setup))
}

/// Adds the setup page's template to the pages' registry.
pub fn register(hb: &mut handlebars::Handlebars<'static>) {
    hb.register_template_string("setup", include_str!("../../templates/web/setup.html.hbs"))
        .unwrap_or_else(|e| panic!("embedded page template setup: {e}"));
}

fn page(lang: Lang, here: &str, error: Option<String>) -> Page<'static> {
    Page {
        lang,
        caller: None,
        title: word(lang, "setup_title"),
        // Switching language comes back here.
        here: here.into(),
        flash: None,
        error,
    }
}

/// 410: the link cannot be used (any more).
fn gone(app: &App, lang: Lang) -> Response {
    page(lang, "/login", Some(word(lang, "setup_gone_hint"))).render(
        app,
        "message",
        json!({"heading": word(lang, "setup_gone")}),
        StatusCode::GONE,
    )
}

/// The form, with what was typed (never the passwords) and a fresh CSRF pair.
fn form(
    app: &App,
    lang: Lang,
    jar: CookieJar,
    token: &str,
    typed: &[(String, String)],
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let login_token = crate::store::random_hex(16);
    let jar = jar.add(cookie(LOGIN_COOKIE, login_token.clone()));
    let chosen = field(typed, "workflow").unwrap_or("fr");
    let workflows: Vec<Value> = app
        .workflows
        .ids()
        .filter_map(|id| app.workflows.get(id))
        .map(|wf| json!({"id": wf.id, "title": wf.title, "selected": wf.id == chosen}))
        .collect();
    let typed_value = |k: &str| field(typed, k).unwrap_or("").to_string();
    let regimes = crate::web::regimes::questions(lang, |f| typed_value(f));
    let view = json!({
        "token": token,
        "login_token": login_token,
        "workflows": workflows,
        "regimes": regimes,
        "form": {
            "org_id": typed_value("org_id"),
            "org_name": typed_value("org_name"),
            "dpo_email": typed_value("dpo_email"),
            "email": typed_value("email"),
            "name": typed_value("name"),
        },
    });
    let r = page(lang, &format!("/setup/{token}"), error).render(app, "setup", view, status);
    (jar, r).into_response()
}

async fn setup_page(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let lang = lang_of(&headers);
    let t = token.clone();
    let valid = app
        .read(move |_, s| Ok(crate::app::setup::link_is_valid(s, &t, time::now())?))
        .await;
    match valid {
        Ok(true) => form(&app, lang, jar, &token, &[], None, StatusCode::OK),
        Ok(false) => gone(&app, lang),
        Err(e) => e.into_response(),
    }
}

async fn setup(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let typed = parse_form(&bytes);
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same(&e, field(&typed, "_login").unwrap_or(""))) {
        let msg = word(lang, "bad_form");
        return form(
            &app,
            lang,
            jar,
            &token,
            &typed,
            Some(msg),
            StatusCode::FORBIDDEN,
        );
    }
    let text = |k: &str| field(&typed, k).unwrap_or("").to_string();
    let password = text("password");
    // What a browser user can get wrong, said in their language (the application
    // checks the same again, for the API and the CLI); the passwords are never sent
    // back, and the page says so.
    let org_id = text("org_id").trim().to_ascii_lowercase();
    let refused = if password != text("password_again") {
        Some("setup_passwords_differ")
    } else if crate::store::accounts::check_org_id(&org_id).is_err() {
        Some("setup_org_id_invalid")
    } else if password.chars().count() < crate::store::accounts::MIN_PASSWORD {
        Some("setup_password_short")
    } else {
        None
    };
    if let Some(key) = refused {
        let msg = format!(
            "{} {}",
            word(lang, key),
            word(lang, "setup_passwords_cleared")
        );
        return form(
            &app,
            lang,
            jar,
            &token,
            &typed,
            Some(msg),
            StatusCode::BAD_REQUEST,
        );
    }
    let req = FirstDpo {
        org_id,
        org_name: text("org_name"),
        workflow: text("workflow"),
        dpo_email: text("dpo_email"),
        regimes: crate::org::REGIME_FIELDS
            .iter()
            .map(|f| (f.to_string(), text(f)))
            .collect(),
        email: text("email"),
        name: text("name"),
        password,
    };
    let t = token.clone();
    let made = app
        .write(move |app, s| {
            let now = time::now();
            let Some(user) = app.setup(s, &t, &req, now)? else {
                return Ok(None);
            };
            let (secret, _csrf) = s.create_session(&user, now)?;
            super::log(&format!(
                "organisation '{}' and its first DPO's account created through the setup link",
                user.org
            ));
            Ok(Some(secret))
        })
        .await;
    match made {
        Ok(Some(secret)) => {
            let jar = jar
                .remove(cookie(LOGIN_COOKIE, String::new()))
                .add(cookie(SESSION_COOKIE, secret));
            (jar, Redirect::to("/")).into_response()
        }
        Ok(None) => gone(&app, lang),
        Err(e) if e.status.is_client_error() => {
            let msg = format!(
                "{} {}",
                super::page::said_in(lang, &e),
                word(lang, "setup_passwords_cleared")
            );
            form(&app, lang, jar, &token, &typed, Some(msg), e.status)
        }
        Err(e) => e.into_response(),
    }
}
