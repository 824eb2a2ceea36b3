//! `vigie serve`, the composition root: the web page and API (`web`), the reminder
//! dispatcher ([`dispatcher`]), the checkpoints of the register mailed to each DPO
//! ([`checkpoints`]) and the first start's setup link ([`setup_link`]), started together
//! by [`run`]. The dispatcher sleeps until the next timer is due or a command pokes it
//! (a datagram on `<db>.wake`, NOTIFY on PostgreSQL); SIGTERM or Ctrl-C lets the
//! messages in flight finish, then exits.

mod checkpoints;
mod dispatcher;
mod setup_link;

use crate::config::Config;
use crate::mail::Mailer;
use crate::mail::reminder::ReminderTemplates;
use crate::outbox::{self, delivery};
use crate::store::Store;
use crate::time::{self, Lang};
use chrono::{Duration, Utc};
use dispatcher::{Dispatcher, heartbeat, recipients_at_start};
use setup_link::setup_link;
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
