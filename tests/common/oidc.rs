//! A real OpenID Connect provider for the sign-in tests (issue 25 part 2): panva's
//! `oidc-provider` from npm, run by `tests/oidc/provider.mjs` with Node on a free
//! loopback port, killed on drop. `npm ci` installs it when `node_modules` is missing
//! (`.ci/run` does it too).
//!
//! Also here: a `vigie serve` configured with that provider ([`Site`]), and a small
//! cookie-keeping HTTP client ([`Agent`]) that signs in at the provider as a person
//! would, through its own sign-in page.
#![allow(dead_code)]

use super::Vigie;
use super::process::Serve;
use reqwest::blocking::Client;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "vigie-tests";
pub const CLIENT_SECRET: &str = "a-client-secret-for-these-tests-only";
pub const PASSWORD: &str = "correct horse battery staple";

/// The users every [`Site`] starts with: (org, email, role). `acme` requires the
/// provider (`required_for`); `other`'s domain is not allowed through it.
pub const USERS: [(&str, &str, &str); 4] = [
    ("acme", "dpo@acme.example", "dpo"),
    ("acme", "viewer@acme.example", "viewer"),
    ("other", "dpo@other.example", "dpo"),
    ("other", "contrib@other.example", "contributor"),
];

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("its address")
        .port()
}

fn provider_dir() -> PathBuf {
    super::repo("tests/oidc")
}

/// `npm ci` once per run when the provider's packages are not installed.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if provider_dir().join("node_modules/oidc-provider").exists() {
            return;
        }
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(provider_dir())
            .status()
            .expect("npm runs (Node 20 or later: apt-get install nodejs npm)");
        assert!(st.success(), "npm ci --prefix tests/oidc failed");
    });
}

/// A running provider, killed on drop.
pub struct Provider {
    child: Child,
    pub issuer: String,
    log: PathBuf,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider in `mode` (see provider.mjs: honest, tampered, expired,
    /// nonce, audience) for a client whose redirect URI is `redirect_uri`, and waits
    /// until its discovery document answers.
    pub fn start(mode: &str, redirect_uri: &str, dir: &std::path::Path) -> Provider {
        install();
        let port = free_port();
        let log = dir.join(format!("provider-{mode}.log"));
        let file = std::fs::File::create(&log).expect("provider log");
        let child = Command::new("node")
            .arg(provider_dir().join("provider.mjs"))
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URI", redirect_uri)
            .env("OIDC_MODE", mode)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("node runs tests/oidc/provider.mjs");
        let mut p = Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            log,
        };
        let discovery = format!("{}/.well-known/openid-configuration", p.issuer);
        let t0 = Instant::now();
        loop {
            if let Ok(r) = reqwest::blocking::get(&discovery)
                && r.status().is_success()
            {
                return p;
            }
            if let Ok(Some(st)) = p.child.try_wait() {
                panic!(
                    "the OIDC provider exited ({st}):\n{}",
                    std::fs::read_to_string(&p.log).unwrap_or_default()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the OIDC provider did not answer within 60 s:\n{}",
                std::fs::read_to_string(&p.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `vigie serve` whose configuration names a provider: organisations `acme` (which
/// requires the provider) and `other`, the users of [`USERS`], and `acme.example` as
/// the one domain allowed.
pub struct Site {
    pub v: Vigie,
    pub base: String,
    serve: Serve,
    log: PathBuf,
    /// None: the configured provider is down (nothing listens at its address).
    pub provider: Option<Provider>,
    pub issuer: String,
}

impl Site {
    /// With a provider in `mode`, or (None) a provider that is down.
    pub fn start(mode: Option<&str>) -> Site {
        let v = Vigie::new();
        v.ok(&["org", "add", "acme", "--name", "ACME SA"]);
        v.ok(&["org", "add", "other", "--name", "Other SA"]);
        for (org, email, role) in USERS {
            let out = v.run_stdin(
                &["--org", org, "user", "add", email, "--role", role],
                &format!("{PASSWORD}\n"),
            );
            assert_eq!(out.code, 0, "user add {email}: {}", out.stderr);
        }
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let provider = mode.map(|m| Provider::start(m, &format!("{base}/oidc/callback"), v.dir()));
        let issuer = match &provider {
            Some(p) => p.issuer.clone(),
            None => format!("http://127.0.0.1:{}", free_port()),
        };
        std::fs::write(v.dir().join("oidc-secret"), format!("{CLIENT_SECRET}\n"))
            .expect("write the secret");
        let cfg = v.dir().join("vigie.yaml");
        std::fs::write(
            &cfg,
            format!(
                "mail: {{ from: vigie <vigie@example.org>, transport: file, outbox_dir: ./outbox }}\n\
                 reminders: {{ to: [dpo@example.org] }}\n\
                 http: {{ public_url: {base} }}\n\
                 auth:\n  oidc:\n    issuer: {issuer}\n    client_id: {CLIENT_ID}\n    \
                 client_secret_file: oidc-secret\n    allowed_domains: [acme.example]\n    \
                 required_for: [acme]\n"
            ),
        )
        .expect("write config");
        let log = v.dir().join("serve.log");
        let file = std::fs::File::create(&log).expect("serve log");
        let child = v
            .command()
            .arg("--config")
            .arg(&cfg)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("vigie serve starts");
        let mut serve = Serve::new(child);
        let at = super::web::listening_at(serve.child(), &log);
        assert_eq!(at, base, "vigie listens where its public_url says");
        Site {
            v,
            base,
            serve,
            log,
            provider,
            issuer,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An answer: status, the `Location` made absolute, the body.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

/// A cookie-keeping HTTP client for several sites (vigie and the provider), following
/// no redirect by itself.
pub struct Agent {
    client: Client,
    /// (origin, name) → value.
    pub cookies: BTreeMap<(String, String), String>,
    /// Every Set-Cookie header seen, whole, with its origin.
    pub set_cookies: Vec<(String, String)>,
    lang: Option<&'static str>,
}

fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an absolute URL");
    let host = rest.split('/').next().unwrap_or("");
    format!("{scheme}://{host}")
}

impl Default for Agent {
    fn default() -> Agent {
        Agent::new()
    }
}

impl Agent {
    pub fn new() -> Agent {
        Agent {
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("HTTP client"),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
            lang: None,
        }
    }

    /// Asks for pages in `lang` (Accept-Language).
    pub fn speaking(mut self, lang: &'static str) -> Agent {
        self.lang = Some(lang);
        self
    }

    fn cookie_header(&self, url: &str) -> String {
        let o = origin(url);
        self.cookies
            .iter()
            .filter(|((co, _), _)| *co == o)
            .map(|((_, k), v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn answer(&mut self, url: &str, r: reqwest::blocking::Response) -> Answer {
        let o = origin(url);
        for v in r.headers().get_all(SET_COOKIE) {
            let v = v.to_str().expect("ASCII cookie").to_string();
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                let gone = val.is_empty()
                    || v.contains("Max-Age=0")
                    || v.to_ascii_lowercase().contains("expires=thu, 01 jan 1970");
                let key = (o.clone(), k.trim().to_string());
                if gone {
                    self.cookies.remove(&key);
                } else {
                    self.cookies.insert(key, val.to_string());
                }
            }
            self.set_cookies.push((o.clone(), v));
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().expect("ASCII location").to_string())
            .map(|l| match l.starts_with('/') {
                true => format!("{o}{l}"),
                false => l,
            });
        let body = r.text().unwrap_or_default();
        Answer {
            status,
            location,
            body,
        }
    }

    pub fn get(&mut self, url: &str) -> Answer {
        let mut req = self.client.get(url).header(COOKIE, self.cookie_header(url));
        if let Some(l) = self.lang {
            req = req.header("accept-language", l);
        }
        let r = req.send().expect("the server answers");
        self.answer(url, r)
    }

    pub fn post_form(&mut self, url: &str, form: &[(&str, &str)]) -> Answer {
        let mut req = self
            .client
            .post(url)
            .header(COOKIE, self.cookie_header(url))
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(l) = self.lang {
            req = req.header("accept-language", l);
        }
        let r = req
            .body(super::web::form_encode(form))
            .send()
            .expect("the server answers");
        self.answer(url, r)
    }

    /// Signs in with a password on vigie's own form.
    pub fn password(&mut self, site: &Site, email: &str, password: &str) -> Answer {
        let page = self.get(&site.url("/login"));
        assert_eq!(page.status, 200);
        let token =
            super::web::hidden(&page.body, "_login").expect("the sign-in form has a CSRF field");
        self.post_form(
            &site.url("/login"),
            &[
                ("_login", &token),
                ("email", email),
                ("password", password),
                ("next", "/"),
            ],
        )
    }

    /// Clicks vigie's "company account" link, signs in at the provider as `login` on
    /// its own sign-in page, and comes back: returns the answer of vigie's callback
    /// (its URL's `state` first passed through `alter`).
    pub fn through_provider_with(
        &mut self,
        site: &Site,
        login: &str,
        alter: impl Fn(&str) -> String,
    ) -> Answer {
        let page = self.get(&site.url("/login"));
        assert_eq!(page.status, 200);
        let href = oidc_link(&page.body).expect("the sign-in page links to the provider");
        let start = self.get(&site.url(&href));
        assert_eq!(
            start.status, 303,
            "/oidc/start sends to the provider: {}",
            start.body
        );
        let mut url = start.location.expect("a redirect to the provider");
        let issuer = site.issuer.clone();
        assert!(url.starts_with(&issuer), "{url} is at the provider");
        for _ in 0..10 {
            if url.starts_with(&site.base) {
                return self.get(&alter(&url));
            }
            let a = self.get(&url);
            match a.status {
                302 | 303 => url = a.location.expect("a redirect"),
                200 => {
                    // The provider's sign-in page: its form, with any password.
                    let action = attr_after(&a.body, "<form", "action")
                        .expect("the provider's page has a form");
                    let action = match action.starts_with('/') {
                        true => format!("{issuer}{action}"),
                        false => action,
                    };
                    let done = self.post_form(
                        &action,
                        &[("prompt", "login"), ("login", login), ("password", "any")],
                    );
                    assert!(
                        matches!(done.status, 302 | 303),
                        "the provider took the sign-in: {} {}",
                        done.status,
                        done.body
                    );
                    url = done.location.expect("a redirect");
                }
                s => panic!("the provider answered {s} at {url}: {}", a.body),
            }
        }
        panic!("the provider never sent the browser back to vigie");
    }

    /// [`Agent::through_provider_with`] with the callback as the provider made it.
    pub fn through_provider(&mut self, site: &Site, login: &str) -> Answer {
        self.through_provider_with(site, login, |u| u.to_string())
    }

    /// Signs in through the provider and follows vigie's page on to where it leads;
    /// returns that page.
    pub fn signed_in(&mut self, site: &Site, login: &str) -> Answer {
        let back = self.through_provider(site, login);
        assert_eq!(back.status, 200, "signed in as {login}: {}", back.body);
        let next = attr_after(&back.body, "id=\"oidc-continue\"", "href")
            .expect("the callback's page links on");
        self.get(&site.url(&unescape(&next)))
    }
}

/// The value of attribute `name` in the first tag after `marker`.
pub fn attr_after(html: &str, marker: &str, name: &str) -> Option<String> {
    let i = html.find(marker)?;
    let rest = &html[i..];
    let end = rest.find('>')?;
    let tag = &rest[..end];
    let j = tag.find(&format!("{name}=\""))?;
    let v = &tag[j + name.len() + 2..];
    Some(v[..v.find('"')?].to_string())
}

/// The `href` of the sign-in page's `id="oidc"` link.
pub fn oidc_link(html: &str) -> Option<String> {
    let i = html.find("id=\"oidc\"")?;
    let start = html[..i].rfind('<')?;
    attr_after(&html[start..], "<a", "href").map(|h| unescape(&h))
}

/// An attribute's value as the browser reads it (the entities handlebars writes).
pub fn unescape(v: &str) -> String {
    v.replace("&#x3D;", "=")
        .replace("&#x2F;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// The `data-reason` of a refusal page ([`None`] when the page is not one).
pub fn reason(html: &str) -> Option<String> {
    attr_after(html, "id=\"oidc-error\"", "data-reason")
}
