//! vigie: a GDPR breach-notification workflow engine.
//!
//! Layout, from the inside out:
//! - [`time`]: instants typed by a DPO, workflow durations (hours absolute, days and
//!   months calendar), dates written out in French and English.
//! - [`counting`]: how a clock counts its period (conservative, or Regulation 1182/71
//!   with the public holidays of France and Belgium, computed for any year).
//! - [`workflow`]: the law as data. YAML → validated, immutable [`workflow::Workflow`]
//!   (`compile`), conditions in three-valued logic, facts and their types, Mermaid graphs.
//! - [`assess`]: the risk assessment: ENISA's severity and the duties it leads to, from
//!   rules that are data (`workflows/rules/assessment.yaml`, compiled in `assess::rules`);
//!   pure, conservative with unknown facts.
//! - [`case`]: the functional core. `decide(workflow, case, command, now)` gives events
//!   or a rejection; `evolve` folds events into a case; `clock` computes every due time.
//! - [`org`]: an organisation's profile (its identity, DPO, representative, reminder
//!   recipients), which every output of its cases carries.
//! - [`store`]: the event log (hash-chained, one transaction per command) and the
//!   pinned workflow texts, organisations, users, sessions and API tokens, over the
//!   traits of `store::backend`; `store::sqlite` implements them (its migrations in
//!   `migrations/sqlite/`) and is the only module that sees SQL or a driver type.
//! - [`notify`]: bulk art. 34 notification (`vigie notify`): a streamed CSV, a letter
//!   rendered once per language, a ledger keyed by a keyed hash of each person, SMTP
//!   refusals kept only as codes and redacted text (`notify::refusal`).
//! - [`outbox`]: reminder timers, planned from the clocks (`case::reminders`) and kept
//!   in step with each case by `store` in the same transaction, claimed under a lease by
//!   `vigie serve`; what became of each recipient, by keyed hash (`delivery`).
//! - [`mail`]: the transports (SMTP through our pool, `relay`, in clear, STARTTLS or
//!   TLS, or `.eml` files), each recipient's outcome (`send_each`), and the reminder
//!   e-mails with their `.ics` attachment.
//! - [`calendar`]: iCalendar text of deadlines (VTIMEZONE from the IANA rules, alarms,
//!   SEQUENCE, STATUS), for the calendar feed (`app::calendar`).
//! - [`render`]: drafts from Handlebars templates (strict), in fr and en, md/txt/html.
//! - [`web`]: the HTTP side of `vigie serve` (axum): the JSON API, the pages, sign-in,
//!   sessions, CSRF; every request scoped to the caller's organisation.
//! - [`register`]: the breach register's rows (art. 33(5)), for the CLI, web and CSV.
//! - [`serve`]: the reminder dispatcher of `vigie serve` (tokio): sleeps until the next
//!   timer or a poke, claims under a lease, sends, completes under its own token.
//! - [`seed`]: replaying the real incidents of `seeds/`.
//! - [`config`]: the configuration file: mail, folders that override embedded files, and
//!   the `default` organisation's identity (which fills in its stored profile).
//! - [`app`]: the application layer: each use-case once (open, change, list, draft,
//!   register, profile, notify), for the CLI and the web; resolves the organisation,
//!   its profile, the workflows and the store, and wakes the dispatcher after writes.
//! - [`cli`]: the `vigie` command line (clap), one file per command group: parse, call
//!   `app`, print; exit codes are chosen here only.

pub mod app;
pub mod assess;
pub mod calendar;
pub mod case;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod counting;
pub mod mail;
pub mod notify;
pub mod oidc;
pub mod org;
pub mod outbox;
pub mod register;
pub mod render;
pub mod seed;
pub mod serve;
pub mod store;
pub mod time;
pub mod util;
pub mod web;
pub mod workflow;
