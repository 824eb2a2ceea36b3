//! Issue 26: proof that holds outside vigie. Checkpoints stamped by a real
//! time-stamping authority (OpenSSL's, `tests/common/tsa.rs`) and signed as C2SP
//! signed notes, verified by `audit verify --checkpoint` and, without any database, by
//! `audit verify-checkpoint`; each bad case refused in one line.

use crate::common;

use common::Vigie;
use common::smtp::{Sink, attachments, free_port, read_sink};
use common::tsa::{Key, Mode, Tsa, make_cert, openssl};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Two cases, three events.
fn register() -> Vigie {
    let v = Vigie::new();
    v.open_fr("c1", "2025-10-23T10:00");
    v.ok(&["case", "set", "c1", "risk=high"]);
    v.open_fr("c2", "2025-11-02T08:00");
    v
}

fn config(v: &Vigie, body: &str) -> PathBuf {
    let p = v.dir().join("vigie.yaml");
    std::fs::write(&p, body).unwrap();
    p
}

fn tsa_config(v: &Vigie, tsa: &Tsa) -> PathBuf {
    config(
        v,
        &format!(
            "audit:\n  tsa:\n    url: {}\n    ca_file: {}\n",
            tsa.url,
            tsa.ca().display()
        ),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", p.display()))
}

/// "existed before 2026-12-07 09:00:03 UTC": the instant, read back.
fn before(out: &str) -> chrono::DateTime<chrono::Utc> {
    let at = out
        .split("existed before ")
        .nth(1)
        .and_then(|r| r.get(..19))
        .unwrap_or_else(|| panic!("no 'existed before' in {out}"));
    chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")
        .unwrap()
        .and_utc()
}

fn good_stamp(key: Key) {
    let tsa = Tsa::start(key);
    let v = register();
    let cfg = tsa_config(&v, &tsa);
    let cp = v.dir().join("cp.txt");
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    let out = v.ok(&["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp)]);
    assert!(out.contains("time-stamped: existed before "), "{out}");
    assert!(out.contains("stamped by CN=vigie test TSA"), "{out}");
    let (tsr, tsq) = (with_ext(&cp, "tsr"), with_ext(&cp, "tsq"));
    assert!(tsr.exists() && tsq.exists());
    // OpenSSL, on its own, agrees: the stamp is over the file's bytes, answers the query.
    let d = v.dir();
    let ok = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-data",
            s(&cp),
            "-in",
            s(&tsr),
            "-CAfile",
            s(&tsa.ca()),
        ],
    );
    assert!(String::from_utf8_lossy(&ok).contains("Verification: OK"));
    let ok = openssl(
        d,
        &[
            "ts",
            "-verify",
            "-queryfile",
            s(&tsq),
            "-in",
            s(&tsr),
            "-CAfile",
            s(&tsa.ca()),
        ],
    );
    assert!(String::from_utf8_lossy(&ok).contains("Verification: OK"));
    // vigie says what was proven, in one line.
    let out = v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp),
    ]);
    assert!(out.contains("register intact"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("existed before "))
        .unwrap_or_else(|| panic!("no proof line: {out}"));
    assert!(
        line.contains(" UTC, stamped by CN=vigie test TSA"),
        "{line}"
    );
    assert!(out.contains("(same nonce)"), "{out}");
    // The instant is the TSA's, now (plus its stated accuracy, 1.5 s, rounded up).
    let t = before(line);
    assert!(
        t >= start && t <= chrono::Utc::now() + chrono::Duration::seconds(5),
        "{t} vs {start}"
    );
}

#[test]
fn a_checkpoint_stamped_by_a_real_tsa_with_an_rsa_key_verifies() {
    good_stamp(Key::Rsa);
}

#[test]
fn a_checkpoint_stamped_by_a_real_tsa_with_an_ecdsa_p256_key_verifies() {
    good_stamp(Key::EcP256);
}

/// Each way a stamp can fail to prove: one line naming the stamp and why, exit 2.
#[test]
fn a_stamp_that_proves_nothing_is_refused_in_one_line() {
    let tsa = Tsa::start(Key::Rsa);
    let v = register();
    let cfg = tsa_config(&v, &tsa);
    let d = v.dir().to_path_buf();
    let cp1 = d.join("cp1.txt");
    let cp2 = d.join("cp2.txt");
    v.ok(&["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp1)]);
    v.ok(&["case", "set", "c2", "risk=high"]);
    v.ok(&["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp2)]);
    let verify = |file: &Path, extra: &[&str]| -> String {
        let mut args = vec![
            "--config",
            s(&cfg),
            "audit",
            "verify",
            "--checkpoint",
            s(file),
        ];
        args.extend_from_slice(extra);
        let err = v.fails(&args, 2);
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        err
    };
    let (tsr1, tsr2) = (with_ext(&cp1, "tsr"), with_ext(&cp2, "tsr"));
    let good1 = std::fs::read(&tsr1).unwrap();
    let good2 = std::fs::read(&tsr2).unwrap();

    // A token for another imprint: cp1's stamp beside cp2.
    std::fs::write(&tsr2, &good1).unwrap();
    let err = verify(&cp2, &[]);
    assert!(
        err.contains("cp2.txt.tsr") && err.contains("other content"),
        "{err}"
    );
    std::fs::write(&tsr2, &good2).unwrap();
    v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp2),
    ]);

    // A wrong CA.
    common::tsa::make_ca(&d, "other");
    let err = verify(&cp1, &["--tsa-ca", s(&d.join("other.pem"))]);
    assert!(err.contains("does not chain to a trusted CA"), "{err}");

    // A tampered token: a flipped byte of the signature (the last bytes of the reply).
    let mut t = good1.clone();
    let n = t.len();
    t[n - 3] ^= 0x01;
    std::fs::write(&tsr1, &t).unwrap();
    let err = verify(&cp1, &[]);
    assert!(
        err.contains("signature does not verify") && err.contains("altered"),
        "{err}"
    );

    // A tampered TSTInfo: one digit of its time changed.
    let mut t = good1.clone();
    let at = t
        .windows(2)
        .position(|w| w[0] == 0x18 && (w[1] == 15 || w[1] == 19))
        .expect("a GeneralizedTime in the token");
    t[at + 2 + 12] = if t[at + 2 + 12] == b'0' { b'1' } else { b'0' };
    std::fs::write(&tsr1, &t).unwrap();
    let err = verify(&cp1, &[]);
    assert!(err.contains("altered"), "{err}");

    // A TSA certificate without the timeStamping key purpose (OpenSSL's TSA refuses to
    // sign with one, so the token is made with `openssl cms`, the same TSTInfo, signed
    // by a certificate of the same CA with the ESS signing-certificate attribute).
    std::fs::write(&tsr1, &good1).unwrap();
    let td = tsa.dir();
    make_cert(
        td,
        "ca",
        "noeku",
        "vigie test no purpose",
        Key::Rsa,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
    );
    openssl(
        td,
        &[
            "ts",
            "-reply",
            "-in",
            s(&tsr1),
            "-token_out",
            "-out",
            "tok.der",
        ],
    );
    openssl(
        td,
        &[
            "cms",
            "-verify",
            "-noverify",
            "-inform",
            "DER",
            "-in",
            "tok.der",
            "-binary",
            "-out",
            "tst.der",
        ],
    );
    openssl(
        td,
        &[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-in",
            "tst.der",
            "-econtent_type",
            "1.2.840.113549.1.9.16.1.4",
            "-signer",
            "noeku.pem",
            "-inkey",
            "noeku.key",
            "-md",
            "sha256",
            "-cades",
            "-outform",
            "DER",
            "-out",
            s(&tsr1),
        ],
    );
    let err = verify(&cp1, &[]);
    assert!(
        err.contains("CN=vigie test no purpose") && err.contains("no timeStamping key purpose"),
        "{err}"
    );
    std::fs::write(&tsr1, &good1).unwrap();
    v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp1),
    ]);

    // A reply without our nonce is not taken: the checkpoint is written, unstamped.
    tsa.set_mode(Mode::NoNonce);
    let cp3 = d.join("cp3.txt");
    let err = v.fails(
        &["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp3)],
        3,
    );
    assert!(err.contains("nonce"), "{err}");
    assert!(cp3.exists() && !with_ext(&cp3, "tsr").exists());
}

/// A TSA that is down: the checkpoint is written all the same (exit 3, one warning
/// line), verifies unstamped, and `audit stamp` stamps it once the TSA is back.
#[test]
fn a_tsa_that_is_down_leaves_the_checkpoint_written_and_stampable_later() {
    let tsa = Tsa::start(Key::Rsa);
    tsa.set_mode(Mode::Down);
    let v = register();
    let cfg = tsa_config(&v, &tsa);
    let cp = v.dir().join("cp.txt");
    let out = v.run(&["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp)]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stdout.contains("checkpoint of 2 cases"), "{out:?}");
    assert!(
        out.stderr.contains("written but not time-stamped") && out.stderr.contains("503"),
        "{out:?}"
    );
    assert_eq!(out.stderr.trim().lines().count(), 1, "{out:?}");
    let ok = v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp),
    ]);
    assert!(ok.contains("not time-stamped"), "{ok}");
    // Nothing listens at all: the same.
    let gone = format!("http://127.0.0.1:{}/tsa", free_port());
    let out = v.run(&[
        "audit",
        "checkpoint",
        "--out",
        s(&v.dir().join("cp-b.txt")),
        "--tsa",
        &gone,
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    // Back: stamped afterwards.
    tsa.set_mode(Mode::Good);
    let out = v.ok(&["--config", s(&cfg), "audit", "stamp", s(&cp)]);
    assert!(out.contains("existed before"), "{out}");
    let ok = v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp),
    ]);
    assert!(ok.contains("stamped by CN=vigie test TSA"), "{ok}");
}

/// The checkpoint's text as `audit checkpoint` signs it, rewritten by someone who
/// knows the format: a case line changed, and the self hash, the root, the tree size
/// and the note's root recomputed. Only the signature is left to tell.
fn forge(signed: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (note, sigs) = signed.split_once("\n\n").unwrap();
    let lines: Vec<&str> = note.lines().collect();
    let origin = lines[0];
    let mut body: Vec<String> = lines[3..].iter().map(|l| l.to_string()).collect();
    body.pop(); // self
    body.pop(); // root
    let c1 = body
        .iter()
        .position(|l| l.starts_with("case default c1 "))
        .unwrap();
    body[c1] = body[c1].replacen(" 2 ", " 1 ", 1);
    let cases: Vec<&String> = body.iter().filter(|l| l.starts_with("case ")).collect();
    let mut h = Sha256::new();
    for c in &cases {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    let root = h.finalize();
    let events: i64 = cases
        .iter()
        .map(|c| c.split(' ').nth(3).unwrap().parse::<i64>().unwrap())
        .sum();
    let mut text = body.join("\n") + "\n";
    text.push_str(&format!("root {}\n", hex(&root)));
    let own = hex(&Sha256::digest(text.as_bytes()));
    text.push_str(&format!("self {own}\n"));
    let b64 = base64::engine::general_purpose::STANDARD.encode(root);
    format!("{origin}\n{events}\n{b64}\n{text}\n{sigs}")
}

/// A checkpoint signed with `audit.signing_key`: verified with its verifier key, also
/// with no database at all; refused with another key, and when a case line or the
/// root is edited, even with every hash recomputed.
#[test]
fn a_signed_checkpoint_verifies_with_its_key_only_and_without_the_database() {
    let v = register();
    let d = v.dir().to_path_buf();
    let key_file = d.join("signing.key");
    let public = v.ok(&[
        "audit",
        "keygen",
        "--out",
        s(&key_file),
        "--name",
        "vigie.example/register",
    ]);
    let public = public.trim().to_string();
    assert!(public.starts_with("vigie.example/register+"), "{public}");
    // Never over an existing key.
    v.fails(&["audit", "keygen", "--out", s(&key_file)], 2);
    // Relative to the configuration file.
    let cfg = config(&v, "audit:\n  signing_key: signing.key\n");
    let cp = d.join("cp.txt");
    v.ok(&["--config", s(&cfg), "audit", "checkpoint", "--out", s(&cp)]);
    let text = std::fs::read_to_string(&cp).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "vigie.example/register", "{text}");
    assert_eq!(
        lines[1], "3",
        "the tree size is the number of events: {text}"
    );
    assert_eq!(lines[3], "vigie checkpoint v1", "{text}");
    assert!(
        text.contains("\n\n\u{2014} vigie.example/register "),
        "{text}"
    );

    // No database: a path that does not exist, and stays so.
    let nodb = d.join("none").join("nothing.db");
    let no_db = |args: &[&str]| {
        let out = common::command_on(&nodb).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = no_db(&["audit", "verify-checkpoint", s(&cp), "--key", &public]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 cases, 3 events"), "{out}");
    assert!(
        out.contains("signed by vigie.example/register+") && out.contains("the signature verifies"),
        "{out}"
    );
    assert!(out.contains("not time-stamped"), "{out}");
    assert!(!nodb.exists() && !d.join("none").exists());
    // The key as a file works too.
    std::fs::write(d.join("public.txt"), &public).unwrap();
    let (code, _, err) = no_db(&[
        "audit",
        "verify-checkpoint",
        s(&cp),
        "--key",
        s(&d.join("public.txt")),
    ]);
    assert_eq!(code, 0, "{err}");

    // Another key.
    let other = v.ok(&[
        "audit",
        "keygen",
        "--out",
        s(&d.join("other.key")),
        "--name",
        "vigie.example/register",
    ]);
    let (code, _, err) = no_db(&["audit", "verify-checkpoint", s(&cp), "--key", other.trim()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not signed by the key"), "{err}");

    // A case line edited by hand: its own hash tells.
    let edited = d.join("edited.txt");
    let line = lines
        .iter()
        .find(|l| l.starts_with("case default c1 "))
        .unwrap();
    std::fs::write(&edited, text.replace(line, &line.replacen(" 2 ", " 1 ", 1))).unwrap();
    let (code, _, err) = no_db(&["audit", "verify-checkpoint", s(&edited), "--key", &public]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("edited.txt") && err.contains("edited"),
        "{err}"
    );
    // Every hash recomputed: the signature tells, here and in `audit verify`.
    std::fs::write(&edited, forge(&text)).unwrap();
    let (code, _, err) = no_db(&["audit", "verify-checkpoint", s(&edited), "--key", &public]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("signature") && err.contains("does not verify"),
        "{err}"
    );
    let err = v.fails(
        &[
            "--config",
            s(&cfg),
            "audit",
            "verify",
            "--checkpoint",
            s(&edited),
        ],
        2,
    );
    assert!(err.contains("does not verify"), "{err}");
    // The note's root edited.
    std::fs::write(
        &edited,
        text.replacen(lines[2], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1),
    )
    .unwrap();
    let (code, _, err) = no_db(&["audit", "verify-checkpoint", s(&edited), "--key", &public]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("root"), "{err}");

    // With the database: the register against it, and the signature with the
    // configured key.
    let out = v.ok(&[
        "--config",
        s(&cfg),
        "audit",
        "verify",
        "--checkpoint",
        s(&cp),
    ]);
    assert!(
        out.contains("register intact") && out.contains("the signature verifies"),
        "{out}"
    );
}

/// `vigie serve` with a TSA that is down: the checkpoint e-mail goes out unstamped, a
/// case command meanwhile is not held back, and once the TSA is back the stamp is
/// retried and a signed, stamped checkpoint reaches the DPO, which verifies from the
/// e-mail's files alone.
#[test]
fn serve_mails_signed_stamped_checkpoints_and_retries_a_tsa_that_is_down() {
    let tsa = Tsa::start(Key::EcP256);
    tsa.set_mode(Mode::Down);
    let v = Vigie::new();
    let d = v.dir().to_path_buf();
    let public = v.ok(&["audit", "keygen", "--out", s(&d.join("signing.key"))]);
    let public = public.trim().to_string();
    let port = free_port();
    let cfg = config(
        &v,
        &format!(
            "dpo: {{ email: dpo@example.org }}\n\
             mail:\n  from: \"vigie <vigie@example.org>\"\n  transport: smtp\n  smtp: {{ host: 127.0.0.1, port: {port}, security: none, timeout_secs: 10 }}\n\
             audit:\n  signing_key: signing.key\n  tsa:\n    url: {}\n    ca_file: {}\n",
            tsa.url,
            tsa.ca().display()
        ),
    );
    // Aware an hour ago: no reminder is due yet, only the checkpoint.
    let aware = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    v.open_fr("c1", &aware);
    let sink_dir = d.join("sink");
    let _sink = Sink::start(port, &sink_dir, &d.join("sink.log"));
    let serve = v
        .serve()
        .config(&cfg)
        .listen("none")
        .args(&["--idle-check-secs", "1"])
        .spawn();
    type Attachments = Vec<(String, Vec<u8>)>;
    let checkpoints = || -> Vec<(PathBuf, Attachments)> {
        read_sink(&sink_dir)
            .iter()
            .map(|m| (m.eml.clone(), attachments(&m.eml)))
            .filter(|(_, a)| a.iter().any(|(n, _)| n.starts_with("vigie-checkpoint-")))
            .collect()
    };
    let wait = |n: usize| {
        let start = Instant::now();
        while checkpoints().len() < n && start.elapsed() < Duration::from_secs(90) {
            std::thread::sleep(Duration::from_millis(300));
        }
        let got = checkpoints();
        assert!(
            got.len() >= n,
            "{} checkpoint e-mails, not {n}; log:\n{}",
            got.len(),
            serve.log()
        );
        got
    };
    let first = wait(1);
    assert_eq!(first[0].1.len(), 1, "unstamped: the checkpoint alone");
    assert!(serve.log().contains("not time-stamped"), "{}", serve.log());
    // A case command while the TSA is down and serve retries: not held back.
    v.ok(&["case", "set", "c1", "risk=high"]);
    tsa.set_mode(Mode::Good);
    let got = wait(2);
    let (eml, files) = &got[1];
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(files.len(), 3, "{names:?}");
    for (name, bytes) in files {
        std::fs::write(d.join(name), bytes).unwrap();
    }
    let cp = files.iter().find(|(n, _)| n.ends_with(".txt")).unwrap();
    assert!(
        names.contains(&format!("{}.tsr", cp.0).as_str())
            && names.contains(&format!("{}.tsq", cp.0).as_str()),
        "{names:?}"
    );
    let file = d.join(&cp.0);
    let out = common::command_on(d.join("absent.db"))
        .args([
            "audit",
            "verify-checkpoint",
            s(&file),
            "--key",
            &public,
            "--tsa-ca",
            s(&tsa.ca()),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("the signature verifies"), "{text}");
    assert!(text.contains("stamped by CN=vigie test TSA"), "{text}");
    assert!(text.contains("(same nonce)"), "{text}");
    // The body tells the DPO how to check it, with the verifier key.
    let body = common::smtp::decoded(eml);
    assert!(
        body.contains("verify-checkpoint") && body.contains(&public),
        "{body}"
    );
}
