//! The wire protocol through the real binary: both signature schemes, the documented error
//! codes and bodies, and bad input that must never produce a 5xx.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;
use time::OffsetDateTime;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/signing-vectors.json")).expect("fixture JSON")
}

fn vector<'a>(f: &'a Value, name: &str) -> &'a Value {
    f["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("vector {name}"))
}

fn header<'a>(v: &'a Value, name: &str) -> &'a str {
    v["request"]["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
        .unwrap_or_else(|| panic!("header {name}"))
}

fn decoded(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The harness must sign byte for byte like the SDK, or every other test proves little.
#[test]
fn harness_signs_like_the_captured_sdk_requests() {
    let f = fixture();
    let v3 = vector(&f, "CreateEditingProject_unicode_specials__v3");
    let date = OffsetDateTime::parse(
        header(v3, "x-acs-date"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("date");
    let key = Key::new(
        v3["access_key_id"].as_str().unwrap(),
        v3["access_key_secret"].as_str().unwrap(),
    );
    let query = decoded(v3["request"]["raw_query"].as_str().unwrap());
    let form = decoded(v3["request"]["body"].as_str().unwrap());
    let call = Call {
        method: "POST".into(),
        action: "CreateEditingProject".into(),
        version: API_VERSION.into(),
        query,
        form,
        content_type: true,
        key: key.clone(),
        date,
        nonce: header(v3, "x-acs-signature-nonce").into(),
    };
    let signed = call.sign_v3(header(v3, "host"));
    assert_eq!(
        signed.header("authorization"),
        Some(v3["expected"]["authorization"].as_str().unwrap())
    );
    assert_eq!(
        signed.body,
        v3["request"]["body"].as_str().unwrap().as_bytes()
    );
    assert_eq!(
        signed.target,
        format!("/?{}", v3["request"]["raw_query"].as_str().unwrap())
    );

    let v2 = vector(&f, "CreateEditingProject_unicode_specials__v2");
    let raw_query = v2["request"]["raw_query"].as_str().unwrap();
    let all = decoded(raw_query);
    let get = |n: &str| all.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let api: Vec<(String, String)> = all
        .iter()
        .filter(|(k, _)| {
            ![
                "Action",
                "Format",
                "Version",
                "Timestamp",
                "SignatureNonce",
                "SignatureMethod",
                "SignatureVersion",
                "AccessKeyId",
                "Signature",
            ]
            .contains(&k.as_str())
        })
        .cloned()
        .collect();
    let call = Call {
        query: api,
        form: decoded(v2["request"]["body"].as_str().unwrap()),
        date: OffsetDateTime::parse(
            &get("Timestamp"),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap(),
        nonce: get("SignatureNonce"),
        ..call
    };
    let signed = call.sign_v2(header(v2, "host"));
    assert_eq!(signed.target, format!("/?{raw_query}"));
    assert_eq!(
        signed.string_to_sign,
        v2["expected"]["string_to_sign"].as_str().unwrap()
    );
}

#[tokio::test]
async fn signed_v3_and_v2_requests_succeed_and_carry_the_request_id() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();

        let r = s
            .call("SearchEditingProject", &[("PageSize", "5")], &key)
            .await;
        let body = r.ok();
        assert!(body["ProjectList"].is_array(), "{body}");
        let rid = body["RequestId"].as_str().unwrap().to_string();
        // Vendor-shaped request IDs: upper-case UUID with dashes.
        assert_eq!(rid.len(), 36, "{rid}");
        assert_eq!(rid, rid.to_uppercase());
        assert!(
            s.wait_for_log(&rid).await.is_some(),
            "RequestId {rid} not in the server log:\n{}",
            s.logs()
        );

        let r = s
            .call_v2(
                "CreateEditingProject",
                &[
                    ("Title", "v2 * ~ + & = ü 中"),
                    ("Timeline", &timeline_of(2.0)),
                ],
                &key,
            )
            .await;
        let created = r.ok().clone();
        assert_eq!(created["Project"]["Title"], "v2 * ~ + & = ü 中");
        let id = project_id(&created);
        let r = s
            .call_v2("GetEditingProject", &[("ProjectId", &id)], &key)
            .await;
        assert_eq!(r.ok()["Project"]["Title"], "v2 * ~ + & = ü 中");
        let rid = r.json["RequestId"].as_str().unwrap().to_string();
        assert!(s.wait_for_log(&rid).await.is_some(), "{rid} not logged");

        // Errors are logged with their RequestId too.
        let r = s
            .call("GetEditingProject", &[("ProjectId", "nope")], &key)
            .await;
        r.err(404, "ProjectNotFound");
        let rid = r.json["RequestId"].as_str().unwrap().to_string();
        assert!(s.wait_for_log(&rid).await.is_some(), "{rid} not logged");

        // GET works like POST (the SDK uses GET for some actions), in both schemes.
        let call = Call::new("GetEditingProject", &[("ProjectId", &id)], &key).method("GET");
        let r = s.send(&call.sign_v3(&s.host())).await;
        assert_eq!(r.ok()["Project"]["ProjectId"], id.as_str());
        let call = Call::new("ListEditingProjects", &[("MaxResults", "3")], &key).method("GET");
        let r = s.send(&call.sign_v2(&s.host())).await;
        assert!(r.ok()["ProjectList"].is_array());
    })
    .await;
}

#[tokio::test]
async fn authentication_errors_use_the_vendor_codes() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();
        let params: &[(&str, &str)] = &[("PageSize", "5")];

        // Wrong secret: 400 SignatureDoesNotMatch; the message ends with the server's string
        // to sign, which equals the client's (only the secret differs).
        let wrong = Key::new(&key.id, "not-the-secret");
        for v2 in [false, true] {
            let call = Call::new("SearchEditingProject", params, &wrong);
            let signed = if v2 {
                call.sign_v2(&host)
            } else {
                call.sign_v3(&host)
            };
            let r = s.send(&signed).await;
            r.err(400, "SignatureDoesNotMatch");
            let marker = "server string to sign is:";
            let at = r
                .message()
                .find(marker)
                .unwrap_or_else(|| panic!("no {marker:?} in {}", r.message()));
            assert_eq!(
                &r.message()[at + marker.len()..],
                signed.string_to_sign,
                "v2={v2}"
            );
        }

        // A tampered body fails the signature check too.
        let mut signed = Call::new(
            "CreateEditingProject",
            &[("Title", "t"), ("Timeline", &timeline_of(1.0))],
            &key,
        )
        .sign_v3(&host);
        signed.body = format!("Timeline={}", wire_encode(&timeline_of(9.0))).into_bytes();
        s.send(&signed).await.err(400, "SignatureDoesNotMatch");

        // Unknown key: 404 InvalidAccessKeyId.NotFound, both schemes.
        let stranger = Key::random();
        s.call("SearchEditingProject", params, &stranger)
            .await
            .err(404, "InvalidAccessKeyId.NotFound");
        s.call_v2("SearchEditingProject", params, &stranger)
            .await
            .err(404, "InvalidAccessKeyId.NotFound");

        // No signature at all: 400 IncompleteSignature.
        let mut signed = Call::new("SearchEditingProject", params, &key).sign_v3(&host);
        signed.remove_header("authorization");
        s.send(&signed).await.err(400, "IncompleteSignature");
        // A malformed Authorization header, and one that leaves a required header unsigned.
        let mut signed = Call::new("SearchEditingProject", params, &key).sign_v3(&host);
        signed.set_header("Authorization", "ACS3-HMAC-SHA256 Credential=x");
        s.send(&signed).await.err(400, "IncompleteSignature");
        let mut signed = Call::new("SearchEditingProject", params, &key).sign_v3(&host);
        let auth = signed
            .header("authorization")
            .unwrap()
            .replace("x-acs-signature-nonce;", "");
        signed.set_header("Authorization", &auth);
        s.send(&signed).await.err(400, "IncompleteSignature");

        // Replayed nonce: the very same bytes twice.
        for v2 in [false, true] {
            let call = Call::new("SearchEditingProject", params, &key);
            let signed = if v2 {
                call.sign_v2(&host)
            } else {
                call.sign_v3(&host)
            };
            s.send(&signed).await.ok();
            s.send(&signed).await.err(400, "SignatureNonceUsed");
        }

        // Timestamps 20 minutes off, either way, both schemes.
        let now = OffsetDateTime::now_utc();
        for offset in [time::Duration::minutes(-20), time::Duration::minutes(20)] {
            let call = Call::new("SearchEditingProject", params, &key).at(now + offset);
            s.send(&call.sign_v3(&host))
                .await
                .err(400, "InvalidTimeStamp.Expired");
            let call = Call::new("SearchEditingProject", params, &key).at(now + offset);
            s.send(&call.sign_v2(&host))
                .await
                .err(400, "InvalidTimeStamp.Expired");
        }
        // Within the window (±15 min) is fine.
        let call =
            Call::new("SearchEditingProject", params, &key).at(now - time::Duration::minutes(10));
        s.send(&call.sign_v3(&host)).await.ok();

        // A timestamp that does not parse.
        let signed = Call::new("SearchEditingProject", params, &key).sign_v3_edit(&host, |h| {
            for (k, v) in h.iter_mut() {
                if k == "x-acs-date" {
                    *v = "yesterday at noon".into();
                }
            }
        });
        s.send(&signed).await.err(400, "InvalidTimeStamp.Format");
        let signed = Call::new("SearchEditingProject", params, &key).sign_v2_edit(&host, |q| {
            for (k, v) in q.iter_mut() {
                if k == "Timestamp" {
                    *v = "2021-13-45 25:61".into();
                }
            }
        });
        s.send(&signed).await.err(400, "InvalidTimeStamp.Format");

        // STS tokens are not supported: InvalidParameter naming SecurityToken.
        let signed = Call::new("SearchEditingProject", params, &key).sign_v3_edit(&host, |h| {
            h.push(("x-acs-security-token".into(), "sts-token".into()));
        });
        let r = s.send(&signed).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("SecurityToken"), "{}", r.message());
        let signed = Call::new("SearchEditingProject", params, &key).sign_v2_edit(&host, |q| {
            q.push(("SecurityToken".into(), "sts-token".into()));
        });
        let r = s.send(&signed).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("SecurityToken"), "{}", r.message());

        // Errors are JSON even when a V2 client asks for XML.
        let signed = Call::new("GetEditingProject", &[("ProjectId", "none")], &key).sign_v2_edit(
            &host,
            |q| {
                for (k, v) in q.iter_mut() {
                    if k == "Format" {
                        *v = "XML".into();
                    }
                }
            },
        );
        s.send(&signed).await.err(404, "ProjectNotFound");

        // Unknown action, wrong version.
        s.call("NoSuchAction", &[], &key)
            .await
            .err(404, "InvalidAction.NotFound");
        s.call_v2("NoSuchAction", &[], &key)
            .await
            .err(404, "InvalidAction.NotFound");
        let call = Call::new("SearchEditingProject", params, &key).version("2017-03-21");
        s.send(&call.sign_v3(&host))
            .await
            .err(400, "InvalidVersion");
        let call = Call::new("SearchEditingProject", params, &key).version("2017-03-21");
        s.send(&call.sign_v2(&host))
            .await
            .err(400, "InvalidVersion");
    })
    .await;
}

#[tokio::test]
async fn oversized_and_malformed_input_is_a_4xx() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();

        // A body just over 8 MiB (the default --max-body-bytes), with Content-Length and
        // chunked: 413 InvalidParameter, never a 5xx. This client reads while it sends.
        let port = s.port();
        let signed = Call::new(
            "CreateEditingProject",
            &[("Title", "big"), ("Timeline", &"a".repeat(8 * 1024 * 1024 + 1))],
            &key,
        )
        .sign_v3(&host);
        let raw = tokio::task::spawn_blocking(move || send_raw(port, &signed.raw_bytes()))
            .await
            .unwrap()
            .expect("a response to the oversized upload");
        assert_eq!(raw.status, 413, "{}", String::from_utf8_lossy(&raw.body));
        let v = raw.error_json();
        assert_eq!(v["Code"], "InvalidParameter");
        assert!(v["Message"].as_str().unwrap().contains("Body"), "{v}");
        let chunked_host = host.clone();
        let raw = tokio::task::spawn_blocking(move || {
            let mut req = format!(
                "POST / HTTP/1.1\r\nhost: {chunked_host}\r\ncontent-type: application/x-www-form-urlencoded\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            )
            .into_bytes();
            let chunk = vec![b'a'; 1024 * 1024];
            for _ in 0..9 {
                req.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                req.extend_from_slice(&chunk);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
            send_raw(port, &req)
        })
        .await
        .unwrap()
        .expect("a response to the chunked upload");
        assert_eq!(raw.status, 413, "{}", String::from_utf8_lossy(&raw.body));
        let v = raw.error_json();
        assert_eq!(v["Code"], "InvalidParameter");
        // Exactly at the limit is accepted as far as size goes (here: a bad timeline).
        let timeline_len = 8 * 1024 * 1024 - "Timeline=".len();
        let signed = Call::new(
            "CreateEditingProject",
            &[("Title", "at the limit"), ("Timeline", &"a".repeat(timeline_len))],
            &key,
        )
        .sign_v3(&host);
        assert_eq!(signed.body.len(), 8 * 1024 * 1024);
        let r = s.send(&signed).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("Timeline"), "{}", r.message());

        // Invalid UTF-8 after percent-decoding: 400 InvalidParameter naming the parameter.
        let mut signed = Call::new("CreateEditingProject", &[("Title", "x")], &key).sign_v3(&host);
        signed.target = "/?Title=%FF%FE".into();
        let r = s.send(&signed).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("Title"), "{}", r.message());
        let mut signed = Call::new(
            "CreateEditingProject",
            &[("Title", "x"), ("Timeline", "{}")],
            &key,
        )
        .sign_v3(&host);
        signed.body = b"Timeline=%C3%28".to_vec();
        let r = s.send(&signed).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("Timeline"), "{}", r.message());

        // The same parameter twice, within the query and across query and body.
        let mut call = Call::new("CreateEditingProject", &[("Title", "a")], &key);
        call.query.push(("Title".into(), "b".into()));
        let r = s.send(&call.sign_v3(&host)).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("\"Title\""), "{}", r.message());
        let mut call = Call::new("CreateEditingProject", &[("Title", "a")], &key);
        call.form.push(("Title".into(), "b".into()));
        let r = s.send(&call.sign_v3(&host)).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("\"Title\""), "{}", r.message());
        let mut call = Call::new("SearchEditingProject", &[("PageSize", "5")], &key);
        call.query.push(("PageSize".into(), "5".into()));
        let r = s.send(&call.sign_v2(&host)).await;
        r.err(400, "InvalidParameter");
        assert!(r.message().contains("\"PageSize\""), "{}", r.message());

        // Out-of-range and non-numeric page sizes are refused, not clamped.
        for bad in ["100000", "-1", "0", "101", "abc", "1.5", ""] {
            let r = s
                .call("SearchEditingProject", &[("PageSize", bad)], &key)
                .await;
            r.err(400, "InvalidParameter");
            assert!(r.message().contains("PageSize"), "{bad}: {}", r.message());
        }
        for bad in ["0", "-3", "abc"] {
            let r = s
                .call("SearchEditingProject", &[("PageNo", bad)], &key)
                .await;
            r.err(400, "InvalidParameter");
            assert!(r.message().contains("PageNo"), "{bad}: {}", r.message());
        }
        for bad in ["100000", "-1", "abc"] {
            let r = s
                .call("ListEditingProjects", &[("MaxResults", bad)], &key)
                .await;
            r.err(400, "InvalidParameter");
            assert!(r.message().contains("MaxResults"), "{bad}: {}", r.message());
        }

        // A timeline nested 10,000 levels deep: 400 InvalidParameter, server alive.
        let depth = 10_000;
        let deep_array = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let deep_object = format!(
            "{{\"VideoTracks\":[],\"Extra\":{}1{}}}",
            "{\"a\":".repeat(depth),
            "}".repeat(depth)
        );
        let deep_in_key = format!(
            "{{\"VideoTracks\":[{{\"VideoTrackClips\":[{{\"MediaId\":\"m\",\"X\":{}}}]}}]}}",
            deep_array
        );
        for deep in [&deep_array, &deep_object, &deep_in_key] {
            let r = s
                .call(
                    "CreateEditingProject",
                    &[("Title", "deep"), ("Timeline", deep)],
                    &key,
                )
                .await;
            r.err(400, "InvalidParameter");
            assert!(r.message().contains("Timeline"), "{}", r.message());
        }
        assert_eq!(s.healthz().await, Some(200));

        // Missing parameters name themselves.
        let r = s.call("CreateEditingProject", &[], &key).await;
        r.err(400, "MissingParameter");
        assert!(r.message().contains("\"Title\""), "{}", r.message());
        let r = s.call("GetEditingProject", &[], &key).await;
        r.err(400, "MissingParameter");
        assert!(r.message().contains("\"ProjectId\""), "{}", r.message());

        // A path other than / is not an action.
        let mut signed = Call::new("SearchEditingProject", &[], &key).sign_v3(&host);
        signed.target = "/nothing/here".into();
        let r = s.send(&signed).await;
        assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
        r.assert_error_shape();
    })
    .await;
}

/// The SDK's HTTP stack (like reqwest here, or Python's http.client) sends the whole body
/// before it reads the answer. It must still get the documented 413, not a reset connection.
#[tokio::test]
async fn oversized_body_is_a_413_for_clients_that_send_it_all() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let signed = Call::new(
            "CreateEditingProject",
            &[
                ("Title", "big"),
                ("Timeline", &"a".repeat(8 * 1024 * 1024 + 1)),
            ],
            &s.key(),
        )
        .sign_v3(&s.host());
        for attempt in 0..5 {
            let r = s.try_send(&signed).await.unwrap_or_else(|e| {
                panic!(
                    "attempt {attempt}: the client got no answer to an oversized body \
                     (the server closed the connection while the body was being sent): {e}"
                )
            });
            r.err(413, "InvalidParameter");
        }
        assert_eq!(s.healthz().await, Some(200));
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Random and mutated requests
// ---------------------------------------------------------------------------------------

const ACTIONS: &[&str] = &[
    "CreateEditingProject",
    "GetEditingProject",
    "UpdateEditingProject",
    "DeleteEditingProjects",
    "SearchEditingProject",
    "ListEditingProjects",
    "NoSuchAction",
    "",
];

const PARAMS: &[&str] = &[
    "Title",
    "Description",
    "Timeline",
    "CoverURL",
    "ProjectId",
    "ProjectIds",
    "PageNo",
    "PageSize",
    "MaxResults",
    "NextToken",
    "SortBy",
    "Status",
    "StartTime",
    "EndTime",
    "TemplateType",
    "TemplateId",
    "ClipsParam",
    "ProjectType",
    "BusinessConfig",
    "BusinessStatus",
    "CreateSource",
    "Keyword",
    "RequestSource",
    "MaterialMaps",
    "Action",
    "Version",
    "Signature",
    "SecurityToken",
];

fn value_strategy() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[ -~]{0,40}",
        1 => "-?[0-9]{1,25}(\\.[0-9]{1,3})?",
        1 => Just(String::new()),
        1 => prop_oneof![
            Just("true".to_string()),
            Just("True".to_string()),
            Just("CreationTime:Asc".to_string()),
            Just("Draft,Editing,Bogus".to_string()),
            Just("2021-01-08T16:52:07Z".to_string()),
            Just("9999-99-99T99:99:99Z".to_string()),
            Just("null".to_string()),
            Just("{}".to_string()),
            Just("[]".to_string()),
            Just("1e308".to_string()),
            Just("-1e308".to_string()),
            Just("NaN".to_string()),
            Just(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"m","In":-1,"Out":1e300}]}]}"#.to_string()),
            Just(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"x","In":5,"Out":2,"Speed":0}]}]}"#.to_string()),
            Just(r#"{"VideoTracks":"nope","MaxDuration":"abc"}"#.to_string()),
            Just(r#"{"AudioTracks":[{"MainTrack":"maybe","AudioTrackClips":[null,1,"x",{}]}]}"#.to_string()),
            Just(r#"{"OutputMediaConfig":{"StorageLocation":"b.oss-cn-shanghai.aliyuncs.com"}}"#.to_string()),
            Just("%00%ff".to_string()),
            Just("\u{0}\u{1}\u{7f}".to_string()),
        ],
        1 => "\\PC{0,20}".prop_map(|s| format!("{{\"VideoTracks\":[{{\"VideoTrackClips\":[{{\"MediaId\":{s:?}}}]}}]}}")),
    ]
    .boxed()
}

fn mutation_strategy() -> impl Strategy<Value = ByteMutation> {
    let header_value = proptest::collection::vec(
        prop_oneof![0x20u8..=0x7e, 0x80u8..=0xff, Just(b'\t')],
        0..80,
    );
    prop_oneof![
        3 => Just(ByteMutation::None),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(ByteMutation::QueryBytes),
        1 => "[A-Za-z0-9._~!$&'()*+,;=:@/?%-]{0,80}".prop_map(ByteMutation::QueryText),
        1 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(ByteMutation::Body),
        2 => (any::<usize>(), header_value).prop_map(|(i, v)| ByteMutation::Header(i, v)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| ByteMutation::Flip(i, b)),
        1 => any::<usize>().prop_map(ByteMutation::Truncate),
        1 => any::<usize>().prop_map(ByteMutation::DropHeader),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    action: usize,
    params: Vec<(usize, String)>,
    v2: bool,
    method_get: bool,
    mutation: ByteMutation,
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (
        0..ACTIONS.len(),
        proptest::collection::vec((0..PARAMS.len(), value_strategy()), 0..5),
        any::<bool>(),
        proptest::bool::weighted(0.15),
        mutation_strategy(),
    )
        .prop_map(|(action, params, v2, method_get, mutation)| Case {
            action,
            params,
            v2,
            method_get,
            mutation,
        })
}

fn build(case: &Case, key: &Key, host: &str) -> Vec<u8> {
    let params: Vec<(&str, &str)> = case
        .params
        .iter()
        .map(|(i, v)| (PARAMS[*i], v.as_str()))
        .collect();
    let mut call = Call::new(ACTIONS[case.action], &params, key);
    if case.method_get {
        call = call.method("GET");
    }
    let s = if case.v2 {
        call.sign_v2(host)
    } else {
        call.sign_v3(host)
    };
    let mut parts = RawParts::of(&s);
    parts.apply(&case.mutation);
    parts.bytes(&s.method)
}

#[tokio::test]
async fn random_and_mutated_requests_never_get_a_5xx() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();
        let port = s.port();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut runner = TestRunner::new(Config {
                cases: 300,
                failure_persistence: None,
                max_shrink_iters: 200,
                ..Config::default()
            });
            let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
            let result = runner.run(&case_strategy(), |case| {
                let bytes = build(&case, &key, &host);
                let r = send_raw(port, &bytes)
                    .ok_or_else(|| TestCaseError::fail("no HTTP response"))?;
                *statuses.borrow_mut().entry(r.status).or_default() += 1;
                prop_assert!(
                    r.status < 500,
                    "status {} for {:?}: {}",
                    r.status,
                    String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]),
                    String::from_utf8_lossy(&r.body)
                );
                if r.status != 200 {
                    let v: Value = serde_json::from_slice(&r.body).map_err(|e| {
                        TestCaseError::fail(format!(
                            "error body is not JSON ({e}): {}",
                            String::from_utf8_lossy(&r.body)
                        ))
                    })?;
                    prop_assert!(v["Code"].is_string(), "no Code: {v}");
                    prop_assert!(v["RequestId"].is_string(), "no RequestId: {v}");
                    prop_assert_eq!(r.header("x-acs-request-id"), v["RequestId"].as_str());
                }
                Ok(())
            });
            (result.map_err(|e| e.to_string()), statuses.into_inner())
        })
        .await
        .expect("fuzz thread");
        eprintln!("status counts: {:?}", outcome.1);
        if let Err(e) = outcome.0 {
            panic!("{e}\n--- server log tail:\n{}", {
                let logs = s.logs();
                logs.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            });
        }
        // Some of the signed, unmutated cases must have got through.
        assert!(
            outcome.1.get(&200).copied().unwrap_or(0) > 0,
            "no request succeeded: {:?}",
            outcome.1
        );

        // Plain garbage on the socket: any answer must be a 4xx, and the server survives.
        let garbage = tokio::task::spawn_blocking(move || {
            let mut runner = TestRunner::new(Config {
                cases: 30,
                failure_persistence: None,
                ..Config::default()
            });
            runner
                .run(&proptest::collection::vec(any::<u8>(), 1..512), |bytes| {
                    if let Some(r) = send_raw_with_timeout(port, &bytes) {
                        prop_assert!(r.status < 500, "status {}", r.status);
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())
        })
        .await
        .expect("garbage thread");
        garbage.unwrap();

        assert_eq!(s.healthz().await, Some(200));
        s.ok("SearchEditingProject", &[]).await;
        assert!(s.is_running());
    })
    .await;
}

/// Garbage may leave the server waiting for more bytes: close our side after a short wait.
fn send_raw_with_timeout(port: u16, bytes: &[u8]) -> Option<RawResponse> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .ok()?;
    let _ = stream.write_all(bytes);
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf);
    parse_raw_response(&buf)
}

/// V2 signs only the parameters: an unsigned `x-acs-action`/`x-acs-version` header that
/// disagrees with the signed `Action`/`Version` is refused, never obeyed.
#[tokio::test]
async fn unsigned_v2_headers_cannot_change_the_signed_action() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();
        let added = s.ok("AddCategory", &[("CateName", "keep me")]).await;
        let cate_id = added["Category"]["CateId"].as_i64().unwrap().to_string();

        let params: &[(&str, &str)] = &[("CateId", &cate_id)];
        let mut signed = Call::new("GetCategories", params, &key).sign_v2(&host);
        signed.set_header("x-acs-action", "DeleteCategory");
        s.send(&signed).await.err(400, "IncompleteSignature");
        let mut signed = Call::new("GetCategories", params, &key).sign_v2(&host);
        signed.set_header("x-acs-version", "2017-03-21");
        s.send(&signed).await.err(400, "IncompleteSignature");

        let r = s.call_v2("GetCategories", params, &key).await;
        assert_eq!(
            r.ok()["Category"]["CateId"].as_i64().unwrap().to_string(),
            cate_id
        );
        // Without the headers (other SDKs do not send them) the signed parameters decide.
        let mut signed = Call::new("GetCategories", params, &key).sign_v2(&host);
        signed.remove_header("x-acs-action");
        signed.remove_header("x-acs-version");
        assert_eq!(
            s.send(&signed).await.ok()["Category"]["CateId"]
                .as_i64()
                .unwrap()
                .to_string(),
            cate_id
        );
    })
    .await;
}
