-- Issue 23 (N11): the heartbeat of every running dispatcher (`vigie serve`), by the
-- token its claims carry in `timers.lock_token`. One that stops beating is dead: the
-- others, or the same server restarted, take its claims back within seconds instead of
-- waiting for their lease to run out. `beat_at` is the machine's real clock.
CREATE TABLE dispatchers (
    token TEXT COLLATE "C" PRIMARY KEY,
    beat_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX timers_lock_token ON timers (lock_token) WHERE lock_token IS NOT NULL;
