//! Issue 21 part 2: a workflow's `intake:` block is checked like the rest of the file
//! (`vigie workflow check`): a fact asked twice, a fact placed nowhere, a derived value
//! the fact does not offer are each named with the file, line and column, exit 2.

use crate::common;

use common::Vigie;

const BROKEN: &str = "tests/fixtures/workflows/broken";

#[track_caller]
fn fails_with(name: &str, at: &str, words: &[&str]) {
    let v = Vigie::new();
    let file = format!("{BROKEN}/{name}.yaml");
    let out = v.run(&["workflow", "check", &file]);
    assert_eq!(out.code, 2, "{file}: {}", out.stderr);
    let first = out.stderr.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("{file}:{at}")),
        "{file}: reported at {first}"
    );
    for w in words {
        assert!(first.contains(w), "{first} should name {w}");
    }
}

#[test]
fn an_intake_asks_each_fact_once_places_every_fact_and_derives_offered_values() {
    fails_with(
        "intake_fact_twice",
        "41:21:",
        &["'nature'", "section 'when'", "section 'what'"],
    );
    fails_with("intake_fact_not_placed", "", &["not placed: risk"]);
    fails_with(
        "intake_derive_bad_value",
        "44:18:",
        &["'availability'", "'nature'"],
    );
}

#[test]
fn the_embedded_workflows_place_every_fact() {
    let v = Vigie::new();
    for wf in [
        "workflows/fr.yaml",
        "workflows/be.yaml",
        "workflows/dora.yaml",
    ] {
        let out = v.ok(&["workflow", "check", wf]);
        assert!(out.contains("ok"), "{wf}: {out}");
    }
}
