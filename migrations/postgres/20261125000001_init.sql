CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    create_time BIGINT NOT NULL
);

CREATE TABLE access_keys (
    access_key_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts(account_id),
    secret TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    create_time BIGINT NOT NULL
);

CREATE TABLE editing_projects (
    account_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    timeline TEXT,
    template_id TEXT,
    clips_param TEXT,
    cover_url TEXT,
    status TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    modified_time BIGINT NOT NULL,
    duration DOUBLE PRECISION NOT NULL,
    create_source TEXT NOT NULL,
    modified_source TEXT NOT NULL,
    template_type TEXT,
    project_type TEXT NOT NULL,
    business_config TEXT,
    business_status TEXT,
    PRIMARY KEY (account_id, project_id)
);

CREATE INDEX editing_projects_by_time
    ON editing_projects (account_id, project_type, create_time, project_id);
