//! Facts: their types, choices and formats.

use super::Compiler;
use crate::workflow::raw::RawWorkflow;
use crate::workflow::{FactDef, FactType};
use indexmap::IndexMap;

impl Compiler<'_> {
    /// Facts: their types, choices and formats.
    pub(super) fn facts(&mut self, raw: &RawWorkflow) -> IndexMap<String, FactDef> {
        let mut facts = IndexMap::new();
        for (name, f) in &raw.facts {
            let kind = match f.value.kind.value.as_str() {
                "datetime" => FactType::DateTime,
                "integer" => FactType::Integer,
                "boolean" => FactType::Boolean,
                "text" => FactType::Text,
                "choice" => FactType::Choice,
                "list" => FactType::List,
                "emails" => FactType::Emails,
                other => {
                    self.err(
                        &f.value.kind.referenced,
                        format!("fact '{name}': unknown type '{other}' (datetime, integer, boolean, text, choice, list, emails)"),
                    );
                    FactType::Text
                }
            };
            if kind == FactType::Choice && f.value.choices.is_empty() {
                self.err(
                    &f.referenced,
                    format!("fact '{name}' is a choice with no choices"),
                );
            }
            if !f.value.choices.is_empty() && !matches!(kind, FactType::Choice | FactType::List) {
                self.err(
                    &f.referenced,
                    format!("fact '{name}': only choice and list facts take choices"),
                );
            }
            let format = match &f.value.format {
                None => None,
                Some(fmt) => {
                    let format = match fmt.value.as_str() {
                        "countries" => Some(crate::workflow::TextFormat::Countries),
                        "country_counts" => Some(crate::workflow::TextFormat::CountryCounts),
                        other => {
                            self.err(
                                &fmt.referenced,
                                format!("fact '{name}': unknown format '{other}' (countries, country_counts)"),
                            );
                            None
                        }
                    };
                    if kind != FactType::Text {
                        self.err(
                            &fmt.referenced,
                            format!("fact '{name}': only text facts take a format"),
                        );
                    }
                    format
                }
            };
            facts.insert(
                name.clone(),
                FactDef {
                    kind,
                    choices: f.value.choices.iter().map(|c| c.value.clone()).collect(),
                    format,
                },
            );
        }
        facts
    }
}
