//! Asking a time-stamping authority for a token (RFC 3161 over HTTP): a query with the
//! content's SHA-256, a random nonce and certReq, POSTed as
//! `application/timestamp-query`; the reply must be granted, for our imprint and carry
//! our nonce (a reply to someone else's query, or an old one replayed, is refused).

use super::tsp::{self, MessageImprint, TimeStampReq};
use super::verify;
use chrono::{DateTime, Utc};
use der::Encode;
use der::asn1::{OctetString, Uint};
use x509_cert::spki::AlgorithmIdentifierOwned;

/// A query, with the nonce it carries.
#[derive(Clone, Debug)]
pub struct Query {
    pub der: Vec<u8>,
    /// The nonce as the query's INTEGER holds it (no leading zeros).
    pub nonce: Vec<u8>,
}

/// The query for content whose SHA-256 is `sha256`, with a fresh 64-bit nonce.
pub fn query(sha256: &[u8; 32]) -> Query {
    let mut n = [0u8; 8];
    getrandom::fill(&mut n).expect("the system's random source");
    n[0] |= 0x01; // never all zero
    let nonce = Uint::new(&n).expect("8 bytes are an INTEGER");
    let req = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: tsp::SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(sha256.to_vec()).expect("32 bytes"),
        },
        req_policy: None,
        nonce: Some(nonce.clone()),
        cert_req: true,
    };
    Query {
        der: req.to_der().expect("a query encodes"),
        nonce: nonce.as_bytes().to_vec(),
    }
}

/// The nonce a query carries (for `audit verify`, which reads the query kept beside
/// the checkpoint).
pub fn nonce_of_query(query: &[u8]) -> Result<Vec<u8>, String> {
    use der::Decode;
    let q = TimeStampReq::from_der(query)
        .map_err(|e| format!("not a time-stamp query (RFC 3161): {e}"))?;
    q.nonce
        .map(|n| n.as_bytes().to_vec())
        .ok_or_else(|| "the query holds no nonce".to_string())
}

/// POSTs the query to the TSA at `url` and returns its reply (DER), within 30 s.
pub async fn post(url: &str, query: &[u8]) -> Result<Vec<u8>, String> {
    let fail = |e: reqwest::Error| {
        let mut text = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            text = format!("{text}: {s}");
            src = s.source();
        }
        format!("TSA {url}: {}", crate::util::one_line(&text))
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(fail)?;
    let resp = client
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .body(query.to_vec())
        .send()
        .await
        .map_err(fail)?;
    if !resp.status().is_success() {
        return Err(format!("TSA {url}: answered HTTP {}", resp.status()));
    }
    Ok(resp.bytes().await.map_err(fail)?.to_vec())
}

/// Takes a reply to `q` for content hashing to `sha256`: granted, for our imprint, with
/// our nonce. Returns the stamp's time. The signature and chain are checked by
/// [`verify::verify`].
pub fn accept(reply: &[u8], q: &Query, sha256: &[u8]) -> Result<DateTime<Utc>, String> {
    let o = verify::open(reply)?;
    verify::check_imprint(&o.tst, sha256)?;
    if o.tst.nonce.as_ref().map(|n| n.as_bytes()) != Some(q.nonce.as_slice()) {
        return Err(
            "the TSA's reply does not carry our query's nonce: a replayed or misdirected reply"
                .into(),
        );
    }
    Ok(o.gen_time)
}
