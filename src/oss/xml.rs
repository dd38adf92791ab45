//! The little XML OSS needs: escaping for responses, reading the two request bodies it
//! takes (DeleteMultipleObjects, CompleteMultipartUpload), and OSS's exact date formats.

use axum::body::Body;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::error::{OssCode, OssError};

/// RFC 1123 with a two-digit day; oss2 accepts `Last-Modified` in no other form.
const HTTP_DATE: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);
/// oss2 parses XML times only as `YYYY-MM-DDTHH:MM:SS.000Z`.
const XML_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");

pub fn http_date(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(HTTP_DATE)
        .unwrap_or_default()
}

pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(s.trim(), HTTP_DATE)
        .ok()
        .map(|t| t.assume_utc())
}

pub fn xml_time(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(XML_TIME)
        .unwrap_or_default()
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Request bodies that are XML documents (≤1000 keys or parts): bounded.
pub async fn read_small_body(body: Body) -> Result<String, OssError> {
    const LIMIT: usize = 2 << 20;
    let bytes = axum::body::to_bytes(body, LIMIT).await.map_err(|_| {
        OssError::with_message(
            OssCode::MalformedXML,
            "The XML body is too large or could not be read.",
        )
    })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| OssError::new(OssCode::MalformedXML))
}

/// The text of every `<tag>…</tag>` in `xml`, in order (`<tag/>` gives an empty string).
/// Enough for OSS's flat request bodies, which hold no attributes, comments or CDATA.
pub fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close, empty) = (format!("<{tag}>"), format!("</{tag}>"), format!("<{tag}/>"));
    let mut out = Vec::new();
    let mut rest = xml;
    loop {
        let next_open = rest.find(&open);
        let next_empty = rest.find(&empty);
        match (next_open, next_empty) {
            (Some(o), e) if e.is_none_or(|e| o < e) => {
                let body = &rest[o + open.len()..];
                let Some(end) = body.find(&close) else {
                    return out;
                };
                out.push(unescape(&body[..end]));
                rest = &body[end + close.len()..];
            }
            (_, Some(e)) => {
                out.push(String::new());
                rest = &rest[e + empty.len()..];
            }
            _ => return out,
        }
    }
}

/// The text of the first `<tag>` element.
pub fn element(xml: &str, tag: &str) -> Option<String> {
    elements(xml, tag).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_in_oss_forms() {
        let t = OffsetDateTime::from_unix_timestamp(1735689600).unwrap();
        assert_eq!(http_date(t), "Wed, 01 Jan 2025 00:00:00 GMT");
        assert_eq!(parse_http_date("Wed, 01 Jan 2025 00:00:00 GMT"), Some(t));
        assert_eq!(xml_time(t), "2025-01-01T00:00:00.000Z");
    }

    #[test]
    fn reads_nested_elements() {
        let xml = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"A\"</ETag></Part>\
                   <Part><PartNumber>2</PartNumber><ETag>&quot;B&quot;</ETag></Part></CompleteMultipartUpload>";
        let parts = elements(xml, "Part");
        assert_eq!(parts.len(), 2);
        assert_eq!(element(&parts[1], "ETag").as_deref(), Some("\"B\""));
        assert_eq!(
            elements("<a><Key/><Key>x&amp;y</Key></a>", "Key"),
            ["", "x&y"]
        );
        assert_eq!(escape("a<&>\"'"), "a&lt;&amp;&gt;&quot;&apos;");
    }
}
