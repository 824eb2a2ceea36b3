//! The first start: a database with no user gets a one-time setup link, where the first
//! DPO names the organisation and creates their account in the browser.
//!
//! The link's token is 32 random bytes from the operating system; the database keeps only
//! its SHA-256 (as sessions and API tokens), in `meta` under `setup_link:<hash>` with the
//! time it expires (one hour). Using it deletes that row (`take_meta`), so of two
//! requests at once (or two `vigie serve` instances), one creates the account. A second
//! claim, `setup_done`, keeps two different links from making two first accounts. The
//! organisation and the account are made by the same code as `vigie org add`, `vigie org
//! set` and `vigie user add`.

use super::{App, AppError};
use crate::store::{Role, Store, StoreError, User};
use crate::util::hash::sha256_hex;
use chrono::{DateTime, Duration, Utc};

/// How long a setup link is valid.
pub const LINK_TTL: Duration = Duration::hours(1);
const LINK_KEY: &str = "setup_link:";
const DONE_KEY: &str = "setup_done";

fn key(token: &str) -> String {
    format!("{LINK_KEY}{}", sha256_hex(token))
}

/// Whether the database has no account at all (disabled ones count): then `vigie serve`
/// offers a setup link.
pub fn needs_setup(store: &mut Store) -> Result<bool, StoreError> {
    Ok(store.accounts(None)?.is_empty())
}

/// A new setup link's token (shown once; stored hashed), valid [`LINK_TTL`] from `now`.
pub fn issue_link(store: &mut Store, now: DateTime<Utc>) -> Result<String, StoreError> {
    let token = crate::store::random_hex(32);
    store.set_meta(&key(&token), &crate::outbox::ts(now + LINK_TTL))?;
    Ok(token)
}

fn unexpired(value: Option<&str>, now: DateTime<Utc>) -> bool {
    value
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .is_some_and(|until| now < until.to_utc())
}

/// Whether `token` is a setup link that can still be used: known, not used, not
/// expired, and no account exists yet.
pub fn link_is_valid(
    store: &mut Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if !is_token_shaped(token) {
        return Ok(false);
    }
    Ok(unexpired(store.meta(&key(token))?.as_deref(), now) && needs_setup(store)?)
}

/// 64 hex digits: anything else is not looked up.
fn is_token_shaped(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

/// What the setup page asks for.
#[derive(Clone)]
pub struct FirstDpo {
    /// The organisation's short id (a new one, or an existing one with no account).
    pub org_id: String,
    pub org_name: String,
    /// The workflow (jurisdiction) new cases are opened with.
    pub workflow: String,
    /// The organisation's DPO mailbox, which receives the reminders; may be empty.
    pub dpo_email: String,
    /// Which regimes apply (`nis2-entity`, `dora-entity`, `cra-manufacturer`,
    /// `cyber-insured`): yes, no, or empty for not known.
    pub regimes: Vec<(String, String)>,
    /// The account: its e-mail, the person's name, the password.
    pub email: String,
    pub name: String,
    pub password: String,
}

impl std::fmt::Debug for FirstDpo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstDpo")
            .field("org_id", &self.org_id)
            .field("workflow", &self.workflow)
            .field("password", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl App {
    /// Creates the organisation (or describes the existing one of that id) and its first
    /// DPO's account through the setup link `token`. Ok(None) when the link cannot be used
    /// (unknown, used, expired, or an account exists); an error names the field to
    /// correct, and leaves the link usable.
    pub fn setup(
        &self,
        store: &mut Store,
        token: &str,
        req: &FirstDpo,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, AppError> {
        if !link_is_valid(store, token, now)? {
            return Ok(None);
        }
        // Everything is checked before the link is used up.
        // "Transports" means "transports": ids are lower case (issue 21 part 7).
        let org_id = req.org_id.trim().to_ascii_lowercase();
        let org_id = org_id.as_str();
        crate::store::accounts::check_org_id(org_id).map_err(|e| AppError::Field {
            field: "org_id",
            message: e.to_string(),
        })?;
        let changes = self.setup_profile(req)?;
        let mut scratch = store.profile(org_id)?.unwrap_or_default();
        for (field, value) in &changes {
            scratch.set(field, value)?;
        }
        self.workflow(req.workflow.trim())?;
        store.check_new_user(req.email.trim(), &req.password)?;

        let link = key(token);
        let Some(until) = store.take_meta(&link)? else {
            return Ok(None);
        };
        let claim = crate::store::random_hex(16);
        if !unexpired(Some(&until), now) {
            return Ok(None);
        }
        if store.init_meta(DONE_KEY, &claim)? != claim || !needs_setup(store)? {
            return Ok(None);
        }
        let made = (|| -> Result<User, AppError> {
            if store.organisation_name(org_id)?.is_none() {
                self.add_org(store, org_id, req.org_name.trim())?;
            }
            self.set_profile(store, org_id, &changes)?;
            self.add_user(
                store,
                org_id,
                &super::NewUser {
                    email: &req.email,
                    name: &req.name,
                    role: Role::Dpo,
                    password: &req.password,
                },
                now,
            )
        })();
        match made {
            Ok(user) => Ok(Some(user)),
            Err(e) => {
                // The link stays usable to try again: what failed was not the caller's
                // to know in advance (an account made meanwhile on the command line, a
                // database error).
                let _ = store.take_meta(DONE_KEY);
                let _ = store.set_meta(&link, &until);
                Err(e)
            }
        }
    }

    /// The profile fields the setup page sets, as `vigie org set` names them.
    fn setup_profile(&self, req: &FirstDpo) -> Result<Vec<(String, String)>, AppError> {
        if req.org_name.trim().is_empty() {
            return Err(AppError::Field {
                field: "org_name",
                message: "the organisation needs a name".into(),
            });
        }
        let mut changes = vec![
            ("name".to_string(), req.org_name.trim().to_string()),
            ("workflow".to_string(), req.workflow.trim().to_string()),
        ];
        if !req.name.trim().is_empty() {
            changes.push(("dpo-name".into(), req.name.trim().to_string()));
        }
        if !req.dpo_email.trim().is_empty() {
            changes.push(("dpo-email".into(), req.dpo_email.trim().to_string()));
        }
        for (field, answer) in &req.regimes {
            if crate::org::REGIME_FIELDS.contains(&field.as_str()) && !answer.trim().is_empty() {
                changes.push((field.clone(), answer.trim().to_string()));
            }
        }
        Ok(changes)
    }
}
