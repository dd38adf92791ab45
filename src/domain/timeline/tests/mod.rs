//! Unit tests of the timeline module, one file per concern; shared helpers here.

mod duration;
mod frontend;
mod parse;
mod properties;

use super::frontend::{absent, items};
use super::placement::round4;
use super::*;

/// Source durations of timeline.md §2.4, keyed by MediaId or by the URL's file stem.
fn src(s: &ClipSource) -> Option<f64> {
    let key = match s {
        ClipSource::MediaId(k) | ClipSource::MediaUrl(k) => k.as_str(),
    };
    let stem = key.rsplit('/').next()?.split('.').next()?;
    match stem {
        "v10" => Some(10.0),
        "v8" => Some(8.0),
        "v6" => Some(6.0),
        "a30" => Some(30.0),
        "a15" => Some(15.0),
        _ => None,
    }
}

fn dur(json: &str) -> f64 {
    Timeline::parse(json)
        .unwrap_or_else(|e| panic!("{json}: {e}"))
        .duration(src)
}

fn reason(json: &str) -> String {
    match Timeline::parse(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e.reason,
    }
}

fn fe(json: &str) -> Value {
    Timeline::parse(json)
        .unwrap_or_else(|e| panic!("{json}: {e}"))
        .to_frontend(src)
}

/// A time as written: a number or a numeric string.
fn secs(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.trim().parse().unwrap(),
        v => v.as_f64().unwrap_or_else(|| panic!("not a time: {v}")),
    }
}

/// The clips of `list[track]` (e.g. `VideoTracks[0].VideoTrackClips`).
fn clips_of<'a>(v: &'a Value, list: &str, track: usize) -> &'a Vec<Value> {
    let clips_key = FAMILIES.iter().find(|f| f.key == list).unwrap().clips_key;
    v[list][track][clips_key].as_array().unwrap()
}

/// `(TimelineIn, TimelineOut)` of every clip of `list[track]`.
fn spans(v: &Value, list: &str, track: usize) -> Vec<(f64, f64)> {
    clips_of(v, list, track)
        .iter()
        .map(|c| (secs(&c["TimelineIn"]), secs(&c["TimelineOut"])))
        .collect()
}

/// `(In, Out)` of every clip of `list[track]`, `None` where absent.
fn in_outs(v: &Value, list: &str, track: usize) -> Vec<(Option<f64>, Option<f64>)> {
    let get = |c: &Value, k: &str| c.get(k).map(secs);
    clips_of(v, list, track)
        .iter()
        .map(|c| (get(c, "In"), get(c, "Out")))
        .collect()
}

/// Everything in `orig` is in `conv` unchanged (absent values may have been filled).
fn keeps(orig: &Value, conv: &Value) -> bool {
    match (orig, conv) {
        (Value::Object(a), Value::Object(b)) => a
            .iter()
            .all(|(k, v)| absent(Some(v)) || b.get(k).is_some_and(|w| keeps(v, w))),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| keeps(v, w))
        }
        (a, b) => a == b,
    }
}
