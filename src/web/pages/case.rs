//! A case page: deadlines, tracks, next steps, the facts form, the timeline, drafts. Its
//! two forms (facts, a step) are in `case_post`.

use super::assessment::assessment_view;
use super::{checked, class_of, clock_view, left_text};
use crate::app::assess::CaseAssessment;
use crate::case::{ClockStatus, clocks};
use crate::render::Labels;
use crate::store::Loaded;
use crate::time::{self, Lang};
use crate::web::form::{PageCtx, field};
use crate::web::page::{Page, error_page, render_body, word};
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

type Framed = (Arc<Loaded>, Arc<Frame>, Vec<String>); // a case, its frame, what it shows

/// A stored fact in words, for the read-only summary.
fn shown_value(wf: &Workflow, labels: &Labels, lang: Lang, value: Option<&FactValue>) -> String {
    match value {
        None => String::new(),
        Some(FactValue::DateTime(d)) => time::short_in(*d, wf.timezone),
        Some(FactValue::Boolean(b)) => word(lang, if *b { "yes" } else { "no" }),
        Some(FactValue::Text(s)) => labels.get(s).to_string(),
        Some(FactValue::List(v)) => v
            .iter()
            .map(|s| labels.get(s).to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Some(v @ FactValue::Integer(_)) => stored_text(wf, Some(v)),
    }
}

/// Whether each step offered would be accepted now: `Err` holds the reason it would
/// be refused (the application layer's dry run, the same decision as recording it).
pub(super) type StepChecks = Vec<(String, Result<(), String>)>;

/// The dry run of every step the case page offers.
pub(super) fn step_checks(
    app: &App,
    store: &mut crate::store::Store,
    org: &str,
    l: &Loaded,
    now: DateTime<Utc>,
) -> StepChecks {
    crate::app::json::allowed_events(&l.workflow, &l.case)
        .into_iter()
        .map(|e| {
            let r = app
                .core
                .would_accept(store, org, l, &e, now)
                .map_err(|err| err.to_string());
            (e, r)
        })
        .collect()
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
    let text = match (typed, value) {
        (Some(t), _) => t.join("\n"),
        // A date-time picker takes the local time, in the workflow's zone.
        (None, Some(FactValue::DateTime(d))) => d
            .with_timezone(&wf.timezone)
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
        (None, v) => stored_text(wf, v),
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
        FactType::DateTime => ("datetime", vec![], String::new()),
        FactType::Text if text.chars().count() > 60 || text.contains('\n') => {
            ("textarea", vec![], String::new())
        }
        FactType::Text => ("text", vec![], String::new()),
    };
    let needs = crate::app::intake::needs(wf, name);
    let zone = match def.kind {
        FactType::DateTime => {
            let at = match value {
                Some(FactValue::DateTime(d)) => *d,
                _ => time::now(),
            };
            format!(
                "{} (UTC{})",
                wf.timezone.name(),
                at.with_timezone(&wf.timezone).format("%:z")
            )
        }
        _ => String::new(),
    };
    json!({
        "name": name,
        "label": labels.get(name),
        "help": labels.find(&format!("help.{name}")),
        "needed_form": needs.form,
        "needed_assessment": needs.assessment,
        "answered": crate::app::intake::answered(value),
        "shown": shown_value(wf, labels, lang, value),
        "is_datetime": input == "datetime",
        "zone": zone,
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

/// The case a page shows and to whom: what its view and its rendering share.
#[derive(Clone, Copy)]
pub(super) struct CaseShown<'a> {
    pub l: &'a Loaded,
    pub assessment: Option<&'a CaseAssessment>,
    pub lang: Lang,
    pub c: &'a Caller,
    /// What was typed in a refused form, shown again.
    pub typed: Option<&'a [(String, String)]>,
    pub checks: &'a StepChecks,
}

pub(super) fn case_view(
    app: &App,
    shown: &CaseShown,
    labels: &Labels,
    now: DateTime<Utc>,
    marks: Option<&Marks>,
) -> Value {
    let CaseShown {
        l,
        assessment,
        lang,
        c,
        typed,
        checks,
    } = *shown;
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
    let typed_of = |name: &str| {
        typed
            .filter(|form| form.iter().any(|(k, v)| k == "present" && v == name))
            .map(|form| {
                let key = format!("f.{name}");
                form.iter()
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
    };
    let fact = |name: &str| fact_view(wf, labels, name, lang, case.facts.get(name), typed_of(name));
    let submitted = typed.and_then(|form| field(form, "section"));
    let events: Vec<Value> = crate::app::json::allowed_events(wf, case)
        .into_iter()
        // The risk decision is taken in the assessment's own section.
        .filter(|name| assessment.is_none() || !app.is_decision(&wf.id, name))
        .map(|name| {
            let missing = crate::app::intake::step_missing(wf, case, &name, now);
            let check = checks.iter().find(|(e, _)| *e == name).map(|(_, r)| r);
            let ready = matches!(check, Some(Ok(())));
            let reason = match check {
                Some(Err(r)) => r.clone(),
                _ => String::new(),
            };
            json!({
                "name": name,
                "label": labels.get(&name),
                "ready": ready,
                "blocked": !ready && missing.is_empty(),
                "reason": reason,
                "confirm": wf.confirmed(&name),
                "open": typed.and_then(|f| field(f, "event")) == Some(name.as_str())
                    || submitted == Some(format!("step-{name}").as_str()),
                "missing": missing.iter().map(|f| {
                    let mut v = fact(f);
                    v["input_id"] = json!(format!("s-{name}-{f}"));
                    v
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    // The intake: the workflow's sections, each saved on its own; open by default the
    // first with a needed answer missing (or the one just submitted and refused).
    let mut opened = false;
    let sections: Vec<Value> = crate::app::intake::sections(wf, case)
        .into_iter()
        .map(|sec| {
            let facts: Vec<Value> = sec.facts.iter().map(|f| {
                let mut v = fact(f);
                v["input_id"] = json!(format!("f-{f}"));
                v
            }).collect();
            let missing = facts
                .iter()
                .filter(|f| {
                    (f["needed_form"] == json!(true) || f["needed_assessment"] == json!(true))
                        && f["answered"] == json!(false)
                })
                .count();
            let open = match submitted {
                Some(s) => s == sec.id,
                None => !opened && missing > 0,
            };
            opened |= open;
            let label = match labels.find(&format!("section.{}", sec.id)) {
                Some(l) => l.to_string(),
                None => format!("{} {}", word(lang, "section"), sec.id.trim_start_matches("part")),
            };
            json!({
                "id": sec.id,
                "label": label,
                "open": open,
                "missing": missing,
                "facts": facts,
                "answered": facts.iter().filter(|f| f["answered"] == json!(true)).cloned().collect::<Vec<_>>(),
            })
        })
        .collect();
    let form_missing = crate::app::intake::form_missing(wf, case);
    let authority = labels
        .meta(wf)
        .get("authority")
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    // What matters now: the nearest open deadline, and the first step that is ready.
    let next_clock = views
        .iter()
        .filter(|v| matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue))
        .filter_map(|v| v.due_at.map(|d| (d, v)))
        .min_by_key(|(d, _)| *d)
        .map(|(d, v)| {
            let label = match labels.get(&v.id) {
                l if l == v.id => v.title.clone(),
                l => l.to_string(),
            };
            json!({"label": label, "due": time::short_in(d, wf.timezone), "overdue": d < now})
        });
    let next_step = events
        .iter()
        .find(|e| e["ready"] == json!(true))
        .or_else(|| events.first())
        .map(|e| json!({"name": e["name"], "label": e["label"], "ready": e["ready"]}));
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
                "ack": super::ack::link(&case.id, e),
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
            json!({"name": name, "label": label, "fill": crate::app::fill::has_form(&d.template)})
        })
        .collect();
    json!({
        "case": {
            "id": case.id, "title": case.title, "workflow": wf.id, "workflow_version": wf.version,
            "timezone": wf.timezone.name(), "closed": case.is_closed(wf), "seq": case.seq,
        },
        "csrf": csrf,
        "can_change": c.user.role.can_change(),
        "clocks": clock_rows,
        "tracks": case.tracks.iter().map(|(t, s)| json!({"track": t, "label": labels.get(t), "state": labels.get(s)})).collect::<Vec<_>>(),
        "events": events,
        "next_clock": next_clock,
        "next_step": next_step,
        "sections": sections,
        "has_form": wf.intake.as_ref().is_some_and(|i| i.form.is_some()),
        "form_missing": form_missing.len(),
        "form_missing_labels": form_missing.iter().map(|f| labels.get(f)).collect::<Vec<_>>().join(", "),
        "needed_form_word": word(lang, "needed_form").replace("{authority}", &authority),
        "cnil_missing_word": word(lang, "form_missing").replace("{authority}", &authority),
        "timeline": timeline,
        "drafts": drafts,
        "not_applicable": crate::app::regimes::not_applicable(wf, case).iter().map(|r| word(lang, &format!("regime_{r}"))).collect::<Vec<_>>().join(", "),
        "assessment": assessment.map(|a| assessment_view(a, labels, lang, c, typed)),
        // Issue 26 part 3: the case under the proposal of its workflow, if one is shipped.
        "whatif": app.workflows.all().find(|w| w.id == wf.id && w.is_proposal()).map(|p| json!({"href": format!("/cases/{}/whatif?workflow={}", crate::web::page::encode(&case.id), crate::web::page::encode(&p.key())), "label": labels.get("whatif.link")})),
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
    pub(super) flash: Option<String>,
    pub(super) error: Option<String>,
    pub(super) status: StatusCode,
}

pub(super) fn render_case(
    app: &App,
    case: &CaseShown,
    shown: Shown,
    access: &[crate::store::backend::AccessRow],
    confirming: Option<Value>,
) -> Response {
    let CaseShown { l, lang, c, .. } = *case;
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
        {
            let mut view = issued_view(
                case_view(app, case, &labels, time::now(), None),
                l,
                access,
                &labels,
            );
            if let Some(conf) = confirming {
                view["confirming"] = conf;
            }
            view
        },
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
) -> Result<Framed, WebError> {
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
    let checks = if c.user.role.can_change() {
        step_checks(app, store, org, &l, now)
    } else {
        Vec::new()
    };
    let view = issued_view(
        case_view(
            app,
            &CaseShown {
                l: &l,
                assessment: assessment.as_ref(),
                lang,
                c,
                typed: None,
                checks: &checks,
            },
            &labels,
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
