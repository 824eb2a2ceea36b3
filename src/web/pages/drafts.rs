//! A draft's page and its downloads.

use crate::time::{self};
use crate::web::form::PageCtx;
use crate::web::page::{Page, error_page};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub(super) struct DraftQuery {
    lang: Option<String>,
    format: Option<String>,
    /// When the page showed the draft: a download gives the draft as it was then, the
    /// same text (or PDF) "record as issued" records.
    at: Option<String>,
}

pub(super) async fn draft_page(
    ctx: PageCtx,
    addr: crate::web::access::ClientAddr,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let drafted_at = time::now();
    let req = crate::app::DraftRequest {
        document: document.clone(),
        lang: q.lang,
        format: Some("html".into()),
    };
    let case = id.clone();
    let drafted = app
        .for_caller(&c)
        .read(move |core, store, me| core.draft(store, &me.org, &case, &req, drafted_at))
        .await;
    let (d, _, draft_lang) = match drafted {
        Ok(r) => r,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    // Issue 13 part 4: every view of a draft is in the access log.
    let read = crate::web::access::draft_read("view", &id, &document, "html", draft_lang.code());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    // The HTML draft is a whole document whose values are escaped; show its body.
    let html = d
        .text
        .split_once("<body>")
        .and_then(|(_, rest)| rest.rsplit_once("</body>"))
        .map(|(body, _)| body.to_string())
        .unwrap_or_default();
    // The document's name as the case page shows it, and the languages it is drafted in.
    let case = id.clone();
    let found = app
        .for_caller(&c)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await;
    let (label, draft_langs) = match found {
        Ok(l) => {
            let own = app
                .labels(&l.workflow, lang)
                .ok()
                .map(|lb| lb.get(&document).to_string())
                .filter(|s| *s != document);
            let label = own
                .or_else(|| l.workflow.documents.get(&document).map(|d| d.title.clone()))
                .unwrap_or_else(|| document.clone());
            let langs: Vec<&str> = l.workflow.languages.iter().map(|l| l.code()).collect();
            (label, langs)
        }
        Err(e) => return error_page(&app, lang, &c, e),
    };
    Page::of(
        lang,
        &c,
        format!("{id} — {label}"),
        format!("/cases/{id}/drafts/{document}"),
    )
    .render(
        &app,
        "draft",
        json!({
            "case_id": id, "document": document, "label": label, "html": html,
            "missing": d.missing, "draft_lang": draft_lang.code(), "draft_langs": draft_langs,
            // Issue 13 part 4: "record as issued", the DPO's.
            "can_issue": c.user.role.is_dpo(), "csrf": c.csrf,
            "drafted_at": drafted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "placeholders": d.missing.len(),
        }),
        StatusCode::OK,
    )
}

pub(super) async fn draft_download(
    ctx: PageCtx,
    addr: crate::web::access::ClientAddr,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let drafted = match crate::web::issued::drafted_time(q.at.as_deref(), time::now()) {
        Ok(t) => t,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    if q.format.as_deref().map(str::trim) == Some("pdf") {
        // The same PDF as `vigie draft --format pdf` (the markdown draft on A4 pages).
        let req = crate::app::DraftRequest {
            document: document.clone(),
            lang: q.lang,
            format: None,
        };
        let org = c.user.org.clone();
        let case_id = id.clone();
        let pdf = app
            .read(move |app, store| Ok(app.core.draft_pdf(store, &org, &case_id, &req, drafted)?))
            .await;
        return match pdf {
            Ok(p) => {
                let code = p.lang.code();
                let read = crate::web::access::draft_read("download", &id, &document, "pdf", code);
                if let Err(e) = app.log_read(&c, &addr, read).await {
                    return error_page(&app, lang, &c, e);
                }
                let name = format!("{id}-{document}.{code}.pdf");
                crate::web::attachment_bytes("application/pdf", &name, p.bytes)
            }
            Err(e) => error_page(&app, lang, &c, e),
        };
    }
    let req = crate::app::DraftRequest {
        document: document.clone(),
        lang: q.lang,
        format: q.format,
    };
    let case = id.clone();
    let drafted = app
        .for_caller(&c)
        .read(move |core, store, me| core.draft(store, &me.org, &case, &req, drafted))
        .await;
    match drafted {
        Ok((d, format, l)) => {
            let (mime, ext) = match format {
                crate::render::Format::Md => ("text/markdown; charset=utf-8", "md"),
                crate::render::Format::Html => ("text/html; charset=utf-8", "html"),
                crate::render::Format::Txt => ("text/plain; charset=utf-8", "txt"),
                crate::render::Format::Json => ("application/json", "json"),
            };
            let name = format!("{id}-{document}.{}.{ext}", l.code());
            let read = crate::web::access::draft_read(
                "download",
                &id,
                &document,
                format.as_str(),
                l.code(),
            );
            if let Err(e) = app.log_read(&c, &addr, read).await {
                return error_page(&app, lang, &c, e);
            }
            crate::web::attachment(mime, &name, d.text)
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}
