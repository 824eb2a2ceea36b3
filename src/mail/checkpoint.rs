//! The register's checkpoint, e-mailed to an organisation's DPO: a small statement of
//! its cases, their event counts and head hashes, kept outside the database. With it,
//! `vigie audit verify --checkpoint FILE` names any case removed, truncated or rewritten
//! since, which nothing inside the database file can prove by itself.

use super::{MailConfig, MailError, mailbox};
use crate::org::Profile;
use crate::time::Lang;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, MultiPart, SinglePart};

/// Who keeps an organisation's checkpoints: its DPO, else its reminder recipients.
pub fn recipients(profile: &Profile) -> Vec<String> {
    match &profile.dpo.email {
        Some(e) => vec![e.clone()],
        None => profile.reminder_recipients(),
    }
}

/// The checkpoint to mail: its text, its number of cases, and what proves it beyond its
/// own hash (issue 26): the verifier key of its signature, and its time-stamp (the
/// TSA's reply and our query, DER).
#[derive(Clone, Debug, Default)]
pub struct Attached<'a> {
    pub text: &'a str,
    pub cases: usize,
    pub verifier: Option<&'a str>,
    pub stamp: Option<(&'a [u8], &'a [u8])>,
}

/// The message carrying the checkpoint as an attachment, for `org`, with its stamp as
/// `FILE.tsr` and `FILE.tsq` beside it when there is one.
pub fn build(
    mail: &MailConfig,
    public_url: Option<&str>,
    profile: &Profile,
    org: &str,
    cp: &Attached<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(Message, String)>, MailError> {
    let to = recipients(profile);
    if to.is_empty() {
        return Ok(None);
    }
    let day = now.format("%Y-%m-%dT%H%M%SZ");
    let file = format!("vigie-checkpoint-{org}-{day}.txt");
    let message_id = super::message_id(
        &format!("checkpoint/{org}/{}", now.timestamp()),
        &mail.message_id_domain(),
    );
    let name = profile.name.clone().unwrap_or_else(|| org.to_string());
    let lang = profile.lang().unwrap_or(Lang::Fr);
    let (text, cases, proofs) = (cp.text, cp.cases, cp);
    let (subject, body) = match lang {
        Lang::Fr => (
            format!("vigie : point de contrôle du registre — {name} ({cases} dossiers)"),
            format!(
                "Ci-joint le point de contrôle du registre des violations de {name} : chaque \
                 dossier, son nombre d'événements et l'empreinte du dernier.\n\n\
                 Conservez-le hors de vigie (il ne contient aucune donnée personnelle). \
                 Pour prouver plus tard qu'aucun dossier n'a été supprimé, tronqué ou \
                 réécrit depuis :\n\n    vigie --org {org} audit verify --checkpoint {file}\n"
            ),
        ),
        Lang::En => (
            format!("vigie: register checkpoint — {name} ({cases} cases)"),
            format!(
                "Attached is the checkpoint of {name}'s breach register: every case, its \
                 number of events and the hash of the last one.\n\n\
                 Keep it outside vigie (it holds no personal data). To prove later that no \
                 case was removed, truncated or rewritten since:\n\n    \
                 vigie --org {org} audit verify --checkpoint {file}\n"
            ),
        ),
        Lang::Nl => (
            format!("vigie: controlepunt van het register — {name} ({cases} dossiers)"),
            format!(
                "In bijlage het controlepunt van het register van inbreuken van {name}: elk \
                 dossier, het aantal gebeurtenissen en de vingerafdruk (hash) van de laatste.\n\n\
                 Bewaar het buiten vigie (het bevat geen persoonsgegevens). Om later aan te \
                 tonen dat sindsdien geen dossier werd verwijderd, ingekort of herschreven:\n\n    \
                 vigie --org {org} audit verify --checkpoint {file}\n"
            ),
        ),
    };
    // Without the database: its signature and its stamp, with the command to check both.
    let body = if proofs.verifier.is_some() || proofs.stamp.is_some() {
        let (intro, key_word) = match lang {
            Lang::Fr => (
                "Sans la base de données (signature et horodatage)",
                "Clé de vérification",
            ),
            Lang::En => (
                "Without the database (signature and time-stamp)",
                "Verifier key",
            ),
            Lang::Nl => (
                "Zonder de databank (handtekening en tijdstempel)",
                "Verificatiesleutel",
            ),
        };
        let key = proofs.verifier.unwrap_or("NAME+ID+BASE64");
        let ca = if proofs.stamp.is_some() {
            " --tsa-ca TSA-CA.pem"
        } else {
            ""
        };
        let mut b = format!(
            "{body}\n{intro}:\n\n    vigie audit verify-checkpoint {file} --key {key}{ca}\n"
        );
        if let Some(v) = proofs.verifier {
            b.push_str(&format!("\n{key_word}: {v}\n"));
        }
        b
    } else {
        body
    };
    // The register page, when `http.public_url` says where `vigie serve` is reached.
    let body = match super::page_link(public_url, "/register") {
        Some(url) => format!(
            "{body}\n{}: {url}\n",
            match lang {
                Lang::Fr => "Le registre",
                Lang::En => "The register",
                Lang::Nl => "Het register",
            }
        ),
        None => body,
    };
    let mut b = Message::builder()
        .from(mail.from_mailbox()?)
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .header(super::AutoSubmitted);
    for t in &to {
        b = b.to(mailbox(t)?);
    }
    // The file's exact bytes (base64, no line-ending conversion): its stamp and its
    // signature are over them.
    let exact = Body::new_with_encoding(text.as_bytes().to_vec(), ContentTransferEncoding::Base64)
        .map_err(|_| MailError::Build("checkpoint attachment".into()))?;
    let mut parts = MultiPart::mixed()
        .singlepart(SinglePart::plain(body))
        .singlepart(Attachment::new(file.clone()).body(exact, ContentType::TEXT_PLAIN));
    if let Some((reply, query)) = proofs.stamp {
        for (ext, mime, der) in [
            ("tsr", "application/timestamp-reply", reply),
            ("tsq", "application/timestamp-query", query),
        ] {
            let ct = ContentType::parse(mime).map_err(|e| MailError::Build(e.to_string()))?;
            parts =
                parts.singlepart(Attachment::new(format!("{file}.{ext}")).body(der.to_vec(), ct));
        }
    }
    let message = b
        .multipart(parts)
        .map_err(|e| MailError::Build(e.to_string()))?;
    Ok(Some((message, message_id)))
}
