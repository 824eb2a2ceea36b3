-- 11: failed sign-ins, counted in the database so every process sees the same counts
-- and locks. The key is opaque here (the web layer hashes account and address).
CREATE TABLE sign_in_throttle (
   key TEXT PRIMARY KEY,
   count INTEGER NOT NULL,
   last_at TEXT NOT NULL,           -- UTC, fixed width
   locked_until TEXT                -- UTC, fixed width
) WITHOUT ROWID;
