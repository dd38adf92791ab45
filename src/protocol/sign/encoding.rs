//! Percent-encoding as the vendor signs it, and decoding of query strings and form
//! bodies into the pairs that are signed.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, utf8_percent_encode};

use super::{SignError, excerpt};

/// RFC 3986 unreserved characters (`A-Z a-z 0-9 - _ . ~`) stay; every other UTF-8 byte
/// becomes `%XX` with uppercase hex. Space is `%20`, `*` is `%2A`, `+` is `%2B`.
pub const RFC3986: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `s` encoded with [`RFC3986`], as both signature versions encode names and values.
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// `k=v` pairs, names and values encoded with [`percent_encode`], joined with `&`, in
/// the order given.
pub(super) fn encoded_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    // Straight into one buffer: this runs for every signed request.
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.extend(utf8_percent_encode(k, RFC3986));
        out.push('=');
        out.extend(utf8_percent_encode(v, RFC3986));
    }
    out
}

/// Decode an `application/x-www-form-urlencoded` string (also used for query
/// strings) into ordered `(name, value)` pairs.
///
/// Pairs are separated by `&`; empty segments are skipped; a segment without
/// `=` is a name with an empty value; `+` is a space; `%XX` is a byte; a `%`
/// not followed by two hex digits is kept literally (as browsers and Python
/// do). Bytes that do not form valid UTF-8 after decoding are an error, never
/// silently replaced.
pub fn decode_form(s: &[u8]) -> Result<Vec<(String, String)>, SignError> {
    let mut out = Vec::new();
    for segment in s.split(|&b| b == b'&') {
        if segment.is_empty() {
            continue;
        }
        let (raw_key, raw_value) = match segment.iter().position(|&b| b == b'=') {
            Some(i) => (&segment[..i], &segment[i + 1..]),
            None => (segment, &[][..]),
        };
        let key = String::from_utf8(form_unescape(raw_key)).map_err(|e| {
            SignError::InvalidEncoding(format!(
                "parameter name {:?} is not valid UTF-8",
                excerpt(&String::from_utf8_lossy(e.as_bytes()))
            ))
        })?;
        let value = String::from_utf8(form_unescape(raw_value)).map_err(|_| {
            SignError::InvalidEncoding(format!(
                "value of parameter {:?} is not valid UTF-8",
                excerpt(&key)
            ))
        })?;
        out.push((key, value));
    }
    Ok(out)
}

/// `+` is a space, `%XX` a byte, and a `%` without two hex digits after it stays as is.
fn form_unescape(input: &[u8]) -> Vec<u8> {
    // `+` is replaced before decoding, so an encoded `%2B` still decodes to `+`.
    let spaced: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).collect()
}
