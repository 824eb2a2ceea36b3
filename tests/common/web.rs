//! A real `vigie serve` on a random loopback port, against a fresh database, with two
//! organisations and one user per role; and a small cookie-keeping HTTP client.

use super::Vigie;
use reqwest::blocking::{Client, Response};
use reqwest::header::{COOKIE, HeaderMap, SET_COOKIE};
use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::Child;
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "correct horse battery staple";

/// The users every server starts with: (org, email, role).
pub const USERS: [(&str, &str, &str); 5] = [
    ("acme", "dpo@acme.example", "dpo"),
    ("acme", "contrib@acme.example", "contributor"),
    ("acme", "viewer@acme.example", "viewer"),
    ("other", "dpo@other.example", "dpo"),
    ("other", "contrib@other.example", "contributor"),
];

pub struct Server {
    pub v: Vigie,
    pub base: String,
    serve: super::process::Serve,
    pub tokens: BTreeMap<String, String>,
}

impl Server {
    /// Organisations `acme` and `other`, the users of [`USERS`] with an API token each,
    /// then `vigie serve --listen 127.0.0.1:0` with the clock shifted by `offset`.
    pub fn start_with_offset(offset: &str) -> Server {
        Server::start_on(Vigie::new(), offset)
    }

    /// [`Server::start_with_offset`] on a database of the caller's choice (a fresh one).
    pub fn start_on(v: Vigie, offset: &str) -> Server {
        Server::start_on_with(v, offset, "")
    }

    /// [`Server::start`] with lines added to its configuration file (`http: {...}`).
    pub fn start_with_config(extra: &str) -> Server {
        Server::start_on_with(Vigie::new(), "0s", extra)
    }

    fn start_on_with(v: Vigie, offset: &str, extra: &str) -> Server {
        v.ok(&["org", "add", "acme", "--name", "ACME SA"]);
        v.ok(&["org", "add", "other", "--name", "Other SA"]);
        let mut tokens = BTreeMap::new();
        for (org, email, role) in USERS {
            let out = v.run_stdin(
                &["--org", org, "user", "add", email, "--role", role],
                &format!("{PASSWORD}\n"),
            );
            assert_eq!(out.code, 0, "user add {email}: {}", out.stderr);
            let token = v.ok(&["user", "token", email, "--name", "tests"]);
            tokens.insert(email.to_string(), token.trim().to_string());
        }
        Server::spawn_with(v, tokens, offset, extra)
    }

    /// A second `vigie serve` on this server's database (its own folder, config and
    /// log; the same users and tokens): several instances behind one load balancer.
    pub fn another_instance(&self, offset: &str) -> Server {
        Server::spawn(self.v.same_database(), self.tokens.clone(), offset)
    }

    fn spawn(v: Vigie, tokens: BTreeMap<String, String>, offset: &str) -> Server {
        Server::spawn_with(v, tokens, offset, "")
    }

    fn spawn_with(v: Vigie, tokens: BTreeMap<String, String>, offset: &str, extra: &str) -> Server {
        let cfg = v.dir().join("vigie.yaml");
        std::fs::write(
            &cfg,
            format!(
                "organisation: {{ name: Exemple SA }}\n\
                 dpo: {{ name: Camille Martin, email: dpo@example.org }}\n\
                 mail: {{ from: vigie <vigie@example.org>, transport: file, outbox_dir: ./outbox }}\n\
                 reminders: {{ to: [dpo@example.org] }}\n{extra}"
            ),
        )
        .expect("write config");
        let mut serve = v
            .serve()
            .config(&cfg)
            .listen("127.0.0.1:0")
            .env("VIGIE_NOW_OFFSET", offset)
            // Every page served from the page cache is compared with a fresh render.
            .env("VIGIE_PAGE_CACHE_CHECK", "1")
            .spawn();
        Server {
            base: serve.url(),
            v,
            serve,
            tokens,
        }
    }

    pub fn start() -> Server {
        Server::start_with_offset("0s")
    }

    pub fn log(&self) -> String {
        self.serve.log()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn token(&self, email: &str) -> &str {
        &self.tokens[email]
    }

    /// A JSON API client acting as `email` with their bearer token.
    pub fn api(&self, email: &str) -> Api {
        Api {
            client: client(),
            base: self.base.clone(),
            token: Some(self.token(email).to_string()),
        }
    }

    /// A client sending any bearer token.
    pub fn api_with_token(&self, token: &str) -> Api {
        Api {
            client: client(),
            base: self.base.clone(),
            token: Some(token.to_string()),
        }
    }

    /// A client with no credentials.
    pub fn anonymous(&self) -> Api {
        Api {
            client: client(),
            base: self.base.clone(),
            token: None,
        }
    }

    /// A cookie-keeping client signed in through the sign-in form.
    pub fn browser(&self, email: &str) -> Browser {
        let mut b = Browser::new(&self.base);
        let r = b.login(email, PASSWORD);
        assert_eq!(r.status().as_u16(), 303, "sign-in of {email} redirects");
        b
    }
}

/// Waits until the `vigie serve` whose output goes to `log` listens; its base URL
/// (`http://127.0.0.1:PORT`). Panics with the log when it exits first.
pub fn listening_at(child: &mut Child, log: &std::path::Path) -> String {
    let t0 = Instant::now();
    loop {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(log) {
            let _ = f.read_to_string(&mut text);
        }
        if let Some(i) = text.find("web page and API on http://") {
            let rest = &text[i + "web page and API on ".len()..];
            let url = rest.split_whitespace().next().expect("an address");
            return url.trim_end_matches('/').to_string();
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("vigie serve exited ({status}) before listening:\n{text}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "vigie serve did not listen within 20 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("HTTP client")
}

pub struct Api {
    pub client: Client,
    pub base: String,
    token: Option<String>,
}

/// A status and the JSON body.
pub struct Answer {
    pub status: u16,
    pub json: serde_json::Value,
    pub headers: HeaderMap,
}

impl Api {
    fn send(&self, rb: reqwest::blocking::RequestBuilder) -> Answer {
        let rb = match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        };
        let r = rb.send().expect("the server answers");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().expect("a body");
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        Answer {
            status,
            json,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(format!("{}{path}", self.base)))
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> Answer {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body))
    }

    pub fn post_raw(&self, path: &str, body: &str) -> Answer {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    }
}

/// Keeps cookies like a browser would (by name; this client talks to one site).
pub struct Browser {
    pub client: Client,
    base: String,
    pub cookies: BTreeMap<String, String>,
    /// Every Set-Cookie header seen, whole, to check the attributes.
    pub set_cookies: Vec<String>,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            client: client(),
            base: base.to_string(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    fn keep(&mut self, r: &Response) {
        for v in r.headers().get_all(SET_COOKIE) {
            let v = v.to_str().expect("ASCII cookie").to_string();
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), val.to_string());
                }
            }
            self.set_cookies.push(v);
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A GET; a page's forms are checked to carry their CSRF token ([`assert_form_tokens`]).
    #[track_caller]
    pub fn get(&mut self, path: &str) -> (u16, String, HeaderMap) {
        let (status, body, headers) = self.get_bytes(path);
        let html = String::from_utf8_lossy(&body).into_owned();
        if headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"))
        {
            assert_form_tokens(&html, path);
        }
        (status, html, headers)
    }

    /// A GET whose body is bytes (a PDF), with its status and headers.
    pub fn get_bytes(&mut self, path: &str) -> (u16, Vec<u8>, HeaderMap) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .expect("the server answers");
        self.keep(&r);
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.bytes().expect("a body").to_vec(), headers)
    }

    pub fn post_form(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let body: String = form_encode(form);
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .expect("the server answers");
        self.keep(&r);
        r
    }

    pub fn login(&mut self, email: &str, password: &str) -> Response {
        let (status, html, _) = self.get("/login");
        assert_eq!(status, 200);
        let token = hidden(&html, "_login").expect("the sign-in form has a CSRF field");
        self.post_form(
            "/login",
            &[
                ("_login", &token),
                ("email", email),
                ("password", password),
                ("next", "/"),
            ],
        )
    }
}

pub fn form_encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The value of the first hidden input named `name` in a page. Not for `_csrf`: every
/// form carries its own, and a test submits the token of the form it submits
/// ([`form_token`]).
#[track_caller]
pub fn hidden(html: &str, name: &str) -> Option<String> {
    assert_ne!(
        name, "_csrf",
        "take the CSRF token of the form you submit: form_token(html, action)"
    );
    hidden_in(html, name)
}

fn hidden_in(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let i = html.find(&needle)? + needle.len();
    let rest = &html[i..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Makes the user's calendar address on the settings page; returns it (path and query).
pub fn calendar_address(b: &mut Browser) -> String {
    let (status, html, _) = b.get("/settings");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"calendar-none\""), "{html}");
    let csrf = form_token(&html, "/settings/calendar").expect("the settings page has a CSRF token");
    let r = b.post_form("/settings/calendar", &[("_csrf", &csrf), ("action", "new")]);
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().unwrap();
    let needle = "id=\"calendar-url\" value=\"";
    let i = html.find(needle).expect("the address is shown once") + needle.len();
    let url = html[i..][..html[i..].find('"').unwrap()]
        .replace("&#x3D;", "=")
        .replace("&amp;", "&");
    let path = url[url.find("/calendar.ics").expect("a feed address")..].to_string();
    assert!(path.starts_with("/calendar.ics?token=vcal_"), "{path}");
    // Shown once: the page read again names when it was made, not the secret.
    let (_, again, _) = b.get("/settings");
    assert!(!again.contains(&path[path.find("vcal_").unwrap()..]));
    assert!(again.contains("id=\"calendar-since\""), "{again}");
    path
}

/// The `<form>` elements of a page whose method is POST: (action, the form's HTML).
pub fn post_forms(html: &str) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<form") {
        let form = &rest[i..];
        let end = form
            .find("</form>")
            .map(|e| e + "</form>".len())
            .unwrap_or(form.len());
        let (this, after) = form.split_at(end);
        let tag = &this[..this.find('>').unwrap_or(this.len())];
        let attr = |name: &str| {
            let needle = format!("{name}=\"");
            tag.find(&needle).map(|j| {
                let v = &tag[j + needle.len()..];
                v[..v.find('"').unwrap_or(v.len())].to_string()
            })
        };
        if attr("method").is_some_and(|m| m.eq_ignore_ascii_case("post")) {
            out.push((attr("action").unwrap_or_default(), this));
        }
        rest = after;
    }
    out
}

/// The CSRF token of the page's form that posts to `action` (the first one, when a page
/// has several forms to the same address: their tokens are the same session's).
pub fn form_token(html: &str, action: &str) -> Option<String> {
    post_forms(html)
        .into_iter()
        .find(|(a, _)| a.replace("&#x2F;", "/") == action)
        .and_then(|(_, form)| hidden_in(form, "_csrf"))
}

/// Every POST form of a signed-in page carries a token, and none is empty: a form with
/// an empty `_csrf` is refused on every submit ("this form has expired").
#[track_caller]
pub fn assert_form_tokens(html: &str, page: &str) {
    for (action, form) in post_forms(html) {
        // The sign-in and setup forms have their own (double-submit / link) tokens.
        if action == "/login" || action.starts_with("/setup/") {
            continue;
        }
        match hidden_in(form, "_csrf") {
            Some(t) if !t.is_empty() => {}
            Some(_) => panic!("{page}: the form posting to {action} has an empty _csrf"),
            None => panic!("{page}: the form posting to {action} has no _csrf"),
        }
    }
}

/// `vigie serve` as a new user first runs it: no `--config`, in a folder of its own, on
/// a database with no account. Returns the server, its address and the one-time setup
/// link read from its output.
pub fn first_start(v: &Vigie) -> (super::process::Serve, String, String) {
    let folder = v.dir().join("run");
    std::fs::create_dir_all(&folder).unwrap();
    let mut serve = v
        .serve()
        .in_dir(&folder)
        .log(folder.join("serve.log"))
        .listen("127.0.0.1:0")
        .spawn();
    let base = serve.url();
    let t0 = Instant::now();
    let link = loop {
        let text = serve.log();
        if let Some(w) = text.split_whitespace().find(|w| w.contains("/setup/")) {
            break w.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no setup link:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    (serve, base, link)
}
