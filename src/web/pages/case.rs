//! A case page: deadlines, tracks, next steps, the facts form, the timeline, drafts; and
//! its two forms (facts, a step).

use super::assessment::assessment_view;
use super::{checked, class_of, clock_view, left_text};
use crate::app::Change;
use crate::app::assess::CaseAssessment;
use crate::case::{ClockStatus, clocks};
use crate::render::Labels;
use crate::store::Loaded;
use crate::time::{self, Lang};
use crate::web::form::{Form, PageCtx, PageForm, PageResult, field, see_other};
use crate::web::page::{Page, encode, error_page, render_body, word};
use crate::web::page_cache::{CSRF_SLOT, CaseVersion, Frame, Marks};
use crate::web::{App, Caller, WebError};
use crate::workflow::{FactType, FactValue, Workflow};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// How a fact is shown in the form: its input kind, value and options.
/// A stored fact as the form shows it.
pub(super) fn stored_text(wf: &Workflow, value: Option<&FactValue>) -> String {
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
pub(super) fn fact_view(
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
pub(super) fn case_view(
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
    let views = crate::app::regimes::shown_clocks(wf, case, clocks(wf, case, now));
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
                "what": crate::app::json::event_summary_in(wf, e, labels),
                "note": note,
            })
        })
        .collect();
    let drafts: Vec<Value> = crate::app::regimes::shown_documents(wf, case)
        .into_iter()
        .map(|name| {
            wf.documents
                .get_key_value(&name)
                .expect("a document of the workflow")
        })
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
        "not_applicable": crate::app::regimes::not_applicable(wf, case).iter().map(|r| word(lang, &format!("regime_{r}"))).collect::<Vec<_>>().join(", "),
        "assessment": assessment.map(|a| assessment_view(a, labels, lang, c, typed)),
    })
}

/// Issue 13 part 4: the documents recorded as issued (with a download of their exact
/// text), and the access log merged into the timeline (newest first, by the time each
/// was recorded), each entry marked `access`.
pub(super) fn issued_view(
    mut view: Value,
    l: &Loaded,
    access: &[crate::store::backend::AccessRow],
    labels: &Labels,
) -> Value {
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
                "document": labels.get(document), "lang": lang, "format": format,
                "sha256": sha256, "short": &sha256[..12.min(sha256.len())],
                // A PDF is recorded by its hash alone (its text is the markdown's).
                "stored": format != "pdf",
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
                    "what": crate::app::issued::access_summary_in(a, labels),
                }),
            )
        }));
        merged.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        view["timeline"] = merged.into_iter().map(|(_, v)| v).collect();
    }
    view
}

/// What a case page says above the case, and with which status.
pub(super) struct Shown {
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn render_case(
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
            &labels,
        ),
        status,
    )
}

#[derive(Deserialize)]
pub(super) struct OkQuery {
    pub ok: Option<String>,
}

pub(super) async fn case_page(
    ctx: PageCtx,
    Path(id): Path<String>,
    Query(q): Query<OkQuery>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
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
pub(super) fn case_body(
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
    let views = crate::app::regimes::shown_clocks(wf, &l.case, clocks(wf, &l.case, now));
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
        &labels,
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
    let current = ctx
        .app
        .case(&ctx.caller, id.clone())
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
    };
    let ok = if event.is_some() { "event" } else { "facts" };
    match ctx.app.change(&ctx.caller, id.clone(), event, change).await {
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
    let (l, assessment) = match ctx.app.case_and_assessment(&ctx.caller, id).await {
        Ok(found) => found,
        Err(_) => (current, None),
    };
    let shown = Shown {
        flash: None,
        error: Some(crate::web::page::said_in(ctx.lang, &e)),
        status: e.status,
    };
    render_case(
        &ctx.app,
        &l,
        assessment.as_ref(),
        ctx.lang,
        &ctx.caller,
        shown,
        Some(form),
        &[],
    )
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
    apply_form(ctx, id, Some(event), form).await
}
