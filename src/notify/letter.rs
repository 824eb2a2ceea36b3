//! The letter to one person, fast: the `individual_letter` template is rendered once per
//! language with markers where the person's fields go, then each row only fills them in
//! (text as typed, HTML escaped). A template that uses a person's field in any other way
//! than `{{recipient.FIELD}}` is rendered in full for each row instead.

use super::recipients::Recipient;
use crate::render::{DocumentRenderer, Format, Templates, markdown_to_html};
use crate::time::Lang;
use crate::workflow::Workflow;
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "name",
    "first_name",
    "last_name",
    "greeting",
    "email",
    "address",
    "postal_code",
    "city",
    "country",
];

fn marker(field: &str) -> String {
    format!("VIGIEMARK{}X", field.to_ascii_uppercase().replace('_', ""))
}

/// The recipient object a template sees.
fn recipient_view(r: &Recipient, lang: Lang) -> Value {
    let name = r.display_name();
    let greeting = match (lang, name.is_empty()) {
        (Lang::Fr, true) => "Madame, Monsieur,".to_string(),
        (Lang::Fr, false) => format!("Bonjour {name},"),
        (Lang::En, true) => "Dear Sir or Madam,".to_string(),
        (Lang::En, false) => format!("Dear {name},"),
        (Lang::Nl, true) => "Geachte heer, mevrouw,".to_string(),
        (Lang::Nl, false) => format!("Beste {name},"),
    };
    json!({
        "name": name, "first_name": r.first_name, "last_name": r.last_name, "greeting": greeting,
        "email": r.email, "address": r.address, "postal_code": r.postal_code, "city": r.city, "country": r.country,
    })
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The letter for one language.
pub struct Letter {
    lang: Lang,
    /// Rendered once with markers (fast path), or None (render each row).
    text: Option<String>,
    html: Option<String>,
    subject: String,
    md: DocumentRenderer,
    html_r: DocumentRenderer,
    base: Value,
}

/// Whether every use of `recipient` in a template is a plain `{{recipient.FIELD}}`.
fn only_plain_uses(src: &str) -> bool {
    let mut rest = src;
    while let Some(i) = rest.find("recipient") {
        let before = &rest[..i];
        let after = &rest[i + "recipient".len()..];
        let opened = before.ends_with("{{");
        let field_end = after
            .strip_prefix('.')
            .and_then(|a| a.find("}}").map(|e| &a[..e]));
        match (opened, field_end) {
            (true, Some(f)) if FIELDS.contains(&f.trim()) => {}
            _ => return false,
        }
        rest = after;
    }
    true
}

pub struct Rendered {
    pub text: String,
    pub html: String,
    pub subject: String,
}

impl Letter {
    /// Compiles and renders the template once: a template error stops the run here,
    /// before anything is sent.
    pub fn new(
        templates: &Templates,
        wf: &Workflow,
        lang: Lang,
        base: Value,
        org_name: &str,
    ) -> Result<Letter, crate::render::RenderError> {
        let md = DocumentRenderer::new(templates, wf, "individual_letter", lang, Format::Md)?;
        let html_r = DocumentRenderer::new(templates, wf, "individual_letter", lang, Format::Html)?;
        let doc = &wf.documents["individual_letter"];
        let src = templates.source(&format!("{}.{}.md.hbs", doc.template, lang.code()))?;
        let mut with_markers = base.clone();
        let mut markers = serde_json::Map::new();
        for f in FIELDS {
            markers.insert((*f).to_string(), Value::String(marker(f)));
        }
        with_markers["recipient"] = Value::Object(markers);
        // Always render once: strict mode finds template errors before the first row.
        let text = md.render_markdown(&with_markers)?;
        let html = markdown_to_html(&html_r.render_markdown(&with_markers)?);
        let fast = only_plain_uses(&src);
        let subject = match lang {
            Lang::Fr => format!("Information importante sur vos données personnelles — {org_name}"),
            Lang::En => format!("Important information about your personal data — {org_name}"),
            Lang::Nl => format!("Belangrijke informatie over uw persoonsgegevens — {org_name}"),
        };
        Ok(Letter {
            lang,
            text: fast.then_some(text),
            html: fast.then_some(html),
            subject,
            md,
            html_r,
            base,
        })
    }

    pub fn render(&self, r: &Recipient) -> Result<Rendered, crate::render::RenderError> {
        let view = recipient_view(r, self.lang);
        match (&self.text, &self.html) {
            (Some(text), Some(html)) => {
                let mut t = text.clone();
                let mut h = html.clone();
                for f in FIELDS {
                    let m = marker(f);
                    let v = view[*f].as_str().unwrap_or_default();
                    if t.contains(&m) {
                        t = t.replace(&m, v);
                    }
                    if h.contains(&m) {
                        h = h.replace(&m, &html_escape(v));
                    }
                }
                Ok(Rendered {
                    text: t,
                    html: h,
                    subject: self.subject.clone(),
                })
            }
            _ => {
                let mut v = self.base.clone();
                v["recipient"] = view;
                Ok(Rendered {
                    text: self.md.render_markdown(&v)?,
                    html: markdown_to_html(&self.html_r.render_markdown(&v)?),
                    subject: self.subject.clone(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_uses_take_the_fast_path_and_others_do_not() {
        assert!(only_plain_uses(
            "{{recipient.greeting}}\nHello {{recipient.name}}"
        ));
        assert!(!only_plain_uses("{{#if recipient.name}}x{{/if}}"));
        assert!(!only_plain_uses("{{recipient.unknown}}"));
        assert!(!only_plain_uses("{{ recipient }}"));
    }

    #[test]
    fn html_escaping_covers_markup() {
        assert_eq!(
            html_escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
