//! Property tests for what openice reads off the wire, through the public library API:
//!
//! * `protocol::request::parse` never panics on arbitrary request parts, and neither do the
//!   checks that follow it (signature, time window, version);
//! * a request signed exactly as the SDK signs it (V3 and V2, see `tests/common`) parses,
//!   names the signed action, version and parameters, and verifies with its secret only;
//!   changing any signed part of it is caught;
//! * `Timeline::parse` never panics on arbitrary JSON built from the vendor's vocabulary, and
//!   every accepted timeline has a finite, non-negative duration and a WebSDK form, whatever
//!   the probed source durations are.
//!
//! Lower-level properties (percent-encoding, canonical strings, `Timeline::parse` on arbitrary
//! text) live next to the code in `src/protocol/sign.rs` and `src/domain/timeline.rs`.

mod common;

use std::collections::BTreeMap;

use common::{Call, Key, Signed};
use openice::domain::timeline::Timeline;
use openice::protocol::request::{self, HttpParts};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Arbitrary request parts
// ---------------------------------------------------------------------------------------

const HEADER_NAMES: &[&str] = &[
    "authorization",
    "Authorization",
    "content-type",
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
    "x-acs-security-token",
    "user-agent",
    "accept",
    "",
];

fn header_name() -> BoxedStrategy<String> {
    prop_oneof![
        3 => proptest::sample::select(HEADER_NAMES).prop_map(str::to_string),
        1 => "[a-zA-Z0-9-]{0,20}",
        1 => ".*",
    ]
    .boxed()
}

fn header_value() -> BoxedStrategy<String> {
    prop_oneof![
        2 => ".*",
        1 => "[ -~]{0,60}",
        1 => "ACS3-HMAC-SHA256 Credential=[A-Za-z0-9]{0,12},SignedHeaders=[a-z;:,= -]{0,60},Signature=[0-9a-fA-F]{0,70}",
        1 => "ACS3-[ -~]{0,80}",
        1 => Just("application/x-www-form-urlencoded".to_string()),
        1 => Just("application/json".to_string()),
        1 => "20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z",
        1 => "[0-9a-f]{64}",
    ]
    .boxed()
}

/// Query strings: arbitrary text, and text built from the characters that matter to the
/// form decoder (`%`, `+`, `&`, `=`, high bytes as escapes).
fn raw_query() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        "[A-Za-z]{1,12}",
        Just("Action".to_string()),
        Just("Signature".to_string()),
        Just("AccessKeyId".to_string()),
        Just("SignatureNonce".to_string()),
        Just("Timestamp".to_string()),
        Just("Version".to_string()),
        "%[0-9A-Fa-f]{0,2}",
        "[%+&=]{1,3}",
        ".{0,8}",
    ];
    prop_oneof![
        1 => ".*",
        2 => proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat()),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct Parts {
    method: String,
    path: String,
    raw_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parts() -> impl Strategy<Value = Parts> {
    (
        prop_oneof![
            3 => proptest::sample::select(&["POST", "GET", "PUT", "DELETE", ""][..])
                .prop_map(str::to_string),
            1 => ".*",
        ],
        prop_oneof![3 => Just("/".to_string()), 1 => ".*"],
        raw_query(),
        proptest::collection::vec((header_name(), header_value()), 0..12),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            raw_query().prop_map(String::into_bytes),
        ],
    )
        .prop_map(|(method, path, raw_query, headers, body)| Parts {
            method,
            path,
            raw_query,
            headers,
            body,
        })
}

/// Everything the server does with a parsed request before the store is involved.
fn parse_and_check(p: &Parts) {
    let http = HttpParts {
        method: &p.method,
        path: &p.path,
        raw_query: &p.raw_query,
        headers: &p.headers,
        body: &p.body,
    };
    if let Ok(rpc) = request::parse(&http) {
        let _ = rpc.claim.access_key_id();
        let _ = rpc.claim.nonce();
        let _ = rpc.claim.verify("secret");
        let _ = rpc
            .claim
            .check_time(OffsetDateTime::now_utc(), time::Duration::minutes(15));
        let _ = request::check_version(&rpc.version);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_never_panics_on_arbitrary_parts(p in parts()) {
        parse_and_check(&p);
    }
}

// ---------------------------------------------------------------------------------------
// Requests signed as the SDK signs them
// ---------------------------------------------------------------------------------------

/// Splits a signed request into the parts the server hands to `request::parse`.
fn split(s: &Signed) -> Parts {
    let (path, query) = s.target.split_once('?').unwrap_or((&s.target, ""));
    Parts {
        method: s.method.clone(),
        path: path.to_string(),
        raw_query: query.to_string(),
        headers: s.headers.clone(),
        body: s.body.clone(),
    }
}

fn http(p: &Parts) -> HttpParts<'_> {
    HttpParts {
        method: &p.method,
        path: &p.path,
        raw_query: &p.raw_query,
        headers: &p.headers,
        body: &p.body,
    }
}

#[derive(Debug, Clone)]
struct SignedCase {
    action: String,
    /// API parameters by name (unique names, none of the common parameters).
    params: BTreeMap<String, String>,
    timeline: Option<String>,
    v2: bool,
    get: bool,
    key: Key,
}

fn signed_case() -> impl Strategy<Value = SignedCase> {
    (
        "[A-Z][A-Za-z]{0,30}",
        proptest::collection::btree_map("X[A-Za-z0-9.]{0,12}", any::<String>(), 0..6),
        proptest::option::of(any::<String>()),
        any::<bool>(),
        proptest::bool::weighted(0.2),
        ("LTAI[A-Za-z0-9]{4,20}", "[A-Za-z0-9/+=]{1,40}"),
    )
        .prop_map(
            |(action, params, timeline, v2, get, (id, secret))| SignedCase {
                action,
                params,
                timeline,
                v2,
                get,
                key: Key::new(&id, &secret),
            },
        )
}

fn sign(c: &SignedCase) -> Signed {
    let mut params: Vec<(&str, &str)> = c
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(t) = &c.timeline {
        params.push(("Timeline", t));
    }
    let mut call = Call::new(&c.action, &params, &c.key);
    if c.get {
        call = call.method("GET");
    }
    if c.v2 {
        call.sign_v2("127.0.0.1:8080")
    } else {
        call.sign_v3("127.0.0.1:8080")
    }
}

/// Whether the request parses and verifies with `secret`.
fn accepted(p: &Parts, secret: &str) -> bool {
    request::parse(&http(p)).is_ok_and(|rpc| rpc.claim.verify(secret).is_ok())
}

/// Appends `extra` to the value of the query parameter at `index` (in wire order).
fn change_query_value(query: &str, index: usize, extra: &str) -> String {
    let mut pairs: Vec<String> = query.split('&').map(str::to_string).collect();
    let i = index % pairs.len();
    pairs[i].push_str(extra);
    pairs.join("&")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn signed_requests_parse_and_verify_with_their_secret_only(c in signed_case()) {
        let s = sign(&c);
        let p = split(&s);
        let rpc = request::parse(&http(&p))
            .map_err(|e| TestCaseError::fail(format!("{:?}: {}", e.code, e.message)))?;
        prop_assert_eq!(&rpc.action, &c.action);
        prop_assert_eq!(rpc.version.as_str(), common::API_VERSION);
        prop_assert_eq!(rpc.claim.access_key_id(), c.key.id.as_str());
        for (k, v) in &c.params {
            prop_assert_eq!(rpc.params.raw(k), Some(v.as_str()), "parameter {}", k);
        }
        if let Some(t) = &c.timeline {
            prop_assert_eq!(rpc.params.raw("Timeline"), Some(t.as_str()));
        }
        prop_assert!(rpc.claim.verify(&c.key.secret).is_ok(), "does not verify:\n{}", s.string_to_sign);
        let other = format!("{}x", c.key.secret);
        prop_assert!(rpc.claim.verify(&other).is_err());
        prop_assert!(rpc.claim.verify("").is_err());
        // Signed just now: inside the window.
        prop_assert!(rpc
            .claim
            .check_time(OffsetDateTime::now_utc(), time::Duration::minutes(15))
            .is_ok());
    }

    #[test]
    fn changing_a_signed_part_is_caught(
        c in signed_case(),
        which in 0..4usize,
        index in any::<usize>(),
        extra in "[A-Za-z0-9]{1,4}",
    ) {
        let s = sign(&c);
        let mut p = split(&s);
        prop_assert!(accepted(&p, &c.key.secret));
        match which {
            // A query value (V2: every common parameter, V3: the API parameters).
            0 if !p.raw_query.is_empty() => p.raw_query = change_query_value(&p.raw_query, index, &extra),
            // An added query parameter.
            1 | 0 => {
                if !p.raw_query.is_empty() {
                    p.raw_query.push('&');
                }
                p.raw_query.push_str(&format!("Xadded={extra}"));
            }
            // The body.
            2 => p.body.extend_from_slice(format!("&Xbody={extra}").as_bytes()),
            // V3: any signed header; V2: the method, which is signed.
            _ => {
                if c.v2 {
                    p.method = if p.method == "GET" { "POST".into() } else { "GET".into() };
                } else {
                    let signed: Vec<usize> = (0..p.headers.len())
                        .filter(|&i| !p.headers[i].0.eq_ignore_ascii_case("authorization"))
                        .collect();
                    let i = signed[index % signed.len()];
                    p.headers[i].1.push_str(&extra);
                }
            }
        }
        prop_assert!(!accepted(&p, &c.key.secret), "a changed request still verifies: {:?}", p);
    }
}

// ---------------------------------------------------------------------------------------
// Timelines
// ---------------------------------------------------------------------------------------

const TIMELINE_KEYS: &[&str] = &[
    "VideoTracks",
    "VideoTrackClips",
    "AudioTracks",
    "AudioTrackClips",
    "ImageTracks",
    "ImageTrackClips",
    "SubtitleTracks",
    "SubtitleTrackClips",
    "EffectTracks",
    "EffectTrackItems",
    "MediaId",
    "MediaURL",
    "In",
    "Out",
    "TimelineIn",
    "TimelineOut",
    "Speed",
    "Duration",
    "MaxDuration",
    "MainTrack",
    "Type",
    "Effects",
    "Content",
    "Id",
];

fn json_number() -> BoxedStrategy<Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        (-1e3f64..1e3).prop_map(|f| json!(f)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        proptest::sample::select(&[0.0, -0.0, 0.1, 0.09, 100.0, 100.1, 1e9, 1e9 + 1.0, 1e308][..])
            .prop_map(|f| json!(f)),
    ]
    .boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        json_number(),
        ".{0,12}".prop_map(Value::String),
        proptest::sample::select(
            &[
                "",
                "5",
                " 2.5 ",
                "-1",
                "true",
                "FALSE",
                "Video",
                "audio",
                "Effect",
                "GlobalImage",
                "1e400",
                "NaN"
            ][..]
        )
        .prop_map(|s| Value::String(s.to_string())),
    ]
    .boxed()
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        4 => proptest::sample::select(TIMELINE_KEYS).prop_map(str::to_string),
                        1 => "[A-Za-z]{0,8}",
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Timeline-shaped JSON: the vendor's track and clip lists, every field any JSON value.
fn shaped_timeline() -> impl Strategy<Value = Value> {
    let small = || {
        prop_oneof![
            6 => (0.0f64..60.0).prop_map(|f| json!(f)),
            1 => json_number(),
            1 => json_leaf(),
        ]
    };
    let opt = |r: std::ops::Range<f64>| proptest::option::weighted(0.7, r);
    let clip = (
        proptest::sample::select(&["MediaId", "MediaURL"][..]),
        (
            opt(0.0..30.0),
            opt(0.01..30.0),
            opt(0.0..100.0),
            opt(0.01..30.0),
            opt(0.1..100.0),
        ),
        // Sometimes a field is anything at all.
        proptest::collection::btree_map(
            proptest::sample::select(TIMELINE_KEYS).prop_map(str::to_string),
            small(),
            0..2,
        ),
    )
        .prop_map(|(source, (inp, len, tin, tlen, speed), noise)| {
            let mut m = Map::new();
            m.insert(source.to_string(), json!("m-1"));
            let i = inp.unwrap_or(0.0);
            let ti = tin.unwrap_or(0.0);
            for (k, v) in [
                ("In", inp),
                ("Out", len.map(|l| i + l)),
                ("TimelineIn", tin),
                ("TimelineOut", tlen.map(|l| ti + l)),
                ("Speed", speed),
            ] {
                if let Some(v) = v {
                    m.insert(k.to_string(), json!(v));
                }
            }
            m.extend(noise);
            Value::Object(m)
        });
    let track = (
        proptest::sample::select(
            &[
                ("VideoTracks", "VideoTrackClips"),
                ("AudioTracks", "AudioTrackClips"),
                ("ImageTracks", "ImageTrackClips"),
                ("SubtitleTracks", "SubtitleTrackClips"),
                ("EffectTracks", "EffectTrackItems"),
            ][..],
        ),
        proptest::collection::vec(clip, 0..5),
        proptest::option::of(json_leaf()),
    );
    (
        proptest::collection::vec(track, 0..5),
        proptest::option::of(small()),
    )
        .prop_map(|(tracks, max)| {
            let mut top = Map::new();
            for ((list, clips_key), clips, main) in tracks {
                let mut t = Map::new();
                t.insert(clips_key.to_string(), Value::Array(clips));
                if let Some(main) = main {
                    t.insert("MainTrack".into(), main);
                }
                let entry = top
                    .entry(list.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = entry {
                    a.push(Value::Object(t));
                }
            }
            if let Some(max) = max {
                top.insert("MaxDuration".into(), max);
            }
            Value::Object(top)
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn timeline_parse_never_panics_and_accepted_timelines_have_a_sane_duration(
        v in prop_oneof![json_value().boxed(), shaped_timeline().boxed()],
        probed in prop_oneof![
            Just(None),
            (-10.0f64..1e4).prop_map(Some),
            proptest::sample::select(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0, 1e300][..]).prop_map(Some),
        ],
    ) {
        let text = v.to_string();
        if let Ok(t) = Timeline::parse(&text) {
            let d = t.duration(|_| probed);
            prop_assert!(d.is_finite() && d >= 0.0, "duration {} of {}", d, text);
            let unknown = t.duration(|_| None);
            prop_assert!(unknown.is_finite() && unknown >= 0.0, "duration {} of {}", unknown, text);
            let front = t.to_frontend(|_| probed);
            prop_assert!(front.is_object(), "WebSDK form of {}: {}", text, front);
            let _ = t.media_ids();
            let _ = t.sources();
        }
    }
}
