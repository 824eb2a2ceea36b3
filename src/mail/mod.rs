//! E-mail: the transport (SMTP through our own pool, `relay.rs`, or `.eml` files in a
//! folder, the default so that a fresh install works without a mail server) and the
//! reminder messages. lettre builds and formats the messages; it sends none.

pub mod checkpoint;
pub mod invitation;
pub mod relay;
pub mod reminder;
pub mod tls;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    #[default]
    File,
    Smtp,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required), usually port 587.
    #[default]
    Starttls,
    /// TLS from the first byte, usually port 465.
    Tls,
    /// No encryption: only for a relay on the same machine.
    None,
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// The sender, e.g. `vigie <vigie@example.org>`.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub transport: TransportKind,
    /// For the file transport (default `./outbox`, relative to the config file).
    #[serde(default)]
    pub outbox_dir: Option<PathBuf>,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    /// The right-hand side of Message-IDs (default: the sender's domain).
    #[serde(default)]
    pub message_id_domain: Option<String>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Connections kept open to the relay (default 4).
    #[serde(default)]
    pub pool_size: Option<u32>,
    /// Seconds before a connection attempt or a command gives up (default 30).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// A PEM file of the CA certificates to trust instead of the public roots, for a
    /// server whose certificate comes from a private CA.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The SHA-256 of the server's certificate or of its public key (one, or a list, for
    /// a change of certificate): a relay with its own self-signed certificate is then
    /// verified, whoever signed it (issue 23, N12).
    #[serde(default)]
    pub pin_sha256: Option<Pins>,
    /// Takes any certificate: anyone on the way can then read and change the e-mails.
    /// For a test set-up only; `vigie serve` and `vigie notify` warn at start.
    #[serde(default)]
    pub danger_accept_invalid_certs: bool,
}

/// `mail.smtp.pin_sha256`: one digest or a list of them.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Pins {
    One(String),
    Many(Vec<String>),
}

impl Pins {
    fn texts(&self) -> Vec<&str> {
        match self {
            Pins::One(p) => vec![p.as_str()],
            Pins::Many(ps) => ps.iter().map(String::as_str).collect(),
        }
    }
}

// Hand-written so that a password never reaches a log.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("ca_file", &self.ca_file)
            .field("pin_sha256", &self.pin_sha256)
            .field(
                "danger_accept_invalid_certs",
                &self.danger_accept_invalid_certs,
            )
            .finish()
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("from", &self.from)
            .field("transport", &self.transport)
            .field("outbox_dir", &self.outbox_dir)
            .field("smtp", &self.smtp)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.from '{0}' is not an address such as 'vigie <vigie@example.org>'")]
    BadFrom(String),
    #[error("mail.transport is smtp but there is no mail.smtp section with a host")]
    NoSmtp,
    #[error("mail.smtp: {0}")]
    Smtp(String),
    #[error("mail.outbox_dir {path}: {reason}")]
    Outbox { path: String, reason: String },
    #[error("'{0}' is not an e-mail address")]
    BadAddress(String),
    #[error("building the message: {0}")]
    Build(String),
    #[error("mail.smtp.ca_file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

/// Why a message was not handed off. Transient errors are retried, permanent ones
/// (a 5xx answer) dead-lettered.
#[derive(Debug, Clone)]
pub struct SendError {
    pub transient: bool,
    pub message: String,
}

/// What became of one envelope recipient of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The server took the message for this recipient.
    Accepted,
    /// Refused for good (a 5xx answer): retrying will not help. The reason, with any
    /// address in it replaced (see `scrub`).
    Refused(String),
    /// Not handed off this time (a 4xx answer, a network error): retried later.
    Deferred(String),
}

impl RcptOutcome {
    fn from_send_error(e: &SendError) -> RcptOutcome {
        let m = scrub(&e.message);
        if e.transient {
            RcptOutcome::Deferred(m)
        } else {
            RcptOutcome::Refused(m)
        }
    }
}

/// A server's answer on one line, with every word that holds an `@` replaced: servers
/// echo the refused address ("550 5.1.1 <bob@example.org>: unknown"), and reasons go
/// to logs and the database, where recipients' addresses must not.
pub fn scrub(s: &str) -> String {
    s.split_whitespace()
        .map(|w| if w.contains('@') { "<address>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server (in clear, STARTTLS or TLS) through our connection pool.
    Smtp(std::sync::Arc<relay::Relay>),
    File(PathBuf),
}

/// `Auto-Submitted: auto-generated` (RFC 3834): a message a program sent by itself.
/// Vacation responders and mail robots do not answer it, so a reminder never starts a
/// loop of automatic replies.
#[derive(Clone, Debug)]
pub struct AutoSubmitted;

impl lettre::message::header::Header for AutoSubmitted {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        if s.trim().eq_ignore_ascii_case("auto-generated") {
            Ok(AutoSubmitted)
        } else {
            Err(format!("Auto-Submitted: {s:?} is not auto-generated").into())
        }
    }

    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// The address of a page of `vigie serve` for a link in an e-mail: `http.public_url`
/// (with or without its final `/`) followed by `path`.
pub fn page_link(public_url: Option<&str>, path: &str) -> Option<String> {
    public_url
        .map(|u| u.trim().trim_end_matches('/'))
        .filter(|u| !u.is_empty())
        .map(|u| format!("{u}{path}"))
}

/// `<sha256(key)[..32]@domain>`: the same for every attempt of the same message (a
/// reminder's key, a checkpoint's, an invitation's).
pub fn message_id(key: &str, domain: &str) -> String {
    let hex = crate::util::hash::sha256_hex(key);
    format!("<{}@{domain}>", &hex[..32])
}

pub fn mailbox(s: &str) -> Result<Mailbox, MailError> {
    crate::util::email::parse(s).map_err(|_| MailError::BadAddress(s.to_string()))
}

impl MailConfig {
    pub fn from_mailbox(&self) -> Result<Mailbox, MailError> {
        let from = self
            .from
            .clone()
            .unwrap_or_else(|| "vigie <vigie@localhost>".into());
        from.parse().map_err(|_| MailError::BadFrom(from))
    }

    pub fn message_id_domain(&self) -> String {
        if let Some(d) = &self.message_id_domain {
            return d.clone();
        }
        self.from_mailbox()
            .map(|m| m.email.domain().to_string())
            .unwrap_or_else(|_| "localhost".into())
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.outbox_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("outbox"))
    }

    /// Builds the transport, checking the whole configuration first.
    pub fn mailer(&self) -> Result<Mailer, MailError> {
        self.from_mailbox()?;
        match self.transport {
            TransportKind::File => {
                let dir = self.outbox_dir();
                crate::util::private::create_dir_all(&dir).map_err(|e| MailError::Outbox {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
                Ok(Mailer::File(dir))
            }
            TransportKind::Smtp => {
                let smtp = self.smtp.as_ref().ok_or(MailError::NoSmtp)?;
                if smtp.host.trim().is_empty() {
                    return Err(MailError::NoSmtp);
                }
                let credentials = match (&smtp.username, &smtp.password) {
                    (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
                    (None, None) => None,
                    _ => {
                        return Err(MailError::Smtp(
                            "give both username and password, or neither".into(),
                        ));
                    }
                };
                let (tls, default_port) = match smtp.security {
                    Security::None => {
                        if smtp.ca_file.is_some()
                            || smtp.pin_sha256.is_some()
                            || smtp.danger_accept_invalid_certs
                        {
                            return Err(MailError::Smtp(
                                "ca_file, pin_sha256 and danger_accept_invalid_certs need \
                                 security: starttls or tls"
                                    .into(),
                            ));
                        }
                        (None, 25)
                    }
                    Security::Starttls | Security::Tls => {
                        let pins = smtp
                            .pin_sha256
                            .as_ref()
                            .map(|p| p.texts())
                            .unwrap_or_default()
                            .into_iter()
                            .map(tls::parse_pin)
                            .collect::<Result<Vec<_>, _>>()?;
                        if smtp.pin_sha256.is_some() && pins.is_empty() {
                            return Err(MailError::Smtp("pin_sha256 is an empty list".into()));
                        }
                        if !pins.is_empty()
                            && (smtp.ca_file.is_some() || smtp.danger_accept_invalid_certs)
                        {
                            return Err(MailError::Smtp(
                                "pin_sha256 names the one certificate to accept: give it \
                                 without ca_file and danger_accept_invalid_certs"
                                    .into(),
                            ));
                        }
                        let config = tls::client_config(
                            smtp.ca_file.as_deref(),
                            &pins,
                            smtp.danger_accept_invalid_certs,
                        )?;
                        let name = rustls::pki_types::ServerName::try_from(smtp.host.clone())
                            .map_err(|_| {
                                MailError::Smtp(format!(
                                    "host '{}' is neither a host name nor an IP address",
                                    smtp.host
                                ))
                            })?;
                        let port = if smtp.security == Security::Tls {
                            465
                        } else {
                            587
                        };
                        (Some(relay::TlsSetup { config, name }), port)
                    }
                };
                Ok(Mailer::Smtp(std::sync::Arc::new(relay::Relay::new(
                    relay::Endpoint {
                        host: smtp.host.clone(),
                        port: smtp.port.unwrap_or(default_port),
                        security: smtp.security,
                        tls,
                        credentials,
                        timeout: Duration::from_secs(smtp.timeout_secs.unwrap_or(30)),
                    },
                    smtp.pool_size.unwrap_or(4),
                ))))
            }
        }
    }

    /// The warning to print at start, when the configuration asks for one.
    pub fn warning(&self) -> Option<&'static str> {
        let smtp = self.smtp.as_ref()?;
        (self.transport == TransportKind::Smtp && smtp.danger_accept_invalid_certs).then_some(
            "warning: mail.smtp.danger_accept_invalid_certs is set: the SMTP server's \
             certificate is not checked, so anyone on the network path can read and change \
             the e-mails",
        )
    }
}

impl Mailer {
    pub async fn send(&self, msg: Message, message_id: &str) -> Result<(), SendError> {
        match self {
            Mailer::Smtp(r) => r.send(&msg).await,
            Mailer::File(dir) => {
                // Named by the Message-ID: sending the same reminder twice writes the
                // same file, so a retry after a crash leaves no duplicate.
                let name: String = message_id
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.tmp"));
                let bytes = msg.formatted();
                crate::util::private::write(&tmp, &bytes)
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .map_err(|e| SendError {
                        transient: true,
                        message: format!("{}: {e}", path.display()),
                    })
            }
        }
    }

    /// Hands one message to each envelope recipient in `to`, and says what became of
    /// each (same order). A recipient the server refuses never stops the others: the
    /// relay accepts some recipients of one transaction and refuses others.
    pub async fn send_each(
        &self,
        msg: &Message,
        message_id: &str,
        to: &[lettre::Address],
    ) -> Vec<RcptOutcome> {
        if to.is_empty() {
            return vec![];
        }
        let from = msg.envelope().from().cloned();
        match self {
            Mailer::Smtp(r) => r.send_each(msg, from, to).await,
            Mailer::File(_) => {
                let o = match self.send(msg.clone(), message_id).await {
                    Ok(()) => RcptOutcome::Accepted,
                    Err(e) => RcptOutcome::from_send_error(&e),
                };
                vec![o; to.len()]
            }
        }
    }

    /// How many messages a dispatcher hands to this transport before it has recorded
    /// the outcomes of the earlier ones. Through our relay pool, two per connection: one
    /// on the wire while the outcome of the other is recorded.
    pub fn in_flight(&self) -> usize {
        match self {
            Mailer::Smtp(r) => 2 * r.pool_size(),
            Mailer::File(_) => 64,
        }
    }

    /// Checks that the relay answers and takes mail from `from` (SMTP) or that the folder
    /// is writable (file).
    pub async fn check(&self, from: Option<&lettre::Address>) -> Result<(), String> {
        match self {
            Mailer::Smtp(r) => r.check(from).await,
            Mailer::File(dir) => {
                let probe = dir.join(".vigie-probe");
                std::fs::write(&probe, b"")
                    .and(std::fs::remove_file(&probe))
                    .map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }
}
