//! The register for an inspection (issue 13 part 5): every breach of an organisation,
//! notified or not, with what art. 33(5) asks a controller to document — the facts, the
//! effects, the remedial action — and the decisions taken with their reasons, ready to
//! hand to the CNIL or the APD. One shape ([`Inspection`]) gives the JSON, the CSV and
//! the markdown document (rendered from `templates/register_inspection.<lang>.md.hbs`;
//! the PDF is that markdown through the PDF renderer).
//!
//! `vigie register --csv` (the working register, whose columns tools and `.ci/run` diff)
//! is unchanged: the inspection CSV starts with the same columns and adds its own after
//! them.

use super::{App, AppError};
use crate::case::EventBody;
use crate::register::Row;
use crate::store::{Store, Unreadable};
use crate::time::{self, Lang};
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// The facts shown in their own sections; the rest go to "other facts".
const FACTS_SECTION: [&str; 14] = [
    "breach_status",
    "started_at",
    "ended_at",
    "detected_at",
    "aware_at",
    "contained_at",
    "discovery",
    "nature",
    "origin",
    "cause",
    "subject_categories",
    "subjects_approx",
    "records_approx",
    "data_categories",
];
const EFFECTS_SECTION: [&str; 3] = ["consequences", "consequence_types", "harms"];
const MEASURES_SECTION: [&str; 3] = ["measures", "measures_medium", "measures_long"];
/// Never listed: who gets the reminders is the team's business, not the breach's.
const LEFT_OUT: [&str; 1] = ["owners"];

/// One fact as shown: its id, its label in the document's language, its value in words.
#[derive(Debug, Clone, Serialize)]
pub struct Fact {
    pub id: String,
    pub label: String,
    pub value: String,
}

/// A decision recorded in the case's log: the event, when, by whom.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub event: String,
    pub label: String,
    pub at: String,
    pub actor: String,
}

/// One breach.
#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    /// The working register's row (case, decision, reasons, people notified...).
    #[serde(flatten)]
    pub row: Row,
    /// The instant the year filter reads: `detected_at`, else `aware_at`.
    pub detected: String,
    /// Its year in the workflow's zone.
    pub year: i32,
    pub timezone: String,
    pub facts: Vec<Fact>,
    pub effects: Vec<Fact>,
    pub remedial: Vec<Fact>,
    pub other_facts: Vec<Fact>,
    pub decisions: Vec<Decision>,
    pub issued: Vec<super::issued::Issued>,
    /// The row's states and decisions in the document's language (the row keeps ids).
    pub words: Words,
}

/// What the document shows of the row's ids, in its language.
#[derive(Debug, Clone, Serialize)]
pub struct Words {
    /// "dossier ouvert" / "dossier clos".
    pub status: String,
    pub risk: String,
    pub risk_recommended: String,
    pub authority: String,
    pub individuals: String,
    /// The exemption by its label, and its rationale.
    pub individuals_reason: String,
    /// The people were told outside `vigie notify` (no campaign sent them anything):
    /// the count the case records, in words ("7 000"), or empty when unknown.
    pub told_outside_vigie: bool,
    pub subjects_recorded: String,
}

/// The register for an inspection.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub organisation: String,
    pub organisation_id: String,
    pub identifier: String,
    pub dpo: String,
    pub generated_at: String,
    /// The same instant (the PDF's footer), to the second as shown.
    #[serde(skip)]
    pub generated: DateTime<Utc>,
    pub year: Option<i32>,
    pub lang: String,
    pub breaches: Vec<Breach>,
    /// Cases that could not be read back (named, never silently left out).
    pub unreadable: Vec<String>,
}

fn value_words(
    wf: &crate::workflow::Workflow,
    labels: &crate::render::Labels,
    id: &str,
    v: &crate::workflow::FactValue,
    estimated: bool,
) -> String {
    let word = |s: &str| labels.value(id, s).to_string();
    match v.to_display_json(wf.timezone) {
        Value::Null => String::new(),
        Value::String(s) => {
            if wf.facts.values().any(|f| f.choices.contains(&s)) {
                word(&s)
            } else if estimated && crate::render::ESTIMATED_DATES.contains(&id) {
                format!("{s} ({})", labels.get("estimated_date"))
            } else {
                s
            }
        }
        Value::Bool(b) => word(if b { "yes" } else { "no" }),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(&word).unwrap_or_else(|| i.to_string()))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn row_fact(case: &crate::case::Case, id: &str) -> String {
    match case.facts.get(id) {
        Some(crate::workflow::FactValue::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

impl App {
    /// The register of `org` for an inspection: every breach detected in `year` (in
    /// its workflow's zone; every breach when None), in the order the cases were opened.
    pub fn inspection(
        &self,
        store: &mut Store,
        org: &str,
        year: Option<i32>,
        lang: Option<Lang>,
        now: DateTime<Utc>,
    ) -> Result<(Inspection, Vec<Unreadable>), AppError> {
        let profile = self.profile(store, org)?;
        let lang = lang.or(profile.lang()).unwrap_or(Lang::Fr);
        let (rows, unreadable) = self.register(store, org)?;
        let mut breaches = Vec::new();
        for row in rows {
            let l = self.case(store, org, &row.case)?;
            let wf = &l.workflow;
            let tz = wf.timezone;
            let labels = self.templates.labels(wf, lang)?;
            let instant = |name: &str| match l.case.facts.get(name) {
                Some(crate::workflow::FactValue::DateTime(d)) => Some(*d),
                _ => None,
            };
            let detected = instant("detected_at")
                .or(instant("aware_at"))
                .unwrap_or(l.case.opened_at);
            let y = detected.with_timezone(&tz).year();
            if year.is_some_and(|want| want != y) {
                continue;
            }
            let estimated = crate::render::dates_estimated(&l.case);
            let fact = |id: &str| -> Option<Fact> {
                let v = l.case.facts.get(id)?;
                Some(Fact {
                    id: id.to_string(),
                    label: labels.get(id).to_string(),
                    value: value_words(wf, &labels, id, v, estimated),
                })
            };
            let section =
                |ids: &[&str]| -> Vec<Fact> { ids.iter().filter_map(|f| fact(f)).collect() };
            let shown: Vec<&str> = FACTS_SECTION
                .iter()
                .chain(EFFECTS_SECTION.iter())
                .chain(MEASURES_SECTION.iter())
                .chain(LEFT_OUT.iter())
                .copied()
                .collect();
            let other_facts = wf
                .facts
                .keys()
                .filter(|k| !shown.contains(&k.as_str()))
                .filter_map(|k| fact(k))
                .collect();
            // The steps by when they happened (a step may be recorded after a later one).
            let mut steps: Vec<(DateTime<Utc>, Decision)> = l
                .events
                .iter()
                .filter_map(|e| match &e.body {
                    EventBody::Advanced { event, .. } => Some((
                        e.at,
                        Decision {
                            event: event.clone(),
                            label: labels.get(event).to_string(),
                            at: time::rfc3339_in(e.at, tz),
                            actor: e.actor.clone(),
                        },
                    )),
                    _ => None,
                })
                .collect();
            steps.sort_by_key(|(at, _)| *at);
            let decisions = steps.into_iter().map(|(_, d)| d).collect();
            let labelled = |fact: &str, v: &str| {
                if v.is_empty() {
                    String::new()
                } else {
                    labels.value(fact, v).to_string()
                }
            };
            let exemption = match l.case.facts.get("individuals_exemption") {
                Some(crate::workflow::FactValue::Text(x)) if row.individuals == "not_required" => {
                    labels.value("individuals_exemption", x).to_string()
                }
                _ => String::new(),
            };
            let individuals_reason = if row.individuals == "not_required" {
                [exemption, row_fact(&l.case, "individuals_rationale")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" : ")
            } else {
                String::new()
            };
            let words = Words {
                status: labels
                    .get(if row.status == "closed" {
                        "register_closed"
                    } else {
                        "register_open"
                    })
                    .to_string(),
                risk: labelled("risk", &row.risk),
                risk_recommended: labelled("risk", &row.risk_recommended),
                authority: labelled("authority", &row.authority),
                individuals: labelled("individuals", &row.individuals),
                individuals_reason,
                told_outside_vigie: row.individuals == "notified" && row.people_notified == 0,
                subjects_recorded: match l.case.facts.get("subjects_approx") {
                    Some(crate::workflow::FactValue::Integer(n)) => {
                        crate::render::group_digits(*n, lang)
                    }
                    _ => String::new(),
                },
            };
            let issued = self.issued(store, org, &row.case)?;
            breaches.push(Breach {
                detected: time::rfc3339_in(detected, tz),
                year: y,
                timezone: tz.name().to_string(),
                facts: section(&FACTS_SECTION),
                effects: section(&EFFECTS_SECTION),
                remedial: section(&MEASURES_SECTION),
                other_facts,
                decisions,
                issued,
                words,
                row,
            });
        }
        let ins = Inspection {
            organisation: profile.name.clone().unwrap_or_else(|| org.to_string()),
            organisation_id: org.to_string(),
            identifier: profile.identifier.clone().unwrap_or_default(),
            dpo: [profile.dpo.name.clone(), profile.dpo.email.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            generated: now.with_nanosecond(0).unwrap_or(now),
            year,
            lang: lang.code().to_string(),
            breaches,
            unreadable: unreadable.iter().map(|u| u.warning()).collect(),
        };
        Ok((ins, unreadable))
    }
}

/// The extra columns of the inspection CSV, after the working register's.
/// (`consequences` is one of the working register's since issue 22.)
pub const EXTRA_COLUMNS: [&str; 8] = [
    "detected",
    "year",
    "harms",
    "measures_medium",
    "measures_long",
    "decisions",
    "issued_documents",
    "other_facts",
];

/// The inspection as CSV: the working register's columns (unchanged, in order), then
/// [`EXTRA_COLUMNS`]. UTF-8 with a BOM; formula-like cells prefixed with '.
pub fn csv(ins: &Inspection) -> String {
    let rows: Vec<Row> = ins.breaches.iter().map(|b| b.row.clone()).collect();
    let base = crate::register::csv(&rows);
    let base = base.trim_start_matches('\u{feff}');
    let mut lines = base.lines();
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let safe = |s: &str| -> String {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}")
        } else {
            s.to_string()
        }
    };
    let mut header: Vec<String> = crate::register::COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    header.extend(EXTRA_COLUMNS.iter().map(|s| s.to_string()));
    w.write_record(&header).expect("write to memory");
    // Re-read the base rows (their cells already made safe) and append ours.
    lines.next();
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(base.as_bytes());
    for (rec, b) in rd.records().zip(&ins.breaches) {
        let rec = rec.expect("our own CSV reads back");
        let mut cells: Vec<String> = rec.iter().map(str::to_string).collect();
        let find = |list: &[Fact], id: &str| {
            list.iter()
                .find(|f| f.id == id)
                .map(|f| f.value.clone())
                .unwrap_or_default()
        };
        let decisions = b
            .decisions
            .iter()
            .map(|d| format!("{} {} ({})", d.at, d.event, d.actor))
            .collect::<Vec<_>>()
            .join("; ");
        let issued = b
            .issued
            .iter()
            .map(|i| format!("{} {} {} sha256:{}", i.at, i.document, i.format, i.sha256))
            .collect::<Vec<_>>()
            .join("; ");
        let other = b
            .other_facts
            .iter()
            .map(|f| format!("{}: {}", f.id, f.value))
            .collect::<Vec<_>>()
            .join("; ");
        for extra in [
            b.detected.clone(),
            b.year.to_string(),
            find(&b.effects, "harms"),
            find(&b.remedial, "measures_medium"),
            find(&b.remedial, "measures_long"),
            decisions,
            issued,
            other,
        ] {
            cells.push(safe(&extra));
        }
        w.write_record(&cells).expect("write to memory");
    }
    let bytes = w.into_inner().expect("flush to memory");
    let mut out = String::from("\u{feff}");
    out.push_str(&String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"));
    out
}

/// The inspection as JSON.
pub fn json(ins: &Inspection) -> Value {
    serde_json::to_value(ins).expect("the inspection serializes")
}

const TEMPLATE_EN: &str = include_str!("../../templates/register_inspection.en.md.hbs");
const TEMPLATE_FR: &str = include_str!("../../templates/register_inspection.fr.md.hbs");
const TEMPLATE_NL: &str = include_str!("../../templates/register_inspection.nl.md.hbs");

/// A value for markdown: one paragraph, no HTML, no markup from the text itself.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '|' => {
                out.push('\\');
                out.push(ch);
            }
            '\r' => {}
            '\n' => out.push_str("  \n    "),
            c => out.push(c),
        }
    }
    out
}

/// Every string of a JSON value made safe for markdown.
fn md_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(md_text(s)),
        Value::Array(a) => Value::Array(a.iter().map(md_value).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), md_value(v))).collect())
        }
        other => other.clone(),
    }
}

/// The inspection as a markdown document (French or English; Dutch reads the English
/// one until it is translated), for reading as it is or turning into a PDF.
pub fn markdown(ins: &Inspection) -> Result<String, AppError> {
    let template = match ins.lang.as_str() {
        "fr" => TEMPLATE_FR,
        "nl" => TEMPLATE_NL,
        _ => TEMPLATE_EN,
    };
    let mut hb = handlebars::Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(false);
    let mut view = md_value(&json(ins));
    view["count"] = json!(ins.breaches.len());
    hb.render_template(template, &view).map_err(|e| {
        AppError::Store(crate::store::StoreError::Db(format!(
            "the register's template: {}",
            e.to_string().lines().next().unwrap_or_default()
        )))
    })
}

/// The register for an inspection as a PDF: the markdown document laid out by
/// `render::pdf` (A4, embedded font, page numbers), its footer naming the register and
/// the time it was made, in the zone of the organisation's breaches (UTC when it has
/// none, or they lie in several zones).
pub fn pdf(ins: &Inspection) -> Result<Vec<u8>, AppError> {
    let md = markdown(ins)?;
    let generated_at = ins.generated;
    let mut zones = ins.breaches.iter().map(|b| b.timezone.as_str());
    let zone = match zones.next() {
        Some(first) if ins.breaches.iter().all(|b| b.timezone == first) => {
            first.parse().unwrap_or(chrono_tz::UTC)
        }
        _ => chrono_tz::UTC,
    };
    let lang = Lang::parse(&ins.lang).unwrap_or(Lang::En);
    let footer = crate::render::pdf::Footer {
        // The name the download gets: register-ORG[-YEAR].
        reference: match ins.year {
            Some(y) => format!("register-{}-{y}", ins.organisation_id),
            None => format!("register-{}", ins.organisation_id),
        },
        generated_at,
        zone,
        lang,
    };
    Ok(crate::render::pdf::markdown_to_pdf(&md, &footer)?)
}
