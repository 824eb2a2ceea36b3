//! The access log and the texts of issued documents (issue 13 part 4).

use super::outbox::advance_identity;
use super::{Postgres, db_err};
use crate::store::backend::{Access, AccessRow, IssuedText, Result};
use chrono::{DateTime, Utc};

fn access_row(r: &postgres::Row) -> AccessRow {
    AccessRow {
        id: r.get(0),
        org: r.get(1),
        case_id: r.get(2),
        at: r.get::<_, DateTime<Utc>>(3),
        actor: r.get(4),
        action: r.get(5),
        object: r.get(6),
        detail: r.get(7),
        address: r.get(8),
        via: r.get(9),
    }
}

impl Access for Postgres {
    fn log_access(&mut self, a: &AccessRow) -> Result<()> {
        self.execute_c(
            "INSERT INTO access_log (org, case_id, at, actor, action, object, detail, address, via)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &a.org, &a.case_id, &a.at, &a.actor, &a.action, &a.object, &a.detail, &a.address,
                &a.via,
            ],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn access_log(&mut self, org: &str, case_id: Option<&str>) -> Result<Vec<AccessRow>> {
        let rows = match case_id {
            Some(c) => self.query_c(
                "SELECT id, org, case_id, at, actor, action, object, detail, address, via
                 FROM access_log WHERE org = $1 AND case_id = $2 ORDER BY id",
                &[&org, &c],
            ),
            None => self.query_c(
                "SELECT id, org, case_id, at, actor, action, object, detail, address, via
                 FROM access_log WHERE org = $1 ORDER BY id",
                &[&org],
            ),
        }
        .map_err(db_err)?;
        Ok(rows.iter().map(access_row).collect())
    }

    fn keep_issued_text(&mut self, t: &IssuedText) -> Result<()> {
        self.execute_c(
            "INSERT INTO issued_texts (org, case_id, sha256, text, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&t.org, &t.case_id, &t.sha256, &t.text, &t.created_at],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn issued_text(&mut self, org: &str, case_id: &str, sha256: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c(
                "SELECT text FROM issued_texts WHERE org = $1 AND case_id = $2 AND sha256 = $3",
                &[&org, &case_id, &sha256],
            )
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn issued_texts(&mut self) -> Result<Vec<IssuedText>> {
        let rows = self
            .query_c(
                "SELECT org, case_id, sha256, text, created_at FROM issued_texts
                 ORDER BY org, case_id, sha256",
                &[],
            )
            .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| IssuedText {
                org: r.get(0),
                case_id: r.get(1),
                sha256: r.get(2),
                text: r.get(3),
                created_at: r.get(4),
            })
            .collect())
    }

    fn load_access(&mut self, rows: &[AccessRow], texts: &[IssuedText]) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        for t in texts {
            tx.execute(
                "INSERT INTO issued_texts (org, case_id, sha256, text, created_at)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&t.org, &t.case_id, &t.sha256, &t.text, &t.created_at],
            )
            .map_err(db_err)?;
        }
        for a in rows {
            tx.execute(
                "INSERT INTO access_log (id, org, case_id, at, actor, action, object, detail, address, via)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                &[
                    &a.id, &a.org, &a.case_id, &a.at, &a.actor, &a.action, &a.object, &a.detail,
                    &a.address, &a.via,
                ],
            )
            .map_err(db_err)?;
        }
        advance_identity(&mut tx, "access_log")?;
        tx.commit().map_err(db_err)
    }
}
