//! Calendar feed tokens (issue 13): one per user, distinct from API tokens, stored only
//! as the SHA-256 of the secret. The feed's URL carries the secret (calendar clients
//! cannot send a header), so it reads the user's organisation's deadlines and nothing
//! else: no page, no API route accepts it.

use super::accounts::random_hex;
use super::{Store, StoreError, User};
use crate::util::hash::sha256_hex;
use chrono::{DateTime, Utc};

/// Every calendar token starts with this, so that one pasted in the wrong place is
/// recognised (and an API token is never taken for one).
pub const CALENDAR_TOKEN_PREFIX: &str = "vcal_";

impl Store {
    /// A new calendar token for `user`, replacing the one they had; shown once.
    pub fn new_calendar_token(
        &mut self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let token = format!("{CALENDAR_TOKEN_PREFIX}{}", random_hex(32));
        self.db
            .set_calendar_token(user.id, &sha256_hex(&token), now)?;
        Ok(token)
    }

    /// The enabled user a calendar token belongs to (None: unknown, revoked, replaced,
    /// or a disabled user).
    pub fn calendar_user(&mut self, token: &str) -> Result<Option<User>, StoreError> {
        if !token.starts_with(CALENDAR_TOKEN_PREFIX) {
            return Ok(None);
        }
        self.db.calendar_token_user(&sha256_hex(token))
    }

    /// Whether a calendar token is gone for good: revoked, replaced, ended with a
    /// password change, or a disabled user's (the feed answers 410 Gone so that calendar
    /// clients stop asking). False for a token that never existed.
    pub fn calendar_token_gone(&mut self, token: &str) -> Result<bool, StoreError> {
        if !token.starts_with(CALENDAR_TOKEN_PREFIX) {
            return Ok(false);
        }
        self.db.calendar_token_gone(&sha256_hex(token))
    }

    /// When `user`'s calendar token was made, if they have one.
    pub fn calendar_token_since(
        &mut self,
        user: &User,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.db.calendar_token_since(user.id)
    }

    /// Revokes `user`'s calendar token; false when they had none.
    pub fn revoke_calendar_token(&mut self, user: &User) -> Result<bool, StoreError> {
        self.db.delete_calendar_token(user.id)
    }
}
