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

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Largest accepted time value in seconds (≈ 31.7 years); only guards against absurd input.
const MAX_SECONDS: f64 = 1e9;
const MIN_SPEED: f64 = 0.1;
const MAX_SPEED: f64 = 100.0;
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
    /// Parse a Timeline parameter. `""` (or only whitespace) and `"{}"` are the empty timeline.
    ///
    /// Rejected, with a reason naming the path (e.g. `VideoTracks[0].VideoTrackClips[1].Out must
    /// be greater than In`): malformed JSON (including nesting deeper than 128), a non-object
    /// top level, wrong types (track lists/clip lists not arrays, tracks/clips not objects, a
    /// time or `Speed` not a number or numeric string, `MainTrack` not a boolean,
    /// `MediaId`/`MediaURL`/`MediaUrl`/`ImageId`/`Type` not strings), negative or above-10^9
    /// `In`/`Out`/`MaxOut`/`Duration`/`TimelineIn`/`TimelineOut`/`MaxDuration`, `Out <= In`
    /// (`In` defaulting to 0), `TimelineOut <= TimelineIn` (both given), `Speed` outside
    /// [0.1, 100]. Unknown keys are preserved, never rejected. The first problem in document
    /// order is reported.
    pub fn parse(s: &str) -> Result<Timeline, TimelineError> {
        if s.trim().is_empty() {
            return Ok(Timeline {
                raw: s.to_owned(),
                ..Timeline::default()
            });
        }
        let invalid = |e: serde_json::Error| TimelineError {
            reason: format!("Timeline is not valid JSON: {e}"),
        };
        if !s
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Err(match serde_json::from_str::<Skip>(s) {
                Ok(_) => TimelineError {
                    reason: "Timeline must be a JSON object".to_owned(),
                },
                Err(e) => invalid(e),
            });
        }
        let ctx = Ctx::default();
        let mut de = serde_json::Deserializer::from_str(s);
        let parsed = RootSeed { ctx: &ctx }
            .deserialize(&mut de)
            .and_then(|root| de.end().map(|()| root));
        match parsed {
            Ok((tracks, max_duration)) => Ok(Timeline {
                raw: s.to_owned(),
                value: OnceLock::new(),
                tracks,
                max_duration,
            }),
            Err(e) => Err(ctx.err.take().unwrap_or_else(|| invalid(e))),
        }
    }

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

    /// Total duration in seconds (timeline.md §2.1/§2.2, decisions.md "Duration"), rounded to
    /// 4 decimal places.
    ///
    /// The first video/audio track with `MainTrack: true` defines the total; otherwise the
    /// latest clip end over video and image tracks, else over audio tracks, else over
    /// `GlobalImage` clips. Subtitle and effect tracks never extend it; `MaxDuration` caps it.
    /// A clip whose length is unknown counts as 0. `source_duration` results that are
    /// negative or not finite count as unknown.
    pub fn duration(&self, source_duration: impl Fn(&ClipSource) -> Option<f64>) -> f64 {
        round4(self.total(&known_length(&source_duration)))
    }

    /// Every video, image and audio clip placed on the output by the same rule as
    /// [`Timeline::duration`] (`GlobalImage` and untimed image-track clips span the total).
    pub fn layout(&self, source_duration: impl Fn(&ClipSource) -> Option<f64>) -> Layout {
        let probe = known_length(&source_duration);
        let total = self.total(&probe);
        let mut counters = [0usize; 5];
        let tracks = self
            .tracks
            .iter()
            .map(|track| {
                let fam = FAMILIES
                    .iter()
                    .position(|f| f.family == track.family)
                    .unwrap_or(0);
                let index = counters[fam];
                counters[fam] += 1;
                let other = track.role == Role::Other;
                let clips = if other {
                    Vec::new()
                } else {
                    place_clips(track, &probe)
                        .map(|(clip, p)| {
                            let (start, end) = match clip.kind {
                                ClipKind::Global => {
                                    let s = clip.timeline_in.unwrap_or(0.0);
                                    (s, clip.timeline_out.unwrap_or(total).max(s))
                                }
                                _ => (p.start, p.end),
                            };
                            PlacedClip {
                                source: clip.source.clone(),
                                image: clip.kind != ClipKind::Media,
                                global: clip.kind == ClipKind::Global,
                                start,
                                end,
                                source_in: match clip.kind {
                                    ClipKind::Media => clip.in_.unwrap_or(0.0),
                                    _ => 0.0,
                                },
                                speed: clip.speed.unwrap_or(1.0),
                                transition: clip.transition,
                            }
                        })
                        .collect()
                };
                PlacedTrack {
                    key: FAMILIES[fam].key,
                    clips_key: FAMILIES[fam].clips_key,
                    index,
                    other,
                    clips,
                }
            })
            .collect();
        Layout { total, tracks }
    }

    /// [`Timeline::duration`] before rounding.
    fn total(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> f64 {
        let total = if let Some(main) = self.tracks.iter().find(|t| t.main) {
            let ends = track_ends(main, probe);
            ends.content.or(ends.global).unwrap_or(0.0)
        } else {
            let (mut visual, mut audio, mut global) = (None, None, None);
            for track in &self.tracks {
                let slot = match track.role {
                    Role::Visual => &mut visual,
                    Role::Audio => &mut audio,
                    Role::Other => continue,
                };
                let ends = track_ends(track, probe);
                *slot = max_opt(*slot, ends.content);
                global = max_opt(global, ends.global);
            }
            visual.or(audio).or(global).unwrap_or(0.0)
        };
        // MaxDuration 0 means "no cap", like other vendor limits where 0 is unset.
        match self.max_duration {
            Some(m) if m > 0.0 => total.min(m),
            _ => total,
        }
    }

    /// The timeline in the front-end ("WebSDK") style (timeline.md §5), as far as documented:
    /// the same schema with editor bookkeeping filled in. Only absent values are filled (a key
    /// that is missing, `null` or `""`); explicit values and unknown keys are kept verbatim.
    ///
    /// * Video, image and audio clips get `TimelineIn`/`TimelineOut` from the placement that
    ///   [`Timeline::duration`] uses (the same function, times rounded to 4 decimals); a clip
    ///   whose length is unknown gets `TimelineOut = TimelineIn`. `GlobalImage` clips (and
    ///   untimed image-track clips) span [`TimelineIn` or 0, total].
    /// * Video/audio clips with a source also get `In` = 0 and `Out` = the effective out-point
    ///   (`In + Duration`, else the known source length capped by `MaxOut`) when it is known
    ///   and after `In`.
    /// * Subtitle clips, effect items and the clips of `Type: Effect` video tracks get
    ///   `TimelineIn` = 0 and `TimelineOut` = `TimelineIn + Duration`, else the total.
    /// * Every track gets a numeric `Id`, unique within its track list (0, 1, …, skipping Ids
    ///   already given); every clip a numeric `Id` unique across the timeline and `TrackId` =
    ///   its track's `Id`. `FECanvas` defaults to 1920×1080.
    ///
    /// The empty timeline (`""` or `{}`) converts to `{}`. `source_duration` is read as for
    /// [`Timeline::duration`].
    pub fn to_frontend(&self, source_duration: impl Fn(&ClipSource) -> Option<f64>) -> Value {
        let mut root = self.value().clone();
        let Value::Object(map) = &mut root else {
            return root;
        };
        if map.is_empty() {
            return root;
        }
        let probe = known_length(&source_duration);
        let total = round4(self.total(&probe));
        let mut clip_ids = IdPool::new(
            FAMILIES
                .iter()
                .flat_map(|fam| items(map.get(fam.key)).map(move |t| (fam, t)))
                .flat_map(|(fam, track)| items(track.get(fam.clips_key)))
                .filter_map(|clip| clip.get("Id")),
        );
        for fam in &FAMILIES {
            let Some(Value::Array(tracks)) = map.get_mut(fam.key) else {
                continue;
            };
            let mut track_ids = IdPool::new(tracks.iter().filter_map(|t| t.get("Id")));
            let typed = self.tracks.iter().filter(|t| t.family == fam.family);
            for (track_value, track) in tracks.iter_mut().zip(typed) {
                let Value::Object(track_obj) = track_value else {
                    continue;
                };
                fill(track_obj, "Id", || Value::from(track_ids.take()));
                let track_id = track_obj["Id"].clone();
                let Some(Value::Array(clips)) = track_obj.get_mut(fam.clips_key) else {
                    continue;
                };
                let spans: Vec<Span> = if track.role == Role::Other {
                    track.clips.iter().map(|c| c.span_over(total)).collect()
                } else {
                    place_clips(track, &probe)
                        .map(|(clip, p)| match clip.kind {
                            ClipKind::Global => clip.span_over(total),
                            _ => p.span(clip),
                        })
                        .collect()
                };
                for ((clip_value, clip), span) in clips.iter_mut().zip(&track.clips).zip(spans) {
                    let Value::Object(obj) = clip_value else {
                        continue;
                    };
                    fill(obj, "Id", || Value::from(clip_ids.take()));
                    fill(obj, "TrackId", || track_id.clone());
                    fill(obj, "TimelineIn", || num(span.start));
                    fill(obj, "TimelineOut", || num(span.end));
                    if track.role != Role::Other
                        && clip.kind == ClipKind::Media
                        && clip.source.is_some()
                    {
                        fill(obj, "In", || num(0.0));
                        if clip.out.is_none()
                            && let Some(out) = clip.out_to_fill(&probe)
                        {
                            fill(obj, "Out", || num(out));
                        }
                    }
                }
            }
        }
        fill(
            map,
            "FECanvas",
            || serde_json::json!({"Width": 1920, "Height": 1080}),
        );
        root
    }
}

/// Rounds seconds to the documented precision of 4 decimal places.
fn round4(x: f64) -> f64 {
    // `+ 0.0` turns a -0.0 into 0.0.
    (x * 10_000.0).round() / 10_000.0 + 0.0
}

/// A time as JSON: an integer when whole (`10`, not `10.0`), else the float.
fn num(x: f64) -> Value {
    if x.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&x) {
        Value::from(x as u64)
    } else {
        Value::from(x)
    }
}

/// The caller's source lengths, with negative or non-finite answers taken as unknown.
fn known_length<F: Fn(&ClipSource) -> Option<f64>>(
    source_duration: &F,
) -> impl Fn(&Clip) -> Option<f64> + '_ {
    move |c: &Clip| {
        c.source
            .as_ref()
            .and_then(source_duration)
            .filter(|d| d.is_finite() && *d >= 0.0)
    }
}

/// The elements of a JSON array (none for anything else).
fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// Absent, as everywhere in this module: missing, `null`, or a blank string.
fn absent(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

fn fill(obj: &mut Map<String, Value>, key: &str, v: impl FnOnce() -> Value) {
    if absent(obj.get(key)) {
        obj.insert(key.to_owned(), v());
    }
}

/// Hands out the smallest non-negative integers that no explicit `Id` already holds.
struct IdPool {
    taken: HashSet<u64>,
    next: u64,
}

impl IdPool {
    fn new<'a>(explicit: impl Iterator<Item = &'a Value>) -> IdPool {
        let taken = explicit
            .filter_map(|v| match v {
                Value::Number(n) => n.as_u64().or_else(|| {
                    n.as_f64()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                        .map(|x| x as u64)
                }),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
            .collect();
        IdPool { taken, next: 0 }
    }

    fn take(&mut self) -> u64 {
        while self.taken.contains(&self.next) {
            self.next += 1;
        }
        self.next += 1;
        self.next - 1
    }
}

struct TrackEnds {
    /// Latest end of a non-global clip; `None` when the track has none.
    content: Option<f64>,
    global: Option<f64>,
}

fn track_ends(track: &Track, probe: &impl Fn(&Clip) -> Option<f64>) -> TrackEnds {
    let mut ends = TrackEnds {
        content: None,
        global: None,
    };
    for (clip, p) in place_clips(track, probe) {
        let slot = match clip.kind {
            ClipKind::Global => &mut ends.global,
            _ => &mut ends.content,
        };
        *slot = max_opt(*slot, Some(p.end));
    }
    ends
}

/// Where a clip sits on the output (seconds, unrounded), per timeline.md §2.1.
#[derive(Debug, Clone, Copy)]
struct Placement {
    start: f64,
    end: f64,
}

/// A clip's span as written out: rounded, never inverted.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: f64,
    end: f64,
}

impl Placement {
    fn span(self, clip: &Clip) -> Span {
        // Explicit times are written back as given, so compare with those: a TimelineOut before
        // the automatic start (an empty clip) pulls the start back to it, and an explicit
        // TimelineIn with more than 4 decimals never lies after the rounded end.
        let start = clip.timeline_in.unwrap_or_else(|| {
            let s = round4(self.start);
            clip.timeline_out.map_or(s, |out| s.min(out))
        });
        let end = clip
            .timeline_out
            .unwrap_or_else(|| round4(self.end).max(start));
        Span { start, end }
    }
}

/// The one placement rule for video, image and audio tracks (timeline.md §2.1): clips follow
/// one another in array order unless placed explicitly; global clips do not advance the
/// automatic placement. A clip whose length is unknown has length 0.
///
/// Transitions (decisions.md "Transitions overlap"): a `Transition` effect on a clip makes the
/// next clip of the track, when it is placed automatically, start that many seconds before the
/// clip ends, so the two overlap and the track shortens by the transition. The overlap is
/// capped by both clips' lengths. An explicitly placed next clip keeps its `TimelineIn`.
fn place_clips<'a, P: Fn(&Clip) -> Option<f64>>(
    track: &'a Track,
    probe: &'a P,
) -> impl Iterator<Item = (&'a Clip, Placement)> + 'a {
    // (end of the previous clip, its length, its transition)
    track
        .clips
        .iter()
        .scan((0.0, 0.0, None::<f64>), move |prev, clip| {
            let p = if clip.kind == ClipKind::Global {
                clip.place(clip.timeline_in.unwrap_or(0.0), probe)
            } else {
                let (prev_end, prev_len, transition) = *prev;
                let start = match (clip.timeline_in, transition) {
                    (Some(t), _) => t,
                    (None, Some(d)) => {
                        let own = clip.place(prev_end, probe);
                        prev_end - d.min(prev_len).min(own.end - own.start)
                    }
                    (None, None) => prev_end,
                };
                let p = clip.place(start, probe);
                *prev = (p.end, p.end - p.start, clip.transition);
                p
            };
            Some((clip, p))
        })
}

/// Where every video, image and audio clip sits (seconds, unrounded): the placement that
/// [`Timeline::duration`] totals, for a renderer.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The unrounded total ([`Timeline::duration`] rounds it to 4 decimals).
    pub total: f64,
    pub tracks: Vec<PlacedTrack>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedTrack {
    /// `"VideoTracks"`, `"ImageTracks"` or `"AudioTracks"`.
    pub key: &'static str,
    /// `"VideoTrackClips"`, …: where the clips sit in [`Timeline::value`].
    pub clips_key: &'static str,
    /// Position in its track list.
    pub index: usize,
    /// A `Type: Effect`/`Subtitle` video track: not placed here.
    pub other: bool,
    pub clips: Vec<PlacedClip>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacedClip {
    pub source: Option<ClipSource>,
    /// `Type: Image` (or an image-track clip), `GlobalImage`.
    pub image: bool,
    pub global: bool,
    pub start: f64,
    pub end: f64,
    /// In-point in the source (0 for images).
    pub source_in: f64,
    pub speed: f64,
    /// The `Transition` effect's duration, when the clip has one.
    pub transition: Option<f64>,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Clip {
    fn place(&self, start: f64, probe: &impl Fn(&Clip) -> Option<f64>) -> Placement {
        let end = match self.timeline_out {
            // A TimelineOut before the automatic start gives an empty clip, not a negative one.
            Some(out) => out.max(start),
            None => start + self.play_len(probe),
        };
        Placement { start, end }
    }

    /// The span of a clip that covers the output unless timed (timeline.md §2.1: subtitles,
    /// effect items, GlobalImage): from `TimelineIn` or 0 to `TimelineOut`, else
    /// `TimelineIn + Duration`, else `total`.
    fn span_over(&self, total: f64) -> Span {
        let start = self.timeline_in.unwrap_or(0.0);
        let end = self.timeline_out.unwrap_or_else(|| match self.duration {
            Some(d) if self.kind != ClipKind::Global => round4(start + d).max(start),
            _ => total.max(start),
        });
        Span { start, end }
    }

    fn play_len(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> f64 {
        let src_len = match self.kind {
            // Animated images may have a probed length; stills have none and count 0.
            ClipKind::Image | ClipKind::Global => self.duration.or_else(|| probe(self)),
            ClipKind::Media => self
                .source_out(probe)
                .map(|o| (o - self.in_.unwrap_or(0.0)).max(0.0)),
        };
        src_len.unwrap_or(0.0) / self.speed.unwrap_or(1.0)
    }

    /// The `Out` to write for a video/audio clip without one: the effective out-point, when
    /// known and after `In` (rounded to 4 decimals unless that would reach `In`).
    fn out_to_fill(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> Option<f64> {
        let in_ = self.in_.unwrap_or(0.0);
        let out = self.source_out(probe).filter(|o| *o > in_)?;
        Some(Some(round4(out)).filter(|r| *r > in_).unwrap_or(out))
    }

    /// The effective out-point of a video/audio clip in its source, when known.
    fn source_out(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> Option<f64> {
        // Duration acts as an explicit Out; MaxOut only caps the probed length, and an unknown
        // source stays unknown even with MaxOut (0 is the safe lower bound).
        let in_ = self.in_.unwrap_or(0.0);
        self.out
            .or(self.duration.map(|d| in_ + d))
            .or_else(|| probe(self).map(|src| self.max_out.map_or(src, |m| src.min(m))))
    }
}

// ---- streaming parser ----
//
// Each visitor knows its path, so a problem is reported as a `TimelineError` naming it. serde
// errors can only carry text (and serde_json appends a position), so the error travels in `Ctx`.

#[derive(Default)]
struct Ctx {
    err: Cell<Option<TimelineError>>,
}

impl Ctx {
    fn fail<E: de::Error>(&self, e: TimelineError) -> E {
        self.err.set(Some(e));
        E::custom("invalid timeline")
    }
}

/// A value the server reads, kept in its JSON shape so that its conversion can name the path.
enum Scalar<'de> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'de, str>),
    /// An array or object.
    Other,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Num(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SkipVisitor.visit_map(map).map(|_| Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

/// Discards a value. Unlike `IgnoredAny` it goes through `deserialize_any`, so serde_json
/// still enforces its nesting limit and number range: the stored text always parses as a Value.
struct Skip;

struct SkipVisitor;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// Reads an object key through a matcher (`None` for a key the server does not read).
struct KeySeed<F>(F);

impl<'de, F: FnOnce(&str) -> Option<usize>> DeserializeSeed<'de> for KeySeed<F> {
    type Value = Option<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, F: FnOnce(&str) -> Option<usize>> Visitor<'de> for KeySeed<F> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok((self.0)(v))
    }
}

/// Visitor methods for every JSON scalar, all answering "wrong type" via `self.wrong()`.
macro_rules! reject_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(self.wrong())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(self.wrong())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(self.wrong())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(self.wrong())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Err(self.wrong())
        }
    };
}

struct RootSeed<'c> {
    ctx: &'c Ctx,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_> {
    type Value = (Vec<Track>, Option<f64>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_> {
    type Value = (Vec<Track>, Option<f64>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut families: [Vec<Track>; 5] = Default::default();
        let mut max_duration = None;
        while let Some(key) = map.next_key_seed(KeySeed(root_key))? {
            match key {
                Some(i) if i < FAMILIES.len() => {
                    let seed = TracksSeed {
                        ctx: self.ctx,
                        fam: &FAMILIES[i],
                    };
                    families[i] = map.next_value_seed(seed)?;
                }
                Some(_) => max_duration = Some(map.next_value::<Scalar>()?),
                None => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let max_duration =
            time(max_duration, "MaxDuration", Loc::Root).map_err(|e| self.ctx.fail(e))?;
        Ok((families.into_iter().flatten().collect(), max_duration))
    }
}

/// A list of tracks of one family (`null` = none).
struct TracksSeed<'c> {
    ctx: &'c Ctx,
    fam: &'static Family,
}

impl TracksSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx
            .fail(Loc::Root.err(self.fam.key, "must be an array"))
    }
}

impl<'de> DeserializeSeed<'de> for TracksSeed<'_> {
    type Value = Vec<Track>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TracksSeed<'_> {
    type Value = Vec<Track>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of tracks")
    }
    reject_scalars!();
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tracks = Vec::new();
        loop {
            let seed = TrackSeed {
                ctx: self.ctx,
                fam: self.fam,
                track: tracks.len(),
            };
            match seq.next_element_seed(seed)? {
                Some(track) => tracks.push(track),
                None => return Ok(tracks),
            }
        }
    }
}

struct TrackSeed<'c> {
    ctx: &'c Ctx,
    fam: &'static Family,
    track: usize,
}

impl TrackSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx
            .fail(Loc::Track(self.fam, self.track).err("", "must be an object"))
    }
}

impl<'de> DeserializeSeed<'de> for TrackSeed<'_> {
    type Value = Track;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TrackSeed<'_> {
    type Value = Track;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a track object")
    }
    reject_scalars!();
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (video, may_be_main) = match self.fam.family {
            TrackFamily::Video => (true, true),
            TrackFamily::Audio => (false, true),
            _ => (false, false),
        };
        let clips_key = self.fam.clips_key;
        let track_key = |k: &str| match k {
            "Type" => Some(0),
            "MainTrack" => Some(1),
            k if k == clips_key => Some(2),
            _ => None,
        };
        let (mut ty, mut main, mut clips) = (None, None, Vec::new());
        while let Some(key) = map.next_key_seed(KeySeed(track_key))? {
            match key {
                Some(0) if video => ty = Some(map.next_value::<Scalar>()?),
                Some(1) if may_be_main => main = Some(map.next_value::<Scalar>()?),
                Some(2) => {
                    let seed = ClipsSeed {
                        ctx: self.ctx,
                        fam: self.fam,
                        track: self.track,
                    };
                    clips = map.next_value_seed(seed)?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        let loc = Loc::Track(self.fam, self.track);
        let fail = |e| self.ctx.fail(e);
        let role = match self.fam.family {
            TrackFamily::Video => match string(ty, "Type", loc).map_err(fail)?.as_deref() {
                Some(t)
                    if t.eq_ignore_ascii_case("Effect") || t.eq_ignore_ascii_case("Subtitle") =>
                {
                    Role::Other
                }
                _ => Role::Visual,
            },
            TrackFamily::Image => Role::Visual,
            TrackFamily::Audio => Role::Audio,
            TrackFamily::Subtitle | TrackFamily::Effect => Role::Other,
        };
        let main = boolean(main, "MainTrack", loc).map_err(fail)? == Some(true);
        Ok(Track {
            family: self.fam.family,
            role,
            main: main && role != Role::Other,
            clips,
        })
    }
}

/// The clip list of one track (`null` = none).
struct ClipsSeed<'c> {
    ctx: &'c Ctx,
    fam: &'static Family,
    track: usize,
}

impl ClipsSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        let loc = Loc::Track(self.fam, self.track);
        self.ctx
            .fail(loc.err(self.fam.clips_key, "must be an array"))
    }
}

impl<'de> DeserializeSeed<'de> for ClipsSeed<'_> {
    type Value = Vec<Clip>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ClipsSeed<'_> {
    type Value = Vec<Clip>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of clips")
    }
    reject_scalars!();
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (fam, t) = (self.fam, self.track);
        let mut clips = Vec::new();
        loop {
            let seed = ClipSeed {
                ctx: self.ctx,
                loc: Loc::Clip(fam, t, clips.len()),
                fam,
            };
            match seq.next_element_seed(seed)? {
                Some(clip) => clips.push(clip),
                None => return Ok(clips),
            }
        }
    }
}

struct ClipSeed<'c> {
    ctx: &'c Ctx,
    loc: Loc,
    fam: &'static Family,
}

impl ClipSeed<'_> {
    fn wrong<E: de::Error>(&self) -> E {
        self.ctx.fail(self.loc.err("", "must be an object"))
    }
}

impl<'de> DeserializeSeed<'de> for ClipSeed<'_> {
    type Value = Clip;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ClipSeed<'_> {
    type Value = Clip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a clip object")
    }
    reject_scalars!();
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Err(self.wrong())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(self.wrong())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Fields::default();
        while let Some(key) = map.next_key_seed(KeySeed(clip_key))? {
            match key {
                Some(K_EFFECTS) if self.fam.reads & (1 << K_EFFECTS) != 0 => {
                    let seed = EffectsSeed {
                        ctx: self.ctx,
                        loc: self.loc,
                    };
                    fields.transition = map.next_value_seed(seed)?;
                }
                // Later duplicates win, as in a parsed JSON object.
                Some(k) if self.fam.reads & (1 << k) != 0 => {
                    let v = map.next_value()?;
                    fields
                        .set(k, v, self.fam.family, self.loc)
                        .map_err(|e| self.ctx.fail(e))?;
                }
                _ => {
                    map.next_value::<Skip>()?;
                }
            }
        }
        fields
            .finish(self.fam.family, self.loc)
            .map_err(|e| self.ctx.fail(e))
    }
}

/// A video clip's `Effects`: the `Duration` of its first `Transition` effect (1 s when absent).
/// Anything else in the list, and a list that is not an array, is kept verbatim unread (the
/// renderer judges effects); only a Transition's Duration is checked like any time.
struct EffectsSeed<'c> {
    ctx: &'c Ctx,
    loc: Loc,
}

impl<'de> DeserializeSeed<'de> for EffectsSeed<'_> {
    type Value = Option<f64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EffectsSeed<'_> {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of effects")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        SkipVisitor.visit_map(map).map(|_| None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        let mut i = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            if found.is_none()
                && let Value::Object(effect) = &v
                && effect
                    .get("Type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("Transition"))
            {
                let d = effect.get("Duration").map(json_scalar);
                let field = format!("Effects[{i}].Duration");
                found = Some(
                    time(d, &field, self.loc)
                        .map_err(|e| self.ctx.fail(e))?
                        .unwrap_or(DEFAULT_TRANSITION),
                );
            }
            i += 1;
        }
        Ok(found)
    }
}

/// A parsed JSON value as a [`Scalar`], for the few fields read from a small nested object.
fn json_scalar(v: &Value) -> Scalar<'_> {
    match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Num(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
        _ => Scalar::Other,
    }
}

/// A clip's fields as read so far; strings stay borrowed from the input where possible.
#[derive(Default)]
struct Fields<'de> {
    timeline_in: Option<f64>,
    timeline_out: Option<f64>,
    in_: Option<f64>,
    out: Option<f64>,
    max_out: Option<f64>,
    duration: Option<f64>,
    speed: Option<f64>,
    media_id: Option<Cow<'de, str>>,
    image_id: Option<Cow<'de, str>>,
    media_url: Option<Cow<'de, str>>,
    media_url_alt: Option<Cow<'de, str>>,
    ty: Option<Cow<'de, str>>,
    transition: Option<f64>,
}

impl<'de> Fields<'de> {
    fn set(&mut self, key: usize, v: Scalar<'de>, family: TrackFamily, loc: Loc) -> Res<()> {
        let v = Some(v);
        match key {
            K_TIMELINE_IN => self.timeline_in = time(v, "TimelineIn", loc)?,
            K_TIMELINE_OUT => self.timeline_out = time(v, "TimelineOut", loc)?,
            K_IN => self.in_ = time(v, "In", loc)?,
            K_OUT => self.out = time(v, "Out", loc)?,
            K_MAX_OUT => self.max_out = time(v, "MaxOut", loc)?,
            K_DURATION => self.duration = time(v, "Duration", loc)?,
            K_SPEED => self.speed = speed(v, loc)?,
            // MediaId is not a documented subtitle/effect field: take a string, never reject.
            K_MEDIA_ID if matches!(family, TrackFamily::Subtitle | TrackFamily::Effect) => {
                self.media_id = match v {
                    Some(Scalar::Str(s)) if !s.is_empty() => Some(s),
                    _ => None,
                }
            }
            K_MEDIA_ID => self.media_id = string(v, "MediaId", loc)?,
            K_IMAGE_ID => self.image_id = string(v, "ImageId", loc)?,
            K_MEDIA_URL => self.media_url = string(v, "MediaURL", loc)?,
            K_MEDIA_URL_ALT => self.media_url_alt = string(v, "MediaUrl", loc)?,
            _ => self.ty = string(v, "Type", loc)?,
        }
        Ok(())
    }

    fn finish(self, family: TrackFamily, loc: Loc) -> Res<Clip> {
        // A zero-length clip (TimelineOut == TimelineIn) is allowed: the WebSDK form of a clip
        // whose length is still unknown has one, and must parse back.
        if let (Some(a), Some(b)) = (self.timeline_in, self.timeline_out)
            && b < a
        {
            return Err(loc.err("TimelineOut", "must not be before TimelineIn"));
        }
        if let Some(out) = self.out
            && out <= self.in_.unwrap_or(0.0)
        {
            return Err(loc.err("Out", "must be greater than In"));
        }
        let kind = match family {
            TrackFamily::Video => match self.ty.as_deref() {
                Some(t) if t.eq_ignore_ascii_case("Image") => ClipKind::Image,
                Some(t) if t.eq_ignore_ascii_case("GlobalImage") => ClipKind::Global,
                _ => ClipKind::Media,
            },
            // Old watermark templates give no timing at all: such a clip spans the output.
            TrackFamily::Image
                if self.timeline_in.is_none()
                    && self.timeline_out.is_none()
                    && self.duration.is_none() =>
            {
                ClipKind::Global
            }
            TrackFamily::Image => ClipKind::Image,
            _ => ClipKind::Media,
        };
        // MediaId beats ImageId beats MediaURL beats MediaUrl; empty strings are absent.
        let source = match (
            self.media_id.or(self.image_id),
            self.media_url.or(self.media_url_alt),
        ) {
            (Some(id), _) => Some(ClipSource::MediaId(id.into_owned())),
            (None, Some(url)) => Some(ClipSource::MediaUrl(url.into_owned())),
            (None, None) => None,
        };
        Ok(Clip {
            kind,
            source,
            in_: self.in_,
            out: self.out,
            max_out: self.max_out,
            duration: self.duration,
            timeline_in: self.timeline_in,
            timeline_out: self.timeline_out,
            speed: self.speed,
            transition: self.transition,
        })
    }
}

fn string<'de>(v: Option<Scalar<'de>>, key: &str, loc: Loc) -> Res<Option<Cow<'de, str>>> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) if s.is_empty() => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(_) => Err(loc.err(key, "must be a string")),
    }
}

fn boolean(v: Option<Scalar>, key: &str, loc: Loc) -> Res<Option<bool>> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Bool(b)) => Ok(Some(b)),
        Some(Scalar::Str(s)) => match s.trim() {
            "" => Ok(None),
            t if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
            t if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
            _ => Err(loc.err(key, "must be a boolean")),
        },
        Some(_) => Err(loc.err(key, "must be a boolean")),
    }
}

/// A finite number, or a string holding one (templates write `"5"`).
fn number(v: Option<Scalar>, key: &str, loc: Loc) -> Res<Option<f64>> {
    let parsed = match v {
        None | Some(Scalar::Null) => return Ok(None),
        Some(Scalar::Num(x)) => Some(x),
        Some(Scalar::Str(s)) => match s.trim() {
            "" => return Ok(None),
            t => t.parse::<f64>().ok(),
        },
        Some(_) => None,
    };
    match parsed {
        // `+ 0.0` turns a -0.0 into 0.0.
        Some(x) if x.is_finite() => Ok(Some(x + 0.0)),
        _ => Err(loc.err(key, "must be a number")),
    }
}

/// A time in seconds: a number in [0, MAX_SECONDS].
fn time(v: Option<Scalar>, key: &str, loc: Loc) -> Res<Option<f64>> {
    let t = number(v, key, loc)?;
    match t {
        Some(x) if x < 0.0 => Err(loc.err(key, "must not be negative")),
        Some(x) if x > MAX_SECONDS => Err(loc.err(key, "must not exceed 1000000000 seconds")),
        _ => Ok(t),
    }
}

fn speed(v: Option<Scalar>, loc: Loc) -> Res<Option<f64>> {
    let s = number(v, "Speed", loc)?;
    match s {
        Some(x) if !(MIN_SPEED..=MAX_SPEED).contains(&x) => {
            Err(loc.err("Speed", "must be between 0.1 and 100"))
        }
        _ => Ok(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

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

    // ---- worked examples E1–E8 (timeline.md §2.4) ----

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

    // ---- WebSDK conversion (timeline.md §5) ----

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

    // ---- properties ----

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
}
