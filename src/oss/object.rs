//! Object operations: PutObject, CopyObject, GetObject (with Range), HeadObject,
//! GetObjectMeta and DeleteObject.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::error::{OssCode, OssError};
use super::objects::{ObjectMeta, Objects, quoted_hex};
use super::request::OssRequest;
use super::xml::{escape, http_date, xml_time};
use super::{empty, object_written, set, set_crc64, xml_response};
use crate::actions::Ctx;

pub(super) async fn put(
    ctx: &Ctx,
    objects: &Objects<'_>,
    req: &OssRequest,
    body: Body,
) -> Result<Response, OssError> {
    let (bucket, key) = (req.bucket(), req.key());
    if req.header("x-oss-forbid-overwrite") == Some("true")
        && objects.head(bucket, key).await.is_ok()
    {
        return Err(OssError::new(OssCode::FileAlreadyExists));
    }
    let received = objects.receive(body, req.header("content-md5")).await?;
    let meta = ObjectMeta {
        etag: quoted_hex(&received.digests.md5),
        content_type: req.content_type(),
        size: received.size,
        object_type: "Normal".into(),
        user_meta: req.user_meta(),
        crc64: Some(received.digests.crc64),
    };
    objects.commit(received.path, bucket, key, &meta).await?;
    object_written(ctx, bucket, key).await?;
    let mut r = empty(StatusCode::OK);
    set(&mut r, "etag", &meta.etag);
    set_crc64(&mut r, meta.crc64);
    Ok(r)
}

/// Copies `src_bucket`/`src_key` (already checked to be the caller's) to the request's object;
/// `x-oss-metadata-directive: REPLACE` takes Content-Type and `x-oss-meta-*` from the request.
pub(super) async fn copy(
    ctx: &Ctx,
    objects: &Objects<'_>,
    req: &OssRequest,
    src_bucket: &str,
    src_key: &str,
) -> Result<Response, OssError> {
    let (bucket, key) = (req.bucket(), req.key());
    let (path, src_meta, _) = objects.head(src_bucket, src_key).await?;
    let received = objects.copy_to_temp(&path).await?;
    let replace = req
        .header("x-oss-metadata-directive")
        .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    let meta = ObjectMeta {
        etag: quoted_hex(&received.digests.md5),
        crc64: Some(received.digests.crc64),
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
    objects.commit(received.path, bucket, key, &meta).await?;
    object_written(ctx, bucket, key).await?;
    let mut r = xml_response(format!(
        "<CopyObjectResult><ETag>{}</ETag><LastModified>{}</LastModified></CopyObjectResult>",
        escape(&meta.etag),
        xml_time(OffsetDateTime::now_utc())
    ));
    set(&mut r, "etag", &meta.etag);
    set_crc64(&mut r, meta.crc64);
    Ok(r)
}

/// HeadObject (`full`) or GetObjectMeta (ETag, Last-Modified and size only).
pub(super) async fn head(
    objects: &Objects<'_>,
    req: &OssRequest,
    full: bool,
) -> Result<Response, OssError> {
    let (_, meta, modified) = objects.head(req.bucket(), req.key()).await?;
    let mut r = empty(StatusCode::OK);
    object_headers(&mut r, &meta, modified, full);
    set(&mut r, "content-length", &meta.size.to_string());
    Ok(r)
}

pub(super) async fn delete(objects: &Objects<'_>, req: &OssRequest) -> Result<Response, OssError> {
    objects.delete(req.bucket(), req.key()).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

fn object_headers(r: &mut Response, meta: &ObjectMeta, modified: OffsetDateTime, full: bool) {
    set(r, "etag", &meta.etag);
    set_crc64(r, meta.crc64);
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

pub(super) async fn get(objects: &Objects<'_>, req: &OssRequest) -> Result<Response, OssError> {
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
    // 1 MiB reads: one blocking file read per MiB sent, not one per 256 KiB.
    let stream = tokio_util::io::ReaderStream::with_capacity(file.take(len), 1 << 20);
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
}
