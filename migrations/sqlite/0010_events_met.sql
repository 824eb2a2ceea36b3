-- 10: the events that met a legal deadline, by organisation and time: the dispatcher
-- asks for the latest one to send a checkpoint after it, without scanning the log.
CREATE INDEX events_met ON events (org, recorded_at)
WHERE kind = 'advanced' AND json_extract(payload, '$.met[0]') IS NOT NULL;
