//! The checkpoints of the register, e-mailed to each organisation's DPO by the
//! dispatcher (daily, and after each event that met a legal deadline).

use super::dispatcher::Dispatcher;
use super::{ServeError, log};
use crate::config::Config;
use crate::mail::Mailer;
use crate::outbox;
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};

/// How often each organisation's DPO receives a checkpoint of its register, at least.
const CHECKPOINT_EVERY: Duration = Duration::hours(24);

impl Dispatcher {
    /// Starts the checkpoint mailing in the background when none is running: reading
    /// every event of a large organisation takes seconds, and reminders must not wait
    /// for it. See [`mail_checkpoints`].
    pub(super) async fn checkpoints(&mut self, now: DateTime<Utc>) -> Result<(), ServeError> {
        if !self.cfg.checkpoints.email {
            return Ok(());
        }
        if let Some(job) = &self.checkpoint_job {
            if !job.is_finished() {
                return Ok(());
            }
            let job = self.checkpoint_job.take().expect("checked above");
            self.checkpoint_retry_at = job.await.unwrap_or(None);
        }
        if self.checkpoint_retry_at.is_some_and(|t| now < t) {
            return Ok(());
        }
        let (db, cfg, mailer, token) = (
            self.db.clone(),
            self.cfg.clone(),
            self.mailer.clone(),
            self.token.clone(),
        );
        self.checkpoint_job = Some(tokio::task::spawn_blocking(move || {
            mail_checkpoints(&db, &cfg, &mailer, &token, now)
        }));
        Ok(())
    }
}

/// The first stamp retry after a TSA failed, doubled at each failure up to [`STAMP_MAX_WAIT`].
const STAMP_FIRST_WAIT: Duration = Duration::seconds(5);
const STAMP_MAX_WAIT: Duration = Duration::minutes(30);

fn stamp_wait(attempts: u32) -> Duration {
    let doubled = STAMP_FIRST_WAIT * 2i32.saturating_pow(attempts.saturating_sub(1).min(20));
    doubled.min(STAMP_MAX_WAIT)
}

/// Why an organisation's checkpoint is due: its regular one (daily, or after an event
/// that met a legal deadline), or only a stamp that failed last time.
#[derive(Clone, Copy, PartialEq)]
enum Due {
    Regular,
    Restamp,
}

/// E-mails each organisation's DPO a checkpoint of its own cases (never another's):
/// daily, and after each event that met a legal deadline (a notification to an
/// authority, a complaint). Kept outside the database, it lets `audit verify
/// --checkpoint` name a case removed, truncated or rewritten since. Signed with
/// `audit.signing_key` and stamped by `audit.tsa` when set (issue 26): a TSA that
/// fails does not hold the e-mail back; the stamp is tried again with backoff (5 s,
/// doubling, at most 30 min) on a fresh checkpoint, mailed once stamped. Runs on a
/// blocking thread with its own connection, never inside a case command's transaction.
/// Returns when to try again after a failure.
fn mail_checkpoints(
    db: &str,
    cfg: &Config,
    mailer: &Mailer,
    token: &str,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let retry = Some(now + Duration::minutes(15));
    let fail = |what: String| {
        log(&format!(
            "register checkpoints: {what}; trying again in 15 min"
        ));
        retry
    };
    let mut store = match Store::open_url(db) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let orgs = match store.organisations() {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    let mut next: Option<DateTime<Utc>> = None;
    for (org, _) in orgs {
        let key = format!("checkpoint_mailed:{org}");
        let unstamped = format!("checkpoint_unstamped:{org}");
        let due = match due(&mut store, cfg, &org, &key, &unstamped, token, now) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => return fail(e.to_string()),
        };
        // Nobody to send it to (`vigie serve` named the organisation at start): the
        // checkpoint, a read of every event, is not even computed.
        let profile = match crate::app::profile_of(&mut store, cfg, &org) {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => return fail(e.to_string()),
        };
        if crate::mail::checkpoint::recipients(&profile).is_empty() {
            continue;
        }
        let cp = match crate::store::checkpoint::checkpoint_of(&mut store, &org, now) {
            Ok(cp) if cp.cases.is_empty() => continue,
            Ok(cp) => cp,
            Err(e) => return fail(e.to_string()),
        };
        let (text, verifier) = match crate::app::proof::checkpoint_text(&cp, &cfg.audit) {
            Ok(t) => t,
            Err(e) => return fail(format!("audit.signing_key: {e}")),
        };
        let stamped = match &cfg.audit.tsa {
            None => None,
            Some(tsa) => {
                let url = &tsa.url;
                match crate::app::proof::stamp(url, tsa.ca_file.as_deref(), text.as_bytes(), now) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        let attempts = store
                            .meta(&unstamped)
                            .ok()
                            .flatten()
                            .and_then(|v| v.parse::<u32>().ok())
                            .unwrap_or(0)
                            + 1;
                        if let Err(e) = store.set_meta(&unstamped, &attempts.to_string()) {
                            return fail(e.to_string());
                        }
                        let wait = stamp_wait(attempts);
                        next = Some(next.map_or(now + wait, |n| n.min(now + wait)));
                        log(&format!(
                            "register checkpoint of '{org}' not time-stamped: {e}; stamping again in {} s",
                            wait.num_seconds()
                        ));
                        if due == Due::Restamp {
                            // Its unstamped copy went out already.
                            continue;
                        }
                        None
                    }
                }
            }
        };
        let attached = crate::mail::checkpoint::Attached {
            text: &text,
            cases: cp.cases.len(),
            verifier: verifier.as_deref(),
            stamp: stamped
                .as_ref()
                .map(|s| (s.reply.as_slice(), s.query.as_slice())),
        };
        let built = crate::mail::checkpoint::build(
            &cfg.mail,
            cfg.http.public_url.as_deref(),
            &profile,
            &org,
            &attached,
            now,
        );
        match built {
            Ok(Some((message, id))) => {
                let sent = tokio::runtime::Handle::current().block_on(mailer.send(message, &id));
                match sent {
                    Ok(()) => {
                        let mut done = store.set_meta(&key, &outbox::ts(now));
                        if stamped.is_some() && done.is_ok() {
                            done = store.set_meta(&unstamped, "0");
                        }
                        if let Err(e) = done {
                            return fail(e.to_string());
                        }
                        log(&format!(
                            "register checkpoint of '{org}' ({} cases{}) sent to its DPO",
                            cp.cases.len(),
                            match (&stamped, &verifier) {
                                (Some(_), Some(_)) => ", signed and time-stamped",
                                (Some(_), None) => ", time-stamped",
                                (None, Some(_)) => ", signed",
                                (None, None) => "",
                            }
                        ));
                    }
                    Err(e) => return fail(format!("'{org}' not sent: {}", e.message)),
                }
            }
            Ok(None) => {}
            Err(e) => log(&format!("register checkpoint of '{org}': {e}")),
        }
    }
    next
}

/// Whether `org`'s checkpoint is due, and why; claims it among several dispatchers.
fn due(
    store: &mut Store,
    cfg: &Config,
    org: &str,
    key: &str,
    unstamped: &str,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Due>, crate::store::StoreError> {
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.to_utc());
    // Per organisation, two `meta` rows and one lookup in the partial index
    // `events_met`: cheap enough for every wake-up.
    let mailed = store.meta(key)?;
    let regular = match mailed.as_deref().and_then(parse) {
        None => true,
        Some(last) => {
            last + CHECKPOINT_EVERY <= now
                || store.last_deadline_event(org)?.is_some_and(|e| e > last)
        }
    };
    let restamp = cfg.audit.tsa.is_some()
        && store
            .meta(unstamped)?
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|n| n > 0);
    let why = match (regular, restamp) {
        (true, _) => Due::Regular,
        (false, true) => Due::Restamp,
        (false, false) => return Ok(None),
    };
    // Several dispatchers on one database: the first to claim this checkpoint (the one
    // after the last mailed) sends it; a claim left by a dispatcher that stopped is
    // taken over after 15 minutes.
    let claim = format!(
        "checkpoint_claim:{org}:{}",
        mailed.as_deref().unwrap_or("never")
    );
    let mine = format!("{token} {}", outbox::ts(now));
    let holder = store.init_meta(&claim, &mine)?;
    if holder == mine || holder.starts_with(&format!("{token} ")) {
        return Ok(Some(why));
    }
    let stale = holder
        .split_once(' ')
        .and_then(|(_, at)| parse(at))
        .is_none_or(|at| at + Duration::minutes(15) <= now);
    if stale {
        store.set_meta(&claim, &mine)?;
        return Ok(Some(why));
    }
    Ok(None)
}
