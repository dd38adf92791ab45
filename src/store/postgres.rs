//! PostgreSQL, for deployments that outgrow one machine's SQLite file.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

use super::sql::{ROWS_PER_INSERT, conflict, fetch_paged, impl_store, placeholders};
use super::*;

/// No `project_counts` here (see its migration).
const PROJECT_COUNTS: bool = false;

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
