//! Invitations, roles, disabling with the last-DPO guard, and sign-in times on
//! PostgreSQL (issue 21 part 5).

use super::{Postgres, db_err};
use crate::store::StoreError;
use crate::store::accounts::Role;
use crate::store::backend::{InvitationRow, Invitations, Result};
use chrono::{DateTime, Utc};
use postgres::Row;
use std::collections::HashMap;

macro_rules! cols {
    () => {
        "id, org, email, role, hash, invited_by, created_at, expires_at, used_at, revoked_at"
    };
}

fn row_of(r: &Row) -> Result<InvitationRow> {
    let role: String = r.get(3);
    Ok(InvitationRow {
        id: r.get(0),
        org: r.get(1),
        email: r.get(2),
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Db("an invitation row has an unknown role".into()))?,
        hash: r.get(4),
        invited_by: r.get(5),
        created_at: r.get(6),
        expires_at: r.get(7),
        used_at: r.get(8),
        revoked_at: r.get(9),
    })
}

impl Invitations for Postgres {
    fn insert_invitation(&mut self, row: &InvitationRow) -> Result<i64> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        tx.execute(
            "UPDATE invitations SET revoked_at = $3
             WHERE org = $1 AND lower(email) = lower($2) AND used_at IS NULL AND revoked_at IS NULL",
            &[&row.org, &row.email, &row.created_at],
        )
        .map_err(db_err)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO invitations (org, email, role, hash, invited_by, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                &[
                    &row.org,
                    &row.email,
                    &row.role.as_str(),
                    &row.hash,
                    &row.invited_by,
                    &row.created_at,
                    &row.expires_at,
                ],
            )
            .map_err(db_err)?
            .get(0);
        tx.commit().map_err(db_err)?;
        Ok(id)
    }

    fn invitations(&mut self, org: &str) -> Result<Vec<InvitationRow>> {
        self.query_c(
            concat!(
                "SELECT ",
                cols!(),
                " FROM invitations WHERE org = $1 ORDER BY created_at DESC, id DESC"
            ),
            &[&org],
        )
        .map_err(db_err)?
        .iter()
        .map(row_of)
        .collect()
    }

    fn invitation(&mut self, hash: &str) -> Result<Option<InvitationRow>> {
        self.query_opt_c(
            concat!("SELECT ", cols!(), " FROM invitations WHERE hash = $1"),
            &[&hash],
        )
        .map_err(db_err)?
        .as_ref()
        .map(row_of)
        .transpose()
    }

    fn accept_invitation(
        &mut self,
        hash: &str,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(InvitationRow, i64)>> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        let taken = tx
            .query_opt(
                concat!(
                    "UPDATE invitations SET used_at = $2
                     WHERE hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
                     RETURNING ",
                    cols!()
                ),
                &[&hash, &now],
            )
            .map_err(db_err)?;
        let Some(taken) = taken else {
            return Ok(None);
        };
        let inv = row_of(&taken)?;
        let id: i64 = tx
            .query_one(
                "INSERT INTO users (org, email, name, role, password, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &inv.org,
                    &inv.email,
                    &name,
                    &inv.role.as_str(),
                    &password_hash,
                    &now,
                ],
            )
            .map_err(db_err)?
            .get(0);
        tx.commit().map_err(db_err)?;
        Ok(Some((inv, id)))
    }

    fn revoke_invitation(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool> {
        let n = self
            .execute_c(
                "UPDATE invitations SET revoked_at = $3
                 WHERE org = $1 AND id = $2 AND used_at IS NULL AND revoked_at IS NULL",
                &[&org, &id, &now],
            )
            .map_err(db_err)?;
        Ok(n == 1)
    }

    fn set_member(&mut self, user_id: i64, role: Role, disabled: bool) -> Result<bool> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        let Some(org) = tx
            .query_opt("SELECT org FROM users WHERE id = $1", &[&user_id])
            .map_err(db_err)?
            .map(|r| r.get::<_, String>(0))
        else {
            return Ok(false);
        };
        // The user and the organisation's enabled DPOs, locked in one order (by id), so
        // that two DPOs changing each other at once queue instead of both passing.
        let locked = tx
            .query(
                "SELECT id, role, disabled FROM users
                 WHERE org = $1 AND (id = $2 OR (role = 'dpo' AND NOT disabled))
                 ORDER BY id FOR UPDATE",
                &[&org, &user_id],
            )
            .map_err(db_err)?;
        let Some(me) = locked.iter().find(|r| r.get::<_, i64>(0) == user_id) else {
            return Ok(false);
        };
        let was_dpo = me.get::<_, String>(1) == "dpo" && !me.get::<_, bool>(2);
        let stays_dpo = role == Role::Dpo && !disabled;
        let others = locked
            .iter()
            .filter(|r| {
                r.get::<_, i64>(0) != user_id
                    && r.get::<_, String>(1) == "dpo"
                    && !r.get::<_, bool>(2)
            })
            .count();
        if was_dpo && !stays_dpo && others == 0 {
            return Ok(false);
        }
        tx.execute(
            "UPDATE users SET role = $2, disabled = $3 WHERE id = $1",
            &[&user_id, &role.as_str(), &disabled],
        )
        .map_err(db_err)?;
        if disabled {
            tx.execute("DELETE FROM sessions WHERE user_id = $1", &[&user_id])
                .map_err(db_err)?;
        }
        tx.commit().map_err(db_err)?;
        Ok(true)
    }

    fn record_sign_in(&mut self, user_id: i64, now: DateTime<Utc>) -> Result<()> {
        self.execute_c(
            "UPDATE users SET last_sign_in_at = $2 WHERE id = $1",
            &[&user_id, &now],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn last_sign_ins(&mut self, org: &str) -> Result<HashMap<i64, DateTime<Utc>>> {
        Ok(self
            .query_c(
                "SELECT id, last_sign_in_at FROM users WHERE org = $1 AND last_sign_in_at IS NOT NULL",
                &[&org],
            )
            .map_err(db_err)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}
