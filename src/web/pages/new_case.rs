//! The new-case form.

use crate::web::form::{PageCtx, PageForm, PageResult, field, see_other};
use crate::web::page::encode;
use crate::web::{App, WebError};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// The new-case form: what was typed (on refusal), else the organisation's workflow.
pub(super) fn new_case_view(
    app: &App,
    form: &[(String, String)],
    default_wf: Option<&str>,
) -> Value {
    let chosen = field(form, "workflow").or(default_wf).unwrap_or("fr");
    let workflows: Vec<Value> = app
        .workflows
        .ids()
        .filter_map(|id| app.workflows.get(id))
        .map(|wf| json!({"id": wf.id, "title": wf.title, "selected": wf.id == chosen}))
        .collect();
    // When the DPO became aware: a date-time picker that starts at now, in the chosen
    // workflow's zone (the zone the typed value is read in, said beside it).
    let zone = app
        .workflows
        .get(chosen)
        .map(|w| w.timezone)
        .unwrap_or(chrono_tz::Europe::Paris);
    let now = crate::time::now().with_timezone(&zone);
    let aware_at = field(form, "aware_at")
        .map(str::to_string)
        .unwrap_or_else(|| now.format("%Y-%m-%dT%H:%M").to_string());
    json!({
        "workflows": workflows,
        "zone": format!("{} (UTC{})", zone.name(), now.format("%:z")),
        "form": {
            "title": field(form, "title").unwrap_or(""),
            "aware_at": aware_at,
            "id": field(form, "id").unwrap_or(""),
        },
    })
}

pub(super) async fn new_case_page(ctx: PageCtx) -> PageResult {
    if !ctx.caller.user.role.is_dpo() {
        return Err(ctx.error(WebError::forbidden("open a case")));
    }
    let default_wf = ctx
        .app
        .for_caller(&ctx.caller)
        .read(|core, store, me| core.profile(store, &me.org))
        .await
        .ok()
        .and_then(|p| p.workflow);
    let page = ctx.page(ctx.word("new_case"), "/cases/new");
    Ok(page.render(
        &ctx.app,
        "new_case",
        new_case_view(&ctx.app, &[], default_wf.as_deref()),
        StatusCode::OK,
    ))
}

pub(super) async fn new_case(PageForm { ctx, form }: PageForm) -> PageResult {
    let get = |k: &str| form.get(k).unwrap_or("").to_string();
    let id = Some(get("id")).filter(|s| !s.trim().is_empty());
    let req = crate::app::OpenCase {
        workflow: Some(get("workflow")),
        title: get("title"),
        aware_at: get("aware_at"),
        id,
        facts: Vec::new(),
    };
    let opened = match ctx.app.for_caller(&ctx.caller).dpo("open a case") {
        Ok(me) => {
            me.write(move |core, store, me| {
                core.open_case(store, &me.org, &me.actor, req, crate::time::now())
            })
            .await
        }
        Err(e) => Err(e),
    };
    match opened {
        Ok(l) => Ok(see_other(&format!(
            "/cases/{}?ok=opened",
            encode(&l.case.id)
        ))),
        Err(e) => {
            let mut page = ctx.page(ctx.word("new_case"), "/cases/new");
            page.error = Some(crate::web::page::said_in(ctx.lang, &e));
            let view = new_case_view(&ctx.app, form.pairs(), None);
            Ok(page.render(&ctx.app, "new_case", view, e.status))
        }
    }
}
