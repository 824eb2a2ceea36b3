//! An organisation's identity, stored with it: who the controller is, its DPO and legal
//! representative (they sign the drafts), who receives its deadline reminders, and its
//! defaults. Every output of a case (drafts, letters, reminders, the register) takes its
//! own organisation's profile; a value that is not set shows as a placeholder, never as
//! another organisation's value.
//!
//! The configuration file's `organisation`, `dpo`, `legal_representative` and `reminders`
//! sections describe the `default` organisation only: they fill in what its stored
//! profile leaves unset, and nothing else.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub name: Option<String>,
    /// SIREN in France, enterprise number (BCE/KBO) in Belgium.
    pub identifier: Option<String>,
    pub address: Option<String>,
    pub sector: Option<String>,
    pub dpo: Dpo,
    pub representative: Representative,
    /// Who receives every deadline reminder (default: the DPO's e-mail).
    pub reminders_to: Vec<String>,
    /// Also told of every overdue reminder.
    pub escalation: Vec<String>,
    /// fr, en or nl: reminders and new drafts (default: the workflow's language).
    pub lang: Option<String>,
    /// The workflow a new case is opened with when none is named.
    pub workflow: Option<String>,
    /// The regimes that apply to the organisation (issue 21 part 3): yes, no, or not
    /// known (None). A new case takes them as its facts of the same names (see
    /// [`Profile::regime_facts`]); not known keeps the conservative reading.
    pub nis2_entity: Option<bool>,
    pub dora_entity: Option<bool>,
    pub cyber_insured: Option<bool>,
    /// A manufacturer of products with digital elements under the Cyber Resilience Act
    /// (issue 26 part 4): its cases take it as `cra_manufacturer`.
    pub cra_manufacturer: Option<bool>,
    /// Where its DORA reports go (ACPR or AMF in France, NBB/BNB or FSMA in Belgium).
    pub financial_supervisor: Option<String>,
    /// Who else than the DPO answers an authority's questions about a breach (the EDPB
    /// template's contact person, fields 34-36); a case's facts may name another.
    pub contact: Contact,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dpo {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Contact {
    pub name: Option<String>,
    pub function: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Representative {
    pub name: Option<String>,
    pub role: Option<String>,
}

/// The fields `vigie org set` and the organisation page change, by name.
pub const FIELDS: &[&str] = &[
    "name",
    "identifier",
    "address",
    "sector",
    "dpo-name",
    "dpo-email",
    "dpo-phone",
    "representative-name",
    "representative-role",
    "reminders-to",
    "escalation",
    "lang",
    "workflow",
    "nis2-entity",
    "dora-entity",
    "cra-manufacturer",
    "cyber-insured",
    "financial-supervisor",
    "contact-name",
    "contact-function",
    "contact-email",
    "contact-phone",
];

/// The profile fields answered yes / no / not known, each the name of a case fact a
/// new case inherits (with '_' for '-').
pub const REGIME_FIELDS: &[&str] = &[
    "nis2-entity",
    "dora-entity",
    "cra-manufacturer",
    "cyber-insured",
];

/// The answers a yes / no / not known field takes (the form's choices, in order).
pub const ANSWERS: &[&str] = &["", "yes", "no"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    #[error("{field}: {value:?} is not an e-mail address")]
    BadEmail { field: String, value: String },
    #[error("{field}: control characters are not allowed in {value:?}")]
    ControlChars { field: String, value: String },
    #[error("{field}: {value:?} is too long (at most {max} characters)")]
    TooLong {
        field: String,
        value: String,
        max: usize,
    },
    #[error("lang: {0:?} is not {choices}", choices = crate::time::Lang::choices())]
    BadLang(String),
    #[error("unknown profile field {0:?} (known: {known})", known = FIELDS.join(", "))]
    UnknownField(String),
    #[error("name: an organisation needs a name")]
    NoName,
    #[error("{field}: {value:?} is not yes, no or unknown")]
    BadAnswer { field: String, value: String },
}

/// A bare e-mail address as a relay takes it: lettre's parse, and no quoted local
/// part or address literal (`"a b"@x.org`, `x@[127.0.0.1]`), which relays refuse.
pub fn email(field: &str, value: &str) -> Result<String, ProfileError> {
    let v = value.trim();
    let plain = !v.contains(['"', '[', ']', '\\']) && !v.chars().any(char::is_whitespace);
    match v.parse::<lettre::Address>() {
        Ok(_) if plain => Ok(v.to_string()),
        _ => Err(ProfileError::BadEmail {
            field: field.to_string(),
            value: value.to_string(),
        }),
    }
}

fn text(field: &str, value: &str) -> Result<Option<String>, ProfileError> {
    let v = value.trim();
    if v.chars().any(char::is_control) {
        return Err(ProfileError::ControlChars {
            field: field.to_string(),
            value: value.to_string(),
        });
    }
    const MAX: usize = 300;
    if v.chars().count() > MAX {
        return Err(ProfileError::TooLong {
            field: field.to_string(),
            value: v.chars().take(40).collect::<String>() + "…",
            max: MAX,
        });
    }
    Ok((!v.is_empty()).then(|| v.to_string()))
}

/// A list of addresses: `a@x.org, b@y.org` (commas, semicolons or spaces).
fn emails(field: &str, value: &str) -> Result<Vec<String>, ProfileError> {
    value
        .split([',', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| email(field, s))
        .collect()
}

/// yes / no / not known, as typed (yes, no, true, false, oui, non, ja, nee; unknown or
/// empty: not known).
fn answer(field: &str, value: &str) -> Result<Option<bool>, ProfileError> {
    match value.trim().to_lowercase().as_str() {
        "" | "unknown" | "not-known" | "not known" | "?" => Ok(None),
        "yes" | "true" | "oui" | "ja" => Ok(Some(true)),
        "no" | "false" | "non" | "nee" => Ok(Some(false)),
        _ => Err(ProfileError::BadAnswer {
            field: field.to_string(),
            value: value.to_string(),
        }),
    }
}

fn answer_text(v: Option<bool>) -> String {
    match v {
        None => String::new(),
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
    }
}

impl Profile {
    /// This profile, with what it leaves unset taken from `base`.
    pub fn or(self, base: Profile) -> Profile {
        fn pick(a: Option<String>, b: Option<String>) -> Option<String> {
            a.or(b)
        }
        fn list(a: Vec<String>, b: Vec<String>) -> Vec<String> {
            if a.is_empty() { b } else { a }
        }
        Profile {
            name: pick(self.name, base.name),
            identifier: pick(self.identifier, base.identifier),
            address: pick(self.address, base.address),
            sector: pick(self.sector, base.sector),
            dpo: Dpo {
                name: pick(self.dpo.name, base.dpo.name),
                email: pick(self.dpo.email, base.dpo.email),
                phone: pick(self.dpo.phone, base.dpo.phone),
            },
            representative: Representative {
                name: pick(self.representative.name, base.representative.name),
                role: pick(self.representative.role, base.representative.role),
            },
            reminders_to: list(self.reminders_to, base.reminders_to),
            escalation: list(self.escalation, base.escalation),
            lang: pick(self.lang, base.lang),
            workflow: pick(self.workflow, base.workflow),
            nis2_entity: self.nis2_entity.or(base.nis2_entity),
            dora_entity: self.dora_entity.or(base.dora_entity),
            cyber_insured: self.cyber_insured.or(base.cyber_insured),
            cra_manufacturer: self.cra_manufacturer.or(base.cra_manufacturer),
            financial_supervisor: pick(self.financial_supervisor, base.financial_supervisor),
            contact: Contact {
                name: pick(self.contact.name, base.contact.name),
                function: pick(self.contact.function, base.contact.function),
                email: pick(self.contact.email, base.contact.email),
                phone: pick(self.contact.phone, base.contact.phone),
            },
        }
    }

    /// Sets one field from text, validated; an empty value unsets it.
    pub fn set(&mut self, field: &str, value: &str) -> Result<(), ProfileError> {
        match field {
            "name" => {
                self.name = text(field, value)?;
                if self.name.is_none() {
                    return Err(ProfileError::NoName);
                }
            }
            "identifier" => self.identifier = text(field, value)?,
            "address" => self.address = text(field, value)?,
            "sector" => self.sector = text(field, value)?,
            "dpo-name" => self.dpo.name = text(field, value)?,
            "dpo-email" => {
                self.dpo.email = match text(field, value)? {
                    Some(v) => Some(email(field, &v)?),
                    None => None,
                }
            }
            "dpo-phone" => self.dpo.phone = text(field, value)?,
            "representative-name" => self.representative.name = text(field, value)?,
            "representative-role" => self.representative.role = text(field, value)?,
            "reminders-to" => self.reminders_to = emails(field, value)?,
            "escalation" => self.escalation = emails(field, value)?,
            "lang" => {
                self.lang = match text(field, value)? {
                    None => None,
                    Some(l) if crate::time::Lang::parse(&l).is_some() => Some(l),
                    Some(l) => return Err(ProfileError::BadLang(l)),
                }
            }
            "workflow" => self.workflow = text(field, value)?,
            "nis2-entity" => self.nis2_entity = answer(field, value)?,
            "dora-entity" => self.dora_entity = answer(field, value)?,
            "cra-manufacturer" => self.cra_manufacturer = answer(field, value)?,
            "cyber-insured" => self.cyber_insured = answer(field, value)?,
            "financial-supervisor" => self.financial_supervisor = text(field, value)?,
            "contact-name" => self.contact.name = text(field, value)?,
            "contact-function" => self.contact.function = text(field, value)?,
            "contact-email" => {
                self.contact.email = match text(field, value)? {
                    Some(v) => Some(email(field, &v)?),
                    None => None,
                }
            }
            "contact-phone" => self.contact.phone = text(field, value)?,
            other => return Err(ProfileError::UnknownField(other.to_string())),
        }
        Ok(())
    }

    /// One field as text, as `set` takes it back.
    pub fn get(&self, field: &str) -> String {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        match field {
            "name" => o(&self.name),
            "identifier" => o(&self.identifier),
            "address" => o(&self.address),
            "sector" => o(&self.sector),
            "dpo-name" => o(&self.dpo.name),
            "dpo-email" => o(&self.dpo.email),
            "dpo-phone" => o(&self.dpo.phone),
            "representative-name" => o(&self.representative.name),
            "representative-role" => o(&self.representative.role),
            "reminders-to" => self.reminders_to.join(", "),
            "escalation" => self.escalation.join(", "),
            "lang" => o(&self.lang),
            "workflow" => o(&self.workflow),
            "nis2-entity" => answer_text(self.nis2_entity),
            "dora-entity" => answer_text(self.dora_entity),
            "cra-manufacturer" => answer_text(self.cra_manufacturer),
            "cyber-insured" => answer_text(self.cyber_insured),
            "financial-supervisor" => o(&self.financial_supervisor),
            "contact-name" => o(&self.contact.name),
            "contact-function" => o(&self.contact.function),
            "contact-email" => o(&self.contact.email),
            "contact-phone" => o(&self.contact.phone),
            _ => String::new(),
        }
    }

    /// The facts a new case of this organisation inherits: each regime answered yes or
    /// no, by its fact name (`nis2_entity`). Not known gives nothing.
    pub fn regime_facts(&self) -> Vec<(&'static str, bool)> {
        [
            ("nis2_entity", self.nis2_entity),
            ("dora_entity", self.dora_entity),
            ("cra_manufacturer", self.cra_manufacturer),
            ("cyber_insured", self.cyber_insured),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.map(|v| (f, v)))
        .collect()
    }

    /// A profile field a regime's authority is taken from (`financial_supervisor`).
    pub fn authority_field(&self, field: &str) -> Option<&str> {
        match field {
            "financial_supervisor" => self.financial_supervisor.as_deref(),
            _ => None,
        }
    }

    /// Who receives every reminder: the reminder list, else the DPO.
    pub fn reminder_recipients(&self) -> Vec<String> {
        if self.reminders_to.is_empty() {
            self.dpo.email.iter().cloned().collect()
        } else {
            self.reminders_to.clone()
        }
    }

    /// The reminders' language, if the organisation chose one.
    pub fn lang(&self) -> Option<crate::time::Lang> {
        self.lang.as_deref().and_then(crate::time::Lang::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_validates_and_unsets() {
        let mut p = Profile::default();
        p.set("dpo-email", " dpo@example.org ").unwrap();
        assert_eq!(p.dpo.email.as_deref(), Some("dpo@example.org"));
        assert!(matches!(
            p.set("dpo-email", "a@example.org\nBcc: x@example.org"),
            Err(ProfileError::ControlChars { .. })
        ));
        for bad in ["x@[127.0.0.1]", "\"a b\"@example.org", "no-at-sign"] {
            assert!(
                matches!(p.set("dpo-email", bad), Err(ProfileError::BadEmail { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            p.set("reminders-to", "a@example.org, not an address"),
            Err(ProfileError::BadEmail { .. })
        ));
        p.set("reminders-to", "a@example.org; b@example.org")
            .unwrap();
        assert_eq!(p.reminders_to, ["a@example.org", "b@example.org"]);
        p.set("dpo-email", "").unwrap();
        assert_eq!(p.dpo.email, None);
        assert_eq!(p.set("name", " "), Err(ProfileError::NoName));
        assert!(matches!(p.set("lang", "de"), Err(ProfileError::BadLang(_))));
        assert!(matches!(
            p.set("siren", "1"),
            Err(ProfileError::UnknownField(_))
        ));
        for f in FIELDS {
            assert_ne!(p.set(f, ""), Err(ProfileError::UnknownField(f.to_string())));
        }
    }

    #[test]
    fn regimes_are_yes_no_or_not_known_and_become_facts() {
        let mut p = Profile::default();
        assert!(p.regime_facts().is_empty());
        p.set("nis2-entity", "no").unwrap();
        p.set("dora-entity", "Oui").unwrap();
        p.set("cyber-insured", "unknown").unwrap();
        p.set("cra-manufacturer", "ja").unwrap();
        assert_eq!(p.get("nis2-entity"), "no");
        assert_eq!(p.get("cyber-insured"), "");
        assert_eq!(p.get("cra-manufacturer"), "yes");
        assert_eq!(
            p.regime_facts(),
            [
                ("nis2_entity", false),
                ("dora_entity", true),
                ("cra_manufacturer", true)
            ]
        );
        assert!(matches!(
            p.set("nis2-entity", "perhaps"),
            Err(ProfileError::BadAnswer { .. })
        ));
        // Stored before these fields existed: still reads, all not known.
        let old: Profile = serde_json::from_str(r#"{"name":"Old"}"#).unwrap();
        assert_eq!(old.nis2_entity, None);
    }

    #[test]
    fn stored_values_win_over_the_config_and_unset_ones_fall_back() {
        let stored = Profile {
            name: Some("Stored".into()),
            ..Default::default()
        };
        let base = Profile {
            name: Some("Config".into()),
            dpo: Dpo {
                email: Some("dpo@config.example".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let p = stored.or(base);
        assert_eq!(p.name.as_deref(), Some("Stored"));
        assert_eq!(p.reminder_recipients(), ["dpo@config.example"]);
    }
}
