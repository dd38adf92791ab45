//! OSS request signatures: V1 (`OSS ak:sig`, HMAC-SHA1) and V4 (`OSS4-HMAC-SHA256`), each
//! in the Authorization header or in a presigned URL's query.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::error::{OssCode, OssError};

/// RFC 3986 unreserved characters stay; everything else is escaped (V4, as in ICE
/// signatures).
pub use crate::protocol::sign::RFC3986;

/// The query parameters V1 signs (oss2 `ProviderAuth._subresource_key_set`); others such as
/// `prefix` or `max-keys` are not part of the signature.
const SUBRESOURCES: &[&str] = &[
    "response-content-type",
    "response-content-language",
    "response-cache-control",
    "logging",
    "response-content-encoding",
    "acl",
    "uploadId",
    "uploads",
    "partNumber",
    "group",
    "link",
    "delete",
    "website",
    "location",
    "objectInfo",
    "objectMeta",
    "response-expires",
    "response-content-disposition",
    "cors",
    "lifecycle",
    "restore",
    "qos",
    "referer",
    "stat",
    "bucketInfo",
    "append",
    "position",
    "security-token",
    "live",
    "comp",
    "status",
    "vod",
    "startTime",
    "endTime",
    "x-oss-process",
    "symlink",
    "callback",
    "callback-var",
    "tagging",
    "encryption",
    "versions",
    "versioning",
    "versionId",
    "policy",
    "requestPayment",
    "x-oss-traffic-limit",
    "qosInfo",
    "asyncFetch",
    "x-oss-request-payer",
    "sequential",
    "inventory",
    "inventoryId",
    "continuation-token",
    "worm",
    "wormId",
    "wormExtend",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "transferAcceleration",
    "cname",
    "metaQuery",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow",
    "resourceGroup",
    "style",
    "styleName",
    "x-oss-async-process",
    "regionList",
    "x-oss-write-get-object-response",
    "bucketArchiveDirectRead",
    "httpsConfig",
    "redundancyTransition",
    "x-oss-target-redundancy-type",
    "x-oss-redundancy-transition-taskid",
    "accessPoint",
    "accessPointPolicy",
    "publicAccessBlock",
    "x-oss-access-point-name",
    "requesterQosInfo",
    "qosRequester",
    "resourcePoolInfo",
    "resourcePool",
    "resourcePoolBuckets",
];

/// Whether V1 signs this query parameter.
pub fn is_subresource(name: &str) -> bool {
    SUBRESOURCES.contains(&name)
}

const V4_ALGORITHM: &str = "OSS4-HMAC-SHA256";
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// [`RFC3986`] with `/` kept, for the V4 canonical URI.
const RFC3986_PATH: &AsciiSet = &RFC3986.remove(b'/');

/// What a signature covers: the request as the client addressed it, with the path and
/// query already percent-decoded and headers lower-cased.
pub struct Signed<'a> {
    pub method: &'a str,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    pub query: &'a [(String, String)],
    pub headers: &'a [(String, String)],
}

impl Signed<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `/bucket/key`, `/bucket/` for bucket operations, `/` for the service.
    fn resource(&self) -> String {
        match self.bucket {
            None => "/".to_string(),
            Some(b) => format!("/{b}/{}", self.key.unwrap_or("")),
        }
    }
}

/// How a request claims to be signed.
#[derive(Debug, PartialEq)]
pub enum Claim {
    V1 {
        access_key_id: String,
        signature: String,
        /// Presigned: the absolute Unix expiry, which is also the signed date line.
        expires: Option<i64>,
    },
    V4 {
        access_key_id: String,
        /// `yyyymmddTHHMMSSZ`.
        date: String,
        region: String,
        additional_headers: Vec<String>,
        signature: String,
        /// Presigned: lifetime in seconds from `date`.
        expires: Option<i64>,
    },
}

impl Claim {
    /// The claim a request makes; None when it carries no OSS signature at all.
    pub fn parse(req: &Signed) -> Result<Option<Claim>, OssError> {
        let malformed = |what: &str| {
            OssError::with_message(OssCode::InvalidArgument, format!("Authorization {what}"))
        };
        if let Some(auth) = req.header("authorization") {
            if let Some(rest) = auth.strip_prefix("OSS ") {
                let (ak, sig) = rest
                    .trim()
                    .rsplit_once(':')
                    .ok_or_else(|| malformed("header is not OSS <AccessKeyId>:<Signature>."))?;
                return Ok(Some(Claim::V1 {
                    access_key_id: ak.to_string(),
                    signature: sig.to_string(),
                    expires: None,
                }));
            }
            if let Some(rest) = auth.strip_prefix(V4_ALGORITHM) {
                let mut credential = None;
                let mut additional = "";
                let mut signature = None;
                for field in rest.split(',') {
                    match field.trim().split_once('=') {
                        Some(("Credential", v)) => credential = Some(v),
                        Some(("AdditionalHeaders", v)) => additional = v,
                        Some(("Signature", v)) => signature = Some(v),
                        _ => {}
                    }
                }
                let date = req
                    .header("x-oss-date")
                    .ok_or_else(|| malformed("needs the x-oss-date header."))?;
                return Self::v4(
                    credential.ok_or_else(|| malformed("has no Credential."))?,
                    date,
                    additional,
                    signature.ok_or_else(|| malformed("has no Signature."))?,
                    None,
                )
                .map(Some);
            }
            return Err(malformed("uses an unknown signature method."));
        }
        if let Some(version) = req.param("x-oss-signature-version") {
            if version != V4_ALGORITHM {
                return Err(malformed("uses an unknown signature version."));
            }
            let need = |name: &str| {
                req.param(name).ok_or_else(|| {
                    OssError::with_message(
                        OssCode::AccessDenied,
                        format!("The presigned URL has no {name}."),
                    )
                })
            };
            let expires = need("x-oss-expires")?
                .parse::<i64>()
                .map_err(|_| malformed("has an invalid x-oss-expires."))?;
            return Self::v4(
                need("x-oss-credential")?,
                need("x-oss-date")?,
                req.param("x-oss-additional-headers").unwrap_or(""),
                need("x-oss-signature")?,
                Some(expires),
            )
            .map(Some);
        }
        if let Some(ak) = req.param("OSSAccessKeyId") {
            let (Some(expires), Some(signature)) = (req.param("Expires"), req.param("Signature"))
            else {
                return Err(OssError::with_message(
                    OssCode::AccessDenied,
                    "Presigned URLs need OSSAccessKeyId, Expires and Signature.",
                ));
            };
            return Ok(Some(Claim::V1 {
                access_key_id: ak.to_string(),
                signature: signature.to_string(),
                expires: Some(
                    expires
                        .parse()
                        .map_err(|_| malformed("has an invalid Expires."))?,
                ),
            }));
        }
        Ok(None)
    }

    fn v4(
        credential: &str,
        date: &str,
        additional: &str,
        signature: &str,
        expires: Option<i64>,
    ) -> Result<Claim, OssError> {
        // <AK>/<yyyymmdd>/<region>/oss/aliyun_v4_request; the AK itself may not contain '/'.
        let parts: Vec<&str> = credential.split('/').collect();
        let [ak, day, region, "oss", "aliyun_v4_request"] = parts[..] else {
            return Err(OssError::with_message(
                OssCode::InvalidArgument,
                "The V4 Credential is not <AccessKeyId>/<date>/<region>/oss/aliyun_v4_request.",
            ));
        };
        if !date.starts_with(day) || day.len() != 8 {
            return Err(OssError::with_message(
                OssCode::InvalidArgument,
                "The V4 Credential's date does not match x-oss-date.",
            ));
        }
        let mut additional_headers: Vec<String> = additional
            .split(';')
            .filter(|h| !h.is_empty())
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        additional_headers.sort();
        Ok(Claim::V4 {
            access_key_id: ak.to_string(),
            date: date.to_string(),
            region: region.to_string(),
            additional_headers,
            signature: signature.to_string(),
            expires,
        })
    }

    pub fn access_key_id(&self) -> &str {
        match self {
            Claim::V1 { access_key_id, .. } | Claim::V4 { access_key_id, .. } => access_key_id,
        }
    }

    /// The STS token the request carries, where its form puts it.
    pub fn security_token<'r>(&self, req: &'r Signed) -> Option<&'r str> {
        req.header("x-oss-security-token").or_else(|| match self {
            Claim::V1 {
                expires: Some(_), ..
            } => req.param("security-token"),
            Claim::V4 {
                expires: Some(_), ..
            } => req.param("x-oss-security-token"),
            _ => None,
        })
    }

    /// Refuses requests outside ±`window` (header forms) or past their expiry (presigned).
    pub fn check_time(
        &self,
        req: &Signed,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(), OssError> {
        let expired = || OssError::with_message(OssCode::AccessDenied, "Request has expired.");
        let signed_at = match self {
            Claim::V1 {
                expires: Some(e), ..
            } => {
                return if now.unix_timestamp() <= *e {
                    Ok(())
                } else {
                    Err(expired())
                };
            }
            Claim::V1 { expires: None, .. } => {
                let line = req
                    .header("x-oss-date")
                    .or_else(|| req.header("date"))
                    .ok_or_else(|| {
                        OssError::with_message(
                            OssCode::AccessDenied,
                            "You must specify a Date or x-oss-date header.",
                        )
                    })?;
                super::xml::parse_http_date(line).ok_or_else(|| {
                    OssError::with_message(
                        OssCode::AccessDenied,
                        "The Date header is not an RFC 1123 date.",
                    )
                })?
            }
            Claim::V4 { date, expires, .. } => {
                let at = time::PrimitiveDateTime::parse(
                    date,
                    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
                )
                .map_err(|_| {
                    OssError::with_message(
                        OssCode::InvalidArgument,
                        "x-oss-date is not yyyymmddTHHMMSSZ.",
                    )
                })?
                .assume_utc();
                if let Some(e) = expires {
                    return if now <= at + time::Duration::seconds(*e) {
                        Ok(())
                    } else {
                        Err(expired())
                    };
                }
                at
            }
        };
        if (now - signed_at).abs() > window {
            return Err(OssError::new(OssCode::RequestTimeTooSkewed)
                .with("RequestTime", super::xml::http_date(signed_at))
                .with("ServerTime", super::xml::http_date(now)));
        }
        Ok(())
    }

    /// Recomputes the signature with `secret`; compares in constant time.
    pub fn verify(&self, req: &Signed, secret: &str) -> Result<(), OssError> {
        let (expected, provided, string_to_sign) = match self {
            Claim::V1 {
                signature,
                expires,
                access_key_id,
            } => {
                let sts = v1_string_to_sign(req, expires.map(|e| e.to_string()).as_deref());
                let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
                mac.update(sts.as_bytes());
                let expected = STANDARD.encode(mac.finalize().into_bytes());
                if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
                    return Err(OssError::new(OssCode::SignatureDoesNotMatch)
                        .with("StringToSign", sts.clone())
                        .with("SignatureProvided", signature.clone())
                        .with("OSSAccessKeyId", access_key_id.clone()));
                }
                return Ok(());
            }
            Claim::V4 {
                date,
                region,
                additional_headers,
                signature,
                expires,
                ..
            } => {
                let canonical = v4_canonical_request(req, additional_headers, expires.is_some());
                let sts = v4_string_to_sign(date, region, &canonical);
                let key = v4_signing_key(secret, &date[..8], region);
                let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key");
                mac.update(sts.as_bytes());
                (
                    hex::encode(mac.finalize().into_bytes()),
                    signature.clone(),
                    sts,
                )
            }
        };
        if bool::from(expected.as_bytes().ct_eq(provided.as_bytes())) {
            Ok(())
        } else {
            Err(OssError::new(OssCode::SignatureDoesNotMatch)
                .with("StringToSign", string_to_sign)
                .with("SignatureProvided", provided))
        }
    }
}

/// V1: `VERB\nContent-MD5\nContent-Type\nDateLine\n` + `x-oss-*` headers + resource. The
/// date line is `x-oss-date`, else `Date`, or a presigned URL's `Expires`.
pub fn v1_string_to_sign(req: &Signed, presigned_expires: Option<&str>) -> String {
    let date = presigned_expires
        .or_else(|| req.header("x-oss-date"))
        .or_else(|| req.header("date"))
        .unwrap_or("");
    let mut out = format!(
        "{}\n{}\n{}\n{date}\n",
        req.method,
        req.header("content-md5").unwrap_or(""),
        req.header("content-type").unwrap_or(""),
    );
    let mut oss_headers: Vec<&(String, String)> = req
        .headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss_headers.sort();
    for (k, v) in oss_headers {
        out.push_str(&format!("{k}:{}\n", v.trim()));
    }
    out.push_str(&req.resource());
    let mut subresources: Vec<&(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subresources.sort();
    for (i, (k, v)) in subresources.into_iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

pub fn v4_canonical_request(req: &Signed, additional: &[String], presigned: bool) -> String {
    let uri = utf8_percent_encode(&req.resource(), RFC3986_PATH).to_string();
    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !(presigned && k == "x-oss-signature"))
        .map(|(k, v)| {
            (
                utf8_percent_encode(k, RFC3986).to_string(),
                utf8_percent_encode(v, RFC3986).to_string(),
            )
        })
        .collect();
    query.sort();
    let query: Vec<String> = query
        .into_iter()
        .map(|(k, v)| if v.is_empty() { k } else { format!("{k}={v}") })
        .collect();
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| {
            k.starts_with("x-oss-")
                || k == "content-type"
                || k == "content-md5"
                || additional.contains(k)
        })
        .map(|(k, v)| (k.as_str(), v.trim()))
        .collect();
    headers.sort();
    let mut out = format!("{}\n{uri}\n{}\n", req.method, query.join("&"));
    for (k, v) in headers {
        out.push_str(&format!("{k}:{v}\n"));
    }
    let payload = req
        .header("x-oss-content-sha256")
        .unwrap_or(UNSIGNED_PAYLOAD);
    out.push_str(&format!("\n{}\n{payload}", additional.join(";")));
    out
}

pub fn v4_string_to_sign(date: &str, region: &str, canonical_request: &str) -> String {
    format!(
        "{V4_ALGORITHM}\n{date}\n{}/{region}/oss/aliyun_v4_request\n{}",
        &date[..8.min(date.len())],
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

pub fn v4_signing_key(secret: &str, day: &str, region: &str) -> Vec<u8> {
    let step = |key: &[u8], data: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let k = step(format!("aliyun_v4{secret}").as_bytes(), day);
    let k = step(&k, region);
    let k = step(&k, "oss");
    step(&k, "aliyun_v4_request")
}

#[cfg(test)]
mod tests {
    //! Vectors computed with oss2 2.19.1's own signing code (clock frozen), as recorded in
    //! tests/fixtures/oss-signing-vectors.json.
    use super::*;

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/oss-signing-vectors.json"
        ))
        .unwrap()
    }

    fn pairs(v: &serde_json::Value) -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn sdk_vectors() {
        let f = fixture();
        let secret = f["secret"].as_str().unwrap();
        for case in f["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let headers = pairs(&case["headers"]);
            let query = pairs(&case["query"]);
            let req = Signed {
                method: case["method"].as_str().unwrap(),
                bucket: Some(f["bucket"].as_str().unwrap()),
                key: Some(f["key"].as_str().unwrap()),
                query: &query,
                headers: &headers,
            };
            let claim = Claim::parse(&req).unwrap().expect(name);
            let expected = case["string_to_sign"].as_str();
            match &claim {
                Claim::V1 { expires, .. } => {
                    let sts = v1_string_to_sign(&req, expires.map(|e| e.to_string()).as_deref());
                    if let Some(expected) = expected {
                        assert_eq!(sts, expected, "{name}");
                    }
                }
                Claim::V4 {
                    date,
                    region,
                    additional_headers,
                    expires,
                    ..
                } => {
                    let canonical =
                        v4_canonical_request(&req, additional_headers, expires.is_some());
                    if let Some(expected) = expected {
                        assert_eq!(v4_string_to_sign(date, region, &canonical), expected);
                    }
                    if let Some(k) = case["signing_key"].as_str() {
                        assert_eq!(hex::encode(v4_signing_key(secret, &date[..8], region)), k);
                    }
                }
            }
            claim.verify(&req, secret).expect(name);
            let err = claim.verify(&req, "wrong").unwrap_err();
            assert_eq!(err.code, OssCode::SignatureDoesNotMatch, "{name}");
        }
    }

    #[test]
    fn presigned_expiry_and_skew() {
        let q = vec![
            ("OSSAccessKeyId".to_string(), "ak".to_string()),
            ("Expires".to_string(), "1000".to_string()),
            ("Signature".to_string(), "x".to_string()),
        ];
        let req = Signed {
            method: "GET",
            bucket: Some("b"),
            key: Some("k"),
            query: &q,
            headers: &[],
        };
        let claim = Claim::parse(&req).unwrap().unwrap();
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        let window = time::Duration::minutes(15);
        assert!(claim.check_time(&req, at(1000), window).is_ok());
        assert_eq!(
            claim.check_time(&req, at(1001), window).unwrap_err().code,
            OssCode::AccessDenied
        );
        let h = vec![(
            "date".to_string(),
            "Wed, 01 Jan 2025 00:00:00 GMT".to_string(),
        )];
        let auth = vec![("authorization".to_string(), "OSS ak:sig".to_string())];
        let headers = [h, auth].concat();
        let req = Signed {
            headers: &headers,
            query: &[],
            ..req
        };
        let claim = Claim::parse(&req).unwrap().unwrap();
        assert!(claim.check_time(&req, at(1735689600 + 60), window).is_ok());
        assert_eq!(
            claim
                .check_time(&req, at(1735689600 + 3600), window)
                .unwrap_err()
                .code,
            OssCode::RequestTimeTooSkewed
        );
    }
}
