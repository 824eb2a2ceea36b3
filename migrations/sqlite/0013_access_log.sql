-- Issue 13 part 4: what was issued, and who read what.
--
-- The exact text of each document recorded as issued, by its SHA-256 (the hash the
-- case's `document_issued` event holds): downloadable byte for byte after any template
-- change. Written before the event, in its own statement: an event never lacks its text.
CREATE TABLE issued_texts (
    org        TEXT NOT NULL,
    case_id    TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org, case_id, sha256)
);
CREATE TRIGGER issued_texts_no_update BEFORE UPDATE ON issued_texts
   BEGIN SELECT RAISE(ABORT, 'issued_texts are append-only'); END;
CREATE TRIGGER issued_texts_no_delete BEFORE DELETE ON issued_texts
   BEGIN SELECT RAISE(ABORT, 'issued_texts are append-only'); END;

-- Every view or download of a draft, an issued document, a letter file or the register
-- through the web page or the API. Not a case event: reading never moves a case's
-- sequence number or its hash chain. `case_id` is NULL for the register.
CREATE TABLE access_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    org      TEXT NOT NULL,
    case_id  TEXT,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    object   TEXT NOT NULL,
    detail   TEXT NOT NULL,
    address  TEXT NOT NULL,
    via      TEXT NOT NULL
);
CREATE INDEX access_log_case ON access_log (org, case_id, id);
CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
   BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log
   BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
