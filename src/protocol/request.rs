//! Turns the bytes of an RPC request into an [`RpcRequest`]: action, version, API parameters
//! and the signature claim, which the server checks against the caller's secret.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{ApiError, ErrorCode};
use super::params::Params;
use super::sign::{self, SignError, V3Authorization, V3Canonical, V3Input};

pub const API_VERSION: &str = "2020-11-09";

/// The parts of an HTTP request the protocol needs; headers keep their received order.
/// Header names and values are any string type (borrowed from the HTTP layer by the server).
pub struct HttpParts<'a, H = String> {
    pub method: &'a str,
    pub path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a [(H, H)],
    pub body: &'a [u8],
}

impl<H: AsRef<str>> HttpParts<'_, H> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// What the client claims about its identity, ready to be checked with the secret.
#[derive(Debug)]
pub enum SignatureClaim {
    V3 {
        auth: V3Authorization,
        canonical: V3Canonical,
        date: String,
        nonce: String,
    },
    V2 {
        access_key_id: String,
        string_to_sign: String,
        signature: String,
        timestamp: String,
        nonce: String,
    },
}

impl SignatureClaim {
    pub fn access_key_id(&self) -> &str {
        match self {
            SignatureClaim::V3 { auth, .. } => &auth.access_key_id,
            SignatureClaim::V2 { access_key_id, .. } => access_key_id,
        }
    }

    pub fn nonce(&self) -> &str {
        match self {
            SignatureClaim::V3 { nonce, .. } | SignatureClaim::V2 { nonce, .. } => nonce,
        }
    }

    /// Checks the signature with the caller's secret, in constant time.
    pub fn verify(&self, secret: &str) -> Result<(), ApiError> {
        let (expected, provided, string_to_sign) = match self {
            SignatureClaim::V3 {
                auth, canonical, ..
            } => (
                sign::v3_signature(secret, &canonical.string_to_sign),
                auth.signature.as_str(),
                canonical.string_to_sign.as_str(),
            ),
            SignatureClaim::V2 {
                string_to_sign,
                signature,
                ..
            } => (
                sign::v2_signature(secret, string_to_sign),
                signature.as_str(),
                string_to_sign.as_str(),
            ),
        };
        if sign::signatures_match(&expected, provided) {
            Ok(())
        } else {
            Err(signature_mismatch(string_to_sign))
        }
    }

    /// The signed request time, checked to lie within `window` of `now`.
    pub fn check_time(
        &self,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<OffsetDateTime, ApiError> {
        let (raw, name) = match self {
            SignatureClaim::V3 { date, .. } => (date.as_str(), "x-acs-date"),
            SignatureClaim::V2 { timestamp, .. } => (timestamp.as_str(), "Timestamp"),
        };
        let at = OffsetDateTime::parse(raw, &Rfc3339).map_err(|_| {
            ApiError::new(
                ErrorCode::InvalidTimeStampFormat,
                format!("Specified time stamp or date value \"{name}\" is not well formatted."),
            )
        })?;
        if (at - now).abs() > window {
            return Err(expired());
        }
        Ok(at)
    }
}

pub fn expired() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidTimeStampExpired,
        "Specified time stamp or date value is expired.",
    )
}

fn signature_mismatch(string_to_sign: &str) -> ApiError {
    ApiError::new(
        ErrorCode::SignatureDoesNotMatch,
        format!(
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
        ),
    )
}

fn incomplete(reason: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::IncompleteSignature,
        format!("The request signature does not conform to Aliyun standards. {reason}"),
    )
}

fn from_sign_error(e: SignError) -> ApiError {
    match e {
        SignError::Incomplete(reason) => incomplete(reason),
        SignError::ContentHashMismatch => {
            signature_mismatch("(x-acs-content-sha256 does not match the body)")
        }
        SignError::InvalidEncoding(what) => {
            ApiError::invalid(&what, "It is not valid percent-encoded UTF-8.")
        }
    }
}

/// A parsed, not yet authenticated request.
#[derive(Debug)]
pub struct RpcRequest {
    pub action: String,
    pub version: String,
    pub params: Params,
    pub claim: SignatureClaim,
    pub security_token: bool,
}

pub fn parse<H: AsRef<str>>(http: &HttpParts<'_, H>) -> Result<RpcRequest, ApiError> {
    let query = sign::decode_form(http.raw_query.as_bytes()).map_err(from_sign_error)?;
    let is_form = http
        .header("content-type")
        .is_none_or(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        sign::decode_form(http.body).map_err(from_sign_error)?
    } else {
        Vec::new()
    };
    let all = Params::from_pairs(query.iter().chain(body.iter()).cloned())?;

    let authorization = http.header("authorization");
    let is_v3 = authorization.is_some_and(|a| a.starts_with("ACS3-"));
    let (claim, security_token) = match authorization {
        Some(value) if is_v3 => {
            let auth = sign::parse_v3_authorization(value).map_err(from_sign_error)?;
            // The vendor requires content-type to be signed when sent: it decides
            // whether the body's parameters are read at all.
            if http.header("content-type").is_some()
                && !auth.signed_headers.iter().any(|h| h == "content-type")
            {
                return Err(incomplete("The header \"content-type\" must be signed."));
            }
            let input = V3Input {
                method: http.method,
                path: http.path,
                query: &query,
                headers: http.headers,
                body: http.body,
            };
            let canonical = match sign::v3_string_to_sign(&input, &auth) {
                Err(SignError::ContentHashMismatch) => {
                    let ours = sign::v3_string_to_sign_unchecked(&input, &auth)
                        .map_err(from_sign_error)?;
                    return Err(signature_mismatch(&ours.string_to_sign));
                }
                other => other.map_err(from_sign_error)?,
            };
            let claim = SignatureClaim::V3 {
                date: single_header(http, "x-acs-date")?,
                nonce: single_header(http, "x-acs-signature-nonce")?,
                auth,
                canonical,
            };
            (claim, http.header("x-acs-security-token").is_some())
        }
        _ if all.raw("Signature").is_some() => {
            let signed: Vec<(String, String)> = query
                .iter()
                .chain(body.iter())
                .filter(|(k, _)| k != "Signature")
                .cloned()
                .collect();
            let claim = SignatureClaim::V2 {
                access_key_id: all.required("AccessKeyId")?.to_string(),
                signature: all.required("Signature")?.to_string(),
                timestamp: all.required("Timestamp")?.to_string(),
                nonce: all.required("SignatureNonce")?.to_string(),
                string_to_sign: sign::v2_string_to_sign(http.method, &signed),
            };
            (claim, all.raw("SecurityToken").is_some())
        }
        Some(_) => {
            return Err(incomplete(
                "The Authorization header is not ACS3-HMAC-SHA256.",
            ));
        }
        None => return Err(incomplete("The request is not signed.")),
    };

    // Act only on what the signature covers. V3 signs the x-acs-action/x-acs-version
    // headers (required above); V2 signs only the parameters, so there its headers are at
    // most an unsigned echo of them (the SDK sends both), and an echo that disagrees is
    // refused rather than obeyed.
    let (action, version) = if is_v3 {
        (
            single_header(http, "x-acs-action")?,
            single_header(http, "x-acs-version")?,
        )
    } else {
        let action = all.required("Action")?.to_string();
        let version = all.required("Version")?.to_string();
        for (header, signed) in [("x-acs-action", &action), ("x-acs-version", &version)] {
            if http.headers.iter().any(|(k, v)| {
                k.as_ref().eq_ignore_ascii_case(header) && v.as_ref().trim() != signed.as_str()
            }) {
                return Err(incomplete(format!(
                    "The unsigned header \"{header}\" disagrees with the signed parameters."
                )));
            }
        }
        (action, version)
    };
    Ok(RpcRequest {
        action,
        version,
        params: all,
        claim,
        security_token,
    })
}

/// A signed header the server acts on: present exactly once, so the value acted on is the
/// value signed (a repeated header is signed as the joined values).
fn single_header<H: AsRef<str>>(http: &HttpParts<'_, H>, name: &str) -> Result<String, ApiError> {
    let mut values = http
        .headers
        .iter()
        .filter(|(k, _)| k.as_ref().eq_ignore_ascii_case(name));
    match (values.next(), values.next()) {
        (Some((_, v)), None) => Ok(v.as_ref().trim().to_string()),
        (None, _) => Err(incomplete(format!("The header \"{name}\" is missing."))),
        (Some(_), Some(_)) => Err(incomplete(format!(
            "The header \"{name}\" is sent more than once."
        ))),
    }
}

pub fn check_version(version: &str) -> Result<(), ApiError> {
    if version == API_VERSION {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::InvalidVersion,
            format!(
                "Specified parameter Version \"{version}\" is not valid; openice speaks {API_VERSION}."
            ),
        ))
    }
}
