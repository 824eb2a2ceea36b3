//! The case page and the dashboard are rendered once per version and kept (issue 14):
//! a write by another instance is seen on the next page, organisations and roles never
//! share a render, each session gets its own CSRF token, and the dashboard pages its
//! cases, most urgent first. The servers run with `VIGIE_PAGE_CACHE_CHECK=1`
//! (tests/common/web.rs): every page served from the cache is also compared with a fresh
//! render, and a difference is a 500.

use crate::both_backends;
use crate::common;

use common::web::{Browser, Server, hidden};
use serde_json::json;

both_backends! {
    a_write_on_one_instance_shows_on_the_next_page_of_another,
    organisations_and_roles_never_share_a_render,
    each_session_gets_its_own_csrf_token_on_a_kept_page,
    the_dashboard_pages_its_cases_most_urgent_first,
}

const ACME: &str = "dpo@acme.example";
const OTHER: &str = "dpo@other.example";

fn open(s: &Server, who: &str, id: &str, title: &str, aware_at: &str) {
    let r = s.api(who).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": title, "aware_at": aware_at, "id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
}

fn page(b: &mut Browser, path: &str) -> String {
    let (status, html, _) = b.get(path);
    assert_eq!(status, 200, "GET {path}: {html}");
    html
}

/// Every CSRF value in a page (the forms and the sign-out button).
fn csrf_values(html: &str) -> Vec<String> {
    html.split("name=\"_csrf\" value=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

fn a_write_on_one_instance_shows_on_the_next_page_of_another() {
    let a = Server::start();
    open(&a, ACME, "inst-1", "Laptop stolen", "2026-11-20T09:00");
    let b = a.another_instance("0s");
    let mut on_b = b.browser(ACME);
    // Rendered and kept by b, then served from b's cache.
    for _ in 0..2 {
        let html = page(&mut on_b, "/cases/inst-1");
        assert!(!html.contains("value=\"4242\""));
        assert!(page(&mut on_b, "/").contains("data-case=\"inst-1\""));
    }
    // A writes; b's next pages show it.
    let r = a.api(ACME).post(
        "/api/cases/inst-1/facts",
        &json!({"facts": {"records_approx": 4242}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    let html = page(&mut on_b, "/cases/inst-1");
    assert!(html.contains("value=\"4242\""), "b shows a's write");
    open(&a, ACME, "inst-2", "Mailbox opened", "2026-11-20T09:00");
    let dash = page(&mut on_b, "/");
    assert!(dash.contains("data-case=\"inst-2\""), "{dash}");
    assert!(dash.contains("Mailbox opened"));
    // And b's own write shows on a.
    let mut on_a = a.browser(ACME);
    page(&mut on_a, "/cases/inst-1");
    let r = b.api(ACME).post(
        "/api/cases/inst-1/facts",
        &json!({"facts": {"records_approx": 5151}}),
    );
    assert_eq!(r.status, 200, "{}", r.json);
    assert!(page(&mut on_a, "/cases/inst-1").contains("value=\"5151\""));
    for s in [&a, &b] {
        assert!(!s.log().contains("page cache"), "{}", s.log());
    }
}

fn organisations_and_roles_never_share_a_render() {
    let s = Server::start();
    // The same case id in two organisations.
    open(&s, ACME, "same-1", "Acme laptop", "2026-11-20T09:00");
    open(&s, OTHER, "same-1", "Other laptop", "2026-11-20T09:00");
    let mut dpo = s.browser(ACME);
    let mut contrib = s.browser("contrib@acme.example");
    let mut viewer = s.browser("viewer@acme.example");
    let mut other = s.browser(OTHER);
    for round in 0..2 {
        let d = page(&mut dpo, "/cases/same-1");
        let o = page(&mut other, "/cases/same-1");
        let c = page(&mut contrib, "/cases/same-1");
        let v = page(&mut viewer, "/cases/same-1");
        for (html, mine) in [
            (&d, "Acme laptop"),
            (&c, "Acme laptop"),
            (&v, "Acme laptop"),
        ] {
            assert!(
                html.contains(mine) && !html.contains("Other laptop"),
                "round {round}"
            );
        }
        assert!(o.contains("Other laptop") && !o.contains("Acme laptop"));
        // What each role may do, as its own render says.
        assert!(d.contains("id=\"save-what_when\"") && d.contains("id=\"decide-form\""));
        assert!(c.contains("id=\"save-what_when\"") && !c.contains("id=\"decide-form\""));
        assert!(c.contains("id=\"as-dpo-only\""));
        assert!(!v.contains("id=\"save-what_when\"") && !v.contains("id=\"decide-form\""));
        let dd = page(&mut dpo, "/");
        let od = page(&mut other, "/");
        assert!(dd.contains("Acme laptop") && !dd.contains("Other laptop"));
        assert!(od.contains("Other laptop") && !od.contains("Acme laptop"));
    }
    assert!(!s.log().contains("page cache"), "{}", s.log());
}

fn each_session_gets_its_own_csrf_token_on_a_kept_page() {
    let s = Server::start();
    open(&s, ACME, "tok-1", "Laptop stolen", "2026-11-20T09:00");
    let mut one = s.browser(ACME);
    let mut two = s.browser(ACME);
    let p1 = page(&mut one, "/cases/tok-1");
    let p2 = page(&mut two, "/cases/tok-1");
    let (t1, t2) = (csrf_values(&p1), csrf_values(&p2));
    assert!(t1.len() > 3, "forms on the page: {}", t1.len());
    assert_eq!(t1.len(), t2.len());
    assert!(t1.iter().all(|t| *t == t1[0]) && t2.iter().all(|t| *t == t2[0]));
    assert_ne!(t1[0], t2[0], "two sessions, two tokens");
    // Each token works for its own session only.
    let seq = hidden(&p2, "seq").unwrap();
    let form = |t: &str| {
        vec![
            ("_csrf", t.to_string()),
            ("seq", seq.clone()),
            ("present", "records_approx".to_string()),
            ("f.records_approx", "77".to_string()),
        ]
    };
    let f = form(&t1[0]);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(two.post_form("/cases/tok-1/facts", &pairs).status(), 403);
    let f = form(&t2[0]);
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(two.post_form("/cases/tok-1/facts", &pairs).status(), 303);
    let again = page(&mut one, "/cases/tok-1");
    assert!(again.contains("value=\"77\""));
    assert!(csrf_values(&again).iter().all(|t| *t == t1[0]));
    assert!(
        csrf_values(&page(&mut two, "/cases/tok-1"))
            .iter()
            .all(|t| *t == t2[0])
    );
    assert!(!s.log().contains("page cache"), "{}", s.log());
}

fn the_dashboard_pages_its_cases_most_urgent_first() {
    let s = Server::start();
    // 52 cases found ten minutes ago: their first deadline (NIS2's 24 h) is due within
    // 24 hours; 3 found on 20 November: overdue.
    let recent = (chrono::Utc::now() - chrono::Duration::minutes(10))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for i in 1..=52 {
        open(&s, ACME, &format!("soon-{i:02}"), "Recent", &recent);
    }
    for i in 1..=3 {
        open(&s, ACME, &format!("late-{i}"), "Old", "2026-11-20T09:00");
    }
    let mut b = s.browser(ACME);
    let rows = |html: &str| -> Vec<String> {
        html.split("class=\"case-row\" data-case=\"")
            .skip(1)
            .map(|r| r[..r.find('"').unwrap()].to_string())
            .collect()
    };
    for _ in 0..2 {
        let first = page(&mut b, "/");
        let ids = rows(&first);
        assert_eq!(ids.len(), 50);
        let mut top: Vec<String> = ids[..3].to_vec();
        top.sort();
        assert_eq!(top, ["late-1", "late-2", "late-3"], "the overdue first");
        assert!(first.contains("data-count=\"overdue\">3 "), "{first}");
        assert!(first.contains("data-count=\"soon\">52 "));
        assert!(first.contains("<span data-count=\"open\">55</span>"));
        assert!(first.contains("data-page=\"1\" data-pages=\"2\""));
        assert!(first.contains("href=\"/?page=2\"") && !first.contains("id=\"page-prev\""));
        let second = page(&mut b, "/?page=2");
        let more = rows(&second);
        assert_eq!(more.len(), 5);
        let mut all: Vec<String> = ids.iter().chain(&more).cloned().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 55, "every case on one page or the other");
        assert!(second.contains("href=\"/?page=1\"") && !second.contains("id=\"page-next\""));
        // Past the end: the last page; not a number: the first.
        assert_eq!(rows(&page(&mut b, "/?page=9")), more);
        assert_eq!(rows(&page(&mut b, "/?page=x")), ids);
    }
    assert!(!s.log().contains("page cache"), "{}", s.log());
}
