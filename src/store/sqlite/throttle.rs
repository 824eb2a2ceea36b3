//! The sign-in throttle on SQLite.

use super::{Sqlite, parse_opt, ts};
use crate::store::backend::{Result, Throttle};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

impl Throttle for Sqlite {
    fn sign_in_failed(&mut self, key: &str, now: DateTime<Utc>) -> Result<u32> {
        // One statement: two processes failing at once count two. A count idle for an
        // hour starts again from 1.
        let idle_since = ts(now - Duration::hours(1));
        let n: i64 = self.conn.query_row(
            "INSERT INTO sign_in_throttle (key, count, last_at) VALUES (?1, 1, ?2)
             ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN last_at <= ?3 THEN 1 ELSE count + 1 END,
                last_at = excluded.last_at
             RETURNING count",
            params![key, ts(now), idle_since],
            |r| r.get(0),
        )?;
        Ok(n.clamp(0, u32::MAX as i64) as u32)
    }

    fn sign_in_lock(&mut self, key: &str, until: DateTime<Utc>) -> Result<()> {
        self.conn.execute(
            "INSERT INTO sign_in_throttle (key, count, last_at, locked_until) VALUES (?1, 0, ?2, ?2)
             ON CONFLICT (key) DO UPDATE SET locked_until = excluded.locked_until",
            params![key, ts(until)],
        )?;
        Ok(())
    }

    fn sign_in_locked_until(&mut self, key: &str) -> Result<Option<DateTime<Utc>>> {
        let until: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT locked_until FROM sign_in_throttle WHERE key = ?1")?
            .query_row(params![key], |r| r.get(0))
            .optional()?;
        parse_opt(until.flatten())
    }

    fn sign_in_forget(&mut self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM sign_in_throttle WHERE key = ?1", params![key])?;
        Ok(())
    }
}
