//! Which requests are OSS requests, and what they ask for: the address (bucket and key, path
//! style or virtual host), the query and headers, and the typed operation.

use axum::http::{HeaderMap, Method, header};
use percent_encoding::percent_decode_str;

use super::error::{OssCode, OssError};
use super::objects::content_type_for;
use super::sign::{self, Signed};
use crate::domain::media::{check_bucket, check_key, is_oss_endpoint};

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
pub(super) enum OssOperation {
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
    pub(super) fn name(&self) -> &'static str {
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

pub(super) struct OssRequest {
    pub(super) method: Method,
    pub(super) bucket: Option<String>,
    pub(super) key: Option<String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

impl OssRequest {
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn signed(&self) -> Signed<'_> {
        Signed {
            method: self.method.as_str(),
            bucket: self.bucket.as_deref(),
            key: self.key.as_deref(),
            query: &self.query,
            headers: &self.headers,
        }
    }

    pub(super) fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or("")
    }

    pub(super) fn key(&self) -> &str {
        self.key.as_deref().unwrap_or("")
    }

    pub(super) fn user_meta(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.starts_with("x-oss-meta-"))
            .cloned()
            .collect()
    }

    pub(super) fn content_type(&self) -> String {
        self.header("content-type")
            .filter(|t| !t.is_empty())
            .map_or_else(|| content_type_for(self.key()), str::to_string)
    }

    /// Parses address, query and headers from the raw request (the path is decoded here,
    /// once: `%2F` is part of a key, and `//`, `.`, `..` are never normalised away).
    pub(super) fn parse(
        parts: &axum::http::request::Parts,
        domain: Option<&str>,
    ) -> Result<Self, OssError> {
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

    pub(super) fn operation(&self) -> Result<OssOperation, OssError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
