//! Captions: `SubtitleTracks` text clips and clips' `Text` effects, burned through one
//! generated ASS file (libass). Vendor fonts (SimSun, KaiTi, …) all map to the installed CJK
//! font, since Chinese text is the common case and DejaVu has no CJK glyphs.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Value};

use super::check::{effects, str_of};
use super::plan::Plan;
use super::{RenderError, invalid};

/// One line of text on the output: frames `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Caption {
    pub start: u64,
    pub end: u64,
    pub text: String,
    /// Position (ratio or pixels, as on clips); `None` = placed by `alignment` with margins.
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// ASS numpad alignment (1–9).
    pub alignment: u8,
    pub size: f64,
    /// ASS colour `&HAABBGGRR`.
    pub colour: String,
    pub outline_colour: String,
    pub back_colour: String,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub outline: f64,
    pub shadow: f64,
    pub border_style: u8,
    pub angle: f64,
    pub spacing: f64,
}

/// Installed CJK fonts, by file, with the family name libass (fontconfig) knows them by.
const CJK_FONTS: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "WenQuanYi Zen Hei",
    ),
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "Noto Sans CJK SC",
    ),
    (
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "WenQuanYi Micro Hei",
    ),
];

/// The family name of an installed CJK font, if any.
pub fn cjk_font() -> Option<String> {
    CJK_FONTS
        .iter()
        .find(|(file, _)| Path::new(file).exists())
        .map(|(_, family)| (*family).to_owned())
}

const ALIGNMENTS: &[(&str, u8)] = &[
    ("BottomLeft", 1),
    ("BottomCenter", 2),
    ("BottomRight", 3),
    ("CenterLeft", 4),
    ("CenterCenter", 5),
    ("CenterRight", 6),
    ("TopLeft", 7),
    ("TopCenter", 8),
    ("TopRight", 9),
];

/// A subtitle clip spanning `[within_start, within_end)` unless timed; its `TimelineIn` and
/// `TimelineOut` are offsets from `within_start` (0 for subtitle tracks, the clip's start for
/// `Text` effects). `None` when it falls outside.
pub(super) fn caption(
    clip: &Map<String, Value>,
    within_start: u64,
    within_end: u64,
    fps: (u32, u32),
    at: &str,
) -> Result<Option<Caption>, RenderError> {
    let num = |key: &str| super::number(clip.get(key), &format!("{at}.{key}"));
    let frame = |t: f64| (t * fps.0 as f64 / fps.1 as f64).round().max(0.0) as u64;
    let start = within_start + num("TimelineIn")?.map_or(0, frame);
    let end = num("TimelineOut")?
        .map_or(within_end, |t| within_start + frame(t))
        .min(within_end);
    if end <= start {
        return Ok(None);
    }
    let colour = |key: &str, default: &str, alpha: f64| -> Result<String, RenderError> {
        let c = str_of(clip.get(key)).unwrap_or(default);
        let hex = super::plan::parse_color(c)
            .ok_or_else(|| invalid(&format!("{at}.{key}"), "must be a colour like #RRGGBB"))?;
        let (r, g, b) = (&hex[2..4], &hex[4..6], &hex[6..8]);
        let a = ((1.0 - alpha.clamp(0.0, 1.0)) * 255.0).round() as u8;
        Ok(format!("&H{a:02X}{b}{g}{r}").to_uppercase())
    };
    let alignment = match str_of(clip.get("Alignment")) {
        None => {
            if clip.get("X").is_some() || clip.get("Y").is_some() {
                7
            } else {
                2
            }
        }
        Some(a) => ALIGNMENTS
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(a))
            .map(|(_, v)| *v)
            .ok_or_else(|| invalid(&format!("{at}.Alignment"), "is not a known alignment"))?,
    };
    let face = |key: &str| {
        clip.get("FontFace")
            .and_then(|f| f.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let text = match clip.get("Content") {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    Ok(Some(Caption {
        start,
        end,
        text,
        x: num("X")?,
        y: num("Y")?,
        alignment,
        size: num("FontSize")?.unwrap_or(36.0).max(1.0),
        colour: colour(
            "FontColor",
            "#FFFFFF",
            num("FontColorOpacity")?.unwrap_or(1.0),
        )?,
        outline_colour: colour("OutlineColour", "#000000", 1.0)?,
        back_colour: colour("BackColour", "#000000", 1.0)?,
        bold: face("Bold"),
        italic: face("Italic"),
        underline: face("Underline"),
        outline: num("Outline")?.unwrap_or(1.0).max(0.0),
        shadow: num("Shadow")?.unwrap_or(0.0).max(0.0),
        border_style: match num("BorderStyle")? {
            Some(3.0) => 3,
            _ => 1,
        },
        angle: num("Angle")?.unwrap_or(0.0),
        spacing: num("Spacing")?.unwrap_or(0.0),
    }))
}

/// The `Text` effects of a visual clip shown on frames `[start, end)`.
pub(super) fn text_effects(
    clip: &Map<String, Value>,
    start: u64,
    end: u64,
    fps: (u32, u32),
    at: &str,
) -> Result<Vec<Caption>, RenderError> {
    let mut out = Vec::new();
    for (e, effect) in effects(clip).enumerate() {
        if let Some(effect) = effect.as_object()
            && str_of(effect.get("Type")).is_some_and(|t| t.eq_ignore_ascii_case("Text"))
            && let Some(c) = caption(effect, start, end, fps, &format!("{at}.Effects[{e}]"))?
        {
            out.push(c);
        }
    }
    Ok(out)
}

fn ass_time(frame: u64, (n, d): (u32, u32)) -> String {
    // Centiseconds, rounded up so a caption never starts before its frame.
    let cs = (frame as u128 * 100 * d as u128).div_ceil(n as u128) as u64;
    format!(
        "{}:{:02}:{:02}.{:02}",
        cs / 360_000,
        cs / 6000 % 60,
        cs / 100 % 60,
        cs % 100
    )
}

/// Content as ASS dialogue text: line breaks (`\n`, `\N`, a newline) are `\N`, braces are
/// literal.
fn escape(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\n', "\\N")
        .replace("\\n", "\\N")
        .replace('{', "\\{")
        .replace('}', "\\}")
}

/// The ASS file for the plan's captions (canvas = the output size).
pub(super) fn ass(plan: &Plan) -> String {
    let font = plan.font.as_deref().unwrap_or("sans-serif");
    let mut s = format!(
        "[Script Info]\nScriptType: v4.00+\nPlayResX: {}\nPlayResY: {}\nWrapStyle: 0\nScaledBorderAndShadow: yes\n\n\
         [V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n\
         Style: Default,{font},36,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,1,0,2,20,20,20,1\n\n\
         [Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n",
        plan.width, plan.height
    );
    for c in &plan.captions {
        let mut tags = format!(
            "\\an{}\\fs{}\\c&H{}&\\3c&H{}&\\4c&H{}&\\1a&H{}&\\b{}\\i{}\\u{}\\bord{}\\shad{}\\frz{}\\fsp{}",
            c.alignment,
            c.size,
            &c.colour[4..],
            &c.outline_colour[4..],
            &c.back_colour[4..],
            &c.colour[2..4],
            u8::from(c.bold),
            u8::from(c.italic),
            u8::from(c.underline),
            c.outline,
            c.shadow,
            c.angle,
            c.spacing
        );
        if c.x.is_some() || c.y.is_some() {
            let px = |v: Option<f64>, dim: u32| {
                let v = v.unwrap_or(0.0);
                if v <= 1.0 { v * dim as f64 } else { v }
            };
            let _ = write!(
                tags,
                "\\pos({:.0},{:.0})",
                px(c.x, plan.width),
                px(c.y, plan.height)
            );
        }
        if c.border_style == 3 {
            tags.push_str("\\xbord0\\ybord0");
        }
        let _ = writeln!(
            s,
            "Dialogue: 0,{},{},Default,,0,0,0,,{{{tags}}}{}",
            ass_time(c.start, plan.fps),
            ass_time(c.end, plan.fps),
            escape(&c.text)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_text() {
        assert_eq!(ass_time(45, (30, 1)), "0:00:01.50");
        assert_eq!(ass_time(1, (30, 1)), "0:00:00.04");
        assert_eq!(escape("a\\nb\n{c}"), "a\\Nb\\N\\{c\\}");
    }
}
