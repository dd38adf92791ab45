//! API parameters merged from the query string and the form body, with typed accessors
//! whose errors name the parameter.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::str::FromStr;

use super::error::ApiError;

/// Common parameters of the V2 (RPC) signature; never API parameters.
const COMMON: &[&str] = &[
    "Action",
    "Version",
    "Format",
    "Timestamp",
    "SignatureNonce",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureType",
    "AccessKeyId",
    "Signature",
    "SecurityToken",
    "RegionId",
];

/// An action's typed input, parsed from the request's parameters once, before the action
/// runs; errors name the parameter. It may borrow from the parameters.
pub trait FromParams<'a>: Sized {
    fn from_params(params: &'a Params) -> Result<Self, ApiError>;
}

#[derive(Debug, Default, Clone)]
pub struct Params {
    values: HashMap<String, String>,
}

impl Params {
    /// Merge query and body pairs; the same name twice (within or across them) is refused,
    /// because the two SDK signature schemes would read it differently.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, ApiError> {
        let mut values = HashMap::new();
        for (k, v) in pairs {
            // No stored text may hold NUL (PostgreSQL refuses it); no vendor value needs it.
            if k.contains('\0') || v.contains('\0') {
                return Err(ApiError::invalid(
                    &k.replace('\0', ""),
                    "It contains a NUL character.",
                ));
            }
            if values.contains_key(&k) {
                return Err(ApiError::invalid(
                    &k,
                    "The parameter is given more than once.",
                ));
            }
            values.insert(k, v);
        }
        Ok(Params { values })
    }

    pub fn is_common(name: &str) -> bool {
        COMMON.contains(&name)
    }

    /// The raw value, including an empty string.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A value that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.raw(name) {
            None => Err(ApiError::missing(name)),
            Some(v) if v.trim().is_empty() => Err(ApiError::missing(name)),
            Some(v) => Ok(v),
        }
    }

    /// A value that, when present, must not be empty.
    pub fn non_empty(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.raw(name) {
            Some(v) if v.trim().is_empty() => {
                Err(ApiError::invalid(name, "The value must not be empty."))
            }
            other => Ok(other),
        }
    }

    /// Booleans are case-insensitive: the Python SDK sends `True`.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid(name, "It must be true or false.")),
        }
    }

    /// An integer inside `range`; out of range is refused rather than clamped.
    pub fn int_in(&self, name: &str, range: RangeInclusive<i64>) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        let n: i64 = v
            .trim()
            .parse()
            .map_err(|_| ApiError::invalid(name, "It must be an integer."))?;
        if !range.contains(&n) {
            return Err(ApiError::invalid(
                name,
                format!("It must be between {} and {}.", range.start(), range.end()),
            ));
        }
        Ok(Some(n))
    }

    /// A value parsed into a vendor enum (or any `FromStr` type).
    pub fn parse<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        match self.raw(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|e| ApiError::invalid(name, e)),
        }
    }

    /// A sort order spelled `descending` or `ascending` (absent: descending, the vendor's
    /// default everywhere); returns true for ascending.
    pub fn ascending(
        &self,
        name: &str,
        descending: &str,
        ascending: &str,
    ) -> Result<bool, ApiError> {
        match self.raw(name) {
            None => Ok(false),
            Some(v) if v == descending => Ok(false),
            Some(v) if v == ascending => Ok(true),
            Some(_) => Err(ApiError::invalid(
                name,
                format!("Valid values: {descending}, {ascending}."),
            )),
        }
    }

    /// A required comma-separated list of IDs, at most `max` of them.
    pub fn id_list(&self, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        self.required(name)?;
        let ids: Vec<String> = self.list(name)?.unwrap_or_default();
        if ids.len() > max {
            return Err(ApiError::invalid(
                name,
                format!("At most {max} IDs are allowed."),
            ));
        }
        Ok(ids)
    }

    /// A comma-separated list (empty items dropped), each parsed.
    pub fn list<T: FromStr>(&self, name: &str) -> Result<Option<Vec<T>>, ApiError>
    where
        T::Err: std::fmt::Display,
    {
        let Some(v) = self.raw(name) else {
            return Ok(None);
        };
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().map_err(|e| ApiError::invalid(name, e)))
            .collect::<Result<Vec<T>, _>>()
            .map(Some)
    }
}

/// Actions without parameters of their own.
impl FromParams<'_> for () {
    fn from_params(_: &Params) -> Result<Self, ApiError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::error::ErrorCode;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap()
    }

    #[test]
    fn duplicates_are_refused() {
        let e = Params::from_pairs(vec![
            ("A".to_string(), "1".to_string()),
            ("A".to_string(), "1".to_string()),
        ])
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.message.contains("\"A\""));
    }

    #[test]
    fn nul_is_refused() {
        let e = Params::from_pairs(vec![("Title".to_string(), "a\0b".to_string())]).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameter);
        assert!(e.message.contains("\"Title\""));
    }

    #[test]
    fn typed_accessors() {
        let params = p(&[("B", "True"), ("N", "101"), ("E", ""), ("L", "a, b,,c")]);
        assert_eq!(params.bool("B").unwrap(), Some(true));
        assert_eq!(params.bool("X").unwrap(), None);
        assert!(params.int_in("N", 1..=100).is_err());
        assert_eq!(
            params.required("E").unwrap_err().code,
            ErrorCode::MissingParameter
        );
        assert!(params.non_empty("E").is_err());
        assert_eq!(
            params.list::<String>("L").unwrap().unwrap(),
            vec!["a", "b", "c"]
        );
    }
}
