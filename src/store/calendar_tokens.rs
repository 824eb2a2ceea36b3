//! Calendar feed tokens (issue 13): one per user, distinct from API tokens, stored only
//! as the SHA-256 of the secret. The feed's URL carries the secret (calendar clients
//! cannot send a header), so it reads the user's organisation's deadlines and nothing
//! else: no page, no API route accepts it.

use super::accounts::random_hex;
use super::{Store, StoreError, User};
use crate::util::hash::sha256_hex;
use chrono::{DateTime, Utc};

/// When a calendar token was made, and the organisation it reads (None: the portfolio).
pub type TokenSince = (DateTime<Utc>, Option<String>);

/// Every calendar token starts with this, so that one pasted in the wrong place is
/// recognised (and an API token is never taken for one).
pub const CALENDAR_TOKEN_PREFIX: &str = "vcal_";

impl Store {
    /// A new calendar token for `user`, replacing the one they had; shown once. It
    /// reads `user`'s current organisation, or with `portfolio` every organisation the
    /// person is an enabled member of (checked at each request).
    pub fn new_calendar_token(
        &mut self,
        user: &User,
        portfolio: bool,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let token = format!("{CALENDAR_TOKEN_PREFIX}{}", random_hex(32));
        let org = (!portfolio).then_some(user.org.as_str());
        self.db
            .set_calendar_token(user.id, org, &sha256_hex(&token), now)?;
        Ok(token)
    }

    /// The user a calendar token belongs to, in the token's organisation, and whether it
    /// is a portfolio token (None: unknown, revoked, replaced, or a disabled membership).
    pub fn calendar_user(&mut self, token: &str) -> Result<Option<(User, bool)>, StoreError> {
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

    /// When `user`'s calendar token was made, if they have one, and the organisation it
    /// reads (None: the portfolio).
    pub fn calendar_token_since(&mut self, user: &User) -> Result<Option<TokenSince>, StoreError> {
        self.db.calendar_token_since(user.id)
    }

    /// Revokes `user`'s calendar token; false when they had none.
    pub fn revoke_calendar_token(&mut self, user: &User) -> Result<bool, StoreError> {
        self.db.delete_calendar_token(user.id)
    }
}
