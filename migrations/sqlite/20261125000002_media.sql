CREATE TABLE buckets (
    bucket TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    create_time INTEGER NOT NULL
);

CREATE TABLE media (
    account_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    input_url TEXT NOT NULL,
    location TEXT NOT NULL,
    media_type TEXT,
    business_type TEXT,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    category TEXT,
    cate_id INTEGER,
    media_tags TEXT NOT NULL,
    cover_url TEXT,
    user_data TEXT,
    reference_id TEXT,
    status TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    modified_time INTEGER NOT NULL,
    probe TEXT,
    duration REAL,
    file_size INTEGER,
    client_token TEXT,
    need_snapshot INTEGER NOT NULL,
    PRIMARY KEY (account_id, media_id)
);
CREATE UNIQUE INDEX media_by_location ON media (account_id, location);
CREATE UNIQUE INDEX media_by_reference ON media (account_id, reference_id);
CREATE UNIQUE INDEX media_by_client_token ON media (account_id, client_token);
CREATE INDEX media_by_time ON media (account_id, create_time, media_id);
CREATE INDEX media_probe_queue ON media (status, create_time);

CREATE TABLE categories (
    cate_id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id TEXT NOT NULL,
    cate_name TEXT NOT NULL,
    parent_id INTEGER NOT NULL,
    level INTEGER NOT NULL,
    cate_type TEXT NOT NULL,
    create_time INTEGER NOT NULL
);
CREATE INDEX categories_by_parent ON categories (account_id, parent_id, create_time);

-- Materials attached to a project explicitly (AddEditingProjectMaterials, MaterialMaps).
CREATE TABLE project_materials (
    account_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    material_type TEXT NOT NULL,
    material_id TEXT NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (account_id, project_id, material_type, material_id)
);

-- Media a project's timeline references, kept in step with the timeline so probes can
-- find the projects whose Duration they change.
CREATE TABLE project_timeline_media (
    account_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    PRIMARY KEY (account_id, project_id, media_id)
);
CREATE INDEX project_timeline_media_by_media ON project_timeline_media (account_id, media_id);

-- Server-wide values shared by every server on this store (e.g. the download-URL key).
CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
