//! Lookups several actions and the workers share: the media a timeline references, their
//! durations, the files a render reads, and whether named materials are the caller's.
//! Everything here reads the store; nothing answers a request by itself.

use std::collections::HashMap;
use std::path::PathBuf;

use super::context::{Caller, Ctx};
use crate::domain::job::Job;
use crate::domain::material::{MaterialMaps, MaterialType};
use crate::domain::media::{InputLocation, MediaInfo, MediaStatus};
use crate::domain::project::EditingProject;
use crate::domain::timeline::{ClipSource, Timeline};
use crate::protocol::error::ApiError;
use crate::render::SourceFile;

/// Guarded project writes are retried this often before the caller is asked to retry.
pub(crate) const MAX_WRITE_ATTEMPTS: usize = 8;

/// The caller's media a timeline references, by MediaId or by MediaURL into local storage,
/// with the clip source that named each. Two store queries whatever the timeline's size.
pub(crate) async fn timeline_media(
    ctx: &Ctx,
    account_id: &str,
    timeline: &Timeline,
) -> Result<Vec<(ClipSource, MediaInfo)>, ApiError> {
    let sources = timeline.sources();
    let ids: Vec<String> = sources
        .iter()
        .filter_map(|s| match s {
            ClipSource::MediaId(id) => Some(id.clone()),
            ClipSource::MediaUrl(_) => None,
        })
        .collect();
    let mut out: Vec<(ClipSource, MediaInfo)> = ctx
        .store
        .media_many(account_id, &ids)
        .await?
        .into_iter()
        .map(|m| (ClipSource::MediaId(m.media_id.clone()), m))
        .collect();
    // MediaURLs into local storage, looked up together by their canonical location.
    let mut by_location: HashMap<String, Vec<ClipSource>> = HashMap::new();
    for s in sources.iter() {
        if let ClipSource::MediaUrl(url) = s
            && let Ok(location) = InputLocation::parse(url, "Timeline")
        {
            by_location
                .entry(location.canonical())
                .or_default()
                .push(ClipSource::clone(s));
        }
    }
    let locations: Vec<String> = by_location.keys().cloned().collect();
    for m in ctx.store.media_at_locations(account_id, &locations).await? {
        for source in by_location.get(&m.location).into_iter().flatten() {
            out.push((source.clone(), m.clone()));
        }
    }
    Ok(out)
}

/// Probed durations of the caller's media that a timeline references, by clip source.
pub(crate) async fn source_durations(
    ctx: &Ctx,
    account_id: &str,
    timeline: &Timeline,
) -> Result<HashMap<ClipSource, f64>, ApiError> {
    Ok(timeline_media(ctx, account_id, timeline)
        .await?
        .into_iter()
        .filter_map(|(s, m)| Some((s, m.duration?)))
        .collect())
}

/// The media IDs of the timeline already stored with a project (it was valid when stored).
pub(crate) fn stored_timeline_media(project: &EditingProject) -> Vec<String> {
    project
        .timeline
        .as_deref()
        .and_then(|raw| Timeline::parse(raw).ok())
        .map(|t| t.media_ids())
        .unwrap_or_default()
}

/// Every media asset and project a MaterialMaps names must be the caller's.
pub(crate) async fn check_materials_owned(
    ctx: &Ctx,
    caller: &Caller,
    maps: &MaterialMaps,
) -> Result<(), ApiError> {
    for m in &maps.materials {
        let found = match m.kind {
            MaterialType::EditingProject => ctx
                .store
                .project(&caller.account_id, &m.id)
                .await?
                .is_some(),
            MaterialType::LiveStream => true,
            _ => ctx.store.media(&caller.account_id, &m.id).await?.is_some(),
        };
        if !found {
            return Err(ApiError::invalid(
                "MaterialMaps",
                format!("The {} \"{}\" does not exist.", m.kind, m.id),
            ));
        }
    }
    Ok(())
}

/// Whether a job's sources can be rendered now.
pub(crate) enum Sources {
    /// Each clip source's local file (or allow-listed URL), with the library's probe of it.
    Ready(HashMap<ClipSource, SourceFile>),
    /// Some source media are still being probed.
    Waiting,
    /// A source is gone or failed its probe: the job fails with this message.
    Unusable(String),
}

/// Resolves a job's clip sources to files the renderer can read.
pub(crate) async fn job_sources(
    ctx: &Ctx,
    job: &Job,
    timeline: &Timeline,
) -> Result<Sources, ApiError> {
    let found: Vec<(ClipSource, MediaInfo)> =
        timeline_media(ctx, &job.account_id, timeline).await?;
    let mut out = HashMap::new();
    for source in timeline.sources() {
        let media = found.iter().find(|(s, _)| s == source).map(|(_, m)| m);
        let location = match media {
            Some(m) => match m.status {
                MediaStatus::Init | MediaStatus::Preparing => return Ok(Sources::Waiting),
                MediaStatus::PrepareFail => {
                    return Ok(Sources::Unusable(format!(
                        "The source media \"{}\" failed its probe; it cannot be rendered.",
                        m.media_id
                    )));
                }
                MediaStatus::Normal => m.location.clone(),
            },
            None => match source {
                ClipSource::MediaId(id) => {
                    return Ok(Sources::Unusable(format!(
                        "The source media \"{id}\" no longer exists."
                    )));
                }
                ClipSource::MediaUrl(url) => url.clone(),
            },
        };
        let path = match InputLocation::parse(&location, "Timeline") {
            Ok(InputLocation::Oss { bucket, key }) => match ctx.storage.existing(&bucket, &key) {
                Ok(p) => p,
                Err(e) => {
                    return Ok(Sources::Unusable(format!(
                        "The source \"{location}\" cannot be read: {e}."
                    )));
                }
            },
            Ok(InputLocation::Remote { url, .. }) => PathBuf::from(url),
            Err(e) => return Ok(Sources::Unusable(e.reason)),
        };
        // Planning takes the stored probe instead of running ffprobe again.
        let probe = media.and_then(|m| m.probe.as_deref());
        out.insert(source.clone(), SourceFile::library(path, probe));
    }
    Ok(Sources::Ready(out))
}
