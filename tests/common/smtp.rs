//! The loopback SMTP server of the reminder and notification tests
//! (tests/support/smtp_sink.py, aiosmtpd, a separate process): it writes `<n>.eml` then
//! `<n>.rcpt` for each message it accepts (numbered from 1), before answering 250.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START: Duration = Duration::from_secs(60);

/// A port nobody listens on right now: bound to port 0, then released.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("a local address").port()
}

/// The configuration of the reminder tests: SMTP to the sink on `port`. They count every message the sink accepts: the register's checkpoint
/// e-mails are tested in tests/organisations.rs.
pub fn standard_config(port: u16) -> String {
    format!(
        r#"checkpoints: {{ email: false }}
dpo:
  email: dpo@example.org
reminders:
  escalation: [boss@example.org]
mail:
  transport: smtp
  from: "vigie <vigie@example.org>"
  smtp:
    host: 127.0.0.1
    port: {port}
    security: none
    timeout_secs: 10
"#
    )
}

/// [`standard_config`] reaching the sink with `security` (`starttls` or `tls`), trusting
/// the CA certificates in `ca_file`.
pub fn tls_config(port: u16, security: &str, ca_file: &Path) -> String {
    standard_config(port).replace(
        "security: none",
        &format!("security: {security}\n    ca_file: {}", ca_file.display()),
    )
}

/// A private CA and a server certificate it signed for `localhost` and `127.0.0.1`, made
/// by the test with `openssl`: what an internal relay holds. `ca` is what
/// `mail.smtp.ca_file` names; `cert` and `key` are the sink's.
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// A new CA (named `name`, so that two of them differ) and its server certificate,
    /// in `dir`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        std::fs::create_dir_all(dir).expect("certificate folder");
        let p = |f: &str| dir.join(format!("{name}-{f}"));
        let ext = p("ext.cnf");
        std::fs::write(
            &ext,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write the extensions");
        let (ca_key, csr) = (p("ca.key"), p("server.csr"));
        let pki = Pki {
            ca: p("ca.pem"),
            cert: p("cert.pem"),
            key: p("key.pem"),
        };
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let subject = format!("/CN=vigie-test-CA-{name}");
        let openssl = |line: &str, files: &[(&str, &Path)]| {
            let mut c = Command::new("openssl");
            c.args(line.split_whitespace());
            for (flag, path) in files {
                c.arg(flag).arg(path);
            }
            let out = c.output().expect("openssl runs (apt-get install openssl)");
            assert!(
                out.status.success(),
                "openssl {line} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(
            &format!("req -x509 {ec} -days 2 -subj {subject}"),
            &[("-keyout", &ca_key), ("-out", &pki.ca)],
        );
        openssl(
            &format!("req {ec} -subj /CN=localhost"),
            &[("-keyout", &pki.key), ("-out", &csr)],
        );
        openssl(
            "x509 -req -days 2 -set_serial 1",
            &[
                ("-in", &csr),
                ("-CA", &pki.ca),
                ("-CAkey", &ca_key),
                ("-extfile", &ext),
                ("-out", &pki.cert),
            ],
        );
        pki
    }
}

pub struct Sink {
    child: Option<Child>,
    pub dir: PathBuf,
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub n: u64,
    pub rcpt: Vec<String>,
    pub eml: PathBuf,
    pub headers: Vec<(String, String)>,
    pub message_id: Option<String>,
    /// MAIL FROM, RCPT TO and DATA arrived in one read (SMTP PIPELINING).
    pub pipelined: bool,
    /// The TLS version of the session (`TLSv1.3`), `none` in clear.
    pub tls: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Sink {
    pub fn start(port: u16, dir: &Path, log: &Path) -> Sink {
        Sink::start_with(port, dir, log, &[])
    }

    /// A sink with options: `--starttls CERT KEY`, `--tls CERT KEY`, `--no-pipelining`.
    pub fn start_with(port: u16, dir: &Path, log: &Path, options: &[&std::ffi::OsStr]) -> Sink {
        std::fs::create_dir_all(dir).expect("sink folder");
        let python = super::smtp_python();
        let mut child = Command::new(&python)
            .arg(super::repo("tests/support/smtp_sink.py"))
            .arg(port.to_string())
            .arg(dir)
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("sink log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        let stdout = child.stdout.take().expect("sink stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut sink = Sink {
            child: Some(child),
            dir: dir.to_path_buf(),
        };
        match rx.recv_timeout(START) {
            Ok(line) if line.trim() == "ready" => sink,
            other => {
                sink.kill();
                panic!(
                    "the SMTP sink did not start ({other:?}); is aiosmtpd installed \
                     (pip install aiosmtpd)? its stderr:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
        }
    }

    /// SIGTERM: the sink stops cleanly (exit 0) and the port is free again.
    pub fn stop(&mut self) {
        let mut c = self.child.take().expect("the sink is running");
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .expect("kill runs");
        assert!(st.success(), "kill -TERM {} failed", c.id());
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = c.try_wait().expect("try_wait") {
                break Some(s);
            }
            if t0.elapsed() > START {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(0),
            "the sink exits 0 on SIGTERM"
        );
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Number of messages accepted so far (counts `.rcpt` files).
    pub fn count(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".rcpt"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// Whether the sink has accepted at least `n` messages (O(1): they are numbered).
    pub fn has(&self, n: usize) -> bool {
        n == 0 || self.dir.join(format!("{n}.rcpt")).exists()
    }

    pub fn messages(&self) -> Vec<Received> {
        read_sink(&self.dir)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every message in a sink folder, in arrival order. A `.rcpt` is renamed into place
/// after its `.eml`, so only messages with both are listed.
pub fn read_sink(dir: &Path) -> Vec<Received> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(".rcpt") else {
            continue;
        };
        let Ok(n) = stem.parse::<u64>() else { continue };
        let rcpt = std::fs::read_to_string(e.path())
            .expect("rcpt file")
            .lines()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty())
            .collect();
        let eml = dir.join(format!("{n}.eml"));
        let raw = std::fs::read(&eml).expect("eml file beside its rcpt");
        let headers = headers(&raw);
        let message_id = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("message-id"))
            .map(|(_, v)| v.clone());
        let how = std::fs::read_to_string(dir.join(format!("{n}.smtp"))).unwrap_or_default();
        let field = |k: &str| {
            how.lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        out.push(Received {
            n,
            rcpt,
            eml,
            headers,
            message_id,
            pipelined: field("pipelined:") == "yes",
            tls: field("tls:"),
        });
    }
    out.sort_by_key(|r| r.n);
    out
}

/// The header block of a raw message, unfolded: (name, value) in order.
pub fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("");
    let mut unfolded: Vec<String> = Vec::new();
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(last) = unfolded.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            unfolded.push(line.to_string());
        }
    }
    unfolded
        .iter()
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Runs `script` (Python, with the message parsed as `m` by the `email` package, an
/// independent parser) on one `.eml`; its standard output.
fn python_email(eml: &Path, script: &str) -> Vec<u8> {
    let prelude = "import sys, json, email, email.policy\n\
        m = email.message_from_bytes(open(sys.argv[1], 'rb').read(), policy=email.policy.default)\n";
    let out = Command::new(super::smtp_python())
        .arg("-c")
        .arg(format!("{prelude}{script}"))
        .arg(eml)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "reading {} failed: {}",
        eml.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A message as a person reads it: its headers, then each part's decoded text.
pub fn decoded(eml: &Path) -> String {
    const SCRIPT: &str = r#"
out = [f"{k}: {v}" for k, v in m.items()]
for p in m.walk():
    if p.is_multipart():
        continue
    c = p.get_content()
    out.append(c if isinstance(c, str) else c.decode('utf-8', 'replace'))
print("\n".join(out))
"#;
    String::from_utf8(python_email(eml, SCRIPT)).expect("UTF-8")
}

/// The attachments of a message: (file name, bytes).
pub fn attachments(eml: &Path) -> Vec<(String, Vec<u8>)> {
    const SCRIPT: &str = r#"
out = []
for p in m.iter_attachments():
    c = p.get_content()
    out.append([p.get_filename(), list(c.encode('utf-8') if isinstance(c, str) else c)])
print(json.dumps(out))
"#;
    serde_json::from_slice(&python_email(eml, SCRIPT)).expect("the parser prints JSON")
}
