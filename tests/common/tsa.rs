//! A real time-stamping authority for the tests: OpenSSL's own (`openssl ts -reply`),
//! with a CA and a TSA certificate made at start (`extendedKeyUsage =
//! critical,timeStamping`), behind a few lines of HTTP on loopback. Each POSTed query is
//! answered by `openssl ts -reply`, or, by [`Mode`], with a 503 (a TSA that is down) or
//! with a reply to a query without our nonce (a replayed or misdirected reply).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use tempfile::TempDir;

/// How the TSA answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Good,
    /// HTTP 503, as a TSA in maintenance.
    Down,
    /// A proper token, for a query without the nonce we sent.
    NoNonce,
}

/// The key of the TSA's certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Rsa,
    EcP256,
}

pub struct Tsa {
    dir: TempDir,
    pub url: String,
    mode: Arc<Mutex<Mode>>,
    /// Queries answered with a token.
    pub stamped: Arc<Mutex<usize>>,
}

/// Runs openssl with `args` in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn new_key(dir: &Path, key: Key, out: &str) {
    match key {
        Key::Rsa => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                out,
            ],
        ),
        Key::EcP256 => openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                out,
            ],
        ),
    };
}

/// A CA in `dir`: `NAME.key`, `NAME.pem`.
pub fn make_ca(dir: &Path, name: &str) {
    new_key(dir, Key::Rsa, &format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "3650",
            "-subj",
            &format!("/O=Synthetic/CN=vigie test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A certificate `NAME.pem` (key `NAME.key`) issued by the CA `ca`, with the extensions
/// `ext` (an OpenSSL extension section's lines).
pub fn make_cert(dir: &Path, ca: &str, name: &str, cn: &str, key: Key, ext: &str) {
    new_key(dir, key, &format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/O=Synthetic/CN={cn}"),
        ],
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

pub const TSA_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n";

impl Tsa {
    /// A TSA whose certificate has a `key` key, issued by a fresh CA (`ca.pem`).
    pub fn start(key: Key) -> Tsa {
        let dir = TempDir::new().unwrap();
        let d = dir.path();
        make_ca(d, "ca");
        make_cert(d, "ca", "tsa", "vigie test TSA", key, TSA_EXT);
        std::fs::write(d.join("tsaserial"), "01\n").unwrap();
        std::fs::write(
            d.join("ts.cnf"),
            format!(
                "[ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = {}\nserial = $dir/tsaserial\n\
                 crypto_device = builtin\nsigner_cert = $dir/tsa.pem\ncerts = $dir/ca.pem\n\
                 signer_key = $dir/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\n\
                 digests = sha256, sha384, sha512\naccuracy = secs:1, millisecs:500\n\
                 clock_precision_digits = 0\nordering = yes\ntsa_name = yes\n\
                 ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
                d.display()
            ),
        )
        .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/tsa", listener.local_addr().unwrap());
        let mode = Arc::new(Mutex::new(Mode::Good));
        let stamped = Arc::new(Mutex::new(0));
        let (m, s, root) = (mode.clone(), stamped.clone(), d.to_path_buf());
        std::thread::spawn(move || {
            let mut n = 0;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                n += 1;
                let body = read_request(&mut conn);
                let mode = *m.lock().unwrap();
                let reply = match mode {
                    Mode::Down => None,
                    Mode::Good | Mode::NoNonce => Some(reply(&root, n, &body, mode)),
                };
                let head = match &reply {
                    Some(r) => {
                        *s.lock().unwrap() += 1;
                        format!("HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", r.len())
                    }
                    None => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                };
                let _ = conn.write_all(head.as_bytes());
                if let Some(r) = reply {
                    let _ = conn.write_all(&r);
                }
                let _ = conn.flush();
            }
        });
        Tsa {
            dir,
            url,
            mode,
            stamped,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA the TSA's certificate chains to.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    pub fn stamped(&self) -> usize {
        *self.stamped.lock().unwrap()
    }
}

fn read_request(conn: &mut std::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return Vec::new();
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf[head_end..].to_vec()
}

/// The SHA-256 imprint a query carries: the first 32-byte OCTET STRING.
pub fn imprint_of_query(query: &[u8]) -> Vec<u8> {
    let p = query
        .windows(2)
        .position(|w| w == [0x04, 0x20])
        .expect("a SHA-256 imprint in the query");
    query[p + 2..p + 34].to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn reply(dir: &Path, n: usize, query: &[u8], mode: Mode) -> Vec<u8> {
    let q = format!("q{n}.tsq");
    let r = format!("r{n}.tsr");
    match mode {
        Mode::NoNonce => {
            let digest = hex(&imprint_of_query(query));
            openssl(
                dir,
                &[
                    "ts",
                    "-query",
                    "-digest",
                    &digest,
                    "-sha256",
                    "-cert",
                    "-no_nonce",
                    "-out",
                    &q,
                ],
            );
        }
        _ => std::fs::write(dir.join(&q), query).unwrap(),
    }
    openssl(
        dir,
        &[
            "ts",
            "-reply",
            "-config",
            "ts.cnf",
            "-queryfile",
            &q,
            "-out",
            &r,
        ],
    );
    std::fs::read(dir.join(&r)).unwrap()
}
