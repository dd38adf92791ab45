//! Unit tests of the plan (resolve, geometry, transitions, output defaults).

use super::*;

fn video(w: u32, h: u32, secs: f64) -> SourceInfo {
    SourceInfo {
        duration: Some(secs),
        width: Some(w),
        height: Some(h),
        fps: Some((30, 1)),
        bitrate_kbps: Some(100),
        has_video: true,
        has_audio: true,
        image: false,
    }
}

fn resolve_with(json: &str, srcs: &[(&str, SourceInfo)], out: &OutputSpec) -> Plan {
    let t = Timeline::parse(json).unwrap();
    super::super::check(&t).unwrap();
    let facts = srcs
        .iter()
        .map(|(k, i)| {
            (
                ClipSource::MediaUrl((*k).to_owned()),
                (PathBuf::from(format!("/src/{k}")), i.clone()),
            )
        })
        .collect();
    resolve(&t, &facts, out, Some("F".into())).unwrap()
}

#[test]
fn concat_in_out_speed_and_gaps_are_whole_frames() {
    let p = resolve_with(
        r#"{"VideoTracks":[{"VideoTrackClips":[
            {"MediaURL":"a","In":1,"Out":3},
            {"MediaURL":"b","Speed":2},
            {"MediaURL":"a","TimelineIn":6,"TimelineOut":7}]}]}"#,
        &[("a", video(160, 120, 4.0)), ("b", video(320, 180, 4.0))],
        &OutputSpec::default(),
    );
    assert_eq!((p.width, p.height, p.fps), (320, 180, (30, 1)));
    let spans: Vec<(u64, u64)> = p.layers.iter().map(|l| (l.start, l.end)).collect();
    assert_eq!(spans, [(0, 60), (60, 120), (180, 210)]);
    assert_eq!(p.frames(), 210);
    assert_eq!(p.duration_secs(), 7.0);
    assert_eq!(p.inputs[0].seek, 1.0);
    assert_eq!(p.inputs[1].length, 2.0 * 2.0 + 0.1);
    assert_eq!(p.sounds[2].start, 6 * SAMPLE_RATE);
    assert_eq!(p.samples(), 7 * SAMPLE_RATE);
}

#[test]
fn transitions_overlap_and_agree_with_the_project_duration() {
    let json = r#"{"VideoTracks":[{"VideoTrackClips":[
            {"MediaURL":"a","Effects":[{"Type":"Transition","SubType":"fade","Duration":0.5}]},
            {"MediaURL":"a","Effects":[{"Type":"Transition","SubType":"directional"}]},
            {"MediaURL":"a"}]}]}"#;
    let p = resolve_with(json, &[("a", video(160, 120, 4.0))], &OutputSpec::default());
    let t = Timeline::parse(json).unwrap();
    assert_eq!(t.duration(|_| Some(4.0)), 12.0 - 1.5);
    assert_eq!(p.duration_secs(), 10.5);
    assert_eq!(p.frames(), 315);
    assert_eq!(p.layers[0].transition, Some(("fade", 15)));
    assert_eq!(p.layers[1].transition, Some(("slideleft", 30)));
    assert_eq!((p.layers[1].start, p.layers[2].start), (105, 195));
    assert_eq!(p.sounds[1].fade_in, 0.5);
    assert_eq!(p.sounds[1].fade_out, 1.0);
}

#[test]
fn geometry_ratio_pixels_and_adapt_modes() {
    let p = resolve_with(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a"}]},
            {"VideoTrackClips":[{"MediaURL":"a","X":0.5,"Y":10,"Width":0.25,"Height":0.5,
              "AdaptMode":"Cover","Opacity":0.5,"TimelineIn":1,"TimelineOut":2}]}]}"#,
        &[("a", video(320, 240, 4.0))],
        &OutputSpec {
            width: Some(640),
            height: Some(480),
            fps: Some((25, 1)),
            ..OutputSpec::default()
        },
    );
    let pip = &p.layers[1];
    assert_eq!(
        pip.rect,
        Rect {
            x: 320,
            y: 10,
            w: 160,
            h: 240
        }
    );
    assert_eq!((pip.fit, pip.opacity, pip.track), (Fit::Cover, 0.5, 1));
    assert_eq!((pip.start, pip.end), (25, 50));
    assert_eq!(p.frames(), 100);
}

/// The job worker spawns these futures onto the runtime.
#[test]
fn plan_and_execute_futures_are_send() {
    fn send<T: Send>(_: T) {}
    let p = resolve_with(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a"}]}]}"#,
        &[("a", video(160, 120, 1.0))],
        &OutputSpec::default(),
    );
    send(super::super::execute(
        &p,
        std::path::Path::new("out.mp4"),
        &|_| {},
    ));
    let t = Timeline::parse("{}").unwrap();
    send(super::super::plan(
        &t,
        &HashMap::new(),
        &OutputSpec::default(),
    ));
}

#[test]
fn a_timeline_shorter_than_a_frame_or_an_in_point_past_the_source_is_refused() {
    let t =
        Timeline::parse(r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Out":0.01}]}]}"#)
            .unwrap();
    let facts = [(
        ClipSource::MediaUrl("a".into()),
        (PathBuf::from("/a"), video(160, 120, 1.0)),
    )]
    .into_iter()
    .collect();
    match resolve(&t, &facts, &OutputSpec::default(), None) {
        Err(RenderError::Invalid { field, .. }) => assert_eq!(field, "Timeline"),
        other => panic!("{other:?}"),
    }
    let t = Timeline::parse(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","In":2,"Out":3}]}]}"#,
    )
    .unwrap();
    match resolve(&t, &facts, &OutputSpec::default(), None) {
        Err(RenderError::Invalid { field, .. }) => {
            assert_eq!(field, "VideoTracks[0].VideoTrackClips[0].In")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_defaults_and_limits() {
    let p = resolve_with(
        r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a"},{"MediaURL":"b"}]}]}"#,
        &[("a", video(161, 90, 1.0)), ("b", video(100, 121, 1.0))],
        &OutputSpec::default(),
    );
    // Largest width and height taken separately, even, at least 128.
    assert_eq!((p.width, p.height), (162, 128));
    assert_eq!(p.bitrate_kbps, Some(100));
    let spec = OutputSpec::from_output_media_config(
        &serde_json::json!({"Width":"1920","Height":1080,"Video":{"Fps":29.97},"MaxDuration":3}),
    )
    .unwrap();
    assert_eq!(spec.fps, Some((30000, 1001)));
    assert_eq!(spec.max_duration, Some(3.0));
    for (cfg, field) in [
        (serde_json::json!({"Width":100}), "OutputMediaConfig.Width"),
        (
            serde_json::json!({"Width":3000,"Height":3000}),
            "OutputMediaConfig.Width",
        ),
        (
            serde_json::json!({"Height":"x"}),
            "OutputMediaConfig.Height",
        ),
    ] {
        match OutputSpec::from_output_media_config(&cfg) {
            Err(RenderError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{cfg}: {other:?}"),
        }
    }
}

#[test]
fn check_refuses_what_it_cannot_render_by_name() {
    for (json, needle) in [
        (
            r#"{"VideoTracks":[],"AudioTracks":[]}"#,
            "both video tracks and audio tracks are empty",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Effects":[{"Type":"VFX","SubType":"heartbeat"}]}]}]}"#,
            "effect VFX heartbeat",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Effects":[{"Type":"Transition","SubType":"nosuch"}]},{"MediaURL":"a"}]}]}"#,
            "transition nosuch",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Effects":[{"Type":"Transition","SubType":"fade"}]}]}]}"#,
            "last clip",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a"}]}],"EffectTracks":[{"EffectTrackItems":[{"Type":"VFX","SubType":"blur"}]}]}"#,
            "blur",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Width":1.5}]}]}"#,
            "VideoTracks[0].VideoTrackClips[0].Width must be a ratio",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Opacity":2}]}]}"#,
            "Opacity must be between 0 and 1",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a","Width":10,"Height":10,"AdaptMode":"Zoom"}]}]}"#,
            "AdaptMode must be",
        ),
        (
            r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"a"}]}],"SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content":"x","FontColor":"red"}]}]}"#,
            "FontColor must be a colour",
        ),
    ] {
        let t = Timeline::parse(json).unwrap();
        match super::super::check(&t) {
            Err(RenderError::Invalid { message, .. }) => {
                assert!(message.contains(needle), "{json}: {message}")
            }
            other => panic!("{json}: {other:?}"),
        }
    }
}
