//! The organisation's profile page.

use super::case::OkQuery;
use crate::time::Lang;
use crate::web::Caller;
use crate::web::form::{PageCtx, PageForm, PageResult, field, see_other};
use crate::web::page::word;
use axum::extract::Query;
use axum::http::StatusCode;
use serde_json::{Value, json};

// ---- the organisation's profile ----

/// The profile form: every field, with what was typed (on refusal) or what is stored.
pub(super) fn org_view(
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
            let options = crate::org::REGIME_FIELDS
                .contains(f)
                .then(|| crate::web::regimes::options(lang, &value));
            json!({"name": f, "label": word(lang, &format!("org_{f}")), "value": value, "options": options})
        })
        .collect();
    json!({"fields": fields, "editable": c.user.role.is_dpo()})
}

pub(super) async fn org_page(ctx: PageCtx, Query(q): Query<OkQuery>) -> PageResult {
    let p = ctx
        .app
        .for_caller(&ctx.caller)
        .read(|core, store, me| core.profile(store, &me.org))
        .await
        .map_err(ctx.fail())?;
    let mut page = ctx.page(ctx.word("organisation"), "/organisation");
    page.flash =
        q.ok.filter(|k| k == "profile")
            .map(|_| ctx.word("ok_profile"));
    let view = org_view(ctx.lang, &ctx.caller, &p, None);
    Ok(page.render(&ctx.app, "organisation", view, StatusCode::OK))
}

pub(super) async fn org_save(PageForm { ctx, form }: PageForm) -> PageResult {
    let current = ctx
        .app
        .for_caller(&ctx.caller)
        .read(|core, store, me| core.profile(store, &me.org))
        .await
        .map_err(ctx.fail())?;
    // Only the fields the form shows, and only those that changed.
    let changes: Vec<(String, String)> = crate::org::FIELDS
        .iter()
        .filter_map(|f| form.get(f).map(|v| (f.to_string(), v.to_string())))
        .filter(|(f, v)| current.get(f) != v.trim())
        .collect();
    let saved = match ctx
        .app
        .for_caller(&ctx.caller)
        .dpo("change the organisation's profile")
    {
        Ok(me) => {
            me.write(move |core, store, me| core.set_profile(store, &me.org, &changes))
                .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(see_other("/organisation?ok=profile")),
        Err(e) => {
            let mut page = ctx.page(ctx.word("organisation"), "/organisation");
            page.error = Some(crate::web::page::said_in(ctx.lang, &e));
            let view = org_view(ctx.lang, &ctx.caller, &current, Some(form.pairs()));
            Ok(page.render(&ctx.app, "organisation", view, e.status))
        }
    }
}
