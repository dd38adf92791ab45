//! The front-end ("WebSDK") form of a timeline (timeline.md §5).

use serde_json::{Map, Value};

use super::placement::{Span, known_length, place_clips, round4};
use super::*;

impl Timeline {
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

/// A time as JSON: an integer when whole (`10`, not `10.0`), else the float.
fn num(x: f64) -> Value {
    if x.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&x) {
        Value::from(x as u64)
    } else {
        Value::from(x)
    }
}

/// The elements of a JSON array (none for anything else).
pub(super) fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(Value::as_array).into_iter().flatten()
}

/// Absent, as everywhere in this module: missing, `null`, or a blank string.
pub(super) fn absent(v: Option<&Value>) -> bool {
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

impl Clip {
    /// The `Out` to write for a video/audio clip without one: the effective out-point, when
    /// known and after `In` (rounded to 4 decimals unless that would reach `In`).
    fn out_to_fill(&self, probe: &impl Fn(&Clip) -> Option<f64>) -> Option<f64> {
        let in_ = self.in_.unwrap_or(0.0);
        let out = self.source_out(probe).filter(|o| *o > in_)?;
        Some(Some(round4(out)).filter(|r| *r > in_).unwrap_or(out))
    }
}
