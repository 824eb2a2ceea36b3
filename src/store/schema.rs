//! The SQLite schema, migrated by `PRAGMA user_version`.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: organisations, pinned workflows, cases and their event log.
    "CREATE TABLE organisations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL
     );
     INSERT INTO organisations (id, name) VALUES ('default', 'Default organisation');
     CREATE TABLE workflows (
        hash TEXT PRIMARY KEY,          -- SHA-256 of the exact text
        id TEXT NOT NULL,
        origin TEXT NOT NULL,
        source TEXT NOT NULL,
        stored_at TEXT NOT NULL
     );
     CREATE TABLE cases (
        org TEXT NOT NULL REFERENCES organisations(id),
        id TEXT NOT NULL,
        workflow TEXT NOT NULL,
        workflow_hash TEXT NOT NULL REFERENCES workflows(hash),
        title TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        -- a projection of the log, for listing; the events are the truth
        seq INTEGER NOT NULL,
        last_hash TEXT NOT NULL,
        closed INTEGER NOT NULL,
        next_due TEXT,
        PRIMARY KEY (org, id)
     );
     CREATE TABLE events (
        org TEXT NOT NULL,
        case_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,               -- effective time, UTC
        recorded_at TEXT NOT NULL,      -- UTC
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,          -- JSON, hashed as stored
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (org, case_id, seq)
     ) WITHOUT ROWID;
     -- The log is append-only: the program never updates or deletes an event.
     CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
     CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
    // 2: the reminder outbox. Rows are written in the transaction of the event that
    // created them; the dispatcher claims them with a lease.
    "CREATE TABLE timers (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,        -- org/case/clock/offset: the idempotency key
        org TEXT NOT NULL,
        case_id TEXT NOT NULL,
        clock TEXT NOT NULL,
        offset TEXT NOT NULL,            -- before-48h, overdue-0, overdue-1, ...
        due_at TEXT NOT NULL,            -- when the reminder is due (UTC, fixed width)
        next_attempt_at TEXT NOT NULL,   -- due_at, or later after a transient failure
        state TEXT NOT NULL,             -- pending | sent | dead | cancelled | superseded
        attempts INTEGER NOT NULL,
        last_error TEXT,
        locked_until TEXT,
        lock_token TEXT,
        sent_at TEXT,
        message_id TEXT,
        created_at TEXT NOT NULL
     );
     CREATE INDEX timers_pending ON timers (state, next_attempt_at);
     CREATE INDEX timers_case ON timers (org, case_id);",
    // 3: pinned workflow texts are as immutable as the events that reference them.
    "CREATE TRIGGER workflows_no_update BEFORE UPDATE ON workflows
        BEGIN SELECT RAISE(ABORT, 'pinned workflows are immutable'); END;
     CREATE TRIGGER workflows_no_delete BEFORE DELETE ON workflows
        BEGIN SELECT RAISE(ABORT, 'pinned workflows are immutable'); END;",
    // 4: bulk notification. The ledger keys each person by a keyed hash of their
    // identifier (the key never leaves this file), never by address.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     INSERT INTO meta (key, value) VALUES ('ledger_key', lower(hex(randomblob(32))));
     CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        org TEXT NOT NULL,
        case_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipients_sha256 TEXT NOT NULL,
        template_sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL
     );
     CREATE INDEX campaigns_case ON campaigns (org, case_id, channel);
     CREATE TABLE ledger (
        campaign INTEGER NOT NULL REFERENCES campaigns(id),
        person TEXT NOT NULL,            -- HMAC-SHA256(ledger_key, identifier)
        status TEXT NOT NULL,            -- sending | sent | failed
        message_id TEXT,
        at TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (campaign, person)
     ) WITHOUT ROWID;",
    // 5: the last automatic case number of each series, so a new id costs one lookup.
    "CREATE TABLE case_counters (
        org TEXT NOT NULL,
        prefix TEXT NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (org, prefix)
     );",
    // 6: leases are few; find the next to expire without scanning every timer.
    "CREATE INDEX timers_leased ON timers (locked_until) WHERE lock_token IS NOT NULL;",
    // 7: people who use the web page and the API. Passwords as argon2 PHC strings;
    // sessions and API tokens only as SHA-256 of the secret the client holds.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        org TEXT NOT NULL REFERENCES organisations(id),
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('dpo', 'contributor', 'viewer')),
        password TEXT NOT NULL,
        created_at TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
     );
     CREATE TABLE sessions (
        hash TEXT PRIMARY KEY,           -- SHA-256 of the cookie value
        user_id INTEGER NOT NULL REFERENCES users(id),
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
     );
     CREATE INDEX sessions_user ON sessions (user_id);
     CREATE TABLE api_tokens (
        hash TEXT PRIMARY KEY,           -- SHA-256 of the token
        user_id INTEGER NOT NULL REFERENCES users(id),
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT
     );",
    // 8: each organisation's identity (name, identifier, DPO, representative, reminder
    // recipients, defaults) as a JSON object: see `crate::org::Profile`.
    "ALTER TABLE organisations ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';",
    // 9: what became of each recipient of a reminder, recorded as soon as it is known,
    // so a crash or a retry never sends it to the same recipient twice. A recipient is
    // a keyed hash, never an address; `detail` names it by position only.
    "CREATE TABLE timer_recipients (
        timer_id INTEGER NOT NULL REFERENCES timers(id),
        rcpt TEXT NOT NULL,              -- HMAC-SHA256(ledger_key, timer key, address)
        state TEXT NOT NULL CHECK (state IN ('sent', 'refused')),
        detail TEXT,                     -- 'recipient 2 of 3 refused: 550 5.1.1 ...'
        at TEXT NOT NULL,
        PRIMARY KEY (timer_id, rcpt)
     ) WITHOUT ROWID;",
    // 10: the events that met a legal deadline, by organisation and time: the dispatcher
    // asks for the latest one to send a checkpoint after it, without scanning the log.
    "CREATE INDEX events_met ON events (org, recorded_at)
     WHERE kind = 'advanced' AND json_extract(payload, '$.met[0]') IS NOT NULL;",
];

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    // Two processes may open a new file at once: take the write lock, then re-read.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", i + 1)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
