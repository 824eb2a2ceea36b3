-- 10 (issue 25 part 1): a user is a person, with a role in each organisation they
-- belong to. `users` keeps the person (same id: passwords, sessions, API tokens,
-- calendar addresses and OpenID Connect links stay valid); `memberships` holds the role
-- in each organisation, since when and by whom, and whether it is disabled. Each
-- existing user becomes a person with one membership.
CREATE TABLE memberships (
    user_id BIGINT NOT NULL REFERENCES users(id),
    org TEXT COLLATE "C" NOT NULL REFERENCES organisations(id),
    role TEXT COLLATE "C" NOT NULL CHECK (role IN ('dpo', 'contributor', 'viewer')),
    since TIMESTAMPTZ NOT NULL,
    added_by TEXT COLLATE "C" NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, org)
);
CREATE INDEX memberships_org ON memberships (org, user_id);
INSERT INTO memberships (user_id, org, role, since, added_by, disabled)
    SELECT id, org, role, created_at, 'before memberships', disabled FROM users;
-- A session acts in one organisation at a time; NULL: the person's first membership.
ALTER TABLE sessions ADD COLUMN org TEXT COLLATE "C";
UPDATE sessions s SET org = u.org FROM users u WHERE u.id = s.user_id;
-- An API token belongs to one membership.
ALTER TABLE api_tokens ADD COLUMN org TEXT COLLATE "C";
UPDATE api_tokens t SET org = u.org FROM users u WHERE u.id = t.user_id;
ALTER TABLE api_tokens ALTER COLUMN org SET NOT NULL;
-- A calendar address reads one organisation, or (NULL) all of the person's.
ALTER TABLE calendar_tokens ADD COLUMN org TEXT COLLATE "C";
UPDATE calendar_tokens c SET org = u.org FROM users u WHERE u.id = c.user_id;
-- The person keeps `org` (the organisation they were first added to, as on SQLite);
-- the role and the disabled flag are the membership's.
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users DROP COLUMN disabled;
