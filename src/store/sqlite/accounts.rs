//! Organisations, users, sessions and API tokens on SQLite.

use super::{Sqlite, parse, parse_opt, rfc};
use crate::store::accounts::{Role, TOKEN_ID_LEN, TokenInfo, User};
use crate::store::backend::{Accounts, Result, SessionRow, TokenRow, UserRow};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

const USER_COLS: &str = "u.id, u.org, u.email, u.name, u.role";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(4)?;
    Ok(User {
        id: r.get(0)?,
        org: r.get(1)?,
        email: r.get(2)?,
        name: r.get(3)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
    })
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(User, String, bool, String)> {
    Ok((user_from_row(r)?, r.get(5)?, r.get(6)?, r.get(7)?))
}

fn user_row_of(
    (user, password, disabled, created_at): (User, String, bool, String),
) -> Result<UserRow> {
    Ok(UserRow {
        user,
        password,
        disabled,
        created_at: parse(&created_at)?,
    })
}

pub(super) fn insert_session(conn: &Connection, s: &SessionRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        s.hash,
        s.user_id,
        s.csrf,
        rfc(s.created_at),
        rfc(s.expires_at)
    ])?;
    Ok(())
}

pub(super) fn insert_token(conn: &Connection, t: &TokenRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO api_tokens (hash, user_id, name, created_at, last_used_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        t.hash,
        t.user_id,
        t.name,
        rfc(t.created_at),
        t.last_used_at.map(rfc)
    ])?;
    Ok(())
}

impl Accounts for Sqlite {
    fn organisations(&mut self) -> Result<Vec<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, profile FROM organisations ORDER BY id")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn organisation(&mut self, id: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT name, profile FROM organisations WHERE id = ?1")?
            .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn insert_organisation(&mut self, id: &str, name: &str, profile_json: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO organisations (id, name, profile) VALUES (?1, ?2, ?3)",
            params![id, name, profile_json],
        )?;
        Ok(())
    }

    fn set_profile(&mut self, org: &str, profile_json: &str) -> Result<bool> {
        // The organisation's name follows the profile's, when it has one.
        let n = self.conn.execute(
            "UPDATE organisations SET profile = ?2, name = COALESCE(json_extract(?2, '$.name'), name)
             WHERE id = ?1",
            params![org, profile_json],
        )?;
        Ok(n == 1)
    }

    fn profile(&mut self, org: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT profile FROM organisations WHERE id = ?1")?
            .query_row(params![org], |r| r.get(0))
            .optional()?)
    }

    fn insert_user(
        &mut self,
        org: &str,
        email: &str,
        name: &str,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.conn.execute(
            "INSERT INTO users (org, email, name, role, password, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![org, email, name, role.as_str(), password_hash, rfc(now)],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn user_rows(&mut self, org: Option<&str>) -> Result<Vec<UserRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {USER_COLS}, u.password, u.disabled, u.created_at FROM users u
             WHERE (?1 IS NULL OR u.org = ?1) ORDER BY u.org, u.email"
        ))?;
        let raw: Vec<_> = stmt
            .query_map(params![org], user_row)?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter().map(user_row_of).collect()
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {USER_COLS}, u.password, u.disabled, u.created_at FROM users u WHERE u.email = ?1"
            ))?
            .query_row(params![email], user_row)
            .optional()?
            .map(user_row_of)
            .transpose()
    }

    fn set_password(&mut self, user_id: i64, password_hash: &str) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE users SET password = ?1 WHERE id = ?2",
            params![password_hash, user_id],
        )?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", params![user_id])?;
        // The calendar feed's token goes with the password, like the API tokens.
        tx.execute(
            "DELETE FROM calendar_tokens WHERE user_id = ?1",
            params![user_id],
        )?;
        let tokens = tx.execute(
            "DELETE FROM api_tokens WHERE user_id = ?1",
            params![user_id],
        )?;
        tx.commit()?;
        Ok(tokens)
    }

    fn set_disabled(&mut self, user_id: i64, disabled: bool) -> Result<usize> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE users SET disabled = ?1 WHERE id = ?2",
            params![disabled, user_id],
        )?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE user_id = ?1", params![user_id])?;
        }
        let tokens: usize = tx.query_row(
            "SELECT COUNT(*) FROM api_tokens WHERE user_id = ?1",
            params![user_id],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok(tokens)
    }

    fn insert_session(&mut self, s: &SessionRow, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sessions WHERE expires_at < ?1",
            params![rfc(now)],
        )?;
        insert_session(&self.conn, s)
    }

    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> Result<Option<(User, String)>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLS}, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0"
            ))?
            .query_row(params![hash, rfc(now)], |r| {
                Ok((user_from_row(r)?, r.get(5)?))
            })
            .optional()?)
    }

    fn delete_session(&mut self, hash: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE hash = ?1", params![hash])?;
        Ok(())
    }

    fn sessions(&mut self) -> Result<Vec<SessionRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT hash, user_id, csrf, created_at, expires_at FROM sessions ORDER BY hash",
        )?;
        let raw: Vec<(String, i64, String, String, String)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(hash, user_id, csrf, c, e)| {
                Ok(SessionRow {
                    hash,
                    user_id,
                    csrf,
                    created_at: parse(&c)?,
                    expires_at: parse(&e)?,
                })
            })
            .collect()
    }

    fn insert_token(&mut self, t: &TokenRow) -> Result<()> {
        insert_token(&self.conn, t)
    }

    fn token_user(&mut self, hash: &str) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
        let found: Option<(User, Option<String>)> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {USER_COLS}, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.hash = ?1 AND u.disabled = 0"
            ))?
            .query_row(params![hash], |r| Ok((user_from_row(r)?, r.get(5)?)))
            .optional()?;
        // An unreadable "last used" is only a reason to write it again.
        Ok(found.map(|(u, last)| (u, last.and_then(|s| parse(&s).ok()))))
    }

    fn touch_token(&mut self, hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "UPDATE api_tokens SET last_used_at = ?1 WHERE hash = ?2",
            params![rfc(now), hash],
        )?;
        Ok(())
    }

    fn tokens(
        &mut self,
        org: Option<&str>,
        email: Option<&str>,
        id_prefix: Option<&str>,
    ) -> Result<Vec<TokenInfo>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.hash, u.email, u.org, t.name, t.created_at, t.last_used_at, u.disabled
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE (?1 IS NULL OR u.org = ?1) AND (?2 IS NULL OR u.email = ?2)
               AND (?3 IS NULL OR substr(t.hash, 1, length(?3)) = ?3)
             ORDER BY u.org, u.email, t.created_at",
        )?;
        let rows = stmt
            .query_map(params![org, email, id_prefix], |r| {
                let hash: String = r.get(0)?;
                Ok(TokenInfo {
                    id: hash[..TOKEN_ID_LEN.min(hash.len())].to_string(),
                    email: r.get(1)?,
                    org: r.get(2)?,
                    name: r.get(3)?,
                    created_at: r.get(4)?,
                    last_used_at: r.get(5)?,
                    user_disabled: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    fn delete_tokens_by_prefix(&mut self, prefix: &str) -> Result<usize> {
        Ok(self.conn.execute(
            "DELETE FROM api_tokens WHERE substr(hash, 1, length(?1)) = ?1",
            params![prefix],
        )?)
    }

    fn token_rows(&mut self) -> Result<Vec<TokenRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT hash, user_id, name, created_at, last_used_at FROM api_tokens ORDER BY hash",
        )?;
        let raw: Vec<(String, i64, String, String, Option<String>)> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(hash, user_id, name, c, last)| {
                Ok(TokenRow {
                    hash,
                    user_id,
                    name,
                    created_at: parse(&c)?,
                    last_used_at: parse_opt(last)?,
                })
            })
            .collect()
    }
}
