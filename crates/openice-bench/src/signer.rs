//! The bench's request signer: ACS3-HMAC-SHA256 requests exactly as the official Python SDK
//! sends and signs them (its header set and order, all headers signed; see tests/common),
//! each freshly dated and with a fresh nonce, as the server requires.
//!
//! The client shares the machine's cores with the server it measures, so what is the same
//! for every request of a key and host is derived once, in [`Signer::new`]: the header names
//! and fixed values, the sorted signed-header list, the `Authorization` prefix and the HMAC
//! key state. Per request the canonical request is streamed into SHA-256 as it is produced
//! instead of being built as a string, and the headers go into the request without being
//! parsed again. The tests check the result byte for byte against the reference signer in
//! `openice::protocol::sign` and through the server's own verification steps.

use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use openice::protocol::sign::{EMPTY_BODY_SHA256, V3_ALGORITHM};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

const API_VERSION: &str = "2020-11-09";
/// What the Python SDK sends as its user agent (signed in V3).
const USER_AGENT: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// An access key the client signs with.
#[derive(Clone, Debug)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

/// The SDK's headers in the order it sends them; all are signed, then `authorization` follows.
static HEADERS: [HeaderName; 10] = [
    HeaderName::from_static("host"),
    HeaderName::from_static("x-acs-version"),
    HeaderName::from_static("x-acs-action"),
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("x-acs-date"),
    HeaderName::from_static("x-acs-signature-nonce"),
    HeaderName::from_static("accept"),
    // Only with a form body.
    HeaderName::from_static("content-type"),
    HeaderName::from_static("x-acs-content-sha256"),
    HeaderName::from_static("x-acs-credentials-provider"),
];
const ACTION: usize = 2;
const DATE: usize = 4;
const NONCE: usize = 5;
const CONTENT_TYPE: usize = 7;
const CONTENT_SHA256: usize = 8;

/// Signs requests with one key for one `Host`; shared by every connection of a run.
pub struct Signer {
    /// The fixed values of [`HEADERS`] (date, nonce, action and body hash are per request).
    fixed: [HeaderValue; 10],
    /// Indices into [`HEADERS`] in canonical (sorted-name) order.
    canonical_order: [usize; 10],
    /// `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=`, without and with a form
    /// body (which adds `content-type`).
    auth_prefix: [String; 2],
    /// `SignedHeaders` as the canonical request lists them, without and with a form body.
    signed_headers: [String; 2],
    /// HMAC-SHA256 keyed with the secret: each request clones this state.
    mac: Hmac<Sha256>,
}

impl Signer {
    pub fn new(host: &str, key: &Key) -> Signer {
        let fixed = [
            HeaderValue::from_str(host).expect("host is a valid header value"),
            HeaderValue::from_static(API_VERSION),
            HeaderValue::from_static(""),
            HeaderValue::from_static(USER_AGENT),
            HeaderValue::from_static(""),
            HeaderValue::from_static(""),
            HeaderValue::from_static("application/json"),
            HeaderValue::from_static(FORM_CONTENT_TYPE),
            HeaderValue::from_static(""),
            HeaderValue::from_static("static_ak"),
        ];
        let mut canonical_order: [usize; 10] = std::array::from_fn(|i| i);
        canonical_order.sort_by_key(|&i| HEADERS[i].as_str());
        let signed_headers = [false, true].map(|form| {
            canonical_order
                .iter()
                .filter(|&&i| form || i != CONTENT_TYPE)
                .map(|&i| HEADERS[i].as_str())
                .collect::<Vec<_>>()
                .join(";")
        });
        let auth_prefix = signed_headers.clone().map(|list| {
            format!(
                "{V3_ALGORITHM} Credential={},SignedHeaders={list},Signature=",
                key.id
            )
        });
        Signer {
            fixed,
            canonical_order,
            auth_prefix,
            signed_headers,
            mac: <Hmac<Sha256> as KeyInit>::new_from_slice(key.secret.as_bytes())
                .expect("HMAC accepts keys of any length"),
        }
    }

    /// A signed `POST /`: `query` in the URL (in this order), `form` in an
    /// `application/x-www-form-urlencoded` body (sorted by name, as the SDK sends it).
    /// Signing is done per request, so its cost is part of the client's, as for a real caller.
    pub fn sign(
        &self,
        action: &'static str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
    ) -> Request<Full<Bytes>> {
        self.sign_as(
            action,
            query,
            form,
            OffsetDateTime::now_utc(),
            &random_nonce(),
        )
    }

    /// [`Signer::sign`] with the date and nonce given (the tests compare fixed inputs).
    fn sign_as(
        &self,
        action: &'static str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
        date: OffsetDateTime,
        nonce: &[u8],
    ) -> Request<Full<Bytes>> {
        let has_form = !form.is_empty();
        let body = if has_form {
            let mut sorted;
            let form = if form.is_sorted_by_key(|p| p.0) {
                form
            } else {
                sorted = form.to_vec();
                sorted.sort_by_key(|p| p.0);
                &sorted
            };
            let mut body = Vec::with_capacity(form_len(form));
            append_pairs(&mut body, form.iter().copied(), true);
            Bytes::from(body)
        } else {
            Bytes::new()
        };

        let mut values = self.fixed.clone();
        values[ACTION] = HeaderValue::from_static(action);
        values[DATE] = HeaderValue::try_from(openice::domain::format_time(
            date.unix_timestamp() * 1_000_000,
        ))
        .expect("a date is a valid header value");
        values[NONCE] = HeaderValue::from_bytes(nonce).expect("a nonce is a valid header value");
        values[CONTENT_SHA256] = if has_form {
            let mut hex = [0u8; 64];
            hex::encode_to_slice(Sha256::digest(&body), &mut hex).expect("64 hex digits");
            HeaderValue::from_bytes(&hex).expect("hex is a valid header value")
        } else {
            HeaderValue::from_static(EMPTY_BODY_SHA256)
        };

        // The canonical request, hashed as it is produced:
        // POST \n / \n query \n name:value\n… \n signed-headers \n body-hash
        let mut canonical = Sha256::new();
        canonical.update(b"POST\n/\n");
        let mut scratch = Vec::with_capacity(form_len(query));
        if query.is_sorted() {
            append_pairs(&mut scratch, query.iter().copied(), false);
        } else {
            let mut sorted = query.to_vec();
            sorted.sort_unstable();
            append_pairs(&mut scratch, sorted.into_iter(), false);
        }
        canonical.update(&scratch);
        canonical.update(b"\n");
        for &i in &self.canonical_order {
            if i == CONTENT_TYPE && !has_form {
                continue;
            }
            canonical.update(HEADERS[i].as_str());
            canonical.update(b":");
            canonical.update(values[i].as_bytes());
            canonical.update(b"\n");
        }
        canonical.update(b"\n");
        canonical.update(&self.signed_headers[usize::from(has_form)]);
        canonical.update(b"\n");
        canonical.update(values[CONTENT_SHA256].as_bytes());

        let mut string_to_sign = [0u8; V3_ALGORITHM.len() + 1 + 64];
        string_to_sign[..V3_ALGORITHM.len()].copy_from_slice(V3_ALGORITHM.as_bytes());
        string_to_sign[V3_ALGORITHM.len()] = b'\n';
        hex::encode_to_slice(
            canonical.finalize(),
            &mut string_to_sign[V3_ALGORITHM.len() + 1..],
        )
        .expect("64 hex digits");
        let mut mac = self.mac.clone();
        mac.update(&string_to_sign);
        let prefix = &self.auth_prefix[usize::from(has_form)];
        let mut authorization = vec![0u8; prefix.len() + 64];
        authorization[..prefix.len()].copy_from_slice(prefix.as_bytes());
        hex::encode_to_slice(
            mac.finalize().into_bytes(),
            &mut authorization[prefix.len()..],
        )
        .expect("64 hex digits");

        let uri = if query.is_empty() {
            Uri::from_static("/")
        } else {
            let mut target = Vec::with_capacity(2 + form_len(query));
            target.extend_from_slice(b"/?");
            append_pairs(&mut target, query.iter().copied(), true);
            Uri::from_maybe_shared(Bytes::from(target)).expect("an encoded query is a valid URI")
        };
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        headers.reserve(HEADERS.len() + 1);
        for (i, (name, value)) in HEADERS.iter().zip(values).enumerate() {
            if i != CONTENT_TYPE || has_form {
                headers.append(name.clone(), value);
            }
        }
        headers.append(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_maybe_shared(Bytes::from(authorization))
                .expect("the authorization is a valid header value"),
        );
        req
    }
}

/// 32 lowercase hex digits of fresh randomness, the shape of the SDK's nonce (an MD5 hex).
/// From a thread-local generator seeded once, not a system call per request: the nonce
/// must be unique, not secret.
fn random_nonce() -> [u8; 32] {
    let mut hex = [0u8; 32];
    hex::encode_to_slice(fastrand::u128(..).to_le_bytes(), &mut hex).expect("32 hex digits");
    hex
}

/// An upper bound of the encoded length of `pairs`, so one allocation holds them.
fn form_len(pairs: &[(&str, &str)]) -> usize {
    pairs.iter().map(|(k, v)| 3 * (k.len() + v.len()) + 2).sum()
}

/// `k=v&k=v` with names and values RFC 3986-encoded as `openice::protocol::sign::percent_encode`
/// does, and with `wire` a space as `+` as Python's `urlencode` sends it.
fn append_pairs<'a>(
    out: &mut Vec<u8>,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    wire: bool,
) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let encode = |out: &mut Vec<u8>, s: &str| {
        for &b in s.as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b);
            } else if b == b' ' && wire {
                out.push(b'+');
            } else {
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    };
    for (i, (k, v)) in pairs.enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        encode(out, k);
        out.push(b'=');
        encode(out, v);
    }
}

/// Client CPU per signature (µs): [`Signer::sign`] with a fresh date and nonce each time, as
/// every measured request is signed, timed in this thread's CPU time (wall time where the
/// kernel does not tell it), so that other processes on a busy machine do not inflate it.
pub fn signing_cost_us() -> f64 {
    let signer = Signer::new(
        "127.0.0.1:1",
        &Key {
            id: "LTAIsigningcost000000001".into(),
            secret: "signingCostSecret0123456789".into(),
        },
    );
    let n = 20_000u32;
    let mut id = String::with_capacity(32);
    let cpu0 = crate::sys::thread_cpu_time();
    let wall = Instant::now();
    for i in 0..n {
        id.clear();
        use std::fmt::Write as _;
        let _ = write!(id, "{i:032x}");
        std::hint::black_box(signer.sign("GetEditingProject", &[("ProjectId", &id)], &[]));
    }
    let spent = match (cpu0, crate::sys::thread_cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => wall.elapsed(),
    };
    spent.as_secs_f64() * 1e6 / f64::from(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use openice::protocol::sign::{
        V3Authorization, V3Input, decode_form, parse_v3_authorization, percent_encode, sha256_hex,
        signatures_match, v3_signature, v3_string_to_sign,
    };

    const KEY: (&str, &str) = ("LTAI5tReferenceKeyId01", "referenceSecret/+= 0123456789");
    const HOST_PORT: &str = "127.0.0.1:18080";
    const TIMELINE: &str =
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"a1b2","In":0,"Out":4.5}]}]}"#;

    fn key() -> Key {
        Key {
            id: KEY.0.into(),
            secret: KEY.1.into(),
        }
    }

    /// `(action, query, form)` covering what the scenarios send and what encoding must
    /// survive: spaces, `+ * ~ % & =`, non-ASCII, unsorted and repeated names, empty values.
    type Params = Vec<(&'static str, &'static str)>;

    fn calls() -> Vec<(&'static str, Params, Params)> {
        vec![
            (
                "GetEditingProject",
                vec![("ProjectId", "4c3b2a19f8e7d6c5b4a3928170f6e5d4")],
                vec![],
            ),
            (
                "CreateEditingProject",
                vec![
                    ("Title", "bench project 7"),
                    ("Description", "created by openice-bench"),
                ],
                vec![("Timeline", TIMELINE)],
            ),
            (
                "UpdateEditingProject",
                vec![
                    ("Title", "a+b*c~d%e&f=g 中文 é"),
                    ("ProjectId", "x"),
                    ("Empty", ""),
                    ("ProjectId", "a"),
                ],
                vec![
                    ("Timeline", TIMELINE),
                    ("CoverURL", "http://h/a b.png?x=1"),
                    ("B", ""),
                ],
            ),
            ("SearchEditingProject", vec![], vec![]),
            ("CreateEditingProject", vec![], vec![("Timeline", TIMELINE)]),
        ]
    }

    /// Python `urlencode` (`quote_plus`): RFC 3986 escapes, but a space is `+`.
    fn wire_encode(s: &str) -> String {
        percent_encode(s).replace("%20", "+")
    }

    fn encode_pairs(pairs: &[(String, String)]) -> String {
        pairs
            .iter()
            .map(|(k, v)| format!("{}={}", wire_encode(k), wire_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn owned(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The reference: the request as the SDK builds it, signed by
    /// `openice::protocol::sign` (the bench's former signer, kept here as the yardstick).
    fn reference(
        action: &str,
        query: &[(&str, &str)],
        form: &[(&str, &str)],
        date: &str,
        nonce: &str,
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let query = owned(query);
        let mut form = owned(form);
        form.sort_by(|a, b| a.0.cmp(&b.0));
        let body = encode_pairs(&form).into_bytes();
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), HOST_PORT.into()),
            ("x-acs-version".into(), API_VERSION.into()),
            ("x-acs-action".into(), action.into()),
            ("user-agent".into(), USER_AGENT.into()),
            ("x-acs-date".into(), date.into()),
            ("x-acs-signature-nonce".into(), nonce.into()),
            ("accept".into(), "application/json".into()),
        ];
        if !form.is_empty() {
            headers.push(("content-type".into(), FORM_CONTENT_TYPE.into()));
        }
        headers.push(("x-acs-content-sha256".into(), sha256_hex(&body)));
        headers.push(("x-acs-credentials-provider".into(), "static_ak".into()));
        let mut signed_headers: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
        signed_headers.sort();
        let auth = V3Authorization {
            access_key_id: KEY.0.into(),
            signed_headers,
            signature: String::new(),
        };
        let input = V3Input {
            method: "POST",
            path: "/",
            query: &query,
            headers: &headers,
            body: &body,
        };
        let canonical = v3_string_to_sign(&input, &auth).expect("valid signing input");
        let signature = v3_signature(KEY.1, &canonical.string_to_sign);
        headers.push((
            "authorization".into(),
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
                KEY.0,
                auth.signed_headers.join(";")
            ),
        ));
        let target = if query.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", encode_pairs(&query))
        };
        (target, headers, body)
    }

    /// Method, target, headers in wire order and body of a built request.
    fn parts(req: Request<Full<Bytes>>) -> (String, String, Vec<(String, String)>, Vec<u8>) {
        let (head, body) = req.into_parts();
        let headers = head
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().expect("ASCII").to_string(),
                )
            })
            .collect();
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(body.collect())
            .expect("a full body")
            .to_bytes()
            .to_vec();
        (head.method.to_string(), head.uri.to_string(), headers, body)
    }

    #[test]
    fn signs_exactly_as_the_reference_signer() {
        let signer = Signer::new(HOST_PORT, &key());
        let date = time::macros::datetime!(2026-11-30 19:54:23 UTC);
        let nonce = "3f2a9c0d1e4b5a69788796a5b4c3d2e1";
        for (action, query, form) in calls() {
            let ours = parts(signer.sign_as(action, &query, &form, date, nonce.as_bytes()));
            let (target, headers, body) =
                reference(action, &query, &form, "2026-11-30T19:54:23Z", nonce);
            assert_eq!(
                ours,
                ("POST".to_string(), target, headers, body),
                "{action} {query:?}"
            );
        }
    }

    /// What the server does with a request: decode the query, parse `Authorization`,
    /// rebuild the string to sign from the received parts (checking the body hash) and
    /// compare the signature; plus a fresh nonce and a current date on every request.
    #[test]
    fn fresh_requests_verify_as_the_server_checks_them() {
        let signer = Signer::new(HOST_PORT, &key());
        let mut nonces = std::collections::HashSet::new();
        for (action, query, form) in calls() {
            for _ in 0..2 {
                let (method, target, headers, body) = parts(signer.sign(action, &query, &form));
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str())
                        .unwrap_or_else(|| panic!("{name} sent"))
                };
                let query = decode_form(target.strip_prefix("/?").unwrap_or("").as_bytes())
                    .expect("a decodable query");
                let auth = parse_v3_authorization(header("authorization")).expect("parses");
                let input = V3Input {
                    method: &method,
                    path: "/",
                    query: &query,
                    headers: &headers,
                    body: &body,
                };
                let canonical =
                    v3_string_to_sign(&input, &auth).expect("complete, body hash agrees");
                assert!(signatures_match(
                    &v3_signature(KEY.1, &canonical.string_to_sign),
                    &auth.signature
                ));
                assert!(!signatures_match(
                    &v3_signature("another secret", &canonical.string_to_sign),
                    &auth.signature
                ));
                let nonce = header("x-acs-signature-nonce");
                assert!(
                    nonce.len() == 32
                        && nonce
                            .bytes()
                            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                );
                assert!(nonces.insert(nonce.to_string()), "nonce {nonce} repeated");
                let sent = time::PrimitiveDateTime::parse(
                    header("x-acs-date"),
                    time::macros::format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                    ),
                )
                .expect("the SDK's date format")
                .assume_utc();
                assert!((OffsetDateTime::now_utc() - sent).whole_seconds().abs() <= 2);
            }
        }
    }

    /// `signing_cost_us` times [`Signer::sign`] itself, and `sign` caches nothing per
    /// request: the same call twice gives two different nonces and signatures.
    #[test]
    fn every_signature_is_computed_afresh() {
        let signer = Signer::new(HOST_PORT, &key());
        let get = || parts(signer.sign("GetEditingProject", &[("ProjectId", "p")], &[])).2;
        let (a, b) = (get(), get());
        let value = |h: &[(String, String)], n: &str| {
            h.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        };
        assert_ne!(
            value(&a, "x-acs-signature-nonce"),
            value(&b, "x-acs-signature-nonce")
        );
        assert_ne!(value(&a, "authorization"), value(&b, "authorization"));
        let us = signing_cost_us();
        assert!(us.is_finite() && us > 0.0, "{us}");
    }
}
