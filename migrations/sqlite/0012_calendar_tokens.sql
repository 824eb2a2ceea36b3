-- 12 (issue 13): calendar feed tokens. One per user, stored only as the SHA-256 of the
-- secret in the feed's URL; it reads the user's organisation's deadlines and nothing else.
CREATE TABLE calendar_tokens (
   user_id INTEGER PRIMARY KEY REFERENCES users(id),
   hash TEXT NOT NULL UNIQUE,       -- SHA-256 of the token
   created_at TEXT NOT NULL         -- UTC, fixed width
);
