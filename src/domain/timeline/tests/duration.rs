//! Total duration: the worked examples E1–E8 (timeline.md §2.4) and the rules behind them.

use serde_json::json;

use super::*;

#[test]
fn e1_sequential_clips() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10"},
        {"MediaId":"v8","In":2,"Out":5},
        {"MediaId":"v6","In":1}]}]}"#;
    assert_eq!(dur(t), 18.0);
}

#[test]
fn e2_explicit_placement_mixed_with_automatic() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10","In":0,"Out":4,"TimelineIn":2,"TimelineOut":6},
        {"MediaId":"v8","Out":3}]}]}"#;
    assert_eq!(dur(t), 9.0);
}

#[test]
fn e3_speed() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10","Speed":2},
        {"MediaId":"v8","In":0,"Out":4,"Speed":0.5}]}]}"#;
    assert_eq!(dur(t), 13.0);
}

#[test]
fn e4_images_between_videos() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"Type":"Image","MediaURL":"https://b.oss-cn-shanghai.aliyuncs.com/a.png","Duration":3},
        {"MediaId":"v6","Out":4},
        {"Type":"Image","MediaId":"img2","Duration":2.5}]}]}"#;
    assert_eq!(dur(t), 9.5);
}

#[test]
fn e5_overlapping_tracks_without_main_track_end_with_video() {
    let t = r#"{"VideoTracks":[
        {"VideoTrackClips":[{"MediaId":"v10"}]},
        {"VideoTrackClips":[{"MediaId":"v6","TimelineIn":3,"X":0.6,"Y":0.05,"Width":0.35,"Height":0.35}]}],
       "AudioTracks":[{"AudioTrackClips":[{"MediaId":"a30"}]}]}"#;
    assert_eq!(dur(t), 10.0);
}

#[test]
fn e6_audio_main_track() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaURL":".../v1.mp4","Out":5},{"MediaURL":".../v2.mp4","Out":5},
        {"MediaURL":".../v3.mp4","Out":5},{"MediaURL":".../v4.mp4","Out":5}]}],
       "AudioTracks":[{"MainTrack":true,"AudioTrackClips":[{"MediaURL":".../a15.mp3"}]}]}"#;
    assert_eq!(dur(t), 15.0);
}

#[test]
fn e7_subtitles_never_extend() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v8"}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[
         {"Type":"Text","Content":"Title","FontSize":60,"Y":0.1},
         {"Type":"Text","Content":"Ending","TimelineIn":6,"TimelineOut":12}]}]}"#;
    assert_eq!(dur(t), 8.0);
}

#[test]
fn e8_global_image_spans_longest_video_track() {
    let t = r#"{"VideoTracks":[
        {"VideoTrackClips":[{"Type":"GlobalImage","MediaURL":".../bg.jpg"}]},
        {"VideoTrackClips":[{"MediaId":"v6"},{"MediaId":"v10"}]}]}"#;
    assert_eq!(dur(t), 16.0);
}

#[test]
fn e8_empty_timelines() {
    for s in ["", "   \n\t", "{}", " {} "] {
        let t = Timeline::parse(s).unwrap();
        assert!(t.is_empty(), "{s:?}");
        assert_eq!(t.duration(src), 0.0);
        assert!(t.media_ids().is_empty());
        assert_eq!(t.value(), &json!({}));
        assert_eq!(t.as_str(), s);
    }
    let t = Timeline::parse(r#"{"VideoTracks":[{"VideoTrackClips":[]}],"AudioTracks":[]}"#);
    assert!(t.unwrap().is_empty());
    assert!(Timeline::default().is_empty());
}

// ---- total-duration rules ----

#[test]
fn first_main_track_wins_and_video_is_scanned_before_audio() {
    let t = r#"{"AudioTracks":[{"MainTrack":true,"AudioTrackClips":[{"MediaId":"a15"}]}],
       "VideoTracks":[
         {"VideoTrackClips":[{"MediaId":"v10"}]},
         {"MainTrack":true,"VideoTrackClips":[{"MediaId":"v6"}]},
         {"MainTrack":true,"VideoTrackClips":[{"MediaId":"v8"}]}]}"#;
    assert_eq!(dur(t), 6.0);
}

#[test]
fn main_track_may_be_shorter_or_longer_than_the_rest() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v6"}]}],
       "AudioTracks":[{"MainTrack":"TRUE","AudioTrackClips":[{"MediaId":"a30"}]}]}"#;
    assert_eq!(dur(t), 30.0);
}

#[test]
fn max_duration_caps_and_beats_main_track() {
    let t = r#"{"MaxDuration":12.5,"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v10"}]}],
       "AudioTracks":[{"MainTrack":true,"AudioTrackClips":[{"MediaId":"a30"}]}]}"#;
    assert_eq!(dur(t), 12.5);
    let t = r#"{"MaxDuration":0,"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v10"}]}]}"#;
    assert_eq!(dur(t), 10.0, "0 means no cap");
    let t = r#"{"MaxDuration":"40","VideoTracks":[{"VideoTrackClips":[{"MediaId":"v10"}]}]}"#;
    assert_eq!(dur(t), 10.0);
}

#[test]
fn audio_only_uses_audio_end() {
    let t = r#"{"AudioTracks":[{"AudioTrackClips":[{"MediaId":"a15"}]},
                               {"AudioTrackClips":[{"MediaId":"a30","In":5}]}]}"#;
    assert_eq!(dur(t), 25.0);
}

#[test]
fn global_image_alone_or_with_audio() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"Type":"GlobalImage","MediaId":"bg","Duration":7}]}]}"#;
    assert_eq!(dur(t), 7.0);
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"Type":"GlobalImage","MediaId":"bg","Duration":7}]}],
       "AudioTracks":[{"AudioTrackClips":[{"MediaId":"a15"}]}]}"#;
    assert_eq!(dur(t), 15.0);
}

#[test]
fn global_image_does_not_advance_placement() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v6"},{"Type":"globalimage","MediaId":"bg","Duration":100},{"MediaId":"v8"}]}]}"#;
    assert_eq!(dur(t), 14.0);
}

#[test]
fn effect_and_subtitle_tracks_never_extend() {
    let t = r#"{"VideoTracks":[
         {"VideoTrackClips":[{"MediaId":"v6"}]},
         {"Type":"Effect","MainTrack":true,"VideoTrackClips":[{"Type":"VFX","SubType":"blur","TimelineIn":0,"TimelineOut":50}]}],
       "EffectTracks":[{"EffectTrackItems":[{"Type":"Filter","TimelineIn":1,"Duration":99}]}],
       "SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content":"x","TimelineIn":0,"TimelineOut":70}]}]}"#;
    assert_eq!(dur(t), 6.0);
}

#[test]
fn deprecated_image_tracks_count_as_video() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v6"}]}],
       "ImageTracks":[{"ImageTrackClips":[{"ImageId":"logo","TimelineIn":2,"TimelineOut":9}]}]}"#;
    assert_eq!(dur(t), 9.0);
    // An untimed image-track clip (watermark template) spans the output instead.
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"v6"}]}],
       "ImageTracks":[{"ImageTrackClips":[{"ImageId":"logo","Width":200,"Height":60,"X":40,"Y":40}]}]}"#;
    let tl = Timeline::parse(t).unwrap();
    assert_eq!(tl.duration(src), 6.0);
    assert_eq!(tl.media_ids(), ["v6", "logo"]);
}

#[test]
fn unknown_lengths_count_as_zero() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"unprobed"},{"MediaId":"v6"},{"MediaURL":"https://x/unknown.mp4","MaxOut":50},
        {"Type":"AI_Avatar","AvatarId":"a"},{"Type":"Image","MediaId":"still"}]}]}"#;
    assert_eq!(dur(t), 6.0);
    // Unknown video length still wins over known audio: the rule is about presence.
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"unprobed"}]}],
       "AudioTracks":[{"AudioTrackClips":[{"MediaId":"a30"}]}]}"#;
    assert_eq!(dur(t), 0.0);
}

#[test]
fn out_maxout_duration_and_in_beyond_source() {
    let one = |clip: &str| {
        dur(&format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{clip}]}}]}}"#
        ))
    };
    assert_eq!(one(r#"{"MediaId":"v10","MaxOut":4}"#), 4.0);
    assert_eq!(one(r#"{"MediaId":"v6","MaxOut":40}"#), 6.0);
    assert_eq!(
        one(r#"{"MediaId":"v6","Out":9,"MaxOut":4}"#),
        9.0,
        "Out ignores MaxOut"
    );
    assert_eq!(one(r#"{"MediaId":"v10","In":2,"Duration":3}"#), 3.0);
    assert_eq!(one(r#"{"MediaId":"unprobed","Duration":3,"Speed":2}"#), 1.5);
    assert_eq!(one(r#"{"MediaId":"v6","In":8}"#), 0.0);
    assert_eq!(one(r#"{"MediaId":"v6","In":1,"MaxOut":0.5}"#), 0.0);
    assert_eq!(one(r#"{"MediaId":"v10","TimelineOut":3}"#), 3.0);
    assert_eq!(one(r#"{"MediaId":"v10","TimelineIn":3}"#), 13.0);
}

#[test]
fn timeline_out_before_automatic_start_gives_an_empty_clip() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[
        {"MediaId":"v10"},{"MediaId":"v8","TimelineOut":4},{"MediaId":"v6"}]}]}"#;
    assert_eq!(dur(t), 16.0);
}

#[test]
fn result_is_rounded_to_four_decimals() {
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"x","Out":1,"Speed":3}]}]}"#;
    assert_eq!(dur(t), 0.3333);
    let t = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"x","Out":216.206667}]}]}"#;
    assert_eq!(dur(t), 216.2067);
}

#[test]
fn bad_source_durations_count_as_unknown() {
    let t = Timeline::parse(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"a"},{"MediaId":"b"},{"MediaId":"c"},{"MediaId":"d","Out":2}]}]}"#).unwrap();
    let d = t.duration(|s| match s {
        ClipSource::MediaId(id) if id == "a" => Some(f64::NAN),
        ClipSource::MediaId(id) if id == "b" => Some(-5.0),
        ClipSource::MediaId(id) if id == "c" => Some(f64::INFINITY),
        _ => None,
    });
    assert_eq!(d, 2.0);
}

#[test]
fn media_url_spellings_and_source_precedence() {
    let t = Timeline::parse(
        r#"{"VideoTracks":[{"VideoTrackClips":[
            {"MediaUrl":"https://h/v10.mp4"},
            {"MediaURL":"https://h/v8.mp4","MediaUrl":"https://h/other.mp4"},
            {"MediaId":"v6","MediaURL":"https://h/ignored.mp4"},
            {"MediaId":"","MediaURL":"https://h/v10.mp4"}]}]}"#,
    )
    .unwrap();
    assert_eq!(t.duration(src), 34.0);
    let url = |u: &str| ClipSource::MediaUrl(u.to_owned());
    assert_eq!(
        t.sources(),
        [
            &url("https://h/v10.mp4"),
            &url("https://h/v8.mp4"),
            &ClipSource::MediaId("v6".to_owned())
        ]
    );
    assert_eq!(t.media_ids(), ["v6"]);
}

#[test]
fn media_ids_are_distinct_in_first_seen_order() {
    let t = Timeline::parse(
        r#"{"SubtitleTracks":[{"SubtitleTrackClips":[{"MediaId":"sub","Type":"Subtitle"}]}],
           "AudioTracks":[{"AudioTrackClips":[{"MediaId":"a15"},{"MediaId":"v10"}]}],
           "VideoTracks":[{"VideoTrackClips":[{"MediaId":"v10"},{"Type":"Image","MediaId":"img","Duration":1},
                          {"MediaURL":"https://h/x.mp4"},{"MediaId":"v10"}]}]}"#,
    )
    .unwrap();
    assert_eq!(t.media_ids(), ["v10", "img", "a15", "sub"]);
    assert!(!t.is_empty());
    let only_subtitles = r#"{"SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"x"}]}]}"#;
    assert!(!Timeline::parse(only_subtitles).unwrap().is_empty());
}
