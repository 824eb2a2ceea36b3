//! The server-rendered pages: sign-in, open cases with live countdowns, a case (facts
//! form, next steps, deadlines, timeline, drafts), a new case, the register. Handlebars
//! templates embedded from `templates/web/`; one small script for the countdowns.
//! Every form carries the session's CSRF token; every change redirects (303) on success
//! and shows the page again with the reason on failure.

use super::auth::{
    LANG_COOKIE, LOGIN_COOKIE, PageCaller, SESSION_COOKIE, cookie, local_target, same,
};
use super::page_cache::{CSRF_SLOT, CaseVersion, DashVersion, Frame, Listed, Marks};
use super::{App, Caller, WebError};
use crate::app::Change;
use crate::app::assess::CaseAssessment;
use crate::case::{ClockStatus, ClockView, clocks};
use crate::render::Labels;
use crate::store::Loaded;
use crate::time::{self, Lang};
use crate::workflow::{FactType, FactValue, Workflow};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;
use chrono::{DateTime, Duration, Utc};
use handlebars::Handlebars;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

const PAGES: [(&str, &str); 10] = [
    (
        "layout",
        include_str!("../../templates/web/layout.html.hbs"),
    ),
    ("login", include_str!("../../templates/web/login.html.hbs")),
    (
        "dashboard",
        include_str!("../../templates/web/dashboard.html.hbs"),
    ),
    ("case", include_str!("../../templates/web/case.html.hbs")),
    (
        "new_case",
        include_str!("../../templates/web/new_case.html.hbs"),
    ),
    (
        "register",
        include_str!("../../templates/web/register.html.hbs"),
    ),
    ("draft", include_str!("../../templates/web/draft.html.hbs")),
    (
        "organisation",
        include_str!("../../templates/web/organisation.html.hbs"),
    ),
    (
        "message",
        include_str!("../../templates/web/message.html.hbs"),
    ),
    // --- calendar feed and settings (issue 13 part 2) ---
    (
        "settings",
        include_str!("../../templates/web/settings.html.hbs"),
    ),
];
const CSS: &str = include_str!("../../templates/web/vigie.css");
const JS: &str = include_str!("../../templates/web/vigie.js");

pub fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    for (name, text) in PAGES {
        hb.register_template_string(name, text)
            .unwrap_or_else(|e| panic!("embedded page template {name}: {e}"));
    }
    super::setup::register(&mut hb);
    hb
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(dashboard))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(set_lang))
        .route("/static/vigie.css", get(css))
        .route("/static/vigie.js", get(js))
        .route("/cases/new", get(new_case_page))
        .route("/cases", post(new_case))
        .route("/cases/{id}", get(case_page))
        .route("/cases/{id}/facts", post(set_facts))
        .route("/cases/{id}/events", post(advance))
        .route("/cases/{id}/assessment/accept", post(accept_assessment))
        .route("/cases/{id}/assessment/decide", post(decide_otherwise))
        .route("/cases/{id}/drafts/{document}", get(draft_page))
        .route(
            "/cases/{id}/drafts/{document}/download",
            get(draft_download),
        )
        .route("/register", get(register_page))
        .route("/register.csv", get(register_csv))
        .route("/organisation", get(org_page).post(org_save))
}

fn ui(lang: Lang) -> &'static Value {
    static FR: OnceLock<Value> = OnceLock::new();
    static EN: OnceLock<Value> = OnceLock::new();
    static NL: OnceLock<Value> = OnceLock::new();
    let (cell, text, name) = match lang {
        Lang::Fr => (
            &FR,
            include_str!("../../templates/web/ui.fr.yaml"),
            "ui.fr.yaml",
        ),
        Lang::En => (
            &EN,
            include_str!("../../templates/web/ui.en.yaml"),
            "ui.en.yaml",
        ),
        Lang::Nl => (
            &NL,
            include_str!("../../templates/web/ui.nl.yaml"),
            "ui.nl.yaml",
        ),
    };
    cell.get_or_init(|| {
        let m: indexmap::IndexMap<String, String> = crate::yaml::from_str(text)
            .unwrap_or_else(|e| panic!("embedded templates/web/{name}: {e}"));
        json!(m)
    })
}

pub(super) fn word(lang: Lang, key: &str) -> String {
    ui(lang)[key].as_str().unwrap_or(key).to_string()
}

/// The page language: the `vigie_lang` cookie, else the browser's first language vigie
/// offers (fr, en, nl: `nl-BE` is nl), else fr.
pub(super) fn lang_of(headers: &HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    if let Some(l) = jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = Lang::parse(primary) {
            return l;
        }
    }
    Lang::Fr
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) struct Page<'a> {
    pub(super) lang: Lang,
    pub(super) caller: Option<&'a Caller>,
    pub(super) title: String,
    pub(super) here: String,
    pub(super) flash: Option<String>,
    pub(super) error: Option<String>,
}

impl<'a> Page<'a> {
    /// A page with nothing to report above its content.
    pub(super) fn of(
        lang: Lang,
        caller: &'a Caller,
        title: String,
        here: impl Into<String>,
    ) -> Page<'a> {
        Page {
            lang,
            caller: Some(caller),
            title,
            here: here.into(),
            flash: None,
            error: None,
        }
    }

    pub(super) fn render(
        &self,
        app: &App,
        template: &str,
        view: Value,
        status: StatusCode,
    ) -> Response {
        match render_body(app, template, view, self.lang) {
            Ok(body) => self.finish(app, body, status),
            Err(e) => e.into_response(),
        }
    }

    /// The page around a body already rendered.
    fn finish(&self, app: &App, body: String, status: StatusCode) -> Response {
        self.finish_with(app, body.len(), |out| out.push_str(&body), status)
    }

    /// The page around a body that `write` appends (`len`: about its length).
    fn finish_with(
        &self,
        app: &App,
        len: usize,
        write: impl FnOnce(&mut String),
        status: StatusCode,
    ) -> Response {
        let t = ui(self.lang);
        let words: serde_json::Map<String, Value> = [
            "dashboard",
            "register",
            "new_case",
            "organisation",
            "sign_out",
            "settings",
        ]
        .iter()
        .map(|k| (k.to_string(), t[*k].clone()))
        .collect();
        let layout = json!({
            "t": words,
            "lang": self.lang.code(),
            // The other languages, each named in itself.
            "other_langs": Lang::ALL.iter().filter(|l| **l != self.lang)
                .map(|l| json!({"code": l.code(), "name": l.name()})).collect::<Vec<_>>(),
            "page_title": self.title,
            "here": encode(&self.here),
            "now": time::now().to_rfc3339(),
            "user": self.caller.map(|c| json!({
                "email": c.user.email, "role": c.user.role.as_str(), "org": c.user.org,
            })),
            "csrf": self.caller.and_then(|c| c.csrf.clone()),
            "can_open": self.caller.is_some_and(|c| c.user.role.is_dpo()),
            "flash": self.flash,
            "error": self.error,
            // The body goes in afterwards: handlebars would copy it piece by piece.
            "body": app.page_cache.marks.body(),
        });
        match app
            .pages
            .render_with_context("layout", &handlebars::Context::from(layout))
        {
            Ok(html) => {
                let marker = app.page_cache.marks.body();
                let (head, tail) = html.split_once(&marker).unwrap_or((&html, ""));
                let mut page = String::with_capacity(head.len() + len + 256 + tail.len());
                page.push_str(head);
                write(&mut page);
                page.push_str(tail);
                (status, Html(page)).into_response()
            }
            Err(e) => {
                super::log(&format!("page template layout: {e}"));
                (StatusCode::INTERNAL_SERVER_ERROR, "page template error").into_response()
            }
        }
    }
}

/// A page's own template rendered with `view` and the page words (`t`).
fn render_body(app: &App, template: &str, mut view: Value, lang: Lang) -> Result<String, WebError> {
    view["t"] = ui(lang).clone();
    // A Context made from the Value itself: handlebars does not serialize it again.
    app.pages
        .render_with_context(template, &handlebars::Context::from(view))
        .map_err(|e| {
            super::log(&format!("page template {template}: {e}"));
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "page template error")
        })
}

/// An error page (404 for another organisation's case, like an unknown one).
pub(super) fn error_page(app: &App, lang: Lang, caller: &Caller, e: WebError) -> Response {
    let heading = if e.status == StatusCode::NOT_FOUND {
        word(lang, "not_found")
    } else {
        e.message.clone()
    };
    Page {
        lang,
        caller: Some(caller),
        title: heading.clone(),
        here: "/".into(),
        flash: None,
        error: (e.status != StatusCode::NOT_FOUND).then(|| e.message.clone()),
    }
    .render(app, "message", json!({"heading": heading}), e.status)
}

/// A signed-in form's CSRF token checked; on refusal, the page that says the form
/// expired.
#[allow(clippy::result_large_err)]
pub(super) fn checked_form(
    app: &App,
    lang: Lang,
    c: &Caller,
    form: &[(String, String)],
) -> Result<(), Response> {
    c.check_csrf(field(form, "_csrf")).map_err(|e| {
        error_page(
            app,
            lang,
            c,
            WebError::new(e.status, word(lang, "bad_form")),
        )
    })
}

pub(super) fn parse_form(bytes: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

// ---- the clocks, as the pages colour them ----

/// pending / soon (due within 24 h) / overdue / met / late / not_applicable.
fn class_of(c: &ClockView, now: DateTime<Utc>) -> &'static str {
    match (c.status, c.due_at) {
        (ClockStatus::Pending, Some(due)) if due - now < Duration::hours(24) => {
            if due <= now {
                "overdue"
            } else {
                "soon"
            }
        }
        (ClockStatus::Pending, _) => "pending",
        (ClockStatus::Overdue, _) => "overdue",
        (ClockStatus::Met, _) => "met",
        (ClockStatus::Late, _) => "late",
        (ClockStatus::NotApplicable, _) => "not_applicable",
    }
}

fn span(d: Duration, lang: Lang) -> String {
    let s = d.num_seconds().max(0);
    let (days, h, m, r) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    // Day and hour as each language abbreviates them (vigie.js writes the same).
    let (dw, hw) = match lang {
        Lang::Fr => ("j", "h"),
        Lang::En => ("d", "h"),
        Lang::Nl => ("d", "u"),
    };
    if days > 0 {
        format!("{days} {dw} {h} {hw} {m} min")
    } else if h > 0 {
        format!("{h} {hw} {m} min {r} s")
    } else {
        format!("{m} min {r} s")
    }
}

/// What a clock's countdown says at `now` ("2 h 5 min 10 s left", "met"): the part of a
/// page that changes every second, filled into kept pages on each request.
fn left_text(c: &ClockView, now: DateTime<Utc>, lang: Lang) -> String {
    match (c.status, c.due_at) {
        (ClockStatus::Pending | ClockStatus::Overdue, Some(due)) if due <= now => {
            format!("{} {}", word(lang, "overdue_by"), span(now - due, lang))
        }
        (ClockStatus::Pending | ClockStatus::Overdue, Some(due)) => {
            format!("{} {}", span(due - now, lang), word(lang, "left"))
        }
        (ClockStatus::Late, _) => word(lang, "st_late"),
        (s, _) => word(lang, &format!("st_{}", s.as_str())),
    }
}

/// `left`: the countdown text (see `left_text`), or the marker of its slot.
fn clock_view(
    wf: &Workflow,
    labels: &Labels,
    c: &ClockView,
    now: DateTime<Utc>,
    lang: Lang,
    left: String,
) -> Value {
    let class = class_of(c, now);
    let open =
        matches!(c.status, ClockStatus::Pending | ClockStatus::Overdue) && c.due_at.is_some();
    let label = match labels.get(&c.id) {
        l if l == c.id => c.title.clone(),
        l => l.to_string(),
    };
    json!({
        "id": c.id,
        "label": label,
        "basis": labels.basis(&c.id, c.basis.as_deref()),
        "internal": c.internal,
        "due": c.due_at.map(|d| time::short_in(d, wf.timezone)).unwrap_or_else(|| "—".into()),
        "due_utc": c.due_at.map(|d| d.to_rfc3339()),
        "class": class,
        "status_label": word(lang, &format!("st_{class}")),
        "open": open,
        "left": left,
    })
}

// ---- handlers ----

/// An embedded static file, cached an hour by the browser.
fn asset(mime: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(mime)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn set_lang(
    Path(code): Path<String>,
    Query(q): Query<NextQuery>,
    jar: CookieJar,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or_default();
    let mut c = cookie(LANG_COOKIE, lang.code().to_string());
    c.set_http_only(false);
    (jar.add(c), Redirect::to(&local_target(q.next.as_deref()))).into_response()
}

fn login_form(
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
        json!({"login_token": token, "next": next, "email": email}),
        status,
    );
    (jar, page).into_response()
}

async fn login_page(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = local_target(q.next.as_deref());
    login_form(
        &app,
        lang_of(&headers),
        jar,
        &next,
        "",
        None,
        StatusCode::OK,
    )
}

async fn login(
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
    let account = format!("account:{}", email.to_lowercase());
    let address = format!("address:{}", addr.ip());
    let locked = {
        let (account, address) = (account.clone(), address.clone());
        app.read(move |_, s| {
            Ok(super::auth::throttle::locked(
                s,
                &[&account, &address],
                time::now(),
            )?)
        })
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
        app.read(move |_, s| Ok(s.check_login(&email, &password)?))
            .await
    };
    let user = match checked {
        Ok(Some(u)) => u,
        Ok(None) => {
            let counted = app
                .write(move |_, s| {
                    let now = time::now();
                    super::auth::throttle::fail(s, &account, super::auth::ACCOUNT_THRESHOLD, now)?;
                    super::auth::throttle::fail(s, &address, super::auth::ADDRESS_THRESHOLD, now)?;
                    Ok(())
                })
                .await;
            if let Err(e) = counted {
                return e.into_response();
            }
            super::log(&format!("failed sign-in from {}", addr.ip()));
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
            super::auth::throttle::forget(s, &account)?;
            Ok(s.create_session(&user, time::now())?)
        })
        .await;
    match session {
        Ok((secret, _csrf)) => {
            let jar = jar
                .remove(cookie(LOGIN_COOKIE, String::new()))
                .add(cookie(SESSION_COOKIE, secret));
            (jar, Redirect::to(&next)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn logout(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    jar: CookieJar,
    bytes: Bytes,
) -> Response {
    let form = parse_form(&bytes);
    if let Err(e) = c.check_csrf(field(&form, "_csrf")) {
        return e.into_response();
    }
    if let Some(secret) = c.session.clone() {
        let _ = app.write(move |_, s| Ok(s.end_session(&secret)?)).await;
    }
    (
        jar.remove(cookie(SESSION_COOKIE, String::new())),
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
}

/// Open cases per page of the dashboard: the most urgent first, then by page.
pub const DASHBOARD_PAGE: usize = 50;

async fn dashboard(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&headers);
    // A page number that is not one is the first page (an old bookmark, a typo).
    let page = q.page.and_then(|p| p.trim().parse::<usize>().ok());
    let caller = c.clone();
    match app
        .read(move |app, store| dashboard_body(app, store, &caller, lang, page))
        .await
    {
        Ok((frame, values, page)) => {
            let here = if page > 1 {
                format!("/?page={page}")
            } else {
                "/".into()
            };
            Page::of(lang, &c, word(lang, "dashboard"), here).finish_with(
                &app,
                frame.text_len(),
                |out| frame.fill_into(out, &values),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

/// The dashboard's body (a frame and the values of its slots) and the page number
/// shown: from the kept frame when the
/// organisation's open cases and the clocks' classes are unchanged, else rendered.
/// Per request it costs one query listing the open cases' last events, and the clocks
/// of the cases on the page moved to now (`ClockView::as_of`).
fn dashboard_body(
    app: &App,
    store: &mut crate::store::Store,
    c: &Caller,
    lang: Lang,
    page: Option<usize>,
) -> Result<(Arc<Frame>, Vec<String>, usize), WebError> {
    let org = &c.user.org;
    let now = time::now();
    let cache = &app.page_cache;
    let mut heads: Vec<(String, i64, String)> = store
        .backend()
        .heads(Some(org))?
        .into_iter()
        .filter(|h| !h.closed)
        .map(|h| (h.id, h.seq, h.last_hash))
        .collect();
    heads.sort();
    let list = match cache.list(org, &heads) {
        Some(l) => l,
        None => {
            let (cases, unreadable) = app.core.cases(store, org, false, now)?;
            super::log_unreadable(org, &unreadable);
            let rows: Vec<Listed> = cases
                .into_iter()
                .map(|l| {
                    let clocks = clocks(&l.workflow, &l.case, now);
                    let nearest = crate::case::clock::nearest_due(&clocks);
                    Listed {
                        loaded: l,
                        clocks,
                        nearest,
                    }
                })
                .collect();
            let mut read: Vec<(String, i64, String)> = rows
                .iter()
                .map(|r| {
                    let case = &r.loaded.case;
                    (case.id.clone(), case.seq, case.last_hash.clone())
                })
                .collect();
            read.sort();
            // A write between the two reads: show what was read, keep nothing.
            if read == heads && unreadable.is_empty() {
                cache.keep_list(org, heads, rows)
            } else {
                Arc::new(super::page_cache::OrgList {
                    generation: 0,
                    heads: read,
                    rows,
                })
            }
        }
    };
    let total = list.rows.len();
    let pages = total.div_ceil(DASHBOARD_PAGE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let shown = &list.rows[(page - 1) * DASHBOARD_PAGE..(page * DASHBOARD_PAGE).min(total)];
    // Sorted by nearest due time (None last): the overdue, then the due-soon, come first.
    let overdue = list
        .rows
        .partition_point(|r| r.nearest.is_some_and(|d| d <= now));
    let soon = list
        .rows
        .partition_point(|r| r.nearest.is_some_and(|d| d - now < Duration::hours(24)))
        - overdue;
    // The clocks shown, as of now; what changes with time is the version (classes, the
    // counts) or a slot (the countdowns).
    let views: Vec<Vec<ClockView>> = shown
        .iter()
        .map(|r| {
            r.clocks
                .iter()
                .filter(|v| v.status != ClockStatus::NotApplicable)
                .map(|v| v.as_of(now))
                .collect()
        })
        .collect();
    let mut phase = format!("{overdue}/{soon}:");
    for row in &views {
        for v in row {
            phase.push_str(class_of(v, now));
            phase.push(',');
        }
        phase.push(';');
    }
    // Nobody to send the organisation's reminders to: say so, and how to set one (issue 13).
    let no_recipient = app
        .core
        .profile(store, org)?
        .reminder_recipients()
        .is_empty();
    phase.push_str(if no_recipient { "no_recipient" } else { "" });
    let role = c.user.role.as_str();
    let version = DashVersion {
        generation: list.generation,
        phase,
    };
    let next_of = |row: &[ClockView]| -> Option<usize> {
        row.iter()
            .enumerate()
            .filter(|(_, v)| {
                matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue)
                    && v.due_at.is_some()
            })
            .min_by_key(|(_, v)| v.due_at)
            .map(|(i, _)| i)
    };
    // Slots: 0 the CSRF token, then per row its next countdown and each chip's.
    let mut values = vec![c.csrf.clone().unwrap_or_default()];
    let mut slot_of = Vec::with_capacity(views.len());
    for row in &views {
        let base = values.len();
        slot_of.push(base);
        values.push(
            next_of(row)
                .map(|i| left_text(&row[i], now, lang))
                .unwrap_or_default(),
        );
        values.extend(row.iter().map(|v| left_text(v, now, lang)));
    }
    let kept = match list.generation {
        0 => None,
        _ => cache.dashboard(org, lang, role, page, &version),
    };
    if let Some(f) = &kept
        && !cache.check
    {
        return Ok((f.clone(), values, page));
    }
    let m = &cache.marks;
    let mut rows = Vec::with_capacity(shown.len());
    for ((r, row), base) in shown.iter().zip(&views).zip(&slot_of) {
        let wf = &r.loaded.workflow;
        let lb = app.labels(wf, lang)?;
        rows.push(json!({
            "id": r.loaded.case.id,
            "title": r.loaded.case.title,
            "next": next_of(row).map(|i| clock_view(wf, &lb, &row[i], now, lang, m.slot(*base))),
            "clocks": row.iter().enumerate()
                .map(|(i, v)| clock_view(wf, &lb, v, now, lang, m.slot(base + 1 + i)))
                .collect::<Vec<_>>(),
        }));
    }
    let paging = (pages > 1).then(|| {
        json!({
            "page": page, "pages": pages, "total": total,
            "from": (page - 1) * DASHBOARD_PAGE + 1, "to": (page * DASHBOARD_PAGE).min(total),
            "prev": (page > 1).then(|| page - 1),
            "next": (page < pages).then(|| page + 1),
        })
    });
    let view = json!({
        "cases": rows,
        "summary": (total > 0).then(|| json!({"overdue": overdue, "soon": soon, "total": total})),
        "paging": paging,
        "no_recipient": no_recipient,
        "is_dpo": c.user.role.is_dpo(),
    });
    let frame = Arc::new(m.frame(&render_body(app, "dashboard", view, lang)?));
    if let Some(f) = kept {
        checked(&f, &frame, "dashboard")?;
    }
    if list.generation != 0 {
        cache.keep_dashboard(org, lang, role, page, version, frame.clone());
    }
    Ok((frame, values, page))
}

/// In check mode (`VIGIE_PAGE_CACHE_CHECK=1`): the kept frame must be the fresh render.
fn checked(kept: &Frame, fresh: &Frame, page: &str) -> Result<(), WebError> {
    if kept == fresh {
        return Ok(());
    }
    let msg = format!(
        "page cache: the kept {page} differs from a fresh render (its version misses something the page shows)"
    );
    super::log(&msg);
    Err(WebError::new(StatusCode::INTERNAL_SERVER_ERROR, msg))
}

/// How a fact is shown in the form: its input kind, value and options.
/// A stored fact as the form shows it.
fn stored_text(wf: &Workflow, value: Option<&FactValue>) -> String {
    match value {
        None => String::new(),
        Some(FactValue::DateTime(d)) => time::rfc3339_in(*d, wf.timezone),
        Some(FactValue::Integer(i)) => i.to_string(),
        Some(FactValue::Boolean(b)) => b.to_string(),
        Some(FactValue::Text(s)) => s.clone(),
        Some(FactValue::List(v)) => v.join("\n"),
    }
}

/// `typed`: what the user had typed in a form that was refused, shown again instead of
/// the stored value so nothing they wrote is lost.
fn fact_view(
    wf: &Workflow,
    labels: &Labels,
    name: &str,
    lang: Lang,
    value: Option<&FactValue>,
    typed: Option<Vec<String>>,
) -> Value {
    let def = &wf.facts[name];
    let selected: Vec<String> = match (&typed, value) {
        (Some(t), _) => t.clone(),
        (None, Some(FactValue::List(v))) => v.clone(),
        (None, Some(FactValue::Text(s))) => vec![s.clone()],
        (None, Some(FactValue::Boolean(b))) => vec![b.to_string()],
        _ => vec![],
    };
    let options = |values: Vec<(String, String)>| -> Vec<Value> {
        values
            .into_iter()
            .map(
                |(v, label)| json!({"selected": selected.contains(&v), "value": v, "label": label}),
            )
            .collect()
    };
    let text = match typed {
        Some(t) => t.join("\n"),
        None => stored_text(wf, value),
    };
    let (input, opts, hint) = match def.kind {
        FactType::Choice => (
            "select",
            options(
                def.choices
                    .iter()
                    .map(|c| (c.clone(), labels.get(c).to_string()))
                    .collect(),
            ),
            String::new(),
        ),
        FactType::List if !def.choices.is_empty() => (
            "checkboxes",
            options(
                def.choices
                    .iter()
                    .map(|c| (c.clone(), labels.get(c).to_string()))
                    .collect(),
            ),
            String::new(),
        ),
        FactType::List | FactType::Emails => ("textarea", vec![], word(lang, "one_per_line")),
        FactType::Boolean => (
            "select",
            options(vec![
                ("true".into(), word(lang, "yes")),
                ("false".into(), word(lang, "no")),
            ]),
            String::new(),
        ),
        FactType::Integer => ("number", vec![], String::new()),
        FactType::DateTime => ("text", vec![], "2026-11-23 09:00".into()),
        FactType::Text if text.chars().count() > 60 || text.contains('\n') => {
            ("textarea", vec![], String::new())
        }
        FactType::Text => ("text", vec![], String::new()),
    };
    json!({
        "name": name,
        "label": labels.get(name),
        // Flags rather than an `eq` helper per input kind: five helper calls per fact
        // were a tenth of the case page's time.
        "is_select": input == "select",
        "is_checkboxes": input == "checkboxes",
        "is_textarea": input == "textarea",
        "is_number": input == "number",
        "is_text": input == "text",
        "value": text,
        "options": opts,
        "hint": hint,
    })
}

#[allow(clippy::too_many_arguments)]
fn case_view(
    app: &App,
    l: &Loaded,
    assessment: Option<&CaseAssessment>,
    labels: &Labels,
    lang: Lang,
    c: &Caller,
    typed: Option<&[(String, String)]>,
    now: DateTime<Utc>,
    marks: Option<&Marks>,
) -> Value {
    let wf = &l.workflow;
    let case = &l.case;
    let views = clocks(wf, case, now);
    // A kept page holds markers where the countdowns and the CSRF token go.
    let clock_rows: Vec<Value> = views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let left = match marks {
                Some(m) => m.slot(1 + i),
                None => left_text(v, now, lang),
            };
            clock_view(wf, labels, v, now, lang, left)
        })
        .collect();
    let csrf = match marks {
        Some(m) => Some(m.slot(CSRF_SLOT)),
        None => c.csrf.clone(),
    };
    let events: Vec<Value> = crate::app::json::allowed_events(wf, case)
        .into_iter()
        // The risk decision is taken in the assessment's own section.
        .filter(|name| assessment.is_none() || !app.is_decision(&wf.id, name))
        .map(|name| {
            let def = &wf.events[&name];
            let missing: Vec<&str> = def
                .requires
                .iter()
                .filter(|f| !case.facts.contains_key(*f))
                .map(|f| labels.get(f))
                .collect();
            let late_missing: Vec<&str> = wf
                .clocks_met_by(&name)
                .filter(|(id, _)| {
                    views
                        .iter()
                        .any(|v| &v.id == *id && v.due_at.is_some_and(|d| d < now) && v.status == ClockStatus::Overdue)
                })
                .flat_map(|(_, cd)| cd.late_requires.iter())
                .filter(|f| !case.facts.contains_key(*f))
                .map(|f| labels.get(f))
                .collect();
            json!({"name": name, "label": labels.get(&name), "missing": missing, "late_missing": late_missing})
        })
        .collect();
    let facts: Vec<Value> = wf
        .facts
        .keys()
        .map(|name| {
            let again = typed
                .filter(|form| form.iter().any(|(k, v)| k == "present" && v == name))
                .map(|form| {
                    let key = format!("f.{name}");
                    form.iter()
                        .filter(|(k, _)| *k == key)
                        .map(|(_, v)| v.clone())
                        .collect()
                });
            fact_view(wf, labels, name, lang, case.facts.get(name), again)
        })
        .collect();
    let timeline: Vec<Value> = l
        .events
        .iter()
        .rev()
        .map(|e| {
            let note = match &e.body {
                crate::case::EventBody::FactsSet { note, .. }
                | crate::case::EventBody::Advanced { note, .. } => note.clone(),
                _ => None,
            };
            json!({
                "seq": e.seq,
                "at": time::short_in(e.at, wf.timezone),
                "actor": e.actor,
                "what": crate::app::json::event_summary(e),
                "note": note,
            })
        })
        .collect();
    let drafts: Vec<Value> = wf
        .documents
        .iter()
        .map(|(name, d)| {
            let label = match labels.get(name) {
                l if l == name => d.title.clone(),
                l => l.to_string(),
            };
            json!({"name": name, "label": label})
        })
        .collect();
    json!({
        "case": {
            "id": case.id, "title": case.title, "workflow": wf.id,
            "timezone": wf.timezone.name(), "closed": case.is_closed(wf), "seq": case.seq,
        },
        "csrf": csrf,
        "can_change": c.user.role.can_change(),
        "clocks": clock_rows,
        "tracks": case.tracks.iter().map(|(t, s)| json!({"track": t, "label": labels.get(t), "state": labels.get(s)})).collect::<Vec<_>>(),
        "events": events,
        "facts": facts,
        "timeline": timeline,
        "drafts": drafts,
        "assessment": assessment.map(|a| assessment_view(a, labels, lang, c, typed)),
    })
}

/// Issue 13 part 4: the documents recorded as issued (with a download of their exact
/// text), and the access log merged into the timeline (newest first, by the time each
/// was recorded), each entry marked `access`.
fn issued_view(mut view: Value, l: &Loaded, access: &[crate::store::backend::AccessRow]) -> Value {
    let tz = l.workflow.timezone;
    let issued: Vec<Value> = l
        .events
        .iter()
        .filter_map(|e| match &e.body {
            crate::case::EventBody::DocumentIssued {
                document,
                lang,
                format,
                sha256,
            } => Some(json!({
                "seq": e.seq, "at": time::short_in(e.at, tz), "actor": e.actor,
                "document": document, "lang": lang, "format": format,
                "sha256": sha256, "short": &sha256[..12.min(sha256.len())],
            })),
            _ => None,
        })
        .collect();
    view["issued"] = json!(issued);
    if !access.is_empty() {
        let mut merged: Vec<(DateTime<Utc>, Value)> = l
            .events
            .iter()
            .zip(
                view["timeline"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .rev(),
            )
            .map(|(e, v)| (e.recorded_at, v))
            .collect();
        merged.extend(access.iter().map(|a| {
            (
                a.at,
                json!({
                    "access": true,
                    "at": time::short_in(a.at, tz),
                    "actor": a.actor,
                    "what": crate::app::issued::access_summary(a),
                }),
            )
        }));
        merged.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        view["timeline"] = merged.into_iter().map(|(_, v)| v).collect();
    }
    view
}

/// What a case page says above the case, and with which status.
struct Shown {
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
}

#[allow(clippy::too_many_arguments)]
fn render_case(
    app: &App,
    l: &Loaded,
    assessment: Option<&CaseAssessment>,
    lang: Lang,
    c: &Caller,
    shown: Shown,
    typed: Option<&[(String, String)]>,
    access: &[crate::store::backend::AccessRow],
) -> Response {
    let Shown {
        flash,
        error,
        status,
    } = shown;
    let labels = match app.labels(&l.workflow, lang) {
        Ok(lb) => lb,
        Err(e) => return error_page(app, lang, c, e),
    };
    Page {
        lang,
        caller: Some(c),
        title: format!("{} — {}", l.case.id, l.case.title),
        here: format!("/cases/{}", l.case.id),
        flash,
        error,
    }
    .render(
        app,
        "case",
        issued_view(
            case_view(
                app,
                l,
                assessment,
                &labels,
                lang,
                c,
                typed,
                time::now(),
                None,
            ),
            l,
            access,
        ),
        status,
    )
}

#[derive(Deserialize)]
struct OkQuery {
    ok: Option<String>,
}

async fn case_page(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<OkQuery>,
) -> Response {
    let lang = lang_of(&headers);
    let caller = c.clone();
    match app
        .read(move |app, store| case_body(app, store, &caller, &id, lang))
        .await
    {
        Ok((l, frame, values)) => {
            let flash =
                q.ok.as_deref()
                    .filter(|k| {
                        [
                            "facts",
                            "event",
                            "opened",
                            "nothing_changed",
                            "assessed",
                            "issued",
                        ]
                        .contains(k)
                    })
                    .map(|k| {
                        word(
                            lang,
                            if k == "nothing_changed" {
                                k.to_string()
                            } else {
                                format!("ok_{k}")
                            }
                            .as_str(),
                        )
                    });
            Page {
                lang,
                caller: Some(&c),
                title: format!("{} — {}", l.case.id, l.case.title),
                here: format!("/cases/{}", l.case.id),
                flash,
                error: None,
            }
            .finish_with(
                &app,
                frame.text_len(),
                |out| frame.fill_into(out, &values),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

/// The case page's body (a frame and the values of its slots): the kept frame when the case, the language, the role, the
/// assessment's language and every clock's class are what it was rendered from (see
/// `page_cache`), with this session's CSRF token and the countdowns filled in; else
/// rendered and kept.
fn case_body(
    app: &App,
    store: &mut crate::store::Store,
    c: &Caller,
    id: &str,
    lang: Lang,
) -> Result<(Arc<Loaded>, Arc<Frame>, Vec<String>), WebError> {
    let org = &c.user.org;
    let l = app.core.case(store, org, id)?;
    let wf = &l.workflow;
    let assess_lang = match app.workflows.rules(&wf.id) {
        Some(_) => Some(app.core.assess_lang(store, org, wf)?),
        None => None,
    };
    let now = time::now();
    let views = clocks(wf, &l.case, now);
    let mut phase = String::new();
    for v in &views {
        phase.push_str(class_of(v, now));
        phase.push(':');
        phase.push_str(v.status.as_str());
        phase.push(',');
    }
    // Issue 13 part 4: the access log, merged into the timeline, for the DPO only. It
    // grows without the case's seq moving, so the kept page is checked against it too.
    let access = if c.user.role.is_dpo() {
        app.core.access_log(store, org, Some(id))?
    } else {
        Vec::new()
    };
    let version = CaseVersion {
        seq: l.case.seq,
        last_hash: l.case.last_hash.clone(),
        assess_lang,
        phase,
        access: (access.len(), access.iter().map(|a| a.id).max().unwrap_or(0)),
    };
    let mut values = vec![c.csrf.clone().unwrap_or_default()];
    values.extend(views.iter().map(|v| left_text(v, now, lang)));
    let role = c.user.role.as_str();
    let cache = &app.page_cache;
    let kept = cache.case(org, id, lang, role, &version);
    if let Some(f) = &kept
        && !cache.check
    {
        return Ok((l, f.clone(), values));
    }
    let assessment = match assess_lang {
        Some(al) => Some(app.core.assessment_of(l.clone(), al)?),
        None => None,
    };
    let labels = app.labels(wf, lang)?;
    let view = issued_view(
        case_view(
            app,
            &l,
            assessment.as_ref(),
            &labels,
            lang,
            c,
            None,
            now,
            Some(&cache.marks),
        ),
        &l,
        &access,
    );
    let frame = Arc::new(cache.marks.frame(&render_body(app, "case", view, lang)?));
    if let Some(f) = kept {
        checked(&f, &frame, "case page")?;
    }
    cache.keep_case(org, id, lang, role, version, frame.clone());
    Ok((l, frame, values))
}

/// The facts a submitted form changes: each fact the form showed (`present`), typed
/// like the API would, kept only when it differs from the case's value.
fn changed_facts(
    wf: &Workflow,
    case: &crate::case::Case,
    form: &[(String, String)],
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, name) in form {
        if k != "present" || !seen.insert(name.clone()) {
            continue;
        }
        let Some(def) = wf.facts.get(name) else {
            continue;
        };
        let key = format!("f.{name}");
        let values: Vec<&str> = form
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.trim())
            .collect();
        let one = values.first().copied().unwrap_or("");
        let raw = match def.kind {
            FactType::List if !def.choices.is_empty() => {
                let v: Vec<Value> = values
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| json!(s))
                    .collect();
                if v.is_empty() {
                    Value::Null
                } else {
                    Value::Array(v)
                }
            }
            FactType::List | FactType::Emails => {
                let v: Vec<Value> = one
                    .lines()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| json!(s))
                    .collect();
                if v.is_empty() {
                    Value::Null
                } else {
                    Value::Array(v)
                }
            }
            _ if one.is_empty() => Value::Null,
            FactType::Integer => one
                .parse::<i64>()
                .map(|i| json!(i))
                .unwrap_or_else(|_| json!(one)),
            FactType::Boolean => match one {
                "true" => json!(true),
                "false" => json!(false),
                other => json!(other),
            },
            _ => json!(one),
        };
        let current = case.facts.get(name);
        if raw.is_null() {
            if current.is_some() {
                out.push((name.clone(), Value::Null));
            }
            continue;
        }
        if let Ok(v) = def.coerce(&raw, wf.timezone) {
            let same_value = match (&v, current) {
                (FactValue::DateTime(a), Some(FactValue::DateTime(b))) => {
                    a.timestamp() / 60 == b.timestamp() / 60
                }
                (a, Some(b)) => a == b,
                (_, None) => false,
            };
            if same_value {
                continue;
            }
        }
        out.push((name.clone(), raw));
    }
    out
}

fn seq_of(form: &[(String, String)]) -> Option<i64> {
    field(form, "seq").and_then(|s| s.parse().ok())
}

/// Runs a change from a form: 303 back to the case on success, the case page with the
/// reason (and the status the API would give) on failure.
async fn apply_form(
    app: Arc<App>,
    c: Caller,
    lang: Lang,
    id: String,
    event: Option<String>,
    form: Vec<(String, String)>,
) -> Response {
    if let Err(r) = checked_form(&app, lang, &c, &form) {
        return r;
    }
    let current = match app.case(&c, id.clone()).await {
        Ok(l) => l,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let facts = if event.is_none() {
        let f = changed_facts(&current.workflow, &current.case, &form);
        if f.is_empty() {
            return Redirect::to(&format!("/cases/{}?ok=nothing_changed", encode(&id)))
                .into_response();
        }
        f
    } else {
        Vec::new()
    };
    let change = Change {
        facts,
        note: field(&form, "note")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from),
        at: field(&form, "at").map(String::from),
        expected_seq: seq_of(&form),
        reason: field(&form, "reason").map(String::from),
    };
    let ok = if event.is_some() { "event" } else { "facts" };
    match app.change(&c, id.clone(), event, change).await {
        Ok(_) => Redirect::to(&format!("/cases/{}?ok={ok}", encode(&id))).into_response(),
        Err(e) => refused(&app, &c, lang, id, current, e, &form).await,
    }
}

/// A refused form: the case page again, as it stands now, with the reason, the status
/// the API would give, and what was typed.
async fn refused(
    app: &Arc<App>,
    c: &Caller,
    lang: Lang,
    id: String,
    current: Arc<Loaded>,
    e: WebError,
    form: &[(String, String)],
) -> Response {
    let (l, assessment) = match app.case_and_assessment(c, id).await {
        Ok(found) => found,
        Err(_) => (current, None),
    };
    let shown = Shown {
        flash: None,
        error: Some(e.message),
        status: e.status,
    };
    render_case(
        app,
        &l,
        assessment.as_ref(),
        lang,
        c,
        shown,
        Some(form),
        &[],
    )
}

async fn set_facts(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    apply_form(app, c, lang, id, None, parse_form(&bytes)).await
}

async fn advance(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    let Some(event) = field(&form, "event").map(String::from) else {
        return error_page(&app, lang, &c, WebError::bad("event: which step?"));
    };
    apply_form(app, c, lang, id, Some(event), form).await
}

// ---- the risk assessment (issue 11) ----

/// A number of ENISA's method as the page shows it: 0.25, 1.5, 4 (a comma in French).
fn score_text(v: &Value, lang: Lang) -> String {
    let Some(n) = v.as_f64() else {
        return "—".into();
    };
    let s = n.to_string();
    match lang {
        Lang::Fr | Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A word of the page whose key ends with a value of the assessment's JSON.
fn word_of(lang: Lang, prefix: &str, v: &Value) -> String {
    match v.as_str() {
        Some(s) => word(lang, &format!("{prefix}{s}")),
        None => "—".into(),
    }
}

fn yes_no(lang: Lang, v: &Value) -> String {
    match v.as_bool() {
        Some(true) => word(lang, "yes"),
        Some(false) => word(lang, "no"),
        None => "—".into(),
    }
}

/// What the summary table shows of one assessment (the API's ASSESSMENT object): the
/// current one, or the one frozen in the recorded decision.
fn assessment_summary(a: &Value, lang: Lang) -> Value {
    json!({
        "risk": a["risk"],
        "risk_label": word_of(lang, "as_risk_", &a["risk"]),
        "score": score_text(&a["severity"]["score"], lang),
        "band": a["severity"]["band"],
        "band_label": word_of(lang, "as_band_", &a["severity"]["band"]),
        "edpb_label": word_of(lang, "as_edpb_", &a["edpb_severity"]),
        "notify_authority": yes_no(lang, &a["notify_authority"]),
        "inform_individuals": yes_no(lang, &a["inform_individuals"]),
        "rules_version": a["rules_version"],
    })
}

/// The assessment section of a case page, from the API's JSON of it (one shape for
/// both): the severity's components with their reasons, the recommendation for each
/// duty, exemptions, facts still missing, the decision recorded (beside the current
/// recommendation when it changed since), and the DPO's two forms.
fn assessment_view(
    a: &CaseAssessment,
    labels: &Labels,
    lang: Lang,
    c: &Caller,
    typed: Option<&[(String, String)]>,
) -> Value {
    let j = crate::app::json::case_assessment_json(a);
    let cur = &j["current"];
    let about = |k: &str| -> Vec<Value> {
        cur["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["about"] == k)
            .cloned()
            .collect()
    };
    let components: Vec<Value> = ["dpc", "ei", "cb"]
        .iter()
        .map(|k| {
            let comp = &cur["severity"][k];
            json!({
                "key": k,
                "label": word(lang, &format!("as_{k}")),
                "value": score_text(&comp["value"], lang),
                "why": comp["why"],
            })
        })
        .collect();
    let duties: Vec<Value> = ["document", "notify_authority", "inform_individuals"]
        .iter()
        .map(|k| {
            json!({
                "key": k,
                "label": word(lang, &format!("as_duty_{k}")),
                "yes": cur[k].as_bool().unwrap_or(true),
                "answer": yes_no(lang, &cur[k]),
                "reasons": about(k),
            })
        })
        .collect();
    let missing: Vec<Value> = cur["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|f| json!({"name": f, "label": labels.get(f)}))
        .collect();
    let tz = a.case.workflow.timezone;
    let recorded = a.recorded.as_ref().map(|r| {
        let rj = &j["recorded"];
        json!({
            "seq": r.seq,
            "at": time::short_in(r.at, tz),
            "actor": r.actor,
            "risk_label": word_of(lang, "as_risk_", &rj["risk"]),
            "rationale": r.rationale,
            "recommended_label": word_of(lang, "as_risk_", &rj["recommended_risk"]),
            "departs": r.departs(),
            "summary": r.assessment.as_ref().map(|f| assessment_summary(f, lang)),
        })
    });
    let typed_field = |k: &str| typed.and_then(|f| field(f, k)).map(str::to_string);
    let chosen = typed_field("risk");
    let options: Vec<Value> = [
        crate::assess::Risk::None,
        crate::assess::Risk::Risk,
        crate::assess::Risk::High,
    ]
    .iter()
    .map(|r| {
        json!({
            "value": r.as_str(),
            "label": word(lang, &format!("as_risk_{}", r.as_str())),
            "selected": chosen.as_deref() == Some(r.as_str()),
        })
    })
    .collect();
    json!({
        "lang": cur["lang"],
        "summary": assessment_summary(cur, lang),
        "components": components,
        "duties": duties,
        "risk_reasons": about("risk"),
        "exemptions": cur["exemptions"],
        "missing": missing,
        "recorded": recorded,
        "changed": j["changed"],
        "without_assessment": j["decided_without_assessment"],
        "accepted": a.is_accepted(),
        "can_decide": c.user.role.is_dpo(),
        "decide": {
            "options": options,
            "rationale": typed_field("rationale").unwrap_or_default(),
        },
    })
}

/// "Accept": the recommendation becomes the recorded decision (the DPO's).
async fn accept_assessment(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    if let Err(r) = checked_form(&app, lang, &c, &form) {
        return r;
    }
    match app.accept_assessment(&c, id.clone(), seq_of(&form)).await {
        Ok(_) => Redirect::to(&format!("/cases/{}?ok=assessed", encode(&id))).into_response(),
        Err(e) => refused_outright(&app, &c, lang, id, e, &form).await,
    }
}

/// "Decide otherwise": the DPO records a risk of their own with its rationale, through
/// the workflow's decision event; the application layer refuses a departure from the
/// recommendation without a rationale (nothing written).
async fn decide_otherwise(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    if let Err(r) = checked_form(&app, lang, &c, &form) {
        return r;
    }
    if !c.user.role.is_dpo() {
        let e = WebError::forbidden("record the risk decision");
        return refused_outright(&app, &c, lang, id, e, &form).await;
    }
    let current = match app.case(&c, id.clone()).await {
        Ok(l) => l,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let Some(rules) = app.workflows.rules(&current.workflow.id) else {
        let e = WebError::bad(format!(
            "workflow '{}' names no assessment rules",
            current.workflow.id
        ));
        return refused(&app, &c, lang, id, current, e, &form).await;
    };
    let risk = field(&form, "risk").map(str::trim).unwrap_or("");
    if risk.is_empty() {
        let e = WebError::bad(word(lang, "as_choose_risk"));
        return refused(&app, &c, lang, id, current, e, &form).await;
    }
    let mut facts = vec![(rules.records.risk.clone(), json!(risk))];
    // An empty rationale is no rationale: the application layer says when one is due.
    if let Some(why) = field(&form, "rationale")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        facts.push((rules.records.rationale.clone(), json!(why)));
    }
    let change = Change {
        facts,
        note: None,
        at: None,
        expected_seq: seq_of(&form),
        reason: None,
    };
    let event = Some(rules.records.event.clone());
    match app.change(&c, id.clone(), event, change).await {
        Ok(_) => Redirect::to(&format!("/cases/{}?ok=assessed", encode(&id))).into_response(),
        Err(e) => refused(&app, &c, lang, id, current, e, &form).await,
    }
}

/// A refused assessment form before the case was read: the case page with the reason
/// (or the error page when the case is not the caller's).
async fn refused_outright(
    app: &Arc<App>,
    c: &Caller,
    lang: Lang,
    id: String,
    e: WebError,
    form: &[(String, String)],
) -> Response {
    match app.case(c, id.clone()).await {
        Ok(l) => refused(app, c, lang, id, l, e, form).await,
        Err(not_found) => error_page(app, lang, c, not_found),
    }
}

/// The new-case form: what was typed (on refusal), else the organisation's workflow.
fn new_case_view(app: &App, form: &[(String, String)], default_wf: Option<&str>) -> Value {
    let chosen = field(form, "workflow").or(default_wf).unwrap_or("fr");
    let workflows: Vec<Value> = app
        .workflows
        .ids()
        .filter_map(|id| app.workflows.get(id))
        .map(|wf| json!({"id": wf.id, "title": wf.title, "selected": wf.id == chosen}))
        .collect();
    json!({
        "workflows": workflows,
        "form": {
            "title": field(form, "title").unwrap_or(""),
            "aware_at": field(form, "aware_at").unwrap_or(""),
            "id": field(form, "id").unwrap_or(""),
        },
    })
}

async fn new_case_page(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    if !c.user.role.is_dpo() {
        return error_page(&app, lang, &c, WebError::forbidden("open a case"));
    }
    let default_wf = app.profile(&c).await.ok().and_then(|p| p.workflow);
    let page = Page::of(lang, &c, word(lang, "new_case"), "/cases/new");
    page.render(
        &app,
        "new_case",
        new_case_view(&app, &[], default_wf.as_deref()),
        StatusCode::OK,
    )
}

async fn new_case(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    if let Err(r) = checked_form(&app, lang, &c, &form) {
        return r;
    }
    let get = |k: &str| field(&form, k).unwrap_or("").to_string();
    let id = Some(get("id")).filter(|s| !s.trim().is_empty());
    match app
        .open_case(
            &c,
            crate::app::OpenCase {
                workflow: Some(get("workflow")),
                title: get("title"),
                aware_at: get("aware_at"),
                id,
                facts: Vec::new(),
            },
        )
        .await
    {
        Ok(l) => Redirect::to(&format!("/cases/{}?ok=opened", encode(&l.case.id))).into_response(),
        Err(e) => Page {
            lang,
            caller: Some(&c),
            title: word(lang, "new_case"),
            here: "/cases/new".into(),
            flash: None,
            error: Some(e.message),
        }
        .render(&app, "new_case", new_case_view(&app, &form, None), e.status),
    }
}

#[derive(Deserialize)]
struct DraftQuery {
    lang: Option<String>,
    format: Option<String>,
}

async fn draft_page(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    addr: super::access::ClientAddr,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Response {
    let lang = lang_of(&headers);
    let drafted_at = time::now();
    let (d, _, draft_lang) = match app
        .draft_at(
            &c,
            id.clone(),
            crate::app::DraftRequest {
                document: document.clone(),
                lang: q.lang,
                format: Some("html".into()),
            },
            drafted_at,
        )
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    // Issue 13 part 4: every view of a draft is in the access log.
    let read = super::access::draft_read("view", &id, &document, "html", draft_lang.code());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    // The HTML draft is a whole document whose values are escaped; show its body.
    let html = d
        .text
        .split_once("<body>")
        .and_then(|(_, rest)| rest.rsplit_once("</body>"))
        .map(|(body, _)| body.to_string())
        .unwrap_or_default();
    // The document's name as the case page shows it, and the languages it is drafted in.
    let (label, draft_langs) = match app.case(&c, id.clone()).await {
        Ok(l) => {
            let own = app
                .labels(&l.workflow, lang)
                .ok()
                .map(|lb| lb.get(&document).to_string())
                .filter(|s| *s != document);
            let label = own
                .or_else(|| l.workflow.documents.get(&document).map(|d| d.title.clone()))
                .unwrap_or_else(|| document.clone());
            let langs: Vec<&str> = l.workflow.languages.iter().map(|l| l.code()).collect();
            (label, langs)
        }
        Err(e) => return error_page(&app, lang, &c, e),
    };
    Page::of(
        lang,
        &c,
        format!("{id} — {label}"),
        format!("/cases/{id}/drafts/{document}"),
    )
    .render(
        &app,
        "draft",
        json!({
            "case_id": id, "document": document, "label": label, "html": html,
            "missing": d.missing, "draft_lang": draft_lang.code(), "draft_langs": draft_langs,
            // Issue 13 part 4: "record as issued", the DPO's.
            "can_issue": c.user.role.is_dpo(), "csrf": c.csrf,
            "drafted_at": drafted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        }),
        StatusCode::OK,
    )
}

async fn draft_download(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    addr: super::access::ClientAddr,
    headers: HeaderMap,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Response {
    let lang = lang_of(&headers);
    if q.format.as_deref().map(str::trim) == Some("pdf") {
        // The same PDF as `vigie draft --format pdf` (the markdown draft on A4 pages).
        let req = crate::app::DraftRequest {
            document: document.clone(),
            lang: q.lang,
            format: None,
        };
        let org = c.user.org.clone();
        let case_id = id.clone();
        let pdf = app
            .read(move |app, store| {
                let now = crate::time::now();
                Ok(app.core.draft_pdf(store, &org, &case_id, &req, now)?)
            })
            .await;
        return match pdf {
            Ok(p) => {
                let code = p.lang.code();
                let read = super::access::draft_read("download", &id, &document, "pdf", code);
                if let Err(e) = app.log_read(&c, &addr, read).await {
                    return error_page(&app, lang, &c, e);
                }
                let name = format!("{id}-{document}.{code}.pdf");
                super::attachment_bytes("application/pdf", &name, p.bytes)
            }
            Err(e) => error_page(&app, lang, &c, e),
        };
    }
    match app
        .draft(
            &c,
            id.clone(),
            crate::app::DraftRequest {
                document: document.clone(),
                lang: q.lang,
                format: q.format,
            },
        )
        .await
    {
        Ok((d, format, l)) => {
            let (mime, ext) = match format {
                crate::render::Format::Md => ("text/markdown; charset=utf-8", "md"),
                crate::render::Format::Html => ("text/html; charset=utf-8", "html"),
                crate::render::Format::Txt => ("text/plain; charset=utf-8", "txt"),
                crate::render::Format::Json => ("application/json", "json"),
            };
            let name = format!("{id}-{document}.{}.{ext}", l.code());
            let read =
                super::access::draft_read("download", &id, &document, format.as_str(), l.code());
            if let Err(e) = app.log_read(&c, &addr, read).await {
                return error_page(&app, lang, &c, e);
            }
            super::attachment(mime, &name, d.text)
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

async fn register_page(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    addr: super::access::ClientAddr,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&headers);
    let read = super::access::register_read("view", "page".into());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    match app.register(&c).await {
        Ok(rows) => Page::of(lang, &c, word(lang, "register"), "/register").render(
            &app,
            "register",
            json!({"rows": rows, "inspection": true}),
            StatusCode::OK,
        ),
        Err(e) => error_page(&app, lang, &c, e),
    }
}

async fn register_csv(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    addr: super::access::ClientAddr,
    headers: HeaderMap,
) -> Response {
    let read = super::access::register_read("download", "csv".into());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang_of(&headers), &c, e);
    }
    match app.register(&c).await {
        Ok(rows) => super::api::csv_response(&c.user.org, crate::register::csv(&rows)),
        Err(e) => error_page(&app, lang_of(&headers), &c, e),
    }
}

// ---- the organisation's profile ----

/// The profile form: every field, with what was typed (on refusal) or what is stored.
fn org_view(
    lang: Lang,
    c: &Caller,
    p: &crate::org::Profile,
    form: Option<&[(String, String)]>,
) -> Value {
    let fields: Vec<Value> = crate::org::FIELDS
        .iter()
        .map(|f| {
            let value = match form {
                Some(form) => field(form, f).unwrap_or("").to_string(),
                None => p.get(f),
            };
            json!({"name": f, "label": word(lang, &format!("org_{f}")), "value": value})
        })
        .collect();
    json!({"fields": fields, "editable": c.user.role.is_dpo()})
}

async fn org_page(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    Query(q): Query<OkQuery>,
) -> Response {
    let lang = lang_of(&headers);
    match app.profile(&c).await {
        Ok(p) => {
            let mut page = Page::of(lang, &c, word(lang, "organisation"), "/organisation");
            page.flash =
                q.ok.filter(|k| k == "profile")
                    .map(|_| word(lang, "ok_profile"));
            page.render(
                &app,
                "organisation",
                org_view(lang, &c, &p, None),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

async fn org_save(
    State(app): State<Arc<App>>,
    PageCaller(c): PageCaller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let lang = lang_of(&headers);
    let form = parse_form(&bytes);
    if let Err(r) = checked_form(&app, lang, &c, &form) {
        return r;
    }
    let current = match app.profile(&c).await {
        Ok(p) => p,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    // Only the fields the form shows, and only those that changed.
    let changes: Vec<(String, String)> = crate::org::FIELDS
        .iter()
        .filter_map(|f| field(&form, f).map(|v| (f.to_string(), v.to_string())))
        .filter(|(f, v)| current.get(f) != v.trim())
        .collect();
    match app.set_profile(&c, changes).await {
        Ok(_) => Redirect::to("/organisation?ok=profile").into_response(),
        Err(e) => {
            let mut page = Page::of(lang, &c, word(lang, "organisation"), "/organisation");
            page.error = Some(e.message);
            page.render(
                &app,
                "organisation",
                org_view(lang, &c, &current, Some(&form)),
                e.status,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_pages_and_words_load() {
        let _ = registry();
        for lang in Lang::ALL {
            let fr: serde_json::Map<String, Value> = ui(Lang::Fr).as_object().unwrap().clone();
            let other = ui(lang).as_object().unwrap();
            for k in fr.keys() {
                assert!(
                    other.contains_key(k),
                    "{k} missing in ui.{}.yaml",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn only_local_paths_after_sign_in() {
        assert_eq!(local_target(Some("/cases/x?ok=1")), "/cases/x?ok=1");
        assert_eq!(local_target(Some("/café d")), "/caf%C3%A9%20d");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "x",
            "/\t/evil/",
            "/\n",
            "/\r",
            "/\u{7f}",
            "/\0",
            "/\u{85}",
        ] {
            assert_eq!(local_target(Some(bad)), "/", "{bad:?}");
        }
    }
}
