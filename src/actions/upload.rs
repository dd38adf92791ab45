//! Upload actions: CreateUploadMedia and RefreshUploadMedia hand out an upload address and a
//! temporary credential for the OSS API (src/oss); UploadMediaByURL queues allow-listed URLs
//! that `jobs::url_upload` pulls in the background (GetUrlUploadInfos reports on it). The
//! media exists at once (`Init`) and is probed when its object has been written.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::context::{Caller, Ctx};
use crate::domain::media::{self, BusinessType, InputLocation, MediaInfo, MediaSource, MediaType};
use crate::domain::{format_time, new_id, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::{FromParams, Params};
use crate::store::StoreError;
use crate::store::oss::{UploadCredential, UrlUploadJob};

/// Lifetime of an upload credential, as the vendor's (seconds).
const CREDENTIAL_SECONDS: i64 = 3000;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FileInfo {
    #[serde(rename = "Type")]
    file_type: String,
    name: String,
    ext: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct MediaMetaData {
    title: Option<String>,
    description: Option<String>,
    cate_id: Option<i64>,
    tags: Option<String>,
    business_type: Option<String>,
    #[serde(rename = "CoverURL")]
    cover_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UploadTargetConfig {
    storage_type: Option<String>,
    storage_location: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UploadAddress<'a> {
    endpoint: &'a str,
    bucket: &'a str,
    file_name: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UploadAuth<'a> {
    access_key_id: &'a str,
    access_key_secret: &'a str,
    security_token: &'a str,
    /// Seconds, as a string.
    expiration: String,
    #[serde(rename = "ExpireUTCTime")]
    expire_utc_time: String,
    region: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUploadMediaBody {
    media_id: String,
    #[serde(rename = "MediaURL")]
    media_url: String,
    #[serde(rename = "FileURL")]
    file_url: String,
    upload_address: String,
    upload_auth: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RefreshUploadMediaBody {
    media_id: String,
    upload_address: String,
    upload_auth: String,
}

fn json_param<T: serde::de::DeserializeOwned>(
    params: &Params,
    name: &'static str,
) -> Result<Option<T>, ApiError> {
    params
        .non_empty(name)?
        .map(|raw| {
            serde_json::from_str(raw).map_err(|e| {
                ApiError::invalid(name, format!("It must be a JSON object as documented: {e}"))
            })
        })
        .transpose()
}

fn random_string(len: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// `sv/<8 hex>-<11 hex>/<same>.<ext>`, the vendor's object-name shape. Random, not
/// [`new_id`]: a time-ordered ID's first 19 hex digits are mostly its time.
fn object_key(ext: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{}-{}", &id[..8], &id[8..19]);
    format!("sv/{name}/{name}.{ext}")
}

/// The vendor form of an object's URL (which RegisterMediaInfo also accepts).
pub(crate) fn file_url(ctx: &Ctx, bucket: &str, key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|s| percent_encoding::utf8_percent_encode(s, crate::oss::sign::RFC3986).to_string())
        .collect();
    format!(
        "https://{bucket}.oss-{}.aliyuncs.com/{}",
        ctx.region,
        encoded.join("/")
    )
}

/// A new credential for one object, stored, and the two base64 JSON documents.
async fn issue(
    ctx: &Ctx,
    caller: &Caller,
    media_id: &str,
    bucket: &str,
    key: &str,
) -> Result<(String, String), ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let expires = now + time::Duration::seconds(CREDENTIAL_SECONDS);
    let credential = UploadCredential {
        access_key_id: format!("STS.{}", random_string(24)),
        secret: random_string(32),
        security_token: format!("CAIS{}", random_string(96)),
        account_id: caller.account_id.clone(),
        media_id: media_id.to_string(),
        bucket: bucket.to_string(),
        object_key: key.to_string(),
        expire_time: expires.unix_timestamp(),
    };
    ctx.store.insert_upload_credential(&credential).await?;
    let address = UploadAddress {
        endpoint: &caller.base_url,
        bucket,
        file_name: key,
    };
    let auth = UploadAuth {
        access_key_id: &credential.access_key_id,
        access_key_secret: &credential.secret,
        security_token: &credential.security_token,
        expiration: CREDENTIAL_SECONDS.to_string(),
        expire_utc_time: format_time(expires.unix_timestamp() * 1_000_000),
        region: &ctx.region,
    };
    let encode = |json: serde_json::Result<Vec<u8>>| {
        json.map(|bytes| STANDARD.encode(bytes))
            .map_err(|e| ApiError::internal().caused_by(e))
    };
    Ok((
        encode(serde_json::to_vec(&address))?,
        encode(serde_json::to_vec(&auth))?,
    ))
}

/// The bucket `UploadTargetConfig`'s StorageLocation names, if any.
fn target_bucket(params: &Params) -> Result<Option<String>, ApiError> {
    let Some(target) = json_param::<UploadTargetConfig>(params, "UploadTargetConfig")? else {
        return Ok(None);
    };
    if target
        .storage_type
        .as_deref()
        .is_some_and(|t| !t.eq_ignore_ascii_case("oss"))
    {
        return Err(ApiError::invalid(
            "UploadTargetConfig",
            "StorageType must be oss.",
        ));
    }
    target
        .storage_location
        .map(|location| {
            location
                .split_once('.')
                .filter(|(b, rest)| media::check_bucket(b).is_ok() && media::is_oss_endpoint(rest))
                .map(|(b, _)| b.to_string())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "UploadTargetConfig",
                        "StorageLocation must look like <bucket>.oss-<region>.aliyuncs.com.",
                    )
                })
        })
        .transpose()
}

/// The upload bucket: the one named, else `outin-<AccountId>`; the caller's or unowned
/// (then claimed).
async fn claim_target(
    ctx: &Ctx,
    caller: &Caller,
    named: Option<String>,
) -> Result<String, ApiError> {
    let bucket = named.unwrap_or_else(|| format!("outin-{}", caller.account_id));
    let owner = ctx.store.claim_bucket(&bucket, &caller.account_id).await?;
    if owner != caller.account_id {
        return Err(ApiError::invalid(
            "UploadTargetConfig",
            format!("The bucket \"{bucket}\" belongs to another account."),
        ));
    }
    Ok(bucket)
}

/// What describes a media to be uploaded (from MediaMetaData).
struct Described {
    title: String,
    media_type: Option<MediaType>,
    meta: MediaMetaData,
    user_data: Option<String>,
}

fn check_ext(ext: &str, param: &'static str) -> Result<String, ApiError> {
    let ext = ext.trim().trim_start_matches('.').to_ascii_lowercase();
    if ext.is_empty() || ext.len() > 16 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid(
            param,
            "The file extension must be letters and digits, such as mp4.",
        ));
    }
    Ok(ext)
}

/// Creates the media of a new upload (`Init`, kept out of the probe queue until its object
/// is written) at a fresh key in `bucket`; answers it with the key and its FileURL.
async fn pending_media(
    ctx: &Ctx,
    caller: &Caller,
    bucket: &str,
    ext: &str,
    d: Described,
) -> Result<(MediaInfo, String, String), ApiError> {
    media::check_len("MediaMetaData", &d.title, media::TITLE_MAX)?;
    if let Some(desc) = &d.meta.description {
        media::check_len("MediaMetaData", desc, media::DESCRIPTION_MAX)?;
    }
    let business_type = d
        .meta
        .business_type
        .as_deref()
        .map(|b| {
            b.parse::<BusinessType>().map_err(|_| {
                ApiError::invalid(
                    "MediaMetaData",
                    format!("BusinessType \"{b}\" is not valid."),
                )
            })
        })
        .transpose()?;
    if let Some(id) = d.meta.cate_id
        && ctx.store.category(&caller.account_id, id).await?.is_none()
    {
        return Err(ApiError::invalid(
            "MediaMetaData",
            format!("The category {id} does not exist."),
        ));
    }
    let key = object_key(ext);
    let url = file_url(ctx, bucket, &key);
    let location = InputLocation::Oss {
        bucket: bucket.to_string(),
        key: key.clone(),
    };
    let media = MediaInfo {
        media_type: d.media_type,
        business_type,
        description: d.meta.description,
        cate_id: d.meta.cate_id,
        media_tags: d
            .meta
            .tags
            .as_deref()
            .map(media::parse_tags)
            .transpose()?
            .unwrap_or_default(),
        cover_url: d.meta.cover_url,
        user_data: d.user_data,
        ..MediaInfo::registered(
            &caller.account_id,
            new_id(),
            url.clone(),
            location.canonical(),
            MediaSource::Oss,
            d.title,
            now_micros(),
        )
    };
    // Pending first, so no probe worker can claim the media before its object exists.
    ctx.store
        .insert_pending_upload(&caller.account_id, &media.media_id, bucket, &key)
        .await?;
    match ctx.store.insert_media(&media, None).await {
        Ok(()) => Ok((media, key, url)),
        // A fresh upload key collided.
        Err(e @ StoreError::Conflict(_)) => Err(ApiError::internal().caused_by(e)),
        Err(e) => Err(e.into()),
    }
}

pub struct CreateUploadMediaInput {
    ext: String,
    described: Described,
    bucket: Option<String>,
}

impl FromParams<'_> for CreateUploadMediaInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let file: FileInfo =
            json_param(params, "FileInfo")?.ok_or_else(|| ApiError::missing("FileInfo"))?;
        let ext = check_ext(&file.ext, "FileInfo")?;
        let media_type = match file.file_type.to_ascii_lowercase().as_str() {
            "video" => Some(MediaType::Video),
            "audio" => Some(MediaType::Audio),
            "image" => Some(MediaType::Image),
            "text" => Some(MediaType::Text),
            "other" => None,
            _ => {
                return Err(ApiError::invalid(
                    "FileInfo",
                    "Type must be video, image, audio, text or other.",
                ));
            }
        };
        let meta: MediaMetaData = json_param(params, "MediaMetaData")?.unwrap_or_default();
        let described = Described {
            title: meta
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| file.name.clone()),
            media_type,
            meta,
            user_data: params.non_empty("UserData")?.map(str::to_string),
        };
        Ok(CreateUploadMediaInput {
            ext,
            described,
            bucket: target_bucket(params)?,
        })
    }
}

pub async fn create(
    ctx: &Ctx,
    caller: &Caller,
    input: CreateUploadMediaInput,
) -> Result<CreateUploadMediaBody, ApiError> {
    let CreateUploadMediaInput {
        ext,
        described,
        bucket,
    } = input;
    let bucket = claim_target(ctx, caller, bucket).await?;
    let (media, key, url) = pending_media(ctx, caller, &bucket, &ext, described).await?;
    let (upload_address, upload_auth) = issue(ctx, caller, &media.media_id, &bucket, &key).await?;
    Ok(CreateUploadMediaBody {
        media_id: media.media_id,
        media_url: url.clone(),
        file_url: url,
        upload_address,
        upload_auth,
    })
}

/// A new credential for the same address (also how a file is overwritten under its MediaId).
pub struct RefreshUploadMediaInput<'a> {
    media_id: &'a str,
}

impl<'a> FromParams<'a> for RefreshUploadMediaInput<'a> {
    fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        Ok(RefreshUploadMediaInput {
            media_id: params.required("MediaId")?,
        })
    }
}

pub async fn refresh(
    ctx: &Ctx,
    caller: &Caller,
    input: RefreshUploadMediaInput<'_>,
) -> Result<RefreshUploadMediaBody, ApiError> {
    let media_id = input.media_id;
    let not_uploadable = || {
        ApiError::invalid(
            "MediaId",
            format!("The media \"{media_id}\" does not exist or is not stored in an OSS bucket."),
        )
    };
    let media = ctx
        .store
        .media(&caller.account_id, media_id)
        .await?
        .ok_or_else(not_uploadable)?;
    let Ok(InputLocation::Oss { bucket, key }) = InputLocation::parse(&media.location, "MediaId")
    else {
        return Err(not_uploadable());
    };
    let (upload_address, upload_auth) = issue(ctx, caller, media_id, &bucket, &key).await?;
    Ok(RefreshUploadMediaBody {
        media_id: media.media_id,
        upload_address,
        upload_auth,
    })
}

/// Most URLs one UploadMediaByURL call may name, and most JobIds/URLs one
/// GetUrlUploadInfos call may name (vendor limits).
const MAX_UPLOAD_URLS: usize = 20;
const MAX_INFO_IDS: usize = 10;

/// One `MediaMetaData` item of UploadMediaByURL, matched to its URL by `SourceURL`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct UrlMetaData {
    #[serde(rename = "SourceURL")]
    source_url: Option<String>,
    file_extension: Option<String>,
    #[serde(flatten)]
    meta: MediaMetaData,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UploadJobView {
    job_id: String,
    media_id: String,
    #[serde(rename = "SourceURL")]
    source_url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UploadMediaByUrlBody {
    upload_jobs: Vec<UploadJobView>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UrlUploadInfoView {
    job_id: String,
    media_id: String,
    #[serde(rename = "UploadURL")]
    upload_url: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<String>,
    creation_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    complete_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_data: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUrlUploadInfosBody {
    non_exists: Vec<String>,
    #[serde(rename = "URLUploadInfoList")]
    url_upload_info_list: Vec<UrlUploadInfoView>,
}

/// `UploadURLs`: URL-encoded URLs joined by commas.
fn upload_urls(params: &Params, max: usize) -> Result<Vec<String>, ApiError> {
    let Some(raw) = params.non_empty("UploadURLs")? else {
        return Ok(Vec::new());
    };
    let urls: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            percent_encoding::percent_decode_str(u)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    if urls.len() > max {
        return Err(ApiError::invalid(
            "UploadURLs",
            format!("At most {max} URLs may be given."),
        ));
    }
    Ok(urls)
}

/// Pulls http(s) URLs (allow-listed hosts only, as for registration) into new media.
pub struct UploadMediaByUrlInput {
    urls: Vec<String>,
    metas: Vec<UrlMetaData>,
    bucket: Option<String>,
    user_data: Option<String>,
}

impl FromParams<'_> for UploadMediaByUrlInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let urls = upload_urls(params, MAX_UPLOAD_URLS)?;
        if urls.is_empty() {
            return Err(ApiError::missing("UploadURLs"));
        }
        Ok(UploadMediaByUrlInput {
            urls,
            metas: json_param(params, "MediaMetaData")?.unwrap_or_default(),
            bucket: target_bucket(params)?,
            user_data: params.non_empty("UserData")?.map(str::to_string),
        })
    }
}

pub async fn upload_by_url(
    ctx: &Ctx,
    caller: &Caller,
    input: UploadMediaByUrlInput,
) -> Result<UploadMediaByUrlBody, ApiError> {
    let UploadMediaByUrlInput {
        urls,
        mut metas,
        bucket,
        user_data,
    } = input;
    let mut checked = Vec::with_capacity(urls.len());
    for url in urls {
        match InputLocation::parse(&url, "UploadURLs")? {
            InputLocation::Remote { host, .. } if ctx.fetch_allow.contains(&host) => {}
            InputLocation::Remote { host, .. } => {
                return Err(ApiError::invalid(
                    "UploadURLs",
                    format!("The host \"{host}\" is not in the fetch allow-list (--fetch-allow)."),
                ));
            }
            InputLocation::Oss { .. } => {
                return Err(ApiError::invalid(
                    "UploadURLs",
                    "OSS objects need no upload: register them with RegisterMediaInfo.",
                ));
            }
        }
        let meta = metas
            .iter()
            .position(|m| m.source_url.as_deref() == Some(url.as_str()))
            .map(|i| metas.swap_remove(i))
            .unwrap_or_default();
        checked.push((url, meta));
    }
    let bucket = claim_target(ctx, caller, bucket).await?;
    let mut jobs = Vec::with_capacity(checked.len());
    for (url, m) in checked {
        let path = url.split(['?', '#']).next().unwrap_or(&url);
        let name = path.rsplit('/').next().unwrap_or("");
        let ext = match (&m.file_extension, name.rsplit_once('.')) {
            (Some(e), _) => check_ext(e, "MediaMetaData")?,
            (None, Some((_, e))) => check_ext(e, "UploadURLs")?,
            (None, None) => {
                return Err(ApiError::invalid(
                    "MediaMetaData",
                    format!("FileExtension is needed for {url}, which has none."),
                ));
            }
        };
        let described = Described {
            title: m
                .meta
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| name.to_string()),
            media_type: media::media_type_from_name(&format!("x.{ext}")),
            meta: m.meta,
            user_data: user_data.clone(),
        };
        let (media, key, _) = pending_media(ctx, caller, &bucket, &ext, described).await?;
        let job = UrlUploadJob {
            job_id: new_id(),
            account_id: caller.account_id.clone(),
            media_id: media.media_id.clone(),
            source_url: url.clone(),
            bucket: bucket.clone(),
            object_key: key,
            status: "Pending".into(),
            file_size: None,
            error_code: None,
            error_message: None,
            user_data: user_data.clone(),
            create_time: now_micros(),
            complete_time: None,
        };
        ctx.store.insert_url_job(&job).await?;
        jobs.push(UploadJobView {
            job_id: job.job_id,
            media_id: media.media_id,
            source_url: url,
        });
    }
    Ok(UploadMediaByUrlBody { upload_jobs: jobs })
}

/// GetUrlUploadInfos names jobs by JobIds, or else by their UploadURLs.
pub struct GetUrlUploadInfosInput {
    values: Vec<String>,
    by_url: bool,
}

impl FromParams<'_> for GetUrlUploadInfosInput {
    fn from_params(params: &Params) -> Result<Self, ApiError> {
        let (values, by_url) = match params.non_empty("JobIds")? {
            Some(_) => (params.id_list("JobIds", MAX_INFO_IDS)?, false),
            None => (upload_urls(params, MAX_INFO_IDS)?, true),
        };
        if values.is_empty() {
            return Err(ApiError::missing("JobIds"));
        }
        Ok(GetUrlUploadInfosInput { values, by_url })
    }
}

pub async fn url_upload_infos(
    ctx: &Ctx,
    caller: &Caller,
    input: GetUrlUploadInfosInput,
) -> Result<GetUrlUploadInfosBody, ApiError> {
    let GetUrlUploadInfosInput { values, by_url } = input;
    let jobs = ctx
        .store
        .url_jobs(&caller.account_id, &values, by_url)
        .await?;
    let non_exists = values
        .iter()
        .filter(|v| {
            !jobs
                .iter()
                .any(|j| (if by_url { &j.source_url } else { &j.job_id }) == *v)
        })
        .cloned()
        .collect();
    Ok(GetUrlUploadInfosBody {
        non_exists,
        url_upload_info_list: jobs
            .into_iter()
            .take(100)
            .map(|j| UrlUploadInfoView {
                status: match j.status.as_str() {
                    "Success" => "SUCCESS",
                    "Failed" => "FAIL",
                    _ => "PROCESSING",
                },
                job_id: j.job_id,
                media_id: j.media_id,
                upload_url: j.source_url,
                file_size: j.file_size.map(|s| s.to_string()),
                creation_time: format_time(j.create_time),
                complete_time: j.complete_time.map(format_time),
                error_code: j.error_code,
                error_message: j.error_message,
                user_data: j.user_data,
            })
            .collect(),
    })
}
