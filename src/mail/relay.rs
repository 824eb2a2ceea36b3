//! A pooled SMTP client for a relay reached without TLS (`security: none`, a relay on
//! this machine or a trusted network), built on lettre's connection type.
//!
//! Why not lettre's own transport here: it writes a message's body and its final
//! `.` in two writes on a socket without TCP_NODELAY, so each message waits for the
//! relay's delayed ACK (~40 ms) and a connection carries ~25 messages a second. This
//! pool opens its sockets with TCP_NODELAY and keeps at most `pool_size` of them.

use super::SendError;
use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
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
        }
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

    pub async fn check(&self) -> Result<(), String> {
        let mut c = self.connect().await.map_err(|e| e.message)?;
        let _ = c.quit().await;
        Ok(())
    }
}
