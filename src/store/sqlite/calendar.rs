//! Calendar feed tokens on SQLite (issue 13).

use super::{Sqlite, parse_opt, ts};
use crate::store::User;
use crate::store::accounts::Role;
use crate::store::backend::{CalendarTokens, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

impl CalendarTokens for Sqlite {
    fn set_calendar_token(&mut self, user_id: i64, hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO calendar_tokens (user_id, hash, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at",
            params![user_id, hash, ts(now)],
        )?;
        Ok(())
    }

    fn calendar_token_user(&mut self, hash: &str) -> Result<Option<User>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.id, u.org, u.email, u.name, u.role FROM calendar_tokens t
                 JOIN users u ON u.id = t.user_id WHERE t.hash = ?1 AND u.disabled = 0",
            )?
            .query_row(params![hash], |r| {
                let role: String = r.get(4)?;
                Ok(User {
                    id: r.get(0)?,
                    org: r.get(1)?,
                    email: r.get(2)?,
                    name: r.get(3)?,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                })
            })
            .optional()?)
    }

    fn calendar_token_gone(&mut self, hash: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM calendar_tokens_revoked WHERE hash = ?1)
                     OR EXISTS (SELECT 1 FROM calendar_tokens t JOIN users u ON u.id = t.user_id
                                WHERE t.hash = ?1 AND u.disabled <> 0)",
            )?
            .query_row(params![hash], |r| r.get(0))?)
    }

    fn calendar_token_since(&mut self, user_id: i64) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self
            .conn
            .prepare_cached("SELECT created_at FROM calendar_tokens WHERE user_id = ?1")?
            .query_row(params![user_id], |r| r.get(0))
            .optional()?;
        parse_opt(at)
    }

    fn delete_calendar_token(&mut self, user_id: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM calendar_tokens WHERE user_id = ?1",
            params![user_id],
        )? > 0)
    }

    fn calendar_token_rows(&mut self) -> Result<Vec<(i64, String, DateTime<Utc>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT user_id, hash, created_at FROM calendar_tokens ORDER BY user_id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, hash, at)| Ok((id, hash, super::parse(&at)?)))
            .collect()
    }

    fn load_calendar_tokens(&mut self, rows: &[(i64, String, DateTime<Utc>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (user_id, hash, at) in rows {
            tx.execute(
                "INSERT INTO calendar_tokens (user_id, hash, created_at) VALUES (?1, ?2, ?3)",
                params![user_id, hash, ts(*at)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
