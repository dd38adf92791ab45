//! Accounts (tenants) and their access keys.

use serde::Serialize;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_from(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rand::random_range(0..alphabet.len())] as char)
        .collect()
}

/// A 16-digit account ID, like the vendor's account UIDs.
pub fn new_account_id() -> String {
    let first = random_from(b"123456789", 1);
    first + &random_from(b"0123456789", 15)
}

/// A key pair shaped like the vendor's (`LTAI…` ID, 30-character secret).
pub fn new_access_key() -> (String, String) {
    (
        format!("LTAI{}", random_from(ALNUM, 20)),
        random_from(ALNUM, 30),
    )
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
    pub secret: String,
    pub enabled: bool,
}

/// What `account create` prints and `default-credentials.json` holds.
#[derive(Debug, Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub account_id: String,
    pub access_key_id: String,
    pub access_key_secret: String,
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
        assert_eq!(secret.len(), 30);
        assert!(check_key_part("AccessKeyId", &key).is_ok());
        assert!(check_key_part("AccessKeyId", "a,b").is_err());
        assert!(check_key_part("AccessKeySecret", "a b").is_err());
    }
}
