-- Media created by CreateUploadMedia whose object has not been uploaded yet: kept out of the
-- probe queue until a PutObject or CompleteMultipartUpload writes bucket/object_key.
CREATE TABLE pending_uploads (
    account_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    PRIMARY KEY (account_id, media_id)
);
CREATE INDEX pending_uploads_by_object ON pending_uploads (bucket, object_key);

-- Temporary (STS-style) upload credentials handed out by CreateUploadMedia/RefreshUploadMedia:
-- valid on the OSS API for one object until expire_time (Unix seconds).
CREATE TABLE upload_credentials (
    access_key_id TEXT PRIMARY KEY NOT NULL,
    secret TEXT NOT NULL,
    security_token TEXT NOT NULL,
    account_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    expire_time INTEGER NOT NULL
);
CREATE INDEX upload_credentials_by_expiry ON upload_credentials (expire_time);

-- UploadMediaByURL jobs: Pending → Processing (a worker fetches the URL into the media's
-- object) → Success or Failed. Processing jobs of a stopped server are pending again at start.
CREATE TABLE url_upload_jobs (
    job_id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL,
    media_id TEXT NOT NULL,
    source_url TEXT NOT NULL,
    bucket TEXT NOT NULL,
    object_key TEXT NOT NULL,
    status TEXT NOT NULL,
    file_size INTEGER,
    error_code TEXT,
    error_message TEXT,
    user_data TEXT,
    create_time INTEGER NOT NULL,
    complete_time INTEGER
);
CREATE INDEX url_upload_jobs_queue ON url_upload_jobs (status, create_time);
CREATE INDEX url_upload_jobs_by_url ON url_upload_jobs (account_id, source_url);
