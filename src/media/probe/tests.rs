//! Probe and snapshot tests on media made with ffmpeg, and the pure classification rules.

use super::classify::{decimal, interpret, parse_clock, parse_rational, rotation, video_info};
use super::ffprobe::{Output, Stream};
use super::process::{
    EXCERPT_CHARS, Tools, find_program, read_capped, read_keep_head, stderr_excerpt,
};
use super::snapshot::clamp_seek;
use super::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command as StdCommand;
use tempfile::TempDir;

/// Runs ffmpeg to make test media; panics with a clear message when it is missing.
fn ffmpeg(args: &[&str]) {
    let program = find_program("ffmpeg").expect(
        "ffmpeg/ffprobe are required for the media probe tests: install them \
         (apt-get install ffmpeg) and make sure they are on PATH",
    );
    assert!(
        find_program("ffprobe").is_some(),
        "ffprobe is required for the media probe tests (apt-get install ffmpeg)"
    );
    let output = StdCommand::new(program)
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        output.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 temp path")
}

/// 3 s of testsrc 320x240@25 (h264) + sine (aac).
fn make_mp4(dir: &TempDir, name: &str, extra: &[&str]) -> PathBuf {
    let path = dir.path().join(name);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
    ];
    args.extend_from_slice(extra);
    args.push(path_str(&path));
    ffmpeg(&args);
    path
}

fn make_m4a(dir: &TempDir) -> PathBuf {
    let path = dir.path().join("tone.m4a");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=3",
        "-c:a",
        "aac",
        path_str(&path),
    ]);
    path
}

fn make_png(dir: &TempDir, name: &str, size: &str) -> PathBuf {
    // Made under a plain name, then renamed: ffmpeg would read `%d` in it as a pattern.
    let made = dir.path().join("made.png");
    let source = format!("testsrc=size={size}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &source,
        "-frames:v",
        "1",
        path_str(&made),
    ]);
    let path = dir.path().join(name);
    std::fs::rename(&made, &path).expect("rename test image");
    path
}

fn write_prefix(from: &Path, to: &Path, len: usize) {
    let bytes = std::fs::read(from).expect("read media");
    std::fs::write(to, &bytes[..len.min(bytes.len())]).expect("write prefix");
}

async fn probe_ok(path: &Path) -> ProbeResult {
    match probe(path_str(path), &ProbeLimits::default()).await {
        Ok(result) => result,
        Err(err) => panic!("probe of {} failed: {err}", path.display()),
    }
}

async fn assert_failed(path: &Path) -> String {
    match probe(path_str(path), &ProbeLimits::default()).await {
        Err(ProbeError::Failed(message)) => message,
        other => panic!("expected Failed for {}, got {other:?}", path.display()),
    }
}

fn secs(value: &Option<String>) -> f64 {
    value
        .as_deref()
        .expect("duration present")
        .parse()
        .expect("numeric duration")
}

fn jpeg_size(path: &Path) -> (String, String) {
    let bytes = std::fs::read(path).expect("snapshot written");
    assert!(
        bytes.len() > 100,
        "snapshot too small: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "not a JPEG");
    let output = StdCommand::new(find_program("ffprobe").expect("ffprobe"))
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let json: Value = serde_json::from_slice(&output.stdout).expect("json");
    let stream = &json["streams"][0];
    assert_eq!(stream["codec_name"], "mjpeg");
    (stream["width"].to_string(), stream["height"].to_string())
}

#[tokio::test]
async fn probes_a_video_with_audio() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "clip.mp4", &[]);
    let result = probe_ok(&mp4).await;

    assert_eq!(result.media_type, MediaKind::Video);
    let file = &result.file;
    assert!(
        file.format_name
            .as_deref()
            .is_some_and(|f| f.contains("mp4"))
    );
    assert!(
        (secs(&file.duration) - 3.0).abs() < 0.1,
        "{:?}",
        file.duration
    );
    let kbps: f64 = file
        .bitrate
        .as_deref()
        .expect("bitrate")
        .parse()
        .expect("number");
    assert!(kbps > 1.0, "{kbps}");
    assert!(
        file.bitrate
            .as_deref()
            .unwrap_or("")
            .split('.')
            .nth(1)
            .is_none_or(|d| d.len() <= 2)
    );
    assert_eq!(file.width, Some(Whole::Int(320)));
    assert_eq!(file.height, Some(Whole::Int(240)));
    let size = std::fs::metadata(&mp4).expect("stat").len();
    assert_eq!(file.file_size, Some(Whole::Int(size as i64)));

    assert_eq!(result.video_streams.len(), 1);
    let video = &result.video_streams[0];
    assert_eq!(video.index, Some(Whole::Int(0)));
    assert_eq!(video.codec_name.as_deref(), Some("h264"));
    assert_eq!(video.width, Some(Whole::Int(320)));
    assert_eq!(video.height, Some(Whole::Int(240)));
    assert_eq!(video.fps.as_deref(), Some("25"));
    assert_eq!(video.avg_fps.as_deref(), Some("25"));
    assert_eq!(video.pix_fmt.as_deref(), Some("yuv420p"));
    assert_eq!(video.frames, Some(Whole::Int(75)));
    assert_eq!(video.codec_tag_string.as_deref(), Some("avc1"));
    assert!(video.timebase.is_some() && video.bitrate.is_some());
    assert_eq!(video.rotate, None);

    assert_eq!(result.audio_streams.len(), 1);
    let audio = &result.audio_streams[0];
    assert_eq!(audio.index, Some(Whole::Int(1)));
    assert_eq!(audio.codec_name.as_deref(), Some("aac"));
    assert_eq!(audio.sample_rate, Some(Whole::Int(44100)));
    assert_eq!(audio.channels, Some(Whole::Int(1)));
    assert_eq!(audio.fps, None, "audio has no frame rate");
    assert!(result.subtitle_streams.is_empty());
}

#[tokio::test]
async fn probes_audio_only_without_picture_fields() {
    let dir = TempDir::new().expect("tempdir");
    let m4a = make_m4a(&dir);
    let result = probe_ok(&m4a).await;
    assert_eq!(result.media_type, MediaKind::Audio);
    assert!(result.video_streams.is_empty());
    assert_eq!(result.file.width, None);
    assert_eq!(result.file.height, None);
    assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);
    assert!(result.file.bitrate.is_some());
    assert_eq!(result.audio_streams[0].codec_name.as_deref(), Some("aac"));

    let json = serde_json::to_value(&result.file).expect("json");
    assert!(
        json.get("Width").is_none() && json.get("Height").is_none(),
        "{json}"
    );
}

#[tokio::test]
async fn mp3_with_cover_art_is_audio_and_snapshots_the_cover() {
    let dir = TempDir::new().expect("tempdir");
    let cover = make_png(&dir, "cover.png", "64x48");
    let mp3 = dir.path().join("song.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=2",
        "-i",
        path_str(&cover),
        "-map",
        "0",
        "-map",
        "1",
        "-c:a",
        "libmp3lame",
        "-c:v",
        "png",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
        path_str(&mp3),
    ]);
    let result = probe_ok(&mp3).await;
    assert_eq!(result.media_type, MediaKind::Audio);
    assert!(
        result.video_streams.is_empty(),
        "cover art is not a video stream"
    );
    assert_eq!(result.file.width, None);
    assert_eq!(result.audio_streams[0].codec_name.as_deref(), Some("mp3"));

    let out = dir.path().join("cover.jpg");
    snapshot(path_str(&mp3), 1.0, &out, &ProbeLimits::default())
        .await
        .expect("snapshot of cover art");
    assert_eq!(jpeg_size(&out), ("64".into(), "48".into()));
}

#[tokio::test]
async fn probes_a_png_as_image_without_duration() {
    let dir = TempDir::new().expect("tempdir");
    let png = make_png(&dir, "still.png", "64x48");
    let result = probe_ok(&png).await;
    assert_eq!(result.media_type, MediaKind::Image);
    assert_eq!(result.file.duration, None);
    assert_eq!(result.file.bitrate, None);
    assert_eq!(result.file.width, Some(Whole::Int(64)));
    assert_eq!(result.file.height, Some(Whole::Int(48)));
    assert!(result.file.file_size.is_some());
    let stream = &result.video_streams[0];
    assert_eq!(stream.codec_name.as_deref(), Some("png"));
    assert_eq!(stream.fps, None);
    assert_eq!(stream.duration, None);
    assert!(result.audio_streams.is_empty());
}

#[tokio::test]
async fn jpeg_and_animated_gif_are_images() {
    let dir = TempDir::new().expect("tempdir");
    let jpg = dir.path().join("photo.jpg");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=80x60",
        "-frames:v",
        "1",
        path_str(&jpg),
    ]);
    let gif = dir.path().join("anim.gif");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=80x60:rate=5:duration=1",
        path_str(&gif),
    ]);
    for path in [&jpg, &gif] {
        let result = probe_ok(path).await;
        assert_eq!(result.media_type, MediaKind::Image, "{}", path.display());
        assert_eq!(result.file.duration, None);
        assert_eq!(result.file.width, Some(Whole::Int(80)));
    }
}

#[tokio::test]
async fn reads_language_rotation_and_matroska_durations() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "plain.mp4", &[]);
    let rotated = dir.path().join("rotated.mp4");
    ffmpeg(&[
        "-i",
        path_str(&mp4),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        path_str(&rotated),
    ]);
    let result = probe_ok(&rotated).await;
    // ffmpeg 5.x turns the `rotate` tag into a display matrix whose direction differs
    // between versions, so only a quarter turn is asserted here; the direction is
    // pinned by `rotation_from_tag_or_matrix`.
    let rotate = &result.video_streams[0].rotate;
    assert!(matches!(rotate, Some(Whole::Int(90 | 270))), "{rotate:?}");
    assert_eq!(
        result.file.width,
        Some(Whole::Int(320)),
        "stored size, not rotated"
    );
    let out = dir.path().join("upright.jpg");
    snapshot(path_str(&rotated), 1.0, &out, &ProbeLimits::default())
        .await
        .expect("snapshot of rotated video");
    assert_eq!(
        jpeg_size(&out),
        ("240".into(), "320".into()),
        "cover is shown upright"
    );

    let mkv = dir.path().join("tagged.mkv");
    ffmpeg(&[
        "-i",
        path_str(&mp4),
        "-c",
        "copy",
        "-metadata:s:a:0",
        "language=eng",
        path_str(&mkv),
    ]);
    let result = probe_ok(&mkv).await;
    assert_eq!(result.audio_streams[0].lang.as_deref(), Some("eng"));
    assert!((secs(&result.video_streams[0].duration) - 3.0).abs() < 0.1);
    assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);
}

#[tokio::test]
async fn truncated_mp4_fails() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "clip.mp4", &[]);
    let cut = dir.path().join("cut.mp4");
    write_prefix(&mp4, &cut, 2048);
    let message = assert_failed(&cut).await;
    assert!(
        !message.contains(path_str(&cut)),
        "input leaked into {message:?}"
    );
    assert!(!message.contains(" @ 0x"), "{message:?}");
}

#[tokio::test]
async fn header_only_faststart_mp4_fails() {
    // The moov atom is intact (so the header claims 3 s) but no media data follows.
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "fast.mp4", &["-movflags", "+faststart"]);
    let cut = dir.path().join("cut.mp4");
    write_prefix(&mp4, &cut, 2048);
    assert_failed(&cut).await;
}

#[tokio::test]
async fn truncated_png_fails() {
    let dir = TempDir::new().expect("tempdir");
    let png = make_png(&dir, "still.png", "64x48");
    let len = std::fs::metadata(&png).expect("stat").len() as usize;
    for keep in [100, len - 8] {
        let cut = dir.path().join(format!("cut{keep}.png"));
        write_prefix(&png, &cut, keep);
        assert_failed(&cut).await;
    }
}

#[tokio::test]
async fn empty_text_and_missing_files_fail() {
    let dir = TempDir::new().expect("tempdir");
    let empty = dir.path().join("empty.mp4");
    std::fs::write(&empty, b"").expect("write");
    assert_failed(&empty).await;

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some words\nand another line\n".repeat(50)).expect("write");
    assert_failed(&text).await;
    let disguised = dir.path().join("notes.mp4");
    std::fs::write(&disguised, "not a movie at all").expect("write");
    assert_failed(&disguised).await;

    let missing = dir.path().join("missing.mp4");
    let message = assert_failed(&missing).await;
    assert!(message.contains("<input>"), "{message:?}");
}

#[tokio::test]
async fn timeout_kills_the_probe() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "clip.mp4", &[]);
    let limits = ProbeLimits {
        timeout: Duration::from_millis(1),
        ..ProbeLimits::default()
    };
    let started = std::time::Instant::now();
    let result = probe(path_str(&mp4), &limits).await;
    assert!(matches!(result, Err(ProbeError::Timeout)), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let out = dir.path().join("cover.jpg");
    let result = snapshot(path_str(&mp4), 1.0, &out, &limits).await;
    assert!(matches!(result, Err(ProbeError::Timeout)), "{result:?}");
    assert!(!out.exists());
}

#[tokio::test]
async fn memory_limit_is_enforced_under_prlimit() {
    if find_program("prlimit").is_none() {
        eprintln!("prlimit not installed: limits cannot be enforced, nothing to check");
        return;
    }
    let dir = TempDir::new().expect("tempdir");
    let png = make_png(&dir, "still.png", "64x48");
    let limits = ProbeLimits {
        max_memory_bytes: 8 << 20,
        ..ProbeLimits::default()
    };
    let result = probe(path_str(&png), &limits).await;
    assert!(matches!(result, Err(ProbeError::Failed(_))), "{result:?}");
}

#[tokio::test]
async fn works_without_prlimit_and_reports_missing_ffprobe() {
    let dir = TempDir::new().expect("tempdir");
    let png = make_png(&dir, "still.png", "64x48");
    let limits = ProbeLimits::default();
    let plain = Tools {
        prlimit: None,
        ..Tools::from_path()
    };
    let probed = probe_inner(&plain, path_str(&png), &limits)
        .await
        .expect("plain probe");
    assert_eq!(probed.result.media_type, MediaKind::Image);

    let missing = Tools {
        ffprobe: None,
        ..Tools::from_path()
    };
    let result = probe_inner(&missing, path_str(&png), &limits).await;
    assert!(matches!(result, Err(ProbeError::Spawn(_))), "{result:?}");

    let unstartable = Tools {
        ffprobe: Some(dir.path().join("no-such-ffprobe")),
        prlimit: None,
        ..Tools::from_path()
    };
    let result = probe_inner(&unstartable, path_str(&png), &limits).await;
    assert!(matches!(result, Err(ProbeError::Spawn(_))), "{result:?}");
}

#[tokio::test]
async fn snapshot_of_a_video_is_a_jpeg_frame() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "clip.mp4", &[]);
    let limits = ProbeLimits::default();
    for (at, name) in [
        (1.5, "mid.jpg"),
        (100.0, "late.jpg"),
        (f64::NAN, "nan.jpg"),
        (-3.0, "neg.jpg"),
    ] {
        let out = dir.path().join(name);
        snapshot(path_str(&mp4), at, &out, &limits)
            .await
            .unwrap_or_else(|err| panic!("snapshot at {at}: {err}"));
        assert_eq!(jpeg_size(&out), ("320".into(), "240".into()));
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test]
async fn snapshot_of_an_image_is_scaled_down() {
    let dir = TempDir::new().expect("tempdir");
    let big = make_png(&dir, "wide%d.png", "2000x1000");
    let out = dir.path().join("cover.jpg");
    snapshot(path_str(&big), 0.0, &out, &ProbeLimits::default())
        .await
        .expect("snapshot of image");
    assert_eq!(jpeg_size(&out), ("1280".into(), "640".into()));

    let small = make_png(&dir, "small.png", "64x48");
    snapshot(path_str(&small), 5.0, &out, &ProbeLimits::default())
        .await
        .expect("snapshot of small image");
    assert_eq!(
        jpeg_size(&out),
        ("64".into(), "48".into()),
        "never scaled up"
    );
}

/// Serves `body` at `/clip.mp4` on 127.0.0.1 (anything else: 404), from a plain thread.
fn serve(body: Vec<u8>) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for mut socket in listener.incoming().filter_map(Result::ok) {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let found = request.starts_with(b"GET /clip.mp4");
                let (status, payload): (&str, &[u8]) = if found {
                    ("200 OK", &body)
                } else {
                    ("404 Not Found", b"")
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    payload.len()
                );
                let _ = socket.write_all(head.as_bytes());
                let _ = socket.write_all(payload);
            });
        }
    });
    addr
}

#[tokio::test]
async fn probes_an_http_url() {
    let dir = TempDir::new().expect("tempdir");
    let mp4 = make_mp4(&dir, "fast.mp4", &["-movflags", "+faststart"]);
    let addr = serve(std::fs::read(&mp4).expect("read"));
    let limits = ProbeLimits {
        timeout: Duration::from_secs(30),
        ..ProbeLimits::default()
    };
    let url = format!("http://{addr}/clip.mp4?Expires=1&Signature=secret");
    let result = probe(&url, &limits).await.expect("probe over http");
    assert_eq!(result.media_type, MediaKind::Video);
    assert_eq!(result.file.width, Some(Whole::Int(320)));
    assert!((secs(&result.file.duration) - 3.0).abs() < 0.1);

    let out = dir.path().join("cover.jpg");
    snapshot(&url, 1.0, &out, &limits)
        .await
        .expect("snapshot over http");
    assert_eq!(jpeg_size(&out), ("320".into(), "240".into()));

    let missing = format!("http://{addr}/gone.mp4?Signature=secret");
    match probe(&missing, &limits).await {
        Err(ProbeError::Failed(message)) => {
            assert!(!message.contains("secret"), "URL leaked into {message:?}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn directories_fail() {
    let dir = TempDir::new().expect("tempdir");
    let message = assert_failed(dir.path()).await;
    assert!(message.contains("not a regular file"), "{message:?}");
}

#[tokio::test]
async fn output_reading_is_capped() {
    let data = vec![7u8; 100_000];
    let (head, more) = read_capped(&data[..], 1000).await.expect("read");
    assert_eq!((head.len(), more), (1000, true));
    let (all, more) = read_capped(&data[..], 100_000).await.expect("read");
    assert_eq!((all.len(), more), (100_000, false));
    assert_eq!(read_keep_head(&data[..], 10).await.len(), 10);
}

#[tokio::test]
async fn snapshot_into_a_missing_directory_fails_without_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    let png = make_png(&dir, "still.png", "64x48");
    let out = dir.path().join("no-such-dir").join("cover.jpg");
    match snapshot(path_str(&png), 0.0, &out, &ProbeLimits::default()).await {
        Err(ProbeError::Failed(message)) => {
            assert!(!message.contains("no-such-dir"), "{message:?}");
        }
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[tokio::test]
async fn snapshot_of_plain_audio_fails() {
    let dir = TempDir::new().expect("tempdir");
    let m4a = make_m4a(&dir);
    let out = dir.path().join("cover.jpg");
    let result = snapshot(path_str(&m4a), 0.0, &out, &ProbeLimits::default()).await;
    assert!(matches!(result, Err(ProbeError::Failed(_))), "{result:?}");
    assert!(!out.exists());
}

#[test]
fn stored_format_has_snake_case_keys_integers_and_the_vendors_text() {
    let video = VideoStream {
        index: Some(Whole::Int(0)),
        codec_name: Some("h264".into()),
        codec_time_base: Some("1/50".into()),
        width: Some(Whole::Int(320)),
        has_b_frames: Some(Whole::Int(2)),
        dar: Some("4:3".into()),
        level: Some(Whole::Int(13)),
        avg_fps: Some("23.976".into()),
        duration: Some("3.000000".into()),
        bitrate: Some("41.21".into()),
        frames: Some(Whole::Int(75)),
        rotate: Some(Whole::Int(90)),
        ..VideoStream::default()
    };
    let audio = AudioStream {
        index: Some(Whole::Int(1)),
        sample_rate: Some(Whole::Int(44100)),
        channels: Some(Whole::Int(1)),
        fps: Some("43.07".into()),
        ..AudioStream::default()
    };
    let subtitle = SubtitleStream {
        index: Some(Whole::Text("02".into())),
        lang: Some("eng".into()),
        ..SubtitleStream::default()
    };
    let result = ProbeResult {
        v: Version,
        media_type: MediaKind::Video,
        file: FileFacts {
            format_name: Some("mov,mp4,m4a,3gp,3g2,mj2".into()),
            width: Some(Whole::Int(320)),
            file_size: Some(Whole::Int(469)),
            ..FileFacts::default()
        },
        video_streams: vec![video],
        audio_streams: vec![audio],
        subtitle_streams: vec![subtitle],
    };
    let text = result.to_stored();
    // The media rows keep this text: key order and spelling are fixed.
    assert_eq!(
        text,
        concat!(
            r#"{"v":2,"media_type":"video","file":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","width":320,"file_size":469},"#,
            r#""video_streams":[{"index":0,"codec_name":"h264","codec_time_base":"1/50","width":320,"has_b_frames":2,"dar":"4:3","level":13,"avg_fps":"23.976","duration":"3.000000","bitrate":"41.21","frames":75,"rotate":90}],"#,
            r#""audio_streams":[{"index":1,"sample_rate":44100,"channels":1,"fps":"43.07"}],"#,
            r#""subtitle_streams":[{"index":"02","lang":"eng"}]}"#,
        )
    );
    assert_eq!(ProbeResult::from_stored(&text).expect("parse"), result);
    // Another version, or the vendor's wire view (format 1), is not this format.
    assert!(ProbeResult::from_stored(&text.replace(r#""v":2"#, r#""v":3"#)).is_err());
    assert!(ProbeResult::from_stored(&text.replace(r#""v":2,"#, "")).is_err());
    assert!(ProbeResult::from_stored(&text.replace("width", "Width")).is_err());
    for (value, text) in [
        ("1280", "1280"),
        ("-99", "-99"),
        ("0128", "0128"),
        ("1e3", "1e3"),
    ] {
        assert_eq!(Whole::from_text(value.into()).to_string(), text);
    }
    assert_eq!(Whole::from_text("1280".into()).value(), Some(1280));
    assert_eq!(Whole::from_text("1.0".into()).value(), None);
    assert_eq!(
        serde_json::to_value(MediaKind::Image).expect("json"),
        "image"
    );
}

#[test]
fn number_formats() {
    assert_eq!(decimal(121.784, 2), "121.78");
    assert_eq!(decimal(1_132.675_1, 2), "1132.68");
    assert_eq!(decimal(128.0, 2), "128");
    assert_eq!(decimal(-0.0001, 2), "0");
    assert_eq!(
        parse_rational("30000/1001")
            .map(|f| decimal(f, 3))
            .as_deref(),
        Some("29.97")
    );
    assert_eq!(
        parse_rational("24000/1001")
            .map(|f| decimal(f, 3))
            .as_deref(),
        Some("23.976")
    );
    assert_eq!(
        parse_rational("25/1").map(|f| decimal(f, 3)).as_deref(),
        Some("25")
    );
    assert_eq!(parse_rational("0/0"), None);
    assert_eq!(parse_rational("1/0"), None);
    assert_eq!(parse_clock("00:00:03.023000000"), Some(3.023));
    assert_eq!(parse_clock("01:02:03.5"), Some(3723.5));
    assert_eq!(parse_clock("nonsense"), None);
}

/// ffprobe output for the pure tests, written as JSON.
fn output_of(json: Value) -> Output {
    serde_json::from_value(json).expect("ffprobe output")
}

fn stream_of(json: Value) -> Stream {
    serde_json::from_value(json).expect("ffprobe stream")
}

#[test]
fn field_helpers_drop_unknown_values() {
    let stream = serde_json::json!({
        "level": -99, "sample_aspect_ratio": "0:1", "display_aspect_ratio": "16:9",
        "r_frame_rate": "0/0", "profile": "unknown", "width": 0, "codec_name": "",
        "start_time": "N/A", "tags": {"LANGUAGE": "fre", "DURATION": "00:00:01.500000000"},
    });
    let info = video_info(&stream_of(stream));
    assert_eq!(info.level, None);
    assert_eq!(info.sar, None);
    assert_eq!(info.dar.as_deref(), Some("16:9"));
    assert_eq!(info.fps, None);
    assert_eq!(info.profile, None);
    assert_eq!(info.width, None);
    assert_eq!(info.codec_name, None);
    assert_eq!(info.start_time, None);
    assert_eq!(info.lang.as_deref(), Some("fre"));
    assert_eq!(info.duration.as_deref(), Some("1.500000"));
}

#[test]
fn values_of_unexpected_types_count_as_not_given() {
    let stream = stream_of(serde_json::json!({
        "index": "0", "codec_name": true, "width": [320], "height": {"px": 240},
        "profile": null, "level": 31, "duration": 2.5,
    }));
    let info = video_info(&stream);
    assert_eq!(info.index, Some(Whole::Int(0)));
    assert_eq!(
        stream.index.index(),
        None,
        "only a JSON number is a stream index"
    );
    assert_eq!(
        (info.codec_name, info.width, info.height),
        (None, None, None)
    );
    assert_eq!(info.profile, None);
    assert_eq!(info.level, Some(Whole::Int(31)));
    assert_eq!(info.duration.as_deref(), Some("2.5"));
}

#[test]
fn tags_match_any_case_and_the_first_key_decides() {
    let stream = stream_of(serde_json::json!({
        "tags": {"language": "eng", "LANGUAGE": "fre", "Rotate": "", "rotate": "90"},
    }));
    assert_eq!(stream.tag("Language").as_deref(), Some("eng"));
    assert_eq!(
        stream.tag("rotate"),
        None,
        "an empty first match hides later ones"
    );
    let reversed = stream_of(serde_json::json!({"tags": {"LANGUAGE": "fre", "language": "eng"}}));
    assert_eq!(reversed.tag("language").as_deref(), Some("fre"));
}

#[test]
fn rotation_from_tag_or_matrix() {
    let tagged = serde_json::json!({"tags": {"rotate": "-90"}});
    assert_eq!(rotation(&stream_of(tagged)).as_deref(), Some("270"));
    // An iPhone portrait clip: ffprobe says rotation -90 (counterclockwise), players
    // turn it 90° clockwise, old ffprobe showed the tag rotate=90.
    let portrait = "\n00000000:            0       65536           0\n00000001:       -65536           0           0\n00000002:            0           0  1073741824\n";
    let with_matrix =
        serde_json::json!({"side_data_list": [{"displaymatrix": portrait, "rotation": -90}]});
    assert_eq!(rotation(&stream_of(with_matrix)).as_deref(), Some("90"));
    let other_way = "\n00000000:            0      -65536           0\n00000001:        65536           0           0\n00000002:            0           0  1073741824\n";
    let with_matrix =
        serde_json::json!({"side_data_list": [{"displaymatrix": other_way, "rotation": 90}]});
    assert_eq!(rotation(&stream_of(with_matrix)).as_deref(), Some("270"));
    let rotation_only = serde_json::json!({"side_data_list": [{"rotation": -90}]});
    assert_eq!(rotation(&stream_of(rotation_only)).as_deref(), Some("90"));
    let upside_down = "\n00000000:       -65536           0           0\n00000001:            0      -65536           0\n00000002:            0           0  1073741824\n";
    let flipped = serde_json::json!({"side_data_list": [{"displaymatrix": upside_down}]});
    assert_eq!(rotation(&stream_of(flipped)).as_deref(), Some("180"));
    assert_eq!(rotation(&stream_of(serde_json::json!({}))), None);
}

#[test]
fn classification_from_ffprobe_json() {
    let raw_h264 = serde_json::json!({
        "streams": [{"index": 0, "codec_type": "video", "codec_name": "h264", "width": 320, "height": 240}],
        "format": {"format_name": "h264"}
    });
    assert_eq!(
        interpret(&output_of(raw_h264))
            .expect("ok")
            .result
            .media_type,
        MediaKind::Video
    );
    let avif_like = serde_json::json!({
        "streams": [{"index": 0, "codec_type": "video", "codec_name": "png", "width": 3, "height": 2, "nb_frames": "1"}],
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2"}
    });
    assert_eq!(
        interpret(&output_of(avif_like))
            .expect("ok")
            .result
            .media_type,
        MediaKind::Image
    );
    let data_only = serde_json::json!({
        "streams": [{"index": 0, "codec_type": "data"}, {"index": 1, "codec_type": "video", "width": 0}],
        "format": {"format_name": "mpegts"}
    });
    assert!(matches!(
        interpret(&output_of(data_only)),
        Err(ProbeError::Failed(_))
    ));
    let nothing = serde_json::json!({});
    assert!(matches!(
        interpret(&output_of(nothing)),
        Err(ProbeError::Failed(_))
    ));
}

#[test]
fn stderr_is_shortened_and_scrubbed() {
    let input = "/data/buckets/b/secret/key.mp4";
    let stderr = format!(
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55f3] moov atom not found\nfile:{input}: Invalid data found when processing input\n{}",
        "x".repeat(1000)
    );
    let excerpt = stderr_excerpt(stderr.as_bytes(), input, None);
    assert!(
        excerpt.starts_with("[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found; <input>: Invalid data"),
        "{excerpt}"
    );
    assert!(!excerpt.contains("secret"));
    assert!(excerpt.chars().count() <= EXCERPT_CHARS + 1);
}

#[test]
fn seek_is_clamped_into_the_file() {
    assert_eq!(clamp_seek(1.5, Some(3.0)), 1.5);
    assert_eq!(clamp_seek(100.0, Some(3.0)), 2.0);
    assert_eq!(clamp_seek(100.0, Some(0.4)), 0.0);
    assert_eq!(clamp_seek(-1.0, Some(3.0)), 0.0);
    assert_eq!(clamp_seek(f64::NAN, None), 0.0);
    assert_eq!(clamp_seek(7.0, None), 7.0);
}
