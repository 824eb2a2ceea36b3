-- Issue 23 (N1): calendar addresses that were revoked or replaced, by the SHA-256 of
-- their token, so that the feed answers them 410 Gone (calendar clients then stop
-- polling) instead of 404, and they never count as guesses. Filled by triggers, so
-- every way a token goes (revoke, a new address, a new password, a disabled user) is
-- remembered without each of them having to.
CREATE TABLE calendar_tokens_revoked (
    hash TEXT COLLATE "C" PRIMARY KEY,
    revoked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE FUNCTION vigie_calendar_token_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO calendar_tokens_revoked (hash) VALUES (OLD.hash) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER calendar_token_deleted AFTER DELETE ON calendar_tokens
    FOR EACH ROW EXECUTE FUNCTION vigie_calendar_token_gone();
CREATE TRIGGER calendar_token_replaced AFTER UPDATE OF hash ON calendar_tokens
    FOR EACH ROW WHEN (OLD.hash IS DISTINCT FROM NEW.hash)
    EXECUTE FUNCTION vigie_calendar_token_gone();
