//! Event callbacks: the vendor's message envelope, the durable outbox, and the deliverer
//! that POSTs each message with the AuthSwitch signature and retries with backoff.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use md5::{Digest, Md5};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::{Worker, WorkerState};
use crate::actions::Ctx;
use crate::actions::jobs::notify_address;
use crate::domain::job::{Delivery, Job};
use crate::domain::media::{MediaInfo, MediaStatus, MediaType};
use crate::domain::{Micros, format_time, new_id, now_micros};
use crate::store::oss::UrlUploadJob;
use crate::store::{Store, StoreResult};

/// Tries per delivery; with the backoff below the last comes about 4 minutes after the first.
const MAX_ATTEMPTS: i64 = 8;
/// How long one POST may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deliveries taken per round.
const BATCH: u32 = 16;

/// Seconds before attempt `n + 1` after `n` failed attempts: 2, 4, 8, … 128.
fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1 << attempts.clamp(1, 7))
}

/// `md5("<url>|<timestamp>|<AuthKey>")` in lower-case hex, as the vendor signs callbacks.
pub fn signature(url: &str, timestamp: i64, auth_key: &str) -> String {
    hex::encode(Md5::digest(
        format!("{url}|{timestamp}|{auth_key}").as_bytes(),
    ))
}

/// The vendor's envelope; `UserId` is the account ID as a JSON number.
fn envelope(account_id: &str, event: &str, body: Value) -> String {
    json!({
        "EventType": event,
        "UserId": account_id.parse::<u64>().unwrap_or(0),
        "EventTime": format_time(now_micros()),
        "MessageBody": body,
    })
    .to_string()
}

/// A delivery of `event` for the account: to `explicit` when given, else to the account's
/// SetEventCallback URL when it subscribes the event; signed when its AuthSwitch is on.
async fn delivery(
    store: &dyn Store,
    account_id: &str,
    event: &str,
    explicit: Option<String>,
    body: Value,
) -> StoreResult<Option<Delivery>> {
    let config = store.event_callback(account_id).await?;
    let url = match explicit {
        Some(u) => u,
        None => match config
            .as_ref()
            .filter(|c| c.subscribes(event))
            .and_then(|c| c.callback_url.clone())
        {
            Some(u) => u,
            None => return Ok(None),
        },
    };
    let now = now_micros();
    Ok(Some(Delivery {
        delivery_id: new_id(),
        account_id: account_id.to_string(),
        url,
        body: envelope(account_id, event, body),
        auth_key: config.filter(|c| c.auth_switch).and_then(|c| c.auth_key),
        attempts: 0,
        next_attempt: now,
        create_time: now,
    }))
}

/// `ProduceMediaComplete` for a job ending with `status` (`Success`/`Failed`).
pub async fn produce_complete(
    store: &dyn Store,
    job: &Job,
    status: &str,
    code: &str,
    message: &str,
) -> StoreResult<Option<Delivery>> {
    let body = json!({
        "Status": status,
        "JobId": job.job_id,
        "ProjectId": job.project_id,
        "MediaId": job.media_id,
        "MediaURL": job.media_url,
        "ErrorCode": code,
        "ErrorMessage": message,
        "UserData": job.user_data.clone().unwrap_or_default(),
    });
    delivery(
        store,
        &job.account_id,
        "ProduceMediaComplete",
        notify_address(job.user_data.as_deref()),
        body,
    )
    .await
}

/// Queues `RegisterMediaComplete` when a registered media finished probing and the
/// account subscribes the event.
pub async fn media_registered(ctx: &Ctx, media: &MediaInfo) -> StoreResult<()> {
    let ok = media.status == MediaStatus::Normal;
    let mut body = json!({
        "Status": if ok { "Success" } else { "Fail" },
        "MediaId": media.media_id,
    });
    if let Some(u) = &media.user_data {
        body["UserData"] = Value::String(u.clone());
    }
    if !ok {
        body["ErrorCode"] = Value::String("InvalidParameter.ResourceContentBad".into());
        body["ErrorMessage"] = Value::String("The media could not be probed.".into());
    }
    enqueue(ctx, &media.account_id, "RegisterMediaComplete", None, body).await
}

/// Puts the event's delivery, if any (see `delivery`), in the outbox and wakes the deliverer.
async fn enqueue(
    ctx: &Ctx,
    account_id: &str,
    event: &str,
    explicit: Option<String>,
    body: Value,
) -> StoreResult<()> {
    if let Some(d) = delivery(ctx.store.as_ref(), account_id, event, explicit, body).await? {
        ctx.store.insert_delivery(&d).await?;
        ctx.callback_wakeup.notify_one();
    }
    Ok(())
}

/// The upload actions' per-upload callback, `UserData` = `{"MessageCallback":{"CallbackURL":…}}`.
fn message_callback(user_data: Option<&str>) -> Option<String> {
    let value: Value = serde_json::from_str(user_data?).ok()?;
    value
        .get("MessageCallback")?
        .get("CallbackURL")?
        .as_str()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
        .map(str::to_string)
}

/// The upload event for a CreateUploadMedia media whose object a client wrote:
/// `FileUploadComplete` for audio and video, the vendor's image and auxiliary-file events
/// (same body) for the rest.
pub async fn file_uploaded(ctx: &Ctx, media: &MediaInfo, size: u64) -> StoreResult<()> {
    let event = match media.media_type {
        Some(MediaType::Video | MediaType::Audio) => "FileUploadComplete",
        Some(MediaType::Image) => "ImageUploadComplete",
        Some(MediaType::Text) | None => "AttachedMediaUploadComplete",
    };
    let mut body = json!({
        "Status": "Success",
        "FileUrl": media.input_url,
        "MediaId": media.media_id,
        // AppId is not kept; every media is in the vendor's default app.
        "AppId": "app-1000000",
        "Size": size.to_string(),
        "MediaType": media.media_type.map_or("", MediaType::as_str),
    });
    if let Some(u) = &media.user_data {
        body["UserData"] = Value::String(u.clone());
    }
    let explicit = message_callback(media.user_data.as_deref());
    enqueue(ctx, &media.account_id, event, explicit, body).await
}

/// `UploadByURLComplete` for an UploadMediaByURL job that finished (`Success`/`Failed`).
pub async fn url_uploaded(ctx: &Ctx, job: &UrlUploadJob, file_url: &str) -> StoreResult<()> {
    let mut body = json!({
        "Status": if job.status == "Success" { "Success" } else { "Fail" },
        "JobId": job.job_id,
        "MediaId": job.media_id,
        "SourceURL": job.source_url,
        "FileUrl": file_url,
        "ErrorCode": job.error_code.clone().unwrap_or_default(),
        "ErrorMessage": job.error_message.clone().unwrap_or_default(),
    });
    if let Some(size) = job.file_size {
        body["Size"] = Value::String(size.to_string());
    }
    if let Some(u) = &job.user_data {
        body["UserData"] = Value::String(u.clone());
    }
    let explicit = message_callback(job.user_data.as_deref());
    enqueue(ctx, &job.account_id, "UploadByURLComplete", explicit, body).await
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<hyper::body::Bytes>,
>;

/// POSTs outbox deliveries until each succeeds (2xx) or runs out of tries.
pub struct Deliverer {
    ctx: Arc<Ctx>,
    client: HttpClient,
}

impl Deliverer {
    pub fn new(ctx: Arc<Ctx>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new();
        let builder = match builder.with_provider_and_native_roots(provider.clone()) {
            Ok(b) => b,
            Err(e) => {
                // Plain http callbacks still work; https ones fail their tries and are logged.
                tracing::warn!(error = %e, "no system CA certificates: https callbacks cannot be verified");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default protocol versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector);
        Deliverer { ctx, client }
    }

    /// One try of one delivery; the row goes when it succeeds or was the last try.
    async fn attempt(&self, d: Delivery, now: Micros) -> Result<(), String> {
        let store = &self.ctx.store;
        let retry_at = now + backoff(d.attempts + 1).as_micros() as i64;
        // Counting the attempt first keeps a crash from retrying without backoff, and lets
        // only one server take each attempt.
        if !store
            .reschedule_delivery(&d, retry_at)
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(());
        }
        let tries = d.attempts + 1;
        match self.post(&d).await {
            Ok(()) => tracing::info!(url = %d.url, "callback delivered"),
            Err(e) if tries >= MAX_ATTEMPTS => {
                tracing::warn!(url = %d.url, error = %e, tries, "callback dropped after its last try")
            }
            Err(e) => {
                tracing::info!(url = %d.url, error = %e, tries, "callback failed; retrying later");
                return Ok(());
            }
        }
        store
            .delete_delivery(&d.delivery_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn post(&self, d: &Delivery) -> Result<(), String> {
        let mut request = hyper::Request::post(&d.url).header("content-type", "application/json");
        if let Some(key) = &d.auth_key {
            let ts = now_micros() / 1_000_000;
            request = request
                .header("X-ICE-TIMESTAMP", ts.to_string())
                .header("X-ICE-SIGNATURE", signature(&d.url, ts, key));
        }
        let request = request
            .body(http_body_util::Full::new(hyper::body::Bytes::from(
                d.body.clone(),
            )))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(POST_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| format!("no answer within {POST_TIMEOUT:?}"))?
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", response.status()))
        }
    }
}

#[async_trait]
impl Worker for Deliverer {
    fn name(&self) -> String {
        "callbacks".into()
    }

    async fn work(
        &mut self,
        _must_exit: &mut watch::Receiver<bool>,
    ) -> Result<WorkerState, String> {
        let store = &self.ctx.store;
        let now = now_micros();
        let due = store
            .due_deliveries(now, BATCH)
            .await
            .map_err(|e| e.to_string())?;
        if due.is_empty() {
            return Ok(WorkerState::Idle);
        }
        // One slow receiver must not hold up the others: a round's POSTs run together.
        let attempts = due.into_iter().map(|d| self.attempt(d, now));
        for result in futures_util::future::join_all(attempts).await {
            result?;
        }
        Ok(WorkerState::Busy)
    }

    async fn wait_for_work(&mut self) -> WorkerState {
        let next = self.ctx.store.next_delivery_at().await.ok().flatten();
        let wait = match next {
            Some(at) => Duration::from_micros((at - now_micros()).clamp(0, 5_000_000) as u64),
            None => Duration::from_secs(5),
        };
        tokio::select! {
            _ = self.ctx.callback_wakeup.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
        WorkerState::Busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_over_a_minute_with_at_least_five_tries() {
        let waits: Vec<u64> = (1..MAX_ATTEMPTS).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128]);
        // At least 5 tries, and the retries span more than a minute.
        const { assert!(MAX_ATTEMPTS >= 5) };
        assert!(waits.iter().sum::<u64>() >= 60);
    }

    #[test]
    fn message_callback_takes_only_an_http_url() {
        let ud =
            |u: &str| format!(r#"{{"MessageCallback":{{"CallbackURL":"{u}"}},"Extend":{{}}}}"#);
        assert_eq!(
            message_callback(Some(&ud("https://h/cb"))).as_deref(),
            Some("https://h/cb")
        );
        assert_eq!(message_callback(Some(&ud("ice-callback-q"))), None);
        assert_eq!(
            message_callback(Some(r#"{"NotifyAddress":"http://h/"}"#)),
            None
        );
        assert_eq!(message_callback(Some("not json")), None);
        assert_eq!(message_callback(None), None);
    }

    #[test]
    fn signature_matches_the_vendor_example() {
        // md5("https://www.example.com/your/callback|1519375990|Test123"), computed by Python's hashlib.
        let s = signature(
            "https://www.example.com/your/callback",
            1519375990,
            "Test123",
        );
        assert_eq!(s, "c587b80d2d0ede300e8967937da7219b");
    }
}
