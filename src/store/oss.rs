//! Store methods of the upload actions and the OSS API (pending uploads, temporary upload
//! credentials); each engine implements [`UploadStore`] (`postgres/uploads.rs`,
//! `sqlite/uploads.rs`).

use super::StoreResult;

/// A temporary credential of one upload: `STS.`-style key, secret and token, valid on the
/// OSS API for `bucket`/`object_key` only, until `expire_time` (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadCredential {
    pub access_key_id: String,
    pub secret: String,
    pub security_token: String,
    pub account_id: String,
    pub media_id: String,
    pub bucket: String,
    pub object_key: String,
    pub expire_time: i64,
}

/// Expired credentials are kept this long so that they are refused as expired, not unknown.
pub const EXPIRED_KEPT_SECONDS: i64 = 86_400;

/// An UploadMediaByURL job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlUploadJob {
    pub job_id: String,
    pub account_id: String,
    pub media_id: String,
    pub source_url: String,
    pub bucket: String,
    pub object_key: String,
    /// `Pending`, `Processing`, `Success` or `Failed`.
    pub status: String,
    pub file_size: Option<i64>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub user_data: Option<String>,
    /// Micros.
    pub create_time: i64,
    pub complete_time: Option<i64>,
}

pub(super) type JobRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
);

pub fn job_from_row(r: JobRow) -> UrlUploadJob {
    UrlUploadJob {
        job_id: r.0,
        account_id: r.1,
        media_id: r.2,
        source_url: r.3,
        bucket: r.4,
        object_key: r.5,
        status: r.6,
        file_size: r.7,
        error_code: r.8,
        error_message: r.9,
        user_data: r.10,
        create_time: r.11,
        complete_time: r.12,
    }
}

pub const JOB_COLUMNS: &str = "job_id, account_id, media_id, source_url, bucket, object_key, \
     status, file_size, error_code, error_message, user_data, create_time, complete_time";

/// The account's URL upload jobs among `n` job IDs or (`by_url`) source URLs bound from
/// `$2`, newest first.
pub(super) fn url_jobs_sql(by_url: bool, n: usize) -> String {
    let column = if by_url { "source_url" } else { "job_id" };
    format!(
        "SELECT {JOB_COLUMNS} FROM url_upload_jobs WHERE account_id = $1 AND {column} IN ({}) \
         ORDER BY create_time DESC",
        super::sql::placeholders(2, n)
    )
}

/// What the upload actions and the OSS API keep; a supertrait of `Store`.
#[async_trait::async_trait]
pub trait UploadStore {
    /// Keeps a CreateUploadMedia media out of the probe queue until its object is written.
    async fn insert_pending_upload(
        &self,
        account_id: &str,
        media_id: &str,
        bucket: &str,
        object_key: &str,
    ) -> StoreResult<()>;
    /// The object was written: its pending uploads may be probed; answers their
    /// (account, media) IDs.
    async fn finish_pending_uploads(
        &self,
        bucket: &str,
        object_key: &str,
    ) -> StoreResult<Vec<(String, String)>>;
    async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool>;
    /// Also drops credentials long expired.
    async fn insert_upload_credential(&self, credential: &UploadCredential) -> StoreResult<()>;
    async fn upload_credential(&self, access_key_id: &str)
    -> StoreResult<Option<UploadCredential>>;
    async fn insert_url_job(&self, job: &UrlUploadJob) -> StoreResult<()>;
    /// Moves the oldest `Pending` job to `Processing` and returns it (any account).
    async fn claim_url_job(&self) -> StoreResult<Option<UrlUploadJob>>;
    /// Puts jobs left `Processing` by a stopped server back in the queue.
    async fn requeue_url_jobs(&self) -> StoreResult<u64>;
    /// Stores a job's outcome (status, size, error, complete time).
    async fn finish_url_job(&self, job: &UrlUploadJob) -> StoreResult<()>;
    /// The caller's jobs by ID, or (when `by_url`) by source URL, newest first.
    async fn url_jobs(
        &self,
        account_id: &str,
        values: &[String],
        by_url: bool,
    ) -> StoreResult<Vec<UrlUploadJob>>;
}
