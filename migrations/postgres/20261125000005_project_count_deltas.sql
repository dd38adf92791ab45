-- SearchEditingProject's TotalCount without counting the account's rows. Triggers append
-- +1/-1 rows; nothing updates a shared counter row, so writers never queue on a row lock or
-- deadlock over it. Servers fold the rows into one per (account, type, status) every few
-- seconds (Store::compact_counts), so a count sums a handful of rows.
CREATE TABLE project_count_deltas (
    account_id TEXT NOT NULL,
    project_type TEXT NOT NULL,
    status TEXT NOT NULL,
    delta BIGINT NOT NULL
);
CREATE INDEX project_count_deltas_by_key
    ON project_count_deltas (account_id, project_type, status);

INSERT INTO project_count_deltas (account_id, project_type, status, delta)
    SELECT account_id, project_type, status, COUNT(*) FROM editing_projects
    GROUP BY account_id, project_type, status;

CREATE FUNCTION project_count_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO project_count_deltas (account_id, project_type, status, delta)
            VALUES (OLD.account_id, OLD.project_type, OLD.status, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO project_count_deltas (account_id, project_type, status, delta)
            VALUES (NEW.account_id, NEW.project_type, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_count_deltas_insert_delete AFTER INSERT OR DELETE ON editing_projects
    FOR EACH ROW EXECUTE FUNCTION project_count_delta();

CREATE TRIGGER project_count_deltas_update AFTER UPDATE OF account_id, project_type, status
    ON editing_projects
    FOR EACH ROW
    WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id
        OR OLD.project_type IS DISTINCT FROM NEW.project_type
        OR OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION project_count_delta();

-- Counted from the delta rows now.
DROP INDEX editing_projects_by_status;
