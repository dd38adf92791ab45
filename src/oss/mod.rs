//! The OSS-compatible object API, served on the ICE listener: requests that carry OSS
//! authentication or an OSS virtual-host `Host` come here (see [`is_oss`]) before any other
//! routing. Path style (`/<bucket>/<key>`, what oss2 sends to an IP endpoint) and virtual-host
//! style (`<bucket>.oss-<region>.aliyuncs.com`, what ali-oss sends; `<bucket>.<--oss-domain>`).
//! Bodies stream to disk; answers are OSS's XML and `<Error>` documents.

pub mod error;
mod objects;
pub mod sign;
mod xml;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use self::error::{OssCode, OssError};
use self::objects::{Entry, ObjectMeta, Objects, Upload, content_type_for, quoted_hex};
use self::sign::{Claim, Signed};
use self::xml::{escape, http_date, xml_time};
use crate::actions::Ctx;
use crate::domain::account::Secret;
use crate::domain::media::{check_bucket, check_key, is_oss_endpoint};
use crate::jobs::callbacks;
use crate::server::keys::KeyCache;

/// Accepted clock skew of header-signed requests, either direction.
const TIME_WINDOW: time::Duration = time::Duration::minutes(15);
const MAX_KEYS: usize = 1000;
const MAX_DELETE: usize = 1000;

/// Whether a request belongs to the OSS API: OSS authentication in the header or query, or
/// an OSS virtual-host `Host`. Decided before any other routing rule.
pub fn is_oss(uri: &axum::http::Uri, headers: &HeaderMap, domain: Option<&str>) -> bool {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth.starts_with("OSS ") || auth.starts_with("OSS4-HMAC-SHA256") {
        return true;
    }
    let query = uri.query().unwrap_or("");
    let has = |name: &str| query.split('&').any(|p| p.split('=').next() == Some(name));
    if (has("OSSAccessKeyId") && has("Signature")) || has("x-oss-signature-version") {
        return true;
    }
    vhost_bucket(headers, domain).is_some()
}

/// The bucket named by an OSS virtual-host `Host` (port ignored).
fn vhost_bucket<'h>(headers: &'h HeaderMap, domain: Option<&str>) -> Option<&'h str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let (bucket, rest) = host.split_once('.')?;
    let rest_lower = rest.to_ascii_lowercase();
    (is_oss_endpoint(&rest_lower) || domain.is_some_and(|d| d.eq_ignore_ascii_case(rest)))
        .then_some(bucket)
}

/// The typed operation, decided once from method, address and sub-resources.
#[derive(Debug, PartialEq)]
enum OssOperation {
    ListBuckets,
    PutBucket,
    GetBucketInfo,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    DeleteMultipleObjects,
    PutObject,
    CopyObject { bucket: String, key: String },
    GetObject,
    HeadObject,
    GetObjectMeta,
    DeleteObject,
    InitiateMultipartUpload,
    UploadPart { upload_id: String, part_number: u32 },
    CompleteMultipartUpload { upload_id: String },
    AbortMultipartUpload { upload_id: String },
    ListParts { upload_id: String },
}

impl OssOperation {
    /// OSS's name of the operation, for logs.
    fn name(&self) -> &'static str {
        use OssOperation::*;
        match self {
            ListBuckets => "ListBuckets",
            PutBucket => "PutBucket",
            GetBucketInfo => "GetBucketInfo",
            GetBucketLocation => "GetBucketLocation",
            ListObjects => "ListObjects",
            ListObjectsV2 => "ListObjectsV2",
            DeleteMultipleObjects => "DeleteMultipleObjects",
            PutObject => "PutObject",
            CopyObject { .. } => "CopyObject",
            GetObject => "GetObject",
            HeadObject => "HeadObject",
            GetObjectMeta => "GetObjectMeta",
            DeleteObject => "DeleteObject",
            InitiateMultipartUpload => "InitiateMultipartUpload",
            UploadPart { .. } => "UploadPart",
            CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            AbortMultipartUpload { .. } => "AbortMultipartUpload",
            ListParts { .. } => "ListParts",
        }
    }
}

/// Sub-resources the operations above understand; any other signed sub-resource (`acl`,
/// `tagging`, …) is an operation openice does not implement.
const HANDLED: &[&str] = &[
    "uploads",
    "uploadId",
    "partNumber",
    "delete",
    "objectMeta",
    "bucketInfo",
    "location",
    "security-token",
    "continuation-token",
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "response-content-encoding",
    "response-content-disposition",
    "response-expires",
];

struct OssRequest {
    method: Method,
    bucket: Option<String>,
    key: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl OssRequest {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn signed(&self) -> Signed<'_> {
        Signed {
            method: self.method.as_str(),
            bucket: self.bucket.as_deref(),
            key: self.key.as_deref(),
            query: &self.query,
            headers: &self.headers,
        }
    }

    fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or("")
    }

    fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("")
    }

    fn user_meta(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-oss-meta-"))
            .cloned()
            .collect()
    }

    fn content_type(&self) -> String {
        self.header("content-type")
            .filter(|t| !t.is_empty())
            .map_or_else(|| content_type_for(self.key()), str::to_string)
    }

    /// Parses address, query and headers from the raw request (the path is decoded here,
    /// once: `%2F` is part of a key, and `//`, `.`, `..` are never normalised away).
    fn parse(parts: &axum::http::request::Parts, domain: Option<&str>) -> Result<Self, OssError> {
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| OssError::new(OssCode::InvalidObjectName))
        };
        let raw_path = parts
            .uri
            .path()
            .strip_prefix('/')
            .unwrap_or(parts.uri.path());
        let (bucket, raw_key) = match vhost_bucket(&parts.headers, domain) {
            Some(b) => (Some(b.to_string()), raw_path),
            None => match raw_path.split_once('/') {
                Some((b, k)) => (Some(decode(b)?), k),
                None if raw_path.is_empty() => (None, ""),
                None => (Some(decode(raw_path)?), ""),
            },
        };
        if let Some(b) = &bucket {
            check_bucket(b).map_err(|m| {
                OssError::with_message(OssCode::InvalidBucketName, m).with("BucketName", b.clone())
            })?;
        }
        let key = if raw_key.is_empty() {
            None
        } else {
            let k = decode(raw_key)?;
            check_key(&k).map_err(|m| OssError::with_message(OssCode::InvalidObjectName, m))?;
            Some(k)
        };
        let mut query = Vec::new();
        for pair in parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let bad = |_| {
                OssError::with_message(OssCode::InvalidArgument, "The query is not valid UTF-8.")
            };
            query.push((
                percent_decode_str(k)
                    .decode_utf8()
                    .map_err(bad)?
                    .into_owned(),
                percent_decode_str(v)
                    .decode_utf8()
                    .map_err(bad)?
                    .into_owned(),
            ));
        }
        let headers = parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        Ok(OssRequest {
            method: parts.method.clone(),
            bucket,
            key,
            query,
            headers,
        })
    }

    fn operation(&self) -> Result<OssOperation, OssError> {
        use OssOperation::*;
        let not_implemented = || OssError::new(OssCode::NotImplemented);
        if self
            .query
            .iter()
            .any(|(k, _)| sign::is_subresource(k) && !HANDLED.contains(&k.as_str()))
        {
            return Err(not_implemented());
        }
        let has = |name: &str| self.param(name).is_some();
        let upload_id = || self.param("uploadId").unwrap_or("").to_string();
        let m = &self.method;
        Ok(match (&self.bucket, &self.key) {
            (None, _) if m == Method::GET => ListBuckets,
            (None, _) => return Err(not_implemented()),
            (Some(_), None) => match *m {
                Method::GET if has("bucketInfo") => GetBucketInfo,
                Method::GET if has("location") => GetBucketLocation,
                Method::GET if self.param("list-type") == Some("2") => ListObjectsV2,
                Method::GET => ListObjects,
                Method::PUT => PutBucket,
                Method::POST if has("delete") => DeleteMultipleObjects,
                _ => return Err(not_implemented()),
            },
            (Some(_), Some(_)) => match *m {
                Method::PUT if has("uploadId") => UploadPart {
                    upload_id: upload_id(),
                    part_number: self
                        .param("partNumber")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| {
                            OssError::with_message(
                                OssCode::InvalidArgument,
                                "partNumber must be an integer between 1 and 10000.",
                            )
                        })?,
                },
                Method::PUT => match self.header("x-oss-copy-source") {
                    Some(src) => {
                        let src = percent_decode_str(src)
                            .decode_utf8()
                            .map_err(|_| OssError::new(OssCode::InvalidArgument))?;
                        let src = src.strip_prefix('/').unwrap_or(&src);
                        let (bucket, key) = src.split_once('/').ok_or_else(|| {
                            OssError::with_message(
                                OssCode::InvalidArgument,
                                "x-oss-copy-source must be /<bucket>/<key>.",
                            )
                        })?;
                        check_bucket(bucket)
                            .map_err(|m| OssError::with_message(OssCode::InvalidBucketName, m))?;
                        check_key(key)
                            .map_err(|m| OssError::with_message(OssCode::InvalidObjectName, m))?;
                        CopyObject {
                            bucket: bucket.to_string(),
                            key: key.to_string(),
                        }
                    }
                    None => PutObject,
                },
                Method::GET if has("uploadId") => ListParts {
                    upload_id: upload_id(),
                },
                Method::GET => GetObject,
                Method::HEAD if has("objectMeta") => GetObjectMeta,
                Method::HEAD => HeadObject,
                Method::DELETE if has("uploadId") => AbortMultipartUpload {
                    upload_id: upload_id(),
                },
                Method::DELETE => DeleteObject,
                Method::POST if has("uploads") => InitiateMultipartUpload,
                Method::POST if has("uploadId") => CompleteMultipartUpload {
                    upload_id: upload_id(),
                },
                _ => return Err(not_implemented()),
            },
        })
    }
}

/// Serves one OSS request.
pub async fn handle(
    ctx: Arc<Ctx>,
    keys: &KeyCache,
    domain: Option<&str>,
    req: Request,
) -> Response {
    let request_id = hex::encode_upper(rand::random::<[u8; 12]>());
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut operation = "";
    let mut account = String::new();
    let result = async {
        let req = OssRequest::parse(&parts, domain)?;
        let op = req.operation()?;
        operation = op.name();
        let principal = authenticate(&ctx, keys, &req).await?;
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
    let mut code = "";
    let mut response = match result {
        Ok(r) => r,
        Err(e) => {
            code = e.code.as_str();
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
        operation,
        account = %account,
        status = response.status().as_u16(),
        code,
        "oss request"
    );
    response
}

/// Who signed a request: an account key, or an upload credential limited to one object.
struct Principal {
    account_id: String,
    /// (bucket, key) an upload credential is limited to.
    only: Option<(String, String)>,
}

impl Principal {
    /// An upload credential may write, read and manage multipart uploads of its one object.
    fn allows(&self, req: &OssRequest, op: &OssOperation) -> bool {
        use OssOperation::*;
        let Some((bucket, key)) = &self.only else {
            return true;
        };
        req.bucket.as_ref() == Some(bucket)
            && req.key.as_ref() == Some(key)
            && matches!(
                op,
                PutObject
                    | GetObject
                    | HeadObject
                    | GetObjectMeta
                    | InitiateMultipartUpload
                    | UploadPart { .. }
                    | CompleteMultipartUpload { .. }
                    | AbortMultipartUpload { .. }
                    | ListParts { .. }
            )
    }
}

/// Key (an account key, else an upload credential with its token and expiry), then time,
/// then signature.
async fn authenticate(ctx: &Ctx, keys: &KeyCache, req: &OssRequest) -> Result<Principal, OssError> {
    let signed = req.signed();
    let claim = Claim::parse(&signed)?.ok_or_else(|| {
        OssError::with_message(
            OssCode::AccessDenied,
            "Anonymous access is forbidden for this operation.",
        )
    })?;
    let key_id = claim.access_key_id();
    let unknown = || OssError::new(OssCode::InvalidAccessKeyId).with("OSSAccessKeyId", key_id);
    let token = claim.security_token(&signed);
    let now = OffsetDateTime::now_utc();
    let (secret, principal, enabled) = match keys.get(ctx.store.as_ref(), key_id).await? {
        Some(key) => {
            if token.is_some() {
                return Err(OssError::with_message(
                    OssCode::InvalidSecurityToken,
                    "A security token was sent with a long-term access key.",
                ));
            }
            let principal = Principal {
                account_id: key.account_id,
                only: None,
            };
            (key.secret, principal, key.enabled)
        }
        None => {
            let c = ctx
                .store
                .upload_credential(key_id)
                .await?
                .ok_or_else(unknown)?;
            if now.unix_timestamp() > c.expire_time {
                return Err(OssError::new(OssCode::SecurityTokenExpired));
            }
            let sent = token.unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                sent.as_bytes(),
                c.security_token.as_bytes(),
            )) {
                return Err(OssError::new(OssCode::InvalidSecurityToken));
            }
            let principal = Principal {
                account_id: c.account_id,
                only: Some((c.bucket, c.object_key)),
            };
            (Secret::new(c.secret), principal, true)
        }
    };
    claim.check_time(&signed, now, TIME_WINDOW)?;
    claim.verify(&signed, secret.expose())?;
    if !enabled {
        return Err(OssError::with_message(
            OssCode::InvalidAccessKeyId,
            "The OSS Access Key Id you provided is disabled.",
        )
        .with("OSSAccessKeyId", key_id));
    }
    Ok(principal)
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
        etag: quoted_hex(&received.md5),
        content_type: content_type_for(key),
        size: received.size,
        object_type: "Normal".into(),
        user_meta: Vec::new(),
    };
    objects.commit(received, bucket, key, &meta).await?;
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
    let (bucket, key) = (req.bucket(), req.key());
    match op {
        ListBuckets => list_buckets(ctx, account).await,
        PutBucket => {
            tokio::fs::create_dir_all(ctx.storage.path(bucket, "")).await?;
            Ok(empty(StatusCode::OK))
        }
        GetBucketInfo => Ok(xml_response(format!(
            "<BucketInfo><Bucket><Name>{bucket}</Name><Location>oss-{region}</Location>\
             <Region>{region}</Region><ExtranetEndpoint>oss-{region}.aliyuncs.com</ExtranetEndpoint>\
             <IntranetEndpoint>oss-{region}-internal.aliyuncs.com</IntranetEndpoint>\
             <CreationDate>{}</CreationDate><StorageClass>Standard</StorageClass>\
             <Owner><ID>{account}</ID><DisplayName>{account}</DisplayName></Owner>\
             <AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>",
            xml_time(OffsetDateTime::now_utc()),
            region = ctx.region,
        ))),
        GetBucketLocation => Ok(xml_response(format!(
            "<LocationConstraint>oss-{}</LocationConstraint>",
            ctx.region
        ))),
        ListObjects | ListObjectsV2 => {
            list_objects(&objects, req, op == ListObjectsV2, account).await
        }
        DeleteMultipleObjects => delete_multiple(&objects, req, body).await,
        PutObject => {
            if req.header("x-oss-forbid-overwrite") == Some("true")
                && objects.head(bucket, key).await.is_ok()
            {
                return Err(OssError::new(OssCode::FileAlreadyExists));
            }
            let received = objects.receive(body, req.header("content-md5")).await?;
            let meta = ObjectMeta {
                etag: quoted_hex(&received.md5),
                content_type: req.content_type(),
                size: received.size,
                object_type: "Normal".into(),
                user_meta: req.user_meta(),
            };
            objects.commit(received, bucket, key, &meta).await?;
            object_written(ctx, bucket, key).await?;
            let mut r = empty(StatusCode::OK);
            set(&mut r, "etag", &meta.etag);
            Ok(r)
        }
        CopyObject {
            bucket: src_bucket,
            key: src_key,
        } => {
            own_bucket(ctx, account, &src_bucket).await?;
            let (path, src_meta, _) = objects.head(&src_bucket, &src_key).await?;
            let received = objects.copy_to_temp(&path).await?;
            let replace = req
                .header("x-oss-metadata-directive")
                .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
            let meta = ObjectMeta {
                etag: quoted_hex(&received.md5),
                size: received.size,
                object_type: "Normal".into(),
                content_type: if replace {
                    req.content_type()
                } else {
                    src_meta.content_type
                },
                user_meta: if replace {
                    req.user_meta()
                } else {
                    src_meta.user_meta
                },
            };
            objects.commit(received, bucket, key, &meta).await?;
            object_written(ctx, bucket, key).await?;
            let mut r = xml_response(format!(
                "<CopyObjectResult><ETag>{}</ETag><LastModified>{}</LastModified></CopyObjectResult>",
                escape(&meta.etag),
                xml_time(OffsetDateTime::now_utc())
            ));
            set(&mut r, "etag", &meta.etag);
            Ok(r)
        }
        GetObject => get_object(&objects, req).await,
        HeadObject | GetObjectMeta => {
            let (_, meta, modified) = objects.head(bucket, key).await?;
            let mut r = empty(StatusCode::OK);
            object_headers(&mut r, &meta, modified, op == HeadObject);
            set(&mut r, "content-length", &meta.size.to_string());
            Ok(r)
        }
        DeleteObject => {
            objects.delete(bucket, key).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        InitiateMultipartUpload => {
            let id = objects
                .initiate(&Upload {
                    bucket: bucket.into(),
                    key: key.into(),
                    content_type: req.content_type(),
                    user_meta: req.user_meta(),
                })
                .await?;
            Ok(xml_response(format!(
                "<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{}</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>",
                escape(key)
            )))
        }
        UploadPart {
            upload_id,
            part_number,
        } => {
            objects.upload(&upload_id, bucket, key).await?;
            let received = objects.receive(body, req.header("content-md5")).await?;
            let etag = objects.put_part(&upload_id, part_number, received).await?;
            let mut r = empty(StatusCode::OK);
            set(&mut r, "etag", &etag);
            Ok(r)
        }
        CompleteMultipartUpload { upload_id } => {
            let upload = objects.upload(&upload_id, bucket, key).await?;
            let xml = read_small_body(body).await?;
            let mut listed = Vec::new();
            for part in xml::elements(&xml, "Part") {
                let number = xml::element(&part, "PartNumber").and_then(|n| n.trim().parse().ok());
                match (number, xml::element(&part, "ETag")) {
                    (Some(n), Some(etag)) => listed.push((n, etag)),
                    _ => return Err(OssError::new(OssCode::MalformedXML)),
                }
            }
            let etag = objects.complete(&upload_id, &upload, &listed).await?;
            object_written(ctx, bucket, key).await?;
            let mut r = xml_response(format!(
                "<CompleteMultipartUploadResult><Location>http://{bucket}.oss-{}.aliyuncs.com/{}</Location>\
                 <Bucket>{bucket}</Bucket><Key>{}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
                ctx.region,
                escape(key),
                escape(key),
                escape(&etag)
            ));
            set(&mut r, "etag", &etag);
            Ok(r)
        }
        AbortMultipartUpload { upload_id } => {
            objects.upload(&upload_id, bucket, key).await?;
            objects.abort(&upload_id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ListParts { upload_id } => {
            objects.upload(&upload_id, bucket, key).await?;
            let marker: u32 = req
                .param("part-number-marker")
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            let max: usize = req
                .param("max-parts")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1000)
                .clamp(1, 1000);
            let parts: Vec<_> = objects
                .parts(&upload_id)
                .await?
                .into_iter()
                .filter(|p| p.number > marker)
                .collect();
            let truncated = parts.len() > max;
            let page = &parts[..parts.len().min(max)];
            let next = page.last().map_or(marker, |p| p.number);
            let mut out = format!(
                "<ListPartsResult><Bucket>{bucket}</Bucket><Key>{}</Key><UploadId>{upload_id}</UploadId>\
                 <PartNumberMarker>{marker}</PartNumberMarker><NextPartNumberMarker>{next}</NextPartNumberMarker>\
                 <MaxParts>{max}</MaxParts><IsTruncated>{truncated}</IsTruncated>",
                escape(key)
            );
            for p in page {
                out.push_str(&format!(
                    "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Part>",
                    p.number,
                    xml_time(p.modified),
                    escape(&p.etag),
                    p.size
                ));
            }
            out.push_str("</ListPartsResult>");
            Ok(xml_response(out))
        }
    }
}

/// Request bodies that are XML documents (≤1000 keys or parts): bounded.
async fn read_small_body(body: Body) -> Result<String, OssError> {
    const LIMIT: usize = 2 << 20;
    let bytes = axum::body::to_bytes(body, LIMIT).await.map_err(|_| {
        OssError::with_message(
            OssCode::MalformedXML,
            "The XML body is too large or could not be read.",
        )
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| OssError::new(OssCode::MalformedXML))
}

fn object_headers(r: &mut Response, meta: &ObjectMeta, modified: OffsetDateTime, full: bool) {
    set(r, "etag", &meta.etag);
    set(r, "last-modified", &http_date(modified));
    if full {
        set(r, "content-type", &meta.content_type);
        set(r, "x-oss-object-type", &meta.object_type);
        set(r, "x-oss-storage-class", "Standard");
        set(r, "accept-ranges", "bytes");
        for (k, v) in &meta.user_meta {
            if let (Ok(name), Ok(value)) = (
                axum::http::HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                r.headers_mut().insert(name, value);
            }
        }
    }
}

/// `bytes=a-b`, `a-`, `-n` (first range only). None = serve the whole object: OSS ignores
/// invalid ranges unless `x-oss-range-behavior: standard`, which clamps an overlong end and
/// answers `InvalidRange` for a start past the end.
fn parse_range(header: &str, size: u64, standard: bool) -> Result<Option<(u64, u64)>, OssError> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    let first = spec.split(',').next().unwrap_or("").trim();
    let Some((a, b)) = first.split_once('-') else {
        return Ok(None);
    };
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => match n.parse::<u64>() {
            Ok(n) if n > 0 && size > 0 => (size.saturating_sub(n), size - 1),
            _ => return Ok(None),
        },
        (a, "") => match a.parse::<u64>() {
            Ok(a) => (a, size.saturating_sub(1)),
            _ => return Ok(None),
        },
        (a, b) => match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(a), Ok(b)) if a <= b => (a, b),
            _ => return Ok(None),
        },
    };
    if start >= size {
        return if standard {
            Err(OssError::with_message(
                OssCode::InvalidArgument,
                "The requested range cannot be satisfied.",
            ))
        } else {
            Ok(None)
        };
    }
    if end >= size {
        return Ok(standard.then_some((start, size - 1)));
    }
    Ok(Some((start, end)))
}

async fn get_object(objects: &Objects<'_>, req: &OssRequest) -> Result<Response, OssError> {
    let (path, meta, modified) = objects.head(req.bucket(), req.key()).await?;
    let standard = req.header("x-oss-range-behavior") == Some("standard");
    let range = match req.header("range") {
        Some(h) => parse_range(h, meta.size, standard)?,
        None => None,
    };
    let mut file = tokio::fs::File::open(&path).await?;
    let (status, start, len) = match range {
        Some((a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
        None => (StatusCode::OK, 0, meta.size),
    };
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 256 * 1024);
    let mut r = Response::new(Body::from_stream(stream));
    *r.status_mut() = status;
    object_headers(&mut r, &meta, modified, true);
    set(&mut r, "content-length", &len.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            &mut r,
            "content-range",
            &format!("bytes {start}-{}/{}", start + len - 1, meta.size),
        );
    }
    for (param, name) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-cache-control", "cache-control"),
        ("response-content-encoding", "content-encoding"),
        ("response-content-disposition", "content-disposition"),
        ("response-expires", "expires"),
    ] {
        if let Some(v) = req.param(param) {
            set(&mut r, name, v);
        }
    }
    Ok(r)
}

async fn list_buckets(ctx: &Ctx, account: &str) -> Result<Response, OssError> {
    let mut names = Vec::new();
    if let Ok(mut dir) = tokio::fs::read_dir(ctx.storage.path("", "")).await {
        while let Some(entry) = dir.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if check_bucket(&name).is_ok()
                && ctx.store.bucket_owner(&name).await?.as_deref() == Some(account)
            {
                names.push(name);
            }
        }
    }
    names.sort();
    let now = xml_time(OffsetDateTime::now_utc());
    let mut out = format!(
        "<ListAllMyBucketsResult><Owner><ID>{account}</ID><DisplayName>{account}</DisplayName></Owner><Buckets>"
    );
    for name in names {
        out.push_str(&format!(
            "<Bucket><Name>{name}</Name><CreationDate>{now}</CreationDate><Location>oss-{r}</Location>\
             <Region>{r}</Region><ExtranetEndpoint>oss-{r}.aliyuncs.com</ExtranetEndpoint>\
             <IntranetEndpoint>oss-{r}-internal.aliyuncs.com</IntranetEndpoint><StorageClass>Standard</StorageClass></Bucket>",
            r = ctx.region
        ));
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    Ok(xml_response(out))
}

async fn list_objects(
    objects: &Objects<'_>,
    req: &OssRequest,
    v2: bool,
    account: &str,
) -> Result<Response, OssError> {
    let bucket = req.bucket();
    let prefix = req.param("prefix").unwrap_or("");
    let delimiter = req.param("delimiter").unwrap_or("");
    let url_encode = req.param("encoding-type") == Some("url");
    let max_keys = match req.param("max-keys") {
        None | Some("") => 100,
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_KEYS).contains(n))
            .ok_or_else(|| {
                OssError::with_message(
                    OssCode::InvalidArgument,
                    "max-keys must be between 1 and 1000.",
                )
            })?,
    };
    let marker = if v2 {
        req.param("continuation-token")
            .filter(|t| !t.is_empty())
            .or(req.param("start-after"))
            .unwrap_or("")
    } else {
        req.param("marker").unwrap_or("")
    };
    let enc = |s: &str| {
        if url_encode {
            percent_encoding::utf8_percent_encode(s, sign::RFC3986).to_string()
        } else {
            escape(s)
        }
    };
    let all = objects.list(bucket).await?;
    let mut contents: Vec<&Entry> = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut last = String::new();
    for entry in all
        .iter()
        .filter(|e| e.key.starts_with(prefix) && e.key.as_str() > marker)
    {
        let common = (!delimiter.is_empty())
            .then(|| entry.key[prefix.len()..].find(delimiter))
            .flatten()
            .map(|i| entry.key[..prefix.len() + i + delimiter.len()].to_string());
        if let Some(p) = &common
            && prefixes.last() == Some(p)
        {
            continue;
        }
        if contents.len() + prefixes.len() == max_keys {
            truncated = true;
            break;
        }
        match common {
            Some(p) => {
                // The next page starts after every key under this prefix.
                last = all
                    .iter()
                    .rev()
                    .find(|e| e.key.starts_with(p.as_str()))
                    .map_or_else(|| p.clone(), |e| e.key.clone());
                prefixes.push(p);
            }
            None => {
                last = entry.key.clone();
                contents.push(entry);
            }
        }
    }
    let mut out = format!(
        "<ListBucketResult><Name>{bucket}</Name><Prefix>{}</Prefix><MaxKeys>{max_keys}</MaxKeys><Delimiter>{}</Delimiter>",
        enc(prefix),
        enc(delimiter)
    );
    if url_encode {
        out.push_str("<EncodingType>url</EncodingType>");
    }
    if v2 {
        if let Some(t) = req.param("continuation-token") {
            out.push_str(&format!(
                "<ContinuationToken>{}</ContinuationToken>",
                enc(t)
            ));
        }
        if let Some(s) = req.param("start-after") {
            out.push_str(&format!("<StartAfter>{}</StartAfter>", enc(s)));
        }
        out.push_str(&format!(
            "<KeyCount>{}</KeyCount>",
            contents.len() + prefixes.len()
        ));
    } else {
        out.push_str(&format!("<Marker>{}</Marker>", enc(marker)));
    }
    out.push_str(&format!("<IsTruncated>{truncated}</IsTruncated>"));
    if truncated {
        if v2 {
            out.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                enc(&last)
            ));
        } else {
            out.push_str(&format!("<NextMarker>{}</NextMarker>", enc(&last)));
        }
    }
    let owner = !v2 || req.param("fetch-owner") == Some("true");
    for entry in contents {
        let (_, meta, _) = objects.head(bucket, &entry.key).await?;
        out.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Type>{}</Type><Size>{}</Size><StorageClass>Standard</StorageClass>",
            enc(&entry.key),
            xml_time(entry.modified),
            escape(&meta.etag),
            meta.object_type,
            entry.size
        ));
        if owner {
            out.push_str(&format!(
                "<Owner><ID>{account}</ID><DisplayName>{account}</DisplayName></Owner>"
            ));
        }
        out.push_str("</Contents>");
    }
    for p in prefixes {
        out.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            enc(&p)
        ));
    }
    out.push_str("</ListBucketResult>");
    Ok(xml_response(out))
}

async fn delete_multiple(
    objects: &Objects<'_>,
    req: &OssRequest,
    body: Body,
) -> Result<Response, OssError> {
    let xml = read_small_body(body).await?;
    if let Some(sent) = req.header("content-md5") {
        use base64::Engine;
        use md5::{Digest, Md5};
        if base64::engine::general_purpose::STANDARD.encode(Md5::digest(xml.as_bytes()))
            != sent.trim()
        {
            return Err(OssError::new(OssCode::InvalidDigest));
        }
    }
    let quiet = xml::element(&xml, "Quiet").is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let url_encode = req.param("encoding-type") == Some("url");
    let keys = xml::elements(&xml, "Key");
    if keys.is_empty() || keys.len() > MAX_DELETE {
        return Err(OssError::new(OssCode::MalformedXML));
    }
    let mut out = String::from("<DeleteResult>");
    if url_encode {
        out.push_str("<EncodingType>url</EncodingType>");
    }
    for key in keys {
        let key = if url_encode {
            percent_decode_str(&key).decode_utf8_lossy().into_owned()
        } else {
            key
        };
        // A key that could not exist (it would leave the bucket) is simply not there.
        if check_key(&key).is_ok() {
            objects.delete(req.bucket(), &key).await?;
        }
        if !quiet {
            let shown = if url_encode {
                percent_encoding::utf8_percent_encode(&key, sign::RFC3986).to_string()
            } else {
                escape(&key)
            };
            out.push_str(&format!("<Deleted><Key>{shown}</Key></Deleted>"));
        }
    }
    out.push_str("</DeleteResult>");
    Ok(xml_response(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_oss_rules() {
        assert_eq!(parse_range("bytes=0-9", 100, false).unwrap(), Some((0, 9)));
        assert_eq!(
            parse_range("bytes=90-", 100, false).unwrap(),
            Some((90, 99))
        );
        assert_eq!(
            parse_range("bytes=-10", 100, false).unwrap(),
            Some((90, 99))
        );
        assert_eq!(parse_range("bytes=5-1", 100, false).unwrap(), None);
        assert_eq!(parse_range("bytes=100-", 100, false).unwrap(), None);
        assert_eq!(parse_range("bytes=50-200", 100, false).unwrap(), None);
        assert_eq!(
            parse_range("bytes=50-200", 100, true).unwrap(),
            Some((50, 99))
        );
        assert!(parse_range("bytes=100-", 100, true).is_err());
        assert_eq!(parse_range("items=1-2", 100, false).unwrap(), None);
    }

    #[test]
    fn classification_and_addressing() {
        let req = |uri: &str, headers: &[(&str, &str)]| {
            let mut b = axum::http::Request::builder().uri(uri);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap().into_parts().0
        };
        let p = req(
            "/b-1/a%2Fb%20c.mp4?uploads",
            &[("authorization", "OSS ak:sig")],
        );
        assert!(is_oss(&p.uri, &p.headers, None));
        let r = OssRequest::parse(&p, None).unwrap();
        assert_eq!((r.bucket(), r.key()), ("b-1", "a/b c.mp4"));
        let p = req(
            "/x/y.mp4",
            &[("host", "outin-1.oss-cn-shanghai.aliyuncs.com")],
        );
        assert!(is_oss(&p.uri, &p.headers, None));
        let r = OssRequest::parse(&p, None).unwrap();
        assert_eq!((r.bucket(), r.key()), ("outin-1", "x/y.mp4"));
        let p = req("/k", &[("host", "bkt.files.local:9000")]);
        assert!(is_oss(&p.uri, &p.headers, Some("files.local")));
        assert!(!is_oss(&p.uri, &p.headers, None));
        // ICE requests (also ICE's V2 `Signature` in the query) stay ICE.
        let p = req(
            "/?Action=GetMediaInfo&Signature=x",
            &[("host", "127.0.0.1:8080")],
        );
        assert!(!is_oss(&p.uri, &p.headers, None));
        let p = req("/b-1/..%2Fescape", &[("authorization", "OSS ak:sig")]);
        assert_eq!(
            OssRequest::parse(&p, None).err().unwrap().code,
            OssCode::InvalidObjectName
        );
    }
}
