//! Media assets and their probe leases.

use std::sync::LazyLock;

use rusqlite::Connection;
use rusqlite::types::ToSql;

use super::engine::{
    account_and, conflict, execute, fetch_paged, query_all, query_opt, query_value,
};
use super::rows;
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::{Micros, Paged};
use crate::store::sql::{
    CLAIM_PROBE, FINISH_PROBE, IN_LIST_CHUNK, NEXT_PROBE, PROBE_QUEUE_DEPTH, RENEW_PROBE,
    delete_media_sql,
};
use crate::store::{
    INSERT_MEDIA, MEDIA_COLUMNS, MediaKey, StoreError, StoreResult, UPDATE_MEDIA, media_cursor,
    media_in_sql, media_sql,
};

pub(super) fn insert_media(
    c: &Connection,
    m: &MediaInfo,
    replace: Option<&str>,
) -> StoreResult<()> {
    if let Some(old) = replace {
        delete_media_rows(c, &m.account_id, &[old.to_string()])?;
    }
    execute(
        c,
        INSERT_MEDIA,
        &[
            &m.account_id,
            &m.media_id,
            &m.input_url,
            &m.location,
            &m.media_type.map(|t| t.as_str()),
            &m.business_type.map(|t| t.as_str()),
            &m.source.as_str(),
            &m.title,
            &m.description,
            &m.category,
            &m.cate_id,
            &m.media_tags.join(","),
            &m.cover_url,
            &m.user_data,
            &m.reference_id,
            &m.status.as_str(),
            &m.create_time,
            &m.modified_time,
            &m.probe,
            &m.duration,
            &m.file_size,
            &m.client_token,
            &i64::from(m.need_snapshot),
        ],
    )
    .map_err(|e| conflict(e, &format!("media {}", m.input_url)))?;
    Ok(())
}

/// Deletes media with their project-material links.
fn delete_media_rows(c: &Connection, account_id: &str, media_ids: &[String]) -> StoreResult<()> {
    if media_ids.is_empty() {
        return Ok(());
    }
    let values = account_and(&account_id, media_ids);
    for sql in delete_media_sql(media_ids.len()) {
        execute(c, &sql, &values)?;
    }
    Ok(())
}

pub(super) fn media(
    c: &Connection,
    account_id: &str,
    media_id: &str,
) -> StoreResult<Option<MediaInfo>> {
    media_where(c, account_id, "media_id", media_id)
}

pub(super) fn media_by(
    c: &Connection,
    account_id: &str,
    key: MediaKey<'_>,
) -> StoreResult<Option<MediaInfo>> {
    let (column, value) = key.column_and_value();
    media_where(c, account_id, column, value)
}

/// The account's media whose unique `column` is `value`.
fn media_where(
    c: &Connection,
    account_id: &str,
    column: &'static str,
    value: &str,
) -> StoreResult<Option<MediaInfo>> {
    // Built once per column: GetMediaInfo is a hot read.
    const UNIQUE: [&str; 4] = ["media_id", "location", "reference_id", "client_token"];
    static SQL: LazyLock<[String; 4]> = LazyLock::new(|| {
        UNIQUE.map(|column| {
            format!("SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND {column} = $2")
        })
    });
    let Some(i) = UNIQUE.iter().position(|u| *u == column) else {
        return Err(StoreError::Config(format!(
            "media has no unique column {column}"
        )));
    };
    let row = query_opt(c, &SQL[i], &[&account_id, &value], rows::media)?;
    row.map(MediaInfo::try_from).transpose()
}

/// The account's media whose `column` is among `values`, one query per chunk of values.
pub(super) fn media_where_in(
    c: &Connection,
    account_id: &str,
    column: &'static str,
    values: &[String],
) -> StoreResult<Vec<MediaInfo>> {
    let mut out = Vec::new();
    for chunk in values.chunks(IN_LIST_CHUNK) {
        let sql = media_in_sql(column, chunk.len());
        for row in query_all(c, &sql, &account_and(&account_id, chunk), rows::media)? {
            out.push(MediaInfo::try_from(row)?);
        }
    }
    Ok(out)
}

pub(super) fn update_media(c: &Connection, m: &MediaInfo) -> StoreResult<bool> {
    let done = execute(
        c,
        UPDATE_MEDIA,
        &[
            &m.account_id,
            &m.media_id,
            &m.business_type.map(|t| t.as_str()),
            &m.title,
            &m.description,
            &m.category,
            &m.cate_id,
            &m.media_tags.join(","),
            &m.cover_url,
            &m.user_data,
            &m.reference_id,
            &m.modified_time,
        ],
    )
    .map_err(|e| conflict(e, "ReferenceId"))?;
    Ok(done > 0)
}

/// Deletes media and their links; answers the rows deleted, read in the same transaction.
pub(super) fn delete_media(
    c: &Connection,
    account_id: &str,
    media_ids: &[String],
) -> StoreResult<Vec<MediaInfo>> {
    let existing = media_where_in(c, account_id, "media_id", media_ids)?;
    delete_media_rows(c, account_id, media_ids)?;
    Ok(existing)
}

pub(super) fn search_media(
    c: &Connection,
    account_id: &str,
    q: &MediaQuery,
) -> StoreResult<Paged<MediaInfo>> {
    let sql = media_sql(account_id, q);
    fetch_paged(c, &sql, &q.page, rows::media, media_cursor)
}

pub(super) fn claim_probe(
    c: &Connection,
    owner: &str,
    now: Micros,
    lease_until: Micros,
) -> StoreResult<Option<MediaInfo>> {
    // The writer's transaction holds the write lock: the media found is still claimable
    // when it is updated; the UPDATE re-checks anyway, as the PostgreSQL backend must.
    let next = query_opt(c, &NEXT_PROBE, &[&now], rows::pair)?;
    let Some((account_id, media_id)) = next else {
        return Ok(None);
    };
    let claimed = execute(
        c,
        &CLAIM_PROBE,
        &[&now, &owner, &lease_until, &account_id, &media_id],
    )?;
    if claimed != 1 {
        return Ok(None);
    }
    media(c, &account_id, &media_id)
}

pub(super) fn renew_probe(
    c: &Connection,
    account_id: &str,
    media_id: &str,
    owner: &str,
    lease_until: Micros,
) -> StoreResult<bool> {
    let done = execute(
        c,
        RENEW_PROBE,
        &[&account_id, &media_id, &owner, &lease_until],
    )?;
    Ok(done == 1)
}

pub(super) fn probe_queue_depth(c: &Connection) -> StoreResult<u64> {
    let n: i64 = query_value(c, PROBE_QUEUE_DEPTH, &[])?;
    Ok(n as u64)
}

pub(super) fn finish_probe(c: &Connection, m: &MediaInfo, owner: &str) -> StoreResult<bool> {
    let values: [&dyn ToSql; 9] = [
        &m.account_id,
        &m.media_id,
        &m.status.as_str(),
        &m.probe,
        &m.duration,
        &m.file_size,
        &m.media_type.map(|t| t.as_str()),
        &m.cover_url,
        &owner,
    ];
    let done = execute(c, FINISH_PROBE, &values)?;
    Ok(done > 0)
}
