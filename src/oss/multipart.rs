//! Multipart upload operations: InitiateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload and ListParts (the parts themselves live in `objects`).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;

use super::error::{OssCode, OssError};
use super::objects::Objects;
use super::request::OssRequest;
use super::uploads::Upload;
use super::xml::{self, escape, read_small_body, xml_time};
use super::{empty, object_written, set, set_crc64, xml_response};
use crate::actions::Ctx;

pub(super) async fn initiate(
    objects: &Objects<'_>,
    req: &OssRequest,
) -> Result<Response, OssError> {
    let (bucket, key) = (req.bucket(), req.key());
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

pub(super) async fn upload_part(
    objects: &Objects<'_>,
    req: &OssRequest,
    upload_id: &str,
    part_number: u32,
    body: Body,
) -> Result<Response, OssError> {
    objects.upload(upload_id, req.bucket(), req.key()).await?;
    let declared = req
        .header("content-length")
        .and_then(|n| n.trim().parse().ok());
    let (etag, crc64) = objects
        .receive_part(
            upload_id,
            part_number,
            declared,
            body,
            req.header("content-md5"),
        )
        .await?;
    let mut r = empty(StatusCode::OK);
    set(&mut r, "etag", &etag);
    set_crc64(&mut r, Some(crc64));
    Ok(r)
}

pub(super) async fn complete(
    ctx: &Ctx,
    objects: &Objects<'_>,
    req: &OssRequest,
    upload_id: &str,
    body: Body,
) -> Result<Response, OssError> {
    let (bucket, key) = (req.bucket(), req.key());
    let upload = objects.upload(upload_id, bucket, key).await?;
    let xml = read_small_body(body).await?;
    let mut listed = Vec::new();
    for part in xml::elements(&xml, "Part") {
        let number = xml::element(&part, "PartNumber").and_then(|n| n.trim().parse().ok());
        match (number, xml::element(&part, "ETag")) {
            (Some(n), Some(etag)) => listed.push((n, etag)),
            _ => return Err(OssError::new(OssCode::MalformedXML)),
        }
    }
    let (etag, crc64) = objects.complete(upload_id, &upload, &listed).await?;
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
    set_crc64(&mut r, crc64);
    Ok(r)
}

pub(super) async fn abort(
    objects: &Objects<'_>,
    req: &OssRequest,
    upload_id: &str,
) -> Result<Response, OssError> {
    objects.upload(upload_id, req.bucket(), req.key()).await?;
    objects.abort(upload_id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(super) async fn list_parts(
    objects: &Objects<'_>,
    req: &OssRequest,
    upload_id: &str,
) -> Result<Response, OssError> {
    let (bucket, key) = (req.bucket(), req.key());
    objects.upload(upload_id, bucket, key).await?;
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
        .parts(upload_id)
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
            "<Part><PartNumber>{}</PartNumber><LastModified>{}</LastModified><ETag>{}</ETag>{}<Size>{}</Size></Part>",
            p.number,
            xml_time(p.modified),
            escape(&p.etag),
            p.crc64
                .map(|c| format!("<HashCrc64ecma>{c}</HashCrc64ecma>"))
                .unwrap_or_default(),
            p.size
        ));
    }
    out.push_str("</ListPartsResult>");
    Ok(xml_response(out))
}
