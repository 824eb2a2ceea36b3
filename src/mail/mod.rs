//! E-mail: the transport (SMTP through lettre, or `.eml` files in a folder, the default
//! so that a fresh install works without a mail server) and the reminder messages.

pub mod checkpoint;
pub mod relay;
pub mod reminder;

use lettre::message::Mailbox;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
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
    fn from_error(e: &lettre::transport::smtp::Error) -> RcptOutcome {
        let m = scrub(&e.to_string());
        if e.is_permanent() {
            RcptOutcome::Refused(m)
        } else {
            RcptOutcome::Deferred(m)
        }
    }

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
    /// The transport and the longest a whole hand-off may take.
    Smtp(AsyncSmtpTransport<Tokio1Executor>, Duration),
    /// A relay without TLS, through a pool of TCP_NODELAY connections.
    Relay(std::sync::Arc<relay::Relay>),
    File(PathBuf),
}

pub fn mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse().map_err(|_| MailError::BadAddress(s.to_string()))
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
                std::fs::create_dir_all(&dir).map_err(|e| MailError::Outbox {
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
                if smtp.security == Security::None {
                    let creds = match (&smtp.username, &smtp.password) {
                        (Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.clone())),
                        (None, None) => None,
                        _ => {
                            return Err(MailError::Smtp(
                                "give both username and password, or neither".into(),
                            ));
                        }
                    };
                    return Ok(Mailer::Relay(std::sync::Arc::new(relay::Relay::new(
                        smtp.host.clone(),
                        smtp.port.unwrap_or(25),
                        creds,
                        Duration::from_secs(smtp.timeout_secs.unwrap_or(30)),
                        smtp.pool_size.unwrap_or(4),
                    ))));
                }
                // lettre's pool starts a task when built: without a runtime it would panic.
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(MailError::Smtp(
                        "internal: the SMTP transport must be built inside the async runtime"
                            .into(),
                    ));
                }
                if smtp.host.trim().is_empty() {
                    return Err(MailError::NoSmtp);
                }
                let tls_params = || {
                    TlsParameters::new(smtp.host.clone())
                        .map_err(|e| MailError::Smtp(e.to_string()))
                };
                let (tls, default_port) = match smtp.security {
                    Security::Starttls => (Tls::Required(tls_params()?), 587),
                    Security::Tls => (Tls::Wrapper(tls_params()?), 465),
                    Security::None => (Tls::None, 25),
                };
                let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    .port(smtp.port.unwrap_or(default_port))
                    .tls(tls)
                    .timeout(Some(Duration::from_secs(smtp.timeout_secs.unwrap_or(30))))
                    .pool_config(PoolConfig::new().max_size(smtp.pool_size.unwrap_or(4).max(1)));
                match (&smtp.username, &smtp.password) {
                    (Some(u), Some(p)) => b = b.credentials(Credentials::new(u.clone(), p.clone())),
                    (None, None) => {}
                    _ => {
                        return Err(MailError::Smtp(
                            "give both username and password, or neither".into(),
                        ));
                    }
                }
                // A relay that accepts a connection and then says nothing must not hold a
                // reminder forever: the whole hand-off is bounded too.
                let whole = Duration::from_secs(smtp.timeout_secs.unwrap_or(30) * 2);
                Ok(Mailer::Smtp(b.build(), whole))
            }
        }
    }
}

impl Mailer {
    pub async fn send(&self, msg: Message, message_id: &str) -> Result<(), SendError> {
        match self {
            Mailer::Relay(r) => r.send(&msg).await,
            Mailer::Smtp(t, whole) => match tokio::time::timeout(*whole, t.send(msg)).await {
                Ok(r) => r.map(|_| ()).map_err(|e| SendError {
                    // A 5xx answer will not change by retrying; anything else might.
                    transient: !e.is_permanent(),
                    message: one_line(&e.to_string()),
                }),
                Err(_) => Err(SendError {
                    transient: true,
                    message: format!(
                        "the SMTP server did not finish within {} s",
                        whole.as_secs()
                    ),
                }),
            },
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
                std::fs::write(&tmp, &bytes)
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
    /// relay accepts some recipients of one transaction and refuses others; through
    /// lettre's transport, a refused transaction is retried one recipient at a time.
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
            Mailer::Relay(r) => r.send_each(msg, from, to).await,
            Mailer::Smtp(t, whole) => {
                let bytes = msg.formatted();
                let once = |to: Vec<lettre::Address>| {
                    let from = from.clone();
                    let bytes = &bytes;
                    async move {
                        let env = lettre::address::Envelope::new(from, to)
                            .map_err(|e| RcptOutcome::Refused(scrub(&e.to_string())))?;
                        match tokio::time::timeout(*whole, t.send_raw(&env, bytes)).await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err(e)) => Err(RcptOutcome::from_error(&e)),
                            Err(_) => Err(RcptOutcome::Deferred(format!(
                                "the SMTP server did not finish within {} s",
                                whole.as_secs()
                            ))),
                        }
                    }
                };
                match once(to.to_vec()).await {
                    Ok(()) => vec![RcptOutcome::Accepted; to.len()],
                    // lettre stops at the first refused RCPT and sends no DATA: nobody
                    // got it, so each recipient alone finds who was refused.
                    Err(RcptOutcome::Refused(_)) if to.len() > 1 => {
                        let mut out = Vec::with_capacity(to.len());
                        for a in to {
                            out.push(match once(vec![a.clone()]).await {
                                Ok(()) => RcptOutcome::Accepted,
                                Err(o) => o,
                            });
                        }
                        out
                    }
                    Err(o) => vec![o; to.len()],
                }
            }
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
    /// on the wire while the outcome of the other is recorded. lettre's transport opens
    /// a new connection whenever none is idle, so it gets a fixed bound.
    pub fn in_flight(&self) -> usize {
        match self {
            Mailer::Relay(r) => 2 * r.pool_size(),
            Mailer::Smtp(..) | Mailer::File(_) => 64,
        }
    }

    /// Checks that the relay answers and takes mail from `from` (SMTP) or that the folder
    /// is writable (file).
    pub async fn check(&self, from: Option<&lettre::Address>) -> Result<(), String> {
        match self {
            Mailer::Relay(r) => r.check(from).await,
            Mailer::Smtp(t, _) => match t.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the SMTP server did not accept the connection".into()),
                Err(e) => Err(one_line(&e.to_string())),
            },
            Mailer::File(dir) => {
                let probe = dir.join(".vigie-probe");
                std::fs::write(&probe, b"")
                    .and(std::fs::remove_file(&probe))
                    .map_err(|e| format!("{}: {e}", dir.display()))
            }
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
