//! What is kept of a failed hand-off: the SMTP reply code, the enhanced status code, and
//! the server's words with every address and every part of the recipient removed. Relays
//! echo the recipient in their refusals (`550 5.1.1 <ann@example.org>: Recipient address
//! rejected`); the ledger, the follow-up list and the output must never hold it.

use super::recipients::Recipient;

/// Longest text kept after the codes.
const MAX: usize = 160;

/// The reply code of a lettre error text (`permanent error (550): ...`).
fn reply_code(message: &str) -> Option<&str> {
    let bytes = message.as_bytes();
    (0..bytes.len().saturating_sub(4)).find_map(|i| {
        let w = &bytes[i..i + 5];
        (w[0] == b'('
            && w[1..4].iter().all(u8::is_ascii_digit)
            && matches!(w[1], b'2'..=b'5')
            && w[4] == b')')
            .then(|| &message[i + 1..i + 4])
    })
}

/// `5.1.1`, `4.7.0`: class, subject (1-3 digits), detail (1-3 digits).
fn is_enhanced(word: &str) -> bool {
    let parts: Vec<&str> = word.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The recipient's values a server might echo, lower-cased.
fn secrets(r: &Recipient) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim().to_lowercase();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    };
    add(&r.email);
    if let Some((local, domain)) = r.email.rsplit_once('@') {
        add(local);
        add(domain);
    }
    add(&r.id);
    for v in [&r.first_name, &r.last_name, &r.name] {
        for w in v.split_whitespace() {
            add(w);
        }
    }
    out
}

/// A word is dropped when it looks like an address, or holds (or is) a recipient's value.
fn personal(word: &str, secrets: &[String]) -> bool {
    if word.contains(['@', '<', '>', '"']) {
        return true;
    }
    let w = word.to_lowercase();
    let bare = w.trim_matches(|c: char| !c.is_alphanumeric());
    // A short value (a two-letter name) only as a whole word.
    secrets
        .iter()
        .any(|s| bare == s.as_str() || (s.chars().count() >= 3 && w.contains(s.as_str())))
}

/// The refusal as the ledger keeps it: `550 5.1.1 Recipient address rejected: ...`.
pub fn redact(message: &str, r: &Recipient) -> String {
    let secrets = secrets(r);
    let code = reply_code(message);
    // The server's words come after lettre's "permanent error (550): ".
    let text = match code {
        Some(c) => message
            .split_once(&format!("({c})"))
            .map(|(_, rest)| rest.trim_start_matches(':'))
            .unwrap_or(message),
        None => message,
    };
    let mut enhanced = None;
    let mut words: Vec<&str> = Vec::new();
    for w in text.split_whitespace() {
        if enhanced.is_none() && words.is_empty() && is_enhanced(w) {
            enhanced = Some(w);
            continue;
        }
        if w == code.unwrap_or("") && words.is_empty() {
            continue;
        }
        if personal(w, &secrets) {
            if words.last() != Some(&"[redacted]") {
                words.push("[redacted]");
            }
            continue;
        }
        words.push(w);
    }
    let mut out = String::new();
    for part in [code, enhanced].into_iter().flatten() {
        out.push_str(part);
        out.push(' ');
    }
    let mut text = words.join(" ");
    if text.chars().count() > MAX {
        text = text.chars().take(MAX).collect::<String>() + "…";
    }
    out.push_str(&text);
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann() -> Recipient {
        Recipient {
            id: "P000042".into(),
            email: "Ann.Lee@Mail.Example.org".into(),
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            ..Recipient::default()
        }
    }

    #[test]
    fn keeps_the_codes_and_drops_every_part_of_the_recipient() {
        let r = ann();
        for (message, want) in [
            (
                "permanent error (550): 5.1.1 <Ann.Lee@Mail.Example.org>: Recipient address rejected: User unknown",
                "550 5.1.1 [redacted] Recipient address rejected: User unknown",
            ),
            (
                "permanent error (553): 5.7.1 ann.lee@mail.example.org (P000042) Ann Lee: not allowed",
                "553 5.7.1 [redacted] not allowed",
            ),
            (
                "transient error (451): 4.3.0 try again later for ann.lee",
                "451 4.3.0 try again later for [redacted]",
            ),
            (
                "permanent error (554): transaction failed",
                "554 transaction failed",
            ),
            (
                "connecting to 127.0.0.1:2525: Connection refused (os error 111)",
                "connecting to 127.0.0.1:2525: Connection refused (os error 111)",
            ),
        ] {
            let got = redact(message, &r);
            assert_eq!(got, want, "{message}");
            let low = got.to_lowercase();
            for s in ["ann", "lee", "p000042", "example.org", "@"] {
                assert!(!low.contains(s), "'{s}' left in '{got}'");
            }
        }
    }

    #[test]
    fn any_address_is_dropped_even_another_one() {
        let got = redact(
            "permanent error (550): 5.1.1 mailbox bob@other.example is full",
            &ann(),
        );
        assert_eq!(got, "550 5.1.1 mailbox [redacted] is full");
    }
}
