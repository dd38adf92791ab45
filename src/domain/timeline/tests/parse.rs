//! Parsing: what is stored and what is rejected.

use serde_json::json;

use super::*;

// ---- storage ----

#[test]
fn unknown_keys_are_preserved() {
    let s = r#"{"Version":1,"FECanvas":{"Width":1280,"Height":720},"From":"websdk",
        "VideoTracks":[{"Id":3,"Disabled":false,"_x":[1,{"y":null}],"VideoTrackClips":[
          {"MediaId":"v10","TrackId":3,"VirginDuration":10,"Effects":[{"Type":"Volume","Gain":"0"}],"Speed":"1"}]}],
        "SubtitleTrackClips":"not a track list, just an unknown key"}"#;
    let t = Timeline::parse(s).unwrap();
    assert_eq!(t.as_str(), s);
    assert_eq!(t.value(), &serde_json::from_str::<Value>(s).unwrap());
    assert_eq!(t.value()["VideoTracks"][0]["_x"][1], json!({"y": null}));
    assert_eq!(t.clone().into_value()["FECanvas"]["Width"], 1280);
    assert_eq!(t.duration(src), 10.0);
}

#[test]
fn numeric_strings_null_and_empty_strings() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10","In":"2","Out":" 5 ","Speed":"0.5"},
        {"Type":"Image","MediaId":"i","Duration":"2.5"},
        {"MediaId":"v8","In":null,"Out":"","TimelineIn":null}]}]}"#;
    assert_eq!(dur(t), 6.0 + 2.5 + 8.0);
    let t = r#"{"VideoTracks":[{"MainTrack":null,"Type":null,"VideoTrackClips":[{"MediaId":null,"MediaURL":"https://h/v6.mp4","TimelineIn":"1e1"}]}]}"#;
    assert_eq!(dur(t), 16.0);
}

// ---- validation ----

#[test]
fn rejects_malformed_and_non_object_json() {
    assert!(reason("{").starts_with("Timeline is not valid JSON"));
    assert!(reason("{\"VideoTracks\":[}").starts_with("Timeline is not valid JSON"));
    assert!(reason("{} x").starts_with("Timeline is not valid JSON"));
    assert!(reason("{\"a\":1e400}").starts_with("Timeline is not valid JSON"));
    for s in ["[]", "\"{}\"", "null", "1", "true"] {
        assert_eq!(reason(s), "Timeline must be a JSON object", "{s}");
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(reason(&deep).contains("recursion limit"));
}

#[test]
fn skipped_values_obey_the_same_json_limits_as_a_value() {
    let deep = format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":"v6","Extra":{}1{}}}]}}]}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(reason(&deep).contains("recursion limit"));
    let huge = r#"{"VideoTracks":[{"Id":1e400,"VideoTrackClips":[]}]}"#;
    assert!(reason(huge).starts_with("Timeline is not valid JSON"));
    let nested_ok = format!(r#"{{"From":{}1{}}}"#, "[".repeat(100), "]".repeat(100));
    assert!(Timeline::parse(&nested_ok).is_ok());
}

#[test]
fn duplicate_keys_take_the_last_value_like_a_json_value() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v6","Out":2,"Out":4}]}],
                "MaxDuration":1,"MaxDuration":null}"#;
    assert_eq!(dur(t), 4.0);
}

#[test]
fn top_level_must_be_an_object() {
    assert_eq!(reason(" \n [1]"), "Timeline must be a JSON object");
    assert!(reason("  x").starts_with("Timeline is not valid JSON"));
    assert!(reason("[").starts_with("Timeline is not valid JSON"));
}

#[test]
fn rejects_wrong_types_naming_the_path() {
    let cases = [
        (r#"{"VideoTracks":{}}"#, "VideoTracks must be an array"),
        (r#"{"AudioTracks":"x"}"#, "AudioTracks must be an array"),
        (r#"{"VideoTracks":[1]}"#, "VideoTracks[0] must be an object"),
        (
            r#"{"SubtitleTracks":[{},null]}"#,
            "SubtitleTracks[1] must be an object",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":{"Sys_Type":"Array"}}]}"#,
            "VideoTracks[0].VideoTrackClips must be an array",
        ),
        (
            r#"{"AudioTracks":[{"AudioTrackClips":[{},[]]}]}"#,
            "AudioTracks[0].AudioTrackClips[1] must be an object",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"In":"abc"}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].In must be a number",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":"$TimelineIn:0"}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].TimelineIn must be a number",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"Out":true}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].Out must be a number",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"Duration":"inf"}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].Duration must be a number",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"Speed":"NaN"}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].Speed must be a number",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":7}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].MediaId must be a string",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaUrl":["x"]}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].MediaUrl must be a string",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"Type":1}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].Type must be a string",
        ),
        (
            r#"{"VideoTracks":[{"Type":{},"VideoTrackClips":[]}]}"#,
            "VideoTracks[0].Type must be a string",
        ),
        (
            r#"{"AudioTracks":[{"MainTrack":"yes"}]}"#,
            "AudioTracks[0].MainTrack must be a boolean",
        ),
        (
            r#"{"VideoTracks":[{"MainTrack":1}]}"#,
            "VideoTracks[0].MainTrack must be a boolean",
        ),
        (r#"{"MaxDuration":"ten"}"#, "MaxDuration must be a number"),
        (
            r#"{"ImageTracks":[{"ImageTrackClips":[{"ImageId":5}]}]}"#,
            "ImageTracks[0].ImageTrackClips[0].ImageId must be a string",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(reason(json), want, "{json}");
    }
}

#[test]
fn rejects_negative_times() {
    for field in [
        "In",
        "Out",
        "MaxOut",
        "Duration",
        "TimelineIn",
        "TimelineOut",
    ] {
        let json = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":"v","{field}":-1}}]}}]}}"#
        );
        assert_eq!(
            reason(&json),
            format!("VideoTracks[0].VideoTrackClips[0].{field} must not be negative")
        );
        let json =
            format!(r#"{{"AudioTracks":[{{"AudioTrackClips":[{{}},{{"{field}":"-0.5"}}]}}]}}"#);
        assert_eq!(
            reason(&json),
            format!("AudioTracks[0].AudioTrackClips[1].{field} must not be negative")
        );
    }
    assert_eq!(
        reason(r#"{"MaxDuration":-3}"#),
        "MaxDuration must not be negative"
    );
    assert_eq!(
        reason(r#"{"EffectTracks":[{"EffectTrackItems":[{"Type":"VFX","Duration":-2}]}]}"#),
        "EffectTracks[0].EffectTrackItems[0].Duration must not be negative"
    );
    assert_eq!(
        reason(r#"{"SubtitleTracks":[{"SubtitleTrackClips":[{"TimelineIn":-1}]}]}"#),
        "SubtitleTracks[0].SubtitleTrackClips[0].TimelineIn must not be negative"
    );
    // -0 is zero, not negative.
    assert_eq!(
        dur(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v6","In":-0}]}]}"#),
        6.0
    );
}

#[test]
fn rejects_absurd_times() {
    assert_eq!(
        reason(r#"{"VideoTracks":[{"VideoTrackClips":[{"Out":1e10}]}]}"#),
        "VideoTracks[0].VideoTrackClips[0].Out must not exceed 1000000000 seconds"
    );
    assert_eq!(
        reason(r#"{"MaxDuration":"1e300"}"#),
        "MaxDuration must not exceed 1000000000 seconds"
    );
}

#[test]
fn rejects_out_not_after_in() {
    let want = "VideoTracks[0].VideoTrackClips[1].Out must be greater than In";
    assert_eq!(
        reason(r#"{"VideoTracks":[{"VideoTrackClips":[{},{"In":5,"Out":3}]}]}"#),
        want
    );
    assert_eq!(
        reason(r#"{"VideoTracks":[{"VideoTrackClips":[{},{"In":"5","Out":5}]}]}"#),
        want
    );
    assert_eq!(
        reason(r#"{"VideoTracks":[{"VideoTrackClips":[{},{"Out":0}]}]}"#),
        want
    );
    assert_eq!(
        reason(r#"{"AudioTracks":[{"AudioTrackClips":[{"In":2,"Out":1}]}]}"#),
        "AudioTracks[0].AudioTrackClips[0].Out must be greater than In"
    );
}

#[test]
fn rejects_timeline_out_not_after_timeline_in() {
    let cases = [
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":4,"TimelineOut":3.5}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].TimelineOut must not be before TimelineIn",
        ),
        (
            r#"{"SubtitleTracks":[{"SubtitleTrackClips":[{},{"TimelineIn":6,"TimelineOut":"2"}]}]}"#,
            "SubtitleTracks[0].SubtitleTrackClips[1].TimelineOut must not be before TimelineIn",
        ),
        (
            r#"{"ImageTracks":[{"ImageTrackClips":[{"TimelineIn":1,"TimelineOut":0.5}]}]}"#,
            "ImageTracks[0].ImageTrackClips[0].TimelineOut must not be before TimelineIn",
        ),
        (
            r#"{"VideoTracks":[{},{"Type":"Effect","VideoTrackClips":[{"TimelineIn":3,"TimelineOut":1}]}]}"#,
            "VideoTracks[1].VideoTrackClips[0].TimelineOut must not be before TimelineIn",
        ),
    ];
    for (json, want) in cases {
        assert_eq!(reason(json), want, "{json}");
    }
}

#[test]
fn rejects_speed_out_of_range() {
    for s in ["0", "0.05", "100.5", "-1", "\"1000\""] {
        let json = format!(r#"{{"AudioTracks":[{{"AudioTrackClips":[{{"Speed":{s}}}]}}]}}"#);
        assert_eq!(
            reason(&json),
            "AudioTracks[0].AudioTrackClips[0].Speed must be between 0.1 and 100",
            "{s}"
        );
    }
    let ok = |s: &str| {
        dur(&format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":"v10","Speed":{s}}}]}}]}}"#
        ))
    };
    assert_eq!(ok("0.1"), 100.0);
    assert_eq!(ok("100"), 0.1);
}

#[test]
fn fields_not_read_are_never_rejected() {
    let t = r#"{"VideoTracks":[{"Id":"x","VideoTrackClips":[{"MediaId":"v6","X":"left","Effects":"none","ClipId":5}]}],
       "SubtitleTracks":[{"MainTrack":"maybe","SubtitleTrackClips":[{"In":"x","Speed":0,"MediaURL":1,"MediaId":2,"FontSize":"big"}]}],
       "EffectTracks":[{"EffectTrackItems":[{"Speed":500,"X":[]}]}],
       "FECanvas":"whatever","MaxDuration":null}"#;
    let tl = Timeline::parse(t).unwrap();
    assert_eq!(tl.duration(src), 6.0);
    assert_eq!(tl.media_ids(), ["v6"]);
}

#[test]
fn timeline_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Timeline>();
    assert_send_sync::<TimelineError>();
}

#[test]
fn large_timeline_sums_up() {
    let clips: Vec<Value> = (0..10_000)
        .map(|i| json!({"MediaId": format!("m{}", i % 100), "In": 1, "Out": 3.5, "Effects": [{"Type": "Volume", "Gain": 1}]}))
        .collect();
    let s = json!({"VideoTracks": [{"VideoTrackClips": clips}]}).to_string();
    let t = Timeline::parse(&s).unwrap();
    assert_eq!(t.duration(|_| None), 25_000.0);
    assert_eq!(t.media_ids().len(), 100);
}
