//! Issue 25 part 4: an external DPO's day, in Chromium, by clicking. One person is the
//! DPO of three organisations and a viewer in a fourth; the set-up (organisations, the
//! person's memberships, the twelve running cases) is made with the command line, and
//! everything the DPO does is done in the browser:
//!
//! - the portfolio, opened from the header, lists the twelve running deadlines of the
//!   three organisations, nearest first, each row naming its organisation, and the
//!   fourth's rows with nothing to act on;
//! - the switcher moves to the second organisation; a new case is opened and answered
//!   from the intake; the fill-assist view of the CNIL's teleservice records the
//!   submission with the CNIL's reference and the acknowledgement file (confirmed first);
//! - the reference is in the register, its CSV, the CNIL complement's draft and the
//!   EDPB template's field for the earlier notification;
//! - signed out, then in again through the company's provider (a real oidc-provider):
//!   the same portfolio, and the acknowledgement downloads from the register with the
//!   bytes that were sent.
//!
//! Also the header's cosmetic defects (the organisation by its name, the switcher on one
//! line at 1280 px) and the acknowledgement's download route, scoped to its
//! organisation. Screenshots: target/test-artifacts/browser/dpo-day-*.png.

use crate::both_backends;
use crate::common;

use common::browser::*;
use common::web::{PASSWORD, Server};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, Instant};

both_backends! {
    the_header_names_the_organisation_by_its_name,
    an_acknowledgement_downloads_in_its_organisation_only,
}

/// The external DPO (in the provider's allowed domain, so the same address signs in
/// through it).
const EXT: &str = "dpo.externe@acme.example";

/// The three organisations where the person is the DPO, and the fourth (viewer).
const DPO_OF: [(&str, &str); 3] = [
    ("nord", "Cabinet Nord SARL"),
    ("sud", "Clinique du Sud"),
    ("est", "Est Logistique"),
];
const VIEWER_OF: (&str, &str) = ("ouest", "Ouest Transports");

/// A synthetic CNIL acknowledgement (the bytes only need to read as a PDF).
const RECEIPT: &[u8] =
    b"%PDF-1.4\n% synthetic CNIL acknowledgement for the DPO's day\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `YYYY-MM-DDTHH:MM` in Paris, `minutes` ago.
fn paris_ago(minutes: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::minutes(minutes))
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

/// The organisations, the person and the running cases: four in each of the DPO's three
/// organisations (their deadlines interleaved), three in the fourth. The ids of the
/// twelve.
fn set_up(v: &common::Vigie) -> Vec<String> {
    for &(org, name) in DPO_OF.iter().chain([&VIEWER_OF]) {
        v.ok(&["org", "add", org, "--name", name]);
    }
    for (org, role) in [
        ("nord", "dpo"),
        ("sud", "dpo"),
        ("est", "dpo"),
        ("ouest", "viewer"),
    ] {
        let out = v.run_stdin(
            &["--org", org, "user", "add", EXT, "--role", role],
            &format!("{PASSWORD}\n"),
        );
        assert_eq!(out.code, 0, "user add {EXT} to {org}: {}", out.stderr);
    }
    let mut twelve = Vec::new();
    for i in 1..=4i64 {
        for (k, &(org, _)) in DPO_OF.iter().chain([&VIEWER_OF]).enumerate() {
            if org == "ouest" && i == 4 {
                continue;
            }
            let id = format!("{org}-{i}");
            let aware = paris_ago(200 - 10 * (4 * i + k as i64));
            v.ok(&[
                "--org",
                org,
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                &format!("Incident {org} {i}"),
                "--aware-at",
                &aware,
                "--id",
                &id,
            ]);
            if org != "ouest" {
                twelve.push(id);
            }
        }
    }
    twelve
}

/// The portfolio's rows as the page shows them: organisation id, case, the first cell's
/// text, the due instant, and how many links, buttons or fields the row has.
async fn portfolio_rows(c: &Client) -> Vec<Value> {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("portfolio"))
        .await
        .expect("the portfolio's table");
    let rows = c
        .execute(
            "return [...document.querySelectorAll('tr.portfolio-row')].map(r => ({
                org: r.dataset.org, case: r.dataset.case, name: r.cells[0].innerText,
                due: r.querySelector('[data-due]').dataset.due,
                act: r.querySelectorAll('a, button, form, input, select').length}));",
            vec![],
        )
        .await
        .unwrap();
    rows.as_array().unwrap().clone()
}

/// The portfolio checked: the twelve running deadlines of the DPO's organisations, each
/// naming its organisation, nearest first; the viewer's rows with nothing to act on.
/// The (org, case) pairs of the twelve, in the page's order.
fn check_portfolio(rows: &[Value], twelve: &[String]) -> Vec<(String, String)> {
    let mine: Vec<&Value> = rows
        .iter()
        .filter(|r| DPO_OF.iter().any(|(o, _)| r["org"] == *o))
        .collect();
    let mut ids: Vec<String> = mine
        .iter()
        .map(|r| r["case"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut want = twelve.to_vec();
    want.sort();
    assert_eq!(ids, want, "exactly the twelve running deadlines: {rows:#?}");
    for r in rows {
        let org = r["org"].as_str().unwrap();
        let (_, name) = DPO_OF
            .iter()
            .chain([&VIEWER_OF])
            .find(|(o, _)| *o == org)
            .unwrap_or_else(|| panic!("a row of an organisation not the person's: {r}"));
        let shown = r["name"].as_str().unwrap();
        assert!(shown.contains(name), "the row names {name}: {r}");
        if org == VIEWER_OF.0 {
            assert_eq!(r["act"], 0, "a viewer's row offers nothing to act on: {r}");
        } else {
            assert_eq!(r["act"], 1, "a DPO's row opens its case: {r}");
        }
    }
    let dues: Vec<chrono::DateTime<chrono::FixedOffset>> = rows
        .iter()
        .map(|r| chrono::DateTime::parse_from_rfc3339(r["due"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        dues.windows(2).all(|w| w[0] <= w[1]),
        "nearest first: {dues:?}"
    );
    mine.iter()
        .map(|r| {
            (
                r["org"].as_str().unwrap().to_string(),
                r["case"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The file Chromium downloaded into `dir` whose name ends with `ext` (waits for it).
async fn downloaded(dir: &Path, ext: &str) -> std::path::PathBuf {
    let t0 = Instant::now();
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(ext));
        if let Some(p) = found {
            return p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no {ext} downloaded in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves the session to `org` with the header's switcher.
async fn switch_to(c: &Client, org: &str, name: &str) {
    click(
        c,
        Locator::Css(&format!("#org-select option[value='{org}']")),
    )
    .await;
    go(c, Locator::Id("org-switch-go")).await;
    let who = wait_text(c, ".who", &[name]).await;
    assert!(who.ends_with(name), "{who}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_dpo_s_day_by_clicking() {
    use common::oidc::Site;
    // The provider and vigie are waited for with a blocking client: off the async threads.
    let (site, twelve) = tokio::task::spawn_blocking(|| {
        let site = Site::start(Some("honest"));
        let twelve = set_up(&site.v);
        (site, twelve)
    })
    .await
    .unwrap();
    let base = site.base.clone();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;

    // 1. Signed in with the password: the header names the person and the organisation
    // by its name.
    sign_in(&c, &base, EXT, PASSWORD).await;
    let who = wait_text(&c, ".who", &[EXT]).await;
    assert!(
        DPO_OF.iter().any(|(_, name)| who.ends_with(name)),
        "the organisation by its name: {who}"
    );
    shot(&c, "dpo-day-01-signed-in").await;

    // 2. The portfolio, from the header.
    go(&c, Locator::Id("nav-portfolio")).await;
    let rows = portfolio_rows(&c).await;
    let before = check_portfolio(&rows, &twelve);
    shot(&c, "dpo-day-02-portfolio").await;

    // 3. The second organisation, by the switcher; a new case from the intake.
    let (sud, sud_name) = DPO_OF[1];
    switch_to(&c, sud, sud_name).await;
    go(&c, Locator::Id("nav-new")).await;
    choose(&c, "workflow", "fr").await;
    fill(&c, "title", "Rançongiciel sur le serveur de fichiers").await;
    set_date(&c, "aware_at", &paris_ago(90)).await;
    shot(&c, "dpo-day-03-new-case").await;
    go(&c, Locator::Id("open-case")).await;
    text_of(&c, "#flash").await;
    let url = c.current_url().await.unwrap();
    let case_id = url.path().trim_start_matches("/cases/").to_string();
    assert!(case_id.starts_with("fr-"), "a new case's page: {url}");
    section(&c, "what_happened").await;
    choose(&c, "f-incident_kind", "hacking_malware").await;
    choose(&c, "f-cause", "external_malicious").await;
    choose(&c, "f-confidentiality_loss", "unknown_recipients").await;
    choose(&c, "f-integrity_loss", "none").await;
    choose(&c, "f-availability_loss", "temporary").await;
    go(&c, Locator::Id("save-what_happened")).await;
    text_of(&c, "#flash").await;
    section(&c, "people").await;
    check(&c, "subject_categories", "patients").await;
    fill(&c, "f-subjects_approx", "850").await;
    go(&c, Locator::Id("save-people")).await;
    text_of(&c, "#flash").await;
    section(&c, "data").await;
    check(&c, "data_categories", "identity").await;
    check(&c, "data_categories", "contact").await;
    go(&c, Locator::Id("save-data")).await;
    text_of(&c, "#flash").await;
    section(&c, "consequences").await;
    fill(&c, "f-consequences", "Risque de chantage et d'hameçonnage").await;
    go(&c, Locator::Id("save-consequences")).await;
    text_of(&c, "#flash").await;
    section(&c, "measures").await;
    fill(&c, "f-measures", "Serveur isolé, sauvegardes restaurées").await;
    go(&c, Locator::Id("save-measures")).await;
    text_of(&c, "#flash").await;
    assert!(c.find(Locator::Id("error")).await.is_err(), "saved");
    shot(&c, "dpo-day-04-case").await;

    // 4. The fill-assist view of the CNIL's teleservice; the submission recorded with
    // the CNIL's reference and the acknowledgement, confirmed first.
    go(&c, Locator::Id("fill-cnil_notification")).await;
    wait_text(&c, "#fill-title", &["CNIL"]).await;
    let page = text_of(&c, "main").await;
    assert!(
        page.contains("Serveur isolé, sauvegardes restaurées"),
        "{page}"
    );
    // Every question by its words: no label id (the organisation's number had
    // `fill_org_siren` while the organisation had no identifier saved).
    assert!(!page.contains("fill_"), "a label id on the page: {page}");
    shot(&c, "dpo-day-05-fill").await;
    let reference = "CNIL-2026-004711";
    choose(&c, "submitted-event", "notify_authority").await;
    fill(&c, "submitted-reference", reference).await;
    choose(&c, "submitted-channel", "teleservice").await;
    let receipt = downloads.path().join("sent").join("accuse-cnil-sud.pdf");
    std::fs::create_dir_all(receipt.parent().unwrap()).unwrap();
    std::fs::write(&receipt, RECEIPT).unwrap();
    c.find(Locator::Id("submitted-ack"))
        .await
        .unwrap()
        .send_keys(receipt.to_str().unwrap())
        .await
        .unwrap();
    go(&c, Locator::Id("submitted-submit")).await;
    wait_text(&c, "#confirm-reference", &[reference]).await;
    let hash = text_of(&c, "#confirm-ack-sha256").await;
    assert_eq!(hash, format!("sha256:{}", sha(RECEIPT)), "the file's hash");
    shot(&c, "dpo-day-06-confirm").await;
    click(&c, Locator::Id("submitted-confirm")).await;
    go(&c, Locator::Id("submitted-confirm-submit")).await;
    text_of(&c, "#case-id").await;
    assert!(
        c.find(Locator::Id("error")).await.is_err(),
        "the submission was recorded"
    );
    let track = text_of(&c, "[data-track='authority']").await;
    shot(&c, "dpo-day-07-recorded").await;
    assert!(!track.is_empty());

    // 5. The register, and its CSV.
    go(&c, Locator::Id("nav-register")).await;
    let row = text_of(&c, &format!("tr[data-case='{case_id}']")).await;
    assert!(row.contains(reference), "{row}");
    assert!(row.contains("Téléservice (formulaire en ligne)"), "{row}");
    shot(&c, "dpo-day-08-register").await;
    click(&c, Locator::Id("export-csv")).await;
    let csv = std::fs::read_to_string(downloaded(downloads.path(), ".csv").await).unwrap();
    let line = csv
        .lines()
        .find(|l| l.starts_with(&case_id))
        .unwrap_or_else(|| panic!("{case_id} in the CSV:\n{csv}"));
    assert!(line.contains(reference), "{line}");
    assert!(!csv.contains("nord-1") && !csv.contains("ouest-1"), "{csv}");

    // 6. The complement's drafts name the initial notification's reference: the CNIL
    // form's complement and the EDPB template's earlier-notification field.
    go(&c, Locator::Css(&format!("tr[data-case='{case_id}'] a"))).await;
    go(&c, Locator::Id("preview-cnil_notification")).await;
    let draft = text_of(&c, "#draft").await;
    assert!(
        draft.contains(&format!("enregistrée sous la référence {reference}")),
        "{draft}"
    );
    shot(&c, "dpo-day-09-complement").await;
    c.back().await.unwrap();
    go(&c, Locator::Id("preview-edpb_notification")).await;
    let edpb = text_of(&c, "#draft").await;
    assert!(
        edpb.contains(&format!(
            "Référence de la notification antérieure : {reference}"
        )),
        "{edpb}"
    );
    shot(&c, "dpo-day-10-edpb").await;

    // The portfolio just before signing out.
    go(&c, Locator::Id("nav-portfolio")).await;
    let rows_then = portfolio_rows(&c).await;

    // 7. Signed out, then in through the company's provider: the same portfolio.
    go(&c, Locator::Id("logout")).await;
    click(&c, Locator::Id("oidc")).await;
    let login = c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("input[name='login']"))
        .await
        .expect("the provider's sign-in page");
    login.send_keys(EXT).await.unwrap();
    c.find(Locator::Css("input[name='password']"))
        .await
        .unwrap()
        .send_keys("the provider's own password")
        .await
        .unwrap();
    shot(&c, "dpo-day-11-provider").await;
    click(&c, Locator::Css("button[type='submit']")).await;
    wait_text(&c, ".who", &[EXT]).await;
    assert!(c.current_url().await.unwrap().as_str().starts_with(&base));
    go(&c, Locator::Id("nav-portfolio")).await;
    let rows_oidc = portfolio_rows(&c).await;
    shot(&c, "dpo-day-12-portfolio-oidc").await;
    // The twelve are still there (and the new case's deadlines, if it has any left).
    let now_expected: Vec<String> = rows_then
        .iter()
        .filter(|r| DPO_OF.iter().any(|(o, _)| r["org"] == *o))
        .map(|r| r["case"].as_str().unwrap().to_string())
        .collect();
    assert!(twelve.iter().all(|id| now_expected.contains(id)));
    let after = check_portfolio(&rows_oidc, &now_expected);
    let after_twelve: Vec<_> = after
        .into_iter()
        .filter(|(_, id)| twelve.contains(id))
        .collect();
    assert_eq!(after_twelve, before, "the same twelve, in the same order");
    let strip = |rows: &[Value]| -> Vec<(Value, Value, Value)> {
        rows.iter()
            .map(|r| (r["org"].clone(), r["case"].clone(), r["due"].clone()))
            .collect()
    };
    assert_eq!(strip(&rows_oidc), strip(&rows_then), "the same portfolio");

    // 8. The acknowledgement, downloaded from the register's link: the bytes sent.
    switch_to(&c, sud, sud_name).await;
    go(&c, Locator::Id("nav-register")).await;
    click(
        &c,
        Locator::Css(&format!("tr[data-case='{case_id}'] a.ack-download")),
    )
    .await;
    let got = downloaded(downloads.path(), "accuse-cnil-sud.pdf").await;
    assert_eq!(
        got.file_name().unwrap(),
        "accuse-cnil-sud.pdf",
        "its original name"
    );
    let bytes = std::fs::read(&got).unwrap();
    assert_eq!(sha(&bytes), sha(RECEIPT), "the very bytes sent");
    shot(&c, "dpo-day-13-register-ack").await;
    c.close().await.unwrap();
    drop(site);
}

/// The header's "who" line names the organisation the session acts in by its name, not
/// its id (which stays in `data-org`).
fn the_header_names_the_organisation_by_its_name() {
    let s = Server::start();
    let mut b = s.browser("dpo@acme.example");
    let (status, html, _) = b.get("/");
    assert_eq!(status, 200, "{html}");
    let i = html
        .find("class=\"who\"")
        .expect("the header names the user");
    let who = &html[i..i + html[i..].find("</span>").unwrap()];
    assert!(who.contains("data-org=\"acme\""), "{who}");
    assert!(who.ends_with("· ACME SA"), "the name, not the id: {who}");
    assert!(!who.contains("· acme"), "{who}");
}

/// At 1280 px wide, the switcher's button stays on the line of its select.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_1280_px_the_switcher_s_button_stays_beside_its_select() {
    let s = tokio::task::spawn_blocking(|| {
        let s = Server::start();
        for org in ["acme", "other"] {
            let out = s.v.run_stdin(
                &["--org", org, "user", "add", EXT, "--role", "dpo"],
                &format!("{PASSWORD}\n"),
            );
            assert_eq!(out.code, 0, "{}", out.stderr);
        }
        s.api("dpo@acme.example").post(
            "/api/cases",
            &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": "2026-11-20T09:00", "id": "fr-2026-0001"}),
        );
        // A long title: the table has to share its width out.
        let long = "Fichier des clients exposé sur un partage ouvert à tous les prestataires, \
                    consulté par des personnes non autorisées pendant plusieurs semaines avant \
                    que le service informatique ne le découvre lors d'un contrôle de routine \
                    des droits d'accès, avec les adresses, les téléphones et les contrats";
        s.api("dpo@acme.example").post(
            "/api/cases",
            &json!({"workflow": "fr", "title": long, "aware_at": "2026-11-21T09:00", "id": "fr-2026-0002"}),
        );
        s
    })
    .await
    .unwrap();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    c.set_window_size(1280, 900).await.unwrap();
    sign_in(&c, &s.base, EXT, PASSWORD).await;
    wait_text(&c, ".who", &[EXT]).await;
    let width = c
        .execute("return document.documentElement.clientWidth;", vec![])
        .await
        .unwrap();
    assert!(width.as_i64().unwrap() >= 1200, "{width}");
    let boxes = c
        .execute(
            "const r = id => document.getElementById(id).getBoundingClientRect();
             const s = r('org-select'), b = r('org-switch-go');
             const l = document.querySelector('label[for=org-select]').getBoundingClientRect();
             return {s_top: s.top, s_bottom: s.bottom, s_right: s.right, b_top: b.top, b_bottom: b.bottom, b_left: b.left,
                     l_height: l.height};",
            vec![],
        )
        .await
        .unwrap();
    shot(&c, "dpo-day-switcher-1280").await;
    let f = |k: &str| boxes[k].as_f64().unwrap();
    let (s_mid, b_mid) = (
        (f("s_top") + f("s_bottom")) / 2.0,
        (f("b_top") + f("b_bottom")) / 2.0,
    );
    assert!(
        (s_mid - b_mid).abs() < (f("s_bottom") - f("s_top")) / 2.0 && f("b_left") >= f("s_right"),
        "the button beside its select, not under it: {boxes}"
    );
    assert!(
        f("l_height") <= f("s_bottom") - f("s_top"),
        "the label on one line, not broken before its colon: {boxes}"
    );
    // The register's headings and cells are not cut inside a word ("Dossi/er", "Mo/tif",
    // "dossie/r ouvert" happened when `overflow-wrap: anywhere` let the table squeeze
    // them); a hyphen is a fair place to break.
    c.goto(&format!("{}/register", s.base)).await.unwrap();
    wait_text(&c, "table", &["fr-2026-0001"]).await;
    let cut = c
        .execute(
            "const out = [];
             const ctx = document.createElement('canvas').getContext('2d');
             for (const th of document.querySelectorAll('table th, table td')) {
               const cs = getComputedStyle(th);
               ctx.font = cs.font;
               const inner = th.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
               for (const w of th.innerText.trim().split(/[\\s-]+/)) {
                 if (ctx.measureText(w).width > inner + 0.5) out.push(w);
               }
             }
             return out;",
            vec![],
        )
        .await
        .unwrap();
    shot(&c, "dpo-day-register-1280").await;
    assert_eq!(cut, json!([]), "words cut inside at 1280 px");
    c.close().await.unwrap();
}

/// A kept acknowledgement downloads from its case's organisation, under its name and
/// type; another organisation (and a hash the case does not hold) gets a 404, and
/// nothing of the file.
fn an_acknowledgement_downloads_in_its_organisation_only() {
    let s = Server::start();
    let v = &s.v;
    let r = s.api("dpo@acme.example").post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": "2026-11-20T09:00", "id": "a-1"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let receipt = v.dir().join("accusé cnil.pdf");
    std::fs::write(&receipt, RECEIPT).unwrap();
    v.ok(&[
        "--org",
        "acme",
        "case",
        "advance",
        "a-1",
        "notify_authority",
        "--ref",
        "CNIL-2026-0042",
        "--channel",
        "teleservice",
        "--submitted-at",
        "2026-11-21T10:00",
        "--reason",
        "from the CNIL's receipt",
        "--ack",
        receipt.to_str().unwrap(),
        "--set",
        "nature=[confidentiality]",
        "--set",
        "subjects_approx=120",
        "--set",
        "data_categories=[contact]",
        "--set",
        "consequences=Phishing risk",
        "--set",
        "measures=Passwords reset",
    ]);
    let hash = sha(RECEIPT);
    let path = format!("/cases/a-1/acknowledgements/{hash}");
    let mut b = s.browser("dpo@acme.example");
    let (_, reg, _) = b.get("/register");
    assert!(
        reg.contains(&format!("href=\"{path}\"")),
        "the register links it: {reg}"
    );
    let (_, case_page, _) = b.get("/cases/a-1");
    assert!(
        case_page.contains(&format!("href=\"{path}\" class=\"ack-download\"")),
        "the case's timeline links it at its step: {case_page}"
    );
    let (status, bytes, headers) = b.get_bytes(&path);
    assert_eq!(status, 200);
    assert_eq!(sha(&bytes), hash);
    assert_eq!(headers["content-type"], "application/pdf");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment;")
            && disposition.contains("filename*=UTF-8''accus%C3%A9%20cnil.pdf"),
        "{disposition}"
    );
    // A viewer of acme reads it too; the download is in the access log.
    let mut viewer = s.browser("viewer@acme.example");
    assert_eq!(viewer.get_bytes(&path).0, 200);
    let (_, access, _) = b.get("/access");
    assert!(access.contains("accus"), "{access}");

    // Another organisation: 404, nothing of the file.
    let mut other = s.browser("dpo@other.example");
    let (status, body, _) = other.get_bytes(&path);
    assert_eq!(status, 404);
    assert!(!body.windows(8).any(|w| w == b"%PDF-1.4"));
    // A hash the case does not hold, and an unknown case.
    let wrong = format!("/cases/a-1/acknowledgements/{}", sha(b"another file"));
    assert_eq!(b.get_bytes(&wrong).0, 404);
    assert_eq!(
        b.get_bytes(&format!("/cases/nope/acknowledgements/{hash}"))
            .0,
        404
    );
}
