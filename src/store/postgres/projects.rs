//! Editing projects, their timeline media links and their materials.

use sqlx::{PgPool, Postgres, Transaction};

use super::{ROWS_PER_INSERT, bind_project, conflict, fetch_paged, search_args};
use crate::domain::Paged;
use crate::domain::project::{EditingProject, ProjectQuery};
use crate::store::sql::{
    IN_LIST_CHUNK, PROJECT_BY_ID, PROJECT_EXISTS, PROJECT_MATERIALS, PROJECT_TABLES,
    PROJECTS_USING_MEDIA, SET_PROJECT_DURATION, TIMELINE_LINKS, delete_materials_sql,
    delete_projects_sql, unlink_timeline_media_sql,
};
use crate::store::{
    Guarded, INSERT_PROJECT, PROJECT_LOADED_BYTES, ProjectRow, StoreResult, UPDATE_PROJECT_FIELDS,
    UPDATE_PROJECT_TIMELINE, link_changes, project_cursor, search_sql,
};

/// A project count from the delta rows its migrations' triggers append (see `search_sql`);
/// the `WHERE` clause follows.
const PROJECT_COUNT_SQL: &str =
    "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM project_count_deltas WHERE ";

/// Folds the delta rows of every (account, type, status) that has more than one into one
/// row, in one statement; keys already folded are left alone, so an idle store rewrites
/// nothing. Rows that triggers append meanwhile are not in its snapshot and stay; a
/// concurrent fold by another server deletes each row once, so the sum never changes.
const COMPACT_COUNTS_SQL: &str = "WITH unfolded AS (SELECT account_id, project_type, status \
     FROM project_count_deltas GROUP BY account_id, project_type, status HAVING COUNT(*) > 1), \
     gone AS (DELETE FROM project_count_deltas d USING unfolded u \
     WHERE d.account_id = u.account_id AND d.project_type = u.project_type \
     AND d.status = u.status RETURNING d.account_id, d.project_type, d.status, d.delta) \
     INSERT INTO project_count_deltas (account_id, project_type, status, delta) \
     SELECT account_id, project_type, status, SUM(delta) FROM gone \
     GROUP BY account_id, project_type, status HAVING SUM(delta) <> 0";

pub(super) async fn insert_project(
    pool: &PgPool,
    project: &EditingProject,
    timeline_media: &[String],
    materials: &[(String, String)],
) -> StoreResult<()> {
    let refused = |e| conflict(e, &format!("project {}", project.project_id));
    if timeline_media.is_empty() && materials.is_empty() {
        // One statement is atomic by itself: one round trip instead of three.
        bind_project(sqlx::query(INSERT_PROJECT), project)
            .execute(pool)
            .await
            .map_err(refused)?;
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    bind_project(sqlx::query(INSERT_PROJECT), project)
        .execute(&mut *tx)
        .await
        .map_err(refused)?;
    link_timeline_media(&mut tx, project, timeline_media).await?;
    insert_materials(&mut tx, &project.account_id, &project.project_id, materials).await?;
    tx.commit().await?;
    Ok(())
}

/// One multi-row INSERT per chunk of links, not one round trip per link.
async fn link_timeline_media(
    tx: &mut Transaction<'_, Postgres>,
    project: &EditingProject,
    media_ids: &[String],
) -> StoreResult<()> {
    for chunk in media_ids.chunks(ROWS_PER_INSERT) {
        let rows = (0..chunk.len())
            .map(|i| format!("($1, $2, ${})", i + 3))
            .collect::<Vec<_>>()
            .join(", ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO project_timeline_media (account_id, project_id, media_id) \
             VALUES {rows} ON CONFLICT DO NOTHING"
        )))
        .bind(&project.account_id)
        .bind(&project.project_id);
        for media_id in chunk {
            query = query.bind(media_id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Makes the project's links those of `media_ids`, writing only what changed: an editor's
/// save almost always keeps the same media. The caller holds the project row's lock (its
/// UPDATE), so concurrent updaters of one project cannot interleave here.
async fn relink_timeline_media(
    tx: &mut Transaction<'_, Postgres>,
    project: &EditingProject,
    media_ids: &[String],
) -> StoreResult<()> {
    let stored: Vec<(String,)> = sqlx::query_as(TIMELINE_LINKS)
        .bind(&project.account_id)
        .bind(&project.project_id)
        .fetch_all(&mut **tx)
        .await?;
    let stored: Vec<String> = stored.into_iter().map(|(id,)| id).collect();
    let (remove, add) = link_changes(&stored, media_ids);
    for chunk in remove.chunks(IN_LIST_CHUNK) {
        let sql = unlink_timeline_media_sql(chunk.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&project.account_id)
            .bind(&project.project_id);
        for id in chunk {
            query = query.bind(id);
        }
        query.execute(&mut **tx).await?;
    }
    link_timeline_media(tx, project, &add).await
}

async fn insert_materials(
    tx: &mut Transaction<'_, Postgres>,
    account_id: &str,
    project_id: &str,
    materials: &[(String, String)],
) -> StoreResult<()> {
    let now = crate::domain::now_micros();
    for chunk in materials.chunks(ROWS_PER_INSERT) {
        let rows = (0..chunk.len())
            .map(|i| format!("($1, $2, ${}, ${}, $3)", 2 * i + 4, 2 * i + 5))
            .collect::<Vec<_>>()
            .join(", ");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO project_materials \
             (account_id, project_id, material_type, material_id, create_time) \
             VALUES {rows} ON CONFLICT DO NOTHING"
        )))
        .bind(account_id)
        .bind(project_id)
        .bind(now);
        for (material_type, material_id) in chunk {
            query = query.bind(material_type).bind(material_id);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

pub(super) async fn project(
    pool: &PgPool,
    account_id: &str,
    project_id: &str,
) -> StoreResult<Option<EditingProject>> {
    let row: Option<ProjectRow> = sqlx::query_as(PROJECT_BY_ID.as_str())
        .bind(account_id)
        .bind(project_id)
        .fetch_optional(pool)
        .await?;
    row.map(EditingProject::try_from).transpose()
}

pub(super) async fn update_project(
    pool: &PgPool,
    p: &EditingProject,
    timeline_media: Option<&[String]>,
    seen: &EditingProject,
) -> StoreResult<Guarded> {
    fn changed<T: PartialEq + Clone>(new: &T, old: &T) -> Option<T> {
        (new != old).then(|| new.clone())
    }
    let mut tx = pool.begin().await?;
    let done = sqlx::query(UPDATE_PROJECT_FIELDS)
        .bind(&p.account_id)
        .bind(&p.project_id)
        .bind(changed(&p.title, &seen.title))
        .bind(changed(&p.description, &seen.description).flatten())
        .bind(changed(&p.cover_url, &seen.cover_url).flatten())
        .bind(
            changed(&p.business_status, &seen.business_status)
                .flatten()
                .map(|s| s.as_str()),
        )
        .bind(p.modified_time)
        .bind(p.modified_source.as_str())
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(Guarded::Gone);
    }
    if let Some(media_ids) = timeline_media {
        let done = sqlx::query(UPDATE_PROJECT_TIMELINE)
            .bind(&p.account_id)
            .bind(&p.project_id)
            .bind(&p.timeline)
            .bind(&p.template_id)
            .bind(&p.clips_param)
            .bind(p.template_type.map(|t| t.as_str()))
            .bind(p.status.as_str())
            .bind(p.duration)
            .bind(seen.status.as_str())
            .bind(seen.duration)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Ok(Guarded::Changed);
        }
        relink_timeline_media(&mut tx, p, media_ids).await?;
    }
    tx.commit().await?;
    Ok(Guarded::Done)
}

pub(super) async fn set_project_duration(
    pool: &PgPool,
    seen: &EditingProject,
    duration: f64,
) -> StoreResult<Guarded> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(SET_PROJECT_DURATION)
        .bind(&seen.account_id)
        .bind(&seen.project_id)
        .bind(duration)
        .bind(&seen.timeline)
        .bind(seen.duration)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        tx.commit().await?;
        return Ok(Guarded::Done);
    }
    // Was the project deleted or changed?
    let found: Option<(String,)> = sqlx::query_as(PROJECT_EXISTS)
        .bind(&seen.account_id)
        .bind(&seen.project_id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(if found.is_some() {
        Guarded::Changed
    } else {
        Guarded::Gone
    })
}

pub(super) async fn projects_using_media(
    pool: &PgPool,
    account_id: &str,
    media_id: &str,
) -> StoreResult<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(PROJECTS_USING_MEDIA)
        .bind(account_id)
        .bind(media_id)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

pub(super) async fn delete_projects(
    pool: &PgPool,
    account_id: &str,
    project_ids: &[String],
) -> StoreResult<u64> {
    if project_ids.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let mut deleted = 0;
    for table in PROJECT_TABLES {
        let sql = delete_projects_sql(table, project_ids.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
        for id in project_ids {
            query = query.bind(id);
        }
        deleted = query.execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(deleted)
}

pub(super) async fn compact_counts(pool: &PgPool) -> StoreResult<()> {
    sqlx::query(COMPACT_COUNTS_SQL).execute(pool).await?;
    Ok(())
}

pub(super) async fn search_projects(
    pool: &PgPool,
    account_id: &str,
    q: &ProjectQuery,
) -> StoreResult<Paged<EditingProject>> {
    let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, None);
    fetch_paged::<ProjectRow, _>(pool, sql, &q.page, project_cursor).await
}

pub(super) async fn search_projects_bytes(
    pool: &PgPool,
    account_id: &str,
    q: &ProjectQuery,
) -> StoreResult<u64> {
    let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, Some(PROJECT_LOADED_BYTES));
    let sizes: Vec<(i64,)> =
        sqlx::query_as_with(sqlx::AssertSqlSafe(sql.page), search_args(&sql.binds)?)
            .fetch_all(pool)
            .await?;
    // The page query fetches one row past the page to learn whether more follow.
    Ok(sizes
        .iter()
        .take(q.page.limit() as usize)
        .map(|(n,)| *n as u64)
        .sum())
}

pub(super) async fn add_materials(
    pool: &PgPool,
    account_id: &str,
    project_id: &str,
    materials: &[(String, String)],
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    insert_materials(&mut tx, account_id, project_id, materials).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn delete_materials(
    pool: &PgPool,
    account_id: &str,
    project_id: &str,
    material_type: &str,
    material_ids: &[String],
) -> StoreResult<()> {
    if material_ids.is_empty() {
        return Ok(());
    }
    let sql = delete_materials_sql(material_ids.len());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account_id)
        .bind(project_id)
        .bind(material_type);
    for id in material_ids {
        query = query.bind(id);
    }
    query.execute(pool).await?;
    Ok(())
}

pub(super) async fn materials(
    pool: &PgPool,
    account_id: &str,
    project_id: &str,
) -> StoreResult<Vec<(String, String)>> {
    Ok(sqlx::query_as(PROJECT_MATERIALS)
        .bind(account_id)
        .bind(project_id)
        .fetch_all(pool)
        .await?)
}
