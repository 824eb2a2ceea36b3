//! Links between users and an identity provider's subjects on PostgreSQL (issue 25
//! part 2).

use super::{Postgres, db_err};
use crate::store::backend::Result;
use crate::store::oidc::OidcLinks;
use chrono::{DateTime, Utc};

impl OidcLinks for Postgres {
    fn oidc_email(&mut self, issuer: &str, sub: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c(
                "SELECT u.email FROM oidc_links l JOIN users u ON u.id = l.user_id
                 WHERE l.issuer = $1 AND l.sub = $2",
                &[&issuer, &sub],
            )
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn oidc_sub_of(&mut self, user_id: i64, issuer: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c(
                "SELECT sub FROM oidc_links WHERE user_id = $1 AND issuer = $2",
                &[&user_id, &issuer],
            )
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn link_oidc(
        &mut self,
        user_id: i64,
        issuer: &str,
        sub: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let n = self
            .execute_c(
                "INSERT INTO oidc_links (user_id, issuer, sub, linked_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&user_id, &issuer, &sub, &now],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }
}
