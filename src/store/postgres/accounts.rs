//! Organisations, users, sessions and API tokens on PostgreSQL.

use super::outbox::advance_identity;
use super::{Postgres, db_err};
use crate::store::StoreError;
use crate::store::TOKEN_ID_LEN;
use crate::store::accounts::{Role, TokenInfo, User};
use crate::store::backend::{
    Accounts, PortfolioRow, Result, SessionOf, SessionRow, TokenRow, UserRow,
};
use chrono::{DateTime, Utc};
use postgres::{Client, GenericClient, Row};

/// A person acting in a membership: `u` is the person, `m` the membership.
const USER_COLS: &str = "u.id, m.org, u.email, u.name, m.role";
/// Every column of [`user_row`]: one row per membership.
const ROW_COLS: &str = "u.id, m.org, u.email, u.name, m.role, u.password, m.disabled, u.created_at, m.since, m.added_by";

/// The user of the first five columns (`USER_COLS`).
fn user(r: &Row) -> Result<User> {
    let role: String = r.get(4);
    Ok(User {
        id: r.get(0),
        org: r.get(1),
        email: r.get(2),
        name: r.get(3),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Db("a user row has an unknown role".into()))?,
    })
}

fn user_row(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        user: user(r)?,
        password: r.get(5),
        disabled: r.get(6),
        created_at: r.get(7),
        since: r.get(8),
        added_by: r.get(9),
    })
}

/// A membership, in the caller's transaction.
pub(super) fn insert_membership(
    c: &mut impl GenericClient,
    user_id: i64,
    org: &str,
    role: Role,
    since: DateTime<Utc>,
    added_by: &str,
    disabled: bool,
) -> Result<()> {
    c.execute(
        "INSERT INTO memberships (user_id, org, role, since, added_by, disabled)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&user_id, &org, &role.as_str(), &since, &added_by, &disabled],
    )
    .map_err(db_err)?;
    Ok(())
}

impl Accounts for Postgres {
    fn organisations(&mut self) -> Result<Vec<(String, String, String)>> {
        let rows = self
            .query_c(
                "SELECT id, name, profile FROM organisations ORDER BY id",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn organisation(&mut self, id: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .query_opt_c(
                "SELECT name, profile FROM organisations WHERE id = $1",
                &[&id],
            )
            .map_err(db_err)?
            .map(|r| (r.get(0), r.get(1))))
    }

    fn insert_organisation(&mut self, id: &str, name: &str, profile_json: &str) -> Result<()> {
        self.execute_c(
            "INSERT INTO organisations (id, name, profile) VALUES ($1, $2, $3)",
            &[&id, &name, &profile_json],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn set_profile(&mut self, org: &str, profile_json: &str) -> Result<bool> {
        let n = self
            .client
            .execute(
                // The organisation's name follows the profile's, when it has one.
                "UPDATE organisations SET profile = $2::text,
                 name = COALESCE(($2::text)::jsonb ->> 'name', name) WHERE id = $1",
                &[&org, &profile_json],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn profile(&mut self, org: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c("SELECT profile FROM organisations WHERE id = $1", &[&org])
            .map_err(db_err)?
            .map(|r| r.get(0)))
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
        let mut tx = self.client.transaction().map_err(db_err)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO users (org, email, name, password, created_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&org, &email, &name, &password_hash, &now],
            )
            .map_err(db_err)?
            .get(0);
        insert_membership(&mut tx, id, org, role, now, added_by, false)?;
        tx.commit().map_err(db_err)?;
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
        insert_membership(&mut *self.client, user_id, org, role, now, added_by, false)
    }

    fn user_rows(&mut self, org: Option<&str>) -> Result<Vec<UserRow>> {
        self.client
            .query(
                &format!(
                    "SELECT {ROW_COLS} FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE ($1::TEXT IS NULL OR m.org = $1) ORDER BY m.org, u.email"
                ),
                &[&org],
            )
            .map_err(db_err)?
            .iter()
            .map(user_row)
            .collect()
    }

    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>> {
        Ok(self
            .memberships_by_email(email)?
            .into_iter()
            .min_by_key(|r| r.disabled))
    }

    fn memberships_by_email(&mut self, email: &str) -> Result<Vec<UserRow>> {
        self.client
            .query(
                &format!(
                    "SELECT {ROW_COLS} FROM users u JOIN memberships m ON m.user_id = u.id
                     WHERE lower(u.email) = lower($1) ORDER BY m.org"
                ),
                &[&email.trim()],
            )
            .map_err(db_err)?
            .iter()
            .map(user_row)
            .collect()
    }

    fn set_password(&mut self, user_id: i64, password_hash: &str) -> Result<usize> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        tx.execute(
            "UPDATE users SET password = $1 WHERE id = $2",
            &[&password_hash, &user_id],
        )
        .map_err(db_err)?;
        tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
            .map_err(db_err)?;
        // The calendar feed's token goes with the password, like the API tokens.
        tx.execute(
            "DELETE FROM calendar_tokens WHERE user_id = $1",
            &[&user_id],
        )
        .map_err(db_err)?;
        let n = tx
            .execute("DELETE FROM api_tokens WHERE user_id = $1", &[&user_id])
            .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Ok(n as usize)
    }

    fn insert_session(&mut self, s: &SessionRow, now: DateTime<Utc>) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        tx.execute("DELETE FROM sessions WHERE expires_at < $1", &[&now])
            .map_err(db_err)?;
        insert_session(&mut tx, s)?;
        tx.commit().map_err(db_err)
    }

    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionOf>> {
        // One row per enabled membership: the current one is the session's organisation
        // when it is still among them, else the first.
        let rows = self
            .query_c(
                // USER_COLS, written out: a cached statement's text is static.
                "SELECT u.id, m.org, u.email, u.name, m.role, s.csrf,
                        m.org IS NOT DISTINCT FROM s.org, o.name
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 JOIN memberships m ON m.user_id = u.id AND NOT m.disabled
                 JOIN organisations o ON o.id = m.org
                 WHERE s.hash = $1 AND s.expires_at > $2 ORDER BY m.org",
                &[&hash, &now],
            )
            .map_err(db_err)?;
        let rows = rows
            .iter()
            .map(|r| Ok((user(r)?, r.get(5), r.get(6), r.get(7))))
            .collect::<Result<Vec<_>>>()?;
        Ok(crate::store::backend::session_of(rows))
    }

    fn set_session_org(&mut self, hash: &str, org: &str) -> Result<bool> {
        let n = self
            .execute_c(
                "UPDATE sessions s SET org = $2 WHERE s.hash = $1 AND EXISTS (
                     SELECT 1 FROM memberships m WHERE m.user_id = s.user_id
                     AND m.org = $2 AND NOT m.disabled)",
                &[&hash, &org],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn portfolio(
        &mut self,
        user_id: i64,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<PortfolioRow>, usize)> {
        let rows = self
            .query_c(
                // The count as a scalar subquery (run once), not a window count over
                // every joined row; both read the partial index `cases_open_due`
                // (migration 11).
                "SELECT c.org, o.name, m.role, c.id, c.title, c.workflow, c.next_due,
                        (SELECT COUNT(*) FROM memberships m
                         JOIN cases c ON c.org = m.org AND NOT c.closed AND c.next_due IS NOT NULL
                         WHERE m.user_id = $1 AND NOT m.disabled)
                 FROM memberships m
                 JOIN cases c ON c.org = m.org AND NOT c.closed AND c.next_due IS NOT NULL
                 JOIN organisations o ON o.id = m.org
                 WHERE m.user_id = $1 AND NOT m.disabled
                 ORDER BY c.next_due, c.org, c.id LIMIT $2 OFFSET $3",
                &[&user_id, &(limit as i64), &(offset as i64)],
            )
            .map_err(db_err)?;
        let total = rows.first().map(|r| r.get::<_, i64>(7) as usize);
        let out: Vec<PortfolioRow> = rows
            .iter()
            .map(|r| {
                let role: String = r.get(2);
                PortfolioRow {
                    org: r.get(0),
                    org_name: r.get(1),
                    role: Role::parse(&role).unwrap_or(Role::Viewer),
                    case_id: r.get(3),
                    title: r.get(4),
                    workflow: r.get(5),
                    next_due: r.get(6),
                }
            })
            .collect();
        match total {
            Some(t) => Ok((out, t)),
            None if offset > 0 => Ok((out, self.portfolio(user_id, 1, 0)?.1)),
            None => Ok((out, 0)),
        }
    }

    fn delete_session(&mut self, hash: &str) -> Result<()> {
        self.execute_c("DELETE FROM sessions WHERE hash = $1", &[&hash])
            .map_err(db_err)?;
        Ok(())
    }

    fn sessions(&mut self) -> Result<Vec<SessionRow>> {
        let rows = self
            .query_c(
                "SELECT hash, user_id, csrf, created_at, expires_at, org FROM sessions ORDER BY hash",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| SessionRow {
                hash: r.get(0),
                user_id: r.get(1),
                csrf: r.get(2),
                created_at: r.get(3),
                expires_at: r.get(4),
                org: r.get(5),
            })
            .collect())
    }

    fn insert_token(&mut self, t: &TokenRow) -> Result<()> {
        insert_token(&mut *self.client, t)
    }

    fn token_user(&mut self, hash: &str) -> Result<Option<(User, Option<DateTime<Utc>>)>> {
        self.client
            .query_opt(
                &format!(
                    "SELECT {USER_COLS}, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id
                     JOIN memberships m ON m.user_id = t.user_id AND m.org = t.org
                     WHERE t.hash = $1 AND NOT m.disabled"
                ),
                &[&hash],
            )
            .map_err(db_err)?
            .map(|r| Ok((user(&r)?, r.get(5))))
            .transpose()
    }

    fn touch_token(&mut self, hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.execute_c(
            "UPDATE api_tokens SET last_used_at = $1 WHERE hash = $2",
            &[&now, &hash],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn tokens(
        &mut self,
        org: Option<&str>,
        email: Option<&str>,
        id_prefix: Option<&str>,
    ) -> Result<Vec<TokenInfo>> {
        let rows = self
            .query_c(
                "SELECT t.hash, u.email, t.org, t.name, t.created_at, t.last_used_at,
                        COALESCE(m.disabled, TRUE)
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 LEFT JOIN memberships m ON m.user_id = t.user_id AND m.org = t.org
                 WHERE ($1::TEXT IS NULL OR t.org = $1)
                   AND ($2::TEXT IS NULL OR lower(u.email) = lower($2))
                   AND ($3::TEXT IS NULL OR left(t.hash, length($3)) = $3)
                 ORDER BY t.org, u.email, t.created_at",
                &[&org, &email.map(str::trim), &id_prefix],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let hash: String = r.get(0);
                let created: DateTime<Utc> = r.get(4);
                let used: Option<DateTime<Utc>> = r.get(5);
                TokenInfo {
                    id: hash.chars().take(TOKEN_ID_LEN).collect(),
                    email: r.get(1),
                    org: r.get(2),
                    name: r.get(3),
                    created_at: created.to_rfc3339(),
                    last_used_at: used.map(|t| t.to_rfc3339()),
                    user_disabled: r.get(6),
                }
            })
            .collect())
    }

    fn delete_tokens_by_prefix(&mut self, prefix: &str) -> Result<usize> {
        let n = self
            .execute_c(
                "DELETE FROM api_tokens WHERE left(hash, length($1)) = $1",
                &[&prefix],
            )
            .map_err(db_err)?;
        Ok(n as usize)
    }

    fn token_rows(&mut self) -> Result<Vec<TokenRow>> {
        let rows = self.query_c("SELECT hash, user_id, name, created_at, last_used_at, org FROM api_tokens ORDER BY hash",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| TokenRow {
                hash: r.get(0),
                user_id: r.get(1),
                name: r.get(2),
                created_at: r.get(3),
                last_used_at: r.get(4),
                org: r.get(5),
            })
            .collect())
    }
}

fn insert_session(c: &mut impl GenericClient, s: &SessionRow) -> Result<()> {
    c.execute(
        "INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at, org) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&s.hash, &s.user_id, &s.csrf, &s.created_at, &s.expires_at, &s.org],
    )
    .map_err(db_err)?;
    Ok(())
}

fn insert_token(c: &mut impl GenericClient, t: &TokenRow) -> Result<()> {
    c.execute(
        "INSERT INTO api_tokens (hash, user_id, name, created_at, last_used_at, org) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&t.hash, &t.user_id, &t.name, &t.created_at, &t.last_used_at, &t.org],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn load_users(c: &mut Client, rows: &[UserRow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    // One row per membership: the person once (their first row), then each membership.
    for u in rows {
        tx.execute(
            "INSERT INTO users (id, org, email, name, password, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[
                &u.user.id,
                &u.user.org,
                &u.user.email,
                &u.user.name,
                &u.password,
                &u.created_at,
            ],
        )
        .map_err(db_err)?;
        insert_membership(
            &mut tx,
            u.user.id,
            &u.user.org,
            u.user.role,
            u.since,
            &u.added_by,
            u.disabled,
        )?;
    }
    advance_identity(&mut tx, "users")?;
    tx.commit().map_err(db_err)
}

pub(super) fn load_sessions(c: &mut Client, rows: &[SessionRow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for s in rows {
        insert_session(&mut tx, s)?;
    }
    tx.commit().map_err(db_err)
}

pub(super) fn load_tokens(c: &mut Client, rows: &[TokenRow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for t in rows {
        insert_token(&mut tx, t)?;
    }
    tx.commit().map_err(db_err)
}
