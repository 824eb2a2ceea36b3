//! The storage boundary: what the application needs from a database, as traits. A
//! backend (`sqlite`, `postgres`) implements them with its own SQL and its own
//! migrations (`migrations/<backend>/*.sql`); nothing outside `store::sqlite` and
//! `store::postgres` sees a driver type or a line of SQL.
//!
//! The law and the domain stay above this line: deciding an event, sealing it into the
//! hash chain, folding a case, planning its reminders, hashing passwords and recipients
//! are done once, in `store`, `case`, `outbox` and `store::accounts`, for every backend.
//! A backend stores rows, runs transactions and locks, and answers queries.
//!
//! Every method is synchronous: the engine runs on blocking threads (the web's pool,
//! the dispatcher's `block_in_place`), and one `Store` is one connection used by one
//! thread at a time.
//!
//! Times cross this boundary as `DateTime<Utc>`; a backend stores them as it likes
//! (SQLite: fixed-width RFC 3339 text; PostgreSQL: `timestamptz`). An event's `at` and
//! `recorded_at` are hashed as the text `case::event::ts` writes (microseconds, `Z`),
//! which a `timestamptz` holds exactly.

use super::StoreError;
use super::accounts::{Role, TokenInfo, User};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

pub type Result<T> = std::result::Result<T, StoreError>;

/// Fixed-width UTC text, so that SQL compares instants as strings.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// One stored event, as stored: the texts its hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    /// `case::event::ts` of the effective time.
    pub at: String,
    /// `case::event::ts` of the recording time.
    pub recorded_at: String,
    pub actor: String,
    pub kind: String,
    /// The event's JSON, byte for byte as hashed.
    pub payload: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A new event to append (already sealed by the caller).
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub org: &'a str,
    pub case_id: &'a str,
    pub row: EventRow,
}

/// A case's projection row: a summary of its log for listing, rewritten after each append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseHead {
    pub org: String,
    pub id: String,
    pub workflow: String,
    pub workflow_hash: String,
    pub title: String,
    pub opened_at: DateTime<Utc>,
    pub seq: i64,
    pub last_hash: String,
    pub closed: bool,
    pub next_due: Option<DateTime<Utc>>,
}

/// A pinned workflow text, keyed by the SHA-256 of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedWorkflow {
    pub hash: String,
    pub id: String,
    pub origin: String,
    pub source: String,
    pub stored_at: DateTime<Utc>,
}

/// One timer row of a case, as `case::reminders::reconcile` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerOfCase {
    pub id: i64,
    pub key: String,
    pub clock: String,
    pub offset: String,
    /// pending | sent | dead | cancelled | superseded | waiting (for a recipient)
    pub state: String,
    pub due_at: DateTime<Utc>,
}

/// A new timer (ignored when a timer with its key exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTimer {
    pub key: String,
    pub org: String,
    pub case_id: String,
    pub clock: String,
    pub offset: String,
    pub due_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// What to do with a claimed reminder once its recipients' outcomes are recorded,
/// decided by `outbox::delivery::decide` (shared by every backend). Applied only while
/// the lease is still the claimer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Some recipients wait: try again at `next_attempt_at`, with the reason.
    Retry {
        next_attempt_at: DateTime<Utc>,
        why: String,
    },
    /// Every recipient refused it.
    Dead { why: String },
    /// Sent (refusals of some recipients in `why`); plan `next` if given.
    Sent {
        message_id: String,
        why: Option<String>,
        next: Option<NewTimer>,
    },
}

/// A recipient's outcome to record for a claimed reminder (keyed hash, never an address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    pub rcpt: String,
    /// `sent` or `refused`
    pub state: &'static str,
    pub detail: Option<String>,
}

/// A timer claimed by a dispatcher: it holds the lease until `locked_until`.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub org: String,
    pub case_id: String,
    pub clock: String,
    pub offset: String,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    pub token: String,
}

/// Each recipient's state after a delivery: `rcpt -> (state, detail)`.
pub type RecipientStates = HashMap<String, (String, Option<String>)>;

/// One claimed reminder's recording: its recipients, then how to settle it given every
/// recipient's state after them (`rcpt -> (state, detail)`).
pub struct Delivery<'a> {
    pub claimed: &'a Claimed,
    pub recipients: Vec<RecipientOutcome>,
    pub settle: &'a dyn Fn(&RecipientStates) -> Settle,
}

/// A timer as `vigie outbox list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TimerRow {
    pub id: i64,
    pub case: String,
    pub clock: String,
    pub offset: String,
    pub due_at: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    pub message_id: Option<String>,
}

/// A campaign of bulk notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub org: String,
    pub case_id: String,
    pub channel: String,
    pub recipients_sha256: String,
    pub template_sha256: String,
    pub created_at: DateTime<Utc>,
}

/// One person's line of a campaign's ledger (`person` is a keyed hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub campaign: i64,
    pub person: String,
    /// sent | refused | failed
    pub status: String,
    pub message_id: Option<String>,
    pub at: DateTime<Utc>,
    pub error: Option<String>,
}

/// A person in one of their organisations (one row per membership), with what the
/// account logic needs.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub user: User,
    /// The Argon2 PHC string (the person's).
    pub password: String,
    /// The membership is disabled.
    pub disabled: bool,
    /// When the person was first added.
    pub created_at: DateTime<Utc>,
    /// When the membership began, and who added it.
    pub since: DateTime<Utc>,
    pub added_by: String,
}

/// A live session: the person acting in its current organisation (an enabled
/// membership: the session's organisation, else the person's first), its CSRF token,
/// and every enabled membership of the person as (org, organisation name, role).
#[derive(Debug, Clone)]
pub struct SessionOf {
    pub user: User,
    pub csrf: String,
    pub orgs: Vec<(String, String, Role)>,
}

/// One running deadline of the portfolio: a case's nearest due time, in an organisation
/// where the person has an enabled membership.
#[derive(Debug, Clone)]
pub struct PortfolioRow {
    pub org: String,
    pub org_name: String,
    pub role: Role,
    pub case_id: String,
    pub title: String,
    pub workflow: String,
    pub next_due: DateTime<Utc>,
}

/// A calendar address as `store copy` carries it: (user id, organisation or None for
/// the portfolio, SHA-256, made at).
pub type CalendarTokenRow = (i64, Option<String>, String, DateTime<Utc>);

/// A stored session (`hash` is SHA-256 of the cookie's secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The organisation the session acts in (None: the person's first).
    pub org: Option<String>,
}

/// A stored API token (`hash` is SHA-256 of the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub hash: String,
    pub user_id: i64,
    /// The membership's organisation: the only one the token reads.
    pub org: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A write transaction on the case log. Dropped without `commit`, it writes nothing.
/// `lock_case` serialises the writers of one case (SQLite: the whole database, BEGIN
/// IMMEDIATE; PostgreSQL: the case's row, `FOR UPDATE`) so the second writer decides on
/// the log the first wrote.
///
/// A transaction of [`CaseLog::begin_optimistic`] may instead answer its reads without a
/// lock, even from what the connection saw before, and check at `commit`, under the
/// case's lock, that what it read is still so: it then writes everything, or nothing and
/// answers [`StoreError::Moved`](super::StoreError::Moved), and the caller decides again.
pub trait CaseTx {
    /// Locks the case for the rest of the transaction; None when there is no such case.
    fn lock_case(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>>;
    fn events(&mut self, org: &str, case_id: &str) -> Result<Vec<EventRow>>;
    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>>;
    fn case_exists(&mut self, org: &str, case_id: &str) -> Result<bool>;
    /// Locks the counter of a series of case numbers and returns its last value (0 for a
    /// new series), until `set_counter` and the commit.
    fn take_counter(&mut self, org: &str, prefix: &str) -> Result<i64>;
    fn set_counter(&mut self, org: &str, prefix: &str, last: i64) -> Result<()>;
    /// Pins a workflow text (nothing when its hash is already pinned).
    fn pin_workflow(&mut self, wf: &PinnedWorkflow) -> Result<()>;
    /// Inserts a new case's row ([`StoreError::CaseExists`] when taken).
    fn insert_case(&mut self, head: &CaseHead) -> Result<()>;
    fn insert_event(&mut self, ev: &NewEvent<'_>) -> Result<()>;
    /// Rewrites the projection after an append (seq, last_hash, closed, next_due, title).
    fn update_head(&mut self, head: &CaseHead) -> Result<()>;
    fn timers_of_case(&mut self, org: &str, case_id: &str) -> Result<Vec<TimerOfCase>>;
    /// Pending again, due at `due` (attempts and lease cleared), if it is still pending,
    /// waiting or cancelled: one a dispatcher sent, dead-lettered or superseded meanwhile
    /// stays as it is, which is what `case::reminders::reconcile` decides for it.
    fn reschedule_timer(&mut self, id: i64, due: DateTime<Utc>) -> Result<()>;
    /// Cancelled, if it is still pending or waiting.
    fn cancel_timer(&mut self, id: i64) -> Result<()>;
    fn insert_timer(&mut self, t: &NewTimer) -> Result<()>;
    /// See `outbox::delivery::requeue_for_new_recipients`.
    fn requeue_for_new_recipients(
        &mut self,
        org: &str,
        case_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize>;
    /// Whether the head `lock_case` answered is still the case's: a caller that refuses
    /// a command on what it read asks first (an optimistic transaction may have read an
    /// old head; false: decide again). A locking transaction knows it is.
    fn confirm(&mut self) -> Result<bool> {
        Ok(true)
    }
    fn commit(self: Box<Self>) -> Result<()>;
}

/// The case log: reads, and the write transaction.
pub trait CaseLog {
    fn begin(&mut self) -> Result<Box<dyn CaseTx + '_>>;
    /// A write transaction for `Store`'s case commands that may check at its commit what
    /// `begin` locks first (see [`CaseTx`]): PostgreSQL sends such a command as one
    /// statement. A backend without it locks, as `begin` does.
    fn begin_optimistic(&mut self) -> Result<Box<dyn CaseTx + '_>> {
        self.begin()
    }
    fn head(&mut self, org: &str, case_id: &str) -> Result<Option<CaseHead>>;
    /// Every case head, of one organisation or of all, ordered by (org, id).
    fn heads(&mut self, org: Option<&str>) -> Result<Vec<CaseHead>>;
    /// The head of each of `cases` (organisation, case), None where there is no such
    /// case, in the order asked. A server backend reads them in one round trip.
    fn heads_of(&mut self, cases: &[(&str, &str)]) -> Result<Vec<Option<CaseHead>>> {
        cases.iter().map(|(org, id)| self.head(org, id)).collect()
    }
    /// The events of a case with `seq <= upto` (all when None), in order.
    fn events(&mut self, org: &str, case_id: &str, upto: Option<i64>) -> Result<Vec<EventRow>>;
    /// The events of each of `cases` (organisation, case), in order, one list per case in
    /// the order asked. A server backend reads them in one round trip; an in-process one
    /// may read them case by case.
    fn events_of(&mut self, cases: &[(&str, &str)]) -> Result<Vec<Vec<EventRow>>> {
        cases
            .iter()
            .map(|(org, id)| self.events(org, id, None))
            .collect()
    }
    fn workflow(&mut self, hash: &str) -> Result<Option<PinnedWorkflow>>;
    fn workflows(&mut self) -> Result<Vec<PinnedWorkflow>>;
    /// Open cases first, nearest deadline first, then closed ones when asked.
    fn case_ids(&mut self, org: &str, include_closed: bool) -> Result<Vec<String>>;
    /// Whether the organisation has any case (one index probe, not a list).
    fn has_cases(&mut self, org: &str) -> Result<bool>;
    /// In the order they were opened (then by id).
    fn case_ids_by_opening(&mut self, org: &str) -> Result<Vec<String>>;
    /// `(org, case_id, lowest seq)` of events whose case row is gone.
    fn orphan_events(&mut self) -> Result<Vec<(String, String, i64)>>;
    /// When an event of `org` last met a legal deadline (an `advanced` event whose
    /// payload's `met` list is not empty): its recording time.
    fn last_deadline_event(&mut self, org: &str) -> Result<Option<DateTime<Utc>>>;
    /// Case counters, for `store copy`.
    fn counters(&mut self) -> Result<Vec<(String, String, i64)>>;
}

/// The reminder outbox. Claims are leases that expire: a dispatcher that dies leaves
/// its claims to be taken again once `locked_until` passes, never freed wholesale.
pub trait Outbox {
    /// Claims up to `limit` due timers under `token` until `now + lease`. Of several due
    /// reminders of one clock, only the latest is claimed; the older are `superseded`.
    /// Two dispatchers never claim one timer (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease: Duration,
        limit: usize,
        token: &str,
    ) -> Result<Vec<Claimed>>;
    /// Recipients of a timer already dealt with: hash -> `sent` | `refused`.
    fn delivered(&mut self, timer_id: i64) -> Result<HashMap<String, String>>;
    /// [`Outbox::delivered`] of each of `timer_ids`, in the order asked. A server
    /// backend reads them in one round trip.
    fn delivered_of(&mut self, timer_ids: &[i64]) -> Result<Vec<HashMap<String, String>>> {
        timer_ids.iter().map(|id| self.delivered(*id)).collect()
    }
    /// Records deliveries in one transaction: each recipient's outcome, then each timer
    /// settled as `settle` decides from every recipient's state, only under our lease.
    /// Returns for each whether it was settled (false: the lease was lost).
    fn record(
        &mut self,
        deliveries: &[Delivery<'_>],
        now: DateTime<Utc>,
    ) -> Result<Vec<Option<Settle>>>;
    /// A failed attempt under our lease: retried at `retry_at`, or dead when None.
    fn fail(&mut self, c: &Claimed, error: &str, retry_at: Option<DateTime<Utc>>) -> Result<bool>;
    /// A claimed timer whose clock no longer needs it.
    fn cancel(&mut self, c: &Claimed) -> Result<()>;
    /// A claimed timer nobody can receive yet (its organisation has no reminder
    /// recipient): `waiting`, out of the dispatcher's sight (never claimed, never a
    /// wake-up) until [`Outbox::release_waiting`] or a change of recipients requeues it.
    /// Only under our lease; false when the lease was lost.
    fn wait_for_recipient(&mut self, c: &Claimed, why: &str) -> Result<bool>;
    /// Every `waiting` timer of `org` pending again now (it has a recipient).
    fn release_waiting(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize>;
    /// The earliest pending attempt or lease expiry.
    fn next_wake(&mut self) -> Result<Option<DateTime<Utc>>>;
    /// The heartbeat of the dispatcher whose claims carry `token` (issue 23, N11).
    fn beat(&mut self, token: &str, at: DateTime<Utc>) -> Result<()>;
    /// A dispatcher stopping cleanly: its heartbeat is no more.
    fn stop_beating(&mut self, token: &str) -> Result<()>;
    /// Frees the claims of every dispatcher whose last heartbeat is older than
    /// `dead_before` (they are pending again, claimable now), and forgets those
    /// dispatchers. Returns how many claims were freed.
    fn reclaim_dead(&mut self, dead_before: DateTime<Utc>) -> Result<usize>;
    /// For `vigie outbox list`.
    fn list(&mut self, org: &str, all: bool) -> Result<Vec<TimerRow>>;
    /// Requeues a dead, failing or waiting timer of `org` now; false when there is none.
    fn retry(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool>;
    /// Requeues every dead, failing or waiting timer of `org` now.
    fn retry_org(&mut self, org: &str, now: DateTime<Utc>) -> Result<usize>;
    /// Every timer and recipient row, for `store copy`.
    fn dump_timers(&mut self) -> Result<Vec<TimerDump>>;
    fn load_timers(&mut self, rows: &[TimerDump]) -> Result<()>;
}

/// A timer row whole, with its recipients, for `store copy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerDump {
    pub id: i64,
    pub key: String,
    pub org: String,
    pub case_id: String,
    pub clock: String,
    pub offset: String,
    pub due_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
    pub lock_token: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// (rcpt, state, detail, at)
    pub recipients: Vec<(String, String, Option<String>, DateTime<Utc>)>,
}

/// The bulk-notification ledger: campaigns and, per person (a keyed hash), the outcome.
pub trait Ledger {
    /// The latest campaign of a case and channel, with the same files when given.
    fn last_campaign(
        &mut self,
        org: &str,
        case_id: &str,
        channel: &str,
        same: Option<(&str, &str)>,
    ) -> Result<Option<Campaign>>;
    fn create_campaign(&mut self, c: &Campaign) -> Result<i64>;
    /// Calls `f` with each person sent to by the case's campaigns (only `campaign`'s
    /// unless `any_campaign`).
    fn sent_people(
        &mut self,
        org: &str,
        case_id: &str,
        campaign: i64,
        any_campaign: bool,
        f: &mut dyn FnMut(&str),
    ) -> Result<()>;
    /// Calls `f` with each person refused in `campaign`, and why.
    fn refused_people(&mut self, campaign: i64, f: &mut dyn FnMut(&str, &str)) -> Result<()>;
    /// Writes (upserts by (campaign, person)) ledger rows in one transaction.
    fn write_ledger(&mut self, rows: &[LedgerRow]) -> Result<()>;
    fn count_sent(&mut self, campaign: i64) -> Result<i64>;
    /// Per case of `org`: each person counted once by their best outcome across the
    /// case's campaigns: (notified, refused, to_retry).
    fn ledger_figures(&mut self, org: &str) -> Result<HashMap<String, (u64, u64, u64)>>;
    fn campaigns(&mut self) -> Result<Vec<Campaign>>;
    /// Every ledger row, in (campaign, person) order, for `store copy`.
    fn ledger_rows(&mut self, f: &mut dyn FnMut(LedgerRow) -> Result<()>) -> Result<()>;
}

/// Organisations, users, sessions and API tokens. The rules (password strength, hashing,
/// who may sign in) live in `store::accounts`; these are its rows.
pub trait Accounts {
    /// (id, name, profile JSON), by id.
    fn organisations(&mut self) -> Result<Vec<(String, String, String)>>;
    fn organisation(&mut self, id: &str) -> Result<Option<(String, String)>>;
    fn insert_organisation(&mut self, id: &str, name: &str, profile_json: &str) -> Result<()>;
    /// Writes the profile JSON, and the organisation's name from its `name` when it has
    /// one; false when there is no such organisation.
    fn set_profile(&mut self, org: &str, profile_json: &str) -> Result<bool>;
    fn profile(&mut self, org: &str) -> Result<Option<String>>;

    /// Inserts a person with one membership (in one transaction) and returns its id.
    #[allow(clippy::too_many_arguments)]
    fn insert_user(
        &mut self,
        org: &str,
        email: &str,
        name: &str,
        role: Role,
        password_hash: &str,
        now: DateTime<Utc>,
        added_by: &str,
    ) -> Result<i64>;
    /// A membership of an existing person in another organisation.
    fn insert_membership(
        &mut self,
        user_id: i64,
        org: &str,
        role: Role,
        now: DateTime<Utc>,
        added_by: &str,
    ) -> Result<()>;
    /// One row per membership, with the person's password hash and the membership's
    /// state: of one organisation or all, by (org, email).
    fn user_rows(&mut self, org: Option<&str>) -> Result<Vec<UserRow>>;
    /// The person with this e-mail in their first enabled membership (else their first).
    fn user_by_email(&mut self, email: &str) -> Result<Option<UserRow>>;
    /// Every membership of the person with this e-mail, by organisation.
    fn memberships_by_email(&mut self, email: &str) -> Result<Vec<UserRow>>;
    /// New password hash; ends the user's sessions and deletes its tokens (how many).
    fn set_password(&mut self, user_id: i64, password_hash: &str) -> Result<usize>;

    fn insert_session(&mut self, s: &SessionRow, now: DateTime<Utc>) -> Result<()>;
    /// The person of an unexpired session acting in an enabled membership, checked now.
    fn session(&mut self, hash: &str, now: DateTime<Utc>) -> Result<Option<SessionOf>>;
    /// The session acts in `org` from now on; false (nothing written) when the person has
    /// no enabled membership there.
    fn set_session_org(&mut self, hash: &str, org: &str) -> Result<bool>;
    /// The running deadlines (open cases with a due time) of every organisation where
    /// `user_id` has an enabled membership, nearest first: `limit` of them from
    /// `offset`, and how many there are. One query.
    fn portfolio(
        &mut self,
        user_id: i64,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<PortfolioRow>, usize)>;
    fn delete_session(&mut self, hash: &str) -> Result<()>;
    fn sessions(&mut self) -> Result<Vec<SessionRow>>;

    fn insert_token(&mut self, t: &TokenRow) -> Result<()>;
    /// The user of a token acting in its membership (enabled), and when it was last used.
    fn token_user(&mut self, hash: &str) -> Result<Option<(User, Option<DateTime<Utc>>)>>;
    fn touch_token(&mut self, hash: &str, now: DateTime<Utc>) -> Result<()>;
    /// Tokens filtered by organisation, user e-mail and id prefix.
    fn tokens(
        &mut self,
        org: Option<&str>,
        email: Option<&str>,
        id_prefix: Option<&str>,
    ) -> Result<Vec<TokenInfo>>;
    fn delete_tokens_by_prefix(&mut self, prefix: &str) -> Result<usize>;
    fn token_rows(&mut self) -> Result<Vec<TokenRow>>;
}

/// Failed sign-ins, counted in the database so every instance sees the same counts and
/// locks. Keys are opaque to the backend (the web layer hashes account and address).
pub trait Throttle {
    /// Adds a failure for `key` at `now` and returns the count (a count idle for an hour
    /// starts again from 1). Atomic: two instances failing at once count two.
    fn sign_in_failed(&mut self, key: &str, now: DateTime<Utc>) -> Result<u32>;
    /// Locks `key` until `until`.
    fn sign_in_lock(&mut self, key: &str, until: DateTime<Utc>) -> Result<()>;
    /// Until when `key` is locked, if it is.
    fn sign_in_locked_until(&mut self, key: &str) -> Result<Option<DateTime<Utc>>>;
    /// A successful sign-in forgets the failures.
    fn sign_in_forget(&mut self, key: &str) -> Result<()>;
}

/// Calendar feed tokens (issue 13): one per user, only its SHA-256 stored. A token reads
/// its user's organisation's deadlines (`/calendar.ics`) and grants nothing else.
pub trait CalendarTokens {
    /// Sets the user's token, replacing the one they had (the old URL stops working).
    /// `org`: the organisation it reads, or None for every one of the person's.
    fn set_calendar_token(
        &mut self,
        user_id: i64,
        org: Option<&str>,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The user whose token has this hash, acting in the token's organisation (an
    /// enabled membership), or for a portfolio token in their first enabled membership
    /// with `true`.
    fn calendar_token_user(&mut self, hash: &str) -> Result<Option<(User, bool)>>;
    /// Whether this hash was a token that is no more (revoked, replaced, its user's
    /// password changed) or is a disabled user's: the feed answers 410 Gone.
    fn calendar_token_gone(&mut self, hash: &str) -> Result<bool>;
    /// When the user's token was made, and its organisation (None: the portfolio).
    fn calendar_token_since(
        &mut self,
        user_id: i64,
    ) -> Result<Option<(DateTime<Utc>, Option<String>)>>;
    /// Revokes the user's token; false when they had none.
    fn delete_calendar_token(&mut self, user_id: i64) -> Result<bool>;
    /// Every token (user id, hash, made at), for `store copy`.
    fn calendar_token_rows(&mut self) -> Result<Vec<CalendarTokenRow>>;
    /// Loads tokens as they are, for `store copy` (in one transaction; the users are
    /// loaded first, with their ids).
    fn load_calendar_tokens(&mut self, rows: &[CalendarTokenRow]) -> Result<()>;
}

/// An invitation to join one organisation with one role (issue 21 part 5): only the
/// SHA-256 of the link's secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    /// Given by the database (ignored on insert).
    pub id: i64,
    pub org: String,
    /// The invitee's address (staff contact data, not a data subject's).
    pub email: String,
    pub role: Role,
    pub hash: String,
    /// The inviting user's e-mail.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Invitations, and what the users page changes on an account: its role and whether it
/// is disabled (never leaving an organisation without an enabled DPO), and when it last
/// signed in. The rules are in `store::invitations`; these are its rows.
pub trait Invitations {
    /// Revokes the pending invitations of the same organisation and address at
    /// `row.created_at`, and inserts this one; returns its id.
    fn insert_invitation(&mut self, row: &InvitationRow) -> Result<i64>;
    /// The invitations of `org`, newest first.
    fn invitations(&mut self, org: &str) -> Result<Vec<InvitationRow>>;
    fn invitation(&mut self, hash: &str) -> Result<Option<InvitationRow>>;
    /// Uses the invitation and makes its membership (enabled, with the invitation's
    /// organisation and role), in one transaction: for `existing` person, else for a
    /// new person with the invitation's address, `name` and `password_hash`. None, and
    /// nothing written, when the invitation is unknown, used, revoked or expired at `now`.
    fn accept_invitation(
        &mut self,
        hash: &str,
        name: &str,
        password_hash: &str,
        existing: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Option<(InvitationRow, i64)>>;
    /// Revokes a pending invitation of `org`; false when there is none with this id.
    fn revoke_invitation(&mut self, org: &str, id: i64, now: DateTime<Utc>) -> Result<bool>;
    /// Sets the role of a user's membership in `org` and whether it is disabled (when
    /// the person then has no enabled membership left, their sessions end), unless that
    /// would leave the organisation with no enabled DPO: then false, and nothing is
    /// written. Two DPOs changing each other at once cannot both pass.
    fn set_member(&mut self, user_id: i64, org: &str, role: Role, disabled: bool) -> Result<bool>;
    /// A user signed in now.
    fn record_sign_in(&mut self, user_id: i64, now: DateTime<Utc>) -> Result<()>;
    /// When each user of `org` last signed in (those who ever did).
    fn last_sign_ins(&mut self, org: &str) -> Result<HashMap<i64, DateTime<Utc>>>;
}

/// A small key-value table of the program's own (the ledger key, checkpoint times).
pub trait Meta {
    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<()>;
    /// Sets `key` only when unset; returns the value it has after.
    fn init_meta(&mut self, key: &str, value: &str) -> Result<String>;
    /// Deletes `key` and returns the value it had: of two callers at once, one gets it.
    fn take_meta(&mut self, key: &str) -> Result<Option<String>>;
    fn metas(&mut self) -> Result<Vec<(String, String)>>;
}

/// Wake-ups between processes: a command that changes a case tells the dispatchers.
/// SQLite: a datagram on a socket beside the file; PostgreSQL: `NOTIFY vigie_wake`.
pub trait Wake {
    /// Tells every dispatcher to look at the outbox now. Never fails the caller.
    fn poke(&mut self);
}

/// One view or download through the web page or the API (issue 13 part 4). Not a case
/// event: reading never moves a case's sequence number or its hash chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRow {
    /// Given by the database (ignored on insert).
    pub id: i64,
    pub org: String,
    /// None for what belongs to no case (the register).
    pub case_id: Option<String>,
    pub at: DateTime<Utc>,
    /// The signed-in user (`name <email>`, a member of the organisation, not a person
    /// concerned by a breach).
    pub actor: String,
    /// `view` | `download`
    pub action: String,
    /// `draft` | `issued` | `letter` | `register`
    pub object: String,
    /// Which one: document, language, format, hash.
    pub detail: String,
    /// The client's IP address (the socket's, or a trusted proxy's forwarded one).
    pub address: String,
    /// `web` | `api`
    pub via: String,
}

/// The exact text of a document recorded as issued, kept by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedText {
    pub org: String,
    pub case_id: String,
    pub sha256: String,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// The access log and the texts of issued documents: both append-only (triggers).
pub trait Access {
    /// Appends one entry (its `id` is the database's).
    fn log_access(&mut self, row: &AccessRow) -> Result<()>;
    /// Entries of `org`, oldest first: of one case, or every entry when `case_id` is None.
    fn access_log(&mut self, org: &str, case_id: Option<&str>) -> Result<Vec<AccessRow>>;
    /// Keeps a text by its hash; nothing when the same (org, case, hash) is kept already.
    fn keep_issued_text(&mut self, t: &IssuedText) -> Result<()>;
    fn issued_text(&mut self, org: &str, case_id: &str, sha256: &str) -> Result<Option<String>>;
    /// For `store copy`: every kept text, and every access entry, in order.
    fn issued_texts(&mut self) -> Result<Vec<IssuedText>>;
    fn load_access(&mut self, rows: &[AccessRow], texts: &[IssuedText]) -> Result<()>;
}

/// What an API read of one case needs, read together (`Backend::token_case`).
#[derive(Debug, Clone)]
pub struct TokenCase {
    /// The token's user, acting in the token's membership.
    pub user: User,
    /// When the token was last used.
    pub last_used: Option<DateTime<Utc>>,
    /// The case's head in the token's organisation; None: it has no such case.
    pub head: Option<CaseHead>,
    /// The case's access log, oldest first, when the token is a DPO's and the case
    /// exists; None otherwise.
    pub access: Option<Vec<AccessRow>>,
}

/// A backend: everything above, for one connection.
pub trait Backend:
    CaseLog
    + Outbox
    + Ledger
    + Accounts
    + Throttle
    + CalendarTokens
    + Meta
    + Wake
    + Access
    + Invitations
    + super::oidc::OidcLinks
    + Send
{
    /// `sqlite` or `postgres`.
    fn kind(&self) -> &'static str;
    /// The URL without its password, for messages.
    fn describe(&self) -> String;
    /// True when nothing was ever written (no case, user, timer, campaign, or
    /// organisation besides `default`): `store copy` writes only into such a database.
    fn is_empty(&mut self) -> Result<bool>;
    /// How many other client connections the database has now (`store copy` needs its
    /// source quiet); None where the backend cannot tell or need not (a SQLite source is
    /// copied from a snapshot).
    fn other_connections(&mut self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// The most frequent call of a script, `GET /api/cases/{id}`, in one go: the user
    /// of the token `token_hash` (None: unknown, revoked, or its membership disabled),
    /// the head of `case_id` in the token's organisation and, for a DPO, the case's
    /// access log. A server backend answers in one round trip; this default asks
    /// [`Accounts::token_user`], [`CaseLog::head`] and [`Access::access_log`] in turn.
    fn token_case(&mut self, token_hash: &str, case_id: &str) -> Result<Option<TokenCase>> {
        let Some((user, last_used)) = self.token_user(token_hash)? else {
            return Ok(None);
        };
        let head = self.head(&user.org, case_id)?;
        let access = match head.is_some() && user.role.is_dpo() {
            true => Some(self.access_log(&user.org, Some(case_id))?),
            false => None,
        };
        Ok(Some(TokenCase {
            user,
            last_used,
            head,
            access,
        }))
    }
    /// Bulk writes for `store copy`, in one transaction each; rows are inserted as they
    /// are (the chain is not re-sealed).
    fn load_cases(
        &mut self,
        heads: &[CaseHead],
        events: &[(String, String, Vec<EventRow>)],
    ) -> Result<()>;
    fn load_workflows(&mut self, wfs: &[PinnedWorkflow]) -> Result<()>;
    fn load_counters(&mut self, rows: &[(String, String, i64)]) -> Result<()>;
    fn load_campaigns(&mut self, rows: &[Campaign]) -> Result<()>;
    fn load_ledger(&mut self, rows: &[LedgerRow]) -> Result<()>;
    fn load_users(&mut self, rows: &[UserRow]) -> Result<()>;
    fn load_sessions(&mut self, rows: &[SessionRow]) -> Result<()>;
    fn load_tokens(&mut self, rows: &[TokenRow]) -> Result<()>;
}

/// How the dispatcher waits for a wake-up.
pub trait WakeListener: Send {
    /// Blocks until a poke arrives or `timeout` passes; true when poked.
    fn wait(&mut self, timeout: std::time::Duration) -> bool;
}

/// The [`SessionOf`] of a session's rows (one per enabled membership, by organisation,
/// each with whether it is the session's organisation, and the organisation's name).
/// None when the person has no enabled membership left: signed out.
pub fn session_of(rows: Vec<(User, String, bool, String)>) -> Option<SessionOf> {
    let current = rows.iter().position(|r| r.2).unwrap_or(0);
    let orgs = rows
        .iter()
        .map(|(u, _, _, name)| (u.org.clone(), name.clone(), u.role))
        .collect();
    let (user, csrf, _, _) = rows.into_iter().nth(current)?;
    Some(SessionOf { user, csrf, orgs })
}
