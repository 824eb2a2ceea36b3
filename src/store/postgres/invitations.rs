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
        existing: Option<i64>,
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
        let id: i64 = match existing {
            Some(id) => id,
            None => tx
                .query_one(
                    "INSERT INTO users (org, email, name, password, created_at)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&inv.org, &inv.email, &name, &password_hash, &now],
                )
                .map_err(db_err)?
                .get(0),
        };
        let by = format!("invitation of {}", inv.invited_by);
        super::accounts::insert_membership(&mut tx, id, &inv.org, inv.role, now, &by, false)?;
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

    fn set_member(&mut self, user_id: i64, org: &str, role: Role, disabled: bool) -> Result<bool> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        // The membership and the organisation's enabled DPOs, locked in one order (by
        // user id), so that two DPOs changing each other at once queue instead of both
        // passing.
        let locked = tx
            .query(
                "SELECT user_id, role, disabled FROM memberships
                 WHERE org = $1 AND (user_id = $2 OR (role = 'dpo' AND NOT disabled))
                 ORDER BY user_id FOR UPDATE",
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
            "UPDATE memberships SET role = $3, disabled = $4 WHERE user_id = $1 AND org = $2",
            &[&user_id, &org, &role.as_str(), &disabled],
        )
        .map_err(db_err)?;
        if disabled {
            // Their sessions lose this organisation on the next request; a person left
            // with no enabled membership is signed out now.
            tx.execute(
                "DELETE FROM sessions WHERE user_id = $1 AND NOT EXISTS (
                     SELECT 1 FROM memberships WHERE user_id = $1 AND NOT disabled)",
                &[&user_id],
            )
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
                "SELECT u.id, u.last_sign_in_at FROM users u JOIN memberships m ON m.user_id = u.id
                 WHERE m.org = $1 AND u.last_sign_in_at IS NOT NULL",
                &[&org],
            )
            .map_err(db_err)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}
