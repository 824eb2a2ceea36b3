//! The TLS client settings of the SMTP pool: which certificates are trusted.
//!
//! By default the server's certificate must chain to a root of the Mozilla program
//! (webpki-roots, compiled in: the same list lettre used, and the same on every
//! machine). With `mail.smtp.ca_file`, only the CA certificates of that PEM file are
//! trusted, for a relay whose certificate comes from a private CA. With
//! `mail.smtp.pin_sha256` (issue 23, N12) only a server whose certificate, or whose
//! public key, has one of the given SHA-256 digests is accepted, whoever signed it: the
//! way to verify a relay's own self-signed certificate (which `openssl req -x509` marks
//! as a CA, so that webpki refuses it as a server's: "CaUsedAsEnd"). With
//! `danger_accept_invalid_certs: true` no certificate is checked (the handshake's
//! signatures still are): a test set-up only, announced by a warning at start.

use super::MailError;
use crate::util::hash::hex;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// One provider for the whole program (ring), chosen here rather than by whichever
/// crate enabled a rustls feature.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration, with every file read and checked now (at start). `pins`
/// are the digests of `mail.smtp.pin_sha256` (see [`parse_pin`]).
pub fn client_config(
    ca_file: Option<&Path>,
    pins: &[[u8; 32]],
    danger_accept_invalid_certs: bool,
) -> Result<Arc<rustls::ClientConfig>, MailError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| MailError::Smtp(format!("TLS: {e}")))?;
    let roots = match ca_file {
        Some(path) => ca_roots(path)?,
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| MailError::Smtp(format!("TLS: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if danger_accept_invalid_certs {
        Arc::new(AcceptAnyCertificate(provider()))
    } else {
        Arc::new(Checked {
            webpki,
            pins: pins.to_vec(),
        })
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// One digest of `mail.smtp.pin_sha256`: 64 hexadecimal digits, with or without the
/// colons `openssl x509 -fingerprint -sha256` prints.
pub fn parse_pin(text: &str) -> Result<[u8; 32], MailError> {
    let hex: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bad = || {
        MailError::Smtp(format!(
            "pin_sha256 {}: expected the 64 hexadecimal digits of a SHA-256 (of the \
             server's certificate: openssl x509 -in CERT -noout -fingerprint -sha256)",
            crate::util::quote(text)
        ))
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// The SHA-256 of a certificate, and of its public key (SubjectPublicKeyInfo, DER) when
/// it can be read.
fn digests(cert: &CertificateDer<'_>) -> ([u8; 32], Option<[u8; 32]>) {
    let spki = webpki::EndEntityCert::try_from(cert)
        .ok()
        .map(|c| sha256(c.subject_public_key_info().as_ref()));
    (sha256(cert.as_ref()), spki)
}

/// A certificate problem told in our words (shown as "other error: ...").
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(msg: String) -> rustls::Error {
    rustls::Error::Other(rustls::OtherError(Arc::new(Refused(msg))))
}

/// The usual checks (a chain to the trusted roots, the host's name, the dates), or,
/// with pins, only the pins. A CA certificate presented as the server's own is refused
/// with the way out: pin it.
#[derive(Debug)]
struct Checked {
    webpki: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.pins.is_empty() {
            let (cert, key) = digests(end_entity);
            if self.pins.contains(&cert) || key.is_some_and(|k| self.pins.contains(&k)) {
                return Ok(ServerCertVerified::assertion());
            }
            return Err(refused(format!(
                "the server's certificate matches no mail.smtp.pin_sha256 (its SHA-256 is \
                 {}{})",
                hex(&cert),
                key.map(|k| format!(", its public key's {}", hex(&k)))
                    .unwrap_or_default()
            )));
        }
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e) if e.to_string().contains("CaUsedAsEnd") => {
                let (cert, _) = digests(end_entity);
                Err(refused(format!(
                    "invalid peer certificate: CaUsedAsEnd: the server presents a CA \
                     certificate as its own (a self-signed one, as `openssl req -x509` \
                     makes); to verify it, set mail.smtp.pin_sha256 to its SHA-256 after \
                     checking it on the relay (this one's is {})",
                    hex(&cert)
                )))
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// The CA certificates of a PEM file: at least one, each one usable as a root.
fn ca_roots(path: &Path) -> Result<RootCertStore, MailError> {
    let bad = |reason: String| MailError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("not a PEM file of certificates ({e})")))?;
    if certs.is_empty() {
        return Err(bad(
            "no certificate in it (expected PEM, -----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (i, c) in certs.into_iter().enumerate() {
        roots
            .add(c)
            .map_err(|e| bad(format!("certificate {} is not usable: {e}", i + 1)))?;
    }
    Ok(roots)
}

/// Takes any certificate; still checks that the server holds its key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let e = client_config(Some(&missing), &[], false).expect_err("refused");
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = client_config(Some(&empty), &[], false).expect_err("refused");
        assert!(
            e.to_string().contains("empty.pem") && e.to_string().contains("no certificate"),
            "{e}"
        );
        assert!(client_config(None, &[], false).is_ok());
    }

    #[test]
    fn a_pin_is_64_hexadecimal_digits_with_or_without_colons() {
        let plain = "ab".repeat(32);
        assert_eq!(parse_pin(&plain).unwrap(), [0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        for bad in ["", "abc", &"zz".repeat(32), &"ab".repeat(33)] {
            let e = parse_pin(bad).expect_err("refused").to_string();
            assert!(e.contains("pin_sha256"), "{e}");
        }
    }
}
