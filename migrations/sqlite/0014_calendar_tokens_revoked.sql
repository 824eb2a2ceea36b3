-- 14 (issue 23, N1): calendar addresses that were revoked or replaced, by the SHA-256
-- of their token, so that the feed answers them 410 Gone (calendar clients then stop
-- polling) instead of 404, and they never count as guesses. Filled by triggers, so
-- every way a token goes (revoke, a new address, a new password, a disabled user) is
-- remembered without each of them having to.
CREATE TABLE calendar_tokens_revoked (
   hash TEXT PRIMARY KEY,           -- SHA-256 of the token
   revoked_at TEXT NOT NULL         -- UTC
) WITHOUT ROWID;

CREATE TRIGGER calendar_token_deleted AFTER DELETE ON calendar_tokens
BEGIN
   INSERT OR IGNORE INTO calendar_tokens_revoked (hash, revoked_at)
   VALUES (old.hash, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER calendar_token_replaced AFTER UPDATE OF hash ON calendar_tokens
WHEN old.hash <> new.hash
BEGIN
   INSERT OR IGNORE INTO calendar_tokens_revoked (hash, revoked_at)
   VALUES (old.hash, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;
