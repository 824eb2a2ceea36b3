//! `extends:`: a file written as the changes to another (a workflow version, a rules
//! file). The base and the changes are merged into one self-contained text, which is
//! what gets compiled, hashed and pinned: a case never depends on two files.
//!
//! The merge goes three levels deep: a section (`clocks`, `meta`, `conclusions`), an
//! entry of it (`art33`, `authority_channel`, `notify`), a field of that entry
//! (`within`, `applies`, `text`). A field given replaces the base's whole (a condition
//! is never mixed with the base's); sections and entries not given stay as they are.
//! `version` and `effective_from` are never inherited: they belong to each file.

use serde_json::{Map, Value};

/// The base's name when `text` starts from another file (`extends: fr.yaml`), read
/// without compiling. None: a plain file (or not YAML: the compiler says why).
pub fn extends_of(text: &str) -> Option<String> {
    // Cheap test first: most files do not extend anything.
    if !text.lines().any(|l| l.starts_with("extends:")) {
        return None;
    }
    let v: Value = crate::util::yaml::from_str(text).ok()?;
    v.get("extends")?.as_str().map(str::to_string)
}

/// `changes` applied to `base` (both YAML texts): the merged text (JSON, which YAML
/// reads), or a message naming what could not be read.
pub fn merge(base: &str, changes: &str) -> Result<String, String> {
    let base: Value = crate::util::yaml::from_str(base).map_err(|e| format!("its base: {e}"))?;
    let changes: Value = crate::util::yaml::from_str(changes).map_err(|e| e.to_string())?;
    let (Value::Object(mut base), Value::Object(mut changes)) = (base, changes) else {
        return Err("extends: the file and its base must both be mappings".into());
    };
    changes.remove("extends");
    base.remove("version");
    base.remove("effective_from");
    if base.contains_key("extends") {
        return Err("extends: its base extends another file; extend the base itself".into());
    }
    merge_map(&mut base, changes, 1);
    serde_json::to_string_pretty(&Value::Object(base)).map_err(|e| e.to_string())
}

fn merge_map(base: &mut Map<String, Value>, changes: Map<String, Value>, depth: u8) {
    for (k, v) in changes {
        match (base.get_mut(&k), v) {
            (Some(Value::Object(b)), Value::Object(c)) if depth < 3 => merge_map(b, c, depth + 1),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_replaces_the_base_s_whole_and_the_rest_stays() {
        let base = "id: fr\nversion: a\neffective_from: 2018-05-25\nclocks:\n  art33:\n    within: 72h\n    applies: { fact: risk, not_in: [none] }\n  art34: { within: 72h }\n";
        let over = "extends: fr.yaml\nversion: b\nclocks:\n  art33:\n    within: 96h\n    applies: { fact: risk, equals: high }\n";
        assert_eq!(extends_of(over).as_deref(), Some("fr.yaml"));
        assert_eq!(extends_of(base), None);
        let m: Value = serde_json::from_str(&merge(base, over).unwrap()).unwrap();
        assert_eq!(m["version"], "b");
        assert!(m.get("effective_from").is_none());
        assert!(m.get("extends").is_none());
        assert_eq!(m["clocks"]["art33"]["within"], "96h");
        assert_eq!(
            m["clocks"]["art33"]["applies"],
            serde_json::json!({"fact": "risk", "equals": "high"})
        );
        assert_eq!(m["clocks"]["art34"]["within"], "72h");
    }
}
