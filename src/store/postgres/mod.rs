//! PostgreSQL, for deployments that outgrow one machine's SQLite file: sqlx over one pool
//! (PostgreSQL handles concurrent writers itself). The SQL lives by concern in the sibling
//! files; this file connects and maps the [`Store`] methods onto them. Dynamic SQL is
//! assembled only from constants and `$n` placeholders (hence `AssertSqlSafe`); values are
//! always bound.

mod accounts;
mod catalog;
mod jobs;
mod media;
mod projects;
mod uploads;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Arguments, Connection, Postgres};

use crate::domain::account::{AccessKey, Account, SignedNonce};
use crate::domain::category::{Category, CategoryType};
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::project::{EditingProject, ProjectQuery};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Cursor, Micros, Page, Paged};
use crate::store::{
    Bind, CategoryInsert, Guarded, MediaKey, SearchSql, Store, StoreError, StoreResult, finish_page,
};

/// Rows per multi-row INSERT: well under PostgreSQL's 65,535 bound values.
const ROWS_PER_INSERT: usize = 400;

pub struct PgStore {
    pub(super) pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            StoreError::Config(format!(
                "--database-url (OPENICE_DATABASE_URL) is not a PostgreSQL URL: {e}"
            ))
        })?;
        check_reachable(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            // No ping before each acquire (a round trip per statement): a broken connection
            // fails its query, which reports the error, and the pool replaces it.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        super::probe_upgrade::postgres(&pool).await?;
        Ok(PgStore { pool })
    }
}

/// One plain connection first, so a store that cannot be reached fails within seconds with
/// where and why (the pool would retry until its timeout and report only that it timed out).
async fn check_reachable(options: &PgConnectOptions) -> StoreResult<()> {
    const WITHIN: Duration = Duration::from_secs(5);
    let whence = || {
        format!(
            "cannot open the PostgreSQL store at {}:{} (database \"{}\", user \"{}\")",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or(options.get_username()),
            options.get_username(),
        )
    };
    let cause = match tokio::time::timeout(WITHIN, PgConnection::connect_with(options)).await {
        Ok(Ok(conn)) => {
            // Closing politely is a courtesy; the check already succeeded.
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(e)) => match e {
            sqlx::Error::Io(io) => io.to_string(),
            sqlx::Error::Database(db) => db.message().to_string(),
            other => other.to_string(),
        },
        Err(_) => format!("no answer within {} s", WITHIN.as_secs()),
    };
    Err(StoreError::Config(format!(
        "{}: {cause}. Check that PostgreSQL runs there, that the user may log in and the \
         database exists, and that --database-url (OPENICE_DATABASE_URL) is right.",
        whence()
    )))
}

/// Maps a unique-key violation to `Conflict`.
fn conflict(e: sqlx::Error, what: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(what.to_string())
        }
        _ => StoreError::from(e),
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// A search's values, bound in order.
fn search_args(binds: &[Bind]) -> StoreResult<PgArguments> {
    let mut args = PgArguments::default();
    for b in binds {
        match b {
            Bind::Text(s) => args.add(s.as_str()),
            Bind::Int(i) => args.add(*i),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// Runs a [`SearchSql`]: the count (page-number queries) and the page.
async fn fetch_paged<R, T>(
    pool: &PgPool,
    sql: SearchSql,
    page: &Page,
    cursor: impl Fn(&T) -> Cursor + Send,
) -> StoreResult<Paged<T>>
where
    R: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
{
    let total = match &sql.count {
        Some(count_sql) => {
            let args = search_args(&sql.binds[..sql.count_binds])?;
            let (n,): (i64,) = sqlx::query_as_with(sqlx::AssertSqlSafe(count_sql.as_str()), args)
                .fetch_one(pool)
                .await?;
            Some(n as u64)
        }
        None => None,
    };
    let args = search_args(&sql.binds)?;
    let rows: Vec<R> = sqlx::query_as_with(sqlx::AssertSqlSafe(sql.page.as_str()), args)
        .fetch_all(pool)
        .await?;
    finish_page(rows, page, total, cursor)
}

/// Binds an [`EditingProject`] to `$1..$18` in `PROJECT_COLUMNS` order.
fn bind_project<'q>(query: PgQuery<'q>, p: &EditingProject) -> PgQuery<'q> {
    query
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
}

/// Binds a [`MediaInfo`] to `$1..$23` in `MEDIA_COLUMNS` order.
fn bind_media<'q>(query: PgQuery<'q>, m: &MediaInfo) -> PgQuery<'q> {
    query
        .bind(&m.account_id)
        .bind(&m.media_id)
        .bind(&m.input_url)
        .bind(&m.location)
        .bind(m.media_type.map(|t| t.as_str()))
        .bind(m.business_type.map(|t| t.as_str()))
        .bind(m.source.as_str())
        .bind(&m.title)
        .bind(&m.description)
        .bind(&m.category)
        .bind(m.cate_id)
        .bind(m.media_tags.join(","))
        .bind(&m.cover_url)
        .bind(&m.user_data)
        .bind(&m.reference_id)
        .bind(m.status.as_str())
        .bind(m.create_time)
        .bind(m.modified_time)
        .bind(&m.probe)
        .bind(m.duration)
        .bind(m.file_size)
        .bind(&m.client_token)
        .bind(i64::from(m.need_snapshot))
}

/// Binds a [`Template`] to `$1..$13` in `TEMPLATE_COLUMNS` order.
fn bind_template<'q>(query: PgQuery<'q>, t: &Template) -> PgQuery<'q> {
    query
        .bind(&t.account_id)
        .bind(&t.template_id)
        .bind(&t.name)
        .bind(t.template_type.as_str())
        .bind(&t.config)
        .bind(&t.cover_url)
        .bind(&t.preview_media)
        .bind(t.status.as_str())
        .bind(t.create_source.as_str())
        .bind(t.modified_source.as_str())
        .bind(&t.related_mediaids)
        .bind(t.create_time)
        .bind(t.modified_time)
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        accounts::setting_or_insert(&self.pool, name, value).await
    }

    async fn claim_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        accounts::claim_nonce(&self.pool, access_key_id, nonce, signed_at, forget_before).await
    }

    async fn nonce_claimed(&self, access_key_id: &str, nonce: &str) -> StoreResult<bool> {
        accounts::nonce_claimed(&self.pool, access_key_id, nonce).await
    }

    async fn latest_claimed_nonce(&self) -> StoreResult<Option<i64>> {
        accounts::latest_claimed_nonce(&self.pool).await
    }

    async fn record_nonces(&self, nonces: &[SignedNonce]) -> StoreResult<()> {
        accounts::record_nonces(&self.pool, nonces).await
    }

    async fn put_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        accounts::put_setting(&self.pool, name, value).await
    }

    async fn take_setting(&self, name: &str) -> StoreResult<Option<String>> {
        accounts::take_setting(&self.pool, name).await
    }

    async fn account_count(&self) -> StoreResult<u64> {
        accounts::account_count(&self.pool).await
    }

    async fn create_account(&self, account: &Account, key: &AccessKey) -> StoreResult<()> {
        accounts::create_account(&self.pool, account, key).await
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        accounts::accounts(&self.pool).await
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        accounts::account_by_name(&self.pool, name).await
    }

    async fn insert_access_key(&self, key: &AccessKey) -> StoreResult<()> {
        accounts::insert_access_key(&self.pool, key).await
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKey>> {
        accounts::access_key(&self.pool, access_key_id).await
    }

    async fn access_keys(&self) -> StoreResult<Vec<AccessKey>> {
        accounts::access_keys(&self.pool).await
    }

    async fn set_access_key_enabled(
        &self,
        access_key_id: &str,
        enabled: bool,
    ) -> StoreResult<bool> {
        accounts::set_access_key_enabled(&self.pool, access_key_id, enabled).await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
        accounts::delete_access_key(&self.pool, access_key_id).await
    }

    async fn insert_project(
        &self,
        project: &EditingProject,
        timeline_media: &[String],
        materials: &[(String, String)],
    ) -> StoreResult<()> {
        projects::insert_project(&self.pool, project, timeline_media, materials).await
    }

    async fn project(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Option<EditingProject>> {
        projects::project(&self.pool, account_id, project_id).await
    }

    async fn update_project(
        &self,
        project: &EditingProject,
        timeline_media: Option<&[String]>,
        seen: &EditingProject,
    ) -> StoreResult<Guarded> {
        projects::update_project(&self.pool, project, timeline_media, seen).await
    }

    async fn set_project_duration(
        &self,
        seen: &EditingProject,
        duration: f64,
    ) -> StoreResult<Guarded> {
        projects::set_project_duration(&self.pool, seen, duration).await
    }

    async fn projects_using_media(
        &self,
        account_id: &str,
        media_id: &str,
    ) -> StoreResult<Vec<String>> {
        projects::projects_using_media(&self.pool, account_id, media_id).await
    }

    async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64> {
        projects::delete_projects(&self.pool, account_id, project_ids).await
    }

    async fn search_projects(
        &self,
        account_id: &str,
        q: &ProjectQuery,
    ) -> StoreResult<Paged<EditingProject>> {
        projects::search_projects(&self.pool, account_id, q).await
    }

    async fn search_projects_bytes(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<u64> {
        projects::search_projects_bytes(&self.pool, account_id, q).await
    }

    async fn claim_bucket(&self, bucket: &str, account_id: &str) -> StoreResult<String> {
        accounts::claim_bucket(&self.pool, bucket, account_id).await
    }

    async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>> {
        accounts::bucket_owner(&self.pool, bucket).await
    }

    async fn insert_media(&self, media: &MediaInfo, replace: Option<&str>) -> StoreResult<()> {
        media::insert_media(&self.pool, media, replace).await
    }

    async fn media(&self, account_id: &str, media_id: &str) -> StoreResult<Option<MediaInfo>> {
        media::media(&self.pool, account_id, media_id).await
    }

    async fn media_by(
        &self,
        account_id: &str,
        key: MediaKey<'_>,
    ) -> StoreResult<Option<MediaInfo>> {
        media::media_by_key(&self.pool, account_id, key).await
    }

    async fn media_many(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        media::media_where_in(&self.pool, account_id, "media_id", media_ids).await
    }

    async fn media_at_locations(
        &self,
        account_id: &str,
        locations: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        media::media_where_in(&self.pool, account_id, "location", locations).await
    }

    async fn update_media(&self, media: &MediaInfo) -> StoreResult<bool> {
        media::update_media(&self.pool, media).await
    }

    async fn delete_media(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        media::delete_media(&self.pool, account_id, media_ids).await
    }

    async fn search_media(
        &self,
        account_id: &str,
        q: &MediaQuery,
    ) -> StoreResult<Paged<MediaInfo>> {
        media::search_media(&self.pool, account_id, q).await
    }

    async fn claim_probe(
        &self,
        owner: &str,
        now: Micros,
        lease_until: Micros,
    ) -> StoreResult<Option<MediaInfo>> {
        media::claim_probe(&self.pool, owner, now, lease_until).await
    }

    async fn renew_probe(
        &self,
        account_id: &str,
        media_id: &str,
        owner: &str,
        lease_until: Micros,
    ) -> StoreResult<bool> {
        media::renew_probe(&self.pool, account_id, media_id, owner, lease_until).await
    }

    async fn probe_queue_depth(&self) -> StoreResult<u64> {
        media::probe_queue_depth(&self.pool).await
    }

    async fn compact_counts(&self) -> StoreResult<()> {
        projects::compact_counts(&self.pool).await
    }

    async fn finish_probe(&self, media: &MediaInfo, owner: &str) -> StoreResult<bool> {
        media::finish_probe(&self.pool, media, owner).await
    }

    async fn insert_category(
        &self,
        category: &Category,
        max_siblings: u64,
    ) -> StoreResult<CategoryInsert> {
        catalog::insert_category(&self.pool, category, max_siblings).await
    }

    async fn category(&self, account_id: &str, cate_id: i64) -> StoreResult<Option<Category>> {
        catalog::category(&self.pool, account_id, cate_id).await
    }

    async fn rename_category(
        &self,
        account_id: &str,
        cate_id: i64,
        name: &str,
    ) -> StoreResult<bool> {
        catalog::rename_category(&self.pool, account_id, cate_id, name).await
    }

    async fn delete_category(&self, account_id: &str, cate_id: i64) -> StoreResult<bool> {
        catalog::delete_category(&self.pool, account_id, cate_id).await
    }

    async fn child_categories(
        &self,
        account_id: &str,
        parent_id: i64,
        cate_type: CategoryType,
        ascending: bool,
        page: &Page,
    ) -> StoreResult<Paged<(Category, u64)>> {
        catalog::child_categories(
            &self.pool, account_id, parent_id, cate_type, ascending, page,
        )
        .await
    }

    async fn insert_template(&self, template: &Template) -> StoreResult<()> {
        catalog::insert_template(&self.pool, template).await
    }

    async fn template(&self, account_id: &str, template_id: &str) -> StoreResult<Option<Template>> {
        catalog::template(&self.pool, account_id, template_id).await
    }

    async fn update_template(&self, template: &Template) -> StoreResult<bool> {
        catalog::update_template(&self.pool, template).await
    }

    async fn delete_templates(
        &self,
        account_id: &str,
        template_ids: &[String],
    ) -> StoreResult<u64> {
        catalog::delete_templates(&self.pool, account_id, template_ids).await
    }

    async fn search_templates(
        &self,
        account_id: &str,
        q: &TemplateQuery,
    ) -> StoreResult<Paged<Template>> {
        catalog::search_templates(&self.pool, account_id, q).await
    }

    async fn add_materials(
        &self,
        account_id: &str,
        project_id: &str,
        materials: &[(String, String)],
    ) -> StoreResult<()> {
        projects::add_materials(&self.pool, account_id, project_id, materials).await
    }

    async fn delete_materials(
        &self,
        account_id: &str,
        project_id: &str,
        material_type: &str,
        material_ids: &[String],
    ) -> StoreResult<()> {
        projects::delete_materials(
            &self.pool,
            account_id,
            project_id,
            material_type,
            material_ids,
        )
        .await
    }

    async fn materials(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        projects::materials(&self.pool, account_id, project_id).await
    }
}
