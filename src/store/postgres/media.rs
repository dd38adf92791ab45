//! Media assets and the probe queue's leases.

use sqlx::{PgPool, Postgres, Transaction};

use super::{bind_media, conflict, fetch_paged};
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::{Cursor, Micros, Paged};
use crate::store::sql::{IN_LIST_CHUNK, placeholders};
use crate::store::{
    INSERT_MEDIA, MEDIA_COLUMNS, MediaKey, MediaRow, StoreResult, UPDATE_MEDIA, media_in_sql,
    media_sql,
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
    let marks = placeholders(2, media_ids.len());
    for sql in [
        format!("DELETE FROM project_materials WHERE account_id = $1 AND material_id IN ({marks})"),
        format!("DELETE FROM media WHERE account_id = $1 AND media_id IN ({marks})"),
    ] {
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
    fetch_paged::<MediaRow, _>(pool, sql, &q.page, |m: &MediaInfo| Cursor {
        create_time: m.create_time,
        id: m.media_id.clone(),
    })
    .await
}

pub(super) async fn claim_probe(
    pool: &PgPool,
    owner: &str,
    now: Micros,
    lease_until: Micros,
) -> StoreResult<Option<MediaInfo>> {
    // Re-checking the claimable condition in UPDATE makes the claim safe with several
    // servers. A media whose upload has not arrived yet (pending_uploads) has nothing to
    // probe.
    const CLAIMABLE: &str = "(status = 'Init' OR (status = 'Preparing' \
        AND (probe_lease_until IS NULL OR probe_lease_until < $1))) \
        AND NOT EXISTS (SELECT 1 FROM pending_uploads p \
        WHERE p.account_id = media.account_id AND p.media_id = media.media_id)";
    loop {
        let next: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT account_id, media_id FROM media WHERE {CLAIMABLE} ORDER BY create_time LIMIT 1"
        )))
        .bind(now)
        .fetch_optional(pool)
        .await?;
        let Some((account_id, media_id)) = next else {
            return Ok(None);
        };
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE media SET status = 'Preparing', probe_owner = $2, probe_lease_until = $3 \
             WHERE account_id = $4 AND media_id = $5 AND {CLAIMABLE}"
        )))
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
    let done = sqlx::query(
        "UPDATE media SET probe_lease_until = $4 WHERE account_id = $1 AND media_id = $2 \
         AND status = 'Preparing' AND probe_owner = $3",
    )
    .bind(account_id)
    .bind(media_id)
    .bind(owner)
    .bind(lease_until)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn probe_queue_depth(pool: &PgPool) -> StoreResult<u64> {
    let (n,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM media WHERE status IN ('Init', 'Preparing')")
            .fetch_one(pool)
            .await?;
    Ok(n as u64)
}

pub(super) async fn finish_probe(
    pool: &PgPool,
    media: &MediaInfo,
    owner: &str,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE media SET status = $3, probe = $4, duration = $5, file_size = $6, \
         media_type = COALESCE(media_type, $7), cover_url = COALESCE(cover_url, $8), \
         probe_owner = NULL, probe_lease_until = NULL \
         WHERE account_id = $1 AND media_id = $2 AND status = 'Preparing' AND probe_owner = $9",
    )
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
