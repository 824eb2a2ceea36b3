//! Meta, the key-value settings of the database, on PostgreSQL.

use super::{Postgres, db_err};
use crate::store::backend::{Meta, Result};

impl Meta for Postgres {
    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<()> {
        self.execute_c(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn init_meta(&mut self, key: &str, value: &str) -> Result<String> {
        // Two instances starting at once: the first value written wins for both.
        self.execute_c(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &value],
        )
        .map_err(db_err)?;
        let r = self
            .query_one_c("SELECT value FROM meta WHERE key = $1", &[&key])
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn take_meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt_c("DELETE FROM meta WHERE key = $1 RETURNING value", &[&key])
            .map_err(db_err)?
            .map(|r| r.get(0)))
    }

    fn metas(&mut self) -> Result<Vec<(String, String)>> {
        let rows = self
            .query_c("SELECT key, value FROM meta ORDER BY key", &[])
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
