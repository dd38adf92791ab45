//! Accounts (tenants) and their access keys.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}

/// A 16-digit account ID, like the vendor's account UIDs.
/// A signed request's nonce as a stopping server hands it to its successor
/// (server/replay.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNonce {
    pub access_key_id: String,
    pub nonce: String,
    /// Unix seconds.
    pub signed_at: i64,
}

pub fn new_account_id() -> String {
    let first = random_from(b"123456789", 1);
    first + &random_from(b"0123456789", 15)
}

/// A key pair shaped like the vendor's (`LTAI…` ID, 30-character secret).
pub fn new_access_key() -> (String, Secret) {
    (
        format!("LTAI{}", random_from(ALNUM, 20)),
        Secret::new(random_from(ALNUM, 30)),
    )
}

/// An access key secret: redacted in `Debug` (so in logs and error chains), compared in
/// constant time. Only [`Secret::expose`] and serialization (credential files the operator
/// asked for) give the text out.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

/// Key IDs and secrets chosen by an operator must be printable and free of the characters
/// that separate fields in the ACS3 Authorization header.
pub fn check_key_part(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 128 {
        return Err(format!("{what} must be 1 to 128 characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || (what == "AccessKeyId" && ",=".contains(c)))
    {
        return Err(format!("{what} contains a character that cannot be used"));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub create_time: super::Micros,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccessKey {
    pub access_key_id: String,
    pub account_id: String,
    pub secret: Secret,
    pub enabled: bool,
}

/// What `account create` prints and `default-credentials.json` holds.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub account_id: String,
    pub access_key_id: String,
    pub access_key_secret: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_shapes() {
        let id = new_account_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_digit()) && !id.starts_with('0'));
        let (key, secret) = new_access_key();
        assert!(key.starts_with("LTAI") && key.len() == 24);
        assert_eq!(secret.expose().len(), 30);
        assert!(check_key_part("AccessKeyId", &key).is_ok());
        assert!(check_key_part("AccessKeyId", "a,b").is_err());
        assert!(check_key_part("AccessKeySecret", "a b").is_err());
    }

    #[test]
    fn secrets_are_redacted_wherever_they_are_formatted() {
        let secret = Secret::new("s3cr3t-value");
        let key = AccessKey {
            access_key_id: "LTAIid".into(),
            account_id: "1".into(),
            secret: secret.clone(),
            enabled: true,
        };
        let creds = Credentials {
            account_id: "1".into(),
            access_key_id: "LTAIid".into(),
            access_key_secret: secret.clone(),
        };
        for text in [
            format!("{key:?}"),
            format!("{key:#?}"),
            format!("{creds:?}"),
            format!("{:?}", Some(&secret)),
        ] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
        // The credentials file still carries it.
        assert!(
            serde_json::to_string(&creds)
                .unwrap()
                .contains("s3cr3t-value")
        );
        assert_eq!(secret, Secret::new("s3cr3t-value"));
        assert_ne!(secret, Secret::new("s3cr3t-valuf"));
        assert_ne!(secret, Secret::new("s3cr3t"));
    }
}
