//! Format 1 of stored probes, read only to convert old rows (store/probe_upgrade.rs): the
//! vendor's wire view itself, `{"media_type", "file", "video_streams", "audio_streams",
//! "subtitle_streams"}` with PascalCase keys inside and every value a string.
//!
//! Each format-1 key is the PascalCase spelling of its format-2 key (`HasBFrames` ↔
//! `has_b_frames`), except `AvgFPS` and the frame counts (`NumFrames`, `Nb_frames`, which
//! the probe always filled alike, are `frames`). The renamed object is then read as format 2,
//! whose integer facts accept text ([`Whole`](super::Whole)), and unknown keys are refused.

use serde_json::{Map, Value};

use super::facts::{FORMAT, ProbeResult};

/// Format-1 text as [`ProbeResult`]; `Err` says why it cannot be read.
pub fn from_v1(text: &str) -> Result<ProbeResult, String> {
    let mut root: Map<String, Value> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if root.contains_key("v") {
        return Err("not format 1: it has a version marker".into());
    }
    if let Some(file) = root.get_mut("file") {
        rename_keys(file)?;
    }
    for list in ["video_streams", "audio_streams", "subtitle_streams"] {
        if let Some(Value::Array(streams)) = root.get_mut(list) {
            streams.iter_mut().try_for_each(rename_keys)?;
        }
    }
    root.insert("v".into(), Value::from(FORMAT));
    serde_json::from_value(Value::Object(root)).map_err(|e| e.to_string())
}

fn rename_keys(object: &mut Value) -> Result<(), String> {
    let Value::Object(fields) = object else {
        return Err(format!("{object} is not an object"));
    };
    let mut renamed = Map::with_capacity(fields.len());
    for (key, value) in std::mem::take(fields) {
        let name = snake_case(&key);
        match renamed.get(&name) {
            Some(earlier) if *earlier != value => {
                return Err(format!("{key} differs from the other {name} value"));
            }
            _ => renamed.insert(name, value),
        };
    }
    *fields = renamed;
    Ok(())
}

/// `HasBFrames` → `has_b_frames`; the few wire names that are not plain PascalCase by table.
fn snake_case(key: &str) -> String {
    match key {
        "AvgFPS" => "avg_fps".into(),
        "NumFrames" | "Nb_frames" => "frames".into(),
        _ => {
            let mut out = String::with_capacity(key.len() + 4);
            for (i, c) in key.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::probe::{MediaKind, Whole};

    #[test]
    fn format_1_keys_become_format_2_keys() {
        for (wire, stored) in [
            ("FormatName", "format_name"),
            ("HasBFrames", "has_b_frames"),
            ("CodecTagString", "codec_tag_string"),
            ("Sar", "sar"),
            ("AvgFPS", "avg_fps"),
            ("NumFrames", "frames"),
            ("Nb_frames", "frames"),
            ("Timebase", "timebase"),
        ] {
            assert_eq!(snake_case(wire), stored);
        }
    }

    #[test]
    fn format_1_rows_convert_and_odd_ones_are_refused() {
        let old = r#"{"media_type":"image","file":{"FormatName":"png_pipe","Width":"64","FileSize":"0469"},
            "video_streams":[{"Index":"0","Level":"-1","NumFrames":"1","Nb_frames":"1"}],
            "audio_streams":[],"subtitle_streams":[]}"#;
        let facts = from_v1(old).expect("converts");
        assert_eq!(facts.media_type, MediaKind::Image);
        assert_eq!(facts.file.width, Some(Whole::Int(64)));
        // Not canonical integer text: kept as text, so the API answers it unchanged.
        assert_eq!(facts.file.file_size, Some(Whole::Text("0469".into())));
        assert_eq!(facts.video_streams[0].level, Some(Whole::Int(-1)));
        assert_eq!(facts.video_streams[0].frames, Some(Whole::Int(1)));
        assert!(facts.to_stored().starts_with(r#"{"v":2,"media_type":"image","file":{"format_name":"png_pipe","width":64,"file_size":"0469"}"#));

        for bad in [
            "not json",
            "[]",
            r#"{"v":2,"media_type":"video","file":{},"video_streams":[],"audio_streams":[],"subtitle_streams":[]}"#,
            r#"{"media_type":"video","file":{"Colour":"red"},"video_streams":[],"audio_streams":[],"subtitle_streams":[]}"#,
            r#"{"media_type":"video","file":{},"video_streams":[{"NumFrames":"2","Nb_frames":"3"}],"audio_streams":[],"subtitle_streams":[]}"#,
            r#"{"media_type":"video","file":{"Width":640},"video_streams":[3],"audio_streams":[],"subtitle_streams":[]}"#,
        ] {
            assert!(from_v1(bad).is_err(), "{bad}");
        }
    }
}
