//! vigie: a GDPR breach-notification workflow engine.
//!
//! The modules, from the inside out. Every `crate::` reference points down this list or
//! sideways, never up (`tests/house.rs` fails on any cycle between them).
//!
//! **Bottom: helpers and time.**
//! - [`util`]: the edge helpers everything may use: quoting and one-line errors,
//!   `hash::sha256_hex` (SHA-256 written as hex in one place), `email::parse`, `yaml` (the
//!   one door to the YAML parser, errors with line and column), text every backend stores.
//! - [`time`]: instants typed by a DPO, the clock (`time::now`, pinned by `VIGIE_NOW`),
//!   durations (hours absolute, days and months calendar), dates written out in fr/en/nl.
//! - [`counting`]: how a clock counts its period (conservative, or Regulation 1182/71 with
//!   the public holidays of France and Belgium, computed for any year).
//! - [`proof`]: proof that holds outside vigie, bytes in and verdicts out: RFC 3161
//!   time-stamp queries and tokens (`tsp`, `stamp`, `verify`: CMS signature, imprint,
//!   the TSA's timeStamping purpose and chain) and C2SP signed notes with Ed25519 keys.
//!
//! **The law as data, and the pure core.**
//! - [`workflow`]: YAML → validated, immutable [`workflow::Workflow`] (`compile`, one file
//!   per part: facts, events, tracks, clocks, documents, intake, regimes), conditions in
//!   three-valued logic, facts and their types, Mermaid graphs.
//! - [`assess`]: the risk assessment (ENISA's severity and the duties it leads to) from
//!   rules that are data (`workflows/rules/assessment.yaml`, compiled in `assess::rules`);
//!   pure, conservative with unknown facts; `assess::frozen` is the recorded decision.
//! - [`case`]: the functional core. `decide(workflow, case, command, now)` gives events or
//!   a rejection; `evolve` folds events into a case; `clock` computes every due time;
//!   `reminders` plans the reminder timers from the clocks (pure).
//! - [`catalog`]: the workflows a process knows with their assessment rules (embedded,
//!   replaced id by id by a configured folder); above `workflow` and `assess`.
//!
//! **What surrounds a case.**
//! - [`org`]: an organisation's profile (identity, DPO, representative, reminder
//!   recipients, regimes), which every output of its cases carries.
//! - [`render`]: drafts from Handlebars templates (strict) in fr, en and nl, as Markdown,
//!   text, HTML, JSON (the EDPB template, `render::edpb`, one function per section) and
//!   PDF (`render::pdf`: fonts, line breaking, right-to-left shaping, letters); the view
//!   a template sees (`build_view`) and the labels of each language (`render::labels`).
//! - [`store`]: the event log (hash-chained, one transaction per command) and the pinned
//!   workflow texts, organisations, users, sessions, tokens, invitations, OIDC links and
//!   reminder timers, over the traits of `store::backend`; `store::sqlite` and
//!   `store::postgres` implement them, one file per trait with the same names on both
//!   sides, and are the only modules that see SQL or a driver type. `store::copy` moves a
//!   register between backends; `store::checkpoint` proves what the register held.
//! - [`mail`]: the transports (SMTP through our pool, `relay`, in clear, STARTTLS or TLS,
//!   or `.eml` files), each recipient's outcome, and the reminder, checkpoint and
//!   invitation e-mails.
//! - [`outbox`]: reminder timers claimed under a lease and what became of each recipient,
//!   by keyed hash (`delivery`); on top of `store` and `mail`.
//! - [`notify`]: bulk art. 34 notification (`vigie notify`) as a `Campaign` (open, resume,
//!   stream, finish) with a `Batch` that flushes itself: a streamed CSV, a letter rendered
//!   once per language, a ledger keyed by a keyed hash of each person, SMTP refusals kept
//!   only as codes and redacted text.
//! - [`register`]: the breach register's rows (art. 33(5)), for the CLI, web and CSV.
//! - [`calendar`]: iCalendar text of deadlines (VTIMEZONE from the IANA rules, alarms,
//!   SEQUENCE, STATUS), for the calendar feed.
//! - [`oidc`]: the `auth.oidc` settings (sign-in through the company's identity provider)
//!   and their checks.
//!
//! **The application layer and its edges.**
//! - [`config`]: the configuration file, the top aggregator of the parts' settings (mail,
//!   folders that override embedded files, the `default` organisation's identity, OIDC).
//! - [`app`]: each use-case once (open, change, list, draft, issue, register, profile,
//!   users, intake, access log, notify) for the CLI and the web; resolves the
//!   organisation, its profile, the workflows and the store, and wakes the dispatcher
//!   after writes.
//! - [`seed`]: replaying the real incidents of `seeds/` through `decide`.
//! - [`serve`]: the composition root of `vigie serve` (tokio): the web, the reminder
//!   `dispatcher` (sleeps until the next timer or a poke, claims under a lease, sends),
//!   the register `checkpoints` mailed to each DPO, and the first start's `setup_link`.
//! - [`web`]: the HTTP side (axum): the JSON API, the pages, sign-in (password or OIDC),
//!   sessions, CSRF; every request scoped to the caller's organisation (`for_caller`).
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
pub mod proof;
pub mod register;
pub mod render;
pub mod seed;
pub mod serve;
pub mod store;
pub mod time;
pub mod util;
pub mod web;
pub mod workflow;
