//! The first start in a real Chromium (issue 13): a fresh database, `vigie serve` with no
//! configuration, the setup link read from its output, the organisation and its DPO
//! created in the browser, the dashboard with the notice that nobody receives the
//! reminders yet; the link refused when used again. Screenshots go to
//! target/test-artifacts/browser/ (first-start-*.png).

use crate::common;

use crate::common::browser as chrome;

use chrome::*;
use common::Vigie;
use common::web::first_start;
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_dpo_sets_up_vigie_from_the_link_serve_prints() {
    let v = Vigie::new();
    // As a new user runs it: no --config, in a folder of its own.
    let (mut serve, base, link) = first_start(&v);
    assert!(link.starts_with(&format!("{base}/setup/")), "{link}");

    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    c.goto(&link).await.unwrap();
    // A French browser gets the French form.
    wait_text(&c, "h1", &["Installer vigie"]).await;
    fill(&c, "org_name", "ACME SA").await;
    // The id's pattern is one Chromium applies (an invalid one is ignored silently):
    // a space or a "!" is flagged before sending, a capital letter is not (the server
    // lower-cases it).
    for (typed, valid) in [("bad id!", false), ("Acme", true)] {
        fill(&c, "org_id", typed).await;
        let ok = c
            .execute(
                "return document.getElementById('org_id').checkValidity();",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(ok, serde_json::json!(valid), "org_id {typed:?}");
    }
    fill(&c, "org_id", "acme").await;
    c.find(Locator::Css("#workflow option[value='fr']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    fill(&c, "name", "Camille Martin").await;
    fill(&c, "email", "camille@acme.example").await;
    fill(&c, "password", "a long enough password").await;
    fill(&c, "password_again", "a long enough password").await;
    shot(&c, "first-start-1-setup-form").await;
    click(&c, Locator::Id("setup-create")).await;

    // Signed in, on the dashboard: nobody receives the reminders yet, and the DPO is
    // told where to set a recipient.
    let notice = text_of(&c, "#no-recipient").await;
    assert!(notice.contains("Personne ne reçoit"), "{notice}");
    assert!(
        c.find(Locator::Id("no-recipient-fix")).await.is_ok(),
        "the DPO gets the link to the Organisation page"
    );
    let who = text_of(&c, ".who").await;
    assert!(
        who.contains("camille@acme.example") && who.contains("acme"),
        "{who}"
    );
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    shot(&c, "first-start-2-dashboard").await;

    // The link is spent.
    c.goto(&link).await.unwrap();
    let heading = text_of(&c, "h1").await;
    assert!(heading.contains("expiré ou a déjà servi"), "{heading}");
    shot(&c, "first-start-3-link-used").await;

    c.close().await.unwrap();
    serve.kill9();
}
