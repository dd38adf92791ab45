//! The embedded default: one SQLite file in WAL mode, through rusqlite. Reads run on the
//! calling thread with a pooled connection (a point read from the page cache takes
//! microseconds; a hand-off to another thread would cost more); writes go to one writer
//! thread that commits every write waiting in its queue in one transaction and answers each
//! after the COMMIT (engine.rs). The SQL lives by concern in the sibling files; this file
//! maps the [`Store`] methods onto reads and writes.

mod accounts;
mod catalog;
mod engine;
mod jobs;
mod media;
mod projects;
mod rows;
pub(super) mod sqlx_pool;
mod uploads;

use std::path::Path;

use async_trait::async_trait;

use crate::domain::account::{AccessKey, Account, SignedNonce};
use crate::domain::category::{Category, CategoryType};
use crate::domain::media::{MediaInfo, MediaQuery};
use crate::domain::project::{EditingProject, ProjectQuery};
use crate::domain::template::{Template, TemplateQuery};
use crate::domain::{Micros, Page, Paged};
use crate::store::{
    CategoryInsert, Guarded, MediaKey, Store, StoreResult, SyncMode, sqlite::engine::Engine,
};

pub struct SqliteStore {
    engine: Engine,
}

impl SqliteStore {
    /// Creates and migrates the file if needed, then starts the engine.
    pub async fn open(path: &Path, sync: SyncMode) -> StoreResult<Self> {
        sqlx_pool::SqlxSqlite::open(path).await?.close().await;
        let engine = Engine::start(path, sync).map_err(|e| sqlx_pool::cannot_open(path, e))?;
        Ok(SqliteStore { engine })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        self.engine
            .read(|c| Ok(engine::query_value::<i64>(c, "SELECT 1", &[])?))
            .map(drop)
    }

    async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
        let (name, value) = (name.to_string(), value.to_string());
        self.engine
            .write(move |c| accounts::setting_or_insert(c, &name, &value))
            .await
    }

    async fn claim_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        signed_at: i64,
        forget_before: i64,
    ) -> StoreResult<bool> {
        let (key, nonce) = (access_key_id.to_string(), nonce.to_string());
        self.engine
            .write(move |c| accounts::claim_nonce(c, &key, &nonce, signed_at, forget_before))
            .await
    }

    async fn nonce_claimed(&self, access_key_id: &str, nonce: &str) -> StoreResult<bool> {
        self.engine
            .read(|c| accounts::nonce_claimed(c, access_key_id, nonce))
    }

    async fn latest_claimed_nonce(&self) -> StoreResult<Option<i64>> {
        self.engine.read(accounts::latest_claimed_nonce)
    }

    async fn record_nonces(&self, nonces: &[SignedNonce]) -> StoreResult<()> {
        let nonces = nonces.to_vec();
        self.engine
            .write(move |c| accounts::record_nonces(c, &nonces))
            .await
    }

    async fn put_setting(&self, name: &str, value: &str) -> StoreResult<()> {
        let (name, value) = (name.to_string(), value.to_string());
        self.engine
            .write(move |c| accounts::put_setting(c, &name, &value))
            .await
    }

    async fn take_setting(&self, name: &str) -> StoreResult<Option<String>> {
        let name = name.to_string();
        self.engine
            .write(move |c| accounts::take_setting(c, &name))
            .await
    }

    async fn account_count(&self) -> StoreResult<u64> {
        self.engine.read_fresh(accounts::account_count)
    }

    async fn create_account(&self, account: &Account, key: &AccessKey) -> StoreResult<()> {
        let (account, key) = (account.clone(), key.clone());
        self.engine
            .write(move |c| accounts::create_account(c, &account, &key))
            .await
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        self.engine.read_fresh(accounts::accounts)
    }

    async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
        self.engine
            .read_fresh(|c| accounts::account_by_name(c, name))
    }

    async fn insert_access_key(&self, key: &AccessKey) -> StoreResult<()> {
        let key = key.clone();
        self.engine
            .write(move |c| accounts::insert_key(c, &key, crate::domain::now_micros()))
            .await
    }

    async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKey>> {
        self.engine
            .read_fresh(|c| accounts::access_key(c, access_key_id))
    }

    async fn access_keys(&self) -> StoreResult<Vec<AccessKey>> {
        self.engine.read_fresh(accounts::access_keys)
    }

    async fn set_access_key_enabled(
        &self,
        access_key_id: &str,
        enabled: bool,
    ) -> StoreResult<bool> {
        let id = access_key_id.to_string();
        self.engine
            .write(move |c| accounts::set_access_key_enabled(c, &id, enabled))
            .await
    }

    async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
        let id = access_key_id.to_string();
        self.engine
            .write(move |c| accounts::delete_access_key(c, &id))
            .await
    }

    async fn insert_project(
        &self,
        project: &EditingProject,
        timeline_media: &[String],
        materials: &[(String, String)],
    ) -> StoreResult<()> {
        let (p, media, materials) = (project.clone(), timeline_media.to_vec(), materials.to_vec());
        self.engine
            .write(move |c| projects::insert_project(c, &p, &media, &materials))
            .await
    }

    async fn project(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Option<EditingProject>> {
        self.engine
            .read(|c| projects::project(c, account_id, project_id))
    }

    async fn update_project(
        &self,
        project: &EditingProject,
        timeline_media: Option<&[String]>,
        seen: &EditingProject,
    ) -> StoreResult<Guarded> {
        let (p, seen) = (project.clone(), seen.clone());
        let media = timeline_media.map(<[String]>::to_vec);
        self.engine
            .write_or_undo(move |c| projects::update_project(c, &p, media.as_deref(), &seen))
            .await
    }

    async fn set_project_duration(
        &self,
        seen: &EditingProject,
        duration: f64,
    ) -> StoreResult<Guarded> {
        let seen = seen.clone();
        self.engine
            .write(move |c| projects::set_project_duration(c, &seen, duration))
            .await
    }

    async fn projects_using_media(
        &self,
        account_id: &str,
        media_id: &str,
    ) -> StoreResult<Vec<String>> {
        self.engine
            .read(|c| projects::projects_using_media(c, account_id, media_id))
    }

    async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64> {
        if project_ids.is_empty() {
            return Ok(0);
        }
        let (account_id, ids) = (account_id.to_string(), project_ids.to_vec());
        self.engine
            .write(move |c| projects::delete_projects(c, &account_id, &ids))
            .await
    }

    async fn search_projects(
        &self,
        account_id: &str,
        query: &ProjectQuery,
    ) -> StoreResult<Paged<EditingProject>> {
        let (account_id, q) = (account_id.to_string(), query.clone());
        self.engine
            .read_apart(move |c| projects::search_projects(c, &account_id, &q))
            .await
    }

    async fn search_projects_bytes(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<u64> {
        let (account_id, q) = (account_id.to_string(), q.clone());
        self.engine
            .read_apart(move |c| projects::search_projects_bytes(c, &account_id, &q))
            .await
    }

    async fn claim_bucket(&self, bucket: &str, account_id: &str) -> StoreResult<String> {
        let (bucket, account_id) = (bucket.to_string(), account_id.to_string());
        self.engine
            .write(move |c| accounts::claim_bucket(c, &bucket, &account_id))
            .await
    }

    async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>> {
        self.engine
            .read_fresh(|c| accounts::bucket_owner(c, bucket))
    }

    async fn insert_media(&self, media: &MediaInfo, replace: Option<&str>) -> StoreResult<()> {
        let (m, replace) = (media.clone(), replace.map(str::to_string));
        self.engine
            .write(move |c| media::insert_media(c, &m, replace.as_deref()))
            .await
    }

    async fn media(&self, account_id: &str, media_id: &str) -> StoreResult<Option<MediaInfo>> {
        self.engine.read(|c| media::media(c, account_id, media_id))
    }

    async fn media_by(
        &self,
        account_id: &str,
        key: MediaKey<'_>,
    ) -> StoreResult<Option<MediaInfo>> {
        self.engine.read(|c| media::media_by(c, account_id, key))
    }

    async fn media_many(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        self.engine
            .read(|c| media::media_where_in(c, account_id, "media_id", media_ids))
    }

    async fn media_at_locations(
        &self,
        account_id: &str,
        locations: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        self.engine
            .read(|c| media::media_where_in(c, account_id, "location", locations))
    }

    async fn update_media(&self, media: &MediaInfo) -> StoreResult<bool> {
        let m = media.clone();
        self.engine.write(move |c| media::update_media(c, &m)).await
    }

    async fn delete_media(
        &self,
        account_id: &str,
        media_ids: &[String],
    ) -> StoreResult<Vec<MediaInfo>> {
        let (account_id, ids) = (account_id.to_string(), media_ids.to_vec());
        self.engine
            .write(move |c| media::delete_media(c, &account_id, &ids))
            .await
    }

    async fn search_media(
        &self,
        account_id: &str,
        query: &MediaQuery,
    ) -> StoreResult<Paged<MediaInfo>> {
        let (account_id, q) = (account_id.to_string(), query.clone());
        self.engine
            .read_apart(move |c| media::search_media(c, &account_id, &q))
            .await
    }

    async fn claim_probe(
        &self,
        owner: &str,
        now: Micros,
        lease_until: Micros,
    ) -> StoreResult<Option<MediaInfo>> {
        let owner = owner.to_string();
        self.engine
            .write(move |c| media::claim_probe(c, &owner, now, lease_until))
            .await
    }

    async fn renew_probe(
        &self,
        account_id: &str,
        media_id: &str,
        owner: &str,
        lease_until: Micros,
    ) -> StoreResult<bool> {
        let [account_id, media_id, owner] = [account_id, media_id, owner].map(str::to_string);
        self.engine
            .write(move |c| media::renew_probe(c, &account_id, &media_id, &owner, lease_until))
            .await
    }

    async fn probe_queue_depth(&self) -> StoreResult<u64> {
        self.engine.read(media::probe_queue_depth)
    }

    /// SQLite updates its counter rows in place: nothing to fold.
    async fn compact_counts(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn finish_probe(&self, media: &MediaInfo, owner: &str) -> StoreResult<bool> {
        let (m, owner) = (media.clone(), owner.to_string());
        self.engine
            .write(move |c| media::finish_probe(c, &m, &owner))
            .await
    }

    async fn insert_category(
        &self,
        category: &Category,
        max_siblings: u64,
    ) -> StoreResult<CategoryInsert> {
        let category = category.clone();
        self.engine
            .write(move |c| catalog::insert_category(c, &category, max_siblings))
            .await
    }

    async fn category(&self, account_id: &str, cate_id: i64) -> StoreResult<Option<Category>> {
        self.engine
            .read(|c| catalog::category(c, account_id, cate_id))
    }

    async fn rename_category(
        &self,
        account_id: &str,
        cate_id: i64,
        name: &str,
    ) -> StoreResult<bool> {
        let (account_id, name) = (account_id.to_string(), name.to_string());
        self.engine
            .write(move |c| catalog::rename_category(c, &account_id, cate_id, &name))
            .await
    }

    async fn delete_category(&self, account_id: &str, cate_id: i64) -> StoreResult<bool> {
        let account_id = account_id.to_string();
        self.engine
            .write(move |c| catalog::delete_category(c, &account_id, cate_id))
            .await
    }

    async fn child_categories(
        &self,
        account_id: &str,
        parent_id: i64,
        cate_type: CategoryType,
        ascending: bool,
        page: &Page,
    ) -> StoreResult<Paged<(Category, u64)>> {
        self.engine.read(|c| {
            catalog::child_categories(c, account_id, parent_id, cate_type, ascending, page)
        })
    }

    async fn insert_template(&self, template: &Template) -> StoreResult<()> {
        let t = template.clone();
        self.engine
            .write(move |c| catalog::insert_template(c, &t))
            .await
    }

    async fn template(&self, account_id: &str, template_id: &str) -> StoreResult<Option<Template>> {
        self.engine
            .read(|c| catalog::template(c, account_id, template_id))
    }

    async fn update_template(&self, template: &Template) -> StoreResult<bool> {
        let t = template.clone();
        self.engine
            .write(move |c| catalog::update_template(c, &t))
            .await
    }

    async fn delete_templates(
        &self,
        account_id: &str,
        template_ids: &[String],
    ) -> StoreResult<u64> {
        if template_ids.is_empty() {
            return Ok(0);
        }
        let (account_id, ids) = (account_id.to_string(), template_ids.to_vec());
        self.engine
            .write(move |c| catalog::delete_templates(c, &account_id, &ids))
            .await
    }

    async fn search_templates(
        &self,
        account_id: &str,
        query: &TemplateQuery,
    ) -> StoreResult<Paged<Template>> {
        let (account_id, q) = (account_id.to_string(), query.clone());
        self.engine
            .read_apart(move |c| catalog::search_templates(c, &account_id, &q))
            .await
    }

    async fn add_materials(
        &self,
        account_id: &str,
        project_id: &str,
        materials: &[(String, String)],
    ) -> StoreResult<()> {
        let (account_id, project_id) = (account_id.to_string(), project_id.to_string());
        let materials = materials.to_vec();
        self.engine
            .write(move |c| projects::insert_materials(c, &account_id, &project_id, &materials))
            .await
    }

    async fn delete_materials(
        &self,
        account_id: &str,
        project_id: &str,
        material_type: &str,
        material_ids: &[String],
    ) -> StoreResult<()> {
        if material_ids.is_empty() {
            return Ok(());
        }
        let [account_id, project_id, material_type] =
            [account_id, project_id, material_type].map(str::to_string);
        let ids = material_ids.to_vec();
        self.engine
            .write(move |c| {
                projects::delete_materials(c, &account_id, &project_id, &material_type, &ids)
            })
            .await
    }

    async fn materials(
        &self,
        account_id: &str,
        project_id: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        self.engine
            .read(|c| projects::materials(c, account_id, project_id))
    }
}
