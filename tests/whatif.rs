//! The law as it stands on the day (issue 26 part 3): workflow versions by date, each
//! case pinning the version in force at its `aware_at`; the Digital Omnibus proposal
//! shipped as versions no case pins; `vigie whatif` replaying a case (or every case)
//! under another version, writing nothing; the case page's "what if" panel.

use crate::both_backends;
use crate::common;

use chrono::{DateTime, Duration, FixedOffset};
use common::{Vigie, clock, repo};
use serde_json::Value;

both_backends! {
    whatif_all_on_the_five_seeds_moves_each_art33_deadline_24_hours_later,
    whatif_all_never_lists_another_organisation_s_cases,
}

/// A time as the CLI shows it: `2026-10-27 09:00 +01:00`.
fn shown(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_str(s, "%Y-%m-%d %H:%M %:z")
        .unwrap_or_else(|e| panic!("{s:?} is not a shown time: {e}"))
}

fn whatif_all_on_the_five_seeds_moves_each_art33_deadline_24_hours_later() {
    let v = Vigie::new();
    v.ok(&["demo"]);
    let before = v.db_snapshot();
    let all = v.json(&[
        "whatif",
        "--all",
        "--workflow",
        "fr@omnibus-proposal",
        "--json",
    ]);
    let all = all.as_array().expect("a list");
    let seeds = [
        ("caf-2021", "fr"),
        ("cpas-charleroi", "be"),
        ("france-travail", "fr"),
        ("france-visas-2021", "fr"),
        ("hubee-2026", "fr"),
    ];
    assert_eq!(all.len(), seeds.len(), "{all:?}");
    for (id, wf) in seeds {
        let w = all
            .iter()
            .find(|w| w["case"] == id)
            .unwrap_or_else(|| panic!("{id} missing"));
        // Each case against the version it pinned, replayed under its own jurisdiction's
        // proposal (a Belgian case under be@omnibus-proposal).
        assert_eq!(w["workflow_now"], format!("{wf}@2018-05-25"), "{id}");
        assert_eq!(
            w["workflow_whatif"],
            format!("{wf}@omnibus-proposal"),
            "{id}"
        );
        let case = v.show(id);
        let due_72 =
            DateTime::parse_from_rfc3339(clock(&case, "art33")["due_at"].as_str().unwrap())
                .unwrap();
        let now = shown(w["authority_deadline_now"].as_str().unwrap());
        let whatif = shown(w["authority_deadline_whatif"].as_str().unwrap());
        assert_eq!(now, due_72, "{id}: the deadline now is the case's");
        assert_eq!(
            whatif - now,
            Duration::hours(24),
            "{id}: 96 h instead of 72 h"
        );
        // Every seed's recorded decision is a high risk: under the high-risk threshold
        // the notification is still required.
        assert_eq!(case["facts"]["risk"], "high", "{id}");
        assert_eq!(w["authority_required_now"], true, "{id}");
        assert_eq!(w["authority_required_whatif"], true, "{id}");
    }
    // The table: one line per seed, deadline now → what if, required now → what if,
    // and which seeds would no longer need to notify (none: all five were high risk).
    let table = v.ok(&["whatif", "--all", "--workflow", "fr@omnibus-proposal"]);
    for (id, _) in seeds {
        let w = all.iter().find(|w| w["case"] == id).unwrap();
        let line = table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{table}"));
        let expected = format!(
            "{} → {}",
            w["authority_deadline_now"].as_str().unwrap(),
            w["authority_deadline_whatif"].as_str().unwrap()
        );
        assert!(line.contains(&expected), "{line}");
        assert!(line.trim_end().ends_with("yes → yes"), "{line}");
    }
    assert!(
        table.contains("no longer required to notify the authority: none of these cases"),
        "{table}"
    );
    // Nothing written, in any table.
    assert_eq!(v.db_snapshot(), before, "whatif wrote to the database");
}

#[test]
fn a_risk_that_is_not_high_would_no_longer_be_notified_and_the_db_is_untouched() {
    let v = Vigie::new();
    v.open_fr("w-1", "2026-11-02T10:00");
    v.ok(&[
        "case",
        "set",
        "w-1",
        "risk=risk",
        "risk_rationale=limited data",
    ]);
    v.open_fr("w-2", "2026-11-02T11:00");
    v.ok(&[
        "case",
        "set",
        "w-2",
        "risk=high",
        "risk_rationale=health data",
    ]);
    let bytes = std::fs::read(v.db_path()).unwrap();
    let one = v.ok(&["whatif", "w-1", "--workflow", "fr@omnibus-proposal"]);
    assert!(
        one.contains("fr@omnibus-proposal instead of fr@2018-05-25"),
        "{one}"
    );
    let required = one
        .lines()
        .find(|l| l.starts_with("authority notification required"))
        .unwrap_or_else(|| panic!("{one}"));
    assert!(
        required.contains("yes") && required.contains("no"),
        "{required}"
    );
    // The clock no longer applies; its deadline moves by 24 h all the same.
    assert!(one.contains("art33 deadline"), "{one}");
    assert!(one.contains("2026-11-05 10:00 +01:00"), "{one}");
    assert!(one.contains("2026-11-06 10:00 +01:00"), "{one}");
    assert!(one.contains("art33 status"), "{one}");
    assert!(one.contains("not_applicable"), "{one}");
    let table = v.ok(&["whatif", "--all", "--workflow", "fr@omnibus-proposal"]);
    assert!(
        table.contains("no longer required to notify the authority: w-1\n"),
        "{table}"
    );
    let w2 = table.lines().find(|l| l.starts_with("w-2")).unwrap();
    assert!(w2.trim_end().ends_with("yes → yes"), "{w2}");
    // The assessment's recommendation follows the threshold too: the rules of the
    // proposal recommend notifying only a high risk.
    let j = v.json(&[
        "whatif",
        "w-1",
        "--workflow",
        "fr@omnibus-proposal",
        "--json",
    ]);
    assert_eq!(j["rules_whatif"], "2026-12-07.1+omnibus-proposal", "{j}");
    assert_eq!(
        std::fs::read(v.db_path()).unwrap(),
        bytes,
        "the file changed"
    );
}

#[test]
fn a_96_hour_deadline_across_the_end_of_summer_time_is_shown_with_its_offset() {
    let v = Vigie::new();
    // Aware Friday 23 October 2026 10:00 in Paris (+02:00); summer time ends on the 25th.
    v.open_fr("dst-1", "2026-10-23T10:00");
    let out = v.ok(&["whatif", "dst-1", "--workflow", "fr@omnibus-proposal"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("art33 deadline"))
        .unwrap_or_else(|| panic!("{out}"));
    // 72 and 96 hours of absolute time: 09:00 on the wall clock, one hour earlier.
    assert!(line.contains("2026-10-26 09:00 +01:00"), "{line}");
    assert!(line.contains("2026-10-27 09:00 +01:00"), "{line}");
    // Counting by Regulation 1182/71 leaves an hours period alone: nothing differs.
    let same = v.ok(&["whatif", "dst-1", "--counting", "eu_1182_71"]);
    assert!(
        same.contains("no deadline, status or recommendation differs"),
        "{same}"
    );
}

#[test]
fn an_unknown_workflow_case_or_counting_is_one_line_exit_2() {
    let v = Vigie::new();
    v.open_fr("w-1", "2026-11-02T10:00");
    let e = v.fails(&["whatif", "w-1", "--workflow", "fr@nope"], 2);
    assert!(
        e.contains("fr@nope") && e.contains("fr@omnibus-proposal"),
        "{e}"
    );
    let e = v.fails(&["whatif", "nope", "--workflow", "fr@omnibus-proposal"], 2);
    assert!(e.contains("nope"), "{e}");
    let e = v.fails(&["whatif", "w-1", "--counting", "lunar"], 2);
    assert!(e.contains("counting"), "{e}");
    let e = v.fails(&["whatif", "w-1"], 2);
    assert!(e.contains("--workflow"), "{e}");
    // A proposal is never pinned, even asked for by name.
    let e = v.fails(
        &[
            "case",
            "open",
            "--workflow",
            "fr@omnibus-proposal",
            "--title",
            "x",
            "--aware-at",
            "2026-11-02T10:00",
        ],
        2,
    );
    assert!(e.contains("proposal"), "{e}");
}

fn whatif_all_never_lists_another_organisation_s_cases() {
    let v = Vigie::new();
    v.ok(&["org", "add", "acme", "--name", "ACME SA"]);
    v.ok(&["org", "add", "other", "--name", "Other SA"]);
    for (org, id) in [("acme", "acme-1"), ("other", "other-1")] {
        v.ok(&[
            "--org",
            org,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "t",
            "--aware-at",
            "2026-11-02T10:00",
            "--id",
            id,
        ]);
    }
    let table = v.ok(&[
        "--org",
        "acme",
        "whatif",
        "--all",
        "--workflow",
        "fr@omnibus-proposal",
    ]);
    assert!(table.contains("acme-1"), "{table}");
    assert!(!table.contains("other-1"), "{table}");
    let e = v.fails(
        &[
            "--org",
            "acme",
            "whatif",
            "other-1",
            "--workflow",
            "fr@omnibus-proposal",
        ],
        2,
    );
    assert!(e.contains("other-1"), "{e}");
}

/// A folder with two dated versions of `fr`: the shipped text, and a made-up one from
/// 2027 whose art. 33 clock is 60 h (only to tell them apart).
fn two_versions(v: &Vigie) -> std::path::PathBuf {
    let dir = v.dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(repo("workflows/fr.yaml"), dir.join("fr.yaml")).unwrap();
    std::fs::write(
        dir.join("fr-2027.yaml"),
        "extends: fr.yaml\nversion: \"2027-01-01\"\neffective_from: 2027-01-01\nclocks:\n  art33:\n    within: 60h\n",
    )
    .unwrap();
    let cfg = v.dir().join("vigie.yaml");
    std::fs::write(&cfg, format!("workflows_dir: {}\n", dir.display())).unwrap();
    cfg
}

#[test]
fn a_case_pins_the_version_in_force_when_the_organisation_became_aware() {
    let v = Vigie::new();
    let cfg = two_versions(&v);
    let cfg = cfg.to_str().unwrap();
    let now = "2027-02-01T12:00:00Z";
    let open = |id: &str, aware: &str| {
        v.ok_at(
            now,
            &[
                "--config",
                cfg,
                "case",
                "open",
                "--workflow",
                "fr",
                "--title",
                "t",
                "--aware-at",
                aware,
                "--id",
                id,
            ],
        );
    };
    // 31 December 2026 23:30 in Paris is still 2026: the older version.
    open("old-1", "2026-12-31T23:30");
    open("new-1", "2027-01-01T00:30");
    let show = |id: &str| v.ok_at(now, &["--config", cfg, "case", "show", id]);
    let old = show("old-1");
    let new = show("new-1");
    assert!(
        old.contains("version 2018-05-25, in force from 2018-05-25"),
        "{old}"
    );
    assert!(
        new.contains("version 2027-01-01, in force from 2027-01-01"),
        "{new}"
    );
    let j = |id: &str| -> Value {
        serde_json::from_str(&v.ok_at(now, &["--config", cfg, "case", "show", id, "--json"]))
            .unwrap()
    };
    assert_eq!(j("old-1")["workflow_version"], "2018-05-25");
    assert_eq!(
        clock(&j("new-1"), "art33")["due_at"],
        "2027-01-03T12:30:00+01:00"
    );
    // The register names each case's version, in its CSV's `workflow_version` column.
    let csv = v.ok_at(now, &["--config", cfg, "register", "--csv"]);
    let mut r = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let at = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "workflow_version")
        .unwrap_or_else(|| panic!("a workflow_version column: {csv}"));
    let versions: std::collections::BTreeMap<String, String> = r
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_string(), rec[at].to_string())
        })
        .collect();
    assert_eq!(versions["old-1"], "2018-05-25", "{csv}");
    assert_eq!(versions["new-1"], "2027-01-01", "{csv}");
    let md = v.ok_at(
        now,
        &[
            "--config", cfg, "register", "--format", "md", "--lang", "en",
        ],
    );
    assert!(md.contains("Workflow `fr` (version 2027-01-01)"), "{md}");
    // `workflow list` names each version, and the shipped proposal when not replaced.
    let list = v.ok_at(now, &["--config", cfg, "workflow", "list"]);
    assert!(list.contains("in force from 2027-01-01"), "{list}");
    let shipped = v.ok(&["workflow", "list"]);
    assert!(
        shipped.lines().any(
            |l| l.starts_with("fr@omnibus-proposal") && l.ends_with("(proposal, not in force)")
        ),
        "{shipped}"
    );
    // Before the first version: refused, in one line.
    let e = v.fails(
        &[
            "--config",
            cfg,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "t",
            "--aware-at",
            "2018-05-24T12:00",
        ],
        2,
    );
    assert!(e.contains("no version in force on 2018-05-24"), "{e}");
}

#[test]
fn bad_version_fields_are_one_line_naming_the_file_and_field() {
    let v = Vigie::new();
    let cfg = two_versions(&v);
    let cfg = cfg.to_str().unwrap();
    let dir = v.dir().join("workflows");
    // Two versions in force the same day.
    std::fs::write(
        dir.join("fr-2027.yaml"),
        "extends: fr.yaml\nversion: \"2027\"\neffective_from: 2018-05-25\n",
    )
    .unwrap();
    let e = v.fails(&["--config", cfg, "workflow", "list"], 2);
    assert!(
        e.contains("fr-2027.yaml") && e.contains("effective_from"),
        "{e}"
    );
    // Not a date.
    std::fs::write(
        dir.join("fr-2027.yaml"),
        "extends: fr.yaml\nversion: \"2027\"\neffective_from: next year\n",
    )
    .unwrap();
    let e = v.fails(&["--config", cfg, "workflow", "list"], 2);
    assert!(
        e.contains("fr-2027.yaml") && e.contains("effective_from") && e.contains("not a date"),
        "{e}"
    );
    let out = v.run(&[
        "workflow",
        "check",
        dir.join("fr-2027.yaml").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a date"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_page_s_what_if_panel_shows_the_96_hour_deadline() {
    use common::browser::*;
    use common::web::{PASSWORD, Server};
    use fantoccini::Locator;
    let s = Server::start();
    let r = s.api("dpo@acme.example").post(
        "/api/cases",
        &serde_json::json!({"workflow": "fr", "title": "Fichier clients exposé",
                "aware_at": "2026-10-23T10:00:00+02:00", "id": "wi-1",
                "facts": {"nis2_entity": false, "risk": "risk", "risk_rationale": "contact data"}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let driver = start_driver();
    let downloads = tempfile::tempdir().unwrap();
    let c = browser(&driver, downloads.path()).await;
    sign_in(&c, &s.base, "dpo@acme.example", PASSWORD).await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    c.goto(&format!("{}/cases/wi-1", s.base)).await.unwrap();
    let version = wait_text(&c, "#case-workflow", &["fr@2018-05-25"]).await;
    assert!(version.contains("fr@2018-05-25"), "{version}");
    click(&c, Locator::Id("whatif-link")).await;
    let panel = wait_text(&c, "#whatif", &["2026-10-27 09:00 +01:00"]).await;
    assert!(panel.contains("2026-10-26 09:00 +01:00"), "{panel}");
    shot(&c, "whatif-01-panel").await;
    let row = text_of(&c, "tr[data-what='authority']").await;
    assert!(row.contains("Oui") && row.contains("Non"), "{row}");
    let _ = c.close().await;
}

#[test]
fn a_case_that_pinned_a_text_without_a_version_keeps_working() {
    let v = Vigie::new();
    // A folder's fr.yaml written before versions: no `version`, no `effective_from`.
    let dir = v.dir().join("old");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(repo("workflows/fr.yaml")).unwrap();
    let old: String = text
        .lines()
        .filter(|l| !l.starts_with("version:") && !l.starts_with("effective_from:"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.join("fr.yaml"), old).unwrap();
    let cfg = v.dir().join("old.yaml");
    std::fs::write(&cfg, format!("workflows_dir: {}\n", dir.display())).unwrap();
    let cfg = cfg.to_str().unwrap();
    v.ok(&[
        "--config",
        cfg,
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "t",
        "--aware-at",
        "2026-01-04T10:00",
        "--id",
        "old-1",
    ]);
    // Read back with the shipped, versioned workflows: the pinned text still rules.
    let show = v.ok(&["case", "show", "old-1"]);
    assert!(show.contains("workflow fr ("), "{show}");
    assert!(!show.contains(", version "), "{show}");
    let csv = v.ok(&["register", "--csv"]);
    let row = csv.lines().find(|l| l.starts_with("old-1")).unwrap();
    assert!(row.ends_with(','), "no version in the last column: {row}");
    let w = v.ok(&["whatif", "old-1", "--workflow", "fr@omnibus-proposal"]);
    assert!(w.contains("fr@omnibus-proposal instead of fr ("), "{w}");
}
