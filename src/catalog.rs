//! The catalogue of workflows a process knows, each with its assessment rules: the ones
//! embedded in the binary, replaced id by id by the files of a configured folder. It
//! sits above `workflow` and `assess`, so neither imports the other.

use crate::workflow::{Workflow, WorkflowError, WorkflowErrors, compile};
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use std::path::Path;
use std::sync::Arc;

/// The shipped workflows, compiled into the binary. A file with `extends:` names its
/// base among these (or, in a folder, beside it).
pub const EMBEDDED: &[(&str, &str)] = &[
    ("fr.yaml", include_str!("../workflows/fr.yaml")),
    ("be.yaml", include_str!("../workflows/be.yaml")),
    ("dora.yaml", include_str!("../workflows/dora.yaml")),
    // The Digital Omnibus proposal (not adopted): versions with no `effective_from`.
    (
        "fr-omnibus-proposal.yaml",
        include_str!("../workflows/fr-omnibus-proposal.yaml"),
    ),
    (
        "be-omnibus-proposal.yaml",
        include_str!("../workflows/be-omnibus-proposal.yaml"),
    ),
];

/// The embedded texts that are proposals (a `version` and no `effective_from`): no case
/// ever pins one, so a command that only reads and writes cases skips compiling them
/// (`WorkflowSet::load_in_force`); they are more than half of the start-up's YAML. A
/// unit test keeps this list equal to what compiling says.
pub const EMBEDDED_PROPOSALS: &[&str] = &["fr-omnibus-proposal.yaml", "be-omnibus-proposal.yaml"];

/// The shipped assessment rules, by their name relative to the workflows' folder.
pub const EMBEDDED_RULES: &[(&str, &str)] = &[
    (
        "rules/assessment.yaml",
        include_str!("../workflows/rules/assessment.yaml"),
    ),
    (
        "rules/assessment-omnibus-proposal.yaml",
        include_str!("../workflows/rules/assessment-omnibus-proposal.yaml"),
    ),
];

#[derive(Default, Clone)]
pub struct WorkflowSet {
    /// Each id's version in force today (or its only text): what a plain id names.
    by_id: IndexMap<String, Arc<Workflow>>,
    /// Every version of each id: dated ones by `effective_from`, then the rest.
    versions: IndexMap<String, Vec<Arc<Workflow>>>,
    /// Each workflow's assessment rules (the file its `assessment:` names), compiled
    /// against it, by its plain id (the version in force today) and by `id@version`.
    rules: IndexMap<String, Arc<crate::assess::Rules>>,
}

fn read_error(origin: &str, e: impl std::fmt::Display) -> WorkflowError {
    WorkflowError {
        file: origin.to_string(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    }
}

/// `text` with its `extends:` resolved: the base's text (found by `base`, which takes
/// the name written) merged with it. Unchanged when it extends nothing.
pub fn resolve_extends(
    origin: &str,
    text: &str,
    base: &dyn Fn(&str) -> Option<String>,
) -> Result<String, WorkflowError> {
    let Some(name) = crate::workflow::overlay::extends_of(text) else {
        return Ok(text.to_string());
    };
    let err = |message: String| WorkflowError {
        file: origin.to_string(),
        line: 1,
        column: 1,
        message,
    };
    let base_text = base(&name).ok_or_else(|| {
        err(format!(
            "extends: no file {} beside it (or embedded)",
            crate::util::quote(&name)
        ))
    })?;
    crate::workflow::overlay::merge(&base_text, text).map_err(err)
}

/// The text of `name` in `dir` when there, else the embedded one of that name.
fn beside(dir: Option<&Path>, embedded: &[(&str, &str)], name: &str) -> Option<String> {
    if name.starts_with('/') || name.split('/').any(|p| p == "..") {
        return None;
    }
    if let Some(text) = dir.and_then(|d| std::fs::read_to_string(d.join(name)).ok()) {
        return Some(text);
    }
    embedded
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t.to_string())
}

/// The assessment rules `wf` names, read from `dir` (the folder of its file) when
/// there, else from the embedded ones, and checked against `wf`. None: it names none.
pub fn rules_for(
    wf: &Workflow,
    dir: Option<&Path>,
) -> Option<Result<crate::assess::Rules, Vec<WorkflowError>>> {
    let name = wf.assessment.as_ref()?;
    let from_dir = dir.map(|d| d.join(name)).filter(|p| p.is_file());
    let text = match from_dir {
        Some(path) => {
            let origin = path.display().to_string();
            match std::fs::read(&path) {
                Err(e) => Err(vec![read_error(&origin, e)]),
                Ok(bytes) => utf8(&origin, &bytes)
                    .map(|t| (origin.clone(), t.to_string()))
                    .map_err(|e| vec![e]),
            }
        }
        None => match EMBEDDED_RULES.iter().find(|(n, _)| n == name) {
            Some((n, text)) => Ok((format!("embedded:{n}"), text.to_string())),
            None => Err(vec![WorkflowError {
                file: wf.origin.clone(),
                line: 0,
                column: 0,
                message: format!(
                    "assessment: no rules file '{name}' (in the workflows folder or embedded)"
                ),
            }]),
        },
    };
    Some(text.and_then(|(origin, text)| {
        // A rules file extending another names it relative to its own folder.
        let folder = name.rsplit_once('/').map(|(f, _)| f).unwrap_or("");
        let base = |n: &str| {
            let n = if folder.is_empty() {
                n.to_string()
            } else {
                format!("{folder}/{n}")
            };
            beside(dir, EMBEDDED_RULES, &n)
        };
        let text = resolve_extends(&origin, &text, &base).map_err(|e| vec![e])?;
        crate::assess::compile_rules(&origin, &text, wf)
    }))
}

impl WorkflowSet {
    /// The embedded workflows, then those of `dir` (every `*.yaml`): an id the folder
    /// defines replaces every embedded version of it. All files are checked; all errors
    /// are returned.
    pub fn load(dir: Option<&Path>) -> Result<WorkflowSet, WorkflowErrors> {
        Self::load_with(dir, true)
    }

    /// As `load`, without the embedded proposals (`EMBEDDED_PROPOSALS`): what every
    /// command needs that does not try a proposal (`whatif`), list or check workflows,
    /// or serve the web pages (whose case page offers the what-if).
    pub fn load_in_force(dir: Option<&Path>) -> Result<WorkflowSet, WorkflowErrors> {
        Self::load_with(dir, false)
    }

    fn load_with(dir: Option<&Path>, proposals: bool) -> Result<WorkflowSet, WorkflowErrors> {
        let mut errors = Vec::new();
        let mut embedded = Vec::new();
        for (name, text) in EMBEDDED {
            if !proposals && EMBEDDED_PROPOSALS.contains(name) {
                continue;
            }
            let origin = format!("embedded:{name}");
            let base = |n: &str| beside(None, EMBEDDED, n);
            match resolve_extends(&origin, text, &base)
                .map_err(|e| WorkflowErrors(vec![e]))
                .and_then(|t| compile(&origin, &t))
            {
                Ok(wf) => embedded.push(wf),
                Err(e) => errors.extend(e.0),
            }
        }
        let mut local = Vec::new();
        if let Some(dir) = dir {
            match Self::files_in(dir) {
                Ok(files) => {
                    for path in files {
                        match Self::compile_file(&path) {
                            Ok(wf) => local.push(wf),
                            Err(e) => errors.extend(e.0),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let mut all: Vec<Workflow> = embedded
            .into_iter()
            .filter(|e| !local.iter().any(|l| l.id == e.id))
            .collect();
        all.extend(local);
        let mut set = WorkflowSet::default();
        for wf in all {
            set.versions
                .entry(wf.id.clone())
                .or_default()
                .push(Arc::new(wf));
        }
        errors.extend(set.order_versions());
        let mut rules = IndexMap::new();
        for wf in set.versions.values().flatten() {
            let embedded = wf.origin.starts_with("embedded:");
            match rules_for(wf, if embedded { None } else { dir }) {
                None => {}
                Some(Ok(r)) => {
                    let r = Arc::new(r);
                    if set.by_id.get(&wf.id).is_some_and(|d| Arc::ptr_eq(d, wf)) {
                        rules.insert(wf.id.clone(), r.clone());
                    }
                    rules.insert(wf.key(), r);
                }
                Some(Err(e)) => errors.extend(e),
            }
        }
        set.rules = rules;
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(WorkflowErrors(errors))
        }
    }

    /// Checks the versions of each id (several texts: each names its version, no two
    /// the same version or date), sorts them, and picks the one a plain id names.
    fn order_versions(&mut self) -> Vec<WorkflowError> {
        let mut errors = Vec::new();
        let now = crate::time::now();
        for (id, list) in self.versions.iter_mut() {
            list.sort_by_key(|w| (w.effective_from.is_none(), w.effective_from));
            let err = |wf: &Workflow, at: (u32, u32), message: String| WorkflowError {
                file: wf.origin.clone(),
                line: at.0,
                column: at.1,
                message,
            };
            if list.len() > 1 {
                for wf in list.iter().filter(|w| w.version.is_none()) {
                    errors.push(err(
                        wf,
                        wf.version_at,
                        format!("version: workflow '{id}' has several files: each must name its version (`version:`)"),
                    ));
                }
            }
            for (i, wf) in list.iter().enumerate() {
                for other in &list[..i] {
                    if wf.version.is_some() && wf.version == other.version {
                        errors.push(err(
                            wf,
                            wf.version_at,
                            format!(
                                "version: '{}' is also the version of {}",
                                wf.version.as_deref().unwrap_or_default(),
                                other.origin
                            ),
                        ));
                    } else if wf.effective_from.is_some()
                        && wf.effective_from == other.effective_from
                    {
                        errors.push(err(
                            wf,
                            wf.effective_from_at,
                            format!(
                                "effective_from: {} is also the date of {} (two versions cannot come into force the same day)",
                                wf.effective_from.map(|d| d.to_string()).unwrap_or_default(),
                                other.origin
                            ),
                        ));
                    }
                }
            }
            // Today's version; before the first date, the first; proposals never.
            let dated: Vec<_> = list.iter().filter(|w| !w.is_proposal()).collect();
            let current = dated
                .iter()
                .rev()
                .find(|w| w.in_force_from().is_none_or(|t| t <= now))
                .or(dated.first());
            if let Some(wf) = current {
                self.by_id.insert(id.clone(), (*wf).clone());
            }
        }
        errors
    }

    fn files_in(dir: &Path) -> Result<Vec<std::path::PathBuf>, WorkflowError> {
        let read = std::fs::read_dir(dir).map_err(|e| WorkflowError {
            file: dir.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the workflows folder: {e}"),
        })?;
        let mut files: Vec<_> = read
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
            .collect();
        files.sort();
        Ok(files)
    }

    /// One file, its `extends:` resolved beside it (else among the embedded files).
    pub fn compile_file(path: &Path) -> Result<Workflow, WorkflowErrors> {
        let origin = path.display().to_string();
        let bytes =
            std::fs::read(path).map_err(|e| WorkflowErrors(vec![read_error(&origin, e)]))?;
        let text = utf8(&origin, &bytes).map_err(|e| WorkflowErrors(vec![e]))?;
        let base = |n: &str| beside(path.parent(), EMBEDDED, n);
        let text = resolve_extends(&origin, text, &base).map_err(|e| WorkflowErrors(vec![e]))?;
        compile(&origin, &text)
    }

    /// A workflow by plain id (the version in force today) or `id@version`.
    pub fn get(&self, key: &str) -> Option<Arc<Workflow>> {
        match key.split_once('@') {
            None => self.by_id.get(key).cloned(),
            Some((id, version)) => self
                .versions
                .get(id)?
                .iter()
                .find(|w| w.version.as_deref() == Some(version))
                .cloned(),
        }
    }

    /// The version of `key` a case aware at `aware` pins: for a plain id, the latest
    /// version in force at that instant; `id@version` must be that one. Err: why not
    /// (one line).
    pub fn in_force(&self, key: &str, aware: DateTime<Utc>) -> Result<Arc<Workflow>, String> {
        let (id, asked) = match key.split_once('@') {
            Some((id, v)) => (id, Some(v)),
            None => (key, None),
        };
        let list = self.versions.get(id).ok_or_else(|| {
            format!(
                "unknown workflow {} (known: {})",
                crate::util::quote(key),
                self.keys().join(", ")
            )
        })?;
        let in_force = list
            .iter()
            .rev()
            .find(|w| !w.is_proposal() && w.in_force_from().is_none_or(|t| t <= aware))
            .cloned();
        let Some(wf) = in_force else {
            let first = list.iter().find_map(|w| w.effective_from);
            return Err(match first {
                Some(d) => format!(
                    "workflow {}: no version in force on {} (the first is in force from {d})",
                    crate::util::quote(id),
                    aware.format("%Y-%m-%d")
                ),
                None => format!(
                    "workflow {}: only proposals, none in force; try one with `vigie whatif`",
                    crate::util::quote(id)
                ),
            });
        };
        match asked {
            Some(v) if wf.version.as_deref() != Some(v) => {
                let named = self.get(key).ok_or_else(|| {
                    format!(
                        "unknown workflow {} (known: {})",
                        crate::util::quote(key),
                        self.keys().join(", ")
                    )
                })?;
                Err(if named.is_proposal() {
                    format!(
                        "workflow {}: a proposal, not in force; a case pins the version in force ({}), try the proposal with `vigie whatif`",
                        crate::util::quote(key),
                        wf.key()
                    )
                } else {
                    format!(
                        "workflow {} is not the version in force on {}: that is {}",
                        crate::util::quote(key),
                        aware.format("%Y-%m-%d"),
                        wf.key()
                    )
                })
            }
            _ => Ok(wf),
        }
    }

    /// The assessment rules of workflow `key` (a plain id or `id@version`), if it
    /// names any.
    pub fn rules(&self, key: &str) -> Option<Arc<crate::assess::Rules>> {
        self.rules.get(key).cloned()
    }

    /// The plain ids (each names its version in force today).
    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.by_id.keys()
    }

    /// Every version of every id, in order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Workflow>> {
        self.versions.values().flatten()
    }

    /// Every name `--workflow` takes: the plain ids, then each `id@version`.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.by_id.keys().cloned().collect();
        keys.extend(self.all().filter(|w| w.version.is_some()).map(|w| w.key()));
        keys
    }
}

/// The text of a file, or an error at the line and column of its first byte that is not
/// UTF-8 (it was reported at 0:0).
pub fn utf8<'b>(origin: &str, bytes: &'b [u8]) -> Result<&'b str, WorkflowError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid up to here");
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        WorkflowError {
            file: origin.to_string(),
            line: line as u32,
            column: column as u32,
            message: format!(
                "invalid UTF-8 (byte 0x{:02X}): save the file as UTF-8",
                bytes[e.valid_up_to()]
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_proposals_are_listed_and_skipped_only_when_asked() {
        let full = super::WorkflowSet::load(None).expect("the embedded workflows");
        let lean = super::WorkflowSet::load_in_force(None).expect("the embedded workflows");
        let listed: Vec<String> = full
            .all()
            .filter(|w| w.is_proposal())
            .map(|w| w.origin.trim_start_matches("embedded:").to_string())
            .collect();
        assert_eq!(listed, super::EMBEDDED_PROPOSALS, "EMBEDDED_PROPOSALS");
        assert!(lean.all().all(|w| !w.is_proposal()));
        let keys = |s: &super::WorkflowSet| {
            s.all()
                .filter(|w| !w.is_proposal())
                .map(|w| w.key())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&lean), keys(&full), "the same versions in force");
        for id in full.ids() {
            assert_eq!(
                lean.rules(id).map(|r| r.version.clone()),
                full.rules(id).map(|r| r.version.clone()),
                "{id}"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_reported_where_it_is() {
        let e = super::utf8("f.yaml", b"id: fr\ntitle: caf\xc3\xa9 \xff\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13), "{e}");
        assert!(e.message.contains("0xFF"), "{e}");
        let e = super::utf8("f.yaml", b"\xc3").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1), "{e}");
        assert_eq!(super::utf8("f.yaml", b"ok").unwrap(), "ok");
    }
}
