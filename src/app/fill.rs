//! The fill-assist view (issue 25 part 3): an authority's form as the DPO meets it,
//! screen by screen in the form's own order, each answer ready to copy, marked required,
//! conditional or optional, and "not known yet, can be completed later" where the form
//! (or the GDPR's phased notification, art. 33(4)) lets it wait. One use-case for the
//! web page (`/cases/{id}/fill/{doc}`) and `vigie draft CASE DOC --fill`.
//!
//! The CNIL teleservice and the APD's two portals are described below from the public
//! walkthroughs summarised in REGULATION.md (not checked against the live forms); the
//! EDPB template follows `render::edpb`'s sections and fields.

use super::{App, AppError, DraftRequest};
use crate::render::Labels;
use crate::store::Store;
use crate::time::Lang;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// How much the form wants an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Need {
    Required,
    /// Asked only in some cases (a complement, a processor involved, people informed).
    Conditional,
    Optional,
}

impl Need {
    pub fn as_str(self) -> &'static str {
        match self {
            Need::Required => "required",
            Need::Conditional => "conditional",
            Need::Optional => "optional",
        }
    }
}

/// One answer of the form.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// The fact (or `org.name`, `dpo`, …) the answer comes from.
    pub key: String,
    pub label: String,
    /// The answer as it is to be typed; None when not known yet.
    pub value: Option<String>,
    pub need: Need,
    /// Not known yet, and the form takes it later (a complement, "unknown for now").
    pub later: bool,
}

/// One screen of the form.
#[derive(Debug, Clone, Serialize)]
pub struct Screen {
    pub key: String,
    pub title: String,
    pub fields: Vec<Field>,
}

/// A form to fill, for one case.
#[derive(Debug, Clone, Serialize)]
pub struct Fill {
    pub case: String,
    pub document: String,
    /// cnil_teleservice, apd_part1, apd_part2 or edpb_template.
    pub form: String,
    pub form_title: String,
    pub lang: String,
    pub screens: Vec<Screen>,
    /// The step recording "submitted" records for this form, when the case allows it
    /// now (the notification, its complement, the APD's part 2).
    pub submit_event: Option<String>,
    /// The steps of the workflow sent to an authority (for the form's choice).
    pub submit_events: Vec<String>,
    /// The authority's reference already recorded (`authority_ref`).
    pub reference: Option<String>,
}

use Need::{Conditional as C, Optional as O, Required as R};

/// (answer, need, may wait): `f:` a fact, else an answer about the organisation or the
/// notification itself.
type Spec = (&'static str, Need, bool);
type Form = &'static [(&'static str, &'static [Spec])];

const CNIL: Form = &[
    (
        "fill_screen_identity",
        &[
            ("org.name", R, false),
            ("org.siren", R, false),
            ("dpo", R, false),
            ("legal_rep", R, false),
        ],
    ),
    (
        "fill_screen_notification",
        &[("kind", R, false), ("f:authority_ref", C, false)],
    ),
    (
        "fill_screen_breach",
        &[
            ("f:breach_status", R, false),
            ("f:started_at", R, true),
            ("f:ended_at", C, true),
            ("f:detected_at", R, true),
            ("f:aware_at", R, false),
            ("f:processor_informed_at", C, true),
            ("f:ongoing", R, false),
            ("f:discovery", R, false),
        ],
    ),
    ("fill_screen_nature", &[("f:nature", R, false)]),
    (
        "fill_screen_origin",
        &[("f:origin", R, false), ("f:cause", R, false)],
    ),
    (
        "fill_screen_processors",
        &[
            ("f:processors", C, false),
            ("f:joint_controllers", C, false),
        ],
    ),
    (
        "fill_screen_people",
        &[
            ("f:subject_categories", R, false),
            ("f:subjects_approx", R, true),
            ("f:directly_identifiable", R, false),
        ],
    ),
    (
        "fill_screen_data",
        &[
            ("f:data_categories", R, false),
            ("f:records_approx", R, true),
            ("f:storage_medium", O, false),
        ],
    ),
    (
        "fill_screen_consequences",
        &[
            ("f:consequence_types", R, true),
            ("f:harms", R, true),
            ("f:consequences", R, true),
        ],
    ),
    (
        "fill_screen_measures",
        &[
            ("f:measures", R, false),
            ("f:measures_medium", O, true),
            ("f:measures_long", O, true),
        ],
    ),
    (
        "fill_screen_individuals",
        &[
            ("f:individuals_informed", R, false),
            ("f:individuals_channel", C, true),
        ],
    ),
];

/// The APD's part 1: the essentials, within the 72 hours; it gives the `DBN` reference.
const APD_PART1: Form = &[
    (
        "fill_screen_identity",
        &[
            ("org.name", R, false),
            ("org.siren", R, false),
            ("dpo", R, false),
        ],
    ),
    (
        "fill_screen_breach",
        &[
            ("f:breach_status", R, false),
            ("f:started_at", R, true),
            ("f:detected_at", R, true),
            ("f:aware_at", R, false),
            ("f:ongoing", R, false),
            ("f:discovery", R, false),
            ("f:nature", R, false),
        ],
    ),
    (
        "fill_screen_people",
        &[
            ("f:subjects_approx", R, true),
            ("f:data_categories", R, false),
        ],
    ),
    (
        "fill_screen_consequences",
        &[("f:consequences", R, true), ("f:risk", R, false)],
    ),
    (
        "fill_screen_measures",
        &[
            ("f:measures", R, false),
            ("f:individuals_informed", R, false),
        ],
    ),
    ("fill_screen_late", &[("f:delay_reasons", C, false)]),
];

/// The APD's part 2: scope, cause, impact, attachments, under part 1's `DBN` reference.
const APD_PART2: Form = &[
    ("fill_screen_reference", &[("f:authority_ref", R, false)]),
    (
        "fill_screen_scope",
        &[
            ("f:nature", R, false),
            ("f:subjects_approx", R, false),
            ("f:subject_categories", R, false),
            ("f:records_approx", R, false),
            ("f:data_categories", R, false),
            ("f:directly_identifiable", R, false),
            ("f:started_at", R, false),
            ("f:ended_at", C, true),
            ("f:ongoing", R, false),
        ],
    ),
    (
        "fill_screen_origin",
        &[
            ("f:origin", R, false),
            ("f:cause", R, false),
            ("f:root_cause", R, true),
            ("f:processors", C, false),
        ],
    ),
    (
        "fill_screen_consequences",
        &[
            ("f:consequence_types", R, false),
            ("f:harms", R, false),
            ("f:risk", R, false),
            ("f:risk_rationale", R, false),
        ],
    ),
    (
        "fill_screen_measures",
        &[
            ("f:measures", R, false),
            ("f:measures_medium", O, true),
            ("f:measures_long", O, true),
            ("f:individuals_informed", R, false),
        ],
    ),
    ("fill_screen_attachments", &[("f:evidence", O, true)]),
];

/// The form a document's template is typed into, and its name.
fn form_of(template: &str) -> Option<(&'static str, Option<Form>)> {
    Some(match template {
        "cnil_notification" => ("cnil_teleservice", Some(CNIL)),
        "apd_notification" => ("apd_part1", Some(APD_PART1)),
        "apd_notification_part2" => ("apd_part2", Some(APD_PART2)),
        t if t == crate::render::edpb::TEMPLATE => ("edpb_template", None),
        _ => return None,
    })
}

/// Whether a document's template is typed into an authority's form this view has.
pub fn has_form(template: &str) -> bool {
    form_of(template).is_some()
}

/// A label, or None when the labels do not have it.
fn find<'a>(labels: &'a Labels, key: &str) -> Option<&'a str> {
    labels.find(key).filter(|s| !s.is_empty())
}

/// The answer of one spec, from the draft's view (facts in words, the organisation).
fn answer(view: &Value, key: &str, labels: &Labels, complementary: bool) -> Option<String> {
    let text = |v: &Value| v.as_str().map(str::to_string);
    // An organisation's value missing from its profile is a placeholder in brackets.
    let known = |s: Option<String>| s.filter(|s| !(s.starts_with('[') && s.ends_with(']')));
    if let Some(fact) = key.strip_prefix("f:") {
        if view["set"][fact] != Value::Bool(true) {
            return None;
        }
        if let Some(items) = view["lists"][fact].as_array() {
            return Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        return text(&view["f"][fact]);
    }
    match key {
        "kind" => Some(
            labels
                .get(if complementary {
                    "fill_kind_complementary"
                } else {
                    "fill_kind_initial"
                })
                .to_string(),
        ),
        "dpo" => {
            let parts: Vec<String> = ["name", "email", "phone"]
                .iter()
                .filter_map(|k| known(text(&view["dpo"][k])))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" — "))
        }
        "legal_rep" => {
            let parts: Vec<String> = ["name", "role"]
                .iter()
                .filter_map(|k| known(text(&view["legal_rep"][k])))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        other => {
            let (a, b) = other.split_once('.')?;
            known(text(&view[a][b]))
        }
    }
}

fn spec_label(labels: &Labels, key: &str, view: &Value) -> String {
    if let Some(fact) = key.strip_prefix("f:") {
        return labels.get(fact).to_string();
    }
    if key == "org.siren"
        && let Some(l) = view["org"]["identifier_label"].as_str()
        && let Some(t) = find(labels, l)
    {
        return t.to_string();
    }
    labels
        .get(&format!("fill_{}", key.replace('.', "_")))
        .to_string()
}

/// The form of a spec, filled from the view.
fn screens_of(form: Form, view: &Value, labels: &Labels) -> Vec<Screen> {
    let complementary = view["complementary"] == Value::Bool(true);
    form.iter()
        .map(|(screen, specs)| Screen {
            key: screen.to_string(),
            title: labels.get(screen).to_string(),
            fields: specs
                .iter()
                // The reference is asked of a complement only.
                .filter(|(k, need, _)| !(*k == "f:authority_ref" && *need == C && !complementary))
                .map(|(k, need, later)| {
                    let value = answer(view, k, labels, complementary);
                    Field {
                        key: k.trim_start_matches("f:").to_string(),
                        label: spec_label(labels, k, view),
                        later: *later && value.is_none(),
                        value,
                        need: *need,
                    }
                })
                .collect(),
        })
        .collect()
}

/// A value of the EDPB template's JSON in words: ids by their labels, lists joined.
fn edpb_words(v: &Value, labels: &Labels) -> Option<String> {
    let one = |s: &str| find(labels, &format!("edpb_{s}")).unwrap_or(s).to_string();
    match v {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) if !s.contains(' ') && s.contains('_') || s.len() < 16 => Some(one(s)),
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(labels.get(if *b { "yes" } else { "no" }).to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|x| edpb_words(x, labels))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .filter_map(|(k, x)| edpb_words(x, labels).map(|w| format!("{k}: {w}")))
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
    }
}

/// The EDPB template's sections, in its order, from its JSON.
fn edpb_screens(json: &Value, labels: &Labels) -> Vec<Screen> {
    let missing: Vec<&str> = json["missing"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(all) = json.as_object() else {
        return Vec::new();
    };
    all.iter()
        .filter(|(k, _)| k.starts_with("section_"))
        .filter_map(|(section, v)| {
            let m = v.as_object()?;
            let number = section.trim_start_matches("section_").replace('_', ".");
            let title = find(labels, &format!("edpb_{section}"))
                .map(|t| format!("{number} {t}"))
                .unwrap_or(number);
            let fields = m
                .iter()
                .map(|(key, x)| {
                    let path = format!("{section}.{key}");
                    let value = edpb_words(x, labels);
                    let required = missing.contains(&path.as_str());
                    Field {
                        key: path,
                        label: find(labels, &format!("edpb_field_{key}"))
                            .or_else(|| find(labels, key))
                            .unwrap_or(key)
                            .to_string(),
                        later: value.is_none() && !required,
                        value,
                        need: if required { R } else { O },
                    }
                })
                .collect();
            Some(Screen {
                key: section.clone(),
                title,
                fields,
            })
        })
        .collect()
}

impl App {
    /// The form a document of the case is typed into, filled from the case.
    pub fn fill(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        req: &DraftRequest,
        now: DateTime<Utc>,
    ) -> Result<Fill, AppError> {
        let l = self.case(store, org, id)?;
        let wf = &l.workflow;
        let doc = wf.documents.get(&req.document).ok_or_else(|| {
            AppError::Store(crate::store::StoreError::from(
                crate::case::Rejected::UnknownDocument {
                    document: req.document.clone(),
                    workflow: wf.id.clone(),
                    known: wf.documents.keys().cloned().collect::<Vec<_>>().join(", "),
                },
            ))
        })?;
        let Some((form, spec)) = form_of(&doc.template) else {
            return Err(AppError::Field {
                field: "document",
                message: format!(
                    "{} is not typed into an authority's form (the fill-assist view has the CNIL teleservice, the APD's part 1 and part 2, the EDPB template)",
                    crate::util::quote(&req.document)
                ),
            });
        };
        let profile = self.profile(store, org)?;
        let asked = DraftRequest {
            document: req.document.clone(),
            lang: req.lang.clone(),
            format: None,
        };
        let (lang, _) = super::draft_options(&profile, wf, &asked)?;
        let labels = self.templates.labels(wf, lang)?;
        let screens = match spec {
            Some(form) => {
                let (view, _) = crate::render::build_view(&crate::render::ViewRequest {
                    wf,
                    case: &l.case,
                    events: &l.events,
                    profile: &profile,
                    labels: &labels,
                    document: &req.document,
                    lang,
                    now,
                    current: None,
                });
                screens_of(form, &view, &labels)
            }
            None => {
                let (json, _) = crate::render::edpb::build(wf, &l.case, &l.events, &profile, now);
                edpb_screens(&json, &labels)
            }
        };
        let submit_events = super::submission::submission_events(wf);
        let wanted: &[&str] = match form {
            "apd_part2" => &["notify_authority_part2"],
            _ => &["notify_authority", "notify_authority_complement"],
        };
        let submit_event = wanted
            .iter()
            .find(|e| {
                crate::app::json::allowed_events(wf, &l.case)
                    .iter()
                    .any(|a| a == *e)
            })
            .map(|e| e.to_string());
        let reference = match l.case.facts.get("authority_ref") {
            Some(crate::workflow::FactValue::Text(r)) => Some(r.clone()),
            _ => None,
        };
        Ok(Fill {
            case: id.to_string(),
            document: req.document.clone(),
            form: form.to_string(),
            form_title: labels.get(&format!("fill_form_{form}")).to_string(),
            lang: lang.code().to_string(),
            screens,
            submit_event,
            submit_events,
            reference,
        })
    }
}

/// A mark in words, for the text and the page: "required", "conditional", "not known
/// yet, can be completed later".
pub fn marks(f: &Field, labels: &Labels) -> Vec<String> {
    let mut out = vec![labels.get(&format!("fill_{}", f.need.as_str())).to_string()];
    if f.later {
        out.push(labels.get("fill_later").to_string());
    } else if f.value.is_none() {
        out.push(labels.get("fill_unknown").to_string());
    }
    out
}

/// The form as plain text, one field per line: `screen / field: value [marks]`.
pub fn text(fill: &Fill, labels: &Labels) -> String {
    let mut out = String::new();
    for s in &fill.screens {
        for f in &s.fields {
            let value = f
                .value
                .as_deref()
                .map(crate::util::one_line)
                .unwrap_or_else(|| "—".into());
            out.push_str(&format!(
                "{} / {}: {} [{}]\n",
                s.title,
                f.label,
                value,
                marks(f, labels).join(", ")
            ));
        }
    }
    out
}

/// The labels of a fill's language, for [`text`] and [`marks`].
impl App {
    pub fn fill_labels(
        &self,
        store: &mut Store,
        org: &str,
        fill: &Fill,
    ) -> Result<Labels, AppError> {
        let l = self.case(store, org, &fill.case)?;
        let lang = Lang::parse(&fill.lang).unwrap_or(l.workflow.lang);
        Ok(self.templates.labels(&l.workflow, lang)?)
    }
}
