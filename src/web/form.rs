//! What a page's request brings, as extractors: the page language (`PageLang`), the
//! signed-in caller with the language (`PageCtx`), and a submitted form whose CSRF token
//! is already checked (`PageForm`). A handler that takes a `PageForm` cannot forget the
//! check, and a form whose token is missing or wrong gets the page that says the form
//! expired, before the handler runs. `PageError` is an error page already rendered, so
//! handlers return `Result<Response, PageError>` and use `?`.

use super::auth::PageCaller;
use super::page::{Page, error_page, lang_of, word};
use super::{App, Caller, WebError};
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use std::convert::Infallible;
use std::sync::Arc;

/// The page language of a request (see `page::lang_of`).
pub(super) struct PageLang(pub Lang);

use crate::time::Lang;

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(PageLang(lang_of(&parts.headers)))
    }
}

/// A signed-in page request: the application, the caller (by session) and the language.
/// Without a session, the browser is sent to sign in.
#[derive(Clone)]
pub(super) struct PageCtx {
    pub app: Arc<App>,
    pub caller: Caller,
    pub lang: Lang,
}

impl<S> FromRequestParts<S> for PageCtx
where
    Arc<App>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let app = Arc::<App>::from_ref(state);
        let PageCaller(caller) = PageCaller::from_request_parts(parts, &app).await?;
        Ok(PageCtx {
            app,
            caller,
            lang: lang_of(&parts.headers),
        })
    }
}

impl PageCtx {
    /// A page with nothing to report above its content.
    pub fn page(&self, title: String, here: impl Into<String>) -> Page<'_> {
        Page::of(self.lang, &self.caller, title, here)
    }

    /// A word of the page's language.
    pub fn word(&self, key: &str) -> String {
        word(self.lang, key)
    }

    /// The error page for `e` (404 for another organisation's case, like an unknown one).
    pub fn error(&self, e: WebError) -> PageError {
        PageError(error_page(&self.app, self.lang, &self.caller, e))
    }

    /// `error` as a closure, for `map_err`.
    pub fn fail(&self) -> impl Fn(WebError) -> PageError + '_ {
        |e| self.error(e)
    }
}

/// A submitted form (`application/x-www-form-urlencoded`), parsed, whose `_csrf` is this
/// session's token.
pub(super) struct PageForm {
    pub ctx: PageCtx,
    pub form: Form,
}

impl<S> FromRequest<S> for PageForm
where
    Arc<App>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let ctx = PageCtx::from_request_parts(&mut parts, state).await?;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Form::parse(&bytes);
        if let Err(e) = ctx.caller.check_csrf(form.get("_csrf")) {
            let expired = WebError::new(e.status, ctx.word("bad_form"));
            return Err(ctx.error(expired).into_response());
        }
        Ok(PageForm { ctx, form })
    }
}

/// An error page, rendered: what a page handler returns on failure.
pub(super) struct PageError(pub Response);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        self.0
    }
}

impl From<Response> for PageError {
    fn from(r: Response) -> PageError {
        PageError(r)
    }
}

/// What a page handler returns.
pub(super) type PageResult = Result<Response, PageError>;

/// The 303 after a change that worked.
pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A form's fields in the order sent (a name may repeat: check boxes).
#[derive(Debug, Clone, Default)]
pub(super) struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn parse(bytes: &Bytes) -> Form {
        Form(parse_form(bytes))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        field(&self.0, name)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

pub(super) fn parse_form(bytes: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
