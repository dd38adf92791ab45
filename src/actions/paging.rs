//! What the List actions share: NextToken paging and time filters.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::domain::{Cursor, Micros, Page, parse_time};
use crate::protocol::error::ApiError;
use crate::protocol::params::Params;

/// A StartTime/EndTime filter, when given (not empty).
pub(super) fn time_filter(params: &Params, name: &str) -> Result<Option<Micros>, ApiError> {
    params
        .non_empty(name)?
        .map(|s| {
            parse_time(s).ok_or_else(|| {
                ApiError::invalid(name, "Use the format yyyy-MM-ddTHH:mm:ssZ (UTC).")
            })
        })
        .transpose()
}

/// An opaque NextToken: the last item's sort key, bound to the caller and the filters it
/// was issued for.
pub(crate) struct NextToken {
    scope: String,
}

impl NextToken {
    pub(crate) fn new(account_id: &str, filters: &impl std::fmt::Debug) -> Self {
        let digest = Sha256::digest(format!("{account_id}\n{filters:?}").as_bytes());
        NextToken {
            scope: hex::encode(&digest[..8]),
        }
    }

    /// The page after the caller's `NextToken` (the first page without one), and the token
    /// that will name the next page.
    pub(crate) fn page(
        given: Option<&str>,
        account_id: &str,
        filters: &impl std::fmt::Debug,
        limit: u32,
    ) -> Result<(Self, Page), ApiError> {
        let token = NextToken::new(account_id, filters);
        let cursor = given.map(|t| token.decode(t)).transpose()?;
        Ok((token, Page::After { cursor, limit }))
    }

    pub(crate) fn encode(&self, cursor: &Cursor) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "1.{}.{}.{}",
            self.scope, cursor.create_time, cursor.id
        ))
    }

    pub(crate) fn decode(&self, token: &str) -> Result<Cursor, ApiError> {
        let bad = || ApiError::invalid("NextToken", "It was not issued for this query.");
        let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = text.splitn(4, '.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("1"), Some(s), Some(time), Some(id)) if s == self.scope => Ok(Cursor {
                create_time: time.parse().map_err(|_| bad())?,
                id: id.to_string(),
            }),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_scope() {
        let token = NextToken::new("acct", &("filters", 1));
        let cursor = Cursor {
            create_time: 42,
            id: "abc".into(),
        };
        let t = token.encode(&cursor);
        assert_eq!(token.decode(&t).unwrap(), cursor);
        assert!(NextToken::new("other", &("filters", 1)).decode(&t).is_err());
        assert!(NextToken::new("acct", &("filters", 2)).decode(&t).is_err());
        assert!(token.decode("!!!").is_err());
    }
}
