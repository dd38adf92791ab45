//! Settings, signed nonces, accounts with their access keys, and bucket owners.

use rusqlite::Connection;

use super::engine::{conflict, execute, query_all, query_opt, query_value};
use super::rows;
use crate::domain::account::{AccessKey, Account, SignedNonce};
use crate::store::{PUT_SETTING, StoreError, StoreResult, TAKE_SETTING};

pub(super) fn setting_or_insert(c: &Connection, name: &str, value: &str) -> StoreResult<String> {
    execute(
        c,
        "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &value],
    )?;
    Ok(query_value(
        c,
        "SELECT value FROM settings WHERE name = $1",
        &[&name],
    )?)
}

pub(super) fn claim_nonce(
    c: &Connection,
    access_key_id: &str,
    nonce: &str,
    signed_at: i64,
    forget_before: i64,
) -> StoreResult<bool> {
    execute(
        c,
        "DELETE FROM signed_nonces WHERE signed_at < $1",
        &[&forget_before],
    )?;
    let inserted = execute(
        c,
        "INSERT INTO signed_nonces (access_key_id, nonce, signed_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
        &[&access_key_id, &nonce, &signed_at],
    )?;
    Ok(inserted == 1)
}

pub(super) fn record_nonces(c: &Connection, nonces: &[SignedNonce]) -> StoreResult<()> {
    let mut insert = c.prepare_cached(
        "INSERT INTO signed_nonces (access_key_id, nonce, signed_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT DO NOTHING",
    )?;
    for n in nonces {
        insert.execute(rusqlite::params![n.access_key_id, n.nonce, n.signed_at])?;
    }
    Ok(())
}

pub(super) fn put_setting(c: &Connection, name: &str, value: &str) -> StoreResult<()> {
    execute(c, PUT_SETTING, &[&name, &value])?;
    Ok(())
}

pub(super) fn take_setting(c: &Connection, name: &str) -> StoreResult<Option<String>> {
    Ok(query_opt(c, TAKE_SETTING, &[&name], |r| r.get(0))?)
}

pub(super) fn nonce_claimed(c: &Connection, access_key_id: &str, nonce: &str) -> StoreResult<bool> {
    let row = query_opt(
        c,
        "SELECT signed_at FROM signed_nonces WHERE access_key_id = $1 AND nonce = $2",
        &[&access_key_id, &nonce],
        |r| r.get::<_, i64>(0),
    )?;
    Ok(row.is_some())
}

pub(super) fn latest_claimed_nonce(c: &Connection) -> StoreResult<Option<i64>> {
    Ok(query_value(
        c,
        "SELECT MAX(signed_at) FROM signed_nonces",
        &[],
    )?)
}

pub(super) fn account_count(c: &Connection) -> StoreResult<u64> {
    let n: i64 = query_value(c, "SELECT COUNT(*) FROM accounts", &[])?;
    Ok(n as u64)
}

pub(super) fn insert_key(c: &Connection, key: &AccessKey, now: i64) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO access_keys (access_key_id, account_id, secret, enabled, create_time) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &key.access_key_id,
            &key.account_id,
            &key.secret.expose(),
            &i64::from(key.enabled),
            &now,
        ],
    )
    .map_err(|e| conflict(e, &format!("access key {}", key.access_key_id)))?;
    Ok(())
}

pub(super) fn create_account(
    c: &Connection,
    account: &Account,
    key: &AccessKey,
) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO accounts (account_id, name, create_time) VALUES ($1, $2, $3)",
        &[&account.account_id, &account.name, &account.create_time],
    )
    .map_err(|e| conflict(e, &format!("account {:?}", account.name)))?;
    insert_key(c, key, account.create_time)
}

pub(super) fn accounts(c: &Connection) -> StoreResult<Vec<Account>> {
    let rows = query_all(
        c,
        "SELECT account_id, name, create_time FROM accounts ORDER BY create_time, account_id",
        &[],
        rows::account,
    )?;
    Ok(rows.into_iter().map(Account::from).collect())
}

pub(super) fn account_by_name(c: &Connection, name: &str) -> StoreResult<Option<Account>> {
    let row = query_opt(
        c,
        "SELECT account_id, name, create_time FROM accounts WHERE name = $1",
        &[&name],
        rows::account,
    )?;
    Ok(row.map(Account::from))
}

pub(super) fn access_key(c: &Connection, access_key_id: &str) -> StoreResult<Option<AccessKey>> {
    let row = query_opt(
        c,
        "SELECT access_key_id, account_id, secret, enabled FROM access_keys \
         WHERE access_key_id = $1",
        &[&access_key_id],
        rows::access_key,
    )?;
    Ok(row.map(AccessKey::from))
}

pub(super) fn access_keys(c: &Connection) -> StoreResult<Vec<AccessKey>> {
    let rows = query_all(
        c,
        "SELECT access_key_id, account_id, secret, enabled FROM access_keys \
         ORDER BY create_time, access_key_id",
        &[],
        rows::access_key,
    )?;
    Ok(rows.into_iter().map(AccessKey::from).collect())
}

pub(super) fn set_access_key_enabled(
    c: &Connection,
    access_key_id: &str,
    enabled: bool,
) -> StoreResult<bool> {
    let done = execute(
        c,
        "UPDATE access_keys SET enabled = $2 WHERE access_key_id = $1",
        &[&access_key_id, &i64::from(enabled)],
    )?;
    Ok(done > 0)
}

pub(super) fn delete_access_key(c: &Connection, access_key_id: &str) -> StoreResult<bool> {
    let done = execute(
        c,
        "DELETE FROM access_keys WHERE access_key_id = $1",
        &[&access_key_id],
    )?;
    Ok(done > 0)
}

pub(super) fn claim_bucket(c: &Connection, bucket: &str, account_id: &str) -> StoreResult<String> {
    execute(
        c,
        "INSERT INTO buckets (bucket, account_id, create_time) VALUES ($1, $2, $3) \
         ON CONFLICT (bucket) DO NOTHING",
        &[&bucket, &account_id, &crate::domain::now_micros()],
    )?;
    bucket_owner(c, bucket)?
        .ok_or_else(|| StoreError::Corrupt(format!("bucket {bucket} has no owner")))
}

pub(super) fn bucket_owner(c: &Connection, bucket: &str) -> StoreResult<Option<String>> {
    Ok(query_opt(
        c,
        "SELECT account_id FROM buckets WHERE bucket = $1",
        &[&bucket],
        |r| r.get(0),
    )?)
}
