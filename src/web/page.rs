//! A page: the layout around a body, the page words of each language (`templates/web/ui.*.yaml`),
//! the language a request asks for, and the error page. Every page handler renders through here.

use super::auth::LANG_COOKIE;
use super::page_cache::Frame;
use super::{App, Caller, WebError};
use crate::time::{self, Lang};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use handlebars::Handlebars;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const PAGES: [(&str, &str); 15] = [
    (
        "access",
        include_str!("../../templates/web/access.html.hbs"),
    ),
    (
        "layout",
        include_str!("../../templates/web/layout.html.hbs"),
    ),
    ("login", include_str!("../../templates/web/login.html.hbs")),
    (
        "dashboard",
        include_str!("../../templates/web/dashboard.html.hbs"),
    ),
    ("case", include_str!("../../templates/web/case.html.hbs")),
    (
        "new_case",
        include_str!("../../templates/web/new_case.html.hbs"),
    ),
    (
        "register",
        include_str!("../../templates/web/register.html.hbs"),
    ),
    ("draft", include_str!("../../templates/web/draft.html.hbs")),
    (
        "organisation",
        include_str!("../../templates/web/organisation.html.hbs"),
    ),
    (
        "message",
        include_str!("../../templates/web/message.html.hbs"),
    ),
    // --- calendar feed and settings (issue 13 part 2) ---
    (
        "settings",
        include_str!("../../templates/web/settings.html.hbs"),
    ),
    // --- colleagues: users and invitations (issue 21 part 5) ---
    ("users", include_str!("../../templates/web/users.html.hbs")),
    (
        "invitation",
        include_str!("../../templates/web/invitation.html.hbs"),
    ),
    ("fill", include_str!("../../templates/web/fill.html.hbs")),
    // --- one person, several organisations (issue 25 part 1) ---
    (
        "portfolio",
        include_str!("../../templates/web/portfolio.html.hbs"),
    ),
];
pub(super) const CSS: &str = include_str!("../../templates/web/vigie.css");
pub(super) const JS: &str = include_str!("../../templates/web/vigie.js");

pub fn registry() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    for (name, text) in PAGES {
        hb.register_template_string(name, text)
            .unwrap_or_else(|e| panic!("embedded page template {name}: {e}"));
    }
    hb.register_partial(
        "fact_input",
        include_str!("../../templates/web/fact_input.html.hbs"),
    )
    .unwrap_or_else(|e| panic!("embedded page template fact_input: {e}"));
    super::setup::register(&mut hb);
    hb
}

pub(super) fn ui(lang: Lang) -> &'static Value {
    static FR: OnceLock<Value> = OnceLock::new();
    static EN: OnceLock<Value> = OnceLock::new();
    static NL: OnceLock<Value> = OnceLock::new();
    let (cell, text, name) = match lang {
        Lang::Fr => (
            &FR,
            include_str!("../../templates/web/ui.fr.yaml"),
            "ui.fr.yaml",
        ),
        Lang::En => (
            &EN,
            include_str!("../../templates/web/ui.en.yaml"),
            "ui.en.yaml",
        ),
        Lang::Nl => (
            &NL,
            include_str!("../../templates/web/ui.nl.yaml"),
            "ui.nl.yaml",
        ),
    };
    cell.get_or_init(|| {
        let m: indexmap::IndexMap<String, String> = crate::util::yaml::from_str(text)
            .unwrap_or_else(|e| panic!("embedded templates/web/{name}: {e}"));
        json!(m)
    })
}

pub(super) fn word(lang: Lang, key: &str) -> String {
    ui(lang)[key].as_str().unwrap_or(key).to_string()
}

/// The page language: the `vigie_lang` cookie, else the browser's first language vigie
/// offers (fr, en, nl: `nl-BE` is nl), else fr.
pub(super) fn lang_of(headers: &HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    if let Some(l) = jar.get(LANG_COOKIE).and_then(|c| Lang::parse(c.value())) {
        return l;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for part in accept.split(',') {
        let tag = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = Lang::parse(primary) {
            return l;
        }
    }
    Lang::Fr
}

pub(super) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) struct Page<'a> {
    pub(super) lang: Lang,
    pub(super) caller: Option<&'a Caller>,
    pub(super) title: String,
    pub(super) here: String,
    pub(super) flash: Option<String>,
    pub(super) error: Option<String>,
}

impl<'a> Page<'a> {
    /// A page with nothing to report above its content.
    pub(super) fn of(
        lang: Lang,
        caller: &'a Caller,
        title: String,
        here: impl Into<String>,
    ) -> Page<'a> {
        Page {
            lang,
            caller: Some(caller),
            title,
            here: here.into(),
            flash: None,
            error: None,
        }
    }

    pub(super) fn render(
        &self,
        app: &App,
        template: &str,
        view: Value,
        status: StatusCode,
    ) -> Response {
        let mut view = view;
        // A body's forms carry the session's token: the layout's context is not the
        // body's (a kept body gets a slot marker from its own view instead).
        if view.get("csrf").is_none() {
            view["csrf"] = json!(self.caller.and_then(|c| c.csrf.clone()));
        }
        match render_body(app, template, view, self.lang) {
            Ok(body) => self.finish(app, body, status),
            Err(e) => e.into_response(),
        }
    }

    /// The page around a body already rendered.
    pub(super) fn finish(&self, app: &App, body: String, status: StatusCode) -> Response {
        self.finish_with(app, body.len(), |out| out.push_str(&body), status)
    }

    /// The page around a body that `write` appends (`len`: about its length).
    ///
    /// The layout is kept as two frames (before and after the body), by the layout's
    /// whole view with slot markers for what changes on every request (the time and
    /// the CSRF token): handlebars renders it once per caller, language and page, not
    /// on every request. With `VIGIE_PAGE_CACHE_CHECK=1` every kept frame is compared
    /// with a fresh render.
    pub(super) fn finish_with(
        &self,
        app: &App,
        len: usize,
        write: impl FnOnce(&mut String),
        status: StatusCode,
    ) -> Response {
        let marks = &app.page_cache.marks;
        let t = ui(self.lang);
        let words: serde_json::Map<String, Value> = [
            "dashboard",
            "register",
            "new_case",
            "organisation",
            "sign_out",
            "settings",
            "users",
        ]
        .iter()
        .map(|k| (k.to_string(), t[*k].clone()))
        .collect();
        let csrf = self.caller.and_then(|c| c.csrf.clone());
        let mut layout = json!({
            "lang": self.lang.code(),
            // The other languages, each named in itself.
            "other_langs": Lang::ALL.iter().filter(|l| **l != self.lang)
                .map(|l| json!({"code": l.code(), "name": l.name()})).collect::<Vec<_>>(),
            "page_title": self.title,
            "here": encode(&self.here),
            "now": marks.slot(0),
            "user": self.caller.map(|c| json!({
                "email": c.user.email, "org": c.user.org,
                // The organisation by its name (the id where none is known).
                "org_name": c.orgs.iter().find(|o| o.0 == c.user.org).map_or(&c.user.org, |o| &o.1),
                "role": word(self.lang, &format!("role_{}", c.user.role.as_str())),
            })),
            "csrf": csrf.as_ref().map(|_| marks.slot(1)),
            "can_open": self.caller.is_some_and(|c| c.user.role.is_dpo()),
            "flash": self.flash,
            "error": self.error,
            // The body goes in afterwards: handlebars would copy it piece by piece.
            "body": marks.body(),
        });
        // Moved in, not copied by `json!`.
        layout["t"] = Value::Object(words);
        layout["switcher"] = switcher(self.caller, self.lang).unwrap_or(Value::Null);
        let values = [time::now().to_rfc3339(), csrf.unwrap_or_default()];
        let frames = match layout_frames(app, layout) {
            Ok(f) => f,
            Err(e) => return e.into_response(),
        };
        let (head, tail) = (&frames.0, &frames.1);
        let mut page = String::with_capacity(head.text_len() + len + 256 + tail.text_len());
        head.fill_into(&mut page, &values);
        write(&mut page);
        tail.fill_into(&mut page, &values);
        (status, Html(page)).into_response()
    }
}

/// The layout's frames before and after the body, by the layout's view.
type Layouts = Mutex<HashMap<String, Arc<(Frame, Frame)>>>;
static LAYOUTS: OnceLock<Layouts> = OnceLock::new();
/// At most this many layouts are kept (a few KB each); when full, it starts again empty.
const MAX_LAYOUTS: usize = 1024;

/// The layout rendered from `layout` (holding slot markers and the body's marker),
/// split at the body: kept, or rendered and kept.
fn layout_frames(app: &App, layout: Value) -> Result<Arc<(Frame, Frame)>, WebError> {
    let kept = LAYOUTS.get_or_init(Default::default);
    // The markers are drawn per server: two servers in one process never share one.
    let key = layout.to_string();
    let found = kept.lock().expect("layouts").get(&key).cloned();
    if let Some(f) = &found
        && !app.page_cache.check
    {
        return Ok(f.clone());
    }
    let html = app
        .pages
        .render_with_context("layout", &handlebars::Context::from(layout))
        .map_err(|e| {
            super::log(&format!("page template layout: {e}"));
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "page template error")
        })?;
    let marks = &app.page_cache.marks;
    let (head, tail) = html.split_once(&marks.body()).unwrap_or((&html, ""));
    let fresh = Arc::new((marks.frame(head), marks.frame(tail)));
    if let Some(f) = found {
        super::pages::checked(&f.0, &fresh.0, "layout")?;
        super::pages::checked(&f.1, &fresh.1, "layout")?;
    }
    let mut m = kept.lock().expect("layouts");
    if m.len() >= MAX_LAYOUTS {
        m.clear();
    }
    m.insert(key, fresh.clone());
    Ok(fresh)
}

/// The header's organisation switcher and portfolio link (issue 25 part 1): only for a
/// person with more than one organisation; it offers their enabled memberships, and
/// nothing else.
fn switcher(caller: Option<&Caller>, lang: Lang) -> Option<Value> {
    let c = caller.filter(|c| c.orgs.len() > 1)?;
    Some(json!({
        "orgs": c.orgs.iter().map(|(id, name, role)| json!({
            "id": id, "name": name, "selected": *id == c.user.org,
            "role": word(lang, &format!("role_{}", role.as_str())),
        })).collect::<Vec<_>>(),
        "portfolio": word(lang, "portfolio"),
        "switch": word(lang, "switch_org"),
        "label": word(lang, "switch_label"),
    }))
}

/// A page's own template rendered with `view` and the page words (`t`).
pub(super) fn render_body(
    app: &App,
    template: &str,
    mut view: Value,
    lang: Lang,
) -> Result<String, WebError> {
    view["t"] = ui(lang).clone();
    // A Context made from the Value itself: handlebars does not serialize it again.
    app.pages
        .render_with_context(template, &handlebars::Context::from(view))
        .map_err(|e| {
            super::log(&format!("page template {template}: {e}"));
            WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "page template error")
        })
}

/// What a page says of an error: a generic one in the page's language (the API keeps
/// the message).
pub(super) fn said_in(lang: Lang, e: &WebError) -> String {
    match e.word {
        Some(key) => word(lang, key),
        None => e.message.clone(),
    }
}

/// An error page (404 for another organisation's case, like an unknown one).
pub(super) fn error_page(app: &App, lang: Lang, caller: &Caller, e: WebError) -> Response {
    let e = WebError::new(e.status, said_in(lang, &e));
    let heading = if e.status == StatusCode::NOT_FOUND {
        word(lang, "not_found")
    } else {
        e.message.clone()
    };
    Page {
        lang,
        caller: Some(caller),
        title: heading.clone(),
        here: "/".into(),
        flash: None,
        error: (e.status != StatusCode::NOT_FOUND).then(|| e.message.clone()),
    }
    .render(app, "message", json!({"heading": heading}), e.status)
}

/// A signed-in form's CSRF token checked; on refusal, the page that says the form
/// expired.
#[allow(clippy::result_large_err)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::auth::local_target;

    #[test]
    fn embedded_pages_and_words_load() {
        let _ = registry();
        for lang in Lang::ALL {
            let fr: serde_json::Map<String, Value> = ui(Lang::Fr).as_object().unwrap().clone();
            let other = ui(lang).as_object().unwrap();
            for k in fr.keys() {
                assert!(
                    other.contains_key(k),
                    "{k} missing in ui.{}.yaml",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn only_local_paths_after_sign_in() {
        assert_eq!(local_target(Some("/cases/x?ok=1")), "/cases/x?ok=1");
        assert_eq!(local_target(Some("/café d")), "/caf%C3%A9%20d");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "x",
            "/\t/evil/",
            "/\n",
            "/\r",
            "/\u{7f}",
            "/\0",
            "/\u{85}",
        ] {
            assert_eq!(local_target(Some(bad)), "/", "{bad:?}");
        }
    }
}
