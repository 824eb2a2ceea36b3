//! The HTTP side of `vigie serve` (axum): a JSON API under `/api` and server-rendered
//! pages for the DPO, over the same core as the CLI.
//!
//! Isolation: every handler gets the organisation from the signed-in user and passes it
//! to the store, whose queries all filter on it; another organisation's case is simply
//! not found (404), never forbidden (403), so its existence does not leak either.
//!
//! The database is used from blocking threads through a small pool of connections. On
//! SQLite, writes go through one connection behind a mutex, so writers queue in the
//! process instead of sleeping in SQLite's busy handler; on PostgreSQL they use the pool
//! (the writers of one case serialise on its row). Nothing a request needs is kept in
//! this process alone (sessions, CSRF tokens and the sign-in throttle are in the
//! database), so any number of instances can answer behind a load balancer.

mod access;
mod api;
mod auth;
mod calendar;
mod form;
pub(crate) mod issued;
// --- sign-in through the company's identity provider (issue 25 part 2) ---
mod oidc;
mod page;
mod page_cache;
mod pages;
mod regimes;
mod setup;
mod users;

use crate::app::{AppError, Change};
use crate::catalog::WorkflowSet;
use crate::config::Config;
use crate::store::{Loaded, Store, StoreError};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use auth::Caller;

/// Everything a request needs, shared by every handler: the application layer (whose
/// use-cases every handler calls), the page templates, and the database connections.
pub struct App {
    core: crate::app::App,
    pages: handlebars::Handlebars<'static>,
    readers: Mutex<Vec<Store>>,
    /// How many reads run at once (each on a blocking thread with its own connection).
    /// More than a few per core only adds threads and connections contending for the
    /// same cores and the database's locks: a request waits here instead, and the pool
    /// never holds more connections than this.
    read_slots: tokio::sync::Semaphore,
    read_slot_count: usize,
    writer: Mutex<Option<Store>>,
    /// PostgreSQL serialises the writers of one case on its row: writes go through the
    /// pool like reads. SQLite has one writer at a time: they queue on `writer` here
    /// rather than sleep in SQLite's busy handler.
    pooled_writes: bool,
    /// Labels by (workflow hash, language): parsed once, not on every page.
    labels: Mutex<HashMap<(String, crate::time::Lang), Arc<crate::render::Labels>>>,
    /// Case pages and dashboards rendered once per version (issue 14).
    page_cache: page_cache::PageCache,
}

/// The web's `App` is the application layer plus what HTTP needs.
impl std::ops::Deref for App {
    type Target = crate::app::App;
    fn deref(&self) -> &crate::app::App {
        &self.core
    }
}

/// An error as the API and the pages report it: a status and one line.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub message: String,
    /// The page words (`templates/web/ui.*.yaml`) that say it in the page's language,
    /// when the message is generic (a role, a conflict, a busy or failing server); the
    /// API keeps `message`.
    pub word: Option<&'static str>,
    /// The core's refusal, when it is one: a page says it with the workflow's labels
    /// (`app::refusal`).
    pub rejected: Option<Arc<crate::case::Rejected>>,
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> WebError {
        WebError {
            status,
            message: message.into(),
            word: None,
            rejected: None,
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
        .said("err_forbidden")
    }

    /// The page words that say this error (see [`WebError::word`]).
    pub fn said(mut self, word: &'static str) -> WebError {
        self.word = Some(word);
        self
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> WebError {
        WebError::from(AppError::Store(e))
    }
}

/// The status of a use-case's failure: 404 for a case that is not the caller's (so
/// another organisation's case looks exactly like a missing one), 409 for a conflict,
/// 400 for what the caller can correct, 503 when the database is busy, else 500.
impl From<AppError> for WebError {
    fn from(e: AppError) -> WebError {
        use crate::render::RenderError as R;
        let status = match &e {
            AppError::Store(StoreError::UnknownCase(_)) => StatusCode::NOT_FOUND,
            AppError::Render(R::UnknownDocument { .. }) => StatusCode::NOT_FOUND,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Store(StoreError::Conflict { .. } | StoreError::CaseExists(_)) => {
                StatusCode::CONFLICT
            }
            AppError::Store(s) if s.is_busy() => StatusCode::SERVICE_UNAVAILABLE,
            e if e.is_input() => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            log(&format!("internal error: {e}"));
        }
        let word = match &e {
            AppError::Store(StoreError::Conflict { .. }) => Some("err_conflict"),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some("err_busy"),
            _ if status == StatusCode::INTERNAL_SERVER_ERROR => Some("err_server"),
            _ => None,
        };
        let message = e.to_string();
        let rejected = match e {
            AppError::Store(StoreError::Rejected(r)) => Some(Arc::new(r)),
            _ => None,
        };
        WebError {
            word,
            rejected,
            ..WebError::new(status, message)
        }
    }
}

impl From<crate::render::RenderError> for WebError {
    fn from(e: crate::render::RenderError) -> WebError {
        WebError::from(AppError::Render(e))
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

/// Cases a list skipped because they cannot be read back: logged for the operator
/// (`vigie audit verify` names them); the list itself still answers.
fn log_unreadable(org: &str, unreadable: &[crate::store::Unreadable]) {
    for u in unreadable {
        log(&format!("organisation {org}: {}", u.warning()));
    }
}

pub(crate) fn log(msg: &str) {
    eprintln!(
        "{} vigie http: {msg}",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
}

/// Reads at once (`read_slots`). A SQLite read runs on this machine's cores: two per
/// core (at least 4) keep them busy. A PostgreSQL read mostly waits for its server's
/// answers: eight per core (at most 64 connections of this instance).
fn read_slot_count(postgres: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    match postgres {
        false => (2 * cores).clamp(4, 32),
        true => (8 * cores).clamp(8, 64),
    }
}

impl App {
    pub fn new(db: String, config: Config, workflows: WorkflowSet) -> Result<App, StoreError> {
        // Open (and migrate) once here, so a bad path fails at start, not on a request.
        let writer = Store::open_url(&db)?;
        let pooled_writes = writer.kind() == "postgres";
        Ok(App {
            pooled_writes,
            core: crate::app::App::new(db, config, workflows),
            pages: page::registry(),
            readers: Mutex::new(Vec::new()),
            read_slots: tokio::sync::Semaphore::new(read_slot_count(pooled_writes)),
            read_slot_count: read_slot_count(pooled_writes),
            writer: Mutex::new(Some(writer)),
            labels: Mutex::new(HashMap::new()),
            page_cache: page_cache::PageCache::new(),
        })
    }

    fn reader(&self) -> Result<Store, StoreError> {
        if let Some(s) = self.readers.lock().expect("pool").pop() {
            return Ok(s);
        }
        Store::open_url(&self.db)
    }

    /// Runs `f` on a reading connection, on a blocking thread.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&App, &mut Store) -> Result<T, WebError> + Send + 'static,
    {
        let _slot = self
            .read_slots
            .acquire()
            .await
            .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = app.reader()?;
            let r = f(&app, &mut store);
            // A connection that failed (the server restarted, say) is not kept: the next
            // request opens a new one.
            let healthy = match &r {
                Ok(_) => true,
                Err(e) => e.status.as_u16() < 500,
            };
            let mut idle = app.readers.lock().expect("pool");
            if healthy && idle.len() < app.read_slot_count {
                idle.push(store);
            }
            r
        })
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    }

    /// Runs `f` on the one writing connection (SQLite) or a pooled one (PostgreSQL), on
    /// a blocking thread. The use-cases that change a case wake the dispatchers themselves.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&App, &mut Store) -> Result<T, WebError> + Send + 'static,
    {
        if self.pooled_writes {
            return self.read(f).await;
        }
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = app.writer.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                *guard = Some(Store::open_url(&app.db)?);
            }
            let r = f(&app, guard.as_mut().expect("opened above"));
            if matches!(&r, Err(e) if e.status.as_u16() >= 500) {
                *guard = None;
            }
            r
        })
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
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
}

/// The events of a case as the API lists them.
pub fn events_json(l: &Loaded) -> serde_json::Value {
    l.events
        .iter()
        .map(|e| crate::app::json::event_json(&l.workflow, e))
        .collect()
}

/// A file to download: its type, and the name the browser saves it under.
pub fn attachment(mime: &'static str, filename: &str, body: String) -> Response {
    attachment_bytes(mime, filename, body.into_bytes())
}

/// The same for bytes that are not text (a PDF, a kept acknowledgement under the name
/// and type it came with: a type that is not a header value is sent as bytes).
pub fn attachment_bytes(mime: &str, filename: &str, body: Vec<u8>) -> Response {
    let mime =
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let mut r = ([(header::CONTENT_TYPE, mime)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition(filename)) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `attachment` with the file's name: a plain ASCII fallback (quotes, backslashes,
/// control and non-ASCII characters replaced) and the exact name in RFC 5987 form.
fn disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|ch| {
            if (ch.is_ascii_graphic() && ch != '"' && ch != '\\') || ch == ' ' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    let exact: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{exact}")
}

/// The router: API, pages, static files, and the security headers on every answer.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        // --- calendar feed and settings (issue 13 part 2) ---
        .merge(calendar::routes())
        // --- first start: the one-time setup link (issue 13) ---
        .merge(setup::routes())
        // --- issued documents, access log, register for an inspection (issue 13 parts 4-5) ---
        .merge(issued::routes())
        // --- sign-in through the company's identity provider (issue 25 part 2) ---
        .merge(oidc::routes())
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

/// Who a use-case runs for: the signed-in caller's organisation, and the actor the
/// register names (never the request's).
#[derive(Clone)]
pub struct Me {
    pub org: String,
    pub actor: String,
}

/// The application layer scoped to the signed-in caller (see [`App::for_caller`]): the
/// one way a handler runs a use-case. A role the use-case needs is checked first (403),
/// before the application layer runs.
pub struct ForCaller {
    app: Arc<App>,
    user: crate::store::User,
}

impl App {
    /// The application layer for `caller`: its use-cases run for the caller's
    /// organisation and actor.
    pub fn for_caller(self: &Arc<Self>, caller: &Caller) -> ForCaller {
        ForCaller {
            app: self.clone(),
            user: caller.user.clone(),
        }
    }

    /// Whether `event` records the risk decision in workflow `wf` (its assessment rules
    /// name the event).
    pub fn is_decision(&self, wf: &str, event: &str) -> bool {
        self.workflows
            .rules(wf)
            .is_some_and(|r| r.records.event == event)
    }
}

impl ForCaller {
    fn me(&self) -> Me {
        Me {
            org: self.user.org.clone(),
            actor: self.user.actor(),
        }
    }

    /// Refuses (403) unless the caller is their organisation's DPO; `what` names what
    /// was refused ("open a case").
    pub fn dpo(self, what: &str) -> Result<ForCaller, WebError> {
        match self.user.role.is_dpo() {
            true => Ok(self),
            false => Err(WebError::forbidden(what)),
        }
    }

    /// Runs a use-case that reads, on a reading connection.
    pub async fn read<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&crate::app::App, &mut Store, &Me) -> Result<T, AppError> + Send + 'static,
    {
        let me = self.me();
        self.app
            .read(move |app, store| Ok(f(&app.core, store, &me)?))
            .await
    }

    /// Runs a use-case that writes, on the writing connection.
    pub async fn write<T, F>(&self, f: F) -> Result<T, WebError>
    where
        T: Send + 'static,
        F: FnOnce(&crate::app::App, &mut Store, &Me) -> Result<T, AppError> + Send + 'static,
    {
        let me = self.me();
        self.app
            .write(move |app, store| Ok(f(&app.core, store, &me)?))
            .await
    }

    /// Sets facts (`event` None) or records a workflow event: a role that may change
    /// cases only, and the risk decision (the event the assessment rules record it with)
    /// the DPO's only, like accepting the recommendation. Another organisation's case
    /// stays a 404.
    pub async fn change(&self, id: String, change: Change) -> Result<Arc<Loaded>, WebError> {
        if !self.user.role.can_change() {
            return Err(WebError::forbidden(match change.event {
                Some(_) => "record events",
                None => "change facts",
            }));
        }
        if let Some(ev) = &change.event
            && !self.user.role.is_dpo()
        {
            let case = id.clone();
            let l = self
                .read(move |core, store, me| core.case(store, &me.org, &case))
                .await?;
            if self.app.is_decision(&l.workflow.id, ev) {
                return Err(WebError::forbidden("record the risk decision"));
            }
        }
        self.write(move |core, store, me| {
            core.change(store, &me.org, &me.actor, &id, change, crate::time::now())
        })
        .await
    }
}

/// The rows of a list, the ones that cannot be read back logged (never silently left out).
pub fn logged<T>(org: &str, (rows, unreadable): (T, Vec<crate::store::Unreadable>)) -> T {
    log_unreadable(org, &unreadable);
    rows
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn the_name_is_kept_and_cannot_break_the_header() {
        assert_eq!(
            disposition("accusé \"cnil\".pdf"),
            "attachment; filename=\"accus_ _cnil_.pdf\"; filename*=UTF-8''accus%C3%A9%20%22cnil%22.pdf"
        );
        assert!(!disposition("a\r\nb.pdf").contains('\n'));
    }
}
