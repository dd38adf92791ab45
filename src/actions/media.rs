//! Media-library actions: Register, Get, BatchGet, Update, Delete, ListMediaBasicInfos,
//! SearchMedia. Registered media are probed by `jobs::probe`; their views are in `views`.

use serde::Serialize;

use super::context::{Caller, Ctx};
use super::paging::{NextToken, time_filter};
use super::views::{FileDetail, MediaInfoView, Shape, ViewCtx};
use crate::domain::media::{
    self, BusinessType, InputLocation, MediaCond, MediaInfo, MediaQuery, MediaSource, MediaType,
    MediaUpdate,
};
use crate::domain::{Page, new_id, now_micros};
use crate::protocol::error::{ApiError, ErrorCode};
use crate::protocol::params::{FromParams, Params};
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
async fn check_usable(
    ctx: &Ctx,
    caller: &Caller,
    location: &InputLocation,
) -> Result<(), ApiError> {
    match location {
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
    Ok(())
}

/// Finds the caller's media by MediaId (preferred) or InputURL.
/// How a request names one media: by MediaId (preferred) or by InputURL.
pub enum MediaAddress<'a> {
    Id(&'a str),
    Url(&'a str, InputLocation),
}

impl<'a> FromParams<'a> for MediaAddress<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        if let Some(id) = params.non_empty("MediaId")? {
            return Ok(MediaAddress::Id(id));
        }
        let Some(url) = params.non_empty("InputURL")? else {
            return Err(ApiError::missing("MediaId"));
        };
        Ok(MediaAddress::Url(
            url,
            InputLocation::parse(url, "InputURL")?,
        ))
    }
}

/// Finds the caller's media a request names.
async fn addressed_media(
    ctx: &Ctx,
    caller: &Caller,
    address: &MediaAddress<'_>,
) -> Result<MediaInfo, ApiError> {
    match address {
        MediaAddress::Id(id) => ctx
            .store
            .media(&caller.account_id, id)
            .await?
            .ok_or_else(|| media_not_found(id)),
        MediaAddress::Url(url, location) => ctx
            .store
            .media_by(
                &caller.account_id,
                MediaKey::Location(&location.canonical()),
            )
            .await?
            .ok_or_else(|| no_matched_url(url)),
    }
}

/// A CateId, if given, must name one of the caller's categories.
async fn check_cate_id(
    ctx: &Ctx,
    caller: &Caller,
    cate_id: Option<i64>,
) -> Result<Option<i64>, ApiError> {
    let Some(id) = cate_id else {
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

/// RegisterMediaInfo's parameters, checked in the order the vendor checks them.
pub struct RegisterMediaInfoInput<'a> {
    input_url: &'a str,
    client_token: Option<&'a str>,
    location: InputLocation,
    overwrite: bool,
    /// Title, Description, CoverURL, UserData (JSON) and ReferenceId, validated.
    described: MediaUpdate,
    need_snapshot: bool,
    media_type: Option<MediaType>,
    business_type: Option<BusinessType>,
    cate_id: Option<i64>,
    media_tags: Vec<String>,
}

impl<'a> FromParams<'a> for RegisterMediaInfoInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let input_url = params.required("InputURL")?;
        let client_token = params.non_empty("ClientToken")?;
        if let Some(token) = client_token {
            media::check_len("ClientToken", token, 64)?;
        }
        let location = InputLocation::parse(input_url, "InputURL")?;
        let overwrite = params.bool("Overwrite")?.unwrap_or(false);
        let described = MediaUpdate {
            title: params.raw("Title").map(str::to_string),
            description: params.raw("Description").map(str::to_string),
            cover_url: params.raw("CoverURL").map(str::to_string),
            user_data: params.raw("UserData").map(str::to_string),
            reference_id: params.non_empty("ReferenceId")?.map(str::to_string),
            ..Default::default()
        };
        described.validate()?;
        if let Some(data) = &described.user_data
            && serde_json::from_str::<serde_json::Value>(data).is_err()
        {
            return Err(ApiError::invalid("UserData", "It must be JSON."));
        }
        Ok(RegisterMediaInfoInput {
            input_url,
            client_token,
            overwrite,
            described,
            need_snapshot: need_snapshot(params)?,
            media_type: params
                .parse("MediaType")?
                .or_else(|| media::media_type_from_name(location.file_name())),
            business_type: params.parse("BusinessType")?,
            cate_id: params.int_in("CateId", 0..=i64::MAX)?,
            media_tags: params
                .raw("MediaTags")
                .map(media::parse_tags)
                .transpose()?
                .unwrap_or_default(),
            location,
        })
    }
}

/// `RegisterConfig.NeedSnapshot` (default true).
fn need_snapshot(params: &Params) -> Result<bool, ApiError> {
    let Some(raw) = params.non_empty("RegisterConfig")? else {
        return Ok(true);
    };
    let config: serde_json::Value = serde_json::from_str(raw)
        .map_err(|_| ApiError::invalid("RegisterConfig", "It must be a JSON object."))?;
    match config.get("NeedSnapshot") {
        None => Ok(true),
        Some(serde_json::Value::Bool(b)) => Ok(*b),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(ApiError::invalid(
            "RegisterConfig",
            "NeedSnapshot must be true or false.",
        )),
    }
}

pub async fn register(
    ctx: &Ctx,
    caller: &Caller,
    input: RegisterMediaInfoInput<'_>,
) -> Result<MediaIdBody, ApiError> {
    let RegisterMediaInfoInput {
        input_url,
        client_token,
        location,
        overwrite,
        described,
        need_snapshot,
        media_type,
        business_type,
        cate_id,
        media_tags,
    } = input;
    if let Some(token) = client_token
        && let Some(done) = ctx
            .store
            .media_by(&caller.account_id, MediaKey::ClientToken(token))
            .await?
    {
        return Ok(MediaIdBody {
            media_id: done.media_id,
        });
    }
    check_usable(ctx, caller, &location).await?;
    let existing = ctx
        .store
        .media_by(
            &caller.account_id,
            MediaKey::Location(&location.canonical()),
        )
        .await?;
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
    if let Some(r) = &described.reference_id {
        check_reference_free(ctx, caller, r, &media_id).await?;
    }
    let source = match location {
        InputLocation::Oss { .. } => MediaSource::Oss,
        InputLocation::Remote { .. } => MediaSource::General,
    };
    let title = match described.title {
        Some(t) if !t.trim().is_empty() => t,
        _ => truncate_bytes(location.file_name(), media::TITLE_MAX),
    };
    let media = MediaInfo {
        media_type,
        business_type,
        description: described.description,
        cate_id: check_cate_id(ctx, caller, cate_id).await?,
        media_tags,
        cover_url: described.cover_url,
        user_data: described.user_data,
        reference_id: described.reference_id,
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

pub struct GetMediaInfoInput<'a> {
    auth_timeout: i64,
    address: MediaAddress<'a>,
}

impl<'a> FromParams<'a> for GetMediaInfoInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(GetMediaInfoInput {
            auth_timeout: auth_timeout(params)?,
            address: MediaAddress::from_params(params)?,
        })
    }
}

pub async fn get(
    ctx: &Ctx,
    caller: &Caller,
    input: GetMediaInfoInput<'_>,
) -> Result<GetMediaInfoBody, ApiError> {
    let views = ViewCtx {
        shape: Shape::Get,
        ctx,
        caller,
        auth_timeout: input.auth_timeout,
    };
    let media = addressed_media(ctx, caller, &input.address).await?;
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

pub struct BatchGetMediaInfosInput {
    ids: Vec<String>,
    detail: FileDetail,
    auth_timeout: i64,
}

impl FromParams<'_> for BatchGetMediaInfosInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        Ok(BatchGetMediaInfosInput {
            ids: params.id_list("MediaIds", MAX_BATCH)?,
            detail: match params.raw("AdditionType") {
                Some(a) if a.split(',').any(|t| t.trim() == "FileInfo") => FileDetail::Streams,
                _ => FileDetail::None,
            },
            auth_timeout: auth_timeout(params)?,
        })
    }
}

pub async fn batch_get(
    ctx: &Ctx,
    caller: &Caller,
    input: BatchGetMediaInfosInput,
) -> Result<BatchBody, ApiError> {
    let BatchGetMediaInfosInput {
        ids,
        detail,
        auth_timeout,
    } = input;
    let views = ViewCtx {
        shape: Shape::Batch,
        ctx,
        caller,
        auth_timeout,
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

pub struct UpdateMediaInfoInput<'a> {
    address: MediaAddress<'a>,
    /// The changes; its CateId is checked against the caller's categories before use.
    update: MediaUpdate,
}

impl<'a> FromParams<'a> for UpdateMediaInfoInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(UpdateMediaInfoInput {
            address: MediaAddress::from_params(params)?,
            update: MediaUpdate {
                business_type: params.parse("BusinessType")?,
                title: params.raw("Title").map(str::to_string),
                description: params.raw("Description").map(str::to_string),
                category: params.raw("Category").map(str::to_string),
                media_tags: params.raw("MediaTags").map(media::parse_tags).transpose()?,
                append_tags: params.bool("AppendTags")?.unwrap_or(false),
                cover_url: params.raw("CoverURL").map(str::to_string),
                user_data: params.raw("UserData").map(str::to_string),
                cate_id: params.int_in("CateId", 0..=i64::MAX)?,
                reference_id: params.raw("ReferenceId").map(str::to_string),
            },
        })
    }
}

pub async fn update(
    ctx: &Ctx,
    caller: &Caller,
    input: UpdateMediaInfoInput<'_>,
) -> Result<MediaIdBody, ApiError> {
    let mut media = addressed_media(ctx, caller, &input.address).await?;
    let mut update = input.update;
    update.cate_id = check_cate_id(ctx, caller, update.cate_id).await?;
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

pub struct DeleteMediaInfosInput {
    by_id: Vec<String>,
    by_url: Vec<String>,
    physical: bool,
}

impl FromParams<'_> for DeleteMediaInfosInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
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
        Ok(DeleteMediaInfosInput {
            by_id,
            by_url,
            physical: params.bool("DeletePhysicalFiles")?.unwrap_or(false),
        })
    }
}

pub async fn delete(
    ctx: &Ctx,
    caller: &Caller,
    input: DeleteMediaInfosInput,
) -> Result<DeleteBody, ApiError> {
    let DeleteMediaInfosInput {
        by_id,
        by_url,
        physical,
    } = input;
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

pub struct ListMediaBasicInfosInput<'a> {
    query: MediaQuery,
    limit: u32,
    detail: FileDetail,
    next_token: Option<&'a str>,
    auth_timeout: i64,
}

impl<'a> FromParams<'a> for ListMediaBasicInfosInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let time = |name: &str| time_filter(params, name);
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
        let query = MediaQuery {
            conditions,
            ascending,
            page: Page::default(),
        };
        Ok(ListMediaBasicInfosInput {
            query,
            limit,
            detail,
            next_token: params.non_empty("NextToken")?,
            auth_timeout: auth_timeout(params)?,
        })
    }
}

pub async fn list(
    ctx: &Ctx,
    caller: &Caller,
    input: ListMediaBasicInfosInput<'_>,
) -> Result<ListBody, ApiError> {
    let ListMediaBasicInfosInput {
        mut query,
        limit,
        detail,
        next_token,
        auth_timeout,
    } = input;
    let (token, page) = NextToken::page(next_token, &caller.account_id, &query, limit)?;
    query.page = page;
    let page = ctx.store.search_media(&caller.account_id, &query).await?;
    let views = ViewCtx {
        shape: Shape::List,
        ctx,
        caller,
        auth_timeout,
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

pub struct SearchMediaInput(MediaQuery);

impl FromParams<'_> for SearchMediaInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let conditions = match params.non_empty("Match")? {
            Some(m) => media::parse_match(m).map_err(|why| ApiError::invalid("Match", why))?,
            None => Vec::new(),
        };
        let ascending = params.ascending("SortBy", "utcCreate:Desc", "utcCreate:Asc")?;
        let page_size = params.int_in("PageSize", 1..=50)?.unwrap_or(10) as u32;
        let page_no = params.int_in("PageNo", 1..=1_000_000)?.unwrap_or(1) as u32;
        Ok(SearchMediaInput(MediaQuery {
            conditions,
            ascending,
            page: Page::Number { page_no, page_size },
        }))
    }
}

pub async fn search(
    ctx: &Ctx,
    caller: &Caller,
    input: SearchMediaInput,
) -> Result<SearchBody, ApiError> {
    let query = input.0;
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
