//! Drafts an authority accepts and a DPO can send (issue 22 parts B and C, issue 21
//! part 6): one severity per case, Belgian law and identifiers in Belgian drafts, dates
//! marked estimated, conditional fields that follow their condition in Markdown and
//! JSON alike, labels for every value (no raw id in any rendered text), plain words in
//! the letter, and the register's art. 34 counts.
//!
//! Rendering does not depend on the backend: these run on SQLite.

use crate::common;

use common::{Vigie, repo};
use serde_json::Value;

const SEEDS: [&str; 5] = [
    "caf-2021",
    "cpas-charleroi",
    "france-travail",
    "france-visas-2021",
    "hubee-2026",
];

fn demo() -> Vigie {
    let v = Vigie::new();
    v.ok(&["demo"]);
    v
}

fn workflow_of(id: &str) -> &'static str {
    if id == "cpas-charleroi" { "be" } else { "fr" }
}

/// The documents of a workflow, from its YAML.
fn documents(wf: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo(&format!("workflows/{wf}.yaml"))).unwrap();
    let y: Value = vigie::util::yaml::from_str(&text).unwrap();
    y["documents"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

/// Every id a workflow names that a reader could see raw: choice values, track states,
/// events, clocks, documents and facts. Ids with an underscore are never words; the
/// others are English words a French or Dutch text never holds on its own.
fn raw_ids(wf: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo(&format!("workflows/{wf}.yaml"))).unwrap();
    let y: Value = vigie::util::yaml::from_str(&text).unwrap();
    let mut ids: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !ids.iter().any(|i| i == s) {
            ids.push(s.to_string());
        }
    };
    for (id, f) in y["facts"].as_object().unwrap() {
        push(id);
        for c in f["choices"].as_array().into_iter().flatten() {
            if let Some(c) = c.as_str() {
                push(c);
            }
        }
    }
    for (_, t) in y["tracks"].as_object().unwrap() {
        for s in t["states"].as_array().into_iter().flatten() {
            if let Some(s) = s.as_str() {
                push(s);
            }
        }
    }
    for key in ["events", "clocks", "documents"] {
        for (id, _) in y[key].as_object().into_iter().flatten() {
            push(id);
        }
    }
    ids
}

/// The raw ids found in `text` (whole words): those with an underscore in any language,
/// and, in a French or Dutch text, the English state and risk words.
fn ids_in(text: &str, ids: &[String], lang: &str) -> Vec<String> {
    const ENGLISH_WORDS: &[&str] = &[
        "risk",
        "high",
        "none",
        "open",
        "pending",
        "notified",
        "closed",
        "contained",
        "detected",
        "assessed",
        "filed",
        "withdrawn",
        "established",
        "suspected",
        "temporary",
        "permanent",
    ];
    // Addresses and commands may hold ids on purpose (`vigie event c1 notify_authority`).
    let text: String = text
        .lines()
        .filter(|l| !l.contains('`') && !l.contains("vigie case ") && !l.contains("vigie event "))
        .collect::<Vec<_>>()
        .join("\n");
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for id in ids {
        let suspicious = id.contains('_') || (lang != "en" && ENGLISH_WORDS.contains(&id.as_str()));
        if suspicious && words.contains(&id.as_str()) && !found.contains(id) {
            found.push(id.clone());
        }
    }
    found
}

/// The draft, or "" for a document of a regime that does not apply to the case (NIS2 or
/// DORA where the case says no: refused, issue 22 C7).
fn draft(v: &Vigie, id: &str, doc: &str, lang: &str) -> String {
    let out = v.run(&["draft", id, doc, "--lang", lang]);
    if out.code == 2 && out.stderr.contains("does not apply to case") {
        return String::new();
    }
    assert_eq!(
        out.code, 0,
        "draft {id} {doc} --lang {lang}: {}",
        out.stderr
    );
    out.stdout
}

fn edpb_json(v: &Vigie, id: &str) -> Value {
    v.json(&["draft", id, "edpb_notification", "--format", "json"])
}

/// The text after `marker` on the first line holding it, up to `;` or the line's end.
fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    let line = text.lines().find(|l| l.contains(marker))?;
    let rest = &line[line.find(marker)? + marker.len()..];
    Some(rest.split(';').next().unwrap_or(rest).trim())
}

// --- B1: one case, one severity ---

#[test]
fn b1_a_draft_shows_one_severity_the_one_the_edpb_template_declares() {
    let v = demo();
    let names = [
        ("minor", "mineure"),
        ("moderate", "modérée"),
        ("severe", "grave"),
    ];
    for id in SEEDS {
        let json = edpb_json(&v, id);
        let sev = json["section_4_1"]["severity"].as_str().unwrap();
        let want = names.iter().find(|(k, _)| *k == sev).unwrap().1;
        let doc = if workflow_of(id) == "be" {
            "apd_notification"
        } else {
            "cnil_notification"
        };
        let md = draft(&v, id, doc, "fr");
        if let Some(shown) = after(&md, "modèle du CEPD : ") {
            assert_eq!(
                shown.to_lowercase(),
                want,
                "{id}: the {doc} draft says the EDPB severity is {shown:?}, its EDPB template {sev:?}"
            );
        }
    }
}

#[test]
fn b1_a_complementary_notification_shows_the_current_assessment_and_what_changed() {
    let v = demo();
    // The CPAS notified on day 2 (band "moyen"); its facts now score very high.
    let current: Value = v.json(&["assess", "cpas-charleroi", "--json"]);
    let band = current["current"]["severity"]["band"].as_str().unwrap();
    assert_eq!(band, "very_high", "the CPAS's facts now");
    let md = draft(&v, "cpas-charleroi", "apd_notification", "fr");
    assert!(md.contains("Notification complémentaire"), "{md}");
    assert!(
        md.contains("niveau très élevé"),
        "the current assessment:\n{md}"
    );
    assert!(
        !md.contains("niveau moyen"),
        "the day-2 assessment shown as current:\n{md}"
    );
    assert!(
        md.contains("Depuis l'évaluation jointe à la notification initiale"),
        "what changed since the initial one:\n{md}"
    );
}

// --- B2: applicants ---

#[test]
fn b2_applicants_are_declared_as_other_with_a_description_not_as_employees() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&["case", "set", "c1", "subject_categories=[applicants]"]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(
        doc["section_3_3"]["subject_categories"],
        serde_json::json!(["other"])
    );
    let missing: Vec<&str> = doc["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        missing.contains(&"section_3_3.subjects_description"),
        "{missing:?}"
    );
    v.ok(&[
        "case",
        "set",
        "c1",
        "subjects_description=Demandeurs de visa",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(
        doc["section_3_3"]["subjects_description"],
        "Demandeurs de visa"
    );
    let fr = draft(&v, "c1", "cnil_notification", "fr");
    assert!(fr.contains("- Demandeurs"), "{fr}");
    assert!(!fr.contains("Candidats"), "{fr}");
    let docs = std::fs::read_to_string(repo("docs/edpb-template.md")).unwrap();
    assert!(
        !docs.contains("applicants → employees") && !docs.contains("`applicants` → `employees`")
    );
    let b = Vigie::new();
    b.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--title",
        "Visa",
        "--aware-at",
        "2025-10-23T10:00",
        "--id",
        "b1",
        "--set",
        "subject_categories=[applicants]",
    ]);
    let nl = draft(&b, "b1", "apd_notification", "nl");
    assert!(nl.contains("Aanvragers"), "{nl}");
    assert!(!nl.contains("Sollicitanten"), "{nl}");
}

// --- B3: Belgian law and identifiers ---

#[test]
fn b3_belgian_drafts_ask_for_the_bce_kbo_number_not_a_siren() {
    let v = demo();
    for doc in documents("be") {
        for (lang, want) in [("fr", "BCE"), ("nl", "KBO"), ("en", "BCE/KBO")] {
            let md = draft(&v, "cpas-charleroi", &doc, lang);
            assert!(
                !md.contains("SIREN"),
                "{doc} {lang}: a French identifier\n{md}"
            );
            if md.contains("[")
                && (md.contains("BCE") || md.contains("KBO") || md.contains("company number"))
            {
                assert!(md.contains(want), "{doc} {lang}: {want}\n{md}");
            }
        }
    }
    // French drafts keep the SIREN.
    let fr = draft(&v, "caf-2021", "cnil_notification", "fr");
    assert!(fr.contains("SIREN"), "{fr}");
}

#[test]
fn b3_the_belgian_complaint_cites_belgian_offences_and_extortion_for_ransomware() {
    let v = demo();
    // The CPAS: ransomware in 2023, under the old Criminal Code.
    for lang in ["fr", "nl", "en"] {
        let md = draft(&v, "cpas-charleroi", "complaint", lang);
        assert!(
            md.contains("550bis") && md.contains("550ter"),
            "{lang}:\n{md}"
        );
        assert!(md.contains("470"), "{lang}: extortion for ransomware\n{md}");
        assert!(!md.contains("323-1"), "{lang}: French law\n{md}");
        assert!(
            !md.to_lowercase().contains("traitement automatisé"),
            "{lang}:\n{md}"
        );
        assert!(
            !md.to_lowercase().contains("geautomatiseerd"),
            "{lang}:\n{md}"
        );
        assert!(
            !md.to_lowercase().contains("automated data processing"),
            "{lang}:\n{md}"
        );
    }
    // A French ransomware complaint names extortion (312-1); one that is not does not.
    let f = Vigie::new();
    f.open_fr("c1", "2025-10-23T10:00");
    f.ok(&[
        "case",
        "set",
        "c1",
        "incident_kind=ransomware",
        "cause=external_malicious",
    ]);
    let md = draft(&f, "c1", "complaint", "fr");
    assert!(md.contains("323-1") && md.contains("312-1"), "{md}");
    f.ok(&[
        "case",
        "set",
        "c1",
        "incident_kind=phishing_social_engineering",
    ]);
    assert!(!draft(&f, "c1", "complaint", "fr").contains("312-1"));
    // A Belgian incident after the new Criminal Code came into force cites that code.
    let b = Vigie::new();
    b.ok(&[
        "case",
        "open",
        "--workflow",
        "be",
        "--title",
        "Hack",
        "--aware-at",
        "2026-05-04T10:00",
        "--id",
        "b1",
        "--set",
        "detected_at=2026-05-04T08:00",
    ]);
    let md = draft(&b, "b1", "complaint", "fr");
    assert!(
        md.contains("29 février 2024"),
        "the new Criminal Code:\n{md}"
    );
    assert!(!md.contains("550bis"), "{md}");
}

// --- B4: estimated dates ---

#[test]
fn b4_estimated_dates_say_so_in_every_document() {
    let v = demo();
    // The CPAS's start (15 May 2023) is an estimate.
    for (lang, date, word) in [
        ("fr", "15 mai 2023", "estim"),
        ("en", "15 May 2023", "estimated"),
        ("nl", "15 mei 2023", "geschat"),
    ] {
        for doc in documents("be") {
            let md = draft(&v, "cpas-charleroi", &doc, lang);
            for line in md.lines().filter(|l| l.contains(date)) {
                assert!(
                    line.to_lowercase().contains(word),
                    "{doc} {lang}: an estimated date stated as exact: {line}"
                );
            }
        }
    }
}

// --- B5: conditional fields ---

#[test]
fn b5_conditional_fields_follow_their_condition_in_markdown_and_json_for_every_seed() {
    let v = demo();
    for id in SEEDS {
        let json = edpb_json(&v, id);
        let nature: Vec<&str> = json["section_3_2"]["nature"]
            .as_array()
            .map(|a| a.iter().map(|n| n.as_str().unwrap()).collect())
            .unwrap_or_default();
        for (kind, label) in [
            ("confidentiality", "Type d'atteinte à la confidentialité"),
            ("integrity", "Type d'atteinte à l'intégrité"),
            ("availability", "Type d'atteinte à la disponibilité"),
        ] {
            let in_json = !json["section_3_2"][format!("{kind}_kind")].is_null();
            let md = draft(&v, id, "edpb_notification", "fr");
            let in_md = md.contains(&format!("- {label}"));
            if !nature.contains(&kind) {
                assert!(!in_json, "{id}: JSON {kind}_kind set with no {kind} breach");
                assert!(!in_md, "{id}: md {label} with no {kind} breach");
            }
        }
        let md = draft(&v, id, "edpb_notification", "fr");
        assert!(!md.contains("Oui (toujours en cours)"), "{id}:\n{md}");
        let comm = json["section_4_4"]["communication"].as_str().unwrap_or("");
        for doc in [
            "edpb_notification",
            if workflow_of(id) == "be" {
                "apd_notification"
            } else {
                "cnil_notification"
            },
        ] {
            let md = draft(&v, id, doc, "fr");
            if comm.starts_with("not_required")
                || json["section_4_4"]["means"].is_null() && comm != "yes"
            {
                assert!(
                    !md.contains("Moyen d'information : [À compléter"),
                    "{id} {doc}: a means asked for with no communication ({comm}):\n{md}"
                );
            }
        }
    }
}

// --- C2: labels everywhere, no raw id ---

#[test]
fn c2_no_raw_id_in_any_draft_of_any_seed() {
    let v = demo();
    let mut found = Vec::new();
    for id in SEEDS {
        let wf = workflow_of(id);
        let ids = raw_ids(wf);
        let langs: &[&str] = if wf == "be" {
            &["fr", "nl", "en"]
        } else {
            &["fr", "en"]
        };
        for doc in documents(wf) {
            for lang in langs {
                let md = draft(&v, id, &doc, lang);
                let raw = ids_in(&md, &ids, lang);
                if !raw.is_empty() {
                    found.push(format!("{id} {doc} {lang}: {raw:?}"));
                }
            }
        }
    }
    assert!(found.is_empty(), "raw ids in drafts:\n{}", found.join("\n"));
}

#[test]
fn c2_no_raw_id_in_the_register_for_an_inspection() {
    let v = demo();
    let mut ids = raw_ids("fr");
    ids.extend(raw_ids("be"));
    for lang in ["fr", "en", "nl"] {
        let md = v.ok(&["register", "--format", "md", "--lang", lang]);
        let raw = ids_in(&md, &ids, lang);
        assert!(raw.is_empty(), "{lang}: raw ids {raw:?}\n{md}");
    }
    let fr = v.ok(&["register", "--format", "md", "--lang", "fr"]);
    assert!(!fr.contains("Risque : risk"), "{fr}");
    assert!(
        !fr.contains("dossier open") && !fr.contains("dossier closed"),
        "{fr}"
    );
    assert!(
        fr.contains("vigie recommandait Risque (non élevé)"),
        "the CAF's decision:\n{fr}"
    );
    let en = v.ok(&["register", "--format", "md", "--lang", "en"]);
    assert!(en.contains("vigie recommended Risk (not high)"), "{en}");
}

#[test]
fn c2_the_middle_risk_level_reads_as_not_high() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&[
        "case",
        "set",
        "c1",
        "risk=risk",
        "risk_rationale=Adresses internes seulement",
    ]);
    let fr = draft(&v, "c1", "cnil_notification", "fr");
    assert!(
        fr.contains("Niveau de risque retenu : Risque (non élevé)"),
        "{fr}"
    );
    let en = draft(&v, "c1", "cnil_notification", "en");
    assert!(en.contains(": Risk (not high)"), "{en}");
}

// --- C3: French wording ---

#[test]
fn c3_french_wording() {
    let v = demo();
    // France-Visas notified late.
    let md = draft(&v, "france-visas-2021", "cnil_notification", "fr");
    assert!(md.contains("Statut : notifiée hors délai"), "{md}");
    assert!(!md.contains("respecté en retard"), "{md}");
    // The APD channel named once.
    let apd = draft(&v, "cpas-charleroi", "apd_notification", "fr");
    let first = apd
        .lines()
        .find(|l| l.contains("n'est pas une notification"))
        .unwrap();
    assert_eq!(
        first.matches("formulaire électronique").count(),
        1,
        "{first}"
    );
    assert_eq!(first.matches("néerlandais").count(), 1, "{first}");
    // A complaint against a person unknown.
    let c = draft(&v, "caf-2021", "complaint", "fr");
    assert!(c.starts_with("# Plainte contre X"), "{c}");
}

// --- C4: the letter in plain words ---

#[test]
fn c4_the_letter_says_what_happened_without_jargon() {
    let v = demo();
    for (id, lang) in [
        ("cpas-charleroi", "fr"),
        ("cpas-charleroi", "nl"),
        ("cpas-charleroi", "en"),
        ("france-travail", "fr"),
    ] {
        let md = draft(&v, id, "individual_letter", lang);
        for jargon in [
            "ENISA",
            "Perte de disponibilité",
            "Perte de confidentialité",
            "Loss of availability",
            "Loss of confidentiality",
            "Verlies van",
            "Oneerlijke",
        ] {
            assert!(
                !md.contains(jargon),
                "{id} {lang}: {jargon:?} in the letter\n{md}"
            );
        }
    }
    let nl = draft(&v, "cpas-charleroi", "individual_letter", "nl");
    assert!(nl.contains("Kwaadwillige personen"), "{nl}");
    let fr = draft(&v, "cpas-charleroi", "individual_letter", "fr");
    assert!(
        fr.contains("n'ont pas pu être utilisés") || fr.contains("inaccessibles"),
        "what it means for the person:\n{fr}"
    );
}

// --- C5: the register's art. 34 counts ---

#[test]
fn c5_the_register_shows_people_told_outside_vigie_and_steps_in_time_order() {
    let v = demo();
    let md = v.ok(&["register", "--format", "md", "--lang", "fr"]);
    let caf = md
        .split("\n## ")
        .find(|s| s.starts_with("caf-2021"))
        .unwrap();
    assert!(!caf.contains("0 notifiées"), "{caf}");
    assert!(caf.contains("non envoyée par vigie"), "{caf}");
    assert!(
        caf.contains("7\u{202f}000") || caf.contains("7000"),
        "the recorded count:\n{caf}"
    );
    // Steps listed by when they happened.
    for section in md.split("\n## ").skip(1) {
        let steps: Vec<&str> = section
            .lines()
            .skip_while(|l| !l.starts_with("Étapes enregistrées"))
            .skip(1)
            .take_while(|l| l.starts_with("- "))
            .collect();
        let mut sorted = steps.clone();
        sorted.sort();
        assert_eq!(steps, sorted, "steps out of time order:\n{section}");
    }
}

#[test]
fn c5_assess_accept_takes_at() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&[
        "case",
        "set",
        "c1",
        "nature=[confidentiality]",
        "confidentiality_loss=unknown_recipients",
        "identifiability=maximum",
        "data_categories=[identity, contact]",
        "subjects_approx=1200",
        "risk_rationale=Diffusion à des inconnus",
    ]);
    v.ok(&[
        "assess",
        "c1",
        "--accept",
        "--at",
        "2025-10-24T09:00",
        "--reason",
        "decided at the crisis meeting, recorded now",
    ]);
    let show = v.show("c1");
    let assess = show["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "assess")
        .expect("an assess event");
    assert!(
        assess["at"]
            .as_str()
            .unwrap()
            .starts_with("2025-10-24T09:00"),
        "{assess}"
    );
}

// --- C6: Dutch wording ---

#[test]
fn c6_dutch_wording() {
    let nl = std::fs::read_to_string(repo("templates/labels.nl.yaml")).unwrap();
    let mut templates = String::new();
    for e in std::fs::read_dir(repo("templates")).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with(".nl.md.hbs") {
            templates.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    let be = std::fs::read_to_string(repo("workflows/be.yaml")).unwrap();
    let all = format!("{nl}\n{templates}\n{be}");
    for old in [
        "\"nageleefd\"",
        "te laat nageleefd",
        "\"verstreken\"",
        "grootboek",
        "Hangende",
        "Nog niet, maar dat gebeurt",
        "Rubrieken 2 tot 7",
        "GBA/APD\"",
        "Melding aan de GBA/APD",
    ] {
        assert!(!all.contains(old), "still in the Dutch texts: {old}");
    }
    let v = demo();
    let md = draft(&v, "cpas-charleroi", "apd_notification", "nl");
    assert!(md.contains("tijdig") || md.contains("laattijdig"), "{md}");
    assert!(md.contains("Personeelsleden"), "CPAS staff:\n{md}");
    assert!(!md.contains("Werknemers"), "{md}");
    assert!(md.contains("Melding aan de GBA"), "{md}");
}

// --- B6 (part): field 111, the other authorities vigie knows were told ---

#[test]
fn b6_the_other_authorities_name_the_nis2_authority_and_the_complaint() {
    let v = demo();
    // HubEE sent a NIS2 early warning and filed a complaint.
    let doc = edpb_json(&v, "hubee-2026");
    let others = doc["section_6_1"]["other_authorities"]
        .as_str()
        .unwrap_or("");
    assert!(others.contains("ANSSI"), "{doc:#}");
    assert!(others.contains("Procureur"), "{doc:#}");
    assert_eq!(doc["section_6_1"]["other_authorities_notified"], "yes");
    // France-Visas filed a complaint only.
    let doc = edpb_json(&v, "france-visas-2021");
    let others = doc["section_6_1"]["other_authorities"]
        .as_str()
        .unwrap_or("");
    assert!(
        others.contains("Procureur") && !others.contains("ANSSI"),
        "{doc:#}"
    );
}
