//! The SQLite file through sqlx: its migrations (and the stored-probe upgrade) run here
//! once at open, and `openice dump` / `restore` read and write it through sqlx as they do
//! PostgreSQL (store/export.rs).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::store::{StoreError, StoreResult};

/// How write transactions start: a transaction that reads before it writes cannot fail to
/// upgrade its lock.
pub(in crate::store) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub struct SqlxSqlite {
    /// Readers (WAL: they never wait for the writer).
    pub(in crate::store) pool: SqlitePool,
    /// The one writing connection.
    pub(in crate::store) writer: SqlitePool,
}

impl SqlxSqlite {
    /// Opens (creating it if missing) and migrates the file.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::open_at(path).await.map_err(|e| cannot_open(path, e))
    }

    async fn open_at(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("journal_size_limit", "67108864")
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&writer).await?;
        crate::store::probe_upgrade::sqlite(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(SqlxSqlite { pool, writer })
    }

    pub async fn close(self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// A store that cannot be opened says where and what to check.
pub(super) fn cannot_open(path: &Path, e: StoreError) -> StoreError {
    let cause = match e {
        StoreError::Backend(cause) => cause.to_string(),
        StoreError::Sqlite(cause) => cause.to_string(),
        other => return other,
    };
    StoreError::Config(format!(
        "cannot open the SQLite store {}: {cause}. Check that its folder exists and is \
         writable, or pass another --data-dir / --database-url.",
        path.display()
    ))
}
