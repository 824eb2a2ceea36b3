//! A DPO's first day, in a real Chromium, driven only by clicking and typing in the
//! pages (issue 21 part 1): `vigie serve` on a new database with no configuration, the
//! setup link from its output, the organisation's identity saved and shown again after a
//! reload, a new case, its facts, the assessment accepted, containment and the
//! notification to the authority recorded, the authority's draft downloaded as PDF
//! (read back with `pdftotext`: it carries the saved identifier) and recorded as issued,
//! the register and its inspection export with the form's default values.
//!
//! The same journey runs in French and in English on a `fr` case, and in Dutch on a
//! `be` case; at each step the page is also looked at 390 px wide, where nothing may
//! scroll sideways and the menu stays reachable. Every page's forms carry their CSRF
//! token (an empty one made the new-case and organisation forms fail on every submit).
//! Screenshots: target/test-artifacts/browser/journey-*.png.

use crate::common;

use crate::common::browser as chrome;

use chrome::*;
use common::Vigie;
use common::web::first_start;
use fantoccini::{Client, Locator};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const PASSWORD: &str = "a long enough password";

struct Journey {
    /// The page language the DPO clicks to: fr, en or nl.
    lang: &'static str,
    /// The workflow chosen at setup: fr or be.
    workflow: &'static str,
    /// The organisation's identifier (SIREN; the enterprise number in Belgium).
    identifier: &'static str,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_french_dpo_s_first_day_by_clicking() {
    walk(Journey {
        lang: "fr",
        workflow: "fr",
        identifier: "552100554",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_speaking_dpo_s_first_day_on_a_french_case() {
    walk(Journey {
        lang: "en",
        workflow: "fr",
        identifier: "732829320",
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dutch_speaking_dpo_s_first_day_on_a_belgian_case() {
    walk(Journey {
        lang: "nl",
        workflow: "be",
        identifier: "0403.170.701",
    })
    .await;
}

async fn walk(j: Journey) {
    let v = Vigie::new();
    // As a new user runs it: no --config, in a folder of its own.
    let (mut serve, base, link) = first_start(&v);

    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    let name = |step: &str| format!("journey-{}-{}-{step}", j.lang, j.workflow);
    c.set_window_size(1366, 900).await.unwrap();

    // 1. The setup link; the DPO switches to their language first.
    c.goto(&link).await.unwrap();
    if j.lang != "fr" {
        go(&c, Locator::Id(&format!("lang-{}", j.lang))).await;
    }
    wait_lang(&c, j.lang).await;
    fill(&c, "org_name", "Transports Exemple").await;
    fill(&c, "org_id", "transports").await;
    click(
        &c,
        Locator::Css(&format!("#workflow option[value='{}']", j.workflow)),
    )
    .await;
    fill(&c, "name", "Camille Martin").await;
    fill(&c, "email", "camille@transports.example").await;
    fill(&c, "password", PASSWORD).await;
    fill(&c, "password_again", PASSWORD).await;
    look(&c, &name("01-setup")).await;
    go(&c, Locator::Id("setup-create")).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("nav-org"))
        .await
        .expect("signed in, with the menu");
    wait_lang(&c, j.lang).await;
    look(&c, &name("02-dashboard")).await;

    // 2. The organisation's identity: saved, and shown again after a reload.
    go(&c, Locator::Id("nav-org")).await;
    let identity = [
        ("org-identifier", j.identifier),
        ("org-address", "1 rue de l'Exemple, 75001 Paris"),
        ("org-dpo-name", "Camille Martin"),
        ("org-dpo-email", "dpo@transports.example"),
        ("org-representative-name", "Dominique Durand"),
        ("org-representative-role", "Directrice générale"),
    ];
    for (id, value) in identity {
        fill(&c, id, value).await;
    }
    look(&c, &name("03-organisation")).await;
    go(&c, Locator::Id("save-org")).await;
    text_of(&c, "#flash").await;
    c.refresh().await.unwrap();
    for (id, value) in identity {
        assert_eq!(value_of(&c, id).await, value, "#{id} after a reload");
    }
    assert!(
        c.find(Locator::Id("error")).await.is_err(),
        "no error after saving the organisation"
    );

    // 3. A new case, aware two hours ago (typed in the workflow's zone).
    go(&c, Locator::Id("nav-new")).await;
    click(
        &c,
        Locator::Css(&format!("#workflow option[value='{}']", j.workflow)),
    )
    .await;
    fill(&c, "title", "Fichier clients exposé").await;
    let zone: chrono_tz::Tz = if j.workflow == "be" {
        chrono_tz::Europe::Brussels
    } else {
        chrono_tz::Europe::Paris
    };
    let aware = (chrono::Utc::now() - chrono::Duration::hours(2)).with_timezone(&zone);
    // A date-time picker that starts at now, in the workflow's zone.
    let picked = value_of(&c, "aware_at").await;
    let now = chrono::Utc::now().with_timezone(&zone);
    assert!(
        picked == now.format("%Y-%m-%dT%H:%M").to_string()
            || picked
                == (now - chrono::Duration::minutes(1))
                    .format("%Y-%m-%dT%H:%M")
                    .to_string(),
        "the picker starts at now in {zone}: {picked}"
    );
    set_date(&c, "aware_at", &aware.format("%Y-%m-%dT%H:%M").to_string()).await;
    look(&c, &name("04-new-case")).await;
    go(&c, Locator::Id("open-case")).await;
    text_of(&c, "#flash").await;
    let url = c.current_url().await.unwrap();
    let case_id = url
        .path()
        .trim_start_matches("/cases/")
        .trim_end_matches('/')
        .to_string();
    assert!(
        case_id.starts_with(&format!("{}-", j.workflow)),
        "a new case's page: {url}"
    );
    look(&c, &name("05-case")).await;

    // 4. What the DPO knows, section by section (each opened by its heading, saved on
    // its own): no question shows its raw id, and at most 30 are on screen at once.
    assert_no_raw_ids(&c, &name("05-case")).await;
    section(&c, "what_happened").await;
    choose(&c, "f-incident_kind", "phishing_social_engineering").await;
    choose(&c, "f-cause", "external_malicious").await;
    choose(&c, "f-confidentiality_loss", "unknown_recipients").await;
    choose(&c, "f-integrity_loss", "none").await;
    choose(&c, "f-availability_loss", "none").await;
    go(&c, Locator::Id("save-what_happened")).await;
    text_of(&c, "#flash").await;
    section(&c, "people").await;
    check(&c, "subject_categories", "customers").await;
    fill(&c, "f-subjects_approx", "1200").await;
    go(&c, Locator::Id("save-people")).await;
    text_of(&c, "#flash").await;
    section(&c, "data").await;
    check(&c, "data_categories", "identity").await;
    check(&c, "data_categories", "contact").await;
    go(&c, Locator::Id("save-data")).await;
    text_of(&c, "#flash").await;
    section(&c, "consequences").await;
    fill(&c, "f-consequences", "Risque d'hameçonnage").await;
    go(&c, Locator::Id("save-consequences")).await;
    text_of(&c, "#flash").await;
    section(&c, "measures").await;
    fill(&c, "f-measures", "Accès coupé, mots de passe réinitialisés").await;
    set_date(
        &c,
        "f-contained_at",
        &(aware + chrono::Duration::minutes(30))
            .format("%Y-%m-%dT%H:%M")
            .to_string(),
    )
    .await;
    go(&c, Locator::Id("save-measures")).await;
    text_of(&c, "#flash").await;
    look(&c, &name("06-facts-saved")).await;

    // 5. The assessment accepted, containment recorded, the authority notified once the
    // DPO confirmed what will be recorded for good.
    go(&c, Locator::Id("accept-assessment")).await;
    text_of(&c, "#as-accepted").await;
    go(&c, Locator::Id("event-contain")).await;
    text_of(&c, "#flash").await;
    go(&c, Locator::Id("event-notify_authority")).await;
    text_of(&c, "#confirm-notify_authority-box").await;
    look(&c, &name("07-confirm")).await;
    click(&c, Locator::Id("confirm-notify_authority")).await;
    go(&c, Locator::Id("confirm-notify_authority-submit")).await;
    text_of(&c, "#flash").await;
    assert!(
        c.find(Locator::Id("error")).await.is_err(),
        "notifying the authority was accepted"
    );
    let track = text_of(&c, "[data-track='authority']").await;
    look(&c, &name("07-notified")).await;
    assert!(!track.is_empty());

    // 6. The authority's draft, downloaded as PDF: it carries the saved identifier.
    let document = if j.workflow == "be" {
        "apd_notification"
    } else {
        "cnil_notification"
    };
    c.goto(&format!("{base}/cases/{case_id}/drafts/{document}"))
        .await
        .unwrap();
    text_of(&c, "#draft").await;
    look(&c, &name("08-draft")).await;
    click(&c, Locator::Id("download-pdf")).await;
    let pdf = downloaded(downloads.path(), ".pdf").await;
    let text = pdftotext(&pdf);
    assert!(
        text.contains(j.identifier),
        "the PDF names the organisation's identifier {}:\n{text}",
        j.identifier
    );
    assert!(text.contains("Transports Exemple"), "{text}");
    // Recorded as issued: the PDF just downloaded (the form's first format), after
    // saying yes to the warning when the draft still has items to complete.
    let format = c
        .find(Locator::Id("issue-format"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(format.as_deref(), Some("pdf"));
    if let Ok(warning) = c.find(Locator::Id("issue-placeholders")).await {
        let said = warning.text().await.unwrap();
        assert!(said.trim_start().starts_with(char::is_numeric), "{said}");
        click(&c, Locator::Id("accept-placeholders")).await;
    }
    go(&c, Locator::Id("issue")).await;
    text_of(&c, "#flash").await;
    text_of(&c, "#issued-list").await;
    let issued = c
        .find_all(Locator::Css("#issued-list li[data-sha256]"))
        .await
        .unwrap();
    assert_eq!(issued.len(), 1, "the draft recorded as issued once");
    let recorded = issued[0].attr("data-sha256").await.unwrap().unwrap();
    assert_eq!(
        recorded,
        sha256_of(&std::fs::read(&pdf).unwrap()),
        "the register holds the hash of the very PDF downloaded"
    );

    // 7. The register, and its inspection export with the form's default values.
    go(&c, Locator::Id("nav-register")).await;
    let row = text_of(&c, &format!("tr[data-case='{case_id}']")).await;
    assert!(row.contains("Fichier clients exposé"), "{row}");
    // The states in the page's language, not the register's ids.
    for id in ["pending", "notified", "not_required"] {
        assert!(
            !row.contains(id),
            "a raw state in the register's row: {row}"
        );
    }
    look(&c, &name("09-register")).await;
    click(&c, Locator::Id("inspection-download")).await;
    let md = downloaded(downloads.path(), ".md").await;
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains(&case_id), "{md}");

    invite_a_colleague(&j, &c, &case_id).await;

    c.close().await.unwrap();
    serve.kill9();
}

/// At most 30 questions on screen, and no fact id in the page's visible text.
async fn assert_no_raw_ids(c: &Client, name: &str) {
    let visible = c
        .execute(
            "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(e => !(e.closest('details:not([open])') && !e.closest('summary')))
                .filter(e => e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0).length;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        visible.as_i64().unwrap() <= 30,
        "{name}: {visible} inputs on screen"
    );
    let found = c
        .execute(
            "const text = document.body.innerText;
             const ids = [...new Set([...document.querySelectorAll('input[name=present]')].map(e => e.value))];
             return ids.filter(id => id.includes('_') && text.includes(id));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(found, json!([]), "{name}: raw ids in the visible text");
}

/// Waits until the page says it is in `lang` (`<html lang>`).
async fn wait_lang(c: &Client, lang: &str) {
    let t0 = Instant::now();
    loop {
        let now = c
            .execute("return document.documentElement.lang", vec![])
            .await
            .unwrap();
        if now == json!(lang) {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the page stays in {now}, not {lang}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn value_of(c: &Client, id: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("#{id}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The page as a person sees it: a screenshot at 1366 px; every POST form carries a
/// non-empty CSRF token; then at 390 px wide nothing scrolls sideways and the menu is
/// reachable (a screenshot of that too), and back to 1366 px.
async fn look(c: &Client, name: &str) {
    shot(c, name).await;
    let empty = c
        .execute(
            "return [...document.querySelectorAll('form[method=post]')]
                .filter(f => !f.action.includes('/login') && !f.action.includes('/setup/'))
                .filter(f => { const t = f.querySelector('input[name=_csrf]'); return !t || !t.value; })
                .map(f => f.getAttribute('action'));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(empty, json!([]), "{name}: forms without their CSRF token");
    c.set_window_size(390, 844).await.unwrap();
    let t0 = Instant::now();
    while c
        .execute("return window.innerWidth;", vec![])
        .await
        .unwrap()
        .as_i64()
        .is_some_and(|w| w > 390)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{name}: never 390 px wide"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let widths = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
    if scroll > inner {
        let wide = c
            .execute(
                "return [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className);",
                vec![],
            )
            .await
            .unwrap();
        shot(c, &format!("{name}-390")).await;
        panic!("{name}: at 390 px the page is {scroll} px wide: {wide}");
    }
    // The menu is reachable: signed in, its first link is on screen or one tap away.
    if c.find(Locator::Css("header nav")).await.is_ok() {
        let reachable = c
            .execute(
                "const a = document.querySelector('#nav-dashboard'); const r = a.getBoundingClientRect();
                 return r.width > 0 && r.height > 0 && r.right <= window.innerWidth;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(reachable, json!(true), "{name}: the menu at 390 px");
    }
    shot(c, &format!("{name}-390")).await;
    c.set_window_size(1366, 900).await.unwrap();
}

/// The file ending in `ext` that Chromium downloaded (waiting up to 20 s), moved out of
/// the folder so the next download is told apart.
async fn downloaded(dir: &Path, ext: &str) -> std::path::PathBuf {
    let t0 = Instant::now();
    loop {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.to_string_lossy().ends_with(ext));
        if let Some(p) = found {
            let kept = dir.parent().unwrap().join(format!(
                "{}-{}",
                t0.elapsed().as_nanos(),
                p.file_name().unwrap().to_string_lossy()
            ));
            std::fs::rename(&p, &kept).unwrap();
            return kept;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no {ext} downloaded into {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Step 8, a colleague invited (part 5): the DPO opens the users page, invites a viewer
/// and reads the one-time link; the colleague opens it in a fresh browser session,
/// chooses a password, lands signed in, opens the case from the dashboard and finds no
/// step buttons and no facts to change.
async fn invite_a_colleague(j: &Journey, c: &Client, case_id: &str) {
    let name = |step: &str| format!("journey-{}-{}-{step}", j.lang, j.workflow);
    go(c, Locator::Id("nav-users")).await;
    look(c, &name("10-users")).await;
    fill(c, "invite-email", "collegue@transports.example").await;
    click(c, Locator::Css("#invite-role option[value='viewer']")).await;
    go(c, Locator::Id("invite")).await;
    let link = c
        .find(Locator::Id("invite-link"))
        .await
        .expect("the link is shown after inviting")
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(link.contains("/invitations/"), "{link}");
    look(c, &name("11-invited")).await;

    // A second, fresh browser session (its own driver and profile): nothing of the DPO's.
    let second = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let b = browser(&second, downloads.path()).await;
    b.set_window_size(1366, 900).await.unwrap();
    b.goto(&link).await.unwrap();
    if j.lang != "fr" {
        go(&b, Locator::Id(&format!("lang-{}", j.lang))).await;
    }
    wait_lang(&b, j.lang).await;
    fill(&b, "name", "Dominique Collègue").await;
    fill(&b, "password", PASSWORD).await;
    fill(&b, "password2", PASSWORD).await;
    look(&b, &name("12-invitation")).await;
    go(&b, Locator::Id("accept-invitation")).await;
    b.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Id("nav-dashboard"))
        .await
        .expect("the colleague is signed in, with the menu");
    assert!(
        b.find(Locator::Id("nav-users")).await.is_err(),
        "a viewer has no users page"
    );
    look(&b, &name("13-colleague-dashboard")).await;
    go(&b, Locator::Css(&format!("tr[data-case='{case_id}'] a"))).await;
    text_of(&b, "h1").await;
    assert!(
        b.find_all(Locator::Css("[data-event]"))
            .await
            .unwrap()
            .is_empty(),
        "a viewer's case page has no step buttons"
    );
    let editable = b
        .execute(
            "return [...document.querySelectorAll('form[action$=\"/facts\"]')]
                .filter(f => [...f.querySelectorAll('input, select, textarea')].some(e => e.type !== 'hidden' && !e.disabled))
                .length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        editable,
        json!(0),
        "a viewer's case page has no editable facts form"
    );
    look(&b, &name("14-colleague-case")).await;
    b.close().await.unwrap();
}
