//! `vigie workflow check` and `vigie workflow graph`. Every file under
//! `tests/fixtures/workflows/broken/` is `valid.yaml` with one mistake; the checker must
//! point at the line and column of that mistake and name what is wrong.

use crate::common;

use common::Vigie;

const BROKEN: &str = "tests/fixtures/workflows/broken";

/// One reported mistake, `file:line:column: message`.
#[derive(Debug)]
struct Reported {
    line: u32,
    column: u32,
    message: String,
}

/// Checks `file`, expects exit 2, and returns the mistakes printed on stderr (every line
/// but the closing `vigie: error:` summary).
fn check_fails(v: &Vigie, file: &str) -> Vec<Reported> {
    let out = v.run(&["workflow", "check", file]);
    assert_eq!(
        out.code, 2,
        "checking {file} should exit 2, stderr:\n{}",
        out.stderr
    );
    let mut lines: Vec<&str> = out.stderr.lines().collect();
    let summary = lines.pop().expect("stderr is not empty");
    assert!(
        summary.starts_with("vigie: error: "),
        "last line: {summary}"
    );
    assert!(!lines.is_empty(), "no mistake reported for {file}");
    lines
        .iter()
        .map(|l| {
            let rest = l
                .strip_prefix(&format!("{file}:"))
                .unwrap_or_else(|| panic!("'{l}' does not start with '{file}:'"));
            let mut parts = rest.splitn(3, ':');
            let line = parts.next().and_then(|s| s.parse().ok());
            let column = parts.next().and_then(|s| s.parse().ok());
            let message = parts.next().and_then(|s| s.strip_prefix(' '));
            match (line, column, message) {
                (Some(line), Some(column), Some(message)) => Reported {
                    line,
                    column,
                    message: message.to_string(),
                },
                _ => panic!("'{l}' is not FILE:LINE:COLUMN: MESSAGE"),
            }
        })
        .collect()
}

/// The file `broken/NAME.yaml` is reported at exactly LINE:COLUMN with a message that
/// contains every one of `words`, and nothing else is reported.
#[track_caller]
fn reports_only(name: &str, line: u32, column: u32, words: &[&str]) {
    let v = Vigie::new();
    let file = format!("{BROKEN}/{name}.yaml");
    let reported = check_fails(&v, &file);
    assert_eq!(
        reported.len(),
        1,
        "{file} has one mistake, reported: {reported:#?}"
    );
    let r = &reported[0];
    assert_eq!((r.line, r.column), (line, column), "{file}: {reported:#?}");
    for w in words {
        assert!(
            r.message.contains(w),
            "{file}: '{}' should name {w}",
            r.message
        );
    }
}

#[test]
fn the_base_of_the_broken_files_is_valid() {
    let v = Vigie::new();
    let out = v.ok(&["workflow", "check", "tests/fixtures/workflows/valid.yaml"]);
    assert!(out.contains("ok"), "{out}");
}

/// Issue 12 part 5: `languages:` takes only the languages vigie offers, and the
/// workflow's own language among them (its drafts fall back to it).
#[test]
fn languages_are_offered_ones_and_include_the_workflow_own() {
    reports_only("unknown_language", 6, 21, &["'de'", "fr, en or nl"]);
    reports_only("languages_without_own", 6, 13, &["own language 'en'"]);
}

#[test]
fn a_yaml_syntax_error_is_reported_where_it_is() {
    reports_only("yaml_syntax", 19, 17, &["mapping values are not allowed"]);
}

#[test]
fn a_duplicate_key_is_reported_at_its_second_occurrence() {
    reports_only("duplicate_key", 20, 5, &["duplicate", "to"]);
}

#[test]
fn an_unknown_field_is_named() {
    reports_only("unknown_field", 20, 5, &["unknown field", "requries"]);
}

#[test]
fn an_event_on_an_unknown_track_is_named() {
    reports_only("unknown_track", 27, 12, &["unknown track", "'authorty'"]);
}

#[test]
fn an_unknown_state_in_from_is_named() {
    reports_only(
        "unknown_state_in_from",
        28,
        11,
        &["notify_authority_complement", "unknown state", "'notifed'"],
    );
}

#[test]
fn an_unknown_fact_in_requires_is_named() {
    reports_only(
        "unknown_fact_in_requires",
        20,
        24,
        &["unknown fact", "'subjects_count'"],
    );
}

#[test]
fn an_unknown_choice_value_in_a_condition_is_named() {
    reports_only("unknown_choice_in_condition", 25, 11, &["'risk'", "'nil'"]);
}

#[test]
fn a_state_no_event_reaches_is_named() {
    reports_only(
        "unreachable_state",
        9,
        47,
        &["'archived'", "cannot be reached"],
    );
}

#[test]
fn a_state_with_no_way_to_a_final_state_is_named() {
    reports_only("dead_end_state", 9, 47, &["'lost'", "no final state"]);
}

#[test]
fn a_bad_duration_is_named() {
    reports_only(
        "bad_duration",
        30,
        13,
        &["'art33'", "'72 heures'", "duration"],
    );
}

#[test]
fn a_bad_time_zone_is_named() {
    reports_only("bad_timezone", 4, 11, &["time zone", "'Europe/Pariss'"]);
}

#[test]
fn a_clock_met_by_an_unknown_event_is_named() {
    reports_only(
        "clock_met_by_unknown_event",
        32,
        13,
        &["'art33'", "unknown event", "'notify_autority'"],
    );
}

#[test]
fn a_clock_met_by_an_event_that_can_never_happen_is_named() {
    // The event cannot happen because its 'from' state is unreachable: that state and
    // that event are reported too, each where it is written.
    let v = Vigie::new();
    let file = format!("{BROKEN}/clock_met_by_impossible_event.yaml");
    let reported = check_fails(&v, &file);
    let at = |line: u32| {
        reported
            .iter()
            .find(|r| r.line == line)
            .unwrap_or_else(|| panic!("nothing reported at line {line}: {reported:#?}"))
    };
    let clock = at(37);
    assert_eq!(clock.column, 13);
    assert!(clock.message.contains("'art33'"), "{}", clock.message);
    assert!(clock.message.contains("'reopen'"), "{}", clock.message);
    assert!(
        clock.message.contains("can never happen"),
        "{}",
        clock.message
    );
    assert!(at(10).message.contains("'archived'"));
    assert!(at(29).message.contains("'reopen'"));
    assert_eq!(reported.len(), 3, "{reported:#?}");
}

#[test]
fn every_mistake_of_a_file_is_reported_at_once() {
    let v = Vigie::new();
    let file = "tests/fixtures/workflows/three_mistakes.yaml";
    let reported = check_fails(&v, file);
    let lines: Vec<u32> = reported.iter().map(|r| r.line).collect();
    assert_eq!(lines, [4, 20, 30], "{reported:#?}");
    assert!(reported[0].message.contains("'Mars/Olympus_Mons'"));
    assert!(reported[1].message.contains("'severity'"));
    assert!(reported[2].message.contains("'soon'"));
    let out = v.run(&["workflow", "check", file]);
    assert_eq!(
        out.stderr.lines().last(),
        Some("vigie: error: 3 error(s) in 1 file(s) checked")
    );
}

#[test]
fn mistakes_of_several_files_are_all_reported() {
    let v = Vigie::new();
    let a = format!("{BROKEN}/bad_timezone.yaml");
    let b = format!("{BROKEN}/bad_duration.yaml");
    let out = v.run(&["workflow", "check", &a, "workflows/fr.yaml", &b]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("{a}:4:11: ")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("{b}:30:13: ")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("workflows/fr.yaml: ok"),
        "{}",
        out.stdout
    );
}

#[test]
fn the_shipped_workflows_are_valid() {
    let v = Vigie::new();
    let out = v.ok(&[
        "workflow",
        "check",
        "workflows/fr.yaml",
        "workflows/be.yaml",
        "workflows/dora.yaml",
    ]);
    assert!(out.contains("workflows/fr.yaml: ok"), "{out}");
    assert!(out.contains("workflows/be.yaml: ok"), "{out}");
    assert!(out.contains("workflows/dora.yaml: ok"), "{out}");
}

#[test]
fn checking_touches_no_database() {
    let v = Vigie::new();
    v.ok(&["workflow", "check", "workflows/fr.yaml"]);
    assert!(!v.db_path().exists());
}

#[test]
fn the_graph_of_a_workflow_is_a_mermaid_state_diagram() {
    let v = Vigie::new();
    let out = v.ok(&["workflow", "graph", "fr"]);
    assert!(out.contains("stateDiagram-v2"), "{out}");
    assert!(
        out.contains("pending --> notified: notify_authority"),
        "{out}"
    );
    assert!(out.contains("detected --> contained: contain"), "{out}");
    // One diagram per track (the seventh: DORA, issue 12; the eighth: the CRA, issue 26).
    assert_eq!(out.matches("stateDiagram-v2").count(), 8, "{out}");
}

#[test]
fn the_graph_of_an_unknown_workflow_is_refused() {
    let v = Vigie::new();
    let err = v.fails(&["workflow", "graph", "xx"], 2);
    assert!(err.contains("'xx'"), "{err}");
    assert!(err.contains("fr"), "{err}");
}

/// `valid.yaml` with `edit` applied, written into the test's folder as `name`.
fn variant(v: &Vigie, name: &str, edit: impl Fn(&str) -> Vec<u8>) -> String {
    let text = std::fs::read_to_string(common::repo("tests/fixtures/workflows/valid.yaml"))
        .expect("valid.yaml");
    let path = v.dir().join(name);
    std::fs::write(&path, edit(&text)).expect("write the variant");
    path.display().to_string()
}

/// Issue 9: a file that is not UTF-8 was reported at `0:0`; the first bad byte's line
/// and column are named.
#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let v = Vigie::new();
    let file = variant(&v, "latin1.yaml", |t| {
        let t = t.replace("title: Mini workflow", "title: Mini workflow caf\u{e9}");
        // "café" in Latin-1: the é is one byte, 0xE9, not UTF-8.
        let mut bytes = Vec::new();
        for c in t.chars() {
            if c == '\u{e9}' {
                bytes.push(0xE9);
            } else {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
        bytes
    });
    let reported = check_fails(&v, &file);
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert_eq!(
        (reported[0].line, reported[0].column),
        (3, 25),
        "{reported:#?}"
    );
    assert!(reported[0].message.contains("UTF-8"), "{reported:#?}");
    assert!(reported[0].message.contains("0xE9"), "{reported:#?}");
}

/// Issue 9: a state named with an escape sequence came out raw on the terminal. Each
/// mistake is one line, with the name escaped.
#[test]
fn names_with_control_characters_are_reported_escaped_one_line_each() {
    let v = Vigie::new();
    let file = variant(&v, "ansi.yaml", |t| {
        t.replace(
            "states: [pending, not_required, notified]",
            "states: [pending, not_required, notified, \"\\e[31mred\\nline\"]",
        )
        .into_bytes()
    });
    let out = v.run(&["workflow", "check", &file]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        !out.stderr.replace('\n', "").chars().any(char::is_control),
        "{:?}",
        out.stderr
    );
    let reported = check_fails(&v, &file);
    assert!(!reported.is_empty());
    assert!(
        reported
            .iter()
            .any(|r| r.message.contains("\\u{1b}[31mred\\nline")),
        "{reported:#?}"
    );
}

/// Issue 9: a document whose template is missing for a language was accepted, the case
/// opened, and only `draft` failed. `workflow check` and every command that loads the
/// workflows now refuse it, at the document's line and column.
#[test]
fn a_document_needs_a_template_in_every_language() {
    let v = Vigie::new();
    let templates = v.dir().join("templates");
    let workflows = v.dir().join("workflows");
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::write(templates.join("notice.fr.md.hbs"), "# Avis\n").unwrap();
    let file = workflows.join("mini.yaml");
    let text = std::fs::read_to_string(common::repo("tests/fixtures/workflows/valid.yaml"))
        .unwrap()
        .replace("template: cnil_notification", "template: notice");
    std::fs::write(&file, text).unwrap();
    let config = v.dir().join("vigie.yaml");
    std::fs::write(
        &config,
        "workflows_dir: workflows\ntemplates_dir: templates\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let file = file.display().to_string();

    let out = v.run(&["--config", &config, "workflow", "check", &file]);
    assert_eq!(out.code, 2, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(
        lines[0].starts_with(&format!("{file}:35:5: document 'notice'")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("'notice.en.md.hbs'"), "{}", lines[0]);
    assert!(lines[0].contains("language en"), "{}", lines[0]);

    // Without the configured folder, neither language has it.
    let reported = check_fails(&v, &file);
    assert_eq!(reported.len(), 2, "{reported:#?}");

    // Loading the workflows refuses it too: no case opens on it.
    let err = v.fails(
        &[
            "--config",
            &config,
            "case",
            "open",
            "--workflow",
            "mini",
            "--title",
            "T",
            "--aware-at",
            "2026-11-20T09:00",
        ],
        2,
    );
    assert!(err.contains("notice.en.md.hbs"), "{err}");
    assert!(!v.db_path().exists(), "nothing written");
    let out = v.run(&["--config", &config, "workflow", "check"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("notice.en.md.hbs"), "{}", out.stderr);

    // With the English template, it is valid.
    std::fs::write(templates.join("notice.en.md.hbs"), "# Notice\n").unwrap();
    let out = v.ok(&["--config", &config, "workflow", "check", &file]);
    assert!(out.contains("ok"), "{out}");
}

/// Issue 12: `country`, `counting`, `last_event` and `or_earlier` are validated like
/// every other field, each mistake at its own line and column.
#[test]
fn counting_country_and_clock_starts_are_checked_where_they_are_written() {
    let v = Vigie::new();
    let text = std::fs::read_to_string(common::repo("tests/fixtures/workflows/valid.yaml"))
        .expect("valid.yaml");
    let check = |name: &str, text: String| {
        let path = v.dir().join(name);
        std::fs::write(&path, text).unwrap();
        let file = path.display().to_string();
        let out = v.run(&["workflow", "check", &file]);
        (file, out)
    };
    let line_of = |text: &str, needle: &str| {
        text.lines().position(|l| l.contains(needle)).unwrap() as u32 + 1
    };

    // A good variant first: every new field in use.
    let good = text
        .replace("lang: en\n", "lang: en\ncountry: FR\n")
        .replace(
            "    within: 72h\n",
            "    within: 72h\n    counting: eu_1182_71\n    or_earlier:\n      - { starts: { last_event: notify_authority }, within: 3d }\n",
        );
    let (file, out) = check("good.yaml", good);
    assert_eq!(out.code, 0, "{file}: {}", out.stderr);

    let bad = text
        .replace("lang: en\n", "lang: en\ncountry: France\n")
        .replace(
            "    within: 72h\n",
            "    within: 72h\n    counting: eu_1182\n",
        );
    let (file, out) = check("bad.yaml", bad.clone());
    assert_eq!(out.code, 2, "{out:?}");
    let country = format!(
        "{file}:{}:10: unknown country 'France'",
        line_of(&bad, "country:")
    );
    let counting = format!(
        "{file}:{}:15: clock 'art33': unknown counting 'eu_1182'",
        line_of(&bad, "counting:")
    );
    assert!(out.stderr.contains(&country), "{country}\n{}", out.stderr);
    assert!(out.stderr.contains(&counting), "{counting}\n{}", out.stderr);

    // eu_1182_71 needs a country whose holidays vigie knows.
    let no_country = text.replace(
        "    within: 72h\n",
        "    within: 72h\n    counting: eu_1182_71\n",
    );
    let (file, out) = check("no_country.yaml", no_country.clone());
    let at = format!(
        "{file}:{}:15: clock 'art33': counting eu_1182_71 needs the workflow's 'country'",
        line_of(&no_country, "counting:")
    );
    assert!(out.stderr.contains(&at), "{at}\n{}", out.stderr);

    // A last_event that does not exist is named, with a suggestion.
    let bad_start = text.replace(
        "    starts: { fact: aware_at }\n",
        "    starts: { last_event: notify_authorty }\n",
    );
    let (file, out) = check("bad_start.yaml", bad_start.clone());
    let line = line_of(&bad_start, "last_event:");
    assert!(
        out.stderr.contains(&format!("{file}:{line}:")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("unknown event 'notify_authorty'"),
        "{}",
        out.stderr
    );
}

/// Issue 22 A3: `starts: { earliest: [F, G] }` counts from the earliest of several
/// datetime facts; each mistake in it is named where it is written.
#[test]
fn a_clock_starting_at_the_earliest_of_several_facts_is_checked() {
    let v = Vigie::new();
    let with_detected = |t: &str, starts: &str| {
        t.replace(
            "  aware_at: { type: datetime }\n",
            "  aware_at: { type: datetime }\n  detected_at: { type: datetime }\n",
        )
        .replace("starts: { fact: aware_at }", starts)
        .into_bytes()
    };
    let good = variant(&v, "earliest.yaml", |t| {
        with_detected(t, "starts: { earliest: [detected_at, aware_at] }")
    });
    v.ok(&["workflow", "check", &good]);

    // The clock's `starts` is on line 30 once `detected_at` is declared.
    for (name, starts, words) in [
        (
            "earliest_one.yaml",
            "starts: { earliest: [aware_at] }",
            &["'art33'", "at least two"][..],
        ),
        (
            "earliest_not_datetime.yaml",
            "starts: { earliest: [aware_at, risk] }",
            &["'art33'", "'risk'", "not a datetime"][..],
        ),
        (
            "earliest_unknown.yaml",
            "starts: { earliest: [aware_at, detected] }",
            &["unknown fact", "'detected'"][..],
        ),
        (
            "earliest_twice.yaml",
            "starts: { earliest: [aware_at, aware_at] }",
            &["'art33'", "'aware_at' twice"][..],
        ),
        (
            "earliest_and_fact.yaml",
            "starts: { fact: aware_at, earliest: [detected_at, aware_at] }",
            &["'art33'", "exactly one of", "'earliest'"][..],
        ),
    ] {
        let file = variant(&v, name, |t| with_detected(t, starts));
        let reported = check_fails(&v, &file);
        assert_eq!(reported.len(), 1, "{name}: {reported:#?}");
        assert_eq!(reported[0].line, 30, "{name}: {reported:#?}");
        for w in words {
            assert!(
                reported[0].message.contains(w),
                "{name}: '{}' should name {w}",
                reported[0].message
            );
        }
    }
}

/// Issue 22 A5: an event's `conditions` (what it needs in some circumstances only) are
/// checked like the rest: known facts, and something to ask besides `if`.
#[test]
fn an_event_condition_is_checked() {
    let v = Vigie::new();
    let with = |entry: &'static str| {
        move |t: &str| {
            t.replace(
                "    when: { fact: risk, equals: none }\n",
                &format!("    when: {{ fact: risk, equals: none }}\n    conditions:\n{entry}"),
            )
            .into_bytes()
        }
    };
    let good = variant(
        &v,
        "conditions.yaml",
        with(
            "      - if: { fact: risk, equals: none }\n        basis: art. 33(5)\n        requires: [nature]\n",
        ),
    );
    v.ok(&["workflow", "check", &good]);
    let file = variant(
        &v,
        "conditions_unknown.yaml",
        with("      - if: { fact: risk, equals: none }\n        requires: [reasons]\n"),
    );
    let reported = check_fails(&v, &file);
    assert_eq!(reported.len(), 1, "{reported:#?}");
    assert_eq!(reported[0].line, 28, "{reported:#?}");
    assert!(
        reported[0].message.contains("unknown fact 'reasons'"),
        "{reported:#?}"
    );
    let file = variant(
        &v,
        "conditions_empty.yaml",
        with("      - if: { fact: risk, equals: nil }\n"),
    );
    let reported = check_fails(&v, &file);
    assert_eq!(reported.len(), 2, "{reported:#?}");
    assert!(
        reported
            .iter()
            .any(|r| r.message.contains("'requires' or 'when'")),
        "{reported:#?}"
    );
    assert!(
        reported.iter().any(|r| r.message.contains("'nil'")),
        "{reported:#?}"
    );
}
