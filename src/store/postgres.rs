//! PostgreSQL, for deployments that outgrow one machine's SQLite file.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

use super::sql::{IN_LIST_CHUNK, ROWS_PER_INSERT, conflict, fetch_paged, impl_store, placeholders};
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
pub(super) const BEGIN_WRITE: &str = "BEGIN";

/// Locks the rows a write transaction reads to decide (see `insert_category`).
const FOR_UPDATE: &str = " FOR UPDATE";

pub struct PgStore {
    pub(super) pool: PgPool,
    /// The same pool: PostgreSQL handles concurrent writers itself.
    pub(super) writer: PgPool,
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
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            writer: pool.clone(),
            pool,
        })
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

impl_store!(PgStore, sqlx::Postgres);
super::jobs::impl_job_store!(PgStore, sqlx::Postgres, embedded = false);
