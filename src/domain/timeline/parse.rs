//! The streaming parser behind [`Timeline::parse`].
//!
//! Each visitor knows its path, so a problem is reported as a `TimelineError` naming it. serde
//! errors can only carry text (and serde_json appends a position), so the error travels in `Ctx`.

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::fields::{Fields, Scalar, boolean, json_scalar, string, time};
use super::*;

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
}

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

/// Discards a value. Unlike `IgnoredAny` it goes through `deserialize_any`, so serde_json
/// still enforces its nesting limit and number range: the stored text always parses as a Value.
pub(super) struct Skip;

pub(super) struct SkipVisitor;

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
