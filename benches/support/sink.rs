//! A minimal SMTP server for the benchmarks: enough of RFC 5321 for lettre, recording
//! when each message is accepted (the hand-off) and how many times each Message-ID came.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Message-ID -> (first hand-off, copies received).
pub type Arrivals = Arc<Mutex<HashMap<String, (DateTime<Utc>, usize)>>>;

/// Accepts connections until the listener fails.
pub async fn sink(listener: tokio::net::TcpListener, arrivals: Arrivals) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut r = BufReader::new(r);
            let _ = w.write_all(b"220 sink ESMTP\r\n").await;
            let mut line = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let cmd = line.trim_end().to_ascii_uppercase();
                let reply: &[u8] = if cmd.starts_with("EHLO") {
                    b"250-sink\r\n250 8BITMIME\r\n"
                } else if cmd.starts_with("DATA") {
                    let _ = w.write_all(b"354 go\r\n").await;
                    let mut mid = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        if mid.is_empty() && line.to_ascii_lowercase().starts_with("message-id:") {
                            mid = line[11..].trim().to_string();
                        }
                    }
                    arrivals
                        .lock()
                        .expect("lock")
                        .entry(mid)
                        .or_insert((Utc::now(), 0))
                        .1 += 1;
                    b"250 queued\r\n"
                } else if cmd.starts_with("QUIT") {
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
