//! Producing jobs, event callbacks and the callback outbox: the [`JobStore`] half of the
//! store, with SQL both dialects share. The sqlx engine (PostgreSQL) invokes
//! `impl_job_store!` next to `impl_store!`; SQLite implements it in `sqlite/jobs.rs`.

use async_trait::async_trait;

use super::{Bind, StoreError, StoreResult, Where};
use crate::domain::job::{Delivery, EventCallback, Job, JobOutcome, JobQuery, JobStatus, JobType};
use crate::domain::{Micros, Paged};

#[async_trait]
pub trait JobStore {
    /// Inserts a job; a project-based job moves its project to `Producing` in the same
    /// transaction.
    async fn insert_job(&self, job: &Job) -> StoreResult<()>;
    async fn job(&self, account_id: &str, job_id: &str) -> StoreResult<Option<Job>>;
    /// The account's job submitted with `client_token` at or after `since`.
    async fn job_by_client_token(
        &self,
        account_id: &str,
        client_token: &str,
        since: Micros,
    ) -> StoreResult<Option<Job>>;
    async fn search_jobs(&self, account_id: &str, query: &JobQuery) -> StoreResult<Paged<Job>>;
    /// Leases the oldest unfinished job that is due and whose lease is free or expired
    /// (any account) to `owner` until `lease_until`; an `Init` job becomes `Queuing`.
    async fn claim_job(
        &self,
        owner: &str,
        now: Micros,
        lease_until: Micros,
    ) -> StoreResult<Option<Job>>;
    /// Marks a leased job `Processing`, raises its progress to `progress` (a re-run after a
    /// crash never shows it going back) and extends the lease; false when `owner` no longer
    /// holds it.
    async fn renew_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: Micros,
        progress: i64,
    ) -> StoreResult<bool>;
    /// Puts a leased job back in `Queuing`, not to be claimed before `not_before`.
    async fn defer_job(&self, job_id: &str, owner: &str, not_before: Micros) -> StoreResult<bool>;
    /// Ends a leased job, moves its project to `Produced`/`ProduceFailed` and queues its
    /// callback, in one transaction; false (nothing written) when `owner` lost the lease.
    async fn finish_job(
        &self,
        job: &Job,
        owner: &str,
        outcome: &JobOutcome,
        now: Micros,
        callback: Option<&Delivery>,
    ) -> StoreResult<bool>;
    /// Frees every job lease. Only an embedded store does it (at start: its previous run
    /// was the only server on the file); a shared store waits for leases to expire.
    async fn release_own_leases(&self) -> StoreResult<u64>;
    /// Jobs not yet finished (all accounts).
    async fn job_queue_depth(&self) -> StoreResult<u64>;

    async fn set_event_callback(&self, callback: &EventCallback) -> StoreResult<()>;
    async fn event_callback(&self, account_id: &str) -> StoreResult<Option<EventCallback>>;

    async fn insert_delivery(&self, delivery: &Delivery) -> StoreResult<()>;
    /// Deliveries due at `now`, oldest first.
    async fn due_deliveries(&self, now: Micros, limit: u32) -> StoreResult<Vec<Delivery>>;
    /// Counts an attempt and sets the next one; false when another server took it first.
    async fn reschedule_delivery(
        &self,
        delivery: &Delivery,
        next_attempt: Micros,
    ) -> StoreResult<bool>;
    async fn delete_delivery(&self, delivery_id: &str) -> StoreResult<()>;
    /// When the earliest pending delivery is due.
    async fn next_delivery_at(&self) -> StoreResult<Option<Micros>>;
}

pub(super) const JOB_COLUMNS: &str = "account_id, job_id, project_id, media_id, vod_media_id, \
     media_url, output_bucket, output_key, timeline, template_id, clips_param, \
     output_media_config, media_metadata, editing_produce_config, user_data, source, \
     client_token, job_type, status, code, message, progress, duration, create_time, \
     modified_time, complete_time";

pub(super) const INSERT_JOB: &str = "INSERT INTO jobs (account_id, job_id, project_id, media_id, \
     vod_media_id, media_url, output_bucket, output_key, timeline, template_id, clips_param, \
     output_media_config, media_metadata, editing_produce_config, user_data, source, \
     client_token, job_type, status, code, message, progress, duration, create_time, \
     modified_time, complete_time, not_before) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $24)";

/// Unfinished and not leased (or its lease ran out) at `$1`.
pub(super) const CLAIMABLE: &str = "status IN ('Init', 'Queuing', 'Processing') \
     AND not_before <= $1 AND (lease_owner IS NULL OR lease_expiry < $1)";

#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    pub(super) account_id: String,
    pub(super) job_id: String,
    pub(super) project_id: String,
    pub(super) media_id: String,
    pub(super) vod_media_id: Option<String>,
    pub(super) media_url: String,
    pub(super) output_bucket: String,
    pub(super) output_key: String,
    pub(super) timeline: String,
    pub(super) template_id: Option<String>,
    pub(super) clips_param: Option<String>,
    pub(super) output_media_config: String,
    pub(super) media_metadata: Option<String>,
    pub(super) editing_produce_config: Option<String>,
    pub(super) user_data: Option<String>,
    pub(super) source: Option<String>,
    pub(super) client_token: Option<String>,
    pub(super) job_type: String,
    pub(super) status: String,
    pub(super) code: Option<String>,
    pub(super) message: Option<String>,
    pub(super) progress: i64,
    pub(super) duration: Option<f64>,
    pub(super) create_time: i64,
    pub(super) modified_time: i64,
    pub(super) complete_time: Option<i64>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;
    fn try_from(r: JobRow) -> StoreResult<Self> {
        Ok(Job {
            job_type: super::parse_stored::<JobType>("job_type", &r.job_type)?,
            status: super::parse_stored::<JobStatus>("status", &r.status)?,
            account_id: r.account_id,
            job_id: r.job_id,
            project_id: r.project_id,
            media_id: r.media_id,
            vod_media_id: r.vod_media_id,
            media_url: r.media_url,
            output_bucket: r.output_bucket,
            output_key: r.output_key,
            timeline: r.timeline,
            template_id: r.template_id,
            clips_param: r.clips_param,
            output_media_config: r.output_media_config,
            media_metadata: r.media_metadata,
            editing_produce_config: r.editing_produce_config,
            user_data: r.user_data,
            source: r.source,
            client_token: r.client_token,
            code: r.code,
            message: r.message,
            progress: r.progress,
            duration: r.duration,
            create_time: r.create_time,
            modified_time: r.modified_time,
            complete_time: r.complete_time,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EventCallbackRow {
    pub(super) account_id: String,
    pub(super) callback_type: String,
    pub(super) callback_url: Option<String>,
    pub(super) callback_queue_name: Option<String>,
    pub(super) event_types: String,
    pub(super) auth_switch: i64,
    pub(super) auth_key: Option<String>,
    pub(super) modified_time: i64,
}

impl From<EventCallbackRow> for EventCallback {
    fn from(r: EventCallbackRow) -> Self {
        EventCallback {
            account_id: r.account_id,
            callback_type: r.callback_type,
            callback_url: r.callback_url,
            callback_queue_name: r.callback_queue_name,
            event_types: r.event_types,
            auth_switch: r.auth_switch != 0,
            auth_key: r.auth_key,
            modified_time: r.modified_time,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct DeliveryRow {
    pub(super) delivery_id: String,
    pub(super) account_id: String,
    pub(super) url: String,
    pub(super) body: String,
    pub(super) auth_key: Option<String>,
    pub(super) attempts: i64,
    pub(super) next_attempt: i64,
    pub(super) create_time: i64,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            delivery_id: r.delivery_id,
            account_id: r.account_id,
            url: r.url,
            body: r.body,
            auth_key: r.auth_key,
            attempts: r.attempts,
            next_attempt: r.next_attempt,
            create_time: r.create_time,
        }
    }
}

pub(super) const DELIVERY_COLUMNS: &str =
    "delivery_id, account_id, url, body, auth_key, attempts, next_attempt, create_time";

pub(super) fn jobs_sql(account_id: &str, q: &JobQuery) -> super::SearchSql {
    let text = |s: &str| Bind::Text(s.to_string());
    let mut w = Where {
        sql: String::from("account_id = $1"),
        binds: vec![text(account_id)],
    };
    if let Some(s) = q.status {
        w.and("status = ?", [text(s.as_str())]);
    }
    if let Some(t) = q.job_type {
        w.and("job_type = ?", [text(t.as_str())]);
    }
    if let Some(t) = q.start_time {
        w.and("create_time >= ?", [Bind::Int(t)]);
    }
    if let Some(t) = q.end_time {
        w.and("create_time <= ?", [Bind::Int(t)]);
    }
    if let Some(k) = &q.keyword {
        w.and("job_id = ?", [text(k)]);
    }
    if let Some(p) = &q.project_id {
        w.and("project_id = ?", [text(p)]);
    }
    w.paged("jobs", JOB_COLUMNS, "job_id", q.ascending, &q.page, false)
}

fn outcome_columns(
    outcome: &JobOutcome,
) -> (&'static str, Option<&str>, Option<&str>, Option<f64>) {
    match outcome {
        JobOutcome::Success { duration } => ("Success", None, None, Some(*duration)),
        JobOutcome::Failed { code, message } => {
            ("Failed", Some(code.as_str()), Some(message.as_str()), None)
        }
    }
}

pub(super) fn finish_columns(
    outcome: &JobOutcome,
) -> (
    &'static str,
    Option<&str>,
    Option<&str>,
    Option<f64>,
    &'static str,
) {
    let (status, code, message, duration) = outcome_columns(outcome);
    let project_status = if duration.is_some() {
        "Produced"
    } else {
        "ProduceFailed"
    };
    (status, code, message, duration, project_status)
}

/// The [`JobStore`] methods for a backend type with `pool` and `writer` fields;
/// `embedded` says whether a start may free the previous run's leases at once.
macro_rules! impl_job_store {
    ($store:ty, $db:ty, embedded = $embedded:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::jobs::JobStore for $store {
            async fn insert_job(&self, job: &$crate::domain::job::Job) -> StoreResult<()> {
                use $crate::store::jobs::INSERT_JOB;
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                sqlx::query(INSERT_JOB)
                    .bind(&job.account_id)
                    .bind(&job.job_id)
                    .bind(&job.project_id)
                    .bind(&job.media_id)
                    .bind(&job.vod_media_id)
                    .bind(&job.media_url)
                    .bind(&job.output_bucket)
                    .bind(&job.output_key)
                    .bind(&job.timeline)
                    .bind(&job.template_id)
                    .bind(&job.clips_param)
                    .bind(&job.output_media_config)
                    .bind(&job.media_metadata)
                    .bind(&job.editing_produce_config)
                    .bind(&job.user_data)
                    .bind(&job.source)
                    .bind(&job.client_token)
                    .bind(job.job_type.as_str())
                    .bind(job.status.as_str())
                    .bind(&job.code)
                    .bind(&job.message)
                    .bind(job.progress)
                    .bind(job.duration)
                    .bind(job.create_time)
                    .bind(job.modified_time)
                    .bind(job.complete_time)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict(e, &format!("job {}", job.job_id)))?;
                sqlx::query(
                    "UPDATE editing_projects SET status = 'Producing', modified_time = $3 \
                     WHERE account_id = $1 AND project_id = $2",
                )
                .bind(&job.account_id)
                .bind(&job.project_id)
                .bind(job.create_time)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn job(
                &self,
                account_id: &str,
                job_id: &str,
            ) -> StoreResult<Option<$crate::domain::job::Job>> {
                use $crate::store::jobs::{JOB_COLUMNS, JobRow};
                let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND job_id = $2"
                )))
                .bind(account_id)
                .bind(job_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryFrom::try_from).transpose()
            }

            async fn job_by_client_token(
                &self,
                account_id: &str,
                client_token: &str,
                since: i64,
            ) -> StoreResult<Option<$crate::domain::job::Job>> {
                use $crate::store::jobs::{JOB_COLUMNS, JobRow};
                let row: Option<JobRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND client_token = $2 \
                     AND create_time >= $3 ORDER BY create_time LIMIT 1"
                )))
                .bind(account_id)
                .bind(client_token)
                .bind(since)
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryFrom::try_from).transpose()
            }

            async fn search_jobs(
                &self,
                account_id: &str,
                q: &$crate::domain::job::JobQuery,
            ) -> StoreResult<Paged<$crate::domain::job::Job>> {
                use $crate::store::jobs::{JobRow, jobs_sql};
                let sql = jobs_sql(account_id, q);
                fetch_paged!(self, sql, JobRow, &q.page, |j: &$crate::domain::job::Job| Cursor {
                    create_time: j.create_time,
                    id: j.job_id.clone(),
                })
            }

            async fn claim_job(
                &self,
                owner: &str,
                now: i64,
                lease_until: i64,
            ) -> StoreResult<Option<$crate::domain::job::Job>> {
                use $crate::store::jobs::CLAIMABLE;
                // The lease re-check in UPDATE makes the claim safe with several servers.
                loop {
                    let next: Option<(String, String)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(format!(
                            "SELECT account_id, job_id FROM jobs WHERE {CLAIMABLE} \
                             ORDER BY create_time LIMIT 1"
                        )))
                        .bind(now)
                        .fetch_optional(&self.pool)
                        .await?;
                    let Some((account_id, job_id)) = next else {
                        return Ok(None);
                    };
                    let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE jobs SET lease_owner = $2, lease_expiry = $3, \
                         status = CASE WHEN status = 'Init' THEN 'Queuing' ELSE status END \
                         WHERE account_id = $4 AND job_id = $5 AND {CLAIMABLE}"
                    )))
                    .bind(now)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(&account_id)
                    .bind(&job_id)
                    .execute(&self.writer)
                    .await?;
                    if claimed.rows_affected() == 1 {
                        return self.job(&account_id, &job_id).await;
                    }
                }
            }

            async fn renew_job(
                &self,
                job_id: &str,
                owner: &str,
                lease_until: i64,
                progress: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET status = 'Processing', lease_expiry = $3, \
                     progress = CASE WHEN progress > $4 THEN progress ELSE $4 END, \
                     modified_time = $5 WHERE job_id = $1 AND lease_owner = $2",
                )
                .bind(job_id)
                .bind(owner)
                .bind(lease_until)
                .bind(progress)
                .bind($crate::domain::now_micros())
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn defer_job(&self, job_id: &str, owner: &str, not_before: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE jobs SET status = 'Queuing', lease_owner = NULL, lease_expiry = NULL, \
                     not_before = $3 WHERE job_id = $1 AND lease_owner = $2",
                )
                .bind(job_id)
                .bind(owner)
                .bind(not_before)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_job(
                &self,
                job: &$crate::domain::job::Job,
                owner: &str,
                outcome: &$crate::domain::job::JobOutcome,
                now: i64,
                callback: Option<&$crate::domain::job::Delivery>,
            ) -> StoreResult<bool> {
                let (status, code, message, duration, project_status) =
                    $crate::store::jobs::finish_columns(outcome);
                let mut tx = self.writer.begin_with(BEGIN_WRITE).await?;
                let done = sqlx::query(
                    "UPDATE jobs SET status = $4, code = $5, message = $6, duration = $7, \
                     progress = CASE WHEN $4 = 'Success' THEN 100 ELSE progress END, \
                     complete_time = $8, modified_time = $8, lease_owner = NULL, lease_expiry = NULL \
                     WHERE account_id = $1 AND job_id = $2 AND lease_owner = $3",
                )
                .bind(&job.account_id)
                .bind(&job.job_id)
                .bind(owner)
                .bind(status)
                .bind(code)
                .bind(message)
                .bind(duration)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE editing_projects SET status = $3, modified_time = $4 \
                     WHERE account_id = $1 AND project_id = $2 AND status = 'Producing'",
                )
                .bind(&job.account_id)
                .bind(&job.project_id)
                .bind(project_status)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if let Some(d) = callback {
                    insert_delivery_row(&mut *tx, d).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn release_own_leases(&self) -> StoreResult<u64> {
                if !$embedded {
                    return Ok(0);
                }
                let done = sqlx::query(
                    "UPDATE jobs SET lease_owner = NULL, lease_expiry = NULL \
                     WHERE lease_owner IS NOT NULL",
                )
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected())
            }

            async fn job_queue_depth(&self) -> StoreResult<u64> {
                let (n,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM jobs WHERE status IN ('Init', 'Queuing', 'Processing')",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(n as u64)
            }

            async fn set_event_callback(
                &self,
                c: &$crate::domain::job::EventCallback,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO event_callbacks (account_id, callback_type, callback_url, \
                     callback_queue_name, event_types, auth_switch, auth_key, modified_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id) DO UPDATE SET \
                     callback_type = excluded.callback_type, callback_url = excluded.callback_url, \
                     callback_queue_name = excluded.callback_queue_name, \
                     event_types = excluded.event_types, auth_switch = excluded.auth_switch, \
                     auth_key = excluded.auth_key, modified_time = excluded.modified_time",
                )
                .bind(&c.account_id)
                .bind(&c.callback_type)
                .bind(&c.callback_url)
                .bind(&c.callback_queue_name)
                .bind(&c.event_types)
                .bind(i64::from(c.auth_switch))
                .bind(&c.auth_key)
                .bind(c.modified_time)
                .execute(&self.writer)
                .await?;
                Ok(())
            }

            async fn event_callback(
                &self,
                account_id: &str,
            ) -> StoreResult<Option<$crate::domain::job::EventCallback>> {
                let row: Option<$crate::store::jobs::EventCallbackRow> = sqlx::query_as(
                    "SELECT account_id, callback_type, callback_url, callback_queue_name, \
                     event_types, auth_switch, auth_key, modified_time FROM event_callbacks \
                     WHERE account_id = $1",
                )
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(Into::into))
            }

            async fn insert_delivery(&self, d: &$crate::domain::job::Delivery) -> StoreResult<()> {
                insert_delivery_row(&self.writer, d).await
            }

            async fn due_deliveries(
                &self,
                now: i64,
                limit: u32,
            ) -> StoreResult<Vec<$crate::domain::job::Delivery>> {
                use $crate::store::jobs::{DELIVERY_COLUMNS, DeliveryRow};
                let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {DELIVERY_COLUMNS} FROM callback_outbox WHERE next_attempt <= $1 \
                     ORDER BY next_attempt LIMIT {limit}"
                )))
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn reschedule_delivery(
                &self,
                d: &$crate::domain::job::Delivery,
                next_attempt: i64,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE callback_outbox SET attempts = attempts + 1, next_attempt = $3 \
                     WHERE delivery_id = $1 AND attempts = $2",
                )
                .bind(&d.delivery_id)
                .bind(d.attempts)
                .bind(next_attempt)
                .execute(&self.writer)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_delivery(&self, delivery_id: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM callback_outbox WHERE delivery_id = $1")
                    .bind(delivery_id)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            async fn next_delivery_at(&self) -> StoreResult<Option<i64>> {
                let (at,): (Option<i64>,) =
                    sqlx::query_as("SELECT MIN(next_attempt) FROM callback_outbox")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(at)
            }
        }

        async fn insert_delivery_row<'e, E: sqlx::Executor<'e, Database = $db>>(
            executor: E,
            d: &$crate::domain::job::Delivery,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO callback_outbox (delivery_id, account_id, url, body, auth_key, \
                 attempts, next_attempt, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&d.delivery_id)
            .bind(&d.account_id)
            .bind(&d.url)
            .bind(&d.body)
            .bind(&d.auth_key)
            .bind(d.attempts)
            .bind(d.next_attempt)
            .bind(d.create_time)
            .execute(executor)
            .await?;
            Ok(())
        }
    };
}
pub(super) use impl_job_store;
