//! The access log and the texts of issued documents (issue 13 part 4).

use super::{Sqlite, parse, ts};
use crate::store::backend::{Access, AccessRow, IssuedText, Result};
use rusqlite::{OptionalExtension, params};

fn access_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(AccessRow, String)> {
    Ok((
        AccessRow {
            id: r.get(0)?,
            org: r.get(1)?,
            case_id: r.get(2)?,
            at: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
            actor: r.get(4)?,
            action: r.get(5)?,
            object: r.get(6)?,
            detail: r.get(7)?,
            address: r.get(8)?,
            via: r.get(9)?,
        },
        r.get(3)?,
    ))
}

const ACCESS_COLUMNS: &str =
    "SELECT id, org, case_id, at, actor, action, object, detail, address, via FROM access_log";

impl Access for Sqlite {
    fn log_access(&mut self, a: &AccessRow) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO access_log (org, case_id, at, actor, action, object, detail, address, via)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                a.org, a.case_id, ts(a.at), a.actor, a.action, a.object, a.detail, a.address, a.via
            ])?;
        Ok(())
    }

    fn access_log(&mut self, org: &str, case_id: Option<&str>) -> Result<Vec<AccessRow>> {
        let sql = match case_id {
            Some(_) => format!("{ACCESS_COLUMNS} WHERE org = ?1 AND case_id = ?2 ORDER BY id"),
            None => format!("{ACCESS_COLUMNS} WHERE org = ?1 AND ?2 IS NULL ORDER BY id"),
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![org, case_id], access_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(mut a, at)| {
                a.at = parse(&at)?;
                Ok(a)
            })
            .collect()
    }

    fn keep_issued_text(&mut self, t: &IssuedText) -> Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO issued_texts (org, case_id, sha256, text, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![t.org, t.case_id, t.sha256, t.text, ts(t.created_at)],
        )?;
        Ok(())
    }

    fn issued_text(&mut self, org: &str, case_id: &str, sha256: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT text FROM issued_texts WHERE org = ?1 AND case_id = ?2 AND sha256 = ?3",
            )?
            .query_row(params![org, case_id, sha256], |r| r.get(0))
            .optional()?)
    }

    fn issued_texts(&mut self) -> Result<Vec<IssuedText>> {
        let mut stmt = self.conn.prepare(
            "SELECT org, case_id, sha256, text, created_at FROM issued_texts
             ORDER BY org, case_id, sha256",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(org, case_id, sha256, text, at)| {
                Ok(IssuedText {
                    org,
                    case_id,
                    sha256,
                    text,
                    created_at: parse(&at)?,
                })
            })
            .collect()
    }

    fn load_access(&mut self, rows: &[AccessRow], texts: &[IssuedText]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for t in texts {
            tx.execute(
                "INSERT INTO issued_texts (org, case_id, sha256, text, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.org, t.case_id, t.sha256, t.text, ts(t.created_at)],
            )?;
        }
        for a in rows {
            tx.execute(
                "INSERT INTO access_log (id, org, case_id, at, actor, action, object, detail, address, via)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    a.id, a.org, a.case_id, ts(a.at), a.actor, a.action, a.object, a.detail,
                    a.address, a.via
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
