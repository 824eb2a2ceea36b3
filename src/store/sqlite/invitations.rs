//! Invitations, roles, disabling with the last-DPO guard, and sign-in times on SQLite
//! (issue 21 part 5).

use super::{Sqlite, parse, parse_opt, rfc, ts};
use crate::store::StoreError;
use crate::store::accounts::Role;
use crate::store::backend::{InvitationRow, Invitations, Result};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;

const COLS: &str =
    "id, org, email, role, hash, invited_by, created_at, expires_at, used_at, revoked_at";

type Raw = (
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn row_of(r: Raw) -> Result<InvitationRow> {
    let (id, org, email, role, hash, invited_by, created, expires, used, revoked) = r;
    Ok(InvitationRow {
        id,
        org,
        email,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Db("an invitation row has an unknown role".into()))?,
        hash,
        invited_by,
        created_at: parse(&created)?,
        expires_at: parse(&expires)?,
        used_at: parse_opt(used)?,
        revoked_at: parse_opt(revoked)?,
    })
}

impl Invitations for Sqlite {
    fn insert_invitation(&mut self, row: &InvitationRow) -> Result<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE invitations SET revoked_at = ?3
             WHERE org = ?1 AND email = ?2 AND used_at IS NULL AND revoked_at IS NULL",
            params![row.org, row.email, ts(row.created_at)],
        )?;
        tx.execute(
            "INSERT INTO invitations (org, email, role, hash, invited_by, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                row.org,
                row.email,
                row.role.as_str(),
                row.hash,
                row.invited_by,
                ts(row.created_at),
                ts(row.expires_at)
            ],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        Ok(id)
    }

    fn invitations(&mut self, org: &str) -> Result<Vec<InvitationRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLS} FROM invitations WHERE org = ?1 ORDER BY created_at DESC, id DESC"
        ))?;
        let rows: Vec<Raw> = stmt
            .query_map(params![org], raw)?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(row_of).collect()
    }

    fn invitation(&mut self, hash: &str) -> Result<Option<InvitationRow>> {
        self.conn
            .prepare_cached(&format!("SELECT {COLS} FROM invitations WHERE hash = ?1"))?
            .query_row(params![hash], raw)
            .optional()?
            .map(row_of)
            .transpose()
    }

    fn accept_invitation(
        &mut self,
        hash: &str,
        name: &str,
        password_hash: &str,
        existing: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<(InvitationRow, i64)>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: Option<Raw> = tx
            .query_row(
                &format!(
                    "UPDATE invitations SET used_at = ?2
                     WHERE hash = ?1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?2
                     RETURNING {COLS}"
                ),
                params![hash, ts(now)],
                raw,
            )
            .optional()?;
        let Some(taken) = taken else {
            return Ok(None);
        };
        let inv = row_of(taken)?;
        let id = match existing {
            Some(id) => id,
            None => {
                tx.execute(
                    "INSERT INTO users (org, email, name, password, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![inv.org, inv.email, name, password_hash, rfc(now)],
                )?;
                tx.last_insert_rowid()
            }
        };
        let by = format!("invitation of {}", inv.invited_by);
        super::accounts::insert_membership(&tx, id, &inv.org, inv.role, &rfc(now), &by, false)?;
        tx.commit()?;
        Ok(Some((inv, id)))
    }

    fn revoke_invitation(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = self.conn.execute(
            "UPDATE invitations SET revoked_at = ?3
             WHERE org = ?1 AND id = ?2 AND used_at IS NULL AND revoked_at IS NULL",
            params![org, id, ts(now)],
        )?;
        Ok(n == 1)
    }

    fn set_member(&mut self, user_id: i64, org: &str, role: Role, disabled: bool) -> Result<bool> {
        // BEGIN IMMEDIATE: the count of DPOs read here cannot change before the update.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some((was, was_disabled)) = tx
            .query_row(
                "SELECT role, disabled FROM memberships WHERE user_id = ?1 AND org = ?2",
                params![user_id, org],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)),
            )
            .optional()?
        else {
            return Ok(false);
        };
        let was_dpo = was == "dpo" && !was_disabled;
        let stays_dpo = role == Role::Dpo && !disabled;
        if was_dpo && !stays_dpo {
            let others: i64 = tx.query_row(
                "SELECT COUNT(*) FROM memberships
                 WHERE org = ?1 AND user_id <> ?2 AND role = 'dpo' AND disabled = 0",
                params![org, user_id],
                |r| r.get(0),
            )?;
            if others == 0 {
                return Ok(false);
            }
        }
        tx.execute(
            "UPDATE memberships SET role = ?3, disabled = ?4 WHERE user_id = ?1 AND org = ?2",
            params![user_id, org, role.as_str(), disabled],
        )?;
        if disabled {
            // Their sessions lose this organisation on the next request; a person left
            // with no enabled membership is signed out now.
            tx.execute(
                "DELETE FROM sessions WHERE user_id = ?1 AND NOT EXISTS (
                     SELECT 1 FROM memberships WHERE user_id = ?1 AND disabled = 0)",
                params![user_id],
            )?;
        }
        tx.commit()?;
        Ok(true)
    }

    fn record_sign_in(&mut self, user_id: i64, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE users SET last_sign_in_at = ?2 WHERE id = ?1")?
            .execute(params![user_id, ts(now)])?;
        Ok(())
    }

    fn last_sign_ins(&mut self, org: &str) -> Result<HashMap<i64, DateTime<Utc>>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT u.id, u.last_sign_in_at FROM users u JOIN memberships m ON m.user_id = u.id
             WHERE m.org = ?1 AND u.last_sign_in_at IS NOT NULL",
        )?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(params![org], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, at)| Ok((id, parse(&at)?)))
            .collect()
    }
}
