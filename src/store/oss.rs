//! Store methods of the upload actions and the OSS API (pending uploads, temporary upload
//! credentials). `impl_store!` implements [`UploadStore`] for the sqlx engine (PostgreSQL)
//! with `impl_upload_store!`; SQLite implements it in `sqlite/uploads.rs`.

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

macro_rules! impl_upload_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::oss::UploadStore for $store {
        async fn insert_pending_upload(
            &self,
            account_id: &str,
            media_id: &str,
            bucket: &str,
            object_key: &str,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO pending_uploads (account_id, media_id, bucket, object_key) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(account_id)
            .bind(media_id)
            .bind(bucket)
            .bind(object_key)
            .execute(&self.writer)
            .await?;
            Ok(())
        }

        async fn finish_pending_uploads(
            &self,
            bucket: &str,
            object_key: &str,
        ) -> StoreResult<Vec<(String, String)>> {
            Ok(sqlx::query_as(
                "DELETE FROM pending_uploads WHERE bucket = $1 AND object_key = $2 \
                 RETURNING account_id, media_id",
            )
            .bind(bucket)
            .bind(object_key)
            .fetch_all(&self.writer)
            .await?)
        }

        async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool> {
            // PostgreSQL's literal 1 is an INT4.
            let row: Option<(i32,)> = sqlx::query_as(
                "SELECT 1 FROM pending_uploads WHERE account_id = $1 AND media_id = $2",
            )
            .bind(account_id)
            .bind(media_id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.is_some())
        }

        async fn insert_upload_credential(
            &self,
            c: &$crate::store::oss::UploadCredential,
        ) -> StoreResult<()> {
            let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
            sqlx::query("DELETE FROM upload_credentials WHERE expire_time < $1")
                .bind(c.expire_time - $crate::store::oss::EXPIRED_KEPT_SECONDS * 2)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO upload_credentials (access_key_id, secret, security_token, account_id, \
                 media_id, bucket, object_key, expire_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&c.access_key_id)
            .bind(&c.secret)
            .bind(&c.security_token)
            .bind(&c.account_id)
            .bind(&c.media_id)
            .bind(&c.bucket)
            .bind(&c.object_key)
            .bind(c.expire_time)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn upload_credential(
            &self,
            access_key_id: &str,
        ) -> StoreResult<Option<$crate::store::oss::UploadCredential>> {
            let row: Option<(String, String, String, String, String, String, String, i64)> =
                sqlx::query_as(
                    "SELECT access_key_id, secret, security_token, account_id, media_id, bucket, \
                     object_key, expire_time FROM upload_credentials WHERE access_key_id = $1",
                )
                .bind(access_key_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(row.map(
                |(access_key_id, secret, security_token, account_id, media_id, bucket, object_key, expire_time)| {
                    $crate::store::oss::UploadCredential {
                        access_key_id,
                        secret,
                        security_token,
                        account_id,
                        media_id,
                        bucket,
                        object_key,
                        expire_time,
                    }
                },
            ))
        }

            async fn insert_url_job(&self, j: &$crate::store::oss::UrlUploadJob) -> StoreResult<()> {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO url_upload_jobs ({}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                    $crate::store::oss::JOB_COLUMNS
                )))
                .bind(&j.job_id)
                .bind(&j.account_id)
                .bind(&j.media_id)
                .bind(&j.source_url)
                .bind(&j.bucket)
                .bind(&j.object_key)
                .bind(&j.status)
                .bind(j.file_size)
                .bind(&j.error_code)
                .bind(&j.error_message)
                .bind(&j.user_data)
                .bind(j.create_time)
                .bind(j.complete_time)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn claim_url_job(&self) -> StoreResult<Option<$crate::store::oss::UrlUploadJob>> {
                // The status re-check in UPDATE makes the claim safe with several servers.
                loop {
                    let next: Option<(String,)> = sqlx::query_as(
                        "SELECT job_id FROM url_upload_jobs WHERE status = 'Pending' \
                         ORDER BY create_time LIMIT 1",
                    )
                    .fetch_optional(&self.pool)
                    .await?;
                    let Some((job_id,)) = next else {
                        return Ok(None);
                    };
                    let claimed = sqlx::query(
                        "UPDATE url_upload_jobs SET status = 'Processing' \
                         WHERE job_id = $1 AND status = 'Pending'",
                    )
                    .bind(&job_id)
                    .execute(&self.writer)
                    .await?;
                    if claimed.rows_affected() == 1 {
                        let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT {} FROM url_upload_jobs WHERE job_id = $1",
                            $crate::store::oss::JOB_COLUMNS
                        )))
                        .bind(&job_id)
                        .fetch_optional(&self.writer)
                        .await?;
                        return Ok(row.map($crate::store::oss::job_from_row));
                    }
                }
            }

            async fn requeue_url_jobs(&self) -> StoreResult<u64> {
                let done = sqlx::query(
                    "UPDATE url_upload_jobs SET status = 'Pending' WHERE status = 'Processing'",
                )
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected())
            }

            async fn finish_url_job(&self, j: &$crate::store::oss::UrlUploadJob) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE url_upload_jobs SET status = $2, file_size = $3, error_code = $4, \
                     error_message = $5, complete_time = $6 WHERE job_id = $1",
                )
                .bind(&j.job_id)
                .bind(&j.status)
                .bind(j.file_size)
                .bind(&j.error_code)
                .bind(&j.error_message)
                .bind(j.complete_time)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn url_jobs(
                &self,
                account_id: &str,
                values: &[String],
                by_url: bool,
            ) -> StoreResult<Vec<$crate::store::oss::UrlUploadJob>> {
                if values.is_empty() {
                    return Ok(Vec::new());
                }
                let column = if by_url { "source_url" } else { "job_id" };
                let sql = format!(
                    "SELECT {} FROM url_upload_jobs WHERE account_id = $1 AND {column} IN ({}) \
                     ORDER BY create_time DESC",
                    $crate::store::oss::JOB_COLUMNS,
                    $crate::store::sql::placeholders(2, values.len())
                );
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id);
                for v in values {
                    query = query.bind(v);
                }
                let rows = query.fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map($crate::store::oss::job_from_row).collect())
            }
        }
    };
}
pub(super) use impl_upload_store;
