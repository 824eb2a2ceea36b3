//! The fill-assist page (issue 25 part 3): an authority's form in its own order, screen
//! by screen, each answer with a copy button (vigie.js: the clipboard, else the text
//! selected), the marks, and the form that records the step as submitted, with the
//! reference, the instant, the channel and the acknowledgement file (multipart), behind
//! the confirmation every deadline-meeting step has.

use crate::app::fill::{Fill, marks};
use crate::app::submission::{AckFile, CHANNELS, SubmissionRequest};
use crate::time;
use crate::web::WebError;
use crate::web::form::{Form, PageCtx, PageResult, see_other};
use crate::web::page::{Page, encode};
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub(super) struct FillQuery {
    lang: Option<String>,
}

/// What the page shows above its form: a refusal, or a submission to confirm.
#[derive(Default)]
struct Above {
    error: Option<String>,
    confirming: Option<Value>,
    typed: Vec<(String, String)>,
    status: Option<StatusCode>,
}

pub(super) async fn fill_page(
    ctx: PageCtx,
    addr: crate::web::access::ClientAddr,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<FillQuery>,
) -> PageResult {
    // Another organisation's case is a 404 before anything is logged.
    let case = id.clone();
    ctx.app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| core.case(store, &me.org, &case).map(|_| ()))
        .await
        .map_err(ctx.fail())?;
    let read = crate::web::access::draft_read("view", &id, &document, "fill", ctx.lang.code());
    ctx.app
        .log_read(&ctx.caller, &addr, read)
        .await
        .map_err(ctx.fail())?;
    show(&ctx, id, document, q.lang, Above::default()).await
}

/// One answer as the page shows it, with its marks and a DOM id of its own.
fn field_view(f: &crate::app::fill::Field, n: usize, labels: &crate::render::Labels) -> Value {
    let rows = f
        .value
        .as_deref()
        .map(|v| (v.len() / 70 + v.lines().count()).clamp(1, 8))
        .unwrap_or(1);
    let marks: Vec<Value> = marks(f, labels)
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let class = match (i, f.later, f.value.is_some()) {
                (0, _, _) => f.need.as_str(),
                (_, true, _) => "later",
                _ => "unknown",
            };
            json!({"class": class, "text": text})
        })
        .collect();
    json!({
        "key": f.key, "label": f.label, "value": f.value, "rows": rows,
        "dom": format!("fill-{n}"), "marks": marks, "need": f.need.as_str(), "later": f.later,
    })
}

async fn show(
    ctx: &PageCtx,
    id: String,
    document: String,
    lang: Option<String>,
    above: Above,
) -> PageResult {
    let req = crate::app::DraftRequest {
        document: document.clone(),
        lang,
        format: None,
    };
    let case = id.clone();
    let now = time::now();
    let found = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| {
            let fill = core.fill(store, &me.org, &case, &req, now)?;
            let labels = core.fill_labels(store, &me.org, &fill)?;
            let l = core.case(store, &me.org, &case)?;
            Ok((fill, labels, l))
        })
        .await
        .map_err(ctx.fail())?;
    let (fill, labels, l): (Fill, _, _) = found;
    let wf = &l.workflow;
    let page_labels = ctx.app.labels(wf, ctx.lang).ok();
    let word = |k: &str| {
        page_labels
            .as_ref()
            .map(|lb| lb.get(k).to_string())
            .unwrap_or_else(|| k.to_string())
    };
    let mut n = 0;
    let screens: Vec<Value> = fill
        .screens
        .iter()
        .map(|s| {
            let fields: Vec<Value> = s
                .fields
                .iter()
                .map(|f| {
                    n += 1;
                    field_view(f, n, &labels)
                })
                .collect();
            json!({"key": s.key, "title": s.title, "fields": fields})
        })
        .collect();
    let typed = |k: &str| {
        above
            .typed
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let chosen = typed("event").or(fill.submit_event.clone());
    let events: Vec<Value> = fill
        .submit_events
        .iter()
        .map(|e| json!({"id": e, "label": word(e), "selected": chosen.as_deref() == Some(e.as_str())}))
        .collect();
    let channel = typed("channel").unwrap_or_else(|| "teleservice".into());
    let channels: Vec<Value> = CHANNELS
        .iter()
        .map(|c| {
            json!({"id": c, "label": word(&format!("submission_channel_{c}")), "selected": *c == channel})
        })
        .collect();
    let local_now = now
        .with_timezone(&wf.timezone)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let zone = format!(
        "{} ({})",
        wf.timezone.name(),
        now.with_timezone(&wf.timezone).format("%:z")
    );
    let title = format!("{id} — {}", fill.form_title);
    let mut page = Page::of(
        ctx.lang,
        &ctx.caller,
        title,
        format!("/cases/{id}/fill/{document}"),
    );
    page.error = above.error;
    Ok(page.render(
        &ctx.app,
        "fill",
        json!({
            "case_id": id, "document": document, "form": fill.form,
            "form_title": fill.form_title, "screens": screens,
            "can_submit": ctx.caller.user.role.can_change() && !events.is_empty(),
            "events": events, "channels": channels,
            "reference": typed("reference").or(fill.reference.clone()),
            "at": typed("at").unwrap_or(local_now), "zone": zone,
            "seq": l.case.seq, "confirming": above.confirming,
        }),
        above.status.unwrap_or(StatusCode::OK),
    ))
}

/// One part of a multipart/form-data body: (name, file name, bytes).
type Part = (String, Option<String>, Vec<u8>);

/// A multipart/form-data body's parts, read by `multer` (the parser axum's own multipart
/// extractor uses). None: not multipart, or not readable.
async fn multipart(content_type: &str, body: &[u8]) -> Option<Vec<Part>> {
    let boundary = multer::parse_boundary(content_type).ok()?;
    let reader = std::io::Cursor::new(body.to_vec());
    let mut form = multer::Multipart::with_reader(reader, boundary);
    let mut out = Vec::new();
    while let Some(field) = form.next_field().await.ok()? {
        let name = field.name()?.to_string();
        let file = field.file_name().map(str::to_string);
        let data = field.bytes().await.ok()?.to_vec();
        out.push((name, file, data));
    }
    Some(out)
}

/// The fields of the submitted form, and its file (the multipart form's, or the one the
/// confirmation carried as hex).
async fn read_form(headers: &HeaderMap, body: &Bytes) -> Result<(Form, Option<AckFile>), WebError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("multipart/form-data") {
        let form = Form::parse(body);
        let ack = match (form.get("ack_hex"), form.get("ack_name")) {
            (Some(h), Some(name)) if !h.is_empty() => {
                let bytes: Option<Vec<u8>> = (0..h.len() / 2)
                    .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect();
                let bytes = bytes.ok_or_else(|| WebError::bad("ack: the file was altered"))?;
                Some(AckFile {
                    name: name.to_string(),
                    bytes,
                })
            }
            _ => None,
        };
        return Ok((form, ack));
    }
    let parts = multipart(ct, body)
        .await
        .ok_or_else(|| WebError::bad("the form could not be read"))?;
    let mut fields = Vec::new();
    let mut ack = None;
    for (name, file, data) in parts {
        match file {
            Some(f) if name == "ack" => {
                if !f.is_empty() || !data.is_empty() {
                    ack = Some(AckFile {
                        name: f,
                        bytes: data,
                    });
                }
            }
            _ => fields.push((name, String::from_utf8_lossy(&data).into_owned())),
        }
    }
    Ok((Form(fields), ack))
}

pub(super) async fn submitted(
    ctx: PageCtx,
    Path((id, document)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let (form, ack) = read_form(&headers, &body).await.map_err(ctx.fail())?;
    if let Err(e) = ctx.caller.check_csrf(form.get("_csrf")) {
        return Err(ctx.error(WebError::new(e.status, ctx.word("bad_form"))));
    }
    if !ctx.caller.user.role.can_change() {
        return Err(ctx.error(WebError::forbidden("record events")));
    }
    let text = |k: &str| form.get(k).map(str::trim).filter(|v| !v.is_empty());
    let req = SubmissionRequest {
        event: text("event").unwrap_or("notify_authority").to_string(),
        reference: text("reference").map(String::from),
        at: text("at").map(String::from),
        channel: text("channel").unwrap_or_default().to_string(),
        ack,
        facts: Vec::new(),
        note: None,
        reason: text("reason").map(String::from),
        expected_seq: form.get("seq").and_then(|s| s.parse().ok()),
    };
    let typed: Vec<(String, String)> = form
        .pairs()
        .iter()
        .filter(|(k, _)| ["event", "reference", "at", "channel"].contains(&k.as_str()))
        .cloned()
        .collect();
    if form.get("confirm") == Some("yes") {
        let case = id.clone();
        let r = req.clone();
        let done = ctx
            .app
            .for_caller(&ctx.caller)
            .write(move |core, store, me| {
                core.submit(store, &me.org, &me.actor, &case, &r, time::now())
            })
            .await;
        return match done {
            Ok(_) => Ok(see_other(&format!("/cases/{}?ok=event", encode(&id)))),
            Err(e) => {
                let above = refused(&ctx, e, typed);
                show(&ctx, id, document, None, above).await
            }
        };
    }
    // Checked, nothing written: what will be recorded, with the box to tick.
    let case = id.clone();
    let r = req.clone();
    let checked = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| {
            let l = core.case(store, &me.org, &case)?;
            let p = core.check_submission(store, &me.org, &l, &r, time::now())?;
            Ok((l, p))
        })
        .await;
    let (l, p) = match checked {
        Ok(x) => x,
        Err(e) => {
            let above = refused(&ctx, e, typed);
            return show(&ctx, id, document, None, above).await;
        }
    };
    let wf = &l.workflow;
    let labels = ctx.app.labels(wf, ctx.lang).ok();
    let word = |k: &str| {
        labels
            .as_ref()
            .map(|lb| lb.get(k).to_string())
            .unwrap_or_else(|| k.to_string())
    };
    let mut keep: Vec<Value> = ["event", "reference", "channel", "seq", "reason"]
        .iter()
        .filter_map(|k| form.get(k).map(|v| json!({"name": k, "value": v})))
        .collect();
    keep.push(json!({"name": "at", "value": time::rfc3339_in(p.at, wf.timezone)}));
    if let Some(f) = &req.ack {
        keep.push(json!({"name": "ack_name", "value": f.name}));
        keep.push(json!({"name": "ack_hex", "value": crate::util::hash::hex(&f.bytes)}));
    }
    let confirming = json!({
        "event": req.event, "label": word(&req.event),
        "reference": p.submission.reference,
        "at": time::short_in(p.at, wf.timezone),
        "channel": word(&format!("submission_channel_{}", p.submission.channel)),
        "ack": p.submission.ack,
        "actor": ctx.caller.user.email,
        "keep": keep,
    });
    let above = Above {
        confirming: Some(confirming),
        typed,
        ..Above::default()
    };
    show(&ctx, id, document, None, above).await
}

fn refused(ctx: &PageCtx, e: WebError, typed: Vec<(String, String)>) -> Above {
    Above {
        error: Some(crate::web::page::said_in(ctx.lang, &e)),
        status: Some(e.status),
        typed,
        confirming: None,
    }
}
