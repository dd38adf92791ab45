//! V2 signatures (RPC `HMAC-SHA1`, `SignatureVersion=1.0`): the `Signature` parameter
//! over every query and form-body parameter.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use std::collections::BTreeMap;

use super::encoding::{encoded_pairs, percent_encode};

/// Merge decoded query and form-body pairs the way the SDK does: query first,
/// then body, so a body value wins over a query value with the same name.
pub fn v2_merge_params(
    query: &[(String, String)],
    body: &[(String, String)],
) -> Vec<(String, String)> {
    let mut merged: Vec<(String, String)> = Vec::with_capacity(query.len() + body.len());
    for (k, v) in query.iter().chain(body) {
        match merged.iter_mut().find(|(mk, _)| mk == k) {
            Some(slot) => slot.1.clone_from(v),
            None => merged.push((k.clone(), v.clone())),
        }
    }
    merged
}

/// V2 canonicalized query string: `Signature` removed, a repeated name keeps
/// its last value, sorted by name, names and values RFC 3986-encoded, `k=v`
/// joined with `&`.
pub fn v2_canonicalized_query_string(params: &[(String, String)]) -> String {
    let mut map: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in params {
        if k != "Signature" {
            map.insert(k, v);
        }
    }
    encoded_pairs(map)
}

/// `METHOD&%2F&percent_encode(canonicalized query string)`.
///
/// `params` are all decoded query and body parameters, query first then body
/// (a repeated name keeps its last value, so the body wins, as in
/// [`v2_merge_params`]); `Signature` is excluded here.
pub fn v2_string_to_sign(method: &str, params: &[(String, String)]) -> String {
    format!(
        "{method}&%2F&{}",
        percent_encode(&v2_canonicalized_query_string(params))
    )
}

/// Base64 HMAC-SHA1 of `string_to_sign` keyed with `secret + "&"`.
pub fn v2_signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
