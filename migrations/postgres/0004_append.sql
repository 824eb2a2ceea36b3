-- A case command in one statement (issue 10: 5,000 events/s with 4 writers). The writer
-- decides on what it read without a lock (or on what its connection wrote last), then
-- sends everything here: the function locks the case's row, checks that the head, the
-- case's timers and a case counter are still what the writer read, and writes the events,
-- the head, the timer changes, and for an opening the counter, the pinned text and the
-- case row. When anything moved it raises SQLSTATE VG001 and, the statement failing,
-- nothing is written: the writer reads again and decides again.
--
-- It returns the case's timers as they are after the writes (id order), which the writer
-- keeps for its next command on the case.
--
-- Each statement of a (volatile) PL/pgSQL function takes a new snapshot under READ
-- COMMITTED: the timers are read after the case's lock is held.
CREATE FUNCTION vigie_append(
    p_org TEXT, p_case TEXT,
    -- The head the command was decided on; NULL p_seq: the call opens the case.
    p_seq BIGINT, p_hash TEXT,
    -- The case's timers as read (id order); NULL: not read, not checked.
    p_t_ids BIGINT[], p_t_states TEXT[], p_t_dues TIMESTAMPTZ[],
    -- An opening: the counter as read and its new value (NULL prefix: none), the pinned
    -- text (NULL hash: none), the case's fixed columns.
    p_prefix TEXT, p_counter_was BIGINT, p_counter_now BIGINT,
    p_wf_hash TEXT, p_wf_id TEXT, p_wf_origin TEXT, p_wf_source TEXT, p_wf_stored_at TIMESTAMPTZ,
    p_workflow TEXT, p_workflow_hash TEXT, p_opened_at TIMESTAMPTZ,
    -- The new events.
    e_seq BIGINT[], e_at TIMESTAMPTZ[], e_rec TIMESTAMPTZ[], e_actor TEXT[], e_kind TEXT[],
    e_payload TEXT[], e_prev TEXT[], e_hash TEXT[],
    -- The new head.
    h_seq BIGINT, h_hash TEXT, h_closed BOOLEAN, h_next_due TIMESTAMPTZ, h_title TEXT,
    -- Timer writes, in order: a NULL due cancels, a due reschedules (pending again).
    o_ids BIGINT[], o_dues TIMESTAMPTZ[],
    -- New timers of the case (ignored when a timer with the key exists).
    n_keys TEXT[], n_clocks TEXT[], n_offsets TEXT[], n_dues TIMESTAMPTZ[], n_created TIMESTAMPTZ,
    OUT t_ids BIGINT[], OUT t_keys TEXT[], OUT t_clocks TEXT[], OUT t_offsets TEXT[],
    OUT t_states TEXT[], OUT t_dues TIMESTAMPTZ[]
) LANGUAGE plpgsql AS $$
DECLARE
    v_seq BIGINT;
    v_hash TEXT;
    v_last BIGINT;
    i INT;
BEGIN
    IF p_seq IS NULL THEN
        IF p_prefix IS NOT NULL THEN
            INSERT INTO case_counters (org, prefix, last) VALUES (p_org, p_prefix, 0)
                ON CONFLICT (org, prefix) DO NOTHING;
            SELECT last INTO v_last FROM case_counters
                WHERE org = p_org AND prefix = p_prefix FOR UPDATE;
            IF v_last <> p_counter_was THEN
                RAISE EXCEPTION 'the case series moved' USING ERRCODE = 'VG001';
            END IF;
            UPDATE case_counters SET last = p_counter_now WHERE org = p_org AND prefix = p_prefix;
        END IF;
        IF p_wf_hash IS NOT NULL THEN
            INSERT INTO workflows (hash, id, origin, source, stored_at)
                VALUES (p_wf_hash, p_wf_id, p_wf_origin, p_wf_source, p_wf_stored_at)
                ON CONFLICT (hash) DO NOTHING;
        END IF;
        -- A taken id is a unique violation (23505), as an insertion one by one.
        INSERT INTO cases (org, id, workflow, workflow_hash, title, opened_at, seq, last_hash,
                           closed, next_due)
            VALUES (p_org, p_case, p_workflow, p_workflow_hash, h_title, p_opened_at, h_seq,
                    h_hash, h_closed, h_next_due);
    ELSE
        SELECT seq, last_hash INTO v_seq, v_hash FROM cases
            WHERE org = p_org AND id = p_case FOR UPDATE;
        IF NOT FOUND OR v_seq <> p_seq OR v_hash <> p_hash THEN
            RAISE EXCEPTION 'the case moved' USING ERRCODE = 'VG001';
        END IF;
        UPDATE cases SET seq = h_seq, last_hash = h_hash, closed = h_closed,
                         next_due = h_next_due, title = h_title
            WHERE org = p_org AND id = p_case;
    END IF;
    IF p_t_ids IS NOT NULL THEN
        SELECT coalesce(array_agg(id ORDER BY id), '{}'),
               coalesce(array_agg(state ORDER BY id), '{}'),
               coalesce(array_agg(due_at ORDER BY id), '{}')
            INTO t_ids, t_states, t_dues
            FROM timers WHERE org = p_org AND case_id = p_case;
        IF t_ids <> p_t_ids OR t_states <> p_t_states OR t_dues <> p_t_dues THEN
            RAISE EXCEPTION 'the case''s timers moved' USING ERRCODE = 'VG001';
        END IF;
    END IF;
    INSERT INTO events (org, case_id, seq, at, recorded_at, actor, kind, payload, prev_hash, hash)
        SELECT p_org, p_case, u.* FROM unnest(e_seq, e_at, e_rec, e_actor, e_kind, e_payload,
                                               e_prev, e_hash) AS u;
    -- One row by primary key each (a plan for an array of ids, cached while the table was
    -- small, scanned every timer).
    FOR i IN 1 .. coalesce(array_length(o_ids, 1), 0) LOOP
        IF o_dues[i] IS NULL THEN
            UPDATE timers SET state = 'cancelled' WHERE id = o_ids[i];
        ELSE
            UPDATE timers SET due_at = o_dues[i], next_attempt_at = o_dues[i], state = 'pending',
                              attempts = 0, last_error = NULL, locked_until = NULL,
                              lock_token = NULL
                WHERE id = o_ids[i];
        END IF;
    END LOOP;
    IF coalesce(array_length(n_keys, 1), 0) > 0 THEN
        INSERT INTO timers (key, org, case_id, clock, "offset", due_at, next_attempt_at, state,
                            attempts, created_at)
            SELECT k, p_org, p_case, cl, off, d, d, 'pending', 0, n_created
            FROM unnest(n_keys, n_clocks, n_offsets, n_dues) AS n(k, cl, off, d)
            ON CONFLICT (key) DO NOTHING;
    END IF;
    SELECT coalesce(array_agg(id ORDER BY id), '{}'), coalesce(array_agg(key ORDER BY id), '{}'),
           coalesce(array_agg(clock ORDER BY id), '{}'),
           coalesce(array_agg("offset" ORDER BY id), '{}'),
           coalesce(array_agg(state ORDER BY id), '{}'),
           coalesce(array_agg(due_at ORDER BY id), '{}')
        INTO t_ids, t_keys, t_clocks, t_offsets, t_states, t_dues
        FROM timers WHERE org = p_org AND case_id = p_case;
END $$;
