//! Timeline parsing + Duration on a generated 10,000-clip timeline (target: ≤ 10 ms).
//!
//! Run with `cargo bench --bench timeline` (add `-- --quick` for a shorter run). The
//! `parse+duration` figure is the one the target applies to; `parse` alone and
//! `parse+to_frontend` (what GetEditingProject with `RequestSource=WebSDK` does) are
//! reported for information. `cargo run --release --bin openice-bench` copies the latest
//! `parse+duration` estimate into docs/benchmarks.md.

use std::collections::HashMap;
use std::fmt::Write;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openice::domain::timeline::{ClipSource, Timeline};

/// Clips in the generated timeline, over all tracks.
const CLIPS: usize = 10_000;

/// A deterministic 32-hex-digit ID (the shape of the vendor's MediaIds).
fn media_id(n: usize) -> String {
    let x = (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{x:016x}{:016x}", x.rotate_left(17) ^ 0xA5A5_5A5A_DEAD_BEEF)
}

/// A timeline as an editor would send it: one long main video track (8,000 clips: MediaId,
/// In, Out; every 5th placed explicitly with TimelineIn; every 20th with Effects; a few
/// referenced by MediaURL), one audio track (1,500 clips), one subtitle track (500 clips),
/// plus the usual unknown keys (FECanvas, Speed, Volume) the server keeps verbatim.
fn generate(clips: usize) -> String {
    let video = clips * 80 / 100;
    let audio = clips * 15 / 100;
    let subtitles = clips - video - audio;
    let mut s = String::with_capacity(clips * 200);
    s.push_str(r#"{"FECanvas":{"Width":1920,"Height":1080},"VideoTracks":[{"MainTrack":true,"VideoTrackClips":["#);
    let mut at = 0.0f64;
    for i in 0..video {
        if i > 0 {
            s.push(',');
        }
        let len = 2.0 + (i % 7) as f64 * 0.75;
        let inp = (i % 11) as f64 * 0.5;
        s.push('{');
        if i % 97 == 13 {
            let _ = write!(
                s,
                r#""MediaURL":"https://bench-bucket.oss-cn-shanghai.aliyuncs.com/clips/{i}.mp4","#
            );
        } else {
            let _ = write!(s, r#""MediaId":"{}","#, media_id(i % 600));
        }
        let _ = write!(s, r#""In":{inp},"Out":{}"#, inp + len);
        if i % 5 == 0 {
            let _ = write!(s, r#","TimelineIn":{at}"#);
        }
        if i % 20 == 0 {
            s.push_str(
                r#","Effects":[{"Type":"Transition","SubType":"linearblur","Duration":0.3},{"Type":"Volume","Gain":0.8}]"#,
            );
        }
        if i % 50 == 0 {
            s.push_str(r#","Speed":1.5"#);
            at += len / 1.5;
        } else {
            at += len;
        }
        s.push('}');
    }
    s.push_str(r#"]}],"AudioTracks":[{"AudioTrackClips":["#);
    let mut at = 0.0f64;
    for i in 0..audio {
        if i > 0 {
            s.push(',');
        }
        let len = 8.0 + (i % 3) as f64;
        let _ = write!(
            s,
            r#"{{"MediaId":"{}","In":0,"Out":{len},"TimelineIn":{at},"Effects":[{{"Type":"Volume","Gain":0.3}}]}}"#,
            media_id(10_000 + i % 40)
        );
        at += len;
    }
    s.push_str(r#"]}],"SubtitleTracks":[{"SubtitleTrackClips":["#);
    for i in 0..subtitles {
        if i > 0 {
            s.push(',');
        }
        let t = i as f64 * 4.0;
        let _ = write!(
            s,
            r##"{{"Type":"Text","Content":"Line {i} of the subtitles","X":0.1,"Y":0.8,"Font":"SimSun","FontSize":40,"FontColor":"#ffffff","TimelineIn":{t},"TimelineOut":{}}}"##,
            t + 3.5
        );
    }
    s.push_str("]}]}");
    s
}

/// Probed source lengths, as `source_durations` in the projects action would find them.
fn durations(t: &Timeline) -> HashMap<ClipSource, f64> {
    t.sources()
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), 20.0 + (i % 13) as f64))
        .collect()
}

fn bench_timeline(c: &mut Criterion) {
    let raw = generate(CLIPS);
    let parsed = Timeline::parse(&raw).expect("the generated timeline is valid");
    let known = durations(&parsed);
    let total = parsed.duration(|s| known.get(s).copied());
    assert!(total > 0.0);
    eprintln!(
        "timeline: {CLIPS} clips, {} bytes, {} distinct sources, Duration {total} s",
        raw.len(),
        known.len()
    );

    let mut g = c.benchmark_group("timeline_10k");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("parse", |b| {
        b.iter(|| Timeline::parse(black_box(&raw)).expect("valid"))
    });
    g.bench_function("parse+duration", |b| {
        b.iter(|| {
            let t = Timeline::parse(black_box(&raw)).expect("valid");
            t.duration(|s| known.get(s).copied())
        })
    });
    g.bench_function("parse+to_frontend", |b| {
        b.iter(|| {
            let t = Timeline::parse(black_box(&raw)).expect("valid");
            t.to_frontend(|s| known.get(s).copied())
        })
    });
    g.finish();
}

criterion_group!(benches, bench_timeline);
criterion_main!(benches);
