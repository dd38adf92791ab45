//! The WebSDK conversion (timeline.md §5).

use serde_json::json;

use super::*;

#[test]
fn websdk_e1_sequential_clips_get_explicit_placement_and_in_out() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10"},
        {"MediaId":"v8","In":2,"Out":5},
        {"MediaId":"v6","In":1}]}]}"#);
    assert_eq!(
        spans(&v, "VideoTracks", 0),
        [(0.0, 10.0), (10.0, 13.0), (13.0, 18.0)]
    );
    assert_eq!(
        in_outs(&v, "VideoTracks", 0),
        [
            (Some(0.0), Some(10.0)),
            (Some(2.0), Some(5.0)),
            (Some(1.0), Some(6.0))
        ]
    );
    // Whole seconds are written as integers, as the vendor's examples do.
    assert_eq!(clips_of(&v, "VideoTracks", 0)[2]["TimelineOut"], json!(18));
    assert_eq!(v["FECanvas"], json!({"Width": 1920, "Height": 1080}));
}

#[test]
fn websdk_e2_explicit_placement_is_kept() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10","In":0,"Out":4,"TimelineIn":2,"TimelineOut":6},
        {"MediaId":"v8","Out":3}]}]}"#);
    assert_eq!(spans(&v, "VideoTracks", 0), [(2.0, 6.0), (6.0, 9.0)]);
    assert_eq!(
        in_outs(&v, "VideoTracks", 0),
        [(Some(0.0), Some(4.0)), (Some(0.0), Some(3.0))]
    );
}

#[test]
fn websdk_e3_speed() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10","Speed":2},
        {"MediaId":"v8","In":0,"Out":4,"Speed":0.5}]}]}"#);
    assert_eq!(spans(&v, "VideoTracks", 0), [(0.0, 5.0), (5.0, 13.0)]);
    assert_eq!(
        in_outs(&v, "VideoTracks", 0),
        [(Some(0.0), Some(10.0)), (Some(0.0), Some(4.0))]
    );
}

#[test]
fn websdk_e4_images_get_placement_but_no_in_out() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[
        {"Type":"Image","MediaURL":"https://b.oss-cn-shanghai.aliyuncs.com/a.png","Duration":3},
        {"MediaId":"v6","Out":4},
        {"Type":"Image","MediaId":"img2","Duration":2.5}]}]}"#);
    assert_eq!(
        spans(&v, "VideoTracks", 0),
        [(0.0, 3.0), (3.0, 7.0), (7.0, 9.5)]
    );
    assert_eq!(
        in_outs(&v, "VideoTracks", 0),
        [(None, None), (Some(0.0), Some(4.0)), (None, None)]
    );
}

#[test]
fn websdk_e7_untimed_subtitles_span_the_output() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v8"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[
         {"Type":"Text","Content":"Title","FontSize":60,"Y":0.1},
         {"Type":"Text","Content":"Ending","TimelineIn":6,"TimelineOut":12}]}]}"#);
    assert_eq!(spans(&v, "VideoTracks", 0), [(0.0, 8.0)]);
    assert_eq!(spans(&v, "SubtitleTracks", 0), [(0.0, 8.0), (6.0, 12.0)]);
    assert_eq!(
        in_outs(&v, "SubtitleTracks", 0),
        [(None, None), (None, None)]
    );
    let only_in = fe(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v8"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[{"TimelineIn":3},{"TimelineIn":20},{"TimelineOut":2}]}]}"#);
    assert_eq!(
        spans(&only_in, "SubtitleTracks", 0),
        [(3.0, 8.0), (20.0, 20.0), (0.0, 2.0)]
    );
}

#[test]
fn websdk_e8_global_image_spans_the_output_and_empty_stays_empty() {
    let v = fe(r#"{"VideoTracks":[
        {"VideoTrackClips":[{"Type":"GlobalImage","MediaURL":".../bg.jpg"}]},
        {"VideoTrackClips":[{"MediaId":"v6"},{"MediaId":"v10"}]}]}"#);
    assert_eq!(spans(&v, "VideoTracks", 0), [(0.0, 16.0)]);
    assert_eq!(spans(&v, "VideoTracks", 1), [(0.0, 6.0), (6.0, 16.0)]);
    assert_eq!(in_outs(&v, "VideoTracks", 0), [(None, None)]);
    for s in ["", " \n", "{}", " {} "] {
        assert_eq!(fe(s), json!({}), "{s:?}");
    }
    assert_eq!(Timeline::default().to_frontend(src), json!({}));
    // Not the empty object: bookkeeping is added even without clips.
    assert_eq!(
        fe(r#"{"VideoTracks":[{"VideoTrackClips":[]}]}"#),
        json!({"VideoTracks":[{"Id":0,"VideoTrackClips":[]}],"FECanvas":{"Width":1920,"Height":1080}})
    );
}

#[test]
fn websdk_unknown_lengths_give_zero_length_clips() {
    let v = fe(r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"unprobed"},{"MediaId":"v6"},{"MediaURL":"https://x/unknown.mp4","MaxOut":50},
        {"Type":"AI_Avatar","AvatarId":"a"},{"Type":"Image","MediaId":"still"},
        {"MediaId":"v6","In":8},{"MediaId":"v10","MaxOut":4}]}]}"#);
    assert_eq!(
        spans(&v, "VideoTracks", 0),
        [
            (0.0, 0.0),
            (0.0, 6.0),
            (6.0, 6.0),
            (6.0, 6.0),
            (6.0, 6.0),
            (6.0, 6.0),
            (6.0, 10.0)
        ]
    );
    assert_eq!(
        in_outs(&v, "VideoTracks", 0),
        [
            (Some(0.0), None),
            (Some(0.0), Some(6.0)),
            (Some(0.0), None),
            (None, None),
            (None, None),
            (Some(8.0), None),
            (Some(0.0), Some(4.0))
        ]
    );
}

#[test]
fn websdk_timeline_out_before_automatic_start_is_not_inverted() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10"},{"MediaId":"v8","TimelineOut":4},{"MediaId":"v6"}]}]}"#;
    assert_eq!(dur(t), 16.0);
    assert_eq!(
        spans(&fe(t), "VideoTracks", 0),
        [(0.0, 10.0), (4.0, 4.0), (10.0, 16.0)]
    );
}

#[test]
fn websdk_times_are_rounded_like_duration() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"x","Out":1,"Speed":3},{"MediaId":"x","Out":1,"Speed":3},
        {"MediaId":"x","TimelineIn":2.000001,"Out":0.00001}]}]}"#;
    assert_eq!(dur(t), 2.0);
    // An explicit TimelineIn with more decimals never ends up after the rounded end.
    assert_eq!(
        spans(&fe(t), "VideoTracks", 0),
        [(0.0, 0.3333), (0.3333, 0.6667), (2.000001, 2.000001)]
    );
    // Filled Out is rounded too, unless rounding would bring it down to In.
    let lengths = |s: &ClipSource| match s {
        ClipSource::MediaId(id) if id == "long" => Some(216.206667),
        _ => Some(216.20664),
    };
    let v = Timeline::parse(
        r#"{"AudioTracks":[{"AudioTrackClips":[{"MediaId":"long"},{"MediaId":"odd","In":216.20662}]}]}"#,
    )
    .unwrap()
    .to_frontend(lengths);
    assert_eq!(
        in_outs(&v, "AudioTracks", 0),
        [
            (Some(0.0), Some(216.2067)),
            (Some(216.20662), Some(216.20664))
        ]
    );
    assert_eq!(spans(&v, "AudioTracks", 0)[0], (0.0, 216.2067));
}

#[test]
fn websdk_effects_main_track_max_duration_and_image_tracks() {
    let v = fe(r#"{"MaxDuration":12,
       "VideoTracks":[
         {"VideoTrackClips":[{"MediaId":"v10"},{"MediaId":"v8"}]},
         {"Type":"Effect","VideoTrackClips":[{"Type":"VFX","SubType":"blur"},{"Type":"VFX","TimelineIn":3,"Duration":2}]}],
       "ImageTracks":[{"ImageTrackClips":[{"ImageId":"logo"},{"ImageId":"logo","TimelineIn":2,"TimelineOut":9}]}],
       "EffectTracks":[{"EffectTrackItems":[{"Type":"Filter","TimelineIn":1,"Duration":99},{"Type":"Filter"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"x"}]}]}"#);
    assert_eq!(spans(&v, "VideoTracks", 0), [(0.0, 10.0), (10.0, 18.0)]);
    assert_eq!(spans(&v, "VideoTracks", 1), [(0.0, 12.0), (3.0, 5.0)]);
    assert_eq!(in_outs(&v, "VideoTracks", 1), [(None, None), (None, None)]);
    assert_eq!(spans(&v, "ImageTracks", 0), [(0.0, 12.0), (2.0, 9.0)]);
    assert_eq!(spans(&v, "EffectTracks", 0), [(1.0, 100.0), (0.0, 12.0)]);
    assert_eq!(spans(&v, "SubtitleTracks", 0), [(0.0, 12.0)]);
    let main = fe(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v10"},{"MediaId":"v8"}]}],
       "AudioTracks":[{"MainTrack":true,"AudioTrackClips":[{"MediaId":"a15"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"x"}]}]}"#,
    );
    assert_eq!(spans(&main, "VideoTracks", 0), [(0.0, 10.0), (10.0, 18.0)]);
    assert_eq!(spans(&main, "AudioTracks", 0), [(0.0, 15.0)]);
    assert_eq!(spans(&main, "SubtitleTracks", 0), [(0.0, 15.0)]);
}

#[test]
fn websdk_ids_are_unique_and_track_ids_match() {
    let v = fe(r#"{"VideoTracks":[
         {"Id":1,"VideoTrackClips":[{"MediaId":"v6","Id":0},{"MediaId":"v6"}]},
         {"VideoTrackClips":[{"MediaId":"v6","Id":"2"},{"MediaId":"v6","Id":null}]},
         {"VideoTrackClips":null}],
       "AudioTracks":[{"AudioTrackClips":[{"MediaId":"a15","Id":4.0}]},{"Id":0,"AudioTrackClips":[{"MediaId":"a15"}]}],
       "ImageTracks":[{"ImageTrackClips":[{"ImageId":"logo"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"a"},{"Content":"b"}]}],
       "EffectTracks":[{"EffectTrackItems":[{"Type":"Filter"}]}]}"#);
    let ids = |list: &str| -> Vec<Value> {
        v[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Id"].clone())
            .collect()
    };
    assert_eq!(ids("VideoTracks"), [json!(1), json!(0), json!(2)]);
    assert_eq!(ids("AudioTracks"), [json!(1), json!(0)]);
    assert_eq!(ids("ImageTracks"), [json!(0)]);
    assert_eq!(ids("SubtitleTracks"), [json!(0)]);
    assert_eq!(ids("EffectTracks"), [json!(0)]);
    let mut clip_ids = Vec::new();
    for fam in &FAMILIES {
        for track in v[fam.key].as_array().unwrap() {
            for clip in items(track.get(fam.clips_key)) {
                assert_eq!(clip["TrackId"], track["Id"], "{clip}");
                clip_ids.push(secs(&clip["Id"]) as u64);
            }
        }
    }
    // Explicit Ids (0, "2", 4.0) are kept; the others take the free numbers in the order
    // video, image, audio, subtitle, effect tracks.
    assert_eq!(clip_ids, [0, 1, 2, 3, 5, 4, 6, 7, 8, 9]);
    assert_eq!(clips_of(&v, "VideoTracks", 1)[0]["Id"], json!("2"));
}

#[test]
fn websdk_keeps_unknown_keys_and_explicit_values() {
    let s = r#"{"Version":1,"FECanvas":{"Width":1280,"Height":720},"From":"websdk",
        "VideoTracks":[{"Id":"x","Disabled":false,"_x":[1,{"y":null}],"VideoTrackClips":[
          {"MediaId":"v10","TrackId":3,"Id":"c","VirginDuration":10,"Effects":[{"Type":"Volume","Gain":"0"}],
           "Speed":"1","In":" 1 ","Out":"4","TimelineIn":"2","TimelineOut":"9"},
          {"MediaId":"v8","TimelineIn":null,"In":""}]}],
        "SubtitleTrackClips":"not a track list, just an unknown key"}"#;
    let orig: Value = serde_json::from_str(s).unwrap();
    let v = fe(s);
    assert!(keeps(&orig, &v));
    assert_eq!(v["FECanvas"], json!({"Width": 1280, "Height": 720}));
    assert_eq!(v["SubtitleTrackClips"], orig["SubtitleTrackClips"]);
    let clips = clips_of(&v, "VideoTracks", 0);
    assert_eq!(clips[0], orig["VideoTracks"][0]["VideoTrackClips"][0]);
    assert_eq!(clips[1]["TrackId"], json!("x"));
    // null and "" are absent, so they are filled.
    assert_eq!(in_outs(&v, "VideoTracks", 0)[1], (Some(0.0), Some(8.0)));
    assert_eq!(spans(&v, "VideoTracks", 0), [(2.0, 9.0), (9.0, 17.0)]);
    let odd = fe(r#"{"FECanvas":"whatever","Version":2}"#);
    assert_eq!(odd, json!({"FECanvas":"whatever","Version":2}));
    let null = fe(r#"{"FECanvas":null}"#);
    assert_eq!(null, json!({"FECanvas":{"Width":1920,"Height":1080}}));
}
