//! The wire protocol: request parsing, signatures, replay protection, error bodies.
//! Pure: no storage, no async runtime.

pub mod budget;
pub mod error;
pub mod nonce;
pub mod params;
pub mod request;
pub mod sign;

use serde::Serialize;

/// A success body: `RequestId` first, then the action's own fields.
#[derive(Serialize)]
pub struct Envelope<'a, T: Serialize> {
    #[serde(rename = "RequestId")]
    pub request_id: &'a str,
    #[serde(flatten)]
    pub body: &'a T,
}

/// Request IDs look like the vendor's: an upper-case UUID with dashes. Drawn from the
/// thread's CSPRNG (uuid's `fast-rng`), not a `getrandom` system call per request.
pub fn new_request_id() -> String {
    let mut buf = uuid::Uuid::encode_buffer();
    uuid::Uuid::new_v4()
        .hyphenated()
        .encode_upper(&mut buf)
        .to_string()
}
