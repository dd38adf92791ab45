//! Settings, signed-request nonces, accounts, access keys and bucket owners.

use sqlx::PgPool;

use super::conflict;
use crate::domain::account::{AccessKey, Account, SignedNonce};
use crate::store::{AccessKeyRow, AccountRow, PUT_SETTING, StoreError, StoreResult, TAKE_SETTING};

pub(super) async fn setting_or_insert(
    pool: &PgPool,
    name: &str,
    value: &str,
) -> StoreResult<String> {
    sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(value)
        .execute(pool)
        .await?;
    let (stored,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await?;
    Ok(stored)
}

pub(super) async fn claim_nonce(
    pool: &PgPool,
    access_key_id: &str,
    nonce: &str,
    signed_at: i64,
    forget_before: i64,
) -> StoreResult<bool> {
    sqlx::query("DELETE FROM signed_nonces WHERE signed_at < $1")
        .bind(forget_before)
        .execute(pool)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO signed_nonces (access_key_id, nonce, signed_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(access_key_id)
    .bind(nonce)
    .bind(signed_at)
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// One statement whatever the count: the columns go as three arrays.
pub(super) async fn record_nonces(pool: &PgPool, nonces: &[SignedNonce]) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signed_nonces (access_key_id, nonce, signed_at) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING",
    )
    .bind(
        nonces
            .iter()
            .map(|n| n.access_key_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(nonces.iter().map(|n| n.nonce.as_str()).collect::<Vec<_>>())
    .bind(nonces.iter().map(|n| n.signed_at).collect::<Vec<_>>())
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn put_setting(pool: &PgPool, name: &str, value: &str) -> StoreResult<()> {
    sqlx::query(PUT_SETTING)
        .bind(name)
        .bind(value)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn take_setting(pool: &PgPool, name: &str) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(TAKE_SETTING)
        .bind(name)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(v,)| v))
}

pub(super) async fn nonce_claimed(
    pool: &PgPool,
    access_key_id: &str,
    nonce: &str,
) -> StoreResult<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT signed_at FROM signed_nonces WHERE access_key_id = $1 AND nonce = $2",
    )
    .bind(access_key_id)
    .bind(nonce)
    .fetch_optional(pool)
    .await?;
    Ok(row.is_some())
}

pub(super) async fn latest_claimed_nonce(pool: &PgPool) -> StoreResult<Option<i64>> {
    let (latest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(signed_at) FROM signed_nonces")
        .fetch_one(pool)
        .await?;
    Ok(latest)
}

pub(super) async fn account_count(pool: &PgPool) -> StoreResult<u64> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

async fn insert_key<'e, E: sqlx::PgExecutor<'e>>(
    executor: E,
    key: &AccessKey,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_keys (access_key_id, account_id, secret, enabled, create_time) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.access_key_id)
    .bind(&key.account_id)
    .bind(key.secret.expose())
    .bind(i64::from(key.enabled))
    .bind(now)
    .execute(executor)
    .await
    .map_err(|e| conflict(e, &format!("access key {}", key.access_key_id)))?;
    Ok(())
}

pub(super) async fn create_account(
    pool: &PgPool,
    account: &Account,
    key: &AccessKey,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO accounts (account_id, name, create_time) VALUES ($1, $2, $3)")
        .bind(&account.account_id)
        .bind(&account.name)
        .bind(account.create_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, &format!("account {:?}", account.name)))?;
    insert_key(&mut *tx, key, account.create_time).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn accounts(pool: &PgPool) -> StoreResult<Vec<Account>> {
    let rows: Vec<AccountRow> = sqlx::query_as(
        "SELECT account_id, name, create_time FROM accounts ORDER BY create_time, account_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

pub(super) async fn account_by_name(pool: &PgPool, name: &str) -> StoreResult<Option<Account>> {
    let row: Option<AccountRow> =
        sqlx::query_as("SELECT account_id, name, create_time FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(Account::from))
}

pub(super) async fn insert_access_key(pool: &PgPool, key: &AccessKey) -> StoreResult<()> {
    insert_key(pool, key, crate::domain::now_micros()).await
}

pub(super) async fn access_key(
    pool: &PgPool,
    access_key_id: &str,
) -> StoreResult<Option<AccessKey>> {
    let row: Option<AccessKeyRow> = sqlx::query_as(
        "SELECT access_key_id, account_id, secret, enabled FROM access_keys WHERE access_key_id = $1",
    )
    .bind(access_key_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AccessKey::from))
}

pub(super) async fn access_keys(pool: &PgPool) -> StoreResult<Vec<AccessKey>> {
    let rows: Vec<AccessKeyRow> = sqlx::query_as(
        "SELECT access_key_id, account_id, secret, enabled FROM access_keys \
         ORDER BY create_time, access_key_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(AccessKey::from).collect())
}

pub(super) async fn set_access_key_enabled(
    pool: &PgPool,
    access_key_id: &str,
    enabled: bool,
) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE access_keys SET enabled = $2 WHERE access_key_id = $1")
        .bind(access_key_id)
        .bind(i64::from(enabled))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_access_key(pool: &PgPool, access_key_id: &str) -> StoreResult<bool> {
    let done = sqlx::query("DELETE FROM access_keys WHERE access_key_id = $1")
        .bind(access_key_id)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn claim_bucket(
    pool: &PgPool,
    bucket: &str,
    account_id: &str,
) -> StoreResult<String> {
    sqlx::query(
        "INSERT INTO buckets (bucket, account_id, create_time) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket) DO NOTHING",
    )
    .bind(bucket)
    .bind(account_id)
    .bind(crate::domain::now_micros())
    .execute(pool)
    .await?;
    bucket_owner(pool, bucket)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("bucket {bucket} has no owner")))
}

pub(super) async fn bucket_owner(pool: &PgPool, bucket: &str) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as("SELECT account_id FROM buckets WHERE bucket = $1")
        .bind(bucket)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|(a,)| a))
}
