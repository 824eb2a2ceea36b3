//! One person, several organisations (issue 25 part 1). A user is a person (e-mail,
//! name, password: `users`) with a membership in each organisation they belong to (role,
//! since, by whom, enabled or not: `memberships`). Everything that acts does so as "a
//! person in one organisation": [`User`] carries the membership's organisation and role.
//!
//! - A session acts in one organisation at a time, checked against the memberships on
//!   every request (`Store::session`); the switcher moves it to another membership.
//! - An API token and a calendar address of one organisation belong to that membership;
//!   a calendar address may instead be the person's portfolio (every organisation).
//! - The command line keeps `--org`: a command about a person picks their membership
//!   there, or their only one ([`Store::membership`]).

use super::backend::{PortfolioRow, UserRow};
use super::{AccountError, Role, Store, StoreError, User};
use chrono::{DateTime, Utc};

impl Store {
    /// The membership of the person with this e-mail in `org`; with None, their only
    /// one (a person in several organisations must be told which).
    pub fn membership(&mut self, email: &str, org: Option<&str>) -> Result<UserRow, AccountError> {
        let email = email.trim();
        let rows = if super::storable(email) {
            self.db.memberships_by_email(email)?
        } else {
            vec![]
        };
        if rows.is_empty() {
            return Err(AccountError::UnknownUser(email.to_string()));
        }
        match org {
            Some(o) => rows
                .into_iter()
                .find(|r| r.user.org == o)
                .ok_or_else(|| AccountError::UnknownUser(format!("{email} (in organisation {o})"))),
            None if rows.len() == 1 => Ok(rows.into_iter().next().expect("one")),
            None => Err(AccountError::WhichOrg {
                email: email.to_string(),
                orgs: rows
                    .iter()
                    .map(|r| r.user.org.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// Every membership of the person with this e-mail (disabled ones too), by
    /// organisation; empty for an unknown address.
    pub fn memberships(&mut self, email: &str) -> Result<Vec<UserRow>, StoreError> {
        let email = email.trim();
        if !super::storable(email) {
            return Ok(vec![]);
        }
        self.db.memberships_by_email(email)
    }

    /// Whether a person with this e-mail exists (in any organisation).
    pub fn person_exists(&mut self, email: &str) -> Result<bool, StoreError> {
        Ok(!self.memberships(email)?.is_empty())
    }

    /// Adds a membership in `org` with `role` to the existing person with this e-mail
    /// (`vigie user add` for an address that already has an account elsewhere). Their
    /// password, sessions and other organisations are unchanged.
    pub fn add_member(
        &mut self,
        org: &str,
        email: &str,
        role: Role,
        added_by: &str,
        now: DateTime<Utc>,
    ) -> Result<User, AccountError> {
        self.organisation_name(org)?
            .ok_or_else(|| AccountError::UnknownOrg {
                org: org.to_string(),
                known: String::new(),
            })?;
        let rows = self.memberships(email)?;
        let Some(first) = rows.first() else {
            return Err(AccountError::UnknownUser(email.to_string()));
        };
        if rows.iter().any(|r| r.user.org == org) {
            return Err(AccountError::AlreadyMember {
                email: email.trim().to_string(),
                org: org.to_string(),
            });
        }
        let person = first.user.clone();
        self.db
            .insert_membership(person.id, org, role, now, added_by)?;
        Ok(User {
            org: org.to_string(),
            role,
            ..person
        })
    }

    /// The session acts in `org` from its next request; false when the person has no
    /// enabled membership there (nothing changes).
    pub fn switch_session(&mut self, secret: &str, org: &str) -> Result<bool, StoreError> {
        self.db
            .set_session_org(&crate::util::hash::sha256_hex(secret), org)
    }

    /// The person's running deadlines across their organisations, nearest first:
    /// `limit` from `offset`, and how many there are (one query).
    pub fn portfolio(
        &mut self,
        user_id: i64,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<PortfolioRow>, usize), StoreError> {
        self.db.portfolio(user_id, limit, offset)
    }
}
