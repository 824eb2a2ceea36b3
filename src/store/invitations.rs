//! Invitations to an organisation (issue 21 part 5): a DPO invites a colleague by e-mail
//! address with a role; the colleague opens a one-time link and chooses their own
//! password. The link's secret is 32 random bytes from the operating system; only its
//! SHA-256 is stored (as sessions, API tokens and the setup link). Using it marks the
//! invitation used and makes the account in one transaction, so a link opens one
//! account however many times it is sent at once. An invitation is for one organisation
//! and one role.
//!
//! Also here: what the users page changes on an account (its role, disabling it), with
//! the one rule no door can break: an organisation keeps at least one enabled DPO.

use super::accounts::{check_password, hash_password, random_hex};
use super::backend::InvitationRow;
use super::{AccountError, Role, Store, StoreError, User};
use crate::util::hash::sha256_hex;
use chrono::{DateTime, Duration, Utc};

/// How long an invitation link can be used.
pub const INVITATION_TTL: Duration = Duration::days(7);

/// Where an invitation stands at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationState {
    Pending,
    Used,
    Expired,
    Revoked,
}

impl InvitationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationState::Pending => "pending",
            InvitationState::Used => "used",
            InvitationState::Expired => "expired",
            InvitationState::Revoked => "revoked",
        }
    }
}

/// An invitation as the pages, the API and the CLI show it: never the link's secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Invitation {
    pub id: i64,
    pub org: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: InvitationState,
}

impl Invitation {
    fn of(r: InvitationRow, now: DateTime<Utc>) -> Invitation {
        let state = if r.used_at.is_some() {
            InvitationState::Used
        } else if r.revoked_at.is_some() {
            InvitationState::Revoked
        } else if r.expires_at <= now {
            InvitationState::Expired
        } else {
            InvitationState::Pending
        };
        Invitation {
            id: r.id,
            org: r.org,
            email: r.email,
            role: r.role,
            invited_by: r.invited_by,
            created_at: r.created_at,
            expires_at: r.expires_at,
            state,
        }
    }
}

/// A user of an organisation as the users page lists them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Member {
    #[serde(flatten)]
    pub user: User,
    pub disabled: bool,
    pub last_sign_in: Option<DateTime<Utc>>,
}

/// 64 hex digits: anything else is not looked up.
fn is_token_shaped(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Store {
    /// A new invitation of `email` into `org` with `role`, valid [`INVITATION_TTL`]; it
    /// replaces a pending one of the same address. Returns the link's secret (shown
    /// once) and the invitation. The caller has checked the address and that it is not
    /// a member yet.
    pub fn insert_invitation(
        &mut self,
        org: &str,
        email: &str,
        role: Role,
        invited_by: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, Invitation), StoreError> {
        let token = random_hex(32);
        let mut row = InvitationRow {
            id: 0,
            org: org.to_string(),
            email: email.to_string(),
            role,
            hash: sha256_hex(&token),
            invited_by: invited_by.to_string(),
            created_at: now,
            expires_at: now + INVITATION_TTL,
            used_at: None,
            revoked_at: None,
        };
        row.id = self.db.insert_invitation(&row)?;
        Ok((token, Invitation::of(row, now)))
    }

    /// The invitations of `org`, newest first, each with its state at `now`.
    pub fn invitations(
        &mut self,
        org: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<Invitation>, StoreError> {
        Ok(self
            .db
            .invitations(org)?
            .into_iter()
            .map(|r| Invitation::of(r, now))
            .collect())
    }

    /// The invitation of a link's secret (None: no such link).
    pub fn invitation_of_token(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Invitation>, StoreError> {
        if !is_token_shaped(token) {
            return Ok(None);
        }
        Ok(self
            .db
            .invitation(&sha256_hex(token))?
            .map(|r| Invitation::of(r, now)))
    }

    /// Uses the invitation of `token` and makes its membership: for a new person, with
    /// the invitee's own password (the rules of every account); for a person who already
    /// has an account in another organisation, `password` must be theirs (the link alone
    /// adds nobody). Ok(None) when the link cannot be used (any more); nothing is written
    /// on any refusal.
    pub fn accept_invitation(
        &mut self,
        token: &str,
        name: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, AccountError> {
        let Some(inv) = self.invitation_of_token(token, now)? else {
            return Ok(None);
        };
        if inv.state != InvitationState::Pending {
            return Ok(None);
        }
        let existing = self.db.user_by_email(&inv.email)?;
        let (name, hash, existing) = match existing {
            Some(row) => {
                if self
                    .db
                    .memberships_by_email(&inv.email)?
                    .iter()
                    .any(|m| m.user.org == inv.org)
                {
                    return Err(AccountError::AlreadyMember {
                        email: inv.email,
                        org: inv.org,
                    });
                }
                if self.check_password_of(&row.password, password).is_none() {
                    return Err(AccountError::NotTheirPassword);
                }
                (row.user.name, String::new(), Some(row.user.id))
            }
            None => {
                check_password(password)?;
                let name = match name.trim() {
                    "" => inv.email.clone(),
                    n => n.to_string(),
                };
                (name, hash_password(password), None)
            }
        };
        Ok(self
            .db
            .accept_invitation(&sha256_hex(token), &name, &hash, existing, now)?
            .map(|(inv, id)| User {
                id,
                org: inv.org,
                email: inv.email,
                name,
                role: inv.role,
            }))
    }

    /// Revokes a pending invitation of `org`; false when it has none with this id.
    pub fn revoke_invitation(
        &mut self,
        org: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.db.revoke_invitation(org, id, now)
    }

    /// Every user of `org`, disabled ones too, with when they last signed in.
    pub fn members(&mut self, org: &str) -> Result<Vec<Member>, StoreError> {
        let last = self.db.last_sign_ins(org)?;
        Ok(self
            .accounts(Some(org))?
            .into_iter()
            .map(|(user, disabled)| Member {
                last_sign_in: last.get(&user.id).copied(),
                user,
                disabled,
            })
            .collect())
    }

    /// The user of `org` with this e-mail (None in another organisation, or nowhere).
    pub fn member(&mut self, org: &str, email: &str) -> Result<Option<Member>, StoreError> {
        let email = email.trim();
        Ok(self
            .members(org)?
            .into_iter()
            .find(|m| m.user.email.eq_ignore_ascii_case(email)))
    }

    /// Sets a user's role and whether they are disabled; false (nothing written) when
    /// that would leave their organisation with no enabled DPO. Disabling signs them
    /// out and ends their calendar address, as `vigie user disable` does.
    pub fn set_member(
        &mut self,
        user: &User,
        role: Role,
        disabled: bool,
    ) -> Result<bool, StoreError> {
        if !self.db.set_member(user.id, &user.org, role, disabled)? {
            return Ok(false);
        }
        if disabled {
            // The calendar address of this organisation ends with the membership (and a
            // portfolio address with the last one): enabling it again must not bring an
            // address back that may have been shared or leaked meanwhile.
            let none_left = self
                .db
                .memberships_by_email(&user.email)?
                .iter()
                .all(|m| m.disabled);
            match self.db.calendar_token_since(user.id)? {
                Some((_, Some(org))) if org == user.org => {
                    self.db.delete_calendar_token(user.id)?;
                }
                Some((_, None)) if none_left => {
                    self.db.delete_calendar_token(user.id)?;
                }
                _ => {}
            }
        }
        Ok(true)
    }
}
