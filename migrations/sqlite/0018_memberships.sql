-- 18 (issue 25 part 1): a user is a person, with a role in each organisation they
-- belong to. `users` keeps the person (e-mail, name, password, last sign-in: one row,
-- the same id as before, so passwords, sessions, API tokens, calendar addresses and
-- OpenID Connect links stay valid); `memberships` holds the role in each organisation,
-- since when and by whom, and whether it is disabled. Each existing user becomes a
-- person with one membership: their organisation, role and disabled flag.
CREATE TABLE memberships (
   user_id INTEGER NOT NULL REFERENCES users(id),
   org TEXT NOT NULL REFERENCES organisations(id),
   role TEXT NOT NULL CHECK (role IN ('dpo', 'contributor', 'viewer')),
   since TEXT NOT NULL,             -- UTC, fixed width
   added_by TEXT NOT NULL,          -- who added it: an e-mail, an invitation, the command line
   disabled INTEGER NOT NULL DEFAULT 0,
   PRIMARY KEY (user_id, org)
) WITHOUT ROWID;
CREATE INDEX memberships_org ON memberships (org, user_id);
INSERT INTO memberships (user_id, org, role, since, added_by, disabled)
   SELECT id, org, role, created_at, 'before memberships', disabled FROM users;
-- The role and the disabled flag now live on the membership. `users.org` stays (SQLite
-- cannot drop a column a foreign key names): the organisation the person was first
-- added to; no query reads it for access.
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users DROP COLUMN disabled;
-- A session acts in one organisation at a time (the switcher changes it); checked
-- against the memberships on every request. NULL: the person's first membership.
ALTER TABLE sessions ADD COLUMN org TEXT;
UPDATE sessions SET org = (SELECT u.org FROM users u WHERE u.id = sessions.user_id);
-- An API token belongs to one membership, never to the person's portfolio.
ALTER TABLE api_tokens ADD COLUMN org TEXT NOT NULL DEFAULT '';
UPDATE api_tokens SET org = (SELECT u.org FROM users u WHERE u.id = api_tokens.user_id);
-- A calendar address reads one organisation, or (NULL) every organisation the person
-- is an enabled member of.
ALTER TABLE calendar_tokens ADD COLUMN org TEXT;
UPDATE calendar_tokens SET org = (SELECT u.org FROM users u WHERE u.id = calendar_tokens.user_id);
