//! Producing jobs, event callbacks and the callback outbox: the [`JobStore`] half of the
//! store, with SQL both dialects share; each engine implements it (`postgres/jobs.rs`,
//! `sqlite/jobs.rs`).

use async_trait::async_trait;

use super::{Bind, StoreError, StoreResult, Where};
use crate::domain::job::{Delivery, EventCallback, Job, JobOutcome, JobQuery, JobStatus, JobType};
use crate::domain::{Cursor, Micros, Paged};

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

/// Where the next page of jobs starts.
pub(super) fn job_cursor(j: &Job) -> Cursor {
    Cursor {
        create_time: j.create_time,
        id: j.job_id.clone(),
    }
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
