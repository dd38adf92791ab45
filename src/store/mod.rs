//! Persistence behind one trait, with a SQLite (embedded, default) and a PostgreSQL
//! implementation. Both use the same column layout and, where the dialects agree, the same
//! SQL text defined here; dialect-specific work lives in each backend.

mod postgres;
mod sql;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::account::{AccessKey, Account};
use crate::domain::project::{EditingProject, ProjectQuery, ProjectStatus, ProjectType};
use crate::domain::{Cursor, Page, Paged};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Config(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

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

    async fn insert_project(&self, project: &EditingProject) -> StoreResult<()>;
    async fn project(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Option<EditingProject>>;
    /// Replaces the stored project; false when it no longer exists.
    async fn update_project(&self, project: &EditingProject) -> StoreResult<bool>;
    /// Deletes the caller's projects among `project_ids`; others' IDs are ignored.
    async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64>;
    async fn search_projects(
        &self,
        account_id: &str,
        query: &ProjectQuery,
    ) -> StoreResult<Paged<EditingProject>>;
}

/// Opens the store a URL names: `postgres://…` or `sqlite://…`; anything else is a path
/// to a SQLite file. `None` is `<data_dir>/openice.db`.
pub async fn open(url: Option<&str>, data_dir: &Path) -> StoreResult<Arc<dyn Store>> {
    match url {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Ok(Arc::new(postgres::PgStore::connect(u).await?))
        }
        Some(u) => {
            let path = u.strip_prefix("sqlite://").unwrap_or(u);
            Ok(Arc::new(sqlite::SqliteStore::open(Path::new(path)).await?))
        }
        None => {
            std::fs::create_dir_all(data_dir).map_err(|e| {
                StoreError::Config(format!(
                    "cannot create data dir {}: {e}",
                    data_dir.display()
                ))
            })?;
            Ok(Arc::new(
                sqlite::SqliteStore::open(&data_dir.join("openice.db")).await?,
            ))
        }
    }
}

const PROJECT_COLUMNS: &str = "account_id, project_id, title, description, timeline, template_id, \
     clips_param, cover_url, status, create_time, modified_time, duration, create_source, \
     modified_source, template_type, project_type, business_config, business_status";

const INSERT_PROJECT: &str = "INSERT INTO editing_projects (account_id, project_id, title, \
     description, timeline, template_id, clips_param, cover_url, status, create_time, \
     modified_time, duration, create_source, modified_source, template_type, project_type, \
     business_config, business_status) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

const UPDATE_PROJECT: &str = "UPDATE editing_projects SET title = $3, description = $4, \
     timeline = $5, template_id = $6, clips_param = $7, cover_url = $8, status = $9, \
     create_time = $10, modified_time = $11, duration = $12, create_source = $13, \
     modified_source = $14, template_type = $15, project_type = $16, business_config = $17, \
     business_status = $18 WHERE account_id = $1 AND project_id = $2";

/// Binds an [`EditingProject`] to `$1..$18` in `PROJECT_COLUMNS` order.
macro_rules! bind_project {
    ($query:expr, $p:expr) => {{
        let p = $p;
        $query
            .bind(&p.account_id)
            .bind(&p.project_id)
            .bind(&p.title)
            .bind(&p.description)
            .bind(&p.timeline)
            .bind(&p.template_id)
            .bind(&p.clips_param)
            .bind(&p.cover_url)
            .bind(p.status.as_str())
            .bind(p.create_time)
            .bind(p.modified_time)
            .bind(p.duration)
            .bind(p.create_source.as_str())
            .bind(p.modified_source.as_str())
            .bind(p.template_type.map(|t| t.as_str()))
            .bind(p.project_type.as_str())
            .bind(&p.business_config)
            .bind(p.business_status.map(|s| s.as_str()))
    }};
}
use bind_project;

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
            secret: r.secret,
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

/// A value bound to a search placeholder.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Text(String),
    Int(i64),
}

/// SQL for one page of a project search: `(count_sql, page_sql, binds)`; the page query
/// also binds the cursor. Filters are placeholders, never spliced text.
struct SearchSql {
    count: Option<String>,
    page: String,
    binds: Vec<Bind>,
}

/// A WHERE clause under construction; `?` in a clause becomes the next `$n`.
struct Where {
    sql: String,
    binds: Vec<Bind>,
}

impl Where {
    /// The count and page queries over `table`, ordered by (create_time, `id_column`).
    fn paged(
        self,
        table: &str,
        columns: &str,
        id_column: &str,
        ascending: bool,
        page: &Page,
    ) -> SearchSql {
        let Where {
            sql: filter,
            mut binds,
        } = self;
        let (dir, cmp) = if ascending {
            ("ASC", ">")
        } else {
            ("DESC", "<")
        };
        let order = format!(" ORDER BY create_time {dir}, {id_column} {dir}");
        match page {
            Page::Number { page_no, page_size } => {
                let offset = (u64::from(*page_no) - 1) * u64::from(*page_size);
                SearchSql {
                    count: Some(format!("SELECT COUNT(*) FROM {table} WHERE {filter}")),
                    page: format!(
                        "SELECT {columns} FROM {table} WHERE {filter}{order} LIMIT {} OFFSET {offset}",
                        u64::from(*page_size) + 1
                    ),
                    binds,
                }
            }
            Page::After { cursor, limit } => {
                let mut page_filter = filter;
                if let Some(c) = cursor {
                    binds.push(Bind::Int(c.create_time));
                    let n = binds.len();
                    binds.push(Bind::Text(c.id.clone()));
                    page_filter.push_str(&format!(
                        " AND (create_time {cmp} ${n} OR (create_time = ${n} AND {id_column} {cmp} ${}))",
                        n + 1
                    ));
                }
                SearchSql {
                    count: None,
                    page: format!(
                        "SELECT {columns} FROM {table} WHERE {page_filter}{order} LIMIT {}",
                        u64::from(*limit) + 1
                    ),
                    binds,
                }
            }
        }
    }

    fn and(&mut self, clause: &str, values: impl IntoIterator<Item = Bind>) {
        let mut out = String::new();
        let mut values = values.into_iter();
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                self.binds.extend(values.next());
                out.push_str(&format!("${}", self.binds.len()));
            }
            out.push_str(part);
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(&out);
    }
}

fn search_sql(account_id: &str, q: &ProjectQuery) -> SearchSql {
    let text = |s: &str| Bind::Text(s.to_string());
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![text(account_id)],
    };
    if let Some(s) = q.create_source {
        w.and("create_source = ?", [text(s.as_str())]);
    }
    if let Some(t) = q.start_time {
        w.and("create_time >= ?", [Bind::Int(t)]);
    }
    if let Some(t) = q.end_time {
        w.and("create_time <= ?", [Bind::Int(t)]);
    }
    match q.template_type {
        Some(Some(t)) => w.and("template_type = ?", [text(t.as_str())]),
        Some(None) => w.and("template_type IS NULL", []),
        None => {}
    }
    let project_type = q.project_type.unwrap_or(ProjectType::EditingProject);
    w.and("project_type = ?", [text(project_type.as_str())]);
    if q.statuses.is_empty() {
        // Deleted projects are gone from the caller's view.
        w.and("status <> ?", [text(ProjectStatus::Deleted.as_str())]);
    } else {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        w.and(
            &format!("status IN ({marks})"),
            q.statuses.iter().map(|s| text(s.as_str())),
        );
    }
    if let Some(k) = &q.keyword {
        w.and(
            "(project_id = ? OR title LIKE ? ESCAPE '\\')",
            [text(k), Bind::Text(format!("%{}%", escape_like(k)))],
        );
    }
    w.paged(
        "editing_projects",
        PROJECT_COLUMNS,
        "project_id",
        q.ascending,
        &q.page,
    )
}

fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Turns the rows of a page query (which fetched one extra row) into a page.
fn finish_page<R, T>(
    rows: Vec<R>,
    page: &Page,
    total: Option<u64>,
    cursor: impl Fn(&T) -> Cursor,
) -> StoreResult<Paged<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let limit = page.limit() as usize;
    let more = rows.len() > limit;
    let items = rows
        .into_iter()
        .take(limit)
        .map(T::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    let next = more.then(|| items.last().map(&cursor)).flatten();
    let total = total.unwrap_or(items.len() as u64);
    Ok(Paged { items, total, next })
}

/// Binds search values in order.
macro_rules! bind_search {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for b in $binds {
            query = match b {
                Bind::Text(s) => query.bind(s.clone()),
                Bind::Int(i) => query.bind(*i),
            };
        }
        query
    }};
}
use bind_search;
