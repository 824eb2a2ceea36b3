//! Rendered pages kept for the next request (issue 14): the case page and the dashboard.
//!
//! Measured with `perf`: a case page spent half its time in handlebars and most of the
//! rest building the view (a value per fact, its options and labels, the assessment),
//! for a page that only changes when the case does. A page is therefore rendered once
//! per *version* and kept as a [`Frame`]: the text with holes ("slots") for what
//! changes on every request, which are filled in afterwards:
//!
//! - the session's CSRF token (slot 0): never inside a kept render, so one user's
//!   token never reaches another;
//! - the countdown texts ("2 h 5 min 10 s left"), which change every second.
//!
//! The version is everything else the page depends on, compared in full (no hash):
//! - case page: organisation, case, its last event (sequence number and hash: a write by
//!   another `vigie serve` on the same database is a new version on the next read),
//!   page language, the caller's role, the assessment's language (the organisation's
//!   profile), and the status class of every clock (pending, due within 24 h, overdue...);
//! - dashboard: organisation, its open cases (each one's last event), language, role,
//!   page number, the class of each chip shown and the overdue / due-soon counts.
//!
//! Pages shown after a refused form (what was typed) are never kept. Nothing here is
//! needed by another instance: each keeps its own frames and checks them against the
//! database on every request. With `VIGIE_PAGE_CACHE_CHECK=1` (the test suites set it)
//! every frame served from the cache is compared with a fresh render, and a difference is
//! a 500 naming the page: a view that gains something its version does not cover fails
//! the tests of whoever added it instead of showing a stale page.

use crate::case::ClockView;
use crate::store::Loaded;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// At most this many frames of each kind are kept (a case page is 30-90 KB); when full,
/// the cache starts again empty.
const MAX_FRAMES: usize = 512;
const MAX_LISTS: usize = 1024;

/// A rendered page with holes: text, and the slots between.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    parts: Vec<Part>,
    len: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Slot(usize),
}

impl Frame {
    /// The page with `values[n]` in slot n, HTML-escaped as handlebars escapes `{{x}}`.
    #[cfg(test)]
    pub fn fill(&self, values: &[String]) -> String {
        let mut out = String::with_capacity(self.len + 256);
        self.fill_into(&mut out, values);
        out
    }

    /// [`Frame::fill`] at the end of `out` (the page around it: one copy of the text).
    pub fn fill_into(&self, out: &mut String, values: &[String]) {
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Slot(n) => {
                    out.push_str(&handlebars::html_escape(
                        values.get(*n).map(String::as_str).unwrap_or(""),
                    ));
                }
            }
        }
    }

    /// The length of the text around the slots.
    pub fn text_len(&self) -> usize {
        self.len
    }
}

/// The markers a view carries where a slot goes: a control character and a random
/// value drawn at start, so no text a user typed can fake one (handlebars escapes
/// none of it).
pub struct Marks {
    prefix: String,
}

pub const CSRF_SLOT: usize = 0;

impl Marks {
    fn new() -> Marks {
        Marks {
            prefix: format!("\u{1}{}:", crate::store::random_hex(12)),
        }
    }

    /// What a view holds in place of slot `n`.
    pub fn slot(&self, n: usize) -> String {
        format!("{}{n}\u{1}", self.prefix)
    }

    /// What the layout holds in place of the page's body.
    pub fn body(&self) -> String {
        format!("{}body\u{1}", self.prefix)
    }

    /// Splits a render made from a view holding markers into a frame.
    pub fn frame(&self, rendered: &str) -> Frame {
        let mut parts = Vec::new();
        let mut pieces = rendered.split(self.prefix.as_str());
        if let Some(first) = pieces.next() {
            parts.push(Part::Text(first.to_string()));
        }
        for piece in pieces {
            // "n\u{1}rest": a marker we wrote; anything else is kept as text.
            match piece
                .split_once('\u{1}')
                .and_then(|(n, rest)| n.parse::<usize>().ok().map(|n| (n, rest)))
            {
                Some((n, rest)) => {
                    parts.push(Part::Slot(n));
                    parts.push(Part::Text(rest.to_string()));
                }
                None => parts.push(Part::Text(format!("{}{piece}", self.prefix))),
            }
        }
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Frame {
            parts,
            len: rendered.len(),
        }
    }
}

/// What a kept case page was rendered from, besides (organisation, case, language, role).
#[derive(PartialEq, Eq, Clone, Debug)]
pub struct CaseVersion {
    pub seq: i64,
    pub last_hash: String,
    pub assess_lang: Option<crate::time::Lang>,
    /// The status class of each clock, in order.
    pub phase: String,
    /// The case's access log as the DPO's page shows it: entries and the newest id
    /// (empty for other roles).
    pub access: (usize, i64),
}

type CaseKey = (String, String, crate::time::Lang, &'static str);

/// An organisation's open cases as the dashboard orders them (open, nearest deadline
/// first), each with its clocks computed once; valid while `heads` is what the
/// database lists.
pub struct OrgList {
    pub generation: u64,
    /// (case id, sequence number, last hash), by id.
    pub heads: Vec<(String, i64, String)>,
    pub rows: Vec<Listed>,
}

pub struct Listed {
    pub loaded: Arc<Loaded>,
    pub clocks: Vec<ClockView>,
    /// The nearest due time of a running clock (independent of the time).
    pub nearest: Option<DateTime<Utc>>,
}

#[derive(PartialEq, Eq, Clone, Debug)]
pub struct DashVersion {
    pub generation: u64,
    pub phase: String,
}

type DashKey = (String, crate::time::Lang, &'static str, usize);

pub struct PageCache {
    pub marks: Marks,
    /// Compare every frame served with a fresh render (`VIGIE_PAGE_CACHE_CHECK=1`).
    pub check: bool,
    cases: Mutex<HashMap<CaseKey, (CaseVersion, Arc<Frame>)>>,
    lists: Mutex<HashMap<String, Arc<OrgList>>>,
    dashboards: Mutex<HashMap<DashKey, (DashVersion, Arc<Frame>)>>,
    generations: AtomicU64,
}

impl Default for PageCache {
    fn default() -> Self {
        PageCache::new()
    }
}

impl PageCache {
    pub fn new() -> PageCache {
        PageCache {
            marks: Marks::new(),
            check: std::env::var("VIGIE_PAGE_CACHE_CHECK").is_ok_and(|v| v == "1"),
            cases: Mutex::new(HashMap::new()),
            lists: Mutex::new(HashMap::new()),
            dashboards: Mutex::new(HashMap::new()),
            generations: AtomicU64::new(1),
        }
    }

    pub fn case(
        &self,
        org: &str,
        id: &str,
        lang: crate::time::Lang,
        role: &'static str,
        v: &CaseVersion,
    ) -> Option<Arc<Frame>> {
        let key = (org.to_string(), id.to_string(), lang, role);
        match self.cases.lock().expect("page cache").get(&key) {
            Some((kept, f)) if kept == v => Some(f.clone()),
            _ => None,
        }
    }

    pub fn keep_case(
        &self,
        org: &str,
        id: &str,
        lang: crate::time::Lang,
        role: &'static str,
        v: CaseVersion,
        f: Arc<Frame>,
    ) {
        let mut m = self.cases.lock().expect("page cache");
        if m.len() >= MAX_FRAMES {
            m.clear();
        }
        m.insert((org.to_string(), id.to_string(), lang, role), (v, f));
    }

    /// The organisation's kept list when the database still lists exactly `heads`.
    pub fn list(&self, org: &str, heads: &[(String, i64, String)]) -> Option<Arc<OrgList>> {
        match self.lists.lock().expect("page cache").get(org) {
            Some(l) if l.heads == heads => Some(l.clone()),
            _ => None,
        }
    }

    pub fn keep_list(
        &self,
        org: &str,
        heads: Vec<(String, i64, String)>,
        rows: Vec<Listed>,
    ) -> Arc<OrgList> {
        let l = Arc::new(OrgList {
            generation: self.generations.fetch_add(1, Ordering::Relaxed),
            heads,
            rows,
        });
        let mut m = self.lists.lock().expect("page cache");
        if m.len() >= MAX_LISTS {
            m.clear();
        }
        m.insert(org.to_string(), l.clone());
        l
    }

    pub fn dashboard(
        &self,
        org: &str,
        lang: crate::time::Lang,
        role: &'static str,
        page: usize,
        v: &DashVersion,
    ) -> Option<Arc<Frame>> {
        let key = (org.to_string(), lang, role, page);
        match self.dashboards.lock().expect("page cache").get(&key) {
            Some((kept, f)) if kept == v => Some(f.clone()),
            _ => None,
        }
    }

    pub fn keep_dashboard(
        &self,
        org: &str,
        lang: crate::time::Lang,
        role: &'static str,
        page: usize,
        v: DashVersion,
        f: Arc<Frame>,
    ) {
        let mut m = self.dashboards.lock().expect("page cache");
        if m.len() >= MAX_FRAMES {
            m.clear();
        }
        m.insert((org.to_string(), lang, role, page), (v, f));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_fills_its_slots_escaped_and_keeps_look_alike_text() {
        let m = Marks::new();
        let mut hb = handlebars::Handlebars::new();
        hb.register_template_string("t", "<p title=\"{{a}}\">{{b}} {{a}}</p>{{c}}")
            .unwrap();
        let view = serde_json::json!({
            "a": m.slot(0),
            "b": format!("x{}y", m.slot(1)),
            // Text that looks like a marker without being one stays text.
            "c": format!("{}z\u{1}", m.prefix),
        });
        let text = hb.render("t", &view).unwrap();
        let f = m.frame(&text);
        assert_eq!(
            f.fill(&["tok".into(), "<1 h>".into()]),
            format!("<p title=\"tok\">x&lt;1 h&gt;y tok</p>{}z\u{1}", m.prefix)
        );
        // Another process draws other markers.
        assert_ne!(Marks::new().prefix, m.prefix);
    }
}
