//! HTTP wiring: the request pipeline (load shedding → body limit → parse → authenticate →
//! quota → dispatch), health, metrics, logging with the RequestId, graceful shutdown and
//! optional TLS.

mod console;
mod hooks;
pub(crate) mod keys;
mod metrics;
mod quota;
mod replay;

pub use hooks::InitHooks;
pub use keys::KEY_CACHE_TTL;

pub use quota::Quotas;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use time::OffsetDateTime;
use tracing::Instrument;

use axum::extract::{Path, Query};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use self::metrics::Metrics;
use crate::actions::{self, Action, Caller, Ctx};
use crate::domain::media::{check_bucket, check_key};
use crate::media::probe::ProbeLimits;
use crate::media::storage::ObjectStorage;
use crate::protocol::budget::{ByteBudget, Reservation, ResponseBudget};
use crate::protocol::error::{ApiError, ErrorBody};
use crate::protocol::request::{self, HttpParts};
use crate::protocol::{error::ErrorCode, new_request_id};
use crate::store::{Store, StoreError};

/// Accepted clock skew for signed requests, either direction.
const TIME_WINDOW: time::Duration = time::Duration::minutes(15);
/// After SIGTERM/SIGINT, how long requests under way may run before the server stops.
const DRAIN_DEADLINE: Duration = Duration::from_secs(20);
/// Then how long workers get to reach a safe point.
const WORKER_STOP_DEADLINE: Duration = Duration::from_secs(5);

pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub fetch_allow: Vec<String>,
    pub probe_workers: usize,
    /// Concurrent renders (`--render-workers`).
    pub render_workers: usize,
    pub max_body_bytes: usize,
    /// Request and response body bytes held at once (`--max-bytes-in-flight`).
    pub max_bytes_in_flight: u64,
    /// Largest response body one request may produce (`--max-response-bytes`).
    pub max_response_bytes: u64,
    /// Bound on remembered nonces (about 16 bytes each).
    pub max_nonces: usize,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Requests served at once; more are answered 503 `ServiceUnavailable` at once.
    pub max_in_flight: usize,
    pub quotas: Quotas,
    /// `--init-dir`: hooks to run once the server answers.
    pub init_hooks: Option<InitHooks>,
    /// Virtual-host OSS requests also come as `<bucket>.<oss_domain>`.
    pub oss_domain: Option<String>,
}

struct App {
    ctx: Arc<Ctx>,
    replay: Arc<replay::ReplayGuard>,
    max_body_bytes: usize,
    scheme: &'static str,
    metrics: Metrics,
    quotas: Quotas,
    in_flight: Arc<tokio::sync::Semaphore>,
    bytes: Arc<ByteBudget>,
    max_response_bytes: u64,
    keys: keys::KeyCache,
    oss_domain: Option<String>,
}

/// Builds the action context; the download-URL key is kept in the store so that every
/// server on it signs alike.
pub async fn context(store: Arc<dyn Store>, config: &ServerConfig) -> Result<Arc<Ctx>, StoreError> {
    let fresh_key = hex::encode(rand::random::<[u8; 32]>());
    let url_key = store
        .setting_or_insert("download_url_key", &fresh_key)
        .await?;
    Ok(Arc::new(Ctx {
        storage: ObjectStorage::new(&config.data_dir, url_key.as_bytes()),
        store,
        region: config.region.clone(),
        fetch_allow: config.fetch_allow.clone(),
        probe_wakeup: tokio::sync::Notify::new(),
        probe_limits: ProbeLimits::default(),
        job_wakeup: tokio::sync::Notify::new(),
        callback_wakeup: tokio::sync::Notify::new(),
        submitting: Default::default(),
    }))
}

fn router(ctx: Arc<Ctx>, config: ServerConfig, replay: Arc<replay::ReplayGuard>) -> Router {
    let app = Arc::new(App {
        ctx,
        replay,
        max_body_bytes: config.max_body_bytes,
        scheme: if config.tls.is_some() {
            "https"
        } else {
            "http"
        },
        metrics: Metrics::new(),
        quotas: config.quotas,
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
        bytes: ByteBudget::new(config.max_bytes_in_flight),
        max_response_bytes: config.max_response_bytes,
        keys: keys::KeyCache::default(),
        oss_domain: config.oss_domain,
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .route("/oss/{bucket}/{*key}", get(download))
        .merge(console::routes())
        .fallback(rpc)
        .with_state(app.clone())
        .layer(axum::middleware::from_fn_with_state(app, oss_first))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
}

/// Serves until SIGTERM or SIGINT, then drains in-flight requests.
pub async fn serve(
    store: Arc<dyn Store>,
    mut config: ServerConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let init_hooks = config.init_hooks.take();
    let started = OffsetDateTime::now_utc();
    // A store that saw an earlier server has a different (random) first-start mark.
    let mark = hex::encode(rand::random::<[u8; 16]>());
    let restarted = store.setting_or_insert("first_start", &mark).await? != mark;
    let replay = Arc::new(
        replay::ReplayGuard::new(
            store.as_ref(),
            config.max_nonces,
            TIME_WINDOW,
            started,
            restarted,
        )
        .await?,
    );
    let released = store.release_own_leases().await?;
    if released > 0 {
        tracing::info!(
            released,
            "jobs left mid-render by the last run are queued again"
        );
    }
    let ctx = context(store.clone(), &config).await?;
    crate::jobs::warn_missing_tools();
    let refetch = ctx.store.requeue_url_jobs().await?;
    if refetch > 0 {
        tracing::info!(
            refetch,
            "URL uploads left unfinished by the last run are queued again"
        );
    }
    let workers = crate::jobs::start(
        ctx.clone(),
        crate::jobs::WorkerCounts {
            probe: config.probe_workers,
            render: config.render_workers,
        },
    );
    crate::oss::sweep(&ctx).await;
    let (listen, tls) = (config.listen, config.tls.clone());
    // Requests signed before the floor are refused; wait it out so that clients with
    // correct clocks never see that.
    let wait = replay
        .floor()
        .saturating_sub(OffsetDateTime::now_utc().unix_timestamp());
    if wait > 0 {
        tracing::info!(
            seconds = wait,
            "waiting for the replay floor: the last run handed over no nonces"
        );
        tokio::time::sleep(Duration::from_secs(wait as u64)).await;
    }
    let app = router(ctx.clone(), config, replay.clone());
    match &tls {
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .map_err(|e| cannot_listen(listen, e))?;
            let bound = listener.local_addr()?;
            tracing::info!(address = %bound, "listening (http)");
            if let Some(hooks) = init_hooks {
                tokio::spawn(hooks::run(hooks, "http", bound, store));
            }
            let (stopping, mut stopped) = tokio::sync::watch::channel(false);
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                shutdown_signal().await;
                let _ = stopping.send(true);
            });
            // Requests still running at the deadline are dropped with the runtime.
            let deadline = async {
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(DRAIN_DEADLINE).await;
            };
            tokio::select! {
                served = std::future::IntoFuture::into_future(serving) => served?,
                _ = deadline => tracing::warn!(
                    "requests still running {} s after the shutdown signal are dropped",
                    DRAIN_DEADLINE.as_secs()
                ),
            }
        }
        Some((cert, key)) => {
            let rustls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| {
                    format!(
                        "cannot load the TLS certificate {} and key {}: {e}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                stopper.graceful_shutdown(Some(DRAIN_DEADLINE));
            });
            tracing::info!(address = %listen, "listening (https)");
            if let Some(hooks) = init_hooks {
                tokio::spawn(hooks::run(hooks, "https", listen, store));
            }
            axum_server::bind_rustls(listen, rustls)
                .handle(handle)
                .serve(app.into_make_service())
                .await
                .map_err(|e| cannot_listen(listen, e))?;
        }
    }
    // No request is running any more: hand the recent nonces to the next start, and stop
    // the workers at a safe point (render workers hand their jobs back to the queue).
    if let Err(e) = replay.hand_over(ctx.store.as_ref()).await {
        tracing::warn!(error = %e, "no replay hand-over; the next start waits out its floor");
    }
    workers.stop(WORKER_STOP_DEADLINE).await;
    tracing::info!("stopped");
    Ok(())
}

fn cannot_listen(listen: SocketAddr, e: std::io::Error) -> String {
    format!(
        "cannot listen on {listen}: {e}. Is another server using that port? Choose another \
         with --listen (OPENICE_LISTEN)."
    )
}

/// OSS requests are recognised before any other rule (`oss::is_oss`) and served by the
/// OSS module, with streamed bodies and XML answers.
async fn oss_first(
    State(app): State<Arc<App>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let domain = app.oss_domain.as_deref();
    if crate::oss::is_oss(req.uri(), req.headers(), domain) {
        let in_flight = app.in_flight.clone();
        return crate::oss::handle(app.ctx.clone(), &app.keys, domain, in_flight, req).await;
    }
    next.run(req).await
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), app.ctx.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: store unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store timed out\n").into_response(),
    }
}

async fn render_metrics(State(app): State<Arc<App>>) -> Response {
    if let Ok(depth) = app.ctx.store.probe_queue_depth().await {
        app.metrics.probe_queue.set(depth as i64);
    }
    if let Ok(depth) = app.ctx.store.job_queue_depth().await {
        app.metrics.render_queue.set(depth as i64);
    }
    app.metrics
        .store_errors
        .set(crate::store::BACKEND_ERRORS.load(std::sync::atomic::Ordering::Relaxed) as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        app.metrics.render(),
    )
        .into_response()
}

async fn rpc(State(app): State<Arc<App>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = new_request_id();
    // Every line logged while serving the request carries its RequestId, action and account.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        action = tracing::field::Empty,
        account = tracing::field::Empty,
    );
    // Shed load at once rather than queue without bound (answered, logged and counted below).
    let permit = app.in_flight.clone().try_acquire_owned().ok();
    app.metrics.in_flight.inc();
    let (parts, body) = req.into_parts();
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut action: Option<Action> = None;
    let result = async {
        if permit.is_none() || app.bytes.over() {
            return Err(ApiError::unavailable());
        }
        if parts.uri.path() != "/" {
            return Err(actions::unknown_action(parts.uri.path()));
        }
        // The body is counted before it is read: its declared length, the most it may be when
        // it comes chunked, and nothing when there is none (HTTP/1.1: neither header).
        let declared = content_length(&parts.headers);
        let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
        let counted = declared.unwrap_or(if chunked {
            app.max_body_bytes as u64
        } else {
            0
        });
        let _request_bytes = app
            .bytes
            .try_reserve(counted.min(app.max_body_bytes as u64))
            .ok_or_else(ApiError::unavailable)?;
        let body = read_body(body, declared, app.max_body_bytes).await?;
        // Borrowed, not copied: a value that is not UTF-8 (rare) is the only one converted.
        let headers: Vec<(Cow<str>, Cow<str>)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    Cow::Borrowed(k.as_str()),
                    String::from_utf8_lossy(v.as_bytes()),
                )
            })
            .collect();
        let http = HttpParts {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            raw_query: parts.uri.query().unwrap_or(""),
            headers: &headers,
            body: &body,
        };
        let rpc = request::parse(&http)?;
        tracing::Span::current().record("action", rpc.action.as_str());
        // The action is parsed here, once; unknown names are refused after authentication.
        action = Action::parse(&rpc.action);
        let caller = authenticate(&app, &rpc, format!("{}://{host}", app.scheme)).await?;
        tracing::Span::current().record("account", caller.account_id.as_str());
        request::check_version(&rpc.version)?;
        let Some(known) = action else {
            return Err(actions::unknown_action(&rpc.action));
        };
        if !app.quotas.allow(&caller.account_id, known) {
            return Err(ApiError::new(
                ErrorCode::ThrottlingUser,
                "Request was denied due to user flow control.",
            ));
        }
        let bytes = actions::dispatch(&app.ctx, &caller, known, &rpc.params, &request_id).await?;
        let mut held = caller.budget.take();
        held.push(app.bytes.reserve(bytes.len() as u64));
        Ok((bytes, held))
    }
    .instrument(span.clone())
    .await;

    app.metrics.in_flight.dec();
    let (status, code) = match &result {
        Ok(_) => (200, ""),
        Err(e) => (e.status, e.code.as_str()),
    };
    app.metrics
        .answered(action, code, started.elapsed().as_secs_f64());
    log_request(&span, status, code, started, result.as_ref().err());
    match result {
        Ok((bytes, held)) => {
            let mut response = json_response(200, &request_id, bytes);
            if held.iter().any(|r| r.counted()) {
                let body = std::mem::take(response.body_mut());
                *response.body_mut() = Body::new(HeldBody { body, _held: held });
            }
            response
        }
        Err(e) => error_response(&e, &request_id, &host),
    }
}

/// The one log line of a request, in its span. An error of ours (5xx) is logged here, where
/// it leaves, at `error` with its source chain.
fn log_request(
    span: &tracing::Span,
    status: u16,
    code: &str,
    started: Instant,
    error: Option<&ApiError>,
) {
    let micros = started.elapsed().as_micros() as u64;
    span.in_scope(|| match error {
        Some(e) if status >= 500 => {
            let error = crate::protocol::error::chain(e);
            tracing::error!(status, code, micros, %error, "request failed");
        }
        _ => tracing::info!(status, code, micros, "request"),
    });
}

fn json_response(status: u16, request_id: &str, bytes: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-acs-request-id", v);
    }
    response
}

fn content_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// A response body that keeps its bytes counted in the budget until it is sent (or dropped).
struct HeldBody {
    body: Body,
    _held: Vec<Reservation>,
}

impl http_body::Body for HeldBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Reads a body of at most `limit` bytes; `declared` is its Content-Length, if any.
async fn read_body(body: Body, declared: Option<u64>, limit: usize) -> Result<Bytes, ApiError> {
    if declared.is_some_and(|n| n > limit as u64) {
        drain(body).await;
        return Err(ApiError::body_too_large(limit));
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return Err(ApiError::invalid(
                "Body",
                "The request body could not be read.",
            ));
        };
        if buf.len() + chunk.len() > limit {
            drain(Body::from_stream(stream)).await;
            return Err(ApiError::body_too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// Reads and drops the rest of an oversized body (bounded in bytes and time), so clients
/// that send the whole body before reading see the 413 instead of a broken pipe.
async fn drain(body: Body) {
    const MAX_DRAIN: usize = 256 << 20;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            seen += chunk.len();
            if seen > MAX_DRAIN {
                break;
            }
        }
    })
    .await;
}

/// Key lookup, then signature, then time window, then nonce, so forged requests cannot
/// burn nonces.
async fn authenticate(
    app: &App,
    rpc: &request::RpcRequest,
    base_url: String,
) -> Result<Caller, ApiError> {
    // Temporary (STS) credentials work on the OSS API only, so their keys are unknown here.
    if rpc.security_token {
        return Err(ApiError::invalid(
            "SecurityToken",
            "STS security tokens are accepted by the OSS API only; sign with an access key.",
        ));
    }
    let key_id = rpc.claim.access_key_id();
    let key = app
        .keys
        .get(app.ctx.store.as_ref(), key_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InvalidAccessKeyIdNotFound,
                "Specified access key is not found.",
            )
        })?;
    rpc.claim.verify(key.secret.expose())?;
    if !key.enabled {
        return Err(ApiError::new(
            ErrorCode::InvalidAccessKeyIdInactive,
            "Specified access key is disabled.",
        ));
    }
    let now = OffsetDateTime::now_utc();
    let signed_at = rpc.claim.check_time(now, TIME_WINDOW)?;
    app.replay
        .check(
            app.ctx.store.as_ref(),
            key_id,
            rpc.claim.nonce(),
            signed_at.unix_timestamp(),
            now.unix_timestamp(),
        )
        .await?;
    Ok(Caller {
        account_id: key.account_id,
        base_url,
        budget: ResponseBudget::new(app.bytes.clone(), app.max_response_bytes),
    })
}

#[derive(serde::Deserialize)]
struct DownloadQuery {
    #[serde(rename = "Expires")]
    expires: i64,
    #[serde(rename = "Signature")]
    signature: String,
}

/// Serves an object for a signed, unexpired download URL (Range requests included).
async fn download(
    State(app): State<Arc<App>>,
    Path((bucket, key)): Path<(String, String)>,
    query: Result<Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
    req: Request,
) -> Response {
    let denied = |status: StatusCode, why: &'static str| (status, why).into_response();
    let Ok(Query(q)) = query else {
        return denied(
            StatusCode::FORBIDDEN,
            "Expires and Signature are required\n",
        );
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    if check_bucket(&bucket).is_err() || check_key(&key).is_err() {
        return denied(StatusCode::NOT_FOUND, "no such object\n");
    }
    if !app
        .ctx
        .storage
        .verify(&bucket, &key, q.expires, &q.signature, now)
    {
        return denied(
            StatusCode::FORBIDDEN,
            "the URL is expired or its signature is wrong\n",
        );
    }
    match app.ctx.storage.existing(&bucket, &key) {
        Ok(path) => match ServeFile::new(path).oneshot(req).await {
            Ok(r) => r.into_response(),
            Err(e) => match e {},
        },
        Err(_) => denied(StatusCode::NOT_FOUND, "no such object\n"),
    }
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let request_id = new_request_id();
    tracing::error!(request_id = %request_id, "handler panicked");
    error_response(&ApiError::internal(), &request_id, "")
}

/// The vendor's JSON error body with the error's status.
fn error_response(e: &ApiError, request_id: &str, host_id: &str) -> Response {
    let body = ErrorBody {
        request_id,
        host_id,
        code: e.code.as_str(),
        message: &e.message,
        recommend: "",
    };
    json_response(
        e.status,
        request_id,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}
