//! Pure rules in the vendor's vocabulary: no I/O, no HTTP.

pub mod account;
pub mod category;
pub mod job;
pub mod material;
pub mod media;
pub mod project;
pub mod template;
pub mod timeline;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Defines a vendor enum whose wire spelling is its variant name, or the literal given
/// with `Variant = "wire"`.
macro_rules! vendor_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident $(= $wire:literal)?),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => vendor_enum!(@wire $variant $($wire)?)),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("Valid values: {}.", names.join(", "))
                    })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    (@wire $variant:ident $wire:literal) => { $wire };
    (@wire $variant:ident) => { stringify!($variant) };
}
pub(crate) use vendor_enum;

/// Microseconds since the Unix epoch: the stored form of every timestamp.
pub type Micros = i64;

pub fn now_micros() -> Micros {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as Micros
}

/// The vendor's time format: ISO-8601 UTC, second precision, literal `Z`.
pub fn format_time(us: Micros) -> String {
    let t = OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Years before 0 come from no input openice accepts (RFC 3339 has four-digit years).
    let year = u16::try_from(t.year()).unwrap_or(0);
    // Digit by digit, not through `format!`: every project and media view holds two or more
    // of these, and formatting machinery was ~2% of a GetEditingProject's server CPU.
    let mut out = String::with_capacity(20);
    let mut push = |n: u16, width: u32, then: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u16.pow(place) % 10) as u8));
        }
        out.push(then);
    };
    push(year, 4, '-');
    push(u8::from(t.month()).into(), 2, '-');
    push(t.day().into(), 2, 'T');
    push(t.hour().into(), 2, ':');
    push(t.minute().into(), 2, ':');
    push(t.second().into(), 2, 'Z');
    out
}

/// Parses `yyyy-MM-ddTHH:mm:ssZ` (any RFC 3339 time is accepted).
pub fn parse_time(s: &str) -> Option<Micros> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000) as Micros)
}

/// 32 lower-case hex characters, like the vendor's ProjectId and MediaId. Time-ordered
/// (UUIDv7: 48 bits of milliseconds, then 74 random bits), so that new rows land next to each
/// other in the store's indexes instead of on a random page each: under a stream of creates
/// that is a few pages written per commit instead of several per row.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    /// PageNo / PageSize.
    Number { page_no: u32, page_size: u32 },
    /// After a cursor (a NextToken).
    After { cursor: Option<Cursor>, limit: u32 },
}

impl Default for Page {
    fn default() -> Self {
        Page::Number {
            page_no: 1,
            page_size: 10,
        }
    }
}

/// The sort key of the last item on a page; the ID breaks ties so paging is stable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub create_time: Micros,
    pub id: String,
}

impl Page {
    pub fn limit(&self) -> u32 {
        match self {
            Page::Number { page_size, .. } => *page_size,
            Page::After { limit, .. } => *limit,
        }
    }
}

/// One page of results.
pub struct Paged<T> {
    pub items: Vec<T>,
    /// All matches (for page-number queries), else the page's own length.
    pub total: u64,
    /// Set when another page may follow.
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_vendor_shaped_and_time_ordered() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        // Later IDs sort after earlier ones, so new rows land together in the indexes.
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "IDs are not ascending");
    }

    proptest::proptest! {
        #[test]
        fn time_is_formatted_like_the_vendor(us in 0i64..253_402_300_800_000_000) {
            let t = OffsetDateTime::from_unix_timestamp(us.div_euclid(1_000_000)).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second()
            );
            proptest::prop_assert_eq!(format_time(us), expected);
        }
    }

    #[test]
    fn time_round_trip() {
        let us = parse_time("2021-01-08T16:52:07Z").unwrap();
        assert_eq!(format_time(us), "2021-01-08T16:52:07Z");
        assert_eq!(format_time(us + 999_999), "2021-01-08T16:52:07Z");
        assert!(parse_time("2021-01-08 16:52:07").is_none());
    }

    #[test]
    fn ids_are_32_hex() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }
}
