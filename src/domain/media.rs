//! Media assets: input URLs, metadata limits, statuses and the update rules of UpdateMediaInfo.

use percent_encoding::percent_decode_str;

use super::project::Invalid;
use super::{Micros, vendor_enum};

vendor_enum!(MediaType {
    Image = "image",
    Video = "video",
    Audio = "audio",
    Text = "text",
});

vendor_enum!(BusinessType {
    Subtitles = "subtitles",
    Font = "font",
    Watermark = "watermark",
    Opening = "opening",
    Ending = "ending",
    General = "general",
    Video = "video",
});

vendor_enum!(MediaSource {
    Oss = "oss",
    Vod = "vod",
    Live = "live",
    General = "general",
});

vendor_enum!(
    /// `Init` on registration → `Preparing` while probing → `Normal` or `PrepareFail`.
    MediaStatus { Init, Preparing, PrepareFail, Normal }
);

/// Where an input URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputLocation {
    /// A bucket of openice's local object storage.
    Oss { bucket: String, key: String },
    /// Any other http(s) URL; fetched only when its host is allow-listed.
    Remote { url: String, host: String },
}

impl InputLocation {
    /// Parses `oss://bucket/key`, `http(s)://bucket.oss-<region>[-internal].aliyuncs.com/key`
    /// (query ignored) or another http(s) URL. Keys that could escape the bucket are refused.
    pub fn parse(url: &str, param: &'static str) -> Result<Self, Invalid> {
        let bad = |why: &str| Invalid::new(param, why.to_string());
        if url.contains('\0') || url.chars().any(char::is_control) {
            return Err(bad("It contains control characters."));
        }
        if let Some(rest) = url.strip_prefix("oss://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| bad("Use oss://<bucket>/<object>."))?;
            return Self::oss(bucket, key, param);
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("Use oss://<bucket>/<object> or an http(s) URL."))?;
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.to_ascii_lowercase();
        if host.is_empty() || host.contains('@') {
            return Err(bad("The URL has no valid host."));
        }
        if let Some((bucket, endpoint)) = host.split_once('.')
            && is_oss_endpoint(endpoint)
        {
            let key = percent_decode_str(path)
                .decode_utf8()
                .map_err(|_| bad("The object key is not valid UTF-8."))?;
            return Self::oss(bucket, &key, param);
        }
        Ok(InputLocation::Remote {
            url: url.to_string(),
            host: host.split(':').next().unwrap_or("").to_string(),
        })
    }

    fn oss(bucket: &str, key: &str, param: &'static str) -> Result<Self, Invalid> {
        check_bucket(bucket).map_err(|why| Invalid::new(param, why))?;
        check_key(key).map_err(|why| Invalid::new(param, why))?;
        Ok(InputLocation::Oss {
            bucket: bucket.to_string(),
            key: key.to_string(),
        })
    }

    /// The canonical form stored and matched: `oss://bucket/key` for local storage.
    pub fn canonical(&self) -> String {
        match self {
            InputLocation::Oss { bucket, key } => format!("oss://{bucket}/{key}"),
            InputLocation::Remote { url, .. } => url.clone(),
        }
    }

    /// The file name part, used as the default Title.
    pub fn file_name(&self) -> &str {
        let path = match self {
            InputLocation::Oss { key, .. } => key.as_str(),
            InputLocation::Remote { url, .. } => url.split(['?', '#']).next().unwrap_or(url),
        };
        path.rsplit('/').next().unwrap_or(path)
    }
}

/// `oss-<region>[-internal].aliyuncs.com`
pub fn is_oss_endpoint(endpoint: &str) -> bool {
    endpoint
        .strip_prefix("oss-")
        .and_then(|r| r.strip_suffix(".aliyuncs.com"))
        .is_some_and(|r| !r.is_empty() && !r.contains('.'))
}

pub fn check_bucket(bucket: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !bucket.starts_with('-')
        && !bucket.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "The bucket name \"{bucket}\" is not valid (3-63 lower-case letters, digits or hyphens)."
        ))
    }
}

/// Object keys stay inside their bucket: no absolute paths, no `.`/`..` segments, no NUL,
/// no backslashes, at most 1023 bytes.
pub fn check_key(key: &str) -> Result<(), String> {
    let escapes = key.is_empty()
        || key.len() > 1023
        || key.starts_with('/')
        || key.contains('\0')
        || key.contains('\\')
        || key
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..");
    if escapes {
        Err(format!("The object key \"{key}\" is not valid."))
    } else {
        Ok(())
    }
}

/// Byte limits of the seed's UpdateMediaInfo (RegisterMediaInfo shares them).
pub const TITLE_MAX: usize = 128;
pub const DESCRIPTION_MAX: usize = 1024;
pub const COVER_URL_MAX: usize = 128;
pub const USER_DATA_MAX: usize = 1024;
pub const CATEGORY_MAX: usize = 64;
pub const TAGS_MAX: usize = 16;
pub const TAG_MAX: usize = 32;

pub fn check_len(param: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.len() > max {
        Err(Invalid::new(
            param,
            format!(
                "It is {} bytes long; at most {max} bytes (UTF-8) are allowed.",
                value.len()
            ),
        ))
    } else {
        Ok(())
    }
}

/// Comma-separated tags, trimmed, empty ones dropped, duplicates removed.
pub fn parse_tags(raw: &str) -> Result<Vec<String>, Invalid> {
    let mut tags: Vec<String> = Vec::new();
    for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        check_len("MediaTags", t, TAG_MAX)?;
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_string());
        }
    }
    check_tag_count(&tags)?;
    Ok(tags)
}

fn check_tag_count(tags: &[String]) -> Result<(), Invalid> {
    if tags.len() > TAGS_MAX {
        Err(Invalid::new(
            "MediaTags",
            format!("{} tags given; at most {TAGS_MAX} are allowed.", tags.len()),
        ))
    } else {
        Ok(())
    }
}

/// 6-64 characters of letters, digits, `-` and `_`.
pub fn check_reference_id(id: &str) -> Result<(), Invalid> {
    let ok = (6..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(
            "ReferenceId",
            "It must be 6 to 64 letters, digits, hyphens or underscores.",
        ))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    pub account_id: String,
    pub media_id: String,
    /// As the caller registered it.
    pub input_url: String,
    /// Canonical form (`oss://bucket/key` or the remote URL), unique per account.
    pub location: String,
    pub media_type: Option<MediaType>,
    pub business_type: Option<BusinessType>,
    pub source: MediaSource,
    pub title: String,
    pub description: Option<String>,
    pub category: Option<String>,
    pub cate_id: Option<i64>,
    pub media_tags: Vec<String>,
    pub cover_url: Option<String>,
    pub user_data: Option<String>,
    pub reference_id: Option<String>,
    pub status: MediaStatus,
    pub create_time: Micros,
    pub modified_time: Micros,
    /// The probe's findings, once probed: media::probe::ProbeResult's stored JSON (`"v": 2`).
    pub probe: Option<String>,
    /// Seconds, from the probe; drives project Duration.
    pub duration: Option<f64>,
    pub file_size: Option<i64>,
    pub client_token: Option<String>,
    pub need_snapshot: bool,
}

impl MediaInfo {
    /// A media just registered (by RegisterMediaInfo, an upload or a producing job's output):
    /// `Init`, not probed yet, a cover snapshot wanted, every optional field empty. Callers set
    /// what they know with struct-update syntax.
    pub fn registered(
        account_id: &str,
        media_id: String,
        input_url: String,
        location: String,
        source: MediaSource,
        title: String,
        now: Micros,
    ) -> MediaInfo {
        MediaInfo {
            account_id: account_id.to_string(),
            media_id,
            input_url,
            location,
            media_type: None,
            business_type: None,
            source,
            title,
            description: None,
            category: None,
            cate_id: None,
            media_tags: Vec::new(),
            cover_url: None,
            user_data: None,
            reference_id: None,
            status: MediaStatus::Init,
            create_time: now,
            modified_time: now,
            probe: None,
            duration: None,
            file_size: None,
            client_token: None,
            need_snapshot: true,
        }
    }
}

/// UpdateMediaInfo's input: `None` leaves a field unchanged.
#[derive(Debug, Default)]
pub struct MediaUpdate {
    pub business_type: Option<BusinessType>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub media_tags: Option<Vec<String>>,
    pub append_tags: bool,
    pub cover_url: Option<String>,
    pub user_data: Option<String>,
    pub cate_id: Option<i64>,
    pub reference_id: Option<String>,
}

impl MediaUpdate {
    /// Checks every limit before anything is applied, so nothing is half-applied.
    pub fn validate(&self) -> Result<(), Invalid> {
        let checks: [(&'static str, &Option<String>, usize); 5] = [
            ("Title", &self.title, TITLE_MAX),
            ("Description", &self.description, DESCRIPTION_MAX),
            ("Category", &self.category, CATEGORY_MAX),
            ("CoverURL", &self.cover_url, COVER_URL_MAX),
            ("UserData", &self.user_data, USER_DATA_MAX),
        ];
        for (param, value, max) in checks {
            if let Some(v) = value {
                check_len(param, v, max)?;
            }
        }
        if let Some(title) = &self.title
            && title.trim().is_empty()
        {
            return Err(Invalid::new("Title", "The title must not be empty."));
        }
        if let Some(r) = &self.reference_id {
            check_reference_id(r)?;
        }
        Ok(())
    }

    pub fn apply(self, media: &mut MediaInfo, now: Micros) -> Result<(), Invalid> {
        self.validate()?;
        if let Some(tags) = self.media_tags {
            let merged = if self.append_tags {
                let mut all = media.media_tags.clone();
                all.extend(tags.into_iter().filter(|t| !media.media_tags.contains(t)));
                all
            } else {
                tags
            };
            check_tag_count(&merged)?;
            media.media_tags = merged;
        }
        if let Some(v) = self.business_type {
            media.business_type = Some(v);
        }
        if let Some(v) = self.title {
            media.title = v;
        }
        if self.description.is_some() {
            media.description = self.description;
        }
        if self.category.is_some() {
            media.category = self.category;
        }
        if self.cover_url.is_some() {
            media.cover_url = self.cover_url;
        }
        if self.user_data.is_some() {
            media.user_data = self.user_data;
        }
        if self.cate_id.is_some() {
            media.cate_id = self.cate_id;
        }
        if self.reference_id.is_some() {
            media.reference_id = self.reference_id;
        }
        media.modified_time = now.max(media.modified_time);
        Ok(())
    }
}

/// One condition of a media listing; conditions are joined with AND.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCond {
    MediaId(Vec<String>),
    TitleEq(String),
    /// Substring of the title.
    TitleLike(String),
    MediaType(Vec<MediaType>),
    BusinessType(Vec<BusinessType>),
    Source(Vec<MediaSource>),
    Status(Vec<MediaStatus>),
    CateId(Vec<i64>),
    /// Any of these tags.
    Tag(Vec<String>),
    /// Created strictly after.
    CreatedAfter(Micros),
    /// Created at or before.
    CreatedUntil(Micros),
}

/// Filters, order and page of ListMediaBasicInfos and SearchMedia.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaQuery {
    pub conditions: Vec<MediaCond>,
    pub ascending: bool,
    pub page: super::Page,
}

/// Parses the supported subset of SearchMedia's `Match`: conditions `field = 'v'`,
/// `field in ('a', 'b')` and `title like '%v%'` joined by `and`, over title, mediaType,
/// businessType, status, cateId, mediaTags and source.
pub fn parse_match(expr: &str) -> Result<Vec<MediaCond>, String> {
    let tokens = match_tokens(expr)?;
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: usize| tokens.get(i).map(|t| t.as_str()).unwrap_or("");
    loop {
        let field = word(i);
        let op = word(i + 1).to_ascii_lowercase();
        i += 2;
        let values: Vec<String> = match op.as_str() {
            "=" | "like" => {
                let v = literal(word(i))?;
                i += 1;
                vec![v]
            }
            "in" => {
                if word(i) != "(" {
                    return Err("Expected ( after in.".into());
                }
                i += 1;
                let mut vals = Vec::new();
                loop {
                    vals.push(literal(word(i))?);
                    i += 1;
                    match word(i) {
                        "," => i += 1,
                        ")" => {
                            i += 1;
                            break;
                        }
                        other => return Err(format!("Unexpected \"{other}\" in a value list.")),
                    }
                }
                vals
            }
            other => {
                return Err(format!(
                    "Unsupported operator \"{other}\"; use =, in or like."
                ));
            }
        };
        out.push(match (field, op.as_str()) {
            ("title", "like") => {
                let v = &values[0];
                let inner = v
                    .strip_prefix('%')
                    .and_then(|v| v.strip_suffix('%'))
                    .unwrap_or(v);
                MediaCond::TitleLike(inner.to_string())
            }
            ("title", "=") => MediaCond::TitleEq(values[0].clone()),
            ("title", _) => return Err("title supports = and like.".into()),
            (_, "like") => return Err(format!("like is supported for title only, not {field}.")),
            ("mediaType", _) => MediaCond::MediaType(parse_all(&values)?),
            ("businessType", _) => MediaCond::BusinessType(parse_all(&values)?),
            ("status", _) => MediaCond::Status(parse_all(&values)?),
            ("source", _) => MediaCond::Source(parse_all(&values)?),
            ("mediaTags", _) => MediaCond::Tag(values),
            ("cateId", _) => MediaCond::CateId(
                values
                    .iter()
                    .map(|v| {
                        v.parse()
                            .map_err(|_| format!("cateId {v} is not an integer."))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(format!("Unsupported field \"{field}\".")),
        });
        match word(i).to_ascii_lowercase().as_str() {
            "" => return Ok(out),
            "and" => i += 1,
            other => return Err(format!("Expected and, found \"{other}\".")),
        }
    }
}

/// Splits a Match expression into words, quoted literals (kept with their quotes) and
/// the punctuation `( ) , =`.
fn match_tokens(expr: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = expr.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | ',' | '=' => {
                tokens.push(c.to_string());
                chars.next();
            }
            '\'' | '"' => {
                chars.next();
                let mut lit = String::from("'");
                loop {
                    match chars.next() {
                        Some(x) if x == c => break,
                        Some(x) => lit.push(x),
                        None => return Err("Unterminated quoted value.".into()),
                    }
                }
                tokens.push(lit);
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_whitespace() || "(),='\"".contains(x) {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                tokens.push(w);
            }
        }
    }
    if tokens.len() > 200 {
        return Err("The expression is too long.".into());
    }
    Ok(tokens)
}

fn parse_all<T: std::str::FromStr<Err = String>>(values: &[String]) -> Result<Vec<T>, String> {
    values.iter().map(|v| v.parse()).collect()
}

fn literal(token: &str) -> Result<String, String> {
    match token.strip_prefix('\'') {
        Some(v) => Ok(v.to_string()),
        None if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(token.to_string())
        }
        None => Err(format!("Expected a quoted value, found \"{token}\".")),
    }
}

/// The media type a file name suggests, for registrations without MediaType.
pub fn media_type_from_name(name: &str) -> Option<MediaType> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" | "mov" | "mkv" | "flv" | "avi" | "webm" | "ts" | "m3u8" | "wmv" | "mpg" | "mpeg"
        | "3gp" | "m4v" => MediaType::Video,
        "mp3" | "m4a" | "aac" | "wav" | "flac" | "ogg" | "opus" | "wma" | "amr" => MediaType::Audio,
        "png" | "jpg" | "jpeg" | "gif" | "bmp" | "webp" | "tif" | "tiff" | "heic" => {
            MediaType::Image
        }
        "srt" | "ass" | "vtt" | "ttf" | "otf" | "txt" => MediaType::Text,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oss(b: &str, k: &str) -> InputLocation {
        InputLocation::Oss {
            bucket: b.into(),
            key: k.into(),
        }
    }

    #[test]
    fn url_forms_resolve_to_the_same_object() {
        let p = |u| InputLocation::parse(u, "InputURL");
        assert_eq!(
            p("oss://my-bucket/a/b.mp4").unwrap(),
            oss("my-bucket", "a/b.mp4")
        );
        assert_eq!(
            p("https://my-bucket.oss-cn-shanghai.aliyuncs.com/a/b.mp4?x=1").unwrap(),
            oss("my-bucket", "a/b.mp4")
        );
        assert_eq!(
            p("http://my-bucket.oss-cn-beijing-internal.aliyuncs.com/a/b%20c.mp4").unwrap(),
            oss("my-bucket", "a/b c.mp4")
        );
        // A `%` without two hex digits stays; `+` is not a space in a path.
        assert_eq!(
            p("https://my-bucket.oss-cn-shanghai.aliyuncs.com/%E4%B8%AD/50%zz+1%2").unwrap(),
            oss("my-bucket", "中/50%zz+1%2")
        );
        let bad_utf8 = p("https://my-bucket.oss-cn-shanghai.aliyuncs.com/a%FF.mp4");
        assert!(bad_utf8.is_err(), "{bad_utf8:?}");
        assert!(matches!(
            p("https://example.com/v.mp4").unwrap(),
            InputLocation::Remote { host, .. } if host == "example.com"
        ));
    }

    #[test]
    fn match_subset() {
        let c =
            parse_match("title like '%cat%' and mediaType in ('video', 'audio') and cateId = 3")
                .unwrap();
        assert_eq!(
            c,
            vec![
                MediaCond::TitleLike("cat".into()),
                MediaCond::MediaType(vec![MediaType::Video, MediaType::Audio]),
                MediaCond::CateId(vec![3]),
            ]
        );
        assert_eq!(
            parse_match("mediaTags = 'a b'").unwrap(),
            vec![MediaCond::Tag(vec!["a b".into()])]
        );
        for bad in [
            "title",
            "foo = 'x'",
            "title = 'x' or status = 'Normal'",
            "mediaType = 'movie'",
            "title = 'x",
            "status like 'N%'",
        ] {
            assert!(parse_match(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "oss://b/../x",
            "oss://bkt/../../etc/passwd",
            "oss://bkt//abs",
            "oss://bkt/a/./b",
            "oss://bkt/a\\b",
            "oss://bkt/a\0b",
            "oss://BKT/x",
            "oss://bkt",
            "vod://123",
            "ftp://x/y",
            "https://bkt.oss-cn-shanghai.aliyuncs.com/%2e%2e/x",
        ] {
            assert!(InputLocation::parse(bad, "InputURL").is_err(), "{bad}");
        }
    }

    #[test]
    fn update_limits_are_in_bytes_and_atomic() {
        let mut m = MediaInfo {
            media_tags: vec!["a".into()],
            need_snapshot: false,
            ..MediaInfo::registered(
                "a",
                "m".into(),
                "oss://b/k".into(),
                "oss://b/k".into(),
                MediaSource::Oss,
                "t".into(),
                0,
            )
        };
        // 43 three-byte characters = 129 bytes > 128, although only 43 characters.
        let long_title = "中".repeat(43);
        let upd = MediaUpdate {
            title: Some(long_title),
            description: Some("changed".into()),
            ..Default::default()
        };
        let err = upd.apply(&mut m, 1).unwrap_err();
        assert_eq!(err.param, "Title");
        assert_eq!(m.description, None, "nothing half-applied");

        let tags = parse_tags("b, c,b").unwrap();
        let upd = MediaUpdate {
            media_tags: Some(tags),
            append_tags: true,
            ..Default::default()
        };
        upd.apply(&mut m, 2).unwrap();
        assert_eq!(m.media_tags, vec!["a", "b", "c"]);
        let many: Vec<String> = (0..16).map(|i| format!("t{i}")).collect();
        let upd = MediaUpdate {
            media_tags: Some(many),
            append_tags: true,
            ..Default::default()
        };
        assert_eq!(upd.apply(&mut m, 3).unwrap_err().param, "MediaTags");
        assert_eq!(m.media_tags.len(), 3);
        assert!(parse_tags(&"x".repeat(33)).is_err());
        assert!(check_reference_id("abc_12").is_ok());
        assert!(check_reference_id("abc").is_err());
        assert!(check_reference_id("abc def").is_err());
    }
}
