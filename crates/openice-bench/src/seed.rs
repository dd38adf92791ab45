//! Seeding the store the search runs on: `--projects` projects in one account.
//!
//! For its own servers the bench writes them through `openice::store` (the layer the
//! server's own writes go through, either backend) in a child process, so that no
//! connection of the bench stays open on the store; against `--endpoint` it creates them
//! through the API. Seeding time is reported but is not a measured figure.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use openice::domain::account::{AccessKey, Account, Secret, new_account_id};
use openice::domain::project::{EditingProject, NewEditingProject};
use openice::domain::timeline::Timeline;
use openice::domain::{new_id, now_micros};

use crate::client::{self, Conn, Load, MakeRequest};
use crate::signer::{Key, Signer};
use crate::{BenchResult, FIXTURE_ACCOUNT, FIXTURE_KEY, cleanup};

/// Internal: `openice-bench --seed-store DIR N [DATABASE_URL]` seeds and exits.
pub const SEED_COMMAND: &str = "--seed-store";

/// A small, varied timeline for seeded project `i` (2–4 clips).
fn seed_timeline(i: usize) -> String {
    let id = |n: usize| {
        format!(
            "{:032x}",
            (n as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        )
    };
    let clips: Vec<String> = (0..2 + i % 3)
        .map(|c| {
            let inp = (c % 2) as f64;
            format!(
                r#"{{"MediaId":"{}","In":{inp},"Out":{}}}"#,
                id((i * 7 + c) % 5000),
                inp + 3.0 + (i % 5) as f64
            )
        })
        .collect();
    format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{}]}}]}}"#,
        clips.join(",")
    )
}

/// 10% of the seeded projects have no timeline, a third a description.
fn seed_params(i: usize) -> (String, Option<String>, Option<String>) {
    (
        format!("Seeded project {i}"),
        i.is_multiple_of(3).then(|| format!("Description {i}")),
        (i % 10 != 9).then(|| seed_timeline(i)),
    )
}

/// The seeding child: the fixture account with its key (if missing) and `n` projects in the
/// default account (the server's first start created it), spread over the past year.
pub fn child_main(args: &[String]) -> ExitCode {
    let (Some(dir), Some(Ok(n))) = (args.first(), args.get(1).map(|n| n.parse::<usize>())) else {
        eprintln!("usage: openice-bench {SEED_COMMAND} DIR N [DATABASE_URL]");
        return ExitCode::FAILURE;
    };
    let url = args.get(2).map(String::as_str);
    match seed_store(Path::new(dir), url, n) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openice-bench: seeding failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn seed_store(data_dir: &Path, url: Option<&str>, n: usize) -> BenchResult<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = openice::store::open(url, data_dir, Default::default()).await?;
        let owner = store
            .account_by_name("default")
            .await?
            .ok_or("the store has no default account: start a server on it first")?;
        if store.access_key(FIXTURE_KEY.0).await?.is_none() {
            let account = Account {
                account_id: new_account_id(),
                name: FIXTURE_ACCOUNT.into(),
                create_time: now_micros(),
            };
            let key = AccessKey {
                access_key_id: FIXTURE_KEY.0.into(),
                account_id: account.account_id.clone(),
                secret: Secret::new(FIXTURE_KEY.1),
                enabled: true,
            };
            store.create_account(&account, &key).await?;
        }
        // Eight concurrent writers: about what the store's pool serves at once.
        const TASKS: usize = 8;
        let now = now_micros();
        let step = 365 * 24 * 3600 * 1_000_000 / n.max(1) as i64;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let store = Arc::clone(&store);
            let account_id = owner.account_id.clone();
            tasks.push(tokio::spawn(async move {
                for i in (t..n).step_by(TASKS) {
                    let (title, description, raw) = seed_params(i);
                    let timeline = raw
                        .map(|r| Timeline::parse(&r).map(|t| (r, t)))
                        .transpose()
                        .map_err(|e| format!("seed timeline {i}: {e}"))?;
                    let media_ids = timeline
                        .as_ref()
                        .map(|(_, t)| t.media_ids())
                        .unwrap_or_default();
                    let created = now - (n - i) as i64 * step;
                    let mut p = EditingProject::create(
                        &account_id,
                        new_id(),
                        NewEditingProject {
                            title,
                            description,
                            timeline,
                            ..NewEditingProject::default()
                        },
                        created,
                        |t| t.duration(|_| None),
                    )
                    .map_err(|e| format!("seed project {i}: {e:?}"))?;
                    p.modified_time = created;
                    store.insert_project(&p, &media_ids, &[]).await?;
                }
                BenchResult::Ok(())
            }));
        }
        for t in tasks {
            t.await.map_err(|e| format!("seed task: {e}"))??;
        }
        BenchResult::Ok(())
    })?;
    rt.shutdown_timeout(Duration::from_secs(10));
    Ok(())
}

/// Seeds in a child process (this executable with [`SEED_COMMAND`]); returns its wall time.
pub fn seed_in_child(
    data_dir: &Path,
    database_url: Option<&str>,
    n: usize,
) -> BenchResult<Duration> {
    let started = Instant::now();
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg(SEED_COMMAND).arg(data_dir).arg(n.to_string());
    if let Some(url) = database_url {
        cmd.arg(url);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the seeding process: {e}"))?;
    cleanup::track_pid(child.id());
    let status = child.wait();
    cleanup::untrack_pid(child.id());
    let status = status?;
    if !status.success() {
        return Err(format!("seeding failed: {status}").into());
    }
    Ok(started.elapsed())
}

/// Checkpoints a seeded SQLite store's WAL as a cleanly stopped server leaves it: the
/// seeding's concurrent writers leave a WAL many times the size of the database, and the
/// first open after that replays it (seconds), which is not what a start on a big store
/// means.
pub fn checkpoint_sqlite(rt: &tokio::runtime::Runtime, data_dir: &Path) -> BenchResult<()> {
    rt.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data_dir.join("openice.db"))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        BenchResult::Ok(())
    })
}

/// The search account's `TotalCount` as SearchEditingProject reports it.
pub async fn total_count(addr: SocketAddr, host: &str, key: &Key) -> BenchResult<u64> {
    let mut conn = Conn::open(addr).await?;
    let v = conn
        .call(Signer::new(host, key).sign("SearchEditingProject", &[("PageSize", "1")], &[]))
        .await?;
    v["TotalCount"]
        .as_u64()
        .ok_or_else(|| format!("SearchEditingProject answered without TotalCount: {v}").into())
}

/// Against `--endpoint`: creates projects through CreateEditingProject (8 connections)
/// until the key's account has `n`; returns how many were created and how long it took.
pub async fn seed_via_api(
    addr: SocketAddr,
    host: &str,
    key: &Key,
    n: usize,
) -> BenchResult<(u64, Duration)> {
    let started = Instant::now();
    let have = total_count(addr, host, key).await?;
    let missing = (n as u64).saturating_sub(have);
    if missing == 0 {
        return Ok((0, started.elapsed()));
    }
    eprintln!("openice-bench: the account has {have} projects; creating {missing} through the API");
    let make: MakeRequest = {
        let signer = Signer::new(host, key);
        Arc::new(move |i| {
            let (title, description, timeline) = seed_params(i as usize);
            let mut query = vec![("Title", title.as_str())];
            if let Some(d) = &description {
                query.push(("Description", d));
            }
            let form = timeline.as_deref().map(|t| ("Timeline", t));
            signer.sign("CreateEditingProject", &query, form.as_slice())
        })
    };
    let load = Load {
        connections: 8,
        warmup: Duration::ZERO,
        // Bounded by the request count; the time bound only stops a server that stalls.
        measure: Duration::from_secs(3600),
        max_requests: missing,
    };
    let r = client::closed_loop(addr, load, make).await?;
    if r.errors > 0 {
        return Err(format!(
            "seeding through the API: {} failed requests (first: {})",
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        )
        .into());
    }
    Ok((r.ok, started.elapsed()))
}
