//! Chromium driven through chromedriver (WebDriver), for the browser tests
//! (`tests/browser*.rs`, which include this file with `#[path]`: the other suites do
//! not link the WebDriver client). Screenshots go to target/test-artifacts/browser/.
//!
//! Needs Debian's chromium and chromium-driver; when they are missing and we are root,
//! they are installed with apt-get (as `.ci/run` does).
#![allow(dead_code)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const DRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

pub fn ensure_chromium() {
    if std::path::Path::new(DRIVER).exists() && std::path::Path::new(CHROMIUM).exists() {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    assert!(
        root,
        "the browser tests need {CHROMIUM} and {DRIVER}: apt-get install chromium chromium-driver"
    );
    for args in [
        vec!["update", "-q"],
        vec!["install", "-y", "-q", "chromium", "chromium-driver"],
    ] {
        let ok = Command::new("apt-get")
            .args(&args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "apt-get {} failed", args.join(" "));
    }
}

pub struct Driver {
    child: Child,
    pub port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_driver() -> Driver {
    ensure_chromium();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        port,
        _profile: tempfile::tempdir().unwrap(),
    }
}

pub async fn browser(d: &Driver, downloads: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1100",
                "--lang=fr-FR",
                format!("--user-data-dir={}", d._profile.path().display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
                "intl.accept_languages": "fr-FR,fr",
            },
        }),
    );
    // fantoccini's HTTP client links rustls with two crypto backends; pick one. (The
    // WebDriver connection itself is plain HTTP on loopback.)
    let _ = rustls::crypto::ring::default_provider().install_default();
    ClientBuilder::rustls()
        .expect("TLS setup")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", d.port))
        .await
        .expect("a Chromium session")
}

pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("a screenshot");
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

pub async fn class_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits (up to `secs`) until the element's class contains `want`.
pub async fn wait_class(c: &Client, css: &str, want: &str, secs: u64) {
    let t0 = Instant::now();
    loop {
        let class = class_of(c, css).await;
        if class.split_whitespace().any(|k| k == want) {
            return;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let html = c
                .execute(
                    "return document.body.getAttribute('data-now') + ' @ ' + new Date().toISOString() + ' ' + document.querySelector(arguments[0]).outerHTML;",
                    vec![json!(css)],
                )
                .await
                .unwrap();
            panic!("{css} still has class '{class}', not {want}: {html}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn sign_in(c: &Client, base: &str, email: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Id("email"))
        .await
        .unwrap()
        .send_keys(email)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click(c, Locator::Id("sign-in")).await;
}

/// Clicks the element `loc` finds.
pub async fn click(c: &Client, loc: Locator<'_>) {
    c.find(loc)
        .await
        .unwrap_or_else(|e| panic!("{loc:?}: {e}"))
        .click()
        .await
        .unwrap();
}

pub async fn fill(c: &Client, id: &str, text: &str) {
    let e = c
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"));
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

pub async fn check(c: &Client, fact: &str, value: &str) {
    c.find(Locator::Css(&format!(
        "input[name='f.{fact}'][value='{value}']"
    )))
    .await
    .unwrap_or_else(|e| panic!("checkbox {fact}={value}: {e}"))
    .click()
    .await
    .unwrap();
}

/// The text of the first element matching `css`, waiting (up to 10 s) for it to appear.
pub async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Waits (up to 10 s) until the text of `css` contains one of `needles`.
pub async fn wait_text(c: &Client, css: &str, needles: &[&str]) -> String {
    let t0 = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && needles.iter().any(|n| t.contains(n))
        {
            return t;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{css} never showed any of {needles:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks what leads to another page, and waits until the page it was on is gone (so
/// that what is read next is the new page's).
pub async fn go(c: &Client, loc: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    click(c, loc).await;
    let t0 = Instant::now();
    while old.attr("lang").await.is_ok() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{loc:?} led to no new page"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("main"))
        .await
        .expect("the new page");
}

/// Opens an intake section by clicking its heading (unless it is open already).
pub async fn section(c: &Client, id: &str) {
    let open = c
        .execute(
            "return document.getElementById('section-' + arguments[0]).open;",
            vec![json!(id)],
        )
        .await
        .unwrap();
    if open != json!(true) {
        click(c, Locator::Css(&format!("#section-{id} > summary"))).await;
    }
}

/// Chooses `value` in the select `id`.
pub async fn choose(c: &Client, id: &str, value: &str) {
    click(c, Locator::Css(&format!("#{id} option[value='{value}']"))).await;
}

/// Sets a date-time picker (`YYYY-MM-DDTHH:MM`, the workflow's zone): typing into one
/// depends on the browser's locale, so its value is set as the picker would.
pub async fn set_date(c: &Client, id: &str, value: &str) {
    c.execute(
        "const e = document.getElementById(arguments[0]); e.value = arguments[1];
         e.dispatchEvent(new Event('input', {bubbles: true}));",
        vec![json!(id), json!(value)],
    )
    .await
    .unwrap();
}
