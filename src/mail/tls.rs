//! The TLS client settings of the SMTP pool: which certificates are trusted.
//!
//! By default the server's certificate must chain to a root of the Mozilla program
//! (webpki-roots, compiled in: the same list lettre used, and the same on every
//! machine). With `mail.smtp.ca_file`, only the CA certificates of that PEM file are
//! trusted, for a relay whose certificate comes from a private CA. With
//! `danger_accept_invalid_certs: true` no certificate is checked (the handshake's
//! signatures still are): a test set-up only, announced by a warning at start.

use super::MailError;
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

/// The client configuration, with every file read and checked now (at start).
pub fn client_config(
    ca_file: Option<&Path>,
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
    let mut config = builder.with_root_certificates(roots).with_no_client_auth();
    if danger_accept_invalid_certs {
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())));
    }
    Ok(Arc::new(config))
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
        let e = client_config(Some(&missing), false).err().expect("refused");
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = client_config(Some(&empty), false).err().expect("refused");
        assert!(
            e.to_string().contains("empty.pem") && e.to_string().contains("no certificate"),
            "{e}"
        );
        assert!(client_config(None, false).is_ok());
    }
}
