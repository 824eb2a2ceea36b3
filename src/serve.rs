//! `vigie serve`: the reminder dispatcher. It sleeps until the next timer is due or a
//! command pokes it (a datagram on `<db>.wake`), claims due timers under a lease, sends
//! outside any transaction, and completes them under its own token. SIGTERM or Ctrl-C
//! lets the messages in flight finish, then exits.

use crate::config::Config;
use crate::mail::Mailer;
use crate::mail::reminder::{self, ReminderTemplates};
use crate::outbox::wake::wake_path;
use crate::outbox::{self, Claimed, Planned, plan};
use crate::render::{Labels, Templates};
use crate::store::Store;
use crate::time::{self, Lang};
use crate::workflow::Workflow;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::path::PathBuf;
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
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("another `vigie serve` is running on {0}")]
    Locked(String),
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

/// Reminders handed to the transport at once.
const MAX_IN_FLIGHT: usize = 64;

pub struct ServeOptions {
    pub db: PathBuf,
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
    pub workflows: crate::workflow::WorkflowSet,
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

    /// One round: claim due timers, send them concurrently, record the outcomes.
    /// Returns how many were claimed.
    async fn round(&mut self, now: DateTime<Utc>) -> Result<usize, ServeError> {
        let claimed = outbox::claim(
            self.store.conn(),
            now,
            self.lease,
            self.opts_batch,
            &self.token,
        )?;
        let n = claimed.len();
        let mut sends = tokio::task::JoinSet::new();
        // lettre opens a new connection whenever none is idle: bound the messages in flight.
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
        for c in claimed {
            let built = self.build(&c, now);
            match built {
                Ok(Some((mail, next))) => {
                    let mailer = self.mailer.clone();
                    let slots = slots.clone();
                    sends.spawn(async move {
                        let _slot = slots.acquire_owned().await;
                        let r = mailer.send(mail.message, &mail.message_id).await;
                        (c, mail.message_id, next, r)
                    });
                }
                Ok(None) => {
                    outbox::cancel(self.store.conn(), &c)?;
                }
                Err(e) => {
                    log(&format!(
                        "reminder {} cannot be built, dead-lettered: {e}",
                        c.key
                    ));
                    outbox::fail(self.store.conn(), &c, &e, false, now)?;
                }
            }
        }
        let mut done = Vec::new();
        while let Some(joined) = sends.join_next().await {
            let (c, message_id, next, result) =
                joined.map_err(|e| ServeError::Io(e.to_string()))?;
            match result {
                Ok(()) => done.push((c, message_id, next)),
                Err(e) => {
                    let now = time::now();
                    if e.transient {
                        log(&format!(
                            "reminder {} not sent (attempt {}), retry in {} s: {}",
                            c.key,
                            c.attempts + 1,
                            outbox::backoff(c.attempts).num_seconds(),
                            e.message
                        ));
                    } else {
                        log(&format!(
                            "reminder {} refused, dead-lettered: {}",
                            c.key, e.message
                        ));
                    }
                    outbox::fail(self.store.conn(), &c, &e.message, e.transient, now)?;
                }
            }
        }
        if !done.is_empty() {
            let ours = outbox::complete(self.store.conn(), &done, time::now())?;
            for (c, mid, _) in &done {
                log(&format!("sent {} {}", c.key, mid));
            }
            if ours < done.len() {
                log(&format!(
                    "{} reminder(s) sent after their lease was lost",
                    done.len() - ours
                ));
            }
        }
        Ok(n)
    }

    /// The message for a claimed timer, and the next overdue reminder to plan once it is
    /// sent. None when the clock no longer needs it.
    fn build(
        &mut self,
        c: &Claimed,
        now: DateTime<Utc>,
    ) -> Result<Option<(reminder::ReminderMail, Option<Planned>)>, String> {
        let loaded = self
            .store
            .load(&c.org, &c.case_id)
            .map_err(|e| e.to_string())?;
        let wf = loaded.workflow.clone();
        // The case's own organisation: its recipients, its name, its language.
        let profile = crate::app::profile_of(&self.store, &self.cfg, &c.org)
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
            &wf,
            &loaded.case,
            c,
            now,
        )
        .map_err(|e| e.to_string())?;
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
    if let Some(l) = &cfg.reminders.lang
        && Lang::parse(l).is_none()
    {
        return Err(ServeError::Config(format!(
            "reminders.lang '{l}' is not fr or en"
        )));
    }
    let templates = Templates::from_config(cfg);
    for lang in [Lang::Fr, Lang::En] {
        ReminderTemplates::new(&templates, lang).map_err(|e| ServeError::Config(e.to_string()))?;
    }
    Ok(mailer)
}

pub async fn run(opts: ServeOptions) -> Result<(), ServeError> {
    let mailer = check_config(&opts.config)?;
    let mut store = Store::open(&opts.db)?;

    // One dispatcher per database: with the lock held, every lease left is from a
    // process that died mid-send, so it is freed and its reminder goes out now.
    let lock_path = {
        let mut p = opts.db.as_os_str().to_owned();
        p.push(".serve.lock");
        PathBuf::from(p)
    };
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| ServeError::Io(format!("{}: {e}", lock_path.display())))?;
    if lock.try_lock().is_err() {
        return Err(ServeError::Locked(opts.db.display().to_string()));
    }
    for (org, _) in store.organisations()? {
        let p = crate::app::profile_of(&store, &opts.config, &org)?.unwrap_or_default();
        if p.reminder_recipients().is_empty() {
            log(&format!(
                "organisation '{org}' has no reminder recipient: its reminders are kept and go out once one is set (vigie org set {org} --dpo-email ADDRESS)"
            ));
        }
    }
    let freed = outbox::release_all(store.conn())?;
    if freed > 0 {
        log(&format!(
            "{freed} reminder(s) claimed by a stopped dispatcher will be sent again"
        ));
    }

    let wake_file = wake_path(&opts.db);
    let _ = std::fs::remove_file(&wake_file);
    let wake = tokio::net::UnixDatagram::bind(&wake_file).ok();
    if wake.is_none() {
        log(&format!(
            "cannot listen on {}: changes are picked up within {} s",
            wake_file.display(),
            opts.idle_check.as_secs()
        ));
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
            let app = Arc::new(crate::web::App::new(
                opts.db.clone(),
                opts.config.clone(),
                opts.workflows.clone(),
            )?);
            log(&format!("web page and API on http://{local}/"));
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

    let token = format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let mut d = Dispatcher {
        store,
        cfg: opts.config.clone(),
        mailer,
        templates: Templates::from_config(&opts.config),
        compiled: HashMap::new(),
        labels: HashMap::new(),
        token,
        opts_batch: opts.batch,
        lease: opts.lease,
    };
    log(&format!(
        "dispatching reminders from {} ({})",
        opts.db.display(),
        match d.mailer {
            Mailer::Smtp(..) | Mailer::Relay(_) => "SMTP".to_string(),
            Mailer::File(ref p) => format!("e-mails written to {}", p.display()),
        }
    ));
    let mut buf = [0u8; 64];
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
        let next = outbox::next_wake(d.store.conn())?;
        let now = time::now();
        let sleep = match next {
            Some(t) if t <= now => std::time::Duration::from_millis(0),
            Some(t) => (t - now).to_std().unwrap_or_default().min(opts.idle_check),
            None => opts.idle_check,
        };
        if sleep.is_zero() {
            continue;
        }
        match &wake {
            Some(w) => {
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = w.recv(&mut buf) => {}
                    _ = stopped.notified() => {}
                }
            }
            None => {
                tokio::select! {
                    _ = tokio::time::sleep(sleep) => {}
                    _ = stopped.notified() => {}
                }
            }
        }
    }
    let _ = std::fs::remove_file(&wake_file);
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
