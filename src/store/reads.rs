//! Reads shaped for the hot paths of `vigie serve` with several instances (issue 25,
//! "Speed"): an API read of one case in one round trip, and the cases of a batch of
//! claimed reminders loaded together rather than one by one.

use super::backend::{CaseHead, TokenCase};
use super::{Loaded, Store, StoreError, load_from, storable};
use crate::util::hash::sha256_hex;

impl Store {
    /// What `GET /api/cases/{id}` needs, in one go (`Backend::token_case`): None when
    /// the token is unknown, revoked or of a disabled membership; else its user, when
    /// it was last used, the case's head in the token's organisation (None: no such
    /// case) and, for a DPO, the case's access log.
    pub fn token_case(
        &mut self,
        token: &str,
        case_id: &str,
    ) -> Result<Option<TokenCase>, StoreError> {
        // An id no case can have (a NUL, which PostgreSQL refuses in text) is looked up
        // as the empty id, which no case has: the token is still checked.
        let asked = if storable(case_id) { case_id } else { "" };
        let found = self.db.token_case(&sha256_hex(token), asked)?;
        Ok(found.map(|mut t| {
            // An id no case can have is no case, whatever a backend matched.
            if !storable(case_id) {
                t.head = None;
                t.access = None;
            }
            t
        }))
    }

    /// The case whose head was just read (its events read now).
    pub fn load_at(&mut self, head: CaseHead) -> Result<Loaded, StoreError> {
        let (org, id) = (head.org.clone(), head.id.clone());
        let rows = self.db.events(&org, &id, None)?;
        let db = &mut self.db;
        load_from(Some(head), rows, &mut self.compiled, &org, &id, |h| {
            db.workflow(h)
        })
    }

    /// The cases `(org, id)`, each loaded or why not (no such case, unreadable), in the
    /// order asked: their heads in one read and their events in another
    /// (`CaseLog::heads_of`, `events_of`). The outer error is the database's.
    #[allow(clippy::type_complexity)]
    pub fn load_many(
        &mut self,
        cases: &[(&str, &str)],
    ) -> Result<Vec<Result<Loaded, StoreError>>, StoreError> {
        let heads = self.db.heads_of(cases)?;
        let present: Vec<(&str, &str)> = cases
            .iter()
            .zip(&heads)
            .filter(|(_, h)| h.is_some())
            .map(|(c, _)| *c)
            .collect();
        let mut events = self.db.events_of(&present)?.into_iter();
        let db = &mut self.db;
        Ok(cases
            .iter()
            .zip(heads)
            .map(|((org, id), head)| {
                let rows = match &head {
                    Some(_) => events.next().unwrap_or_default(),
                    None => Vec::new(),
                };
                load_from(head, rows, &mut self.compiled, org, id, |h| db.workflow(h))
            })
            .collect())
    }
}
