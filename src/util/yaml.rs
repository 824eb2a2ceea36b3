//! One door to the YAML parser (serde-saphyr): duplicate keys rejected, and errors
//! reduced to a line, a column and a one-line message.

use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct YamlError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let options = serde_saphyr::options! {
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as u32, l.column() as u32))
            .unwrap_or((1, 1));
        let full = e.to_string();
        // The parser appends the position itself; we print it in front instead.
        let message = full
            .split(" at line ")
            .next()
            .unwrap_or(&full)
            .lines()
            .next()
            .unwrap_or("invalid YAML")
            .trim()
            // Library advice that means nothing to a DPO.
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
            .to_string();
        YamlError {
            line,
            column,
            message,
        }
    })
}
