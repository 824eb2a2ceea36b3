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

/// E-mails each organisation's DPO a checkpoint of its own cases (never another's):
/// daily, and after each event that met a legal deadline (a notification to an
/// authority, a complaint). Kept outside the database, it lets `audit verify
/// --checkpoint` name a case removed, truncated or rewritten since. Runs on a blocking
/// thread with its own connection. Returns when to try again after a failure (15 min).
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
    let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|d| d.to_utc());
    let orgs = match store.organisations() {
        Ok(o) => o,
        Err(e) => return fail(e.to_string()),
    };
    for (org, _) in orgs {
        let key = format!("checkpoint_mailed:{org}");
        // Per organisation, one `meta` row and one lookup in the partial index
        // `events_met`: cheap enough for every wake-up.
        let due = (|| -> Result<bool, crate::store::StoreError> {
            let mailed = store.meta(&key)?;
            let due = match mailed.as_deref().and_then(parse) {
                None => true,
                Some(last) => {
                    last + CHECKPOINT_EVERY <= now
                        || store.last_deadline_event(&org)?.is_some_and(|e| e > last)
                }
            };
            if !due {
                return Ok(false);
            }
            // Several dispatchers on one database: the first to claim this checkpoint
            // (the one after the last mailed) sends it; a claim left by a dispatcher that
            // stopped is taken over after 15 minutes.
            let claim = format!(
                "checkpoint_claim:{org}:{}",
                mailed.as_deref().unwrap_or("never")
            );
            let mine = format!("{token} {}", outbox::ts(now));
            let holder = store.init_meta(&claim, &mine)?;
            if holder == mine || holder.starts_with(&format!("{token} ")) {
                return Ok(true);
            }
            let stale = holder
                .split_once(' ')
                .and_then(|(_, at)| parse(at))
                .is_none_or(|at| at + Duration::minutes(15) <= now);
            if stale {
                store.set_meta(&claim, &mine)?;
            }
            Ok(stale)
        })();
        match due {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => return fail(e.to_string()),
        }
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
        let built = crate::mail::checkpoint::build(
            &cfg.mail,
            cfg.http.public_url.as_deref(),
            &profile,
            &org,
            &cp.to_text(),
            cp.cases.len(),
            now,
        );
        match built {
            Ok(Some((message, id))) => {
                let sent = tokio::runtime::Handle::current().block_on(mailer.send(message, &id));
                match sent {
                    Ok(()) => {
                        if let Err(e) = store.set_meta(&key, &outbox::ts(now)) {
                            return fail(e.to_string());
                        }
                        log(&format!(
                            "register checkpoint of '{org}' ({} cases) sent to its DPO",
                            cp.cases.len()
                        ));
                    }
                    Err(e) => return fail(format!("'{org}' not sent: {}", e.message)),
                }
            }
            Ok(None) => {}
            Err(e) => log(&format!("register checkpoint of '{org}': {e}")),
        }
    }
    None
}
