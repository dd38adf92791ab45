//! Regular (`Timeline`-type) templates: a Timeline JSON `Config` with `$Name` placeholders,
//! filled from a `ClipsParam` JSON object (reference: timeline.md §4, api-templates-jobs.md §1).
//!
//! Pure: no I/O. [`parse_config`] checks a Config and lists its parameters (GetTemplateParams),
//! [`fill`] merges a ClipsParam into a Config, [`clips_param_skeleton`] builds the ClipsParam
//! GetTemplate returns.
//!
//! Syntax:
//! * a string value starting with `$` is a placeholder: `"$Name"` or `"$Name:default"` (the
//!   default is the text after the first `:`); the default `NULL` removes the field (or the
//!   array element) when ClipsParam has no value;
//! * `{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray","Sys_Template":{…}}` inside an
//!   array is replaced in place by one instantiated `Sys_Template` per element of
//!   `ClipsParam.VideoArray`; `"Sys_Type":"Array"` used as a field value becomes the whole array.
//!
//! Choices where the reference is silent (to be mirrored in docs/decisions.md):
//! * Key order of the Config is kept in the filled Timeline (serde_json's `preserve_order`
//!   feature). Duplicate keys: the last value wins, at the first key's position.
//!   Numbers are re-serialized: without serde_json's `float_roundtrip` feature a float with
//!   more than ~15 significant digits may change in its last bit (times are 4-decimal values).
//! * A ClipsParam value is inserted as given (any JSON type, `null` included) and is never
//!   searched for placeholders itself. A string value or default under a numeric field (see
//!   [`NUMERIC_KEYS`]) that parses as a finite number becomes that number; under a boolean
//!   field ([`BOOLEAN_KEYS`]) `"true"`/`"false"` (any case) become booleans.
//! * `NULL` is matched exactly (upper case), only as a default; a ClipsParam value `"NULL"` is
//!   the string "NULL".
//! * Inside `Sys_Template`, a placeholder resolves from the array element, then from the
//!   elements of enclosing generators (innermost first), then from the top-level ClipsParam,
//!   then from its default. An element that is a string binds `MediaId` (decisions.md) and
//!   also the placeholder that fills the template's own media field (`MediaId`, `MediaURL`,
//!   `MediaUrl` or `ImageId` at the root of `Sys_Template`, first found), so
//!   `{"MediaId":"$Video"}` works with `["id1","id2"]` too. Other element types are errors.
//! * Either `Sys_Type` in an array splices its items; either `Sys_Type` as a field value becomes
//!   an array. Other `Sys_Type` values, objects with `Sys_ArrayObject`/`Sys_Template` but no
//!   `Sys_Type`, a `Sys_Template` that is not a plain object, and a generator as the whole
//!   Config are rejected. Extra keys of a generator object are dropped.
//! * An array placeholder may have the default `NULL` (no items; the field is removed when the
//!   generator is a field value) or `[]` / empty (no items); other defaults are rejected.
//! * [`parse_config`] lists each top-level parameter once, in document order; placeholders
//!   inside `Sys_Template` are per-item fields and are not listed (they are still checked).
//!   The same name used as an array and as a single value is rejected.
//! * Work is bounded: at most [`MAX_GENERATED_ITEMS`] generated items per fill and at most
//!   [`MAX_OUTPUT_WEIGHT`] weight units (16 per JSON value visited or produced, removed ones
//!   included, plus string and key bytes; roughly the size of the JSON text), so a fill costs at
//!   most about 2 million node visits (≈ 0.2 s); nesting is bounded by serde_json's limit of 128.
//! * Error reasons start with `Config` or `ClipsParam`, naming the parameter at fault, so the
//!   caller can answer `InvalidParameter` for the right one.

use std::collections::HashMap;
use std::fmt;

use serde_json::{Map, Number, Value};

/// Most array items one [`fill`] may generate (all generators together).
pub const MAX_GENERATED_ITEMS: usize = 10_000;
/// Largest filled Timeline, in weight units (≈ bytes of JSON text).
pub const MAX_OUTPUT_WEIGHT: usize = 32 << 20;
/// Weight of one JSON value visited or produced, on top of its string bytes.
const NODE_WEIGHT: usize = 16;

#[derive(Debug, Clone, Copy)]
struct Limits {
    items: usize,
    weight: usize,
}

const LIMITS: Limits = Limits {
    items: MAX_GENERATED_ITEMS,
    weight: MAX_OUTPUT_WEIGHT,
};

/// Fields whose placeholder values are coerced to numbers when given as numeric strings.
pub const NUMERIC_KEYS: &[&str] = &[
    "In",
    "Out",
    "TimelineIn",
    "TimelineOut",
    "Duration",
    "MaxOut",
    "MaxDuration",
    "Speed",
    "X",
    "Y",
    "Width",
    "Height",
    "OutputWidth",
    "OutputHeight",
    "Opacity",
    "FontSize",
    "FontColorOpacity",
    "Gain",
    "DyncFrames",
    "Angle",
    "Spacing",
    "LineSpacing",
    "TextWidth",
    "Radius",
    "Outline",
    "Shadow",
    "BorderStyle",
    "AaiMotionIn",
    "AaiMotionOut",
    "SpeechRate",
    "PitchRate",
    "Ratio",
];

/// Fields whose placeholder values are coerced to booleans when given as `"true"`/`"false"`.
pub const BOOLEAN_KEYS: &[&str] = &[
    "MainTrack",
    "LoopMode",
    "Bold",
    "Italic",
    "Underline",
    "Disabled",
];

/// Clip fields naming the material; their placeholders take the clip's kind.
const MEDIA_KEYS: &[&str] = &["MediaId", "MediaURL", "MediaUrl", "ImageId"];
const TEXT_KEYS: &[&str] = &["Content", "Text"];

const SYS_TYPE: &str = "Sys_Type";
const SYS_ARRAY_OBJECT: &str = "Sys_ArrayObject";
const SYS_TEMPLATE: &str = "Sys_Template";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct TemplateError {
    pub reason: String,
}

impl TemplateError {
    fn new(reason: impl Into<String>) -> Self {
        TemplateError {
            reason: reason.into(),
        }
    }
}

/// What a parameter stands for, inferred from where its placeholder sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ParamKind {
    Video,
    Image,
    Text,
    Audio,
    Array,
    Value,
}

impl ParamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ParamKind::Video => "Video",
            ParamKind::Image => "Image",
            ParamKind::Text => "Text",
            ParamKind::Audio => "Audio",
            ParamKind::Array => "Array",
            ParamKind::Value => "Value",
        }
    }
}

impl fmt::Display for ParamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parameter of a template. Serializes as `{"Key","Type","Default"?}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TemplateParam {
    /// Name without `$`: the ClipsParam key.
    pub key: String,
    #[serde(rename = "Type")]
    pub kind: ParamKind,
    /// Text after the first `:` of the placeholder (`"NULL"` kept as is).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// Splits a placeholder string `$Name[:default]` into name and default; `None` if `s` is not a
/// placeholder (does not start with `$`). The name may be empty (an invalid placeholder).
pub fn placeholder(s: &str) -> Option<(&str, Option<&str>)> {
    let rest = s.strip_prefix('$')?;
    Some(match rest.split_once(':') {
        Some((name, default)) => (name, Some(default)),
        None => (rest, None),
    })
}

/// Checks a Timeline-type template Config: a JSON object (a Timeline) whose string values
/// starting with `$` are placeholders; generator objects must be well-formed (Sys_ArrayObject
/// a `$Name` placeholder, Sys_Template an object). Returns the list of parameters.
pub fn parse_config(config: &str) -> Result<Vec<TemplateParam>, TemplateError> {
    let root = parse_root(config)?;
    collect(&root)
}

/// Fills a Config with ClipsParam (a JSON object) → the resulting Timeline JSON text.
pub fn fill(config: &str, clips_param: &str) -> Result<String, TemplateError> {
    fill_limited(config, clips_param, LIMITS)
}

fn fill_limited(config: &str, clips_param: &str, limits: Limits) -> Result<String, TemplateError> {
    let root = parse_root(config)?;
    collect(&root)?;
    let clips: Value = serde_json::from_str(clips_param)
        .map_err(|e| TemplateError::new(format!("ClipsParam is not valid JSON: {e}")))?;
    let Value::Object(fields) = &clips else {
        return Err(TemplateError::new("ClipsParam must be a JSON object"));
    };
    let mut filler = Filler {
        top: fields.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        scopes: Vec::new(),
        items: 0,
        weight: 0,
        limits,
    };
    let out = match filler.fill_node(&root, None)? {
        Filled::Value(node) => node,
        // `collect` has checked the top level is a plain object.
        Filled::Remove | Filled::Items(_) => {
            return Err(TemplateError::new(
                "Config must be a JSON object (a Timeline)",
            ));
        }
    };
    serde_json::to_string(&out).map_err(|e| TemplateError::new(format!("Config: {e}")))
}

/// A ClipsParam skeleton for GetTemplate: `{"<key>": "<default or empty>"}` for every
/// non-array param (a `NULL` default gives `""`), and `[]` for arrays. Returns JSON text.
pub fn clips_param_skeleton(params: &[TemplateParam]) -> String {
    let mut fields = Object::with_capacity(params.len());
    for p in params {
        if fields.contains_key(&p.key) {
            continue;
        }
        let value = match (p.kind, p.default.as_deref()) {
            (ParamKind::Array, _) => Value::Array(Vec::new()),
            (_, None | Some("NULL")) => Value::String(String::new()),
            (_, Some(d)) => Value::String(d.to_owned()),
        };
        fields.insert(p.key.clone(), value);
    }
    serde_json::to_string(&fields).unwrap_or_else(|_| "{}".to_owned())
}

/// A JSON object: with serde_json's `preserve_order` feature its keys keep the document's order.
type Object = Map<String, Value>;

fn is_generator(fields: &Object) -> bool {
    fields.contains_key(SYS_TYPE)
}

fn parse_root(config: &str) -> Result<Value, TemplateError> {
    let root: Value = serde_json::from_str(config)
        .map_err(|e| TemplateError::new(format!("Config is not valid JSON: {e}")))?;
    match &root {
        Value::Object(fields) if !is_generator(fields) => Ok(root),
        _ => Err(TemplateError::new(
            "Config must be a JSON object (a Timeline)",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Checking a Config and listing its parameters.

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

fn collect(root: &Value) -> Result<Vec<TemplateParam>, TemplateError> {
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

// ---------------------------------------------------------------------------------------------
// Filling.

/// The values of one array element, while its `Sys_Template` is instantiated.
struct Scope<'a> {
    vars: HashMap<&'a str, &'a Value>,
    array: &'a str,
    item: usize,
}

struct Filler<'a> {
    top: HashMap<&'a str, &'a Value>,
    /// Innermost last.
    scopes: Vec<Scope<'a>>,
    items: usize,
    weight: usize,
    limits: Limits,
}

enum Filled {
    Value(Value),
    /// A placeholder defaulting to `NULL`, or an array generator defaulting to `NULL`.
    Remove,
    /// A generator's items.
    Items(Vec<Value>),
}

/// Turns a placeholder's string value into the field's type when the field is numeric/boolean.
fn coerce(key: Option<&str>, s: &str) -> Value {
    if let Some(key) = key {
        if NUMERIC_KEYS.contains(&key) {
            if let Some(n) = numeric(s) {
                return Value::Number(n);
            }
        } else if BOOLEAN_KEYS.contains(&key) {
            let t = s.trim();
            if t.eq_ignore_ascii_case("true") {
                return Value::Bool(true);
            }
            if t.eq_ignore_ascii_case("false") {
                return Value::Bool(false);
            }
        }
    }
    Value::String(s.to_owned())
}

fn numeric(s: &str) -> Option<Number> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    // Integers stay integers; other numbers go through the correctly rounded std parser.
    if let Ok(n) = t.parse::<u64>() {
        return Some(n.into());
    }
    if let Ok(n) = t.parse::<i64>() {
        return Some(n.into());
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
}

/// The placeholder name filled by a plain-string array element besides `MediaId`: the one in
/// the template's own media field.
fn media_placeholder(template: &Object) -> Option<&str> {
    MEDIA_KEYS.iter().find_map(|k| match template.get(*k) {
        Some(Value::String(s)) => placeholder(s).map(|(name, _)| name),
        _ => None,
    })
}

impl<'a> Filler<'a> {
    fn charge(&mut self, units: usize) -> Result<(), TemplateError> {
        self.weight = self.weight.saturating_add(units);
        if self.weight > self.limits.weight {
            return Err(TemplateError::new(
                "ClipsParam: the filled Timeline would be too large",
            ));
        }
        Ok(())
    }

    /// Charges for a copy of `node` (stops early once over the limit).
    fn charge_node(&mut self, node: &Value) -> Result<(), TemplateError> {
        match node {
            Value::String(s) => self.charge(NODE_WEIGHT + s.len()),
            Value::Array(items) => {
                self.charge(NODE_WEIGHT)?;
                items.iter().try_for_each(|item| self.charge_node(item))
            }
            Value::Object(fields) => {
                self.charge(NODE_WEIGHT)?;
                fields.iter().try_for_each(|(k, v)| {
                    self.charge(k.len())?;
                    self.charge_node(v)
                })
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => self.charge(NODE_WEIGHT),
        }
    }

    fn resolve(&self, name: &str) -> Option<&'a Value> {
        self.scopes
            .iter()
            .rev()
            .find_map(|s| s.vars.get(name).copied())
            .or_else(|| self.top.get(name).copied())
    }

    fn missing(&self, name: &str) -> TemplateError {
        match self.scopes.last() {
            Some(s) => TemplateError::new(format!(
                "ClipsParam has no value for placeholder \"{name}\" (item {} of \"{}\") and the template gives no default",
                s.item, s.array
            )),
            None => TemplateError::new(format!(
                "ClipsParam has no value for placeholder \"{name}\" and the template gives no default"
            )),
        }
    }

    /// `key`: the field this node is the value of (for arrays: the array's field).
    fn fill_node(&mut self, node: &'a Value, key: Option<&str>) -> Result<Filled, TemplateError> {
        // Every node visited costs, even one that is removed: bounds the work, not just the output.
        self.charge(NODE_WEIGHT)?;
        match node {
            Value::String(s) => {
                let Some((name, default)) = placeholder(s) else {
                    self.charge(s.len())?;
                    return Ok(Filled::Value(node.clone()));
                };
                if let Some(value) = self.resolve(name) {
                    self.charge_node(value)?;
                    return Ok(Filled::Value(match value {
                        Value::String(v) => coerce(key, v),
                        other => other.clone(),
                    }));
                }
                match default {
                    None => Err(self.missing(name)),
                    Some("NULL") => Ok(Filled::Remove),
                    Some(d) => {
                        self.charge(d.len())?;
                        Ok(Filled::Value(coerce(key, d)))
                    }
                }
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.fill_node(item, key)? {
                        Filled::Value(v) => out.push(v),
                        Filled::Remove => {}
                        Filled::Items(generated) => out.extend(generated),
                    }
                }
                Ok(Filled::Value(Value::Array(out)))
            }
            Value::Object(fields) if is_generator(fields) => Ok(match self.expand(fields)? {
                Some(items) => Filled::Items(items),
                None => Filled::Remove,
            }),
            Value::Object(fields) => Ok(Filled::Value(self.fill_object(fields)?)),
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(Filled::Value(node.clone())),
        }
    }

    fn fill_object(&mut self, fields: &'a Object) -> Result<Value, TemplateError> {
        let mut out = Object::with_capacity(fields.len());
        for (k, v) in fields {
            self.charge(k.len())?;
            match self.fill_node(v, Some(k))? {
                Filled::Value(value) => {
                    out.insert(k.clone(), value);
                }
                Filled::Remove => {}
                Filled::Items(items) => {
                    out.insert(k.clone(), Value::Array(items));
                }
            }
        }
        Ok(Value::Object(out))
    }

    /// Instantiates a generator; `None` when its array is absent and defaults to `NULL`.
    fn expand(&mut self, fields: &'a Object) -> Result<Option<Vec<Value>>, TemplateError> {
        let bad = || TemplateError::new("Config: malformed array generator");
        let (name, default) = match fields.get(SYS_ARRAY_OBJECT) {
            Some(Value::String(s)) => placeholder(s).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let Some(Value::Object(template)) = fields.get(SYS_TEMPLATE) else {
            return Err(bad());
        };
        let items: &'a [Value] = match self.resolve(name) {
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(TemplateError::new(format!(
                    "ClipsParam \"{name}\" must be an array"
                )));
            }
            None => match default {
                None => return Err(self.missing(name)),
                Some("NULL") => return Ok(None),
                Some("" | "[]") => &[],
                Some(_) => return Err(bad()),
            },
        };
        self.items = self.items.saturating_add(items.len());
        if self.items > self.limits.items {
            return Err(TemplateError::new(format!(
                "ClipsParam: the template would generate more than {} array items",
                self.limits.items
            )));
        }
        let media_name = media_placeholder(template);
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let vars: HashMap<&'a str, &'a Value> = match item {
                Value::Object(f) => {
                    // The item's lookup table, plus the generated object.
                    self.charge((f.len() + 1).saturating_mul(NODE_WEIGHT))?;
                    f.iter().map(|(k, v)| (k.as_str(), v)).collect()
                }
                Value::String(_) => {
                    self.charge(NODE_WEIGHT)?;
                    let mut vars = HashMap::from([("MediaId", item)]);
                    if let Some(m) = media_name {
                        vars.insert(m, item);
                    }
                    vars
                }
                _ => {
                    return Err(TemplateError::new(format!(
                        "ClipsParam \"{name}\" item {i} must be a media ID string or an object"
                    )));
                }
            };
            self.scopes.push(Scope {
                vars,
                array: name,
                item: i,
            });
            let filled = self.fill_object(template);
            self.scopes.pop();
            out.push(filled?);
        }
        Ok(Some(out))
    }
}

// ---------------------------------------------------------------------------------------
// Templates as stored

use super::project::{Invalid, Source, TemplateType};
use super::{Micros, Page, vendor_enum};

vendor_enum!(
    /// Only `Available` templates can make projects.
    TemplateStatus { Available, Created, Uploading, Processing, UploadFailed, ProcessFailed }
);

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub account_id: String,
    pub template_id: String,
    pub name: String,
    pub template_type: TemplateType,
    /// Timeline templates: a Timeline with `$` placeholders. VETemplates: stored as sent.
    pub config: Option<String>,
    pub cover_url: Option<String>,
    pub preview_media: Option<String>,
    pub status: TemplateStatus,
    pub create_source: Source,
    pub modified_source: Source,
    pub related_mediaids: Option<String>,
    pub create_time: Micros,
    pub modified_time: Micros,
}

impl Template {
    /// A Timeline template needs a Config whose placeholders parse; a VETemplate's Config,
    /// when given, must be a JSON object.
    pub fn validate(&self) -> Result<(), Invalid> {
        match (self.template_type, self.config.as_deref()) {
            (TemplateType::Timeline, None) => Err(Invalid::new(
                "Config",
                "A Timeline template needs a Config (a Timeline with $ placeholders).",
            )),
            (TemplateType::Timeline, Some(config)) => parse_config(config)
                .map(|_| ())
                .map_err(|e| Invalid::new("Config", e.reason)),
            (TemplateType::VETemplate, Some(config))
                if !matches!(
                    serde_json::from_str(config),
                    Ok(serde_json::Value::Object(_))
                ) =>
            {
                Err(Invalid::new("Config", "It must be a JSON object."))
            }
            (TemplateType::VETemplate, _) => Ok(()),
        }
    }

    /// The placeholders of a Timeline template; none for a VETemplate.
    pub fn params(&self) -> Vec<TemplateParam> {
        match (self.template_type, self.config.as_deref()) {
            (TemplateType::Timeline, Some(config)) => parse_config(config).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The ClipsParam skeleton GetTemplate answers (Timeline templates only).
    pub fn clips_param_skeleton(&self) -> Option<String> {
        (self.template_type == TemplateType::Timeline).then(|| clips_param_skeleton(&self.params()))
    }
}

/// Filters, order and page of ListTemplates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateQuery {
    pub template_type: Option<TemplateType>,
    pub status: Option<TemplateStatus>,
    pub create_source: Option<Source>,
    /// Matches the template ID exactly or a substring of the name.
    pub keyword: Option<String>,
    pub ascending: bool,
    pub page: Page,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn filled(config: &Value, clips: &Value) -> Value {
        let out = fill(&config.to_string(), &clips.to_string()).unwrap();
        serde_json::from_str(&out).unwrap()
    }

    fn fill_err(config: &Value, clips: &Value) -> String {
        fill(&config.to_string(), &clips.to_string())
            .unwrap_err()
            .reason
    }

    fn param(key: &str, kind: ParamKind, default: Option<&str>) -> TemplateParam {
        TemplateParam {
            key: key.to_owned(),
            kind,
            default: default.map(str::to_owned),
        }
    }

    fn watermark() -> Value {
        json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$Video",
            "TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"}]}],
            "ImageTracks":[{"ImageTrackClips":[{"ImageId":"****e01c****","Width":200,"Height":60,"X":40,"Y":40}]}]})
    }

    #[test]
    fn vendor_watermark_example() {
        let out = filled(
            &watermark(),
            &json!({"Video":"****20b4****","TimelineIn":"5"}),
        );
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"****20b4****","TimelineIn":5}]}],
                "ImageTracks":[{"ImageTrackClips":[{"ImageId":"****e01c****","Width":200,"Height":60,"X":40,"Y":40}]}]})
        );
        // TimelineIn is a JSON number, not a string.
        assert!(out["VideoTracks"][0]["VideoTrackClips"][0]["TimelineIn"].is_u64());
    }

    #[test]
    fn defaults_used_and_coerced() {
        let out = filled(&watermark(), &json!({"Video":"v"}));
        let clip = &out["VideoTracks"][0]["VideoTrackClips"][0];
        assert_eq!(clip, &json!({"MediaId":"v","TimelineIn":0}));
        let out = filled(
            &watermark(),
            &json!({"Video":"v","TimelineIn":2.5,"TimelineOut":" 7.25 "}),
        );
        let clip = &out["VideoTracks"][0]["VideoTrackClips"][0];
        assert_eq!(
            clip,
            &json!({"MediaId":"v","TimelineIn":2.5,"TimelineOut":7.25})
        );
    }

    #[test]
    fn missing_value_without_default_is_an_error() {
        let reason = fill_err(&watermark(), &json!({"TimelineIn":"5"}));
        assert_eq!(
            reason,
            "ClipsParam has no value for placeholder \"Video\" and the template gives no default"
        );
    }

    #[test]
    fn key_order_is_kept() {
        let config = r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":"$T:1","MediaId":"$V","Zed":1,"Alpha":2}]}],"AudioTracks":[]}"#;
        let out = fill(config, r#"{"V":"m"}"#).unwrap();
        assert_eq!(
            out,
            r#"{"VideoTracks":[{"VideoTrackClips":[{"TimelineIn":1,"MediaId":"m","Zed":1,"Alpha":2}]}],"AudioTracks":[]}"#
        );
    }

    #[test]
    fn non_numeric_strings_and_non_numeric_fields_stay_strings() {
        let config = json!({"SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text",
            "Content":"$Text1","FontSize":"$Size","X":"$X","FontColor":"$Color"}]}]});
        let out = filled(
            &config,
            &json!({"Text1":"42","Size":"48","X":"left","Color":"#ffffff"}),
        );
        assert_eq!(
            out["SubtitleTracks"][0]["SubtitleTrackClips"][0],
            json!({"Type":"Text","Content":"42","FontSize":48,"X":"left","FontColor":"#ffffff"})
        );
    }

    #[test]
    fn boolean_fields_coerced() {
        let config = json!({"AudioTracks":[{"MainTrack":"$Main:false","AudioTrackClips":[
            {"MediaId":"$A","LoopMode":"$Loop:TRUE"}]}]});
        let out = filled(&config, &json!({"A":"a"}));
        assert_eq!(
            out,
            json!({"AudioTracks":[{"MainTrack":false,"AudioTrackClips":[{"MediaId":"a","LoopMode":true}]}]})
        );
    }

    #[test]
    fn given_values_inserted_as_given_and_not_re_resolved() {
        let config = json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$V","Effects":"$Fx","Speed":"$S"}]}]});
        let out = filled(
            &config,
            &json!({"V":"$Other","Fx":[{"Type":"Volume","Gain":"0"}],"S":null,"Other":"x"}),
        );
        assert_eq!(
            out["VideoTracks"][0]["VideoTrackClips"][0],
            json!({"MediaId":"$Other","Effects":[{"Type":"Volume","Gain":"0"}],"Speed":null})
        );
    }

    #[test]
    fn unknown_keys_and_plain_values_kept_unused_params_ignored() {
        let config = json!({"FECanvas":{"Width":1920,"Height":1080},"From":"websdk",
            "VideoTracks":[{"Id":3,"VideoTrackClips":[{"MediaId":"$V","_private":{"a":[1,null,true]},"Width":"200"}]}]});
        let out = filled(&config, &json!({"V":"m","Unused":"x","Also":[1]}));
        let mut expected = config.clone();
        expected["VideoTracks"][0]["VideoTrackClips"][0]["MediaId"] = json!("m");
        assert_eq!(out, expected);
    }

    #[test]
    fn null_default_removes_array_elements_too() {
        let config = json!({"Tags":["a","$T1:NULL","$T2:NULL"],"VideoTracks":[]});
        let out = filled(&config, &json!({"T2":"b"}));
        assert_eq!(out, json!({"Tags":["a","b"],"VideoTracks":[]}));
    }

    #[test]
    fn default_keeps_text_after_first_colon() {
        let config =
            json!({"SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"$Title:Hello: world"}]}]});
        let out = filled(&config, &json!({}));
        assert_eq!(
            out["SubtitleTracks"][0]["SubtitleTrackClips"][0]["Content"],
            json!("Hello: world")
        );
        let params = parse_config(&config.to_string()).unwrap();
        assert_eq!(
            params,
            vec![param("Title", ParamKind::Text, Some("Hello: world"))]
        );
    }

    fn opening_ending() -> Value {
        json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"opening"},
            {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray",
             "Sys_Template":{"MediaId":"$MediaId","Out":"$Out:NULL"}},
            {"MediaId":"ending"}]}]})
    }

    #[test]
    fn array_items_spliced_between_fixed_clips() {
        let out = filled(
            &opening_ending(),
            &json!({"VideoArray":[{"MediaId":"id1"},{"MediaId":"id2","Out":"3.5"}]}),
        );
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"opening"},{"MediaId":"id1"},{"MediaId":"id2","Out":3.5},{"MediaId":"ending"}]}]})
        );
    }

    #[test]
    fn array_items_as_strings_or_objects() {
        let out = filled(
            &opening_ending(),
            &json!({"VideoArray":["id1",{"MediaId":"id2"}]}),
        );
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"opening"},{"MediaId":"id1"},{"MediaId":"id2"},{"MediaId":"ending"}]}]})
        );
        // A string also fills the template's own media field placeholder, whatever its name.
        let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
            "Sys_ArrayObject":"$Videos","Sys_Template":{"MediaURL":"$Url"}}]}]});
        let out = filled(&config, &json!({"Videos":["oss://b/1.mp4"]}));
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[{"MediaURL":"oss://b/1.mp4"}]}]})
        );
    }

    #[test]
    fn empty_array_gives_only_fixed_clips() {
        let out = filled(&opening_ending(), &json!({"VideoArray":[]}));
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[{"MediaId":"opening"},{"MediaId":"ending"}]}]})
        );
    }

    #[test]
    fn sys_type_array_produces_the_whole_list() {
        let config = json!({"AudioTracks":[{"AudioTrackClips":{"Sys_Type":"Array",
            "Sys_ArrayObject":"$AudioArray",
            "Sys_Template":{"MediaId":"$MediaId","TimelineIn":"$TimelineIn:NULL"}}}]});
        let out = filled(
            &config,
            &json!({"AudioArray":["a1",{"MediaId":"a2","TimelineIn":"3"}]}),
        );
        assert_eq!(
            out,
            json!({"AudioTracks":[{"AudioTrackClips":[{"MediaId":"a1"},{"MediaId":"a2","TimelineIn":3}]}]})
        );
        let params = parse_config(&config.to_string()).unwrap();
        assert_eq!(params, vec![param("AudioArray", ParamKind::Array, None)]);
    }

    #[test]
    fn item_values_fall_back_to_top_level_then_default() {
        let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
            "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId","Speed":"$Speed","Opacity":"$Op:0.5"}}]}]});
        let out = filled(
            &config,
            &json!({"Speed":"2","Vs":["a",{"MediaId":"b","Speed":1,"Op":"1"}]}),
        );
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"a","Speed":2,"Opacity":0.5},
                {"MediaId":"b","Speed":1,"Opacity":1}]}]})
        );
        let reason = fill_err(&config, &json!({"Vs":["a"]}));
        assert_eq!(
            reason,
            "ClipsParam has no value for placeholder \"Speed\" (item 0 of \"Vs\") and the template gives no default"
        );
    }

    #[test]
    fn nested_generators() {
        let config = json!({"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
            "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId",
            "Effects":[{"Type":"Volume","Gain":"$Gain:1"},
                {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Fx:NULL","Sys_Template":{"Type":"Filter","SubType":"$Name"}}]}}]}]});
        let out = filled(
            &config,
            &json!({"Vs":[{"MediaId":"a","Fx":[{"Name":"f1"},{"Name":"f2"}]},{"MediaId":"b","Gain":"0"}]}),
        );
        assert_eq!(
            out,
            json!({"VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"a","Effects":[{"Type":"Volume","Gain":1},{"Type":"Filter","SubType":"f1"},{"Type":"Filter","SubType":"f2"}]},
                {"MediaId":"b","Effects":[{"Type":"Volume","Gain":0}]}]}]})
        );
    }

    #[test]
    fn array_placeholder_defaults() {
        let config = json!({"AudioTracks":[{"AudioTrackClips":{"Sys_Type":"Array",
            "Sys_ArrayObject":"$As:NULL","Sys_Template":{"MediaId":"$MediaId"}}}],
            "VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs:[]",
            "Sys_Template":{"MediaId":"$MediaId"}}]}]});
        let out = filled(&config, &json!({}));
        assert_eq!(
            out,
            json!({"AudioTracks":[{}],"VideoTracks":[{"VideoTrackClips":[]}]})
        );
        assert!(
            parse_config(
                &json!({"A":[{"Sys_Type":"Array","Sys_ArrayObject":"$As:x","Sys_Template":{}}]})
                    .to_string()
            )
            .unwrap_err()
            .reason
            .contains("must be NULL or []")
        );
    }

    #[test]
    fn array_errors() {
        let c = opening_ending();
        assert_eq!(
            fill_err(&c, &json!({"VideoArray":"id1"})),
            "ClipsParam \"VideoArray\" must be an array"
        );
        assert_eq!(
            fill_err(&c, &json!({"VideoArray":["a",3]})),
            "ClipsParam \"VideoArray\" item 1 must be a media ID string or an object"
        );
        assert_eq!(
            fill_err(&c, &json!({})),
            "ClipsParam has no value for placeholder \"VideoArray\" and the template gives no default"
        );
        assert!(
            fill_err(&c, &json!({"VideoArray":[{}]}))
                .contains("placeholder \"MediaId\" (item 0 of \"VideoArray\")")
        );
    }

    #[test]
    fn clips_param_must_be_an_object() {
        for bad in ["", "[]", "\"x\"", "{", "null"] {
            let e = fill(&watermark().to_string(), bad).unwrap_err();
            assert!(e.reason.starts_with("ClipsParam"), "{bad}: {}", e.reason);
        }
    }

    #[test]
    fn config_errors() {
        let cases = [
            ("", "not valid JSON"),
            ("[]", "must be a JSON object"),
            (
                r#"{"Sys_Type":"Array","Sys_ArrayObject":"$A","Sys_Template":{}}"#,
                "must be a JSON object",
            ),
            (r#"{"V":[{"MediaId":"$"}]}"#, "empty placeholder name"),
            (
                r#"{"V":[{"Sys_Type":"Repeat","Sys_ArrayObject":"$A","Sys_Template":{}}]}"#,
                "Sys_Type must be",
            ),
            (
                r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"A","Sys_Template":{}}]}"#,
                "placeholder",
            ),
            (
                r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$A","Sys_Template":"$T"}]}"#,
                "Sys_Template must be",
            ),
            (
                r#"{"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$A"}]}"#,
                "Sys_Template must be",
            ),
            (
                r#"{"V":[{"Sys_ArrayObject":"$A","Sys_Template":{}}]}"#,
                "without Sys_Type",
            ),
            (
                r#"{"A":"$X","B":[{"Sys_Type":"Array","Sys_ArrayObject":"$X","Sys_Template":{}}]}"#,
                "both as an array",
            ),
        ];
        for (config, want) in cases {
            let e = parse_config(config).unwrap_err();
            assert!(e.reason.starts_with("Config"), "{config}: {}", e.reason);
            assert!(e.reason.contains(want), "{config}: {}", e.reason);
            // fill checks the Config first, whatever the ClipsParam.
            assert_eq!(fill(config, "{}").unwrap_err(), e);
        }
        let e = parse_config(r#"{"VideoTracks":[{"VideoTrackClips":[{},{"MediaId":"$"}]}]}"#)
            .unwrap_err();
        assert_eq!(
            e.reason,
            "Config: empty placeholder name in \"$\" at VideoTracks[0].VideoTrackClips[1].MediaId"
        );
    }

    #[test]
    fn parse_config_kinds_and_defaults() {
        let config = r#"{
            "VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"},
                {"Type":"Image","MediaURL":"$Image1","Duration":"$Dur:3"},
                {"Type":"video","MediaUrl":"$Video2","Effects":[{"Type":"Text","Content":"$Text2"}]},
                {"Type":"$ClipType","MediaId":"$Video3"},
                {"Type":"GlobalImage","MediaId":"$Logo"},
                {"Type":"AI_Avatar","MediaId":"$Avatar"},
                {"MediaId":"$Video1"},
                {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray","Sys_Template":{"MediaId":"$MediaId","X":"$ItemX"}}]}],
            "ImageTracks":[{"ImageTrackClips":[{"ImageId":"$Image2","X":"$X:0.1"}]}],
            "AudioTracks":[{"AudioTrackClips":[{"MediaId":"$Music"}]}],
            "SubtitleTracks":[{"SubtitleTrackClips":[{"Type":"Text","Content":"$Text1:Hi","FileURL":"$Srt:NULL"}]}],
            "MediaId":"$Loose"
        }"#;
        let params = parse_config(config).unwrap();
        assert_eq!(
            params,
            vec![
                param("Video1", ParamKind::Video, None),
                param("TimelineIn", ParamKind::Value, Some("0")),
                param("TimelineOut", ParamKind::Value, Some("NULL")),
                param("Image1", ParamKind::Image, None),
                param("Dur", ParamKind::Value, Some("3")),
                param("Video2", ParamKind::Video, None),
                param("Text2", ParamKind::Text, None),
                param("ClipType", ParamKind::Value, None),
                param("Video3", ParamKind::Video, None),
                param("Logo", ParamKind::Image, None),
                param("Avatar", ParamKind::Value, None),
                param("VideoArray", ParamKind::Array, None),
                param("Image2", ParamKind::Image, None),
                param("X", ParamKind::Value, Some("0.1")),
                param("Music", ParamKind::Audio, None),
                param("Text1", ParamKind::Text, Some("Hi")),
                param("Srt", ParamKind::Value, Some("NULL")),
                param("Loose", ParamKind::Value, None),
            ]
        );
    }

    #[test]
    fn parse_config_merges_repeated_names() {
        let config =
            json!({"A":{"X":"$P"},"VideoTracks":[{"VideoTrackClips":[{"MediaId":"$P:dflt"}]}]});
        let params = parse_config(&config.to_string()).unwrap();
        assert_eq!(params, vec![param("P", ParamKind::Video, Some("dflt"))]);
        assert_eq!(parse_config(r#"{"VideoTracks":[]}"#).unwrap(), vec![]);
    }

    #[test]
    fn params_serialize_vendor_style() {
        let v = serde_json::to_value(vec![
            param("Video1", ParamKind::Video, None),
            param("T", ParamKind::Value, Some("0")),
        ])
        .unwrap();
        assert_eq!(
            v,
            json!([{"Key":"Video1","Type":"Video"},{"Key":"T","Type":"Value","Default":"0"}])
        );
        assert_eq!(ParamKind::Array.to_string(), "Array");
    }

    #[test]
    fn skeleton() {
        let params = parse_config(
            r#"{"VideoTracks":[{"VideoTrackClips":[
                {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"},
                {"Sys_Type":"ArrayItems","Sys_ArrayObject":"$VideoArray","Sys_Template":{"MediaId":"$MediaId"}}]}],
                "SubtitleTracks":[{"SubtitleTrackClips":[{"Content":"$Text1:Hello"}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            clips_param_skeleton(&params),
            r#"{"Video1":"","TimelineIn":"0","TimelineOut":"","VideoArray":[],"Text1":"Hello"}"#
        );
        assert_eq!(clips_param_skeleton(&[]), "{}");
        // A skeleton filled in as is is accepted by fill.
        let mut clips: Value = serde_json::from_str(&clips_param_skeleton(&params)).unwrap();
        clips["Video1"] = json!("m");
        clips["VideoArray"] = json!(["a"]);
        let config = json!({"VideoTracks":[{"VideoTrackClips":[
            {"MediaId":"$Video1","TimelineIn":"$TimelineIn:0","TimelineOut":"$TimelineOut:NULL"}]}]});
        let out = filled(&config, &clips);
        assert_eq!(
            out["VideoTracks"][0]["VideoTrackClips"][0]["TimelineIn"],
            json!(0)
        );
    }

    #[test]
    fn numeric_parsing() {
        assert_eq!(numeric("5"), Some(5u64.into()));
        assert_eq!(numeric(" -3 "), Some((-3i64).into()));
        assert_eq!(numeric("2.5"), Number::from_f64(2.5));
        assert_eq!(numeric("1e3"), Number::from_f64(1000.0));
        assert_eq!(numeric("0.1"), Number::from_f64(0.1));
        for bad in ["", " ", "x", "inf", "NaN", "1e400", "5px", "0x10"] {
            assert_eq!(numeric(bad), None, "{bad}");
        }
    }

    #[test]
    fn placeholder_split() {
        assert_eq!(placeholder("$A"), Some(("A", None)));
        assert_eq!(placeholder("$A:"), Some(("A", Some(""))));
        assert_eq!(placeholder("$A:b:c"), Some(("A", Some("b:c"))));
        assert_eq!(placeholder("A"), None);
        assert_eq!(placeholder(" $A"), None);
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let out = fill(r#"{"A":1,"B":"$X","A":2}"#, r#"{"X":"x","X":"y"}"#).unwrap();
        assert_eq!(out, r#"{"A":2,"B":"y"}"#);
        let many: Vec<String> = (0..40).map(|i| format!("\"K{}\":{i}", i % 20)).collect();
        let out = fill(&format!("{{{}}}", many.join(",")), "{}").unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 20);
        assert_eq!(v["K0"], json!(20));
    }

    #[test]
    fn too_many_items_rejected() {
        let ids: Vec<String> = (0..=MAX_GENERATED_ITEMS)
            .map(|i| format!("id{i}"))
            .collect();
        let e = fill(
            &opening_ending().to_string(),
            &json!({ "VideoArray": ids }).to_string(),
        )
        .unwrap_err();
        assert!(e.reason.contains("more than 10000"), "{}", e.reason);
        // Exactly the limit is fine.
        let out = filled(
            &opening_ending(),
            &json!({ "VideoArray": &ids[..MAX_GENERATED_ITEMS] }),
        );
        assert_eq!(
            out["VideoTracks"][0]["VideoTrackClips"]
                .as_array()
                .unwrap()
                .len(),
            MAX_GENERATED_ITEMS + 2
        );
        // Nested generators multiply.
        let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Outer",
            "Sys_Template":{"E":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Inner","Sys_Template":{}}]}}]});
        let e = fill_err(
            &config,
            &json!({"Outer": vec!["x"; 200], "Inner": vec!["y"; 200]}),
        );
        assert!(e.contains("more than 10000"), "{e}");
    }

    #[test]
    fn oversized_output_rejected() {
        let big = "x".repeat(1 << 20);
        let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs",
            "Sys_Template":{"Content":"$Big","MediaId":"$MediaId"}}]});
        let e = fill_err(&config, &json!({"Big": big, "Vs": vec!["a"; 100]}));
        assert_eq!(e, "ClipsParam: the filled Timeline would be too large");
    }

    #[test]
    fn removed_fields_still_count_as_work() {
        let nulls = vec!["$X:NULL"; 100];
        let config = json!({"V":[{"Sys_Type":"ArrayItems","Sys_ArrayObject":"$Vs",
            "Sys_Template":{"L": nulls}}]})
        .to_string();
        let limits = Limits {
            items: 1000,
            weight: 100 * NODE_WEIGHT * 50,
        };
        let clips = |n: usize| json!({ "Vs": vec!["a"; n] }).to_string();
        // 100 removed placeholders per item: about 50 items fit, the output being empty.
        let out = fill_limited(&config, &clips(40), limits).unwrap();
        assert_eq!(out.matches(r#"{"L":[]}"#).count(), 40);
        let e = fill_limited(&config, &clips(60), limits).unwrap_err();
        assert_eq!(
            e.reason,
            "ClipsParam: the filled Timeline would be too large"
        );
        // Item limit, lowered.
        let e = fill_limited(&config, &clips(1001), limits).unwrap_err();
        assert_eq!(
            e.reason,
            "ClipsParam: the template would generate more than 1000 array items"
        );
    }

    #[test]
    fn largest_legitimate_output_fits() {
        // 10,000 generated clips of a dozen fields each stay well inside the weight limit.
        let config = r#"{"VideoTracks":[{"VideoTrackClips":[{"Sys_Type":"ArrayItems",
            "Sys_ArrayObject":"$Vs","Sys_Template":{"MediaId":"$MediaId","In":"$In:0",
            "Out":"$Out:NULL","TimelineIn":"$TimelineIn:NULL","Speed":1,"X":0,"Y":0,
            "Width":1,"Height":1,"AdaptMode":"Contain","Effects":[{"Type":"Volume","Gain":1}]}}]}]}"#;
        let ids: Vec<String> = (0..MAX_GENERATED_ITEMS)
            .map(|i| format!("{i:032x}"))
            .collect();
        let out = fill(config, &json!({ "Vs": ids }).to_string()).unwrap();
        assert!(out.len() > 1_000_000);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"A\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse_config(&deep).is_err());
        assert!(fill(&deep, "{}").is_err());
        assert!(fill("{}", &deep).is_err());
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            // Four decimals, like the vendor's times: parsed exactly by serde_json's fast path.
            (-1e9f64..1e9).prop_map(|f| Value::from((f * 1e4).round() / 1e4)),
            "[a-zA-Z0-9 :#.,_-]{0,10}".prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(4, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map("[A-Za-z]{1,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        // No regression files written into the source tree.
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn fill_never_panics(config in ".{0,200}", clips in ".{0,200}") {
            let _ = fill(&config, &clips);
            let _ = parse_config(&config);
        }

        #[test]
        fn fill_never_panics_on_json_shaped_input(
            config in r#"[{}\[\]",:$A-Za-z_0-9 ]{0,120}"#,
            clips in r#"[{}\[\]",:A-Za-z0-9 ]{0,60}"#,
        ) {
            let _ = fill(&config, &clips);
            let _ = fill(&format!("{{\"V\":[{{\"Sys_Type\":\"Array\",\"Sys_ArrayObject\":\"$A\",\"Sys_Template\":{config}}}]}}"), &clips);
        }

        #[test]
        fn no_placeholders_means_unchanged(
            fields in prop::collection::btree_map("[A-Za-z]{1,12}", json_value(), 0..8),
            clips in prop::collection::btree_map("[A-Za-z]{1,8}", json_leaf(), 0..4),
        ) {
            let config = Value::Object(fields.into_iter().collect());
            let clips = Value::Object(clips.into_iter().collect());
            let out = fill(&config.to_string(), &clips.to_string()).unwrap();
            let out: Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(out, config.clone());
            prop_assert_eq!(parse_config(&config.to_string()).unwrap(), vec![]);
        }

        #[test]
        fn array_items_one_per_element(ids in prop::collection::vec("[a-z0-9]{1,8}", 0..20), as_objects in any::<bool>()) {
            let items: Vec<Value> = ids.iter().map(|id| if as_objects { json!({"MediaId": id}) } else { json!(id) }).collect();
            let out = filled(&opening_ending(), &json!({"VideoArray": items}));
            let clips = out["VideoTracks"][0]["VideoTrackClips"].as_array().unwrap().clone();
            prop_assert_eq!(clips.len(), ids.len() + 2);
            for (clip, id) in clips[1..=ids.len()].iter().zip(&ids) {
                prop_assert_eq!(clip, &json!({"MediaId": id}));
            }
        }

        #[test]
        fn numeric_strings_become_numbers(n in -1e9f64..1e9) {
            let out = fill(r#"{"V":[{"TimelineIn":"$T"}]}"#, &json!({"T": n.to_string()}).to_string()).unwrap();
            prop_assert_eq!(out, format!(r#"{{"V":[{{"TimelineIn":{}}}]}}"#, Number::from_f64(n).unwrap()));
        }
    }
}
