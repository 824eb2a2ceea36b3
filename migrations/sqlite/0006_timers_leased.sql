-- 6: leases are few; find the next to expire without scanning every timer.
CREATE INDEX timers_leased ON timers (locked_until) WHERE lock_token IS NOT NULL;
