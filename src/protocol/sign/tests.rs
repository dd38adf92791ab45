//! The captured SDK signing vectors, hand-written cases and property tests.

use super::*;
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

static FIXTURE: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../../../tests/fixtures/signing-vectors.json"))
        .expect("fixture is valid JSON")
});

fn vector(name: &str) -> &'static Value {
    FIXTURE["vectors"]
        .as_array()
        .expect("vectors array")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("vector {name} not in fixture"))
}

fn s(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn headers_of(v: &Value) -> Vec<(String, String)> {
    v["request"]["headers"]
        .as_array()
        .expect("headers array")
        .iter()
        .map(|h| (s(&h[0]).to_owned(), s(&h[1]).to_owned()))
        .collect()
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What a server would conclude for a V3 request.
fn v3_outcome(input: &V3Input, auth: &V3Authorization, secret: &str) -> &'static str {
    match v3_string_to_sign(input, auth) {
        Ok(c) if signatures_match(&v3_signature(secret, &c.string_to_sign), &auth.signature) => {
            "OK"
        }
        Ok(_) | Err(SignError::ContentHashMismatch) => "SignatureDoesNotMatch",
        Err(_) => "IncompleteSignature",
    }
}

fn run_vector(name: &str) {
    let v = vector(name);
    let mode = s(&v["signature_mode"]);
    if mode == "ACS3-HMAC-SHA256" {
        run_v3(v);
    } else if mode.starts_with("RPC-HMAC-SHA1") {
        run_v2(v);
    } else {
        panic!("{name}: unknown signature_mode {mode}");
    }
}

fn run_v3(v: &Value) {
    let name = s(&v["name"]);
    let req = &v["request"];
    let exp = &v["expected"];
    let secret = s(&v["access_key_secret"]);
    let outcome = s(&v["expected_outcome"]);
    let headers = headers_of(v);
    let query = decode_form(s(&req["raw_query"]).as_bytes()).expect("query decodes");
    let body = s(&req["body"]).as_bytes();

    let auth_value = header(&headers, "authorization").expect("Authorization header");
    let auth = parse_v3_authorization(auth_value).expect("Authorization parses");
    assert_eq!(
        auth.access_key_id,
        s(&exp["credential"]),
        "{name}: credential"
    );
    let expected_list: Vec<&str> = exp["signed_headers_list"]
        .as_array()
        .expect("signed_headers_list")
        .iter()
        .map(s)
        .collect();
    assert_eq!(auth.signed_headers, expected_list, "{name}: signed headers");
    assert_eq!(auth.signed_headers.join(";"), s(&exp["signed_headers"]));

    assert_eq!(
        sha256_hex(body),
        s(&req["body_sha256_hex"]),
        "{name}: body hash"
    );
    assert_eq!(
        sha256_hex(body),
        s(&exp["hashed_payload"]),
        "{name}: hashed payload"
    );
    assert_eq!(
        header(&headers, "x-acs-content-sha256"),
        Some(s(&exp["x_acs_content_sha256_header"]))
    );
    assert_eq!(
        v3_canonical_query_string(&query),
        s(&exp["canonical_query_string"]),
        "{name}: canonical query string"
    );
    assert_eq!(
        v3_canonical_headers(&headers, &auth.signed_headers).expect("canonical headers"),
        s(&exp["canonical_headers"]),
        "{name}: canonical headers"
    );

    let input = V3Input {
        method: s(&req["method"]),
        path: s(&req["path"]),
        query: &query,
        headers: &headers,
        body,
    };
    // The expected values describe the request as received, computed with the
    // server's own body hash, so they match the unchecked variant in every case.
    let canonical = v3_string_to_sign_unchecked(&input, &auth).expect("canonicalizes");
    assert_eq!(
        canonical.canonical_request,
        s(&exp["canonical_request"]),
        "{name}: canonical request"
    );
    assert_eq!(
        sha256_hex(canonical.canonical_request.as_bytes()),
        s(&exp["hashed_canonical_request"])
    );
    assert_eq!(
        canonical.string_to_sign,
        s(&exp["string_to_sign"]),
        "{name}: string to sign"
    );
    let signature = v3_signature(secret, &canonical.string_to_sign);
    assert_eq!(signature, s(&exp["signature"]), "{name}: signature");
    assert_eq!(
        format!(
            "{V3_ALGORITHM} Credential={},SignedHeaders={},Signature={signature}",
            auth.access_key_id,
            auth.signed_headers.join(";")
        ),
        s(&exp["authorization"])
    );

    if outcome == "OK" {
        assert_eq!(v3_string_to_sign(&input, &auth), Ok(canonical));
        assert!(
            signatures_match(&signature, &auth.signature),
            "{name}: must verify"
        );
    } else {
        let sent = s(&v["signature_sent_by_client"]);
        assert_eq!(
            auth.signature, sent,
            "{name}: header carries the client's signature"
        );
        assert!(
            !signatures_match(&signature, sent),
            "{name}: must NOT verify"
        );
        let own = sha256_hex(body);
        let claimed = header(&headers, "x-acs-content-sha256").expect("hash header");
        if own != claimed {
            assert_eq!(
                v3_string_to_sign(&input, &auth),
                Err(SignError::ContentHashMismatch),
                "{name}: body hash mismatch must be detected"
            );
        }
    }
    assert_eq!(
        v3_outcome(&input, &auth, secret),
        outcome,
        "{name}: outcome"
    );
}

fn run_v2(v: &Value) {
    let name = s(&v["name"]);
    let req = &v["request"];
    let exp = &v["expected"];
    let secret = s(&v["access_key_secret"]);
    let outcome = s(&v["expected_outcome"]);
    let headers = headers_of(v);
    let query = decode_form(s(&req["raw_query"]).as_bytes()).expect("query decodes");
    let is_form = header(&headers, "content-type")
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        decode_form(s(&req["body"]).as_bytes()).expect("body decodes")
    } else {
        assert_eq!(
            s(&req["body"]),
            "",
            "{name}: body without form content-type"
        );
        Vec::new()
    };
    let params = v2_merge_params(&query, &body);

    let signed: BTreeMap<&str, &str> = params
        .iter()
        .filter(|(k, _)| k != "Signature")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let expected_signed: BTreeMap<&str, &str> = exp["signed_params"]
        .as_object()
        .expect("signed_params")
        .iter()
        .map(|(k, v)| (k.as_str(), s(v)))
        .collect();
    assert_eq!(signed, expected_signed, "{name}: signed params");

    assert_eq!(
        v2_canonicalized_query_string(&params),
        s(&exp["canonicalized_query_string"]),
        "{name}: canonicalized query string"
    );
    let sts = v2_string_to_sign(s(&req["method"]), &params);
    assert_eq!(sts, s(&exp["string_to_sign"]), "{name}: string to sign");
    assert_eq!(format!("{secret}&"), s(&exp["hmac_key"]));
    let signature = v2_signature(secret, &sts);
    assert_eq!(signature, s(&exp["signature"]), "{name}: signature");

    let provided = params
        .iter()
        .find(|(k, _)| k == "Signature")
        .map(|(_, v)| v.as_str())
        .expect("Signature parameter");
    if outcome == "OK" {
        assert!(
            signatures_match(&signature, provided),
            "{name}: must verify"
        );
    } else {
        assert_eq!(provided, s(&v["signature_sent_by_client"]));
        assert!(
            !signatures_match(&signature, provided),
            "{name}: must NOT verify"
        );
    }
}

macro_rules! vector_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_vector($name);
            }
        )*
        const VECTOR_NAMES: &[&str] = &[$($name),*];
    };
}

vector_tests! {
    vector_create_editing_project_unicode_specials_v3 => "CreateEditingProject_unicode_specials__v3",
    vector_create_editing_project_unicode_specials_v2 => "CreateEditingProject_unicode_specials__v2",
    vector_get_editing_project_v3 => "GetEditingProject__v3",
    vector_get_editing_project_v2 => "GetEditingProject__v2",
    vector_update_media_info_tags_with_commas_v3 => "UpdateMediaInfo_tags_with_commas__v3",
    vector_update_media_info_tags_with_commas_v2 => "UpdateMediaInfo_tags_with_commas__v2",
    vector_list_media_basic_infos_no_params_v3 => "ListMediaBasicInfos_no_params__v3",
    vector_list_media_basic_infos_no_params_v2 => "ListMediaBasicInfos_no_params__v2",
    vector_create_editing_project_empty_string_param_v3 => "CreateEditingProject_empty_string_param__v3",
    vector_create_editing_project_empty_string_param_v2 => "CreateEditingProject_empty_string_param__v2",
    vector_get_live_record_job_get_method_v3 => "GetLiveRecordJob_GET_method__v3",
    vector_get_live_record_job_get_method_v2 => "GetLiveRecordJob_GET_method__v2",
    vector_batch_create_vod_packaging_asset_json_shrink_param_v3 => "BatchCreateVodPackagingAsset_json_shrink_param__v3",
    vector_batch_create_vod_packaging_asset_json_shrink_param_v2 => "BatchCreateVodPackagingAsset_json_shrink_param__v2",
    vector_negative_tampered_body_v3 => "NEGATIVE_tampered_body__v3",
    vector_negative_wrong_secret_v3 => "NEGATIVE_wrong_secret__v3",
    vector_negative_signed_header_changed_v3 => "NEGATIVE_signed_header_changed__v3",
    vector_negative_tampered_query_v2 => "NEGATIVE_tampered_query__v2",
}

#[test]
fn every_fixture_vector_has_a_test() {
    let in_fixture: BTreeSet<&str> = FIXTURE["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| s(&v["name"]))
        .collect();
    let tested: BTreeSet<&str> = VECTOR_NAMES.iter().copied().collect();
    assert_eq!(
        tested.len(),
        VECTOR_NAMES.len(),
        "duplicate names in vector_tests!"
    );
    assert_eq!(in_fixture, tested);
}

#[test]
fn negative_vectors_are_rejected_for_the_expected_reason() {
    for v in FIXTURE["vectors"].as_array().expect("vectors") {
        if !s(&v["name"]).starts_with("NEGATIVE_") {
            continue;
        }
        assert_eq!(s(&v["expected_outcome"]), "SignatureDoesNotMatch");
        assert_eq!(v["expected_http_status"], 400);
    }
}

// ----- hand-written unit tests ---------------------------------------

#[test]
fn percent_encode_rules() {
    assert_eq!(percent_encode("aZ09-_.~"), "aZ09-_.~");
    assert_eq!(percent_encode(" *+/=&%"), "%20%2A%2B%2F%3D%26%25");
    assert_eq!(percent_encode("ü中"), "%C3%BC%E4%B8%AD");
    assert_eq!(percent_encode(""), "");
}

#[test]
fn decode_form_rules() {
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(decode_form(b"").unwrap(), pairs(&[]));
    assert_eq!(
        decode_form(b"a=1+2&&b=%2B%7e&c&d=&e=x=y").unwrap(),
        pairs(&[
            ("a", "1 2"),
            ("b", "+~"),
            ("c", ""),
            ("d", ""),
            ("e", "x=y")
        ])
    );
    assert_eq!(
        decode_form(b"a=%zz%4&b=100%").unwrap(),
        pairs(&[("a", "%zz%4"), ("b", "100%")])
    );
    assert_eq!(
        decode_form(b"Title=%FF").unwrap_err(),
        SignError::InvalidEncoding("value of parameter \"Title\" is not valid UTF-8".into())
    );
    assert!(matches!(
        decode_form(b"T%C3=1"),
        Err(SignError::InvalidEncoding(m)) if m.contains("parameter name")
    ));
    assert!(matches!(
        decode_form(b"a=\xff"),
        Err(SignError::InvalidEncoding(_))
    ));
}

#[test]
fn parse_authorization_accepts_sdk_layout_and_whitespace() {
    let sig = "AB".repeat(32);
    let a = parse_v3_authorization(&format!(
        "  ACS3-HMAC-SHA256   Signature={sig} , SignedHeaders=Host;x-acs-date ,Credential=AK1 "
    ))
    .unwrap();
    assert_eq!(a.access_key_id, "AK1");
    assert_eq!(a.signed_headers, vec!["host", "x-acs-date"]);
    assert_eq!(a.signature, "ab".repeat(32));
}

#[test]
fn parse_authorization_rejects_malformed() {
    let sig = "a".repeat(64);
    let bad = [
        String::new(),
        "ACS3-HMAC-SHA256".into(),
        format!("HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig}"),
        format!("acs3-hmac-sha256 Credential=a,SignedHeaders=host,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 SignedHeaders=host,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Credential=a,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host;;x,Signature={sig}"),
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host".into(),
        "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature=abc".into(),
        format!(
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={}",
            "g".repeat(64)
        ),
        format!("ACS3-HMAC-SHA256 Credential=a,Credential=b,SignedHeaders=host,Signature={sig}"),
        format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},Extra=1"),
        format!("ACS3-HMAC-SHA256 Credential=a,SignedHeaders=host,Signature={sig},"),
        format!("ACS3-HMAC-SHA256 Credential=a SignedHeaders=host Signature={sig}"),
    ];
    for value in bad {
        assert!(
            matches!(
                parse_v3_authorization(&value),
                Err(SignError::Incomplete(_))
            ),
            "should reject {value:?}"
        );
    }
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn sample_headers(body: &[u8]) -> Vec<(String, String)> {
    owned(&[
        ("Host", "ice.example:8443"),
        ("X-Acs-Action", "GetEditingProject"),
        ("x-acs-version", "2020-11-09"),
        ("x-acs-date", "2026-11-25T11:19:34Z"),
        ("x-acs-signature-nonce", "00112233445566778899aabbccddeeff"),
        ("x-acs-content-sha256", &sha256_hex(body)),
        ("Content-Length", "0"),
    ])
}

fn sample_auth() -> V3Authorization {
    V3Authorization {
        access_key_id: "AK".into(),
        signed_headers: V3_REQUIRED_SIGNED_HEADERS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        signature: "0".repeat(64),
    }
}

#[test]
fn v3_requires_the_mandatory_signed_headers() {
    let headers = sample_headers(b"");
    let input = V3Input {
        method: "POST",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"",
    };
    assert!(v3_string_to_sign(&input, &sample_auth()).is_ok());
    for missing in V3_REQUIRED_SIGNED_HEADERS {
        let mut auth = sample_auth();
        auth.signed_headers.retain(|h| h != missing);
        assert_eq!(
            v3_string_to_sign(&input, &auth),
            Err(SignError::Incomplete(format!(
                "SignedHeaders must include {missing}"
            )))
        );
    }
    let mut auth = sample_auth();
    auth.signed_headers.push("content-type".into());
    assert!(matches!(
        v3_string_to_sign(&input, &auth),
        Err(SignError::Incomplete(m)) if m.contains("content-type")
    ));
}

#[test]
fn v3_detects_body_hash_mismatch_and_accepts_uppercase_hash() {
    let mut headers = sample_headers(b"");
    let input = V3Input {
        method: "POST",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"x",
    };
    assert_eq!(
        v3_string_to_sign(&input, &sample_auth()),
        Err(SignError::ContentHashMismatch)
    );
    assert!(v3_string_to_sign_unchecked(&input, &sample_auth()).is_ok());

    headers[5].1 = format!(" {} ", sha256_hex(b"x").to_uppercase());
    let input = V3Input {
        method: "POST",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"x",
    };
    assert!(v3_string_to_sign(&input, &sample_auth()).is_ok());

    headers.push(("X-ACS-CONTENT-SHA256".into(), sha256_hex(b"x")));
    let input = V3Input {
        method: "POST",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"x",
    };
    assert_eq!(
        v3_string_to_sign(&input, &sample_auth()),
        Err(SignError::ContentHashMismatch)
    );
}

#[test]
fn v3_repeated_headers_are_trimmed_sorted_and_joined() {
    let headers = owned(&[
        ("X-B", " 2 "),
        ("x-a", "v"),
        (" x-b\t", "1"), // a padded name still matches (none come so from hyper)
        ("other", "ignored"),
    ]);
    let signed = vec!["x-b".to_string(), "X-A".to_string(), "x-a".to_string()];
    assert_eq!(
        v3_canonical_headers(&headers, &signed).unwrap(),
        "x-a:v\nx-b:1,2\n"
    );
}

#[test]
fn v3_empty_path_is_root_and_query_is_sorted() {
    let headers = sample_headers(b"");
    let query = owned(&[("b", "2"), ("a", "x y"), ("a.1", "*")]);
    let input = V3Input {
        method: "GET",
        path: "",
        query: &query,
        headers: &headers,
        body: b"",
    };
    let c = v3_string_to_sign(&input, &sample_auth()).unwrap();
    assert!(
        c.canonical_request
            .starts_with("GET\n/\na=x%20y&a.1=%2A&b=2\n")
    );
    assert!(
        c.canonical_request
            .ends_with(&format!("\n{EMPTY_BODY_SHA256}"))
    );
}

#[test]
fn v2_body_wins_and_signature_is_excluded() {
    let query = owned(&[("A", "q"), ("Signature", "zzz"), ("B", "1")]);
    let body = owned(&[("A", "b")]);
    let merged = v2_merge_params(&query, &body);
    assert_eq!(
        merged,
        owned(&[("A", "b"), ("Signature", "zzz"), ("B", "1")])
    );
    assert_eq!(v2_canonicalized_query_string(&merged), "A=b&B=1");
    // The function itself also applies "last one wins" to unmerged input.
    let concatenated: Vec<_> = query.iter().chain(&body).cloned().collect();
    assert_eq!(
        v2_string_to_sign("POST", &concatenated),
        "POST&%2F&A%3Db%26B%3D1"
    );
}

#[test]
fn signatures_match_is_exact() {
    assert!(signatures_match("abc", "abc"));
    assert!(!signatures_match("abc", "abd"));
    assert!(!signatures_match("abc", "ab"));
    assert!(!signatures_match("abc", ""));
}

// ----- property tests --------------------------------------------------

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "host",
                "Host",
                "x-acs-action",
                "X-ACS-VERSION",
                "x-acs-date",
                "x-acs-signature-nonce",
                "x-acs-content-sha256",
                "content-type",
                "",
            ][..]
        )
        .prop_map(str::to_owned),
        ".*",
    ]
}

fn pairs(
    key: impl Strategy<Value = String>,
    value: impl Strategy<Value = String>,
    max: usize,
) -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec((key, value), 0..max)
}

proptest! {
    #[test]
    fn prop_percent_encode_round_trips_through_decode_form(p in pairs(".*", ".*", 8)) {
        let encoded = p
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%=&".contains(&b)));
        prop_assert_eq!(decode_form(encoded.as_bytes()).unwrap(), p);
    }

    #[test]
    fn prop_wire_form_encoding_round_trips(p in pairs(".*", ".*", 8)) {
        // What the SDK puts on the wire (Python urlencode style: space -> '+').
        let wire = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p.iter())
            .finish();
        prop_assert_eq!(decode_form(wire.as_bytes()).unwrap(), p);
    }

    #[test]
    fn prop_decode_form_never_panics_and_agrees_with_lossy_parser(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..64),
            proptest::collection::vec(
                proptest::sample::select(&b"%+&=aF09\xc3\xbc\xff~ "[..]), 0..64),
        ]
    ) {
        let lossy: Vec<(String, String)> = form_urlencoded::parse(&bytes)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        match decode_form(&bytes) {
            Ok(p) => prop_assert_eq!(p, lossy),
            Err(SignError::InvalidEncoding(_)) => {
                let r = char::REPLACEMENT_CHARACTER;
                let replaced = lossy.iter().any(|(k, v)| k.contains(r) || v.contains(r));
                prop_assert!(replaced, "error although the lossy parse is clean");
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    #[test]
    fn prop_parse_v3_authorization_never_panics(value in ".*") {
        let _ = parse_v3_authorization(&value);
        let _ = parse_v3_authorization(&format!("ACS3-HMAC-SHA256 {value}"));
    }

    #[test]
    fn prop_parse_v3_authorization_round_trips(
        ak in "[A-Za-z0-9]{1,24}",
        names in proptest::collection::vec("[a-z][a-z0-9-]{0,15}", 1..8),
        sig in "[0-9a-f]{64}",
    ) {
        let value = format!(
            "ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={},Signature={sig}",
            names.join(";")
        );
        let auth = parse_v3_authorization(&value).unwrap();
        prop_assert_eq!(auth, V3Authorization { access_key_id: ak, signed_headers: names, signature: sig });
    }

    #[test]
    fn prop_v3_string_to_sign_never_panics(
        method in ".*",
        path in ".*",
        query in pairs(".*", ".*", 6),
        headers in pairs(header_name(), ".*", 12),
        signed in proptest::collection::vec(header_name(), 0..10),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let input = V3Input { method: &method, path: &path, query: &query, headers: &headers, body: &body };
        let auth = V3Authorization { access_key_id: "AK".into(), signed_headers: signed, signature: String::new() };
        let _ = v3_string_to_sign(&input, &auth);
        let _ = v3_string_to_sign_unchecked(&input, &auth);
    }

    #[test]
    fn prop_v3_sign_then_verify_and_tamper(
        query in pairs("[A-Za-z.0-9]{1,8}", ".*", 6),
        extra in pairs("x-acs-[a-z]{1,8}", ".*", 3),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        flip in any::<proptest::sample::Index>(),
    ) {
        let mut headers = sample_headers(&body);
        headers.extend(extra);
        let mut auth = sample_auth();
        auth.signed_headers = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
        auth.signed_headers.retain(|n| n != "content-length");
        let input = V3Input { method: "POST", path: "/", query: &query, headers: &headers, body: &body };
        let c = v3_string_to_sign(&input, &auth).unwrap();
        let sig = v3_signature("secret", &c.string_to_sign);
        prop_assert!(signatures_match(&sig, &v3_signature("secret", &c.string_to_sign)));
        prop_assert!(!signatures_match(&sig, &v3_signature("secret2", &c.string_to_sign)));

        // Changing any signed header value changes the string to sign (or is
        // caught as a body-hash mismatch).
        let mut tampered = headers.clone();
        let i = flip.index(tampered.len());
        if tampered[i].0 != "Content-Length" {
            tampered[i].1.push('!');
            let t = V3Input { headers: &tampered, ..input };
            match v3_string_to_sign(&t, &auth) {
                Ok(c2) => prop_assert_ne!(c2.string_to_sign, c.string_to_sign),
                Err(e) => prop_assert_eq!(e, SignError::ContentHashMismatch),
            }
        }

        // Changing the body is always caught.
        let mut body2 = body.clone();
        body2.push(0);
        let t = V3Input { body: &body2, ..input };
        prop_assert_eq!(v3_string_to_sign(&t, &auth), Err(SignError::ContentHashMismatch));
    }

    #[test]
    fn prop_v2_signature_is_order_independent(p in pairs("[A-Za-z.0-9]{1,8}", ".*", 8)) {
        let mut dedup: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &p {
            dedup.insert(k.clone(), v.clone());
        }
        let forward: Vec<_> = dedup.clone().into_iter().collect();
        let mut backward = forward.clone();
        backward.reverse();
        prop_assert_eq!(v2_string_to_sign("POST", &forward), v2_string_to_sign("POST", &backward));
    }
}
