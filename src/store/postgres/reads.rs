//! An API read of one case in one round trip (issue 25, "Speed"): the token's user, the
//! case's head in the token's organisation and, for a DPO, its access log, in one
//! prepared statement.

use super::caselog::head_at;
use super::{Postgres, db_err};
use crate::store::StoreError;
use crate::store::accounts::{Role, User};
use crate::store::backend::{AccessRow, Result, TokenCase};
use chrono::{DateTime, Utc};

/// One row per access entry (at least one, with NULLs, when there is none or no case):
/// the user (0-4), the token's last use (5), the head (6-15), the entry (16-25).
const TOKEN_CASE: &str = concat!(
    "WITH who AS (
        SELECT u.id, m.org, u.email, u.name, m.role, t.last_used_at
        FROM api_tokens t JOIN users u ON u.id = t.user_id
        JOIN memberships m ON m.user_id = t.user_id AND m.org = t.org
        WHERE t.hash = $1 AND NOT m.disabled)
     SELECT who.id, who.org, who.email, who.name, who.role, who.last_used_at, c.*,
            a.id, a.org, a.case_id, a.at, a.actor, a.action, a.object, a.detail, a.address, a.via
     FROM who
     LEFT JOIN LATERAL (SELECT ",
    head_cols!(),
    " FROM cases WHERE org = who.org AND id = $2) c ON TRUE
     LEFT JOIN LATERAL (SELECT * FROM access_log
                        WHERE org = who.org AND case_id = $2 AND who.role = $3
                          AND c.id IS NOT NULL) a ON TRUE
     ORDER BY a.id"
);

impl Postgres {
    pub(super) fn read_token_case(
        &mut self,
        token_hash: &str,
        case_id: &str,
    ) -> Result<Option<TokenCase>> {
        let rows = self
            .query_c(TOKEN_CASE, &[&token_hash, &case_id, &Role::Dpo.as_str()])
            .map_err(db_err)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let role: String = first.get(4);
        let user = User {
            id: first.get(0),
            org: first.get(1),
            email: first.get(2),
            name: first.get(3),
            role: Role::parse(&role)
                .ok_or_else(|| StoreError::Db("a user row has an unknown role".into()))?,
        };
        let head = first
            .get::<_, Option<String>>(7)
            .is_some()
            .then(|| head_at(first, 6));
        let access = (head.is_some() && user.role.is_dpo()).then(|| {
            rows.iter()
                .filter(|r| r.get::<_, Option<i64>>(16).is_some())
                .map(|r| AccessRow {
                    id: r.get(16),
                    org: r.get(17),
                    case_id: r.get(18),
                    at: r.get::<_, DateTime<Utc>>(19),
                    actor: r.get(20),
                    action: r.get(21),
                    object: r.get(22),
                    detail: r.get(23),
                    address: r.get(24),
                    via: r.get(25),
                })
                .collect()
        });
        Ok(Some(TokenCase {
            user,
            last_used: first.get(5),
            head,
            access,
        }))
    }
}
