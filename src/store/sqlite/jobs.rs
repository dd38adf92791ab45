//! Producing jobs, event callbacks and the callback outbox ([`JobStore`]).

use async_trait::async_trait;
use rusqlite::Connection;

use super::SqliteStore;
use super::engine::{conflict, execute, fetch_paged, query_all, query_opt, query_value};
use super::rows;
use crate::domain::job::{Delivery, EventCallback, Job, JobOutcome, JobQuery};
use crate::domain::{Micros, Paged};
use crate::store::StoreResult;
use crate::store::jobs::{
    CLAIMABLE, DELIVERY_COLUMNS, INSERT_JOB, JOB_COLUMNS, JobStore, finish_columns, job_cursor,
    jobs_sql,
};

fn insert_job(c: &Connection, job: &Job) -> StoreResult<()> {
    execute(
        c,
        INSERT_JOB,
        &[
            &job.account_id,
            &job.job_id,
            &job.project_id,
            &job.media_id,
            &job.vod_media_id,
            &job.media_url,
            &job.output_bucket,
            &job.output_key,
            &job.timeline,
            &job.template_id,
            &job.clips_param,
            &job.output_media_config,
            &job.media_metadata,
            &job.editing_produce_config,
            &job.user_data,
            &job.source,
            &job.client_token,
            &job.job_type.as_str(),
            &job.status.as_str(),
            &job.code,
            &job.message,
            &job.progress,
            &job.duration,
            &job.create_time,
            &job.modified_time,
            &job.complete_time,
        ],
    )
    .map_err(|e| conflict(e, &format!("job {}", job.job_id)))?;
    execute(
        c,
        "UPDATE editing_projects SET status = 'Producing', modified_time = $3 \
         WHERE account_id = $1 AND project_id = $2",
        &[&job.account_id, &job.project_id, &job.create_time],
    )?;
    Ok(())
}

fn job(c: &Connection, account_id: &str, job_id: &str) -> StoreResult<Option<Job>> {
    let row = query_opt(
        c,
        &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND job_id = $2"),
        &[&account_id, &job_id],
        rows::job,
    )?;
    row.map(Job::try_from).transpose()
}

fn claim_job(
    c: &Connection,
    owner: &str,
    now: Micros,
    lease_until: Micros,
) -> StoreResult<Option<Job>> {
    // In the writer's transaction the job found is still claimable when it is updated; the
    // UPDATE re-checks anyway, as with several servers on PostgreSQL.
    let next = query_opt(
        c,
        &format!(
            "SELECT account_id, job_id FROM jobs WHERE {CLAIMABLE} ORDER BY create_time LIMIT 1"
        ),
        &[&now],
        rows::pair,
    )?;
    let Some((account_id, job_id)) = next else {
        return Ok(None);
    };
    let claimed = execute(
        c,
        &format!(
            "UPDATE jobs SET lease_owner = $2, lease_expiry = $3, \
             status = CASE WHEN status = 'Init' THEN 'Queuing' ELSE status END \
             WHERE account_id = $4 AND job_id = $5 AND {CLAIMABLE}"
        ),
        &[&now, &owner, &lease_until, &account_id, &job_id],
    )?;
    if claimed != 1 {
        return Ok(None);
    }
    job(c, &account_id, &job_id)
}

fn finish_job(
    c: &Connection,
    job: &Job,
    owner: &str,
    outcome: &JobOutcome,
    now: Micros,
    callback: Option<&Delivery>,
) -> StoreResult<bool> {
    let (status, code, message, duration, project_status) = finish_columns(outcome);
    let done = execute(
        c,
        "UPDATE jobs SET status = $4, code = $5, message = $6, duration = $7, \
         progress = CASE WHEN $4 = 'Success' THEN 100 ELSE progress END, \
         complete_time = $8, modified_time = $8, lease_owner = NULL, lease_expiry = NULL \
         WHERE account_id = $1 AND job_id = $2 AND lease_owner = $3",
        &[
            &job.account_id,
            &job.job_id,
            &owner,
            &status,
            &code,
            &message,
            &duration,
            &now,
        ],
    )?;
    if done != 1 {
        return Ok(false);
    }
    execute(
        c,
        "UPDATE editing_projects SET status = $3, modified_time = $4 \
         WHERE account_id = $1 AND project_id = $2 AND status = 'Producing'",
        &[&job.account_id, &job.project_id, &project_status, &now],
    )?;
    if let Some(d) = callback {
        insert_delivery(c, d)?;
    }
    Ok(true)
}

fn insert_delivery(c: &Connection, d: &Delivery) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO callback_outbox (delivery_id, account_id, url, body, auth_key, \
         attempts, next_attempt, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &d.delivery_id,
            &d.account_id,
            &d.url,
            &d.body,
            &d.auth_key,
            &d.attempts,
            &d.next_attempt,
            &d.create_time,
        ],
    )?;
    Ok(())
}

fn set_event_callback(c: &Connection, e: &EventCallback) -> StoreResult<()> {
    execute(
        c,
        "INSERT INTO event_callbacks (account_id, callback_type, callback_url, \
         callback_queue_name, event_types, auth_switch, auth_key, modified_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (account_id) DO UPDATE SET \
         callback_type = excluded.callback_type, callback_url = excluded.callback_url, \
         callback_queue_name = excluded.callback_queue_name, \
         event_types = excluded.event_types, auth_switch = excluded.auth_switch, \
         auth_key = excluded.auth_key, modified_time = excluded.modified_time",
        &[
            &e.account_id,
            &e.callback_type,
            &e.callback_url,
            &e.callback_queue_name,
            &e.event_types,
            &i64::from(e.auth_switch),
            &e.auth_key,
            &e.modified_time,
        ],
    )?;
    Ok(())
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn insert_job(&self, job: &Job) -> StoreResult<()> {
        let job = job.clone();
        self.engine.write(move |c| insert_job(c, &job)).await
    }

    async fn job(&self, account_id: &str, job_id: &str) -> StoreResult<Option<Job>> {
        self.engine.read(|c| job(c, account_id, job_id))
    }

    async fn job_by_client_token(
        &self,
        account_id: &str,
        client_token: &str,
        since: Micros,
    ) -> StoreResult<Option<Job>> {
        self.engine.read(|c| {
            let row = query_opt(
                c,
                &format!(
                    "SELECT {JOB_COLUMNS} FROM jobs WHERE account_id = $1 AND client_token = $2 \
                     AND create_time >= $3 ORDER BY create_time LIMIT 1"
                ),
                &[&account_id, &client_token, &since],
                rows::job,
            )?;
            row.map(Job::try_from).transpose()
        })
    }

    async fn search_jobs(&self, account_id: &str, q: &JobQuery) -> StoreResult<Paged<Job>> {
        let (sql, page) = (jobs_sql(account_id, q), q.page.clone());
        self.engine
            .read_apart(move |c| fetch_paged(c, &sql, &page, rows::job, job_cursor))
            .await
    }

    async fn claim_job(
        &self,
        owner: &str,
        now: Micros,
        lease_until: Micros,
    ) -> StoreResult<Option<Job>> {
        let owner = owner.to_string();
        self.engine
            .write(move |c| claim_job(c, &owner, now, lease_until))
            .await
    }

    async fn renew_job(
        &self,
        job_id: &str,
        owner: &str,
        lease_until: Micros,
        progress: i64,
    ) -> StoreResult<bool> {
        let (job_id, owner) = (job_id.to_string(), owner.to_string());
        self.engine
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE jobs SET status = 'Processing', lease_expiry = $3, \
                     progress = CASE WHEN progress > $4 THEN progress ELSE $4 END, \
                     modified_time = $5 WHERE job_id = $1 AND lease_owner = $2",
                    &[
                        &job_id,
                        &owner,
                        &lease_until,
                        &progress,
                        &crate::domain::now_micros(),
                    ],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn defer_job(&self, job_id: &str, owner: &str, not_before: Micros) -> StoreResult<bool> {
        let (job_id, owner) = (job_id.to_string(), owner.to_string());
        self.engine
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE jobs SET status = 'Queuing', lease_owner = NULL, \
                     lease_expiry = NULL, not_before = $3 WHERE job_id = $1 AND lease_owner = $2",
                    &[&job_id, &owner, &not_before],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn finish_job(
        &self,
        job: &Job,
        owner: &str,
        outcome: &JobOutcome,
        now: Micros,
        callback: Option<&Delivery>,
    ) -> StoreResult<bool> {
        let (job, owner, outcome) = (job.clone(), owner.to_string(), outcome.clone());
        let callback = callback.cloned();
        self.engine
            .write(move |c| finish_job(c, &job, &owner, &outcome, now, callback.as_ref()))
            .await
    }

    /// The embedded store frees them at start: its previous run was the only server on
    /// the file.
    async fn release_own_leases(&self) -> StoreResult<u64> {
        self.engine
            .write(|c| {
                let done = execute(
                    c,
                    "UPDATE jobs SET lease_owner = NULL, lease_expiry = NULL \
                     WHERE lease_owner IS NOT NULL",
                    &[],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn job_queue_depth(&self) -> StoreResult<u64> {
        self.engine.read(|c| {
            let n: i64 = query_value(
                c,
                "SELECT COUNT(*) FROM jobs WHERE status IN ('Init', 'Queuing', 'Processing')",
                &[],
            )?;
            Ok(n as u64)
        })
    }

    async fn set_event_callback(&self, callback: &EventCallback) -> StoreResult<()> {
        let callback = callback.clone();
        self.engine
            .write(move |c| set_event_callback(c, &callback))
            .await
    }

    async fn event_callback(&self, account_id: &str) -> StoreResult<Option<EventCallback>> {
        self.engine.read(|c| {
            let row = query_opt(
                c,
                "SELECT account_id, callback_type, callback_url, callback_queue_name, \
                 event_types, auth_switch, auth_key, modified_time FROM event_callbacks \
                 WHERE account_id = $1",
                &[&account_id],
                rows::event_callback,
            )?;
            Ok(row.map(Into::into))
        })
    }

    async fn insert_delivery(&self, delivery: &Delivery) -> StoreResult<()> {
        let delivery = delivery.clone();
        self.engine
            .write(move |c| insert_delivery(c, &delivery))
            .await
    }

    async fn due_deliveries(&self, now: Micros, limit: u32) -> StoreResult<Vec<Delivery>> {
        self.engine.read(|c| {
            let rows = query_all(
                c,
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM callback_outbox WHERE next_attempt <= $1 \
                     ORDER BY next_attempt LIMIT {limit}"
                ),
                &[&now],
                rows::delivery,
            )?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    async fn reschedule_delivery(
        &self,
        delivery: &Delivery,
        next_attempt: Micros,
    ) -> StoreResult<bool> {
        let (delivery_id, attempts) = (delivery.delivery_id.clone(), delivery.attempts);
        self.engine
            .write(move |c| {
                let done = execute(
                    c,
                    "UPDATE callback_outbox SET attempts = attempts + 1, next_attempt = $3 \
                     WHERE delivery_id = $1 AND attempts = $2",
                    &[&delivery_id, &attempts, &next_attempt],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn delete_delivery(&self, delivery_id: &str) -> StoreResult<()> {
        let delivery_id = delivery_id.to_string();
        self.engine
            .write(move |c| {
                execute(
                    c,
                    "DELETE FROM callback_outbox WHERE delivery_id = $1",
                    &[&delivery_id],
                )?;
                Ok(())
            })
            .await
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<Micros>> {
        self.engine.read(|c| {
            Ok(query_value(
                c,
                "SELECT MIN(next_attempt) FROM callback_outbox",
                &[],
            )?)
        })
    }
}
