-- 9: what became of each recipient of a reminder, recorded as soon as it is known,
-- so a crash or a retry never sends it to the same recipient twice. A recipient is
-- a keyed hash, never an address; `detail` names it by position only.
CREATE TABLE timer_recipients (
   timer_id INTEGER NOT NULL REFERENCES timers(id),
   rcpt TEXT NOT NULL,              -- HMAC-SHA256(ledger_key, timer key, address)
   state TEXT NOT NULL CHECK (state IN ('sent', 'refused')),
   detail TEXT,                     -- 'recipient 2 of 3 refused: 550 5.1.1 ...'
   at TEXT NOT NULL,
   PRIMARY KEY (timer_id, rcpt)
) WITHOUT ROWID;
