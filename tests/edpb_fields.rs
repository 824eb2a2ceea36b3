//! The EDPB template's last gaps (issue 22 B6): every field the template marks
//! mandatory is listed in `missing` while empty, so `--strict` refuses the draft; the
//! contact person other than the DPO (fields 34-36), the other parties' contact details
//! (41), whether everyone was informed and why not (102-103), the organisation type's
//! description (16), other attachments (126) and "more information needed" (89), each
//! filled from where vigie knows it; and an organisation's contact person stays its own.

use crate::both_backends;
use crate::common;

use common::{Vigie, repo};
use serde_json::Value;

both_backends! {
    two_organisations_never_see_each_others_contact_person,
}

/// `draft ID edpb_notification --format json`, parsed.
#[track_caller]
fn edpb_json(v: &Vigie, id: &str) -> Value {
    v.json(&["draft", id, "edpb_notification", "--format", "json"])
}

fn missing(doc: &Value) -> Vec<String> {
    doc["missing"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect()
}

/// The default organisation described, and a case of the French workflow with every
/// fact the template asked for before issue 22 B6 (fields 38, 66, 71, 76 and 95 left
/// empty, as a DPO following the old field list would leave them).
fn filled_case(v: &Vigie) {
    v.ok(&[
        "org",
        "set",
        "--name",
        "Mutuelle Exemple SA",
        "--identifier",
        "123456789",
        "--address",
        "1 rue de l'Exemple, 75001 Paris",
        "--dpo-name",
        "Dana Dupont",
        "--dpo-email",
        "dpo@mutuelle.example",
    ]);
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&[
        "case",
        "set",
        "c1",
        "reporter_function=dpo",
        "discovered_by=by_controller",
        "discovery=Un salarié a signalé l'erreur",
        "started_at=2025-10-23T08:00",
        "ended_at=2025-10-23T09:00",
        "delay_reasons=Enquête interne",
        "nature=[confidentiality]",
        "confidentiality_kind=disclosed",
        "data_unintelligible=false",
        "incident_kind=sent_by_mistake",
        "cause=internal_accidental",
        "incident_description=Un tableau envoyé au mauvais destinataire",
        "systems=Messagerie",
        "subject_categories=[customers]",
        "subjects_approx=120",
        "data_categories=[identity, contact]",
        "records_approx=120",
        "measures_before=[security_training]",
        "consequence_types=[spread_beyond_control]",
        "harms=[loss_of_control]",
        "consequences=Perte de contrôle",
        "risk=risk",
        "risk_rationale=Destinataire de confiance",
        "measures=Demande de suppression",
        "prevention_measures=[process_change]",
        "individuals_informed=will_not_be",
        "individuals_exemption=no_high_risk",
        "individuals_rationale=Pas de risque élevé",
        "cross_border=false",
    ]);
}

/// The regression of issue 22 B6: `--strict` passed with fields 38, 66, 71, 76 and 95
/// of the template empty. It now refuses, naming each by its path, in JSON and in
/// Markdown; once they are filled it passes and the notification is complete.
#[test]
fn strict_refuses_a_draft_while_a_mandatory_field_of_the_template_is_empty() {
    let v = Vigie::new();
    filled_case(&v);
    let empty = [
        "section_2_3.other_parties_involved",
        "section_3_3.subjects_description",
        "section_3_4.data_description",
        "section_3_5.measures_in_place_description",
        "section_4_4.prevention_description",
    ];
    let doc = edpb_json(&v, "c1");
    let listed = missing(&doc);
    for p in empty {
        assert!(listed.iter().any(|m| m == p), "{p} not in {listed:?}");
    }
    assert_eq!(doc["section_1_1"]["notification_subtype"], "incomplete");
    for format in ["json", "md"] {
        let line = v.fails(
            &[
                "draft",
                "c1",
                "edpb_notification",
                "--format",
                format,
                "--strict",
            ],
            2,
        );
        for p in empty {
            assert!(line.contains(p), "{format}: {p} not named: {line}");
        }
    }

    v.ok(&[
        "case",
        "set",
        "c1",
        "other_parties_involved=false",
        "subjects_description=Adhérents de la mutuelle",
        "data_description=Nom, adresse électronique et numéro d'adhérent",
        "measures_before_description=Formation annuelle du personnel",
        "measures_long=Double vérification des destinataires externes",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(missing(&doc), Vec::<String>::new(), "{doc:#}");
    assert_eq!(doc["section_1_1"]["notification_subtype"], "complete");
    assert_eq!(doc["section_2_3"]["other_parties_involved"], false);
    assert_eq!(
        doc["section_4_4"]["prevention_description"],
        "Double vérification des destinataires externes"
    );
    for format in ["json", "md"] {
        v.ok(&[
            "draft",
            "c1",
            "edpb_notification",
            "--format",
            format,
            "--strict",
        ]);
    }
}

/// The template's own field numbers marked mandatory ("yes"). Field 120 is for a
/// controller established outside the EEA, which vigie does not serve.
const MANDATORY: [u32; 41] = [
    3, 4, 12, 13, 21, 22, 23, 29, 30, 31, 38, 39, 40, 41, 44, 48, 50, 51, 55, 60, 61, 62, 63, 65,
    66, 67, 70, 71, 72, 73, 75, 76, 85, 87, 89, 90, 92, 94, 95, 97, 113,
];

/// The table of docs/edpb-template.md: (field, path, condition) for each mandatory field.
fn documented() -> Vec<(u32, String, String)> {
    let text = std::fs::read_to_string(repo("docs/edpb-template.md")).unwrap();
    let start = text
        .find("## Mandatory fields")
        .expect("docs/edpb-template.md lists the mandatory fields");
    text[start..]
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let n: u32 = cells.get(1)?.parse().ok()?;
            Some((
                n,
                cells.get(2)?.trim_matches('`').to_string(),
                cells.get(3)?.to_string(),
            ))
        })
        .collect()
}

/// Every field the template marks mandatory has its row in the doc, and on a case
/// where nothing is known each one not waiting on another answer, and empty, is listed
/// as missing (the derived ones, the notification's type, are never empty).
#[test]
fn every_mandatory_field_is_documented_and_listed_missing_while_empty() {
    let rows = documented();
    let mut numbers: Vec<u32> = rows.iter().map(|(n, _, _)| *n).collect();
    numbers.dedup();
    assert_eq!(numbers, MANDATORY, "the doc's table of mandatory fields");
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    let doc = edpb_json(&v, "c1");
    let listed = missing(&doc);
    for (n, path, when) in &rows {
        let (section, key) = path.split_once('.').expect("section.key");
        assert!(
            doc[section].as_object().unwrap().contains_key(key),
            "field {n}: {path} is not a key of the JSON"
        );
        let value = &doc[section][key];
        let empty = value.is_null()
            || value.as_str().is_some_and(|s| s.trim().is_empty())
            || value.as_array().is_some_and(|a| a.is_empty());
        if when == "always" && empty {
            assert!(
                listed.contains(path),
                "field {n}: {path} is empty and not listed in {listed:?}"
            );
        }
    }
}

/// Fields 33-36: the profile's contact person, a case fact overriding it, the DPO again
/// when the case says so; shown in the Markdown draft too.
#[test]
fn the_contact_person_comes_from_the_profile_and_a_case_overrides_it() {
    let v = Vigie::new();
    filled_case(&v);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_2_3"]["contact_point"], "dpo");
    assert!(doc["section_2_3"]["contact_name"].is_null());
    v.ok(&[
        "org",
        "set",
        "--contact-name",
        "Paul Martin",
        "--contact-function",
        "Responsable de la sécurité",
        "--contact-email",
        "rssi@mutuelle.example",
        "--contact-phone",
        "+33 1 00 00 00 01",
    ]);
    let shown = v.ok(&["org", "show"]);
    assert!(shown.contains("Paul Martin"), "{shown}");
    let doc = edpb_json(&v, "c1");
    let s = &doc["section_2_3"];
    assert_eq!(s["contact_point"], "other");
    assert_eq!(s["contact_name"], "Paul Martin");
    assert_eq!(s["contact_function"], "Responsable de la sécurité");
    assert_eq!(
        s["contact_details"],
        "rssi@mutuelle.example; +33 1 00 00 00 01"
    );
    let md = v.ok(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    assert!(
        md.contains("Contact person: Paul Martin, Responsable de la sécurité"),
        "{md}"
    );
    // A case names someone else; its contact details stay its own.
    v.ok(&[
        "case",
        "set",
        "c1",
        "contact_name=Claire Petit",
        "contact_function=Directrice juridique",
        "contact_details=juridique@mutuelle.example",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_2_3"]["contact_name"], "Claire Petit");
    assert_eq!(
        doc["section_2_3"]["contact_details"],
        "juridique@mutuelle.example"
    );
    // The case says the DPO answers: no other contact person is declared.
    v.ok(&["case", "set", "c1", "contact_point=dpo"]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_2_3"]["contact_point"], "dpo");
    assert!(doc["section_2_3"]["contact_name"].is_null());
    // Another contact person asked for with no one named: listed as missing.
    let w = Vigie::new();
    w.open_fr("c2", "2025-10-23T10:00");
    w.ok(&["case", "set", "c2", "contact_point=other_contact"]);
    let listed = missing(&edpb_json(&w, "c2"));
    for p in [
        "section_2_3.contact_name",
        "section_2_3.contact_function",
        "section_2_3.contact_details",
    ] {
        assert!(listed.iter().any(|m| m == p), "{p} not in {listed:?}");
    }
}

/// Field 38-41: the parties involved and their contact details; field 16: the
/// organisation type's description; field 126: other attachments; field 89: "more
/// information needed" while the risk is not decided.
#[test]
fn other_parties_organisation_type_attachments_and_undecided_risk() {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&["case", "set", "c1", "processors=Hébergeur Exemple SAS"]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_2_3"]["other_parties_involved"], true);
    assert!(missing(&doc).contains(&"section_2_3.other_parties_contact".to_string()));
    v.ok(&[
        "case",
        "set",
        "c1",
        "other_parties_contact=securite@hebergeur.example, +33 1 00 00 00 02",
        "org_sector=private",
        "org_size=other_size",
        "org_type_description=Association loi 1901",
        "other_attachments=Rapport d'analyse du prestataire",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(
        doc["section_2_3"]["other_parties_contact"],
        "securite@hebergeur.example, +33 1 00 00 00 02"
    );
    assert!(!missing(&doc).contains(&"section_2_3.other_parties_contact".to_string()));
    assert_eq!(doc["section_1_1"]["organisation_size"], "other");
    assert_eq!(
        doc["section_1_1"]["organisation_type_description"],
        "Association loi 1901"
    );
    assert_eq!(
        doc["section_6_3"]["attachments"],
        serde_json::json!(["other"])
    );
    assert_eq!(
        doc["section_6_3"]["other_attachments"],
        "Rapport d'analyse du prestataire"
    );
    // Not decided yet: "more information needed", which only an incomplete
    // notification may say, so the field stays listed.
    assert_eq!(
        doc["section_4_2"]["risk_outcome"],
        "more_information_needed"
    );
    assert!(missing(&doc).contains(&"section_4_2.risk_outcome".to_string()));
    let md = v.ok(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    for s in [
        "Other parties' contact details: securite@hebergeur.example",
        "Type of organisation: Association loi 1901",
        "Other attachments: Rapport d'analyse du prestataire",
        "Additional information is needed to assess the risk",
    ] {
        assert!(md.contains(s), "{s:?} not in:\n{md}");
    }
    // A size the template names: no description of another type is declared.
    v.ok(&["case", "set", "c1", "org_size=sme", "risk=high"]);
    let doc = edpb_json(&v, "c1");
    assert!(doc["section_1_1"]["organisation_type_description"].is_null());
    assert_eq!(doc["section_4_2"]["risk_outcome"], "high_risk");
}

/// Fields 102-103: whether every person concerned was informed, read from what vigie
/// recorded (a `vigie notify` run that left people unreached, or sent to at least as
/// many as the people concerned), and a case fact that says so and why.
#[test]
fn whether_everyone_was_informed_comes_from_the_notification_runs() {
    let v = Vigie::new();
    let dir = v.dir().to_path_buf();
    let config = dir.join("vigie.yaml");
    std::fs::write(
        &config,
        format!("letters_dir: {}\n", dir.join("letters").display()),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&[
        "case",
        "set",
        "c1",
        "subjects_approx=3",
        "individual_advice=Soyez vigilants",
        "measures=Mots de passe réinitialisés",
    ]);
    v.ok(&[
        "case",
        "advance",
        "c1",
        "notify_individuals",
        "--set",
        "individuals_channel=courrier",
    ]);
    // Told outside vigie, nothing recorded about how many: asked for.
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_4_4"]["communication"], "yes");
    assert!(doc["section_4_4"]["subjects_informed"].is_null());
    assert!(missing(&doc).contains(&"section_4_4.subjects_informed".to_string()));
    // A run that could not reach one person (no postal address).
    let csv = dir.join("people.csv");
    std::fs::write(
        &csv,
        "id;prenom;nom;email;adresse;code_postal;ville\n\
         \"1\";\"Zoé\";\"A\";\"\";\"1 rue\";\"75001\";\"Paris\"\n\
         \"2\";\"Éric\";\"B\";\"\";\"2 rue\";\"75001\";\"Paris\"\n\
         \"3\";\"Ann\";\"C\";\"\";\"\";\"75001\";\"Paris\"\n",
    )
    .unwrap();
    v.ok(&[
        "--config",
        cfg,
        "notify",
        "c1",
        "--recipients",
        csv.to_str().unwrap(),
        "--channel",
        "letter",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_4_4"]["subjects_informed"], "not_all");
    assert!(
        missing(&doc).contains(&"section_4_4.not_all_informed_reasons".to_string()),
        "{doc:#}"
    );
    v.ok(&[
        "case",
        "set",
        "c1",
        "individuals_not_all_reasons=Une adresse postale manque ; recherche en cours",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(
        doc["section_4_4"]["not_all_informed_reasons"],
        "Une adresse postale manque ; recherche en cours"
    );
    let md = v.ok(&["draft", "c1", "edpb_notification", "--lang", "en"]);
    assert!(
        md.contains("Not all the data subjects have been informed"),
        "{md}"
    );
    // The address found, a second run reaches the third person: everyone was told.
    let csv2 = dir.join("people2.csv");
    std::fs::write(
        &csv2,
        "id;prenom;nom;email;adresse;code_postal;ville\n\
         \"3\";\"Ann\";\"C\";\"\";\"3 rue\";\"75001\";\"Paris\"\n",
    )
    .unwrap();
    v.ok(&[
        "--config",
        cfg,
        "notify",
        "c1",
        "--recipients",
        csv2.to_str().unwrap(),
        "--channel",
        "letter",
        "--new-campaign",
    ]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_4_4"]["subjects_informed"], "all", "{doc:#}");
    assert!(doc["section_4_4"]["not_all_informed_reasons"].is_null());
    // The DPO's own answer wins.
    v.ok(&["case", "set", "c1", "individuals_all_informed=false"]);
    let doc = edpb_json(&v, "c1");
    assert_eq!(doc["section_4_4"]["subjects_informed"], "not_all");
}

/// Two organisations, each with its own contact person: neither one's drafts, JSON or
/// profile ever shows the other's.
fn two_organisations_never_see_each_others_contact_person() {
    let v = Vigie::new();
    let orgs = [
        (
            "alpha",
            "Alpha Santé SAS",
            "Agathe Contact",
            "contact@alpha.example",
        ),
        (
            "beta",
            "Beta Logistique SA",
            "Bertrand Contact",
            "contact@beta.example",
        ),
    ];
    for (org, name, contact, email) in orgs {
        v.ok(&["org", "add", org, "--name", name]);
        v.ok(&[
            "org",
            "set",
            org,
            "--contact-name",
            contact,
            "--contact-function",
            "RSSI",
            "--contact-email",
            email,
        ]);
        v.ok(&[
            "--org",
            org,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "Fuite",
            "--aware-at",
            "2025-10-23T10:00",
            "--id",
            &format!("{org}-1"),
        ]);
    }
    for (i, (org, _, contact, email)) in orgs.iter().enumerate() {
        let (_, _, other_contact, other_email) = orgs[1 - i];
        let case = format!("{org}-1");
        let json = v.ok(&[
            "--org",
            org,
            "draft",
            &case,
            "edpb_notification",
            "--format",
            "json",
        ]);
        let doc: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(doc["section_2_3"]["contact_name"], *contact);
        assert_eq!(doc["section_2_3"]["contact_details"], *email);
        for lang in ["fr", "en"] {
            let md = v.ok(&[
                "--org",
                org,
                "draft",
                &case,
                "edpb_notification",
                "--lang",
                lang,
            ]);
            assert!(md.contains(contact), "{org} {lang}:\n{md}");
            for text in [&json, &md] {
                assert!(
                    !text.contains(other_contact) && !text.contains(other_email),
                    "{org} shows the other organisation's contact person:\n{text}"
                );
            }
        }
        let profile = v.ok(&["org", "show", org, "--json"]);
        assert!(profile.contains(contact) && !profile.contains(other_contact));
    }
}
