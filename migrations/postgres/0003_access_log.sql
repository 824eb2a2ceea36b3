-- Issue 13 part 4: what was issued, and who read what (see migrations/sqlite/0013).
CREATE TABLE issued_texts (
    org        TEXT COLLATE "C" NOT NULL,
    case_id    TEXT COLLATE "C" NOT NULL,
    sha256     TEXT COLLATE "C" NOT NULL,
    text       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org, case_id, sha256)
);
CREATE TRIGGER issued_texts_append_only BEFORE UPDATE OR DELETE ON issued_texts
    FOR EACH ROW EXECUTE FUNCTION vigie_append_only();
CREATE TRIGGER issued_texts_no_truncate BEFORE TRUNCATE ON issued_texts
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_append_only();

CREATE TABLE access_log (
    id       BIGSERIAL PRIMARY KEY,
    org      TEXT COLLATE "C" NOT NULL,
    case_id  TEXT COLLATE "C",
    at       TIMESTAMPTZ NOT NULL,
    actor    TEXT COLLATE "C" NOT NULL,
    action   TEXT COLLATE "C" NOT NULL,
    object   TEXT COLLATE "C" NOT NULL,
    detail   TEXT COLLATE "C" NOT NULL,
    address  TEXT COLLATE "C" NOT NULL,
    via      TEXT COLLATE "C" NOT NULL
);
CREATE INDEX access_log_case ON access_log (org, case_id, id);
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION vigie_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION vigie_append_only();
