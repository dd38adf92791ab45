//! The URL upload worker: fetches UploadMediaByURL jobs into their objects. The queue is the
//! job table, so jobs a stopped server left unfinished are fetched after the next start
//! (`UploadStore::requeue_url_jobs`); a fetch under way at shutdown is dropped for that.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{Worker, WorkerState, callbacks};
use crate::actions::Ctx;
use crate::actions::upload::file_url;
use crate::domain::media::InputLocation;
use crate::domain::now_micros;
use crate::store::oss::UrlUploadJob;

/// How often an idle worker looks for queued jobs.
const IDLE_TICK: Duration = Duration::from_millis(500);

pub struct UrlUploadWorker {
    ctx: Arc<Ctx>,
    client: reqwest::Client,
}

impl UrlUploadWorker {
    /// Fails only when no HTTP client can be built (then UploadMediaByURL jobs wait).
    pub fn new(ctx: Arc<Ctx>) -> Result<Self, reqwest::Error> {
        // reqwest's rustls needs a process-wide crypto provider; installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let allow = ctx.fetch_allow.clone();
        let client = reqwest::Client::builder()
            // Redirects stay within the allow-list.
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let ok = attempt
                    .url()
                    .host_str()
                    .is_some_and(|h| allow.iter().any(|a| a.eq_ignore_ascii_case(h)));
                if ok && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()?;
        Ok(UrlUploadWorker { ctx, client })
    }

    /// Records a fetch's outcome and queues its callback.
    #[tracing::instrument(name = "url_upload", skip_all, fields(job_id = %job.job_id, media_id = %job.media_id))]
    async fn finish(&self, mut job: UrlUploadJob, outcome: Result<u64, (&'static str, String)>) {
        let ctx = &self.ctx;
        match outcome {
            Ok(size) => {
                job.status = "Success".into();
                job.file_size = i64::try_from(size).ok();
            }
            Err((code, message)) => {
                tracing::info!(%code, %message, "URL upload failed");
                job.status = "Failed".into();
                job.error_code = Some(code.into());
                job.error_message = Some(message);
                // Let the probe settle the media (PrepareFail: there is no file).
                if let Err(e) = ctx
                    .store
                    .finish_pending_uploads(&job.bucket, &job.object_key)
                    .await
                {
                    tracing::warn!(error = %e, "could not release a failed upload's media");
                }
                ctx.probe_wakeup.notify_one();
            }
        }
        job.complete_time = Some(now_micros());
        if let Err(e) = ctx.store.finish_url_job(&job).await {
            tracing::warn!(error = %e, "could not store a URL upload's outcome");
        }
        let url = file_url(ctx, &job.bucket, &job.object_key);
        if let Err(e) = callbacks::url_uploaded(ctx, &job, &url).await {
            tracing::warn!(error = %e, "could not queue an upload callback");
        }
    }
}

#[async_trait]
impl Worker for UrlUploadWorker {
    fn name(&self) -> String {
        "url-upload".into()
    }

    async fn work(&mut self, must_exit: &mut watch::Receiver<bool>) -> Result<WorkerState, String> {
        let claimed = self
            .ctx
            .store
            .claim_url_job()
            .await
            .map_err(|e| format!("URL upload queue unavailable: {e}"))?;
        let Some(job) = claimed else {
            return Ok(WorkerState::Idle);
        };
        let outcome = tokio::select! {
            r = fetch(&self.ctx, &self.client, &job) => r,
            // The job stays claimed; the next start queues it again.
            _ = must_exit.changed() => return Ok(WorkerState::Done),
        };
        self.finish(job, outcome).await;
        Ok(WorkerState::Busy)
    }

    async fn wait_for_work(&mut self) -> WorkerState {
        tokio::time::sleep(IDLE_TICK).await;
        WorkerState::Busy
    }
}

async fn fetch(
    ctx: &Ctx,
    client: &reqwest::Client,
    job: &UrlUploadJob,
) -> Result<u64, (&'static str, String)> {
    match InputLocation::parse(&job.source_url, "UploadURLs") {
        Ok(InputLocation::Remote { host, .. }) if ctx.fetch_allow.contains(&host) => {}
        _ => {
            return Err((
                "FetchNotAllowed",
                "The URL's host is no longer allow-listed.".into(),
            ));
        }
    }
    let response = client
        .get(&job.source_url)
        .send()
        .await
        .map_err(|e| ("FetchFailed", e.to_string()))?;
    if !response.status().is_success() {
        return Err((
            "FetchFailed",
            format!("The URL answered HTTP {}.", response.status()),
        ));
    }
    let chunks = futures_util::stream::unfold(Some(response), |state| async move {
        let mut response = state?;
        match response.chunk().await {
            Ok(Some(chunk)) => Some((Ok(chunk), Some(response))),
            Ok(None) => None,
            Err(e) => Some((Err(e), None)),
        }
    });
    crate::oss::put_object(
        ctx,
        &job.bucket,
        &job.object_key,
        axum::body::Body::from_stream(chunks),
    )
    .await
    .map_err(|e| ("FetchFailed", e.message))
}
