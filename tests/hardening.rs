//! Hardening findings (issue 10) through the real binary, on both backends: replay after a
//! restart, fetch allow-list escapes, lost updates, category limits under concurrency.

mod common;

use common::*;
use time::OffsetDateTime;

async fn project_count(s: &Server) -> u64 {
    let found = s.ok("SearchEditingProject", &[("PageSize", "10")]).await;
    found["TotalCount"].as_u64().unwrap()
}

/// A signed request sent once and replayed after the server restarted on the same store is
/// refused; so is a request signed ahead of the server's clock (a fast client clock), which
/// the restart's time floor alone cannot catch. Clients with correct clocks are served at
/// once after the restart.
#[tokio::test]
async fn a_request_replayed_after_a_restart_is_refused() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        let host = s.host();
        let params: &[(&str, &str)] = &[("Title", "once"), ("Timeline", &timeline_of(1.0))];
        // The restarted server listens on another port; a fixed signed host keeps V3 valid.
        let now = Call::new("CreateEditingProject", params, &key).sign_v3("ice.example.com");
        s.send(&now).await.ok();
        let ahead = Call::new("CreateEditingProject", params, &key)
            .at(OffsetDateTime::now_utc() + time::Duration::seconds(60))
            .sign_v2(&host);
        s.send(&ahead).await.ok();
        s.send(&ahead).await.err(400, "SignatureNonceUsed");
        assert_eq!(project_count(&s).await, 2);

        s.restart().await;
        let host = s.host();
        let fresh = Call::new("GetEditingProject", &[("ProjectId", "none")], &key);
        s.send(&fresh.sign_v3(&host))
            .await
            .err(404, "ProjectNotFound");
        // Signed before the stop's second: expired; in it: its nonce was handed over.
        let replayed = s.send(&now).await;
        assert_eq!(replayed.status, 400);
        assert!(
            ["InvalidTimeStamp.Expired", "SignatureNonceUsed"].contains(&replayed.code()),
            "{replayed:?}"
        );
        s.send(&ahead).await.err(400, "SignatureNonceUsed");
        assert_eq!(project_count(&s).await, 2);
    })
    .await;
}

/// A cleanly stopped server hands the nonces of its last seconds to the next start, which
/// then listens at once and still refuses their replay; after a kill -9 nothing is handed
/// over and the next start waits out its floor.
#[tokio::test]
async fn a_clean_stop_hands_its_recent_nonces_to_the_next_start() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let key = s.key();
        // Two seconds ahead (checked in memory only), so signed in the stop's second or later.
        let ahead = Call::new("GetEditingProject", &[("ProjectId", "none")], &key)
            .at(OffsetDateTime::now_utc() + time::Duration::seconds(2))
            .sign_v3("ice.example.com");
        s.send(&ahead).await.err(404, "ProjectNotFound");

        s.restart().await;
        assert!(
            s.logs().contains("handed over its recent nonces"),
            "{}",
            s.logs()
        );
        assert!(!s.logs().contains("waiting for the replay floor"));
        s.send(&ahead).await.err(400, "SignatureNonceUsed");
        let fresh = Call::new("GetEditingProject", &[("ProjectId", "none")], &key);
        s.send(&fresh.sign_v3(&s.host()))
            .await
            .err(404, "ProjectNotFound");

        // The hand-over was taken by that start: a crash leaves none for the next.
        s.kill9();
        s.restart().await;
        assert!(
            s.logs().contains("waiting for the replay floor"),
            "{}",
            s.logs()
        );
        // Its floor (its start plus the in-memory lead) lies past the request's time.
        s.send(&ahead).await.err(400, "InvalidTimeStamp.Expired");
    })
    .await;
}

/// A tiny origin: `/a.mp4` serves a real clip; `/redirect` answers 302 to the clip on
/// `localhost` (a host outside the allow-list); `/list.m3u8` is an HLS playlist whose segment
/// is on `localhost`. Records each request's Host header.
struct Origin {
    port: u16,
    hosts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn start_origin(dir: &std::path::Path) -> Origin {
    use std::io::{BufRead, BufReader, Write};
    let clip = dir.join("a.mp4");
    let segment = dir.join("a.ts");
    for (out, format) in [(&clip, "mp4"), (&segment, "mpegts")] {
        let status = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                "testsrc=d=1:s=64x64",
            ])
            .args(["-c:v", "mpeg4", "-f", format])
            .arg(out)
            .status()
            .expect("run ffmpeg");
        assert!(status.success());
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hosts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = hosts.clone();
    let (clip, segment) = (
        std::fs::read(clip).unwrap(),
        std::fs::read(segment).unwrap(),
    );
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let mut host = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                if request.is_empty() {
                    request = line.clone();
                } else if let Some(h) = line.to_ascii_lowercase().strip_prefix("host:") {
                    host = h.trim().to_string();
                }
                line.clear();
            }
            seen.lock().unwrap().push(host);
            let target = request.split_whitespace().nth(1).unwrap_or("");
            let path = target.split('?').next().unwrap_or("").to_string();
            let playlist = format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nhttp://localhost:{port}/a.ts\n#EXT-X-ENDLIST\n"
            );
            let (head, body): (String, Vec<u8>) = match path.as_str() {
                "/a.mp4" => ("200 OK\r\nContent-Type: video/mp4".into(), clip.clone()),
                "/a.ts" => ("200 OK\r\nContent-Type: video/mp2t".into(), segment.clone()),
                "/redirect" => (
                    format!("302 Found\r\nLocation: http://localhost:{port}/a.mp4"),
                    Vec::new(),
                ),
                "/list.m3u8" => (
                    "200 OK\r\nContent-Type: application/vnd.apple.mpegurl".into(),
                    playlist.into_bytes(),
                ),
                _ => ("404 Not Found".into(), Vec::new()),
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    Origin { port, hosts }
}

async fn probed_status(s: &Server, url: &str) -> String {
    let registered = s.ok("RegisterMediaInfo", &[("InputURL", url)]).await;
    let info = s.probed(registered["MediaId"].as_str().unwrap()).await;
    info["MediaInfo"]["MediaBasicInfo"]["Status"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Only the registered, allow-listed URL is fetched: a redirect to another host and an HLS
/// playlist naming one end `PrepareFail`, and nothing reaches the other host.
#[tokio::test]
async fn redirects_and_playlists_do_not_escape_the_fetch_allow_list() {
    for_each_backend(|b| async move {
        let dir = tempfile::tempdir().unwrap();
        let origin = start_origin(dir.path());
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--fetch-allow".into(), "127.0.0.1".into()];
        let s = options.spawn().await;
        let base = format!("http://127.0.0.1:{}", origin.port);
        assert_eq!(probed_status(&s, &format!("{base}/a.mp4")).await, "Normal");
        assert_eq!(
            probed_status(&s, &format!("{base}/redirect")).await,
            "PrepareFail"
        );
        assert_eq!(
            probed_status(&s, &format!("{base}/list.m3u8")).await,
            "PrepareFail"
        );
        let hosts = origin.hosts.lock().unwrap().clone();
        assert!(
            hosts.iter().all(|h| h.starts_with("127.0.0.1")),
            "fetched outside the allow-list: {hosts:?}"
        );
    })
    .await;
}

/// Three clients update different fields of one project, each waiting for its answers,
/// while the probes of the project's media complete and refresh its Duration: every field's
/// last acknowledged value survives, and the Duration ends as the probed media give it.
#[tokio::test]
async fn concurrent_updates_and_probes_lose_nothing() {
    for_each_backend(|b| async move {
        let dir = tempfile::tempdir().unwrap();
        let origin = start_origin(dir.path());
        let mut options = ServerOptions::new(b);
        options.extra_args = vec![
            "--fetch-allow".into(),
            "127.0.0.1".into(),
            "--probe-workers".into(),
            "2".into(),
        ];
        let s = options.spawn().await;
        const MEDIA: usize = 12;
        let mut clips = Vec::new();
        let mut media_ids = Vec::new();
        for i in 0..MEDIA {
            let url = format!("http://127.0.0.1:{}/a.mp4?n={i}", origin.port);
            let r = s.ok("RegisterMediaInfo", &[("InputURL", &url)]).await;
            let id = r["MediaId"].as_str().unwrap().to_string();
            clips.push(format!(r#"{{"MediaId":"{id}"}}"#));
            media_ids.push(id);
        }
        let timeline = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
            clips.join(",")
        );
        let created = s
            .ok(
                "CreateEditingProject",
                &[("Title", "start"), ("Timeline", &timeline)],
            )
            .await;
        let id = project_id(&created);

        let all_probed = || async {
            for m in &media_ids {
                let info = s.ok("GetMediaInfo", &[("MediaId", m)]).await;
                if info["MediaInfo"]["MediaBasicInfo"]["Status"] != "Normal" {
                    return false;
                }
            }
            true
        };
        // Each client writes its own field until the probes are done (and a few more times).
        let client = |field: &'static str| {
            let (s, id) = (&s, id.clone());
            async move {
                let mut last = String::new();
                for n in 0..400 {
                    last = format!("{field}-{n}");
                    s.ok(
                        "UpdateEditingProject",
                        &[("ProjectId", &id), (field, &last)],
                    )
                    .await;
                    if n >= 40 && n % 10 == 0 && all_probed().await {
                        break;
                    }
                }
                last
            }
        };
        let (title, description, cover) =
            tokio::join!(client("Title"), client("Description"), client("CoverURL"));
        assert!(all_probed().await, "the probes did not finish");
        // The last probe's Duration refresh may still be running.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let p = s.ok("GetEditingProject", &[("ProjectId", &id)]).await;
            let p = &p["Project"];
            assert_eq!(p["Title"], title.as_str(), "{p}");
            assert_eq!(p["Description"], description.as_str(), "{p}");
            assert_eq!(p["CoverURL"], cover.as_str(), "{p}");
            let duration = p["Duration"].as_f64().unwrap();
            if (duration - MEDIA as f64).abs() < 0.05 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Duration stayed {duration}: {p}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
}

/// GetEditingProject with RequestSource=WebSDK attaches the timeline's media to the project;
/// when the store fails there, the answer is a 5xx InternalError, not a 200 ConvertFailed.
/// Attaching twice is harmless.
#[tokio::test]
async fn a_store_error_while_attaching_web_sdk_media_is_a_5xx() {
    for_each_backend(|b| async move {
        let mut options = ServerOptions::new(b);
        options.extra_args = vec!["--fetch-allow".into(), "127.0.0.1".into()];
        let s = options.spawn().await;
        let url = "http://127.0.0.1:1/never.mp4";
        let registered = s.ok("RegisterMediaInfo", &[("InputURL", url)]).await;
        let media_id = registered["MediaId"].as_str().unwrap();
        let timeline = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaId":"{media_id}","In":0,"Out":2}}]}}]}}"#
        );
        let created = s
            .ok(
                "CreateEditingProject",
                &[("Title", "websdk"), ("Timeline", &timeline)],
            )
            .await;
        let id = project_id(&created);
        let web = [("ProjectId", id.as_str()), ("RequestSource", "WebSDK")];
        for _ in 0..2 {
            let p = s.ok("GetEditingProject", &web).await;
            assert_eq!(p["Project"]["TimelineConvertStatus"], "Converted", "{p}");
        }

        // Break the table the association writes to.
        let sql = "ALTER TABLE project_materials RENAME TO project_materials_gone";
        match &s.database_url {
            Some(url) => {
                use sqlx::{Connection, Executor};
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                conn.execute(sql).await.unwrap();
            }
            None => {
                use sqlx::{Connection, Executor};
                let path = s.data_dir().join("openice.db");
                let mut conn =
                    sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                        .await
                        .unwrap();
                conn.execute(sql).await.unwrap();
            }
        }
        let r = s.call("GetEditingProject", &web, &s.key()).await;
        r.err(500, "InternalError");
    })
    .await;
}

/// A timeline naming tens of thousands of distinct MediaIds (and many MediaURLs) is stored
/// and read back: the store's IN lists are chunked, and MediaURLs are looked up in batches.
#[tokio::test]
async fn timelines_with_tens_of_thousands_of_media_ids_work() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let clips: Vec<String> = (0..40_000)
            .map(|i| format!(r#"{{"MediaId":"{i:032x}","Out":1}}"#))
            .chain((0..2_000).map(|i| {
                format!(
                    r#"{{"MediaURL":"oss://bucket-{}/clip-{i}.mp4","Out":1}}"#,
                    i % 7
                )
            }))
            .collect();
        let timeline = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
            clips.join(",")
        );
        let created = s
            .ok(
                "CreateEditingProject",
                &[("Title", "huge"), ("Timeline", &timeline)],
            )
            .await;
        let id = project_id(&created);
        let web = s
            .ok(
                "GetEditingProject",
                &[("ProjectId", &id), ("RequestSource", "WebSDK")],
            )
            .await;
        assert_eq!(web["Project"]["TimelineConvertStatus"], "Converted");
        assert_eq!(web["Project"]["Duration"], 42_000.0);
    })
    .await;
}

/// Concurrent AddCategory calls past the sibling limit (100 per level) never exceed it, at
/// the root and under a parent; the refused ones name ParentId.
#[tokio::test]
async fn concurrent_category_adds_never_pass_the_sibling_limit() {
    for_each_backend(|b| async move {
        let s = spawn_server(b).await;
        let parent = s.ok("AddCategory", &[("CateName", "parent")]).await;
        let parent_id = parent["Category"]["CateId"].as_i64().unwrap().to_string();
        for under in [None, Some(parent_id.as_str())] {
            let adds = (0..130).map(|i| {
                let s = &s;
                async move {
                    let name = format!("c{i}");
                    let mut params = vec![("CateName", name.as_str())];
                    if let Some(p) = under {
                        params.push(("ParentId", p));
                    }
                    s.call("AddCategory", &params, &s.key()).await
                }
            });
            let answers = futures_util::future::join_all(adds).await;
            let mut added = 0;
            for r in &answers {
                if r.status == 200 {
                    added += 1;
                } else {
                    r.err(400, "InvalidParameter");
                    assert!(r.message().contains("ParentId"), "{}", r.message());
                }
            }
            let mut params = vec![("PageSize", "10")];
            if let Some(p) = under {
                params.push(("CateId", p));
            }
            let listed = s.ok("GetCategories", &params).await;
            let total = listed["SubTotal"].as_u64().unwrap();
            assert_eq!(total, 100, "under {under:?}: {listed}");
            // The root level holds the parent too.
            assert_eq!(added, if under.is_none() { 99 } else { 100 });
        }
    })
    .await;
}

/// Probe claims are leases: after a server dies mid-probe, its restart (or any server on the
/// store) leaves the media alone while the dead owner's lease runs, then takes it over and
/// probes it. A start no longer re-queues every `Preparing` media.
#[tokio::test]
async fn a_dead_servers_probe_is_taken_over_after_its_lease() {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    for_each_backend(|b| async move {
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("a.mp4");
        let status = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=d=1:s=64x64"])
            .args(["-c:v", "mpeg4", "-f", "mp4"])
            .arg(&clip)
            .status()
            .unwrap();
        assert!(status.success());
        let clip = Arc::new(std::fs::read(&clip).unwrap());
        // Holds every request until released, then serves the clip.
        let released = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        {
            let (released, requests) = (released.clone(), requests.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (released, requests, clip) =
                        (released.clone(), requests.clone(), clip.clone());
                    std::thread::spawn(move || {
                        let mut reader = BufReader::new(stream.try_clone().unwrap());
                        let mut line = String::new();
                        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                            line.clear();
                        }
                        requests.fetch_add(1, Ordering::SeqCst);
                        while !released.load(Ordering::SeqCst) {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        let mut stream = stream;
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            clip.len()
                        );
                        let _ = stream.write_all(&clip);
                    });
                }
            });
        }
        let mut options = ServerOptions::new(b);
        options.extra_args = vec![
            "--fetch-allow".into(),
            "127.0.0.1".into(),
            "--probe-workers".into(),
            "1".into(),
        ];
        let s = options.spawn().await;
        let url = format!("http://127.0.0.1:{port}/stall.mp4");
        let registered = s.ok("RegisterMediaInfo", &[("InputURL", &url)]).await;
        let media_id = registered["MediaId"].as_str().unwrap().to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while requests.load(Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "never probed");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        s.kill9();
        let killed = std::time::Instant::now();
        s.restart().await;
        // The dead server's lease (10 s) still runs: nobody probes the media again yet.
        while killed.elapsed() < std::time::Duration::from_secs(5) {
            assert_eq!(requests.load(Ordering::SeqCst), 1, "probed again under a live lease");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        released.store(true, Ordering::SeqCst);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let info = s.ok("GetMediaInfo", &[("MediaId", &media_id)]).await;
            let status = info["MediaInfo"]["MediaBasicInfo"]["Status"].as_str().unwrap().to_string();
            if status == "Normal" {
                break;
            }
            assert_eq!(status, "Preparing", "{info}");
            assert!(std::time::Instant::now() < deadline, "never taken over");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        assert!(killed.elapsed() >= std::time::Duration::from_secs(9), "taken over before the lease ran out");
    })
    .await;
}

/// Searches over projects holding large timelines, from 64 connections, under a small byte
/// budget: a page too large for one response is refused naming PageSize, searches past the
/// total budget get 503 at once, every answered page is whole, and the server's peak RSS
/// stays near the budget. (Without the budget each search held its page three times over:
/// 64 × ~40 MiB.)
#[tokio::test]
async fn searches_of_large_timelines_stay_within_the_byte_budget() {
    for_each_backend(|b| async move {
        const MIB: u64 = 1024 * 1024;
        let mut options = ServerOptions::new(b);
        options.extra_args = vec![
            "--max-bytes-in-flight".into(),
            (64 * MIB).to_string(),
            "--max-response-bytes".into(),
            (16 * MIB).to_string(),
        ];
        let s = options.spawn().await;
        // ~2 MiB of timeline per project (kept as sent, white space included).
        let timeline = format!(
            r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaURL":"https://example.com/a.mp4","Out":1}}]}}]{}}}"#,
            " ".repeat(2 << 20)
        );
        for i in 0..16 {
            s.ok(
                "CreateEditingProject",
                &[("Title", &format!("big {i}")), ("Timeline", &timeline)],
            )
            .await;
        }

        let too_big = s
            .call("SearchEditingProject", &[("PageSize", "8")], &s.key())
            .await;
        too_big.err(400, "InvalidParameter");
        assert!(too_big.message().contains("PageSize"), "{}", too_big.message());

        // Peak RSS from here on (clear_refs 5 resets VmHWM; without it the peak so far counts).
        let pid = s.pid();
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        let before = proc_status_kib(pid, "VmHWM:");
        let key = s.key();
        let searches = (0..64).map(|i| {
            let (s, key) = (&s, &key);
            async move {
                let mut answers = Vec::new();
                for round in 0..3 {
                    let page = ((i + round) % 2 + 1).to_string();
                    let params = [("PageSize", "6"), ("PageNo", page.as_str())];
                    answers.push(s.call("SearchEditingProject", &params, key).await);
                }
                answers
            }
        });
        let answers: Vec<Resp> = futures_util::future::join_all(searches)
            .await
            .into_iter()
            .flatten()
            .collect();
        let peak = proc_status_kib(pid, "VmHWM:");
        let (mut served, mut shed) = (0, 0);
        for a in &answers {
            if a.status == 503 {
                a.err(503, "ServiceUnavailable");
                shed += 1;
                continue;
            }
            let list = a.ok()["ProjectList"].as_array().unwrap();
            assert_eq!(list.len(), 6);
            for p in list {
                assert_eq!(p["Timeline"].as_str().unwrap().len(), timeline.len());
            }
            served += 1;
        }
        assert!(served > 0 && shed > 0, "served {served}, shed {shed}");
        let grown_mib = peak.saturating_sub(before) / 1024;
        assert!(
            grown_mib < 400,
            "peak RSS grew {grown_mib} MiB under a 64 MiB budget ({served} served, {shed} shed)"
        );
        eprintln!("{b:?}: peak RSS +{grown_mib} MiB, {served} served, {shed} shed");
    })
    .await;
}
