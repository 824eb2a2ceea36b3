//! Organisations, users, sessions and API tokens. Passwords are argon2id PHC strings;
//! a session cookie or an API token is stored only as the SHA-256 of the secret the
//! client holds, so a copy of the database opens no account.

use super::backend::{SessionOf, SessionRow, TokenRow};
use super::{Store, StoreError};
use crate::util::hash::sha256_hex;
use crate::util::quote;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use std::sync::OnceLock;

/// What a user may do in their organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything: open cases, record issued documents, plus what the others do.
    Dpo,
    /// Set facts and record workflow events.
    Contributor,
    /// Read only.
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "dpo" => Some(Role::Dpo),
            "contributor" => Some(Role::Contributor),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Dpo => "dpo",
            Role::Contributor => "contributor",
            Role::Viewer => "viewer",
        }
    }

    /// Facts and events.
    pub fn can_change(self) -> bool {
        matches!(self, Role::Dpo | Role::Contributor)
    }

    /// Opening cases and recording documents as issued.
    pub fn is_dpo(self) -> bool {
        self == Role::Dpo
    }
}

/// A person who signs in, acting in one of their organisations (a membership: `org`
/// and the `role` they have there; see `store::memberships`). Their e-mail is staff
/// contact data, not a data subject's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub org: String,
    pub email: String,
    pub name: String,
    pub role: Role,
}

impl User {
    /// How the register names this user as an event's actor.
    pub fn actor(&self) -> String {
        self.email.clone()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(
        "unknown organisation {} (known: {known}); create it with `vigie org add ID --name \"...\"`", quote(.org)
    )]
    UnknownOrg { org: String, known: String },
    #[error("organisation id {} must be lowercase letters, digits, '-' or '_' (at most 32)", quote(.0))]
    BadOrgId(String),
    #[error("organisation {} already exists", quote(.0))]
    OrgExists(String),
    #[error("{} is not an e-mail address", quote(.0))]
    BadEmail(String),
    #[error("a user with e-mail {} already exists", quote(.0))]
    EmailTaken(String),
    #[error("no user with e-mail {} (see `vigie user list`)", quote(.0))]
    UnknownUser(String),
    #[error("{} is a member of several organisations ({orgs}): say which with --org", quote(.email))]
    WhichOrg { email: String, orgs: String },
    #[error("{} is already a member of organisation {}: change their role with `vigie user role`", quote(.email), quote(.org))]
    AlreadyMember { email: String, org: String },
    #[error(
        "this address already has a vigie account: give its password to join this organisation"
    )]
    NotTheirPassword,
    #[error("the password must have at least {min} characters (it has {len})")]
    WeakPassword { min: usize, len: usize },
    #[error(
        "organisation {} would have no enabled DPO left: make another user its DPO first", quote(.0)
    )]
    LastDpo(String),
    #[error("role {} is not dpo, contributor or viewer", quote(.0))]
    BadRole(String),
    #[error("no API token with id {} (see `vigie user token list`)", quote(.0))]
    UnknownToken(String),
    #[error("API token id {} matches {n} tokens: give more of it (see `vigie user token list`)", quote(.id))]
    AmbiguousToken { id: String, n: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccountError {
    /// True for what the caller can correct; false for a failure of the database.
    pub fn is_input(&self) -> bool {
        match self {
            AccountError::Store(e) => e.is_input(),
            _ => true,
        }
    }
}

pub const MIN_PASSWORD: usize = 12;
/// A session lasts a working night, not a week.
pub const SESSION_HOURS: i64 = 12;

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random source");
    crate::util::hash::hex(&buf)
}

pub(super) fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters")
        .to_string()
}

/// A hash checked when the e-mail is unknown, so both failures take the same time.
fn dummy_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("not a password of anyone"))
}

/// The password rules of every account (`vigie user add`, the setup page).
pub fn check_password(password: &str) -> Result<(), AccountError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        return Err(AccountError::WeakPassword {
            min: MIN_PASSWORD,
            len,
        });
    }
    Ok(())
}

/// An organisation id: lowercase letters, digits, '-' or '_', at most 32.
pub fn check_org_id(id: &str) -> Result<(), AccountError> {
    if id.is_empty()
        || id.len() > 32
        || !id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(AccountError::BadOrgId(id.to_string()));
    }
    Ok(())
}

impl Store {
    /// (id, name) of every organisation, by id.
    pub fn organisations(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .db
            .organisations()?
            .into_iter()
            .map(|(id, name, _)| (id, name))
            .collect())
    }

    pub fn organisation_name(&mut self, org: &str) -> Result<Option<String>, StoreError> {
        Ok(self.db.organisation(org)?.map(|(name, _)| name))
    }

    pub fn add_organisation(&mut self, id: &str, name: &str) -> Result<(), AccountError> {
        check_org_id(id)?;
        if self.organisation_name(id)?.is_some() {
            return Err(AccountError::OrgExists(id.to_string()));
        }
        self.db.insert_organisation(id, name, "{}")?;
        Ok(())
    }

    fn require_org(&mut self, org: &str) -> Result<(), AccountError> {
        if self.organisation_name(org)?.is_none() {
            let known = self
                .organisations()?
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
                .join(", ");
            return Err(AccountError::UnknownOrg {
                org: org.to_string(),
                known,
            });
        }
        Ok(())
    }

    /// Whether a new account could be made with this e-mail and password (the checks of
    /// [`Store::add_user`] but the organisation's), without writing anything.
    pub fn check_new_user(&mut self, email: &str, password: &str) -> Result<(), AccountError> {
        crate::util::email::parse(email).map_err(|_| AccountError::BadEmail(email.to_string()))?;
        check_password(password)?;
        if self.db.user_by_email(email)?.is_some() {
            return Err(AccountError::EmailTaken(email.to_string()));
        }
        Ok(())
    }

    pub fn add_user(
        &mut self,
        org: &str,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        self.require_org(org)?;
        self.check_new_user(email, password)?;
        let hash = hash_password(password);
        let id = self
            .db
            .insert_user(org, email, name, role, &hash, now, "command line")?;
        Ok(User {
            id,
            org: org.to_string(),
            email: email.to_string(),
            name: name.to_string(),
            role,
        })
    }

    /// The enabled users of `org` (every organisation: None).
    pub fn users(&mut self, org: Option<&str>) -> Result<Vec<User>, StoreError> {
        Ok(self
            .db
            .user_rows(org)?
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| u.user)
            .collect())
    }

    /// An enabled user and their password hash.
    fn enabled_user(&mut self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        if !super::storable(email) {
            // No account can have it (PostgreSQL text refuses it): unknown, not a failure.
            return Ok(None);
        }
        Ok(self
            .db
            .user_by_email(email)?
            .filter(|u| !u.disabled)
            .map(|u| (u.user, u.password)))
    }

    /// A new password. It signs out every session and revokes every API token of the
    /// old one (a token outliving the password change was issue 9). Returns how many
    /// tokens were revoked.
    pub fn set_password(&mut self, email: &str, password: &str) -> Result<usize, AccountError> {
        check_password(password)?;
        let (user, _) = self
            .enabled_user(email)?
            .ok_or_else(|| AccountError::UnknownUser(email.to_string()))?;
        Ok(self.db.set_password(user.id, &hash_password(password))?)
    }

    /// Disables (or enables again) the membership of the user with this e-mail in `org`
    /// (None: their only one; see [`Store::membership`]); their other organisations are
    /// untouched. A disabled membership is lost by the person's sessions on their next
    /// request (a person left with none is signed out at once), and its API tokens are
    /// refused until it is enabled again (`token revoke` ends a token for good). Returns
    /// the user in that organisation and how many API tokens the membership holds.
    pub fn set_disabled(
        &mut self,
        email: &str,
        org: Option<&str>,
        disabled: bool,
    ) -> Result<(User, usize), AccountError> {
        let user = self.membership(email, org)?.user;
        // An organisation keeps an enabled DPO (issue 21 part 5): checked and written
        // in one transaction.
        if !self.set_member(&user, user.role, disabled)? {
            return Err(AccountError::LastDpo(user.org));
        }
        let tokens = self
            .db
            .tokens(Some(&user.org), Some(&user.email), None)?
            .len();
        Ok((user, tokens))
    }

    /// Every user of `org` (every organisation: None), disabled ones included, each with
    /// whether they are disabled.
    pub fn accounts(&mut self, org: Option<&str>) -> Result<Vec<(User, bool)>, StoreError> {
        Ok(self
            .db
            .user_rows(org)?
            .into_iter()
            .map(|u| (u.user, u.disabled))
            .collect())
    }

    /// Whether `password` matches the stored `hash` (Some) or not (None).
    pub(super) fn check_password_of(&self, hash: &str, password: &str) -> Option<()> {
        let h = PasswordHash::new(hash).ok()?;
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .ok()
    }

    /// The user whose password this is, or None (unknown e-mail or wrong password, told
    /// apart by neither the answer nor the time it takes).
    pub fn check_login(&mut self, email: &str, password: &str) -> Result<Option<User>, StoreError> {
        let found = self.enabled_user(email.trim())?;
        let stored = found
            .as_ref()
            .map(|(_, h)| h.as_str())
            .unwrap_or_else(|| dummy_hash());
        let ok = PasswordHash::new(stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false);
        Ok(match found {
            Some((user, _)) if ok => Some(user),
            _ => None,
        })
    }

    /// The mark of a browser that signed in to `email` (issue 23, N1): HMAC-SHA256 keyed
    /// with the account's password hash (a secret only the database holds), over the
    /// e-mail and the browser's random `nonce`. None for an unknown or disabled account.
    /// A new password changes the key, so every such mark dies with the old password.
    pub fn device_mark(&mut self, email: &str, nonce: &str) -> Result<Option<String>, StoreError> {
        use hmac::{Hmac, Mac};
        let Some((_, hash)) = self.enabled_user(email.trim())? else {
            return Ok(None);
        };
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(hash.as_bytes()).expect("HMAC takes any key");
        mac.update(b"vigie-device\0");
        mac.update(email.trim().to_lowercase().as_bytes());
        mac.update(b"\0");
        mac.update(nonce.as_bytes());
        Ok(Some(crate::util::hash::hex(&mac.finalize().into_bytes())))
    }

    /// A new session: the cookie secret (returned once, stored hashed) and its CSRF token.
    pub fn create_session(
        &mut self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(String, String), StoreError> {
        let secret = random_hex(32);
        let csrf = random_hex(32);
        self.db.insert_session(
            &SessionRow {
                hash: sha256_hex(&secret),
                user_id: user.id,
                csrf: csrf.clone(),
                created_at: now,
                expires_at: now + Duration::hours(SESSION_HOURS),
                org: Some(user.org.clone()),
            },
            now,
        )?;
        self.db.record_sign_in(user.id, now)?;
        Ok((secret, csrf))
    }

    /// The person of a live session acting in its current organisation, checked against
    /// their memberships now, its CSRF token and the person's organisations.
    pub fn session(
        &mut self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionOf>, StoreError> {
        self.db.session(&sha256_hex(secret), now)
    }

    pub fn end_session(&mut self, secret: &str) -> Result<(), StoreError> {
        self.db.delete_session(&sha256_hex(secret))
    }

    /// A new API token for the user with this e-mail in `org` (None: their only
    /// organisation; see [`Store::membership`]), shown once. It reads and changes that
    /// organisation only, whatever other memberships the person has.
    pub fn create_token(
        &mut self,
        email: &str,
        org: Option<&str>,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(User, String), AccountError> {
        let row = self.membership(email, org)?;
        if row.disabled {
            return Err(AccountError::UnknownUser(email.to_string()));
        }
        let user = row.user;
        let token = format!("vigie_{}", random_hex(32));
        self.db.insert_token(&TokenRow {
            hash: sha256_hex(&token),
            user_id: user.id,
            org: user.org.clone(),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
        })?;
        Ok((user, token))
    }

    /// The user an API token belongs to (None for an unknown or revoked token, or a
    /// disabled user), and when the token was last used.
    pub fn token_user(&mut self, token: &str) -> Result<Option<TokenUser>, StoreError> {
        self.db.token_user(&sha256_hex(token))
    }

    /// Records that a token was used now.
    pub fn touch_token(&mut self, token: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db.touch_token(&sha256_hex(token), now)
    }

    /// The API tokens of `org` (None: every organisation), or of the user with `email`:
    /// never the secret, which is not stored, but an id to revoke it by.
    pub fn tokens(
        &mut self,
        org: Option<&str>,
        email: Option<&str>,
    ) -> Result<Vec<TokenInfo>, AccountError> {
        if let Some(e) = email
            && self.db.user_by_email(e.trim())?.is_none()
        {
            return Err(AccountError::UnknownUser(e.to_string()));
        }
        Ok(self.db.tokens(org, email.map(str::trim), None)?)
    }

    /// Revokes the API token whose id (or at least its first 6 digits) is `id`: its next
    /// request is refused. Returns what it was.
    pub fn revoke_token(&mut self, id: &str) -> Result<TokenInfo, AccountError> {
        let prefix = id.trim().to_ascii_lowercase();
        if prefix.len() < 6 || prefix.len() > 64 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(AccountError::UnknownToken(id.to_string()));
        }
        let mut found = self.db.tokens(None, None, Some(&prefix))?;
        if found.len() > 1 {
            return Err(AccountError::AmbiguousToken {
                id: id.to_string(),
                n: found.len(),
            });
        }
        let token = found
            .pop()
            .ok_or_else(|| AccountError::UnknownToken(id.to_string()))?;
        self.db.delete_tokens_by_prefix(&prefix)?;
        Ok(token)
    }
}

/// The user of an API token, and when the token was last used.
pub type TokenUser = (User, Option<DateTime<Utc>>);

/// Hex digits of a token's SHA-256 shown as its id.
pub const TOKEN_ID_LEN: usize = 12;

/// An API token as `vigie user token list` shows it: never the secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// The first hex digits of the SHA-256 of the token (`printf %s TOKEN | sha256sum`).
    pub id: String,
    pub email: String,
    /// The membership's organisation: the only one the token reads.
    pub org: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// The token is refused while its user is disabled.
    pub user_disabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_sessions_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("a.db")).unwrap();
        let now = Utc::now();
        assert!(matches!(
            s.add_user(
                "nope",
                "a@example.org",
                "A",
                Role::Dpo,
                "long enough pw",
                now
            ),
            Err(AccountError::UnknownOrg { .. })
        ));
        assert!(matches!(
            s.add_user("default", "a@example.org", "A", Role::Dpo, "short", now),
            Err(AccountError::WeakPassword { .. })
        ));
        let u = s
            .add_user(
                "default",
                "a@example.org",
                "A",
                Role::Dpo,
                "long enough pw",
                now,
            )
            .unwrap();
        assert!(matches!(
            s.add_user(
                "default",
                "A@example.org",
                "A",
                Role::Dpo,
                "long enough pw",
                now
            ),
            Err(AccountError::EmailTaken(_))
        ));
        let stored = s.backend().user_rows(None).unwrap()[0].password.clone();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(
            s.check_login("a@example.org", "wrong password")
                .unwrap()
                .is_none()
        );
        assert!(
            s.check_login("b@example.org", "long enough pw")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            s.check_login("a@example.org", "long enough pw")
                .unwrap()
                .unwrap()
                .id,
            u.id
        );

        let (secret, csrf) = s.create_session(&u, now).unwrap();
        let found = s.session(&secret, now).unwrap().unwrap();
        assert_eq!((found.user.id, found.csrf), (u.id, csrf));
        assert!(
            s.session(&secret, now + Duration::hours(13))
                .unwrap()
                .is_none()
        );
        assert!(s.session("forged", now).unwrap().is_none());
        s.set_password("a@example.org", "another long pw").unwrap();
        assert!(
            s.session(&secret, now).unwrap().is_none(),
            "new password ends sessions"
        );

        let (_, t) = s
            .create_token("a@example.org", None, "script", now)
            .unwrap();
        assert_eq!(s.token_user(&t).unwrap().unwrap().0.email, "a@example.org");
        assert!(s.token_user("vigie_0000").unwrap().is_none());
        let rows = s.backend().token_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows.iter().all(|r| r.hash != t && r.hash == sha256_hex(&t)),
            "the token itself is never stored"
        );
    }
}
