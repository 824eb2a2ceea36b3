//! Checking an RFC 3161 time-stamp token against the content it claims to stamp: the
//! CMS signature (by the certificate the token carries), the signed attributes that
//! bind it (content type, message digest, the ESS signing certificate), the message
//! imprint, the TSA certificate's key purpose (timeStamping, critical, alone), its chain
//! to the CAs the auditor trusts at the stamp's time, and the time itself. Each failure
//! is one line.

use super::tsp::{self, TstInfo};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use cms::cert::CertificateChoices;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Tagged};
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use x509_cert::Certificate;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// A token opened, its signature not yet checked.
pub struct Opened {
    pub tst: TstInfo,
    pub gen_time: DateTime<Utc>,
    signed: SignedData,
    econtent: Vec<u8>,
}

/// What a verified token proves.
#[derive(Clone, Debug)]
pub struct Proven {
    /// The content existed before this instant: the TSA's time, rounded up to the
    /// second, plus its stated accuracy.
    pub before: DateTime<Utc>,
    pub gen_time: DateTime<Utc>,
    /// The TSA's certificate subject (`CN=…, O=…`).
    pub tsa: String,
    /// The token's serial number, in hex.
    pub serial: String,
    pub nonce: Option<Vec<u8>>,
}

impl Proven {
    /// "existed before 2026-12-07 09:00:03 UTC, stamped by CN=…".
    pub fn line(&self) -> String {
        format!(
            "existed before {} UTC, stamped by {} (token {})",
            self.before.format("%Y-%m-%d %H:%M:%S"),
            self.tsa,
            self.serial
        )
    }
}

/// Opens a reply (or a bare token) down to its `TSTInfo`.
pub fn open(reply: &[u8]) -> Result<Opened, String> {
    let ci = tsp::token_of(reply)?;
    if ci.content_type != tsp::SIGNED_DATA {
        return Err(format!(
            "the token is not CMS SignedData (content type {})",
            ci.content_type
        ));
    }
    let content = ci.content.to_der().map_err(|e| e.to_string())?;
    let signed = SignedData::from_der(&content)
        .map_err(|e| format!("the token's SignedData does not parse: {e}"))?;
    if signed.encap_content_info.econtent_type != tsp::TST_INFO {
        return Err(format!(
            "the token does not hold a TSTInfo (content type {})",
            signed.encap_content_info.econtent_type
        ));
    }
    let econtent = signed
        .encap_content_info
        .econtent
        .as_ref()
        .filter(|a| a.tag() == der::Tag::OctetString)
        .ok_or("the token holds no TSTInfo")?
        .value()
        .to_vec();
    let tst = TstInfo::from_der(&econtent)
        .map_err(|e| format!("the token's TSTInfo does not parse: {e}"))?;
    let gen_time = tsp::gen_time(&tst.gen_time)?;
    Ok(Opened {
        tst,
        gen_time,
        signed,
        econtent,
    })
}

/// The hash of `data` with the algorithm `oid` names (SHA-1 only for legacy ESS ids).
fn digest(oid: &ObjectIdentifier, data: &[u8], sha1_ok: bool) -> Result<Vec<u8>, String> {
    use ring::digest::{SHA1_FOR_LEGACY_USE_ONLY, SHA256, SHA384, SHA512, digest};
    let alg = if *oid == tsp::SHA256 {
        &SHA256
    } else if *oid == tsp::SHA384 {
        &SHA384
    } else if *oid == tsp::SHA512 {
        &SHA512
    } else if sha1_ok && oid.to_string() == "1.3.14.3.2.26" {
        &SHA1_FOR_LEGACY_USE_ONLY
    } else {
        return Err(format!("unsupported hash algorithm {oid}"));
    };
    Ok(digest(alg, data).as_ref().to_vec())
}

fn short(bytes: &[u8]) -> String {
    crate::util::hash::hex(bytes).chars().take(12).collect()
}

/// The imprint must be the SHA-256 of the content.
pub fn check_imprint(tst: &TstInfo, sha256: &[u8]) -> Result<(), String> {
    let mi = &tst.message_imprint;
    if mi.hash_algorithm.oid != tsp::SHA256 {
        return Err(format!(
            "the stamp's imprint uses hash {}, not SHA-256",
            mi.hash_algorithm.oid
        ));
    }
    if mi.hashed_message.as_bytes() != sha256 {
        return Err(format!(
            "the stamp is for other content: its imprint is {}…, the file hashes to {}…",
            short(mi.hashed_message.as_bytes()),
            short(sha256)
        ));
    }
    Ok(())
}

/// Verifies a reply or token for content whose SHA-256 is `sha256`, trusting the CAs
/// `anchors` (DER), at `now`.
pub fn verify(
    reply: &[u8],
    sha256: &[u8],
    anchors: &[CertificateDer<'static>],
    now: DateTime<Utc>,
) -> Result<Proven, String> {
    let o = open(reply)?;
    check_imprint(&o.tst, sha256)?;
    let signers = &o.signed.signer_infos.0;
    let si = match signers.as_slice() {
        [one] => one,
        _ => return Err(format!("the token has {} signers, not one", signers.len())),
    };
    let certs: Vec<(Certificate, Vec<u8>)> = o
        .signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => c.to_der().ok().map(|d| (c.clone(), d)),
            _ => None,
        })
        .collect();
    let (cert, cert_der) = certs
        .iter()
        .find(|(c, _)| is_signer(si, c))
        .ok_or("the token does not carry its signer's certificate")?;
    let tsa = cert.tbs_certificate().subject().to_string();
    check_signed_attrs(si, &o.econtent, cert_der, &tsa)?;
    let ee_der = CertificateDer::from(cert_der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&ee_der)
        .map_err(|e| format!("the TSA certificate ({tsa}) does not parse: {e:?}"))?;
    check_signature(si, &ee, &tsa)?;
    check_key_purpose(cert, &tsa)?;
    let roots = anchors
        .iter()
        .map(|c| webpki::anchor_from_trusted_cert(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a CA certificate does not parse: {e:?}"))?;
    let others: Vec<CertificateDer<'_>> = certs
        .iter()
        .filter(|(_, d)| d != cert_der)
        .map(|(_, d)| CertificateDer::from(d.as_slice()))
        .collect();
    let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        o.gen_time.timestamp().max(0) as u64,
    ));
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &roots,
        &others,
        at,
        webpki::KeyUsage::required(tsp::KP_TIME_STAMPING_DER),
        None,
        None,
    )
    .map_err(|e| {
        format!(
            "the TSA certificate ({tsa}) does not chain to a trusted CA at the stamp's time: {}",
            chain_error(&e)
        )
    })?;
    // The time: a stamp from the future is a TSA with a wrong clock, or a forgery.
    if o.gen_time > now + Duration::minutes(5) {
        return Err(format!(
            "the stamp's time {} is in the future",
            o.gen_time.to_rfc3339_opts(SecondsFormat::Secs, true)
        ));
    }
    let accuracy = o.tst.accuracy.as_ref().map_or(0, |a| {
        i64::from(a.seconds.unwrap_or(0))
            + i64::from(a.millis.is_some_and(|m| m > 0) || a.micros.is_some_and(|m| m > 0))
    });
    Ok(Proven {
        before: o.gen_time + Duration::seconds(accuracy),
        gen_time: o.gen_time,
        tsa,
        serial: crate::util::hash::hex(o.tst.serial_number.as_bytes()),
        nonce: o.tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
    })
}

fn chain_error(e: &webpki::Error) -> String {
    match e {
        webpki::Error::UnknownIssuer => "unknown issuer".into(),
        webpki::Error::CertExpired { .. } => "the certificate had expired".into(),
        webpki::Error::CertNotValidYet { .. } => "the certificate was not valid yet".into(),
        webpki::Error::RequiredEkuNotFoundContext(_) => "no timeStamping key purpose".into(),
        other => format!("{other:?}"),
    }
}

fn is_signer(si: &SignerInfo, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == *tbs.issuer() && is.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => tbs
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id.to_string() == "2.5.29.14")
            .any(|e| {
                OctetString::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|v| v.as_bytes() == ski.0.as_bytes())
            }),
    }
}

/// The signed attributes: the content type is TSTInfo, the message digest is the
/// TSTInfo's, and the ESS signing-certificate attribute names the certificate used.
fn check_signed_attrs(
    si: &SignerInfo,
    econtent: &[u8],
    cert_der: &[u8],
    tsa: &str,
) -> Result<(), String> {
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the token's signature has no signed attributes")?;
    let value = |oid: ObjectIdentifier| -> Option<&Any> {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let ct = value(tsp::CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or("the token's signed attributes have no content type")?;
    if ct != tsp::TST_INFO {
        return Err(format!(
            "the token's signed content type is {ct}, not TSTInfo"
        ));
    }
    let md = value(tsp::MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or("the token's signed attributes have no message digest")?;
    if md.as_bytes() != digest(&si.digest_alg.oid, econtent, false)? {
        return Err(
            "the token's TSTInfo does not match its signed digest: the token was altered".into(),
        );
    }
    let (ess, v2) = match (value(tsp::SIGNING_CERT_V2), value(tsp::SIGNING_CERT)) {
        (Some(v), _) => (v, true),
        (None, Some(v)) => (v, false),
        _ => return Err("the token names no signing certificate (ESS attribute)".into()),
    };
    let (alg, hash) =
        ess_first_id(ess, v2).ok_or("the token's ESS signing certificate does not parse")?;
    if digest(&alg, cert_der, true)? != hash {
        return Err(format!(
            "the token's ESS signing certificate is not the one it carries ({tsa})"
        ));
    }
    Ok(())
}

/// The first ESSCertID(v2) of a SigningCertificate(V2): its hash algorithm (SHA-256 by
/// default in v2, SHA-1 in v1) and the certificate hash.
fn ess_first_id(ess: &Any, v2: bool) -> Option<(ObjectIdentifier, Vec<u8>)> {
    let outer = Vec::<Any>::from_der(&ess.to_der().ok()?).ok()?;
    let ids = Vec::<Any>::from_der(&outer.first()?.to_der().ok()?).ok()?;
    let id = Vec::<Any>::from_der(&ids.first()?.to_der().ok()?).ok()?;
    let default = if v2 {
        tsp::SHA256
    } else {
        ObjectIdentifier::new_unwrap("1.3.14.3.2.26")
    };
    match id.as_slice() {
        [a, h, ..] if v2 && a.tag() == der::Tag::Sequence && h.tag() == der::Tag::OctetString => {
            let alg = AlgorithmIdentifierOwned::from_der(&a.to_der().ok()?).ok()?;
            Some((alg.oid, h.value().to_vec()))
        }
        [h, ..] if h.tag() == der::Tag::OctetString => Some((default, h.value().to_vec())),
        _ => None,
    }
}

/// The signature over the DER of the signed attributes, by the TSA certificate's key.
fn check_signature(
    si: &SignerInfo,
    ee: &webpki::EndEntityCert<'_>,
    tsa: &str,
) -> Result<(), String> {
    use webpki::ring as alg;
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the token's signature has no signed attributes")?
        .to_der()
        .map_err(|e| e.to_string())?;
    let sig_oid = si.signature_algorithm.oid.to_string();
    let hash = match sig_oid.as_str() {
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" => tsp::SHA256,
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => tsp::SHA384,
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => tsp::SHA512,
        _ => si.digest_alg.oid,
    };
    let rsa = sig_oid.starts_with("1.2.840.113549.1.1.");
    let ec = sig_oid.starts_with("1.2.840.10045.");
    let candidates: Vec<&dyn SignatureVerificationAlgorithm> = match (rsa, ec) {
        (true, _) if sig_oid == "1.2.840.113549.1.1.10" => vec![],
        (true, _) if hash == tsp::SHA256 => vec![alg::RSA_PKCS1_2048_8192_SHA256],
        (true, _) if hash == tsp::SHA384 => vec![alg::RSA_PKCS1_2048_8192_SHA384],
        (true, _) if hash == tsp::SHA512 => vec![alg::RSA_PKCS1_2048_8192_SHA512],
        (_, true) if hash == tsp::SHA256 => vec![alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        (_, true) if hash == tsp::SHA384 => vec![alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        _ => vec![],
    };
    if candidates.is_empty() {
        return Err(format!(
            "the token's signature algorithm {sig_oid} with hash {hash} is not supported"
        ));
    }
    let sig = si.signature.as_bytes();
    let mut last = None;
    for a in candidates {
        match ee.verify_signature(a, &attrs, sig) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(webpki::Error::InvalidSignatureForPublicKey) => format!(
            "the token's signature does not verify with the key of {tsa}: the token was altered"
        ),
        Some(e) => format!("the token's signature cannot be checked with the key of {tsa}: {e:?}"),
        None => unreachable!("at least one candidate"),
    })
}

/// RFC 3161 2.3: the TSA certificate has one extended key usage, timeStamping, marked
/// critical.
fn check_key_purpose(cert: &Certificate, tsa: &str) -> Result<(), String> {
    let ext = cert
        .tbs_certificate()
        .extensions()
        .into_iter()
        .flatten()
        .find(|e| e.extn_id == tsp::EXT_KEY_USAGE)
        .ok_or_else(|| {
            format!("the TSA certificate ({tsa}) has no timeStamping key purpose (no extended key usage)")
        })?;
    let purposes = Vec::<ObjectIdentifier>::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("the TSA certificate's extended key usage does not parse: {e}"))?;
    if !purposes.contains(&tsp::KP_TIME_STAMPING) {
        return Err(format!(
            "the TSA certificate ({tsa}) has no timeStamping key purpose"
        ));
    }
    if purposes.len() != 1 {
        return Err(format!(
            "the TSA certificate ({tsa}) has other key purposes beside timeStamping"
        ));
    }
    if !ext.critical {
        return Err(format!(
            "the TSA certificate's ({tsa}) timeStamping key purpose is not marked critical"
        ));
    }
    Ok(())
}
