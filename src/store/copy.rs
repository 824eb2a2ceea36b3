//! `vigie store copy`: everything of one database into another, empty one (moving from
//! SQLite to PostgreSQL, or back). Rows are copied as they are: the events keep their
//! hashes, so every chain can be verified on arrival against the same genesis; the
//! ledger key is copied with the ledger, so a person already notified is still
//! recognised. Works through the storage boundary only, so any backend to any backend.
//!
//! The target's meta `copied` says `incomplete` from its first write until the copy is
//! verified, then when and from where it was copied: a copy cut off half-way is refused
//! by `Store::open` until it is dropped and copied again, never used as if it were whole.

use super::StoreError;
use super::backend::{Backend, Result};

/// The meta key recording the copy.
pub const COPIED: &str = "copied";
/// Its value's start while the copy is not finished.
pub const INCOMPLETE: &str = "incomplete";

/// How much was copied.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    pub organisations: usize,
    pub workflows: usize,
    pub cases: usize,
    pub events: usize,
    pub timers: usize,
    pub campaigns: usize,
    pub ledger_rows: usize,
    /// People (one per e-mail), and their memberships (one per organisation each).
    pub users: usize,
    pub memberships: usize,
    pub sessions: usize,
    pub tokens: usize,
    /// Users' calendar addresses (issue 13 part 2): a subscribed calendar keeps working.
    pub calendar_tokens: usize,
    /// Texts of issued documents and access-log entries (issue 13 part 4).
    pub issued_texts: usize,
    pub access_entries: usize,
}

/// Cases are written in batches of this many (with their events), ledger rows too.
const BATCH: usize = 2_000;

/// Copies `from` into `to`, which must be empty. `progress` is told each step.
pub fn copy(
    from: &mut dyn Backend,
    to: &mut dyn Backend,
    progress: &mut dyn FnMut(&str),
) -> Result<Copied> {
    if !to.is_empty()? {
        return Err(StoreError::BadUrl(format!(
            "the target database {} is not empty: `vigie store copy` writes only into a new, empty database",
            to.describe()
        )));
    }
    if to.kind() == "postgres" {
        // Refused before the first write, naming the row: a copy cut short by it would
        // leave a target to drop.
        if let Some(row) = unstorable_row(from)? {
            return Err(StoreError::BadUrl(format!(
                "{row} holds a NUL character (U+0000), which PostgreSQL cannot store: nothing was copied"
            )));
        }
    }
    to.set_meta(
        COPIED,
        &format!("{INCOMPLETE}: started {}", crate::time::now().to_rfc3339()),
    )?;
    let mut n = Copied::default();

    // The program's own values first: the ledger key keys every person of the ledger.
    for (k, v) in from.metas()? {
        if k != COPIED {
            to.set_meta(&k, &v)?;
        }
    }

    for (id, name, profile) in from.organisations()? {
        if to.organisation(&id)?.is_none() {
            to.insert_organisation(&id, &name, &profile)?;
        } else {
            to.set_profile(&id, &profile)?;
        }
        n.organisations += 1;
    }
    progress(&format!("copied {} organisation(s)", n.organisations));

    let wfs = from.workflows()?;
    n.workflows = wfs.len();
    to.load_workflows(&wfs)?;

    let heads = from.heads(None)?;
    for chunk in heads.chunks(BATCH) {
        let mut events = Vec::with_capacity(chunk.len());
        for h in chunk {
            let evs = from.events(&h.org, &h.id, None)?;
            n.events += evs.len();
            events.push((h.org.clone(), h.id.clone(), evs));
        }
        to.load_cases(chunk, &events)?;
        n.cases += chunk.len();
        progress(&format!(
            "copied {} case(s), {} event(s)",
            n.cases, n.events
        ));
    }
    to.load_counters(&from.counters()?)?;

    let timers = from.dump_timers()?;
    n.timers = timers.len();
    to.load_timers(&timers)?;
    progress(&format!("copied {} reminder(s)", n.timers));

    // One row per membership; each person is written with their first.
    let users = from.user_rows(None)?;
    n.memberships = users.len();
    n.users = users
        .iter()
        .map(|u| u.user.id)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    to.load_users(&users)?;
    let sessions = from.sessions()?;
    n.sessions = sessions.len();
    to.load_sessions(&sessions)?;
    let tokens = from.token_rows()?;
    n.tokens = tokens.len();
    to.load_tokens(&tokens)?;
    let calendar = from.calendar_token_rows()?;
    n.calendar_tokens = calendar.len();
    to.load_calendar_tokens(&calendar)?;
    progress(&format!(
        "copied {} user(s) with {} membership(s), {} calendar address(es)",
        n.users, n.memberships, n.calendar_tokens
    ));

    let campaigns = from.campaigns()?;
    n.campaigns = campaigns.len();
    to.load_campaigns(&campaigns)?;
    let mut batch = Vec::with_capacity(BATCH);
    let mut rows = 0usize;
    let mut failed: Option<StoreError> = None;
    from.ledger_rows(&mut |row| {
        batch.push(row);
        if batch.len() == BATCH {
            if let Err(e) = to.load_ledger(&batch) {
                failed = Some(e);
                return Err(StoreError::Db("copy stopped".into()));
            }
            rows += batch.len();
            batch.clear();
        }
        Ok(())
    })
    .or_else(|e| failed.take().map_or(Err(e), Err))?;
    to.load_ledger(&batch)?;
    n.ledger_rows = rows + batch.len();
    progress(&format!("copied {} ledger row(s)", n.ledger_rows));

    let texts = from.issued_texts()?;
    let mut access = Vec::new();
    for (org, _, _) in from.organisations()? {
        access.extend(from.access_log(&org, None)?);
    }
    access.sort_by_key(|a| a.id);
    n.issued_texts = texts.len();
    n.access_entries = access.len();
    to.load_access(&access, &texts)?;
    progress(&format!(
        "copied {} issued text(s), {} access entrie(s)",
        n.issued_texts, n.access_entries
    ));

    Ok(n)
}

/// Whether a stored JSON text holds a NUL once read (`\u0000` escaped, or raw).
fn json_has_nul(text: &str) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => !super::storable(s),
            serde_json::Value::Array(items) => items.iter().any(walk),
            serde_json::Value::Object(m) => m.iter().any(|(k, v)| !super::storable(k) || walk(v)),
            _ => false,
        }
    }
    !super::storable(text)
        || (text.contains("u0000")
            && serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| walk(&v)))
}

/// The first row of `from` that PostgreSQL cannot store (a NUL character, which a
/// SQLite database written before vigie refused it may hold), named for the message.
fn unstorable_row(from: &mut dyn Backend) -> Result<Option<String>> {
    let bad = |s: &str| !super::storable(s);
    let q = crate::util::quote;
    for (id, name, profile) in from.organisations()? {
        if bad(&id) || bad(&name) || json_has_nul(&profile) {
            return Ok(Some(format!("organisation {}", q(&id))));
        }
    }
    for w in from.workflows()? {
        if bad(&w.source) || bad(&w.origin) || bad(&w.id) {
            return Ok(Some(format!("workflow {} ({})", q(&w.id), &w.hash)));
        }
    }
    for h in from.heads(None)? {
        if bad(&h.org) || bad(&h.id) || bad(&h.title) {
            return Ok(Some(format!(
                "case {} of organisation {} (its title)",
                q(&h.id),
                q(&h.org)
            )));
        }
        for e in from.events(&h.org, &h.id, None)? {
            if bad(&e.actor) || bad(&e.kind) || json_has_nul(&e.payload) {
                return Ok(Some(format!(
                    "event #{} of case {} of organisation {}",
                    e.seq,
                    q(&h.id),
                    q(&h.org)
                )));
            }
        }
    }
    for u in from.user_rows(None)? {
        if bad(&u.user.email) || bad(&u.user.name) {
            return Ok(Some(format!("user #{}", u.user.id)));
        }
    }
    for t in from.token_rows()? {
        if bad(&t.name) {
            return Ok(Some(format!("an API token of user #{}", t.user_id)));
        }
    }
    for t in from.issued_texts()? {
        if bad(&t.text) {
            return Ok(Some(format!(
                "an issued text of case {} of organisation {}",
                q(&t.case_id),
                q(&t.org)
            )));
        }
    }
    for (org, _, _) in from.organisations()? {
        for a in from.access_log(&org, None)? {
            if bad(&a.actor) || bad(&a.action) || bad(&a.object) {
                return Ok(Some(format!(
                    "access-log entry #{} of organisation {}",
                    a.id,
                    q(&org)
                )));
            }
        }
    }
    Ok(None)
}

/// Ends a copy whose arrival was verified: the target becomes usable, and records
/// where it came from.
pub fn finish(to: &mut dyn Backend, from: &str) -> Result<()> {
    to.set_meta(
        COPIED,
        &format!("{} from {from}", crate::time::now().to_rfc3339()),
    )
}

/// The error for a database a copy did not finish writing, if it is one.
pub fn check_complete(b: &mut dyn Backend) -> Result<()> {
    match b.meta(COPIED)? {
        Some(v) if v.starts_with(INCOMPLETE) => Err(StoreError::Unavailable {
            db: b.describe(),
            reason: "a `vigie store copy` into it did not finish: drop it and copy again".into(),
        }),
        _ => Ok(()),
    }
}

/// What `vigie store copy` did, for its report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub copied: Copied,
    /// Cases and events whose chains were recomputed in the target.
    pub verified_cases: usize,
    pub verified_events: usize,
}

/// Copies the database `from` names into the empty one `to` names, verifies every chain
/// on arrival and that each case ends where it ended in the source, then marks the copy
/// finished. A target that does not verify stays marked incomplete (refused by
/// `Store::open`).
pub fn run(from: &str, to: &str, progress: &mut dyn FnMut(&str)) -> Result<Report> {
    if let super::DbUrl::Sqlite(p) = super::DbUrl::parse(from)?
        && !p.exists()
    {
        return Err(StoreError::BadUrl(format!(
            "--from: there is no database at {}",
            p.display()
        )));
    }
    // One file under two names (`./x.db`, a link...) is one database: said so before the
    // target is opened, not reported as a target that is not empty.
    if let (super::DbUrl::Sqlite(a), super::DbUrl::Sqlite(b)) =
        (super::DbUrl::parse(from)?, super::DbUrl::parse(to)?)
        && let (Ok(ca), Ok(cb)) = (std::fs::canonicalize(&a), std::fs::canonicalize(&b))
        && ca == cb
    {
        return Err(StoreError::BadUrl(format!(
            "--from and --to name the same database ({})",
            a.display()
        )));
    }
    // A SQLite source is copied from a snapshot taken in one read transaction: a
    // `vigie serve` or a command writing it meanwhile changes nothing of the copy. The
    // snapshot holds the register: it lives in a private temporary folder, removed after.
    let snapshot = match super::DbUrl::parse(from)? {
        super::DbUrl::Sqlite(p) => Some(super::sqlite::snapshot(&p)?),
        super::DbUrl::Postgres(_) => None,
    };
    let mut src = match &snapshot {
        Some((_dir, path)) => super::Store::open(path)?,
        None => super::Store::open_url(from)?,
    };
    // A PostgreSQL source cannot be frozen from here: it must be quiet, said at once.
    // (A client that has just exited may still be listed for a moment: asked again
    // for up to 2 s before refusing.)
    let mut others = src.backend().other_connections()?;
    for _ in 0..10 {
        if others.unwrap_or(0) == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        others = src.backend().other_connections()?;
    }
    if let Some(n) = others
        && n > 0
    {
        return Err(StoreError::BadUrl(format!(
            "--from: {n} other connection(s) to {} are open (a running `vigie serve`, a command?): a copy needs the source quiet; stop them, then copy",
            src.describe()
        )));
    }
    let source_name = match &snapshot {
        Some(_) => super::DbUrl::parse(from)
            .map(|u| match u {
                super::DbUrl::Sqlite(p) => p.display().to_string(),
                super::DbUrl::Postgres(u) => u,
            })
            .unwrap_or_else(|_| from.to_string()),
        None => src.describe(),
    };
    let mut dst = super::Store::open_url(to)?;
    if src.kind() == dst.kind() && source_name == dst.describe() {
        return Err(StoreError::BadUrl(format!(
            "--from and --to name the same database ({source_name})"
        )));
    }
    let copied = copy(src.backend(), dst.backend(), progress)?;
    progress("verifying every chain in the target");
    let (cases, events, problems) = dst.verify()?;
    if let Some(p) = problems.first() {
        return Err(StoreError::Db(format!(
            "the copy does not verify ({} problem(s); case {} event #{}: {}): the target is left marked incomplete",
            problems.len(),
            p.case,
            p.seq,
            p.problem
        )));
    }
    // Each case ends at the same event with the same hash as in the source.
    type Ends = Vec<(String, String, i64, String, String)>;
    let ends = |s: &mut super::Store| -> Result<Ends> {
        Ok(s.backend()
            .heads(None)?
            .into_iter()
            .map(|h| (h.org, h.id, h.seq, h.last_hash, h.workflow_hash))
            .collect())
    };
    if ends(&mut src)? != ends(&mut dst)? || cases != copied.cases || events != copied.events {
        return Err(StoreError::Db(
            "the copy's cases do not end where the source's do: the target is left marked incomplete"
                .into(),
        ));
    }
    finish(dst.backend(), &source_name)?;
    Ok(Report {
        from: source_name,
        to: dst.describe(),
        copied,
        verified_cases: cases,
        verified_events: events,
    })
}
