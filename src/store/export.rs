//! Store-neutral export and import of every table a store's state lives in, for
//! `openice dump` / `openice restore`: rows leave as JSON values with the column kinds of
//! the store they came from and enter another store converted to its own column kinds, so a
//! dump moves between SQLite and PostgreSQL.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{Column, Executor, Row, TypeInfo, ValueRef};

use super::postgres::PgStore;
use super::sqlite::sqlx_pool::SqlxSqlite;
use super::{StoreError, StoreResult};

/// The tables a dump carries, parents before the rows that name them.
pub const TABLES: &[&str] = &[
    "settings",
    "accounts",
    "access_keys",
    // Nonces of requests signed ahead of the clock: a replay of one stays refused.
    "signed_nonces",
    "buckets",
    "categories",
    "media",
    "templates",
    "editing_projects",
    "project_materials",
    "project_timeline_media",
    "jobs",
    "event_callbacks",
    "callback_outbox",
    "pending_uploads",
    "upload_credentials",
    "url_upload_jobs",
];

/// Tables a dump leaves out: kept by triggers from the tables above (so a restore rebuilds
/// them), or the engines' own bookkeeping.
pub const DERIVED: &[&str] = &[
    "project_counts",
    "project_count_deltas",
    "_sqlx_migrations",
    "sqlite_sequence",
];

/// How a column's values are written in a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Int,
    Float,
    Text,
    Bool,
}

impl Kind {
    /// From an engine's type name (SQLite's declared type, PostgreSQL's type).
    fn of(type_name: &str) -> StoreResult<Kind> {
        let t = type_name.to_ascii_uppercase();
        Ok(if t.contains("BOOL") {
            Kind::Bool
        } else if t.contains("INT") {
            Kind::Int
        } else if t.contains("REAL") || t.contains("FLOAT") || t.contains("DOUBLE") {
            Kind::Float
        } else if t.contains("TEXT") || t.contains("CHAR") {
            Kind::Text
        } else {
            return Err(StoreError::Corrupt(format!(
                "column type {type_name} has no dump form"
            )));
        })
    }

    /// `value` (of a dump) as this kind, for binding into the target store.
    fn convert(self, value: &Value, column: &str) -> StoreResult<Bound> {
        let bad = || StoreError::Corrupt(format!("{column}: {value} is not a {self:?} value"));
        Ok(match (self, value) {
            (_, Value::Null) => Bound::Null(self),
            (Kind::Int, Value::Number(n)) => Bound::Int(n.as_i64().ok_or_else(bad)?),
            (Kind::Int, Value::Bool(b)) => Bound::Int(i64::from(*b)),
            (Kind::Float, Value::Number(n)) => Bound::Float(n.as_f64().ok_or_else(bad)?),
            (Kind::Text, Value::String(s)) => Bound::Text(s.clone()),
            (Kind::Bool, Value::Bool(b)) => Bound::Bool(*b),
            (Kind::Bool, Value::Number(n)) => Bound::Bool(n.as_i64().ok_or_else(bad)? != 0),
            _ => return Err(bad()),
        })
    }
}

enum Bound {
    Null(Kind),
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

/// One table's rows, values in `columns` order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRows {
    pub name: String,
    pub columns: Vec<(String, Kind)>,
    pub rows: Vec<Vec<Value>>,
}

#[async_trait]
pub trait Export: Send + Sync {
    /// Every table of [`TABLES`], read in one snapshot (one read transaction), so a dump of a
    /// store that is being written is consistent.
    async fn export(&self) -> StoreResult<Vec<TableRows>>;
    /// True when the store has no accounts yet (a restore needs that).
    async fn is_empty(&self) -> StoreResult<bool>;
    /// Writes `tables` in one transaction: all of it or nothing. Refuses a store that has
    /// accounts. Settings already there (a fresh store's) are replaced by the dump's.
    async fn import(&self, tables: &[TableRows]) -> StoreResult<()>;
    /// The names of every table in the store's schema.
    async fn table_names(&self) -> StoreResult<Vec<String>>;
}

/// Opens the store as `store::open` does, for export and import.
pub async fn open(url: Option<&str>, data_dir: &std::path::Path) -> StoreResult<Box<dyn Export>> {
    match super::backend(url, data_dir)? {
        super::Backend::Postgres(u) => Ok(Box::new(PgStore::connect(&u).await?)),
        super::Backend::Sqlite(path) => Ok(Box::new(SqlxSqlite::open(&path).await?)),
    }
}

/// Generates [`Export`] for a backend: `$writer` is its pool field for writes, `$snapshot`
/// starts its read transaction, `$tables` lists its tables, `$after_import` runs after the
/// rows are in (sequences).
macro_rules! impl_export {
    ($store:ty, $writer:ident, $snapshot:expr, $tables:expr, $after_import:expr) => {
        #[async_trait]
        impl Export for $store {
            async fn export(&self) -> StoreResult<Vec<TableRows>> {
                let mut tx = self.pool.begin_with($snapshot).await?;
                let mut out = Vec::with_capacity(TABLES.len());
                for table in TABLES {
                    let sql = format!("SELECT * FROM {table}");
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .fetch_all(&mut *tx)
                        .await?;
                    let columns = match rows.first() {
                        Some(row) => row
                            .columns()
                            .iter()
                            .map(|c| Ok((c.name().to_string(), Kind::of(c.type_info().name())?)))
                            .collect::<StoreResult<Vec<_>>>()?,
                        None => Vec::new(),
                    };
                    let mut values = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let mut line = Vec::with_capacity(columns.len());
                        for (i, (_, kind)) in columns.iter().enumerate() {
                            line.push(if row.try_get_raw(i)?.is_null() {
                                Value::Null
                            } else {
                                match kind {
                                    Kind::Int => Value::from(row.try_get::<i64, _>(i)?),
                                    Kind::Float => Value::from(row.try_get::<f64, _>(i)?),
                                    Kind::Text => Value::from(row.try_get::<String, _>(i)?),
                                    Kind::Bool => Value::from(row.try_get::<bool, _>(i)?),
                                }
                            });
                        }
                        values.push(line);
                    }
                    out.push(TableRows {
                        name: table.to_string(),
                        columns,
                        rows: values,
                    });
                }
                tx.commit().await?;
                Ok(out)
            }

            async fn is_empty(&self) -> StoreResult<bool> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(n == 0)
            }

            async fn import(&self, tables: &[TableRows]) -> StoreResult<()> {
                let mut tx = self.$writer.begin_with(BEGIN_WRITE).await?;
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM accounts")
                    .fetch_one(&mut *tx)
                    .await?;
                if n != 0 {
                    return Err(StoreError::Config(
                        "the target store already has accounts; restore needs an empty store"
                            .into(),
                    ));
                }
                sqlx::query("DELETE FROM settings")
                    .execute(&mut *tx)
                    .await?;
                for table in tables {
                    if !TABLES.contains(&table.name.as_str()) {
                        return Err(StoreError::Corrupt(format!(
                            "the dump has a table {} this version does not know",
                            table.name
                        )));
                    }
                    if table.rows.is_empty() {
                        continue;
                    }
                    // The target's own column kinds decide how each value is bound.
                    let describe = (&mut *tx)
                        .describe(sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(
                            format!("SELECT * FROM {}", table.name),
                        )))
                        .await?;
                    let mut kinds = Vec::with_capacity(table.columns.len());
                    for (name, _) in &table.columns {
                        let column = describe
                            .columns()
                            .iter()
                            .find(|c| c.name() == name)
                            .ok_or_else(|| {
                                StoreError::Corrupt(format!(
                                    "the dump's column {}.{name} is not in this store",
                                    table.name
                                ))
                            })?;
                        kinds.push(Kind::of(column.type_info().name())?);
                    }
                    let names: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
                    let sql = format!(
                        "INSERT INTO {} ({}) VALUES ({})",
                        table.name,
                        names.join(", "),
                        (1..=names.len())
                            .map(|i| format!("${i}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    for row in &table.rows {
                        if row.len() != kinds.len() {
                            return Err(StoreError::Corrupt(format!(
                                "a row of {} has {} values for {} columns",
                                table.name,
                                row.len(),
                                kinds.len()
                            )));
                        }
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                        for ((value, kind), name) in row.iter().zip(&kinds).zip(&names) {
                            query = match kind.convert(value, name)? {
                                Bound::Null(Kind::Int) => query.bind(None::<i64>),
                                Bound::Null(Kind::Float) => query.bind(None::<f64>),
                                Bound::Null(Kind::Text) => query.bind(None::<String>),
                                Bound::Null(Kind::Bool) => query.bind(None::<bool>),
                                Bound::Int(v) => query.bind(v),
                                Bound::Float(v) => query.bind(v),
                                Bound::Text(v) => query.bind(v),
                                Bound::Bool(v) => query.bind(v),
                            };
                        }
                        query.execute(&mut *tx).await?;
                    }
                }
                for sql in $after_import {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn table_names(&self) -> StoreResult<Vec<String>> {
                Ok(sqlx::query_scalar($tables).fetch_all(&self.pool).await?)
            }
        }
    };
}

mod sqlite_export {
    use super::*;
    use crate::store::sqlite::sqlx_pool::BEGIN_WRITE;
    // A deferred transaction's first read fixes its WAL snapshot for every later read.
    impl_export!(
        SqlxSqlite,
        writer,
        "BEGIN",
        "SELECT name FROM sqlite_master WHERE type = 'table'",
        [] as [&str; 0]
    );
}

mod postgres_export {
    use super::*;
    /// PostgreSQL handles concurrent writers itself: a plain transaction, on the one pool.
    const BEGIN_WRITE: &str = "BEGIN";
    impl_export!(
        PgStore,
        pool,
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        // Restored categories keep their IDs; new ones continue after them.
        [
            "SELECT setval(pg_get_serial_sequence('categories', 'cate_id'), \
          COALESCE((SELECT MAX(cate_id) FROM categories), 0) + 1, false)"
        ]
    );
}
