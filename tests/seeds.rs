//! The five real incidents of `seeds/`: each replays through the engine and drafts every
//! document of its workflow; `vigie demo` loads them once.

use crate::common;

use common::{Vigie, clock, repo};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn seed_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("seeds"))
        .expect("seeds/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed file");
    files
}

/// The document ids of `workflows/<id>.yaml`.
fn documents_of(workflow: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo(&format!("workflows/{workflow}.yaml")))
        .expect("the workflow file exists");
    let wf: Value = serde_saphyr::from_str(&text).expect("the workflow is YAML");
    wf["documents"]
        .as_object()
        .expect("the workflow has documents")
        .keys()
        .cloned()
        .collect()
}

/// `replay FILE --json --out DIR`: the case JSON, and DIR.
fn replay(v: &Vigie, file: &str) -> (Value, PathBuf) {
    let out = v.dir().join("drafts");
    let case = v.json(&["replay", file, "--json", "--out", out.to_str().unwrap()]);
    (case, out)
}

#[test]
fn every_seed_replays_and_drafts_every_document_of_its_workflow() {
    for file in seed_files() {
        let v = Vigie::new();
        let (case, out) = replay(&v, file.to_str().unwrap());
        let name = file.display();
        assert!(
            case["clocks"].as_array().is_some_and(|c| !c.is_empty()),
            "{name}: no clocks"
        );
        let id = case["id"].as_str().expect("an id");
        let workflow = case["workflow"].as_str().expect("a workflow");
        // Every document, except those of a regime that does not apply to the case.
        let not_applicable: Vec<String> = case["not_applicable"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{}_", r.as_str().unwrap()))
            .collect();
        let expected: BTreeSet<String> = documents_of(workflow)
            .iter()
            .filter(|d| !not_applicable.iter().any(|r| d.starts_with(r.as_str())))
            .map(|d| format!("{id}-{d}.md"))
            .collect();
        let written: BTreeSet<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(written, expected, "{name}");
        for f in &written {
            let text = std::fs::read_to_string(out.join(f)).unwrap();
            assert!(!text.trim().is_empty(), "{name}: {f} is empty");
            assert!(!text.contains("{{"), "{name}: {f} has a raw template tag");
        }
        // A replay uses a throwaway store.
        assert!(!v.db_path().exists(), "{name}: replay wrote the database");
    }
}

#[test]
fn france_visas_notified_the_cnil_late() {
    let v = Vigie::new();
    let (case, _) = replay(&v, "seeds/france-visas-2021.yaml");
    let art33 = clock(&case, "art33");
    assert_eq!(art33["status"], "late");
    assert_eq!(case["closed"], false);
    assert!(case["facts"]["delay_reasons"].is_string(), "{case:#}");
}

#[test]
fn caf_is_closed_with_every_obligation_met() {
    let v = Vigie::new();
    let (case, _) = replay(&v, "seeds/caf-2021.yaml");
    assert_eq!(case["closed"], true);
    assert_eq!(case["tracks"]["response"], "closed");
    assert_eq!(clock(&case, "art33")["status"], "met");
}

#[test]
fn cpas_charleroi_follows_the_belgian_workflow() {
    let v = Vigie::new();
    let (case, out) = replay(&v, "seeds/cpas-charleroi.yaml");
    assert_eq!(case["workflow"], "be");
    assert_eq!(case["timezone"], "Europe/Brussels");
    assert!(out.join("cpas-charleroi-apd_notification.md").exists());
}

#[test]
fn the_demo_loads_the_incidents_once() {
    let v = Vigie::new();
    let first = v.ok(&["demo"]);
    assert!(first.contains("5 added now"), "{first}");
    // Only the deadlines that apply are listed: no DORA clock for these bodies, and
    // France Travail's NIS2 final report is.
    assert!(!first.contains("dora_initial"), "{first}");
    assert!(!first.contains("not_applicable"), "{first}");
    assert!(first.contains("nis2_final_report"), "{first}");
    assert!(first.contains("deadlines that do not apply"), "{first}");
    let second = v.ok(&["demo"]);
    assert!(second.contains("0 added now"), "{second}");
    let all = v.json(&["case", "list", "--all", "--json"]);
    let ids: BTreeSet<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            "caf-2021",
            "cpas-charleroi",
            "france-travail",
            "france-visas-2021",
            "hubee-2026"
        ])
    );
    assert_eq!(
        all[4]["id"], "caf-2021",
        "a closed case is listed last: {all:#}"
    );
    assert_eq!(all[4]["closed"], true);
    // caf-2021 is closed: listed with --all only.
    let open = v.json(&["case", "list", "--json"]);
    assert_eq!(open.as_array().unwrap().len(), 4, "{open:#}");
    v.ok(&["audit", "verify"]);
}

#[test]
fn a_seed_with_an_event_not_allowed_names_the_step() {
    let v = Vigie::new();
    let text = std::fs::read_to_string(repo("seeds/caf-2021.yaml")).unwrap();
    // The individuals' notice becomes a second CNIL notification, which is not allowed.
    let wrong = "    event: notify_individuals\n";
    assert_eq!(text.matches(wrong).count(), 1, "caf-2021.yaml changed");
    let bad = text.replace(wrong, "    event: notify_authority\n");
    // Where the step is: the `- at:` line before the event, and its rank in the timeline.
    let lines: Vec<&str> = text.lines().collect();
    let event_line = lines.iter().position(|l| *l == wrong.trim_end()).unwrap();
    let step_line = (0..event_line)
        .rev()
        .find(|&i| lines[i].starts_with("  - at:"))
        .unwrap();
    let timeline = lines.iter().position(|l| *l == "timeline:").unwrap();
    let step = lines[timeline..=step_line]
        .iter()
        .filter(|l| l.starts_with("  - at:"))
        .count();

    let file = v.dir().join("caf-bad.yaml");
    std::fs::write(&file, bad).unwrap();
    let file = file.to_str().unwrap();
    let err = v.fails(&["replay", file], 2);
    let at = format!("{file}:{}:5: ", step_line + 1);
    assert!(err.contains(&at), "'{err}' should point at {at}");
    assert!(
        err.contains(&format!("step {step} (notify_authority)")),
        "{err}"
    );
    assert!(err.contains("not allowed"), "{err}");
}

#[test]
fn a_seed_with_an_unknown_workflow_is_refused() {
    let v = Vigie::new();
    let text = std::fs::read_to_string(repo("seeds/caf-2021.yaml")).unwrap();
    let bad = text.replace("\nworkflow: fr\n", "\nworkflow: de\n");
    assert_ne!(bad, text);
    let line = bad.lines().position(|l| l == "workflow: de").unwrap() + 1;
    let file = v.dir().join("caf-de.yaml");
    std::fs::write(&file, bad).unwrap();
    let file = file.to_str().unwrap();
    let err = v.fails(&["replay", file], 2);
    assert!(err.contains(&format!("{file}:{line}:")), "{err}");
    assert!(err.contains("'de'"), "{err}");
}

/// Issue 22 A7: the NIS2 entities of the seeds (HubEE, France Travail) were still
/// handling their incident when the final report fell due, and sent a progress report
/// then (NIS2 art. 23(4)(e)): no NIS2 deadline of theirs is overdue; the final report
/// waits for the end of the handling.
#[test]
fn a_nis2_entity_that_sent_its_progress_report_is_not_shown_overdue() {
    // `demo` loads the seeds and `case show` reads them as of now (a replay stops at the
    // seed's last step, when nothing was due yet).
    let v = Vigie::new();
    v.ok(&["demo"]);
    for file in ["hubee-2026", "france-travail"] {
        let case = v.show(file);
        for c in case["clocks"].as_array().unwrap() {
            let id = c["id"].as_str().unwrap();
            if id.starts_with("nis2") {
                assert_ne!(c["status"], "overdue", "{file}: {c:#}");
            }
        }
        assert_eq!(clock(&case, "nis2_final_report")["status"], "met", "{file}");
        let after = clock(&case, "nis2_final_deferred");
        assert_eq!(after["status"], "pending", "{file}: {after:#}");
        assert_eq!(case["tracks"]["nis2"], "progress_reported", "{file}");
    }
}

/// Issue 22 A5: HubEE invoked art. 34(3)(c): the public communication that replaced the
/// individual notice is recorded with its date, channel and text.
#[test]
fn hubee_records_the_public_communication_that_replaced_the_notice() {
    let v = Vigie::new();
    let (case, _) = replay(&v, "seeds/hubee-2026.yaml");
    assert_eq!(case["tracks"]["individuals"], "not_required");
    assert_eq!(
        case["facts"]["individuals_exemption"],
        "disproportionate_effort"
    );
    for f in [
        "public_communication_at",
        "public_communication_channel",
        "public_communication_text",
    ] {
        assert!(case["facts"][f].is_string(), "{f}: {case:#}");
    }
}
