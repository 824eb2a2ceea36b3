//! A pooled SMTP client for a relay reached without TLS (`security: none`, a relay on
//! this machine or a trusted network), built on lettre's connection type.
//!
//! Why not lettre's own transport here: it writes a message's body and its final
//! `.` in two writes on a socket without TCP_NODELAY, so each message waits for the
//! relay's delayed ACK (~40 ms) and a connection carries ~25 messages a second. This
//! pool opens its sockets with TCP_NODELAY and keeps at most `pool_size` of them.

use super::{RcptOutcome, SendError};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::{Address, Message};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Semaphore};

pub struct Relay {
    host: String,
    port: u16,
    credentials: Option<Credentials>,
    timeout: Duration,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    slots: Arc<Semaphore>,
    pool_size: usize,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Relay {
    pub fn new(
        host: String,
        port: u16,
        credentials: Option<Credentials>,
        timeout: Duration,
        pool_size: u32,
    ) -> Relay {
        Relay {
            host,
            port,
            credentials,
            timeout,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(pool_size.max(1) as usize)),
            pool_size: pool_size.max(1) as usize,
        }
    }

    /// Connections open at most.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let transient = |what: &str, e: String| SendError {
            transient: true,
            message: format!("{what} {}:{}: {e}", self.host, self.port),
        };
        let stream = tokio::time::timeout(
            self.timeout,
            tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
        )
        .await
        .map_err(|_| transient("connecting to", "timed out".into()))?
        .map_err(|e| transient("connecting to", e.to_string()))?;
        stream
            .set_nodelay(true)
            .map_err(|e| transient("configuring the socket to", e.to_string()))?;
        let mut conn =
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &ClientId::default())
                .await
                .map_err(|e| SendError {
                    transient: !e.is_permanent(),
                    message: one_line(&e.to_string()),
                })?;
        if let Some(c) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], c)
                .await
                .map_err(|e| SendError {
                    transient: !e.is_permanent(),
                    message: one_line(&e.to_string()),
                })?;
        }
        Ok(conn)
    }

    /// Hands one message to the relay on a pooled connection. An idle connection the
    /// relay has closed is replaced once.
    pub async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let _slot = self.slots.acquire().await.map_err(|e| SendError {
            transient: true,
            message: e.to_string(),
        })?;
        let bytes = msg.formatted();
        let pooled = self.idle.lock().await.pop();
        let fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect().await?,
        };
        let mut result = conn.send(msg.envelope(), &bytes).await;
        if !fresh && result.as_ref().is_err_and(|e| !e.is_permanent()) {
            conn.abort().await;
            conn = self.connect().await?;
            result = conn.send(msg.envelope(), &bytes).await;
        }
        match result {
            Ok(_) if !conn.has_broken() => {
                self.idle.lock().await.push(conn);
                Ok(())
            }
            Ok(_) => {
                conn.abort().await;
                Ok(())
            }
            Err(e) => {
                if conn.has_broken() {
                    conn.abort().await;
                } else {
                    // A refused message leaves the connection usable: reset and keep it.
                    let _ = conn.command("RSET\r\n").await;
                    self.idle.lock().await.push(conn);
                }
                Err(SendError {
                    transient: !e.is_permanent(),
                    message: one_line(&e.to_string()),
                })
            }
        }
    }

    /// Hands one message to each recipient in one transaction: every RCPT is tried,
    /// the refused ones are reported, and DATA goes to the accepted ones. A pooled
    /// connection the relay has closed (it fails before MAIL FROM is answered) is
    /// replaced once.
    pub async fn send_each(
        &self,
        msg: &Message,
        from: Option<Address>,
        to: &[Address],
    ) -> Vec<RcptOutcome> {
        let deferred = |m: String| vec![RcptOutcome::Deferred(m); to.len()];
        let Ok(_slot) = self.slots.acquire().await else {
            return deferred("the relay pool is closed".into());
        };
        let bytes = msg.formatted();
        let pooled = self.idle.lock().await.pop();
        let fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => c,
                Err(e) => return vec![RcptOutcome::from_send_error(&e); to.len()],
            },
        };
        let mut result = transaction(&mut conn, &from, to, &bytes).await;
        if !fresh && matches!(result, Err((_, Stage::Mail))) {
            conn.abort().await;
            conn = match self.connect().await {
                Ok(c) => c,
                Err(e) => return vec![RcptOutcome::from_send_error(&e); to.len()],
            };
            result = transaction(&mut conn, &from, to, &bytes).await;
        }
        match result {
            Ok(out) => {
                if conn.has_broken() {
                    conn.abort().await;
                } else {
                    self.idle.lock().await.push(conn);
                }
                out
            }
            Err((e, _)) => {
                if e.status().is_some() && !conn.has_broken() {
                    // An answer, not a broken socket: reset and keep the connection.
                    let _ = conn.command("RSET\r\n").await;
                    self.idle.lock().await.push(conn);
                } else {
                    conn.abort().await;
                }
                vec![RcptOutcome::from_error(&e); to.len()]
            }
        }
    }

    /// Connects, signs in, and with `from` asks whether the relay takes mail from that
    /// sender (MAIL FROM, then RSET): a sender it refuses would otherwise look like every
    /// recipient refusing.
    pub async fn check(&self, from: Option<&Address>) -> Result<(), String> {
        let mut c = self.connect().await.map_err(|e| e.message)?;
        if let Some(from) = from {
            let refused = c.command(Mail::new(Some(from.clone()), vec![])).await.err();
            if let Some(e) = refused {
                c.abort().await;
                return Err(format!(
                    "it refuses the sender {from} (mail.from): {}",
                    super::scrub(&e.to_string())
                ));
            }
            let _ = c.command("RSET\r\n").await;
        }
        let _ = c.quit().await;
        Ok(())
    }
}

/// Where a transaction failed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// At MAIL FROM: nothing was handed off (a stale pooled connection fails here).
    Mail,
    /// A network error after MAIL FROM, or DATA refused.
    Later,
}

/// One SMTP transaction with partial acceptance: MAIL FROM, each RCPT (a refused one is
/// reported and the rest go on), then DATA to the accepted ones. `Err` when the whole
/// transaction failed: then no recipient has the message.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    from: &Option<Address>,
    to: &[Address],
    bytes: &[u8],
) -> Result<Vec<RcptOutcome>, (lettre::transport::smtp::Error, Stage)> {
    let mut options = vec![];
    if to
        .iter()
        .chain(from.iter())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
        && conn.server_info().supports_feature(Extension::SmtpUtfEight)
    {
        options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() && conn.server_info().supports_feature(Extension::EightBitMime) {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(from.clone(), options))
        .await
        .map_err(|e| (e, Stage::Mail))?;
    let mut out: Vec<Option<RcptOutcome>> = Vec::with_capacity(to.len());
    for a in to {
        match conn.command(Rcpt::new(a.clone(), vec![])).await {
            Ok(_) => out.push(None),
            Err(e) if e.status().is_some() => out.push(Some(RcptOutcome::from_error(&e))),
            Err(e) => return Err((e, Stage::Later)),
        }
    }
    if out.iter().all(Option::is_some) {
        // Nobody to send DATA to: end the transaction, keep the connection.
        conn.command("RSET\r\n")
            .await
            .map_err(|e| (e, Stage::Later))?;
    } else {
        let data = async {
            conn.command(Data).await?;
            conn.message(bytes).await
        };
        if let Err(e) = data.await {
            // DATA refused or cut: none of the accepted recipients has it.
            let failed = RcptOutcome::from_error(&e);
            if e.status().is_none() {
                return Err((e, Stage::Later));
            }
            let _ = conn.command("RSET\r\n").await;
            return Ok(out
                .into_iter()
                .map(|o| o.unwrap_or_else(|| failed.clone()))
                .collect());
        }
    }
    Ok(out
        .into_iter()
        .map(|o| o.unwrap_or(RcptOutcome::Accepted))
        .collect())
}
