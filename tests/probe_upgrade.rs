//! Stored probes of format 1 (the vendor's wire view, as openice kept them before format 2)
//! are rewritten when the store opens, on SQLite and PostgreSQL, and GetMediaInfo answers
//! exactly as before; a probe in no known format is left alone and the media still reads.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{Value, json};

/// 2 s of 320x240 H.264 at 30000/1001 fps with AAC audio and a mov_text subtitle.
fn make_clip(dir: &Path) -> String {
    let srt = dir.join("a.srt");
    std::fs::write(&srt, "1\n00:00:00,000 --> 00:00:01,000\nhello\n").unwrap();
    let out = dir.join("clip.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x240:rate=30000/1001:duration=2")
        .args(["-f", "lavfi", "-i", "sine=duration=2", "-i"])
        .arg(&srt)
        .args(["-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264"])
        .args(["-c:a", "aac", "-c:s", "mov_text", "-shortest"])
        .arg(&out)
        .status()
        .expect("ffmpeg is needed (scripts/test.sh installs it)");
    assert!(ok.success());
    out.to_string_lossy().into_owned()
}

/// Runs one statement on the server's store (stopped or not) and returns its first column.
async fn sql(server: &Server, statement: &'static str, args: &[&str]) -> Vec<Option<String>> {
    macro_rules! run {
        ($pool:expr) => {{
            let pool = $pool.await.expect("connect to the store");
            let mut query = sqlx::query_scalar(statement);
            for arg in args {
                query = query.bind(*arg);
            }
            let rows = query.fetch_all(&pool).await.expect(statement);
            pool.close().await;
            rows
        }};
    }
    match &server.database_url {
        Some(url) => run!(sqlx::PgPool::connect(url)),
        None => {
            let file = server.data_dir.join("openice.db");
            run!(sqlx::SqlitePool::connect(&format!(
                "sqlite://{}",
                file.display()
            )))
        }
    }
}

async fn stored_probe(server: &Server, media_id: &str) -> String {
    let rows = sql(
        server,
        "SELECT probe FROM media WHERE media_id = $1",
        &[media_id],
    )
    .await;
    rows[0].clone().expect("a stored probe")
}

/// GetMediaInfo without the parts that change between calls (RequestId, signed URLs).
async fn info(server: &Server, media_id: &str) -> Value {
    let mut info = server.ok("GetMediaInfo", &[("MediaId", media_id)]).await;
    info.as_object_mut().unwrap().remove("RequestId");
    info["MediaInfo"]["FileInfoList"][0]["FileBasicInfo"]["FileUrl"] = Value::Null;
    info["MediaInfo"]["MediaBasicInfo"]["CoverURL"] = Value::Null;
    info
}

/// The row format 1 held for a media: the probe's wire view, which GetMediaInfo answers.
fn format_1(info: &Value) -> String {
    let file = &info["MediaInfo"]["FileInfoList"][0];
    let basic = &file["FileBasicInfo"];
    let mut props = serde_json::Map::new();
    for key in [
        "FormatName",
        "Duration",
        "Bitrate",
        "Width",
        "Height",
        "FileSize",
    ] {
        if let Some(value) = basic.get(key) {
            props.insert(key.into(), value.clone());
        }
    }
    json!({
        "media_type": info["MediaInfo"]["MediaBasicInfo"]["MediaType"],
        "file": props,
        "video_streams": file["VideoStreamInfoList"],
        "audio_streams": file["AudioStreamInfoList"],
        "subtitle_streams": file["SubtitleStreamInfoList"],
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn format_1_probes_are_rewritten_at_open_and_read_the_same() {
    for_each_backend(|backend| async move {
        let server = spawn_server(backend).await;
        let work = tempfile::tempdir().unwrap();
        let clip = make_clip(work.path());
        let mut ids = Vec::new();
        for title in ["kept", "broken"] {
            let url = format!("oss://upgrade/{title}.mp4");
            let put = server
                .command_on_store(&["media", "put", &clip, &url])
                .await;
            assert!(
                put.status.success(),
                "{}",
                String::from_utf8_lossy(&put.stderr)
            );
            let registered = server
                .ok("RegisterMediaInfo", &[("InputURL", &url), ("Title", title)])
                .await;
            let id = registered["MediaId"].as_str().unwrap().to_string();
            let probed = server.probed(&id).await;
            assert_eq!(probed["MediaInfo"]["MediaBasicInfo"]["Status"], "Normal");
            ids.push(id);
        }
        let (kept, broken) = (ids[0].as_str(), ids[1].as_str());
        let before = info(&server, kept).await;
        let streams = &before["MediaInfo"]["FileInfoList"][0];
        assert_eq!(
            streams["VideoStreamInfoList"][0]["Fps"], "29.97",
            "{before}"
        );
        assert_eq!(
            streams["SubtitleStreamInfoList"].as_array().unwrap().len(),
            1
        );
        let v2 = stored_probe(&server, kept).await;
        assert!(
            v2.starts_with(r#"{"v":2,"media_type":"video","file":{"#),
            "{v2}"
        );
        assert!(v2.contains(r#""width":320,"#), "{v2}");

        // The store as an openice before format 2 left it: wire-view rows, no marker.
        server.sigterm();
        let v1 = format_1(&before);
        sql(
            &server,
            "UPDATE media SET probe = $1 WHERE media_id = $2",
            &[&v1, kept],
        )
        .await;
        sql(
            &server,
            "UPDATE media SET probe = '{broken' WHERE media_id = $1",
            &[broken],
        )
        .await;
        sql(
            &server,
            "DELETE FROM settings WHERE name = 'probe_format'",
            &[],
        )
        .await;
        server.restart().await;

        assert_eq!(
            stored_probe(&server, kept).await,
            v2,
            "rewritten as the probe wrote it"
        );
        // Byte for byte (key order included: Value equality would ignore it).
        assert_eq!(
            info(&server, kept).await.to_string(),
            before.to_string(),
            "GetMediaInfo is unchanged"
        );
        // The unreadable row is logged with its media ID and left; the media reads without
        // probe fields (as a probe that could not be read always did).
        assert_eq!(stored_probe(&server, broken).await, "{broken");
        let logs = server.logs();
        assert!(
            logs.lines()
                .any(|l| l.contains("no known format") && l.contains(broken)),
            "{logs}"
        );
        let unread = info(&server, broken).await;
        let file = &unread["MediaInfo"]["FileInfoList"][0];
        assert!(file["FileBasicInfo"].get("Duration").is_none(), "{unread}");
        assert_eq!(file["VideoStreamInfoList"], json!([]));
        let marker = sql(
            &server,
            "SELECT value FROM settings WHERE name = 'probe_format'",
            &[],
        );
        assert_eq!(marker.await, [Some("2".to_string())]);
    })
    .await;
}
