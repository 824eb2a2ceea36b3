//! The HTTP side of `vigie serve` (axum): a JSON API under `/api` and server-rendered
//! pages for the DPO, over the same core as the CLI.
//!
//! Isolation: every handler gets the organisation from the signed-in user and passes it
//! to the store, whose queries all filter on it; another organisation's case is simply
//! not found (404), never forbidden (403), so its existence does not leak either.
//!
//! The database is used from blocking threads: reads through a small pool of
//! connections, writes through one connection behind a mutex, so writers queue in the
//! process instead of sleeping in SQLite's busy handler.

mod api;
mod auth;
mod pages;

use crate::config::Config;
use crate::render::Templates;
use crate::store::{Loaded, Store, StoreError};
use crate::workflow::WorkflowSet;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub use auth::Caller;

/// Everything a request needs, shared by every handler.
pub struct App {
    pub db: PathBuf,
    pub config: Config,
    pub workflows: WorkflowSet,
    pub templates: Templates,
    pages: handlebars::Handlebars<'static>,
    readers: Mutex<Vec<Store>>,
    writer: Mutex<Option<Store>>,
    /// Folded cases by (org, id), valid while their sequence number is unchanged.
    cache: Mutex<HashMap<(String, String), Arc<Loaded>>>,
    throttle: auth::Throttle,
    /// Labels by (workflow hash, language): parsed once, not on every page.
    labels: Mutex<HashMap<(String, crate::time::Lang), Arc<crate::render::Labels>>>,
}

const CACHE_MAX: usize = 20_000;

/// An error as the API and the pages report it: a status and one line.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
        }
    }
    pub fn bad(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(what: &str) -> WebError {
        WebError::new(
            StatusCode::FORBIDDEN,
            format!("your role does not allow you to {what}"),
        )
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        let status = match &e {
            StoreError::UnknownCase(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict { .. } | StoreError::CaseExists(_) => StatusCode::CONFLICT,
            StoreError::Rejected(_)
            | StoreError::UnknownWorkflow { .. }
            | StoreError::BadCaseId(_) => StatusCode::BAD_REQUEST,
            StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            log(&format!("internal error: {e}"));
        }
        WebError::new(status, e.to_string())
    }
}

impl From<crate::render::RenderError> for WebError {
    fn from(e: crate::render::RenderError) -> WebError {
        use crate::render::RenderError as R;
        let status = match &e {
            R::UnknownDocument { .. } => StatusCode::NOT_FOUND,
            R::Incomplete { .. } => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        WebError::new(status, e.to_string())
    }
}

/// API errors are JSON: `{"error": "...", "status": 404}`.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(serde_json::json!({"error": self.message, "status": self.status.as_u16()})),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"vigie\""),
            );
        }
        r
    }
}

pub(crate) fn log(msg: &str) {
    eprintln!(
        "{} vigie http: {msg}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
}

impl App {
    pub fn new(db: PathBuf, config: Config, workflows: WorkflowSet) -> Result<App, StoreError> {
        // Open (and migrate) once here, so a bad path fails at start, not on a request.
        let writer = Store::open(&db)?;
        let templates = Templates::from_config(&config);
        Ok(App {
            db,
            pages: pages::registry(),
            config,
            workflows,
            templates,
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(Some(writer)),
            cache: Mutex::new(HashMap::new()),
            throttle: auth::Throttle::default(),
            labels: Mutex::new(HashMap::new()),
        })
    }

    fn reader(&self) -> Result<Store, StoreError> {
        if let Some(s) = self.readers.lock().expect("pool").pop() {
            return Ok(s);
        }
        Store::open(&self.db)
    }

    /// Runs `f` on a reading connection, on a blocking thread.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&App, &mut Store) -> Result<T, WebError> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = app.reader()?;
            let r = f(&app, &mut store);
            let mut idle = app.readers.lock().expect("pool");
            if idle.len() < 16 {
                idle.push(store);
            }
            r
        })
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// Runs `f` on the one writing connection, on a blocking thread; then tells the
    /// reminder dispatcher that timers may have changed.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&App, &mut Store) -> Result<T, WebError> + Send + 'static,
    {
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = app.writer.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(Store::open(&app.db)?);
            }
            let r = f(&app, guard.as_mut().expect("opened above"));
            drop(guard);
            crate::serve::poke(&app.db);
            r
        })
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// A case of `org`, folded; from the cache when no event was added since.
    pub fn load(&self, store: &mut Store, org: &str, id: &str) -> Result<Arc<Loaded>, WebError> {
        let seq = store
            .case_seq(org, id)?
            .ok_or_else(|| StoreError::UnknownCase(id.to_string()))?;
        let key = (org.to_string(), id.to_string());
        if let Some(l) = self.cache.lock().expect("cache").get(&key)
            && l.case.seq == seq
        {
            return Ok(l.clone());
        }
        let l = Arc::new(store.load(org, id)?);
        self.remember(l.clone());
        Ok(l)
    }

    /// The labels of a workflow's ids in `lang` (embedded or configured files).
    pub fn labels(
        &self,
        wf: &crate::workflow::Workflow,
        lang: crate::time::Lang,
    ) -> Result<Arc<crate::render::Labels>, WebError> {
        let key = (wf.hash.clone(), lang);
        if let Some(l) = self.labels.lock().expect("labels").get(&key) {
            return Ok(l.clone());
        }
        let l = Arc::new(self.templates.labels(wf, lang)?);
        self.labels.lock().expect("labels").insert(key, l.clone());
        Ok(l)
    }

    pub fn remember(&self, l: Arc<Loaded>) {
        let mut cache = self.cache.lock().expect("cache");
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert((l.case.org.clone(), l.case.id.clone()), l);
    }

    /// The configuration as drafts of `org` should see it: the configured organisation
    /// and DPO belong to the default organisation; another organisation's drafts get its
    /// own name and placeholders for the rest, never someone else's details.
    pub fn config_for(&self, store: &Store, org: &str) -> Result<Config, WebError> {
        if org == crate::store::DEFAULT_ORG {
            return Ok(self.config.clone());
        }
        let mut cfg = self.config.clone();
        cfg.organisation = Default::default();
        cfg.organisation.name = store.organisation_name(org)?;
        cfg.dpo = Default::default();
        cfg.legal_representative = Default::default();
        Ok(cfg)
    }
}

/// The events of a case as the API lists them.
pub fn events_json(l: &Loaded) -> serde_json::Value {
    l.events
        .iter()
        .map(|e| crate::cli::output::event_json(&l.workflow, e))
        .collect()
}

/// A file to download: its type, and the name the browser saves it under.
pub fn attachment(mime: &'static str, filename: &str, body: String) -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The router: API, pages, static files, and the security headers on every answer.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(security_headers))
        .with_state(app)
}

async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// Serves HTTP on `listener` until `stop` resolves.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}

/// What a caller asks of a case, from a form or a JSON body. Fact values are raw JSON
/// (null unsets), typed by the workflow in `decide`, exactly as from the CLI.
#[derive(Default)]
pub struct Change {
    pub facts: Vec<(String, serde_json::Value)>,
    pub note: Option<String>,
    /// When it happened (RFC 3339 or local time in the workflow's zone); None: now.
    pub at: Option<String>,
    /// The last event the caller saw; a newer one makes this a 409.
    pub expected_seq: Option<i64>,
}

/// The operations both the API and the pages perform, each scoped to the caller's
/// organisation and checked against their role.
impl App {
    pub async fn open_case(
        self: &Arc<Self>,
        caller: &Caller,
        workflow: String,
        title: String,
        aware_at: String,
        id: Option<String>,
        facts: Vec<(String, serde_json::Value)>,
    ) -> Result<Arc<Loaded>, WebError> {
        if !caller.user.role.is_dpo() {
            return Err(WebError::forbidden("open a case"));
        }
        let user = caller.user.clone();
        self.write(move |app, store| {
            let wf = app.workflows.get(&workflow).ok_or_else(|| {
                WebError::bad(format!(
                    "unknown workflow '{workflow}' (known: {})",
                    app.workflows.ids().cloned().collect::<Vec<_>>().join(", ")
                ))
            })?;
            if title.trim().is_empty() {
                return Err(WebError::bad("title: a case needs a title"));
            }
            let now = crate::time::now();
            let aware = crate::time::parse_instant(aware_at.trim(), wf.timezone)
                .map_err(|e| WebError::bad(format!("aware_at: {e}")))?;
            let mut facts = facts;
            facts.retain(|(k, _)| k != "aware_at");
            facts.push((
                "aware_at".into(),
                serde_json::Value::String(crate::time::rfc3339_in(aware, wf.timezone)),
            ));
            let cmd = crate::case::Command::Open {
                title: title.trim().to_string(),
                facts,
                at: now,
            };
            let id = id.filter(|s| !s.trim().is_empty());
            let l = Arc::new(store.open_case(
                &user.org,
                &app.workflows,
                &workflow,
                id.as_deref().map(str::trim),
                &cmd,
                &user.actor(),
                now,
            )?);
            app.remember(l.clone());
            Ok(l)
        })
        .await
    }

    /// Sets facts (`event` None) or records a workflow event.
    pub async fn change(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
        event: Option<String>,
        change: Change,
    ) -> Result<Arc<Loaded>, WebError> {
        if !caller.user.role.can_change() {
            return Err(WebError::forbidden(match event {
                Some(_) => "record events",
                None => "change facts",
            }));
        }
        let user = caller.user.clone();
        self.write(move |app, store| {
            let tz = app.load(store, &user.org, &id)?.workflow.timezone;
            let now = crate::time::now();
            let at = match change.at.as_deref().map(str::trim) {
                None | Some("") | Some("now") => now,
                Some(s) => crate::time::parse_instant(s, tz)
                    .map_err(|e| WebError::bad(format!("at: {e}")))?,
            };
            let cmd = match event {
                Some(event) => crate::case::Command::Advance {
                    event,
                    facts: change.facts,
                    note: change.note,
                    at,
                },
                None => crate::case::Command::SetFacts {
                    facts: change.facts,
                    note: change.note,
                    at,
                },
            };
            let l = Arc::new(store.execute_at_seq(
                &user.org,
                &id,
                &cmd,
                &user.actor(),
                now,
                change.expected_seq,
            )?);
            app.remember(l.clone());
            Ok(l)
        })
        .await
    }

    pub async fn case(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
    ) -> Result<Arc<Loaded>, WebError> {
        let org = caller.user.org.clone();
        self.read(move |app, store| app.load(store, &org, &id))
            .await
    }

    /// The organisation's cases, open ones first, nearest deadline first.
    pub async fn cases(
        self: &Arc<Self>,
        caller: &Caller,
        all: bool,
    ) -> Result<Vec<Arc<Loaded>>, WebError> {
        let org = caller.user.org.clone();
        let now = crate::time::now();
        self.read(move |app, store| {
            let mut rows = Vec::new();
            for id in store.case_ids(&org, all)? {
                let l = app.load(store, &org, &id)?;
                let next = crate::case::clock::nearest_due(&crate::case::clocks(
                    &l.workflow,
                    &l.case,
                    now,
                ));
                rows.push((l.case.is_closed(&l.workflow), next.is_none(), next, l));
            }
            rows.sort_by_key(|(closed, none, next, _)| (*closed, *none, *next));
            Ok(rows.into_iter().map(|r| r.3).collect())
        })
        .await
    }

    pub async fn draft(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
        document: String,
        lang: Option<String>,
        format: Option<String>,
    ) -> Result<
        (
            crate::render::Draft,
            crate::render::Format,
            crate::time::Lang,
        ),
        WebError,
    > {
        let org = caller.user.org.clone();
        self.read(move |app, store| {
            let l = app.load(store, &org, &id)?;
            let lang = match lang.as_deref() {
                None | Some("") => l.workflow.lang,
                Some(s) => crate::time::Lang::parse(s)
                    .ok_or_else(|| WebError::bad(format!("lang: '{s}' is not fr or en")))?,
            };
            let format = match format.as_deref() {
                None | Some("") => crate::render::Format::Md,
                Some(s) => crate::render::Format::parse(s).ok_or_else(|| {
                    WebError::bad(format!("format: '{s}' is not md, html or txt"))
                })?,
            };
            let cfg = app.config_for(store, &org)?;
            let d = crate::render::draft(
                &app.templates,
                &cfg,
                &l.workflow,
                &l.case,
                &l.events,
                &document,
                lang,
                format,
                crate::time::now(),
            )?;
            Ok((d, format, lang))
        })
        .await
    }

    pub async fn register(
        self: &Arc<Self>,
        caller: &Caller,
    ) -> Result<Vec<crate::register::Row>, WebError> {
        let org = caller.user.org.clone();
        self.read(move |app, store| {
            let figures = crate::register::ledger_figures(store, &org)?;
            let mut out = Vec::new();
            for id in store.case_ids_by_opening(&org)? {
                let l = app.load(store, &org, &id)?;
                out.push(crate::register::row(&l.workflow, &l.case).with_ledger(&figures));
            }
            Ok(out)
        })
        .await
    }
}
