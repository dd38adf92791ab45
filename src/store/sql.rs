//! The [`Store`](super::Store) methods of the sqlx engine, which PostgreSQL uses (SQLite has
//! its own engine in `sqlite/`, reusing the shared SQL text of `store/mod.rs`).
//! `postgres.rs` invokes `impl_store!` on a type with a `pool` field; what differs
//! (connecting, migrations) lives there. Dynamic SQL here is assembled only from
//! constants and `$n` placeholders (hence `AssertSqlSafe`); values are always bound.
//! Every write goes through the backend's `writer` pool and reads through `pool` (on
//! PostgreSQL the same pool). Transactions start with the backend's `BEGIN_WRITE`.

/// Rows per multi-row INSERT: well under both backends' limits on bound values.
pub(super) const ROWS_PER_INSERT: usize = 400;

/// Values per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 bound values.
pub(super) const IN_LIST_CHUNK: usize = 1000;

macro_rules! impl_store {
    ($store:ty, $db:ty) => {
        async fn insert_key<'e, E: sqlx::Executor<'e, Database = $db>>(
            executor: E,
            key: &AccessKey,
            now: i64,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO access_keys (access_key_id, account_id, secret, enabled, create_time) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.access_key_id)
            .bind(&key.account_id)
            .bind(key.secret.expose())
            .bind(i64::from(key.enabled))
            .bind(now)
            .execute(executor)
            .await
            .map_err(|e| conflict(e, &format!("access key {}", key.access_key_id)))?;
            Ok(())
        }

        /// One multi-row INSERT per chunk of links, not one round trip per link.
        async fn link_timeline_media(
            tx: &mut sqlx::Transaction<'_, $db>,
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

        async fn insert_materials(
            tx: &mut sqlx::Transaction<'_, $db>,
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

        /// The account's media whose `column` is among `values`, one query per chunk of
        /// values (an IN list as long as a timeline's media would pass the backends' limits).
        async fn media_where_in(
            pool: &sqlx::Pool<$db>,
            account_id: &str,
            column: &'static str,
            values: &[String],
        ) -> StoreResult<Vec<MediaInfo>> {
            let mut out = Vec::new();
            for chunk in values.chunks(IN_LIST_CHUNK) {
                let sql = format!(
                    "SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND {column} IN ({})",
                    placeholders(2, chunk.len())
                );
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

        /// After a guarded project write matched no row: was the project deleted or changed?
        async fn project_gone_or_changed(
            tx: &mut sqlx::Transaction<'_, $db>,
            account_id: &str,
            project_id: &str,
        ) -> StoreResult<Guarded> {
            let found: Option<(String,)> = sqlx::query_as(
                "SELECT project_id FROM editing_projects WHERE account_id = $1 AND project_id = $2",
            )
            .bind(account_id)
            .bind(project_id)
            .fetch_optional(&mut **tx)
            .await?;
            Ok(if found.is_some() { Guarded::Changed } else { Guarded::Gone })
        }

        async fn delete_media_rows(
            tx: &mut sqlx::Transaction<'_, $db>,
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

        $crate::store::oss::impl_upload_store!($store);

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn setting_or_insert(&self, name: &str, value: &str) -> StoreResult<String> {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(value)
                    .execute(&self.writer)
                    .await?;
                let (stored,): (String,) = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(stored)
            }

            async fn claim_nonce(
                &self,
                access_key_id: &str,
                nonce: &str,
                signed_at: i64,
                forget_before: i64,
            ) -> StoreResult<bool> {
                sqlx::query("DELETE FROM signed_nonces WHERE signed_at < $1")
                    .bind(forget_before)
                    .execute(&self.writer)
                    .await?;
                let inserted = sqlx::query(
                    "INSERT INTO signed_nonces (access_key_id, nonce, signed_at) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(access_key_id)
                .bind(nonce)
                .bind(signed_at)
                .execute(&self.writer)
                .await?;
                Ok(inserted.rows_affected() == 1)
            }

            async fn nonce_claimed(&self, access_key_id: &str, nonce: &str) -> StoreResult<bool> {
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT signed_at FROM signed_nonces WHERE access_key_id = $1 AND nonce = $2",
                )
                .bind(access_key_id)
                .bind(nonce)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.is_some())
            }

            async fn latest_claimed_nonce(&self) -> StoreResult<Option<i64>> {
                let (latest,): (Option<i64>,) = sqlx::query_as("SELECT MAX(signed_at) FROM signed_nonces")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(latest)
            }

            async fn account_count(&self) -> StoreResult<u64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn create_account(&self, account: &Account, key: &AccessKey) -> StoreResult<()> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                sqlx::query("INSERT INTO accounts (account_id, name, create_time) VALUES ($1, $2, $3)")
                    .bind(&account.account_id)
                    .bind(&account.name)
                    .bind(account.create_time)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict(e, &format!("account {:?}", account.name)))?;
                insert_key(&mut *tx, key, account.create_time).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn accounts(&self) -> StoreResult<Vec<Account>> {
                let rows: Vec<AccountRow> = sqlx::query_as(
                    "SELECT account_id, name, create_time FROM accounts ORDER BY create_time, account_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Account::from).collect())
            }

            async fn account_by_name(&self, name: &str) -> StoreResult<Option<Account>> {
                let row: Option<AccountRow> =
                    sqlx::query_as("SELECT account_id, name, create_time FROM accounts WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.map(Account::from))
            }

            async fn insert_access_key(&self, key: &AccessKey) -> StoreResult<()> {
                insert_key(&self.writer, key, crate::domain::now_micros()).await
            }

            async fn access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKey>> {
                let row: Option<AccessKeyRow> = sqlx::query_as(
                    "SELECT access_key_id, account_id, secret, enabled FROM access_keys WHERE access_key_id = $1",
                )
                .bind(access_key_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(AccessKey::from))
            }

            async fn access_keys(&self) -> StoreResult<Vec<AccessKey>> {
                let rows: Vec<AccessKeyRow> = sqlx::query_as(
                    "SELECT access_key_id, account_id, secret, enabled FROM access_keys ORDER BY create_time, access_key_id",
                )
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(AccessKey::from).collect())
            }

            async fn set_access_key_enabled(&self, access_key_id: &str, enabled: bool) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE access_keys SET enabled = $2 WHERE access_key_id = $1")
                    .bind(access_key_id)
                    .bind(i64::from(enabled))
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM access_keys WHERE access_key_id = $1")
                    .bind(access_key_id)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_project(
                &self,
                project: &EditingProject,
                timeline_media: &[String],
                materials: &[(String, String)],
            ) -> StoreResult<()> {
                let refused = |e| conflict(e, &format!("project {}", project.project_id));
                if timeline_media.is_empty() && materials.is_empty() {
                    // One statement is atomic by itself: one round trip instead of three.
                    bind_project!(sqlx::query(INSERT_PROJECT), project)
                        .execute(&self.writer)
                        .await
                        .map_err(refused)?;
                    return Ok(());
                }
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                bind_project!(sqlx::query(INSERT_PROJECT), project)
                    .execute(&mut *tx)
                    .await
                    .map_err(refused)?;
                link_timeline_media(&mut tx, project, timeline_media).await?;
                insert_materials(&mut tx, &project.account_id, &project.project_id, materials).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn project(&self, account_id: &str, project_id: &str) -> StoreResult<Option<EditingProject>> {
                let row: Option<ProjectRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PROJECT_COLUMNS} FROM editing_projects \
                     WHERE account_id = $1 AND project_id = $2 AND status <> 'Deleted'"
                )))
                .bind(account_id)
                .bind(project_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(EditingProject::try_from).transpose()
            }

            async fn update_project(
                &self,
                project: &EditingProject,
                timeline_media: Option<&[String]>,
                seen: &EditingProject,
            ) -> StoreResult<Guarded> {
                fn changed<T: PartialEq + Clone>(new: &T, old: &T) -> Option<T> {
                    (new != old).then(|| new.clone())
                }
                let p = project;
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                let done = sqlx::query(UPDATE_PROJECT_FIELDS)
                    .bind(&p.account_id)
                    .bind(&p.project_id)
                    .bind(changed(&p.title, &seen.title))
                    .bind(changed(&p.description, &seen.description).flatten())
                    .bind(changed(&p.cover_url, &seen.cover_url).flatten())
                    .bind(changed(&p.business_status, &seen.business_status).flatten().map(|s| s.as_str()))
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
                    sqlx::query("DELETE FROM project_timeline_media WHERE account_id = $1 AND project_id = $2")
                        .bind(&p.account_id)
                        .bind(&p.project_id)
                        .execute(&mut *tx)
                        .await?;
                    link_timeline_media(&mut tx, p, media_ids).await?;
                }
                tx.commit().await?;
                Ok(Guarded::Done)
            }

            async fn set_project_duration(&self, seen: &EditingProject, duration: f64) -> StoreResult<Guarded> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                let done = sqlx::query(
                    "UPDATE editing_projects SET duration = $3 \
                     WHERE account_id = $1 AND project_id = $2 AND timeline = $4 AND duration = $5",
                )
                .bind(&seen.account_id)
                .bind(&seen.project_id)
                .bind(duration)
                .bind(&seen.timeline)
                .bind(seen.duration)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return project_gone_or_changed(&mut tx, &seen.account_id, &seen.project_id).await;
                }
                tx.commit().await?;
                Ok(Guarded::Done)
            }

            async fn projects_using_media(&self, account_id: &str, media_id: &str) -> StoreResult<Vec<String>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT project_id FROM project_timeline_media WHERE account_id = $1 AND media_id = $2",
                )
                .bind(account_id)
                .bind(media_id)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }

            async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64> {
                if project_ids.is_empty() {
                    return Ok(0);
                }
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                let mut deleted = 0;
                for table in ["project_materials", "project_timeline_media", "editing_projects"] {
                    let sql = format!(
                        "DELETE FROM {table} WHERE account_id = $1 AND project_id IN ({})",
                        placeholders(2, project_ids.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
                    for id in project_ids {
                        query = query.bind(id);
                    }
                    deleted = query.execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                Ok(deleted)
            }

            async fn compact_counts(&self) -> StoreResult<()> {
                if let Some(sql) = COMPACT_COUNTS_SQL {
                    sqlx::query(sql).execute(&self.writer).await?;
                }
                Ok(())
            }

            async fn search_projects(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<Paged<EditingProject>> {
                let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, None);
                fetch_paged!(self, sql, ProjectRow, &q.page, |p: &EditingProject| Cursor {
                    create_time: p.create_time,
                    id: p.project_id.clone(),
                })
            }

            async fn search_projects_bytes(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<u64> {
                let sql = search_sql(account_id, q, PROJECT_COUNT_SQL, Some(PROJECT_LOADED_BYTES));
                let sizes: Vec<(i64,)> = bind_search!(
                    sqlx::query_as(sqlx::AssertSqlSafe(sql.page.as_str())),
                    &sql.binds
                )
                .fetch_all(&self.pool)
                .await?;
                // The page query fetches one row past the page to learn whether more follow.
                Ok(sizes
                    .iter()
                    .take(q.page.limit() as usize)
                    .map(|(n,)| *n as u64)
                    .sum())
            }

            async fn claim_bucket(&self, bucket: &str, account_id: &str) -> StoreResult<String> {
                sqlx::query(
                    "INSERT INTO buckets (bucket, account_id, create_time) VALUES ($1, $2, $3) \
                     ON CONFLICT (bucket) DO NOTHING",
                )
                .bind(bucket)
                .bind(account_id)
                .bind(crate::domain::now_micros())
                .execute(&self.writer)
                .await?;
                self.bucket_owner(bucket)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("bucket {bucket} has no owner")))
            }

            async fn bucket_owner(&self, bucket: &str) -> StoreResult<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as("SELECT account_id FROM buckets WHERE bucket = $1")
                    .bind(bucket)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|(a,)| a))
            }

            async fn insert_media(&self, media: &MediaInfo, replace: Option<&str>) -> StoreResult<()> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                if let Some(old) = replace {
                    delete_media_rows(&mut tx, &media.account_id, &[old.to_string()]).await?;
                }
                bind_media!(sqlx::query(INSERT_MEDIA), media)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict(e, &format!("media {}", media.input_url)))?;
                tx.commit().await?;
                Ok(())
            }

            async fn media(&self, account_id: &str, media_id: &str) -> StoreResult<Option<MediaInfo>> {
                let row: Option<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND media_id = $2"
                )))
                .bind(account_id)
                .bind(media_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(MediaInfo::try_from).transpose()
            }

            async fn media_by(&self, account_id: &str, key: MediaKey<'_>) -> StoreResult<Option<MediaInfo>> {
                let (column, value) = key.column_and_value();
                let row: Option<MediaRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {MEDIA_COLUMNS} FROM media WHERE account_id = $1 AND {column} = $2"
                )))
                .bind(account_id)
                .bind(value)
                .fetch_optional(&self.pool)
                .await?;
                row.map(MediaInfo::try_from).transpose()
            }

            async fn media_many(&self, account_id: &str, media_ids: &[String]) -> StoreResult<Vec<MediaInfo>> {
                media_where_in(&self.pool, account_id, "media_id", media_ids).await
            }

            async fn media_at_locations(&self, account_id: &str, locations: &[String]) -> StoreResult<Vec<MediaInfo>> {
                media_where_in(&self.pool, account_id, "location", locations).await
            }

            async fn update_media(&self, m: &MediaInfo) -> StoreResult<bool> {
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
                    .execute(&self.writer)
                    .await
                    .map_err(|e| conflict(e, "ReferenceId"))?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_media(&self, account_id: &str, media_ids: &[String]) -> StoreResult<Vec<MediaInfo>> {
                let existing = self.media_many(account_id, media_ids).await?;
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                delete_media_rows(&mut tx, account_id, media_ids).await?;
                tx.commit().await?;
                Ok(existing)
            }

            async fn search_media(&self, account_id: &str, q: &MediaQuery) -> StoreResult<Paged<MediaInfo>> {
                let sql = media_sql(account_id, q);
                fetch_paged!(self, sql, MediaRow, &q.page, |m: &MediaInfo| Cursor {
                    create_time: m.create_time,
                    id: m.media_id.clone(),
                })
            }

            async fn claim_probe(
                &self,
                owner: &str,
                now: crate::domain::Micros,
                lease_until: crate::domain::Micros,
            ) -> StoreResult<Option<MediaInfo>> {
                // Re-checking the claimable condition in UPDATE makes the claim safe with
                // several servers.
                // A media whose upload has not arrived yet (pending_uploads) has nothing to probe.
                const CLAIMABLE: &str = "(status = 'Init' OR (status = 'Preparing' \
                    AND (probe_lease_until IS NULL OR probe_lease_until < $1))) \
                    AND NOT EXISTS (SELECT 1 FROM pending_uploads p \
                    WHERE p.account_id = media.account_id AND p.media_id = media.media_id)";
                loop {
                    let next: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT account_id, media_id FROM media WHERE {CLAIMABLE} \
                         ORDER BY create_time LIMIT 1"
                    )))
                    .bind(now)
                    .fetch_optional(&self.pool)
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
                    .execute(&self.writer)
                    .await?;
                    if claimed.rows_affected() == 1 {
                        return self.media(&account_id, &media_id).await;
                    }
                }
            }

            async fn renew_probe(
                &self,
                account_id: &str,
                media_id: &str,
                owner: &str,
                lease_until: crate::domain::Micros,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE media SET probe_lease_until = $4 WHERE account_id = $1 AND media_id = $2 \
                     AND status = 'Preparing' AND probe_owner = $3",
                )
                .bind(account_id)
                .bind(media_id)
                .bind(owner)
                .bind(lease_until)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn probe_queue_depth(&self) -> StoreResult<u64> {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM media WHERE status IN ('Init', 'Preparing')")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(n as u64)
            }

            async fn finish_probe(&self, media: &MediaInfo, owner: &str) -> StoreResult<bool> {
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
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_category(&self, c: &Category, max_siblings: u64) -> StoreResult<CategoryInsert> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                // The row that every insert on this level locks first (PostgreSQL; SQLite's
                // writer is alone anyway), so the count below cannot go stale before the insert.
                let holder: Option<(String,)> = if c.parent_id == crate::domain::category::ROOT_PARENT {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT account_id FROM accounts WHERE account_id = $1{FOR_UPDATE}"
                    )))
                    .bind(&c.account_id)
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT account_id FROM categories WHERE account_id = $1 AND cate_id = $2{FOR_UPDATE}"
                    )))
                    .bind(&c.account_id)
                    .bind(c.parent_id)
                    .fetch_optional(&mut *tx)
                    .await?
                };
                if holder.is_none() {
                    return Ok(CategoryInsert::ParentGone);
                }
                let (siblings,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM categories WHERE account_id = $1 AND parent_id = $2 AND cate_type = $3",
                )
                .bind(&c.account_id)
                .bind(c.parent_id)
                .bind(c.cate_type.as_str())
                .fetch_one(&mut *tx)
                .await?;
                if siblings as u64 >= max_siblings {
                    return Ok(CategoryInsert::LevelFull);
                }
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO categories (account_id, cate_name, parent_id, level, cate_type, create_time) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING cate_id",
                )
                .bind(&c.account_id)
                .bind(&c.cate_name)
                .bind(c.parent_id)
                .bind(c.level)
                .bind(c.cate_type.as_str())
                .bind(c.create_time)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(CategoryInsert::Inserted(id))
            }

            async fn category(&self, account_id: &str, cate_id: i64) -> StoreResult<Option<Category>> {
                let row: Option<CategoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {CATEGORY_COLUMNS} FROM categories WHERE account_id = $1 AND cate_id = $2"
                )))
                .bind(account_id)
                .bind(cate_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(Category::try_from).transpose()
            }

            async fn rename_category(&self, account_id: &str, cate_id: i64, name: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE categories SET cate_name = $3 WHERE account_id = $1 AND cate_id = $2")
                    .bind(account_id)
                    .bind(cate_id)
                    .bind(name)
                    .execute(&self.writer)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_category(&self, account_id: &str, cate_id: i64) -> StoreResult<bool> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                // Lock the category, then each level's rows as read (PostgreSQL): an insert
                // under any of them holds its parent's lock, so it either commits before we
                // read that parent's children or finds its parent gone.
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT cate_id FROM categories WHERE account_id = $1 AND cate_id = $2{FOR_UPDATE}"
                )))
                .bind(account_id)
                .bind(cate_id)
                .execute(&mut *tx)
                .await?;
                // At most three levels: the category, its children and grandchildren.
                let mut doomed = vec![cate_id];
                let mut frontier = vec![cate_id];
                for _ in 0..crate::domain::category::MAX_LEVEL {
                    let mut next = Vec::new();
                    for parent in &frontier {
                        let kids: Vec<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT cate_id FROM categories WHERE account_id = $1 AND parent_id = $2{FOR_UPDATE}"
                        )))
                        .bind(account_id)
                        .bind(parent)
                        .fetch_all(&mut *tx)
                        .await?;
                        next.extend(kids.into_iter().map(|(k,)| k));
                    }
                    doomed.extend(&next);
                    frontier = next;
                }
                let mut deleted = 0;
                for id in &doomed {
                    deleted += sqlx::query("DELETE FROM categories WHERE account_id = $1 AND cate_id = $2")
                        .bind(account_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query("UPDATE media SET cate_id = NULL WHERE account_id = $1 AND cate_id = $2")
                        .bind(account_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(deleted > 0)
            }

            async fn child_categories(
                &self,
                account_id: &str,
                parent_id: i64,
                cate_type: CategoryType,
                ascending: bool,
                page: &Page,
            ) -> StoreResult<Paged<(Category, u64)>> {
                let mut w = Where {
                    sql: String::from("account_id = $1"),
                    binds: vec![Bind::Text(account_id.to_string())],
                };
                w.and("parent_id = ?", [Bind::Int(parent_id)]);
                w.and("cate_type = ?", [Bind::Text(cate_type.as_str().to_string())]);
                let sql = w.paged("categories", CATEGORY_COLUMNS, "cate_id", ascending, page, false);
                let cats: Paged<Category> = fetch_paged!(self, sql, CategoryRow, page, |c: &Category| Cursor {
                    create_time: c.create_time,
                    id: c.cate_id.to_string(),
                })?;
                let mut items = Vec::with_capacity(cats.items.len());
                for c in cats.items {
                    let (n,): (i64,) = sqlx::query_as(
                        "SELECT COUNT(*) FROM categories WHERE account_id = $1 AND parent_id = $2",
                    )
                    .bind(account_id)
                    .bind(c.cate_id)
                    .fetch_one(&self.pool)
                    .await?;
                    items.push((c, n as u64));
                }
                Ok(Paged { items, total: cats.total, next: cats.next })
            }

            async fn insert_template(&self, t: &Template) -> StoreResult<()> {
                bind_template!(sqlx::query(INSERT_TEMPLATE), t)
                    .execute(&self.writer)
                    .await
                    .map_err(|e| conflict(e, &format!("template {}", t.template_id)))?;
                Ok(())
            }

            async fn template(&self, account_id: &str, template_id: &str) -> StoreResult<Option<Template>> {
                let row: Option<TemplateRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE account_id = $1 AND template_id = $2"
                )))
                .bind(account_id)
                .bind(template_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(Template::try_from).transpose()
            }

            async fn update_template(&self, t: &Template) -> StoreResult<bool> {
                let done = bind_template!(sqlx::query(UPDATE_TEMPLATE), t).execute(&self.writer).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_templates(&self, account_id: &str, template_ids: &[String]) -> StoreResult<u64> {
                if template_ids.is_empty() {
                    return Ok(0);
                }
                let sql = format!(
                    "DELETE FROM templates WHERE account_id = $1 AND template_id IN ({})",
                    placeholders(2, template_ids.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
                for id in template_ids {
                    query = query.bind(id);
                }
                Ok(query.execute(&self.writer).await?.rows_affected())
            }

            async fn search_templates(&self, account_id: &str, q: &TemplateQuery) -> StoreResult<Paged<Template>> {
                let sql = template_sql(account_id, q);
                fetch_paged!(self, sql, TemplateRow, &q.page, |t: &Template| Cursor {
                    create_time: t.create_time,
                    id: t.template_id.clone(),
                })
            }

            async fn add_materials(&self, account_id: &str, project_id: &str, materials: &[(String, String)]) -> StoreResult<()> {
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                insert_materials(&mut tx, account_id, project_id, materials).await?;
                tx.commit().await?;
                Ok(())
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
                let sql = format!(
                    "DELETE FROM project_materials WHERE account_id = $1 AND project_id = $2 \
                     AND material_type = $3 AND material_id IN ({})",
                    placeholders(4, material_ids.len())
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(account_id)
                    .bind(project_id)
                    .bind(material_type);
                for id in material_ids {
                    query = query.bind(id);
                }
                query.execute(&self.writer).await?;
                Ok(())
            }

            async fn materials(&self, account_id: &str, project_id: &str) -> StoreResult<Vec<(String, String)>> {
                Ok(sqlx::query_as(
                    "SELECT material_type, material_id FROM project_materials \
                     WHERE account_id = $1 AND project_id = $2 ORDER BY create_time, material_type, material_id",
                )
                .bind(account_id)
                .bind(project_id)
                .fetch_all(&self.pool)
                .await?)
            }
        }
    };
}
pub(super) use impl_store;

/// Runs a [`SearchSql`](super::SearchSql): the count (page-number queries) and the page.
macro_rules! fetch_paged {
    ($self:ident, $sql:expr, $row:ty, $page:expr, $cursor:expr) => {{
        let sql = $sql;
        let total = match &sql.count {
            Some(count_sql) => {
                let (n,): (i64,) = bind_search!(
                    sqlx::query_as(sqlx::AssertSqlSafe(count_sql.as_str())),
                    &sql.binds[..sql.count_binds]
                )
                .fetch_one(&$self.pool)
                .await?;
                Some(n as u64)
            }
            None => None,
        };
        let rows: Vec<$row> = bind_search!(
            sqlx::query_as(sqlx::AssertSqlSafe(sql.page.as_str())),
            &sql.binds
        )
        .fetch_all(&$self.pool)
        .await?;
        finish_page(rows, $page, total, $cursor)
    }};
}
pub(super) use fetch_paged;

/// `$first, $first+1, …` for `n` values.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a unique-key violation to `Conflict`.
pub(super) fn conflict(e: sqlx::Error, what: &str) -> super::StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            super::StoreError::Conflict(what.to_string())
        }
        _ => super::StoreError::from(e),
    }
}
