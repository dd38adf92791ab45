//! The OSS-compatible object API, served on the ICE listener: requests that carry OSS
//! authentication or an OSS virtual-host `Host` come here (see [`is_oss`]) before any other
//! routing. Path style (`/<bucket>/<key>`, what oss2 sends to an IP endpoint) and virtual-host
//! style (`<bucket>.oss-<region>.aliyuncs.com`, what ali-oss sends; `<bucket>.<--oss-domain>`).
//! Bodies stream to disk; answers are OSS's XML and `<Error>` documents.
//!
//! `request` classifies and parses, `auth` authenticates, then `execute` hands the typed
//! operation to `object`, `bucket` or `multipart`; `objects` and `uploads` are the on-disk layout.

mod auth;
mod bucket;
mod crc64;
pub mod error;
pub mod metrics;
mod multipart;
mod object;
mod objects;
mod request;
pub mod sign;
mod uploads;
mod xml;

pub use request::is_oss;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

use self::error::{OssCode, OssError};
use self::metrics::InFlight;
use self::objects::{ObjectMeta, Objects, content_type_for, quoted_hex};
use self::request::{OssOperation, OssRequest};
use self::xml::http_date;
use crate::actions::Ctx;
use crate::jobs::callbacks;
use crate::server::keys::KeyCache;

/// Serves one OSS request. It takes one of the server's `--max-in-flight` slots (`in_flight`,
/// shared with the ICE API) until its response body has been sent; without a free slot it is
/// answered `ServiceUnavailable` (503) at once.
pub async fn handle(
    ctx: Arc<Ctx>,
    keys: &KeyCache,
    domain: Option<&str>,
    in_flight: Arc<Semaphore>,
    req: Request,
) -> Response {
    let mut tracked = InFlight::start(in_flight.try_acquire_owned().ok());
    let request_id = hex::encode_upper(rand::random::<[u8; 12]>());
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut account = String::new();
    let result = async {
        let req = OssRequest::parse(&parts, domain)?;
        let op = req.operation()?;
        tracked.operation = op.name();
        if !tracked.has_slot() {
            return Err(OssError::new(OssCode::ServiceUnavailable));
        }
        let principal = auth::authenticate(&ctx, keys, &req).await?;
        account.clone_from(&principal.account_id);
        if !principal.allows(&req, &op) {
            return Err(OssError::with_message(
                OssCode::AccessDenied,
                "The upload credential is valid for its one object only.",
            ));
        }
        execute(&ctx, &account, &req, op, body).await
    }
    .await;
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            tracked.code = e.code.as_str();
            e.response(&parts.method, &request_id, &host)
        }
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-oss-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(OffsetDateTime::now_utc())) {
        headers.insert(header::DATE, v);
    }
    tracing::info!(
        request_id = %request_id,
        operation = tracked.operation,
        account = %account,
        status = response.status().as_u16(),
        code = tracked.code,
        "oss request"
    );
    tracked.until_sent(response)
}

async fn execute(
    ctx: &Ctx,
    account: &str,
    req: &OssRequest,
    op: OssOperation,
    body: Body,
) -> Result<Response, OssError> {
    use OssOperation::*;
    let objects = Objects::new(&ctx.storage);
    if let Some(bucket) = &req.bucket {
        own_bucket(ctx, account, bucket).await?;
    }
    match op {
        ListBuckets => bucket::list_buckets(ctx, account).await,
        PutBucket => bucket::put(ctx, req).await,
        GetBucketInfo => Ok(bucket::info(ctx, req, account)),
        GetBucketLocation => Ok(bucket::location(ctx)),
        ListObjects => bucket::list_objects(&objects, req, false, account).await,
        ListObjectsV2 => bucket::list_objects(&objects, req, true, account).await,
        DeleteMultipleObjects => bucket::delete_multiple(&objects, req, body).await,
        PutObject => object::put(ctx, &objects, req, body).await,
        CopyObject { bucket, key } => {
            own_bucket(ctx, account, &bucket).await?;
            object::copy(ctx, &objects, req, &bucket, &key).await
        }
        GetObject => object::get(&objects, req).await,
        HeadObject => object::head(&objects, req, true).await,
        GetObjectMeta => object::head(&objects, req, false).await,
        DeleteObject => object::delete(&objects, req).await,
        InitiateMultipartUpload => multipart::initiate(&objects, req).await,
        UploadPart {
            upload_id,
            part_number,
        } => multipart::upload_part(&objects, req, &upload_id, part_number, body).await,
        CompleteMultipartUpload { upload_id } => {
            multipart::complete(ctx, &objects, req, &upload_id, body).await
        }
        AbortMultipartUpload { upload_id } => multipart::abort(&objects, req, &upload_id).await,
        ListParts { upload_id } => multipart::list_parts(&objects, req, &upload_id).await,
    }
}

/// Start-up housekeeping: half-received bodies of a crashed server are removed.
pub async fn sweep(ctx: &Ctx) {
    match Objects::new(&ctx.storage).sweep_temp().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "removed half-received OSS uploads"),
        Err(e) => tracing::warn!(error = %e, "could not sweep half-received OSS uploads"),
    }
}

/// Writes `body` as the object `bucket`/`key` the way PutObject does (temp file, fsync,
/// rename, metadata sidecar) and starts probing media waiting for it; answers its size.
/// UploadMediaByURL stores what it fetched through this.
pub async fn put_object(ctx: &Ctx, bucket: &str, key: &str, body: Body) -> Result<u64, OssError> {
    let objects = Objects::new(&ctx.storage);
    let received = objects.receive(body, None).await?;
    let meta = ObjectMeta {
        etag: quoted_hex(&received.digests.md5),
        content_type: content_type_for(key),
        size: received.size,
        object_type: "Normal".into(),
        user_meta: Vec::new(),
        crc64: Some(received.digests.crc64),
    };
    objects.commit(received.path, bucket, key, &meta).await?;
    // The job, not the object, reports this upload (UploadByURLComplete).
    release_pending(ctx, bucket, key).await?;
    Ok(meta.size)
}

/// Media created by CreateUploadMedia or UploadMediaByURL for `bucket`/`key` enter the probe
/// queue (`Init` → `Preparing` → `Normal`); answers their (account, media) IDs.
async fn release_pending(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
) -> Result<Vec<(String, String)>, OssError> {
    let released = ctx.store.finish_pending_uploads(bucket, key).await?;
    if !released.is_empty() {
        ctx.probe_wakeup.notify_one();
    }
    Ok(released)
}

/// A client wrote an object: media waiting for it are released and their upload event is
/// queued. The object stays written even when the event cannot be queued.
async fn object_written(ctx: &Ctx, bucket: &str, key: &str) -> Result<(), OssError> {
    for (account, media_id) in release_pending(ctx, bucket, key).await? {
        let size = tokio::fs::metadata(ctx.storage.path(bucket, key))
            .await?
            .len();
        let queued = match ctx.store.media(&account, &media_id).await {
            Ok(Some(media)) => callbacks::file_uploaded(ctx, &media, size).await,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = queued {
            tracing::warn!(%media_id, error = %e, "could not queue an upload callback");
        }
    }
    Ok(())
}

/// The bucket is the caller's: claimed on first use, another account's is `AccessDenied`.
async fn own_bucket(ctx: &Ctx, account: &str, bucket: &str) -> Result<(), OssError> {
    let owner = ctx.store.claim_bucket(bucket, account).await?;
    if owner == account {
        Ok(())
    } else {
        Err(OssError::with_message(
            OssCode::AccessDenied,
            "The bucket you access does not belong to you.",
        )
        .with("BucketName", bucket))
    }
}

fn xml_response(body: String) -> Response {
    let mut r = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"
    )));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn set(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

/// `x-oss-hash-crc64ecma`, when the CRC is known: the SDKs check it when it is sent.
fn set_crc64(r: &mut Response, crc64: Option<u64>) {
    if let Some(crc) = crc64 {
        set(r, "x-oss-hash-crc64ecma", &crc.to_string());
    }
}
