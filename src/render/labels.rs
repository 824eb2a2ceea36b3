//! The labels of one language: how ids, facts' values, clocks' statuses and bases, and
//! placeholders are written, the shared vocabulary overridden by the workflow's own. They
//! are also how `assess` writes its reasons (`assess::Labeler`).

use crate::assess::Labeler;
use crate::time::Lang;
use crate::workflow::Workflow;
use indexmap::IndexMap;
use serde_json::{Map, Value};

/// Labels for one language: the shared vocabulary, overridden by the workflow's own.
pub struct Labels {
    map: IndexMap<String, String>,
    pub(super) lang: Lang,
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

    /// The label of a fact's value: `<fact>=<value>` when the value needs words of its
    /// own for that fact (`risk=risk`: "Risk (not high)"), else the value's label.
    pub fn value<'a>(&'a self, fact: &str, value: &'a str) -> &'a str {
        self.find(&format!("{fact}={value}"))
            .unwrap_or_else(|| self.get(value))
    }

    /// A clock's status in words: `status_<status>.<clock>` ("notified late" for the
    /// 72 hours), else `status_<status>`.
    pub fn status(&self, clock: &str, status: &str) -> String {
        self.find(&format!("status_{status}.{clock}"))
            .map(str::to_string)
            .unwrap_or_else(|| self.get(&format!("status_{status}")).to_string())
    }

    /// The language of these labels.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The label of an id, or the id itself.
    pub fn get<'a>(&'a self, id: &'a str) -> &'a str {
        self.map.get(id).map(String::as_str).unwrap_or(id)
    }

    pub fn placeholder(&self, fact: &str) -> String {
        self.placeholder_text(self.get(fact))
    }

    /// A visible placeholder for `what` (already in this language).
    pub fn placeholder_text(&self, what: &str) -> String {
        match self.lang {
            Lang::Fr => format!("[À compléter : {what}]"),
            Lang::En => format!("[To complete: {what}]"),
            Lang::Nl => format!("[In te vullen: {what}]"),
        }
    }
}

impl Labeler for Labels {
    fn label(&self, id: &str) -> String {
        self.get(id).to_string()
    }
}
