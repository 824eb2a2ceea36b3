//! Drafts: what is missing is shown, not hidden; `--strict` refuses; html escapes every
//! value; `--record` seals the exact text issued in the register.

use crate::both_backends;
use crate::common;

use common::Vigie;
use sha2::{Digest, Sha256};

both_backends! {
    a_draft_of_a_fresh_case_lists_what_is_missing,
    a_strict_draft_with_missing_facts_is_refused,
    a_strict_draft_with_every_needed_fact_is_printed,
    a_draft_can_be_written_in_english,
    an_html_draft_escapes_every_value,
    an_html_draft_does_not_turn_a_fact_into_a_link,
    unknown_documents_languages_and_formats_are_refused,
    a_recorded_draft_seals_the_hash_of_the_printed_text,
    a_draft_without_record_writes_nothing,
    a_draft_written_to_a_file_is_the_printed_text,
    vigie_now_stops_the_clock_at_one_instant,
}

fn fresh_case() -> Vigie {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v
}

/// Sets every fact the CNIL notification needs.
fn complete(v: &Vigie) {
    v.ok(&[
        "case",
        "set",
        "c1",
        "breach_status=established",
        "nature=[confidentiality]",
        "origin=[wrong_recipient]",
        "cause=internal_accidental",
        "subject_categories=[customers]",
        "subjects_approx=1200",
        "records_approx=1300",
        "data_categories=[identity, contact]",
        "consequences=Phishing possible",
        "measures=Recipient asked to delete the file",
        "risk=risk",
        "risk_rationale=The recipient is a partner bound by contract",
        "individuals_informed=will_be",
    ]);
}

fn a_draft_of_a_fresh_case_lists_what_is_missing() {
    let v = fresh_case();
    let out = v.run(&["draft", "c1", "cnil_notification"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("# "), "{}", out.stdout);
    assert!(
        out.stdout.contains("Informations manquantes"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("- Nature de la violation"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("[À compléter"), "{}", out.stdout);
    assert!(!out.stdout.contains("{{"), "{}", out.stdout);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
}

fn a_strict_draft_with_missing_facts_is_refused() {
    let v = fresh_case();
    let before = v.db_snapshot();
    let out = v.run(&["draft", "c1", "cnil_notification", "--strict"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "", "a refused draft printed text");
    let err = v.fails(&["draft", "c1", "cnil_notification", "--strict"], 2);
    assert!(err.contains("Nature de la violation"), "{err}");
    assert!(err.contains("--strict"), "{err}");
    assert_eq!(v.db_snapshot(), before);
}

fn a_strict_draft_with_every_needed_fact_is_printed() {
    let v = fresh_case();
    complete(&v);
    let out = v.ok(&["draft", "c1", "cnil_notification", "--strict"]);
    assert!(!out.contains("Informations manquantes"), "{out}");
    assert!(
        out.contains("1 200") || out.contains("1\u{202f}200") || out.contains("1\u{a0}200"),
        "{out}"
    );
}

fn a_draft_can_be_written_in_english() {
    let v = fresh_case();
    let out = v.ok(&["draft", "c1", "cnil_notification", "--lang", "en"]);
    assert!(out.contains("Missing information"), "{out}");
    assert!(out.contains("[To complete"), "{out}");
    assert!(!out.contains("[À compléter"), "{out}");
}

fn an_html_draft_escapes_every_value() {
    let v = Vigie::new();
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "fr",
        "--title",
        "<b>Leak</b>",
        "--aware-at",
        "2025-10-23T10:00",
        "--id",
        "c1",
    ]);
    v.ok(&[
        "case",
        "set",
        "c1",
        "consequences=<script>alert(1)</script>",
    ]);
    let html = v.ok(&["draft", "c1", "cnil_notification", "--format", "html"]);
    assert!(html.starts_with("<!doctype html>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;b&gt;Leak&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>Leak"), "{html}");
}

fn an_html_draft_does_not_turn_a_fact_into_a_link() {
    // A value is text: Markdown in it must not become markup either.
    let v = fresh_case();
    v.ok(&[
        "case",
        "set",
        "c1",
        "consequences=see [the form](javascript:alert(1))",
    ]);
    let html = v.ok(&["draft", "c1", "cnil_notification", "--format", "html"]);
    let link = html.lines().find(|l| l.contains("javascript:"));
    assert!(
        link.is_none_or(|l| !l.contains("<a ")),
        "a fact became a link in the html draft: {}",
        link.unwrap_or_default()
    );
    assert!(
        html.contains("javascript:alert(1)"),
        "the fact is not shown at all"
    );
}

fn unknown_documents_languages_and_formats_are_refused() {
    let v = fresh_case();
    let err = v.fails(&["draft", "c1", "apd_notification"], 2);
    assert!(err.contains("'apd_notification'"), "{err}");
    let err = v.fails(&["draft", "c1", "cnil_notification", "--lang", "de"], 2);
    assert!(err.contains("'de'"), "{err}");
    let err = v.fails(&["draft", "c1", "cnil_notification", "--format", "docx"], 2);
    assert!(err.contains("'docx'"), "{err}");
    // A PDF is a format now, written to a file only.
    let err = v.fails(&["draft", "c1", "cnil_notification", "--format", "pdf"], 2);
    assert!(err.contains("--out"), "{err}");
    let err = v.fails(&["draft", "nope", "cnil_notification"], 2);
    assert!(err.contains("'nope'"), "{err}");
}

fn a_recorded_draft_seals_the_hash_of_the_printed_text() {
    let v = fresh_case();
    complete(&v);
    let out = v.run(&["draft", "c1", "cnil_notification", "--record"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let sha: String = Sha256::digest(out.stdout.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(out.stderr.contains(&sha), "{}", out.stderr);

    let case = v.show("c1");
    let last = case["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "document_issued");
    assert_eq!(last["document"], "cnil_notification");
    assert_eq!(last["lang"], "fr");
    assert_eq!(last["format"], "md");
    assert_eq!(last["sha256"], sha.as_str());
    v.ok(&["audit", "verify"]);
}

fn a_draft_without_record_writes_nothing() {
    let v = fresh_case();
    let before = v.db_snapshot();
    v.ok(&["draft", "c1", "cnil_notification"]);
    assert_eq!(v.db_snapshot(), before);
}

fn a_draft_written_to_a_file_is_the_printed_text() {
    let v = fresh_case();
    complete(&v);
    // The clock pinned for both: a draft says the minute it was made.
    let now = common::pinned_now();
    let printed = v.ok_at(&now, &["draft", "c1", "cnil_notification", "--lang", "en"]);
    let file = v.dir().join("draft.md");
    let out = v.ok_at(
        &now,
        &[
            "draft",
            "c1",
            "cnil_notification",
            "--lang",
            "en",
            "--out",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out, "");
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(written, printed);
}

/// `VIGIE_NOW` stops the program's clock at one instant (what the tests that compare two
/// drafts pin): the draft says that instant in the workflow's zone, `VIGIE_NOW_OFFSET`
/// shifts it, and a value that is not an instant is refused with one line, exit 2.
fn vigie_now_stops_the_clock_at_one_instant() {
    let v = fresh_case();
    let args = ["draft", "c1", "cnil_notification", "--lang", "en"];
    let at = "2026-11-02T09:30:00Z";
    let draft = v.ok_at(at, &args);
    assert!(
        draft.contains("generated on Monday 2 November 2026 at 10:30 (UTC+01:00)"),
        "{draft}"
    );
    assert_eq!(v.ok_at(at, &args), draft);
    let out = v.run_env(&args, &[("VIGIE_NOW", at), ("VIGIE_NOW_OFFSET", "+2h")]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("generated on Monday 2 November 2026 at 12:30 (UTC+01:00)"),
        "{}",
        out.stdout
    );
    for bad in ["tomorrow", "2026-11-02 09:30", "1969-12-31T23:59:59Z"] {
        let out = v.run_env(&args, &[("VIGIE_NOW", bad)]);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert!(out.stderr.contains("VIGIE_NOW"), "{bad:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{bad:?}: {out:?}");
        assert_eq!(out.stdout, "", "{bad:?}: {out:?}");
    }
}
