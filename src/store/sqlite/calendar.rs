//! Calendar feed tokens on SQLite (issue 13).

use super::{Sqlite, parse_opt, ts};
use crate::store::User;
use crate::store::accounts::Role;
use crate::store::backend::{CalendarTokenRow, CalendarTokens, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

impl CalendarTokens for Sqlite {
    fn set_calendar_token(
        &mut self,
        user_id: i64,
        org: Option<&str>,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO calendar_tokens (user_id, hash, created_at, org) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash,
                 created_at = excluded.created_at, org = excluded.org",
            params![user_id, hash, ts(now), org],
        )?;
        Ok(())
    }

    fn calendar_token_user(&mut self, hash: &str) -> Result<Option<(User, bool)>> {
        // The token's organisation, or (a portfolio token) the person's first enabled
        // membership; never a disabled one.
        Ok(self
            .conn
            .prepare_cached(
                "SELECT u.id, m.org, u.email, u.name, m.role, t.org IS NULL FROM calendar_tokens t
                 JOIN users u ON u.id = t.user_id
                 JOIN memberships m ON m.user_id = t.user_id AND m.disabled = 0
                      AND (t.org IS NULL OR m.org = t.org)
                 WHERE t.hash = ?1 ORDER BY m.org LIMIT 1",
            )?
            .query_row(params![hash], |r| {
                let role: String = r.get(4)?;
                Ok((
                    User {
                        id: r.get(0)?,
                        org: r.get(1)?,
                        email: r.get(2)?,
                        name: r.get(3)?,
                        role: Role::parse(&role).unwrap_or(Role::Viewer),
                    },
                    r.get(5)?,
                ))
            })
            .optional()?)
    }

    fn calendar_token_gone(&mut self, hash: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM calendar_tokens_revoked WHERE hash = ?1)
                     OR EXISTS (SELECT 1 FROM calendar_tokens t WHERE t.hash = ?1
                                AND NOT EXISTS (SELECT 1 FROM memberships m
                                    WHERE m.user_id = t.user_id AND m.disabled = 0
                                    AND (t.org IS NULL OR m.org = t.org)))",
            )?
            .query_row(params![hash], |r| r.get(0))?)
    }

    fn calendar_token_since(
        &mut self,
        user_id: i64,
    ) -> Result<Option<(DateTime<Utc>, Option<String>)>> {
        let at: Option<(String, Option<String>)> = self
            .conn
            .prepare_cached("SELECT created_at, org FROM calendar_tokens WHERE user_id = ?1")?
            .query_row(params![user_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match at {
            None => Ok(None),
            Some((at, org)) => Ok(parse_opt(Some(at))?.map(|t| (t, org))),
        }
    }

    fn delete_calendar_token(&mut self, user_id: i64) -> Result<bool> {
        Ok(self.conn.execute(
            "DELETE FROM calendar_tokens WHERE user_id = ?1",
            params![user_id],
        )? > 0)
    }

    fn calendar_token_rows(&mut self) -> Result<Vec<CalendarTokenRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT user_id, org, hash, created_at FROM calendar_tokens ORDER BY user_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, org, hash, at)| Ok((id, org, hash, super::parse(&at)?)))
            .collect()
    }

    fn load_calendar_tokens(&mut self, rows: &[CalendarTokenRow]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (user_id, org, hash, at) in rows {
            tx.execute(
                "INSERT INTO calendar_tokens (user_id, org, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![user_id, org, hash, ts(*at)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
