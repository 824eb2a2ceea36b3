//! One person, several organisations (issue 25 part 1): the organisation switcher and
//! the portfolio.
//!
//! - `POST /switch` moves the session to another organisation of the person's (an
//!   enabled membership; anything else is refused and changes nothing), then shows that
//!   organisation's dashboard. Every other page stays scoped to the one organisation
//!   the session acts in.
//! - `GET /portfolio` lists the running deadlines of every organisation where the person
//!   has an enabled membership, nearest first, each row with its organisation's name:
//!   one query over the case heads the person may see (`Store::portfolio`), a page of
//!   [`PORTFOLIO_PAGE`] rows at a time. Rows of an organisation where the person is a
//!   viewer are shown without a link to act on them.
//! - `GET /portfolio/{org}/cases/{id}` switches to `org` and opens the case there.

use super::span;
use crate::time::{self, Lang};
use crate::web::auth::local_target;
use crate::web::form::{PageCtx, PageForm, PageResult, see_other};
use crate::web::page::{encode, word};
use crate::web::{App, WebError};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// Rows per page of the portfolio, nearest first.
pub const PORTFOLIO_PAGE: usize = 50;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<String>,
}

/// The person's running deadlines across their organisations.
pub(super) async fn portfolio_page(ctx: PageCtx, Query(q): Query<PageQuery>) -> PageResult {
    let page = q
        .page
        .and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let (app, lang, user_id) = (ctx.app.clone(), ctx.lang, ctx.caller.user.id);
    let view = app
        .read(move |app, s| {
            let (rows, total) =
                s.portfolio(user_id, PORTFOLIO_PAGE, (page - 1) * PORTFOLIO_PAGE)?;
            Ok(view(app, rows, total, page, lang))
        })
        .await
        .map_err(ctx.fail())?;
    let here = match page {
        1 => "/portfolio".to_string(),
        p => format!("/portfolio?page={p}"),
    };
    Ok(ctx
        .page(word(lang, "portfolio"), here)
        .render(&app, "portfolio", view, StatusCode::OK))
}

fn view(
    app: &App,
    rows: Vec<crate::store::backend::PortfolioRow>,
    total: usize,
    page: usize,
    lang: Lang,
) -> Value {
    let now = time::now();
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let zone = app
                .core
                .workflows
                .get(&r.workflow)
                .map(|w| w.timezone)
                .unwrap_or(chrono_tz::UTC);
            let left = if r.next_due <= now {
                format!(
                    "{} {}",
                    word(lang, "overdue_by"),
                    span(now - r.next_due, lang)
                )
            } else {
                format!("{} {}", span(r.next_due - now, lang), word(lang, "left"))
            };
            let class = if r.next_due <= now {
                "overdue"
            } else if r.next_due - now < chrono::Duration::hours(24) {
                "soon"
            } else {
                "pending"
            };
            json!({
                "org": r.org,
                "org_name": r.org_name,
                "role": word(lang, &format!("role_{}", r.role.as_str())),
                "id": r.case_id,
                "title": r.title,
                "due": time::short_in(r.next_due, zone),
                "due_utc": r.next_due.to_rfc3339(),
                "left": left,
                "class": class,
                // A viewer reads the case in its own organisation, but the portfolio
                // offers nothing to act on.
                "open": (r.role != crate::store::Role::Viewer)
                    .then(|| format!("/portfolio/{}/cases/{}", encode(&r.org), encode(&r.case_id))),
            })
        })
        .collect();
    let pages = total.div_ceil(PORTFOLIO_PAGE).max(1);
    json!({
        "rows": rows,
        "total": total,
        "paging": (pages > 1).then(|| json!({
            "page": page, "pages": pages,
            "prev": (page > 1).then(|| page - 1),
            "next": (page < pages).then(|| page + 1),
        })),
    })
}

/// The header's switcher: the session acts in `org` from now on.
pub(super) async fn switch(PageForm { ctx, form }: PageForm) -> PageResult {
    let org = form.get("org").unwrap_or("").trim().to_string();
    let next = local_target(form.get("next"));
    switch_to(&ctx, org).await?;
    Ok(see_other(&next))
}

/// Opens a case of the portfolio in its organisation.
pub(super) async fn open_case(ctx: PageCtx, Path((org, id)): Path<(String, String)>) -> PageResult {
    switch_to(&ctx, org).await?;
    Ok(see_other(&format!("/cases/{}", encode(&id))))
}

/// Moves the caller's session to `org`; 403 when it is not one of their enabled
/// memberships (nothing changes).
async fn switch_to(ctx: &PageCtx, org: String) -> Result<(), Response> {
    let Some(secret) = ctx.caller.session.clone() else {
        return Err(ctx.error(not_member(ctx.lang)).0);
    };
    let app: Arc<App> = ctx.app.clone();
    match app
        .write(move |_, s| Ok(s.switch_session(&secret, &org)?))
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(ctx.error(not_member(ctx.lang)).0),
        Err(e) => Err(ctx.error(e).0),
    }
}

fn not_member(lang: Lang) -> WebError {
    WebError::new(StatusCode::FORBIDDEN, word(lang, "switch_refused"))
}
