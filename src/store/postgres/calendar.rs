//! Calendar feed tokens on PostgreSQL (issue 13).

use super::{Postgres, db_err};
use crate::store::StoreError;
use crate::store::User;
use crate::store::accounts::Role;
use crate::store::backend::{CalendarTokenRow, CalendarTokens, Result};
use chrono::{DateTime, Utc};

impl CalendarTokens for Postgres {
    fn set_calendar_token(
        &mut self,
        user_id: i64,
        org: Option<&str>,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.execute_c(
            "INSERT INTO calendar_tokens (user_id, hash, created_at, org) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash,
                 created_at = excluded.created_at, org = excluded.org",
            &[&user_id, &hash, &now, &org],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn calendar_token_user(&mut self, hash: &str) -> Result<Option<(User, bool)>> {
        // The token's organisation, or (a portfolio token) the person's first enabled
        // membership; never a disabled one.
        self.query_opt_c(
            "SELECT u.id, m.org, u.email, u.name, m.role, t.org IS NULL FROM calendar_tokens t
             JOIN users u ON u.id = t.user_id
             JOIN memberships m ON m.user_id = t.user_id AND NOT m.disabled
                  AND (t.org IS NULL OR m.org = t.org)
             WHERE t.hash = $1 ORDER BY m.org LIMIT 1",
            &[&hash],
        )
        .map_err(db_err)?
        .map(|r| {
            let role: String = r.get(4);
            Ok((
                User {
                    id: r.get(0),
                    org: r.get(1),
                    email: r.get(2),
                    name: r.get(3),
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Db("a user row has an unknown role".into()))?,
                },
                r.get(5),
            ))
        })
        .transpose()
    }

    fn calendar_token_gone(&mut self, hash: &str) -> Result<bool> {
        Ok(self
            .query_opt_c(
                "SELECT EXISTS (SELECT 1 FROM calendar_tokens_revoked WHERE hash = $1)
                     OR EXISTS (SELECT 1 FROM calendar_tokens t WHERE t.hash = $1
                                AND NOT EXISTS (SELECT 1 FROM memberships m
                                    WHERE m.user_id = t.user_id AND NOT m.disabled
                                    AND (t.org IS NULL OR m.org = t.org)))",
                &[&hash],
            )
            .map_err(db_err)?
            .is_some_and(|r| r.get::<_, bool>(0)))
    }

    fn calendar_token_since(
        &mut self,
        user_id: i64,
    ) -> Result<Option<(DateTime<Utc>, Option<String>)>> {
        Ok(self
            .query_opt_c(
                "SELECT created_at, org FROM calendar_tokens WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(db_err)?
            .map(|r| (r.get(0), r.get(1))))
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

    fn calendar_token_rows(&mut self) -> Result<Vec<CalendarTokenRow>> {
        Ok(self
            .client
            .query(
                "SELECT user_id, org, hash, created_at FROM calendar_tokens ORDER BY user_id",
                &[],
            )
            .map_err(db_err)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    fn load_calendar_tokens(&mut self, rows: &[CalendarTokenRow]) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        for (user_id, org, hash, at) in rows {
            tx.execute(
                "INSERT INTO calendar_tokens (user_id, org, hash, created_at) VALUES ($1, $2, $3, $4)",
                &[user_id, org, hash, at],
            )
            .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)
    }
}
