//! The small things that stopped a DPO's journey (issue 21 parts 6 and 7), as the pages
//! show them over real HTTP from the real `vigie serve`: counts in words a person reads
//! right, the role in the page's language, the register's dates in the workflow's zone,
//! the access log as its own view with a CSV export, the calendar address with its copy
//! button and its warning, and "record as issued" that warns about placeholders and can
//! record the very PDF that was downloaded.

use crate::common;

use common::web::{Browser, Server, form_token, hidden};
use serde_json::{Value, json};

const ACME_DPO: &str = "dpo@acme.example";
const VIEWER: &str = "viewer@acme.example";
const OTHER: &str = "dpo@other.example";

/// An fr case of acme, aware an hour ago (nothing overdue).
fn open_recent_case(s: &Server, id: &str) -> Value {
    let aware = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let r = s.api(ACME_DPO).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier exposé", "aware_at": aware, "id": id}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    r.json
}

fn visible(html: &str, open: &str) -> String {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("{open} in {html}"));
    let rest = &html[start..];
    rest[..rest.find("</p>").unwrap_or(rest.len())].to_string()
}

#[test]
fn counts_roles_and_dates_read_as_words_in_the_page_s_language() {
    let s = Server::start();
    open_recent_case(&s, "w-1");
    let mut b = s.browser(VIEWER);
    let (status, dash, _) = b.get("/");
    assert_eq!(status, 200);
    let summary = visible(&dash, "id=\"cases-summary\"");
    // Nothing overdue: the zero is not shown as an alarm; one case is singular.
    assert!(
        summary.contains("class=\"chip st-none\" data-count=\"overdue\">0 "),
        "{summary}"
    );
    assert!(
        summary.ends_with("<span data-count=\"open\">1</span> dossier ouvert"),
        "{summary}"
    );
    // The role in French, not the id.
    let who = visible(&dash, "class=\"who\"");
    assert!(who.contains("lecteur"), "{who}");
    assert!(!who.contains("viewer ·"), "{who}");

    // The register's dates in the workflow's zone with its offset, not RFC 3339.
    let case = s.api(ACME_DPO).get("/api/cases/w-1").json;
    let aware = case["facts"]["aware_at"].as_str().unwrap().to_string();
    let at = chrono::DateTime::parse_from_rfc3339(&aware).unwrap();
    let shown = at
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H:%M %:z")
        .to_string();
    let (_, register, _) = b.get("/register");
    let row = &register[register.find("data-case=\"w-1\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains(&shown), "{shown} in {row}");
    assert!(!row.contains(&aware), "{row}");
    // The CSV keeps RFC 3339.
    let (_, csv, _) = b.get("/register.csv");
    assert!(csv.contains(&aware), "{csv}");
}

#[test]
fn the_access_log_is_its_own_view_filtered_and_exported_for_the_dpo_only() {
    let s = Server::start();
    open_recent_case(&s, "a-1");
    open_recent_case(&s, "a-2");
    let mut dpo = s.browser(ACME_DPO);
    let mut viewer = s.browser(VIEWER);
    // Reads that the log records: the viewer reads a draft of a-1, the DPO the register.
    assert_eq!(viewer.get("/cases/a-1/drafts/cnil_notification").0, 200);
    assert_eq!(dpo.get("/register").0, 200);
    // The other organisation reads its own register: never in acme's log.
    let mut other = s.browser(OTHER);
    assert_eq!(other.get("/register").0, 200);

    let (status, page, _) = dpo.get("/access");
    assert_eq!(status, 200);
    assert!(!page.contains("other.example"), "{page}");
    let rows = page.matches("class=\"access-row\"").count();
    assert_eq!(rows, 2, "{page}");
    // In French, with the document's name rather than its id.
    assert!(page.contains("Consultation"), "{page}");
    assert!(!page.contains(" cnil_notification"), "{page}");

    // Filtered by case and by person.
    let (_, page, _) = dpo.get("/access?case=a-1");
    assert_eq!(page.matches("class=\"access-row\"").count(), 1, "{page}");
    assert!(page.contains(VIEWER), "{page}");
    let (_, page, _) = dpo.get("/access?case=-&who=DPO%40ACME");
    assert_eq!(page.matches("class=\"access-row\"").count(), 1, "{page}");
    let (_, page, _) = dpo.get("/access?case=a-2");
    assert_eq!(page.matches("class=\"access-row\"").count(), 0, "{page}");
    // A day that is no date is refused, naming the field.
    let (status, page, _) = dpo.get("/access?from=yesterday");
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("from"), "{page}");

    // The CSV: a header and one line an entry, the filter applied.
    let (status, csv, headers) = dpo.get("/access.csv?case=a-1");
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut r = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        head,
        [
            "at", "case", "actor", "action", "object", "detail", "address", "via"
        ]
    );
    let lines: Vec<csv::StringRecord> = r.records().map(|x| x.unwrap()).collect();
    assert_eq!(lines.len(), 1, "{csv}");
    assert_eq!(&lines[0][1], "a-1");
    assert_eq!(&lines[0][3], "view");
    assert!(lines[0][2].contains(VIEWER));

    // The viewer and a contributor may not read it.
    for who in [VIEWER, "contrib@acme.example"] {
        let mut b = s.browser(who);
        assert_eq!(b.get("/access").0, 403, "{who}");
        assert_eq!(b.get("/access.csv").0, 403, "{who}");
    }
}

#[test]
fn the_calendar_address_has_a_copy_button_and_says_when_it_is_local() {
    let s = Server::start();
    let mut b = s.browser(VIEWER);
    let (_, page, _) = b.get("/settings");
    let csrf = form_token(&page, "/settings/calendar").unwrap();
    let r = b.post_form(
        "/settings/calendar",
        &[("_csrf", csrf.as_str()), ("action", "new")],
    );
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().unwrap();
    assert!(page.contains("id=\"calendar-copy\""), "{page}");
    assert!(page.contains("data-copy=\"calendar-url\""), "{page}");
    // No http.public_url in this server's configuration: the page says the address is
    // this browser's.
    assert!(page.contains("id=\"calendar-public-url\""), "{page}");
    // When the token was made, in the workflow's zone with its offset (not UTC).
    let since = visible(&page, "id=\"calendar-since\"");
    assert!(
        since.contains("(UTC+01:00)") || since.contains("(UTC+02:00)"),
        "{since}"
    );

    // With http.public_url, the address starts with it and the warning goes.
    let s = Server::start_with_config("http: { public_url: \"https://vigie.example.org/\" }\n");
    let mut b = s.browser(VIEWER);
    let (_, page, _) = b.get("/settings");
    let csrf = form_token(&page, "/settings/calendar").unwrap();
    let page = b
        .post_form(
            "/settings/calendar",
            &[("_csrf", csrf.as_str()), ("action", "new")],
        )
        .text()
        .unwrap();
    assert!(
        page.contains("value=\"https://vigie.example.org/calendar.ics?token"),
        "{page}"
    );
    assert!(!page.contains("id=\"calendar-public-url\""), "{page}");
}

fn issued(s: &Server, id: &str) -> Vec<Value> {
    s.api(ACME_DPO).get(&format!("/api/cases/{id}")).json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "document_issued")
        .cloned()
        .collect()
}

fn sha256_of(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn record_as_issued_warns_of_placeholders_and_records_the_pdf_downloaded() {
    let s = Server::start();
    open_recent_case(&s, "p-1");
    let mut b: Browser = s.browser(ACME_DPO);
    let (_, page, _) = b.get("/cases/p-1/drafts/cnil_notification");
    // A new case's draft still has items to complete: the form says how many and asks.
    let warning = visible(&page, "id=\"issue-placeholders\"");
    assert!(warning.contains("À compléter"), "{warning}");
    assert!(
        page.contains("id=\"accept-placeholders\" required"),
        "{page}"
    );
    let action = "/cases/p-1/drafts/cnil_notification/issue";
    let csrf = form_token(&page, action).unwrap();
    let drafted_at = hidden(&page, "drafted_at").unwrap();
    // Without the DPO's yes, nothing is recorded.
    let r = b.post_form(
        action,
        &[
            ("_csrf", csrf.as_str()),
            ("lang", "fr"),
            ("format", "pdf"),
            ("drafted_at", drafted_at.as_str()),
            ("placeholders", "left"),
        ],
    );
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("cochez la case"));
    assert!(issued(&s, "p-1").is_empty());

    // The PDF as the page's link gives it, then recorded: the same bytes' hash.
    let link = page
        .split("href=\"")
        .find(|h| h.contains("format=pdf"))
        .map(|h| h[..h.find('"').unwrap()].replace("&amp;", "&"))
        .expect("the PDF link");
    assert!(link.contains("&at="), "{link}");
    let (status, pdf, _) = b.get_bytes(&link);
    assert_eq!(status, 200);
    assert!(pdf.starts_with(b"%PDF"));
    let form = [
        ("_csrf", csrf.as_str()),
        ("lang", "fr"),
        ("format", "pdf"),
        ("drafted_at", drafted_at.as_str()),
        ("placeholders", "left"),
        ("accept_placeholders", "yes"),
    ];
    let r = b.post_form(action, &form);
    assert_eq!(r.status().as_u16(), 303);
    let events = issued(&s, "p-1");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["format"], "pdf");
    assert_eq!(events[0]["sha256"], json!(sha256_of(&pdf)));
    // The same form again appends nothing; the case page says only the hash is kept.
    assert_eq!(b.post_form(action, &form).status().as_u16(), 303);
    assert_eq!(issued(&s, "p-1").len(), 1);
    let (_, case_page, _) = b.get("/cases/p-1");
    assert!(case_page.contains("class=\"hash-only\""), "{case_page}");
}

#[test]
fn the_timeline_says_in_french_which_facts_came_from_the_organisation_s_profile() {
    let s = Server::start();
    s.v.ok(&["org", "set", "acme", "--nis2-entity", "no"]);
    open_recent_case(&s, "t-1");
    let mut b = s.browser(VIEWER);
    let (_, page, _) = b.get("/cases/t-1");
    assert!(
        page.contains("depuis le profil de l'organisme")
            || page.contains("depuis le profil de l&#x27;organisme"),
        "{page}"
    );
    assert!(!page.contains("from the organisation"), "{page}");
}

#[test]
fn a_refusal_for_a_role_or_a_conflict_is_said_in_the_page_s_language() {
    let s = Server::start();
    open_recent_case(&s, "e-1");
    // A viewer who reaches the access log: the page says it in French, the API in English.
    let mut b = s.browser(VIEWER);
    let (status, page, _) = b.get("/access");
    assert_eq!(status, 403);
    assert!(
        page.contains("Votre rôle ne permet pas cette action"),
        "{page}"
    );
    assert!(!page.contains("your role does not allow"), "{page}");
    let api = s.api(VIEWER).post(
        "/api/cases/e-1/facts",
        &json!({"facts": {"subjects_approx": 3}}),
    );
    assert_eq!(api.status, 403);
    assert!(
        api.json["error"]
            .as_str()
            .unwrap()
            .contains("your role does not allow"),
        "{}",
        api.json
    );

    // Two tabs of the same case: the second save, from a page that is out of date, is
    // refused as a conflict in French and writes nothing.
    let mut dpo = s.browser(ACME_DPO);
    let (_, page, _) = dpo.get("/cases/e-1");
    let csrf = form_token(&page, "/cases/e-1/facts").unwrap();
    let seq = hidden(&page, "seq").unwrap();
    let save = |b: &mut Browser, n: &str| {
        b.post_form(
            "/cases/e-1/facts",
            &[
                ("_csrf", csrf.as_str()),
                ("seq", seq.as_str()),
                ("present", "subjects_approx"),
                ("f.subjects_approx", n),
            ],
        )
    };
    assert_eq!(save(&mut dpo, "10").status().as_u16(), 303);
    let r = save(&mut dpo, "20");
    assert_eq!(r.status().as_u16(), 409);
    let page = r.text().unwrap();
    assert!(page.contains("Le dossier a changé entre-temps"), "{page}");
    let case = s.api(ACME_DPO).get("/api/cases/e-1").json;
    assert_eq!(case["facts"]["subjects_approx"], 10);
}

#[test]
fn a_refused_step_is_explained_with_the_workflow_s_words_not_its_ids() {
    let s = Server::start();
    open_recent_case(&s, "r-1");
    // The API says it as the core does (scripts read it).
    let api = s
        .api(ACME_DPO)
        .post("/api/cases/r-1/events", &json!({"event": "close"}));
    assert_eq!(api.status, 400, "{}", api.json);
    let english = api.json["error"].as_str().unwrap().to_string();
    let before = s.api(ACME_DPO).get("/api/cases/r-1").json;
    assert!(english.contains("'close'"), "{english}");
    // The page, in French and in Dutch: the step's and states' names, no raw id.
    for (lang, says) in [
        ("fr", "n'est pas possible maintenant"),
        ("nl", "kan nu niet"),
    ] {
        let mut b = s.browser(ACME_DPO);
        b.get(&format!("/lang/{lang}"));
        let (_, page, _) = b.get("/cases/r-1");
        let csrf = form_token(&page, "/cases/r-1/events").unwrap();
        let seq = hidden(&page, "seq").unwrap();
        let r = b.post_form(
            "/cases/r-1/events",
            &[
                ("_csrf", csrf.as_str()),
                ("seq", seq.as_str()),
                ("event", "close"),
                ("confirm", "yes"),
            ],
        );
        assert_eq!(r.status().as_u16(), 400);
        let page = r.text().unwrap();
        let start = page.find("id=\"error\"").expect("the refusal is shown");
        let banner = &page[start..start + page[start..].find("</p>").unwrap()];
        let banner = banner.replace("&#x27;", "'");
        assert!(banner.contains(says), "{lang}: {banner}");
        for raw in ["'close'", "track '", "fact '", "is not allowed"] {
            assert!(!banner.contains(raw), "{lang}: {raw} in {banner}");
        }
    }
    let after = s.api(ACME_DPO).get("/api/cases/r-1").json;
    assert_eq!(after["seq"], before["seq"], "nothing recorded");
}
