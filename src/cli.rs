//! The `openice` command line: `serve`, `account …`, `media …` and `render`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::account::{self, AccessKey, Account, Credentials};
use crate::domain::media::InputLocation;
use crate::domain::now_micros;
use crate::media::storage::ObjectStorage;
use crate::server::{self, ServerConfig};
use crate::store::{self, Store, StoreError};

#[derive(Parser)]
#[command(
    name = "openice",
    version,
    about = "A self-hostable server for the ICE editing-project and media-library API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    Serve(ServeArgs),
    /// Manage accounts and their access keys (safe while a server runs on the same store).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Work with the local object storage.
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
    /// Write a consistent snapshot of a store (running or stopped) and its bucket files into
    /// one archive that either backend can restore.
    Dump {
        #[command(flatten)]
        store: StoreArgs,
        /// The archive to write.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Load a dump into an empty store (no accounts yet) of either backend, bucket files into
    /// the data dir. The archive is checked whole before anything is written.
    Restore {
        /// The archive `openice dump` wrote.
        archive: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Render a Timeline to an MP4 without a server (the renderer the jobs use).
    Render(RenderArgs),
}

#[derive(Args)]
struct RenderArgs {
    /// The Timeline JSON file. MediaURL clips are local paths or `oss://bucket/key` objects of
    /// the data dir; MediaIds are looked up in the data dir's store.
    #[arg(long)]
    timeline: PathBuf,
    /// The MP4 to write (replaced atomically).
    #[arg(short = 'o', long = "output", required_unless_present = "plan")]
    output: Option<PathBuf>,
    /// `OutputMediaConfig` JSON (Width, Height, Bitrate, MaxDuration, Video.Fps).
    #[arg(long, default_value = "{}")]
    output_config: String,
    /// Account (ID or name) whose MediaIds the timeline uses; default: the default account.
    #[arg(long)]
    account: Option<String>,
    /// Print the plan and the ffmpeg command with its graph instead of rendering.
    #[arg(long)]
    plan: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Copy a local file into local object storage at oss://bucket/key. The bucket becomes
    /// the account's if it has no owner yet; another account's bucket is refused.
    Put {
        file: PathBuf,
        url: String,
        /// Account ID or name; default: the default account.
        #[arg(long)]
        account: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Directory for the embedded database and media.
    #[arg(long, env = "OPENICE_DATA_DIR", default_value = "./openice-data")]
    data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; default: a SQLite file inside the data dir.
    #[arg(long, env = "OPENICE_DATABASE_URL")]
    database_url: Option<String>,
    /// When a SQLite commit is on disk: `normal` survives a killed process, `full` also
    /// power loss (syncs the WAL at every commit).
    #[arg(long, env = "OPENICE_SYNC", value_enum, default_value = "normal")]
    sync: SyncArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum SyncArg {
    Normal,
    Full,
}

impl From<SyncArg> for store::SyncMode {
    fn from(s: SyncArg) -> Self {
        match s {
            SyncArg::Normal => store::SyncMode::Normal,
            SyncArg::Full => store::SyncMode::Full,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, env = "OPENICE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Region ID reported by the server.
    #[arg(long, env = "OPENICE_REGION", default_value = "cn-shanghai")]
    region: String,
    /// PEM certificate chain; with --tls-key, serve HTTPS.
    #[arg(long, env = "OPENICE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "OPENICE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest accepted request body.
    #[arg(long, env = "OPENICE_MAX_BODY_BYTES", default_value_t = 8 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Most remembered signature nonces (about 16 bytes each).
    #[arg(long, env = "OPENICE_MAX_NONCES", default_value_t = 4_000_000)]
    max_nonces: usize,
    #[arg(long, env = "OPENICE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Hosts whose http(s) URLs may be registered as media and probed over the network
    /// (comma-separated); any other non-OSS URL is refused.
    #[arg(long, env = "OPENICE_FETCH_ALLOW", value_delimiter = ',')]
    fetch_allow: Vec<String>,
    /// Concurrent ffprobe runs.
    #[arg(long, env = "OPENICE_PROBE_WORKERS", default_value_t = 2)]
    probe_workers: usize,
    /// Concurrent renders of producing jobs.
    #[arg(long, env = "OPENICE_RENDER_WORKERS", default_value_t = 1)]
    render_workers: usize,
    /// Requests served at once; more are answered 503 ServiceUnavailable.
    #[arg(long, env = "OPENICE_MAX_IN_FLIGHT", default_value_t = 1024)]
    max_in_flight: usize,
    /// Request and response body bytes held at once; past it, requests are answered 503
    /// ServiceUnavailable at once.
    #[arg(long, env = "OPENICE_MAX_BYTES_IN_FLIGHT", default_value_t = 1024 * 1024 * 1024)]
    max_bytes_in_flight: u64,
    /// Largest response body one request may produce; a search page past it is refused
    /// (InvalidParameter, PageSize).
    #[arg(long, env = "OPENICE_MAX_RESPONSE_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_response_bytes: u64,
    /// Per-account request-rate quota, ACTION=QPS (`*` for every action); repeatable.
    #[arg(long = "quota", env = "OPENICE_QUOTAS", value_delimiter = ',')]
    quotas: Vec<String>,
    /// Once the server answers, run the executables in DIR/ready.d/ in name order with
    /// OPENICE_ENDPOINT and the default account's key in their environment.
    #[arg(long, env = "OPENICE_INIT_DIR")]
    init_dir: Option<PathBuf>,
    /// Also serve OSS virtual-host requests addressed as `<bucket>.DOMAIN` (path style and
    /// `<bucket>.oss-<region>.aliyuncs.com` hosts work without it).
    #[arg(long, env = "OPENICE_OSS_DOMAIN")]
    oss_domain: Option<String>,
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account with one access key; prints {"AccountId","AccessKeyId","AccessKeySecret"}.
    Create {
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List accounts and their key IDs, one JSON object per line (no secrets).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Add an access key to an account (by ID or name); prints the new credentials.
    KeyCreate {
        account: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an access key: requests signed with it get InvalidAccessKeyId.Inactive.
    KeyDisable {
        access_key_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled access key again.
    KeyEnable {
        access_key_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete an access key.
    KeyDelete {
        access_key_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openice: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("openice: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn open(args: &StoreArgs) -> Result<Arc<dyn Store>, StoreError> {
    store::open(
        args.database_url.as_deref(),
        &args.data_dir,
        args.sync.into(),
    )
    .await
}

async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Account { command } => account_command(command).await,
        Command::Media { command } => media_command(command).await,
        Command::Dump { store, output } => {
            let source =
                store::export::open(store.database_url.as_deref(), &store.data_dir).await?;
            let bar = progress::bar(0, &format!("dump to {}", output.display()));
            let summary =
                crate::dump::dump(source.as_ref(), &store.data_dir, &output, &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
            bar.finish_and_clear();
            print_json(&summary)
        }
        Command::Restore { archive, store } => {
            let bar = progress::bar(0, &format!("restore from {}", archive.display()));
            let summary = crate::dump::restore(
                &archive,
                async || store::export::open(store.database_url.as_deref(), &store.data_dir).await,
                &store.data_dir,
                &|done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await?;
            bar.finish_and_clear();
            print_json(&summary)
        }
        Command::Render(args) => render(args).await,
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPENICE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> CliResult {
    init_logging(args.log_format);
    let store = open(&args.store).await?;
    ensure_default_account(store.as_ref(), &args.store.data_dir).await?;
    tracing::info!(region = %args.region, "store ready");
    let init_hooks = match args.init_dir {
        Some(dir) => Some(server::InitHooks {
            dir,
            credentials: default_credentials(store.as_ref()).await?,
        }),
        None => None,
    };
    let config = ServerConfig {
        listen: args.listen,
        data_dir: args.store.data_dir.clone(),
        region: args.region.clone(),
        fetch_allow: args
            .fetch_allow
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        probe_workers: args.probe_workers.max(1),
        render_workers: args.render_workers.max(1),
        max_body_bytes: args.max_body_bytes,
        max_nonces: args.max_nonces,
        max_in_flight: args.max_in_flight,
        max_bytes_in_flight: args.max_bytes_in_flight,
        max_response_bytes: args.max_response_bytes,
        quotas: server::Quotas::parse(&args.quotas)?,
        tls: args.tls_cert.zip(args.tls_key),
        init_hooks,
        oss_domain: args
            .oss_domain
            .map(|d| d.trim().trim_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty()),
    };
    server::serve(store, config).await?;
    tracing::info!("stopped");
    Ok(())
}

const DEFAULT_ACCOUNT: &str = "default";

/// First start on an empty store creates the default account; later starts keep its key and
/// add `OPENICE_ACCESS_KEY_ID`/`_SECRET` when they name a new key.
async fn ensure_default_account(store: &dyn Store, data_dir: &Path) -> CliResult {
    let env_key = match (
        std::env::var("OPENICE_ACCESS_KEY_ID")
            .ok()
            .filter(|s| !s.is_empty()),
        std::env::var("OPENICE_ACCESS_KEY_SECRET")
            .ok()
            .filter(|s| !s.is_empty()),
    ) {
        (Some(id), Some(secret)) => {
            account::check_key_part("AccessKeyId", &id)?;
            account::check_key_part("AccessKeySecret", &secret)?;
            Some((id, account::Secret::new(secret)))
        }
        (None, None) => None,
        _ => {
            return Err(
                "set both OPENICE_ACCESS_KEY_ID and OPENICE_ACCESS_KEY_SECRET, or neither".into(),
            );
        }
    };
    if store.account_count().await? == 0 {
        let generated = env_key.is_none();
        let (key_id, secret) = env_key.unwrap_or_else(account::new_access_key);
        let creds = create_account(store, DEFAULT_ACCOUNT, key_id, secret).await?;
        if generated {
            let path = data_dir.join("default-credentials.json");
            write_private(&path, &serde_json::to_vec_pretty(&creds)?)?;
            tracing::info!(path = %path.display(), "created the default account; its credentials are in this file");
        } else {
            tracing::info!(access_key_id = %creds.access_key_id, "created the default account with the key from the environment");
        }
        return Ok(());
    }
    if let Some((key_id, secret)) = env_key {
        match store.access_key(&key_id).await? {
            Some(k) if k.secret == secret => {}
            Some(_) => {
                return Err(format!(
                    "OPENICE_ACCESS_KEY_ID {key_id} is already stored with another secret; refusing to start"
                )
                .into());
            }
            None => {
                let owner = match store.account_by_name(DEFAULT_ACCOUNT).await? {
                    Some(a) => a,
                    None => store
                        .accounts()
                        .await?
                        .into_iter()
                        .next()
                        .ok_or("no account to attach the key to")?,
                };
                store
                    .insert_access_key(&AccessKey {
                        access_key_id: key_id.clone(),
                        account_id: owner.account_id.clone(),
                        secret,
                        enabled: true,
                    })
                    .await?;
                tracing::info!(access_key_id = %key_id, account_id = %owner.account_id, "added the environment's access key");
            }
        }
    }
    Ok(())
}

/// The key init hooks get: the environment's key when one is set, else the default account's
/// first enabled key.
async fn default_credentials(store: &dyn Store) -> Result<Credentials, Box<dyn std::error::Error>> {
    let owner = find_account(store, DEFAULT_ACCOUNT).await?;
    let env_id = std::env::var("OPENICE_ACCESS_KEY_ID").ok();
    let keys = store.access_keys().await?;
    let key = keys
        .iter()
        .filter(|k| k.enabled)
        .find(|k| Some(&k.access_key_id) == env_id.as_ref())
        .or_else(|| {
            keys.iter()
                .find(|k| k.enabled && k.account_id == owner.account_id)
        })
        .ok_or("--init-dir: the default account has no enabled access key to give the hooks")?;
    Ok(Credentials {
        account_id: key.account_id.clone(),
        access_key_id: key.access_key_id.clone(),
        access_key_secret: key.secret.clone(),
    })
}

async fn create_account(
    store: &dyn Store,
    name: &str,
    key_id: String,
    secret: account::Secret,
) -> Result<Credentials, StoreError> {
    let account = Account {
        account_id: account::new_account_id(),
        name: name.to_string(),
        create_time: now_micros(),
    };
    let key = AccessKey {
        access_key_id: key_id,
        account_id: account.account_id.clone(),
        secret,
        enabled: true,
    };
    store.create_account(&account, &key).await?;
    Ok(Credentials {
        account_id: account.account_id,
        access_key_id: key.access_key_id,
        access_key_secret: key.secret,
    })
}

/// Writes a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.write_all(b"\n")?;
    f.sync_all()
}

fn print_json(value: &impl serde::Serialize) -> CliResult {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct AccountLine {
    account_id: String,
    name: String,
    create_time: String,
    access_keys: Vec<KeyLine>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyLine {
    access_key_id: String,
    enabled: bool,
}

async fn account_command(command: AccountCommand) -> CliResult {
    match command {
        AccountCommand::Create { name, store } => {
            let store = open(&store).await?;
            let (key_id, secret) = account::new_access_key();
            print_json(&create_account(store.as_ref(), &name, key_id, secret).await?)
        }
        AccountCommand::List { store } => {
            let store = open(&store).await?;
            let keys = store.access_keys().await?;
            for a in store.accounts().await? {
                let access_keys = keys
                    .iter()
                    .filter(|k| k.account_id == a.account_id)
                    .map(|k| KeyLine {
                        access_key_id: k.access_key_id.clone(),
                        enabled: k.enabled,
                    })
                    .collect();
                print_json(&AccountLine {
                    create_time: crate::domain::format_time(a.create_time),
                    account_id: a.account_id,
                    name: a.name,
                    access_keys,
                })?;
            }
            Ok(())
        }
        AccountCommand::KeyCreate { account, store } => {
            let store = open(&store).await?;
            let owner = find_account(store.as_ref(), &account).await?;
            let (key_id, secret) = account::new_access_key();
            let key = AccessKey {
                access_key_id: key_id,
                account_id: owner.account_id,
                secret,
                enabled: true,
            };
            store.insert_access_key(&key).await?;
            print_json(&Credentials {
                account_id: key.account_id,
                access_key_id: key.access_key_id,
                access_key_secret: key.secret,
            })
        }
        AccountCommand::KeyDisable {
            access_key_id,
            store,
        } => set_enabled(&store, &access_key_id, false).await,
        AccountCommand::KeyEnable {
            access_key_id,
            store,
        } => set_enabled(&store, &access_key_id, true).await,
        AccountCommand::KeyDelete {
            access_key_id,
            store,
        } => {
            if open(&store)
                .await?
                .delete_access_key(&access_key_id)
                .await?
            {
                wait_for_key_caches().await;
                Ok(())
            } else {
                Err(format!("no access key {access_key_id}").into())
            }
        }
    }
}

/// An account by ID or name.
async fn find_account(
    store: &dyn Store,
    id_or_name: &str,
) -> Result<Account, Box<dyn std::error::Error>> {
    if let Some(a) = store.account_by_name(id_or_name).await? {
        return Ok(a);
    }
    store
        .accounts()
        .await?
        .into_iter()
        .find(|a| a.account_id == id_or_name)
        .ok_or_else(|| format!("no account with ID or name {id_or_name:?}").into())
}

async fn media_command(command: MediaCommand) -> CliResult {
    match command {
        MediaCommand::Put {
            file,
            url,
            account,
            store,
        } => {
            let location = InputLocation::parse(&url, "URL").map_err(|e| e.reason)?;
            let InputLocation::Oss { bucket, key } = location else {
                return Err("the destination must be oss://<bucket>/<key>".into());
            };
            let db = open(&store).await?;
            let owner = match account {
                Some(a) => find_account(db.as_ref(), &a).await?,
                None => {
                    // On a fresh data dir this creates the default account, as `serve` would.
                    ensure_default_account(db.as_ref(), &store.data_dir).await?;
                    find_account(db.as_ref(), DEFAULT_ACCOUNT).await?
                }
            };
            let bucket_owner = db.claim_bucket(&bucket, &owner.account_id).await?;
            if bucket_owner != owner.account_id {
                return Err(format!("bucket {bucket} belongs to another account").into());
            }
            let len = std::fs::metadata(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?
                .len();
            // The download-URL key is irrelevant here: this only copies the file.
            let storage = ObjectStorage::new(&store.data_dir, b"");
            let bar = progress::bar(len, &format!("oss://{bucket}/{key}"));
            let size = storage
                .put_file(&file, &bucket, &key, &|n| bar.set_position(n))
                .await
                .map_err(|e| {
                    format!(
                        "cannot copy {} to {} (oss://{bucket}/{key}): {e}",
                        file.display(),
                        storage.path(&bucket, &key).display()
                    )
                })?;
            bar.finish_and_clear();
            print_json(
                &serde_json::json!({"InputURL": format!("oss://{bucket}/{key}"), "FileSize": size}),
            )
        }
    }
}

async fn set_enabled(store: &StoreArgs, access_key_id: &str, enabled: bool) -> CliResult {
    if open(store)
        .await?
        .set_access_key_enabled(access_key_id, enabled)
        .await?
    {
        if !enabled {
            wait_for_key_caches().await;
        }
        Ok(())
    } else {
        Err(format!("no access key {access_key_id}").into())
    }
}

/// Running servers cache enabled keys briefly; once this returns, none still accepts a key
/// that was just disabled or deleted.
async fn wait_for_key_caches() {
    tokio::time::sleep(crate::server::KEY_CACHE_TTL).await;
}

/// `openice render`: the same check → plan → execute path as a producing job.
async fn render(args: RenderArgs) -> CliResult {
    use std::collections::HashMap;

    use crate::domain::timeline::{ClipSource, Timeline};
    use crate::render;

    let text = std::fs::read_to_string(&args.timeline)
        .map_err(|e| format!("cannot read {}: {e}", args.timeline.display()))?;
    let timeline = Timeline::parse(&text)?;
    render::check(&timeline)?;
    let config: serde_json::Value = serde_json::from_str(&args.output_config)
        .map_err(|e| format!("--output-config is not JSON: {e}"))?;
    let spec = render::OutputSpec::from_output_media_config(&config)?;
    let storage = ObjectStorage::new(&args.store.data_dir, b"");
    let object = |url: &str| -> Result<PathBuf, String> {
        match InputLocation::parse(url, "MediaURL").map_err(|e| e.reason)? {
            InputLocation::Oss { bucket, key } => Ok(storage.path(&bucket, &key)),
            InputLocation::Remote { .. } => Err(format!(
                "{url}: only local files and oss:// objects can be rendered locally"
            )),
        }
    };
    let mut sources = HashMap::new();
    let mut db = None;
    for source in timeline.sources() {
        let file = match source {
            ClipSource::MediaUrl(url) if url.contains("://") => object(url)?.into(),
            ClipSource::MediaUrl(path) => PathBuf::from(path).into(),
            ClipSource::MediaId(id) => {
                if db.is_none() {
                    let store = open(&args.store).await?;
                    let owner = find_account(
                        store.as_ref(),
                        args.account.as_deref().unwrap_or(DEFAULT_ACCOUNT),
                    )
                    .await?;
                    db = Some((store, owner.account_id));
                }
                let (store, account_id) = db.as_ref().expect("opened above");
                let media = store
                    .media(account_id, id)
                    .await?
                    .ok_or_else(|| format!("no media {id} in this store's account"))?;
                // As a job does: the stored probe stands in for an ffprobe run.
                render::SourceFile::library(object(&media.location)?, media.probe.as_deref())
            }
        };
        sources.insert(source.clone(), file);
    }
    let plan = render::plan(&timeline, &sources, &spec).await?;
    if args.plan {
        print!("{}", plan.describe());
        return Ok(());
    }
    let output = args.output.ok_or("--output is required")?;
    let bar = progress::percent(&format!("render {}", output.display()));
    let progress = |p: u8| bar.set_position(p.into());
    render::execute(&plan, &output, &progress).await?;
    bar.finish_and_clear();
    print_json(&serde_json::json!({
        "Output": output.display().to_string(),
        "Frames": plan.frames(),
        "Duration": plan.duration_secs(),
        "Width": plan.width,
        "Height": plan.height,
    }))
}

/// Progress bars for long CLI work: drawn on a terminal, silent when stderr is piped.
mod progress {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

    /// A byte-count bar of `len` bytes labelled `what`.
    pub fn bar(len: u64, what: &str) -> ProgressBar {
        new(
            len,
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            what,
        )
    }

    /// A 0–100 % bar labelled `what`.
    pub fn percent(what: &str) -> ProgressBar {
        new(100, "{msg} [{bar:30}] {pos:>3}% {elapsed_precise}", what)
    }

    fn new(len: u64, template: &str, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_string());
        bar
    }
}
