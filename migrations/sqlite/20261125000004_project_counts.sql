-- Projects per (account, type, status), kept by triggers on every write path, so that
-- SearchEditingProject's TotalCount is a lookup instead of a scan of the account's projects.
-- SQLite only: it has one writer, so the hot counter rows cannot deadlock or queue writers
-- the way they would under PostgreSQL's row locks (PostgreSQL counts with an index instead).
CREATE TABLE project_counts (
    account_id TEXT NOT NULL,
    project_type TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (account_id, project_type, status)
) WITHOUT ROWID;

INSERT INTO project_counts (account_id, project_type, status, n)
    SELECT account_id, project_type, status, COUNT(*) FROM editing_projects
    GROUP BY account_id, project_type, status;

CREATE TRIGGER project_counts_insert AFTER INSERT ON editing_projects BEGIN
    INSERT INTO project_counts (account_id, project_type, status, n)
        VALUES (NEW.account_id, NEW.project_type, NEW.status, 1)
        ON CONFLICT (account_id, project_type, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER project_counts_delete AFTER DELETE ON editing_projects BEGIN
    UPDATE project_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND project_type = OLD.project_type
        AND status = OLD.status;
END;

CREATE TRIGGER project_counts_update AFTER UPDATE OF account_id, project_type, status
    ON editing_projects
    WHEN OLD.account_id <> NEW.account_id OR OLD.project_type <> NEW.project_type
        OR OLD.status <> NEW.status
BEGIN
    UPDATE project_counts SET n = n - 1
        WHERE account_id = OLD.account_id AND project_type = OLD.project_type
        AND status = OLD.status;
    INSERT INTO project_counts (account_id, project_type, status, n)
        VALUES (NEW.account_id, NEW.project_type, NEW.status, 1)
        ON CONFLICT (account_id, project_type, status) DO UPDATE SET n = n + 1;
END;

-- ListEditingProjects without a ProjectType pages by time across both types.
CREATE INDEX editing_projects_by_account_time
    ON editing_projects (account_id, create_time, project_id);
