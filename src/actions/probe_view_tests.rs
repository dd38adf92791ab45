//! The wire view built from stored facts is the vendor's view byte for byte: format-1 rows
//! (which were the wire view) convert to facts whose wire view is the row again, and facts
//! from real probes survive facts → wire → format 1 → facts.

use serde_json::{Value, json};

use super::*;
use crate::media::probe::{ProbeLimits, legacy, probe};

/// The wire view of `p` as a format-1 row held it.
fn as_v1(p: &ProbeResult) -> Value {
    let wire = ProbeWire::from(p);
    let mut file = serde_json::Map::new();
    let fields = [
        ("FormatName", wire.file.format_name),
        ("Duration", wire.file.duration),
        ("Bitrate", wire.file.bitrate),
        ("Width", wire.file.width),
        ("Height", wire.file.height),
        ("FileSize", text(&p.file.file_size)),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            file.insert(key.into(), value.into());
        }
    }
    json!({
        "media_type": p.media_type,
        "file": file,
        "video_streams": wire.video_streams,
        "audio_streams": wire.audio_streams,
        "subtitle_streams": wire.subtitle_streams,
    })
}

/// A format-1 row as the probe wrote it before format 2 (every key it could hold).
const V1_ROW: &str = concat!(
    r#"{"media_type":"video","file":{"FormatName":"png_pipe","Duration":"3.000000","Bitrate":"121.78","Width":"64","Height":"48","FileSize":"469"},"#,
    r#""video_streams":[{"Index":"0","CodecName":"h264","CodecLongName":"H.264","Profile":"High","CodecTimeBase":"1/50","CodecTagString":"avc1","CodecTag":"0x31637661","Width":"320","Height":"240","HasBFrames":"2","Sar":"1:1","Dar":"4:3","PixFmt":"yuv420p","Level":"13","Fps":"29.97","AvgFPS":"23.976","Timebase":"1/12800","StartTime":"0.000000","Duration":"3.000000","Bitrate":"41.21","NumFrames":"75","Nb_frames":"75","Lang":"und","Rotate":"90"}],"#,
    r#""audio_streams":[{"Index":"1","CodecName":"aac","CodecLongName":"AAC","CodecTimeBase":"1/44100","CodecTagString":"mp4a","CodecTag":"0x6134706d","Profile":"LC","SampleFmt":"fltp","SampleRate":"44100","Channels":"1","ChannelLayout":"mono","Timebase":"1/44100","StartTime":"0.000000","Duration":"3.000000","Bitrate":"69.58","Fps":"43.07","NumFrames":"131","Lang":"eng"}],"#,
    r#""subtitle_streams":[{"Index":"2","CodecName":"mov_text","CodecLongName":"3GPP Timed Text subtitle","CodecTimeBase":"1/1000","CodecTagString":"tx3g","CodecTag":"0x67337874","Timebase":"1/1000","StartTime":"0.000000","Duration":"3.000000","Lang":"eng"}]}"#,
);

#[test]
fn format_1_rows_answer_the_same_wire_view() {
    let odd = r#"{"media_type":"image","file":{"FormatName":"image2","Width":"0064"},
        "video_streams":[{"Index":"0","Width":"64","Level":"-1"}],"audio_streams":[],"subtitle_streams":[]}"#;
    let empty = r#"{"media_type":"audio","file":{},"video_streams":[],"audio_streams":[{}],"subtitle_streams":[]}"#;
    for row in [V1_ROW, odd, empty] {
        let facts = legacy::from_v1(row).expect("format 1 converts");
        let stored = facts.to_stored();
        assert_eq!(ProbeResult::from_stored(&stored).expect("parses"), facts);
        let before: Value = serde_json::from_str(row).expect("json");
        assert_eq!(as_v1(&facts), before, "{stored}");
        // Byte for byte: key order and spelling of each wire object.
        let wire = ProbeWire::from(&facts);
        assert_eq!(
            serde_json::to_string(&wire.video_streams).expect("json"),
            serde_json::to_string(&before["video_streams"]).expect("json")
        );
    }
    let facts = legacy::from_v1(V1_ROW).expect("converts");
    assert_eq!(facts.video_streams[0].width, Some(Whole::Int(320)));
    assert_eq!(facts.video_streams[0].avg_fps.as_deref(), Some("23.976"));
    assert_eq!(facts.audio_streams[0].sample_rate, Some(Whole::Int(44100)));
    assert_eq!(facts.file.width, Some(Whole::Int(64)));
}

/// Runs ffmpeg with whitespace-separated `args` (temporary paths have no spaces).
fn ffmpeg(args: &str) {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .output()
        .expect("ffmpeg is required (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn probed_facts_survive_the_wire_view_and_format_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (srt, mp4, png, m4a) = (file("a.srt"), file("a.mp4"), file("a.png"), file("a.m4a"));
    std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nhello\n").expect("srt");
    ffmpeg(&format!(
        "-f lavfi -i testsrc=size=320x240:rate=30000/1001:duration=2 -f lavfi -i sine=duration=2 \
         -i {srt} -map 0 -map 1 -map 2 -c:v libx264 -c:a aac -c:s mov_text \
         -metadata:s:a language=eng -shortest {mp4}"
    ));
    ffmpeg(&format!("-f lavfi -i testsrc=size=64x48 -frames:v 1 {png}"));
    ffmpeg(&format!("-f lavfi -i sine=duration=1 -c:a aac {m4a}"));
    for input in [&mp4, &png, &m4a] {
        let facts = probe(input, &ProbeLimits::default()).await.expect("probe");
        let v1 = as_v1(&facts).to_string();
        assert_eq!(legacy::from_v1(&v1).expect("converts"), facts, "{v1}");
        if input == &mp4 {
            assert_eq!(
                (facts.audio_streams.len(), facts.subtitle_streams.len()),
                (1, 1),
                "{v1}"
            );
        }
    }
}
