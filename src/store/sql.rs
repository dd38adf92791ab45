//! SQL text helpers both engines use.

use std::sync::LazyLock;

use super::{CATEGORY_COLUMNS, PROJECT_COLUMNS, TEMPLATE_COLUMNS};

/// Values per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
pub(super) const IN_LIST_CHUNK: usize = 1000;

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

// Statements both engines run as they stand (PostgreSQL adds row locks where it needs them).

/// A project's media links; the project is `$1, $2`.
pub(super) const TIMELINE_LINKS: &str =
    "SELECT media_id FROM project_timeline_media WHERE account_id = $1 AND project_id = $2";

/// The projects whose timeline uses media `$2`.
pub(super) const PROJECTS_USING_MEDIA: &str =
    "SELECT project_id FROM project_timeline_media WHERE account_id = $1 AND media_id = $2";

/// Sets a project's duration if its timeline and duration are still those read.
pub(super) const SET_PROJECT_DURATION: &str = "UPDATE editing_projects SET duration = $3 \
     WHERE account_id = $1 AND project_id = $2 AND timeline = $4 AND duration = $5";

/// Whether project `$2` exists (deleted or not).
pub(super) const PROJECT_EXISTS: &str =
    "SELECT project_id FROM editing_projects WHERE account_id = $1 AND project_id = $2";

/// A project's materials in the order they were added.
pub(super) const PROJECT_MATERIALS: &str = "SELECT material_type, material_id \
     FROM project_materials WHERE account_id = $1 AND project_id = $2 \
     ORDER BY create_time, material_type, material_id";

/// Removes `n` of a project's media links, bound from `$3`.
pub(super) fn unlink_timeline_media_sql(n: usize) -> String {
    format!(
        "DELETE FROM project_timeline_media WHERE account_id = $1 AND project_id = $2 \
         AND media_id IN ({})",
        placeholders(3, n)
    )
}

/// Deletes the rows of `table` that belong to `n` projects bound from `$2`.
pub(super) fn delete_projects_sql(table: &str, n: usize) -> String {
    format!(
        "DELETE FROM {table} WHERE account_id = $1 AND project_id IN ({})",
        placeholders(2, n)
    )
}

/// The tables a project's rows live in, links before the project.
pub(super) const PROJECT_TABLES: [&str; 3] = [
    "project_materials",
    "project_timeline_media",
    "editing_projects",
];

/// Deletes `n` materials of one type bound from `$4` from project `$2`.
pub(super) fn delete_materials_sql(n: usize) -> String {
    format!(
        "DELETE FROM project_materials WHERE account_id = $1 AND project_id = $2 \
         AND material_type = $3 AND material_id IN ({})",
        placeholders(4, n)
    )
}

/// Deletes `n` media bound from `$2`, their material links first.
pub(super) fn delete_media_sql(n: usize) -> [String; 2] {
    let marks = placeholders(2, n);
    [
        format!("DELETE FROM project_materials WHERE account_id = $1 AND material_id IN ({marks})"),
        format!("DELETE FROM media WHERE account_id = $1 AND media_id IN ({marks})"),
    ]
}

/// Deletes `n` templates bound from `$2`.
pub(super) fn delete_templates_sql(n: usize) -> String {
    format!(
        "DELETE FROM templates WHERE account_id = $1 AND template_id IN ({})",
        placeholders(2, n)
    )
}

/// Waiting for a probe at `$1`: `Init`, or `Preparing` with a lapsed lease. A media whose
/// upload has not arrived yet (pending_uploads) has nothing to probe.
const PROBE_CLAIMABLE: &str = "(status = 'Init' OR (status = 'Preparing' \
    AND (probe_lease_until IS NULL OR probe_lease_until < $1))) \
    AND NOT EXISTS (SELECT 1 FROM pending_uploads p \
    WHERE p.account_id = media.account_id AND p.media_id = media.media_id)";

/// The oldest media waiting for a probe at `$1`.
pub(super) static NEXT_PROBE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT account_id, media_id FROM media WHERE {PROBE_CLAIMABLE} \
         ORDER BY create_time LIMIT 1"
    )
});

/// Leases media `$4, $5` to `$2` until `$3` if it still waits for a probe at `$1`.
pub(super) static CLAIM_PROBE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE media SET status = 'Preparing', probe_owner = $2, probe_lease_until = $3 \
         WHERE account_id = $4 AND media_id = $5 AND {PROBE_CLAIMABLE}"
    )
});

pub(super) const RENEW_PROBE: &str = "UPDATE media SET probe_lease_until = $4 \
     WHERE account_id = $1 AND media_id = $2 AND status = 'Preparing' AND probe_owner = $3";

pub(super) const PROBE_QUEUE_DEPTH: &str =
    "SELECT COUNT(*) FROM media WHERE status IN ('Init', 'Preparing')";

/// Stores a probe's result if `$9` still holds the lease.
pub(super) const FINISH_PROBE: &str = "UPDATE media SET status = $3, probe = $4, duration = $5, \
     file_size = $6, media_type = COALESCE(media_type, $7), cover_url = COALESCE(cover_url, $8), \
     probe_owner = NULL, probe_lease_until = NULL \
     WHERE account_id = $1 AND media_id = $2 AND status = 'Preparing' AND probe_owner = $9";

/// Siblings of one type under parent `$2`.
pub(super) const COUNT_SIBLINGS: &str = "SELECT COUNT(*) FROM categories \
     WHERE account_id = $1 AND parent_id = $2 AND cate_type = $3";

/// Children of every type under parent `$2`.
pub(super) const COUNT_CHILDREN: &str =
    "SELECT COUNT(*) FROM categories WHERE account_id = $1 AND parent_id = $2";

pub(super) const INSERT_CATEGORY: &str = "INSERT INTO categories (account_id, cate_name, \
     parent_id, level, cate_type, create_time) VALUES ($1, $2, $3, $4, $5, $6) RETURNING cate_id";

pub(super) const RENAME_CATEGORY: &str =
    "UPDATE categories SET cate_name = $3 WHERE account_id = $1 AND cate_id = $2";

pub(super) const DELETE_CATEGORY: &str =
    "DELETE FROM categories WHERE account_id = $1 AND cate_id = $2";

/// The media of category `$2` become uncategorised.
pub(super) const UNCATEGORISE_MEDIA: &str =
    "UPDATE media SET cate_id = NULL WHERE account_id = $1 AND cate_id = $2";

pub(super) static CATEGORY_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CATEGORY_COLUMNS} FROM categories WHERE account_id = $1 AND cate_id = $2")
});

pub(super) static TEMPLATE_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {TEMPLATE_COLUMNS} FROM templates WHERE account_id = $1 AND template_id = $2")
});

/// Project `$2` unless deleted; built once: GetEditingProject is the hottest read.
pub(super) static PROJECT_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {PROJECT_COLUMNS} FROM editing_projects \
         WHERE account_id = $1 AND project_id = $2 AND status <> 'Deleted'"
    )
});

pub(super) const INSERT_PENDING_UPLOAD: &str = "INSERT INTO pending_uploads \
     (account_id, media_id, bucket, object_key) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
