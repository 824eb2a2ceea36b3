//! The catalogue of workflows a process knows, each with its assessment rules: the ones
//! embedded in the binary, replaced id by id by the files of a configured folder. It
//! sits above `workflow` and `assess`, so neither imports the other.

use crate::workflow::{Workflow, WorkflowError, WorkflowErrors, compile};
use indexmap::IndexMap;
use std::path::Path;
use std::sync::Arc;

/// The shipped workflows, compiled into the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("fr.yaml", include_str!("../workflows/fr.yaml")),
    ("be.yaml", include_str!("../workflows/be.yaml")),
    ("dora.yaml", include_str!("../workflows/dora.yaml")),
];

/// The shipped assessment rules, by their name relative to the workflows' folder.
pub const EMBEDDED_RULES: &[(&str, &str)] = &[(
    "rules/assessment.yaml",
    include_str!("../workflows/rules/assessment.yaml"),
)];

#[derive(Default, Clone)]
pub struct WorkflowSet {
    by_id: IndexMap<String, Arc<Workflow>>,
    /// Each workflow's assessment rules (the file its `assessment:` names), compiled
    /// against it.
    rules: IndexMap<String, Arc<crate::assess::Rules>>,
}

/// The assessment rules `wf` names, read from `dir` (the folder of its file) when
/// there, else from the embedded ones, and checked against `wf`. None: it names none.
pub fn rules_for(
    wf: &Workflow,
    dir: Option<&Path>,
) -> Option<Result<crate::assess::Rules, Vec<WorkflowError>>> {
    let name = wf.assessment.as_ref()?;
    let from_dir = dir.map(|d| d.join(name)).filter(|p| p.is_file());
    Some(match from_dir {
        Some(path) => {
            let origin = path.display().to_string();
            match std::fs::read(&path) {
                Err(e) => Err(vec![WorkflowError {
                    file: origin,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                }]),
                Ok(bytes) => utf8(&origin, &bytes)
                    .map_err(|e| vec![e])
                    .and_then(|text| crate::assess::compile_rules(&origin, text, wf)),
            }
        }
        None => match EMBEDDED_RULES.iter().find(|(n, _)| n == name) {
            Some((n, text)) => crate::assess::compile_rules(&format!("embedded:{n}"), text, wf),
            None => Err(vec![WorkflowError {
                file: wf.origin.clone(),
                line: 0,
                column: 0,
                message: format!(
                    "assessment: no rules file '{name}' (in the workflows folder or embedded)"
                ),
            }]),
        },
    })
}

impl WorkflowSet {
    /// The embedded workflows, then those of `dir` (every `*.yaml`), which replace an
    /// embedded one with the same id. All files are checked; all errors are returned.
    pub fn load(dir: Option<&Path>) -> Result<WorkflowSet, WorkflowErrors> {
        let mut set = WorkflowSet::default();
        let mut errors = Vec::new();
        for (name, text) in EMBEDDED {
            match compile(&format!("embedded:{name}"), text) {
                Ok(wf) => set.insert(wf),
                Err(e) => errors.extend(e.0),
            }
        }
        if let Some(dir) = dir {
            match Self::files_in(dir) {
                Ok(files) => {
                    for path in files {
                        match Self::compile_file(&path) {
                            Ok(wf) => set.insert(wf),
                            Err(e) => errors.extend(e.0),
                        }
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        let mut rules = IndexMap::new();
        for (id, wf) in &set.by_id {
            let embedded = wf.origin.starts_with("embedded:");
            match rules_for(wf, if embedded { None } else { dir }) {
                None => {}
                Some(Ok(r)) => {
                    rules.insert(id.clone(), Arc::new(r));
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

    pub fn compile_file(path: &Path) -> Result<Workflow, WorkflowErrors> {
        let origin = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            WorkflowErrors(vec![WorkflowError {
                file: origin.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
            }])
        })?;
        let text = utf8(&origin, &bytes).map_err(|e| WorkflowErrors(vec![e]))?;
        compile(&origin, text)
    }

    fn insert(&mut self, wf: Workflow) {
        self.by_id.insert(wf.id.clone(), Arc::new(wf));
    }

    pub fn get(&self, id: &str) -> Option<Arc<Workflow>> {
        self.by_id.get(id).cloned()
    }

    /// The assessment rules of workflow `id`, if it names any.
    pub fn rules(&self, id: &str) -> Option<Arc<crate::assess::Rules>> {
        self.rules.get(id).cloned()
    }

    pub fn ids(&self) -> impl Iterator<Item = &String> {
        self.by_id.keys()
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
    fn invalid_utf8_is_reported_where_it_is() {
        let e = super::utf8("f.yaml", b"id: fr\ntitle: caf\xc3\xa9 \xff\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 13), "{e}");
        assert!(e.message.contains("0xFF"), "{e}");
        let e = super::utf8("f.yaml", b"\xc3").unwrap_err();
        assert_eq!((e.line, e.column), (1, 1), "{e}");
        assert_eq!(super::utf8("f.yaml", b"ok").unwrap(), "ok");
    }
}
