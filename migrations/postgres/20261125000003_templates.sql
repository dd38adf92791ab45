CREATE TABLE templates (
    account_id TEXT NOT NULL,
    template_id TEXT NOT NULL,
    name TEXT NOT NULL,
    template_type TEXT NOT NULL,
    config TEXT,
    cover_url TEXT,
    preview_media TEXT,
    status TEXT NOT NULL,
    create_source TEXT NOT NULL,
    modified_source TEXT NOT NULL,
    related_mediaids TEXT,
    create_time BIGINT NOT NULL,
    modified_time BIGINT NOT NULL,
    PRIMARY KEY (account_id, template_id)
);
CREATE INDEX templates_by_time ON templates (account_id, create_time, template_id);
