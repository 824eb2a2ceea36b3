//! Proof that holds outside vigie (issue 26): bytes in, verdicts out; it knows nothing
//! of the register.
//! - [`tsp`]: the few RFC 3161 types (query, reply, TSTInfo) with `der`'s derive.
//! - [`stamp`]: a query with a random nonce, sent to a time-stamping authority over
//!   HTTP, and its reply taken only for our imprint and our nonce.
//! - [`verify`]: a token checked (CMS signature, signed attributes, imprint, the TSA
//!   certificate's timeStamping purpose, its chain to trusted CAs, the time).
//! - [`note`]: C2SP signed notes with Ed25519 keys, for checkpoints anyone can check.

pub mod note;
pub mod stamp;
pub mod tsp;
pub mod verify;

/// Reads the CA certificates of a PEM file (`audit.tsa.ca_file`, `--tsa-ca`).
pub fn read_cas(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{name}: no PEM certificate in it"));
    }
    Ok(certs)
}
