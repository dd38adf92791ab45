-- Media producing jobs: durable rows claimed by render workers with leases.
CREATE TABLE jobs (
    account_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    vod_media_id TEXT,
    media_url TEXT NOT NULL,
    output_bucket TEXT NOT NULL,
    output_key TEXT NOT NULL,
    timeline TEXT NOT NULL,
    template_id TEXT,
    clips_param TEXT,
    output_media_config TEXT NOT NULL,
    media_metadata TEXT,
    editing_produce_config TEXT,
    user_data TEXT,
    source TEXT,
    client_token TEXT,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL,
    code TEXT,
    message TEXT,
    progress INTEGER NOT NULL,
    duration REAL,
    create_time INTEGER NOT NULL,
    modified_time INTEGER NOT NULL,
    complete_time INTEGER,
    -- The worker holding the job and until when (microseconds); NULL when unclaimed.
    lease_owner TEXT,
    lease_expiry INTEGER,
    -- A job waiting for its sources' probes is not claimed again before this.
    not_before INTEGER NOT NULL,
    PRIMARY KEY (account_id, job_id)
);
CREATE UNIQUE INDEX jobs_by_id ON jobs (job_id);
CREATE INDEX jobs_by_time ON jobs (account_id, create_time, job_id);
CREATE INDEX jobs_by_client_token ON jobs (account_id, client_token);
CREATE INDEX jobs_queue ON jobs (status, not_before);

-- SetEventCallback: one row per account.
CREATE TABLE event_callbacks (
    account_id TEXT PRIMARY KEY NOT NULL,
    callback_type TEXT NOT NULL,
    callback_url TEXT,
    callback_queue_name TEXT,
    event_types TEXT NOT NULL,
    auth_switch INTEGER NOT NULL,
    auth_key TEXT,
    modified_time INTEGER NOT NULL
);

-- Callback deliveries not yet made: retried with backoff until delivered or out of tries.
CREATE TABLE callback_outbox (
    delivery_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    url TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Signs each attempt when set (AuthSwitch on at enqueue time).
    auth_key TEXT,
    attempts INTEGER NOT NULL,
    next_attempt INTEGER NOT NULL,
    create_time INTEGER NOT NULL
);
CREATE INDEX callback_outbox_due ON callback_outbox (next_attempt);
