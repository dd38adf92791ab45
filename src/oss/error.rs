//! OSS error codes and their `<Error>` documents. OSS speaks XML with its own codes, so it
//! keeps its own small table next to the ICE one in `protocol::error`.

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::xml::escape;

macro_rules! oss_codes {
    ($($variant:ident => ($status:literal, $message:literal),)*) => {
        /// Every OSS error code openice answers with, with its status and OSS's message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum OssCode { $($variant,)* }

        impl OssCode {
            pub fn as_str(self) -> &'static str {
                match self { $(OssCode::$variant => stringify!($variant),)* }
            }
            pub fn status(self) -> u16 {
                match self { $(OssCode::$variant => $status,)* }
            }
            fn message(self) -> &'static str {
                match self { $(OssCode::$variant => $message,)* }
            }
        }
    };
}

oss_codes! {
    AccessDenied => (403, "You have no right to access this object."),
    SignatureDoesNotMatch => (403, "The request signature we calculated does not match the signature you provided. Check your key and signing method."),
    InvalidAccessKeyId => (403, "The OSS Access Key Id you provided does not exist in our records."),
    SecurityTokenExpired => (403, "The security token you provided has expired."),
    InvalidSecurityToken => (403, "The security token you provided is invalid."),
    RequestTimeTooSkewed => (403, "The difference between the request time and the current time is too large."),
    InvalidArgument => (400, "The request is not valid."),
    InvalidBucketName => (400, "The specified bucket is not valid."),
    InvalidObjectName => (400, "The specified object is not valid."),
    InvalidDigest => (400, "The Content-MD5 you specified is not valid."),
    MalformedXML => (400, "The XML you provided was not well-formed or did not validate against our published schema."),
    EntityTooSmall => (400, "Your proposed upload is smaller than the minimum allowed size."),
    InvalidPart => (400, "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."),
    InvalidPartOrder => (400, "The list of parts was not in ascending order."),
    NoSuchBucket => (404, "The specified bucket does not exist."),
    NoSuchKey => (404, "The specified key does not exist."),
    NoSuchUpload => (404, "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."),
    FileAlreadyExists => (409, "The object you specified already exists and can not be overwritten."),
    NotImplemented => (501, "A header or query you provided implies functionality that is not implemented."),
    InternalError => (500, "We encountered an internal error. Please try again."),
    ServiceUnavailable => (503, "The server is serving as many requests as it is allowed to (--max-in-flight). Please retry later."),
}

/// An OSS error: its code, a message (OSS's unless a more precise one is given) and the
/// extra elements OSS adds for some codes (`Key`, `BucketName`, `StringToSign`, …).
#[derive(Debug)]
pub struct OssError {
    pub code: OssCode,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
}

impl OssError {
    pub fn new(code: OssCode) -> Self {
        OssError {
            code,
            message: code.message().to_string(),
            extra: Vec::new(),
        }
    }

    pub fn with_message(code: OssCode, message: impl Into<String>) -> Self {
        OssError {
            message: message.into(),
            ..OssError::new(code)
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "OSS request failed");
        OssError::new(OssCode::InternalError)
    }

    /// The `<Error>` document; for HEAD (no body) it travels base64-encoded in `x-oss-err`,
    /// which oss2 and ali-oss decode.
    pub fn response(&self, method: &Method, request_id: &str, host: &str) -> Response {
        let mut xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId><HostId>{}</HostId>",
            self.code.as_str(),
            escape(&self.message),
            escape(host),
        );
        for (name, value) in &self.extra {
            xml.push_str(&format!("<{name}>{}</{name}>", escape(value)));
        }
        xml.push_str("</Error>");
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = if *method == Method::HEAD {
            let mut r = Response::new(Body::empty());
            if let Ok(v) = HeaderValue::from_str(&STANDARD.encode(&xml)) {
                r.headers_mut().insert("x-oss-err", v);
            }
            r
        } else {
            let mut r = Response::new(Body::from(xml));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            r
        };
        *response.status_mut() = status;
        response
    }
}

impl From<std::io::Error> for OssError {
    fn from(e: std::io::Error) -> Self {
        OssError::internal(e)
    }
}

impl From<crate::store::StoreError> for OssError {
    fn from(e: crate::store::StoreError) -> Self {
        OssError::internal(e)
    }
}
