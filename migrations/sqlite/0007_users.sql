-- 7: people who use the web page and the API. Passwords as argon2 PHC strings;
-- sessions and API tokens only as SHA-256 of the secret the client holds.
CREATE TABLE users (
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
);
