//! Organisations' profiles: their identity as every output of their cases shows it.

use super::{DEFAULT_ORG, Store, StoreError};
use crate::org::Profile;

impl Store {
    /// The profile stored for `org` (None: no such organisation). An organisation added
    /// with a name has that name; the `default` one has only what was set for it.
    pub fn profile(&mut self, org: &str) -> Result<Option<Profile>, StoreError> {
        let Some((name, json)) = self.db.organisation(org)? else {
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
        self.db.set_profile(org, &json)
    }
}
