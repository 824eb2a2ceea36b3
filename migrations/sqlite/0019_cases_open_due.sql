-- 19 (issue 25, speed): the running deadlines of each organisation in order. The
-- portfolio lists, across the organisations a person belongs to, the open cases that
-- have a next deadline, nearest first, a page at a time, with their count: per
-- organisation this index gives them already sorted and counts them without reading
-- the cases' rows.
CREATE INDEX cases_open_due ON cases (org, next_due, id)
   WHERE closed = 0 AND next_due IS NOT NULL;
