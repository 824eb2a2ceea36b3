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
use crate::web::page::{encode, render_body, word};
use crate::web::page_cache::Frame;
use crate::web::{App, WebError};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Rows per page of the portfolio, nearest first.
pub const PORTFOLIO_PAGE: usize = 50;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<String>,
}

/// The person's running deadlines across their organisations.
///
/// The body is kept as a [`Frame`] (as the dashboard's is, `page_cache`): its version is
/// the whole view but the countdown texts, which go in slots, so handlebars runs only
/// when a row, the count, the page, a row's status class or the language changes.
pub(super) async fn portfolio_page(ctx: PageCtx, Query(q): Query<PageQuery>) -> PageResult {
    let page = q
        .page
        .and_then(|p| p.trim().parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let (app, lang, user_id) = (ctx.app.clone(), ctx.lang, ctx.caller.user.id);
    let (view, values) = app
        .read(move |app, s| {
            let (rows, total) =
                s.portfolio(user_id, PORTFOLIO_PAGE, (page - 1) * PORTFOLIO_PAGE)?;
            Ok(view(app, rows, total, page, lang))
        })
        .await
        .map_err(ctx.fail())?;
    let frame = body(&app, view, lang).map_err(ctx.fail())?;
    let here = match page {
        1 => "/portfolio".to_string(),
        p => format!("/portfolio?page={p}"),
    };
    Ok(ctx.page(word(lang, "portfolio"), here).finish_with(
        &app,
        frame.text_len(),
        |out| frame.fill_into(out, &values),
        StatusCode::OK,
    ))
}

/// Kept bodies, by language and the view (serialized, slot markers included: the
/// markers are drawn per server, so two servers in one process never share a frame).
type Kept = Mutex<HashMap<(Lang, String), Arc<Frame>>>;
static KEPT: OnceLock<Kept> = OnceLock::new();
/// At most this many bodies are kept (about 25 KB each); when full, it starts again
/// empty.
const MAX_KEPT: usize = 256;

/// The portfolio's body for `view`: the kept frame when one was rendered from the same
/// view, else rendered and kept. With `VIGIE_PAGE_CACHE_CHECK=1` every kept frame is
/// compared with a fresh render.
fn body(app: &App, view: Value, lang: Lang) -> Result<Arc<Frame>, WebError> {
    let kept = KEPT.get_or_init(Default::default);
    let key = (lang, view.to_string());
    let found = kept.lock().expect("portfolio frames").get(&key).cloned();
    if let Some(f) = &found
        && !app.page_cache.check
    {
        return Ok(f.clone());
    }
    let fresh = Arc::new(
        app.page_cache
            .marks
            .frame(&render_body(app, "portfolio", view, lang)?),
    );
    if let Some(f) = found {
        super::checked(&f, &fresh, "portfolio")?;
    }
    let mut m = kept.lock().expect("portfolio frames");
    if m.len() >= MAX_KEPT {
        m.clear();
    }
    m.insert(key, fresh.clone());
    Ok(fresh)
}

/// The view of a page of the portfolio, with a slot marker in place of each row's
/// countdown, and the slots' values (slot 0, the CSRF token's by convention, is unused:
/// the body has no form).
fn view(
    app: &App,
    rows: Vec<crate::store::backend::PortfolioRow>,
    total: usize,
    page: usize,
    lang: Lang,
) -> (Value, Vec<String>) {
    use crate::store::Role;
    let now = time::now();
    let marks = &app.page_cache.marks;
    let mut values = Vec::with_capacity(rows.len() + 1);
    values.push(String::new());
    let (overdue_by, left_word) = (word(lang, "overdue_by"), word(lang, "left"));
    let role_word = |r: Role| word(lang, &format!("role_{}", r.as_str()));
    let roles = [Role::Dpo, Role::Contributor, Role::Viewer].map(|r| (r, role_word(r)));
    let rows: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let zone = app
                .core
                .workflows
                .get(&r.workflow)
                .map(|w| w.timezone)
                .unwrap_or(chrono_tz::UTC);
            values.push(if r.next_due <= now {
                format!("{overdue_by} {}", span(now - r.next_due, lang))
            } else {
                format!("{} {left_word}", span(r.next_due - now, lang))
            });
            let class = if r.next_due <= now {
                "overdue"
            } else if r.next_due - now < chrono::Duration::hours(24) {
                "soon"
            } else {
                "pending"
            };
            let role = roles
                .iter()
                .find(|(k, _)| *k == r.role)
                .map(|(_, w)| w.clone())
                .unwrap_or_default();
            // A viewer reads the case in its own organisation, but the portfolio offers
            // nothing to act on.
            let open = (r.role != Role::Viewer)
                .then(|| format!("/portfolio/{}/cases/{}", encode(&r.org), encode(&r.case_id)));
            let mut row = Map::with_capacity(10);
            row.insert("due".into(), time::short_in(r.next_due, zone).into());
            row.insert("due_utc".into(), r.next_due.to_rfc3339().into());
            row.insert("org".into(), r.org.into());
            row.insert("org_name".into(), r.org_name.into());
            row.insert("role".into(), role.into());
            row.insert("id".into(), r.case_id.into());
            row.insert("title".into(), r.title.into());
            row.insert("left".into(), marks.slot(values.len() - 1).into());
            row.insert("class".into(), class.into());
            row.insert("open".into(), open.map_or(Value::Null, Value::from));
            Value::Object(row)
        })
        .collect();
    let pages = total.div_ceil(PORTFOLIO_PAGE).max(1);
    let mut v = json!({
        "total": total,
        "paging": (pages > 1).then(|| json!({
            "page": page, "pages": pages,
            "prev": (page > 1).then(|| page - 1),
            "next": (page < pages).then(|| page + 1),
        })),
    });
    // Moved in, not copied by `json!`.
    v["rows"] = Value::Array(rows);
    (v, values)
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
