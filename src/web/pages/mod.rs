//! The server-rendered pages: sign-in, open cases with live countdowns, a case (facts
//! form, next steps, deadlines, timeline, drafts), a new case, the register. Handlebars
//! templates embedded from `templates/web/`; one small script for the countdowns.
//! Every form carries the session's CSRF token; every change redirects (303) on success
//! and shows the page again with the reason on failure.

use crate::case::{ClockStatus, ClockView};
use crate::render::Labels;
use crate::time::{self, Lang};
use crate::web::page::word;
use crate::web::page_cache::Frame;
use crate::web::{App, WebError};
use crate::workflow::Workflow;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

mod access;
mod ack;
mod assessment;
mod case;
mod case_post;
mod dashboard;
mod drafts;
mod fill;
mod login;
mod new_case;
mod organisation;
mod portfolio;
mod register;
mod users;
mod whatif;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/lang/{code}", get(login::set_lang))
        .route("/static/vigie.css", get(css))
        .route("/static/vigie.js", get(js))
        .route("/cases/new", get(new_case::new_case_page))
        .route("/cases", post(new_case::new_case))
        .route("/cases/{id}", get(case::case_page))
        .route("/cases/{id}/whatif", get(whatif::whatif_page))
        .route("/cases/{id}/facts", post(case_post::set_facts))
        .route("/cases/{id}/events", post(case_post::advance))
        .route(
            "/cases/{id}/assessment/accept",
            post(assessment::accept_assessment),
        )
        .route(
            "/cases/{id}/assessment/decide",
            post(assessment::decide_otherwise),
        )
        .route("/cases/{id}/drafts/{document}", get(drafts::draft_page))
        .route(
            "/cases/{id}/drafts/{document}/download",
            get(drafts::draft_download),
        )
        // --- the fill-assist view and "submitted" (issue 25 part 3) ---
        .route("/cases/{id}/fill/{document}", get(fill::fill_page))
        .route(
            "/cases/{id}/fill/{document}/submitted",
            post(fill::submitted).layer(axum::extract::DefaultBodyLimit::max(
                3 * crate::app::submission::ACK_MAX,
            )),
        )
        .route(
            "/cases/{id}/acknowledgements/{sha256}",
            get(ack::acknowledgement),
        )
        .route("/register", get(register::register_page))
        // One person, several organisations (issue 25 part 1).
        .route("/portfolio", get(portfolio::portfolio_page))
        .route("/portfolio/{org}/cases/{id}", get(portfolio::open_case))
        .route("/switch", post(portfolio::switch))
        .route("/register.csv", get(register::register_csv))
        .route("/access", get(access::access_page))
        .route("/access.csv", get(access::access_csv_download))
        .route(
            "/organisation",
            get(organisation::org_page).post(organisation::org_save),
        )
        // --- colleagues: users and invitations (issue 21 part 5) ---
        .route("/users", get(users::users_page))
        .route("/users/invitations", post(users::invite))
        .route("/users/invitations/{id}/revoke", post(users::revoke))
        .route("/users/role", post(users::change_role))
        .route("/users/disable", post(users::disable))
        .route("/users/enable", post(users::enable))
        .route(
            "/invitations/{token}",
            get(users::invitation_page).post(users::accept_invitation),
        )
}

// ---- the clocks, as the pages colour them ----

/// pending / soon (due within 24 h) / overdue / met / late / not_applicable.
pub(super) fn class_of(c: &ClockView, now: DateTime<Utc>) -> &'static str {
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

pub(super) fn span(d: Duration, lang: Lang) -> String {
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
pub(super) fn left_text(c: &ClockView, now: DateTime<Utc>, lang: Lang) -> String {
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
pub(super) fn clock_view(
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
pub(super) fn asset(mime: &'static str, body: &'static str) -> Response {
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

pub(super) async fn css() -> Response {
    asset("text/css; charset=utf-8", crate::web::page::CSS)
}

pub(super) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", crate::web::page::JS)
}

/// In check mode (`VIGIE_PAGE_CACHE_CHECK=1`): the kept frame must be the fresh render.
pub(super) fn checked(kept: &Frame, fresh: &Frame, page: &str) -> Result<(), WebError> {
    if kept == fresh {
        return Ok(());
    }
    let msg = format!(
        "page cache: the kept {page} differs from a fresh render (its version misses something the page shows)"
    );
    crate::web::log(&msg);
    Err(WebError::new(StatusCode::INTERNAL_SERVER_ERROR, msg))
}
