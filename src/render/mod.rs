//! Drafts: the CNIL/APD notification, the NIS2 report, the letter to the people
//! concerned and the complaint, rendered from Handlebars templates in strict mode.
//!
//! Templates and labels are embedded; a `templates_dir` overrides them file by file.
//! The view a template sees is documented in docs/templates.md and built in `view`.

pub mod edpb;
mod labels;
pub mod pdf;
mod view;

pub use labels::Labels;
pub use view::{ESTIMATED_DATES, ViewRequest, build_view, dates_estimated, group_digits};

use crate::case::{Case, Recorded};
use crate::catalog::WorkflowSet;
use crate::time::Lang;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use std::borrow::Cow;
use std::path::PathBuf;

/// The shipped templates and labels, compiled into the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "labels.fr.yaml",
        include_str!("../../templates/labels.fr.yaml"),
    ),
    (
        "labels.en.yaml",
        include_str!("../../templates/labels.en.yaml"),
    ),
    (
        "cnil_notification.fr.md.hbs",
        include_str!("../../templates/cnil_notification.fr.md.hbs"),
    ),
    (
        "cnil_notification.en.md.hbs",
        include_str!("../../templates/cnil_notification.en.md.hbs"),
    ),
    (
        "apd_notification.fr.md.hbs",
        include_str!("../../templates/apd_notification.fr.md.hbs"),
    ),
    (
        "apd_notification.en.md.hbs",
        include_str!("../../templates/apd_notification.en.md.hbs"),
    ),
    (
        "nis2_notification.fr.md.hbs",
        include_str!("../../templates/nis2_notification.fr.md.hbs"),
    ),
    (
        "nis2_notification.en.md.hbs",
        include_str!("../../templates/nis2_notification.en.md.hbs"),
    ),
    (
        "individual_letter.fr.md.hbs",
        include_str!("../../templates/individual_letter.fr.md.hbs"),
    ),
    (
        "individual_letter.en.md.hbs",
        include_str!("../../templates/individual_letter.en.md.hbs"),
    ),
    (
        "complaint.fr.md.hbs",
        include_str!("../../templates/complaint.fr.md.hbs"),
    ),
    (
        "complaint.en.md.hbs",
        include_str!("../../templates/complaint.en.md.hbs"),
    ),
    (
        "apd_notification_part2.fr.md.hbs",
        include_str!("../../templates/apd_notification_part2.fr.md.hbs"),
    ),
    (
        "apd_notification_part2.en.md.hbs",
        include_str!("../../templates/apd_notification_part2.en.md.hbs"),
    ),
    (
        "dora_initial.fr.md.hbs",
        include_str!("../../templates/dora_initial.fr.md.hbs"),
    ),
    (
        "dora_initial.en.md.hbs",
        include_str!("../../templates/dora_initial.en.md.hbs"),
    ),
    (
        "dora_intermediate.fr.md.hbs",
        include_str!("../../templates/dora_intermediate.fr.md.hbs"),
    ),
    (
        "dora_intermediate.en.md.hbs",
        include_str!("../../templates/dora_intermediate.en.md.hbs"),
    ),
    (
        "dora_final.fr.md.hbs",
        include_str!("../../templates/dora_final.fr.md.hbs"),
    ),
    (
        "dora_final.en.md.hbs",
        include_str!("../../templates/dora_final.en.md.hbs"),
    ),
    (
        "edpb_notification.fr.md.hbs",
        include_str!("../../templates/edpb_notification.fr.md.hbs"),
    ),
    (
        "edpb_notification.en.md.hbs",
        include_str!("../../templates/edpb_notification.en.md.hbs"),
    ),
    (
        "reminder.fr.md.hbs",
        include_str!("../../templates/reminder.fr.md.hbs"),
    ),
    (
        "reminder.en.md.hbs",
        include_str!("../../templates/reminder.en.md.hbs"),
    ),
    (
        "reminder_subject.fr.hbs",
        include_str!("../../templates/reminder_subject.fr.hbs"),
    ),
    (
        "reminder_subject.en.hbs",
        include_str!("../../templates/reminder_subject.en.hbs"),
    ),
    // Dutch (issue 12 part 5): no cnil_notification.nl, the fr workflow drafts in fr and en.
    (
        "labels.nl.yaml",
        include_str!("../../templates/labels.nl.yaml"),
    ),
    (
        "apd_notification.nl.md.hbs",
        include_str!("../../templates/apd_notification.nl.md.hbs"),
    ),
    (
        "nis2_notification.nl.md.hbs",
        include_str!("../../templates/nis2_notification.nl.md.hbs"),
    ),
    (
        "individual_letter.nl.md.hbs",
        include_str!("../../templates/individual_letter.nl.md.hbs"),
    ),
    (
        "complaint.nl.md.hbs",
        include_str!("../../templates/complaint.nl.md.hbs"),
    ),
    (
        "reminder.nl.md.hbs",
        include_str!("../../templates/reminder.nl.md.hbs"),
    ),
    (
        "reminder_subject.nl.hbs",
        include_str!("../../templates/reminder_subject.nl.hbs"),
    ),
    (
        "apd_notification_part2.nl.md.hbs",
        include_str!("../../templates/apd_notification_part2.nl.md.hbs"),
    ),
    (
        "dora_initial.nl.md.hbs",
        include_str!("../../templates/dora_initial.nl.md.hbs"),
    ),
    (
        "dora_intermediate.nl.md.hbs",
        include_str!("../../templates/dora_intermediate.nl.md.hbs"),
    ),
    (
        "dora_final.nl.md.hbs",
        include_str!("../../templates/dora_final.nl.md.hbs"),
    ),
    // CRA (issue 26 part 4)
    (
        "cra_early_warning.fr.md.hbs",
        include_str!("../../templates/cra_early_warning.fr.md.hbs"),
    ),
    (
        "cra_early_warning.en.md.hbs",
        include_str!("../../templates/cra_early_warning.en.md.hbs"),
    ),
    (
        "cra_early_warning.nl.md.hbs",
        include_str!("../../templates/cra_early_warning.nl.md.hbs"),
    ),
    (
        "cra_notification.fr.md.hbs",
        include_str!("../../templates/cra_notification.fr.md.hbs"),
    ),
    (
        "cra_notification.en.md.hbs",
        include_str!("../../templates/cra_notification.en.md.hbs"),
    ),
    (
        "cra_notification.nl.md.hbs",
        include_str!("../../templates/cra_notification.nl.md.hbs"),
    ),
    (
        "cra_final.fr.md.hbs",
        include_str!("../../templates/cra_final.fr.md.hbs"),
    ),
    (
        "cra_final.en.md.hbs",
        include_str!("../../templates/cra_final.en.md.hbs"),
    ),
    (
        "cra_final.nl.md.hbs",
        include_str!("../../templates/cra_final.nl.md.hbs"),
    ),
    (
        "edpb_notification.nl.md.hbs",
        include_str!("../../templates/edpb_notification.nl.md.hbs"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown document {q_document} in workflow {q_workflow} (documents: {known})", q_document = crate::util::quote(.document), q_workflow = crate::util::quote(.workflow))]
    UnknownDocument {
        document: String,
        workflow: String,
        known: String,
    },
    #[error("no template {q_0} (embedded or in the templates folder)", q_0 = crate::util::quote(.0))]
    MissingTemplate(String),
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{name}:{source}")]
    Labels {
        name: String,
        source: crate::util::yaml::YamlError,
    },
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("document {q_document} has no JSON form (--format json is for documents drafted with the {template} template)", q_document = crate::util::quote(.document), template = edpb::TEMPLATE)]
    NoJson { document: String },
    #[error("draft {q_document} is missing {missing} (--strict)", q_document = crate::util::quote(.document))]
    Incomplete { document: String, missing: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Md,
    Txt,
    Html,
    /// The document's fields as one JSON object (the EDPB template only).
    Json,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "md" | "markdown" => Some(Format::Md),
            "txt" | "text" => Some(Format::Txt),
            "html" => Some(Format::Html),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Txt => "txt",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

/// Where templates come from: the configured folder first, then the embedded copy.
#[derive(Clone, Debug, Default)]
pub struct Templates {
    pub dir: Option<PathBuf>,
}

impl Templates {
    pub fn source(&self, name: &str) -> Result<Cow<'static, str>, RenderError> {
        if let Some(dir) = &self.dir {
            let path = dir.join(name);
            if path.exists() {
                return std::fs::read_to_string(&path)
                    .map(Cow::Owned)
                    .map_err(|source| RenderError::Read {
                        path: path.display().to_string(),
                        source,
                    });
            }
        }
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| Cow::Borrowed(*t))
            .ok_or_else(|| RenderError::MissingTemplate(name.to_string()))
    }

    /// Whether a template of this name exists (in the folder or embedded).
    pub fn has(&self, name: &str) -> bool {
        self.dir.as_ref().is_some_and(|d| d.join(name).is_file())
            || EMBEDDED.iter().any(|(n, _)| *n == name)
    }

    pub fn labels(&self, wf: &Workflow, lang: Lang) -> Result<Labels, RenderError> {
        let name = format!("labels.{}.yaml", lang.code());
        let text = self.source(&name)?;
        let base: indexmap::IndexMap<String, String> =
            crate::util::yaml::from_str(&text).map_err(|source| RenderError::Labels {
                name: name.clone(),
                source,
            })?;
        Ok(Labels::new(base, wf, lang))
    }
}

/// Every document of the workflows has a template in every language the workflow lists
/// (`languages:`, default all; embedded, or in the templates folder); else one error per missing template, at the
/// document's line and column. Checked by `workflow check` and whenever the workflows
/// load, so a case never opens on a workflow whose draft cannot be written.
pub fn check_documents(
    set: &WorkflowSet,
    templates: &Templates,
) -> Result<(), crate::workflow::WorkflowErrors> {
    let mut errors = Vec::new();
    for wf in set.all() {
        errors.extend(missing_templates(wf, templates));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::workflow::WorkflowErrors(errors))
    }
}

/// The missing templates of one workflow's documents, as errors at each document.
pub fn missing_templates(
    wf: &Workflow,
    templates: &Templates,
) -> Vec<crate::workflow::WorkflowError> {
    let mut errors = Vec::new();
    for (name, doc) in &wf.documents {
        for &lang in &wf.languages {
            let file = format!("{}.{}.md.hbs", doc.template, lang.code());
            if !templates.has(&file) {
                errors.push(crate::workflow::WorkflowError {
                    file: wf.origin.clone(),
                    line: doc.at.0,
                    column: doc.at.1,
                    message: format!(
                        "document {}: no template {} for language {} (embedded, or in the templates folder{})",
                        crate::util::quote(name),
                        crate::util::quote(&file),
                        lang.code(),
                        templates
                            .dir
                            .as_ref()
                            .map(|d| format!(" {}", crate::util::quote(&d.display().to_string())))
                            .unwrap_or_default()
                    ),
                });
            }
        }
    }
    errors
}

/// A draft rendered: its text and the facts it still lacks.
#[derive(Debug)]
pub struct Draft {
    pub text: String,
    pub missing: Vec<String>,
    /// One line to show beside the draft (a regime the case does not say applies).
    pub warning: Option<String>,
}

/// A compiled template for one document, language and format: render it many times.
pub struct DocumentRenderer {
    registry: Handlebars<'static>,
    name: String,
    pub format: Format,
}

impl DocumentRenderer {
    pub fn new(
        templates: &Templates,
        wf: &Workflow,
        document: &str,
        lang: Lang,
        format: Format,
    ) -> Result<DocumentRenderer, RenderError> {
        let doc = wf
            .documents
            .get(document)
            .ok_or_else(|| RenderError::UnknownDocument {
                document: document.to_string(),
                workflow: wf.id.clone(),
                known: wf.documents.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let name = format!("{}.{}.md.hbs", doc.template, lang.code());
        let source = templates.source(&name)?;
        let mut registry = Handlebars::new();
        // A template naming a variable the view lacks is a bug: fail, never print blank.
        registry.set_strict_mode(true);
        registry.set_dev_mode(false);
        match format {
            // For HTML, values are Markdown-escaped so that a fact can never become a
            // link, a heading or markup; `markdown_to_html` also shows raw HTML as text.
            Format::Html => registry.register_escape_fn(escape_markdown),
            Format::Md | Format::Txt | Format::Json => {
                registry.register_escape_fn(handlebars::no_escape)
            }
        }
        registry
            .register_template_string(&name, source.as_ref())
            .map_err(|e| RenderError::Template {
                name: name.clone(),
                message: one_line(&e.to_string()),
            })?;
        Ok(DocumentRenderer {
            registry,
            name,
            format,
        })
    }

    /// The template's Markdown for a view (values escaped for the format).
    pub fn render_markdown(&self, view: &serde_json::Value) -> Result<String, RenderError> {
        self.registry
            .render(&self.name, view)
            .map(|md| tidy(&md))
            .map_err(|e| RenderError::Template {
                name: self.name.clone(),
                message: one_line(&e.to_string()),
            })
    }

    pub fn render(&self, view: &serde_json::Value) -> Result<String, RenderError> {
        let md = self.render_markdown(view)?;
        Ok(match self.format {
            Format::Md | Format::Txt | Format::Json => md,
            Format::Html => to_html(&md),
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Collapses the runs of blank lines that block helpers leave behind.
fn tidy(md: &str) -> String {
    let mut out = String::with_capacity(md.len());
    let mut blank = 0;
    for line in md.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_start_matches('\n').to_string()
}

/// Backslash-escapes every ASCII punctuation character Markdown gives a meaning to, so
/// a value renders as the text typed.
pub fn escape_markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '+'
                | '-'
                | '.'
                | '!'
                | '<'
                | '>'
                | '|'
                | '&'
                | '~'
                | '"'
                | '\''
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown to an HTML fragment. Raw HTML in the Markdown (which can only come from a
/// fact or a row typed by someone) is shown as text, never passed through as markup.
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, html};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut body = String::new();
    html::push_html(&mut body, parser);
    body
}

fn to_html(md: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>vigie</title></head>\n<body>\n{}</body></html>\n",
        markdown_to_html(md)
    )
}

/// Renders one document of a case. `current`: the assessment of its facts now (the
/// JSON of `vigie assess`), which a complementary notification shows.
#[allow(clippy::too_many_arguments)]
pub fn draft(
    templates: &Templates,
    profile: &crate::org::Profile,
    wf: &Workflow,
    case: &Case,
    events: &[Recorded],
    document: &str,
    lang: Lang,
    format: Format,
    now: DateTime<Utc>,
    current: Option<&serde_json::Value>,
) -> Result<Draft, RenderError> {
    if format == Format::Json {
        let doc = wf
            .documents
            .get(document)
            .ok_or_else(|| RenderError::UnknownDocument {
                document: document.to_string(),
                workflow: wf.id.clone(),
                known: wf.documents.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        if doc.template != edpb::TEMPLATE {
            return Err(RenderError::NoJson {
                document: document.to_string(),
            });
        }
        let (json, missing) = edpb::build(wf, case, events, profile, now);
        let mut text = serde_json::to_string_pretty(&json).expect("a JSON value serialises");
        text.push('\n');
        return Ok(Draft {
            text,
            missing,
            warning: None,
        });
    }
    let renderer = DocumentRenderer::new(templates, wf, document, lang, format)?;
    let labels = templates.labels(wf, lang)?;
    let (view, mut missing) = build_view(&ViewRequest {
        wf,
        case,
        events,
        profile,
        labels: &labels,
        document,
        lang,
        now,
        current,
    });
    // The EDPB template's fields still empty, by their path: the Markdown of the
    // template is refused by `--strict` on them as its JSON is.
    if let Some(paths) = view["edpb"]["missing"].as_array() {
        missing.extend(paths.iter().filter_map(|p| p.as_str().map(str::to_string)));
    }
    let text = renderer.render(&view)?;
    Ok(Draft {
        text,
        missing,
        warning: None,
    })
}
