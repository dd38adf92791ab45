//! The render worker: claims a producing job with a lease, waits for its sources' probes,
//! renders it, verifies the output against the plan, registers the output media and ends
//! the job (project status and callback in the same transaction).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;

use super::{METRICS, StatusLabel, Worker, WorkerState, callbacks};
use crate::actions::Ctx;
use crate::actions::lookup::{Sources, job_sources};
use crate::domain::job::{Job, JobOutcome};
use crate::domain::media::{self, MediaInfo, MediaSource, MediaType};
use crate::domain::now_micros;
use crate::domain::timeline::{ClipSource, Timeline};
use crate::render::{self, OutputSpec, Plan, RenderError, SourceFile};
use crate::store::MediaKey;

/// A lease outlives a dead worker by at most this long.
const LEASE: Duration = Duration::from_secs(15);
/// How often a working worker renews its lease and stores the progress.
const HEARTBEAT: Duration = Duration::from_millis(700);
/// How long a job waiting for its sources' probes stays out of the queue.
const WAIT_FOR_PROBES: Duration = Duration::from_millis(300);
/// How often an idle worker looks for expired leases and deferred jobs.
const IDLE_TICK: Duration = Duration::from_secs(1);

pub struct RenderWorker {
    ctx: Arc<Ctx>,
    /// This worker's lease owner name, unique across servers.
    owner: String,
}

impl RenderWorker {
    pub fn new(ctx: Arc<Ctx>, owner: String) -> Self {
        RenderWorker { ctx, owner }
    }

    fn lease_until(&self) -> i64 {
        now_micros() + LEASE.as_micros() as i64
    }

    /// Ends the job unless another worker took it over meanwhile.
    async fn finish(&self, job: &Job, outcome: JobOutcome) -> Result<(), String> {
        let (status, code, message) = match &outcome {
            JobOutcome::Success { .. } => ("Success", "", ""),
            JobOutcome::Failed { code, message } => ("Failed", code.as_str(), message.as_str()),
        };
        let delivery =
            callbacks::produce_complete(self.ctx.store.as_ref(), job, status, code, message)
                .await
                .map_err(|e| e.to_string())?;
        let finished = self
            .ctx
            .store
            .finish_job(job, &self.owner, &outcome, now_micros(), delivery.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        if finished {
            // A job that ends without rendering again (say, its source is gone now) still
            // clears what a killed run of it left.
            self.remove_scratch(job).await;
            METRICS.renders.get_or_create(&StatusLabel { status }).inc();
            if delivery.is_some() {
                self.ctx.callback_wakeup.notify_one();
            }
            tracing::info!(job_id = %job.job_id, status, message, "job finished");
        }
        Ok(())
    }

    async fn remove_scratch(&self, job: &Job) {
        let output = self.ctx.storage.path(&job.output_bucket, &job.output_key);
        let removed = render::remove_scratch(&output, &job.job_id).await;
        if removed > 0 {
            tracing::info!(job_id = %job.job_id, removed, "removed a killed render's temporary files");
        }
    }

    async fn fail(&self, job: &Job, code: &str, message: String) -> Result<(), String> {
        self.finish(
            job,
            JobOutcome::Failed {
                code: code.to_string(),
                message,
            },
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(job_id = %job.job_id))]
    async fn run(&self, job: Job, must_exit: &mut watch::Receiver<bool>) -> Result<(), String> {
        let timeline = match Timeline::parse(&job.timeline) {
            Ok(t) => t,
            Err(e) => return self.fail(&job, "InvalidParameter", e.to_string()).await,
        };
        let sources = match job_sources(&self.ctx, &job, &timeline)
            .await
            .map_err(|e| crate::protocol::error::chain(&e))?
        {
            Sources::Ready(s) => s,
            Sources::Waiting => {
                let not_before = now_micros() + WAIT_FOR_PROBES.as_micros() as i64;
                self.ctx
                    .store
                    .defer_job(&job.job_id, &self.owner, not_before)
                    .await
                    .map_err(|e| e.to_string())?;
                return Ok(());
            }
            Sources::Unusable(message) => {
                return self.fail(&job, "InvalidParameter", message).await;
            }
        };
        let store = &self.ctx.store;
        if !store
            .renew_job(&job.job_id, &self.owner, self.lease_until(), 0)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
        let config = serde_json::from_str(&job.output_media_config).unwrap_or_default();
        let spec = match OutputSpec::from_output_media_config(&config) {
            Ok(s) => s,
            Err(e) => {
                let (code, message) = failure(e);
                return self.fail(&job, code, message).await;
            }
        };
        let output = self.ctx.storage.path(&job.output_bucket, &job.output_key);
        if let Some(parent) = output.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        // A killed earlier run of this job (this server's before a crash, or a worker that
        // lost the lease) may have left its temporary files: the job is ours now.
        self.remove_scratch(&job).await;
        let progress = Arc::new(AtomicU8::new(0));
        let started = Instant::now();
        let rendered = {
            let render = run_render(
                timeline,
                sources,
                spec,
                output,
                &job.job_id,
                progress.clone(),
            );
            let heartbeat = async {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let p = i64::from(progress.load(Ordering::Relaxed));
                    match store
                        .renew_job(&job.job_id, &self.owner, self.lease_until(), p)
                        .await
                    {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(e) => {
                            tracing::warn!(job_id = %job.job_id, error = %e, "lease renewal failed")
                        }
                    }
                }
            };
            tokio::select! {
                r = render => r,
                _ = heartbeat => {
                    tracing::warn!(job_id = %job.job_id, "lease lost; another worker runs the job");
                    return Ok(());
                }
                _ = must_exit.changed() => {
                    // Stopping: hand the job back for the next start (or another server).
                    store.defer_job(&job.job_id, &self.owner, now_micros()).await.map_err(|e| e.to_string())?;
                    return Ok(());
                }
            }
        };
        let plan = match rendered {
            Ok(p) => p,
            Err(e) => {
                let (code, message) = failure(e);
                return self.fail(&job, code, message).await;
            }
        };
        let output = self.ctx.storage.path(&job.output_bucket, &job.output_key);
        if let Err(message) = render::verify(&plan, &output).await {
            return self.fail(&job, "InternalError", message).await;
        }
        self.register_output(&job).await?;
        METRICS.seconds.observe(started.elapsed().as_secs_f64());
        self.finish(
            &job,
            JobOutcome::Success {
                duration: plan.duration_secs(),
            },
        )
        .await
    }

    /// Registers (or, after a re-run, re-registers) the output as media `job.media_id`
    /// and queues its probe.
    async fn register_output(&self, job: &Job) -> Result<(), String> {
        let store = &self.ctx.store;
        let location = format!("oss://{}/{}", job.output_bucket, job.output_key);
        let err = |e: crate::store::StoreError| e.to_string();
        let replace = match store
            .media_by(&job.account_id, MediaKey::Location(&location))
            .await
            .map_err(err)?
        {
            Some(m) => Some(m.media_id),
            None => store
                .media(&job.account_id, &job.media_id)
                .await
                .map_err(err)?
                .map(|m| m.media_id),
        };
        let meta: serde_json::Map<String, serde_json::Value> = job
            .media_metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let text = |k: &str| {
            meta.get(k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        };
        let file_name = job.output_key.rsplit('/').next().unwrap_or(&job.output_key);
        let source = match job.vod_media_id {
            Some(_) => MediaSource::Vod,
            None => MediaSource::Oss,
        };
        let media = MediaInfo {
            media_type: Some(MediaType::Video),
            description: text("Description").map(str::to_string),
            media_tags: text("Tags")
                .and_then(|t| media::parse_tags(t).ok())
                .unwrap_or_default(),
            ..MediaInfo::registered(
                &job.account_id,
                job.media_id.clone(),
                job.media_url.clone(),
                location,
                source,
                text("Title").unwrap_or(file_name).to_string(),
                now_micros(),
            )
        };
        store
            .insert_media(&media, replace.as_deref())
            .await
            .map_err(err)?;
        self.ctx.probe_wakeup.notify_one();
        Ok(())
    }
}

/// Plans and renders; dropping the future cancels the render (the renderer kills ffmpeg
/// when its future is dropped).
async fn run_render(
    timeline: Timeline,
    sources: HashMap<ClipSource, SourceFile>,
    spec: OutputSpec,
    output: PathBuf,
    job_id: &str,
    progress: Arc<AtomicU8>,
) -> Result<Plan, RenderError> {
    let plan = render::plan(&timeline, &sources, &spec).await?;
    let report = move |p: u8| progress.store(p.min(99), Ordering::Relaxed);
    render::execute_for(&plan, &output, job_id, &report).await?;
    Ok(plan)
}

/// A render error as the job's Code and Message.
fn failure(e: RenderError) -> (&'static str, String) {
    match e {
        RenderError::Invalid { field, message } => {
            ("InvalidParameter", format!("{field}: {message}"))
        }
        RenderError::Source { source, message } => (
            "InvalidParameter",
            format!("The source \"{source}\" cannot be rendered: {message}"),
        ),
        RenderError::MissingTool(m) => ("ServiceUnavailable", m),
        RenderError::Failed(m) => ("InternalError", m),
    }
}

#[async_trait]
impl Worker for RenderWorker {
    fn name(&self) -> String {
        format!("render {}", self.owner)
    }

    async fn work(&mut self, must_exit: &mut watch::Receiver<bool>) -> Result<WorkerState, String> {
        let claimed = self
            .ctx
            .store
            .claim_job(&self.owner, now_micros(), self.lease_until())
            .await
            .map_err(|e| e.to_string())?;
        match claimed {
            None => Ok(WorkerState::Idle),
            Some(job) => {
                let job_id = job.job_id.clone();
                if let Err(e) = self.run(job, must_exit).await {
                    tracing::warn!(%job_id, error = %e, "job run interrupted; it runs again when its lease expires");
                }
                Ok(WorkerState::Busy)
            }
        }
    }

    async fn wait_for_work(&mut self) -> WorkerState {
        tokio::select! {
            _ = self.ctx.job_wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_TICK) => {}
        }
        WorkerState::Busy
    }
}
