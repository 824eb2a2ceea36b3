//! `vigie audit verify`: the register is hash-chained, so an event altered or removed
//! behind the program's back is found and named.

mod common;

use common::Vigie;

/// Two cases with a few events each; c1 has 4 events: opened, risk set, contained,
/// nature set.
fn register() -> Vigie {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&["case", "set", "c1", "risk=high"]);
    v.ok(&[
        "case",
        "advance",
        "c1",
        "contain",
        "--set",
        "contained_at=2025-10-23T12:00",
    ]);
    v.ok(&["case", "set", "c1", "nature=[confidentiality]"]);
    v.open_fr("c2", "2025-11-02T08:00");
    v.ok(&["case", "set", "c2", "risk=none"]);
    v
}

#[test]
fn an_untouched_register_verifies() {
    let v = register();
    let out = v.ok(&["audit", "verify"]);
    assert!(out.contains("2 cases"), "{out}");
    assert!(out.contains("6 events"), "{out}");
    let report = v.json(&["audit", "verify", "--json"]);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["events"], 6);
}

#[test]
fn the_log_refuses_updates_and_deletes() {
    let v = register();
    let db = v.db();
    let update = db.execute(
        "UPDATE events SET payload = replace(payload, 'high', 'none') WHERE case_id = 'c1' AND seq = 2",
        [],
    );
    assert!(update.is_err(), "an event was updated");
    let delete = db.execute("DELETE FROM events WHERE case_id = 'c1' AND seq = 4", []);
    assert!(delete.is_err(), "an event was deleted");
    drop(db);
    v.ok(&["audit", "verify"]);
}

#[test]
fn an_altered_fact_is_found_and_named() {
    let v = register();
    let db = v.db();
    db.execute_batch("DROP TRIGGER events_no_update").unwrap();
    let changed = db
        .execute(
            r#"UPDATE events SET payload = replace(payload, '"risk":"high"', '"risk":"none"')
               WHERE case_id = 'c1' AND seq = 2"#,
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let payload: String = db
        .query_row(
            "SELECT payload FROM events WHERE case_id = 'c1' AND seq = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        payload.contains(r#""risk":"none""#),
        "the tampering did not take: {payload}"
    );
    drop(db);

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("c1"), "{}", out.stderr);
    assert!(out.stderr.contains("event #2"), "{}", out.stderr);
    assert!(!out.stderr.contains("c2"), "c2 is intact: {}", out.stderr);
    let last = out.stderr.lines().last().unwrap();
    assert!(last.starts_with("vigie: error: "), "{}", out.stderr);

    let report = v.run(&["audit", "verify", "--json"]);
    assert_eq!(report.code, 1);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["problems"][0]["case"], "c1");
    assert_eq!(report["problems"][0]["seq"], 2);
}

#[test]
fn a_removed_last_event_is_found_and_named() {
    let v = register();
    let db = v.db();
    db.execute_batch("DROP TRIGGER events_no_delete").unwrap();
    let removed = db
        .execute("DELETE FROM events WHERE case_id = 'c1' AND seq = 4", [])
        .unwrap();
    assert_eq!(removed, 1);
    drop(db);

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("case c1"), "{}", out.stderr);
    assert!(!out.stderr.contains("c2"), "c2 is intact: {}", out.stderr);
}

#[test]
fn a_removed_event_in_the_middle_is_found_and_named() {
    let v = register();
    let db = v.db();
    db.execute_batch("DROP TRIGGER events_no_delete").unwrap();
    db.execute("DELETE FROM events WHERE case_id = 'c1' AND seq = 2", [])
        .unwrap();
    drop(db);

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("case c1 event #3"), "{}", out.stderr);
}

#[test]
fn an_altered_pinned_workflow_is_found() {
    // A case is judged by the workflow text pinned when it was opened. Rewriting that
    // text (72 h becomes 720 h) moves the legal deadline: the register must not call
    // itself intact.
    let v = register();
    let before = v.show("c1");
    let db = v.db();
    let source: String = db
        .query_row("SELECT source FROM workflows WHERE id = 'fr'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let law = "    within: 72h\n    applies: { fact: risk, not_in: [none] }";
    assert_eq!(
        source.matches(law).count(),
        1,
        "the art33 clock changed in fr.yaml"
    );
    let forged = source.replace(
        law,
        "    within: 720h\n    applies: { fact: risk, not_in: [none] }",
    );
    // The table refuses updates; someone with the file can still drop the trigger.
    assert!(
        db.execute(
            "UPDATE workflows SET source = ?1 WHERE id = 'fr'",
            [&forged]
        )
        .is_err()
    );
    db.execute_batch("DROP TRIGGER workflows_no_update")
        .unwrap();
    db.execute(
        "UPDATE workflows SET source = ?1 WHERE id = 'fr'",
        [&forged],
    )
    .unwrap();
    drop(db);

    let out = v.run(&["audit", "verify"]);
    let after = v.run(&["case", "show", "c1", "--json"]);
    assert_ne!(
        out.code,
        0,
        "audit verify says the register is intact although the pinned workflow was \
         rewritten; case show now gives art33 due {} instead of {}",
        serde_json::from_str::<serde_json::Value>(&after.stdout)
            .map(|c| common::clock(&c, "art33")["due_at"].clone())
            .unwrap_or_default(),
        common::clock(&before, "art33")["due_at"]
    );
    assert!(out.stderr.contains("case c1 event #1"), "{}", out.stderr);
    // The case is not shown with a forged deadline: it refuses, naming the case.
    assert_ne!(after.code, 0, "{}", after.stdout);
    assert!(after.stderr.contains("altered"), "{}", after.stderr);
}
