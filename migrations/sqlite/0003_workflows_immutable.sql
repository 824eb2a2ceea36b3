-- 3: pinned workflow texts are as immutable as the events that reference them.
CREATE TRIGGER workflows_no_update BEFORE UPDATE ON workflows
   BEGIN SELECT RAISE(ABORT, 'pinned workflows are immutable'); END;
CREATE TRIGGER workflows_no_delete BEFORE DELETE ON workflows
   BEGIN SELECT RAISE(ABORT, 'pinned workflows are immutable'); END;
