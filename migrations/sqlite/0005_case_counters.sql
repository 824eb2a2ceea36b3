-- 5: the last automatic case number of each series, so a new id costs one lookup.
CREATE TABLE case_counters (
   org TEXT NOT NULL,
   prefix TEXT NOT NULL,
   last INTEGER NOT NULL,
   PRIMARY KEY (org, prefix)
);
