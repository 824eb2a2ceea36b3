//! The few RFC 3161 (Time-Stamp Protocol) types vigie needs, with `der`'s derive: the
//! query we send, the reply, and the signed `TSTInfo` inside the token. The token itself
//! is a CMS `ContentInfo` (RustCrypto's `cms`).

use cms::content_info::ContentInfo;
use der::asn1::{Any, BitString, ObjectIdentifier, OctetString, Uint};
use der::{Decode, Sequence, Tagged};
use x509_cert::ext::Extension;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// SHA-256 (NIST), the hash of every imprint vigie asks for.
pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-signedData (CMS).
pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-ct-TSTInfo: the content type of a time-stamp token.
pub const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// The signed attributes a token must carry.
pub const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// ESS signing-certificate (SHA-1 id) and signing-certificate-v2 (any hash).
pub const SIGNING_CERT: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
pub const SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// Extended key usage, and its time-stamping purpose.
pub const EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
pub const KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// The DER value of id-kp-timeStamping, as webpki wants it.
pub const KP_TIME_STAMPING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// `MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage OCTET STRING }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct MessageImprint {
    pub hash_algorithm: AlgorithmIdentifierOwned,
    pub hashed_message: OctetString,
}

/// `TimeStampReq`: version 1, the imprint, no policy, a nonce, and certReq so that the
/// token carries the TSA's certificate (verification needs it, and nothing else).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampReq {
    pub version: u8,
    pub message_imprint: MessageImprint,
    #[asn1(optional = "true")]
    pub req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    #[asn1(default = "Default::default")]
    pub cert_req: bool,
}

/// `PKIStatusInfo`: 0 granted, 1 granted with modifications, else refused.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct PkiStatusInfo {
    pub status: u32,
    #[asn1(optional = "true")]
    pub status_string: Option<Vec<String>>,
    #[asn1(optional = "true")]
    pub fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status, timeStampToken OPTIONAL }`
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TimeStampResp {
    pub status: PkiStatusInfo,
    #[asn1(optional = "true")]
    pub token: Option<ContentInfo>,
}

/// `Accuracy`: how far genTime may be from the true time.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct Accuracy {
    #[asn1(optional = "true")]
    pub seconds: Option<u32>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    pub millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub micros: Option<u16>,
}

/// `TSTInfo`, what the TSA signs. `gen_time` stays raw: a GeneralizedTime that may
/// carry fractions of a second, which `der`'s own type refuses.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: u8,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Uint,
    pub gen_time: Any,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Uint>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Vec<Extension>>,
}

/// A reply as a TSA sends it, or a bare token (`openssl ts -reply -token_out`).
pub fn token_of(der_bytes: &[u8]) -> Result<ContentInfo, String> {
    if let Ok(resp) = TimeStampResp::from_der(der_bytes) {
        if resp.status.status > 1 {
            let text = resp
                .status
                .status_string
                .map(|s| s.join("; "))
                .unwrap_or_default();
            return Err(format!(
                "the TSA refused to stamp (status {}{})",
                resp.status.status,
                if text.is_empty() {
                    String::new()
                } else {
                    format!(": {}", crate::util::one_line(&text))
                }
            ));
        }
        return resp
            .token
            .ok_or_else(|| "the TSA's reply holds no token".to_string());
    }
    ContentInfo::from_der(der_bytes)
        .map_err(|e| format!("not a time-stamp reply or token (RFC 3161): {e}"))
}

/// Reads a GeneralizedTime `YYYYMMDDHHMMSS[.fff]Z`, a fraction rounded up to the next
/// second: a stamp proves "before", and rounding down would claim more than it says.
pub fn gen_time(any: &Any) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if any.tag() != der::Tag::GeneralizedTime {
        return Err(format!("genTime is a {}, not a GeneralizedTime", any.tag()));
    }
    let text = std::str::from_utf8(any.value()).map_err(|_| "genTime is not text")?;
    let bad = || {
        format!(
            "genTime '{}' is not YYYYMMDDHHMMSS[.f]Z",
            crate::util::one_line(text)
        )
    };
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let whole = body.split('.').next().unwrap_or(body);
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let fraction = body.split_once('.').map(|(_, f)| f).unwrap_or("");
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let up = i64::from(fraction.bytes().any(|b| b != b'0'));
    chrono::NaiveDateTime::parse_from_str(whole, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc() + chrono::Duration::seconds(up))
        .map_err(|_| bad())
}
