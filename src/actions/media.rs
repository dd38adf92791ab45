//! Media-library actions: Register, Get, BatchGet, Update, Delete, ListMediaBasicInfos,
//! SearchMedia. Registered media are probed by `jobs::probe`; their views are in `views`.

use serde::Serialize;

use super::views::{FileDetail, MediaInfoView, Shape, ViewCtx};
use super::{Caller, Ctx, NextToken};
use crate::domain::media::{
    self, InputLocation, MediaCond, MediaInfo, MediaQuery, MediaSource, MediaUpdate,
};
use crate::domain::{Page, new_id, now_micros, parse_time};
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::Params;
use crate::store::{MediaKey, StoreError};

/// Most IDs or URLs one DeleteMediaInfos call may name (vendor limit).
const MAX_DELETE: usize = 20;
/// Most IDs one BatchGetMediaInfos call may name.
const MAX_BATCH: usize = 100;

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
