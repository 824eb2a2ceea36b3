//! The register's checkpoint, e-mailed to an organisation's DPO: a small statement of
//! its cases, their event counts and head hashes, kept outside the database. With it,
//! `vigie audit verify --checkpoint FILE` names any case removed, truncated or rewritten
//! since, which nothing inside the database file can prove by itself.

use super::{MailConfig, MailError, mailbox};
use crate::org::Profile;
use crate::time::Lang;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::{Attachment, MultiPart, SinglePart, header::ContentType};

/// Who keeps an organisation's checkpoints: its DPO, else its reminder recipients.
pub fn recipients(profile: &Profile) -> Vec<String> {
    match &profile.dpo.email {
        Some(e) => vec![e.clone()],
        None => profile.reminder_recipients(),
    }
}

/// The message carrying `text` (the checkpoint) as an attachment, for `org`.
pub fn build(
    mail: &MailConfig,
    public_url: Option<&str>,
    profile: &Profile,
    org: &str,
    text: &str,
    cases: usize,
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
    let message = b
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(body))
                .singlepart(Attachment::new(file).body(text.to_string(), ContentType::TEXT_PLAIN)),
        )
        .map_err(|e| MailError::Build(e.to_string()))?;
    Ok(Some((message, message_id)))
}
