//! `vigie serve`: the reminder dispatcher. It sleeps until the next timer is due or a
//! command pokes it (a datagram on `<db>.wake`), claims due timers under a lease, sends
//! outside any transaction, and completes them under its own token. SIGTERM or Ctrl-C
//! lets the messages in flight finish, then exits.

use crate::config::Config;
use crate::mail::Mailer;
use crate::mail::RcptOutcome;
use crate::mail::reminder::{self, ReminderTemplates};
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

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("mail configuration: {0}")]
    Mail(#[from] crate::mail::MailError),
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(String),
    #[error("cannot listen on {addr}: {error} (choose another with --listen ADDR)")]
    Listen { addr: String, error: String },
}

impl ServeError {
    /// True for what the administrator can correct (the configuration, the address).
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            ServeError::Mail(_) | ServeError::Config(_) | ServeError::Listen { .. }
        )
    }
}

pub struct ServeOptions {
    /// The database URL (or SQLite path).
    pub db: String,
    pub config: Config,
    /// Timers claimed per round.
    pub batch: usize,
    /// How long a claim is ours before another dispatcher may take it.
    pub lease: Duration,
    /// Longest sleep without looking at the database (a safety net for missed pokes).
    pub idle_check: std::time::Duration,
    /// Where the web page and API listen; None: no HTTP.
    pub listen: Option<String>,
    /// The workflows new cases are opened with (the web page's "new case").
    pub workflows: crate::catalog::WorkflowSet,
}

/// Runs database work from the dispatcher's async code on a worker that tokio is told
/// blocks: the PostgreSQL driver runs its own small runtime for each call, which must not
/// start on a thread driving tasks (and SQLite's calls block as well).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

fn log(msg: &str) {
    eprintln!(
        "{} vigie serve: {msg}",
        Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    );
}

struct Dispatcher {
    store: Store,
    cfg: Config,
    mailer: Mailer,
    templates: Templates,
    compiled: HashMap<Lang, Arc<ReminderTemplates>>,
    labels: HashMap<(String, Lang), Arc<Labels>>,
    token: String,
    opts_batch: usize,
    lease: Duration,
    /// Reminders sent and not yet recorded, at most (`Mailer::in_flight`).
    in_flight: usize,
    /// The key recipients are hashed with (`outbox::delivery`).
    secret: String,
    /// After a checkpoint e-mail failed: not before this time again.
    checkpoint_retry_at: Option<DateTime<Utc>>,
    /// The checkpoint mailing running in the background, if any.
    checkpoint_job: Option<tokio::task::JoinHandle<Option<DateTime<Utc>>>>,
    /// The database, for the background jobs' own connections.
    db: String,
    /// Organisations already named in the log as having no reminder recipient: each is
    /// named once, not once per reminder set aside.
    told_no_recipient: std::collections::HashSet<String>,
}

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

/// How often each organisation's DPO receives a checkpoint of its register, at least.
const CHECKPOINT_EVERY: Duration = Duration::hours(24);

impl Dispatcher {
    /// Starts the checkpoint mailing in the background when none is running: reading
    /// every event of a large organisation takes seconds, and reminders must not wait
    /// for it. See [`mail_checkpoints`].
    async fn checkpoints(&mut self, now: DateTime<Utc>) -> Result<(), ServeError> {
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
    async fn round(&mut self, now: DateTime<Utc>) -> Result<usize, ServeError> {
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
        for c in claimed {
            while sends.len() >= self.in_flight {
                self.record_finished(&mut sends).await?;
            }
            let built = blocking(|| self.build(&c, now));
            match built {
                Ok(Some((mail, next))) => {
                    let attempt = blocking(|| self.prepare(c, &mail, next))?;
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
        while !sends.is_empty() {
            self.record_finished(&mut sends).await?;
        }
        Ok(n)
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
    ) -> Result<Attempt, ServeError> {
        let done = delivery::done(&mut self.store, c.id)?;
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
        Ok(Attempt {
            claimed: c,
            message_id: mail.message_id.clone(),
            next,
            recipients,
        })
    }

    /// The message for a claimed timer, and the next overdue reminder to plan once it is
    /// sent. None when the clock no longer needs it.
    fn build(
        &mut self,
        c: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<Option<(reminder::ReminderMail, Option<Planned>)>, BuildError> {
        let loaded = self
            .store
            .load(&c.org, &c.case_id)
            .map_err(|e| e.to_string())?;
        let wf = loaded.workflow.clone();
        // The case's own organisation: its recipients, its name, its language.
        let profile = crate::app::profile_of(&mut self.store, &self.cfg, &c.org)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let lang = profile.lang().unwrap_or(wf.lang);
        let tpl = self.templates_for(lang)?;
        let labels = self.labels_for(&wf, lang)?;
        let mail = reminder::build(
            &tpl,
            &labels,
            &profile,
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

fn no_recipient_line(org: &str) -> String {
    format!(
        "organisation '{org}' has no reminder recipient: its reminders wait in the outbox and go out once one is set (vigie org set {org} --dpo-email ADDRESS, or its Organisation page)"
    )
}

/// At start: the organisations with no reminder recipient, named once in the log (those
/// with cases; every one when none has a recipient), and the reminders left waiting for
/// a recipient released where there is one now (a configuration changed since, say).
fn recipients_at_start(
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

/// With no account in the database, a one-time link where the first DPO names the
/// organisation and creates their account (`app::setup`), printed in the log.
fn setup_link(
    store: &mut Store,
    cfg: &Config,
    local: std::net::SocketAddr,
) -> Result<(), ServeError> {
    if !crate::app::setup::needs_setup(store)? {
        return Ok(());
    }
    let token = crate::app::setup::issue_link(store, time::now())?;
    let base = match &cfg.http.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            // An address to type in a browser: 0.0.0.0 and [::] are not.
            let mut a = local;
            if a.ip().is_unspecified() {
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{a}")
        }
    };
    log(&format!(
        "no account yet: create the organisation and its DPO's account at {base}/setup/{token} (valid {} minutes, usable once)",
        crate::app::setup::LINK_TTL.num_minutes()
    ));
    Ok(())
}

/// Checks the configuration as `vigie serve` will use it, before anything runs.
pub fn check_config(cfg: &Config) -> Result<Mailer, ServeError> {
    let mailer = cfg.mail.mailer()?;
    cfg.mail.from_mailbox()?;
    for a in cfg
        .reminders
        .to
        .iter()
        .chain(&cfg.reminders.escalation)
        .chain(cfg.dpo.email.iter())
    {
        crate::mail::mailbox(a)?;
    }
    if let Some(u) = &cfg.http.public_url
        && !(u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(ServeError::Config(format!(
            "http.public_url {} must start with https:// or http://",
            crate::util::quote(u)
        )));
    }
    if let Some(l) = &cfg.reminders.lang
        && Lang::parse(l).is_none()
    {
        return Err(ServeError::Config(format!(
            "reminders.lang '{l}' is not {}",
            Lang::choices()
        )));
    }
    let templates = cfg.templates();
    for lang in Lang::ALL {
        ReminderTemplates::new(&templates, lang).map_err(|e| ServeError::Config(e.to_string()))?;
    }
    Ok(mailer)
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
fn heartbeat(db: &str, token: &str, poked: Arc<tokio::sync::Notify>, beating: Arc<AtomicBool>) {
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

pub async fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let mailer = check_config(&opts.config)?;
    if let Some(w) = opts.config.mail.warning() {
        log(w);
    }
    let mut store = blocking(|| Store::open_url(&opts.db))?;
    // Any number of dispatchers may share a database: each claims reminders under its
    // own token with a lease that expires, so nothing is freed at start. A dispatcher that
    // died stops beating: its claims are taken back by whichever dispatcher sees it
    // first, within about DEAD_AFTER (`heartbeat`), else once the lease expires.
    let told_no_recipient = blocking(|| recipients_at_start(&mut store, &opts.config))?;

    // Wake-ups from the other processes (a datagram beside a SQLite file, NOTIFY on
    // PostgreSQL), waited for on a thread of their own and handed over as a `Notify`.
    let poked = Arc::new(tokio::sync::Notify::new());
    let listening = Arc::new(AtomicBool::new(true));
    match Store::listener(&opts.db) {
        Ok(mut l) => {
            let (poked, listening) = (poked.clone(), listening.clone());
            std::thread::spawn(move || {
                while listening.load(Ordering::SeqCst) {
                    if l.wait(std::time::Duration::from_secs(1)) {
                        poked.notify_one();
                    }
                }
            });
        }
        Err(why) => log(&format!(
            "no wake-ups ({why}): changes are picked up within {} s",
            opts.idle_check.as_secs()
        )),
    }

    // The web page and API, beside the dispatcher: bound before anything else runs, so
    // a taken port is reported at once.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http = match &opts.listen {
        None => None,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr.as_str())
                .await
                .map_err(|e| ServeError::Listen {
                    addr: addr.clone(),
                    error: e.to_string(),
                })?;
            let local = listener
                .local_addr()
                .map_err(|e| ServeError::Io(e.to_string()))?;
            let app = Arc::new(blocking(|| {
                crate::web::App::new(opts.db.clone(), opts.config.clone(), opts.workflows.clone())
            })?);
            log(&format!("web page and API on http://{local}/"));
            blocking(|| setup_link(&mut store, &opts.config, local))?;
            let mut rx = stop_rx.clone();
            Some(tokio::spawn(crate::web::serve(app, listener, async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })))
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::new(tokio::sync::Notify::new());
    {
        let stop = stop.clone();
        let stopped = stopped.clone();
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            stop.store(true, Ordering::SeqCst);
            let _ = stop_tx.send(true);
            stopped.notify_one();
        });
    }

    // Unique among every dispatcher of this database, on any machine.
    let token = format!(
        "{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default(),
        crate::store::random_hex(4)
    );
    let secret = blocking(|| delivery::secret(&mut store))?;
    // The heartbeat (issue 23, N11): before the first claim, then on a thread of its own
    // with its own connection, so that slow sends never make us look dead.
    blocking(|| store.backend().beat(&token, Utc::now()))?;
    let beating = Arc::new(AtomicBool::new(true));
    heartbeat(&opts.db, &token, poked.clone(), beating.clone());
    let mut d = Dispatcher {
        in_flight: mailer.in_flight(),
        secret,
        store,
        cfg: opts.config.clone(),
        mailer,
        templates: opts.config.templates(),
        compiled: HashMap::new(),
        labels: HashMap::new(),
        token,
        opts_batch: opts.batch,
        lease: opts.lease,
        checkpoint_retry_at: None,
        checkpoint_job: None,
        db: opts.db.clone(),
        told_no_recipient,
    };
    let shown = d.store.describe();
    log(&format!(
        "dispatching reminders from {shown} ({}, at most {} in flight)",
        match d.mailer {
            Mailer::Smtp(_) => "SMTP".to_string(),
            Mailer::File(ref p) => format!("e-mails written to {}", p.display()),
        },
        d.in_flight
    ));
    while !stop.load(Ordering::SeqCst) {
        // Send everything due, round after round, then sleep.
        loop {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            let claimed = d.round(time::now()).await?;
            if claimed < d.opts_batch {
                break;
            }
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        d.checkpoints(time::now()).await?;
        let next = blocking(|| outbox::next_wake(&mut d.store))?;
        let now = time::now();
        let sleep = match next {
            Some(t) if t <= now => std::time::Duration::from_millis(0),
            Some(t) => (t - now).to_std().unwrap_or_default().min(opts.idle_check),
            None => opts.idle_check,
        };
        if sleep.is_zero() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = poked.notified() => {}
            _ = stopped.notified() => {}
        }
    }
    listening.store(false, Ordering::SeqCst);
    beating.store(false, Ordering::SeqCst);
    // Stopped cleanly, every claim settled: nothing for others to take back.
    if let Err(e) = blocking(|| d.store.backend().stop_beating(&d.token)) {
        log(&format!("heartbeat: {e}"));
    }
    let _ = stop_tx.send(true);
    if let Some(h) = http {
        match h.await {
            Ok(Err(e)) => log(&format!("web server: {e}")),
            Err(e) => log(&format!("web server: {e}")),
            Ok(Ok(())) => {}
        }
    }
    log("stopped");
    Ok(())
}
