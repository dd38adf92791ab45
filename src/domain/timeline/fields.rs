//! The fields the server reads, converted and checked one by one (the rules of the module
//! documentation: absent values, numeric strings, ranges).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::parse::SkipVisitor;
use super::*;

/// Largest accepted time value in seconds (≈ 31.7 years); only guards against absurd input.
const MAX_SECONDS: f64 = 1e9;
const MIN_SPEED: f64 = 0.1;
const MAX_SPEED: f64 = 100.0;

/// A value the server reads, kept in its JSON shape so that its conversion can name the path.
pub(super) enum Scalar<'de> {
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

/// A parsed JSON value as a [`Scalar`], for the few fields read from a small nested object.
pub(super) fn json_scalar(v: &Value) -> Scalar<'_> {
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
pub(super) struct Fields<'de> {
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
    pub(super) transition: Option<f64>,
}

impl<'de> Fields<'de> {
    pub(super) fn set(
        &mut self,
        key: usize,
        v: Scalar<'de>,
        family: TrackFamily,
        loc: Loc,
    ) -> Res<()> {
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

    pub(super) fn finish(self, family: TrackFamily, loc: Loc) -> Res<Clip> {
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

pub(super) fn string<'de>(
    v: Option<Scalar<'de>>,
    key: &str,
    loc: Loc,
) -> Res<Option<Cow<'de, str>>> {
    match v {
        None | Some(Scalar::Null) => Ok(None),
        Some(Scalar::Str(s)) if s.is_empty() => Ok(None),
        Some(Scalar::Str(s)) => Ok(Some(s)),
        Some(_) => Err(loc.err(key, "must be a string")),
    }
}

pub(super) fn boolean(v: Option<Scalar>, key: &str, loc: Loc) -> Res<Option<bool>> {
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
pub(super) fn time(v: Option<Scalar>, key: &str, loc: Loc) -> Res<Option<f64>> {
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
