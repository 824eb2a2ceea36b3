//! Links between users and an identity provider's subjects on SQLite (issue 25 part 2).

use super::{Sqlite, ts};
use crate::store::backend::Result;
use crate::store::oidc::OidcLinks;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

impl OidcLinks for Sqlite {
    fn oidc_email(&mut self, issuer: &str, sub: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.email FROM oidc_links l JOIN users u ON u.id = l.user_id
                 WHERE l.issuer = ?1 AND l.sub = ?2",
            )?
            .query_row(params![issuer, sub], |r| r.get(0))
            .optional()?)
    }

    fn oidc_sub_of(&mut self, user_id: i64, issuer: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT sub FROM oidc_links WHERE user_id = ?1 AND issuer = ?2")?
            .query_row(params![user_id, issuer], |r| r.get(0))
            .optional()?)
    }

    fn link_oidc(
        &mut self,
        user_id: i64,
        issuer: &str,
        sub: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = self.conn.execute(
            "INSERT INTO oidc_links (user_id, issuer, sub, linked_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            params![user_id, issuer, sub, ts(now)],
        )?;
        Ok(n == 1)
    }
}
