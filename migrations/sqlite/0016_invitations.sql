-- 16 (issue 21 part 5): a DPO invites a colleague into their organisation with a role.
-- The link's secret is kept only as its SHA-256 (like sessions and API tokens); using
-- it sets `used_at` in the same statement that checks it is unused, unrevoked and
-- unexpired, so a link opens one account. One row per invitation, kept after use: the
-- users page shows who invited whom. Each belongs to one organisation and one role.
CREATE TABLE invitations (
   id INTEGER PRIMARY KEY,
   org TEXT NOT NULL REFERENCES organisations(id),
   email TEXT NOT NULL COLLATE NOCASE,
   role TEXT NOT NULL CHECK (role IN ('dpo', 'contributor', 'viewer')),
   hash TEXT NOT NULL UNIQUE,       -- SHA-256 of the link's secret
   invited_by TEXT NOT NULL,        -- the inviting user's e-mail
   created_at TEXT NOT NULL,        -- UTC, fixed width
   expires_at TEXT NOT NULL,
   used_at TEXT,
   revoked_at TEXT
);
CREATE INDEX invitations_org ON invitations (org, email);
-- When each user last signed in (a new session), for the users page.
ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;
