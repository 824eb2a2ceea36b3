//! Issue 25 part 3: the authority's answer kept on the case. A step sent to an authority
//! records the reference it gave, the instant, the channel and the acknowledgement file
//! (kept by its SHA-256, which the chained event holds); the register (page, CSV,
//! inspection) shows it; later steps (the APD's part 2, a complement, a NIS2
//! notification) carry the reference; the fill-assist view (`draft --fill`, the page
//! with its copy buttons) follows each authority's form; bad input is one line, exit 2,
//! nothing written; another organisation never sees any of it. Real binary, both
//! backends where the store is involved, Chromium for the copy buttons.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::web::{Server, form_token, hidden};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

both_backends! {
    a_recorded_submission_shows_in_the_register_with_its_acknowledgement,
    later_steps_carry_the_reference_the_authority_gave,
    a_bad_reference_channel_instant_or_file_is_one_line_and_writes_nothing,
    the_fill_page_records_the_submission_and_stays_in_its_organisation,
}

const ACME: &str = "dpo@acme.example";
const VIEWER: &str = "viewer@acme.example";
const OTHER: &str = "dpo@other.example";

/// A synthetic acknowledgement PDF (the bytes only need to read as a PDF).
const RECEIPT: &[u8] =
    b"%PDF-1.4\n% synthetic CNIL receipt for tests\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The facts `notify_authority` requires, as `--set` pairs.
const NOTIFY_FACTS: [&str; 10] = [
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
];

fn last_submission(case: &Value) -> Value {
    case["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| !e["submission"].is_null())
        .map(|e| e["submission"].clone())
        .unwrap_or_else(|| panic!("no submission in {case:#}"))
}

fn a_recorded_submission_shows_in_the_register_with_its_acknowledgement() {
    let s = Server::start();
    let v = &s.v;
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": "2026-11-20T09:00", "id": "a-1"}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let receipt = v.dir().join("accuse-cnil.pdf");
    std::fs::write(&receipt, RECEIPT).unwrap();
    let mut args = vec![
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
        "recorded from the CNIL's receipt",
        "--ack",
        receipt.to_str().unwrap(),
        "--json",
    ];
    args.extend(NOTIFY_FACTS);
    let case: Value = serde_json::from_str(&v.ok(&args)).unwrap();
    let hash = sha(RECEIPT);
    let sub = last_submission(&case);
    assert_eq!(sub["reference"], "CNIL-2026-0042", "{sub}");
    assert_eq!(sub["channel"], "teleservice");
    assert_eq!(sub["ack"]["sha256"], hash.as_str());
    assert_eq!(sub["ack"]["media_type"], "application/pdf");
    assert_eq!(sub["ack"]["name"], "accuse-cnil.pdf");
    assert_eq!(case["tracks"]["authority"], "notified", "{case:#}");
    assert_eq!(
        case["facts"]["authority_ref"], "CNIL-2026-0042",
        "the reference is the case's fact now"
    );
    // The acknowledgement's bytes are kept by their hash, and the chain still verifies.
    let kept = v.sql(
        &format!("SELECT COUNT(*) FROM issued_texts WHERE org = 'acme' AND case_id = 'a-1' AND sha256 = '{hash}'"),
        &[],
    );
    assert_eq!(kept[0][0], json!(1), "{kept:?}");
    v.ok(&["audit", "verify"]);

    // The register: the CLI's, the CSV, the inspection document, the page and its CSV.
    let want = [
        "CNIL-2026-0042",
        "submitted 2026-11-21T10:00:00+01:00",
        "teleservice",
        &format!("ack sha256:{hash}"),
    ];
    let text = v.ok(&["--org", "acme", "register"]);
    let csv = v.ok(&["--org", "acme", "register", "--csv"]);
    let md = v.ok(&[
        "--org", "acme", "register", "--format", "md", "--lang", "en",
    ]);
    let inspection_csv = v.ok(&["--org", "acme", "register", "--format", "csv"]);
    let mut b = s.browser(ACME);
    let (status, page, _) = b.get("/register");
    assert_eq!(status, 200);
    let (_, page_csv, _) = b.get_bytes("/register.csv");
    let page_csv = String::from_utf8(page_csv).unwrap();
    for (name, out) in [
        ("register", &text),
        ("register --csv", &csv),
        ("inspection md", &md),
        ("inspection csv", &inspection_csv),
        ("register.csv", &page_csv),
    ] {
        for w in want {
            assert!(out.contains(w), "{name} lacks {w}:\n{out}");
        }
    }
    // The page says it in its own words (French here), links the acknowledgement and
    // leaves the hash and the English of the CSV out.
    for w in [
        "Notification à l&#x27;autorité de contrôle",
        "Référence de l&#x27;autorité : CNIL-2026-0042",
        "Envoyé le 2026-11-21 10:00 +01:00",
        "Téléservice (formulaire en ligne)",
        &format!("/cases/a-1/acknowledgements/{hash}"),
    ] {
        assert!(page.contains(w), "the register page lacks {w}:\n{page}");
    }
    for w in ["submitted 2026", "sha256:", "notify_authority:"] {
        assert!(!page.contains(w), "the register page shows {w}:\n{page}");
    }
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("authority_ref,submissions")
    );
    // Another organisation's register never shows it.
    let mut o = s.browser(OTHER);
    let (_, other, _) = o.get("/register");
    assert!(!other.contains("CNIL-2026-0042"));
    let other_csv = v.ok(&["--org", "other", "register", "--csv"]);
    assert!(!other_csv.contains("CNIL-2026-0042"));
}

fn later_steps_carry_the_reference_the_authority_gave() {
    let v = Vigie::new();
    // Belgium: part 1 gives the DBN number; part 2's draft and step use it.
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--title",
        "Phishing",
        "--aware-at",
        "2026-11-20T09:00",
        "--id",
        "be-1",
        "--set",
        "nis2_entity=true",
    ]);
    let mut args = vec![
        "case",
        "advance",
        "be-1",
        "notify_authority",
        "--ref",
        "DBN-2026-0042",
        "--channel",
        "teleservice",
        "--submitted-at",
        "2026-11-21T10:00",
        "--reason",
        "from the portal",
    ];
    args.extend(NOTIFY_FACTS);
    v.ok(&args);
    let part2 = v.ok(&["draft", "be-1", "apd_notification_part2", "--lang", "en"]);
    assert!(
        part2.contains("Reference of part 1: DBN-2026-0042"),
        "{part2}"
    );
    let fill = v.ok(&[
        "draft",
        "be-1",
        "apd_notification_part2",
        "--fill",
        "--lang",
        "en",
    ]);
    assert!(
        fill.lines()
            .next()
            .unwrap()
            .contains("DBN-2026-0042 [required]"),
        "part 2's form starts with part 1's reference:\n{fill}"
    );
    // Part 2 is refused without the reference before it is recorded; now it is accepted,
    // its own submission kept, the case's reference unchanged.
    let case: Value = serde_json::from_str(&v.ok(&[
        "case",
        "advance",
        "be-1",
        "notify_authority_part2",
        "--ref",
        "DBN-2026-0042",
        "--channel",
        "teleservice",
        "--submitted-at",
        "2026-11-25T10:00",
        "--reason",
        "from the portal",
        "--json",
    ]))
    .unwrap();
    assert_eq!(last_submission(&case)["reference"], "DBN-2026-0042");
    // The complement names the initial notification's reference (EDPB field 6 too).
    let complement = v.ok(&["draft", "be-1", "apd_notification", "--lang", "en"]);
    assert!(
        complement.contains("registered under reference DBN-2026-0042"),
        "{complement}"
    );
    let edpb = v.ok(&["draft", "be-1", "edpb_notification", "--lang", "en"]);
    assert!(
        edpb.contains("Reference of the earlier notification: DBN-2026-0042"),
        "{edpb}"
    );
    // NIS2: the early warning's reference goes to `nis2_ref`, which the notification carries.
    v.ok(&[
        "case",
        "advance",
        "be-1",
        "nis2_early_warning",
        "--ref",
        "CCB-INC-7781",
        "--channel",
        "email",
        "--submitted-at",
        "2026-11-20T20:00",
        "--reason",
        "from the CCB's e-mail",
    ]);
    let case = v.show("be-1");
    assert_eq!(case["facts"]["nis2_ref"], "CCB-INC-7781", "{case:#}");
    assert_eq!(case["facts"]["authority_ref"], "DBN-2026-0042");
    let nis2 = v.ok(&["draft", "be-1", "nis2_notification", "--lang", "en"]);
    assert!(
        nis2.contains("Reference the authority gave the early warning: CCB-INC-7781"),
        "{nis2}"
    );
}

fn a_bad_reference_channel_instant_or_file_is_one_line_and_writes_nothing() {
    let v = Vigie::new();
    v.open_fr("fr-1", "2026-11-20T09:00");
    v.ok(&[
        "case",
        "set",
        "fr-1",
        "nature=[confidentiality]",
        "subjects_approx=120",
        "data_categories=[contact]",
        "consequences=Phishing risk",
        "measures=Passwords reset",
    ]);
    let png = v.dir().join("screenshot.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n not an acknowledgement").unwrap();
    let long = "X".repeat(150);
    let before = v.db_snapshot();
    let base = ["case", "advance", "fr-1", "notify_authority"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--ref", "CNIL\n42", "--channel", "teleservice"],
            "reference",
        ),
        (
            vec!["--ref", &long, "--channel", "teleservice"],
            "reference",
        ),
        (vec!["--ref", "CNIL-42", "--channel", "pigeon"], "channel"),
        (vec!["--ref", "CNIL-42"], "--channel"),
        (
            vec![
                "--ref",
                "CNIL-42",
                "--channel",
                "email",
                "--submitted-at",
                "the 21st",
            ],
            "submitted-at",
        ),
        (
            vec![
                "--ref",
                "CNIL-42",
                "--channel",
                "email",
                "--ack",
                png.to_str().unwrap(),
            ],
            "ack",
        ),
    ];
    for (extra, field) in cases {
        let mut args = base.to_vec();
        args.extend(extra);
        let line = v.fails(&args, 2);
        assert!(line.contains(field), "{args:?}: {line}");
    }
    // A step that is not sent to an authority takes no reference.
    let line = v.fails(
        &[
            "case",
            "advance",
            "fr-1",
            "contain",
            "--ref",
            "X-1",
            "--channel",
            "phone",
        ],
        2,
    );
    assert!(line.contains("not a step sent to an authority"), "{line}");
    assert_eq!(v.db_snapshot(), before, "nothing was written");
}

/// A multipart/form-data body, as a browser sends it: fields, then the file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----vigieTestBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, val) in fields {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{val}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"ack\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n")
                .as_bytes(),
        );
        body.extend(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn post_multipart(
    s: &Server,
    b: &common::web::Browser,
    path: &str,
    (ct, body): (String, Vec<u8>),
) -> (u16, String) {
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let r = b
        .client
        .post(s.url(path))
        .header("cookie", cookie)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

fn the_fill_page_records_the_submission_and_stays_in_its_organisation() {
    let s = Server::start();
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": "2026-11-20T09:00", "id": "a-1",
                "facts": {"nature": ["confidentiality"], "subjects_approx": 120, "data_categories": ["contact"],
                          "consequences": "Phishing risk", "measures": "Passwords reset"}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let show = |s: &Server| {
        s.v.json(&["--org", "acme", "case", "show", "a-1", "--json"])
    };
    let mut b = s.browser(ACME);
    let (_, case_page, _) = b.get("/cases/a-1");
    assert!(
        case_page.contains("href=\"/cases/a-1/fill/cnil_notification\""),
        "the drafts section links the fill-assist view"
    );
    let path = "/cases/a-1/fill/cnil_notification";
    let (status, page, _) = b.get(path);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-copy=\"fill-"), "copy buttons: {page}");
    assert!(page.contains("Passwords reset"), "answers ready to copy");
    assert!(page.contains("mark-required") && page.contains("mark-later"));
    let action = format!("{path}/submitted");
    let csrf = form_token(&page, &action).expect("the submitted form has its token");
    let seq = show(&s)["seq"].as_i64().unwrap();

    // A bad reference: the page again with the reason, nothing written.
    let bad = multipart(
        &[
            ("_csrf", &csrf),
            ("event", "notify_authority"),
            ("reference", "   ;;; "),
            ("at", "2026-11-21T10:00"),
            ("channel", "teleservice"),
        ],
        None,
    );
    let (status, page) = post_multipart(&s, &b, &action, bad);
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("reference"), "{page}");
    assert_eq!(show(&s)["seq"].as_i64().unwrap(), seq);

    // The form with its file: a confirmation, nothing written yet.
    let form = multipart(
        &[
            ("_csrf", &csrf),
            ("event", "notify_authority"),
            ("reference", "CNIL-2026-0099"),
            ("at", "2026-11-22T10:00"),
            ("channel", "teleservice"),
            ("reason", "from the receipt"),
        ],
        Some(("accuse.pdf", RECEIPT)),
    );
    let (status, page) = post_multipart(&s, &b, &action, form);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("submitted-confirm-box"), "{page}");
    assert!(page.contains(&format!("sha256:{}", sha(RECEIPT))), "{page}");
    assert!(page.contains("2026-11-22 10:00 +01:00"), "{page}");
    assert_eq!(
        show(&s)["seq"].as_i64().unwrap(),
        seq,
        "not before confirming"
    );
    // Confirmed: recorded, with the file's hash.
    let token = form_token(&page, &action).expect("the confirmation carries the token");
    let mut confirm: Vec<(String, String)> = [
        "event",
        "reference",
        "channel",
        "seq",
        "reason",
        "at",
        "ack_name",
        "ack_hex",
    ]
    .iter()
    .filter_map(|k| hidden(&page, k).map(|v| (k.to_string(), v)))
    .collect();
    confirm.push(("_csrf".into(), token));
    confirm.push(("confirm".into(), "yes".into()));
    let pairs: Vec<(&str, &str)> = confirm
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = b.post_form(&action, &pairs);
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().unwrap());
    let case = show(&s);
    let sub = last_submission(&case);
    assert_eq!(sub["reference"], "CNIL-2026-0099");
    assert_eq!(sub["ack"]["sha256"], sha(RECEIPT).as_str());
    assert_eq!(case["facts"]["authority_ref"], "CNIL-2026-0099");
    // Now the form is the complement's, naming the initial notification's reference.
    let (_, page, _) = b.get(path);
    assert!(page.contains("CNIL-2026-0099"), "{page}");

    // Another organisation: 404 for the page and the form, its register without it;
    // a viewer of acme may read the form but not record.
    let mut o = s.browser(OTHER);
    assert_eq!(o.get(path).0, 404);
    let other_csrf = {
        let (_, p, _) = o.get("/register");
        form_token(&p, "/logout").expect("the sign-out form's token")
    };
    let forged = multipart(
        &[
            ("_csrf", &other_csrf),
            ("event", "notify_authority_complement"),
            ("reference", "X-1"),
            ("channel", "email"),
        ],
        None,
    );
    let (status, _) = post_multipart(&s, &o, &action, forged);
    assert!(status == 404 || status == 403, "{status}");
    let (_, reg, _) = o.get("/register");
    assert!(!reg.contains("CNIL-2026-0099"));
    let mut viewer = s.browser(VIEWER);
    let (status, page, _) = viewer.get(path);
    assert_eq!(status, 200);
    assert!(!page.contains("submitted-form"), "a viewer gets no form");
    assert_eq!(show(&s)["seq"].as_i64().unwrap(), seq + 1);
}

#[test]
fn draft_fill_prints_the_form_in_its_order_with_marks() {
    let v = Vigie::new();
    v.open_fr("fr-1", "2026-11-20T09:00");
    v.ok(&[
        "case",
        "set",
        "fr-1",
        "nature=[confidentiality]",
        "measures=Passwords reset",
        "breach_status=established",
    ]);
    let out = v.ok(&[
        "draft",
        "fr-1",
        "cnil_notification",
        "--fill",
        "--lang",
        "en",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    for l in &lines {
        let (head, rest) = l.split_once(": ").unwrap_or_else(|| panic!("{l}"));
        assert!(head.contains(" / "), "screen / field: {l}");
        assert!(rest.ends_with(']'), "marks at the end: {l}");
    }
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line {needle}:\n{out}"))
    };
    // The teleservice's order: organisation, notification, breach, nature, …, measures.
    let order = [
        "Organisation / ",
        "Notification / ",
        "The breach / ",
        "Nature of the breach / ",
        "Origin and cause / ",
        "People concerned / ",
        "Data concerned / ",
        "Consequences / ",
        "Measures / ",
        "Informing the people / ",
    ];
    let places: Vec<usize> = order.iter().map(|o| at(o)).collect();
    assert!(places.windows(2).all(|w| w[0] < w[1]), "{places:?}\n{out}");
    let line = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap()
            .to_string()
    };
    assert!(
        line("Notification / ").contains("Initial notification [required]"),
        "{out}"
    );
    assert!(line("Passwords reset").ends_with("[required]"), "{out}");
    assert!(
        line("The breach / Date and time the breach started")
            .ends_with("[required, not known yet, can be completed later]"),
        "{out}"
    );
    assert!(line("processor").contains("[conditional"), "{out}");
    assert!(
        line("Date and time of awareness").contains("[required]"),
        "{out}"
    );
    // The EDPB template, in its sections' order.
    let edpb = v.ok(&[
        "draft",
        "fr-1",
        "edpb_notification",
        "--fill",
        "--lang",
        "en",
    ]);
    let first = edpb.lines().next().unwrap();
    assert!(first.starts_with("1.1"), "{edpb}");
    assert!(edpb.contains("[required, not known yet]"), "{edpb}");
    // A document no authority's form takes: one line, exit 2.
    let line = v.fails(&["draft", "fr-1", "individual_letter", "--fill"], 2);
    assert!(line.contains("individual_letter"), "{line}");
}

/// The copy buttons in a real Chromium: a click puts the answer on the clipboard (or,
/// where the clipboard is refused, selects it for Ctrl+C), which Ctrl+V pastes into a
/// field the test reads back; the reference typed in the page's form is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_copy_buttons_put_each_answer_on_the_clipboard() {
    use common::browser::*;
    use fantoccini::Locator;
    use fantoccini::key::Key;
    let s = Server::start();
    let r = s.api(ACME).post(
        "/api/cases",
        &json!({"workflow": "fr", "title": "Fichier clients exposé", "aware_at": "2026-11-20T09:00", "id": "a-1",
                "facts": {"nature": ["confidentiality"], "measures": "Mots de passe réinitialisés", "subjects_approx": 120,
                          "data_categories": ["contact"], "consequences": "Hameçonnage",
                          "delay_reasons": "Enquête interne avant de connaître l'étendue"}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    let base = s.base.clone();
    sign_in(&c, &base, ACME, common::web::PASSWORD).await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    c.goto(&format!("{base}/cases/a-1")).await.unwrap();
    click(&c, Locator::Id("fill-cnil_notification")).await;
    wait_text(&c, "#fill-title", &["Téléservice de la CNIL"]).await;
    // The measures' answer, by its field.
    let id: String = c
        .execute(
            "return document.querySelector('textarea[data-field=\"measures\"]').id;",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let want = "Mots de passe réinitialisés";
    click(&c, Locator::Id(&format!("{id}-copy"))).await;
    wait_text(&c, &format!("#{id}-copy"), &["Copié"]).await;
    // Pasted into the form's reference field, then read back.
    let field = c.find(Locator::Id("submitted-reference")).await.unwrap();
    field.clear().await.unwrap();
    field.click().await.unwrap();
    let paste = format!("{}v{}", char::from(Key::Control), char::from(Key::Control));
    field.send_keys(&paste).await.unwrap();
    let pasted = field.prop("value").await.unwrap().unwrap_or_default();
    shot(&c, "authref-01-fill").await;
    assert_eq!(pasted, want, "the clipboard held the answer");
    // The reference typed, the step confirmed: in the register.
    fill(&c, "submitted-reference", "CNIL-2026-0123").await;
    fill(&c, "submitted-at", "").await;
    click(&c, Locator::Id("submitted-submit")).await;
    wait_text(&c, "#confirm-reference", &["CNIL-2026-0123"]).await;
    click(&c, Locator::Id("submitted-confirm")).await;
    click(&c, Locator::Id("submitted-confirm-submit")).await;
    c.wait()
        .for_element(Locator::Css("#case-id"))
        .await
        .unwrap();
    c.goto(&format!("{base}/register")).await.unwrap();
    let reg = wait_text(&c, "#register", &["CNIL-2026-0123"]).await;
    assert!(reg.contains("Téléservice (formulaire en ligne)"), "{reg}");
    c.close().await.unwrap();
}
