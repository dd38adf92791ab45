//! Pending uploads, temporary upload credentials and UploadMediaByURL jobs.

use async_trait::async_trait;

use super::PgStore;
use crate::store::StoreResult;
use crate::store::oss::{
    EXPIRED_KEPT_SECONDS, JOB_COLUMNS, UploadCredential, UploadStore, UrlUploadJob, job_from_row,
    url_jobs_sql,
};
use crate::store::sql::INSERT_PENDING_UPLOAD;

#[async_trait]
impl UploadStore for PgStore {
    async fn insert_pending_upload(
        &self,
        account_id: &str,
        media_id: &str,
        bucket: &str,
        object_key: &str,
    ) -> StoreResult<()> {
        sqlx::query(INSERT_PENDING_UPLOAD)
            .bind(account_id)
            .bind(media_id)
            .bind(bucket)
            .bind(object_key)
            .execute(&self.pool)
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
        .fetch_all(&self.pool)
        .await?)
    }

    async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool> {
        // PostgreSQL's literal 1 is an INT4.
        let row: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM pending_uploads WHERE account_id = $1 AND media_id = $2")
                .bind(account_id)
                .bind(media_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    async fn insert_upload_credential(&self, c: &UploadCredential) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM upload_credentials WHERE expire_time < $1")
            .bind(c.expire_time - EXPIRED_KEPT_SECONDS * 2)
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
    ) -> StoreResult<Option<UploadCredential>> {
        let row: Option<(String, String, String, String, String, String, String, i64)> =
            sqlx::query_as(
                "SELECT access_key_id, secret, security_token, account_id, media_id, bucket, \
                 object_key, expire_time FROM upload_credentials WHERE access_key_id = $1",
            )
            .bind(access_key_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(
            |(
                access_key_id,
                secret,
                security_token,
                account_id,
                media_id,
                bucket,
                object_key,
                expire_time,
            )| {
                UploadCredential {
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

    async fn insert_url_job(&self, j: &UrlUploadJob) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO url_upload_jobs ({JOB_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_url_job(&self) -> StoreResult<Option<UrlUploadJob>> {
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
            .execute(&self.pool)
            .await?;
            if claimed.rows_affected() == 1 {
                let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOB_COLUMNS} FROM url_upload_jobs WHERE job_id = $1"
                )))
                .bind(&job_id)
                .fetch_optional(&self.pool)
                .await?;
                return Ok(row.map(job_from_row));
            }
        }
    }

    async fn requeue_url_jobs(&self) -> StoreResult<u64> {
        let done = sqlx::query(
            "UPDATE url_upload_jobs SET status = 'Pending' WHERE status = 'Processing'",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn finish_url_job(&self, j: &UrlUploadJob) -> StoreResult<()> {
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn url_jobs(
        &self,
        account_id: &str,
        values: &[String],
        by_url: bool,
    ) -> StoreResult<Vec<UrlUploadJob>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let sql = url_jobs_sql(by_url, values.len());
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for v in values {
            query = query.bind(v);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(job_from_row).collect())
    }
}
