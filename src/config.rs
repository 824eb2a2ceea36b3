//! The configuration file (`--config`, `VIGIE_CONFIG`): who the organisation is, its
//! DPO and legal representative (they sign the drafts), and folders that override the
//! embedded workflows and templates. Every setting is optional: with no file, vigie
//! runs on its embedded defaults. `config.example.yaml` documents each one.

use crate::org::Profile;
use crate::render::Templates;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod audit;
pub use audit::{Audit, Tsa};

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub organisation: Organisation,
    #[serde(default)]
    pub dpo: Contact,
    #[serde(default)]
    pub legal_representative: Representative,
    /// A folder of `*.yaml` workflows; each replaces the embedded one with its id.
    #[serde(default)]
    pub workflows_dir: Option<PathBuf>,
    /// A folder of templates; each file replaces the embedded one with its name.
    #[serde(default)]
    pub templates_dir: Option<PathBuf>,
    /// Where `vigie notify --channel letter` writes the letters (default `./letters`,
    /// relative to this file).
    #[serde(default)]
    pub letters_dir: Option<PathBuf>,
    /// How e-mails leave: `.eml` files in a folder (default) or SMTP.
    #[serde(default)]
    pub mail: crate::mail::MailConfig,
    /// Who receives deadline reminders.
    #[serde(default)]
    pub reminders: Reminders,
    /// The web page and API of `vigie serve`.
    #[serde(default)]
    pub http: Http,
    /// The register's checkpoints that `vigie serve` e-mails to each DPO.
    #[serde(default)]
    pub checkpoints: Checkpoints,
    /// Sign-in through the company's identity provider (`auth.oidc`, see `crate::oidc`).
    #[serde(default)]
    pub auth: crate::oidc::Auth,
    /// Time-stamps and signatures of the register's checkpoints (`audit.tsa`,
    /// `audit.signing_key`, see `config/audit.rs`).
    #[serde(default)]
    pub audit: Audit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoints {
    /// E-mail each organisation's DPO a checkpoint of its register daily and after each
    /// event that meets a legal deadline (default true).
    #[serde(default = "yes")]
    pub email: bool,
}

fn yes() -> bool {
    true
}

impl Default for Checkpoints {
    fn default() -> Checkpoints {
        Checkpoints { email: true }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Address to listen on (default 127.0.0.1:8080; `--listen` overrides it).
    pub listen: Option<String>,
    /// The address people reach the web page at (`https://vigie.example.org`), for links
    /// from outside it: the calendar feed's events and reminder e-mails link to the case
    /// page, checkpoints to the register, and the first start's setup link starts with
    /// it. Unset: the address the client used (feed), no link in e-mails.
    #[serde(default)]
    pub public_url: Option<String>,
    /// The reverse proxies vigie sits behind (IP addresses): only from these is the
    /// client's address read from `X-Forwarded-For`, for the access log. Empty (the
    /// default): the socket's address, whatever the request's headers say.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reminders {
    /// The DPO and backups (default: `dpo.email`). Each case's `owners` fact adds to it.
    #[serde(default)]
    pub to: Vec<String>,
    /// Also told of every overdue reminder.
    #[serde(default)]
    pub escalation: Vec<String>,
    /// fr, en or nl (default: the workflow's language).
    #[serde(default)]
    pub lang: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: Option<String>,
    /// SIREN in France, enterprise number (BCE/KBO) in Belgium.
    pub siren: Option<String>,
    pub address: Option<String>,
    pub sector: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Representative {
    pub name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{source}")]
    Yaml {
        path: String,
        source: crate::util::yaml::YamlError,
    },
    #[error("{path}: {field}: {message}")]
    Field {
        path: String,
        field: &'static str,
        message: String,
    },
}

/// The configuration is the top of the house: it knows its parts, and they do not know it.
impl Config {
    /// What the configuration file says of the `default` organisation.
    pub fn default_profile(&self) -> Profile {
        Profile {
            name: self.organisation.name.clone(),
            identifier: self.organisation.siren.clone(),
            address: self.organisation.address.clone(),
            sector: self.organisation.sector.clone(),
            dpo: crate::org::Dpo {
                name: self.dpo.name.clone(),
                email: self.dpo.email.clone(),
                phone: self.dpo.phone.clone(),
            },
            representative: crate::org::Representative {
                name: self.legal_representative.name.clone(),
                role: self.legal_representative.role.clone(),
            },
            reminders_to: self.reminders.to.clone(),
            escalation: self.reminders.escalation.clone(),
            lang: self.reminders.lang.clone(),
            workflow: None,
            nis2_entity: None,
            dora_entity: None,
            cyber_insured: None,
            cra_manufacturer: None,
            financial_supervisor: None,
            contact: crate::org::Contact::default(),
        }
    }

    /// Where the drafts' templates come from: `templates_dir`, else the embedded ones.
    pub fn templates(&self) -> Templates {
        Templates {
            dir: self.templates_dir.clone(),
        }
    }
}

impl Config {
    /// Reads a config file; relative folders in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut cfg: Config =
            crate::util::yaml::from_str(&text).map_err(|source| ConfigError::Yaml {
                path: path.display().to_string(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for dir in [
            &mut cfg.workflows_dir,
            &mut cfg.templates_dir,
            &mut cfg.mail.outbox_dir,
            &mut cfg.letters_dir,
        ]
        .into_iter()
        .flatten()
        {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        if let Some(ca) = cfg.mail.smtp.as_mut().and_then(|s| s.ca_file.as_mut())
            && ca.is_relative()
        {
            *ca = base.join(&*ca);
        }
        cfg.audit.resolve(base);
        if let Some(oidc) = cfg.auth.oidc.as_mut() {
            oidc.resolve(base);
            oidc.check(cfg.http.public_url.as_deref())
                .map_err(|b| ConfigError::Field {
                    path: path.display().to_string(),
                    field: b.field,
                    message: b.message,
                })?;
        }
        Ok(cfg)
    }
}
