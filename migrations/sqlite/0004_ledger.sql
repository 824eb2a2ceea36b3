-- 4: bulk notification. The ledger keys each person by a keyed hash of their
-- identifier (the key never leaves this file), never by address.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('ledger_key', lower(hex(randomblob(32))));
CREATE TABLE campaigns (
   id INTEGER PRIMARY KEY,
   org TEXT NOT NULL,
   case_id TEXT NOT NULL,
   channel TEXT NOT NULL,
   recipients_sha256 TEXT NOT NULL,
   template_sha256 TEXT NOT NULL,
   created_at TEXT NOT NULL
);
CREATE INDEX campaigns_case ON campaigns (org, case_id, channel);
CREATE TABLE ledger (
   campaign INTEGER NOT NULL REFERENCES campaigns(id),
   person TEXT NOT NULL,            -- HMAC-SHA256(ledger_key, identifier)
   status TEXT NOT NULL,            -- sending | sent | failed
   message_id TEXT,
   at TEXT NOT NULL,
   error TEXT,
   PRIMARY KEY (campaign, person)
) WITHOUT ROWID;
