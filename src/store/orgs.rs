//! Organisations' profiles: their identity as every output of their cases shows it.

use super::{DEFAULT_ORG, Store, StoreError};
use crate::org::Profile;
use rusqlite::{OptionalExtension, params};

impl Store {
    /// The profile stored for `org` (None: no such organisation). An organisation added
    /// with a name has that name; the `default` one has only what was set for it.
    pub fn profile(&self, org: &str) -> Result<Option<Profile>, StoreError> {
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT name, profile FROM organisations WHERE id = ?1",
                params![org],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((name, json)) = row else {
            return Ok(None);
        };
        let mut p: Profile = serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            case: format!("organisation {org}"),
            seq: 0,
            reason: format!("its profile: {e}"),
        })?;
        if p.name.is_none() && org != DEFAULT_ORG {
            p.name = Some(name);
        }
        Ok(Some(p))
    }

    /// Replaces the stored profile of an existing organisation (its name too, when set).
    pub fn set_profile(&mut self, org: &str, p: &Profile) -> Result<bool, StoreError> {
        let json = serde_json::to_string(p).expect("a profile serializes");
        let n = self.conn.execute(
            "UPDATE organisations SET profile = ?2, name = COALESCE(?3, name) WHERE id = ?1",
            params![org, json, p.name],
        )?;
        Ok(n == 1)
    }
}

impl Store {
    /// When an event of `org` last met a legal deadline (a notification to an authority,
    /// a complaint): the time it was recorded, as stored (UTC text). The condition is the
    /// partial index `events_met`'s, word for word, so the lookup uses it.
    pub fn last_deadline_event(&self, org: &str) -> Result<Option<String>, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(recorded_at) FROM events WHERE org = ?1 AND kind = 'advanced'
             AND json_extract(payload, '$.met[0]') IS NOT NULL",
            params![org],
            |r| r.get(0),
        )?)
    }

    /// A small value kept by the program (`meta`), by key.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }
}
