//! The `audit` settings (issue 26): the time-stamping authority that stamps the
//! register's checkpoints, and the key that signs them.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    /// The RFC 3161 time-stamping authority (`audit.tsa.url`, `audit.tsa.ca_file`).
    #[serde(default)]
    pub tsa: Option<Tsa>,
    /// A file holding the Ed25519 key that signs checkpoints (C2SP signed notes), as
    /// `vigie audit keygen` writes it. Relative to the configuration file.
    #[serde(default)]
    pub signing_key: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tsa {
    /// Where to POST queries (`https://…`; a qualified TSA under eIDAS art. 41 is the
    /// recommended choice).
    pub url: String,
    /// The CA certificates (PEM) the TSA's certificate must chain to, for verifying.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl Audit {
    /// Relative files are taken from the configuration file's folder.
    pub(super) fn resolve(&mut self, base: &Path) {
        let files = [
            self.signing_key.as_mut(),
            self.tsa.as_mut().and_then(|t| t.ca_file.as_mut()),
        ];
        for f in files.into_iter().flatten() {
            if f.is_relative() {
                *f = base.join(&*f);
            }
        }
    }
}
