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

mod check;
mod fill;
#[cfg(test)]
mod tests;

use check::collect;
use fill::{Filled, Filler};

use std::fmt;

use serde_json::{Map, Value};

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
    let mut filler = Filler::new(fields, limits);
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
