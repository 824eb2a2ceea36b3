//! The view a template sees (docs/templates.md): every fact present, written out in the
//! language, with a visible placeholder when unset.

use crate::case::{Case, ClockStatus, EventBody, Recorded, clocks};
use crate::org::Profile;
use crate::time::{self, Lang};
use crate::workflow::{Authority, FactType, FactValue, Workflow};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

/// Labels for one language: the shared vocabulary, overridden by the workflow's own.
pub struct Labels {
    map: IndexMap<String, String>,
    lang: Lang,
}

impl Labels {
    pub fn new(base: IndexMap<String, String>, wf: &Workflow, lang: Lang) -> Labels {
        let mut map = base;
        if let Some(own) = wf.labels.get(lang.code()) {
            for (k, v) in own {
                map.insert(k.clone(), v.clone());
            }
        }
        Labels { map, lang }
    }

    /// The label of an id, if there is one.
    pub fn find(&self, id: &str) -> Option<&str> {
        self.map.get(id).map(String::as_str)
    }

    /// A clock's legal basis in this language: the label `basis.<clock>` (a workflow's
    /// `labels:` section gives it, "AVG art. 33, lid 1"), else the workflow's own text.
    pub fn basis(&self, clock: &str, own: Option<&str>) -> String {
        self.find(&format!("basis.{clock}"))
            .or(own)
            .unwrap_or_default()
            .to_string()
    }

    /// The workflow's `meta` in this language: each value, or its label `meta.<key>`
    /// (the authority's name, the prosecutor's title, in the language of the draft).
    pub fn meta(&self, wf: &Workflow) -> Map<String, Value> {
        wf.meta
            .iter()
            .map(|(k, v)| {
                let v = self.find(&format!("meta.{k}")).unwrap_or(v);
                (k.clone(), Value::String(v.to_string()))
            })
            .collect()
    }

    /// The label of an id, or the id itself.
    pub fn get<'a>(&'a self, id: &'a str) -> &'a str {
        self.map.get(id).map(String::as_str).unwrap_or(id)
    }

    pub fn placeholder(&self, fact: &str) -> String {
        match self.lang {
            Lang::Fr => format!("[À compléter : {}]", self.get(fact)),
            Lang::En => format!("[To complete: {}]", self.get(fact)),
            Lang::Nl => format!("[In te vullen: {}]", self.get(fact)),
        }
    }
}

/// 1 600 000 (fr, narrow no-break spaces), 1,600,000 (en) or 1.600.000 (nl).
pub fn group_digits(n: i64, lang: Lang) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = match lang {
        Lang::Fr => "\u{202f}",
        Lang::En => ",",
        Lang::Nl => ".",
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn display(wf: &Workflow, labels: &Labels, value: &FactValue, kind: FactType) -> String {
    match value {
        FactValue::DateTime(d) => time::long_in(*d, wf.timezone, labels.lang),
        FactValue::Integer(i) => group_digits(*i, labels.lang),
        FactValue::Boolean(b) => labels.get(if *b { "yes" } else { "no" }).to_string(),
        FactValue::Text(s) if kind == FactType::Choice => labels.get(s).to_string(),
        FactValue::Text(s) => s.clone(),
        FactValue::List(items) => items
            .iter()
            .map(|i| labels.get(i).to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn opt(s: &Option<String>, placeholder: String) -> Value {
    Value::String(s.clone().unwrap_or(placeholder))
}

/// The assessment frozen in the case's last risk decision, for the drafts: null when
/// none was recorded. Its reasons are in the language they were recorded in.
fn recorded_assessment(events: &[Recorded], lang: Lang) -> Value {
    let frozen = events.iter().rev().find_map(|e| match &e.body {
        EventBody::Advanced {
            assessment: Some(a),
            facts,
            ..
        } => Some((
            a,
            facts
                .get("risk")
                .and_then(Value::as_str)
                .map(str::to_string),
        )),
        _ => None,
    });
    let Some((a, decided)) = frozen else {
        return Value::Null;
    };
    let num = |v: Option<&Value>| {
        let q = v.and_then(Value::as_f64).unwrap_or_default();
        let s = format!("{q}");
        match lang {
            Lang::Fr | Lang::Nl => s.replace('.', ","),
            Lang::En => s,
        }
    };
    let band = crate::assess::Band::parse(
        a.pointer("/severity/band")
            .and_then(Value::as_str)
            .unwrap_or(""),
    )
    .map(|b| b.name(lang))
    .unwrap_or("?");
    let edpb =
        crate::assess::edpb_name(a["edpb_severity"].as_str().unwrap_or("?"), lang).to_string();
    let recommended = a["risk"].as_str().unwrap_or_default().to_string();
    let risk_name = |r: &str| {
        crate::assess::Risk::parse(r)
            .map(|r| r.name(lang).to_string())
            .unwrap_or_else(|| r.to_string())
    };
    let reasons: Vec<Value> = a["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["about"] == "risk")
        .filter_map(|r| r["text"].as_str().map(|t| Value::String(t.to_string())))
        .collect();
    let exemptions: Vec<Value> = a["exemptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["text"].as_str().map(|t| Value::String(t.to_string())))
        .collect();
    json!({
        "rules_version": a["rules_version"],
        "score": num(a.pointer("/severity/score")),
        "dpc": num(a.pointer("/severity/dpc/value")),
        "ei": num(a.pointer("/severity/ei/value")),
        "cb": num(a.pointer("/severity/cb/value")),
        "band": band,
        "edpb": edpb,
        "recommended": risk_name(&recommended),
        "departs": decided.as_deref().is_some_and(|d| d != recommended),
        "notify_authority": a["notify_authority"],
        "inform_individuals": a["inform_individuals"],
        "reasons": reasons,
        "exemptions": exemptions,
    })
}

/// Who a document or clock is addressed to: its regime's authority (issue 22 A1), else
/// the workflow's own (`meta.authority`). A profile field not yet set reads "to be
/// chosen", with the choices when the workflow names them; `Err` carries that text.
pub fn authority(
    wf: &Workflow,
    regime: Option<&crate::workflow::Regime>,
    profile: &Profile,
    labels: &Labels,
) -> Result<String, String> {
    let meta = |k: &str| {
        labels
            .find(&format!("meta.{k}"))
            .or(wf.meta.get(k).map(String::as_str))
            .unwrap_or_default()
            .to_string()
    };
    match regime.and_then(|r| r.authority.as_ref()) {
        None => Ok(meta("authority")),
        Some(Authority::Meta(k)) => Ok(meta(k)),
        Some(Authority::Profile { field, choices }) => match profile.authority_field(field) {
            Some(v) => Ok(v.to_string()),
            None => {
                let among = choices.as_deref().map(meta).unwrap_or_default();
                let what = if among.is_empty() {
                    labels.get(field).to_string()
                } else {
                    among
                };
                Err(match labels.lang {
                    Lang::Fr => format!("[À choisir : {what}]"),
                    Lang::En => format!("[To be chosen: {what}]"),
                    Lang::Nl => format!("[Te kiezen: {what}]"),
                })
            }
        },
    }
}

/// Builds the view of `document` for `case`, and the labels of the facts it still needs.
#[allow(clippy::too_many_arguments)]
pub fn build_view(
    wf: &Workflow,
    case: &Case,
    events: &[Recorded],
    profile: &Profile,
    labels: &Labels,
    document: &str,
    lang: Lang,
    now: DateTime<Utc>,
) -> (Value, Vec<String>) {
    let tz = wf.timezone;
    let ph = |what_fr: &str, what_en: &str, what_nl: &str| match lang {
        Lang::Fr => format!("[À compléter : {what_fr}]"),
        Lang::En => format!("[To complete: {what_en}]"),
        Lang::Nl => format!("[In te vullen: {what_nl}]"),
    };

    let mut f = Map::new();
    let mut set = Map::new();
    let mut lists = Map::new();
    for (id, def) in &wf.facts {
        match case.facts.get(id) {
            Some(v) => {
                f.insert(id.clone(), Value::String(display(wf, labels, v, def.kind)));
                set.insert(id.clone(), Value::Bool(true));
                if let FactValue::List(items) = v {
                    lists.insert(
                        id.clone(),
                        items
                            .iter()
                            .map(|i| Value::String(labels.get(i).to_string()))
                            .collect(),
                    );
                }
            }
            None => {
                f.insert(id.clone(), Value::String(labels.placeholder(id)));
                set.insert(id.clone(), Value::Bool(false));
            }
        }
        if matches!(def.kind, FactType::List | FactType::Emails) && !lists.contains_key(id) {
            lists.insert(id.clone(), Value::Array(vec![]));
        }
    }

    let mut missing: Vec<String> = wf
        .documents
        .get(document)
        .map(|d| {
            d.needs
                .iter()
                .filter(|n| !case.facts.contains_key(*n))
                .map(|n| labels.get(n).to_string())
                .collect()
        })
        .unwrap_or_default();

    // The document's addressee: its regime's authority; one still to be chosen is missing.
    let doc_authority = authority(
        wf,
        wf.regime_of_document(document).map(|(_, r)| r),
        profile,
        labels,
    );
    let addressee = match doc_authority {
        Ok(a) => a,
        Err(to_choose) => {
            if let Some(Authority::Profile { field, .. }) = wf
                .regime_of_document(document)
                .and_then(|(_, r)| r.authority.as_ref())
            {
                missing.push(labels.get(field).to_string());
            }
            to_choose
        }
    };

    let mut clock_map = Map::new();
    for c in clocks(wf, case, now) {
        let clock_authority = authority(
            wf,
            wf.regime_of_clock(&c.id).map(|(_, r)| r),
            profile,
            labels,
        )
        .unwrap_or_else(|e| e);
        let title = if lang == wf.lang {
            c.title.clone()
        } else {
            labels.get(&c.id).to_string()
        };
        clock_map.insert(
            c.id.clone(),
            json!({
                "title": title,
                "basis": labels.basis(&c.id, c.basis.as_deref()),
                "applies": c.applies,
                "status": c.status.as_str(),
                "status_label": labels.get(&format!("status_{}", c.status.as_str())),
                "due": c.due_at.map(|d| time::long_in(d, tz, lang)).unwrap_or_default(),
                "met_at": c.met_at.map(|d| time::long_in(d, tz, lang)).unwrap_or_default(),
                "late": c.status == ClockStatus::Late,
                "overdue": c.status == ClockStatus::Overdue,
                "internal": c.internal,
                "authority": clock_authority,
            }),
        );
    }

    // The timeline: the instants the facts give, and every step of the log.
    let mut timeline: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    for (id, def) in &wf.facts {
        if def.kind == FactType::DateTime
            && let Some(FactValue::DateTime(d)) = case.facts.get(id)
        {
            timeline.push((*d, labels.get(id).to_string(), String::new()));
        }
    }
    for ev in events {
        let (label, note) = match &ev.body {
            EventBody::Opened { .. } => (
                match lang {
                    Lang::Fr => "Ouverture du dossier de violation".to_string(),
                    Lang::En => "Breach case opened".to_string(),
                    Lang::Nl => "Dossier van de inbreuk geopend".to_string(),
                },
                String::new(),
            ),
            EventBody::Advanced { event, note, .. } => (
                labels.get(event).to_string(),
                note.clone().unwrap_or_default(),
            ),
            EventBody::FactsSet {
                note: Some(note), ..
            } => (
                match lang {
                    Lang::Fr => "Informations complétées".to_string(),
                    Lang::En => "Information updated".to_string(),
                    Lang::Nl => "Informatie aangevuld".to_string(),
                },
                note.clone(),
            ),
            EventBody::FactsSet { note: None, .. } => continue,
            EventBody::NotificationCampaign(crate::case::CampaignRun {
                total_sent,
                channel,
                ..
            }) => (
                match lang {
                    Lang::Fr => format!(
                        "Information individuelle des personnes ({channel}) : {total_sent} personnes informées"
                    ),
                    Lang::En => {
                        format!("Individual notification ({channel}): {total_sent} people notified")
                    }
                    Lang::Nl => format!(
                        "Mededeling aan de betrokkenen ({channel}): {total_sent} personen ingelicht"
                    ),
                },
                String::new(),
            ),
            EventBody::DocumentIssued { document, .. } => (
                format!(
                    "{} : {}",
                    match lang {
                        Lang::Fr => "Document émis",
                        Lang::En => "Document issued",
                        Lang::Nl => "Document uitgebracht",
                    },
                    labels.get(document)
                ),
                String::new(),
            ),
        };
        timeline.push((ev.at, label, note));
    }
    timeline.sort_by_key(|(at, _, _)| *at);
    let timeline: Vec<Value> = timeline
        .into_iter()
        .map(|(at, label, note)| json!({"at": time::long_in(at, tz, lang), "label": label, "note": note}))
        .collect();

    let doc_title = wf
        .documents
        .get(document)
        .map(|d| {
            if lang == wf.lang {
                d.title.clone()
            } else {
                labels.get(document).to_string()
            }
        })
        .unwrap_or_default();
    let authority_notified = wf
        .events
        .get("notify_authority")
        .map(|e| case.tracks.get(&e.track) == Some(&e.to))
        .unwrap_or(false);

    // The EDPB template's derived values (notification type, severity, ...), for its draft.
    let edpb = match wf.documents.get(document) {
        Some(d) if d.template == super::edpb::TEMPLATE => {
            let (json, _) = super::edpb::build(wf, case, events, profile, now);
            super::edpb::view(&json, labels)
        }
        _ => Value::Null,
    };
    let assessment = recorded_assessment(events, lang);

    let view = json!({
        "edpb": edpb,
        "lang": lang.code(),
        "assessment": assessment,
        "doc": { "id": document, "title": doc_title },
        "generated_at": time::long_in(now, tz, lang),
        "org": {
            "name": opt(&profile.name, ph("nom de l'organisme", "organisation name", "naam van de organisatie")),
            "siren": opt(&profile.identifier, ph("numéro SIREN", "company number", "ondernemingsnummer")),
            "address": opt(&profile.address, ph("adresse", "address", "adres")),
            "sector": opt(&profile.sector, ph("secteur d'activité", "sector", "activiteitssector")),
        },
        "dpo": {
            "name": opt(&profile.dpo.name, ph("nom du DPO", "DPO name", "naam van de functionaris voor gegevensbescherming")),
            "email": opt(&profile.dpo.email, ph("e-mail du DPO", "DPO e-mail", "e-mailadres van de functionaris voor gegevensbescherming")),
            "phone": opt(&profile.dpo.phone, ph("téléphone du DPO", "DPO phone", "telefoonnummer van de functionaris voor gegevensbescherming")),
        },
        "legal_rep": {
            "name": opt(&profile.representative.name, ph("représentant légal", "legal representative", "wettelijke vertegenwoordiger")),
            "role": opt(&profile.representative.role, ph("fonction", "position", "functie")),
        },
        "case": {
            "id": case.id,
            "title": case.title,
            "workflow": wf.id,
            "workflow_title": wf.title,
            "timezone": wf.timezone.name(),
        },
        "meta": labels.meta(wf),
        "authority": addressee,
        "complementary": authority_notified,
        "missing": missing,
        "f": f,
        "set": set,
        "lists": lists,
        "clocks": clock_map,
        "timeline": timeline,
        "recipient": {
            "name": ph("nom et prénom", "full name", "naam en voornaam"),
            "greeting": match lang {
                Lang::Fr => "Madame, Monsieur,",
                Lang::En => "Dear Sir or Madam,",
                Lang::Nl => "Geachte heer, mevrouw,",
            },
        },
    });
    (view, missing)
}
