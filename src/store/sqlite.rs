//! The embedded default: one SQLite file in WAL mode. sqlx runs SQLite calls on its own
//! worker threads, so the async runtime never blocks on disk.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::sql::{IN_LIST_CHUNK, ROWS_PER_INSERT, conflict, fetch_paged, impl_store, placeholders};
use super::*;

/// A project count from the `project_counts` rows its migrations' triggers keep (see
/// `search_sql`); the `WHERE` clause follows.
const PROJECT_COUNT_SQL: &str = "SELECT COALESCE(SUM(n), 0) FROM project_counts WHERE ";

/// SQLite updates its counter rows in place: nothing to fold.
const COMPACT_COUNTS_SQL: Option<&str> = None;

/// How write transactions start.
pub(super) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Row locks: none needed, the one writer connection serializes write transactions.
const FOR_UPDATE: &str = "";

pub struct SqliteStore {
    /// Readers (WAL: they never wait for the writer).
    pub(super) pool: SqlitePool,
    /// The one writing connection.
    pub(super) writer: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_at(path).await.map_err(|e| match e {
            StoreError::Backend(cause) => StoreError::Config(format!(
                "cannot open the SQLite store {}: {cause}. Check that its folder exists and \
                 is writable, or pass another --data-dir / --database-url.",
                path.display()
            )),
            other => other,
        })
    }

    async fn open_at(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a killed process; only power loss can drop the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            // After a checkpoint, a WAL that grew under a burst is cut back to 64 MiB.
            .pragma("journal_size_limit", "67108864")
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }
}

impl_store!(SqliteStore, sqlx::Sqlite);
super::jobs::impl_job_store!(SqliteStore, sqlx::Sqlite, embedded = true);
