//! Colleagues (issue 21 part 5): the users of an organisation with their role and last
//! sign-in, invitations by e-mail address and role (a one-time link valid 7 days; the
//! invitee chooses their own password, the DPO never does), changing a role, disabling
//! and enabling a user. Written once here for the users page, the API and the CLI
//! (`vigie user invite|invitations|revoke-invitation|role`); each edge checks that its
//! caller is the organisation's DPO and passes the organisation, so one organisation
//! never reads or changes another's users or invitations.
//!
//! The one rule every door keeps: an organisation never loses its last enabled DPO
//! (checked and written in one transaction, see `Invitations::set_member`).

use super::{App, AppError};
use crate::store::invitations::{Invitation, InvitationState, Member};
use crate::store::{AccountError, Role, Store, User};
use crate::time::Lang;
use chrono::{DateTime, Utc};

/// A new invitation, and the link's secret (shown once, never stored).
pub struct Invited {
    pub invitation: Invitation,
    pub token: String,
}

/// What became of an invitation's e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailed {
    /// Handed to the SMTP server.
    Sent,
    /// Written as an `.eml` file in this outbox folder (`mail.transport: file`).
    Outbox(String),
    /// Not sent: why (one line, no address).
    Failed(String),
}

impl Mailed {
    /// The state as the API and `--json` name it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mailed::Sent => "sent",
            Mailed::Outbox(_) => "outbox",
            Mailed::Failed(_) => "failed",
        }
    }
}

/// The path of an invitation's page, under the web page's address.
pub fn invitation_path(token: &str) -> String {
    format!("/invitations/{token}")
}

fn parse_role(role: &str) -> Result<Role, AppError> {
    Role::parse(role.trim()).ok_or_else(|| AppError::Field {
        field: "role",
        message: format!(
            "{} is not dpo, contributor or viewer",
            crate::util::quote(role)
        ),
    })
}

impl App {
    /// Invites `email` into `org` with `role` (a pending invitation of the same address
    /// is replaced). Refused: an address that is not one, an unknown role, and an
    /// address that already has an account in this organisation.
    pub fn invite(
        &self,
        store: &mut Store,
        org: &str,
        invited_by: &str,
        email: &str,
        role: &str,
        now: DateTime<Utc>,
    ) -> Result<Invited, AppError> {
        self.check_org(store, org)?;
        let email = email.trim();
        if email.is_empty()
            || !crate::store::storable(email)
            || crate::mail::mailbox(email).is_err()
            || !email.contains('@')
            || email.contains(['<', '>', ' '])
        {
            return Err(AppError::Field {
                field: "email",
                message: format!("{} is not an e-mail address", crate::util::quote(email)),
            });
        }
        let role = parse_role(role)?;
        if store.member(org, email)?.is_some() {
            return Err(AppError::Field {
                field: "email",
                message: format!(
                    "{} already has an account in this organisation: change its role or enable it on the users page",
                    crate::util::quote(email)
                ),
            });
        }
        let (token, invitation) = store.insert_invitation(org, email, role, invited_by, now)?;
        Ok(Invited { invitation, token })
    }

    /// The organisation's invitations, newest first, with their state now.
    pub fn invitations(
        &self,
        store: &mut Store,
        org: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, AppError> {
        self.check_org(store, org)?;
        Ok(store.invitations(org, now)?)
    }

    /// Revokes a pending invitation of `org` (404 when it has none with this id: another
    /// organisation's looks the same).
    pub fn revoke_invitation(
        &self,
        store: &mut Store,
        org: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Invitation, AppError> {
        if !store.revoke_invitation(org, id, now)? {
            return Err(AppError::NotFound(format!(
                "no pending invitation with id {id} (see `vigie user invitations`)"
            )));
        }
        store
            .invitations(org, now)?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no invitation with id {id}")))
    }

    /// Where the invitation of a link stands: None for a link that never was one.
    pub fn invitation_state(
        &self,
        store: &mut Store,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>, AppError> {
        Ok(store.invitation_of_token(token, now)?)
    }

    /// The invitee's account, with their own password: Ok(Err(state)) when the link
    /// cannot be used (used, expired, revoked; `None`: unknown).
    pub fn accept_invitation(
        &self,
        store: &mut Store,
        token: &str,
        name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Result<User, Option<InvitationState>>, AppError> {
        match store.invitation_of_token(token, now)? {
            None => return Ok(Err(None)),
            Some(i) if i.state != InvitationState::Pending => return Ok(Err(Some(i.state))),
            Some(_) => {}
        }
        match store.accept_invitation(token, name, password, now) {
            Ok(Some(user)) => Ok(Ok(user)),
            // Used or revoked meanwhile.
            Ok(None) => Ok(Err(store.invitation_of_token(token, now)?.map(|i| i.state))),
            Err(AccountError::WeakPassword { min, len }) => Err(AppError::Field {
                field: "password",
                message: AccountError::WeakPassword { min, len }.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The organisation's users, disabled ones too, with their last sign-in.
    pub fn members(&self, store: &mut Store, org: &str) -> Result<Vec<Member>, AppError> {
        self.check_org(store, org)?;
        Ok(store.members(org)?)
    }

    fn member_of(&self, store: &mut Store, org: &str, email: &str) -> Result<Member, AppError> {
        self.check_org(store, org)?;
        store.member(org, email)?.ok_or_else(|| {
            AppError::NotFound(format!(
                "no user with e-mail {} in this organisation (see `vigie user list`)",
                crate::util::quote(email.trim())
            ))
        })
    }

    /// Changes the role of a user of `org`; refused when it would leave the
    /// organisation with no enabled DPO.
    pub fn set_role(
        &self,
        store: &mut Store,
        org: &str,
        email: &str,
        role: &str,
    ) -> Result<Member, AppError> {
        let role = parse_role(role)?;
        let m = self.member_of(store, org, email)?;
        if !store.set_member(&m.user, role, m.disabled)? {
            return Err(AccountError::LastDpo(org.to_string()).into());
        }
        self.member_of(store, org, email)
    }

    /// Disables (`enabled` false) or enables a user of `org`. Disabling signs them out
    /// at once and refuses their API tokens; refused for the last enabled DPO.
    pub fn set_enabled(
        &self,
        store: &mut Store,
        org: &str,
        email: &str,
        enabled: bool,
    ) -> Result<Member, AppError> {
        let m = self.member_of(store, org, email)?;
        if !store.set_member(&m.user, m.user.role, !enabled)? {
            return Err(AccountError::LastDpo(org.to_string()).into());
        }
        self.member_of(store, org, email)
    }

    /// The organisations where a person with this e-mail already has an account (empty:
    /// a new person).
    pub fn member_elsewhere(
        &self,
        store: &mut Store,
        email: &str,
    ) -> Result<Vec<String>, AppError> {
        Ok(store
            .memberships(email)?
            .into_iter()
            .map(|m| m.user.org)
            .collect())
    }

    /// A membership in `org` with `role` for a person who already has an account
    /// elsewhere (`vigie user add` of their address; issue 25 part 1).
    pub fn add_member(
        &self,
        store: &mut Store,
        org: &str,
        email: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<User, AppError> {
        self.check_org(store, org)?;
        Ok(store.add_member(org, email.trim(), role, "command line", now)?)
    }

    /// The e-mail of an invitation, in `lang`, linking to `link`.
    pub fn invitation_mail(
        &self,
        store: &mut Store,
        inv: &Invitation,
        link: &str,
        lang: Lang,
        now: DateTime<Utc>,
    ) -> Result<(lettre::Message, String), AppError> {
        let profile = self.profile(store, &inv.org)?;
        let org_name = profile.name.clone().unwrap_or_else(|| inv.org.clone());
        // The deadline in the zone of the organisation's workflow, with its offset.
        let zone = profile
            .workflow
            .as_deref()
            .and_then(|w| self.workflows.get(w))
            .map(|w| w.timezone)
            .unwrap_or(chrono_tz::UTC);
        let expires = crate::time::short_in(inv.expires_at, zone);
        crate::mail::invitation::build(
            &self.config.mail,
            &crate::mail::invitation::InvitationMail {
                org_name: &org_name,
                invited_by: &inv.invited_by,
                to: &inv.email,
                role: inv.role.as_str(),
                link,
                expires: &expires,
                lang,
            },
            now,
        )
        .map_err(|e| AppError::Input(format!("mail configuration: {e}")))
    }

    /// Sends a built invitation e-mail through the configured transport. Never fails the
    /// invitation: the link is shown to the DPO whatever happens here.
    pub async fn send_invitation(&self, message: lettre::Message, id: &str) -> Mailed {
        let mailer = match self.config.mail.mailer() {
            Ok(m) => m,
            Err(e) => return Mailed::Failed(crate::mail::scrub(&e.to_string())),
        };
        match mailer.send(message, id).await {
            Ok(()) => match self.config.mail.transport {
                crate::mail::TransportKind::Smtp => Mailed::Sent,
                crate::mail::TransportKind::File => {
                    Mailed::Outbox(self.config.mail.outbox_dir().display().to_string())
                }
            },
            Err(e) => Mailed::Failed(crate::mail::scrub(&e.message)),
        }
    }
}
