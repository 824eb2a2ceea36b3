//! Issue 21 part 2 in a real Chromium: a new case's page shows at most 30 questions at
//! once and no raw fact id in its visible text (`document.body.innerText`), in French
//! and English on a `fr` case and in Dutch on a `be` case; a section opened by its
//! heading saves on its own. Screenshots: target/test-artifacts/browser/intake-*.png.

use crate::common;

use crate::common::browser as chrome;

use chrome::*;
use common::web::{PASSWORD, Server};
use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;

/// The inputs a person sees (not hidden, not inside a closed section).
const VISIBLE_INPUTS: &str =
    "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !(e.closest('details:not([open])') && !e.closest('summary')))
                .filter(e => e.checkVisibility ? e.checkVisibility() : e.getClientRects().length > 0).length;";

/// The fact ids (every question's `name`, and the derived facts) found in the page's
/// visible text. Ids of one plain word (`nature`, `measures`) are words of the page's
/// language too: those with an underscore are the ones no sentence contains.
const RAW_IDS: &str = "const text = document.body.innerText;
    const ids = new Set([...document.querySelectorAll('input[name=present]')].map(e => e.value));
    ['confidentiality_kind', 'data_special', 'individuals_means', 'integrity_kind', 'availability_kind', 'risk_rationale'].forEach(i => ids.add(i));
    return [...ids].filter(id => id.includes('_') && text.includes(id));";

async fn visible_inputs(c: &Client) -> i64 {
    c.execute(VISIBLE_INPUTS, vec![])
        .await
        .unwrap()
        .as_i64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_case_asks_at_most_30_questions_at_once_with_no_raw_id_in_three_languages() {
    let s = Server::start();
    let aware = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (id, wf) in [("new-fr", "fr"), ("new-be", "be")] {
        let r = s.api("dpo@acme.example").post(
            "/api/cases",
            &json!({"workflow": wf, "title": "Fichier clients exposé", "aware_at": aware, "id": id}),
        );
        assert_eq!(r.status, 201, "{}", r.json);
    }
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    let base = s.base.clone();
    sign_in(&c, &base, "dpo@acme.example", PASSWORD).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("h1"))
        .await
        .unwrap();

    for (lang, case) in [("fr", "new-fr"), ("en", "new-fr"), ("nl", "new-be")] {
        c.goto(&format!("{base}/lang/{lang}?next=/cases/{case}"))
            .await
            .unwrap();
        c.wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("next-step"))
            .await
            .unwrap();
        let html_lang = c
            .execute("return document.documentElement.lang", vec![])
            .await
            .unwrap();
        assert_eq!(html_lang, json!(lang));
        let n = visible_inputs(&c).await;
        assert!(n > 0 && n <= 30, "{lang}: {n} inputs on screen");
        let found = c.execute(RAW_IDS, vec![]).await.unwrap();
        assert_eq!(found, json!([]), "{lang}: raw ids in the visible text");
        // The count of the authority form's missing answers is a number.
        let missing = text_of(&c, "#cnil-missing strong").await;
        assert!(missing.trim().parse::<u32>().is_ok(), "{missing}");
        shot(&c, &format!("intake-{lang}-{case}")).await;
        // Every section opened in turn still shows at most 30 questions, and no raw id.
        let sections = c
            .execute(
                "return [...document.querySelectorAll('details.intake-section')].map(d => d.id);",
                vec![],
            )
            .await
            .unwrap();
        for sec in sections.as_array().unwrap() {
            let sec = sec.as_str().unwrap();
            c.execute(
                "document.querySelectorAll('details.intake-section').forEach(d => d.open = false);",
                vec![],
            )
            .await
            .unwrap();
            click(&c, Locator::Css(&format!("#{sec} > summary"))).await;
            let n = visible_inputs(&c).await;
            assert!(n <= 30, "{lang}: {n} inputs on screen with {sec} open");
            let found = c.execute(RAW_IDS, vec![]).await.unwrap();
            assert_eq!(found, json!([]), "{lang}: raw ids with {sec} open");
        }
    }

    // A section saves on its own: opened by its heading, answered, saved.
    c.goto(&format!("{base}/lang/fr?next=/cases/new-fr"))
        .await
        .unwrap();
    c.wait()
        .for_element(Locator::Id("next-step"))
        .await
        .unwrap();
    click(&c, Locator::Css("#section-consequences > summary")).await;
    fill(&c, "f-consequences", "Hameçonnage ciblé possible").await;
    check(&c, "harms", "fraud").await;
    click(&c, Locator::Id("save-consequences")).await;
    c.wait().for_element(Locator::Id("flash")).await.unwrap();
    shot(&c, "intake-section-saved").await;
    let case = s.api("dpo@acme.example").get("/api/cases/new-fr").json;
    assert_eq!(case["facts"]["consequences"], "Hameçonnage ciblé possible");
    assert_eq!(case["facts"]["harms"], json!(["fraud"]));
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    let mut set: Vec<&str> = last["facts"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    set.sort();
    assert_eq!(
        set,
        ["consequences", "harms"],
        "only that section's answers"
    );
    c.close().await.unwrap();
}
