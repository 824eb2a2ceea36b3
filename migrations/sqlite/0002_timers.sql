-- 2: the reminder outbox. Rows are written in the transaction of the event that
-- created them; the dispatcher claims them with a lease.
CREATE TABLE timers (
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
CREATE INDEX timers_case ON timers (org, case_id);
