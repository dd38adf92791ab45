//! Persistence behind one trait, with a SQLite (embedded, default; `sqlite/`, rusqlite) and
//! a PostgreSQL (`postgres/`, sqlx) engine. Both use the same column layout and, where the
//! dialects agree, the same SQL text and row decoding defined here (searches in
//! `search.rs`); how each runs it lives in the engine.

pub mod export;
mod jobs;
pub mod oss;
mod postgres;
mod probe_upgrade;
mod search;
mod sql;
mod sqlite;

pub use jobs::JobStore;
use search::{
    Bind, SearchSql, Where, category_cursor, child_categories_sql, finish_page, media_cursor,
    media_in_sql, media_sql, project_cursor, search_sql, template_cursor, template_sql,
};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::account::{AccessKey, Account, SignedNonce};
use crate::domain::category::{Category, CategoryType};
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::project::{EditingProject, ProjectQuery};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Page, Paged};

/// How late a read may see what another process committed to the same store: SQLite's
/// readers reuse their snapshot until this process commits again or this much time has
/// passed (`sqlite/engine.rs`). Accounts, access keys, STS upload credentials and bucket
/// owners, which the `account` CLI and `media put` change from outside, and which decide who
/// may do what, are always read afresh.
pub const SNAPSHOT_MAX_AGE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Failed database operations since start, for `/metrics`.
pub static BACKEND_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        BACKEND_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StoreError::Backend(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        BACKEND_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        StoreError::Sqlite(e)
    }
}

/// When an embedded (SQLite) commit is on disk: `Normal` (WAL + `synchronous=NORMAL`)
/// survives a killed process, only power loss can drop the last commits; `Full` syncs the
/// WAL at every commit and survives power loss too. PostgreSQL follows its own settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SyncMode {
    #[default]
    Normal,
    Full,
}

#[async_trait]
/// `JobStore` (store/jobs.rs) holds the producing jobs' methods, `UploadStore` (store/oss.rs)
/// the upload actions' and OSS API's.
pub trait Store: JobStore + oss::UploadStore + Send + Sync + 'static {
    /// Cheap round trip for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    /// The stored value of a server-wide setting, storing `value` first if there is none.
    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String>;

    /// Records a signed request's nonce; false when it was recorded already. Rows signed
    /// before `forget_before` (Unix seconds) are dropped on the way.
    async fn claim_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool>;
    /// Whether [`Store::claim_nonce`] recorded this nonce.
    async fn nonce_claimed(&self, access_key_id: &str, nonce: &str) -> StoreResult<bool>;
    /// The latest signed time among recorded nonces.
    async fn latest_claimed_nonce(&self) -> StoreResult<Option<i64>>;
    /// Records nonces a cleanly stopping server hands to its successor; ones recorded
    /// already are kept.
    async fn record_nonces(&self, nonces: &[SignedNonce]) -> StoreResult<()>;
    /// Sets a server-wide setting, replacing its value.
    async fn put_setting(&self, name: &str, value: &str) -> StoreResult<()>;
    /// Removes a server-wide setting and returns the value it had.
    async fn take_setting(&self, name: &str) -> StoreResult<Option<String>>;

    async fn account_count(&self) -> StoreResult<u64>;
    /// Creates an account with its first key, atomically. A taken name is a `Conflict`.
    async fn create_account(&self, account: &Account, key: &AccessKey) -> StoreResult<()>;
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>>;
    async fn insert_access_key(&self, key: &AccessKey) -> StoreResult<()>;
    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKey>>;
    async fn access_keys(&self) -> StoreResult<Vec<AccessKey>>;
    /// Returns false when no such key exists.
    async fn set_access_key_enabled(&self, access_key_id: &str, enabled: bool)
    -> StoreResult<bool>;
    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool>;

    /// Inserts a project with the media IDs its timeline references and the materials
    /// (type, ID) attached to it, in one transaction.
    async fn insert_project(
        &self,
        project: &EditingProject,
        timeline_media: &[String],
        materials: &[(String, String)],
    ) -> StoreResult<()>;
    async fn project(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Option<EditingProject>>;
    /// Writes what an update changed from `seen` (the row as read): changed fields alone,
    /// so concurrent updates of other fields are kept. With `timeline_media` the timeline
    /// was replaced: the timeline, its derived status and Duration, template fields and media
    /// links are written only if status and Duration are still as `seen` (else `Changed`).
    async fn update_project(
        &self,
        project: &EditingProject,
        timeline_media: Option<&[String]>,
        seen: &EditingProject,
    ) -> StoreResult<Guarded>;
    /// Sets a project's Duration alone, if its timeline and Duration are still as `seen`.
    async fn set_project_duration(
        &self,
        seen: &EditingProject,
        duration: f64,
    ) -> StoreResult<Guarded>;
    /// The caller's projects whose timeline references `media_id`.
    async fn projects_using_media(
        &self,
        account_id: &str,
        media_id: &str,
    ) -> StoreResult<Vec<String>>;
    /// Deletes the caller's projects among `project_ids` with their material links;
    /// others' IDs are ignored.
    async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64>;
    async fn search_projects(
        &self,
        account_id: &str,
        query: &ProjectQuery,
    ) -> StoreResult<Paged<EditingProject>>;
    /// Bytes of `Timeline` and `ClipsParam` on the page `q` selects, read without loading
    /// them, so that a page too large to answer is refused before it is loaded.
    async fn search_projects_bytes(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<u64>;

    /// The bucket's owner, making `account_id` the owner if the bucket has none yet.
    async fn claim_bucket(&self, bucket: &str, account_id: &str) -> StoreResult<String>;
    async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>>;

    /// A taken location, ReferenceId or ClientToken is a `Conflict`. With `replace`, the
    /// media it names is deleted in the same transaction (RegisterMediaInfo `Overwrite`).
    async fn insert_media(&self, media: &MediaInfo, replace: Option<&str>) -> StoreResult<()>;
    async fn media(&self, account_id: &str, media_id: &str) -> StoreResult<Option<MediaInfo>>;
    async fn media_by(&self, account_id: &str, key: MediaKey<'_>)
    -> StoreResult<Option<MediaInfo>>;
    /// The caller's media among `media_ids`, in no particular order (any number of IDs).
    async fn media_many(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>>;
    /// The caller's media at any of these canonical locations, in no particular order.
    async fn media_at_locations(
        &self,
        account_id: &str,
        locations: &[String],
    ) -> StoreResult<Vec<MediaInfo>>;
    /// Stores UpdateMediaInfo's fields (not the probe's); false when the media no longer
    /// exists. A taken ReferenceId is a `Conflict`.
    async fn update_media(&self, media: &MediaInfo) -> StoreResult<bool>;
    /// Deletes media and their project-material links; returns the deleted rows.
    async fn delete_media(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>>;
    async fn search_media(
        &self,
        account_id: &str,
        query: &MediaQuery,
    ) -> StoreResult<Paged<MediaInfo>>;
    /// Leases the oldest media waiting for a probe to `owner` until `lease_until` (Unix
    /// microseconds) and returns it (any account): an `Init` media, which becomes
    /// `Preparing`, or a `Preparing` one whose lease ran out before `now` (its owner died).
    async fn claim_probe(
        &self,
        owner: &str,
        now: crate::domain::Micros,
        lease_until: crate::domain::Micros,
    ) -> StoreResult<Option<MediaInfo>>;
    /// Extends `owner`'s lease on a media; false when the lease was lost (taken over, or
    /// the media deleted or re-registered).
    async fn renew_probe(
        &self,
        account_id: &str,
        media_id: &str,
        owner: &str,
        lease_until: crate::domain::Micros,
    ) -> StoreResult<bool>;
    /// Media waiting for or under probing (all accounts).
    async fn probe_queue_depth(&self) -> StoreResult<u64>;
    /// Folds the backend's project count rows where it appends them (PostgreSQL).
    async fn compact_counts(&self) -> StoreResult<()>;
    /// Stores a probe's outcome if `owner` still holds the lease (the media was not
    /// deleted, re-registered or taken over meanwhile), ending the lease.
    async fn finish_probe(&self, media: &MediaInfo, owner: &str) -> StoreResult<bool>;

    /// Inserts a category unless its parent is gone or its level already holds
    /// `max_siblings` categories of its type, checked in the writing transaction (with the
    /// parent's row, or for a root the account's, locked on PostgreSQL).
    async fn insert_category(
        &self,
        category: &Category,
        max_siblings: u64,
    ) -> StoreResult<CategoryInsert>;
    async fn category(&self, account_id: &str, cate_id: i64) -> StoreResult<Option<Category>>;
    async fn rename_category(
        &self,
        account_id: &str,
        cate_id: i64,
        name: &str,
    ) -> StoreResult<bool>;
    /// Deletes a category with its subcategories; their media become uncategorised.
    async fn delete_category(&self, account_id: &str, cate_id: i64) -> StoreResult<bool>;
    /// Children of `parent_id` (`-1` for roots) of one type, with each child's own child count.
    async fn child_categories(
        &self,
        account_id: &str,
        parent_id: i64,
        cate_type: CategoryType,
        ascending: bool,
        page: &Page,
    ) -> StoreResult<Paged<(Category, u64)>>;

    async fn insert_template(&self, template: &Template) -> StoreResult<()>;
    async fn template(&self, account_id: &str, template_id: &str) -> StoreResult<Option<Template>>;
    /// Replaces the stored template; false when it no longer exists.
    async fn update_template(&self, template: &Template) -> StoreResult<bool>;
    async fn delete_templates(&self, account_id: &str, template_ids: &[String])
    -> StoreResult<u64>;
    async fn search_templates(
        &self,
        account_id: &str,
        query: &TemplateQuery,
    ) -> StoreResult<Paged<Template>>;

    /// Attaches materials (type, ID) to a project; existing links are kept.
    async fn add_materials(
        &self,
        account_id: &str,
        project_id: &str,
        materials: &[(String, String)],
    ) -> StoreResult<()>;
    async fn delete_materials(
        &self,
        account_id: &str,
        project_id: &str,
        material_type: &str,
        material_ids: &[String],
    ) -> StoreResult<()>;
    /// (type, ID) pairs attached to a project, oldest first.
    async fn materials(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Vec<(String, String)>>;
}

/// What [`Store::insert_category`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryInsert {
    Inserted(i64),
    ParentGone,
    LevelFull,
}

/// What a write guarded by what its caller read found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    Done,
    /// The row is gone.
    Gone,
    /// The row changed since it was read: read again and retry, or give up.
    Changed,
}

/// Unique keys of a media asset besides its ID.
#[derive(Debug, Clone, Copy)]
pub enum MediaKey<'a> {
    Location(&'a str),
    ReferenceId(&'a str),
    ClientToken(&'a str),
}

impl MediaKey<'_> {
    fn column_and_value(&self) -> (&'static str, &str) {
        match self {
            MediaKey::Location(v) => ("location", v),
            MediaKey::ReferenceId(v) => ("reference_id", v),
            MediaKey::ClientToken(v) => ("client_token", v),
        }
    }
}

/// Opens the store a URL names: `postgres://…` or `sqlite://…`; anything else is a path
/// to a SQLite file. `None` is `<data_dir>/openice.db`.
/// `sync` applies to SQLite.
pub async fn open(
    url: Option<&str>,
    data_dir: &Path,
    sync: SyncMode,
) -> StoreResult<Arc<dyn Store>> {
    match backend(url, data_dir)? {
        Backend::Postgres(u) => Ok(Arc::new(postgres::PgStore::connect(&u).await?)),
        Backend::Sqlite(path) => Ok(Arc::new(sqlite::SqliteStore::open(&path, sync).await?)),
    }
}

/// Which engine `--database-url` / `--data-dir` select.
enum Backend {
    Postgres(String),
    Sqlite(std::path::PathBuf),
}

fn backend(url: Option<&str>, data_dir: &Path) -> StoreResult<Backend> {
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Backend::Postgres(u.to_string()))
        }
        Some(u) => Ok(Backend::Sqlite(
            u.strip_prefix("sqlite://").unwrap_or(u).into(),
        )),
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create the data dir {}: {e}. Pass a writable --data-dir \
                     (OPENICE_DATA_DIR).",
                    data_dir.display()
                ))
            })?;
            Ok(Backend::Sqlite(data_dir.join("openice.db")))
        }
    }
}

pub(super) const PUT_SETTING: &str = "INSERT INTO settings (name, value) VALUES ($1, $2) \
     ON CONFLICT (name) DO UPDATE SET value = excluded.value";

pub(super) const TAKE_SETTING: &str = "DELETE FROM settings WHERE name = $1 RETURNING value";

const PROJECT_COLUMNS: &str = "account_id, project_id, title, description, timeline, template_id, \
     clips_param, cover_url, status, create_time, modified_time, duration, create_source, \
     modified_source, template_type, project_type, business_config, business_status";

/// [`PROJECT_COLUMNS`] without the two values that may be megabytes.
const PROJECT_SUMMARY_COLUMNS: &str = "account_id, project_id, title, description, \
     NULL AS timeline, template_id, NULL AS clips_param, cover_url, status, create_time, \
     modified_time, duration, create_source, modified_source, template_type, project_type, \
     business_config, business_status";

/// What [`PROJECT_COLUMNS`] would load of `timeline` and `clips_param`, in bytes.
const PROJECT_LOADED_BYTES: &str = "CAST(COALESCE(octet_length(timeline), 0) \
     + COALESCE(octet_length(clips_param), 0) AS BIGINT)";

const INSERT_PROJECT: &str = "INSERT INTO editing_projects (account_id, project_id, title, \
     description, timeline, template_id, clips_param, cover_url, status, create_time, \
     modified_time, duration, create_source, modified_source, template_type, project_type, \
     business_config, business_status) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// The fields an update sets as given (NULL = unchanged), so they never depend on a read.
const UPDATE_PROJECT_FIELDS: &str = "UPDATE editing_projects SET title = COALESCE($3, title), \
     description = COALESCE($4, description), cover_url = COALESCE($5, cover_url), \
     business_status = COALESCE($6, business_status), modified_time = $7, modified_source = $8 \
     WHERE account_id = $1 AND project_id = $2 AND status <> 'Deleted'";

/// A replaced timeline with what derives from it, guarded by the status and Duration it
/// was derived from.
const UPDATE_PROJECT_TIMELINE: &str = "UPDATE editing_projects SET timeline = $3, \
     template_id = $4, clips_param = $5, template_type = $6, status = $7, duration = $8 \
     WHERE account_id = $1 AND project_id = $2 AND status = $9 AND duration = $10";

/// A stored project row, decoded the same way by both backends.
#[derive(sqlx::FromRow)]
struct ProjectRow {
    account_id: String,
    project_id: String,
    title: String,
    description: Option<String>,
    timeline: Option<String>,
    template_id: Option<String>,
    clips_param: Option<String>,
    cover_url: Option<String>,
    status: String,
    create_time: i64,
    modified_time: i64,
    duration: f64,
    create_source: String,
    modified_source: String,
    template_type: Option<String>,
    project_type: String,
    business_config: Option<String>,
    business_status: Option<String>,
}

fn parse_stored<T: std::str::FromStr>(column: &str, value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("{column} = {value:?}")))
}

fn parse_stored_opt<T: std::str::FromStr>(
    column: &str,
    value: Option<String>,
) -> StoreResult<Option<T>> {
    value.map(|v| parse_stored(column, &v)).transpose()
}

impl TryFrom<ProjectRow> for EditingProject {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> StoreResult<Self> {
        Ok(EditingProject {
            status: parse_stored("status", &r.status)?,
            create_source: parse_stored("create_source", &r.create_source)?,
            modified_source: parse_stored("modified_source", &r.modified_source)?,
            template_type: parse_stored_opt("template_type", r.template_type)?,
            project_type: parse_stored("project_type", &r.project_type)?,
            business_status: parse_stored_opt("business_status", r.business_status)?,
            account_id: r.account_id,
            project_id: r.project_id,
            title: r.title,
            description: r.description,
            timeline: r.timeline,
            template_id: r.template_id,
            clips_param: r.clips_param,
            cover_url: r.cover_url,
            create_time: r.create_time,
            modified_time: r.modified_time,
            duration: r.duration,
            business_config: r.business_config,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AccessKeyRow {
    access_key_id: String,
    account_id: String,
    secret: String,
    enabled: i64,
}

impl From<AccessKeyRow> for AccessKey {
    fn from(r: AccessKeyRow) -> Self {
        AccessKey {
            access_key_id: r.access_key_id,
            account_id: r.account_id,
            secret: crate::domain::account::Secret::new(r.secret),
            enabled: r.enabled != 0,
        }
    }
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    account_id: String,
    name: String,
    create_time: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Account {
            account_id: r.account_id,
            name: r.name,
            create_time: r.create_time,
        }
    }
}

const MEDIA_COLUMNS: &str = "account_id, media_id, input_url, location, media_type, \
     business_type, source, title, description, category, cate_id, media_tags, cover_url, \
     user_data, reference_id, status, create_time, modified_time, probe, duration, file_size, \
     client_token, need_snapshot";

const INSERT_MEDIA: &str = "INSERT INTO media (account_id, media_id, input_url, location, \
     media_type, business_type, source, title, description, category, cate_id, media_tags, \
     cover_url, user_data, reference_id, status, create_time, modified_time, probe, duration, \
     file_size, client_token, need_snapshot) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)";

/// UpdateMediaInfo's columns only: a probe finishing meanwhile keeps its results.
const UPDATE_MEDIA: &str = "UPDATE media SET business_type = $3, title = $4, description = $5, \
     category = $6, cate_id = $7, media_tags = $8, cover_url = $9, user_data = $10, \
     reference_id = $11, modified_time = $12 WHERE account_id = $1 AND media_id = $2";

#[derive(sqlx::FromRow)]
struct MediaRow {
    account_id: String,
    media_id: String,
    input_url: String,
    location: String,
    media_type: Option<String>,
    business_type: Option<String>,
    source: String,
    title: String,
    description: Option<String>,
    category: Option<String>,
    cate_id: Option<i64>,
    media_tags: String,
    cover_url: Option<String>,
    user_data: Option<String>,
    reference_id: Option<String>,
    status: String,
    create_time: i64,
    modified_time: i64,
    probe: Option<String>,
    duration: Option<f64>,
    file_size: Option<i64>,
    client_token: Option<String>,
    need_snapshot: i64,
}

impl TryFrom<MediaRow> for MediaInfo {
    type Error = StoreError;
    fn try_from(r: MediaRow) -> StoreResult<Self> {
        Ok(MediaInfo {
            media_type: parse_stored_opt("media_type", r.media_type)?,
            business_type: parse_stored_opt("business_type", r.business_type)?,
            source: parse_stored("source", &r.source)?,
            status: parse_stored("status", &r.status)?,
            media_tags: r
                .media_tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            account_id: r.account_id,
            media_id: r.media_id,
            input_url: r.input_url,
            location: r.location,
            title: r.title,
            description: r.description,
            category: r.category,
            cate_id: r.cate_id,
            cover_url: r.cover_url,
            user_data: r.user_data,
            reference_id: r.reference_id,
            create_time: r.create_time,
            modified_time: r.modified_time,
            probe: r.probe,
            duration: r.duration,
            file_size: r.file_size,
            client_token: r.client_token,
            need_snapshot: r.need_snapshot != 0,
        })
    }
}

const CATEGORY_COLUMNS: &str =
    "account_id, cate_id, cate_name, parent_id, level, cate_type, create_time";

#[derive(sqlx::FromRow)]
struct CategoryRow {
    account_id: String,
    cate_id: i64,
    cate_name: String,
    parent_id: i64,
    level: i64,
    cate_type: String,
    create_time: i64,
}

impl TryFrom<CategoryRow> for Category {
    type Error = StoreError;
    fn try_from(r: CategoryRow) -> StoreResult<Self> {
        Ok(Category {
            cate_type: parse_stored("cate_type", &r.cate_type)?,
            account_id: r.account_id,
            cate_id: r.cate_id,
            cate_name: r.cate_name,
            parent_id: r.parent_id,
            level: r.level,
            create_time: r.create_time,
        })
    }
}

const TEMPLATE_COLUMNS: &str = "account_id, template_id, name, template_type, config, cover_url, \
     preview_media, status, create_source, modified_source, related_mediaids, create_time, modified_time";

const INSERT_TEMPLATE: &str = "INSERT INTO templates (account_id, template_id, name, \
     template_type, config, cover_url, preview_media, status, create_source, modified_source, \
     related_mediaids, create_time, modified_time) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

const UPDATE_TEMPLATE: &str = "UPDATE templates SET name = $3, template_type = $4, config = $5, \
     cover_url = $6, preview_media = $7, status = $8, create_source = $9, modified_source = $10, \
     related_mediaids = $11, create_time = $12, modified_time = $13 \
     WHERE account_id = $1 AND template_id = $2";

#[derive(sqlx::FromRow)]
struct TemplateRow {
    account_id: String,
    template_id: String,
    name: String,
    template_type: String,
    config: Option<String>,
    cover_url: Option<String>,
    preview_media: Option<String>,
    status: String,
    create_source: String,
    modified_source: String,
    related_mediaids: Option<String>,
    create_time: i64,
    modified_time: i64,
}

impl TryFrom<TemplateRow> for Template {
    type Error = StoreError;
    fn try_from(r: TemplateRow) -> StoreResult<Self> {
        Ok(Template {
            template_type: parse_stored("template_type", &r.template_type)?,
            status: parse_stored("status", &r.status)?,
            create_source: parse_stored("create_source", &r.create_source)?,
            modified_source: parse_stored("modified_source", &r.modified_source)?,
            account_id: r.account_id,
            template_id: r.template_id,
            name: r.name,
            config: r.config,
            cover_url: r.cover_url,
            preview_media: r.preview_media,
            related_mediaids: r.related_mediaids,
            create_time: r.create_time,
            modified_time: r.modified_time,
        })
    }
}

/// What turns a project's stored timeline media links into `wanted`: the stored IDs no
/// longer wanted (to delete) and the wanted IDs not stored yet (to insert, each once), so
/// that a save keeping its media writes no link at all.
fn link_changes(stored: &[String], wanted: &[String]) -> (Vec<String>, Vec<String>) {
    use std::collections::HashSet;
    let kept: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut known: HashSet<&str> = stored.iter().map(String::as_str).collect();
    let remove = stored
        .iter()
        .filter(|id| !kept.contains(id.as_str()))
        .cloned()
        .collect();
    let add = wanted
        .iter()
        .filter(|id| known.insert(id.as_str()))
        .cloned()
        .collect();
    (remove, add)
}

#[cfg(test)]
mod tests {
    use super::link_changes;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn link_changes_writes_only_the_difference() {
        let unchanged = link_changes(&ids(&["a", "b"]), &ids(&["b", "a"]));
        assert_eq!(unchanged, (vec![], vec![]));
        let (remove, add) = link_changes(&ids(&["a", "b", "c"]), &ids(&["c", "d", "a", "d"]));
        assert_eq!((remove, add), (ids(&["b"]), ids(&["d"])));
        assert_eq!(link_changes(&[], &ids(&["x", "x"])), (vec![], ids(&["x"])));
        assert_eq!(link_changes(&ids(&["x"]), &[]), (ids(&["x"]), vec![]));
    }
}
