//! The JSON API under `/api`, described by `/api/openapi.json`. A case is the
//! `vigie case show --json` object; errors are `{"error": "...", "status": N}` with the
//! reason the CLI would give.

use super::auth::ApiCaller;
use super::issued::{access_api, inspection_api, issue_api, issued_download_api, issued_list_api};
use super::users::{invite_api, invites_api, revoke_api, user_change_api, users_api};
use super::{App, WebError};
use crate::app::Change;
use crate::app::json::{case_assessment_json, case_json, summary_json};
use crate::time;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/me", get(me))
        .route("/api/workflows", get(workflows))
        .route("/api/cases", get(list).post(open))
        .route("/api/cases/{id}", get(show))
        .route("/api/cases/{id}/facts", axum::routing::post(set_facts))
        .route("/api/cases/{id}/events", get(events).post(advance))
        .route("/api/cases/{id}/drafts/{document}", get(draft))
        .route("/api/cases/{id}/assessment", get(assessment).post(accept))
        .route("/api/register", get(register))
        .route("/api/register.csv", get(register_csv))
        // --- issued documents, access log, register for an inspection (issue 13 parts 4-5) ---
        .route("/api/cases/{id}/drafts/{document}/issue", post(issue_api))
        .route("/api/cases/{id}/issued", get(issued_list_api))
        .route("/api/cases/{id}/issued/{sha256}", get(issued_download_api))
        .route("/api/cases/{id}/access", get(access_api))
        .route("/api/register/inspection", get(inspection_api))
        // --- colleagues: users and invitations (issue 21 part 5) ---
        .route("/api/users", get(users_api))
        .route("/api/users/invitations", get(invites_api).post(invite_api))
        .route("/api/users/invitations/{id}/revoke", post(revoke_api))
        .route("/api/users/{email}", post(user_change_api))
}

/// Reads a JSON body into `T`, or a 400 naming the field, line and column.
fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, WebError> {
    serde_json::from_slice(bytes).map_err(|e| WebError::bad(format!("request body: {e}")))
}

fn facts(m: Option<Map<String, Value>>) -> Vec<(String, Value)> {
    m.unwrap_or_default().into_iter().collect()
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

async fn me(ApiCaller(c): ApiCaller) -> Response {
    axum::Json(json!({
        "email": c.user.email,
        "name": c.user.name,
        "org": c.user.org,
        "role": c.user.role,
    }))
    .into_response()
}

async fn workflows(State(app): State<Arc<App>>, ApiCaller(_): ApiCaller) -> Response {
    let list: Vec<Value> = app
        .workflows
        .ids()
        .filter_map(|id| app.workflows.get(id))
        .map(|wf| {
            json!({
                "id": wf.id,
                "title": wf.title,
                "timezone": wf.timezone.name(),
                "hash": wf.hash,
                "events": wf.events.keys().collect::<Vec<_>>(),
                "facts": wf.facts.iter().map(|(k, f)| (k.clone(), json!({
                    "type": format!("{:?}", f.kind).to_lowercase(),
                    "choices": f.choices,
                }))).collect::<Map<String, Value>>(),
                "documents": wf.documents.keys().collect::<Vec<_>>(),
            })
        })
        .collect();
    axum::Json(Value::Array(list)).into_response()
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    all: bool,
}

async fn list(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Query(q): Query<ListQuery>,
) -> Result<Response, WebError> {
    let now = time::now();
    let cases = app
        .for_caller(&c)
        .read(move |core, store, me| {
            let listed = core.cases(store, &me.org, q.all, time::now())?;
            Ok(super::logged(&me.org, listed))
        })
        .await?;
    let list: Vec<Value> = cases
        .iter()
        .map(|l| summary_json(&l.workflow, &l.case, now))
        .collect();
    Ok(axum::Json(Value::Array(list)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    workflow: String,
    title: String,
    aware_at: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    facts: Option<Map<String, Value>>,
}

async fn open(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    bytes: Bytes,
) -> Result<Response, WebError> {
    let b: OpenBody = body(&bytes)?;
    let req = crate::app::OpenCase {
        workflow: Some(b.workflow),
        title: b.title,
        aware_at: b.aware_at,
        id: b.id,
        facts: facts(b.facts),
    };
    let l = app
        .for_caller(&c)
        .dpo("open a case")?
        .write(move |core, store, me| core.open_case(store, &me.org, &me.actor, req, time::now()))
        .await?;
    let location = format!("/api/cases/{}", l.case.id);
    let mut r = (
        StatusCode::CREATED,
        axum::Json(case_json(&l.workflow, &l.case, &l.events, time::now())),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn show(
    State(app): State<Arc<App>>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    // The most frequent call of a script: who is calling, the case and, for a DPO, its
    // access log (issue 13 part 4: `access`, and `timeline` merged) on ONE blocking call
    // and pooled connection (each more cost a third of a read); with a token, in one
    // query (issue 25: several instances on one PostgreSQL).
    let creds = super::auth::Credentials::of(&headers);
    if let super::auth::Credentials::Bearer(token) = creds {
        return Ok(show_by_token(app, token, id).await);
    }
    let (touch, found) = app
        .read(move |app, store| {
            let (c, touch) = creds.check(store)?.ok_or_else(super::auth::nobody)?;
            let org = c.user.org.clone();
            let mut read = || -> Result<_, WebError> {
                let l = app.core.case(store, &org, &id)?;
                let access = match c.user.role.is_dpo() {
                    true => Some(app.core.access_log(store, &org, Some(&id))?),
                    false => None,
                };
                Ok((l, access))
            };
            match read() {
                // The server failed: the connection is not kept (`App::read`).
                Err(e) if e.status.is_server_error() => Err(e),
                // A refusal (no such case) still used the token.
                found => Ok((touch, found)),
            }
        })
        .await?;
    super::auth::Credentials::touch(&app, touch).await?;
    let (l, access) = found?;
    Ok(case_response(&l, access))
}

type CaseRead = (
    Arc<crate::store::Loaded>,
    Option<Vec<crate::store::backend::AccessRow>>,
);

/// `show` for a bearer token: the token, the case's head and a DPO's access log in one
/// read (`Store::token_case`); the events too when this instance has not folded the
/// case at that sequence number yet.
async fn show_by_token(app: Arc<super::App>, token: String, id: String) -> Response {
    let read = app
        .read(move |app, store| {
            let t = store
                .token_case(&token, &id)?
                .ok_or_else(super::auth::invalid_token)?;
            let (_, touch) = super::auth::bearer_caller(&token, t.user, t.last_used);
            let found: Result<CaseRead, WebError> = match t.head {
                None => Err(crate::store::StoreError::UnknownCase(id).into()),
                Some(head) => match app.core.case_at(store, head) {
                    Ok(l) => Ok((l, t.access)),
                    Err(e) => Err(e.into()),
                },
            };
            match found {
                // The server failed: the connection is not kept (`App::read`).
                Err(e) if e.status.is_server_error() => Err(e),
                // A refusal (no such case) still used the token.
                found => Ok((touch, found)),
            }
        })
        .await;
    let answer = async {
        let (touch, found) = read?;
        super::auth::Credentials::touch(&app, touch).await?;
        let (l, access) = found?;
        Ok::<_, WebError>(case_response(&l, access))
    };
    answer.await.unwrap_or_else(IntoResponse::into_response)
}

/// A case as `vigie case show --json` prints it, with a DPO's access log.
fn case_response(
    l: &crate::store::Loaded,
    access: Option<Vec<crate::store::backend::AccessRow>>,
) -> Response {
    let v = case_json(&l.workflow, &l.case, &l.events, time::now());
    match access {
        Some(access) => axum::Json(crate::app::issued::with_access(v, l, &access)).into_response(),
        None => axum::Json(v).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    #[serde(default)]
    facts: Option<Map<String, Value>>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    at: Option<String>,
    #[serde(default)]
    expected_seq: Option<i64>,
    /// Why it is recorded only now (needed when `at` is more than 24 h ago).
    #[serde(default)]
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    event: String,
    #[serde(flatten)]
    change: ChangeBody,
}

fn change(b: ChangeBody) -> Change {
    Change {
        event: None,
        facts: facts(b.facts),
        note: b.note.filter(|n| !n.trim().is_empty()),
        at: b.at,
        expected_seq: b.expected_seq,
        reason: b.reason,
        derive: false,
    }
}

async fn set_facts(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, WebError> {
    let b: ChangeBody = body(&bytes)?;
    if b.facts.as_ref().is_none_or(|f| f.is_empty()) {
        return Err(WebError::bad("facts: give at least one fact to set"));
    }
    let l = app.for_caller(&c).change(id, change(b)).await?;
    Ok(axum::Json(case_json(&l.workflow, &l.case, &l.events, time::now())).into_response())
}

async fn advance(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, WebError> {
    // serde's flatten and deny_unknown_fields do not mix: check the keys by hand.
    let raw: Map<String, Value> = body(&bytes)?;
    for k in raw.keys() {
        if !["event", "facts", "note", "at", "expected_seq", "reason"].contains(&k.as_str()) {
            return Err(WebError::bad(format!(
                "request body: unknown field '{k}' (expected event, facts, note, at, expected_seq, reason)"
            )));
        }
    }
    let b: AdvanceBody = body(&bytes)?;
    let l = app
        .for_caller(&c)
        .change(
            id,
            Change {
                event: Some(b.event),
                ..change(b.change)
            },
        )
        .await?;
    Ok(axum::Json(case_json(&l.workflow, &l.case, &l.events, time::now())).into_response())
}

async fn events(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let l = app
        .for_caller(&c)
        .read(move |core, store, me| core.case(store, &me.org, &id))
        .await?;
    Ok(axum::Json(super::events_json(&l)).into_response())
}

/// The risk assessment now, beside the decision recorded (`vigie assess CASE --json`).
async fn assessment(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let a = app
        .for_caller(&c)
        .read(move |core, store, me| core.assessment(store, &me.org, &id))
        .await?;
    Ok(axum::Json(case_assessment_json(&a)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    #[serde(default)]
    expected_seq: Option<i64>,
}

/// Accepts the recommendation (the DPO's). An empty body is `{}`. Accepting what is
/// already accepted records nothing and answers the same.
async fn accept(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, WebError> {
    let b: AcceptBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        AcceptBody::default()
    } else {
        body(&bytes)?
    };
    let a = app
        .for_caller(&c)
        .dpo("accept the risk assessment")?
        .write(move |core, store, me| {
            core.accept_assessment(store, &me.org, &me.actor, &id, b.expected_seq, time::now())
        })
        .await?;
    Ok(axum::Json(case_assessment_json(&a)).into_response())
}

#[derive(Deserialize)]
struct DraftQuery {
    lang: Option<String>,
    format: Option<String>,
    #[serde(default)]
    strict: bool,
}

async fn draft(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    addr: super::access::ClientAddr,
    Path((id, document)): Path<(String, String)>,
    Query(q): Query<DraftQuery>,
) -> Result<Response, WebError> {
    let drafted_at = time::now();
    let req = crate::app::DraftRequest {
        document: document.clone(),
        lang: q.lang,
        format: q.format,
    };
    let case = id.clone();
    let (d, format, lang) = app
        .for_caller(&c)
        .read(move |core, store, me| core.draft(store, &me.org, &case, &req, drafted_at))
        .await?;
    if q.strict && !d.missing.is_empty() {
        return Err(WebError::bad(format!(
            "draft '{document}' is missing: {} (strict)",
            d.missing.join(", ")
        )));
    }
    let read = super::access::draft_read("download", &id, &document, format.as_str(), lang.code());
    app.log_read(&c, &addr, read).await?;
    let mut body = json!({
        "document": document,
        "lang": lang.code(),
        "format": format.as_str(),
        "missing": d.missing,
        "sha256": crate::util::hash::sha256_hex(&d.text),
        // Issue 13 part 4: give it back to `.../issue` to record this very text.
        "drafted_at": drafted_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "text": d.text,
    });
    // The EDPB template's JSON also as an object, so a client need not parse `text`.
    if format == crate::render::Format::Json {
        body["object"] = serde_json::from_str(&d.text).unwrap_or(serde_json::Value::Null);
    }
    Ok(axum::Json(body).into_response())
}

async fn register(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    addr: super::access::ClientAddr,
) -> Result<Response, WebError> {
    let read = super::access::register_read("download", "json".into());
    app.log_read(&c, &addr, read).await?;
    let rows = app
        .for_caller(&c)
        .read(|core, store, me| Ok(super::logged(&me.org, core.register(store, &me.org)?)))
        .await?;
    Ok(axum::Json(json!(rows)).into_response())
}

async fn register_csv(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    addr: super::access::ClientAddr,
) -> Result<Response, WebError> {
    let read = super::access::register_read("download", "csv".into());
    app.log_read(&c, &addr, read).await?;
    let rows = app
        .for_caller(&c)
        .read(|core, store, me| Ok(super::logged(&me.org, core.register(store, &me.org)?)))
        .await?;
    Ok(csv_response(&c.user.org, crate::register::csv(&rows)))
}

/// A CSV download named after the organisation and the day.
pub fn csv_response(org: &str, text: String) -> Response {
    let name = format!("register-{org}-{}.csv", time::now().format("%Y-%m-%d"));
    super::attachment("text/csv; charset=utf-8", &name, text)
}
