//! Dutch (issue 12 part 5): every label and every word of the pages has a Dutch entry
//! written for it (not the English or French one left in place), a `be` case drafts every
//! document in Dutch with no English or French label left over, and the `fr` workflow,
//! which has no Dutch drafts, says so and writes French. The reminder e-mail in Dutch is
//! tested in tests/serve.rs, the web page in Dutch in tests/web.rs.

use crate::common;

use common::{Vigie, repo};
use indexmap::IndexMap;

/// Dutch entries that are the same as the English or French one, on purpose. Each one
/// says why; anything else equal to its English or French entry is an untranslated string.
const DELIBERATELY_IDENTICAL: &[(&str, &str)] = &[
    // ui: the product's name.
    ("app", "vigie: a name, not a word"),
    // ui: "Dossier" is the Dutch word for a case file, as it is the French one.
    ("case", "Dossier is Dutch as well as French"),
    // labels: the French noun and the Dutch noun are spelt alike.
    (
        "fraud",
        "Fraude is the Dutch word as well as the French one",
    ),
    // labels: the channel of a submission; Dutch writes "e-mail" as English does.
    (
        "submission_channel_email",
        "E-mail is the Dutch word as well as the English and French one",
    ),
];

/// English labels that are also ordinary Dutch words with another meaning: a Dutch
/// draft may hold them as words, not as leftovers ("met" is Dutch for "with").
const ALSO_DUTCH_WORDS: &[&str] = &["met"];

fn table(path: &str) -> IndexMap<String, String> {
    let text = std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    vigie::util::yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every key of the English table has a Dutch entry, and no Dutch entry is its English or
/// French one, unless listed in [`DELIBERATELY_IDENTICAL`].
fn dutch_table_is_complete_and_written(en: &str, fr: &str, nl: &str) {
    let (en_t, fr_t, nl_t) = (table(en), table(fr), table(nl));
    let missing: Vec<&String> = en_t.keys().filter(|k| !nl_t.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys of {en} with no entry in {nl}: {missing:?}"
    );
    let extra: Vec<&String> = nl_t.keys().filter(|k| !en_t.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "keys of {nl} that {en} does not have: {extra:?}"
    );
    let allowed = |k: &str| DELIBERATELY_IDENTICAL.iter().any(|(key, _)| *key == k);
    let mut same = Vec::new();
    for (k, v) in &nl_t {
        let v = v.trim();
        for (other, t) in [(en, &en_t), (fr, &fr_t)] {
            if t.get(k).is_some_and(|o| o.trim().eq_ignore_ascii_case(v)) && !allowed(k) {
                same.push(format!("{k}: {v:?} (as in {other})"));
            }
        }
        assert!(!v.is_empty(), "{nl}: {k} is empty");
    }
    assert!(
        same.is_empty(),
        "Dutch entries equal to their English or French one (translate them, or list them \
         in DELIBERATELY_IDENTICAL with the reason):\n{}",
        same.join("\n")
    );
}

#[test]
fn every_label_has_a_dutch_entry_of_its_own() {
    dutch_table_is_complete_and_written(
        "templates/labels.en.yaml",
        "templates/labels.fr.yaml",
        "templates/labels.nl.yaml",
    );
}

#[test]
fn every_word_of_the_pages_has_a_dutch_entry_of_its_own() {
    dutch_table_is_complete_and_written(
        "templates/web/ui.en.yaml",
        "templates/web/ui.fr.yaml",
        "templates/web/ui.nl.yaml",
    );
}

/// The list of deliberate exceptions stays true: each names a key whose entries are
/// indeed identical (a stale exception would hide a later untranslated string).
#[test]
fn every_deliberate_exception_is_still_needed() {
    let pairs = [
        (
            "templates/labels.en.yaml",
            "templates/labels.fr.yaml",
            "templates/labels.nl.yaml",
        ),
        (
            "templates/web/ui.en.yaml",
            "templates/web/ui.fr.yaml",
            "templates/web/ui.nl.yaml",
        ),
    ];
    for (key, why) in DELIBERATELY_IDENTICAL {
        let used = pairs.iter().any(|(en, fr, nl)| {
            let nl = table(nl);
            let Some(v) = nl.get(*key) else { return false };
            [table(en), table(fr)].iter().any(|t| {
                t.get(*key)
                    .is_some_and(|o| o.trim().eq_ignore_ascii_case(v.trim()))
            })
        });
        assert!(
            used,
            "{key} ({why}) is no longer identical: drop it from the list"
        );
    }
}

/// `text` holds `needle` as a whole expression (not inside a longer word).
fn holds_phrase(text: &str, needle: &str) -> bool {
    text.match_indices(needle).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// What an English or French `be` draft says and a Dutch one must not: every English and
/// French label, and the French texts of the `be` workflow itself (its meta values, clock
/// titles and legal bases, document titles), which its `labels: nl:` section replaces.
fn foreign_phrases() -> Vec<String> {
    let nl = table("templates/labels.nl.yaml");
    let mut out: Vec<String> = Vec::new();
    for path in ["templates/labels.en.yaml", "templates/labels.fr.yaml"] {
        for (k, v) in table(path) {
            let same_in_dutch = nl.get(&k).is_some_and(|n| n.eq_ignore_ascii_case(&v));
            if !same_in_dutch && !ALSO_DUTCH_WORDS.contains(&v.as_str()) {
                out.push(v);
            }
        }
    }
    let text = std::fs::read_to_string(repo("workflows/be.yaml")).unwrap();
    let wf = vigie::workflow::compile("workflows/be.yaml", &text).expect("be.yaml compiles");
    out.extend(wf.meta.values().filter(|v| !v.is_empty()).cloned());
    for c in wf.clocks.values() {
        out.push(c.title.clone());
        out.extend(c.basis.clone());
    }
    out.extend(wf.documents.values().map(|d| d.title.clone()));
    // The placeholders and salutations of the other languages.
    out.extend(
        [
            "[À compléter",
            "[To complete",
            "Madame, Monsieur",
            "Dear Sir or Madam",
            "RGPD",
            "GDPR",
        ]
        .map(String::from),
    );
    out
}

/// A `be` case with every kind of fact set (texts written in Dutch by the test), notified
/// to the GBA and the CCB, so that every section of every draft has something to show.
fn dutch_be_case() -> Vigie {
    let v = Vigie::new();
    v.ok(&["org", "set", "--lang", "nl"]);
    v.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--title",
        "Gemeente Testdorp — phishing op de mailbox van de dienst burgerzaken",
        "--aware-at",
        "2026-03-27T10:00",
        "--id",
        "nl1",
        "--set",
        "started_at=2026-03-26T22:00",
        "--set",
        "detected_at=2026-03-27T08:30",
        "--set",
        "contained_at=2026-03-27T11:00",
        "--set",
        "breach_status=established",
        "--set",
        "nature=[confidentiality, availability]",
        "--set",
        "origin=[hacking_malware_phishing, wrong_recipient]",
        "--set",
        "cause=external_malicious",
        "--set",
        "subject_categories=[users, minors, vulnerable]",
        "--set",
        "subjects_approx=12500",
        "--set",
        "records_approx=13000",
        "--set",
        "data_categories=[identity, contact, nir, official_documents]",
        "--set",
        "consequence_types=[misusable, cross_matchable]",
        "--set",
        "harms=[identity_theft, fraud, psychological]",
        "--set",
        "consequences=Gerichte phishing op naam van de gemeente",
        "--set",
        "measures=Wachtwoorden vernieuwd, mailbox afgesloten",
        "--set",
        "individual_advice=Wees waakzaam voor berichten die om uw codes vragen",
        "--set",
        "risk=high",
        "--set",
        "risk_rationale=Rijksregisternummers en identiteitskaarten",
        "--set",
        "individuals_informed=will_be",
        "--set",
        "nis2_entity=true",
        "--set",
        "nis2_malicious=true",
        "--set",
        "nis2_cross_border=false",
        "--set",
        "nis2_severity=Beperkt tot de mailbox",
        "--set",
        "iocs=Afzenderdomein testdorp-login.example",
        "--set",
        "harm_estimate=Nog te ramen",
        "--set",
        "evidence=Logbestanden van de mailserver",
        "--set",
        "complaint_place=Politiezone Testdorp",
    ]);
    v.ok(&[
        "case",
        "advance",
        "nl1",
        "contain",
        "--at",
        "2026-03-27T11:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    v.ok(&[
        "case",
        "advance",
        "nl1",
        "nis2_early_warning",
        "--at",
        "2026-03-27T12:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    v.ok(&[
        "case",
        "advance",
        "nl1",
        "notify_authority",
        "--at",
        "2026-03-28T09:00",
        "--reason",
        "recorded afterwards from the incident log",
    ]);
    v
}

#[test]
fn a_be_case_drafted_in_dutch_has_no_english_or_french_label() {
    let v = dutch_be_case();
    let foreign = foreign_phrases();
    // Every document of the workflow, so that a document added later is drafted here too.
    let text = std::fs::read_to_string(repo("workflows/be.yaml")).unwrap();
    let wf = vigie::workflow::compile("workflows/be.yaml", &text).expect("be.yaml compiles");
    assert!(wf.documents.len() >= 4, "{:?}", wf.documents.keys());
    for doc in wf.documents.keys().map(String::as_str) {
        for format in ["md", "html"] {
            let out = v.run(&["draft", "nl1", doc, "--lang", "nl", "--format", format]);
            assert_eq!(out.code, 0, "{doc}: {}", out.stderr);
            let text = out.stdout.replace("&#39;", "'").replace("&quot;", "\"");
            let left: Vec<&String> = foreign.iter().filter(|p| holds_phrase(&text, p)).collect();
            assert!(
                left.is_empty(),
                "{doc} ({format}) in Dutch still says {left:?}:\n{text}"
            );
            // Dutch: a date written out in Dutch, or the Dutch heading of a working draft.
            assert!(
                text.contains("maart 2026 om ") || text.contains("Werkontwerp opgesteld op "),
                "{doc}: {text}"
            );
        }
    }
    // The organisation's language is the default: no --lang, the same Dutch text.
    // The clock pinned for both: a draft says the minute it was made.
    let now = common::pinned_now();
    let default = v.ok_at(&now, &["draft", "nl1", "apd_notification"]);
    assert_eq!(
        default,
        v.ok_at(&now, &["draft", "nl1", "apd_notification", "--lang", "nl"])
    );
    assert!(
        default.contains("Gegevensbeschermingsautoriteit (GBA)"),
        "{default}"
    );
    assert!(default.contains("AVG art. 33, lid 1"), "{default}");
    assert!(
        default.contains("12.500"),
        "Dutch thousands separator: {default}"
    );
    let letter = v.ok(&["draft", "nl1", "individual_letter"]);
    assert!(letter.starts_with("Geachte heer, mevrouw,"), "{letter}");
    let complaint = v.ok(&["draft", "nl1", "complaint"]);
    assert!(
        complaint.contains("Mijnheer de Procureur des Konings,"),
        "{complaint}"
    );
}

#[test]
fn a_fr_draft_asked_in_dutch_is_written_in_french_and_says_so() {
    let v = Vigie::new();
    v.open_fr("c1", "2026-03-27T10:00");
    // The clock pinned for both: a draft says the minute it was made.
    let now = common::pinned_now();
    let out = v.run_env(
        &["draft", "c1", "cnil_notification", "--lang", "nl"],
        &[("VIGIE_NOW", &now)],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        v.ok_at(&now, &["draft", "c1", "cnil_notification", "--lang", "fr"])
    );
    assert!(
        out.stderr.contains("does not draft in nl: written in fr"),
        "{}",
        out.stderr
    );
    // An organisation whose language is Dutch gets its fr drafts in French too, silently.
    v.ok(&["org", "set", "--lang", "nl"]);
    let out = v.run(&["draft", "c1", "complaint"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("Monsieur le Procureur"),
        "{}",
        out.stdout
    );
    assert!(!out.stderr.contains("does not draft"), "{}", out.stderr);
}

#[test]
fn an_unknown_language_names_every_language_offered() {
    let v = Vigie::new();
    v.open_fr("c1", "2026-03-27T10:00");
    let err = v.fails(&["draft", "c1", "cnil_notification", "--lang", "de"], 2);
    assert!(err.contains("fr, en or nl"), "{err}");
    let err = v.fails(&["org", "set", "--lang", "de"], 2);
    assert!(err.contains("fr, en or nl"), "{err}");
}
