//! Producing jobs, event callbacks and the callback outbox.

use async_trait::async_trait;
use sqlx::PgExecutor;

use super::{PgStore, conflict, fetch_paged};
use crate::domain::job::{Delivery, EventCallback, Job, JobOutcome, JobQuery};
use crate::domain::{Micros, Paged};
use crate::store::StoreResult;
use crate::store::jobs::{
    CLAIMABLE, DELIVERY_COLUMNS, DeliveryRow, EventCallbackRow, INSERT_JOB, JOB_COLUMNS, JobRow,
    JobStore, finish_columns, job_cursor, jobs_sql,
};

#[async_trait]
impl JobStore for PgStore {
    async fn insert_job(&self, job: &Job) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
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

    async fn job(&self, account_id: &str, job_id: &str) -> StoreResult<Option<Job>> {
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
        since: Micros,
    ) -> StoreResult<Option<Job>> {
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

    async fn search_jobs(&self, account_id: &str, q: &JobQuery) -> StoreResult<Paged<Job>> {
        let sql = jobs_sql(account_id, q);
        fetch_paged::<JobRow, _>(&self.pool, sql, &q.page, job_cursor).await
    }

    async fn claim_job(
        &self,
        owner: &str,
        now: Micros,
        lease_until: Micros,
    ) -> StoreResult<Option<Job>> {
        // The lease re-check in UPDATE makes the claim safe with several servers.
        loop {
            let next: Option<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT account_id, job_id FROM jobs WHERE {CLAIMABLE} ORDER BY create_time LIMIT 1"
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
            .execute(&self.pool)
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
        lease_until: Micros,
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
        .bind(crate::domain::now_micros())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn defer_job(&self, job_id: &str, owner: &str, not_before: Micros) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'Queuing', lease_owner = NULL, lease_expiry = NULL, \
             not_before = $3 WHERE job_id = $1 AND lease_owner = $2",
        )
        .bind(job_id)
        .bind(owner)
        .bind(not_before)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_job(
        &self,
        job: &Job,
        owner: &str,
        outcome: &JobOutcome,
        now: Micros,
        callback: Option<&Delivery>,
    ) -> StoreResult<bool> {
        let (status, code, message, duration, project_status) = finish_columns(outcome);
        let mut tx = self.pool.begin().await?;
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

    /// Other servers may hold leases on a shared store: they run out instead.
    async fn release_own_leases(&self) -> StoreResult<u64> {
        Ok(0)
    }

    async fn job_queue_depth(&self) -> StoreResult<u64> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('Init', 'Queuing', 'Processing')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }

    async fn set_event_callback(&self, c: &EventCallback) -> StoreResult<()> {
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn event_callback(&self, account_id: &str) -> StoreResult<Option<EventCallback>> {
        let row: Option<EventCallbackRow> = sqlx::query_as(
            "SELECT account_id, callback_type, callback_url, callback_queue_name, \
             event_types, auth_switch, auth_key, modified_time FROM event_callbacks \
             WHERE account_id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn insert_delivery(&self, d: &Delivery) -> StoreResult<()> {
        insert_delivery_row(&self.pool, d).await
    }

    async fn due_deliveries(&self, now: Micros, limit: u32) -> StoreResult<Vec<Delivery>> {
        let rows: Vec<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM callback_outbox WHERE next_attempt <= $1 \
             ORDER BY next_attempt LIMIT {limit}"
        )))
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn reschedule_delivery(&self, d: &Delivery, next_attempt: Micros) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE callback_outbox SET attempts = attempts + 1, next_attempt = $3 \
             WHERE delivery_id = $1 AND attempts = $2",
        )
        .bind(&d.delivery_id)
        .bind(d.attempts)
        .bind(next_attempt)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_delivery(&self, delivery_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM callback_outbox WHERE delivery_id = $1")
            .bind(delivery_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<Micros>> {
        let (at,): (Option<i64>,) = sqlx::query_as("SELECT MIN(next_attempt) FROM callback_outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(at)
    }
}

async fn insert_delivery_row<'e, E: PgExecutor<'e>>(executor: E, d: &Delivery) -> StoreResult<()> {
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
