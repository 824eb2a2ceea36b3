//! A minimal, fast SMTP sink for benchmarks: accepts every message on 127.0.0.1:PORT,
//! keeps nothing but a count, and prints it when stdin closes or on SIGTERM.
//! Enough of RFC 5321 for lettre and Python's smtplib (EHLO/HELO, MAIL, RCPT, DATA,
//! RSET, NOOP, QUIT).
//!
//! cargo run --release --example smtp_sink -- 2525

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(2525);
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
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"220 sink ESMTP\r\n").await;
            let mut line = Vec::new();
            loop {
                line.clear();
                if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with(b"EHLO") {
                    b"250-sink\r\n250-8BITMIME\r\n250 SIZE 52428800\r\n"
                } else if upper.starts_with(b"DATA") {
                    let _ = w.write_all(b"354 go\r\n").await;
                    loop {
                        line.clear();
                        if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == b".\r\n" || line == b".\n" {
                            break;
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    b"250 queued\r\n"
                } else if upper.starts_with(b"QUIT") {
                    let _ = w.write_all(b"221 bye\r\n").await;
                    return;
                } else {
                    b"250 ok\r\n"
                };
                if w.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}
