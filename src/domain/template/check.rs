//! Checking a Config and listing its parameters.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::*;

/// The clip list an object sits in (by the key of the array holding it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Video,
    Image,
    Audio,
    Subtitle,
}

fn list_kind(key: &str) -> Option<ListKind> {
    match key {
        "VideoTrackClips" => Some(ListKind::Video),
        "ImageTrackClips" => Some(ListKind::Image),
        "AudioTrackClips" => Some(ListKind::Audio),
        "SubtitleTrackClips" => Some(ListKind::Subtitle),
        _ => None,
    }
}

/// Kind of the material of a clip object in a clip list.
fn clip_media_kind(list: ListKind, fields: &Object) -> ParamKind {
    match list {
        ListKind::Video => match fields.get("Type") {
            Some(Value::String(t)) if !t.is_empty() && !t.starts_with('$') => {
                if t.eq_ignore_ascii_case("Video") {
                    ParamKind::Video
                } else if t.eq_ignore_ascii_case("Image") || t.eq_ignore_ascii_case("GlobalImage") {
                    ParamKind::Image
                } else {
                    ParamKind::Value
                }
            }
            _ => ParamKind::Video,
        },
        ListKind::Image => ParamKind::Image,
        ListKind::Audio => ParamKind::Audio,
        ListKind::Subtitle => ParamKind::Value,
    }
}

fn field_kind(key: &str, media: Option<ParamKind>) -> ParamKind {
    if MEDIA_KEYS.contains(&key) {
        media.unwrap_or(ParamKind::Value)
    } else if TEXT_KEYS.contains(&key) {
        ParamKind::Text
    } else {
        ParamKind::Value
    }
}

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn path_text(path: &[Seg<'_>]) -> String {
    if path.is_empty() {
        return "the top level".to_owned();
    }
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

struct Collector<'a> {
    params: Vec<TemplateParam>,
    index: HashMap<&'a str, usize>,
    path: Vec<Seg<'a>>,
}

pub(super) fn collect(root: &Value) -> Result<Vec<TemplateParam>, TemplateError> {
    let mut c = Collector {
        params: Vec::new(),
        index: HashMap::new(),
        path: Vec::new(),
    };
    c.walk(root, None, ParamKind::Value, false)?;
    Ok(c.params)
}

impl<'a> Collector<'a> {
    fn err(&self, what: impl fmt::Display) -> TemplateError {
        TemplateError::new(format!("Config: {what} at {}", path_text(&self.path)))
    }

    /// `clip`: the list an object here belongs to; `here`: the kind of a placeholder here;
    /// `in_template`: inside a `Sys_Template` (placeholders are per-item, not listed).
    fn walk(
        &mut self,
        node: &'a Value,
        clip: Option<ListKind>,
        here: ParamKind,
        in_template: bool,
    ) -> Result<(), TemplateError> {
        match node {
            Value::String(s) => {
                if let Some((name, default)) = placeholder(s) {
                    if name.is_empty() {
                        return Err(self.err(format_args!("empty placeholder name in {s:?}")));
                    }
                    if !in_template {
                        self.record(name, here, default)?;
                    }
                }
                Ok(())
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.path.push(Seg::Index(i));
                    self.walk(item, clip, here, in_template)?;
                    self.path.pop();
                }
                Ok(())
            }
            Value::Object(fields) if is_generator(fields) => {
                self.walk_generator(fields, clip, here, in_template)
            }
            Value::Object(fields) => {
                if fields.get(SYS_ARRAY_OBJECT).is_some() || fields.get(SYS_TEMPLATE).is_some() {
                    return Err(self.err(format_args!(
                        "{SYS_ARRAY_OBJECT}/{SYS_TEMPLATE} without {SYS_TYPE}"
                    )));
                }
                let media = clip.map(|list| clip_media_kind(list, fields));
                for (k, v) in fields {
                    self.path.push(Seg::Key(k));
                    self.walk(v, list_kind(k), field_kind(k, media), in_template)?;
                    self.path.pop();
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }

    fn walk_generator(
        &mut self,
        fields: &'a Object,
        clip: Option<ListKind>,
        here: ParamKind,
        in_template: bool,
    ) -> Result<(), TemplateError> {
        match fields.get(SYS_TYPE) {
            Some(Value::String(t)) if t == "ArrayItems" || t == "Array" => {}
            _ => {
                return Err(self.err(format_args!(
                    "{SYS_TYPE} must be \"ArrayItems\" or \"Array\""
                )));
            }
        }
        let (name, default) = match fields.get(SYS_ARRAY_OBJECT) {
            Some(Value::String(s)) => match placeholder(s) {
                Some((name, default)) if !name.is_empty() => (name, default),
                _ => {
                    return Err(self.err(format_args!(
                        "{SYS_ARRAY_OBJECT} must be a \"$Name\" placeholder"
                    )));
                }
            },
            _ => {
                return Err(self.err(format_args!(
                    "{SYS_ARRAY_OBJECT} must be a \"$Name\" placeholder"
                )));
            }
        };
        if !matches!(default, None | Some("NULL" | "" | "[]")) {
            return Err(self.err(format_args!(
                "the default of array placeholder \"{name}\" must be NULL or []"
            )));
        }
        match fields.get(SYS_TEMPLATE) {
            Some(template @ Value::Object(t)) if !is_generator(t) => {
                if !in_template {
                    self.record(name, ParamKind::Array, default)?;
                }
                self.path.push(Seg::Key(SYS_TEMPLATE));
                self.walk(template, clip, here, true)?;
                self.path.pop();
                Ok(())
            }
            _ => Err(self.err(format_args!(
                "{SYS_TEMPLATE} must be a JSON object (not a generator)"
            ))),
        }
    }

    fn record(
        &mut self,
        name: &'a str,
        kind: ParamKind,
        default: Option<&str>,
    ) -> Result<(), TemplateError> {
        let Some(&i) = self.index.get(name) else {
            self.index.insert(name, self.params.len());
            self.params.push(TemplateParam {
                key: name.to_owned(),
                kind,
                default: default.map(str::to_owned),
            });
            return Ok(());
        };
        let p = &mut self.params[i];
        if (p.kind == ParamKind::Array) != (kind == ParamKind::Array) {
            return Err(self.err(format_args!(
                "placeholder \"{name}\" is used both as an array ({SYS_ARRAY_OBJECT}) and as a single value"
            )));
        }
        if p.kind == ParamKind::Value {
            p.kind = kind;
        }
        if p.default.is_none() {
            p.default = default.map(str::to_owned);
        }
        Ok(())
    }
}
