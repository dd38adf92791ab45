//! Pending uploads, temporary upload credentials and UploadMediaByURL jobs
//! ([`UploadStore`]).

use async_trait::async_trait;
use rusqlite::Connection;

use super::SqliteStore;
use super::engine::{account_and, execute, query_all, query_opt};
use super::rows;
use crate::store::StoreResult;
use crate::store::oss::{
    EXPIRED_KEPT_SECONDS, JOB_COLUMNS, UploadCredential, UploadStore, UrlUploadJob, job_from_row,
    url_jobs_sql,
};
use crate::store::sql::INSERT_PENDING_UPLOAD;

fn insert_upload_credential(c: &Connection, k: &UploadCredential) -> StoreResult<()> {
    execute(
        c,
        "DELETE FROM upload_credentials WHERE expire_time < $1",
        &[&(k.expire_time - EXPIRED_KEPT_SECONDS * 2)],
    )?;
    execute(
        c,
        "INSERT INTO upload_credentials (access_key_id, secret, security_token, account_id, \
         media_id, bucket, object_key, expire_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &k.access_key_id,
            &k.secret,
            &k.security_token,
            &k.account_id,
            &k.media_id,
            &k.bucket,
            &k.object_key,
            &k.expire_time,
        ],
    )?;
    Ok(())
}

fn insert_url_job(c: &Connection, j: &UrlUploadJob) -> StoreResult<()> {
    execute(
        c,
        &format!(
            "INSERT INTO url_upload_jobs ({JOB_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        &[
            &j.job_id,
            &j.account_id,
            &j.media_id,
            &j.source_url,
            &j.bucket,
            &j.object_key,
            &j.status,
            &j.file_size,
            &j.error_code,
            &j.error_message,
            &j.user_data,
            &j.create_time,
            &j.complete_time,
        ],
    )?;
    Ok(())
}

fn claim_url_job(c: &Connection) -> StoreResult<Option<UrlUploadJob>> {
    let next = query_opt(
        c,
        "SELECT job_id FROM url_upload_jobs WHERE status = 'Pending' \
         ORDER BY create_time LIMIT 1",
        &[],
        |r| r.get::<_, String>(0),
    )?;
    let Some(job_id) = next else {
        return Ok(None);
    };
    execute(
        c,
        "UPDATE url_upload_jobs SET status = 'Processing' WHERE job_id = $1 AND status = 'Pending'",
        &[&job_id],
    )?;
    let row = query_opt(
        c,
        &format!("SELECT {JOB_COLUMNS} FROM url_upload_jobs WHERE job_id = $1"),
        &[&job_id],
        rows::url_job,
    )?;
    Ok(row.map(job_from_row))
}

fn finish_url_job(c: &Connection, j: &UrlUploadJob) -> StoreResult<()> {
    execute(
        c,
        "UPDATE url_upload_jobs SET status = $2, file_size = $3, error_code = $4, \
         error_message = $5, complete_time = $6 WHERE job_id = $1",
        &[
            &j.job_id,
            &j.status,
            &j.file_size,
            &j.error_code,
            &j.error_message,
            &j.complete_time,
        ],
    )?;
    Ok(())
}

#[async_trait]
impl UploadStore for SqliteStore {
    async fn insert_pending_upload(
        &self,
        account_id: &str,
        media_id: &str,
        bucket: &str,
        object_key: &str,
    ) -> StoreResult<()> {
        let row = [account_id, media_id, bucket, object_key].map(str::to_string);
        self.engine
            .write(move |c| {
                execute(
                    c,
                    INSERT_PENDING_UPLOAD,
                    &[&row[0], &row[1], &row[2], &row[3]],
                )?;
                Ok(())
            })
            .await
    }

    async fn finish_pending_uploads(
        &self,
        bucket: &str,
        object_key: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        let (bucket, object_key) = (bucket.to_string(), object_key.to_string());
        self.engine
            .write(move |c| {
                Ok(query_all(
                    c,
                    "DELETE FROM pending_uploads WHERE bucket = $1 AND object_key = $2 \
                     RETURNING account_id, media_id",
                    &[&bucket, &object_key],
                    rows::pair,
                )?)
            })
            .await
    }

    async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool> {
        self.engine.read(|c| {
            let row = query_opt(
                c,
                "SELECT 1 FROM pending_uploads WHERE account_id = $1 AND media_id = $2",
                &[&account_id, &media_id],
                |r| r.get::<_, i64>(0),
            )?;
            Ok(row.is_some())
        })
    }

    async fn insert_upload_credential(&self, credential: &UploadCredential) -> StoreResult<()> {
        let credential = credential.clone();
        self.engine
            .write(move |c| insert_upload_credential(c, &credential))
            .await
    }

    async fn upload_credential(
        &self,
        access_key_id: &str,
    ) -> StoreResult<Option<UploadCredential>> {
        self.engine.read_fresh(|c| {
            Ok(query_opt(
                c,
                "SELECT access_key_id, secret, security_token, account_id, media_id, bucket, \
                 object_key, expire_time FROM upload_credentials WHERE access_key_id = $1",
                &[&access_key_id],
                |r| {
                    Ok(UploadCredential {
                        access_key_id: r.get(0)?,
                        secret: r.get(1)?,
                        security_token: r.get(2)?,
                        account_id: r.get(3)?,
                        media_id: r.get(4)?,
                        bucket: r.get(5)?,
                        object_key: r.get(6)?,
                        expire_time: r.get(7)?,
                    })
                },
            )?)
        })
    }

    async fn insert_url_job(&self, job: &UrlUploadJob) -> StoreResult<()> {
        let job = job.clone();
        self.engine.write(move |c| insert_url_job(c, &job)).await
    }

    async fn claim_url_job(&self) -> StoreResult<Option<UrlUploadJob>> {
        self.engine.write(claim_url_job).await
    }

    async fn requeue_url_jobs(&self) -> StoreResult<u64> {
        self.engine
            .write(|c| {
                let done = execute(
                    c,
                    "UPDATE url_upload_jobs SET status = 'Pending' WHERE status = 'Processing'",
                    &[],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn finish_url_job(&self, job: &UrlUploadJob) -> StoreResult<()> {
        let job = job.clone();
        self.engine.write(move |c| finish_url_job(c, &job)).await
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
        self.engine.read(|c| {
            let rows = query_all(c, &sql, &account_and(&account_id, values), rows::url_job)?;
            Ok(rows.into_iter().map(job_from_row).collect())
        })
    }
}
