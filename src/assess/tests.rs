use super::*;
use crate::catalog::rules_for;
use crate::workflow::{Workflow, compile};

fn fr() -> Workflow {
    compile("fr.yaml", include_str!("../../workflows/fr.yaml")).expect("fr compiles")
}

fn shipped(wf: &Workflow) -> Rules {
    rules_for(wf, None)
        .expect("fr names its rules")
        .expect("the shipped rules compile")
}

fn facts(wf: &Workflow, pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, FactValue> {
    pairs
        .iter()
        .map(|(k, v)| {
            let def = wf.facts.get(*k).unwrap_or_else(|| panic!("fact {k}"));
            (k.to_string(), def.coerce(v, wf.timezone).expect("typed"))
        })
        .collect()
}

fn run(rules: &Rules, wf: &Workflow, f: &BTreeMap<String, FactValue>) -> Assessment {
    let tracks = wf
        .tracks
        .iter()
        .map(|(k, t)| (k.clone(), t.initial.clone()))
        .collect();
    assess(rules, f, &tracks, Lang::En, &Ids)
}

/// A rules file for the scoring tests: the shipped DPC, EI and CB, ENISA's bands, and
/// context adjustments standing for ENISA's own examples, no rules after the score.
fn rules_with(adjust: &str, wf: &Workflow) -> Result<Rules, Vec<crate::workflow::WorkflowError>> {
    let text = format!(
        r#"version: "test"
records: {{ event: assess, risk: risk, rationale: risk_rationale }}
severity:
  dpc:
    id: dpc
    fact: data_categories
    scores: {{ identity: 1, civil_status: 1, contact: 1, ip_address: 1, other: 1, connection_location: 2, behavioural: 2, financial: 3, payment_means: 3, nir: 3, official_documents: 3, credentials: 3, offences: 4, health: 4, sensitive: 4 }}
    unset: 4
    adjust:
{adjust}
  ei:
    id: ei
    fact: identifiability
    scores: {{ negligible: 0.25, limited: 0.5, significant: 0.75, maximum: 1 }}
    unset: 1
  cb:
    - {{ id: conf, fact: confidentiality_loss, scores: {{ none: 0, not_accessed: 0, trusted_recipient: 0, known_recipients: 0.25, unknown_recipients: 0.5, unknown: 0.5 }}, unset: 0.5 }}
    - {{ id: integ, fact: integrity_loss, scores: {{ none: 0, recoverable: 0.25, not_recoverable: 0.5 }}, unset: 0.5 }}
    - {{ id: avail, fact: availability_loss, scores: {{ none: 0, temporary: 0.25, permanent: 0.5 }}, unset: 0.5 }}
    - {{ id: malicious, when: {{ fact: cause, in: [external_malicious, internal_malicious] }}, add: 0.5, text: {{ fr: m, en: m }} }}
bands:
  - {{ band: low, below: 2, risk: none, edpb: minor }}
  - {{ band: medium, below: 3, risk: risk, edpb: moderate }}
  - {{ band: high, below: 4, risk: high, edpb: severe }}
  - {{ band: very_high, risk: high, edpb: severe }}
conclusions:
  document: {{ id: d, text: {{ fr: d, en: d }} }}
  notify: {{ id: n, text: {{ fr: n, en: n }} }}
  no_notify: {{ id: nn, text: {{ fr: nn, en: nn }} }}
  in_doubt: {{ id: doubt, text: {{ fr: doubt, en: doubt }} }}
  inform: {{ id: i, text: {{ fr: i, en: i }} }}
  no_inform: {{ id: ni, text: {{ fr: ni, en: ni }} }}
  exempt: {{ id: x, text: {{ fr: x, en: x }} }}
"#
    );
    compile_rules("test.yaml", &text, wf)
}

/// ENISA's DPC examples (REGULATION.md), each context written as an adjustment on
/// facts the workflow has: the base score of the category, moved in whole steps.
const ENISA_CONTEXT: &str = r#"      # a few records per person (one day of transactions): one step down
      - { id: little_volume, when: { not: { fact: records_approx, at_least: 10 } }, step: -1, text: { fr: v, en: v } }
      # a year of detailed records: one step up
      - { id: much_volume, when: { fact: records_approx, at_least: 300 }, step: 1, text: { fr: v, en: v } }
      # the context reveals something sensitive (an adult shop's customers)
      - { id: revealing, when: { fact: consequence_types, in: [falsifiable] }, step: 2, text: { fr: r, en: r } }
      # people whose safety depends on secrecy (undercover officers)
      - { id: officers, when: { fact: subject_categories, in: [officers] }, step: 3, text: { fr: o, en: o } }
"#;

/// The DPC of `pairs`, the context not given set to neutral values (an unknown
/// context would step up: see `unknown_context_steps_up_never_down`).
fn dpc_of(rules: &Rules, wf: &Workflow, pairs: &[(&str, serde_json::Value)]) -> i64 {
    let mut all = vec![
        ("subject_categories", serde_json::json!(["customers"])),
        ("consequence_types", serde_json::json!(["misusable"])),
    ];
    all.retain(|(k, _)| !pairs.iter().any(|(p, _)| p == k));
    all.extend(pairs.iter().cloned());
    run(rules, wf, &facts(wf, &all)).dpc.value / 4
}

#[test]
fn the_shipped_rules_compile_against_both_workflows() {
    let wf = fr();
    let r = shipped(&wf);
    assert!(!r.version.is_empty());
    let be = compile("be.yaml", include_str!("../../workflows/be.yaml")).expect("be compiles");
    shipped(&be);
}

#[test]
fn dpc_follows_enisas_examples() {
    use serde_json::json;
    let wf = fr();
    let r = rules_with(ENISA_CONTEXT, &wf).expect("test rules compile");
    let many = ("records_approx", json!(50));
    // A supermarket's customer list: simple data, 1.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["identity", "contact"])),
                many.clone()
            ]
        ),
        1
    );
    // An adult shop's delivery addresses: simple data the context makes revealing, 3.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["contact"])),
                ("consequence_types", json!(["falsifiable"])),
                many.clone()
            ]
        ),
        3
    );
    // A list of undercover officers: 1 + 3, 4.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["identity"])),
                ("subject_categories", json!(["officers"])),
                many.clone()
            ]
        ),
        4
    );
    // One day of bank transactions: financial 3, one step down, 2.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["financial"])),
                ("records_approx", json!(3))
            ]
        ),
        2
    );
    // A year of detailed statements: financial 3, one step up, 4.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["financial"])),
                ("records_approx", json!(365))
            ]
        ),
        4
    );
    // A year of public-transport locations: behavioural 2, one step up, 3.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["connection_location"])),
                ("records_approx", json!(365))
            ]
        ),
        3
    );
    // Pharmacy purchases: health, 4; a further step up stays within 1-4.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["health"])),
                ("records_approx", json!(365))
            ]
        ),
        4
    );
    // A step down never goes under 1.
    assert_eq!(
        dpc_of(
            &r,
            &wf,
            &[
                ("data_categories", json!(["contact"])),
                ("records_approx", json!(1))
            ]
        ),
        1
    );
}

#[test]
fn unknown_context_steps_up_never_down() {
    use serde_json::json;
    let wf = fr();
    let r = rules_with(ENISA_CONTEXT, &wf).expect("test rules compile");
    // records_approx unset: the step down does not apply, the step up does.
    let a = run(
        &r,
        &wf,
        &facts(&wf, &[("data_categories", json!(["financial"]))]),
    );
    assert_eq!(a.dpc.value / 4, 4, "{:?}", a.dpc.why);
    assert!(a.missing.contains(&"records_approx".to_string()));
}

#[test]
fn severity_is_dpc_times_ei_plus_cb_and_bands_have_exact_edges() {
    use serde_json::json;
    let wf = fr();
    let r = rules_with("      []\n", &wf).unwrap_or_else(|e| panic!("{e:?}"));
    // (categories, identifiability, confidentiality, integrity, availability, malicious) → score
    type Scenario<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, bool, f64, Band);
    let cases: &[Scenario] = &[
        // 1 × 1 + 0.75 = 1.75: the last low
        (
            "contact",
            "maximum",
            "known_recipients",
            "recoverable",
            "temporary",
            false,
            1.75,
            Band::Low,
        ),
        // 1 × 1 + 1 = 2: the first medium
        (
            "contact",
            "maximum",
            "unknown_recipients",
            "recoverable",
            "temporary",
            false,
            2.0,
            Band::Medium,
        ),
        // 2 × 1 + 0.75 = 2.75: medium
        (
            "behavioural",
            "maximum",
            "unknown_recipients",
            "recoverable",
            "none",
            false,
            2.75,
            Band::Medium,
        ),
        // 3 × 0.75 + 0.75 = 3: the first high
        (
            "financial",
            "significant",
            "known_recipients",
            "none",
            "none",
            true,
            3.0,
            Band::High,
        ),
        // 3 × 1 + 0.75 = 3.75: the last high
        (
            "financial",
            "maximum",
            "unknown_recipients",
            "recoverable",
            "none",
            false,
            3.75,
            Band::High,
        ),
        // 4 × 1 + 0 = 4: the first very high
        (
            "health",
            "maximum",
            "none",
            "none",
            "none",
            false,
            4.0,
            Band::VeryHigh,
        ),
        // 4 × 0.25 + 0 = 1: low
        (
            "health",
            "negligible",
            "none",
            "none",
            "none",
            false,
            1.0,
            Band::Low,
        ),
        // 4 × 0.5 + 2 = 4: everything lost, maliciously
        (
            "sensitive",
            "limited",
            "unknown_recipients",
            "not_recoverable",
            "permanent",
            true,
            4.0,
            Band::VeryHigh,
        ),
    ];
    for (cat, ei, c, i, av, malicious, want, band) in cases {
        let f = facts(
            &wf,
            &[
                ("data_categories", json!([cat])),
                ("identifiability", json!(ei)),
                ("confidentiality_loss", json!(c)),
                ("integrity_loss", json!(i)),
                ("availability_loss", json!(av)),
                (
                    "cause",
                    json!(if *malicious {
                        "external_malicious"
                    } else {
                        "internal_accidental"
                    }),
                ),
            ],
        );
        let a = run(&r, &wf, &f);
        assert_eq!(a.score as f64 / 4.0, *want, "{cat} {ei} {c} {i} {av}");
        assert_eq!(a.band, *band, "{cat} {ei} {c} {i} {av}: {}", *want);
    }
}

#[test]
fn nothing_known_is_the_worst_case_and_never_no_risk() {
    let wf = fr();
    let r = shipped(&wf);
    let a = run(&r, &wf, &BTreeMap::new());
    assert_eq!(a.score, 4 * 4 + 8, "4 × 1 + 2");
    assert_eq!(a.band, Band::VeryHigh);
    assert!(a.notify_authority && a.inform_individuals);
    for f in [
        "data_categories",
        "identifiability",
        "confidentiality_loss",
        "cause",
    ] {
        assert!(
            a.missing.contains(&f.to_string()),
            "{f} missing: {:?}",
            a.missing
        );
    }
}

#[test]
fn a_low_band_with_a_fact_unknown_is_notified_in_doubt() {
    use serde_json::json;
    let wf = fr();
    let r = rules_with("      []\n", &wf).unwrap_or_else(|e| panic!("{e:?}"));
    // Everything low, and cause unknown: the malicious term is counted (CB 0.5 + 0.5).
    let mut f = facts(
        &wf,
        &[
            ("data_categories", json!(["contact"])),
            ("identifiability", json!("negligible")),
            ("confidentiality_loss", json!("none")),
            ("integrity_loss", json!("none")),
            ("availability_loss", json!("none")),
            ("cause", json!("internal_accidental")),
        ],
    );
    let a = run(&r, &wf, &f);
    assert_eq!(
        (a.risk, a.notify_authority, a.missing.len()),
        (Risk::None, false, 0)
    );
    f.remove("cause");
    let a = run(&r, &wf, &f);
    assert_eq!(a.band, Band::Low, "0.25 + 0.5 is still low");
    assert_eq!(a.risk, Risk::Risk, "{:?}", a.reasons);
    assert!(a.notify_authority);
    assert!(
        a.reasons.iter().any(|r| r.rule == "doubt"),
        "{:?}",
        a.reasons
    );
    assert_eq!(a.missing, vec!["cause".to_string()]);
}

fn errors(adjust: &str) -> String {
    let wf = fr();
    match rules_with(adjust, &wf) {
        Ok(_) => panic!("should not compile"),
        Err(e) => e
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn mistakes_in_a_rules_file_are_reported_with_their_place() {
    let e = errors(
        "      - { id: a, when: { fact: nope, equals: x }, step: 1, text: { fr: a, en: a } }\n",
    );
    assert!(e.starts_with("test.yaml:10:"), "{e}");
    assert!(e.contains("unknown fact 'nope'"), "{e}");
    let e = errors(
        "      - { id: a, when: { fact: data_categories, equals: bogus }, step: 1, text: { fr: a, en: a } }\n",
    );
    assert!(e.contains("bogus"), "{e}");
    let e = errors(
        "      - { id: a, when: { fact: cause, at_least: 3 }, step: 1, text: { fr: a, en: a } }\n",
    );
    assert!(e.contains("at_least compares integers"), "{e}");
    let wf = fr();
    let base = rules_with("      []\n", &wf)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"));
    assert_eq!(base, Ok(()));
}

#[test]
fn an_unset_fact_must_score_at_least_its_highest_value() {
    let wf = fr();
    let text = include_str!("../../workflows/rules/assessment.yaml").replace(
        "    scores: { negligible: 0.25, limited: 0.5, significant: 0.75, maximum: 1 }\n    unset: 1",
        "    scores: { negligible: 0.25, limited: 0.5, significant: 0.75, maximum: 1 }\n    unset: 0.5",
    );
    let e = compile_rules("r.yaml", &text, &wf).expect_err("unset below the highest");
    assert!(e[0].message.contains("at least the highest value"), "{e:?}");
    assert!(e[0].to_string().starts_with("r.yaml:"), "{e:?}");
    let text =
        include_str!("../../workflows/rules/assessment.yaml").replace("      health: 4\n", "");
    let e = compile_rules("r.yaml", &text, &wf).expect_err("a category without a score");
    assert!(e[0].message.contains("no score for 'health'"), "{e:?}");
    let text = include_str!("../../workflows/rules/assessment.yaml").replace(
        "{ none: 0, recoverable: 0.25,",
        "{ none: 0, recoverable: 0.3,",
    );
    let e = compile_rules("r.yaml", &text, &wf).expect_err("not a quarter");
    assert!(e[0].message.contains("multiple of 0.25"), "{e:?}");
    let text = include_str!("../../workflows/rules/assessment.yaml")
        .replace("below: 3, risk: risk", "below: 1.5, risk: risk");
    let e = compile_rules("r.yaml", &text, &wf).expect_err("bands out of order");
    assert!(e[0].message.contains("bands must rise"), "{e:?}");
    let text = include_str!("../../workflows/rules/assessment.yaml").replace(
        "    at_most: none\n    text:\n      fr: \"Les données étaient",
        "    at_most: none\n    if_unknown: apply\n    text:\n      fr: \"Les données étaient",
    );
    let e = compile_rules("r.yaml", &text, &wf).expect_err("a ceiling applied on unknown");
    assert!(
        e[0].message.contains("never applies on an unknown"),
        "{e:?}"
    );
}

/// Issue 22 C1: a frozen reason carries its ids and data and is rendered in the
/// reader's language; one stored before (text only), or of rules this process does not
/// know, keeps its stored text.
#[test]
fn frozen_reasons_speak_the_readers_language_and_old_ones_keep_their_text() {
    let wf = fr();
    let r = shipped(&wf);
    let a = run(&r, &wf, &BTreeMap::new());
    let frozen = crate::assess::assessment_json(&wf, &a, &BTreeMap::new());
    let reasons = frozen["reasons"].as_array().unwrap();
    let band = &reasons[0];
    assert!(band["text"].as_str().unwrap().starts_with("Severity"));
    let v = &a.rules_version;
    assert!(
        frozen_reason_text(band, v, Lang::Fr, &Ids).starts_with("Gravité 6 (DPC 4 × EI 1 + CB 2)")
    );
    assert!(
        frozen_reason_text(band, v, Lang::Nl, &Ids).starts_with("Ernst 6 (DPC 4 × EI 1 + CB 2)")
    );
    let rule = reasons
        .iter()
        .find(|x| x["rule"] == "malicious_act")
        .expect("an unknown cause counts as malicious");
    let fr_text = frozen_reason_text(rule, v, Lang::Fr, &Ids);
    assert!(
        fr_text.starts_with("La violation résulte d'un acte malveillant"),
        "{fr_text}"
    );
    assert!(
        fr_text.ends_with("(condition inconnue : appliquée par prudence)"),
        "{fr_text}"
    );
    let nl_text = frozen_reason_text(rule, v, Lang::Nl, &Ids);
    assert!(nl_text.starts_with("De inbreuk komt voort"), "{nl_text}");
    // Stored before reasons had data: the stored text, whatever the reader's language.
    let mut old = rule.clone();
    old.as_object_mut().unwrap().remove("data");
    assert_eq!(
        frozen_reason_text(&old, v, Lang::Fr, &Ids),
        rule["text"].as_str().unwrap()
    );
    // Rules of a version this process never compiled: their own texts are not known.
    assert_eq!(
        frozen_reason_text(rule, "1999-01-01.1", Lang::Fr, &Ids),
        rule["text"].as_str().unwrap()
    );
    // The engine's own sentences need no rules' texts.
    assert!(frozen_reason_text(band, "1999-01-01.1", Lang::Fr, &Ids).starts_with("Gravité"));
}

/// Every text of the shipped rules has its Dutch.
#[test]
fn the_shipped_rules_speak_dutch() {
    let wf = fr();
    let r = shipped(&wf);
    for (id, t) in r.texts() {
        assert!(
            t.nl.as_deref().is_some_and(|s| !s.is_empty() && s != t.en),
            "{id}"
        );
    }
}
