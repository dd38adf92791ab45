use super::fill::numeric;
use super::*;
use proptest::prelude::*;
use serde_json::Number;
use serde_json::{Value, json};

fn filled(config: &Value, clips: &Value) -> Value {
    let out = fill(&config.to_string(), &clips.to_string()).unwrap();
    serde_json::from_str(&out).unwrap()
}

fn fill_err(config: &Value, clips: &Value) -> String {
    fill(&config.to_string(), &clips.to_string())
        .unwrap_err()
        .reason
}

fn param(key: &str, kind: ParamKind, default: Option<&str>) -> TemplateParam {
    TemplateParam {
        key: key.to_owned(),
        kind,
        default: default.map(str::to_owned),
    }
}

fn watermark() -> Value {
    json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$Video",
        "TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"}]}],
        "ImageTracks":[{"ImageTrackClips":[{"ImageId":"****e01c****","Width":200,"Height":60,"X":40,"Y":40}]}]})
}

#[test]
fn vendor_watermark_example() {
    let out = filled(
        &watermark(),
        &json!({"Video":"****20b4****","TimelineIn":"5"}),
    );
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"****20b4****","TimelineIn":5}]}],
            "ImageTracks":[{"ImageTrackClips":[{"ImageId":"****e01c****","Width":200,"Height":60,"X":40,"Y":40}]}]})
    );
    // TimelineIn is a JSON number, not a string.
    assert!(out["VideoTracks"][0]["VideoTrackClips"][0]["TimelineIn"].is_u64());
}

#[test]
fn defaults_used_and_coerced() {
    let out = filled(&watermark(), &json!({"Video":"v"}));
    let clip = &out["VideoTracks"][0]["VideoTrackClips"][0];
    assert_eq!(clip, &json!({"MediaId":"v","TimelineIn":0}));
    let out = filled(
        &watermark(),
        &json!({"Video":"v","TimelineIn":2.5,"TimelineOut":" 7.25 "}),
    );
    let clip = &out["VideoTracks"][0]["VideoTrackClips"][0];
    assert_eq!(
        clip,
        &json!({"MediaId":"v","TimelineIn":2.5,"TimelineOut":7.25})
    );
}

#[test]
fn missing_value_without_default_is_an_error() {
    let reason = fill_err(&watermark(), &json!({"TimelineIn":"5"}));
    assert_eq!(
        reason,
        "ClipsParam has no value for placeholder \"Video\" and the template gives no default"
    );
}

#[test]
fn key_order_is_kept() {
    let config = r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":"$T:1","MediaId":"$V","Zed":1,"Alpha":2}]}],"AudioTracks":[]}"#;
    let out = fill(config, r#"{"V":"m"}"#).unwrap();
    assert_eq!(
        out,
        r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":1,"MediaId":"m","Zed":1,"Alpha":2}]}],"AudioTracks":[]}"#
    );
}

#[test]
fn non_numeric_strings_and_non_numeric_fields_stay_strings() {
    let config = json!({"SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text",
        "Content":"$Text1","FontSize":"$Size","X":"$X","FontColor":"$Color"}]}]});
    let out = filled(
        &config,
        &json!({"Text1":"42","Size":"48","X":"left","Color":"#ffffff"}),
    );
    assert_eq!(
        out["SubtitleTracks"][0]["SubtitleTrackClips"][0],
        json!({"Type":"Text","Content":"42","FontSize":48,"X":"left","FontColor":"#ffffff"})
    );
}

#[test]
fn boolean_fields_coerced() {
    let config = json!({"AudioTracks":[{"MainTrack":"$Main:false","AudioTrackClips":[
        {"MediaId":"$A","LoopMode":"$Loop:TRUE"}]}]});
    let out = filled(&config, &json!({"A":"a"}));
    assert_eq!(
        out,
        json!({"AudioTracks":[{"MainTrack":false,"AudioTrackClips":[{"MediaId":"a","LoopMode":true}]}]})
    );
}

#[test]
fn given_values_inserted_as_given_and_not_re_resolved() {
    let config = json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$V","Effects":"$Fx","Speed":"$S"}]}]});
    let out = filled(
        &config,
        &json!({"V":"$Other","Fx":[{"Type":"Volume","Gain":"0"}],"S":null,"Other":"x"}),
    );
    assert_eq!(
        out["VideoTracks"][0]["VideoTrackClips"][0],
        json!({"MediaId":"$Other","Effects":[{"Type":"Volume","Gain":"0"}],"Speed":null})
    );
}

#[test]
fn unknown_keys_and_plain_values_kept_unused_params_ignored() {
    let config = json!({"FECanvas":{"Width":1920,"Height":1080},"From":"websdk",
        "VideoTracks":[{"Id":3,"VideoTrackClips":[{"MediaId":"$V","_private":{"a":[1,null,true]},"Width":"200"}]}]});
    let out = filled(&config, &json!({"V":"m","Unused":"x","Also":[1]}));
    let mut expected = config.clone();
    expected["VideoTracks"][0]["VideoTrackClips"][0]["MediaId"] = json!("m");
    assert_eq!(out, expected);
}

#[test]
fn null_default_removes_array_elements_too() {
    let config = json!({"Tags":["a","$T1:NULL","$T2:NULL"],"VideoTracks":[]});
    let out = filled(&config, &json!({"T2":"b"}));
    assert_eq!(out, json!({"Tags":["a","b"],"VideoTracks":[]}));
}

#[test]
fn default_keeps_text_after_first_colon() {
    let config =
        json!({"SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"$Title:Hello: world"}]}]});
    let out = filled(&config, &json!({}));
    assert_eq!(
        out["SubtitleTracks"][0]["SubtitleTrackClips"][0]["Content"],
        json!("Hello: world")
    );
    let params = parse_config(&config.to_string()).unwrap();
    assert_eq!(
        params,
        vec![param("Title", ParamKind::Text, Some("Hello: world"))]
    );
}

fn opening_ending() -> Value {
    json!({"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"opening"},
        {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray",
         "Sys_Template":{"MediaId":"$MediaId","Out":"$Out:NULL"}},
        {"MediaId":"ending"}]}]})
}

#[test]
fn array_items_spliced_between_fixed_clips() {
    let out = filled(
        &opening_ending(),
        &json!({"VideoArray":[{"MediaId":"id1"},{"MediaId":"id2","Out":"3.5"}]}),
    );
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"opening"},{"MediaId":"id1"},{"MediaId":"id2","Out":3.5},{"MediaId":"ending"}]}]})
    );
}

#[test]
fn array_items_as_strings_or_objects() {
    let out = filled(
        &opening_ending(),
        &json!({"VideoArray":["id1",{"MediaId":"id2"}]}),
    );
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"opening"},{"MediaId":"id1"},{"MediaId":"id2"},{"MediaId":"ending"}]}]})
    );
    // A string also fills the template's own media field placeholder, whatever its name.
    let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
        "Sys_ArrayObject":"$Videos","Sys_Template":{"MediaURL":"$Url"}}]}]});
    let out = filled(&config, &json!({"Videos":["oss://b/1.mp4"]}));
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"oss://b/1.mp4"}]}]})
    );
}

#[test]
fn empty_array_gives_only_fixed_clips() {
    let out = filled(&opening_ending(), &json!({"VideoArray":[]}));
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"opening"},{"MediaId":"ending"}]}]})
    );
}

#[test]
fn sys_type_array_produces_the_whole_list() {
    let config = json!({"AudioTracks":[{"AudioTrackClips":{"Sys_Type":"Array",
        "Sys_ArrayObject":"$AudioArray",
        "Sys_Template":{"MediaId":"$MediaId","TimelineIn":"$TimelineIn:NULL"}}}]});
    let out = filled(
        &config,
        &json!({"AudioArray":["a1",{"MediaId":"a2","TimelineIn":"3"}]}),
    );
    assert_eq!(
        out,
        json!({"AudioTracks":[{"AudioTrackClips":[{"MediaId":"a1"},{"MediaId":"a2","TimelineIn":3}]}]})
    );
    let params = parse_config(&config.to_string()).unwrap();
    assert_eq!(params, vec![param("AudioArray", ParamKind::Array, None)]);
}

#[test]
fn item_values_fall_back_to_top_level_then_default() {
    let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
        "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId","Speed":"$Speed","Opacity":"$Op:0.5"}}]}]});
    let out = filled(
        &config,
        &json!({"Speed":"2","Vs":["a",{"MediaId":"b","Speed":1,"Op":"1"}]}),
    );
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"a","Speed":2,"Opacity":0.5},
            {"MediaId":"b","Speed":1,"Opacity":1}]}]})
    );
    let reason = fill_err(&config, &json!({"Vs":["a"]}));
    assert_eq!(
        reason,
        "ClipsParam has no value for placeholder \"Speed\" (item 0 of \"Vs\") and the template gives no default"
    );
}

#[test]
fn nested_generators() {
    let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
        "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId",
        "Effects":[{"Type":"Volume","Gain":"$Gain:1"},
            {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Fx:NULL","Sys_Template":{"Type":"Filter","SubType":"$Name"}}]}}]}]});
    let out = filled(
        &config,
        &json!({"Vs":[{"MediaId":"a","Fx":[{"Name":"f1"},{"Name":"f2"}]},{"MediaId":"b","Gain":"0"}]}),
    );
    assert_eq!(
        out,
        json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"a","Effects":[{"Type":"Volume","Gain":1},{"Type":"Filter","SubType":"f1"},{"Type":"Filter","SubType":"f2"}]},
            {"MediaId":"b","Effects":[{"Type":"Volume","Gain":0}]}]}]})
    );
}

#[test]
fn array_placeholder_defaults() {
    let config = json!({"AudioTracks":[{"AudioTrackClips":{"Sys_Type":"Array",
        "Sys_ArrayObject":"$As:NULL","Sys_Template":{"MediaId":"$MediaId"}}}],
        "VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs:[]",
        "Sys_Template":{"MediaId":"$MediaId"}}]}]});
    let out = filled(&config, &json!({}));
    assert_eq!(
        out,
        json!({"AudioTracks":[{}],"VideoTracks":[{"VideoTrackClips":[]}]})
    );
    assert!(
        parse_config(
            &json!({"A":[{"Sys_Type":"Array","Sys_ArrayObject":"$As:x","Sys_Template":{}}]})
                .to_string()
        )
        .unwrap_err()
        .reason
        .contains("must be NULL or []")
    );
}

#[test]
fn array_errors() {
    let c = opening_ending();
    assert_eq!(
        fill_err(&c, &json!({"VideoArray":"id1"})),
        "ClipsParam \"VideoArray\" must be an array"
    );
    assert_eq!(
        fill_err(&c, &json!({"VideoArray":["a",3]})),
        "ClipsParam \"VideoArray\" item 1 must be a media ID string or an object"
    );
    assert_eq!(
        fill_err(&c, &json!({})),
        "ClipsParam has no value for placeholder \"VideoArray\" and the template gives no default"
    );
    assert!(
        fill_err(&c, &json!({"VideoArray":[{}]}))
            .contains("placeholder \"MediaId\" (item 0 of \"VideoArray\")")
    );
}

#[test]
fn clips_param_must_be_an_object() {
    for bad in ["", "[]", "\"x\"", "{", "null"] {
        let e = fill(&watermark().to_string(), bad).unwrap_err();
        assert!(e.reason.starts_with("ClipsParam"), "{bad}: {}", e.reason);
    }
}

#[test]
fn config_errors() {
    let cases = [
        ("", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (
            r#"{"Sys_Type":"Array","Sys_ArrayObject":"$A","Sys_Template":{}}"#,
            "must be a JSON object",
        ),
        (r#"{"V":[{"MediaId":"$"}]}"#, "empty placeholder name"),
        (
            r#"{"V":[{"Sys_Type":"Repeat","Sys_ArrayObject":"$A","Sys_Template":{}}]}"#,
            "Sys_Type must be",
        ),
        (
            r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"A","Sys_Template":{}}]}"#,
            "placeholder",
        ),
        (
            r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$A","Sys_Template":"$T"}]}"#,
            "Sys_Template must be",
        ),
        (
            r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$A"}]}"#,
            "Sys_Template must be",
        ),
        (
            r#"{"V":[{"Sys_ArrayObject":"$A","Sys_Template":{}}]}"#,
            "without Sys_Type",
        ),
        (
            r#"{"A":"$X","B":[{"Sys_Type":"Array","Sys_ArrayObject":"$X","Sys_Template":{}}]}"#,
            "both as an array",
        ),
    ];
    for (config, want) in cases {
        let e = parse_config(config).unwrap_err();
        assert!(e.reason.starts_with("Config"), "{config}: {}", e.reason);
        assert!(e.reason.contains(want), "{config}: {}", e.reason);
        // fill checks the Config first, whatever the ClipsParam.
        assert_eq!(fill(config, "{}").unwrap_err(), e);
    }
    let e =
        parse_config(r#"{"VideoTracks":[{"VideoTrackClips":[{},{"MediaId":"$"}]}]}"#).unwrap_err();
    assert_eq!(
        e.reason,
        "Config: empty placeholder name in \"$\" at VideoTracks[0].VideoTrackClips[1].MediaId"
    );
}

#[test]
fn parse_config_kinds_and_defaults() {
    let config = r#"{
        "VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"},
            {"Type":"Image","MediaURL":"$Image1","Duration":"$Dur:3"},
            {"Type":"video","MediaUrl":"$Video2","Effects":[{"Type":"Text","Content":"$Text2"}]},
            {"Type":"$ClipType","MediaId":"$Video3"},
            {"Type":"GlobalImage","MediaId":"$Logo"},
            {"Type":"AI_Avatar","MediaId":"$Avatar"},
            {"MediaId":"$Video1"},
            {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray","Sys_Template":{"MediaId":"$MediaId","X":"$ItemX"}}]}],
        "ImageTracks":[{"ImageTrackClips":[{"ImageId":"$Image2","X":"$X:0.1"}]}],
        "AudioTracks":[{"AudioTrackClips":[{"MediaId":"$Music"}]}],
        "SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content":"$Text1:Hi","FileURL":"$Srt:NULL"}]}],
        "MediaId":"$Loose"
    }"#;
    let params = parse_config(config).unwrap();
    assert_eq!(
        params,
        vec![
            param("Video1", ParamKind::Video, None),
            param("TimelineIn", ParamKind::Value, Some("0")),
            param("TimelineOut", ParamKind::Value, Some("NULL")),
            param("Image1", ParamKind::Image, None),
            param("Dur", ParamKind::Value, Some("3")),
            param("Video2", ParamKind::Video, None),
            param("Text2", ParamKind::Text, None),
            param("ClipType", ParamKind::Value, None),
            param("Video3", ParamKind::Video, None),
            param("Logo", ParamKind::Image, None),
            param("Avatar", ParamKind::Value, None),
            param("VideoArray", ParamKind::Array, None),
            param("Image2", ParamKind::Image, None),
            param("X", ParamKind::Value, Some("0.1")),
            param("Music", ParamKind::Audio, None),
            param("Text1", ParamKind::Text, Some("Hi")),
            param("Srt", ParamKind::Value, Some("NULL")),
            param("Loose", ParamKind::Value, None),
        ]
    );
}

#[test]
fn parse_config_merges_repeated_names() {
    let config =
        json!({"A":{"X":"$P"},"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$P:dflt"}]}]});
    let params = parse_config(&config.to_string()).unwrap();
    assert_eq!(params, vec![param("P", ParamKind::Video, Some("dflt"))]);
    assert_eq!(parse_config(r#"{"VideoTracks":[]}"#).unwrap(), vec![]);
}

#[test]
fn params_serialize_vendor_style() {
    let v = serde_json::to_value(vec![
        param("Video1", ParamKind::Video, None),
        param("T", ParamKind::Value, Some("0")),
    ])
    .unwrap();
    assert_eq!(
        v,
        json!([{"Key":"Video1","Type":"Video"},{"Key":"T","Type":"Value","Default":"0"}])
    );
    assert_eq!(ParamKind::Array.to_string(), "Array");
}

#[test]
fn skeleton() {
    let params = parse_config(
        r#"{"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"},
            {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray","Sys_Template":{"MediaId":"$MediaId"}}]}],
            "SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"$Text1:Hello"}]}]}"#,
    )
    .unwrap();
    assert_eq!(
        clips_param_skeleton(&params),
        r#"{"Video1":"","TimelineIn":"0","TimelineOut":"","VideoArray":[],"Text1":"Hello"}"#
    );
    assert_eq!(clips_param_skeleton(&[]), "{}");
    // A skeleton filled in as is is accepted by fill.
    let mut clips: Value = serde_json::from_str(&clips_param_skeleton(&params)).unwrap();
    clips["Video1"] = json!("m");
    clips["VideoArray"] = json!(["a"]);
    let config = json!({"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"}]}]});
    let out = filled(&config, &clips);
    assert_eq!(
        out["VideoTracks"][0]["VideoTrackClips"][0]["TimelineIn"],
        json!(0)
    );
}

#[test]
fn numeric_parsing() {
    assert_eq!(numeric("5"), Some(5u64.into()));
    assert_eq!(numeric(" -3 "), Some((-3i64).into()));
    assert_eq!(numeric("2.5"), Number::from_f64(2.5));
    assert_eq!(numeric("1e3"), Number::from_f64(1000.0));
    assert_eq!(numeric("0.1"), Number::from_f64(0.1));
    for bad in ["", " ", "x", "inf", "NaN", "1e400", "5px", "0x10"] {
        assert_eq!(numeric(bad), None, "{bad}");
    }
}

#[test]
fn placeholder_split() {
    assert_eq!(placeholder("$A"), Some(("A", None)));
    assert_eq!(placeholder("$A:"), Some(("A", Some(""))));
    assert_eq!(placeholder("$A:b:c"), Some(("A", Some("b:c"))));
    assert_eq!(placeholder("A"), None);
    assert_eq!(placeholder(" $A"), None);
}

#[test]
fn duplicate_keys_last_wins() {
    let out = fill(r#"{"A":1,"B":"$X","A":2}"#, r#"{"X":"x","X":"y"}"#).unwrap();
    assert_eq!(out, r#"{"A":2,"B":"y"}"#);
    let many: Vec<String> = (0..40).map(|i| format!("\"K{}\":{i}", i % 20)).collect();
    let out = fill(&format!("{{{}}}", many.join(",")), "{}").unwrap();
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_object().unwrap().len(), 20);
    assert_eq!(v["K0"], json!(20));
}

#[test]
fn too_many_items_rejected() {
    let ids: Vec<String> = (0..=MAX_GENERATED_ITEMS)
        .map(|i| format!("id{i}"))
        .collect();
    let e = fill(
        &opening_ending().to_string(),
        &json!({ "VideoArray": ids }).to_string(),
    )
    .unwrap_err();
    assert!(e.reason.contains("more than 10000"), "{}", e.reason);
    // Exactly the limit is fine.
    let out = filled(
        &opening_ending(),
        &json!({ "VideoArray": &ids[..MAX_GENERATED_ITEMS] }),
    );
    assert_eq!(
        out["VideoTracks"][0]["VideoTrackClips"]
            .as_array()
            .unwrap()
            .len(),
        MAX_GENERATED_ITEMS + 2
    );
    // Nested generators multiply.
    let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Outer",
        "Sys_Template":{"E":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Inner","Sys_Template":{}}]}}]});
    let e = fill_err(
        &config,
        &json!({"Outer": vec!["x"; 200], "Inner": vec!["y"; 200]}),
    );
    assert!(e.contains("more than 10000"), "{e}");
}

#[test]
fn oversized_output_rejected() {
    let big = "x".repeat(1 << 20);
    let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs",
        "Sys_Template":{"Content":"$Big","MediaId":"$MediaId"}}]});
    let e = fill_err(&config, &json!({"Big": big, "Vs": vec!["a"; 100]}));
    assert_eq!(e, "ClipsParam: the filled Timeline would be too large");
}

#[test]
fn removed_fields_still_count_as_work() {
    let nulls = vec!["$X:NULL"; 100];
    let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs",
        "Sys_Template":{"L": nulls}}]})
    .to_string();
    let limits = Limits {
        items: 1000,
        weight: 100 * NODE_WEIGHT * 50,
    };
    let clips = |n: usize| json!({ "Vs": vec!["a"; n] }).to_string();
    // 100 removed placeholders per item: about 50 items fit, the output being empty.
    let out = fill_limited(&config, &clips(40), limits).unwrap();
    assert_eq!(out.matches(r#"{"L":[]}"#).count(), 40);
    let e = fill_limited(&config, &clips(60), limits).unwrap_err();
    assert_eq!(
        e.reason,
        "ClipsParam: the filled Timeline would be too large"
    );
    // Item limit, lowered.
    let e = fill_limited(&config, &clips(1001), limits).unwrap_err();
    assert_eq!(
        e.reason,
        "ClipsParam: the template would generate more than 1000 array items"
    );
}

#[test]
fn largest_legitimate_output_fits() {
    // 10,000 generated clips of a dozen fields each stay well inside the weight limit.
    let config = r#"{"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
        "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId","In":"$In:0",
        "Out":"$Out:NULL","TimelineIn":"$TimelineIn:NULL","Speed":1,"X":0,"Y":0,
        "Width":1,"Height":1,"AdaptMode":"Contain","Effects":[{"Type":"Volume","Gain":1}]}}]}]}"#;
    let ids: Vec<String> = (0..MAX_GENERATED_ITEMS)
        .map(|i| format!("{i:032x}"))
        .collect();
    let out = fill(config, &json!({ "Vs": ids }).to_string()).unwrap();
    assert!(out.len() > 1_000_000);
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{{\"A\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    assert!(parse_config(&deep).is_err());
    assert!(fill(&deep, "{}").is_err());
    assert!(fill("{}", &deep).is_err());
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Four decimals, like the vendor's times: parsed exactly by serde_json's fast path.
        (-1e9f64..1e9).prop_map(|f| Value::from((f * 1e4).round() / 1e4)),
        "[a-zA-Z0-9 :#.,_-]{0,10}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    // No regression files written into the source tree.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fill_never_panics(config in ".{0,200}", clips in ".{0,200}") {
        let _ = fill(&config, &clips);
        let _ = parse_config(&config);
    }

    #[test]
    fn fill_never_panics_on_json_shaped_input(
        config in r#"[{}\[\]",:$A-Za-z_0-9 ]{0,120}"#,
        clips in r#"[{}\[\]",:A-Za-z0-9 ]{0,60}"#,
    ) {
        let _ = fill(&config, &clips);
        let _ = fill(&format!("{{\"V\":[{{\"Sys_Type\":\"Array\",\"Sys_ArrayObject\":\"$A\",\"Sys_Template\":{config}}}]}}"), &clips);
    }

    #[test]
    fn no_placeholders_means_unchanged(
        fields in prop::collection::btree_map("[A-Za-z]{1,12}", json_value(), 0..8),
        clips in prop::collection::btree_map("[A-Za-z]{1,8}", json_leaf(), 0..4),
    ) {
        let config = Value::Object(fields.into_iter().collect());
        let clips = Value::Object(clips.into_iter().collect());
        let out = fill(&config.to_string(), &clips.to_string()).unwrap();
        let out: Value = serde_json::from_str(&out).unwrap();
        prop_assert_eq!(out, config.clone());
        prop_assert_eq!(parse_config(&config.to_string()).unwrap(), vec![]);
    }

    #[test]
    fn array_items_one_per_element(ids in prop::collection::vec("[a-z0-9]{1,8}", 0..20), as_objects in any::<bool>()) {
        let items: Vec<Value> = ids.iter().map(|id| if as_objects { json!({"MediaId": id}) } else { json!(id) }).collect();
        let out = filled(&opening_ending(), &json!({"VideoArray": items}));
        let clips = out["VideoTracks"][0]["VideoTrackClips"].as_array().unwrap().clone();
        prop_assert_eq!(clips.len(), ids.len() + 2);
        for (clip, id) in clips[1..=ids.len()].iter().zip(&ids) {
            prop_assert_eq!(clip, &json!({"MediaId": id}));
        }
    }

    #[test]
    fn numeric_strings_become_numbers(n in -1e9f64..1e9) {
        let out = fill(r#"{"V":[{"TimelineIn":"$T"}]}"#, &json!({"T": n.to_string()}).to_string()).unwrap();
        prop_assert_eq!(out, format!(r#"{{"V":[{{"TimelineIn":{}}}]}}"#, Number::from_f64(n).unwrap()));
    }
}
