//! The view a template sees (docs/templates.md): every fact present, written out in the
//! language, with a visible placeholder when unset.

use crate::case::{Case, ClockStatus, EventBody, Recorded, clocks};
use crate::org::Profile;
use crate::time::{self, Lang};
use crate::workflow::{Authority, FactType, FactValue, Workflow};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Labels;

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

/// The date facts that `dates_estimated: true` marks as estimates: when the breach
/// started and ended (the EDPB template's "only estimated dates are possible").
pub const ESTIMATED_DATES: [&str; 2] = ["started_at", "ended_at"];

/// Whether the case says its breach dates are estimates.
pub fn dates_estimated(case: &Case) -> bool {
    matches!(
        case.facts.get("dates_estimated"),
        Some(FactValue::Boolean(true))
    )
}

/// A fact's value in words, in the labels' language; an estimated date says so.
pub fn display(
    wf: &Workflow,
    labels: &Labels,
    id: &str,
    value: &FactValue,
    kind: FactType,
    estimated: bool,
) -> String {
    match value {
        FactValue::DateTime(d) => {
            let shown = time::long_in(*d, wf.timezone, labels.lang);
            if estimated && ESTIMATED_DATES.contains(&id) {
                format!("{shown} ({})", labels.get("estimated_date"))
            } else {
                shown
            }
        }
        FactValue::Integer(i) => group_digits(*i, labels.lang),
        FactValue::Boolean(b) => labels.get(if *b { "yes" } else { "no" }).to_string(),
        FactValue::Text(s) if kind == FactType::Choice => labels.value(id, s).to_string(),
        FactValue::Text(s) => s.clone(),
        FactValue::List(items) => items
            .iter()
            .map(|i| labels.value(id, i).to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn opt(s: &Option<String>, placeholder: String) -> Value {
    Value::String(s.clone().unwrap_or(placeholder))
}

/// The assessment frozen in the case's last risk decision (JSON), if any. An event that
/// declines a duty (on the `authority` or `individuals` track) freezes the assessment it
/// was checked on too: it is not a risk decision.
fn last_frozen(events: &[Recorded]) -> Option<(&Value, &Map<String, Value>)> {
    events.iter().rev().find_map(|e| match &e.body {
        EventBody::Advanced {
            assessment: Some(a),
            facts,
            track,
            ..
        } if track != "authority" && track != "individuals" => Some((a, facts)),
        _ => None,
    })
}

/// The assessment frozen in the case's last risk decision, and the risk decided with it.
fn frozen_assessment(events: &[Recorded]) -> Option<(&Value, Option<String>)> {
    last_frozen(events).map(|(a, facts)| {
        (
            a,
            facts
                .get("risk")
                .and_then(Value::as_str)
                .map(str::to_string),
        )
    })
}

fn quarters(v: Option<&Value>, lang: Lang) -> String {
    let q = v.and_then(Value::as_f64).unwrap_or_default();
    let s = format!("{q}");
    match lang {
        Lang::Fr | Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

fn band_name(a: &Value, lang: Lang) -> &'static str {
    crate::assess::Band::parse(
        a.pointer("/severity/band")
            .and_then(Value::as_str)
            .unwrap_or(""),
    )
    .map(|b| b.name(lang))
    .unwrap_or("?")
}

fn risk_name(r: &str, lang: Lang) -> String {
    crate::assess::Risk::parse(r)
        .map(|r| r.name(lang).to_string())
        .unwrap_or_else(|| r.to_string())
}

/// An assessment (the JSON of `vigie assess`) as the drafts show it, beside the risk
/// decided. Its reasons are in the reader's language, from the ids and data stored
/// (issue 22 C1); an older event's stored text otherwise.
fn assessment_view(a: &Value, decided: Option<&str>, lang: Lang, labels: &Labels) -> Value {
    let recommended = a["risk"].as_str().unwrap_or_default().to_string();
    let version = a["rules_version"].as_str().unwrap_or_default();
    let reasons: Vec<Value> = a["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["about"] == "risk")
        .map(|r| Value::String(crate::assess::frozen_reason_text(r, version, lang, labels)))
        .collect();
    let exemptions: Vec<Value> = a["exemptions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| Value::String(crate::assess::frozen_exemption_text(x, version, lang)))
        .collect();
    json!({
        "rules_version": a["rules_version"],
        "score": quarters(a.pointer("/severity/score"), lang),
        "dpc": quarters(a.pointer("/severity/dpc/value"), lang),
        "ei": quarters(a.pointer("/severity/ei/value"), lang),
        "cb": quarters(a.pointer("/severity/cb/value"), lang),
        "band": band_name(a, lang),
        "recommended": risk_name(&recommended, lang),
        "departs": decided.is_some_and(|d| d != recommended),
        "notify_authority": a["notify_authority"],
        "inform_individuals": a["inform_individuals"],
        "reasons": reasons,
        "exemptions": exemptions,
        "current": false,
        "changes": "",
    })
}

/// What moved between the assessment recorded with the decision and the one on the
/// facts now, in words ("score 3,25 → 5,25 ; niveau : moyen → très élevé"), or that
/// nothing did.
fn assessment_changes(then: &Value, now: &Value, lang: Lang) -> String {
    let mut out = Vec::new();
    let (score, band, rec) = match lang {
        Lang::Fr => ("score", "niveau", "recommandation"),
        Lang::En => ("score", "band", "recommendation"),
        Lang::Nl => ("score", "niveau", "aanbeveling"),
    };
    let (s0, s1) = (
        quarters(then.pointer("/severity/score"), lang),
        quarters(now.pointer("/severity/score"), lang),
    );
    if s0 != s1 {
        out.push(format!("{score} {s0} → {s1}"));
    }
    let (b0, b1) = (band_name(then, lang), band_name(now, lang));
    if b0 != b1 {
        out.push(match lang {
            Lang::Fr => format!("{band} : {b0} → {b1}"),
            Lang::En | Lang::Nl => format!("{band}: {b0} → {b1}"),
        });
    }
    let (r0, r1) = (
        then["risk"].as_str().unwrap_or_default(),
        now["risk"].as_str().unwrap_or_default(),
    );
    if r0 != r1 {
        let (r0, r1) = (risk_name(r0, lang), risk_name(r1, lang));
        out.push(match lang {
            Lang::Fr => format!("{rec} : {r0} → {r1}"),
            Lang::En | Lang::Nl => format!("{rec}: {r0} → {r1}"),
        });
    }
    if out.is_empty() {
        return match lang {
            Lang::Fr => "aucun changement".into(),
            Lang::En => "no change".into(),
            Lang::Nl => "geen wijziging".into(),
        };
    }
    out.join(match lang {
        Lang::Fr => " ; ",
        Lang::En | Lang::Nl => "; ",
    })
}

/// The assessment a draft shows: the one frozen in the case's last risk decision (null
/// when none was recorded). A complementary notification shows instead the assessment
/// on the facts as they are now (`current`, the JSON of `vigie assess`) and what
/// changed since the one recorded with the decision.
fn shown_assessment(
    events: &[Recorded],
    current: Option<&Value>,
    complementary: bool,
    lang: Lang,
    labels: &Labels,
) -> Value {
    let Some((frozen, decided)) = frozen_assessment(events) else {
        return Value::Null;
    };
    match current {
        Some(now) if complementary => {
            let mut v = assessment_view(now, decided.as_deref(), lang, labels);
            v["current"] = json!(true);
            v["changes"] = json!(assessment_changes(frozen, now, lang));
            v
        }
        _ => assessment_view(frozen, decided.as_deref(), lang, labels),
    }
}

/// The offences a complaint names, from the workflow's `meta`: `complaint_offences`
/// (the law in force when the incident began), or `complaint_offences_new` for an
/// incident that began on or after `criminal_code_from` (Belgium's new Criminal Code);
/// a ransomware attack adds extortion (`complaint_extortion`, `_new` likewise). The
/// incident began at the earliest of `started_at`, `detected_at` and `aware_at`.
fn complaint_view(wf: &Workflow, case: &Case, labels: &Labels) -> Value {
    let meta = labels.meta(wf);
    let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
    let began = ["started_at", "detected_at", "aware_at"]
        .iter()
        .filter_map(|k| case.facts.get(*k).and_then(FactValue::as_datetime))
        .min();
    let new_code = match (
        wf.meta
            .get("criminal_code_from")
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        began,
    ) {
        (Some(from), Some(b)) => b.with_timezone(&wf.timezone).date_naive() >= from,
        _ => false,
    };
    let pick = |k: &str| {
        if new_code {
            text(&format!("{k}_new")).or_else(|| text(k))
        } else {
            text(k)
        }
    };
    let ransomware =
        matches!(case.facts.get("incident_kind"), Some(FactValue::Text(k)) if k == "ransomware");
    let mut offences: Vec<String> = pick("complaint_offences").into_iter().collect();
    if ransomware {
        offences.extend(pick("complaint_extortion"));
    }
    let sep = match labels.lang {
        Lang::Fr => " ; ",
        Lang::En | Lang::Nl => "; ",
    };
    json!({
        "offences": offences.join(sep),
        "object": pick("complaint_object").unwrap_or_default(),
        "new_code": new_code,
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

/// What a document's view is built from: the case and its log, the organisation, the
/// labels of the language, and the instant of the draft.
pub struct ViewRequest<'a> {
    pub wf: &'a Workflow,
    pub case: &'a Case,
    pub events: &'a [Recorded],
    pub profile: &'a Profile,
    pub labels: &'a Labels,
    pub document: &'a str,
    pub lang: Lang,
    pub now: DateTime<Utc>,
    /// The assessment of the case's facts now (the JSON of `vigie assess`), which a
    /// complementary notification shows.
    pub current: Option<&'a Value>,
}

/// Builds the view of `document` for `case`, and the labels of the facts it still needs.
pub fn build_view(r: &ViewRequest) -> (Value, Vec<String>) {
    let ViewRequest {
        wf,
        case,
        events,
        profile,
        labels,
        document,
        lang,
        now,
        current,
    } = *r;
    let tz = wf.timezone;
    let estimated = dates_estimated(case);
    let (mut f, set, lists) = facts_view(wf, case, labels, estimated);
    let mut missing = needed_facts(wf, case, labels, document);
    let addressee = addressee(wf, profile, labels, document, &mut missing);
    let clock_map = clocks_view(wf, case, profile, labels, lang, now);
    let timeline = timeline(wf, case, events, labels, lang, estimated);

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
    let assessment = shown_assessment(events, current, authority_notified, lang, labels);
    // The rationale accepting vigie's recommendation writes: in the reader's language.
    if let Some(FactValue::Text(r)) = case.facts.get("risk_rationale")
        && let Some((frozen, _)) = last_frozen(events)
        && let Some(t) = crate::assess::accepted_rationale_in(frozen, r, lang, labels)
    {
        f.insert("risk_rationale".into(), Value::String(t));
    }
    // One severity per case: the one the EDPB template declares (`edpb::severity`).
    let severity = super::edpb::severity(case, events)
        .map(|s| labels.get(&format!("edpb_{s}")).to_lowercase())
        .unwrap_or_else(|| labels.placeholder("edpb_field_severity"));
    let complaint = complaint_view(wf, case, labels);
    // Whether the people are, or will be, told: only then is the means asked for.
    let informs = case.tracks.get("individuals").map(String::as_str) == Some("notified")
        || matches!(
            case.facts.get("individuals_informed"),
            Some(FactValue::Text(v)) if v == "yes" || v == "will_be"
        )
        || case.facts.contains_key("individuals_channel");
    let ongoing = matches!(case.facts.get("ongoing"), Some(FactValue::Boolean(true)));

    let (org, dpo, legal_rep) = organisation_view(wf, profile, labels, lang);

    let view = json!({
        "edpb": edpb,
        "lang": lang.code(),
        "assessment": assessment,
        "severity": severity,
        "complaint": complaint,
        "dates_estimated": estimated,
        "informs": informs,
        "ongoing": ongoing,
        "letter": letter_view(case, labels),
        "doc": { "id": document, "title": doc_title },
        "generated_at": time::long_in(now, tz, lang),
        "org": org,
        "dpo": dpo,
        "legal_rep": legal_rep,
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
            "name": placeholder(lang, "nom et prénom", "full name", "naam en voornaam"),
            "greeting": match lang {
                Lang::Fr => "Madame, Monsieur,",
                Lang::En => "Dear Sir or Madam,",
                Lang::Nl => "Geachte heer, mevrouw,",
            },
        },
    });
    (view, missing)
}

/// "To complete" in the draft's language, naming what.
fn placeholder(lang: Lang, what_fr: &str, what_en: &str, what_nl: &str) -> String {
    match lang {
        Lang::Fr => format!("[À compléter : {what_fr}]"),
        Lang::En => format!("[To complete: {what_en}]"),
        Lang::Nl => format!("[In te vullen: {what_nl}]"),
    }
}

/// Every fact of the workflow written out (`f`), whether it is set (`set`), and the
/// items of each list fact by their labels (`lists`).
fn facts_view(
    wf: &Workflow,
    case: &Case,
    labels: &Labels,
    estimated: bool,
) -> (Map<String, Value>, Map<String, Value>, Map<String, Value>) {
    let mut f = Map::new();
    let mut set = Map::new();
    let mut lists = Map::new();
    for (id, def) in &wf.facts {
        match case.facts.get(id) {
            Some(v) => {
                f.insert(
                    id.clone(),
                    Value::String(display(wf, labels, id, v, def.kind, estimated)),
                );
                set.insert(id.clone(), Value::Bool(true));
                if let FactValue::List(items) = v {
                    lists.insert(
                        id.clone(),
                        items
                            .iter()
                            .map(|i| Value::String(labels.value(id, i).to_string()))
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
    (f, set, lists)
}

/// The labels of the facts `document` needs that the case does not have yet.
fn needed_facts(wf: &Workflow, case: &Case, labels: &Labels, document: &str) -> Vec<String> {
    wf.documents
        .get(document)
        .map(|d| {
            d.needs
                .iter()
                .filter(|n| !case.facts.contains_key(*n))
                .map(|n| labels.get(n).to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The document's addressee: its regime's authority; one still to be chosen is missing.
fn addressee(
    wf: &Workflow,
    profile: &Profile,
    labels: &Labels,
    document: &str,
    missing: &mut Vec<String>,
) -> String {
    let doc_authority = authority(
        wf,
        wf.regime_of_document(document).map(|(_, r)| r),
        profile,
        labels,
    );
    match doc_authority {
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
    }
}

/// Every clock of the case: its title, basis, status, due and met dates, and authority.
fn clocks_view(
    wf: &Workflow,
    case: &Case,
    profile: &Profile,
    labels: &Labels,
    lang: Lang,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let tz = wf.timezone;
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
                "status_label": labels.status(&c.id, c.status.as_str()),
                "due": c.due_at.map(|d| time::long_in(d, tz, lang)).unwrap_or_default(),
                "met_at": c.met_at.map(|d| time::long_in(d, tz, lang)).unwrap_or_default(),
                "late": c.status == ClockStatus::Late,
                "overdue": c.status == ClockStatus::Overdue,
                "internal": c.internal,
                "authority": clock_authority,
            }),
        );
    }
    clock_map
}

/// The timeline: the instants the facts give, and every step of the log, in order.
fn timeline(
    wf: &Workflow,
    case: &Case,
    events: &[Recorded],
    labels: &Labels,
    lang: Lang,
    estimated: bool,
) -> Vec<Value> {
    let tz = wf.timezone;
    let mut timeline: Vec<(DateTime<Utc>, String, String)> = Vec::new();
    for (id, def) in &wf.facts {
        if def.kind == FactType::DateTime
            && let Some(FactValue::DateTime(d)) = case.facts.get(id)
        {
            let label = if estimated && ESTIMATED_DATES.contains(&id.as_str()) {
                format!("{} ({})", labels.get(id), labels.get("estimated_date"))
            } else {
                labels.get(id).to_string()
            };
            timeline.push((*d, label, String::new()));
        }
    }
    for ev in events {
        if let Some((label, note)) = logged_step(&ev.body, labels, lang) {
            timeline.push((ev.at, label, note));
        }
    }
    timeline.sort_by_key(|(at, _, _)| *at);
    timeline
        .into_iter()
        .map(|(at, label, note)| json!({"at": time::long_in(at, tz, lang), "label": label, "note": note}))
        .collect()
}

/// A step of the log as the timeline says it, and its note; None for facts set without
/// a note.
fn logged_step(body: &EventBody, labels: &Labels, lang: Lang) -> Option<(String, String)> {
    Some(match body {
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
        EventBody::FactsSet { note: None, .. } => return None,
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
    })
}

/// The letter in plain words: what each kind of breach means for the person, and how
/// serious the controller thinks it is (no method's jargon).
fn letter_view(case: &Case, labels: &Labels) -> Value {
    let letter_nature: Vec<Value> = match case.facts.get("nature") {
        Some(FactValue::List(items)) => items
            .iter()
            .filter_map(|n| labels.find(&format!("letter.{n}")))
            .map(|t| Value::String(t.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let letter_risk = match case.facts.get("risk") {
        Some(FactValue::Text(r)) => labels.find(&format!("letter.risk={r}")).unwrap_or(""),
        _ => "",
    };
    json!({ "nature": letter_nature, "risk": letter_risk })
}

/// The organisation, its DPO and its legal representative (the view's `org`, `dpo` and
/// `legal_rep`), each unset field a placeholder.
fn organisation_view(
    wf: &Workflow,
    profile: &Profile,
    labels: &Labels,
    lang: Lang,
) -> (Value, Value, Value) {
    let ph =
        |what_fr: &str, what_en: &str, what_nl: &str| placeholder(lang, what_fr, what_en, what_nl);
    // The organisation's identifier: a SIREN in France, a BCE/KBO number in Belgium.
    let identifier_label = labels.get(
        if wf.meta.get("edpb_identifier_type").map(String::as_str) == Some("organisation_number") {
            "identifier_bce"
        } else {
            "identifier_siren"
        },
    );
    (
        json!({
            "name": opt(&profile.name, ph("nom de l'organisme", "organisation name", "naam van de organisatie")),
            "siren": opt(&profile.identifier, labels.placeholder_text(identifier_label)),
            "identifier_label": identifier_label,
            "address": opt(&profile.address, ph("adresse", "address", "adres")),
            "sector": opt(&profile.sector, ph("secteur d'activité", "sector", "activiteitssector")),
        }),
        json!({
            "name": opt(&profile.dpo.name, ph("nom du DPO", "DPO name", "naam van de functionaris voor gegevensbescherming")),
            "email": opt(&profile.dpo.email, ph("e-mail du DPO", "DPO e-mail", "e-mailadres van de functionaris voor gegevensbescherming")),
            "phone": opt(&profile.dpo.phone, ph("téléphone du DPO", "DPO phone", "telefoonnummer van de functionaris voor gegevensbescherming")),
        }),
        json!({
            "name": opt(&profile.representative.name, ph("représentant légal", "legal representative", "wettelijke vertegenwoordiger")),
            "role": opt(&profile.representative.role, ph("fonction", "position", "functie")),
        }),
    )
}
