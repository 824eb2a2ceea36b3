//! What was issued and who read it (issue 13 part 4), and the register for an
//! inspection (part 5), on the pages and the API. The use-cases are in
//! `app::issued` and `app::inspection`; this file parses, checks the role, logs the
//! read, and answers.

use super::access::{ClientAddr, register_read};
use super::auth::ApiCaller;
use super::form::{PageCtx, PageForm, PageResult, see_other};
use super::page::error_page;
use super::{App, Caller, WebError};
use crate::app::inspection::Inspection;
use crate::app::issued::{Content, IssueRequest, Issued, Read, Recorded, mime_of};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The page routes; the API's are in `api::routes` (where the OpenAPI check reads them).
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/cases/{id}/drafts/{document}/issue", post(issue_form))
        .route("/cases/{id}/issued/{sha256}", get(issued_download))
        .route("/register/inspection", get(inspection_download))
}

impl App {
    /// Records as issued the draft of `document` in `lang` and `format`, drafted now:
    /// the case's organisation's DPO only (403).
    pub async fn issue(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
        document: String,
        lang: Option<String>,
        format: Option<String>,
        drafted_at: Option<String>,
    ) -> Result<Recorded, WebError> {
        if !caller.user.role.is_dpo() {
            return Err(WebError::forbidden("record a document as issued"));
        }
        let now = crate::time::now();
        // The draft as it was when the page (or the API's draft) showed it: the text
        // recorded is the one read, and the same form sent twice records it once.
        let drafted = drafted_time(drafted_at.as_deref(), now)?;
        let user = caller.user.clone();
        if format.as_deref().map(str::trim) == Some("pdf") {
            // The PDF the draft page's link gave for the same moment: the same bytes,
            // so the hash recorded is the downloaded file's (as `vigie draft --format
            // pdf --record`, only its hash is kept).
            return self
                .write(move |app, store| {
                    let req = crate::app::DraftRequest {
                        document: document.clone(),
                        lang,
                        format: None,
                    };
                    let pdf = app.core.draft_pdf(store, &user.org, &id, &req, drafted)?;
                    Ok(app.core.issue(
                        store,
                        &IssueRequest {
                            org: &user.org,
                            actor: &user.actor(),
                            id: &id,
                            document: &document,
                            lang: pdf.lang,
                            content: Content::Bytes {
                                bytes: &pdf.bytes,
                                format: "pdf",
                            },
                            now,
                        },
                    )?)
                })
                .await;
        }
        self.write(move |app, store| {
            let req = crate::app::DraftRequest {
                document: document.clone(),
                lang,
                format,
            };
            let (d, format, lang) = app.core.draft(store, &user.org, &id, &req, drafted)?;
            Ok(app.core.issue(
                store,
                &IssueRequest {
                    org: &user.org,
                    actor: &user.actor(),
                    id: &id,
                    document: &document,
                    lang,
                    content: Content::Text {
                        text: &d.text,
                        format,
                    },
                    now,
                },
            )?)
        })
        .await
    }

    pub async fn issued(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
    ) -> Result<Vec<Issued>, WebError> {
        let org = caller.user.org.clone();
        self.read(move |app, store| Ok(app.core.issued(store, &org, &id)?))
            .await
    }

    /// The exact text of an issued document; the download is logged first.
    pub async fn issued_text(
        self: &Arc<Self>,
        caller: &Caller,
        address: &ClientAddr,
        id: String,
        sha256: String,
    ) -> Result<(Issued, String), WebError> {
        let org = caller.user.org.clone();
        let case = id.clone();
        let (issued, text) = self
            .read(move |app, store| Ok(app.core.issued_text(store, &org, &case, &sha256)?))
            .await?;
        self.log_read(
            caller,
            address,
            Read {
                action: "download",
                object: "issued",
                case_id: Some(id),
                detail: format!(
                    "{} ({}, {}) sha256:{}",
                    issued.document, issued.format, issued.lang, issued.sha256
                ),
            },
        )
        .await?;
        Ok((issued, text))
    }

    /// The register for an inspection; the read is logged.
    pub async fn inspection(
        self: &Arc<Self>,
        caller: &Caller,
        address: &ClientAddr,
        q: &InspectionQuery,
    ) -> Result<Inspection, WebError> {
        let lang = match q.lang.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(crate::time::Lang::parse(s).ok_or_else(|| {
                WebError::bad(format!(
                    "lang: {} is not {}",
                    crate::util::quote(s),
                    crate::time::Lang::choices()
                ))
            })?),
        };
        let org = caller.user.org.clone();
        let year = match q.year.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(y) => Some(y.parse::<i32>().map_err(|_| {
                WebError::bad(format!(
                    "year: {} is not a year (leave it blank for every year)",
                    crate::util::quote(y)
                ))
            })?),
        };
        let ins = self
            .read(move |app, store| {
                let (ins, unreadable) =
                    app.core
                        .inspection(store, &org, year, lang, crate::time::now())?;
                super::log_unreadable(&org, &unreadable);
                Ok(ins)
            })
            .await?;
        let detail = format!(
            "inspection {}{}",
            q.format.as_deref().unwrap_or("md"),
            year.map(|y| format!(" {y}")).unwrap_or_default()
        );
        self.log_read(caller, address, register_read("download", detail))
            .await?;
        Ok(ins)
    }
}

/// The document recorded as issued: its exact bytes, as a file.
fn issued_file(id: &str, issued: &Issued, text: String) -> Response {
    let (mime, ext) = mime_of(&issued.format);
    let name = format!(
        "{id}-{}.{}.{}.{ext}",
        issued.document,
        issued.lang,
        &issued.sha256[..12]
    );
    super::attachment(mime, &name, text)
}

#[derive(Deserialize, Default)]
pub struct InspectionQuery {
    pub format: Option<String>,
    /// Text, not a number: the page's form sends `year=` when left blank (every year).
    pub year: Option<String>,
    pub lang: Option<String>,
}

fn inspection_file(
    org: &str,
    ins: &Inspection,
    format: Option<&str>,
) -> Result<Response, WebError> {
    let year = ins.year.map(|y| format!("-{y}")).unwrap_or_default();
    let name = |ext: &str| format!("register-{org}{year}.{ext}");
    Ok(match format.unwrap_or("md") {
        "md" => super::attachment(
            "text/markdown; charset=utf-8",
            &name("md"),
            crate::app::inspection::markdown(ins)?,
        ),
        "csv" => super::attachment(
            "text/csv; charset=utf-8",
            &name("csv"),
            crate::app::inspection::csv(ins),
        ),
        "json" => super::attachment(
            "application/json",
            &name("json"),
            serde_json::to_string_pretty(&crate::app::inspection::json(ins)).expect("JSON"),
        ),
        "pdf" => super::attachment_bytes(
            "application/pdf",
            &name("pdf"),
            crate::app::inspection::pdf(ins)?,
        ),
        other => {
            return Err(WebError::bad(format!(
                "format: {} is not md, csv, json or pdf",
                crate::util::quote(other)
            )));
        }
    })
}

// ---- pages ----

/// When a draft was shown (`drafted_at` of a page or an API answer, RFC 3339), so that
/// what is downloaded or recorded is what was read; now when not given.
pub(super) fn drafted_time(
    at: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, WebError> {
    match at.map(str::trim) {
        None | Some("") => Ok(now),
        Some(s) => {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| d.with_timezone(&chrono::Utc))
                .map_err(|e| WebError::bad(format!("drafted_at: {e}")))?;
            if t > now || now - t > chrono::Duration::days(1) {
                return Err(WebError::bad(
                    "drafted_at: the draft is from the future or more than a day old: draft it again",
                ));
            }
            Ok(t)
        }
    }
}

async fn issue_form(
    Path((id, document)): Path<(String, String)>,
    PageForm { ctx, form }: PageForm,
) -> PageResult {
    let opt = |k: &str| form.get(k).map(str::to_string).filter(|s| !s.is_empty());
    // A draft with placeholders left is recorded only when the DPO says so (the page
    // warns; the API records what it is sent).
    if opt("placeholders").as_deref() == Some("left")
        && opt("accept_placeholders").as_deref() != Some("yes")
    {
        return Err(ctx.error(WebError::bad(ctx.word("issue_placeholders_unconfirmed"))));
    }
    ctx.app
        .issue(
            &ctx.caller,
            id.clone(),
            document,
            opt("lang"),
            opt("format"),
            opt("drafted_at"),
        )
        .await
        .map_err(ctx.fail())?;
    Ok(see_other(&format!("/cases/{id}?ok=issued#issued")))
}

async fn issued_download(
    ctx: PageCtx,
    addr: ClientAddr,
    Path((id, sha256)): Path<(String, String)>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    match app.issued_text(&c, &addr, id.clone(), sha256).await {
        Ok((issued, text)) => issued_file(&id, &issued, text),
        Err(e) => error_page(&app, lang, &c, e),
    }
}

async fn inspection_download(
    ctx: PageCtx,
    addr: ClientAddr,
    Query(q): Query<InspectionQuery>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let r = match app.inspection(&c, &addr, &q).await {
        Ok(ins) => inspection_file(&c.user.org, &ins, q.format.as_deref()),
        Err(e) => Err(e),
    };
    r.unwrap_or_else(|e| error_page(&app, lang, &c, e))
}

// ---- API ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    format: Option<String>,
    /// RFC 3339: the draft as rendered then (a draft answer's `drafted_at`).
    #[serde(default)]
    drafted_at: Option<String>,
}

pub(super) async fn issue_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path((id, document)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, WebError> {
    let b: IssueBody = if body.iter().all(u8::is_ascii_whitespace) {
        IssueBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| WebError::bad(format!("request body: {e}")))?
    };
    let r = app
        .issue(&c, id, document.clone(), b.lang, b.format, b.drafted_at)
        .await?;
    Ok(
        axum::Json(json!({"document": document, "sha256": r.sha256, "already": r.already}))
            .into_response(),
    )
}

pub(super) async fn issued_list_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    Ok(axum::Json(json!(app.issued(&c, id).await?)).into_response())
}

pub(super) async fn issued_download_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    addr: ClientAddr,
    Path((id, sha256)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let (issued, text) = app.issued_text(&c, &addr, id.clone(), sha256).await?;
    Ok(issued_file(&id, &issued, text))
}

pub(super) async fn access_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let case = id.clone();
    let l = app
        .for_caller(&c)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await?;
    let rows = app.case_access(&c, id).await?;
    let tz = l.workflow.timezone;
    Ok(axum::Json(json!(
        rows.iter()
            .map(|a| crate::app::issued::access_json(a, tz))
            .collect::<Vec<_>>()
    ))
    .into_response())
}

pub(super) async fn inspection_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    addr: ClientAddr,
    Query(mut q): Query<InspectionQuery>,
) -> Result<Response, WebError> {
    // JSON unless asked otherwise (the pages' default is the markdown document).
    q.format.get_or_insert_with(|| "json".into());
    let ins = app.inspection(&c, &addr, &q).await?;
    match q.format.as_deref() {
        None | Some("json") => Ok(axum::Json(crate::app::inspection::json(&ins)).into_response()),
        f => inspection_file(&c.user.org, &ins, f),
    }
}
