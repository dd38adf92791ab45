//! Upload actions: CreateUploadMedia and RefreshUploadMedia hand out an upload address and a
//! temporary credential for the OSS API (src/oss); the media exists at once (`Init`) and is
//! probed when its object has been written.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{Caller, Ctx};
use crate::domain::media::{
    self, BusinessType, InputLocation, MediaInfo, MediaSource, MediaStatus, MediaType,
};
use crate::domain::{format_time, new_id, now_micros};
use crate::protocol::error::ApiError;
use crate::protocol::params::Params;
use crate::store::StoreError;
use crate::store::oss::UploadCredential;

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

/// `sv/<8 hex>-<11 hex>/<same>.<ext>`, the vendor's object-name shape.
fn object_key(ext: &str) -> String {
    let id = new_id();
    let name = format!("{}-{}", &id[..8], &id[8..19]);
    format!("sv/{name}/{name}.{ext}")
}

/// The vendor form of an object's URL (which RegisterMediaInfo also accepts).
fn file_url(ctx: &Ctx, bucket: &str, key: &str) -> String {
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
        json.map(|bytes| STANDARD.encode(bytes)).map_err(|e| {
            tracing::error!(error = %e, "upload document serialisation failed");
            ApiError::internal()
        })
    };
    Ok((
        encode(serde_json::to_vec(&address))?,
        encode(serde_json::to_vec(&auth))?,
    ))
}

pub async fn create(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<CreateUploadMediaBody, ApiError> {
    let file: FileInfo =
        json_param(params, "FileInfo")?.ok_or_else(|| ApiError::missing("FileInfo"))?;
    let ext = file.ext.trim().trim_start_matches('.').to_ascii_lowercase();
    if ext.is_empty() || ext.len() > 16 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid(
            "FileInfo",
            "Ext must be a file extension such as mp4.",
        ));
    }
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
    let title = meta
        .title
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| file.name.clone());
    media::check_len("MediaMetaData", &title, media::TITLE_MAX)?;
    if let Some(d) = &meta.description {
        media::check_len("MediaMetaData", d, media::DESCRIPTION_MAX)?;
    }
    let business_type = meta
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
    if let Some(id) = meta.cate_id
        && ctx.store.category(&caller.account_id, id).await?.is_none()
    {
        return Err(ApiError::invalid(
            "MediaMetaData",
            format!("The category {id} does not exist."),
        ));
    }
    let bucket = match json_param::<UploadTargetConfig>(params, "UploadTargetConfig")? {
        Some(target) => {
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
            match target.storage_location {
                Some(location) => location
                    .split_once('.')
                    .filter(|(b, rest)| {
                        media::check_bucket(b).is_ok() && media::is_oss_endpoint(rest)
                    })
                    .map(|(b, _)| b.to_string())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "UploadTargetConfig",
                            "StorageLocation must look like <bucket>.oss-<region>.aliyuncs.com.",
                        )
                    })?,
                None => format!("outin-{}", caller.account_id),
            }
        }
        None => format!("outin-{}", caller.account_id),
    };
    let owner = ctx.store.claim_bucket(&bucket, &caller.account_id).await?;
    if owner != caller.account_id {
        return Err(ApiError::invalid(
            "UploadTargetConfig",
            format!("The bucket \"{bucket}\" belongs to another account."),
        ));
    }
    let key = object_key(&ext);
    let url = file_url(ctx, &bucket, &key);
    let location = InputLocation::Oss {
        bucket: bucket.clone(),
        key: key.clone(),
    };
    let now = now_micros();
    let media = MediaInfo {
        account_id: caller.account_id.clone(),
        media_id: new_id(),
        input_url: url.clone(),
        location: location.canonical(),
        media_type,
        business_type,
        source: MediaSource::Oss,
        title,
        description: meta.description,
        category: None,
        cate_id: meta.cate_id,
        media_tags: meta
            .tags
            .as_deref()
            .map(media::parse_tags)
            .transpose()?
            .unwrap_or_default(),
        cover_url: meta.cover_url,
        user_data: params.non_empty("UserData")?.map(str::to_string),
        reference_id: None,
        status: MediaStatus::Init,
        create_time: now,
        modified_time: now,
        probe: None,
        duration: None,
        file_size: None,
        client_token: None,
        need_snapshot: true,
    };
    // Pending first, so no probe worker can claim the media before its object exists.
    ctx.store
        .insert_pending_upload(&caller.account_id, &media.media_id, &bucket, &key)
        .await?;
    match ctx.store.insert_media(&media, None).await {
        Ok(()) => {}
        Err(StoreError::Conflict(what)) => {
            tracing::error!(%what, "a fresh upload key collided");
            return Err(ApiError::internal());
        }
        Err(e) => return Err(e.into()),
    }
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
pub async fn refresh(
    ctx: &Ctx,
    caller: &Caller,
    params: &Params,
) -> Result<RefreshUploadMediaBody, ApiError> {
    let media_id = params.required("MediaId")?;
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
