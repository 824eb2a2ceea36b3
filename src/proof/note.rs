//! Signed notes (C2SP `signed-note`) with Ed25519 keys: a text of non-empty lines ending
//! in a newline, a blank line, then one line per signature, `— NAME BASE64`, where the
//! base64 holds the key's 4-byte id and the 64-byte signature of the text. A key id is
//! the first 4 bytes of SHA-256(name, newline, 0x01, public key). A verifier key is
//! written `NAME+ID+BASE64(0x01 public key)` (ID in 8 hex digits), the private key
//! `PRIVATE+KEY+NAME+ID+BASE64(0x01 seed)`, as the Go ecosystem writes them, so that
//! other tools can check vigie's checkpoints.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(format!(
            "key name {} must be non-empty, without spaces or '+'",
            crate::util::quote(name)
        ));
    }
    Ok(())
}

/// An Ed25519 signing key with its name.
pub struct Signer {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({}, private key not shown)", self.verifier())
    }
}

impl Signer {
    /// A new key named `name`, from the system's random source.
    pub fn generate(name: &str) -> Result<Signer, String> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("random source: {e}"))?;
        Ok(Signer::from_seed(name, &seed))
    }

    fn from_seed(name: &str, seed: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(seed);
        let id = key_id(name, &key.verifying_key().to_bytes());
        Signer {
            name: name.to_string(),
            id,
            key,
        }
    }

    /// Reads `PRIVATE+KEY+NAME+ID+BASE64` (surrounding space ignored).
    pub fn parse(text: &str) -> Result<Signer, String> {
        let text = text.trim();
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or("not a signing key (expected PRIVATE+KEY+NAME+ID+BASE64)")?;
        // The base64 may hold '+' itself: the name and the id never do.
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, id, b64] = parts.as_slice() else {
            return Err("not a signing key (expected PRIVATE+KEY+NAME+ID+BASE64)".into());
        };
        check_name(name)?;
        let raw = B64
            .decode(b64)
            .map_err(|_| "the key's base64 does not decode")?;
        let Some((&ED25519, seed)) = raw.split_first() else {
            return Err("not an Ed25519 key (type byte 0x01 expected)".into());
        };
        let seed: [u8; 32] = seed.try_into().map_err(|_| "an Ed25519 key has 32 bytes")?;
        let s = Signer::from_seed(name, &seed);
        if format!("{:08x}", u32::from_be_bytes(s.id)) != *id {
            return Err("the key's id does not match its name and key".into());
        }
        Ok(s)
    }

    /// The private key as a line (`PRIVATE+KEY+…`).
    pub fn encode(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            u32::from_be_bytes(self.id),
            B64.encode(raw)
        )
    }

    /// The verifier key to publish (`NAME+ID+BASE64`).
    pub fn verifier(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(&self.key.verifying_key().to_bytes());
        format!(
            "{}+{:08x}+{}",
            self.name,
            u32::from_be_bytes(self.id),
            B64.encode(raw)
        )
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signed note of `text` (non-empty lines, each ending in a newline).
    pub fn sign(&self, text: &str) -> String {
        debug_assert!(text.ends_with('\n') && !text.contains("\n\n"));
        let sig = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&sig.to_bytes());
        format!("{text}\n{DASH}{} {}\n", self.name, B64.encode(raw))
    }
}

/// A verifier key, `NAME+ID+BASE64`.
#[derive(Clone, Debug)]
pub struct Verifier {
    pub name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl Verifier {
    pub fn parse(text: &str) -> Result<Verifier, String> {
        let bad =
            || "not a verifier key (expected NAME+ID+BASE64, as `audit keygen` prints)".to_string();
        let parts: Vec<&str> = text.trim().splitn(3, '+').collect();
        let [name, id, b64] = parts.as_slice() else {
            return Err(bad());
        };
        check_name(name)?;
        let raw = B64.decode(b64).map_err(|_| bad())?;
        let Some((&ED25519, public)) = raw.split_first() else {
            return Err("not an Ed25519 verifier key (type byte 0x01 expected)".into());
        };
        let public: [u8; 32] = public.try_into().map_err(|_| bad())?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| bad())?;
        let want = key_id(name, &public);
        if format!("{:08x}", u32::from_be_bytes(want)) != *id {
            return Err("the verifier key's id does not match its name and key".into());
        }
        Ok(Verifier {
            name: name.to_string(),
            id: want,
            key,
        })
    }

    /// `NAME+ID`.
    pub fn short(&self) -> String {
        format!("{}+{:08x}", self.name, u32::from_be_bytes(self.id))
    }
}

/// One signature line of a note.
#[derive(Clone, Debug)]
pub struct Sig {
    pub name: String,
    pub id: [u8; 4],
    pub sig: Vec<u8>,
}

/// A signed note split into its text and signatures (not yet verified).
#[derive(Clone, Debug)]
pub struct Note {
    pub text: String,
    pub sigs: Vec<Sig>,
}

/// Splits a signed note. `None` when the text has no signature block at all.
pub fn open(note: &str) -> Option<Result<Note, String>> {
    let cut = note.rfind("\n\n")?;
    let text = &note[..cut + 1];
    let block = &note[cut + 2..];
    if !block.starts_with(DASH) {
        return None;
    }
    let mut sigs = Vec::new();
    for (i, line) in block.lines().enumerate() {
        let bad = |why: &str| format!("signature line {}: {why}", i + 1);
        let Some(rest) = line.strip_prefix(DASH) else {
            return Some(Err(bad("does not start with '— '")));
        };
        let Some((name, b64)) = rest.split_once(' ') else {
            return Some(Err(bad("expected '— NAME BASE64'")));
        };
        let Ok(raw) = B64.decode(b64.trim()) else {
            return Some(Err(bad("its base64 does not decode")));
        };
        if raw.len() < 5 {
            return Some(Err(bad("too short")));
        }
        sigs.push(Sig {
            name: name.to_string(),
            id: [raw[0], raw[1], raw[2], raw[3]],
            sig: raw[4..].to_vec(),
        });
    }
    Some(Ok(Note {
        text: text.to_string(),
        sigs,
    }))
}

impl Note {
    /// Checks the signature by `key`; one line on failure.
    pub fn verify(&self, key: &Verifier) -> Result<(), String> {
        let Some(s) = self
            .sigs
            .iter()
            .find(|s| s.name == key.name && s.id == key.id)
        else {
            let by: Vec<String> = self
                .sigs
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, u32::from_be_bytes(s.id)))
                .collect();
            return Err(format!(
                "not signed by the key {} (signed by {})",
                key.short(),
                by.join(", ")
            ));
        };
        let sig = Signature::from_slice(&s.sig)
            .map_err(|_| format!("the signature by {} is malformed", key.short()))?;
        key.key.verify(self.text.as_bytes(), &sig).map_err(|_| {
            format!(
                "the signature by {} does not verify: the checkpoint was edited after it was signed",
                key.short()
            )
        })
    }

    /// `NAME+ID` of each signature.
    pub fn signers(&self) -> Vec<String> {
        self.sigs
            .iter()
            .map(|s| format!("{}+{:08x}", s.name, u32::from_be_bytes(s.id)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_signed_verifies_and_an_edit_does_not() {
        let s = Signer::generate("vigie.example/register").unwrap();
        let again = Signer::parse(&s.encode()).unwrap();
        assert_eq!(again.verifier(), s.verifier());
        let v = Verifier::parse(&s.verifier()).unwrap();
        let note = s.sign("origin\n3\nabc=\n");
        let n = open(&note).unwrap().unwrap();
        assert_eq!(n.text, "origin\n3\nabc=\n");
        n.verify(&v).unwrap();
        let edited = open(&note.replace("\n3\n", "\n4\n")).unwrap().unwrap();
        assert!(edited.verify(&v).unwrap_err().contains("edited"));
        let other = Verifier::parse(&Signer::generate("other").unwrap().verifier()).unwrap();
        assert!(n.verify(&other).unwrap_err().contains("not signed by"));
        assert!(open("no signatures\n").is_none());
    }

    /// A known vector: the Go ecosystem's key id of a fixed key, computed by hand from
    /// the definition (SHA-256 of name, newline, 0x01, public key).
    #[test]
    fn the_key_id_follows_the_definition() {
        let s = Signer::from_seed("example.com", &[7u8; 32]);
        let public = s.key.verifying_key().to_bytes();
        let mut h = Sha256::new();
        h.update(b"example.com\n\x01");
        h.update(public);
        assert_eq!(s.id, h.finalize()[..4]);
        assert!(s.verifier().starts_with("example.com+"));
    }
}
