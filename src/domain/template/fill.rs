//! Filling a Config with a ClipsParam.

use std::collections::HashMap;

use serde_json::{Number, Value};

use super::*;

/// The values of one array element, while its `Sys_Template` is instantiated.
struct Scope<'a> {
    vars: HashMap<&'a str, &'a Value>,
    array: &'a str,
    item: usize,
}

pub(super) struct Filler<'a> {
    top: HashMap<&'a str, &'a Value>,
    /// Innermost last.
    scopes: Vec<Scope<'a>>,
    items: usize,
    weight: usize,
    limits: Limits,
}

pub(super) enum Filled {
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

pub(super) fn numeric(s: &str) -> Option<Number> {
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
    /// A filler for the top-level ClipsParam object `top`.
    pub(super) fn new(top: &'a Object, limits: Limits) -> Self {
        Filler {
            top: top.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            scopes: Vec::new(),
            items: 0,
            weight: 0,
            limits,
        }
    }

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
    pub(super) fn fill_node(
        &mut self,
        node: &'a Value,
        key: Option<&str>,
    ) -> Result<Filled, TemplateError> {
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
