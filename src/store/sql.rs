//! The [`Store`](super::Store) methods whose SQL both dialects share. Each backend invokes
//! `impl_store!` on a type with a `pool` field; what differs (connecting, pragmas,
//! migrations) lives in the backend's own file. Dynamic SQL here is assembled only from
//! constants and `$n` placeholders (hence `AssertSqlSafe`); values are always bound.

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
            .bind(&key.secret)
            .bind(i64::from(key.enabled))
            .bind(now)
            .execute(executor)
            .await
            .map_err(|e| conflict(e, &format!("access key {}", key.access_key_id)))?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn account_count(&self) -> StoreResult<u64> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n as u64)
            }

            async fn create_account(&self, account: &Account, key: &AccessKey) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
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
                insert_key(&self.pool, key, crate::domain::now_micros()).await
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
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_access_key(&self, access_key_id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM access_keys WHERE access_key_id = $1")
                    .bind(access_key_id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn insert_project(&self, project: &EditingProject) -> StoreResult<()> {
                bind_project!(sqlx::query(INSERT_PROJECT), project)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| conflict(e, &format!("project {}", project.project_id)))?;
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

            async fn update_project(&self, project: &EditingProject) -> StoreResult<bool> {
                let done = bind_project!(sqlx::query(UPDATE_PROJECT), project)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_projects(&self, account_id: &str, project_ids: &[String]) -> StoreResult<u64> {
                if project_ids.is_empty() {
                    return Ok(0);
                }
                let marks: Vec<String> = (0..project_ids.len()).map(|i| format!("${}", i + 2)).collect();
                let sql = format!(
                    "DELETE FROM editing_projects WHERE account_id = $1 AND project_id IN ({})",
                    marks.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id);
                for id in project_ids {
                    query = query.bind(id);
                }
                Ok(query.execute(&self.pool).await?.rows_affected())
            }

            async fn search_projects(&self, account_id: &str, q: &ProjectQuery) -> StoreResult<Paged<EditingProject>> {
                let sql = search_sql(account_id, q);
                let total = match &sql.count {
                    Some(count_sql) => {
                        let (n,): (i64,) = bind_search!(sqlx::query_as(sqlx::AssertSqlSafe(count_sql.as_str())), &sql.binds)
                            .fetch_one(&self.pool)
                            .await?;
                        Some(n as u64)
                    }
                    None => None,
                };
                let rows: Vec<ProjectRow> = bind_search!(sqlx::query_as(sqlx::AssertSqlSafe(sql.page.as_str())), &sql.binds)
                    .fetch_all(&self.pool)
                    .await?;
                finish_page(rows, &q.page, total, |p: &EditingProject| Cursor {
                    create_time: p.create_time,
                    id: p.project_id.clone(),
                })
            }
        }
    };
}
pub(super) use impl_store;

/// Maps a unique-key violation to `Conflict`.
pub(super) fn conflict(e: sqlx::Error, what: &str) -> super::StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            super::StoreError::Conflict(what.to_string())
        }
        _ => super::StoreError::Backend(e),
    }
}
