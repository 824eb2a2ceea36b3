//! Issue 13 part 5: the register for an inspection (`vigie register --format
//! md|csv|json [--year Y]`, and its downloads on the register page and the API): every
//! breach of the organisation, notified or not, with its facts, effects, measures,
//! decision and reasons; never another organisation's; the year in the workflow's zone.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::web::Server;
use serde_json::Value;

both_backends! {
    the_year_is_the_year_detected_in_paris_and_organisations_stay_apart,
    every_seed_incident_is_in_the_register_with_its_decision_and_reasons,
}

fn open(v: &Vigie, org: &str, id: &str, detected: &str, aware: &str) {
    v.ok(&[
        "--org",
        org,
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        &format!("Breach {id}"),
        "--aware-at",
        aware,
        "--id",
        id,
        "--set",
        &format!("detected_at={detected}"),
        "--set",
        "consequences=Addresses may be used for phishing",
        "--set",
        "measures=Passwords reset",
    ]);
}

fn cases(v: &Vigie, org: &str, year: &str) -> Vec<String> {
    let j: Value = v.json(&["--org", org, "register", "--format", "json", "--year", year]);
    j["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["case"].as_str().unwrap().to_string())
        .collect()
}

fn the_year_is_the_year_detected_in_paris_and_organisations_stay_apart() {
    // A real server with organisations acme and other (tests/common/web.rs).
    let s = Server::start();
    let v = &s.v;
    // 23:30 in Paris on New Year's Eve is 2025 there (22:30 UTC).
    open(
        v,
        "acme",
        "eve",
        "2025-12-31T23:30:00+01:00",
        "2026-01-02T10:00",
    );
    // 00:30 in Paris on New Year's Day is 2026 there, though still 2025 in UTC.
    open(
        v,
        "acme",
        "newyear",
        "2025-12-31T23:30:00Z",
        "2026-01-02T11:00",
    );
    // Another organisation's breach in the same year, and a case id both have.
    open(
        v,
        "other",
        "theirs",
        "2026-01-01T12:00:00+01:00",
        "2026-01-02T12:00",
    );
    open(
        v,
        "other",
        "eve",
        "2026-01-01T12:00:00+01:00",
        "2026-01-02T12:00",
    );

    assert_eq!(cases(v, "acme", "2025"), ["eve"]);
    assert_eq!(cases(v, "acme", "2026"), ["newyear"]);
    assert_eq!(cases(v, "other", "2025"), Vec::<String>::new());
    assert_eq!(cases(v, "other", "2026"), ["theirs", "eve"]);
    let all: Value = v.json(&["--org", "acme", "register", "--format", "json"]);
    assert_eq!(all["breaches"].as_array().unwrap().len(), 2);
    assert_eq!(all["organisation"], "ACME SA");
    assert_eq!(all["breaches"][1]["detected"], "2026-01-01T00:30:00+01:00");
    assert_eq!(all["breaches"][1]["year"], 2026);
    // The effects and the measures are in it.
    assert_eq!(
        all["breaches"][0]["effects"][0]["value"],
        "Addresses may be used for phishing"
    );
    assert_eq!(
        all["breaches"][0]["remedial"][0]["value"],
        "Passwords reset"
    );

    // The same filter on the working register's table and CSV; its columns unchanged.
    let table = v.ok(&["--org", "acme", "register", "--year", "2026"]);
    assert!(
        table.contains("newyear") && !table.contains("eve "),
        "{table}"
    );
    let csv = v.ok(&[
        "--org", "acme", "register", "--format", "csv", "--year", "2025",
    ]);
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header = lines.next().unwrap();
    let working = v.ok(&["--org", "acme", "register", "--csv"]);
    let working_header = working
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap();
    assert!(
        header.starts_with(&format!("{working_header},detected,year,")),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("eve,fr,Breach eve,"), "{}", rows[0]);
    // Markdown: one section per breach, nothing of the other organisation.
    let md = v.ok(&[
        "--org", "acme", "register", "--format", "md", "--lang", "en", "--year", "2026",
    ]);
    assert!(md.contains("## newyear — Breach newyear"), "{md}");
    assert!(md.contains("Breaches detected in 2026: 1"), "{md}");
    assert!(!md.contains("Breach eve") && !md.contains("theirs") && !md.contains("Other SA"));
    // In Dutch (a Flemish DPO's inspection): its own document, not the English one.
    let nl = v.ok(&[
        "--org", "acme", "register", "--format", "md", "--lang", "nl", "--year", "2026",
    ]);
    assert!(nl.starts_with("# Register van inbreuken"), "{nl}");
    assert!(nl.contains("Inbreuken vastgesteld in 2026: 1"), "{nl}");
    assert!(nl.contains("## newyear — Breach newyear"), "{nl}");
    assert!(
        nl.contains("### Feiten") && !nl.contains("### Facts"),
        "{nl}"
    );
    // PDF waits for the PDF renderer; a bad year is refused with exit 2.
    let err = v.fails(&["--org", "acme", "register", "--format", "pdf"], 2);
    assert!(err.contains("--format pdf"), "{err}");
    let err = v.fails(
        &[
            "--org", "acme", "register", "--format", "json", "--year", "twenty",
        ],
        2,
    );
    assert!(err.contains("twenty"), "{err}");
    // Without --org, `default` is empty here and two organisations were set up: the
    // command says which to name instead of printing an empty register.
    let err = v.fails(&["register"], 2);
    assert!(err.contains("--org 'acme'"), "{err}");

    // On the web: the register page offers it, the download is the DPO's organisation's
    // only, and every download is in the access log.
    let mut b = s.browser("dpo@acme.example");
    let (_, page, _) = b.get("/register");
    assert!(page.contains("id=\"inspection-form\""));
    // The form as a browser sends it with its default values: the year left blank
    // means every year (it was refused: "Failed to deserialize query string").
    let (status, md, headers) = b.get("/register/inspection?year=&format=md");
    assert_eq!(status, 200, "{md}");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("register-acme.md"), "{disposition}");
    let (status, html, _) = b.get("/register/inspection?year=twenty&format=md");
    assert_eq!(status, 400);
    assert!(html.contains("is not a year"), "{html}");
    let (status, csv, headers) = b.get("/register/inspection?format=csv&year=2025");
    assert_eq!(status, 200);
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("register-acme-2025.csv")
    );
    assert_eq!(
        csv.trim_start_matches('\u{feff}').lines().count(),
        2,
        "{csv}"
    );
    let j = s
        .api("dpo@other.example")
        .get("/api/register/inspection?year=2026");
    let theirs: Vec<&str> = j.json["breaches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["case"].as_str().unwrap())
        .collect();
    assert_eq!(theirs, ["theirs", "eve"]);
    assert_eq!(j.json["breaches"][1]["title"], "Breach eve");
    let logged = s.v.sql(
        "SELECT org, actor, object, detail, address FROM access_log WHERE object = 'register' ORDER BY id",
        &[],
    );
    let detail: Vec<String> = logged
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r[0].as_str().unwrap(),
                r[3].as_str().unwrap(),
                r[4].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        detail,
        [
            "acme page 127.0.0.1",
            "acme inspection md 127.0.0.1",
            "acme inspection csv 2025 127.0.0.1",
            "other inspection json 2026 127.0.0.1"
        ]
    );
}

fn every_seed_incident_is_in_the_register_with_its_decision_and_reasons() {
    let v = Vigie::new();
    v.ok(&["demo"]);
    let j: Value = v.json(&["register", "--format", "json"]);
    let breaches = j["breaches"].as_array().unwrap();
    let mut ids: Vec<&str> = breaches
        .iter()
        .map(|b| b["case"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "caf-2021",
            "cpas-charleroi",
            "france-travail",
            "france-visas-2021",
            "hubee-2026"
        ]
    );
    for b in breaches {
        let id = b["case"].as_str().unwrap();
        assert!(!b["risk"].as_str().unwrap().is_empty(), "{id}: decision");
        assert!(
            !b["risk_rationale"].as_str().unwrap().is_empty(),
            "{id}: its reasons"
        );
        assert!(!b["facts"].as_array().unwrap().is_empty(), "{id}: facts");
        assert!(
            !b["effects"].as_array().unwrap().is_empty(),
            "{id}: effects"
        );
        assert!(
            !b["remedial"].as_array().unwrap().is_empty(),
            "{id}: measures"
        );
        assert!(
            !b["decisions"].as_array().unwrap().is_empty(),
            "{id}: steps"
        );
        // Not notified, or late: the reasons are there.
        if b["authority"] == "not_required" || b["authority_late"] == true {
            assert!(!b["authority_reason"].as_str().unwrap().is_empty(), "{id}");
        }
        if b["individuals"] == "not_required" {
            assert!(
                !b["individuals_reason"].as_str().unwrap().is_empty(),
                "{id}"
            );
        }
    }
    let late = breaches
        .iter()
        .find(|b| b["case"] == "france-visas-2021")
        .unwrap();
    assert_eq!(late["authority_late"], true);
    let hubee = breaches.iter().find(|b| b["case"] == "hubee-2026").unwrap();
    assert_eq!(hubee["individuals"], "not_required");
    // The document for the inspector: each incident with its decision and reasons.
    let md = v.ok(&["register", "--format", "md", "--lang", "fr"]);
    for id in ids {
        assert!(md.contains(&format!("## {id} — ")), "{id}");
    }
    assert_eq!(md.matches("### Décision et motifs").count(), 5);
    assert_eq!(md.matches("- Justification : ").count(), 5);
    assert!(md.contains("Motifs (autorité) : Tri long des dossiers"));
}
