//! The organisation's access log (issue 21 part 6): who viewed or downloaded what, when
//! and from where, filtered, and as CSV. The DPO's only.

use crate::app::access::{AccessFilter, access_csv, parse_day};
use crate::web::WebError;
use crate::web::form::PageCtx;
use crate::web::page::{Page, error_page, word};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
pub(super) struct AccessQuery {
    case: Option<String>,
    who: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

impl AccessQuery {
    fn filter(&self) -> Result<AccessFilter, WebError> {
        let some = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let action = some(&self.action);
        if action
            .as_deref()
            .is_some_and(|a| a != "view" && a != "download")
        {
            return Err(WebError::bad("action: view or download"));
        }
        Ok(AccessFilter {
            case: some(&self.case),
            actor: some(&self.who),
            action,
            from: parse_day("from", self.from.as_deref())?,
            to: parse_day("to", self.to.as_deref())?,
        })
    }
}

pub(super) async fn access_page(ctx: PageCtx, Query(q): Query<AccessQuery>) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    if !c.user.role.is_dpo() {
        return error_page(&app, lang, &c, WebError::forbidden("read the access log"));
    }
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let org = c.user.org.clone();
    let read = app
        .read(move |app, store| {
            let (rows, zone) = app.core.access_view(store, &org, &filter)?;
            let cases = store.case_ids(&org, true)?;
            let wf = app.core.workflow_of_org(store, &org);
            Ok((rows, zone, cases, wf))
        })
        .await;
    let (rows, zone, cases, wf) = match read {
        Ok(r) => r,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    // Each entry in the page's language, with the labels of the organisation's workflow.
    let labels = wf.and_then(|wf| app.labels(&wf, lang).ok());
    let shown: Vec<serde_json::Value> = rows
        .iter()
        .map(|a| {
            json!({
                "at": crate::time::short_in(a.at, zone),
                "case": a.case_id,
                "actor": a.actor,
                "what": labels.as_ref().map(|l| crate::app::issued::access_summary_in(a, l))
                    .unwrap_or_else(|| crate::app::issued::access_summary(a)),
            })
        })
        .collect();
    let chosen = |v: &Option<String>| v.clone().unwrap_or_default();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("case", &chosen(&q.case))
        .append_pair("who", &chosen(&q.who))
        .append_pair("action", &chosen(&q.action))
        .append_pair("from", &chosen(&q.from))
        .append_pair("to", &chosen(&q.to))
        .finish();
    Page::of(lang, &c, word(lang, "access_title"), "/access").render(
        &app,
        "access",
        json!({
            "rows": shown,
            "count": rows.len(),
            "cases": cases.iter().map(|id| json!({"id": id, "selected": q.case.as_deref() == Some(id.as_str())})).collect::<Vec<_>>(),
            "case_none": q.case.as_deref() == Some("-"),
            "who": chosen(&q.who),
            "action_view": q.action.as_deref() == Some("view"),
            "action_download": q.action.as_deref() == Some("download"),
            "from": chosen(&q.from),
            "to": chosen(&q.to),
            "csv": format!("/access.csv?{query}"),
        }),
        StatusCode::OK,
    )
}

pub(super) async fn access_csv_download(ctx: PageCtx, Query(q): Query<AccessQuery>) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    if !c.user.role.is_dpo() {
        return error_page(&app, lang, &c, WebError::forbidden("read the access log"));
    }
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let org = c.user.org.clone();
    match app
        .read(move |app, store| Ok(app.core.access_view(store, &org, &filter)?))
        .await
    {
        Ok((rows, zone)) => {
            let name = format!(
                "access-{}-{}.csv",
                c.user.org,
                crate::time::now().format("%Y-%m-%d")
            );
            crate::web::attachment("text/csv; charset=utf-8", &name, access_csv(&rows, zone))
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}
