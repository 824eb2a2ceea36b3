//! The pages in a real Chromium, driven through chromedriver (WebDriver): sign in, watch
//! a deadline's colour change live, fill facts, notify the authority, read and download
//! the CNIL draft; a wrong password and a forged CSRF token are refused. Screenshots go
//! to target/test-artifacts/browser/.
//!
//! Needs Debian's chromium and chromium-driver; when they are missing and we are root,
//! they are installed with apt-get (as `.ci/run` does).

use crate::common;

use crate::common::browser as chrome;

use chrome::*;
use common::web::{PASSWORD, Server};
use fantoccini::Locator;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpo_signs_in_watches_the_deadline_and_notifies_the_cnil() {
    let s = Server::start();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    let base = s.base.clone();

    // A wrong password is refused, with the reason, and no session.
    sign_in(&c, &base, "dpo@acme.example", "not the password").await;
    // A French browser gets French pages.
    wait_text(&c, "#error", &["Courriel ou mot de passe incorrect"]).await;
    shot(&c, "01-wrong-password").await;

    sign_in(&c, &base, "dpo@acme.example", PASSWORD).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("h1"))
        .await
        .unwrap();
    // Aware 72 h ago less 6 s: the CNIL deadline falls due while the page is open.
    let aware = chrono::Utc::now() - chrono::Duration::hours(72) + chrono::Duration::seconds(6);
    let r = s.api("dpo@acme.example").post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Dossiers affichés au mauvais allocataire",
                "aware_at": aware.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "id": "web-1",
                "facts": {"nis2_entity": false}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    c.goto(&format!("{base}/")).await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("tr[data-case='web-1']"))
        .await
        .expect("the dashboard lists the case");
    // Due within 24 h: orange; then, without reloading, overdue: red.
    let countdown = "tr[data-case='web-1'] .countdown";
    wait_class(&c, countdown, "st-soon", 5).await;
    let before = text_of(&c, countdown).await;
    shot(&c, "02-dashboard-due-soon").await;
    wait_class(&c, countdown, "st-overdue", 30).await;
    let after = text_of(&c, countdown).await;
    assert_ne!(before, after, "the countdown moves");
    assert!(
        after.contains("dépassée") || after.contains("overdue"),
        "{after}"
    );
    shot(&c, "03-dashboard-overdue").await;

    // The case page: facts typed in the intake's sections, each saved on its own.
    click(&c, Locator::LinkText("web-1")).await;
    c.wait()
        .for_element(Locator::Id("next-step"))
        .await
        .unwrap();
    let needs = text_of(&c, "form[data-event='notify_authority'] .needs").await;
    assert!(!needs.is_empty(), "the step lists the facts it still needs");
    open_section(&c, "what_happened").await;
    click(
        &c,
        Locator::Css("#f-confidentiality_loss option[value='unknown_recipients']"),
    )
    .await;
    click(&c, Locator::Id("save-what_happened")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    open_section(&c, "data").await;
    check(&c, "data_categories", "identity").await;
    click(&c, Locator::Id("save-data")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    open_section(&c, "people").await;
    fill(&c, "f-subjects_approx", "7000").await;
    click(&c, Locator::Id("save-people")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    open_section(&c, "consequences").await;
    fill(
        &c,
        "f-consequences",
        "Dossiers visibles par d'autres allocataires",
    )
    .await;
    click(&c, Locator::Id("save-consequences")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    open_section(&c, "notification").await;
    fill(&c, "f-delay_reasons", "Analyse de l'étendue en cours").await;
    click(&c, Locator::Id("save-notification")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    open_section(&c, "measures").await;
    fill(&c, "f-measures", "Espace en ligne fermé").await;
    click(&c, Locator::Id("save-measures")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    shot(&c, "04-facts-saved").await;

    // A forged CSRF token: refused, nothing written.
    let events_before = s.api("dpo@acme.example").get("/api/cases/web-1").json["seq"].clone();
    open_section(&c, "measures").await;
    c.execute(
        "document.querySelector('#form-measures input[name=_csrf]').value = 'forged';",
        vec![],
    )
    .await
    .unwrap();
    fill(&c, "f-measures", "changed by a forged form").await;
    click(&c, Locator::Id("save-measures")).await;
    wait_text(&c, "main", &["formulaire a expiré", "form has expired"]).await;
    shot(&c, "05-forged-csrf-refused").await;
    let after_forgery = s.api("dpo@acme.example").get("/api/cases/web-1").json;
    assert_eq!(after_forgery["seq"], events_before);
    assert_eq!(after_forgery["facts"]["measures"], "Espace en ligne fermé");

    // Notify the authority, confirmed in the page: the deadline turns "met late" (purple).
    c.goto(&format!("{base}/cases/web-1")).await.unwrap();
    click(&c, Locator::Id("event-notify_authority")).await;
    c.wait()
        .for_element(Locator::Id("confirm-notify_authority"))
        .await
        .unwrap();
    assert_eq!(
        s.api("dpo@acme.example").get("/api/cases/web-1").json["seq"],
        events_before,
        "nothing recorded before the confirmation"
    );
    click(&c, Locator::Id("confirm-notify_authority")).await;
    click(&c, Locator::Id("confirm-notify_authority-submit")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    wait_class(&c, "[data-clock-status='art33']", "st-late", 5).await;
    let tracks = text_of(&c, "[data-track='authority']").await;
    assert!(
        !tracks.contains("pending") && !tracks.contains("attente"),
        "{tracks}"
    );
    shot(&c, "06-authority-notified-late").await;
    let case = s.api("dpo@acme.example").get("/api/cases/web-1").json;
    assert_eq!(case["tracks"]["authority"], "notified");
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["actor"], "dpo@acme.example",
        "the signed-in user is the actor"
    );

    // The CNIL draft: preview, then download.
    click(&c, Locator::Id("preview-cnil_notification")).await;
    let draft = text_of(&c, "#draft").await;
    assert!(
        draft.contains("7") && draft.contains("Espace en ligne fermé"),
        "{draft}"
    );
    shot(&c, "07-cnil-draft").await;
    click(&c, Locator::Id("download-md")).await;
    let want = downloads.path().join("web-1-cnil_notification.fr.md");
    let t0 = Instant::now();
    while !want.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no download in {}: {:?}",
            downloads.path().display(),
            std::fs::read_dir(downloads.path())
                .unwrap()
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let md = std::fs::read_to_string(&want).unwrap();
    assert!(md.contains("Espace en ligne fermé"), "{md}");

    // English on request.
    click(&c, Locator::Id("lang-en")).await;
    wait_text(&c, "#lang-fr", &["Français"]).await; // the link back to French
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(&c, "h1", &["Open cases"]).await;
    shot(&c, "08-dashboard-english").await;
    c.close().await.unwrap();
}

/// The risk assessment on the case page (issue 11): shown with its components,
/// recommendation and reasons; accepted; then "decide otherwise" refused without a
/// rationale (nothing written, the choice kept) and recorded with one; a change of facts
/// shows the new recommendation beside the recorded decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpo_reads_the_risk_assessment_accepts_it_and_decides_otherwise() {
    let s = Server::start();
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    let base = s.base.clone();
    let api = s.api("dpo@acme.example");
    let r = api.post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Dossiers patients exposés", "aware_at": "2026-11-20T09:00",
                "id": "risk-1", "facts": {
                    "nature": ["confidentiality"], "cause": "external_malicious",
                    "data_categories": ["health"], "subject_categories": ["patients"],
                    "subjects_approx": 1200, "identifiability": "maximum",
                    "confidentiality_loss": "unknown_recipients", "integrity_loss": "none",
                    "availability_loss": "none", "data_unintelligible": false,
                    "misuse_observed": false}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let path = "/api/cases/risk-1/assessment";
    let want = api.get(path).json;
    assert_eq!(want["current"]["risk"], "high", "{want}");

    sign_in(&c, &base, "dpo@acme.example", PASSWORD).await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    c.goto(&format!("{base}/cases/risk-1")).await.unwrap();
    // The assessment: risk, band, each component with its reasons, each duty.
    let risk = text_of(&c, "#as-risk").await;
    assert!(risk.contains("risque élevé"), "{risk}");
    let band = text_of(&c, "#as-band").await;
    assert!(band.contains("très élevée"), "{band}");
    for k in ["dpc", "ei", "cb"] {
        let value = text_of(&c, &format!("[data-component='{k}'] .value")).await;
        let expected = want["current"]["severity"][k]["value"]
            .as_f64()
            .unwrap()
            .to_string()
            .replace('.', ",");
        assert_eq!(value, expected, "{k}");
        let why = text_of(&c, &format!("[data-component='{k}'] .why")).await;
        assert!(!why.is_empty(), "{k} says why");
    }
    for k in ["document", "notify_authority", "inform_individuals"] {
        let duty = text_of(&c, &format!("[data-duty='{k}'] .answer")).await;
        assert_eq!(duty, "oui", "{k}");
    }
    let notify = text_of(&c, "[data-duty='notify_authority']").await;
    let reason = want["current"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["about"] == "notify_authority")
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(notify.contains(&reason), "{notify}");
    shot(&c, "10-assessment").await;

    // Accept: recorded once; the page says the decision is this recommendation.
    click(&c, Locator::Id("accept-assessment")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    text_of(&c, "#as-accepted").await;
    let recorded = text_of(&c, "#as-recorded-risk").await;
    assert!(recorded.contains("risque élevé"), "{recorded}");
    let a = api.get(path).json;
    assert_eq!(a["recorded"]["risk"], "high");
    assert_eq!(a["recorded"]["actor"], "dpo@acme.example");
    let seq = a["seq"].clone();
    shot(&c, "11-assessment-accepted").await;

    // Decide otherwise without a rationale: refused, the reason shown, nothing written.
    c.find(Locator::Id("decide-risk"))
        .await
        .unwrap()
        .select_by_value("risk")
        .await
        .unwrap();
    click(&c, Locator::Id("decide-submit")).await;
    let error = wait_text(&c, "#error", &["departs from the recommendation"]).await;
    assert!(error.contains("risk_rationale"), "{error}");
    let kept = c
        .find(Locator::Css("#decide-risk option[value='risk']"))
        .await
        .unwrap()
        .prop("selected")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("true"), "the choice is kept");
    assert_eq!(api.get(path).json["seq"], seq, "nothing written");
    shot(&c, "12-decide-otherwise-refused").await;

    // With a rationale: recorded, the departure shown.
    fill(
        &c,
        "decide-rationale",
        "Rendez-vous seulement ; le prestataire a confirmé l'effacement.",
    )
    .await;
    click(&c, Locator::Id("decide-submit")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    text_of(&c, "#as-departs").await;
    let rationale = text_of(&c, "#as-recorded-rationale").await;
    assert!(rationale.contains("confirmé l'effacement"), "{rationale}");
    let a = api.get(path).json;
    assert_eq!(a["recorded"]["risk"], "risk", "{a}");
    assert_eq!(a["recorded"]["departs"], true);
    shot(&c, "13-decided-otherwise").await;

    // The facts change: the new recommendation beside the recorded decision.
    let r = api.post(
        "/api/cases/risk-1/facts",
        &json!({"facts": {"data_unintelligible": true}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    c.goto(&format!("{base}/cases/risk-1")).await.unwrap();
    text_of(&c, "#as-changed").await;
    let was = text_of(&c, "td[data-recorded='risk']").await;
    assert!(
        was.contains("risque élevé"),
        "the recommendation the decision was taken on: {was}"
    );
    let now = text_of(&c, "#as-risk").await;
    assert!(now.contains("improbable"), "{now}");
    shot(&c, "14-facts-changed").await;
    c.close().await.unwrap();
}

/// Opens an intake section by clicking its heading (unless it is open already).
async fn open_section(c: &fantoccini::Client, id: &str) {
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
