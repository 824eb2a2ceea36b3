//! The recipient file: a CSV with a header row, `,` or `;`, read row by row (memory does
//! not grow with the file). Each row becomes a [`Recipient`] or a rejection naming the
//! line and the reason.

use std::fmt;
use std::io::Read;

/// The columns vigie understands, with the names a DPO's export may give them.
const ID: &[&str] = &["id", "identifier", "identifiant", "ref", "reference"];
const EMAIL: &[&str] = &["email", "e-mail", "mail", "courriel", "adresse_email"];
const FIRST: &[&str] = &["first_name", "firstname", "prenom", "prénom", "given_name"];
const LAST: &[&str] = &["last_name", "lastname", "nom", "surname", "family_name"];
const NAME: &[&str] = &["name", "full_name", "nom_complet"];
const ADDRESS: &[&str] = &["address", "adresse", "street", "rue"];
const POSTCODE: &[&str] = &["postal_code", "postcode", "zip", "code_postal", "cp"];
const CITY: &[&str] = &["city", "ville", "commune", "localite", "localité"];
const COUNTRY: &[&str] = &["country", "pays"];
const LANG: &[&str] = &["lang", "langue", "language"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Letter,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Letter => "letter",
        }
    }
}

/// One person to notify. Debug shows no personal data.
#[derive(Clone, Default)]
pub struct Recipient {
    pub line: u64,
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub address: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub lang: Option<String>,
    /// The e-mail address as the sender will use it, parsed once by [`parse_email`]
    /// (set for every accepted row of an e-mail campaign).
    pub mailbox: Option<lettre::message::Mailbox>,
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient(line {}, <redacted>)", self.line)
    }
}

impl Recipient {
    /// The name to print: the full name column, or first and last names.
    pub fn display_name(&self) -> String {
        if !self.name.is_empty() {
            return self.name.clone();
        }
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (false, true) => self.first_name.clone(),
            (true, false) => self.last_name.clone(),
            (true, true) => String::new(),
        }
    }
}

/// The one parse of an e-mail address, for the dry run and the real run alike: what it
/// accepts, the sender can address. A display name, a quoted local part and an IP address
/// as the domain are refused (lettre's message builder would refuse the first two, and a
/// person's mailbox is never at an IP address).
pub fn parse_email(s: &str) -> Result<lettre::message::Mailbox, &'static str> {
    let m: lettre::message::Mailbox = s.parse().map_err(|_| "invalid e-mail address")?;
    if m.name.is_some() || AsRef::<str>::as_ref(&m.email) != s {
        return Err("invalid e-mail address: give the address alone, without a name");
    }
    let domain = m.email.domain();
    if domain.starts_with('[') || domain.parse::<std::net::IpAddr>().is_ok() {
        return Err("invalid e-mail address: an IP address is not a mailbox's domain");
    }
    Ok(m)
}

#[derive(Debug, thiserror::Error)]
pub enum RecipientsError {
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

/// A row that cannot be used, with its original fields for `rejects.csv`.
#[derive(Debug)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
    pub fields: Vec<String>,
}

struct Columns {
    id: usize,
    email: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    name: Option<usize>,
    address: Option<usize>,
    postcode: Option<usize>,
    city: Option<usize>,
    country: Option<usize>,
    lang: Option<usize>,
}

pub struct Reader<R: Read> {
    csv: csv::Reader<R>,
    cols: Columns,
    channel: Channel,
    record: csv::ByteRecord,
    pub header: Vec<String>,
    pub delimiter: u8,
}

fn find(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
}

/// The delimiter of a header line: the more frequent of `;` and `,`.
pub fn sniff_delimiter(first_line: &[u8]) -> u8 {
    let semis = first_line.iter().filter(|b| **b == b';').count();
    let commas = first_line.iter().filter(|b| **b == b',').count();
    if semis > commas { b';' } else { b',' }
}

impl<R: Read> Reader<R> {
    /// Reads the header. `first_line` is the file's first line (for the delimiter).
    pub fn new(
        input: R,
        first_line: &[u8],
        channel: Channel,
        file: &str,
    ) -> Result<Reader<R>, RecipientsError> {
        let delimiter = sniff_delimiter(first_line);
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(input);
        let err = |reason: String| RecipientsError::File {
            file: file.to_string(),
            reason,
        };
        let header: Vec<String> = csv
            .byte_headers()
            .map_err(|e| err(format!("cannot read the header row: {e}")))?
            .iter()
            .map(|h| {
                String::from_utf8_lossy(h)
                    .trim()
                    .trim_start_matches('\u{feff}')
                    .to_string()
            })
            .collect();
        let id = find(&header, ID)
            .ok_or_else(|| err(format!("no identifier column (one of: {})", ID.join(", "))))?;
        let cols = Columns {
            id,
            email: find(&header, EMAIL),
            first: find(&header, FIRST),
            last: find(&header, LAST),
            name: find(&header, NAME),
            address: find(&header, ADDRESS),
            postcode: find(&header, POSTCODE),
            city: find(&header, CITY),
            country: find(&header, COUNTRY),
            lang: find(&header, LANG),
        };
        match channel {
            Channel::Email if cols.email.is_none() => {
                return Err(err(format!(
                    "no e-mail column for --channel email (one of: {})",
                    EMAIL.join(", ")
                )));
            }
            Channel::Letter if cols.address.is_none() || cols.city.is_none() => {
                return Err(err(format!(
                    "no postal address for --channel letter: needs an address column ({}) and a city column ({})",
                    ADDRESS.join(", "),
                    CITY.join(", ")
                )));
            }
            _ => {}
        }
        Ok(Reader {
            csv,
            cols,
            channel,
            record: csv::ByteRecord::new(),
            header,
            delimiter,
        })
    }

    /// The next row: None at the end, Err for a file that cannot be read on.
    pub fn next_row(&mut self) -> Option<Result<Recipient, Rejected>> {
        match self.csv.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map(|p| p.line()).unwrap_or(0);
                Some(self.parse(line))
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                Some(Err(Rejected {
                    line,
                    reason: format!("unreadable row: {e}"),
                    fields: vec![],
                }))
            }
        }
    }

    fn parse(&self, line: u64) -> Result<Recipient, Rejected> {
        let mut fields = Vec::with_capacity(self.record.len());
        for f in self.record.iter() {
            match std::str::from_utf8(f) {
                Ok(s) => fields.push(s.to_string()),
                Err(_) => {
                    let lossy = self
                        .record
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect();
                    return Err(Rejected {
                        line,
                        reason: "not valid UTF-8: save the file as UTF-8".into(),
                        fields: lossy,
                    });
                }
            }
        }
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let mut r = Recipient {
            line,
            id: get(Some(self.cols.id)),
            email: get(self.cols.email),
            first_name: get(self.cols.first),
            last_name: get(self.cols.last),
            name: get(self.cols.name),
            address: get(self.cols.address),
            postal_code: get(self.cols.postcode),
            city: get(self.cols.city),
            country: get(self.cols.country),
            lang: self
                .cols
                .lang
                .map(|i| get(Some(i)))
                .filter(|s| !s.is_empty()),
            mailbox: None,
        };
        let reject = |reason: String| {
            Err(Rejected {
                line,
                reason,
                fields: fields.clone(),
            })
        };
        if r.id.is_empty() {
            return reject("missing identifier".into());
        }
        // A line break in a name or address would reach a mail header or break a letter.
        for (what, v) in [
            ("identifier", &r.id),
            ("address", &r.address),
            ("name", &r.name),
            ("first name", &r.first_name),
            ("last name", &r.last_name),
            ("e-mail", &r.email),
            ("postal code", &r.postal_code),
            ("city", &r.city),
            ("country", &r.country),
        ] {
            if v.contains(['\r', '\n']) || v.chars().any(|c| c.is_control()) {
                return reject(format!("line break or control character in {what}"));
            }
        }
        if let Some(l) = &r.lang
            && crate::time::Lang::parse(l).is_none()
        {
            return reject(format!(
                "unknown language '{l}': use {}",
                crate::time::Lang::choices()
            ));
        }
        match self.channel {
            Channel::Email => {
                if r.email.is_empty() {
                    return reject("missing e-mail address".into());
                }
                match parse_email(&r.email) {
                    Ok(m) => r.mailbox = Some(m),
                    Err(reason) => return reject(reason.into()),
                }
            }
            Channel::Letter => {
                if r.address.is_empty() || r.city.is_empty() {
                    return reject("missing postal address".into());
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_email;

    #[test]
    fn one_parse_accepts_what_the_sender_can_address() {
        for ok in [
            "a@example.org",
            "first.last+tag@sub.example.org",
            "o'neil@example.fr",
        ] {
            assert!(parse_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "x@[127.0.0.1]",
            "x@127.0.0.1",
            "\"a b\"@c.org",
            "Ann <ann@example.org>",
            "chloe.example.org",
            "a@",
            "@example.org",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }
}
