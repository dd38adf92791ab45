//! Media assets and the probe queue's leases.

use sqlx::{PgPool, Postgres, Transaction};

use super::{bind_media, conflict, fetch_paged};
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::{Micros, Paged};
use crate::store::sql::{
    CLAIM_PROBE, FINISH_PROBE, IN_LIST_CHUNK, NEXT_PROBE, PROBE_QUEUE_DEPTH, RENEW_PROBE,
    delete_media_sql,
};
use crate::store::{
    INSERT_MEDIA, MEDIA_COLUMNS, MediaKey, MediaRow, StoreResult, UPDATE_MEDIA, media_cursor,
    media_in_sql, media_sql,
};

pub(super) async fn insert_media(
    pool: &PgPool,
    media: &MediaInfo,
    replace: Option<&str>,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    if let Some(old) = replace {
        delete_media_rows(&mut tx, &media.account_id, &[old.to_string()]).await?;
    }
    bind_media(sqlx::query(INSERT_MEDIA), media)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e, &format!("media {}", media.input_url)))?;
    tx.commit().await?;
    Ok(())
}

async fn delete_media_rows(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    media_ids: &[String],
) -> StoreResult<()> {
    if media_ids.is_empty() {
        return Ok(());
    }
    for sql in delete_media_sql(media_ids.len()) {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for id in media_ids {
            query = query.bind(id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn media(
    pool: &PgPool,
    account_id: &str,
    media_id: &str,
) -> StoreResult<Option<MediaInfo>> {
    media_by(pool, account_id, "media_id", media_id).await
}

/// The account's media whose unique `column` is `value`.
pub(super) async fn media_by_key(
    pool: &PgPool,
    account_id: &str,
    key: MediaKey<'_>,
) -> StoreResult<Option<MediaInfo>> {
    let (column, value) = key.column_and_value();
    media_by(pool, account_id, column, value).await
}

async fn media_by(
    pool: &PgPool,
    account_id: &str,
    column: &str,
    value: &str,
) -> StoreResult<Option<MediaInfo>> {
    let row: Option<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND {column} = $2"
    )))
    .bind(account_id)
    .bind(value)
    .fetch_optional(pool)
    .await?;
    row.map(MediaInfo::try_from).transpose()
}

/// The account's media whose `column` is among `values`, one query per chunk of values (an
/// IN list as long as a timeline's media would pass PostgreSQL's limit on bound values).
pub(super) async fn media_where_in(
    pool: &PgPool,
    account_id: &str,
    column: &'static str,
    values: &[String],
) -> StoreResult<Vec<MediaInfo>> {
    let mut out = Vec::new();
    for chunk in values.chunks(IN_LIST_CHUNK) {
        let sql = media_in_sql(column, chunk.len());
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for value in chunk {
            query = query.bind(value);
        }
        let rows: Vec<MediaRow> = query.fetch_all(pool).await?;
        for row in rows {
            out.push(MediaInfo::try_from(row)?);
        }
    }
    Ok(out)
}

pub(super) async fn update_media(pool: &PgPool, m: &MediaInfo) -> StoreResult<bool> {
    let done = sqlx::query(UPDATE_MEDIA)
        .bind(&m.account_id)
        .bind(&m.media_id)
        .bind(m.business_type.map(|t| t.as_str()))
        .bind(&m.title)
        .bind(&m.description)
        .bind(&m.category)
        .bind(m.cate_id)
        .bind(m.media_tags.join(","))
        .bind(&m.cover_url)
        .bind(&m.user_data)
        .bind(&m.reference_id)
        .bind(m.modified_time)
        .execute(pool)
        .await
        .map_err(|e| conflict(e, "ReferenceId"))?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn delete_media(
    pool: &PgPool,
    account_id: &str,
    media_ids: &[String],
) -> StoreResult<Vec<MediaInfo>> {
    let existing = media_where_in(pool, account_id, "media_id", media_ids).await?;
    let mut tx = pool.begin().await?;
    delete_media_rows(&mut tx, account_id, media_ids).await?;
    tx.commit().await?;
    Ok(existing)
}

pub(super) async fn search_media(
    pool: &PgPool,
    account_id: &str,
    q: &MediaQuery,
) -> StoreResult<Paged<MediaInfo>> {
    let sql = media_sql(account_id, q);
    fetch_paged::<MediaRow, _>(pool, sql, &q.page, media_cursor).await
}

pub(super) async fn claim_probe(
    pool: &PgPool,
    owner: &str,
    now: Micros,
    lease_until: Micros,
) -> StoreResult<Option<MediaInfo>> {
    // Re-checking the claimable condition in UPDATE makes the claim safe with several
    // servers.
    loop {
        let next: Option<(String, String)> = sqlx::query_as(NEXT_PROBE.as_str())
            .bind(now)
            .fetch_optional(pool)
            .await?;
        let Some((account_id, media_id)) = next else {
            return Ok(None);
        };
        let claimed = sqlx::query(CLAIM_PROBE.as_str())
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(&account_id)
            .bind(&media_id)
            .execute(pool)
            .await?;
        if claimed.rows_affected() == 1 {
            return media(pool, &account_id, &media_id).await;
        }
    }
}

pub(super) async fn renew_probe(
    pool: &PgPool,
    account_id: &str,
    media_id: &str,
    owner: &str,
    lease_until: Micros,
) -> StoreResult<bool> {
    let done = sqlx::query(RENEW_PROBE)
        .bind(account_id)
        .bind(media_id)
        .bind(owner)
        .bind(lease_until)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn probe_queue_depth(pool: &PgPool) -> StoreResult<u64> {
    let (n,): (i64,) = sqlx::query_as(PROBE_QUEUE_DEPTH).fetch_one(pool).await?;
    Ok(n as u64)
}

pub(super) async fn finish_probe(
    pool: &PgPool,
    media: &MediaInfo,
    owner: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(FINISH_PROBE)
        .bind(&media.account_id)
        .bind(&media.media_id)
        .bind(media.status.as_str())
        .bind(&media.probe)
        .bind(media.duration)
        .bind(media.file_size)
        .bind(media.media_type.map(|t| t.as_str()))
        .bind(&media.cover_url)
        .bind(owner)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
