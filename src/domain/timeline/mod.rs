//! The editing-project `Timeline` (reference: timeline.md §1–§3): parse, validate, total duration.
//!
//! Pure: no I/O. Source durations come from the caller through [`Timeline::duration`];
//! [`Timeline::sources`] lists what to look up first.
//!
//! Parsing streams the text once into small typed records (only the fields the server reads;
//! everything else is skipped, still checked for JSON syntax and serde_json's nesting limit of
//! 128), so a 10,000-clip timeline costs a few milliseconds. The text itself is what is stored.
//!
//! Choices where the reference is silent (mirrored in docs/decisions.md):
//! * Validation covers JSON syntax, a non-object top level, wrong types of the fields the
//!   server reads, negative times, `Out <= In`, `TimelineOut <= TimelineIn`, `Speed` outside
//!   [0.1, 100], and times above 10^9 s (keeps every sum finite). Track/clip counts are not
//!   limited here (the 100-track limit is a producing-job rule; the body limit bounds size).
//! * Only the fields the server reads are type-checked; all other keys are kept verbatim.
//! * `null` and `""` count as absent; numeric strings (`"5"`, `" 2.5 "`) are numbers;
//!   `MainTrack` also accepts `"true"`/`"false"` in any case.
//! * Clip `Type` and track `Type` are matched case-insensitively.
//! * This parses resolved timelines: a template `Config` with `$...` placeholders in number
//!   fields is rejected until its `ClipsParam` is applied.
//! * A `Transition` effect on a clip overlaps the next automatically placed clip of the track
//!   by its `Duration` (default 1 s), shortening the total; [`Timeline::layout`] gives the
//!   renderer this same placement, so project `Duration` and rendered frames agree.
//! * [`Timeline::to_frontend`] (WebSDK style, timeline.md §5) fills only absent values, using
//!   the placement of [`Timeline::duration`]; a zero-length clip (unknown length) is written as
//!   `TimelineOut = TimelineIn`, which [`Timeline::parse`] accepts when it is sent back.
//!
//! Files: this one holds the types and the track/clip schema; `parse.rs` and `fields.rs` the
//! streaming parser, `placement.rs` where clips sit (duration, layout), `frontend.rs` the
//! WebSDK form; `tests/` the unit tests, one file per concern.

mod fields;
mod frontend;
mod parse;
mod placement;
#[cfg(test)]
mod tests;

pub use placement::{Layout, PlacedClip, PlacedTrack};

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// A `Transition` effect without `Duration` lasts 1 s (timeline.md §1.7).
pub const DEFAULT_TRANSITION: f64 = 1.0;

/// A parsed, validated timeline. Keeps the original JSON text (unknown keys preserved).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    raw: String,
    /// Built on first use only: most callers just store `raw`.
    value: OnceLock<Value>,
    /// Video, image, audio, subtitle, effect tracks, in that order.
    tracks: Vec<Track>,
    max_duration: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct TimelineError {
    pub reason: String,
}

/// What a clip points at, so the caller can look up a probed source duration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClipSource {
    MediaId(String),
    MediaUrl(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Video and (deprecated) image tracks: define the total when there is no main track.
    Visual,
    Audio,
    /// Subtitle and effect tracks (and `Type: Effect` video tracks): never extend the total.
    Other,
}

#[derive(Debug, Clone)]
struct Track {
    family: TrackFamily,
    role: Role,
    main: bool,
    clips: Vec<Clip>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClipKind {
    /// Video/audio: length from In/Out/MaxOut/Duration and the source.
    Media,
    /// Still image: length from Duration.
    Image,
    /// Spans the whole output; only counts when nothing else defines the total.
    Global,
}

#[derive(Debug, Clone)]
struct Clip {
    kind: ClipKind,
    source: Option<ClipSource>,
    in_: Option<f64>,
    out: Option<f64>,
    max_out: Option<f64>,
    duration: Option<f64>,
    timeline_in: Option<f64>,
    timeline_out: Option<f64>,
    speed: Option<f64>,
    /// `Duration` of the clip's first `Transition` effect (default 1 s); video clips only.
    transition: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackFamily {
    Video,
    Image,
    Audio,
    Subtitle,
    Effect,
}

struct Family {
    key: &'static str,
    clips_key: &'static str,
    family: TrackFamily,
    /// Which clip keys (`K_*` bits) this family reads; other keys are only kept verbatim.
    reads: u16,
}

/// Clip keys the server reads (see [`clip_key`]); bit positions in [`Family::reads`].
const K_TIMELINE_IN: usize = 0;
const K_TIMELINE_OUT: usize = 1;
const K_IN: usize = 2;
const K_OUT: usize = 3;
const K_MAX_OUT: usize = 4;
const K_DURATION: usize = 5;
const K_SPEED: usize = 6;
const K_MEDIA_ID: usize = 7;
const K_IMAGE_ID: usize = 8;
const K_MEDIA_URL: usize = 9;
const K_MEDIA_URL_ALT: usize = 10;
const K_TYPE: usize = 11;
const K_EFFECTS: usize = 12;

fn clip_key(k: &str) -> Option<usize> {
    Some(match k {
        "TimelineIn" => K_TIMELINE_IN,
        "TimelineOut" => K_TIMELINE_OUT,
        "In" => K_IN,
        "Out" => K_OUT,
        "MaxOut" => K_MAX_OUT,
        "Duration" => K_DURATION,
        "Speed" => K_SPEED,
        "MediaId" => K_MEDIA_ID,
        "ImageId" => K_IMAGE_ID,
        "MediaURL" => K_MEDIA_URL,
        "MediaUrl" => K_MEDIA_URL_ALT,
        "Type" => K_TYPE,
        "Effects" => K_EFFECTS,
        _ => return None,
    })
}

const fn bits(keys: &[usize]) -> u16 {
    let mut b = 0;
    let mut i = 0;
    while i < keys.len() {
        b |= 1 << keys[i];
        i += 1;
    }
    b
}

const AV_KEYS: [usize; 10] = [
    K_TIMELINE_IN,
    K_TIMELINE_OUT,
    K_IN,
    K_OUT,
    K_MAX_OUT,
    K_DURATION,
    K_SPEED,
    K_MEDIA_ID,
    K_MEDIA_URL,
    K_MEDIA_URL_ALT,
];

/// Order matters: "first MainTrack wins" scans video before audio, and `media_ids` is first-seen.
const FAMILIES: [Family; 5] = [
    Family {
        key: "VideoTracks",
        clips_key: "VideoTrackClips",
        family: TrackFamily::Video,
        reads: bits(&AV_KEYS) | bits(&[K_TYPE, K_EFFECTS]),
    },
    Family {
        key: "ImageTracks",
        clips_key: "ImageTrackClips",
        family: TrackFamily::Image,
        reads: bits(&[
            K_TIMELINE_IN,
            K_TIMELINE_OUT,
            K_DURATION,
            K_MEDIA_ID,
            K_IMAGE_ID,
            K_MEDIA_URL,
            K_MEDIA_URL_ALT,
        ]),
    },
    Family {
        key: "AudioTracks",
        clips_key: "AudioTrackClips",
        family: TrackFamily::Audio,
        reads: bits(&AV_KEYS),
    },
    Family {
        key: "SubtitleTracks",
        clips_key: "SubtitleTrackClips",
        family: TrackFamily::Subtitle,
        reads: bits(&[K_TIMELINE_IN, K_TIMELINE_OUT, K_MEDIA_ID]),
    },
    Family {
        key: "EffectTracks",
        clips_key: "EffectTrackItems",
        family: TrackFamily::Effect,
        reads: bits(&[K_TIMELINE_IN, K_TIMELINE_OUT, K_DURATION, K_MEDIA_ID]),
    },
];

/// Top-level keys the server reads: index in [`FAMILIES`], or `FAMILIES.len()` for MaxDuration.
fn root_key(k: &str) -> Option<usize> {
    match k {
        "MaxDuration" => Some(FAMILIES.len()),
        k => FAMILIES.iter().position(|f| f.key == k),
    }
}

/// Where a value sits, rendered only when an error is reported (keeps the hot path allocation-free).
#[derive(Clone, Copy)]
enum Loc {
    Root,
    Track(&'static Family, usize),
    Clip(&'static Family, usize, usize),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Loc::Root => Ok(()),
            Loc::Track(fam, t) => write!(f, "{}[{t}]", fam.key),
            Loc::Clip(fam, t, c) => write!(f, "{}[{t}].{}[{c}]", fam.key, fam.clips_key),
        }
    }
}

impl Loc {
    fn err(self, field: &str, what: &str) -> TimelineError {
        let reason = match (self, field.is_empty()) {
            (Loc::Root, _) => format!("{field} {what}"),
            (_, true) => format!("{self} {what}"),
            (_, false) => format!("{self}.{field} {what}"),
        };
        TimelineError { reason }
    }
}

type Res<T> = Result<T, TimelineError>;

impl Timeline {
    /// The text exactly as given to [`Timeline::parse`] (key order and spacing kept): the form
    /// to store and return.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The JSON value (an empty object for `""`), parsed on first call.
    pub fn value(&self) -> &Value {
        self.value.get_or_init(|| {
            // Cannot fail: parse() already accepted this text under the same limits.
            serde_json::from_str(&self.raw).unwrap_or_else(|_| Value::Object(Map::new()))
        })
    }

    pub fn into_value(self) -> Value {
        self.value();
        self.value.into_inner().unwrap_or_default()
    }

    /// True when no track holds any clip.
    pub fn is_empty(&self) -> bool {
        self.tracks.iter().all(|t| t.clips.is_empty())
    }

    /// Every distinct MediaId referenced by any clip of any track (video, audio, image,
    /// subtitle clips, effect items), in first-seen order. `ImageId` of deprecated image
    /// tracks counts as a MediaId; a clip with both a MediaId and a URL is taken by its MediaId.
    pub fn media_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for clip in self.tracks.iter().flat_map(|t| &t.clips) {
            if let Some(ClipSource::MediaId(id)) = &clip.source
                && seen.insert(id.as_str())
            {
                out.push(id.clone());
            }
        }
        out
    }

    /// Distinct sources of video, image and audio clips, in first-seen order: what
    /// [`Timeline::duration`] may ask about, so the caller can fetch them beforehand.
    pub fn sources(&self) -> Vec<&ClipSource> {
        let mut seen = HashSet::new();
        self.tracks
            .iter()
            .filter(|t| t.role != Role::Other)
            .flat_map(|t| &t.clips)
            .filter_map(|c| c.source.as_ref())
            .filter(|s| seen.insert(*s))
            .collect()
    }
}
