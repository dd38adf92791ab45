//! Media-library actions: Register, Get, BatchGet, Update, Delete, ListMediaBasicInfos,
//! SearchMedia; and the views of a media asset the vendor's responses share.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::projects::{MAX_WRITE_ATTEMPTS, source_durations};
use super::{Caller, Ctx, NextToken};
use crate::domain::media::{
    self, InputLocation, MediaCond, MediaInfo, MediaQuery, MediaSource, MediaStatus, MediaType,
    MediaUpdate,
};
use crate::domain::timeline::Timeline;
use crate::domain::{Page, format_time, new_id, now_micros, parse_time};
use crate::media::probe::{
    self, AudioStreamInfo, MediaKind, ProbeResult, SubtitleStreamInfo, VideoStreamInfo,
};
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::Params;
use crate::store::{Guarded, MediaKey, StoreError};

/// Most IDs or URLs one DeleteMediaInfos call may name (vendor limit).
const MAX_DELETE: usize = 20;
/// Most IDs one BatchGetMediaInfos call may name.
const MAX_BATCH: usize = 100;

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MediaBasicInfoView {
    media_id: String,
    #[serde(rename = "InputURL")]
    input_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    business_type: Option<&'static str>,
    source: &'static str,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cate_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cate_name: Option<String>,
    media_tags: String,
    #[serde(rename = "CoverURL", skip_serializing_if = "Option::is_none")]
    cover_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference_id: Option<String>,
    status: &'static str,
    create_time: String,
    modified_time: String,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(super) struct FileBasicInfoView {
    file_name: String,
    file_status: &'static str,
    file_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_url: Option<String>,
    region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bitrate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modified_time: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct FileInfoView {
    file_basic_info: FileBasicInfoView,
    #[serde(skip_serializing_if = "Option::is_none")]
    video_stream_info_list: Option<Vec<VideoStreamInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audio_stream_info_list: Option<Vec<AudioStreamInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subtitle_stream_info_list: Option<Vec<SubtitleStreamInfo>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MediaInfoView {
    media_id: String,
    media_basic_info: MediaBasicInfoView,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_info_list: Option<Vec<FileInfoView>>,
}

/// How much of the file information a response carries.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum FileDetail {
    None,
    Basic,
    Streams,
}

/// Which action a view is for: the vendor's responses carry different field sets.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Shape {
    Get,
    Batch,
    List,
    Search,
    Materials,
}

impl Shape {
    /// CateId, ReferenceId and the file's CreateTime/ModifiedTime.
    fn catalogued(self) -> bool {
        matches!(self, Shape::Get | Shape::List | Shape::Search)
    }

    fn cate_name(self) -> bool {
        matches!(self, Shape::Get | Shape::Search)
    }
}

/// Everything a view needs besides the media itself.
pub(super) struct ViewCtx<'a> {
    pub ctx: &'a Ctx,
    pub caller: &'a Caller,
    pub auth_timeout: i64,
    pub shape: Shape,
}

impl ViewCtx<'_> {
    /// A URL players can fetch: a signed openice download URL for local objects.
    fn fetchable(&self, url: &str) -> String {
        match InputLocation::parse(url, "InputURL") {
            Ok(InputLocation::Oss { bucket, key }) => self.ctx.storage.signed_url(
                &self.caller.base_url,
                &bucket,
                &key,
                now_micros() / 1_000_000 + self.auth_timeout,
            ),
            _ => url.to_string(),
        }
    }

    /// `Uploading` while a CreateUploadMedia object has not been written yet.
    fn file_status(&self, m: &MediaInfo) -> &'static str {
        let missing = || match InputLocation::parse(&m.location, "InputURL") {
            Ok(InputLocation::Oss { bucket, key }) => {
                self.ctx.storage.existing(&bucket, &key).is_err()
            }
            _ => false,
        };
        if m.status == MediaStatus::Init && missing() {
            "Uploading"
        } else {
            "Normal"
        }
    }

    pub(super) async fn view(
        &self,
        m: MediaInfo,
        detail: FileDetail,
    ) -> Result<MediaInfoView, ApiError> {
        let catalogued = self.shape.catalogued();
        let cate_name = match m.cate_id.filter(|_| self.shape.cate_name()) {
            Some(id) => self
                .ctx
                .store
                .category(&self.caller.account_id, id)
                .await?
                .map(|c| c.cate_name),
            None => None,
        };
        let probe: Option<ProbeResult> = m
            .probe
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok());
        let file_info_list = (detail != FileDetail::None).then(|| {
            let file = probe.as_ref().map(|p| &p.file);
            let streams = detail == FileDetail::Streams;
            vec![FileInfoView {
                file_basic_info: FileBasicInfoView {
                    file_name: InputLocation::parse(&m.location, "InputURL")
                        .map(|l| l.file_name().to_string())
                        .unwrap_or_default(),
                    file_status: self.file_status(&m),
                    file_type: "source_file",
                    file_size: m.file_size.map(|s| s.to_string()),
                    file_url: Some(self.fetchable(&m.location)),
                    region: self.ctx.region.clone(),
                    format_name: file.and_then(|f| f.format_name.clone()),
                    duration: file.and_then(|f| f.duration.clone()),
                    bitrate: file.and_then(|f| f.bitrate.clone()),
                    width: file.and_then(|f| f.width.clone()),
                    height: file.and_then(|f| f.height.clone()),
                    create_time: catalogued.then(|| format_time(m.create_time)),
                    modified_time: catalogued.then(|| format_time(m.modified_time)),
                },
                video_stream_info_list: streams.then(|| {
                    probe
                        .as_ref()
                        .map(|p| p.video_streams.clone())
                        .unwrap_or_default()
                }),
                audio_stream_info_list: streams.then(|| {
                    probe
                        .as_ref()
                        .map(|p| p.audio_streams.clone())
                        .unwrap_or_default()
                }),
                subtitle_stream_info_list: streams.then(|| {
                    probe
                        .as_ref()
                        .map(|p| p.subtitle_streams.clone())
                        .unwrap_or_default()
                }),
            }]
        });
        Ok(MediaInfoView {
            media_id: m.media_id.clone(),
            media_basic_info: MediaBasicInfoView {
                cover_url: m.cover_url.as_deref().map(|c| self.fetchable(c)),
                media_id: m.media_id,
                input_url: m.input_url,
                media_type: m.media_type.map(|t| t.as_str()),
                business_type: m.business_type.map(|t| t.as_str()),
                source: m.source.as_str(),
                title: m.title,
                description: m.description,
                category: m.category,
                cate_id: m.cate_id.filter(|_| catalogued),
                cate_name,
                media_tags: m.media_tags.join(","),
                user_data: m.user_data,
                reference_id: m.reference_id.filter(|_| catalogued),
                status: m.status.as_str(),
                create_time: format_time(m.create_time),
                modified_time: format_time(m.modified_time),
            },
            file_info_list,
        })
    }

    pub(super) async fn views(
        &self,
        media: Vec<MediaInfo>,
        detail: FileDetail,
    ) -> Result<Vec<MediaInfoView>, ApiError> {
        let mut out = Vec::with_capacity(media.len());
        for m in media {
            out.push(self.view(m, detail).await?);
        }
        Ok(out)
    }
}

fn auth_timeout(params: &Params) -> Result<i64, ApiError> {
    Ok(params.int_in("AuthTimeout", 1..=86_400)?.unwrap_or(3600))
}

fn media_not_found(media_id: &str) -> ApiError {
    ApiError::invalid(
        "MediaId",
        format!("The media \"{media_id}\" does not exist."),
    )
}

fn no_matched_url(url: &str) -> ApiError {
    ApiError::new(
        ErrorCode::NoMatchedInputUrl,
        format!("No media is registered with the InputURL \"{url}\"."),
    )
}

/// Resolves an input URL and checks the caller may use it: local buckets belong to one
/// account (claimed by the first registration); remote hosts must be allow-listed.
async fn usable_location(ctx: &Ctx, caller: &Caller, url: &str) -> Result<InputLocation, ApiError> {
    let location = InputLocation::parse(url, "InputURL")?;
    match &location {
        InputLocation::Oss { bucket, .. } => {
            let owner = ctx.store.claim_bucket(bucket, &caller.account_id).await?;
            if owner != caller.account_id {
                return Err(ApiError::invalid(
                    "InputURL",
                    format!("The bucket \"{bucket}\" belongs to another account."),
                ));
            }
        }
        InputLocation::Remote { host, .. } => {
            if !ctx.fetch_allow.iter().any(|h| h == host) {
                return Err(ApiError::invalid(
                    "InputURL",
                    format!(
                        "The host \"{host}\" is not in the fetch allow-list (--fetch-allow); use oss://<bucket>/<object>."
                    ),
                ));
            }
        }
    }
    Ok(location)
}

/// Finds the caller's media by MediaId (preferred) or InputURL.
async fn addressed_media(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<MediaInfo, ApiError> {
    if let Some(id) = params.non_empty("MediaId")? {
        return ctx
            .store
            .media(&caller.account_id, id)
            .await?
            .ok_or_else(|| media_not_found(id));
    }
    let Some(url) = params.non_empty("InputURL")? else {
        return Err(ApiError::missing("MediaId"));
    };
    let location = InputLocation::parse(url, "InputURL")?;
    ctx.store
        .media_by(
            &caller.account_id,
            MediaKey::Location(&location.canonical()),
        )
        .await?
        .ok_or_else(|| no_matched_url(url))
}

async fn check_cate_id(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<Option<i64>, ApiError> {
    let Some(id) = params.int_in("CateId", 0..=i64::MAX)? else {
        return Ok(None);
    };
    match ctx.store.category(&caller.account_id, id).await? {
        Some(_) => Ok(Some(id)),
        None => Err(ApiError::invalid(
            "CateId",
            format!("The category {id} does not exist."),
        )),
    }
}

async fn check_reference_free(
    ctx: &Ctx,
    caller: &Caller,
    reference_id: &str,
    media_id: &str,
) -> Result<(), ApiError> {
    match ctx
        .store
        .media_by(&caller.account_id, MediaKey::ReferenceId(reference_id))
        .await?
    {
        Some(other) if other.media_id != media_id => Err(ApiError::invalid(
            "ReferenceId",
            "Another media of this account already uses this ReferenceId.",
        )),
        _ => Ok(()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaIdBody {
    media_id: String,
}

/// Keeps a default title within the 128-byte limit without splitting a character.
fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<MediaIdBody, ApiError> {
    let input_url = params.required("InputURL")?;
    let client_token = params.non_empty("ClientToken")?;
    if let Some(token) = client_token {
        media::check_len("ClientToken", token, 64)?;
        if let Some(done) = ctx
            .store
            .media_by(&caller.account_id, MediaKey::ClientToken(token))
            .await?
        {
            return Ok(MediaIdBody {
                media_id: done.media_id,
            });
        }
    }
    let location = usable_location(ctx, caller, input_url).await?;
    let existing = ctx
        .store
        .media_by(
            &caller.account_id,
            MediaKey::Location(&location.canonical()),
        )
        .await?;
    let overwrite = params.bool("Overwrite")?.unwrap_or(false);
    if let Some(e) = &existing
        && !overwrite
    {
        return Err(ApiError::new(
            ErrorCode::MediaAlreadyExist,
            format!(
                "The media with the given inputUrl already exists: {}",
                e.media_id
            ),
        ));
    }
    let media_id = new_id();
    let update = MediaUpdate {
        title: params.raw("Title").map(str::to_string),
        description: params.raw("Description").map(str::to_string),
        cover_url: params.raw("CoverURL").map(str::to_string),
        user_data: params.raw("UserData").map(str::to_string),
        reference_id: params.non_empty("ReferenceId")?.map(str::to_string),
        ..Default::default()
    };
    update.validate()?;
    if let Some(data) = &update.user_data
        && serde_json::from_str::<serde_json::Value>(data).is_err()
    {
        return Err(ApiError::invalid("UserData", "It must be JSON."));
    }
    if let Some(r) = &update.reference_id {
        check_reference_free(ctx, caller, r, &media_id).await?;
    }
    let need_snapshot = match params.non_empty("RegisterConfig")? {
        Some(raw) => {
            let config: serde_json::Value = serde_json::from_str(raw)
                .map_err(|_| ApiError::invalid("RegisterConfig", "It must be a JSON object."))?;
            match config.get("NeedSnapshot") {
                None => true,
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
                Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
                Some(_) => {
                    return Err(ApiError::invalid(
                        "RegisterConfig",
                        "NeedSnapshot must be true or false.",
                    ));
                }
            }
        }
        None => true,
    };
    let source = match location {
        InputLocation::Oss { .. } => MediaSource::Oss,
        InputLocation::Remote { .. } => MediaSource::General,
    };
    let title = match update.title {
        Some(t) if !t.trim().is_empty() => t,
        _ => truncate_bytes(location.file_name(), media::TITLE_MAX),
    };
    let media = MediaInfo {
        media_type: params
            .parse("MediaType")?
            .or_else(|| media::media_type_from_name(location.file_name())),
        business_type: params.parse("BusinessType")?,
        description: update.description,
        cate_id: check_cate_id(ctx, caller, params).await?,
        media_tags: params
            .raw("MediaTags")
            .map(media::parse_tags)
            .transpose()?
            .unwrap_or_default(),
        cover_url: update.cover_url,
        user_data: update.user_data,
        reference_id: update.reference_id,
        client_token: client_token.map(str::to_string),
        need_snapshot,
        ..MediaInfo::registered(
            &caller.account_id,
            media_id,
            input_url.to_string(),
            location.canonical(),
            source,
            title,
            now_micros(),
        )
    };
    let replace = existing.as_ref().map(|e| e.media_id.as_str());
    match ctx.store.insert_media(&media, replace).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::MediaAlreadyExist,
                "The media with the given inputUrl, ReferenceId or ClientToken already exists.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    ctx.probe_wakeup.notify_one();
    Ok(MediaIdBody {
        media_id: media.media_id,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMediaInfoBody {
    media_info: MediaInfoView,
}

pub async fn get(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<GetMediaInfoBody, ApiError> {
    let views = ViewCtx {
        shape: Shape::Get,
        ctx,
        caller,
        auth_timeout: auth_timeout(params)?,
    };
    let media = addressed_media(ctx, caller, params).await?;
    Ok(GetMediaInfoBody {
        media_info: views.view(media, FileDetail::Streams).await?,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchBody {
    media_infos: Vec<MediaInfoView>,
    ignored_list: Vec<String>,
}

pub async fn batch_get(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<BatchBody, ApiError> {
    let ids = params.id_list("MediaIds", MAX_BATCH)?;
    let detail = match params.raw("AdditionType") {
        Some(a) if a.split(',').any(|t| t.trim() == "FileInfo") => FileDetail::Streams,
        _ => FileDetail::None,
    };
    let views = ViewCtx {
        shape: Shape::Batch,
        ctx,
        caller,
        auth_timeout: auth_timeout(params)?,
    };
    let mut found = ctx.store.media_many(&caller.account_id, &ids).await?;
    let mut ordered = Vec::new();
    let mut ignored_list = Vec::new();
    for id in ids {
        match found.iter().position(|m| m.media_id == id) {
            Some(i) => ordered.push(found.swap_remove(i)),
            None if !ignored_list.contains(&id) => ignored_list.push(id),
            None => {}
        }
    }
    Ok(BatchBody {
        media_infos: views.views(ordered, detail).await?,
        ignored_list,
    })
}

pub async fn update(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<MediaIdBody, ApiError> {
    let mut media = addressed_media(ctx, caller, params).await?;
    let update = MediaUpdate {
        business_type: params.parse("BusinessType")?,
        title: params.raw("Title").map(str::to_string),
        description: params.raw("Description").map(str::to_string),
        category: params.raw("Category").map(str::to_string),
        media_tags: params.raw("MediaTags").map(media::parse_tags).transpose()?,
        append_tags: params.bool("AppendTags")?.unwrap_or(false),
        cover_url: params.raw("CoverURL").map(str::to_string),
        user_data: params.raw("UserData").map(str::to_string),
        cate_id: check_cate_id(ctx, caller, params).await?,
        reference_id: params.raw("ReferenceId").map(str::to_string),
    };
    update.validate()?;
    if let Some(r) = &update.reference_id {
        check_reference_free(ctx, caller, r, &media.media_id).await?;
    }
    update.apply(&mut media, now_micros())?;
    match ctx.store.update_media(&media).await {
        Ok(true) => Ok(MediaIdBody {
            media_id: media.media_id,
        }),
        Ok(false) => Err(media_not_found(&media.media_id)),
        Err(StoreError::Conflict(_)) => Err(ApiError::invalid(
            "ReferenceId",
            "Another media of this account already uses this ReferenceId.",
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteBody {
    ignored_list: Vec<String>,
    forbidden_list: Vec<String>,
}

pub async fn delete(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<DeleteBody, ApiError> {
    let by_id: Vec<String> = params.list("MediaIds")?.unwrap_or_default();
    let by_url: Vec<String> = params.list("InputURLs")?.unwrap_or_default();
    if by_id.is_empty() && by_url.is_empty() {
        return Err(ApiError::missing("MediaIds"));
    }
    if by_id.len() + by_url.len() > MAX_DELETE {
        return Err(ApiError::invalid(
            "MediaIds",
            format!("At most {MAX_DELETE} media can be deleted at once."),
        ));
    }
    let physical = params.bool("DeletePhysicalFiles")?.unwrap_or(false);
    let mut ids = Vec::new();
    let mut ignored_list = Vec::new();
    for url in by_url {
        let found = match InputLocation::parse(&url, "InputURLs") {
            Ok(l) => {
                ctx.store
                    .media_by(&caller.account_id, MediaKey::Location(&l.canonical()))
                    .await?
            }
            Err(_) => None,
        };
        match found {
            Some(m) => ids.push(m.media_id),
            None => ignored_list.push(url),
        }
    }
    ids.extend(by_id.iter().cloned());
    let deleted = ctx.store.delete_media(&caller.account_id, &ids).await?;
    ignored_list.extend(
        by_id
            .into_iter()
            .filter(|id| !deleted.iter().any(|m| &m.media_id == id)),
    );
    if physical {
        for m in &deleted {
            if let Ok(InputLocation::Oss { bucket, key }) =
                InputLocation::parse(&m.location, "InputURL")
                && let Err(e) = ctx.storage.delete(&bucket, &key).await
            {
                tracing::warn!(media_id = %m.media_id, error = %e, "could not delete the media file");
            }
        }
    }
    Ok(DeleteBody {
        ignored_list,
        forbidden_list: Vec::new(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListBody {
    media_infos: Vec<MediaInfoView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    max_results: u32,
    total_count: u64,
}

pub async fn list(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<ListBody, ApiError> {
    let time = |name: &str| -> Result<Option<i64>, ApiError> {
        params
            .non_empty(name)?
            .map(|s| {
                parse_time(s).ok_or_else(|| {
                    ApiError::invalid(name, "Use the format yyyy-MM-ddTHH:mm:ssZ (UTC).")
                })
            })
            .transpose()
    };
    let mut conditions = Vec::new();
    // Times are answered at second precision: StartTime excludes its whole second and
    // EndTime includes its whole second.
    if let Some(t) = time("StartTime")? {
        conditions.push(MediaCond::CreatedAfter(t + 999_999));
    }
    if let Some(t) = time("EndTime")? {
        conditions.push(MediaCond::CreatedUntil(t + 999_999));
    }
    if let Some(v) = params.parse("MediaType")? {
        conditions.push(MediaCond::MediaType(vec![v]));
    }
    if let Some(v) = params.parse("Source")? {
        conditions.push(MediaCond::Source(vec![v]));
    }
    if let Some(v) = params.parse("BusinessType")? {
        conditions.push(MediaCond::BusinessType(vec![v]));
    }
    if let Some(v) = params.parse("Status")? {
        conditions.push(MediaCond::Status(vec![v]));
    }
    if let Some(id) = params.non_empty("MediaId")? {
        conditions.push(MediaCond::MediaId(vec![id.to_string()]));
    }
    let ascending = params.ascending("SortBy", "desc", "asc")?;
    let limit = params.int_in("MaxResults", 1..=100)?.unwrap_or(10) as u32;
    let detail = if params.bool("IncludeFileBasicInfo")?.unwrap_or(false) {
        FileDetail::Basic
    } else {
        FileDetail::None
    };
    let mut query = MediaQuery {
        conditions,
        ascending,
        page: Page::default(),
    };
    let (token, page) = NextToken::page(params, &caller.account_id, &query, limit)?;
    query.page = page;
    let page = ctx.store.search_media(&caller.account_id, &query).await?;
    let views = ViewCtx {
        shape: Shape::List,
        ctx,
        caller,
        auth_timeout: auth_timeout(params)?,
    };
    Ok(ListBody {
        media_infos: views.views(page.items, detail).await?,
        next_token: page.next.map(|c| token.encode(&c)),
        max_results: limit,
        total_count: page.total,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SearchBody {
    code: &'static str,
    success: &'static str,
    total: u64,
    media_info_list: Vec<MediaInfoView>,
}

pub async fn search(ctx: &Ctx, caller: &Caller, params: &Params) -> Result<SearchBody, ApiError> {
    let conditions = match params.non_empty("Match")? {
        Some(m) => media::parse_match(m).map_err(|why| ApiError::invalid("Match", why))?,
        None => Vec::new(),
    };
    let ascending = params.ascending("SortBy", "utcCreate:Desc", "utcCreate:Asc")?;
    let page_size = params.int_in("PageSize", 1..=50)?.unwrap_or(10) as u32;
    let page_no = params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32;
    let query = MediaQuery {
        conditions,
        ascending,
        page: Page::Number { page_no, page_size },
    };
    let page = ctx.store.search_media(&caller.account_id, &query).await?;
    let views = ViewCtx {
        shape: Shape::Search,
        ctx,
        caller,
        auth_timeout: 3600,
    };
    Ok(SearchBody {
        code: "200",
        success: "true",
        total: page.total,
        media_info_list: views.views(page.items, FileDetail::Basic).await?,
    })
}

/// Starts `workers` background probe loops. The queue lives in the store (media in
/// `Init`), so registrations not yet probed when a server stops are probed after restart.
/// How long a probe claim lasts unless renewed; a server that dies mid-probe leaves the
/// media to another (or its restarted self) this long after its last renewal.
const PROBE_LEASE: Duration = Duration::from_secs(10);
/// How often a working probe renews its lease.
const PROBE_RENEW_EVERY: Duration = Duration::from_secs(3);

pub fn run_probe_workers(ctx: Arc<Ctx>, workers: usize) {
    // Each server's probe leases carry its own random owner name.
    let owner: Arc<str> = hex::encode(rand::random::<[u8; 8]>()).into();
    for _ in 0..workers {
        tokio::spawn(probe_loop(ctx.clone(), owner.clone()));
    }
}

fn lease_end(from: crate::domain::Micros) -> crate::domain::Micros {
    from + PROBE_LEASE.as_micros() as i64
}

async fn probe_loop(ctx: Arc<Ctx>, owner: Arc<str>) {
    loop {
        let now = now_micros();
        match ctx.store.claim_probe(&owner, now, lease_end(now)).await {
            Ok(Some(media)) => {
                // Renew the lease while probing; the probe ends whether or not renewals work
                // (a lost lease only means the result is not stored).
                let renew = async {
                    loop {
                        tokio::time::sleep(PROBE_RENEW_EVERY).await;
                        let renewed = ctx
                            .store
                            .renew_probe(
                                &media.account_id,
                                &media.media_id,
                                &owner,
                                lease_end(now_micros()),
                            )
                            .await;
                        if !matches!(renewed, Ok(true)) {
                            tracing::warn!(media_id = %media.media_id, "probe lease not renewed");
                        }
                    }
                };
                tokio::select! {
                    _ = probe_one(&ctx, media.clone(), &owner) => {}
                    _ = renew => {}
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = ctx.probe_wakeup.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "probe queue unavailable");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
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
            media.file_size = result
                .file
                .file_size
                .as_deref()
                .and_then(|s| s.parse().ok());
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
            media.probe = serde_json::to_string(&result).ok();
        }
        Err(reason) => {
            tracing::info!(media_id = %media.media_id, %reason, "probe failed");
            media.status = MediaStatus::PrepareFail;
        }
    }
    match ctx.store.finish_probe(&media, owner).await {
        Ok(true) => {
            tracing::info!(
                media_id = %media.media_id,
                status = media.status.as_str(),
                millis = started.elapsed().as_millis() as u64,
                "probed"
            );
            if let Err(e) = refresh_project_durations(ctx, &media).await {
                tracing::warn!(media_id = %media.media_id, error = %e, "could not refresh project durations");
            }
            // Jobs waiting for this probe may start.
            ctx.job_wakeup.notify_waiters();
            if let Err(e) = crate::jobs::callbacks::media_registered(ctx, &media).await {
                tracing::warn!(media_id = %media.media_id, error = %e, "could not queue RegisterMediaComplete");
            }
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(media_id = %media.media_id, error = %e, "could not store a probe result")
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
            tracing::info!(media_id = %media.media_id, error = %e, "no cover snapshot");
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
