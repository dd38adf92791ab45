//! The one place where vendor error codes meet HTTP statuses.

use std::sync::Arc;

use serde::Serialize;

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal),)*) => {
        /// Every error code openice answers with, spelled as the vendor spells it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode { $($variant,)* }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }
            pub fn status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }
            /// Every code with its status, for docs and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];
        }
    };
}

error_codes! {
    MissingParameter => ("MissingParameter", 400),
    InvalidParameter => ("InvalidParameter", 400),
    ProjectNotFound => ("ProjectNotFound", 404),
    MediaAlreadyExist => ("MediaAlreadyExist", 409),
    NoMatchedInputUrl => ("NoMatchedInputUrl", 404),
    InvalidActionNotFound => ("InvalidAction.NotFound", 404),
    InvalidVersion => ("InvalidVersion", 400),
    InvalidAccessKeyIdNotFound => ("InvalidAccessKeyId.NotFound", 404),
    InvalidAccessKeyIdInactive => ("InvalidAccessKeyId.Inactive", 403),
    SignatureDoesNotMatch => ("SignatureDoesNotMatch", 400),
    IncompleteSignature => ("IncompleteSignature", 400),
    SignatureNonceUsed => ("SignatureNonceUsed", 400),
    InvalidTimeStampExpired => ("InvalidTimeStamp.Expired", 400),
    InvalidTimeStampFormat => ("InvalidTimeStamp.Format", 400),
    ThrottlingUser => ("Throttling.User", 400),
    ServiceUnavailable => ("ServiceUnavailable", 503),
    InternalError => ("InternalError", 500),
}

/// What caused an error on our side (a store or serialisation failure): logged with the
/// request, never answered.
pub type Source = Arc<dyn std::error::Error + Send + Sync>;

/// An error answered to the client. Built only through the constructors below so that
/// messages keep the vendor's wording and name the offending parameter.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub status: u16,
    pub message: String,
    /// The failure behind it, for the log line of the request it ends.
    pub source: Option<Source>,
}

/// Errors are equal when the client sees the same answer.
impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        (self.code, self.status, &self.message) == (other.code, other.status, &other.message)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            status: code.status(),
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `source` as the cause (logged, not answered).
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!(
                "The input parameter \"{param}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    pub fn invalid(param: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::InvalidParameter,
            format!("The specified parameter \"{param}\" is not valid. {reason}"),
        )
    }

    pub fn project_not_found() -> Self {
        Self::new(
            ErrorCode::ProjectNotFound,
            "The specified project not found",
        )
    }

    /// 413 keeps the `InvalidParameter` code (decisions.md: "Body over the limit").
    pub fn body_too_large(limit: usize) -> Self {
        ApiError {
            status: 413,
            ..Self::invalid("Body", format!("The request body exceeds {limit} bytes."))
        }
    }

    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalError,
            "The request processing has failed due to some unknown error.",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            "The request has failed due to a temporary failure of the server.",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code.as_str(),
            self.status,
            self.message
        )
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// An error with its `source` chain, for logs: `outer: inner: innermost`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        // Wrappers often repeat their source's text; say it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = inner.source();
    }
    out
}

/// The vendor's error body (decisions.md: JSON always).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody<'a> {
    pub request_id: &'a str,
    pub host_id: &'a str,
    pub code: &'a str,
    pub message: &'a str,
    pub recommend: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {}", code.as_str());
            assert!((400..600).contains(&code.status()));
        }
    }

    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../docs/errors.md");
        for code in ErrorCode::ALL {
            let row = format!("| `{}` | {} |", code.as_str(), code.status());
            assert!(doc.contains(&row), "docs/errors.md lacks {row}");
        }
    }

    #[test]
    fn messages_name_the_parameter() {
        assert_eq!(
            ApiError::missing("Title").message,
            "The input parameter \"Title\" that is mandatory for processing this request is not supplied."
        );
        let e = ApiError::invalid("PageSize", "It must be between 1 and 100.");
        assert_eq!(e.status, 400);
        assert!(
            e.message
                .starts_with("The specified parameter \"PageSize\" is not valid.")
        );
        let io = std::io::Error::other("disk on fire");
        let e = ApiError::internal().caused_by(io);
        assert_eq!(
            e,
            ApiError::internal(),
            "the source is not part of the answer"
        );
        assert!(chain(&e).ends_with(": disk on fire"), "{}", chain(&e));
        let big = ApiError::body_too_large(10);
        assert_eq!((big.status, big.code), (413, ErrorCode::InvalidParameter));
    }
}
