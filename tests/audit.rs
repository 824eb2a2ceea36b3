//! `vigie audit verify`: the register is hash-chained, so an event altered or removed
//! behind the program's back is found and named.

use crate::both_backends;
use crate::common;

use common::Vigie;

// The tests that recompute a chain by hand (`rehash_case`) stay SQLite-only: they
// read back `at` and `recorded_at` as the hashed text, which is SQLite's column
// text but PostgreSQL's `timestamptz` in its own form.
both_backends! {
    an_untouched_register_verifies,
    the_log_refuses_updates_and_deletes,
    an_altered_fact_is_found_and_named,
    a_removed_last_event_is_found_and_named,
    a_removed_event_in_the_middle_is_found_and_named,
    an_altered_pinned_workflow_is_found,
    an_edited_checkpoint_is_refused,
}

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
    v.ok(&[
        "case",
        "set",
        "c2",
        "risk=none",
        "risk_rationale=Test data only",
    ]);
    v
}

fn an_untouched_register_verifies() {
    let v = register();
    let out = v.ok(&["audit", "verify"]);
    assert!(out.contains("2 cases"), "{out}");
    assert!(out.contains("6 events"), "{out}");
    let report = v.json(&["audit", "verify", "--json"]);
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["events"], 6);
}

fn the_log_refuses_updates_and_deletes() {
    let v = register();
    let update = v.try_sql(
        "UPDATE events SET payload = replace(payload, 'high', 'none') WHERE case_id = 'c1' AND seq = 2",
        &[],
    );
    assert!(
        update.as_ref().is_err_and(|e| e.contains("append-only")),
        "an event was updated: {update:?}"
    );
    let delete = v.try_sql("DELETE FROM events WHERE case_id = 'c1' AND seq = 4", &[]);
    assert!(
        delete.as_ref().is_err_and(|e| e.contains("append-only")),
        "an event was deleted: {delete:?}"
    );
    v.ok(&["audit", "verify"]);
}

fn an_altered_fact_is_found_and_named() {
    let v = register();
    v.disable_append_only();
    let changed = v
        .try_sql(
            r#"UPDATE events SET payload = replace(payload, '"risk":"high"', '"risk":"none"')
               WHERE case_id = 'c1' AND seq = 2"#,
            &[],
        )
        .unwrap()
        .changes;
    assert_eq!(changed, 1);
    let payload = v.sql(
        "SELECT payload FROM events WHERE case_id = 'c1' AND seq = 2",
        &[],
    )[0][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        payload.contains(r#""risk":"none""#),
        "the tampering did not take: {payload}"
    );

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("c1"), "{}", out.stderr);
    assert!(out.stderr.contains("event #2"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("case c2"),
        "c2 is intact: {}",
        out.stderr
    );
    let last = out.stderr.lines().last().unwrap();
    assert!(last.starts_with("vigie: error: "), "{}", out.stderr);

    let report = v.run(&["audit", "verify", "--json"]);
    assert_eq!(report.code, 1);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(report["problems"][0]["case"], "c1");
    assert_eq!(report["problems"][0]["seq"], 2);
}

fn a_removed_last_event_is_found_and_named() {
    let v = register();
    v.disable_append_only();
    let removed = v
        .try_sql("DELETE FROM events WHERE case_id = 'c1' AND seq = 4", &[])
        .unwrap()
        .changes;
    assert_eq!(removed, 1);

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("case c1"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("case c2"),
        "c2 is intact: {}",
        out.stderr
    );
}

fn a_removed_event_in_the_middle_is_found_and_named() {
    let v = register();
    v.disable_append_only();
    v.sql("DELETE FROM events WHERE case_id = 'c1' AND seq = 2", &[]);

    let out = v.run(&["audit", "verify"]);
    assert_eq!(out.code, 1, "stderr:\n{}", out.stderr);
    assert!(out.stderr.contains("case c1 event #3"), "{}", out.stderr);
}

fn an_altered_pinned_workflow_is_found() {
    // A case is judged by the workflow text pinned when it was opened. Rewriting that
    // text (72 h becomes 720 h) moves the legal deadline: the register must not call
    // itself intact.
    let v = register();
    let before = v.show("c1");
    let source = v.sql("SELECT source FROM workflows WHERE id = 'fr'", &[])[0][0]
        .as_str()
        .unwrap()
        .to_string();
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
    // The table refuses updates; someone holding the database can still switch its
    // guard off.
    let set_source = "UPDATE workflows SET source = ?1 WHERE id = 'fr'";
    let refused = v.try_sql(set_source, &[forged.clone().into()]);
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.contains("immutable") || e.contains("append-only")),
        "{refused:?}"
    );
    v.disable_append_only();
    v.sql(set_source, &[forged.into()]);

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

/// What an attacker holding the file does after changing a case's log: drop the
/// append-only triggers, recompute every hash of the chain from the genesis, and fix the
/// case row so that it agrees. `audit verify` alone cannot see it; a checkpoint can.
fn rehash_case(v: &Vigie, case: &str) {
    use vigie::case::event::{chain_hash, genesis_hash};
    v.sql_script(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete",
    );
    let rows = v.sql(
        "SELECT seq, at, recorded_at, actor, kind, payload FROM events
         WHERE org = 'default' AND case_id = ?1 ORDER BY seq",
        &[case.into()],
    );
    let text = |c: &serde_json::Value| c.as_str().expect("a text cell").to_string();
    let mut prev = genesis_hash("default", case);
    let mut n: i64 = 0;
    for r in rows {
        let seq = r[0].as_i64().expect("seq");
        n += 1;
        v.sql(
            "UPDATE events SET seq = ?1 WHERE org = 'default' AND case_id = ?2 AND seq = ?3",
            &[n.into(), case.into(), seq.into()],
        );
        let hash = chain_hash(
            "default",
            case,
            n,
            &text(&r[1]),
            &text(&r[2]),
            &text(&r[3]),
            &text(&r[4]),
            &text(&r[5]),
            &prev,
        );
        v.sql(
            "UPDATE events SET prev_hash = ?1, hash = ?2 WHERE org = 'default' AND case_id = ?3 AND seq = ?4",
            &[prev.clone().into(), hash.clone().into(), case.into(), n.into()],
        );
        prev = hash;
    }
    v.sql(
        "UPDATE cases SET seq = ?1, last_hash = ?2 WHERE org = 'default' AND id = ?3",
        &[n.into(), prev.into(), case.into()],
    );
}

/// Issue 9: an event whose time the program cannot read back (as year 0 used to be
/// stored) makes that case an error of its own: `audit verify` names it and exits 1,
/// `case list` and `register` still list the other cases and say which one they
/// skipped. Before: verify said "intact" and both lists failed for the whole
/// organisation.
#[test]
fn an_unreadable_case_is_named_by_verify_and_skipped_by_lists() {
    let v = register();
    v.sql_script("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete");
    // What `case set c1 --note x --at 0000-01-01T00:00` used to write: a consistent
    // chain, with an effective time RFC 3339 cannot express.
    v.sql(
        r#"INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
           SELECT org, case_id, 5, '-0001-12-31T23:50:39.000000Z', recorded_at, actor, 'facts_set',
                  '{"kind":"facts_set","facts":{},"note":"x"}', hash, ''
           FROM events WHERE case_id = 'c1' AND seq = 4"#,
        &[],
    );
    rehash_case(&v, "c1");

    let out = v.run(&["audit", "verify"]);
    assert_eq!(
        out.code, 1,
        "verify calls an unreadable case intact: {out:?}"
    );
    assert!(out.stderr.contains("case c1 event #5"), "{}", out.stderr);
    assert!(!out.stderr.contains("c2"), "{}", out.stderr);

    for args in [
        &["case", "list", "--all"][..],
        &["register"][..],
        &["register", "--csv"][..],
    ] {
        let out = v.run(args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.contains("c2"), "{args:?}: {out:?}");
        assert!(!out.stdout.contains("c1"), "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("c1") && out.stderr.contains("vigie audit verify"),
            "{args:?} does not say it skipped c1: {out:?}"
        );
    }
    let list = v.json(&["case", "list", "--all", "--json"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let err = v.fails(&["case", "show", "c1"], 1);
    assert!(err.contains("c1") && err.contains("#5"), "{err}");
}

/// Issue 9: a checkpoint taken before the tampering names each case removed, truncated
/// or rewritten since, although the file alone verifies (the attacker fixed every
/// hash and every case row). Before: all three passed `audit verify`.
#[test]
fn a_checkpoint_names_cases_removed_truncated_or_rewritten_since() {
    let v = register();
    v.open_fr("c3", "2025-11-03T08:00");
    let cp = v.dir().join("checkpoint.txt");
    let out = v.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    assert!(out.contains("3 cases"), "{out}");
    let text = std::fs::read_to_string(&cp).unwrap();
    assert!(
        !text.contains("Test breach"),
        "no title in a checkpoint: {text}"
    );
    // Growth since is accepted: a new event on c2, a new case c4.
    v.ok(&["case", "set", "c2", "nature=[availability]"]);
    v.open_fr("c4", "2025-11-04T08:00");
    let out = v.ok(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert!(out.contains("checkpoint"), "{out}");

    v.sql_script("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete");
    // c1: its last two events deleted, its row fixed.
    v.sql("DELETE FROM events WHERE case_id = 'c1' AND seq >= 3", &[]);
    rehash_case(&v, "c1");
    // c2: risk none becomes high at #2, the chain recomputed.
    let changed = v
        .try_sql(
            r#"UPDATE events SET payload = replace(payload, '"risk":"none"', '"risk":"high"')
               WHERE case_id = 'c2' AND seq = 2"#,
            &[],
        )
        .unwrap()
        .changes;
    assert_eq!(changed, 1);
    rehash_case(&v, "c2");
    // c3: gone, events and row.
    v.sql("DELETE FROM events WHERE case_id = 'c3'", &[]);
    v.sql("DELETE FROM cases WHERE id = 'c3'", &[]);
    let _ = v.try_sql("DELETE FROM timers WHERE case_id = 'c3'", &[]);

    // The file alone cannot tell.
    v.ok(&["audit", "verify"]);
    let out = v.run(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{out:?}");
    let line = |case: &str| {
        out.stderr
            .lines()
            .find(|l| l.starts_with(&format!("case {case} ")))
            .unwrap_or_else(|| panic!("{case} not named: {}", out.stderr))
            .to_string()
    };
    assert!(line("c1").contains("truncated"), "{}", out.stderr);
    assert!(line("c2").contains("rewritten"), "{}", out.stderr);
    assert!(line("c3").contains("removed"), "{}", out.stderr);
    assert!(!out.stderr.contains("case c4"), "{}", out.stderr);
    let report = v.run(&[
        "audit",
        "verify",
        "--checkpoint",
        cp.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report.code, 1);
    let report: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(
        report["problems"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
}

/// A checkpoint edited by hand (a count lowered to hide a truncation) no longer matches
/// its own hash: refused with one line naming the file, exit 2.
fn an_edited_checkpoint_is_refused() {
    let v = register();
    let cp = v.dir().join("cp.txt");
    v.ok(&["audit", "checkpoint", "--out", cp.to_str().unwrap()]);
    let text = std::fs::read_to_string(&cp).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("case default c1 "))
        .unwrap_or_else(|| panic!("no c1 line: {text}"));
    let edited = text.replace(line, &line.replace(" 4 ", " 3 "));
    assert_ne!(edited, text);
    std::fs::write(&cp, edited).unwrap();
    let err = v.fails(
        &["audit", "verify", "--checkpoint", cp.to_str().unwrap()],
        2,
    );
    assert!(err.contains("cp.txt"), "{err}");
    let err = v.fails(
        &["audit", "verify", "--checkpoint", "/nonexistent/cp.txt"],
        2,
    );
    assert!(err.contains("/nonexistent/cp.txt"), "{err}");
    // Without --out the checkpoint goes to stdout, and verifies.
    let out = v.ok(&["audit", "checkpoint"]);
    std::fs::write(&cp, out).unwrap();
    v.ok(&["audit", "verify", "--checkpoint", cp.to_str().unwrap()]);
}
