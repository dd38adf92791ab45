//! Store methods of the upload actions and the OSS API (pending uploads, temporary upload
//! credentials). Their SQL is shared by both backends; `impl_store!` implements
//! [`UploadStore`] for each backend with `impl_upload_store!`.

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
    /// The object was written: its pending uploads may be probed; returns how many.
    async fn finish_pending_uploads(&self, bucket: &str, object_key: &str) -> StoreResult<u64>;
    async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool>;
    /// Also drops credentials long expired.
    async fn insert_upload_credential(&self, credential: &UploadCredential) -> StoreResult<()>;
    async fn upload_credential(&self, access_key_id: &str)
    -> StoreResult<Option<UploadCredential>>;
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

        async fn finish_pending_uploads(&self, bucket: &str, object_key: &str) -> StoreResult<u64> {
            let done = sqlx::query("DELETE FROM pending_uploads WHERE bucket = $1 AND object_key = $2")
                .bind(bucket)
                .bind(object_key)
                .execute(&self.writer)
                .await?;
            Ok(done.rows_affected())
        }

        async fn upload_pending(&self, account_id: &str, media_id: &str) -> StoreResult<bool> {
            let row: Option<(i64,)> = sqlx::query_as(
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
        }
    };
}
pub(super) use impl_upload_store;
