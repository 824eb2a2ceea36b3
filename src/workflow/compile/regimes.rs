//! Regimes (`regimes:`): the rules besides the workflow's own, each with what it owns.

use super::{Compiler, is_id};
use crate::workflow::raw::{RawWorkflow, S};
use crate::workflow::{AUTHORITY_FIELDS, Authority, Regime, Workflow};
use std::collections::HashMap;

impl Compiler<'_> {
    /// `regimes:`: each names tracks, clocks and documents that exist and belong to no
    /// other regime, and an authority from a known profile field or `meta` key.
    pub(super) fn regimes(&mut self, wf: &mut Workflow, raw: &RawWorkflow) {
        let mut owner: HashMap<String, String> = HashMap::new();
        for (name, r) in &raw.regimes {
            if !is_id(name) {
                self.err(
                    &r.referenced,
                    format!(
                        "regime '{name}': its id must be lowercase letters, digits, '_' or '-'"
                    ),
                );
            }
            let r = &r.value;
            let mut claim = |c: &mut Self, kind: &str, s: &S| {
                let key = format!("{kind} {}", s.value);
                if let Some(other) = owner.insert(key, name.clone())
                    && &other != name
                {
                    c.err(
                        &s.referenced,
                        format!(
                            "regime '{name}': {kind} '{}' already belongs to regime '{other}'",
                            s.value
                        ),
                    );
                }
            };
            for t in &r.tracks {
                if !wf.tracks.contains_key(&t.value) {
                    self.unknown(t, "track", wf.tracks.keys());
                }
                claim(self, "track", t);
            }
            for c in &r.clocks {
                if !wf.clocks.contains_key(&c.value) {
                    self.unknown(c, "clock", wf.clocks.keys());
                }
                claim(self, "clock", c);
            }
            for d in &r.documents {
                if !wf.documents.contains_key(&d.value) {
                    self.unknown(d, "document", wf.documents.keys());
                }
                claim(self, "document", d);
            }
            let applies = r.applies.as_ref().and_then(|c| self.condition(wf, c));
            let authority = r.authority.as_ref().and_then(|a| {
                let meta_ok = |c: &mut Self, m: &S| {
                    if !wf.meta.contains_key(&m.value) {
                        c.unknown(m, "meta key", wf.meta.keys());
                    }
                };
                match (&a.value.profile, &a.value.meta) {
                    (Some(p), m) => {
                        if !AUTHORITY_FIELDS.contains(&p.value.as_str()) {
                            self.err(
                                &p.referenced,
                                format!(
                                    "regime '{name}': authority: unknown profile field '{}' (known: {})",
                                    p.value,
                                    AUTHORITY_FIELDS.join(", ")
                                ),
                            );
                        }
                        if let Some(m) = m {
                            meta_ok(self, m);
                        }
                        Some(Authority::Profile {
                            field: p.value.clone(),
                            choices: m.as_ref().map(|m| m.value.clone()),
                        })
                    }
                    (None, Some(m)) => {
                        meta_ok(self, m);
                        Some(Authority::Meta(m.value.clone()))
                    }
                    (None, None) => {
                        self.err(
                            &a.referenced,
                            format!("regime '{name}': authority needs 'profile' or 'meta'"),
                        );
                        None
                    }
                }
            });
            let tracks: Vec<String> = r.tracks.iter().map(|t| t.value.clone()).collect();
            // The clocks its tracks' events meet, then the ones it names.
            let mut clocks: Vec<String> = wf
                .clocks
                .iter()
                .filter(|(_, c)| {
                    c.met_by.iter().any(|e| {
                        wf.events
                            .get(e)
                            .is_some_and(|ev| tracks.contains(&ev.track))
                    })
                })
                .map(|(id, _)| id.clone())
                .collect();
            for c in &r.clocks {
                if !clocks.contains(&c.value) {
                    clocks.push(c.value.clone());
                }
            }
            wf.regimes.insert(
                name.clone(),
                Regime {
                    applies,
                    tracks,
                    clocks,
                    documents: r.documents.iter().map(|d| d.value.clone()).collect(),
                    authority,
                },
            );
        }
    }
}
