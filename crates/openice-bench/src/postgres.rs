//! A fresh PostgreSQL database per run, created through an admin URL and dropped at the end.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};

use crate::{BenchResult, cleanup};

const TIMEOUT: Duration = Duration::from_secs(15);

/// `url` with its database (the path) replaced by `name`; user, host and query are kept.
fn with_database(url: &str, name: &str) -> BenchResult<String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a postgres:// URL"))?;
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(format!("{url:?} is not a postgres:// URL").into());
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// Database names are spliced into SQL (DDL takes no parameters): only the bench's own
/// names, which need no escaping, are accepted.
fn check_name(name: &str) -> BenchResult<()> {
    let ok = name.starts_with("openice_bench_")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("refusing database name {name:?}").into())
    }
}

async fn admin(admin_url: &str) -> BenchResult<PgConnection> {
    let conn = tokio::time::timeout(TIMEOUT, PgConnection::connect(admin_url))
        .await
        .map_err(|_| format!("connecting to {admin_url}: timed out"))?
        .map_err(|e| format!("connecting to {admin_url}: {e}"))?;
    Ok(conn)
}

/// `DROP DATABASE … WITH (FORCE)`: ends the sessions a killed server may have left.
pub async fn drop_database(admin_url: &str, name: &str) -> BenchResult<()> {
    let mut conn = admin(admin_url).await?;
    check_name(name)?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    Ok(())
}

/// A database `openice_bench_<random>` that exists from `create` until drop.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    /// The database's own URL, for `openice serve --database-url`.
    pub url: String,
}

impl PgDatabase {
    pub fn create(rt: &tokio::runtime::Runtime, admin_url: &str) -> BenchResult<PgDatabase> {
        // Random, and only [a-z0-9_], so the name needs no quoting rules beyond "…".
        let name = format!(
            "openice_bench_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let url = with_database(admin_url, &name)?;
        rt.block_on(async {
            let mut conn = admin(admin_url).await?;
            sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await
                .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
            conn.close().await?;
            BenchResult::Ok(())
        })?;
        cleanup::track_database(admin_url, &name);
        Ok(PgDatabase {
            admin_url: admin_url.to_string(),
            name,
            url,
        })
    }

    /// After bulk seeding, what a maintained database looks like: dead tuples vacuumed and
    /// planner statistics current (autovacuum would get there, later and at random).
    pub fn vacuum_analyze(&self, rt: &tokio::runtime::Runtime) -> BenchResult<()> {
        rt.block_on(async {
            let mut conn = admin(&self.url).await?;
            sqlx::query("VACUUM ANALYZE").execute(&mut conn).await?;
            conn.close().await?;
            Ok(())
        })
    }

    pub fn size_mib(&self, rt: &tokio::runtime::Runtime) -> Option<f64> {
        rt.block_on(async {
            let mut conn = admin(&self.url).await.ok()?;
            let bytes: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
                .fetch_one(&mut conn)
                .await
                .ok()?;
            let _ = conn.close().await;
            Some(bytes as f64 / 1048576.0)
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if !cleanup::untrack_database(&self.name) {
            return; // the signal handler drops it
        }
        // Drop runs outside any runtime (the bench only blocks on runtimes), so a
        // throwaway one is fine here.
        let outcome = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| {
                rt.block_on(drop_database(&self.admin_url, &self.name))
                    .map_err(|e| e.to_string())
            });
        match outcome {
            Ok(()) => eprintln!("openice-bench: dropped database {}", self.name),
            Err(e) => eprintln!(
                "openice-bench: could not drop database {} ({e}); drop it by hand",
                self.name
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x").unwrap(),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:1", "x").unwrap(),
            "postgres://h:1/x"
        );
        assert!(with_database("mysql://h/db", "x").is_err());
    }
}
