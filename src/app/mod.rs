//! The application layer: each use-case of vigie written once (open a case, change it,
//! show it, list them, draft, the register, an organisation's profile), called by the
//! command line (`cli/`) and by the web page and API (`web/`). It resolves what a
//! use-case needs: the organisation and its profile, the workflow set, the templates and
//! the store; `now` comes from the edge (the program's one clock, `time::now`).
//!
//! The edges only parse and print: exit codes are chosen in `cli`, status codes in `web`,
//! from [`AppError`]. Every write that commits wakes the reminder dispatcher.

pub mod access;
pub mod assess;
pub mod calendar;
pub mod fill;
pub mod initial;
pub mod inspection;
pub mod intake;
pub mod issued;
pub mod json;
pub mod pdf;
pub mod proof;
pub mod refusal;
pub mod regimes;
pub mod setup;
pub mod submission;
pub mod users;
pub mod whatif;

use crate::case::Command;
use crate::catalog::WorkflowSet;
use crate::config::Config;
use crate::org::{Profile, ProfileError};
use crate::render::{Draft, Format, RenderError, Templates};
use crate::store::{AccountError, DEFAULT_ORG, Loaded, Store, StoreError, Unreadable};
use crate::time::{self, Lang};
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a use-case did not happen. `is_input` tells the edges whether the caller can
/// correct it (exit 2, HTTP 4xx) or it is a runtime failure (exit 1, HTTP 5xx).
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(
        "unknown organisation {} (known: {known}); create it with `vigie org add ID --name \"...\"`",
        crate::util::quote(.org)
    )]
    UnknownOrg { org: String, known: String },
    /// A value the caller gave in a named field: each edge names the field its own way
    /// (`aware_at` in the API, `--aware-at` on the command line).
    #[error("{field}: {message}")]
    Field {
        field: &'static str,
        message: String,
    },
    /// Another input the caller can correct; the message names what.
    #[error("{0}")]
    Input(String),
    /// Something the caller named that is not there (an issued document's hash): 404.
    #[error("{0}")]
    NotFound(String),
    /// A PDF could not be written (src/render/pdf.rs).
    #[error(transparent)]
    Pdf(#[from] crate::render::pdf::PdfError),
}

impl AppError {
    /// True when the caller's input is at fault, not the program or its database.
    pub fn is_input(&self) -> bool {
        match self {
            AppError::Store(e) => e.is_input(),
            AppError::Render(e) => !matches!(e, RenderError::Read { .. }),
            AppError::Account(e) => e.is_input(),
            AppError::Profile(_)
            | AppError::UnknownOrg { .. }
            | AppError::Field { .. }
            | AppError::Input(_)
            | AppError::NotFound(_) => true,
            AppError::Pdf(_) => false,
        }
    }
}

/// What a caller asks of a case, from the CLI, a form or a JSON body. Fact values are
/// raw JSON (null unsets), typed by the workflow in `decide`.
#[derive(Default, Clone)]
pub struct Change {
    /// The workflow event to record; None: the facts are set, no event.
    pub event: Option<String>,
    pub facts: Vec<(String, Value)>,
    pub note: Option<String>,
    /// When it happened (RFC 3339 or local time in the workflow's zone); None: now.
    pub at: Option<String>,
    /// The last event the caller saw; a newer one refuses the change.
    pub expected_seq: Option<i64>,
    /// Why the change is recorded only now: needed when `at` is more than 24 h ago.
    pub reason: Option<String>,
    /// Facts set from the page's intake: the workflow's derived facts (`intake.derive`)
    /// follow the facts they are derived from.
    pub derive: bool,
}

/// A new account: its e-mail, name, role and password (checked by the store's rules).
#[derive(Clone, Copy)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: crate::store::Role,
    pub password: &'a str,
}

/// A new case.
pub struct OpenCase {
    /// None: the organisation's default workflow.
    pub workflow: Option<String>,
    pub title: String,
    /// When the organisation became aware (RFC 3339, or local time in the workflow's zone).
    pub aware_at: String,
    pub id: Option<String>,
    pub facts: Vec<(String, Value)>,
}

/// A draft as asked for: document, and optional language and format as typed.
pub struct DraftRequest {
    pub document: String,
    pub lang: Option<String>,
    pub format: Option<String>,
}

/// The language and format a draft request asks for, with their defaults: the
/// organisation's language, else the workflow's; markdown.
fn draft_options(
    profile: &Profile,
    wf: &crate::workflow::Workflow,
    req: &DraftRequest,
) -> Result<(Lang, Format), AppError> {
    let lang = match req.lang.as_deref().map(str::trim) {
        None | Some("") => profile.lang().unwrap_or(wf.lang),
        Some(s) => Lang::parse(s).ok_or_else(|| AppError::Field {
            field: "lang",
            message: format!("{} is not {}", crate::util::quote(s), Lang::choices()),
        })?,
    };
    // A language the workflow does not draft in (nl for a CNIL form) falls back to its own.
    let lang = wf.draft_lang(lang);
    let format = match req.format.as_deref().map(str::trim) {
        None | Some("") => Format::Md,
        Some(s) => Format::parse(s).ok_or_else(|| AppError::Field {
            field: "format",
            message: format!("{} is not md, html, txt or json", crate::util::quote(s)),
        })?,
    };
    Ok((lang, format))
}

pub struct App {
    pub config: Config,
    pub workflows: WorkflowSet,
    pub templates: Templates,
    /// The database URL (or SQLite path), for the connections the edges open.
    pub db: String,
    /// Folded cases by (org, id), valid while their sequence number is unchanged.
    cache: Mutex<HashMap<(String, String), Arc<Loaded>>>,
}

const CACHE_MAX: usize = 20_000;

/// The profile of `org` as every output shows it (None: no such organisation): the
/// stored one, and for the `default` organisation the configuration file's values
/// where the stored profile has none.
pub fn profile_of(
    store: &mut Store,
    config: &Config,
    org: &str,
) -> Result<Option<Profile>, StoreError> {
    Ok(store.profile(org)?.map(|stored| {
        if org == DEFAULT_ORG {
            stored.or(config.default_profile())
        } else {
            stored
        }
    }))
}

/// Checks that `org` exists; the error lists the known ones.
pub fn check_org(store: &mut Store, org: &str) -> Result<(), AppError> {
    if store.organisation_name(org)?.is_some() {
        return Ok(());
    }
    Err(unknown_org(store, org))
}

fn unknown_org(store: &mut Store, org: &str) -> AppError {
    match store.organisations() {
        Ok(list) => AppError::UnknownOrg {
            org: org.to_string(),
            known: list
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
                .join(", "),
        },
        Err(e) => AppError::Store(e),
    }
}

impl App {
    pub fn new(db: String, config: Config, workflows: WorkflowSet) -> App {
        App {
            templates: config.templates(),
            config,
            workflows,
            db,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Tells a running dispatcher that timers may have changed.
    pub fn wake(&self, store: &mut Store) {
        store.wake();
    }

    /// Checks that `org` exists; the error lists the known ones.
    pub fn check_org(&self, store: &mut Store, org: &str) -> Result<(), AppError> {
        check_org(store, org)
    }

    /// The profile every output of `org`'s cases shows. The configuration file fills in
    /// what the `default` organisation's stored profile leaves unset; no other
    /// organisation ever gets a value from it.
    pub fn profile(&self, store: &mut Store, org: &str) -> Result<Profile, AppError> {
        profile_of(store, &self.config, org)?.ok_or_else(|| unknown_org(store, org))
    }

    /// Changes fields of `org`'s stored profile (`vigie org set`, the organisation page).
    /// Every value is checked before anything is written.
    pub fn set_profile(
        &self,
        store: &mut Store,
        org: &str,
        changes: &[(String, String)],
    ) -> Result<Profile, AppError> {
        self.check_org(store, org)?;
        let mut p = store.profile(org)?.unwrap_or_default();
        for (field, value) in changes {
            p.set(field, value)?;
            if field == "workflow"
                && let Some(w) = &p.workflow
                && self.workflows.get(w).is_none()
            {
                return Err(AppError::Input(format!(
                    "workflow: unknown workflow {} (known: {})",
                    crate::util::quote(w),
                    self.workflow_ids()
                )));
            }
        }
        store.set_profile(org, &p)?;
        // Reminders that failed may go out now that the recipients changed.
        crate::outbox::retry_org(store, org, crate::time::now())?;
        self.wake(store);
        self.profile(store, org)
    }

    /// Adds a user to `org` (`vigie user add`, the setup page): the password rules and
    /// the checks of every account.
    pub fn add_user(
        &self,
        store: &mut Store,
        org: &str,
        user: &NewUser,
        now: DateTime<Utc>,
    ) -> Result<crate::store::User, AppError> {
        let NewUser {
            email,
            name,
            role,
            password,
        } = *user;
        Ok(store.add_user(org, email.trim(), name.trim(), role, password, now)?)
    }

    /// Adds an organisation, its name checked like any profile field.
    pub fn add_org(&self, store: &mut Store, id: &str, name: &str) -> Result<(), AppError> {
        let mut p = Profile::default();
        p.set("name", name)?;
        store.add_organisation(id, p.name.as_deref().unwrap_or(name))?;
        Ok(())
    }

    fn workflow_ids(&self) -> String {
        self.workflows.ids().cloned().collect::<Vec<_>>().join(", ")
    }

    pub fn workflow(&self, id: &str) -> Result<Arc<Workflow>, AppError> {
        self.workflows.get(id).ok_or_else(|| {
            AppError::Input(format!(
                "unknown workflow {} (known: {})",
                crate::util::quote(id),
                self.workflow_ids()
            ))
        })
    }

    /// A case of `org`, folded; from the cache when no event was added since.
    pub fn case(&self, store: &mut Store, org: &str, id: &str) -> Result<Arc<Loaded>, AppError> {
        let seq = store
            .case_seq(org, id)?
            .ok_or_else(|| StoreError::UnknownCase(id.to_string()))?;
        let key = (org.to_string(), id.to_string());
        if let Some(l) = self.cache.lock().expect("cache").get(&key)
            && l.case.seq == seq
        {
            return Ok(l.clone());
        }
        let l = Arc::new(store.load(org, id)?);
        self.remember(l.clone());
        Ok(l)
    }

    /// The case whose head was just read (`Store::token_case`), folded; from the cache
    /// when no event was added since, else its events are read now.
    pub fn case_at(
        &self,
        store: &mut Store,
        head: crate::store::backend::CaseHead,
    ) -> Result<Arc<Loaded>, AppError> {
        let key = (head.org.clone(), head.id.clone());
        if let Some(l) = self.cache.lock().expect("cache").get(&key)
            && l.case.seq == head.seq
        {
            return Ok(l.clone());
        }
        let l = Arc::new(store.load_at(head)?);
        self.remember(l.clone());
        Ok(l)
    }

    fn remember(&self, l: Arc<Loaded>) {
        let mut cache = self.cache.lock().expect("cache");
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert((l.case.org.clone(), l.case.id.clone()), l);
    }

    /// Opens a case in `org`.
    pub fn open_case(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        req: OpenCase,
        now: DateTime<Utc>,
    ) -> Result<Arc<Loaded>, AppError> {
        let workflow = match req.workflow.filter(|w| !w.trim().is_empty()) {
            Some(w) => w.trim().to_string(),
            None => self.profile(store, org)?.workflow.ok_or_else(|| {
                AppError::Input(format!(
                    "workflow: name one (known: {}), or set the organisation's default with `vigie org set {org} --workflow ID`",
                    self.workflow_ids()
                ))
            })?,
        };
        let wf = self.workflow(&workflow)?;
        let title = req.title.trim();
        if title.is_empty() {
            return Err(AppError::Field {
                field: "title",
                message: "a case needs a title".into(),
            });
        }
        let aware =
            time::parse_instant(req.aware_at.trim(), wf.timezone).map_err(|e| AppError::Field {
                field: "aware_at",
                message: e.to_string(),
            })?;
        // The law as it stood when the organisation became aware: the version in force
        // then (issue 26 part 3), pinned like any workflow text.
        let wf = self
            .workflows
            .in_force(&workflow, aware)
            .map_err(AppError::Input)?;
        let mut facts = req.facts;
        facts.retain(|(k, _)| k != "aware_at");
        facts.push((
            "aware_at".into(),
            Value::String(time::rfc3339_in(aware, wf.timezone)),
        ));
        // Which regimes apply, as the profile says now: recorded in the case's own log
        // (a later change of the profile never changes an open case; `case set` does).
        let profile_facts = self
            .profile(store, org)?
            .regime_facts()
            .into_iter()
            .map(|(f, v)| (f.to_string(), Value::Bool(v)))
            .collect();
        let cmd = Command::OpenWithProfile {
            title: title.to_string(),
            facts,
            profile_facts,
            at: now,
        };
        let id = req.id.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let l = Arc::new(store.open_case(org, &self.workflows, &wf.key(), id, &cmd, actor, now)?);
        self.remember(l.clone());
        self.wake(store);
        Ok(l)
    }

    /// Sets facts (`change.event` None) or records a workflow event.
    pub fn change(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        change: Change,
        now: DateTime<Utc>,
    ) -> Result<Arc<Loaded>, AppError> {
        // A caller who saw no page (the CLI, a script) pins nothing: when another writer
        // moves the case while its decision is assessed, it is decided again on the
        // case as it now is, instead of refusing what nobody looked at.
        let pinned = change.expected_seq.is_some();
        let mut tries = 0;
        loop {
            match self.change_once(store, org, actor, id, &change, now) {
                Err(AppError::Store(StoreError::Conflict { .. })) if !pinned && tries < 20 => {
                    tries += 1;
                }
                r => return r,
            }
        }
    }

    fn change_once(
        &self,
        store: &mut Store,
        org: &str,
        actor: &str,
        id: &str,
        change: &Change,
        now: DateTime<Utc>,
    ) -> Result<Arc<Loaded>, AppError> {
        let loaded = self.case(store, org, id)?;
        let event = change.event.clone();
        let (cmd, expected_seq) = self.command(store, org, &loaded, event, change, now)?;
        let l = Arc::new(store.execute_at_seq(org, id, &cmd, actor, now, expected_seq)?);
        self.remember(l.clone());
        self.wake(store);
        Ok(l)
    }

    /// The command a change makes of `loaded` (checked as `change` checks it), and the
    /// sequence number it is decided at.
    fn command(
        &self,
        store: &mut Store,
        org: &str,
        loaded: &Loaded,
        event: Option<String>,
        change: &Change,
        now: DateTime<Utc>,
    ) -> Result<(Command, Option<i64>), AppError> {
        let mut change = change.clone();
        if change.derive && event.is_none() {
            let extra = intake::derived(&loaded.workflow, &loaded.case, &change.facts);
            change.facts.extend(extra);
        }
        let tz = loaded.workflow.timezone;
        let at = match change.at.as_deref().map(str::trim) {
            None | Some("") | Some("now") => now,
            Some(s) => time::parse_instant(s, tz).map_err(|e| AppError::Field {
                field: "at",
                message: e.to_string(),
            })?,
        };
        let decision = match &event {
            Some(e) => self.decision_command(store, org, loaded, e, &change, at)?,
            None => {
                self.check_risk_set(store, org, loaded, &change)?;
                None
            }
        };
        // A decision is checked against the assessment of the case as the caller saw it.
        let expected_seq = match (&decision, change.expected_seq) {
            (Some(_), None) => Some(loaded.case.seq),
            (_, seq) => seq,
        };
        let cmd = match event {
            _ if decision.is_some() => decision.expect("some"),
            Some(event) => Command::Advance {
                event,
                facts: change.facts,
                note: change.note,
                at,
                reason: change.reason,
            },
            None => Command::SetFacts {
                facts: change.facts,
                note: change.note,
                at,
                reason: change.reason,
            },
        };
        Ok((cmd, expected_seq))
    }

    /// Whether recording `event` on the case now would be accepted: the same decision
    /// as [`App::change`], written nowhere (a dry run, for a page's "ready").
    pub fn would_accept(
        &self,
        store: &mut Store,
        org: &str,
        loaded: &Loaded,
        event: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        let (cmd, _) = self.command(
            store,
            org,
            loaded,
            Some(event.to_string()),
            &Change::default(),
            now,
        )?;
        crate::case::decide(&loaded.workflow, Some(&loaded.case), &cmd, now)
            .map_err(|e| AppError::Store(e.into()))?;
        Ok(())
    }

    /// A case for a list: one that cannot be read back is set aside in `unreadable`
    /// (named, never silently dropped) instead of failing the organisation's whole list.
    fn listed(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        unreadable: &mut Vec<Unreadable>,
    ) -> Result<Option<Arc<Loaded>>, AppError> {
        match self.case(store, org, id) {
            Ok(l) => Ok(Some(l)),
            Err(AppError::Store(e)) if e.is_unreadable_case() => {
                unreadable.push(Unreadable {
                    case: id.to_string(),
                    reason: e.to_string(),
                });
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The organisation's cases, open ones first, nearest deadline first (computed now:
    /// a stored next due time may be stale after a clock fell due), and the cases that
    /// cannot be read back (see `vigie audit verify`).
    pub fn cases(
        &self,
        store: &mut Store,
        org: &str,
        all: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Arc<Loaded>>, Vec<Unreadable>), AppError> {
        let mut rows = Vec::new();
        let mut unreadable = Vec::new();
        for id in store.case_ids(org, all)? {
            let Some(l) = self.listed(store, org, &id, &mut unreadable)? else {
                continue;
            };
            let next =
                crate::case::clock::nearest_due(&crate::case::clocks(&l.workflow, &l.case, now));
            rows.push((l.case.is_closed(&l.workflow), next.is_none(), next, l));
        }
        rows.sort_by_key(|(closed, none, next, _)| (*closed, *none, *next));
        Ok((rows.into_iter().map(|r| r.3).collect(), unreadable))
    }

    /// Drafts a document of a case, signed with its own organisation's profile.
    pub fn draft(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        req: &DraftRequest,
        now: DateTime<Utc>,
    ) -> Result<(Draft, Format, Lang), AppError> {
        let l = self.case(store, org, id)?;
        let warning = regimes::check_document(&l.workflow, &l.case, &req.document)?;
        let profile = self.profile(store, org)?;
        let (lang, format) = draft_options(&profile, &l.workflow, req)?;
        // The assessment on the facts now, for a complementary notification (none when
        // the workflow has no rules).
        let current = self.assessment_of(l.clone(), lang).ok().map(|c| {
            crate::assess::assessment_json(&c.case.workflow, &c.current, &c.case.case.facts)
        });
        let mut d = crate::render::draft(
            &self.templates,
            &profile,
            &l.workflow,
            &l.case,
            &l.events,
            &req.document,
            lang,
            format,
            now,
            current.as_ref(),
        )?;
        d.warning = warning;
        Ok((d, format, lang))
    }

    /// The breach register of `org` (art. 33(5)): every case, in the order opened, and
    /// the cases that cannot be read back (never silently left out).
    pub fn register(
        &self,
        store: &mut Store,
        org: &str,
    ) -> Result<(Vec<crate::register::Row>, Vec<Unreadable>), AppError> {
        let figures = crate::register::ledger_figures(store, org)?;
        let mut out = Vec::new();
        let mut unreadable = Vec::new();
        for id in store.case_ids_by_opening(org)? {
            if let Some(l) = self.listed(store, org, &id, &mut unreadable)? {
                let rules = self.workflows.rules(&l.workflow.id);
                let decision = assess::recorded_decision(&l, rules.as_deref());
                out.push(
                    crate::register::row(&l.workflow, &l.case)
                        .with_ledger(&figures)
                        .with_decision(decision.as_ref())
                        .with_recommendations(assess::decision_recommendations(&l))
                        .with_backdating(&l.workflow, &l.events)
                        .with_submissions(&l.workflow, &l.events),
                );
            }
        }
        Ok((out, unreadable))
    }

    /// Notifies every person concerned by a case (art. 34), in letters signed by the
    /// case's own organisation; then wakes the dispatcher (the campaign is in the log).
    pub fn notify(
        &self,
        store: &mut Store,
        org: &str,
        opts: &crate::notify::Options,
        actor: &str,
        progress: &mut dyn crate::notify::Progress,
    ) -> Result<crate::notify::Outcome, crate::notify::NotifyError> {
        let profile = profile_of(store, &self.config, org)?.unwrap_or_default();
        let out = crate::notify::run(store, &self.config, &profile, org, opts, actor, progress);
        self.wake(store);
        out
    }

    /// The organisation's reminders: pending, failing and dead (`all`: sent and
    /// cancelled too).
    pub fn outbox(
        &self,
        store: &mut Store,
        org: &str,
        all: bool,
    ) -> Result<Vec<crate::outbox::Row>, AppError> {
        Ok(crate::outbox::list(store, org, all)?)
    }

    /// Requeues one dead or failing reminder of `org` now, and wakes the dispatcher.
    pub fn retry_reminder(
        &self,
        store: &mut Store,
        org: &str,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        if crate::outbox::retry(store, org, id, now)? {
            self.wake(store);
            Ok(())
        } else {
            Err(AppError::Input(format!(
                "no pending or dead reminder with id {id} (see `vigie outbox list`)"
            )))
        }
    }
}

impl App {
    /// The workflow an organisation works in by default: its profile's, else the
    /// French one (the default of a new case), if known.
    pub fn workflow_of_org(&self, store: &mut Store, org: &str) -> Option<Arc<Workflow>> {
        let wf = store
            .profile(org)
            .ok()
            .flatten()
            .and_then(|p| p.workflow)
            .unwrap_or_else(|| "fr".into());
        self.workflow(&wf).or_else(|_| self.workflow("fr")).ok()
    }

    /// The zone an organisation reads its times in: its workflow's, else UTC.
    pub fn zone_of_org(&self, store: &mut Store, org: &str) -> chrono_tz::Tz {
        self.workflow_of_org(store, org)
            .map(|w| w.timezone)
            .unwrap_or(chrono_tz::UTC)
    }
}
