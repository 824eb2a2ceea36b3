//! The e-mail of an invitation (issue 21 part 5): who invites the colleague into which
//! organisation, with which role, the one-time link and until when it works. It goes
//! through the configured transport, like reminders: SMTP, or an `.eml` file in the
//! outbox folder.

use super::{MailConfig, MailError, mailbox};
use crate::time::Lang;
use chrono::{DateTime, Utc};
use lettre::Message;

/// What the message says.
pub struct InvitationMail<'a> {
    pub org_name: &'a str,
    pub invited_by: &'a str,
    pub to: &'a str,
    /// dpo, contributor or viewer.
    pub role: &'a str,
    pub link: &'a str,
    /// When the link stops working, as the reader's zone shows it.
    pub expires: &'a str,
    pub lang: Lang,
}

fn role_word(lang: Lang, role: &str) -> &'static str {
    match (lang, role) {
        (Lang::Fr, "dpo") => "DPO",
        (Lang::Fr, "contributor") => "contributeur (faits et étapes)",
        (Lang::Fr, _) => "lecteur (lecture seule)",
        (Lang::En, "dpo") => "DPO",
        (Lang::En, "contributor") => "contributor (facts and steps)",
        (Lang::En, _) => "viewer (read only)",
        (Lang::Nl, "dpo") => "DPO",
        (Lang::Nl, "contributor") => "medewerker (feiten en stappen)",
        (Lang::Nl, _) => "lezer (alleen lezen)",
    }
}

/// The message and its Message-ID.
pub fn build(
    mail: &MailConfig,
    m: &InvitationMail<'_>,
    now: DateTime<Utc>,
) -> Result<(Message, String), MailError> {
    let message_id = super::message_id(
        &format!(
            "invitation/{}/{}",
            crate::util::hash::sha256_hex(m.link),
            now.timestamp()
        ),
        &mail.message_id_domain(),
    );
    let role = role_word(m.lang, m.role);
    let (org, by, link, until) = (m.org_name, m.invited_by, m.link, m.expires);
    let (subject, body) = match m.lang {
        Lang::Fr => (
            format!("vigie : invitation à rejoindre {org}"),
            format!(
                "{by} vous invite à rejoindre {org} dans vigie, le suivi des violations de \
                 données, avec le rôle {role}.\n\n\
                 Ouvrez ce lien pour choisir votre mot de passe (12 caractères ou plus) ; \
                 vous serez alors connecté :\n\n    {link}\n\n\
                 Le lien ne sert qu'une fois et expire le {until}. Si vous n'attendiez pas \
                 cette invitation, ignorez ce message.\n"
            ),
        ),
        Lang::En => (
            format!("vigie: invitation to join {org}"),
            format!(
                "{by} invites you to join {org} in vigie, the data breach tracker, with the \
                 role {role}.\n\n\
                 Open this link to choose your password (12 characters or more); you are \
                 then signed in:\n\n    {link}\n\n\
                 The link works once and expires on {until}. If you did not expect this \
                 invitation, ignore this message.\n"
            ),
        ),
        Lang::Nl => (
            format!("vigie: uitnodiging om {org} te vervoegen"),
            format!(
                "{by} nodigt u uit om {org} te vervoegen in vigie, de opvolging van \
                 datalekken, met de rol {role}.\n\n\
                 Open deze link om uw wachtwoord te kiezen (12 tekens of meer); daarna bent \
                 u aangemeld:\n\n    {link}\n\n\
                 De link werkt één keer en verloopt op {until}. Verwachtte u deze \
                 uitnodiging niet, negeer dan dit bericht.\n"
            ),
        ),
    };
    let message = Message::builder()
        .from(mail.from_mailbox()?)
        .to(mailbox(m.to)?)
        .subject(subject)
        .message_id(Some(message_id.clone()))
        .header(super::AutoSubmitted)
        .body(body)
        .map_err(|e| MailError::Build(e.to_string()))?;
    Ok((message, message_id))
}
