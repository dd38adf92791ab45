//! The probe worker: claims registered media (`Init`) with a lease, runs ffprobe (and a
//! cover snapshot), stores the result, then refreshes the Duration of projects using the
//! media, wakes jobs waiting for it and queues RegisterMediaComplete.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{Worker, WorkerState};
use crate::actions::Ctx;
use crate::actions::lookup::{MAX_WRITE_ATTEMPTS, source_durations};
use crate::domain::media::{InputLocation, MediaInfo, MediaStatus, MediaType};
use crate::domain::now_micros;
use crate::domain::timeline::Timeline;
use crate::media::probe::{self, MediaKind, Whole};
use crate::protocol::error::ApiError;
use crate::store::Guarded;

/// How long a probe claim lasts unless renewed; a server that dies mid-probe leaves the
/// media to another (or its restarted self) this long after its last renewal.
const PROBE_LEASE: Duration = Duration::from_secs(10);
/// How often a working probe renews its lease.
const PROBE_RENEW_EVERY: Duration = Duration::from_secs(3);
/// How often an idle probe worker looks for media without a wake-up (expired leases, other
/// servers' registrations).
const IDLE_TICK: Duration = Duration::from_secs(2);

/// A probe worker. The queue lives in the store (media in `Init`), so registrations not
/// yet probed when a server stops are probed after restart. A probe under way when the
/// server stops is finished (the server waits for it up to its shutdown deadline).
pub struct ProbeWorker {
    ctx: Arc<Ctx>,
    /// This server's probe lease owner name (random, shared by its probe workers).
    owner: Arc<str>,
}

impl ProbeWorker {
    pub fn new(ctx: Arc<Ctx>, owner: Arc<str>) -> Self {
        ProbeWorker { ctx, owner }
    }

    /// Probes one claimed media, renewing the lease meanwhile; the probe ends whether or
    /// not renewals work (a lost lease only means the result is not stored).
    #[tracing::instrument(name = "probe", skip_all, fields(media_id = %media.media_id, account = %media.account_id))]
    async fn run(&self, media: MediaInfo) {
        let (ctx, owner) = (&self.ctx, &self.owner);
        let renew = async {
            loop {
                tokio::time::sleep(PROBE_RENEW_EVERY).await;
                let renewed = ctx
                    .store
                    .renew_probe(
                        &media.account_id,
                        &media.media_id,
                        owner,
                        lease_end(now_micros()),
                    )
                    .await;
                if !matches!(renewed, Ok(true)) {
                    tracing::warn!("probe lease not renewed");
                }
            }
        };
        tokio::select! {
            _ = probe_one(ctx, media.clone(), owner) => {}
            _ = renew => {}
        }
    }
}

fn lease_end(from: crate::domain::Micros) -> crate::domain::Micros {
    from + PROBE_LEASE.as_micros() as i64
}

#[async_trait]
impl Worker for ProbeWorker {
    fn name(&self) -> String {
        "probe".into()
    }

    async fn work(
        &mut self,
        _must_exit: &mut watch::Receiver<bool>,
    ) -> Result<WorkerState, String> {
        let now = now_micros();
        let claimed = self
            .ctx
            .store
            .claim_probe(&self.owner, now, lease_end(now))
            .await
            .map_err(|e| format!("probe queue unavailable: {e}"))?;
        match claimed {
            Some(media) => {
                self.run(media).await;
                Ok(WorkerState::Busy)
            }
            None => Ok(WorkerState::Idle),
        }
    }

    async fn wait_for_work(&mut self) -> WorkerState {
        tokio::select! {
            _ = self.ctx.probe_wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_TICK) => {}
        }
        WorkerState::Busy
    }
}

/// Where a probe reads the media: the object's file, or an allow-listed URL.
fn probe_input(ctx: &Ctx, media: &MediaInfo) -> Result<String, String> {
    match InputLocation::parse(&media.location, "InputURL").map_err(|e| e.reason)? {
        InputLocation::Oss { bucket, key } => ctx
            .storage
            .existing(&bucket, &key)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|e| format!("oss://{bucket}/{key}: {e}")),
        InputLocation::Remote { url, host } if ctx.fetch_allow.contains(&host) => Ok(url),
        InputLocation::Remote { host, .. } => Err(format!("{host} is no longer allow-listed")),
    }
}

async fn probe_one(ctx: &Ctx, mut media: MediaInfo, owner: &str) {
    let started = std::time::Instant::now();
    let outcome = match probe_input(ctx, &media) {
        Ok(input) => probe::probe(&input, &ctx.probe_limits)
            .await
            .map(|r| (input, r))
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok((input, result)) => {
            media.status = MediaStatus::Normal;
            media.duration = result.file.duration.as_deref().and_then(|d| d.parse().ok());
            media.file_size = result.file.file_size.as_ref().and_then(Whole::value);
            media.media_type = media.media_type.or(Some(match result.media_type {
                MediaKind::Video => MediaType::Video,
                MediaKind::Audio => MediaType::Audio,
                MediaKind::Image => MediaType::Image,
            }));
            if media.need_snapshot
                && media.cover_url.is_none()
                && result.media_type == MediaKind::Video
            {
                media.cover_url = make_cover(ctx, &media, &input).await;
            }
            media.probe = Some(result.to_stored());
        }
        Err(reason) => {
            tracing::info!(%reason, "probe failed");
            media.status = MediaStatus::PrepareFail;
        }
    }
    match ctx.store.finish_probe(&media, owner).await {
        Ok(true) => {
            tracing::info!(
                status = media.status.as_str(),
                millis = started.elapsed().as_millis() as u64,
                "probed"
            );
            if let Err(e) = refresh_project_durations(ctx, &media).await {
                tracing::warn!(error = %e, "could not refresh project durations");
            }
            // Jobs waiting for this probe may start.
            ctx.job_wakeup.notify_waiters();
            if let Err(e) = crate::jobs::callbacks::media_registered(ctx, &media).await {
                tracing::warn!(error = %e, "could not queue RegisterMediaComplete");
            }
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "could not store a probe result")
        }
    }
}

/// A cover frame two seconds in (clamped), kept next to the media in its bucket.
async fn make_cover(ctx: &Ctx, media: &MediaInfo, input: &str) -> Option<String> {
    let InputLocation::Oss { bucket, .. } =
        InputLocation::parse(&media.location, "InputURL").ok()?
    else {
        return None;
    };
    let key = format!(".openice/covers/{}.jpg", media.media_id);
    let path = ctx.storage.path(&bucket, &key);
    tokio::fs::create_dir_all(path.parent()?).await.ok()?;
    match probe::snapshot(input, 2.0, &path, &ctx.probe_limits).await {
        Ok(()) => Some(format!("oss://{bucket}/{key}")),
        Err(e) => {
            tracing::info!(error = %e, "no cover snapshot");
            None
        }
    }
}

/// Projects whose timeline uses `media` get their Duration recomputed now that its
/// length is known. Only the Duration is written, and only if the project did not change
/// since it was read (else it is read again).
async fn refresh_project_durations(ctx: &Ctx, media: &MediaInfo) -> Result<(), ApiError> {
    for project_id in ctx
        .store
        .projects_using_media(&media.account_id, &media.media_id)
        .await?
    {
        let mut attempts = 0;
        loop {
            let Some(project) = ctx.store.project(&media.account_id, &project_id).await? else {
                break;
            };
            let Some(timeline) = project
                .timeline
                .as_deref()
                .and_then(|t| Timeline::parse(t).ok())
            else {
                break;
            };
            let durations = source_durations(ctx, &media.account_id, &timeline).await?;
            let duration = timeline.duration(|s| durations.get(s).copied());
            if duration == project.duration {
                break;
            }
            let written = ctx.store.set_project_duration(&project, duration).await?;
            attempts += 1;
            if written != Guarded::Changed || attempts == MAX_WRITE_ATTEMPTS {
                break;
            }
        }
    }
    Ok(())
}
