-- 15 (issue 23, N11): the heartbeat of every running dispatcher (`vigie serve`), by the
-- token its claims carry in `timers.lock_token`. One that stops beating is dead: the
-- others, or the same server restarted, take its claims back within seconds instead of
-- waiting for their lease to run out. `beat_at` is the machine's real clock (UTC).
CREATE TABLE dispatchers (
   token TEXT PRIMARY KEY,
   beat_at TEXT NOT NULL            -- UTC, fixed width
) WITHOUT ROWID;

CREATE INDEX timers_lock_token ON timers (lock_token) WHERE lock_token IS NOT NULL;
