-- 1: organisations, pinned workflows, cases and their event log.
CREATE TABLE organisations (
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
   BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
