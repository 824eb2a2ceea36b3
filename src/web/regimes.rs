//! The three questions of which regimes apply to an organisation (NIS2, DORA, cyber
//! insurance: yes / no / not known), as the setup page and the organisation page ask
//! them (issue 21 part 3). Kept apart from `pages` so both forms share one source.

use super::page::word;
use crate::time::Lang;
use serde_json::{Value, json};

/// The choices of one yes / no / not known field, `value` selected.
pub fn options(lang: Lang, value: &str) -> Vec<Value> {
    crate::org::ANSWERS
        .iter()
        .map(|a| {
            let label = match *a {
                "" => word(lang, "not_known"),
                other => word(lang, other),
            };
            json!({"value": a, "label": label, "selected": *a == value})
        })
        .collect()
}

/// One select per regime field, with the value `value_of(field)` selected.
pub fn questions(lang: Lang, value_of: impl Fn(&str) -> String) -> Vec<Value> {
    crate::org::REGIME_FIELDS
        .iter()
        .map(|f| {
            json!({
                "name": f,
                "label": word(lang, &format!("org_{f}")),
                "options": options(lang, &value_of(f)),
            })
        })
        .collect()
}
