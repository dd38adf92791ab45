//! Editing projects, their timeline's media links and their materials.

use rusqlite::Connection;
use rusqlite::types::ToSql;

use super::engine::{Outcome, account_and, conflict, execute, fetch_paged, query_all, query_opt};
use super::rows;
use crate::domain::Paged;
use crate::domain::project::{EditingProject, ProjectQuery};
use crate::store::sql::{
    IN_LIST_CHUNK, PROJECT_BY_ID, PROJECT_EXISTS, PROJECT_MATERIALS, PROJECT_TABLES,
    PROJECTS_USING_MEDIA, SET_PROJECT_DURATION, TIMELINE_LINKS, delete_materials_sql,
    delete_projects_sql, unlink_timeline_media_sql,
};
use crate::store::{
    Guarded, INSERT_PROJECT, PROJECT_LOADED_BYTES, StoreResult, UPDATE_PROJECT_FIELDS,
    UPDATE_PROJECT_TIMELINE, link_changes, project_cursor, search_sql,
};

/// A project count from the `project_counts` rows its migrations' triggers keep (see
/// `search_sql`); the `WHERE` clause follows.
const PROJECT_COUNT_SQL: &str = "SELECT COALESCE(SUM(n), 0) FROM project_counts WHERE ";

pub(super) fn insert_project(
    c: &Connection,
    p: &EditingProject,
    timeline_media: &[String],
    materials: &[(String, String)],
) -> StoreResult<()> {
    execute(
        c,
        INSERT_PROJECT,
        &[
            &p.account_id,
            &p.project_id,
            &p.title,
            &p.description,
            &p.timeline,
            &p.template_id,
            &p.clips_param,
            &p.cover_url,
            &p.status.as_str(),
            &p.create_time,
            &p.modified_time,
            &p.duration,
            &p.create_source.as_str(),
            &p.modified_source.as_str(),
            &p.template_type.map(|t| t.as_str()),
            &p.project_type.as_str(),
            &p.business_config,
            &p.business_status.map(|s| s.as_str()),
        ],
    )
    .map_err(|e| conflict(e, &format!("project {}", p.project_id)))?;
    link_timeline_media(c, p, timeline_media)?;
    insert_materials(c, &p.account_id, &p.project_id, materials)
}

/// One cached statement per link: in-process, a statement costs no round trip.
fn link_timeline_media(
    c: &Connection,
    p: &EditingProject,
    media_ids: &[String],
) -> StoreResult<()> {
    for media_id in media_ids {
        execute(
            c,
            "INSERT INTO project_timeline_media (account_id, project_id, media_id) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&p.account_id, &p.project_id, media_id],
        )?;
    }
    Ok(())
}

pub(super) fn insert_materials(
    c: &Connection,
    account_id: &str,
    project_id: &str,
    materials: &[(String, String)],
) -> StoreResult<()> {
    let now = crate::domain::now_micros();
    for (material_type, material_id) in materials {
        execute(
            c,
            "INSERT INTO project_materials \
             (account_id, project_id, material_type, material_id, create_time) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&account_id, &project_id, material_type, material_id, &now],
        )?;
    }
    Ok(())
}

pub(super) fn project(
    c: &Connection,
    account_id: &str,
    project_id: &str,
) -> StoreResult<Option<EditingProject>> {
    let row = query_opt(
        c,
        &PROJECT_BY_ID,
        &[&account_id, &project_id],
        rows::project,
    )?;
    row.map(EditingProject::try_from).transpose()
}

pub(super) fn update_project(
    c: &Connection,
    p: &EditingProject,
    timeline_media: Option<&[String]>,
    seen: &EditingProject,
) -> StoreResult<Outcome<Guarded>> {
    fn changed<T: PartialEq + Clone>(new: &T, old: &T) -> Option<T> {
        (new != old).then(|| new.clone())
    }
    let done = execute(
        c,
        UPDATE_PROJECT_FIELDS,
        &[
            &p.account_id,
            &p.project_id,
            &changed(&p.title, &seen.title),
            &changed(&p.description, &seen.description).flatten(),
            &changed(&p.cover_url, &seen.cover_url).flatten(),
            &changed(&p.business_status, &seen.business_status)
                .flatten()
                .map(|s| s.as_str()),
            &p.modified_time,
            &p.modified_source.as_str(),
        ],
    )?;
    if done == 0 {
        return Ok(Outcome::Undo(Guarded::Gone));
    }
    if let Some(media_ids) = timeline_media {
        let done = execute(
            c,
            UPDATE_PROJECT_TIMELINE,
            &[
                &p.account_id,
                &p.project_id,
                &p.timeline,
                &p.template_id,
                &p.clips_param,
                &p.template_type.map(|t| t.as_str()),
                &p.status.as_str(),
                &p.duration,
                &seen.status.as_str(),
                &seen.duration,
            ],
        )?;
        if done == 0 {
            // The fields written above go too: the update is all or nothing.
            return Ok(Outcome::Undo(Guarded::Changed));
        }
        relink_timeline_media(c, p, media_ids)?;
    }
    Ok(Outcome::Keep(Guarded::Done))
}

/// Makes the project's links those of `media_ids`, writing only what changed: an editor's
/// save almost always keeps the same media. The single writer runs this whole write.
fn relink_timeline_media(
    c: &Connection,
    p: &EditingProject,
    media_ids: &[String],
) -> StoreResult<()> {
    let stored: Vec<String> = query_all(c, TIMELINE_LINKS, &[&p.account_id, &p.project_id], |r| {
        r.get(0)
    })?;
    let (remove, add) = link_changes(&stored, media_ids);
    for chunk in remove.chunks(IN_LIST_CHUNK) {
        let mut values: Vec<&dyn ToSql> = vec![&p.account_id, &p.project_id];
        values.extend(chunk.iter().map(|id| id as &dyn ToSql));
        execute(c, &unlink_timeline_media_sql(chunk.len()), &values)?;
    }
    link_timeline_media(c, p, &add)
}

pub(super) fn set_project_duration(
    c: &Connection,
    seen: &EditingProject,
    duration: f64,
) -> StoreResult<Guarded> {
    let done = execute(
        c,
        SET_PROJECT_DURATION,
        &[
            &seen.account_id,
            &seen.project_id,
            &duration,
            &seen.timeline,
            &seen.duration,
        ],
    )?;
    if done > 0 {
        return Ok(Guarded::Done);
    }
    let found = query_opt(
        c,
        PROJECT_EXISTS,
        &[&seen.account_id, &seen.project_id],
        |r| r.get::<_, String>(0),
    )?;
    Ok(if found.is_some() {
        Guarded::Changed
    } else {
        Guarded::Gone
    })
}

pub(super) fn projects_using_media(
    c: &Connection,
    account_id: &str,
    media_id: &str,
) -> StoreResult<Vec<String>> {
    Ok(query_all(
        c,
        PROJECTS_USING_MEDIA,
        &[&account_id, &media_id],
        |r| r.get(0),
    )?)
}

pub(super) fn delete_projects(
    c: &Connection,
    account_id: &str,
    project_ids: &[String],
) -> StoreResult<u64> {
    let values = account_and(&account_id, project_ids);
    let mut deleted = 0;
    for table in PROJECT_TABLES {
        let sql = delete_projects_sql(table, project_ids.len());
        deleted = execute(c, &sql, &values)?;
    }
    Ok(deleted as u64)
}

pub(super) fn search_projects(
    c: &Connection,
    account_id: &str,
    q: &ProjectQuery,
) -> StoreResult<Paged<EditingProject>> {
    let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, None);
    fetch_paged(c, &sql, &q.page, rows::project, project_cursor)
}

pub(super) fn search_projects_bytes(
    c: &Connection,
    account_id: &str,
    q: &ProjectQuery,
) -> StoreResult<u64> {
    let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, Some(PROJECT_LOADED_BYTES));
    let binds: Vec<&dyn ToSql> = sql.binds.iter().map(|b| b as &dyn ToSql).collect();
    let sizes: Vec<i64> = query_all(c, &sql.page, &binds, |r| r.get(0))?;
    // The page query fetches one row past the page to learn whether more follow.
    Ok(sizes
        .iter()
        .take(q.page.limit() as usize)
        .map(|n| *n as u64)
        .sum())
}

pub(super) fn delete_materials(
    c: &Connection,
    account_id: &str,
    project_id: &str,
    material_type: &str,
    material_ids: &[String],
) -> StoreResult<()> {
    let sql = delete_materials_sql(material_ids.len());
    let mut values: Vec<&dyn ToSql> = vec![&account_id, &project_id, &material_type];
    values.extend(material_ids.iter().map(|id| id as &dyn ToSql));
    execute(c, &sql, &values)?;
    Ok(())
}

pub(super) fn materials(
    c: &Connection,
    account_id: &str,
    project_id: &str,
) -> StoreResult<Vec<(String, String)>> {
    Ok(query_all(
        c,
        PROJECT_MATERIALS,
        &[&account_id, &project_id],
        rows::pair,
    )?)
}
