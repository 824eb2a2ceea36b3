//! Facts: the typed values a case carries, and how a value typed by a DPO (a YAML
//! scalar or list) becomes one.

use super::{FactDef, FactType, TextFormat};
use crate::time::{self, TimeError};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// A fact's value. Datetimes are UTC instants.
#[derive(Clone, PartialEq)]
pub enum FactValue {
    Boolean(bool),
    Integer(i64),
    List(Vec<String>),
    DateTime(DateTime<Utc>),
    Text(String),
}

// Facts may hold personal data (a name in a note, an e-mail in `owners`): Debug shows
// only the shape, so a stray `{:?}` in a log never leaks it.
impl std::fmt::Debug for FactValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FactValue::Boolean(b) => write!(f, "Boolean({b})"),
            FactValue::Integer(i) => write!(f, "Integer({i})"),
            FactValue::DateTime(d) => write!(f, "DateTime({})", d.to_rfc3339()),
            FactValue::Text(s) => write!(f, "Text(<{} chars>)", s.chars().count()),
            FactValue::List(v) => write!(f, "List(<{} items>)", v.len()),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FactError {
    #[error("expected {expected}, got {got}")]
    WrongType { expected: &'static str, got: String },
    #[error("{q_value} is not one of {choices}", q_value = crate::util::quote(.value))]
    NotAChoice { value: String, choices: String },
    #[error("{q_value} is not an e-mail address (item {position} of {count})", q_value = crate::util::quote(.value))]
    NotAnEmail {
        value: String,
        position: usize,
        count: usize,
    },
    #[error("{value} is a count: it cannot be negative")]
    Negative { value: i64 },
    #[error("{q_value} is not an ISO 3166 alpha-2 country code{hint} (item {position} of {count})", q_value = crate::util::quote(.value))]
    NotACountry {
        value: String,
        hint: &'static str,
        position: usize,
        count: usize,
    },
    #[error("{q_value} is not CODE=COUNT, an ISO 3166 alpha-2 country code and a count ≥ 0 such as FR=1200 (item {position} of {count})", q_value = crate::util::quote(.value))]
    NotACountryCount {
        value: String,
        position: usize,
        count: usize,
    },
    #[error(transparent)]
    Time(#[from] TimeError),
}

/// The officially assigned ISO 3166-1 alpha-2 codes, sorted.
const ISO_3166: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Whether `code` (upper case) is an ISO 3166-1 alpha-2 country code.
pub fn is_country(code: &str) -> bool {
    ISO_3166.binary_search(&code).is_ok()
}

/// The codes the EU writes its own way.
fn country_hint(code: &str) -> &'static str {
    match code {
        "EL" => ", did you mean 'GR' (Greece)?",
        "UK" => ", did you mean 'GB' (United Kingdom)?",
        _ => "",
    }
}

/// `FR, be;DE` → `FR, BE, DE`, each item an ISO 3166 alpha-2 code.
fn countries(s: &str) -> Result<String, FactError> {
    let items: Vec<&str> = s
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|i| !i.is_empty())
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let code = item.to_ascii_uppercase();
        if !is_country(&code) {
            return Err(FactError::NotACountry {
                value: item.to_string(),
                hint: country_hint(&code),
                position: n + 1,
                count: items.len(),
            });
        }
        out.push(code);
    }
    Ok(out.join(", "))
}

/// `FR=1200; be: 300` → `FR=1200, BE=300`: a code, then `=`, `:` or a space, then a
/// count ≥ 0 (`1 200` and `1_200` read as 1200).
fn country_counts(s: &str) -> Result<String, FactError> {
    let items: Vec<&str> = s
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let bad = || FactError::NotACountryCount {
            value: item.to_string(),
            position: n + 1,
            count: items.len(),
        };
        let (code, count) = item.split_once(['=', ':', ' ']).ok_or_else(bad)?;
        let code = code.trim().to_ascii_uppercase();
        if !is_country(&code) {
            return Err(FactError::NotACountry {
                value: code.clone(),
                hint: country_hint(&code),
                position: n + 1,
                count: items.len(),
            });
        }
        let count: i64 = count
            .trim()
            .replace(['_', ' ', '\u{202f}'], "")
            .parse()
            .map_err(|_| bad())?;
        if count < 0 {
            return Err(bad());
        }
        out.push(format!("{code}={count}"));
    }
    Ok(out.join(", "))
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("'{b}'"),
        Value::Number(n) => format!("'{n}'"),
        Value::String(s) => crate::util::quote(s),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

impl FactType {
    pub fn name(self) -> &'static str {
        match self {
            FactType::DateTime => "a datetime",
            FactType::Integer => "an integer",
            FactType::Boolean => "true or false",
            FactType::Text => "text",
            FactType::Choice => "one choice",
            FactType::List => "a list",
            FactType::Emails => "a list of e-mail addresses",
        }
    }
}

impl FactDef {
    /// Types a value read from YAML or JSON. `Value::Null` is handled by the caller (unset).
    pub fn coerce(&self, v: &Value, zone: Tz) -> Result<FactValue, FactError> {
        let wrong = || FactError::WrongType {
            expected: self.kind.name(),
            got: describe(v),
        };
        match self.kind {
            FactType::DateTime => match v {
                Value::String(s) => Ok(FactValue::DateTime(time::parse_instant(s, zone)?)),
                _ => Err(wrong()),
            },
            FactType::Integer => {
                let n: i64 = match v {
                    Value::Number(n) => n.as_i64().ok_or_else(wrong)?,
                    Value::String(s) => s
                        .trim()
                        .replace(['_', ' ', '\u{202f}'], "")
                        .parse()
                        .map_err(|_| wrong())?,
                    _ => return Err(wrong()),
                };
                // Integer facts count people, records, clients or hours: the forms
                // of the law ask for none below zero.
                if n < 0 {
                    return Err(FactError::Negative { value: n });
                }
                Ok(FactValue::Integer(n))
            }
            FactType::Boolean => match v {
                Value::Bool(b) => Ok(FactValue::Boolean(*b)),
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" | "oui" => Ok(FactValue::Boolean(true)),
                    "false" | "no" | "non" => Ok(FactValue::Boolean(false)),
                    _ => Err(wrong()),
                },
                _ => Err(wrong()),
            },
            FactType::Text => {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(wrong()),
                };
                match self.format {
                    None => Ok(FactValue::Text(s)),
                    Some(TextFormat::Countries) => Ok(FactValue::Text(countries(&s)?)),
                    Some(TextFormat::CountryCounts) => Ok(FactValue::Text(country_counts(&s)?)),
                }
            }
            FactType::Choice => {
                let s = scalar_string(v).ok_or_else(wrong)?;
                self.check_choice(&s)?;
                Ok(FactValue::Text(s))
            }
            FactType::List | FactType::Emails => {
                let items: Vec<String> = match v {
                    Value::Array(items) => items
                        .iter()
                        .map(|i| scalar_string(i).ok_or_else(wrong))
                        .collect::<Result<_, _>>()?,
                    // `[a, b]` or `a, b` typed on a command line is a list too.
                    Value::String(s) => s
                        .trim()
                        .strip_prefix('[')
                        .and_then(|x| x.strip_suffix(']'))
                        .unwrap_or(s)
                        .split(',')
                        .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
                        .filter(|p| !p.is_empty())
                        .collect(),
                    _ => return Err(wrong()),
                };
                for i in &items {
                    self.check_choice(i)?;
                }
                if self.kind == FactType::Emails {
                    // The parser the mail layer uses: an address accepted here is one
                    // a reminder can be addressed to.
                    for (n, i) in items.iter().enumerate() {
                        if crate::util::email::parse(i).is_err() {
                            return Err(FactError::NotAnEmail {
                                value: i.clone(),
                                position: n + 1,
                                count: items.len(),
                            });
                        }
                    }
                }
                Ok(FactValue::List(items))
            }
        }
    }

    fn check_choice(&self, s: &str) -> Result<(), FactError> {
        if self.choices.is_empty() || self.choices.iter().any(|c| c == s) {
            Ok(())
        } else {
            Err(FactError::NotAChoice {
                value: s.to_string(),
                choices: self.choices.join(", "),
            })
        }
    }

    /// Reads back a value stored in the event log (JSON written by `to_json`).
    pub fn from_stored(&self, v: &Value) -> Option<FactValue> {
        match (self.kind, v) {
            (FactType::DateTime, Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| FactValue::DateTime(d.with_timezone(&Utc))),
            (FactType::Integer, Value::Number(n)) => n.as_i64().map(FactValue::Integer),
            (FactType::Boolean, Value::Bool(b)) => Some(FactValue::Boolean(*b)),
            (FactType::Text | FactType::Choice, Value::String(s)) => {
                Some(FactValue::Text(s.clone()))
            }
            (FactType::List | FactType::Emails, Value::Array(items)) => Some(FactValue::List(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            )),
            _ => None,
        }
    }
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl FactValue {
    /// The JSON stored in the event log: datetimes in UTC RFC 3339.
    pub fn to_json(&self) -> Value {
        match self {
            FactValue::Boolean(b) => Value::Bool(*b),
            FactValue::Integer(i) => Value::from(*i),
            FactValue::DateTime(d) => {
                Value::String(d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            FactValue::Text(s) => Value::String(s.clone()),
            FactValue::List(v) => Value::from(v.clone()),
        }
    }

    /// The JSON shown to a user: datetimes in the workflow's zone with its offset.
    pub fn to_display_json(&self, zone: Tz) -> Value {
        match self {
            FactValue::DateTime(d) => Value::String(time::rfc3339_in(*d, zone)),
            other => other.to_json(),
        }
    }

    pub fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            FactValue::DateTime(d) => Some(*d),
            _ => None,
        }
    }
}
