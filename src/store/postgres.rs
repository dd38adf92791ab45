//! PostgreSQL, for deployments that outgrow one machine's SQLite file.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sql::{ROWS_PER_INSERT, conflict, fetch_paged, impl_store, placeholders};
use super::*;

/// A project count from the delta rows its migrations' triggers append (see `search_sql`);
/// the `WHERE` clause follows.
const PROJECT_COUNT_SQL: &str =
    "SELECT CAST(COALESCE(SUM(delta), 0) AS BIGINT) FROM project_count_deltas WHERE ";

/// Folds the delta rows of every (account, type, status) that has more than one into one
/// row, in one statement; keys already folded are left alone, so an idle store rewrites
/// nothing. Rows that triggers append meanwhile are not in its snapshot and stay; a
/// concurrent fold by another server deletes each row once, so the sum never changes.
const COMPACT_COUNTS_SQL: Option<&str> = Some(
    "WITH unfolded AS (SELECT account_id, project_type, status FROM project_count_deltas \
     GROUP BY account_id, project_type, status HAVING COUNT(*) > 1), \
     gone AS (DELETE FROM project_count_deltas d USING unfolded u \
     WHERE d.account_id = u.account_id AND d.project_type = u.project_type \
     AND d.status = u.status RETURNING d.account_id, d.project_type, d.status, d.delta) \
     INSERT INTO project_count_deltas (account_id, project_type, status, delta) \
     SELECT account_id, project_type, status, SUM(delta) FROM gone \
     GROUP BY account_id, project_type, status HAVING SUM(delta) <> 0",
);

/// How write transactions start.
const BEGIN_WRITE: &str = "BEGIN";

pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL handles concurrent writers itself.
    writer: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            writer: pool.clone(),
            pool,
        })
    }
}

impl_store!(PgStore, sqlx::Postgres);
super::jobs::impl_job_store!(PgStore, sqlx::Postgres, embedded = false);
