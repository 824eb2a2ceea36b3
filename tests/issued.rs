//! Issue 13 part 4: what was sent and who read it. "Record as issued" on the web and
//! the API (the DPO's, idempotent), the exact recorded bytes downloadable after the
//! draft changed, and the access log: every view or download of a draft, an issued
//! document or the register, with who, when and from which address, shown merged into
//! the case's timeline (`case show`, the case page, the API) to the DPO only, never to
//! another organisation. Real `vigie serve`, real HTTP on loopback, both backends.

use crate::both_backends;
use crate::common;

use common::web::{Server, form_token, hidden};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

both_backends! {
    the_dpo_records_a_draft_as_issued_once_and_gets_the_exact_bytes_back,
    every_read_is_logged_with_its_address_and_shown_to_the_dpo_only,
    the_forwarded_address_counts_only_from_a_trusted_proxy,
}

const ACME: &str = "dpo@acme.example";
const CONTRIB: &str = "contrib@acme.example";
const VIEWER: &str = "viewer@acme.example";
const OTHER: &str = "dpo@other.example";

fn open_acme_case(s: &Server, id: &str) {
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Laptop stolen", "aware_at": "2026-11-20T09:00", "id": id,
                "facts": {"nature": ["confidentiality"], "measures": "Remote wipe"}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `case show --json` of acme's case, read from the database as the CLI does.
fn show(s: &Server, id: &str) -> Value {
    s.v.json(&["--org", "acme", "case", "show", id, "--json"])
}

fn issued_events(case: &Value) -> Vec<Value> {
    case["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "document_issued")
        .cloned()
        .collect()
}

fn raw_get(s: &Server, email: &str, path: &str) -> (u16, Vec<u8>) {
    let r = s
        .api(email)
        .client
        .get(s.url(path))
        .bearer_auth(s.token(email))
        .send()
        .unwrap();
    (r.status().as_u16(), r.bytes().unwrap().to_vec())
}

fn the_dpo_records_a_draft_as_issued_once_and_gets_the_exact_bytes_back() {
    let s = Server::start();
    open_acme_case(&s, "a-1");
    let mut b = s.browser(ACME);
    let (status, page, _) = b.get("/cases/a-1/drafts/cnil_notification");
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"issue-form\""),
        "the DPO sees the button"
    );
    let csrf = form_token(&page, "/cases/a-1/drafts/cnil_notification/issue")
        .expect("the form has a CSRF field");
    let drafted_at = hidden(&page, "drafted_at").expect("the form says when it was drafted");
    let form = [
        ("_csrf", csrf.as_str()),
        ("lang", "fr"),
        ("format", "md"),
        ("drafted_at", drafted_at.as_str()),
    ];
    let r = b.post_form("/cases/a-1/drafts/cnil_notification/issue", &form);
    assert_eq!(r.status().as_u16(), 303);
    let case = show(&s, "a-1");
    let issued = issued_events(&case);
    assert_eq!(issued.len(), 1, "{case}");
    let hash = issued[0]["sha256"].as_str().unwrap().to_string();
    assert_eq!(issued[0]["actor"], ACME, "the user who recorded it");
    assert_eq!(issued[0]["format"], "md");
    let seq = case["seq"].as_i64().unwrap();

    // The same page submitted again appends nothing (idempotent).
    let r = b.post_form("/cases/a-1/drafts/cnil_notification/issue", &form);
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(show(&s, "a-1")["seq"].as_i64().unwrap(), seq);
    // On the API: the draft read, then recorded twice as read.
    let read = s
        .api(ACME)
        .get("/api/cases/a-1/drafts/cnil_notification?format=html&lang=fr");
    let body = json!({"lang": "fr", "format": "html", "drafted_at": read.json["drafted_at"]});
    let first = s
        .api(ACME)
        .post("/api/cases/a-1/drafts/cnil_notification/issue", &body);
    assert_eq!(first.status, 200, "{}", first.json);
    assert_eq!(first.json["already"], false, "html is another text");
    assert_eq!(
        first.json["sha256"], read.json["sha256"],
        "the text read is the one recorded"
    );
    let again = s
        .api(ACME)
        .post("/api/cases/a-1/drafts/cnil_notification/issue", &body);
    assert_eq!(again.json["already"], true);
    assert_eq!(again.json["sha256"], first.json["sha256"]);
    let seq = seq + 1;
    assert_eq!(show(&s, "a-1")["seq"].as_i64().unwrap(), seq);

    // A forged form records nothing.
    let r = b.post_form(
        "/cases/a-1/drafts/cnil_notification/issue",
        &[("_csrf", "forged"), ("format", "json")],
    );
    assert_eq!(r.status().as_u16(), 403);
    // Other roles may not record; another organisation's DPO does not find the case.
    for (who, code) in [(CONTRIB, 403), (VIEWER, 403), (OTHER, 404)] {
        let r = s.api(who).post(
            "/api/cases/a-1/drafts/cnil_notification/issue",
            &json!({"format": "json"}),
        );
        assert_eq!(r.status, code, "{who}: {}", r.json);
    }
    assert_eq!(show(&s, "a-1")["seq"].as_i64().unwrap(), seq);

    // The case page lists it with a download of the exact bytes.
    let (_, page, _) = b.get("/cases/a-1");
    assert!(
        page.contains(&format!("/cases/a-1/issued/{hash}")),
        "{page}"
    );

    // The draft changes (the organisation's name is in it): a new render differs, the
    // recorded text does not.
    s.v.ok(&["org", "set", "acme", "--name", "ACME Renamed SA"]);
    let now = s
        .api(ACME)
        .get("/api/cases/a-1/drafts/cnil_notification?format=md&lang=fr");
    assert!(
        now.json["text"]
            .as_str()
            .unwrap()
            .contains("ACME Renamed SA")
    );
    let (status, bytes) = raw_get(&s, ACME, &format!("/api/cases/a-1/issued/{hash}"));
    assert_eq!(status, 200);
    assert_eq!(sha(&bytes), hash, "byte-identical to what was recorded");
    let recorded = String::from_utf8(bytes.clone()).unwrap();
    assert!(recorded.contains("ACME SA") && !recorded.contains("Renamed"));
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = b
        .client
        .get(s.url(&format!("/cases/a-1/issued/{hash}")))
        .header("cookie", cookie)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("a-1-cnil_notification.fr."),
        "{disposition}"
    );
    assert_eq!(
        r.bytes().unwrap().to_vec(),
        bytes,
        "the page's download is the same"
    );
    // Listed on the API; another organisation gets 404 for the list and the bytes.
    let list = s.api(ACME).get("/api/cases/a-1/issued");
    assert_eq!(list.json[0]["sha256"], hash.as_str());
    assert_eq!(list.json[0]["stored"], true);
    assert_eq!(list.json.as_array().unwrap().len(), 2);
    assert_eq!(s.api(OTHER).get("/api/cases/a-1/issued").status, 404);
    assert_eq!(
        raw_get(&s, OTHER, &format!("/api/cases/a-1/issued/{hash}")).0,
        404
    );
    // An unknown hash is 404, not another document.
    assert_eq!(raw_get(&s, ACME, "/api/cases/a-1/issued/00ff").0, 404);

    // The CLI's `draft --record` shares the use-case: its text is kept as well.
    let out = s.v.run(&[
        "--org",
        "acme",
        "draft",
        "a-1",
        "cnil_notification",
        "--lang",
        "fr",
        "--record",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let issued = issued_events(&show(&s, "a-1"));
    assert_eq!(issued.len(), 3, "the renamed text is new");
    let cli_hash = issued[2]["sha256"].as_str().unwrap();
    let (status, bytes) = raw_get(&s, ACME, &format!("/api/cases/a-1/issued/{cli_hash}"));
    assert_eq!(status, 200);
    assert_eq!(sha(&bytes), cli_hash);
    assert!(
        String::from_utf8(bytes)
            .unwrap()
            .contains("ACME Renamed SA")
    );
}

fn every_read_is_logged_with_its_address_and_shown_to_the_dpo_only() {
    let s = Server::start();
    open_acme_case(&s, "a-1");
    let seq = show(&s, "a-1")["seq"].as_i64().unwrap();
    let hash_before = show(&s, "a-1")["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["hash"]
        .clone();

    // A download on the pages by the contributor, a view by the viewer, a draft and the
    // register through the API by the DPO.
    let mut contrib = s.browser(CONTRIB);
    let (status, _, _) =
        contrib.get("/cases/a-1/drafts/cnil_notification/download?format=md&lang=fr");
    assert_eq!(status, 200);
    let mut viewer = s.browser(VIEWER);
    assert_eq!(viewer.get("/cases/a-1/drafts/complaint").0, 200);
    let r = s
        .api(ACME)
        .get("/api/cases/a-1/drafts/cnil_notification?format=txt");
    assert_eq!(r.status, 200);
    assert_eq!(s.api(ACME).get("/api/register").status, 200);

    // Reading changed neither the case's sequence nor its chain.
    let case = show(&s, "a-1");
    assert_eq!(case["seq"].as_i64().unwrap(), seq, "a view is not an event");
    assert_eq!(
        case["events"].as_array().unwrap().last().unwrap()["hash"],
        hash_before
    );
    let access = case["access"].as_array().unwrap();
    assert_eq!(
        access.len(),
        3,
        "the case's reads (the register is not the case's): {case}"
    );
    assert!(access.iter().all(|a| a["kind"] == "access"));
    assert!(
        access.iter().all(|a| a["address"] == "127.0.0.1"),
        "{access:?}"
    );
    assert_eq!(access[0]["actor"], CONTRIB);
    assert_eq!(access[0]["action"], "download");
    assert_eq!(access[0]["object"], "draft");
    assert_eq!(access[0]["via"], "web");
    assert!(
        access[0]["detail"]
            .as_str()
            .unwrap()
            .contains("cnil_notification (md, fr)")
    );
    assert_eq!(access[1]["actor"], VIEWER);
    assert_eq!(access[1]["action"], "view");
    assert_eq!(access[2]["actor"], ACME);
    assert_eq!(access[2]["via"], "api");
    // Merged into the timeline after the events they followed, marked as access.
    let timeline = case["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), case["events"].as_array().unwrap().len() + 3);
    assert_eq!(timeline.last().unwrap()["kind"], "access");
    assert_eq!(timeline[0]["kind"], "event");
    // The text form too.
    let text = s.v.ok(&["--org", "acme", "case", "show", "a-1"]);
    assert!(
        text.lines().any(|l| l.trim_start().starts_with("access ")
            && l.contains("downloaded draft cnil_notification (md, fr) from 127.0.0.1 (web)")
            && l.contains(CONTRIB)),
        "{text}"
    );

    // The DPO sees it on the case page and the API; other roles do not; another
    // organisation does not find the case.
    let mut dpo = s.browser(ACME);
    let (_, page, _) = dpo.get("/cases/a-1");
    assert!(
        page.contains("data-access=\"1\""),
        "the DPO's timeline shows access"
    );
    let (_, page, _) = contrib.get("/cases/a-1");
    assert!(!page.contains("data-access"), "a contributor's does not");
    let api = s.api(ACME).get("/api/cases/a-1");
    assert_eq!(
        api.json["access"].as_array().unwrap().len(),
        3,
        "{}",
        api.json
    );
    assert!(
        s.api(CONTRIB)
            .get("/api/cases/a-1")
            .json
            .get("access")
            .is_none()
    );
    assert_eq!(s.api(CONTRIB).get("/api/cases/a-1/access").status, 403);
    assert_eq!(s.api(OTHER).get("/api/cases/a-1/access").status, 404);
    assert_eq!(
        s.api(OTHER).get("/api/cases/a-1/drafts/complaint").status,
        404
    );
    let other =
        s.v.run(&["--org", "other", "case", "show", "a-1", "--json"]);
    assert_eq!(other.code, 2, "another organisation's case is unknown");
    // The register's reads are logged too, in the organisation's log (no case):
    // nothing of acme's is in other's.
    let rows = s.v.sql(
        "SELECT org, object, detail FROM access_log WHERE case_id IS NULL ORDER BY id",
        &[],
    );
    assert_eq!(
        rows,
        vec![vec![json!("acme"), json!("register"), json!("json")]]
    );
    assert_eq!(s.api(OTHER).get("/api/register.csv").status, 200);
    let rows =
        s.v.sql("SELECT COUNT(*) FROM access_log WHERE org = 'other'", &[]);
    assert_eq!(rows[0][0], 1);
}

fn the_forwarded_address_counts_only_from_a_trusted_proxy() {
    // Without a trusted proxy, a client's X-Forwarded-For is ignored.
    let s = Server::start();
    open_acme_case(&s, "a-1");
    let get = |s: &Server| {
        let r = s
            .api(ACME)
            .client
            .get(s.url("/api/cases/a-1/drafts/complaint"))
            .bearer_auth(s.token(ACME))
            .header("x-forwarded-for", "203.0.113.50, 198.51.100.7")
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    };
    get(&s);
    assert_eq!(show(&s, "a-1")["access"][0]["address"], "127.0.0.1");
    drop(s);
    // Behind a proxy the configuration trusts (here loopback): the address it appended.
    let s = Server::start_with_config("http: { trusted_proxies: [127.0.0.1] }\n");
    open_acme_case(&s, "a-1");
    get(&s);
    assert_eq!(show(&s, "a-1")["access"][0]["address"], "198.51.100.7");
}
