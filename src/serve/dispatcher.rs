//! The reminder dispatcher: claims due timers under a lease, sends them outside any
//! transaction, records each outcome under its own token, and beats while it lives.

use super::{ServeError, blocking, log};
use crate::config::Config;
use crate::mail::Mailer;
use crate::mail::RcptOutcome;
use crate::mail::reminder::{self, ReminderTemplates};
use crate::org::Profile;
use crate::outbox::delivery::{self, Attempt, Recorded};
use crate::outbox::{self, Claimed, Planned, plan};
use crate::render::{Labels, Templates};
use crate::store::Store;
use crate::time::{self, Lang};
use crate::workflow::Workflow;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) struct Dispatcher {
    pub(super) store: Store,
    pub(super) cfg: Config,
    pub(super) mailer: Mailer,
    pub(super) templates: Templates,
    pub(super) compiled: HashMap<Lang, Arc<ReminderTemplates>>,
    pub(super) labels: HashMap<(String, Lang), Arc<Labels>>,
    pub(super) token: String,
    pub(super) opts_batch: usize,
    pub(super) lease: Duration,
    /// Reminders sent and not yet recorded, at most (`Mailer::in_flight`).
    pub(super) in_flight: usize,
    /// The key recipients are hashed with (`outbox::delivery`).
    pub(super) secret: String,
    /// After a checkpoint e-mail failed: not before this time again.
    pub(super) checkpoint_retry_at: Option<DateTime<Utc>>,
    /// The checkpoint mailing running in the background, if any.
    pub(super) checkpoint_job: Option<tokio::task::JoinHandle<Option<DateTime<Utc>>>>,
    /// The database, for the background jobs' own connections.
    pub(super) db: String,
    /// Organisations already named in the log as having no reminder recipient: each is
    /// named once, not once per reminder set aside.
    pub(super) told_no_recipient: std::collections::HashSet<String>,
}

/// Reminders built per chunk of a round (see `Dispatcher::round`).
const BUILD_CHUNK: usize = 64;

/// A claimed reminder built: its message, the next overdue reminder to plan, and the
/// recipients an earlier attempt dealt with; None when its clock no longer needs it.
type Built = Result<
    Option<(
        reminder::ReminderMail,
        Option<Planned>,
        HashMap<String, String>,
    )>,
    BuildError,
>;

/// Why a claimed reminder could not be built.
enum BuildError {
    /// Its organisation has nobody to send it to yet: it waits (`outbox::wait_for_recipient`).
    NoRecipient(String),
    Other(String),
}

impl From<String> for BuildError {
    fn from(e: String) -> BuildError {
        BuildError::Other(e)
    }
}

impl Dispatcher {
    fn templates_for(&mut self, lang: Lang) -> Result<Arc<ReminderTemplates>, String> {
        if let Some(t) = self.compiled.get(&lang) {
            return Ok(t.clone());
        }
        let t = Arc::new(ReminderTemplates::new(&self.templates, lang).map_err(|e| e.to_string())?);
        self.compiled.insert(lang, t.clone());
        Ok(t)
    }

    fn labels_for(&mut self, wf: &Workflow, lang: Lang) -> Result<Arc<Labels>, String> {
        let k = (wf.hash.clone(), lang);
        if let Some(l) = self.labels.get(&k) {
            return Ok(l.clone());
        }
        let l = Arc::new(self.templates.labels(wf, lang).map_err(|e| e.to_string())?);
        self.labels.insert(k, l.clone());
        Ok(l)
    }

    /// One round: claim due timers, send them concurrently, and record each outcome as
    /// soon as it is known (what finished meanwhile in the same transaction). A reminder
    /// is in flight from its spawn until its outcome is recorded, and at most
    /// `in_flight` are: a crash resends at most that many. Returns how many were claimed.
    pub(super) async fn round(&mut self, now: DateTime<Utc>) -> Result<usize, ServeError> {
        let claimed = blocking(|| {
            outbox::claim(
                &mut self.store,
                now,
                self.lease,
                self.opts_batch,
                &self.token,
            )
        })?;
        let n = claimed.len();
        let mut sends: tokio::task::JoinSet<Attempt> = tokio::task::JoinSet::new();
        let mut claimed = claimed.into_iter().peekable();
        while claimed.peek().is_some() {
            // A chunk at a time: its cases, profiles and recipients already dealt with
            // are read together (a few round trips for the chunk, not a few per
            // reminder), and its first sends start before the next chunk is read.
            let chunk: Vec<Claimed> = claimed.by_ref().take(BUILD_CHUNK).collect();
            let prepared = blocking(|| self.build_chunk(&chunk, now))?;
            for (c, built) in chunk.into_iter().zip(prepared) {
                self.dispatch(&mut sends, c, built, now).await?;
            }
        }
        while !sends.is_empty() {
            self.record_finished(&mut sends).await?;
        }
        Ok(n)
    }

    /// Sends a built reminder (once fewer than `in_flight` are), or settles one that
    /// needs no message, waits for a recipient, or cannot be built.
    async fn dispatch(
        &mut self,
        sends: &mut tokio::task::JoinSet<Attempt>,
        c: Claimed,
        built: Built,
        now: DateTime<Utc>,
    ) -> Result<(), ServeError> {
        while sends.len() >= self.in_flight {
            self.record_finished(sends).await?;
        }
        {
            match built {
                Ok(Some((mail, next, done))) => {
                    let attempt = self.prepare(c, &mail, next, &done);
                    let mailer = self.mailer.clone();
                    sends.spawn(async move { send(mailer, mail, attempt).await });
                }
                Ok(None) => {
                    blocking(|| outbox::cancel(&mut self.store, &c))?;
                }
                Err(BuildError::NoRecipient(why)) => {
                    if self.told_no_recipient.insert(c.org.clone()) {
                        log(&no_recipient_line(&c.org));
                    }
                    blocking(|| outbox::wait_for_recipient(&mut self.store, &c, &why))?;
                }
                Err(BuildError::Other(e)) => {
                    log(&format!(
                        "reminder {} cannot be built, dead-lettered: {e}",
                        c.key
                    ));
                    blocking(|| outbox::fail(&mut self.store, &c, &e, false, now))?;
                }
            }
        }
        Ok(())
    }

    /// Builds each reminder of a chunk: the cases loaded together, each organisation's
    /// profile read once, the recipients already dealt with read together.
    fn build_chunk(
        &mut self,
        chunk: &[Claimed],
        now: DateTime<Utc>,
    ) -> Result<Vec<Built>, ServeError> {
        let keys: Vec<(&str, &str)> = chunk
            .iter()
            .map(|c| (c.org.as_str(), c.case_id.as_str()))
            .collect();
        // A case that cannot be read is a reminder that cannot be built (as when each
        // was read alone).
        let loaded: Vec<Result<crate::store::Loaded, String>> = match self.store.load_many(&keys) {
            Ok(l) => l
                .into_iter()
                .map(|l| l.map_err(|e| e.to_string()))
                .collect(),
            Err(e) => chunk.iter().map(|_| Err(e.to_string())).collect(),
        };
        let ids: Vec<i64> = chunk.iter().map(|c| c.id).collect();
        let mut done = self.store.backend().delivered_of(&ids)?.into_iter();
        let mut profiles: HashMap<String, Result<Profile, String>> = HashMap::new();
        let mut out = Vec::with_capacity(chunk.len());
        for (c, l) in chunk.iter().zip(loaded) {
            let done = done.next().unwrap_or_default();
            if !profiles.contains_key(&c.org) {
                let p = crate::app::profile_of(&mut self.store, &self.cfg, &c.org)
                    .map(Option::unwrap_or_default)
                    .map_err(|e| e.to_string());
                profiles.insert(c.org.clone(), p);
            }
            let built = match (l, &profiles[&c.org]) {
                (Err(e), _) => Err(BuildError::Other(e)),
                (_, Err(e)) => Err(BuildError::Other(e.clone())),
                (Ok(l), Ok(profile)) => self
                    .build(c, &l, profile, now)
                    .map(|b| b.map(|(mail, next)| (mail, next, done))),
            };
            out.push(built);
        }
        Ok(out)
    }

    /// Waits for one send to finish, takes every other one finished by then, and
    /// records them all in one transaction.
    async fn record_finished(
        &mut self,
        sends: &mut tokio::task::JoinSet<Attempt>,
    ) -> Result<(), ServeError> {
        let mut group = Vec::new();
        if let Some(joined) = sends.join_next().await {
            group.push(joined.map_err(|e| ServeError::Io(e.to_string()))?);
        }
        while let Some(joined) = sends.try_join_next() {
            group.push(joined.map_err(|e| ServeError::Io(e.to_string()))?);
        }
        if group.is_empty() {
            return Ok(());
        }
        let outcomes = blocking(|| delivery::record(&mut self.store, &group, time::now()))?;
        for (a, r) in group.iter().zip(outcomes) {
            let c = &a.claimed;
            match r {
                Recorded::Sent(None) => log(&format!("sent {} {}", c.key, a.message_id)),
                Recorded::Sent(Some(why)) => {
                    log(&format!("sent {} {}; {why}", c.key, a.message_id))
                }
                Recorded::Retry(why) => log(&format!(
                    "reminder {} not sent to every recipient (attempt {}), retry in {} s: {why}",
                    c.key,
                    c.attempts + 1,
                    outbox::backoff(c.attempts).num_seconds(),
                )),
                Recorded::Dead(why) => {
                    log(&format!("reminder {} refused, dead-lettered: {why}", c.key))
                }
                Recorded::NotOurs => log(&format!(
                    "reminder {} handed off after its lease was lost",
                    c.key
                )),
            }
        }
        Ok(())
    }

    /// The attempt for a built reminder: each recipient by hash, those dealt with by an
    /// earlier attempt marked done, those that are not addresses refused here.
    fn prepare(
        &mut self,
        c: Claimed,
        mail: &reminder::ReminderMail,
        next: Option<Planned>,
        done: &HashMap<String, String>,
    ) -> Attempt {
        let recipients = mail
            .to
            .iter()
            .map(|t| {
                let address = crate::mail::mailbox(t).map(|m| m.email);
                let hash = delivery::recipient_hash(
                    &self.secret,
                    &c.key,
                    address
                        .as_ref()
                        .map(AsRef::<str>::as_ref)
                        .unwrap_or(t.as_str()),
                );
                let outcome = if done.contains_key(&hash) {
                    None
                } else if address.is_err() {
                    Some(RcptOutcome::Refused("not an e-mail address".into()))
                } else {
                    Some(RcptOutcome::Deferred("not sent yet".into()))
                };
                (hash, outcome)
            })
            .collect();
        Attempt {
            claimed: c,
            message_id: mail.message_id.clone(),
            next,
            recipients,
        }
    }

    /// The message for a claimed timer, and the next overdue reminder to plan once it is
    /// sent. None when the clock no longer needs it.
    fn build(
        &mut self,
        c: &Claimed,
        loaded: &crate::store::Loaded,
        // The case's own organisation: its recipients, its name, its language.
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Option<(reminder::ReminderMail, Option<Planned>)>, BuildError> {
        let wf = loaded.workflow.clone();
        let lang = profile.lang().unwrap_or(wf.lang);
        let tpl = self.templates_for(lang)?;
        let labels = self.labels_for(&wf, lang)?;
        let mail = reminder::build(
            &tpl,
            &labels,
            profile,
            &self.cfg.mail,
            self.cfg.http.public_url.as_deref(),
            &wf,
            &loaded.case,
            c,
            now,
        )
        .map_err(|e| match e {
            reminder::ReminderError::NoRecipient => BuildError::NoRecipient(e.to_string()),
            e => BuildError::Other(e.to_string()),
        })?;
        let Some(mail) = mail else { return Ok(None) };
        let next = if c.offset.starts_with("overdue-") {
            let def = &wf.clocks[&c.clock];
            let due = crate::case::clock::due_at(&wf, def, &loaded.case);
            due.and_then(|due| {
                let n = plan::next_overdue_index(due, def.overdue_every, now, &wf)?;
                Some(Planned {
                    clock: c.clock.clone(),
                    offset: format!("overdue-{n}"),
                    due_at: plan::overdue_at(due, def.overdue_every, n, &wf)?,
                })
            })
        } else {
            None
        };
        Ok(Some((mail, next)))
    }
}

/// Hands a reminder to the recipients still waiting for it and fills in their outcomes.
async fn send(mailer: Mailer, mail: reminder::ReminderMail, mut attempt: Attempt) -> Attempt {
    let waiting: Vec<usize> = attempt
        .recipients
        .iter()
        .enumerate()
        .filter(|(_, (_, o))| matches!(o, Some(RcptOutcome::Deferred(_))))
        .map(|(i, _)| i)
        .collect();
    let to: Vec<lettre::Address> = waiting
        .iter()
        .filter_map(|i| crate::mail::mailbox(&mail.to[*i]).ok().map(|m| m.email))
        .collect();
    let outcomes = mailer.send_each(&mail.message, &mail.message_id, &to).await;
    for (i, o) in waiting.into_iter().zip(outcomes) {
        attempt.recipients[i].1 = Some(o);
    }
    attempt
}

pub(super) fn no_recipient_line(org: &str) -> String {
    format!(
        "organisation '{org}' has no reminder recipient: its reminders wait in the outbox and go out once one is set (vigie org set {org} --dpo-email ADDRESS, or its Organisation page)"
    )
}

/// At start: the organisations with no reminder recipient, named once in the log (those
/// with cases; every one when none has a recipient), and the reminders left waiting for
/// a recipient released where there is one now (a configuration changed since, say).
pub(super) fn recipients_at_start(
    store: &mut Store,
    cfg: &Config,
) -> Result<std::collections::HashSet<String>, ServeError> {
    let mut without = Vec::new();
    let orgs = store.organisations()?;
    for (org, _) in &orgs {
        let p = crate::app::profile_of(store, cfg, org)?.unwrap_or_default();
        if p.reminder_recipients().is_empty() {
            without.push(org.clone());
        } else {
            let n = outbox::release_waiting(store, org, time::now())?;
            if n > 0 {
                log(&format!(
                    "organisation '{org}' has a reminder recipient now: {n} reminder(s) that waited for one go out"
                ));
            }
        }
    }
    let mut told = std::collections::HashSet::new();
    let nobody = without.len() == orgs.len();
    // A new database (no account yet: the setup link follows) has nothing waiting: an
    // organisation of it is named only once it has cases.
    let fresh = crate::app::setup::needs_setup(store)?;
    for org in without {
        let has_cases = !store.case_ids(&org, true)?.is_empty();
        if (nobody && !fresh) || has_cases {
            log(&no_recipient_line(&org));
            told.insert(org);
        }
    }
    Ok(told)
}

/// How often a dispatcher writes its heartbeat.
const BEAT: std::time::Duration = std::time::Duration::from_secs(2);
/// A dispatcher silent this long is dead: its claims are taken back. Several beats, so
/// that a busy database does not make a live one look dead (if it does, the live one's
/// sends are recorded as handed off: duplicates stay bounded by what it had in flight).
const DEAD_AFTER: std::time::Duration = std::time::Duration::from_secs(8);

/// Beats every [`BEAT`] on a thread with its own connection while `beating`, and takes
/// back the claims of dispatchers that stopped beating (a SIGKILL, an OOM kill, a
/// machine gone), poking the dispatcher to send them now. The machine's real clock, not
/// the program's (`VIGIE_NOW_OFFSET` moves deadlines, not heartbeats).
pub(super) fn heartbeat(
    db: &str,
    token: &str,
    poked: Arc<tokio::sync::Notify>,
    beating: Arc<AtomicBool>,
) {
    let (db, token) = (db.to_string(), token.to_string());
    std::thread::spawn(move || {
        let mut store = None;
        let mut told = false;
        while beating.load(Ordering::SeqCst) {
            let round = (|| -> Result<usize, crate::store::StoreError> {
                if store.is_none() {
                    store = Some(Store::open_url(&db)?);
                }
                let s = store.as_mut().expect("opened above");
                let now = Utc::now();
                s.backend().beat(&token, now)?;
                let dead_before = now - Duration::from_std(DEAD_AFTER).unwrap_or_default();
                s.backend().reclaim_dead(dead_before)
            })();
            match round {
                Ok(0) => told = false,
                Ok(n) => {
                    told = false;
                    log(&format!(
                        "took back {n} reminder(s) claimed by a dispatcher that stopped \
                         beating"
                    ));
                    poked.notify_one();
                }
                Err(e) => {
                    // A connection that failed is opened again next time.
                    store = None;
                    if !told {
                        log(&format!("heartbeat: {e}"));
                        told = true;
                    }
                }
            }
            std::thread::sleep(BEAT);
        }
    });
}
