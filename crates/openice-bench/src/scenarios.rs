//! The measured scenarios: which signed request each one sends, and the fixtures (projects
//! and media) they address.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::Request;
use hyper::body::Bytes;

use crate::BenchResult;
use crate::client::{Conn, MakeRequest};
use crate::signer::{Key, Signer};

/// Projects GetEditingProject and UpdateEditingProject address.
pub const FIXTURE_PROJECTS: usize = 100;
/// Media GetMediaInfo and BatchGetMediaInfos address.
pub const FIXTURE_MEDIA: usize = 100;
/// SearchEditingProject's connections, as in its target (p99 at 8 concurrent callers).
pub const SEARCH_CONNECTIONS: usize = 8;
/// MediaIds per BatchGetMediaInfos call.
pub const BATCH_SIZE: usize = 20;
/// The bucket the media fixtures are registered in (`oss://openice-bench/<run>/…`).
const MEDIA_BUCKET: &str = "openice-bench";
/// How long the bench lets the server probe the new media before measuring anyway.
const PROBE_WAIT: Duration = Duration::from_secs(10);

/// A small editor timeline, as CreateEditingProject receives it.
const CREATE_TIMELINE: &str = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"a1b2c3d4e5f60718293a4b5c6d7e8f90","In":0,"Out":4.5},{"MediaId":"0f9e8d7c6b5a49382716a5b4c3d2e1f0","In":1,"Out":6,"Effects":[{"Type":"Volume","Gain":0.5}]}]}],"AudioTracks":[{"AudioTrackClips":[{"MediaId":"11223344556677889900aabbccddeeff","In":0,"Out":9.5}]}]}"#;
/// What the editor saves with UpdateEditingProject: the timeline, edited (alternating with
/// [`CREATE_TIMELINE`] so every update changes the stored row).
const UPDATE_TIMELINE: &str = r#"{"VideoTracks":[{"VideoTrackClips":[{"MediaId":"a1b2c3d4e5f60718293a4b5c6d7e8f90","In":0.5,"Out":4},{"MediaId":"0f9e8d7c6b5a49382716a5b4c3d2e1f0","In":1,"Out":7.5}]}],"AudioTracks":[{"AudioTrackClips":[{"MediaId":"11223344556677889900aabbccddeeff","In":0,"Out":11.5}]}]}"#;

/// Everything the scenarios' requests refer to.
pub struct Fixtures {
    /// Signs for the account holding the `--projects` seeded projects: SearchEditingProject's.
    pub search_signer: Signer,
    /// Signs for the account the other scenarios read and write (the same as
    /// `search_signer`'s against `--endpoint`).
    pub signer: Signer,
    pub project_ids: Vec<String>,
    pub media_ids: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    Get,
    Create,
    Update,
    Search,
    GetMedia,
    BatchGetMedia,
    Mixed,
}

/// The mixed workload, out of 20 consecutive request numbers: 12 Get (60%), 2 Search (10%),
/// 2 Update (10%), 1 Create (5%), 2 GetMediaInfo (10%), 1 BatchGetMediaInfos (5%).
const MIX: [Scenario; 20] = {
    use Scenario::*;
    [
        Get,
        Get,
        Search,
        Get,
        Update,
        Get,
        GetMedia,
        Get,
        Create,
        Get, //
        Get,
        Search,
        Get,
        Update,
        Get,
        GetMedia,
        Get,
        BatchGetMedia,
        Get,
        Get,
    ]
};

/// [`MIX`] in words, for the report.
pub const MIXED: &str = "of every 20 requests 12 GetEditingProject, 2 SearchEditingProject, \
     2 UpdateEditingProject, 1 CreateEditingProject, 2 GetMediaInfo, \
     1 BatchGetMediaInfos";

impl Scenario {
    /// In the order they run in each round (after the floor).
    pub const ALL: [Scenario; 7] = [
        Scenario::Get,
        Scenario::Create,
        Scenario::Update,
        Scenario::Search,
        Scenario::GetMedia,
        Scenario::BatchGetMedia,
        Scenario::Mixed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Get => "GetEditingProject",
            Scenario::Create => "CreateEditingProject",
            Scenario::Update => "UpdateEditingProject",
            Scenario::Search => "SearchEditingProject",
            Scenario::GetMedia => "GetMediaInfo",
            Scenario::BatchGetMedia => "BatchGetMediaInfos",
            Scenario::Mixed => "Mixed",
        }
    }

    /// What one request is, for the report.
    pub fn detail(self) -> &'static str {
        match self {
            Scenario::Get => "one of 100 projects",
            Scenario::Create => "3-clip timeline, durable",
            Scenario::Update => "title + timeline of one of 100 projects",
            Scenario::Search => "PageSize 20, PageNo 1–5, with TotalCount",
            Scenario::GetMedia => "one of 100 media",
            Scenario::BatchGetMedia => "20 MediaIds per call",
            Scenario::Mixed => {
                "60% Get, 10% Search, 10% Update, 5% Create, 10% GetMediaInfo, 5% Batch"
            }
        }
    }

    /// Connections the scenario runs at, given `--connections`.
    pub fn connections(self, configured: usize) -> usize {
        match self {
            Scenario::Search => SEARCH_CONNECTIONS,
            _ => configured,
        }
    }

    /// Request number `n` of this scenario.
    pub fn request(self, fx: &Fixtures, n: u64) -> Request<Full<Bytes>> {
        let project = || fx.project_ids[n as usize % fx.project_ids.len()].as_str();
        match self {
            Scenario::Get => fx
                .signer
                .sign("GetEditingProject", &[("ProjectId", project())], &[]),
            Scenario::Create => fx.signer.sign(
                "CreateEditingProject",
                &[
                    ("Title", &format!("bench project {n}")),
                    ("Description", "created by openice-bench"),
                ],
                &[("Timeline", CREATE_TIMELINE)],
            ),
            Scenario::Update => {
                let timeline = if n.is_multiple_of(2) {
                    UPDATE_TIMELINE
                } else {
                    CREATE_TIMELINE
                };
                fx.signer.sign(
                    "UpdateEditingProject",
                    &[
                        ("ProjectId", project()),
                        ("Title", &format!("bench update {n}")),
                    ],
                    &[("Timeline", timeline)],
                )
            }
            Scenario::Search => fx.search_signer.sign(
                "SearchEditingProject",
                &[
                    ("PageNo", ["1", "2", "3", "4", "5"][n as usize % 5]),
                    ("PageSize", "20"),
                ],
                &[],
            ),
            Scenario::GetMedia => fx.signer.sign(
                "GetMediaInfo",
                &[("MediaId", &fx.media_ids[n as usize % fx.media_ids.len()])],
                &[],
            ),
            Scenario::BatchGetMedia => {
                let m = &fx.media_ids;
                let first = n as usize * BATCH_SIZE;
                let mut ids = String::with_capacity(BATCH_SIZE * 33);
                for i in first..first + BATCH_SIZE {
                    if i > first {
                        ids.push(',');
                    }
                    ids.push_str(&m[i % m.len()]);
                }
                fx.signer
                    .sign("BatchGetMediaInfos", &[("MediaIds", &ids)], &[])
            }
            Scenario::Mixed => MIX[n as usize % MIX.len()].request(fx, n / MIX.len() as u64),
        }
    }

    pub fn maker(self, fx: &Arc<Fixtures>) -> MakeRequest {
        let fx = Arc::clone(fx);
        Arc::new(move |n| self.request(&fx, n))
    }
}

/// What the media fixtures ended up as.
#[derive(serde::Serialize, Debug, Default, Clone)]
pub struct MediaFixtures {
    pub registered: usize,
    /// Whether the objects exist as files in the server's data dir (own servers only).
    pub files_written: bool,
    /// Media per status when measuring started (probing is not waited for past 10 s:
    /// without ffprobe every probe fails, which changes nothing for the reads measured).
    pub status: BTreeMap<String, u64>,
}

/// Creates the projects and registers the media the scenarios address, through the API.
/// With `data_dir` (own server), each media's object is first written as a small file
/// where local object storage keeps it (`<data-dir>/buckets/<bucket>/<key>`), so the
/// server's probe finds a file as it would in use; registration itself only records the
/// URL.
pub async fn create_fixtures(
    addr: SocketAddr,
    host: &str,
    search_key: &Key,
    key: &Key,
    data_dir: Option<&Path>,
) -> BenchResult<(Fixtures, MediaFixtures)> {
    let signer = Signer::new(host, key);
    let mut conn = Conn::open(addr).await?;
    let mut project_ids = Vec::with_capacity(FIXTURE_PROJECTS);
    for i in 0..FIXTURE_PROJECTS {
        let v = conn
            .call(signer.sign(
                "CreateEditingProject",
                &[("Title", &format!("bench fixture {i}"))],
                &[("Timeline", CREATE_TIMELINE)],
            ))
            .await?;
        let id = v["Project"]["ProjectId"]
            .as_str()
            .ok_or_else(|| format!("CreateEditingProject answered without ProjectId: {v}"))?;
        project_ids.push(id.to_string());
    }
    // A fresh folder per run, so that registering again at the same endpoint never meets
    // the URLs of an earlier run (MediaAlreadyExist).
    let run = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let mut media_ids = Vec::with_capacity(FIXTURE_MEDIA);
    for i in 0..FIXTURE_MEDIA {
        let object = format!("{run}/clip-{i:03}.mp4");
        if let Some(dir) = data_dir {
            let path = dir.join("buckets").join(MEDIA_BUCKET).join(&object);
            std::fs::create_dir_all(path.parent().expect("object path has a parent"))?;
            // Not a playable video: a probe, if ffprobe is installed, rejects it quickly.
            std::fs::write(&path, vec![0u8; 4096])?;
        }
        let v = conn
            .call(signer.sign(
                "RegisterMediaInfo",
                &[
                    ("InputURL", &format!("oss://{MEDIA_BUCKET}/{object}")),
                    ("Title", &format!("bench media {i}")),
                    ("MediaTags", "bench,fixture"),
                    ("RegisterConfig", r#"{"NeedSnapshot":false}"#),
                ],
                &[],
            ))
            .await?;
        let id = v["MediaId"]
            .as_str()
            .ok_or_else(|| format!("RegisterMediaInfo answered without MediaId: {v}"))?;
        media_ids.push(id.to_string());
    }
    let fixtures = Fixtures {
        search_signer: Signer::new(host, search_key),
        signer,
        project_ids,
        media_ids,
    };
    let status = wait_for_probes(&mut conn, &fixtures).await?;
    let media = MediaFixtures {
        registered: fixtures.media_ids.len(),
        files_written: data_dir.is_some(),
        status,
    };
    Ok((fixtures, media))
}

/// Polls the media's status until none is waiting for or under a probe, for at most
/// [`PROBE_WAIT`]: probes compete with the measured requests for CPU, but the reads do
/// not depend on their outcome, so the bench goes on either way.
async fn wait_for_probes(conn: &mut Conn, fx: &Fixtures) -> BenchResult<BTreeMap<String, u64>> {
    let deadline = Instant::now() + PROBE_WAIT;
    loop {
        let mut status = BTreeMap::new();
        for chunk in fx.media_ids.chunks(BATCH_SIZE) {
            let v = conn
                .call(
                    fx.signer
                        .sign("BatchGetMediaInfos", &[("MediaIds", &chunk.join(","))], &[]),
                )
                .await?;
            for m in v["MediaInfos"].as_array().into_iter().flatten() {
                let s = m["MediaBasicInfo"]["Status"].as_str().unwrap_or("?");
                *status.entry(s.to_string()).or_insert(0) += 1;
            }
        }
        let pending = ["Init", "Preparing"]
            .iter()
            .filter_map(|s| status.get(*s))
            .sum::<u64>();
        if pending == 0 || Instant::now() >= deadline {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
