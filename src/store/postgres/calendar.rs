//! Calendar feed tokens on PostgreSQL (issue 13).

use super::{Postgres, db_err};
use crate::store::StoreError;
use crate::store::User;
use crate::store::accounts::Role;
use crate::store::backend::{CalendarTokens, Result};
use chrono::{DateTime, Utc};

impl CalendarTokens for Postgres {
    fn set_calendar_token(&mut self, user_id: i64, hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.execute_c(
            "INSERT INTO calendar_tokens (user_id, hash, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at",
            &[&user_id, &hash, &now],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn calendar_token_user(&mut self, hash: &str) -> Result<Option<User>> {
        self.query_opt_c(
            "SELECT u.id, u.org, u.email, u.name, u.role FROM calendar_tokens t
             JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND NOT u.disabled",
            &[&hash],
        )
        .map_err(db_err)?
        .map(|r| {
            let role: String = r.get(4);
            Ok(User {
                id: r.get(0),
                org: r.get(1),
                email: r.get(2),
                name: r.get(3),
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Db("a user row has an unknown role".into()))?,
            })
        })
        .transpose()
    }

    fn calendar_token_gone(&mut self, hash: &str) -> Result<bool> {
        Ok(self
            .query_opt_c(
                "SELECT EXISTS (SELECT 1 FROM calendar_tokens_revoked WHERE hash = $1)
                     OR EXISTS (SELECT 1 FROM calendar_tokens t JOIN users u ON u.id = t.user_id
                                WHERE t.hash = $1 AND u.disabled)",
                &[&hash],
            )
            .map_err(db_err)?
            .is_some_and(|r| r.get::<_, bool>(0)))
    }

    fn calendar_token_since(&mut self, user_id: i64) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_opt_c(
                "SELECT created_at FROM calendar_tokens WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn delete_calendar_token(&mut self, user_id: i64) -> Result<bool> {
        Ok(self
            .execute_c(
                "DELETE FROM calendar_tokens WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(db_err)?
            > 0)
    }

    fn calendar_token_rows(&mut self) -> Result<Vec<(i64, String, DateTime<Utc>)>> {
        Ok(self
            .client
            .query(
                "SELECT user_id, hash, created_at FROM calendar_tokens ORDER BY user_id",
                &[],
            )
            .map_err(db_err)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn load_calendar_tokens(&mut self, rows: &[(i64, String, DateTime<Utc>)]) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        for (user_id, hash, at) in rows {
            tx.execute(
                "INSERT INTO calendar_tokens (user_id, hash, created_at) VALUES ($1, $2, $3)",
                &[user_id, hash, at],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}
