//! Pure request-signature computation for the two schemes the official Alibaba
//! Cloud SDKs use against ICE (API 2020-11-09):
//!
//! * **V3 / `ACS3-HMAC-SHA256`**: `Authorization` header, canonical request over
//!   method, path, query, the headers named in `SignedHeaders` and the body hash.
//! * **V2 / RPC `HMAC-SHA1`** (`SignatureVersion=1.0`): `Signature` query
//!   parameter over every query and form-body parameter.
//!
//! Nothing here does I/O, looks up keys, checks timestamps or nonces: the caller
//! decodes the request, fetches the secret for the AccessKeyId, computes the
//! expected signature with these functions and compares it with
//! [`signatures_match`]. The behaviour follows the captured SDK vectors in
//! `tests/fixtures/signing-vectors.json`.
//!
//! Layout: `encoding` (RFC 3986 encoding, form decoding), `v3`, `v2`; this file holds
//! what both versions share.

mod encoding;
#[cfg(test)]
mod tests;
mod v2;
mod v3;

pub use encoding::{RFC3986, decode_form, percent_encode};
pub use v2::{v2_canonicalized_query_string, v2_merge_params, v2_signature, v2_string_to_sign};
pub use v3::{
    V3_ALGORITHM, V3_REQUIRED_SIGNED_HEADERS, V3Authorization, V3Canonical, V3Input,
    parse_v3_authorization, v3_canonical_headers, v3_canonical_query_string, v3_signature,
    v3_string_to_sign, v3_string_to_sign_unchecked,
};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lowercase hex SHA-256 of the empty body.
pub const EMPTY_BODY_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Longest excerpt of client-supplied text echoed in an error message.
const MAX_ECHO_CHARS: usize = 64;

/// Why a signature could not be computed or checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The `Authorization` header is malformed or does not sign what it must
    /// (maps to `IncompleteSignature`).
    #[error("incomplete signature: {0}")]
    Incomplete(String),
    /// `x-acs-content-sha256` differs from the SHA-256 of the received body
    /// (maps to `SignatureDoesNotMatch`).
    #[error("the x-acs-content-sha256 header does not match the SHA-256 of the request body")]
    ContentHashMismatch,
    /// A query or form parameter is not valid UTF-8 after percent-decoding.
    #[error("invalid encoding: {0}")]
    InvalidEncoding(String),
}

/// At most [`MAX_ECHO_CHARS`] characters of client-controlled text for error messages.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(MAX_ECHO_CHARS) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// Lowercase hex SHA-256 of `bytes` (the V3 hashed payload).
pub fn sha256_hex(bytes: &[u8]) -> String {
    lower_hex(&Sha256::digest(bytes))
}

/// Lowercase hex of a digest. `hex::encode` builds its string a `char` at a time, which
/// showed in the profile of a signed request; this fills a buffer a byte pair at a time.
fn lower_hex(bytes: &[u8]) -> String {
    let mut buf = vec![0u8; bytes.len() * 2];
    hex::encode_to_slice(bytes, &mut buf).expect("the buffer holds two digits per byte");
    String::from_utf8(buf).expect("hex digits are ASCII")
}

/// Constant-time comparison of the expected vs. the provided signature.
/// Different lengths compare unequal (the length itself is not secret).
pub fn signatures_match(expected: &str, provided: &str) -> bool {
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}
