//! A minimal, fast SMTP sink for benchmarks: accepts every message on 127.0.0.1:PORT,
//! keeps nothing but a count, and prints it when stdin closes or on SIGTERM.
//! Enough of RFC 5321 for vigie's pool and Python's smtplib (EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT), with PIPELINING offered, and TLS when asked:
//!
//! cargo run --release --example smtp_sink -- 2525
//! cargo run --release --example smtp_sink -- 2587 --starttls CERT.pem KEY.pem
//! cargo run --release --example smtp_sink -- 2465 --tls CERT.pem KEY.pem

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Starttls,
    Tls,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(2525);
    let mode = match args.get(2).map(String::as_str) {
        Some("--starttls") => Mode::Starttls,
        Some("--tls") => Mode::Tls,
        _ => Mode::Plain,
    };
    let acceptor = (mode != Mode::Plain).then(|| {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&args[3])
            .expect("certificate file")
            .collect::<Result<_, _>>()
            .expect("certificates");
        let key = PrivateKeyDer::from_pem_file(&args[4]).expect("key file");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("certificate and key");
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let count = Arc::new(AtomicU64::new(0));
    println!("ready {port}");
    let c = count.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal");
        term.recv().await;
        println!("received {}", c.load(Ordering::SeqCst));
        std::process::exit(0);
    });
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        let count = count.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match (mode, acceptor) {
                (Mode::Tls, Some(a)) => {
                    if let Ok(s) = a.accept(sock).await {
                        let _ = session(s, false, true, &count).await;
                    }
                }
                (Mode::Starttls, Some(a)) => {
                    if let Some(sock) = session(sock, true, true, &count).await
                        && let Ok(s) = a.accept(sock).await
                    {
                        let _ = session(s, false, false, &count).await;
                    }
                }
                _ => {
                    let _ = session(sock, false, true, &count).await;
                }
            }
        });
    }
}

/// One SMTP session on `stream`. Returns the stream when the client asked for STARTTLS
/// (offered when `starttls`), after the 220 that lets it start the handshake.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    starttls: bool,
    greet: bool,
    count: &AtomicU64,
) -> Option<S> {
    let mut r = BufReader::new(stream);
    if greet {
        r.get_mut().write_all(b"220 sink ESMTP\r\n").await.ok()?;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with(b"EHLO") {
            if starttls {
                b"250-sink\r\n250-PIPELINING\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
            } else {
                b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
            }
        } else if starttls && upper.starts_with(b"STARTTLS") {
            r.get_mut().write_all(b"220 go ahead\r\n").await.ok()?;
            r.get_mut().flush().await.ok()?;
            return Some(r.into_inner());
        } else if upper.starts_with(b"DATA") {
            r.get_mut().write_all(b"354 go\r\n").await.ok()?;
            r.get_mut().flush().await.ok()?;
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    return None;
                }
                if line == b".\r\n" || line == b".\n" {
                    break;
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            b"250 queued\r\n"
        } else if upper.starts_with(b"QUIT") {
            let _ = r.get_mut().write_all(b"221 bye\r\n").await;
            let _ = r.get_mut().flush().await;
            return None;
        } else {
            b"250 ok\r\n"
        };
        r.get_mut().write_all(reply).await.ok()?;
        // Replies to pipelined commands go out together once the input is drained.
        if r.buffer().is_empty() {
            r.get_mut().flush().await.ok()?;
        }
    }
}
