//! The sign-in throttle on PostgreSQL.

use super::{Postgres, db_err};
use crate::store::backend::{Result, Throttle};
use chrono::{DateTime, Utc};

impl Throttle for Postgres {
    fn sign_in_failed(&mut self, key: &str, now: DateTime<Utc>) -> Result<u32> {
        // One statement: two instances failing at once count two.
        let r = self.query_one_c("INSERT INTO sign_in_failures (key, failures, last_failure) VALUES ($1, 1, $2)
                 ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN sign_in_failures.last_failure <= $2::TIMESTAMPTZ - INTERVAL '1 hour'
                                    THEN 1 ELSE sign_in_failures.failures + 1 END,
                    last_failure = $2
                 RETURNING failures",
                &[&key, &now],
            )
            .map_err(db_err)?;
        let n: i64 = r.get(0);
        Ok(n.clamp(0, u32::MAX as i64) as u32)
    }

    fn sign_in_lock(&mut self, key: &str, until: DateTime<Utc>) -> Result<()> {
        self.execute_c(
            "INSERT INTO sign_in_failures (key, failures, last_failure, locked_until)
                 VALUES ($1, 0, now(), $2)
                 ON CONFLICT (key) DO UPDATE SET locked_until = excluded.locked_until",
            &[&key, &until],
        )
        .map_err(db_err)?;
        Ok(())
    }

    fn sign_in_locked_until(&mut self, key: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_opt_c(
                "SELECT locked_until FROM sign_in_failures WHERE key = $1",
                &[&key],
            )
            .map_err(db_err)?
            .and_then(|r| r.get(0)))
    }

    fn sign_in_forget(&mut self, key: &str) -> Result<()> {
        self.execute_c("DELETE FROM sign_in_failures WHERE key = $1", &[&key])
            .map_err(db_err)?;
        Ok(())
    }
}
