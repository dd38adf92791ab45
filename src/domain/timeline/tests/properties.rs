//! Property tests over generated timelines.

use proptest::prelude::*;
use serde_json::json;

use super::*;

const SOURCES: [&str; 5] = ["v10", "v8", "v6", "a30", "unprobed"];

/// A valid video-track clip (never GlobalImage) as JSON, numbers sometimes as strings.
fn clip_strategy() -> impl Strategy<Value = Value> {
    (
        (0..SOURCES.len(), any::<bool>(), any::<bool>()),
        prop::option::of(0.0f64..20.0),
        prop::option::of(0.001f64..20.0),
        prop::option::of(0.1f64..=100.0),
        prop::option::of(0.0f64..50.0),
        prop::option::of(0.001f64..50.0),
        prop::option::of(0.0f64..20.0),
    )
        .prop_map(
            |((src, image, strings), in_, out_len, speed, t_in, t_len, duration)| {
                let num = |x: f64| {
                    if strings {
                        json!(x.to_string())
                    } else {
                        json!(x)
                    }
                };
                let mut c = Map::new();
                c.insert("MediaId".into(), json!(SOURCES[src]));
                if image {
                    c.insert("Type".into(), json!("Image"));
                }
                if let Some(i) = in_ {
                    c.insert("In".into(), num(i));
                }
                if let Some(len) = out_len {
                    c.insert("Out".into(), num(in_.unwrap_or(0.0) + len));
                }
                if let Some(s) = speed {
                    c.insert("Speed".into(), num(s));
                }
                if let Some(t) = t_in {
                    c.insert("TimelineIn".into(), num(t));
                }
                if let Some(len) = t_len {
                    c.insert("TimelineOut".into(), num(t_in.unwrap_or(0.0) + len));
                }
                if let Some(d) = duration {
                    c.insert("Duration".into(), num(d));
                }
                c.insert("Unknown".into(), json!({"k": [src]}));
                Value::Object(c)
            },
        )
}

fn video_timeline(clips: &[Value]) -> String {
    json!({"VideoTracks": [{"VideoTrackClips": clips}]}).to_string()
}

fn timeline_strategy() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(prop::collection::vec(clip_strategy(), 0..6), 0..4),
        prop::collection::vec(prop::collection::vec(clip_strategy(), 0..4), 0..3),
        prop::option::of(0usize..7),
        prop::option::of(0.0f64..100.0),
    )
        .prop_map(|(video, audio, main, max)| {
            let mut tracks: Vec<Value> = video
                .into_iter()
                .map(|c| json!({"VideoTrackClips": c}))
                .collect();
            let audio: Vec<Value> = audio
                .into_iter()
                .map(|c| json!({"AudioTrackClips": c}))
                .collect();
            let n = tracks.len();
            let mut audio = audio;
            match main {
                Some(i) if i < n => tracks[i]["MainTrack"] = json!(true),
                Some(i) if i - n < audio.len() => audio[i - n]["MainTrack"] = json!("true"),
                _ => {}
            }
            let mut t = json!({"VideoTracks": tracks, "AudioTracks": audio, "Version": 3});
            if let Some(m) = max {
                t["MaxDuration"] = json!(m);
            }
            t
        })
}

/// Equal up to the last bits of a float (serde_json's default number parsing may be off by
/// an ulp, so a value written out and read back can move slightly).
fn approx_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| approx_eq(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| approx_eq(v, w))
        }
        (x, y) => x == y,
    }
}

proptest! {
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = Timeline::parse(&s);
    }

    #[test]
    fn accepted_text_always_parses_as_a_json_value(
        s in r#"[\[\]{}":,.0-9eE+ -]{0,40}|\{"(VideoTracks|AudioTracks|MaxDuration)":[\[\]{}":,.0-9a-zA-Z -]{0,60}"#,
    ) {
        if let Ok(t) = Timeline::parse(&s) {
            if !s.trim().is_empty() {
                prop_assert!(serde_json::from_str::<Value>(&s).is_ok());
            }
            prop_assert!(t.value().is_object());
        }
    }

    #[test]
    fn generated_timelines_parse_keep_their_value_and_have_a_sane_duration(t in timeline_strategy()) {
        let s = t.to_string();
        let tl = Timeline::parse(&s).map_err(|e| TestCaseError::fail(e.reason))?;
        prop_assert_eq!(tl.value(), &serde_json::from_str::<Value>(&s).unwrap());
        let d = tl.duration(src);
        prop_assert!(d.is_finite() && d >= 0.0, "{}", d);
        if let Some(m) = t.get("MaxDuration").and_then(Value::as_f64).filter(|m| *m > 0.0) {
            prop_assert!(d <= (m * 1e4).round() / 1e4);
        }
        let mut ids = tl.media_ids();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), n);
    }

    #[test]
    fn appending_to_the_only_video_track_never_decreases_the_total(
        clips in prop::collection::vec(clip_strategy(), 0..8),
        extra in clip_strategy(),
    ) {
        let before = dur(&video_timeline(&clips));
        let mut more = clips.clone();
        more.push(extra);
        prop_assert!(dur(&video_timeline(&more)) >= before);
    }

    #[test]
    fn sequential_clips_with_known_lengths_add_up(
        lens in prop::collection::vec((0.0f64..30.0, 0.01f64..30.0, 0.1f64..=100.0), 0..20),
    ) {
        let clips: Vec<Value> = lens
            .iter()
            .map(|(i, len, speed)| json!({"MediaId": "unprobed", "In": i, "Out": i + len, "Speed": speed}))
            .collect();
        let expected: f64 = lens.iter().map(|(_, len, speed)| len / speed).sum();
        let got = dur(&video_timeline(&clips));
        prop_assert!((got - expected).abs() <= 1e-4 + expected * 1e-12, "{} vs {}", got, expected);
    }

    #[test]
    fn websdk_placement_agrees_with_duration(t in timeline_strategy()) {
        // Without a main track or a cap, the total is the latest video end (else audio).
        let mut t = t;
        t.as_object_mut().unwrap().remove("MaxDuration");
        for list in ["VideoTracks", "AudioTracks"] {
            for track in t[list].as_array_mut().unwrap() {
                track.as_object_mut().unwrap().remove("MainTrack");
            }
        }
        let tl = Timeline::parse(&t.to_string()).unwrap();
        let v = tl.to_frontend(src);
        let latest = |list: &str| {
            v[list]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|t| items(t.get(FAMILIES.iter().find(|f| f.key == list).unwrap().clips_key)))
                .map(|c| secs(&c["TimelineOut"]))
                .reduce(f64::max)
        };
        let end = latest("VideoTracks").or_else(|| latest("AudioTracks")).unwrap_or(0.0);
        prop_assert_eq!(round4(end), tl.duration(src));
    }

    #[test]
    fn websdk_conversion_is_complete_keeps_the_input_and_is_stable(t in timeline_strategy()) {
        let s = t.to_string();
        let tl = Timeline::parse(&s).unwrap();
        let v = tl.to_frontend(src);
        prop_assert!(keeps(tl.value(), &v));
        let mut clip_ids = HashSet::new();
        for fam in &FAMILIES {
            let mut track_ids = HashSet::new();
            for track in items(v.get(fam.key)) {
                prop_assert!(track_ids.insert(track["Id"].as_u64().unwrap()));
                for clip in items(track.get(fam.clips_key)) {
                    prop_assert!(clip_ids.insert(clip["Id"].as_u64().unwrap()));
                    prop_assert_eq!(&clip["TrackId"], &track["Id"]);
                    prop_assert!(secs(&clip["TimelineOut"]) >= secs(&clip["TimelineIn"]));
                    if clip.get("MediaId").is_some() && clip.get("Type").is_none() {
                        prop_assert!(clip.get("In").is_some());
                    }
                }
            }
        }
        // The converted timeline parses back, has the same duration and converts to itself.
        match Timeline::parse(&v.to_string()) {
            Ok(again) => {
                let (a, b) = (tl.duration(src), again.duration(src));
                prop_assert!((a - b).abs() <= 1.000_001e-4, "{} vs {}", a, b);
                prop_assert!(approx_eq(&again.to_frontend(src), &v));
            }
            Err(e) => prop_assert!(false, "the converted timeline does not parse: {}", e.reason),
        }
    }

    #[test]
    fn numbers_and_numeric_strings_mean_the_same(t in timeline_strategy()) {
        fn stringify(v: &Value) -> Value {
            match v {
                Value::Number(n) => Value::String(n.to_string()),
                Value::Array(a) => Value::Array(a.iter().map(stringify).collect()),
                Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), stringify(v))).collect()),
                other => other.clone(),
            }
        }
        // Stringify the reparsed value so both sides hold the very same f64s.
        let reparsed: Value = serde_json::from_str(&t.to_string()).unwrap();
        let plain = Timeline::parse(&reparsed.to_string()).unwrap().duration(src);
        let strings = Timeline::parse(&stringify(&reparsed).to_string()).unwrap().duration(src);
        prop_assert_eq!(plain, strings);
    }
}
