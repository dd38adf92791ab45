//! What the renderer refuses, before any job exists: every effect, transition and clip kind
//! it cannot produce is named, never silently dropped (docs/rendering.md, "Effect table").

use serde_json::{Map, Value};

use super::{RenderError, graph::xfade_name, invalid};
use crate::domain::timeline::Timeline;

/// Pure, synchronous, no I/O: refuses what cannot be rendered (unknown or unsupported
/// effects, transitions, clip and track kinds, named in the message; both video and audio
/// tracks empty) so a submit can answer `InvalidParameter` at once. (`Speed` outside
/// [0.1, 100] and malformed times are refused by [`Timeline::parse`] already.)
pub fn check(timeline: &Timeline) -> Result<(), RenderError> {
    let root = timeline.value();
    let empty = ["VideoTracks", "ImageTracks", "AudioTracks"]
        .iter()
        .all(|k| tracks(root, k).all(|(_, t)| clips(t, k).next().is_none()));
    if empty {
        return Err(invalid(
            "Timeline",
            "is not renderable: both video tracks and audio tracks are empty",
        ));
    }
    for (key, clips_key) in [
        ("VideoTracks", "VideoTrackClips"),
        ("ImageTracks", "ImageTrackClips"),
        ("AudioTracks", "AudioTrackClips"),
    ] {
        for (t, track) in tracks(root, key) {
            let at = format!("{key}[{t}]");
            for mode in ["TrackShortenMode", "TrackExpandMode"] {
                if present(track.get(mode)) {
                    return Err(unsupported(&format!("{at}.{mode}"), "track AutoSpeed"));
                }
            }
            if key == "VideoTracks"
                && let Some(ty) = str_of(track.get("Type"))
                && !ty.eq_ignore_ascii_case("Video")
                && clips(track, key).next().is_some()
            {
                return Err(unsupported(
                    &format!("{at}.Type"),
                    &format!("track Type {ty}"),
                ));
            }
            let list: Vec<&Map<String, Value>> = clips(track, key).collect();
            for (c, clip) in list.iter().enumerate() {
                let at = format!("{at}.{clips_key}[{c}]");
                check_clip(clip, &at, key, list.get(c + 1).copied())?;
            }
        }
    }
    for (t, track) in tracks(root, "SubtitleTracks") {
        for (c, clip) in clips(track, "SubtitleTracks").enumerate() {
            check_text(
                clip,
                &format!("SubtitleTracks[{t}].SubtitleTrackClips[{c}]"),
            )?;
        }
    }
    for (t, track) in tracks(root, "EffectTracks") {
        if let Some(item) = clips(track, "EffectTracks").next() {
            let what = str_of(item.get("SubType"))
                .or(str_of(item.get("Type")))
                .unwrap_or("effect");
            return Err(unsupported(
                &format!("EffectTracks[{t}].EffectTrackItems[0]"),
                &format!("effect track item {what}"),
            ));
        }
    }
    Ok(())
}

fn check_clip(
    clip: &Map<String, Value>,
    at: &str,
    track_key: &str,
    next: Option<&Map<String, Value>>,
) -> Result<(), RenderError> {
    let has_id = ["MediaId", "ImageId"]
        .iter()
        .any(|k| str_of(clip.get(*k)).is_some());
    let has_url = ["MediaURL", "MediaUrl"]
        .iter()
        .any(|k| str_of(clip.get(*k)).is_some());
    if !has_id && !has_url {
        return Err(invalid(at, "needs a MediaId or MediaURL"));
    }
    let ty = str_of(clip.get("Type")).unwrap_or("");
    let known: &[&str] = match track_key {
        "AudioTracks" => &["", "Audio", "Video"],
        "VideoTracks" => &["", "Video", "Image", "GlobalImage"],
        _ => &[""],
    };
    if !known.iter().any(|k| k.eq_ignore_ascii_case(ty)) {
        return Err(unsupported(
            &format!("{at}.Type"),
            &format!("clip Type {ty}"),
        ));
    }
    let image = ty.eq_ignore_ascii_case("Image") || track_key == "ImageTracks";
    for key in ["MaskVideoUrl", "ReferenceClipId", "LoopMode", "DyncFrames"] {
        // LoopMode false and DyncFrames on a still change nothing.
        let on = match clip.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) if key == "LoopMode" => s.eq_ignore_ascii_case("true"),
            v => present(v) && key != "DyncFrames",
        };
        if on {
            return Err(unsupported(&format!("{at}.{key}"), key));
        }
    }
    if image && ty.eq_ignore_ascii_case("Image") && !present(clip.get("Duration")) {
        let timed = present(clip.get("TimelineIn")) && present(clip.get("TimelineOut"));
        if !timed {
            return Err(invalid(
                &format!("{at}.Duration"),
                "is required for an Image clip without TimelineIn and TimelineOut",
            ));
        }
    }
    let audio_track = track_key == "AudioTracks";
    super::plan::validate_clip(clip, at, !audio_track)?;
    for (e, effect) in effects(clip).enumerate() {
        let at = format!("{at}.Effects[{e}]");
        let Some(effect) = effect.as_object() else {
            return Err(invalid(&at, "must be an object"));
        };
        let ty = str_of(effect.get("Type")).unwrap_or("");
        let sub = str_of(effect.get("SubType")).unwrap_or("");
        let matches = |t: &str| ty.eq_ignore_ascii_case(t);
        if matches("Volume") {
            let gain = super::number(effect.get("Gain"), &format!("{at}.Gain"))?;
            if gain.is_some_and(|g| g < 0.0) {
                return Err(invalid(&format!("{at}.Gain"), "must not be negative"));
            }
        } else if matches("AFade") {
            if !(sub.eq_ignore_ascii_case("In") || sub.eq_ignore_ascii_case("Out")) {
                return Err(unsupported(
                    &format!("{at}.SubType"),
                    &format!("AFade {sub}"),
                ));
            }
            super::number(effect.get("Duration"), &format!("{at}.Duration"))?;
        } else if matches("Transition") && !audio_track {
            if xfade_name(sub).is_none() {
                return Err(unsupported(
                    &format!("{at}.SubType"),
                    &format!("transition {sub}"),
                ));
            }
            match next {
                None => {
                    return Err(invalid(
                        &at,
                        "is a Transition on the last clip of its track (it joins a clip with the next one)",
                    ));
                }
                Some(n) if present(n.get("TimelineIn")) => {
                    return Err(invalid(
                        &at,
                        "is a Transition before a clip with an explicit TimelineIn (the next clip must follow automatically)",
                    ));
                }
                Some(_) => {}
            }
        } else if matches("Background") && !audio_track {
            if !(sub.eq_ignore_ascii_case("Blur") || sub.eq_ignore_ascii_case("Color")) {
                return Err(unsupported(
                    &format!("{at}.SubType"),
                    &format!("Background {sub}"),
                ));
            }
        } else if matches("Text") && !audio_track {
            check_text(effect, &at)?;
        } else {
            let name = if sub.is_empty() {
                ty.to_owned()
            } else {
                format!("{ty} {sub}")
            };
            return Err(unsupported(&at, &format!("effect {name}")));
        }
    }
    Ok(())
}

/// A subtitle clip or `Text` effect: inline text only, the styling fields the ASS file maps.
fn check_text(clip: &Map<String, Value>, at: &str) -> Result<(), RenderError> {
    let ty = str_of(clip.get("Type")).unwrap_or("Text");
    if !(ty.eq_ignore_ascii_case("Text")) {
        return Err(unsupported(
            &format!("{at}.Type"),
            &format!("subtitle Type {ty}"),
        ));
    }
    for key in [
        "FontUrl",
        "EffectColorStyle",
        "AaiMotionIn",
        "AaiMotionInEffect",
        "AaiMotionOut",
        "AaiMotionOutEffect",
        "AaiMotionLoopEffect",
        "SubtitleEffects",
        "ReferenceClipId",
    ] {
        let set = match clip.get(key) {
            Some(Value::Array(a)) => !a.is_empty(),
            v => present(v),
        };
        if set {
            return Err(unsupported(&format!("{at}.{key}"), key));
        }
    }
    match clip.get("Content") {
        Some(Value::String(_)) => {
            super::subtitles::caption(clip, 0, 1, (25, 1), at)?;
            Ok(())
        }
        _ => Err(invalid(&format!("{at}.Content"), "must be a string")),
    }
}

fn unsupported(field: &str, what: &str) -> RenderError {
    RenderError::Invalid {
        field: field.to_owned(),
        message: format!("{field}: {what} is not supported by the renderer"),
    }
}

fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

pub(super) fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `(index, track object)` of a track list.
pub(super) fn tracks<'a>(
    root: &'a Value,
    key: &str,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    root.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, t)| t.as_object().map(|t| (i, t)))
}

/// The clip objects of a track of the list `key`.
pub(super) fn clips<'a>(
    track: &'a Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    let clips_key = match key {
        "VideoTracks" => "VideoTrackClips",
        "ImageTracks" => "ImageTrackClips",
        "AudioTracks" => "AudioTrackClips",
        "SubtitleTracks" => "SubtitleTrackClips",
        _ => "EffectTrackItems",
    };
    track
        .get(clips_key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

pub(super) fn effects(clip: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    clip.get("Effects")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}
