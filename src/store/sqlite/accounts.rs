//! Organisations, users, sessions and API tokens on SQLite.

use super::{Sqlite, parse, parse_opt, rfc};
use crate::store::accounts::{Role, TOKEN_ID_LEN, TokenInfo, User};
use crate::store::backend::{
    Accounts, PortfolioRow, Result, SessionOf, SessionRow, TokenRow, UserRow,
};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// A person acting in a membership: `u` is the person, `m` the membership.
const USER_COLS: &str = "u.id, m.org, u.email, u.name, m.role";
/// Every row of [`user_row`]: one per membership.
const ROW_COLS: &str = "u.id, m.org, u.email, u.name, m.role, u.password, m.disabled, u.created_at, m.since, m.added_by";

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

type RawUser = (User, String, bool, String, String, String);

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawUser> {
    Ok((
        user_from_row(r)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn user_row_of(
    (user, password, disabled, created_at, since, added_by): RawUser,
) -> Result<UserRow> {
    Ok(UserRow {
        user,
        password,
        disabled,
        created_at: parse(&created_at)?,
        since: parse(&since)?,
        added_by,
    })
}

/// A membership, in the caller's transaction.
pub(super) fn insert_membership(
    conn: &Connection,
    user_id: i64,
    org: &str,
    role: Role,
    since: &str,
    added_by: &str,
    disabled: bool,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO memberships (user_id, org, role, since, added_by, disabled)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        user_id,
        org,
        role.as_str(),
        since,
        added_by,
        disabled
    ])?;
    Ok(())
}

pub(super) fn insert_session(conn: &Connection, s: &SessionRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at, org) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        s.hash,
        s.user_id,
        s.csrf,
        rfc(s.created_at),
        rfc(s.expires_at),
        s.org
    ])?;
    Ok(())
}

pub(super) fn insert_token(conn: &Connection, t: &TokenRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO api_tokens (hash, user_id, name, created_at, last_used_at, org) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        t.hash,
        t.user_id,
        t.name,
        rfc(t.created_at),
        t.last_used_at.map(rfc),
        t.org
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
        added_by: &str,
    ) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO users (org, email, name, password, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![org, email, name, password_hash, rfc(now)],
        )?;
        let id = tx.last_insert_rowid();
        insert_membership(&tx, id, org, role, &rfc(now), added_by, false)?;
        tx.commit()?;
        Ok(id)
    }

    fn insert_membership(
        &mut self,
        user_id: i64,
        org: &str,
        role: Role,
        now: DateTime<Utc>,
        added_by: &str,
    ) -> Result<()> {
        insert_membership(&self.conn, user_id, org, role, &rfc(now), added_by, false)
    }

    fn user_rows(&mut self, org: Option<&str>) -> Result<Vec<UserRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLS} FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE (?1 IS NULL OR m.org = ?1) ORDER BY m.org, u.email"
        ))?;
        let raw: Vec<_> = stmt
            .query_map(params![org], user_row)?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter().map(user_row_of).collect()
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>> {
        Ok(self
            .memberships_by_email(email)?
            .into_iter()
            .min_by_key(|r| r.disabled))
    }

    fn memberships_by_email(&mut self, email: &str) -> Result<Vec<UserRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ROW_COLS} FROM users u JOIN memberships m ON m.user_id = u.id
             WHERE u.email = ?1 ORDER BY m.org"
        ))?;
        let raw: Vec<_> = stmt
            .query_map(params![email], user_row)?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter().map(user_row_of).collect()
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

    fn insert_session(&mut self, s: &SessionRow, now: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "DELETE FROM sessions WHERE expires_at < ?1",
            params![rfc(now)],
        )?;
        insert_session(&self.conn, s)
    }

    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionOf>> {
        // One row per enabled membership of the session's person: the current one is
        // the session's organisation when it is still among them, else the first.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {USER_COLS}, s.csrf, m.org = s.org, o.name FROM sessions s
             JOIN users u ON u.id = s.user_id
             JOIN memberships m ON m.user_id = u.id AND m.disabled = 0
             JOIN organisations o ON o.id = m.org
             WHERE s.hash = ?1 AND s.expires_at > ?2 ORDER BY m.org"
        ))?;
        let rows: Vec<(User, String, bool, String)> = stmt
            .query_map(params![hash, rfc(now)], |r| {
                Ok((
                    user_from_row(r)?,
                    r.get(5)?,
                    r.get::<_, Option<bool>>(6)?.unwrap_or(false),
                    r.get(7)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(crate::store::backend::session_of(rows))
    }

    fn set_session_org(&mut self, hash: &str, org: &str) -> Result<bool> {
        Ok(self.conn.execute(
            "UPDATE sessions SET org = ?2 WHERE hash = ?1 AND EXISTS (
                 SELECT 1 FROM memberships m WHERE m.user_id = sessions.user_id
                 AND m.org = ?2 AND m.disabled = 0)",
            params![hash, org],
        )? == 1)
    }

    fn portfolio(
        &mut self,
        user_id: i64,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<PortfolioRow>, usize)> {
        let mut total = 0usize;
        let raw: Vec<(String, String, String, String, String, String, String)> = {
            // The count is a scalar subquery, run once: a window count (`COUNT(*) OVER
            // ()`) made SQLite build and keep every joined row before the LIMIT. Both
            // read the partial index `cases_open_due` (migration 19): per organisation,
            // its running deadlines in order, so the sort keeps only the page. The
            // LIMIT is `+?2`, an expression: a bare parameter there makes SQLite (3.50)
            // prepare the statement again on every run, to plan for the value bound.
            let mut stmt = self.conn.prepare_cached(
                "SELECT c.org, o.name, m.role, c.id, c.title, c.workflow, c.next_due,
                    (SELECT COUNT(*) FROM memberships m
                     JOIN cases c ON c.org = m.org AND c.closed = 0 AND c.next_due IS NOT NULL
                     WHERE m.user_id = ?1 AND m.disabled = 0)
             FROM memberships m
             JOIN cases c ON c.org = m.org AND c.closed = 0 AND c.next_due IS NOT NULL
             JOIN organisations o ON o.id = m.org
             WHERE m.user_id = ?1 AND m.disabled = 0
             ORDER BY c.next_due, c.org, c.id LIMIT +?2 OFFSET ?3",
            )?;
            stmt.query_map(params![user_id, limit as i64, offset as i64], |r| {
                total = r.get::<_, i64>(7)? as usize;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?
        };
        let rows = raw
            .into_iter()
            .map(|(org, org_name, role, case_id, title, workflow, due)| {
                Ok(PortfolioRow {
                    org,
                    org_name,
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    case_id,
                    title,
                    workflow,
                    next_due: parse(&due)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() && offset > 0 {
            // Past the last page: only the count.
            return Ok((rows, self.portfolio(user_id, 1, 0)?.1));
        }
        Ok((rows, total))
    }

    fn delete_session(&mut self, hash: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE hash = ?1", params![hash])?;
        Ok(())
    }

    fn sessions(&mut self) -> Result<Vec<SessionRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT hash, user_id, csrf, created_at, expires_at, org FROM sessions ORDER BY hash",
        )?;
        type Raw = (String, i64, String, String, String, Option<String>);
        let raw: Vec<Raw> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(hash, user_id, csrf, c, e, org)| {
                Ok(SessionRow {
                    hash,
                    user_id,
                    csrf,
                    created_at: parse(&c)?,
                    expires_at: parse(&e)?,
                    org,
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
                 JOIN memberships m ON m.user_id = t.user_id AND m.org = t.org
                 WHERE t.hash = ?1 AND m.disabled = 0"
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
            "SELECT t.hash, u.email, t.org, t.name, t.created_at, t.last_used_at,
                    COALESCE(m.disabled, 1)
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             LEFT JOIN memberships m ON m.user_id = t.user_id AND m.org = t.org
             WHERE (?1 IS NULL OR t.org = ?1) AND (?2 IS NULL OR u.email = ?2)
               AND (?3 IS NULL OR substr(t.hash, 1, length(?3)) = ?3)
             ORDER BY t.org, u.email, t.created_at",
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
            "SELECT hash, user_id, name, created_at, last_used_at, org FROM api_tokens ORDER BY hash",
        )?;
        type Raw = (String, i64, String, String, Option<String>, String);
        let raw: Vec<Raw> = stmt
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        raw.into_iter()
            .map(|(hash, user_id, name, c, last, org)| {
                Ok(TokenRow {
                    hash,
                    user_id,
                    org,
                    name,
                    created_at: parse(&c)?,
                    last_used_at: parse_opt(last)?,
                })
            })
            .collect()
    }
}
