//! Issue 21 parts 2 and 4, over real HTTP: the case page's intake in sections that each
//! save on their own, the facts a refused step needs asked right there, the steps that
//! matter recorded only once confirmed, "ready" decided by a dry run, and a viewer's
//! read-only summary. The workflow's `intake:` block checked with clear errors.

use crate::both_backends;
use crate::common;

#[allow(unused_imports)]
use common::db::Backend;
use common::web::{Browser, Server, form_token, post_forms};
use serde_json::{Value, json};

both_backends! {
    a_new_case_page_leads_with_what_matters_and_asks_in_closed_sections,
    a_section_saves_on_its_own_and_derived_facts_follow,
    a_refused_step_asks_its_missing_facts_and_saving_them_allows_it,
    the_steps_that_matter_are_recorded_only_once_confirmed,
    ready_means_the_step_would_be_accepted,
    a_viewer_reads_a_summary_not_a_form,
}

const ACME: &str = "dpo@acme.example";

fn open_case(s: &Server, id: &str, facts: Value) {
    let aware = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": aware, "id": id,
                "facts": facts}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
}

fn case(s: &Server, id: &str) -> Value {
    s.api(ACME).get(&format!("/api/cases/{id}")).json
}

/// The HTML of the form whose id is `id`.
fn form_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    post_forms(html)
        .into_iter()
        .map(|(_, f)| f)
        .find(|f| f.contains(&format!("id=\"{id}\"")))
        .unwrap_or_else(|| panic!("no form #{id} in:\n{html}"))
}

/// The `_csrf` of the form whose id is `id` (each form carries its own).
fn token_of(html: &str, id: &str) -> String {
    let f = form_with_id(html, id);
    let needle = "name=\"_csrf\" value=\"";
    let i = f.find(needle).expect("a _csrf field") + needle.len();
    f[i..][..f[i..].find('"').unwrap()].to_string()
}

/// The number shown in `#cnil-missing`.
fn cnil_missing(html: &str) -> i64 {
    let i = html.find("id=\"cnil-missing\"").expect("#cnil-missing");
    let tag_end = i + html[i..].find('>').unwrap();
    let text = &html[tag_end..][..html[tag_end..].find("</p>").unwrap()];
    let needle = "<strong>";
    let j = text.find(needle).expect("the count in bold") + needle.len();
    text[j..][..text[j..].find('<').unwrap()]
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("a number in {text}"))
}

fn a_new_case_page_leads_with_what_matters_and_asks_in_closed_sections() {
    let s = Server::start();
    open_case(
        &s,
        "in-1",
        json!({"nis2_entity": false, "dora_entity": false}),
    );
    let mut b = s.browser(ACME);
    let (status, html, _) = b.get("/cases/in-1");
    assert_eq!(status, 200);
    // The next deadline and the next step come first, before any question.
    let next = html.find("id=\"next-step\"").expect("#next-step");
    let first_section = html.find("class=\"intake-section\"").expect("sections");
    assert!(next < first_section);
    assert!(
        html[next..first_section].contains("sous 72 heures"),
        "{html}"
    );
    // The CNIL form's answers still missing: all but the awareness time.
    let missing = cnil_missing(&html);
    assert!(missing >= 10, "{missing}");
    // Sections in the CNIL form's order, each its own form and button; one open only.
    for id in [
        "what_when",
        "what_happened",
        "people",
        "data",
        "consequences",
        "measures",
        "individuals",
    ] {
        assert!(html.contains(&format!("id=\"section-{id}\"")), "{id}");
        let f = form_with_id(&html, &format!("form-{id}"));
        assert!(f.contains(&format!("id=\"save-{id}\"")), "{id}");
        assert!(
            f.contains("action=\"/cases/in-1/facts\"")
                || f.contains("action=\"&#x2F;cases&#x2F;in-1&#x2F;facts\"")
        );
    }
    assert_eq!(
        html.matches("<details class=\"intake-section\"").count(),
        html.matches("class=\"intake-section\"").count()
    );
    let open: Vec<&str> = html
        .match_indices("<details class=\"intake-section\" id=\"section-")
        .map(|(i, m)| &html[i + m.len()..][..html[i..].find('>').unwrap() - m.len()])
        .filter(|rest| rest.ends_with(" open"))
        .collect();
    assert_eq!(open.len(), 1, "one section open: {open:?}");
    assert!(open[0].starts_with("what_when"), "{open:?}");
    // NIS2 and DORA do not apply: their sections are not shown.
    assert!(!html.contains("id=\"section-nis2\""));
    assert!(!html.contains("id=\"section-dora_classification\""));
    // Marks and help, and a date-time picker in the workflow's zone.
    assert!(
        html.contains("nécessaire pour la notification à l'autorité (CNIL)")
            || html.contains("nécessaire pour la notification à l&#x27;autorité (CNIL)"),
        "{html}"
    );
    assert!(
        html.contains("nécessaire pour l'évaluation du risque")
            || html.contains("nécessaire pour l&#x27;évaluation du risque")
    );
    assert!(html.contains("type=\"datetime-local\" name=\"f.detected_at\" id=\"f-detected_at\""));
    assert!(
        html.contains("Europe/Paris (UTC+0"),
        "the zone and its offset beside a date"
    );
    // The derived facts are not asked.
    for derived in [
        "nature",
        "origin",
        "confidentiality_kind",
        "data_special",
        "individuals_means",
    ] {
        assert!(
            !html.contains(&format!("id=\"f-{derived}\"")),
            "{derived} is asked"
        );
    }
    // The old single form is gone.
    assert!(!html.contains("id=\"save-facts\""));
}

fn a_section_saves_on_its_own_and_derived_facts_follow() {
    let s = Server::start();
    open_case(&s, "in-2", json!({"nis2_entity": false}));
    let mut b = s.browser(ACME);
    let (_, html, _) = b.get("/cases/in-2");
    let before = cnil_missing(&html);
    let seq = case(&s, "in-2")["seq"].as_i64().unwrap();
    let token = token_of(&html, "form-what_happened");
    let r = b.post_form(
        "/cases/in-2/facts",
        &[
            ("_csrf", &token),
            ("seq", &seq.to_string()),
            ("section", "what_happened"),
            ("present", "incident_kind"),
            ("f.incident_kind", "phishing_social_engineering"),
            ("present", "cause"),
            ("f.cause", "external_malicious"),
            ("present", "confidentiality_loss"),
            ("f.confidentiality_loss", "unknown_recipients"),
            ("present", "integrity_loss"),
            ("f.integrity_loss", "none"),
            ("present", "availability_loss"),
            ("f.availability_loss", "none"),
            ("present", "systems"),
            ("f.systems", ""),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let c = case(&s, "in-2");
    assert_eq!(c["facts"]["confidentiality_loss"], "unknown_recipients");
    // One question each; the other shapes follow by the workflow's mapping.
    assert_eq!(c["facts"]["nature"], json!(["confidentiality"]));
    assert_eq!(c["facts"]["origin"], json!(["hacking_malware_phishing"]));
    assert_eq!(c["facts"]["confidentiality_kind"], "disclosed");
    // Only this section's facts (and those derived from them) were written.
    let last = c["events"].as_array().unwrap().last().unwrap().clone();
    let mut set: Vec<&str> = last["facts"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    set.sort();
    assert_eq!(
        set,
        [
            "availability_loss",
            "cause",
            "confidentiality_kind",
            "confidentiality_loss",
            "incident_kind",
            "integrity_loss",
            "nature",
            "origin"
        ]
    );
    // The count of the CNIL form's missing answers went down (cause, nature, origin).
    let (_, html, _) = b.get("/cases/in-2?ok=facts");
    assert_eq!(cnil_missing(&html), before - 3, "{html}");
    assert!(html.contains("id=\"flash\""));
    // The what_when section is still the one open (breach_status missing).
    assert!(html.contains("id=\"section-what_when\" open"));
}

fn a_refused_step_asks_its_missing_facts_and_saving_them_allows_it() {
    let s = Server::start();
    open_case(&s, "in-3", json!({"nis2_entity": false}));
    let mut b = s.browser(ACME);
    let (_, html, _) = b.get("/cases/in-3");
    let token = form_token(&html, "/cases/in-3/events").unwrap();
    let seq = case(&s, "in-3")["seq"].as_i64().unwrap();
    // Containment needs its time: refused, and the page asks for it right there.
    let r = b.post_form(
        "/cases/in-3/events",
        &[
            ("_csrf", &token),
            ("seq", &seq.to_string()),
            ("event", "contain"),
        ],
    );
    assert_eq!(r.status().as_u16(), 400);
    let html = r.text().unwrap();
    assert!(html.contains("id=\"error\""));
    let f = form_with_id(&html, "form-step-contain");
    assert!(
        f.contains("type=\"datetime-local\" name=\"f.contained_at\" id=\"s-contain-contained_at\""),
        "{f}"
    );
    assert!(
        f.contains("Date et heure du confinement"),
        "in the DPO's language: {f}"
    );
    assert!(
        html.contains("id=\"step-facts-contain\" open"),
        "the refused step's questions are open"
    );
    assert!(!html.contains("--set"), "no command-line advice on a page");
    assert_eq!(
        case(&s, "in-3")["seq"].as_i64().unwrap(),
        seq,
        "nothing recorded"
    );
    // Saving them there, then the step is ready, and accepted.
    let token = token_of(&html, "form-step-contain");
    let at = (chrono::Utc::now() - chrono::Duration::minutes(30))
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let r = b.post_form(
        "/cases/in-3/facts",
        &[
            ("_csrf", &token),
            ("seq", &seq.to_string()),
            ("section", "step-contain"),
            ("present", "contained_at"),
            ("f.contained_at", &at),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let c = case(&s, "in-3");
    assert!(
        c["facts"]["contained_at"]
            .as_str()
            .unwrap()
            .starts_with(&at[..16]),
        "{}",
        c["facts"]
    );
    let (_, html, _) = b.get("/cases/in-3");
    let f = form_with_id(&html, "event-contain");
    assert!(f.contains("data-ready=\"1\""), "{f}");
    let token = form_token(&html, "/cases/in-3/events").unwrap();
    let r = b.post_form(
        "/cases/in-3/events",
        &[("_csrf", &token), ("event", "contain")],
    );
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(case(&s, "in-3")["tracks"]["response"], "contained");
}

fn the_steps_that_matter_are_recorded_only_once_confirmed() {
    let s = Server::start();
    open_case(
        &s,
        "in-4",
        json!({"nis2_entity": false, "nature": ["confidentiality"], "subjects_approx": 1200,
               "data_categories": ["identity"], "consequences": "Hameçonnage possible",
               "measures": "Accès coupé"}),
    );
    let mut b = s.browser(ACME);
    let (_, html, _) = b.get("/cases/in-4");
    let seq = case(&s, "in-4")["seq"].as_i64().unwrap();
    // Each of the four: a POST without the confirmation records nothing.
    for event in [
        "notify_authority",
        "decide_no_authority_notice",
        "decide_no_individual_notice",
        "close",
    ] {
        let token = form_token(&html, "/cases/in-4/events").unwrap();
        let r = b.post_form("/cases/in-4/events", &[("_csrf", &token), ("event", event)]);
        let status = r.status().as_u16();
        assert!(status == 200 || status == 400, "{event}: {status}");
        let page = r.text().unwrap();
        assert_eq!(
            case(&s, "in-4")["seq"].as_i64().unwrap(),
            seq,
            "{event}: nothing recorded"
        );
        if status == 200 {
            assert!(page.contains(&format!("id=\"confirm-{event}\"")), "{event}");
        }
    }
    // Notifying the authority would be accepted: the confirmation says what will be
    // recorded, and that the log cannot be changed afterwards.
    let r = b.post_form(
        "/cases/in-4/events",
        &[
            ("_csrf", &form_token(&html, "/cases/in-4/events").unwrap()),
            ("event", "notify_authority"),
            ("note", "envoyé par le téléservice"),
        ],
    );
    assert_eq!(r.status().as_u16(), 200);
    let page = r.text().unwrap();
    let f = form_with_id(&page, "confirm-notify_authority-form");
    assert!(f.contains("type=\"checkbox\" name=\"confirm\" value=\"yes\" id=\"confirm-notify_authority\" required"), "{f}");
    assert!(f.contains("id=\"confirm-notify_authority-submit\""));
    assert!(page.contains("ne peut plus être modifié"), "{page}");
    assert!(
        page.contains("Notification effectuée"),
        "the state it moves to: {page}"
    );
    assert_eq!(case(&s, "in-4")["seq"].as_i64().unwrap(), seq);
    // Confirmed: recorded, with the note typed on the first step.
    let token = token_of(&page, "confirm-notify_authority-form");
    let r = b.post_form(
        "/cases/in-4/events",
        &[
            ("_csrf", &token),
            ("event", "notify_authority"),
            ("note", "envoyé par le téléservice"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status().as_u16(), 303);
    let c = case(&s, "in-4");
    assert_eq!(c["tracks"]["authority"], "notified");
    let last = c["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["note"], "envoyé par le téléservice");
    // A step that asks no confirmation is recorded at once.
    let (_, html, _) = b.get("/cases/in-4");
    assert!(!html.contains("id=\"confirm-contain\""));
}

fn ready_means_the_step_would_be_accepted() {
    let s = Server::start();
    open_case(
        &s,
        "in-5",
        json!({"nis2_entity": false, "consequences": "Aucune", "measures": "Accès coupé",
               "contained_at": (chrono::Utc::now() - chrono::Duration::minutes(30)).to_rfc3339()}),
    );
    let r = s
        .api(ACME)
        .post("/api/cases/in-5/events", &json!({"event": "contain"}));
    assert_eq!(r.status, 200, "{}", r.json);
    let mut b = s.browser(ACME);
    let (_, html, _) = b.get("/cases/in-5");
    // Closing needs every obligation decided: its facts are there, but it would be
    // refused, so it is not "ready" (it was, before).
    let f = form_with_id(&html, "event-close");
    assert!(f.contains("data-ready=\"0\""), "{f}");
    assert!(!f.contains("class=\"ready\""), "{f}");
    let token = form_token(&html, "/cases/in-5/events").unwrap();
    let r = b.post_form(
        "/cases/in-5/events",
        &[("_csrf", &token), ("event", "close"), ("confirm", "yes")],
    );
    assert_eq!(
        r.status().as_u16(),
        400,
        "closing is refused, as the page said"
    );
}

fn a_viewer_reads_a_summary_not_a_form() {
    let s = Server::start();
    open_case(
        &s,
        "in-6",
        json!({"nis2_entity": false, "subjects_approx": 1200, "consequences": "Hameçonnage possible"}),
    );
    let mut v = Browser::new(&s.base);
    assert_eq!(
        v.login("viewer@acme.example", common::web::PASSWORD)
            .status()
            .as_u16(),
        303
    );
    let (status, html, _) = v.get("/cases/in-6");
    assert_eq!(status, 200);
    assert!(html.contains("id=\"summary\""), "{html}");
    assert!(html.contains("Hameçonnage possible"));
    assert!(html.contains("Nombre approximatif de personnes concernées"));
    assert!(!html.contains(" disabled"), "no greyed-out form");
    assert!(!html.contains("action=\"/cases/in-6/facts\"") && !html.contains("&#x2F;facts\""));
    assert!(!html.contains("intake-section"));
}
