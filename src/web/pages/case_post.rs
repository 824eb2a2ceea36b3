//! The case page's forms: facts changed, an event advanced (with its confirmation), and
//! the page shown again with what was refused.

use super::case::{CaseShown, Shown, render_case, step_checks};
use crate::app::Change;
use crate::store::Loaded;
use crate::time;
use crate::web::WebError;
use crate::web::form::{Form, PageCtx, PageForm, PageResult, field, see_other};
use crate::web::page::encode;
use crate::workflow::{FactType, FactValue, Workflow};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// The facts a submitted form changes: each fact the form showed (`present`), typed
/// like the API would, kept only when it differs from the case's value.
pub(super) fn changed_facts(
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

pub(super) fn seq_of(form: &[(String, String)]) -> Option<i64> {
    field(form, "seq").and_then(|s| s.parse().ok())
}

/// Runs a change from a form: 303 back to the case on success, the case page with the
/// reason (and the status the API would give) on failure.
pub(super) async fn apply_form(
    ctx: PageCtx,
    id: String,
    event: Option<String>,
    form: Form,
) -> PageResult {
    let case = id.clone();
    let current = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await
        .map_err(ctx.fail())?;
    let facts = if event.is_none() {
        let f = changed_facts(&current.workflow, &current.case, form.pairs());
        if f.is_empty() {
            return Ok(see_other(&format!(
                "/cases/{}?ok=nothing_changed",
                encode(&id)
            )));
        }
        f
    } else {
        Vec::new()
    };
    let change = Change {
        event: event.clone(),
        facts,
        note: form
            .get("note")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from),
        at: form.get("at").map(String::from),
        expected_seq: seq_of(form.pairs()),
        reason: form
            .get("reason")
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(String::from),
        derive: event.is_none(),
    };
    let ok = if event.is_some() { "event" } else { "facts" };
    let changed = ctx
        .app
        .for_caller(&ctx.caller)
        .change(id.clone(), change)
        .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/cases/{}?ok={ok}", encode(&id)))),
        Err(e) => Ok(refused(&ctx, id, current, e, form.pairs()).await),
    }
}

/// A refused form: the case page again, as it stands now, with the reason, the status
/// the API would give, and what was typed.
pub(super) async fn refused(
    ctx: &PageCtx,
    id: String,
    current: Arc<Loaded>,
    e: WebError,
    form: &[(String, String)],
) -> Response {
    let shown = Shown {
        flash: None,
        error: Some(said_on_case(ctx, &current, &e)),
        status: e.status,
    };
    case_again(ctx, id, current, shown, form, None).await
}

/// An error shown on a case's page: a refused step with the workflow's labels in the
/// page's language, a generic error in its words, else the message.
pub(super) fn said_on_case(ctx: &PageCtx, l: &Loaded, e: &WebError) -> String {
    e.rejected
        .as_deref()
        .and_then(|r| {
            let labels = ctx.app.labels(&l.workflow, ctx.lang).ok()?;
            crate::app::refusal::refusal_in(&l.workflow, &l.case, r, &labels)
        })
        .unwrap_or_else(|| crate::web::page::said_in(ctx.lang, e))
}

/// The case page as it stands now, with `shown` above it, what was typed, and a
/// confirmation to give (a step that asks for one).
async fn case_again(
    ctx: &PageCtx,
    id: String,
    current: Arc<Loaded>,
    shown: Shown,
    form: &[(String, String)],
    confirming: Option<Value>,
) -> Response {
    // The case and, when its workflow has assessment rules, its assessment, read at once.
    let found = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| {
            let l = core.case(store, &me.org, &id)?;
            if core.workflows.rules(&l.workflow.id).is_none() {
                return Ok((l, None));
            }
            let a = core.assessment(store, &me.org, &id)?;
            Ok((a.case.clone(), Some(a)))
        })
        .await;
    let (l, assessment) = match found {
        Ok(found) => found,
        Err(_) => (current, None),
    };
    let checks = if ctx.caller.user.role.can_change() {
        let org = ctx.caller.user.org.clone();
        let loaded = l.clone();
        ctx.app
            .read(move |app, store| Ok(step_checks(app, store, &org, &loaded, time::now())))
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let case = CaseShown {
        l: &l,
        assessment: assessment.as_ref(),
        lang: ctx.lang,
        c: &ctx.caller,
        typed: Some(form),
        checks: &checks,
    };
    render_case(&ctx.app, &case, shown, &[], confirming)
}

pub(super) async fn set_facts(
    Path(id): Path<String>,
    PageForm { ctx, form }: PageForm,
) -> PageResult {
    apply_form(ctx, id, None, form).await
}

pub(super) async fn advance(
    Path(id): Path<String>,
    PageForm { ctx, form }: PageForm,
) -> PageResult {
    let Some(event) = form.get("event").map(String::from) else {
        return Err(ctx.error(WebError::bad("event: which step?")));
    };
    // Issue 21 part 4: a step that matters is recorded only once confirmed. Without the
    // confirmation nothing is written: a step that would be refused says why, one that
    // would be accepted shows what will be recorded, with the box to tick.
    let case = id.clone();
    let current = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await
        .map_err(ctx.fail())?;
    // A step that still needs answers says so in the page's language, and asks them
    // right there (the step's card, open); nothing is recorded.
    let missing =
        crate::app::intake::step_missing(&current.workflow, &current.case, &event, time::now());
    // A page loaded before someone else's change gets the conflict (409) first.
    let stale = seq_of(form.pairs()).is_some_and(|s| s != current.case.seq);
    if !missing.is_empty()
        && !stale
        && ctx.caller.user.role.can_change()
        && crate::app::json::allowed_events(&current.workflow, &current.case).contains(&event)
    {
        let labels = ctx.app.labels(&current.workflow, ctx.lang).ok();
        let name = |id: &str| {
            labels
                .as_ref()
                .map(|lb| lb.get(id).to_string())
                .unwrap_or_else(|| id.to_string())
        };
        let message = ctx
            .word("step_needs_answers")
            .replace("{step}", &name(&event))
            .replace(
                "{facts}",
                &missing
                    .iter()
                    .map(|f| name(f))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        return Ok(refused(&ctx, id, current, WebError::bad(message), form.pairs()).await);
    }
    if form.get("confirm") != Some("yes")
        && !stale
        && current.workflow.confirmed(&event)
        && current.workflow.events.contains_key(&event)
    {
        if !ctx.caller.user.role.can_change() {
            return Err(ctx.error(WebError::forbidden("record events")));
        }
        let org = ctx.caller.user.org.clone();
        let (l, ev) = (current.clone(), event.clone());
        let dry = ctx
            .app
            .read(move |app, store| Ok(app.core.would_accept(store, &org, &l, &ev, time::now())))
            .await
            .map_err(ctx.fail())?;
        if let Err(e) = dry {
            return Ok(refused(&ctx, id, current, WebError::from(e), form.pairs()).await);
        }
        let confirming = confirm_view(&ctx, &current, &event, &form);
        let shown = Shown {
            flash: None,
            error: None,
            status: StatusCode::OK,
        };
        return Ok(case_again(&ctx, id, current, shown, form.pairs(), Some(confirming)).await);
    }
    apply_form(ctx, id, Some(event), form).await
}

/// What a confirmation says: the step, the state it moves its track to, when and by
/// whom it is recorded, and that the log is not changed afterwards; the fields the
/// step's form carried, sent again with the confirmation.
fn confirm_view(ctx: &PageCtx, l: &Loaded, event: &str, form: &Form) -> Value {
    let wf = &l.workflow;
    let def = &wf.events[event];
    let labels = ctx.app.labels(wf, ctx.lang).ok();
    let label = |id: &str| {
        labels
            .as_ref()
            .map(|lb| lb.get(id).to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let from = l.case.tracks.get(&def.track).cloned().unwrap_or_default();
    let when = match form.get("at").map(str::trim).filter(|a| !a.is_empty()) {
        Some(at) => at.to_string(),
        None => time::short_in(time::now(), wf.timezone),
    };
    let keep: Vec<Value> = ["at", "reason", "note", "seq"]
        .iter()
        .filter_map(|k| form.get(k).map(|v| json!({"name": k, "value": v})))
        .collect();
    json!({
        "name": event,
        "label": label(event),
        "track": label(&def.track),
        "from": label(&from),
        "to": label(&def.to),
        "when": when,
        "actor": ctx.caller.user.email,
        "keep": keep,
    })
}
