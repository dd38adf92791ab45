-- SearchEditingProject's TotalCount as an index-only count (SQLite keeps counter rows
-- instead; here they would serialise an account's writers on one row lock).
CREATE INDEX editing_projects_by_status
    ON editing_projects (account_id, project_type, status);

-- ListEditingProjects without a ProjectType pages by time across both types.
CREATE INDEX editing_projects_by_account_time
    ON editing_projects (account_id, create_time, project_id);
