-- Issue 13: calendar feed tokens. One per user, stored only as the SHA-256 of the
-- secret in the feed's URL; it reads the user's organisation's deadlines and nothing else.
CREATE TABLE calendar_tokens (
    user_id BIGINT PRIMARY KEY REFERENCES users(id),
    hash TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
