//! Service and bucket operations: ListBuckets, PutBucket, GetBucketInfo, GetBucketLocation,
//! ListObjects (v1 and v2) and DeleteMultipleObjects.

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;

use super::error::{OssCode, OssError};
use super::objects::{Entry, Objects};
use super::request::OssRequest;
use super::sign;
use super::xml::{self, escape, read_small_body, xml_time};
use super::{empty, xml_response};
use crate::actions::Ctx;
use crate::domain::media::{check_bucket, check_key};

const MAX_KEYS: usize = 1000;
const MAX_DELETE: usize = 1000;

/// Claims the bucket (already done by the caller) and creates its folder.
pub(super) async fn put(ctx: &Ctx, req: &OssRequest) -> Result<Response, OssError> {
    tokio::fs::create_dir_all(ctx.storage.path(req.bucket(), "")).await?;
    Ok(empty(StatusCode::OK))
}

pub(super) fn info(ctx: &Ctx, req: &OssRequest, account: &str) -> Response {
    xml_response(format!(
        "<BucketInfo><Bucket><Name>{}</Name><Location>oss-{region}</Location>\
         <Region>{region}</Region><ExtranetEndpoint>oss-{region}.aliyuncs.com</ExtranetEndpoint>\
         <IntranetEndpoint>oss-{region}-internal.aliyuncs.com</IntranetEndpoint>\
         <CreationDate>{}</CreationDate><StorageClass>Standard</StorageClass>\
         <Owner><ID>{account}</ID><DisplayName>{account}</DisplayName></Owner>\
         <AccessControlList><Grant>private</Grant></AccessControlList></Bucket></BucketInfo>",
        req.bucket(),
        xml_time(OffsetDateTime::now_utc()),
        region = ctx.region,
    ))
}

pub(super) fn location(ctx: &Ctx) -> Response {
    xml_response(format!(
        "<LocationConstraint>oss-{}</LocationConstraint>",
        ctx.region
    ))
}

pub(super) async fn list_buckets(ctx: &Ctx, account: &str) -> Result<Response, OssError> {
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

pub(super) async fn list_objects(
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

pub(super) async fn delete_multiple(
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
