//! Accounts signed in through the company's identity provider (issue 25 part 2): which
//! vigie user a provider's subject (`iss` + `sub`) is, and who may come in at all.
//!
//! The rules, in order, for a subject the provider vouches for, with its e-mail
//! address (already checked as verified and of an allowed domain by the web side):
//! 1. a subject linked before is that user (whatever address the provider says now);
//! 2. else the user with that address, if they have no other subject at this issuer,
//!    and the subject is linked to them from now on;
//! 3. else a pending invitation of that address (the newest, whatever organisation):
//!    it is used, and makes the user with its organisation and role, with a password
//!    nobody knows (they sign in through the provider; `vigie user passwd` can give
//!    them one);
//! 4. else nobody: refused.
//!
//! A disabled user is refused at 1 and 2.

use super::accounts::{hash_password, random_hex};
use super::backend::Result;
use super::{Store, StoreError, User};
use crate::util::hash::sha256_hex;
use chrono::{DateTime, Utc};

/// The links between users and a provider's subjects (`oidc_links`).
pub trait OidcLinks {
    /// The e-mail of the user linked to `sub` at `issuer`.
    fn oidc_email(&mut self, issuer: &str, sub: &str) -> Result<Option<String>>;
    /// The subject `user_id` is linked to at `issuer`.
    fn oidc_sub_of(&mut self, user_id: i64, issuer: &str) -> Result<Option<String>>;
    /// Links `user_id` to `sub` at `issuer`; false (nothing written) when either is
    /// linked already.
    fn link_oidc(
        &mut self,
        user_id: i64,
        issuer: &str,
        sub: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;
}

/// What a sign-in through the provider comes to.
#[derive(Debug)]
pub enum OidcAccount {
    /// This user; `linked`: the subject was linked now; `invited`: the user was made
    /// now from an invitation.
    User {
        user: User,
        linked: bool,
        invited: bool,
    },
    /// The user is disabled.
    Disabled,
    /// The address's user is linked to another subject at this issuer.
    OtherSubject,
    /// No user and no pending invitation has this address.
    Unknown,
}

impl Store {
    /// The user a provider's subject signs in as (see the module's rules).
    pub fn oidc_account(
        &mut self,
        issuer: &str,
        sub: &str,
        email: &str,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> std::result::Result<OidcAccount, StoreError> {
        if let Some(linked) = self.db.oidc_email(issuer, sub)? {
            return Ok(match self.db.user_by_email(&linked)? {
                Some(row) if row.disabled => OidcAccount::Disabled,
                Some(row) => OidcAccount::User {
                    user: row.user,
                    linked: false,
                    invited: false,
                },
                None => OidcAccount::Unknown,
            });
        }
        let email = email.trim();
        if !super::storable(email) {
            return Ok(OidcAccount::Unknown);
        }
        if let Some(row) = self.db.user_by_email(email)? {
            if row.disabled {
                return Ok(OidcAccount::Disabled);
            }
            if self.db.oidc_sub_of(row.user.id, issuer)?.is_some() {
                return Ok(OidcAccount::OtherSubject);
            }
            let linked = self.db.link_oidc(row.user.id, issuer, sub, now)?;
            return Ok(match linked {
                true => OidcAccount::User {
                    user: row.user,
                    linked: true,
                    invited: false,
                },
                // Linked meanwhile by another sign-in: to this subject or another.
                false => match self.db.oidc_email(issuer, sub)? {
                    Some(e) if e.eq_ignore_ascii_case(&row.user.email) => OidcAccount::User {
                        user: row.user,
                        linked: false,
                        invited: false,
                    },
                    _ => OidcAccount::OtherSubject,
                },
            });
        }
        // A pending invitation of this address, the newest of any organisation.
        let mut pending = None;
        for (org, _, _) in self.db.organisations()? {
            for inv in self.db.invitations(&org)? {
                let usable =
                    inv.used_at.is_none() && inv.revoked_at.is_none() && inv.expires_at > now;
                if usable
                    && inv.email.eq_ignore_ascii_case(email)
                    && pending
                        .as_ref()
                        .is_none_or(|p: &super::backend::InvitationRow| {
                            p.created_at < inv.created_at
                        })
                {
                    pending = Some(inv);
                }
            }
        }
        let Some(inv) = pending else {
            return Ok(OidcAccount::Unknown);
        };
        let name = match name.map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => inv.email.clone(),
        };
        // A password nobody knows: this person signs in through the provider.
        let hash = hash_password(&random_hex(32));
        let Some((inv, id)) = self
            .db
            .accept_invitation(&inv.hash, &name, &hash, None, now)?
        else {
            // Used or revoked meanwhile.
            return Ok(OidcAccount::Unknown);
        };
        self.db.link_oidc(id, issuer, sub, now)?;
        Ok(OidcAccount::User {
            user: User {
                id,
                org: inv.org,
                email: inv.email,
                name,
                role: inv.role,
            },
            linked: true,
            invited: true,
        })
    }

    /// The subject `email`'s user is linked to at `issuer`, if any (not shown anywhere
    /// yet: for a later `vigie user list` column).
    pub fn oidc_subject(&mut self, email: &str, issuer: &str) -> Result<Option<String>> {
        match self.db.user_by_email(email.trim())? {
            Some(row) => self.db.oidc_sub_of(row.user.id, issuer),
            None => Ok(None),
        }
    }
}

/// The access log's detail of a sign-in through the provider: the issuer and the
/// subject, never the address (the actor column names the user).
pub fn sign_in_detail(issuer: &str, sub: &str) -> String {
    format!("oidc {issuer} sub {sub}")
}

/// A digest to name a subject in the server's own log lines.
pub fn subject_digest(issuer: &str, sub: &str) -> String {
    sha256_hex(format!("{issuer}\0{sub}"))[..12].to_string()
}
