//! Our pooled SMTP client, the only way vigie hands e-mail to a server: reminders
//! (`vigie serve`), bulk notices (`vigie notify`), checkpoints and `vigie mail test`.
//! It speaks plain SMTP to a relay on this machine, STARTTLS (required: a server that
//! does not offer it is refused, never used in clear) and TLS from the first byte, with
//! rustls (see `tls.rs` for the certificate checks). lettre builds the messages and the
//! command lines; the protocol and the sockets are ours.
//!
//! Why not lettre's transport: it writes a message's body and its final `.` in two
//! writes on a socket without TCP_NODELAY, so each message waits for the server's
//! delayed ACK (~40 ms) and a connection carries ~25 messages a second. Here sockets
//! have TCP_NODELAY, every write is one whole block (the body and its `.` together),
//! and when the server offers PIPELINING (RFC 2920) a transaction is two round trips:
//! MAIL FROM, every RCPT TO and DATA in one write, then the body.

use super::{RcptOutcome, Security, SendError, scrub};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::commands::{Auth, Ehlo, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use lettre::{Address, Message};
use rustls::pki_types::ServerName;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;

/// Longest reply line and longest reply taken from a server.
const MAX_LINE: u64 = 4096;
const MAX_REPLY: usize = 64 * 1024;

/// How the pool reaches its server: where, how encrypted, signed in as whom.
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// The TLS settings for `Starttls` and `Tls` (unused for `None`).
    pub tls: Option<TlsSetup>,
    pub credentials: Option<Credentials>,
    /// Bounds connecting (with its handshakes) and each transaction.
    pub timeout: Duration,
}

/// The client's TLS configuration and the name the certificate must carry.
#[derive(Clone)]
pub struct TlsSetup {
    pub config: Arc<rustls::ClientConfig>,
    pub name: ServerName<'static>,
}

pub struct Relay {
    end: Endpoint,
    hello: String,
    idle: Mutex<Vec<Conn>>,
    slots: Arc<Semaphore>,
    pool_size: usize,
}

/// Why an exchange with the server failed.
#[derive(Debug, Clone)]
pub enum SmtpError {
    /// The server answered with a 4xx or 5xx code.
    Reply { code: u16, text: String },
    /// No usable answer: a broken or refused connection, a timeout, a failed TLS
    /// handshake, a server without STARTTLS, a reply that is not SMTP.
    Network(String),
}

impl SmtpError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, SmtpError::Reply { code, .. } if *code >= 500)
    }

    fn is_reply(&self) -> bool {
        matches!(self, SmtpError::Reply { .. })
    }
}

// The words lettre used, which `notify::refusal` reads the code from.
impl std::fmt::Display for SmtpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmtpError::Reply { code, text } if *code >= 500 => {
                write!(f, "permanent error ({code}): {text}")
            }
            SmtpError::Reply { code, text } => write!(f, "transient error ({code}): {text}"),
            SmtpError::Network(m) => f.write_str(m),
        }
    }
}

impl From<&SmtpError> for SendError {
    fn from(e: &SmtpError) -> SendError {
        SendError {
            transient: !e.is_permanent(),
            message: scrub(&e.to_string()),
        }
    }
}

impl RcptOutcome {
    pub(crate) fn from_smtp(e: &SmtpError) -> RcptOutcome {
        let m = scrub(&e.to_string());
        if e.is_permanent() {
            RcptOutcome::Refused(m)
        } else {
            RcptOutcome::Deferred(m)
        }
    }
}

/// One reply: its code, its lines' text, and the raw lines (for lettre's parser).
struct Reply {
    code: u16,
    lines: Vec<String>,
    raw: String,
}

impl Reply {
    fn positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    fn error(&self) -> SmtpError {
        SmtpError::Reply {
            code: self.code,
            text: self.lines.join(" "),
        }
    }

    /// `Ok(self)` for a 2xx or 3xx answer, the error otherwise.
    fn ok(self) -> Result<Reply, SmtpError> {
        if self.positive() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What the server's EHLO offered that we use.
#[derive(Default)]
struct Offers {
    pipelining: bool,
    starttls: bool,
    eight_bit: bool,
    utf8: bool,
    auth: Vec<String>,
}

/// One open session with the server.
struct Conn {
    io: BufReader<Box<dyn Io>>,
    offers: Offers,
    broken: bool,
}

impl Conn {
    fn new(io: Box<dyn Io>) -> Conn {
        Conn {
            io: BufReader::with_capacity(8192, io),
            offers: Offers::default(),
            broken: false,
        }
    }

    /// One write of a whole block (commands, or a body with its final `.`).
    async fn write(&mut self, bytes: &[u8]) -> Result<(), SmtpError> {
        let w = self.io.get_mut();
        let r = async {
            w.write_all(bytes).await?;
            w.flush().await
        }
        .await;
        r.map_err(|e| {
            self.broken = true;
            SmtpError::Network(format!("writing to the SMTP server: {e}"))
        })
    }

    async fn read(&mut self) -> Result<Reply, SmtpError> {
        let r = read_reply(&mut self.io).await;
        if r.is_err() {
            self.broken = true;
        }
        r
    }

    async fn exchange(&mut self, command: &str) -> Result<Reply, SmtpError> {
        self.write(command.as_bytes()).await?;
        self.read().await
    }

    async fn ehlo(&mut self, hello: &str) -> Result<(), SmtpError> {
        let r = self.exchange(hello).await?.ok()?;
        let mut o = Offers::default();
        for line in r.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            match words.next().map(str::to_ascii_uppercase).as_deref() {
                Some("PIPELINING") => o.pipelining = true,
                Some("STARTTLS") => o.starttls = true,
                Some("8BITMIME") => o.eight_bit = true,
                Some("SMTPUTF8") => o.utf8 = true,
                Some("AUTH") => o.auth = words.map(str::to_ascii_uppercase).collect(),
                _ => {}
            }
        }
        self.offers = o;
        Ok(())
    }

    /// Signs in with PLAIN, or LOGIN when only that is offered.
    async fn auth(&mut self, c: &Credentials) -> Result<(), SmtpError> {
        let offered = |m: &str| self.offers.auth.iter().any(|a| a == m);
        let mechanism = if offered("PLAIN") || self.offers.auth.is_empty() {
            Mechanism::Plain
        } else if offered("LOGIN") {
            Mechanism::Login
        } else {
            return Err(SmtpError::Network(format!(
                "the SMTP server offers no sign-in method vigie knows (PLAIN, LOGIN; it offers {})",
                self.offers.auth.join(" ")
            )));
        };
        let internal = |e: lettre::transport::smtp::Error| {
            SmtpError::Network(format!("signing in to the SMTP server: {e}"))
        };
        let first = Auth::new(mechanism, c.clone(), None).map_err(internal)?;
        let mut reply = self.exchange(&first.to_string()).await?;
        // LOGIN asks for the user name, then the password.
        for _ in 0..2 {
            if reply.code != 334 {
                break;
            }
            let challenge: Response = reply.raw.parse().map_err(internal)?;
            let answer =
                Auth::new_from_response(mechanism, c.clone(), &challenge).map_err(internal)?;
            reply = self.exchange(&answer.to_string()).await?;
        }
        reply.ok().map(|_| ())
    }
}

/// Reads one reply, of one or several lines (`250-...` then `250 ...`).
async fn read_reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<Reply, SmtpError> {
    let mut lines = Vec::new();
    let mut raw = String::new();
    let mut buf = Vec::with_capacity(128);
    loop {
        buf.clear();
        let n = (&mut *r)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
            .map_err(|e| SmtpError::Network(format!("reading from the SMTP server: {e}")))?;
        if n == 0 {
            return Err(SmtpError::Network(
                "the SMTP server closed the connection".into(),
            ));
        }
        if !buf.ends_with(b"\n") {
            return Err(SmtpError::Network(
                "the SMTP server sent a reply line longer than 4 KB".into(),
            ));
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                SmtpError::Network(format!(
                    "the SMTP server sent something that is not a reply: {}",
                    scrub(line)
                ))
            })?;
        raw.push_str(line);
        raw.push_str("\r\n");
        if raw.len() > MAX_REPLY {
            return Err(SmtpError::Network(
                "the SMTP server sent a reply longer than 64 KB".into(),
            ));
        }
        lines.push(line.get(4..).unwrap_or("").to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(Reply { code, lines, raw });
        }
    }
}

/// A message as DATA carries it: lines starting with `.` get another `.`, and the
/// final `.` line follows, in one block.
fn data_block(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 32 + 5);
    let mut line_start = true;
    for &b in body {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    if !body.is_empty() && !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl Relay {
    pub fn new(end: Endpoint, pool_size: u32) -> Relay {
        let pool_size = pool_size.max(1) as usize;
        Relay {
            hello: Ehlo::new(ClientId::default()).to_string(),
            end,
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(pool_size)),
            pool_size,
        }
    }

    /// Connections open at most.
    pub fn pool_size(&self) -> usize {
        self.pool_size
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.end.host, self.end.port)
    }

    fn pop(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn keep(&self, c: Conn) {
        if !c.broken {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
        }
    }

    /// A new session, encrypted and signed in as configured, within the timeout.
    async fn connect(&self) -> Result<Conn, SmtpError> {
        match tokio::time::timeout(self.end.timeout, self.open()).await {
            Ok(r) => r.map_err(|e| match e {
                SmtpError::Network(m) => SmtpError::Network(format!("{}: {m}", self.addr())),
                e => e,
            }),
            Err(_) => Err(SmtpError::Network(format!(
                "{}: no answer within {} s",
                self.addr(),
                self.end.timeout.as_secs()
            ))),
        }
    }

    async fn open(&self) -> Result<Conn, SmtpError> {
        let stream = tokio::net::TcpStream::connect((self.end.host.as_str(), self.end.port))
            .await
            .map_err(|e| SmtpError::Network(format!("connecting: {e}")))?;
        stream
            .set_nodelay(true)
            .map_err(|e| SmtpError::Network(format!("configuring the socket: {e}")))?;
        let io: Box<dyn Io> = match self.end.security {
            Security::Tls => Box::new(self.handshake(Box::new(stream)).await?),
            Security::Starttls | Security::None => Box::new(stream),
        };
        let mut c = Conn::new(io);
        c.read().await?.ok()?;
        c.ehlo(&self.hello).await?;
        if self.end.security == Security::Starttls {
            if !c.offers.starttls {
                return Err(SmtpError::Network(
                    "the SMTP server does not offer STARTTLS, which security: starttls \
                     requires (vigie never falls back to sending in clear)"
                        .into(),
                ));
            }
            c.exchange("STARTTLS\r\n").await?.ok()?;
            // Anything the server sent after its 220 would be read as if it came
            // through TLS: a known injection, refused.
            if !c.io.buffer().is_empty() {
                return Err(SmtpError::Network(
                    "the SMTP server sent data before the TLS handshake".into(),
                ));
            }
            let tls = self.handshake(c.io.into_inner()).await?;
            c = Conn::new(Box::new(tls));
            c.ehlo(&self.hello).await?;
        }
        if let Some(creds) = &self.end.credentials {
            c.auth(creds).await?;
        }
        Ok(c)
    }

    async fn handshake<S: AsyncRead + AsyncWrite + Unpin + Send>(
        &self,
        io: S,
    ) -> Result<tokio_rustls::client::TlsStream<S>, SmtpError> {
        let Some(tls) = &self.end.tls else {
            return Err(SmtpError::Network("internal: no TLS settings".into()));
        };
        tokio_rustls::TlsConnector::from(tls.config.clone())
            .connect(tls.name.clone(), io)
            .await
            .map_err(|e| {
                let hint = if e.to_string().contains("certificate")
                    && !e.to_string().contains("pin_sha256")
                {
                    " (the server's certificate is not trusted: is mail.smtp.ca_file the CA \
                     that signed it, and is mail.smtp.host a name it carries?)"
                } else {
                    ""
                };
                SmtpError::Network(format!("TLS handshake failed: {e}{hint}"))
            })
    }

    /// Hands one message to its envelope recipients; an error when any of them did not
    /// take it.
    pub async fn send(&self, msg: &Message) -> Result<(), SendError> {
        let env = msg.envelope();
        let outcomes = self.send_each(msg, env.from().cloned(), env.to()).await;
        for o in outcomes {
            match o {
                RcptOutcome::Accepted => {}
                RcptOutcome::Refused(message) => {
                    return Err(SendError {
                        transient: false,
                        message,
                    });
                }
                RcptOutcome::Deferred(message) => {
                    return Err(SendError {
                        transient: true,
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// Hands one message to each recipient in one transaction: every RCPT is tried,
    /// the refused ones are reported, and DATA goes to the accepted ones. A pooled
    /// connection the server has closed (it fails before MAIL FROM is answered) is
    /// replaced once.
    pub async fn send_each(
        &self,
        msg: &Message,
        from: Option<Address>,
        to: &[Address],
    ) -> Vec<RcptOutcome> {
        let all = |o: RcptOutcome| vec![o; to.len()];
        let Ok(_slot) = self.slots.acquire().await else {
            return all(RcptOutcome::Deferred("the relay pool is closed".into()));
        };
        let block = data_block(&msg.formatted());
        let pooled = self.pop();
        let fresh = pooled.is_none();
        let mut conn = match pooled {
            Some(c) => c,
            None => match self.connect().await {
                Ok(c) => c,
                Err(e) => return all(RcptOutcome::from_smtp(&e)),
            },
        };
        let mut result = self.bounded(&mut conn, &from, to, &block).await;
        if !fresh && matches!(result, Err((_, Stage::Mail))) {
            conn = match self.connect().await {
                Ok(c) => c,
                Err(e) => return all(RcptOutcome::from_smtp(&e)),
            };
            result = self.bounded(&mut conn, &from, to, &block).await;
        }
        match result {
            Ok(out) => {
                self.keep(conn);
                out
            }
            Err((e, _)) => {
                if e.is_reply() && !conn.broken {
                    // An answer, not a broken socket: reset and keep the connection.
                    if conn.exchange("RSET\r\n").await.is_ok() {
                        self.keep(conn);
                    }
                }
                all(RcptOutcome::from_smtp(&e))
            }
        }
    }

    /// One transaction within the timeout; a connection that overran it is not reused.
    async fn bounded(
        &self,
        conn: &mut Conn,
        from: &Option<Address>,
        to: &[Address],
        block: &[u8],
    ) -> Result<Vec<RcptOutcome>, (SmtpError, Stage)> {
        match tokio::time::timeout(self.end.timeout, transaction(conn, from, to, block)).await {
            Ok(r) => r,
            Err(_) => {
                conn.broken = true;
                Err((
                    SmtpError::Network(format!(
                        "the SMTP server {} did not finish within {} s",
                        self.addr(),
                        self.end.timeout.as_secs()
                    )),
                    Stage::Later,
                ))
            }
        }
    }

    /// Connects, signs in, and with `from` asks whether the server takes mail from that
    /// sender (MAIL FROM, then RSET): a sender it refuses would otherwise look like every
    /// recipient refusing.
    pub async fn check(&self, from: Option<&Address>) -> Result<(), String> {
        let mut c = self.connect().await.map_err(|e| scrub(&e.to_string()))?;
        if let Some(from) = from {
            let r = c
                .exchange(&Mail::new(Some(from.clone()), vec![]).to_string())
                .await
                .map_err(|e| e.to_string())?;
            if !r.positive() {
                return Err(format!(
                    "it refuses the sender {from} (mail.from): {}",
                    scrub(&r.error().to_string())
                ));
            }
            let _ = c.exchange("RSET\r\n").await;
        }
        let _ = c.exchange("QUIT\r\n").await;
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

type Outcomes = Result<Vec<RcptOutcome>, (SmtpError, Stage)>;

/// One SMTP transaction with partial acceptance: MAIL FROM, each RCPT (a refused one is
/// reported and the rest go on), then DATA to the accepted ones. `Err` when the whole
/// transaction failed: then no recipient has the message.
async fn transaction(
    conn: &mut Conn,
    from: &Option<Address>,
    to: &[Address],
    block: &[u8],
) -> Outcomes {
    let mut options = vec![];
    if to
        .iter()
        .chain(from.iter())
        .any(|a| !AsRef::<str>::as_ref(a).is_ascii())
        && conn.offers.utf8
    {
        options.push(MailParameter::SmtpUtfEight);
    }
    if !block.is_ascii() && conn.offers.eight_bit {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mail = Mail::new(from.clone(), options).to_string();
    if conn.offers.pipelining {
        pipelined(conn, &mail, to, block).await
    } else {
        lock_step(conn, &mail, to, block).await
    }
}

/// The answers to the RCPTs: `None` accepted, `Some` refused or deferred.
fn finish(out: Vec<Option<RcptOutcome>>, rest: RcptOutcome) -> Vec<RcptOutcome> {
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| rest.clone()))
        .collect()
}

/// RFC 2920: MAIL FROM, the RCPTs and DATA in one write, their answers read in order,
/// then the body (only after the 354, as DATA is the last command of a group).
async fn pipelined(conn: &mut Conn, mail: &str, to: &[Address], block: &[u8]) -> Outcomes {
    let mut group = String::with_capacity(mail.len() + 48 * to.len() + 6);
    group.push_str(mail);
    for a in to {
        group.push_str(&Rcpt::new(a.clone(), vec![]).to_string());
    }
    group.push_str("DATA\r\n");
    conn.write(group.as_bytes())
        .await
        .map_err(|e| (e, Stage::Mail))?;
    let mail_reply = conn.read().await.map_err(|e| (e, Stage::Mail))?;
    if !mail_reply.positive() {
        // The server answers the RCPTs and DATA too (with errors): read them, so the
        // connection is in step again, and report the sender's refusal.
        for _ in 0..=to.len() {
            match conn.read().await {
                Ok(r) if r.code == 354 => {
                    // A server that takes DATA anyway gets an empty message for nobody.
                    let _ = conn.write(b".\r\n").await;
                    let _ = conn.read().await;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        return Err((mail_reply.error(), Stage::Mail));
    }
    let mut out: Vec<Option<RcptOutcome>> = Vec::with_capacity(to.len());
    for _ in to {
        let r = conn.read().await.map_err(|e| (e, Stage::Later))?;
        out.push((!r.positive()).then(|| RcptOutcome::from_smtp(&r.error())));
    }
    let data = conn.read().await.map_err(|e| (e, Stage::Later))?;
    let nobody = out.iter().all(Option::is_some);
    if data.code != 354 {
        // Refused DATA: none of the accepted recipients has the message.
        let failed = RcptOutcome::from_smtp(&data.error());
        conn.exchange("RSET\r\n")
            .await
            .map_err(|e| (e, Stage::Later))?;
        return Ok(finish(out, failed));
    }
    // With every RCPT refused, a server should refuse DATA; one that does not gets an
    // empty message, which reaches nobody.
    let body: &[u8] = if nobody { b".\r\n" } else { block };
    conn.write(body).await.map_err(|e| (e, Stage::Later))?;
    let end = conn.read().await.map_err(|e| (e, Stage::Later))?;
    if end.positive() {
        Ok(finish(out, RcptOutcome::Accepted))
    } else {
        Ok(finish(out, RcptOutcome::from_smtp(&end.error())))
    }
}

/// Without PIPELINING: each command waits for its answer.
async fn lock_step(conn: &mut Conn, mail: &str, to: &[Address], block: &[u8]) -> Outcomes {
    conn.exchange(mail)
        .await
        .and_then(Reply::ok)
        .map_err(|e| (e, Stage::Mail))?;
    let mut out: Vec<Option<RcptOutcome>> = Vec::with_capacity(to.len());
    for a in to {
        let r = conn
            .exchange(&Rcpt::new(a.clone(), vec![]).to_string())
            .await
            .map_err(|e| (e, Stage::Later))?;
        out.push((!r.positive()).then(|| RcptOutcome::from_smtp(&r.error())));
    }
    if out.iter().all(Option::is_some) {
        // Nobody to send DATA to: end the transaction, keep the connection.
        conn.exchange("RSET\r\n")
            .await
            .map_err(|e| (e, Stage::Later))?;
        return Ok(finish(out, RcptOutcome::Accepted));
    }
    let data = conn
        .exchange("DATA\r\n")
        .await
        .map_err(|e| (e, Stage::Later))?;
    if data.code != 354 {
        let failed = RcptOutcome::from_smtp(&data.error());
        conn.exchange("RSET\r\n")
            .await
            .map_err(|e| (e, Stage::Later))?;
        return Ok(finish(out, failed));
    }
    conn.write(block).await.map_err(|e| (e, Stage::Later))?;
    let end = conn.read().await.map_err(|e| (e, Stage::Later))?;
    if end.positive() {
        Ok(finish(out, RcptOutcome::Accepted))
    } else {
        Ok(finish(out, RcptOutcome::from_smtp(&end.error())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_block_doubles_leading_dots_and_ends_once() {
        assert_eq!(
            data_block(b"a\r\n.b\r\n..c\r\n"),
            b"a\r\n..b\r\n...c\r\n.\r\n"
        );
        assert_eq!(data_block(b".x"), b"..x\r\n.\r\n");
        assert_eq!(data_block(b"x\r\n"), b"x\r\n.\r\n");
    }

    #[tokio::test]
    async fn multi_line_replies_are_read_whole() {
        let mut r: &[u8] = b"250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n550 no\r\n";
        let a = read_reply(&mut r).await.expect("a reply");
        assert_eq!(a.code, 250);
        assert_eq!(a.lines, ["sink", "PIPELINING", "8BITMIME"]);
        let b = read_reply(&mut r).await.expect("a reply");
        assert_eq!(
            (b.code, b.error().to_string()),
            (550, "permanent error (550): no".into())
        );
        assert!(
            read_reply(&mut r).await.is_err(),
            "end of input is an error"
        );
        let mut junk: &[u8] = b"hello <bob@example.org>\r\n";
        let e = read_reply(&mut junk).await.err().expect("not a reply");
        assert!(!e.to_string().contains("bob@"), "{e}");
    }
}
