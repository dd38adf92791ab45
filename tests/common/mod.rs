//! Test harness: runs the real `openice` binary on a free port with a fresh data directory
//! (and, when `OPENICE_TEST_DATABASE_URL` is set, a fresh PostgreSQL database), and talks to
//! it exactly as the official SDK does: ACS3-HMAC-SHA256 (V3) or RPC HMAC-SHA1 (V2)
//! signatures, API parameters in the query, `Timeline` in a form body.
//!
//! Every test runs once per available backend through [`for_each_backend`].
#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openice::protocol::sign::{
    V3Authorization, V3Input, percent_encode, sha256_hex, v2_signature, v2_string_to_sign,
    v3_signature, v3_string_to_sign,
};
use serde_json::Value;
use time::OffsetDateTime;

pub const API_VERSION: &str = "2020-11-09";
/// What the Python SDK sends as its user agent (signed in V3).
pub const USER_AGENT: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
/// Actions whose SDK code declares a form body: they always send a content-type.
const BODY_ACTIONS: &[&str] = &["CreateEditingProject", "UpdateEditingProject"];
/// Parameters the SDK puts in the form body rather than the query.
const BODY_PARAMS: &[&str] = &["Timeline"];

// ---------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn postgres_admin_url() -> Option<String> {
    std::env::var("OPENICE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// SQLite always; PostgreSQL when `OPENICE_TEST_DATABASE_URL` is set. With
/// `OPENICE_REQUIRE_POSTGRES=1` a missing PostgreSQL is a failure, not a skip.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_admin_url().is_some() {
        out.push(Backend::Postgres);
    } else if std::env::var("OPENICE_REQUIRE_POSTGRES").is_ok_and(|v| v.trim() == "1") {
        panic!("OPENICE_REQUIRE_POSTGRES=1 but OPENICE_TEST_DATABASE_URL is not set");
    }
    out
}

/// Runs `f` once per available backend, one after the other.
pub async fn for_each_backend<F, Fut>(mut f: F)
where
    F: FnMut(Backend) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in backends() {
        eprintln!("=== backend: {backend:?}");
        f(backend).await;
    }
}

/// `postgres://user@host:port/db?x` with the database name replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, params) = match url.split_once('?') {
        Some((b, p)) => (b, Some(p)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match params {
        Some(p) => format!("{base}/{db}?{p}"),
        None => format!("{base}/{db}"),
    }
}

async fn admin_execute(sql: &str) {
    use sqlx::{Connection, Executor};
    let url = postgres_admin_url().expect("OPENICE_TEST_DATABASE_URL");
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    conn.execute(sqlx::AssertSqlSafe(sql.to_string()))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = conn.close().await;
}

/// Waits (at most 30 s) until no session is connected to database `db`. PostgreSQL ends
/// the sessions of a SIGKILLed server only once their current statement is done, so a
/// write in flight at the kill may still commit after it; a restarted server is checked
/// once those have settled.
async fn wait_for_no_sessions(db: &str) {
    use sqlx::Connection;
    let url = postgres_admin_url().expect("OPENICE_TEST_DATABASE_URL");
    let mut conn = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sessions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
                .bind(db)
                .fetch_one(&mut conn)
                .await
                .expect("pg_stat_activity");
        if sessions == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{sessions} sessions still on {db} 30 s after the server stopped"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = conn.close().await;
}

/// Creates an empty database and returns its name and URL.
async fn create_database() -> (String, String) {
    let name = format!("openice_t_{}", uuid::Uuid::new_v4().simple());
    admin_execute(&format!("CREATE DATABASE \"{name}\"")).await;
    let url = with_database(&postgres_admin_url().expect("url"), &name);
    (name, url)
}

fn drop_database_blocking(name: String) {
    // Drop runs outside any runtime guarantee: use a private one on a fresh thread.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            use sqlx::{Connection, Executor};
            let Some(url) = postgres_admin_url() else {
                return;
            };
            if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                let _ = conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await;
                let _ = conn.close().await;
            }
        });
    })
    .join();
}

/// A fresh database for a test that opens the store itself: `url` for `store::open` (`None`
/// = SQLite in the test's data dir); a PostgreSQL database is dropped with the guard.
pub struct ScratchDatabase {
    pub url: Option<String>,
    name: Option<String>,
}

impl ScratchDatabase {
    pub async fn new(backend: Backend) -> ScratchDatabase {
        match backend {
            Backend::Sqlite => ScratchDatabase {
                url: None,
                name: None,
            },
            Backend::Postgres => {
                let (name, url) = create_database().await;
                ScratchDatabase {
                    url: Some(url),
                    name: Some(name),
                }
            }
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            drop_database_blocking(name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Keys and signing
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub id: String,
    pub secret: String,
}

impl Key {
    pub fn new(id: &str, secret: &str) -> Key {
        Key {
            id: id.to_string(),
            secret: secret.to_string(),
        }
    }

    /// A fresh, valid-looking key pair.
    pub fn random() -> Key {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        Key {
            id: format!("LTAItest{}", &id[..16]),
            secret: format!("S3cr{secret}/+="),
        }
    }

    /// From `{"AccountId","AccessKeyId","AccessKeySecret"}` (CLI output, credentials file).
    pub fn from_credentials(v: &Value) -> Key {
        Key {
            id: v["AccessKeyId"]
                .as_str()
                .unwrap_or_else(|| panic!("AccessKeyId in {v}"))
                .to_string(),
            secret: v["AccessKeySecret"]
                .as_str()
                .unwrap_or_else(|| panic!("AccessKeySecret in {v}"))
                .to_string(),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`, as in `x-acs-date` and the V2 `Timestamp`.
pub fn acs_date(t: OffsetDateTime) -> String {
    // The same format the server answers times in.
    openice::domain::format_time(t.unix_timestamp() * 1_000_000)
}

/// Python `urlencode` (`quote_plus`): RFC 3986 escapes, but a space is `+`.
pub fn wire_encode(s: &str) -> String {
    percent_encode(s).replace("%20", "+")
}

pub fn encode_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", wire_encode(k), wire_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One API call before signing. Fields are public so tests can craft odd requests.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub action: String,
    pub version: String,
    /// API parameters travelling in the query, in wire order.
    pub query: Vec<(String, String)>,
    /// Parameters travelling in the form body (sorted by name when encoded, as the SDK does).
    pub form: Vec<(String, String)>,
    /// Send `content-type: application/x-www-form-urlencoded`.
    pub content_type: bool,
    pub key: Key,
    pub date: OffsetDateTime,
    pub nonce: String,
}

/// A signed request, ready for the wire.
#[derive(Clone, Debug)]
pub struct Signed {
    pub method: String,
    /// Path and query: `/` or `/?a=b`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the client signed; the server echoes its own in SignatureDoesNotMatch.
    pub string_to_sign: String,
}

pub fn new_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Call {
    /// As the SDK builds it: `Timeline` in the body, the rest in the query.
    pub fn new(action: &str, params: &[(&str, &str)], key: &Key) -> Call {
        let (form, query): (Vec<_>, Vec<_>) = owned(params)
            .into_iter()
            .partition(|(k, _)| BODY_PARAMS.contains(&k.as_str()));
        Call {
            method: "POST".into(),
            action: action.into(),
            version: API_VERSION.into(),
            query,
            form,
            content_type: BODY_ACTIONS.contains(&action),
            key: key.clone(),
            date: OffsetDateTime::now_utc(),
            nonce: new_nonce(),
        }
    }

    pub fn method(mut self, m: &str) -> Self {
        self.method = m.into();
        self
    }

    pub fn version(mut self, v: &str) -> Self {
        self.version = v.into();
        self
    }

    pub fn at(mut self, t: OffsetDateTime) -> Self {
        self.date = t;
        self
    }

    pub fn nonce(mut self, n: &str) -> Self {
        self.nonce = n.into();
        self
    }

    fn body(&self) -> Vec<u8> {
        let mut form = self.form.clone();
        form.sort_by(|a, b| a.0.cmp(&b.0));
        encode_pairs(&form).into_bytes()
    }

    /// ACS3-HMAC-SHA256 exactly like the Python SDK: these headers, all signed.
    pub fn sign_v3(&self, host: &str) -> Signed {
        self.sign_v3_edit(host, |_| {})
    }

    /// [`Call::sign_v3`], with `edit` applied to the headers before they are signed.
    pub fn sign_v3_edit(
        &self,
        host: &str,
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Signed {
        let body = self.body();
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host.into()),
            ("x-acs-version".into(), self.version.clone()),
            ("x-acs-action".into(), self.action.clone()),
            ("user-agent".into(), USER_AGENT.into()),
            ("x-acs-date".into(), acs_date(self.date)),
            ("x-acs-signature-nonce".into(), self.nonce.clone()),
            ("accept".into(), "application/json".into()),
        ];
        if self.content_type {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        headers.push(("x-acs-content-sha256".into(), sha256_hex(&body)));
        headers.push(("x-acs-credentials-provider".into(), "static_ak".into()));
        edit(&mut headers);
        let mut signed_headers: Vec<String> = headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect();
        signed_headers.sort();
        let auth = V3Authorization {
            access_key_id: self.key.id.clone(),
            signed_headers: signed_headers.clone(),
            signature: String::new(),
        };
        let input = V3Input {
            method: &self.method,
            path: "/",
            query: &self.query,
            headers: &headers,
            body: &body,
        };
        let canonical = v3_string_to_sign(&input, &auth).expect("the harness builds valid input");
        let signature = v3_signature(&self.key.secret, &canonical.string_to_sign);
        headers.push((
            "Authorization".into(),
            format!(
                "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
                self.key.id,
                signed_headers.join(";")
            ),
        ));
        let target = if self.query.is_empty() {
            "/".to_string()
        } else {
            format!("/?{}", encode_pairs(&self.query))
        };
        Signed {
            method: self.method.clone(),
            target,
            headers,
            body,
            string_to_sign: canonical.string_to_sign,
        }
    }

    /// RPC HMAC-SHA1 (SignatureVersion 1.0) exactly like the Python SDK with
    /// `signature_algorithm='v2'`: common parameters in the query, nothing signed in headers.
    pub fn sign_v2(&self, host: &str) -> Signed {
        self.sign_v2_edit(host, |_| {})
    }

    /// [`Call::sign_v2`], with `edit` applied to the query parameters before signing.
    pub fn sign_v2_edit(
        &self,
        host: &str,
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Signed {
        let body = self.body();
        let mut query: Vec<(String, String)> = vec![
            ("Action".into(), self.action.clone()),
            ("Format".into(), "json".into()),
            ("Version".into(), self.version.clone()),
            ("Timestamp".into(), acs_date(self.date)),
            ("SignatureNonce".into(), self.nonce.clone()),
        ];
        query.extend(self.query.iter().cloned());
        query.push(("SignatureMethod".into(), "HMAC-SHA1".into()));
        query.push(("SignatureVersion".into(), "1.0".into()));
        query.push(("AccessKeyId".into(), self.key.id.clone()));
        edit(&mut query);
        let mut all = query.clone();
        all.extend(self.form.iter().cloned());
        let string_to_sign = v2_string_to_sign(&self.method, &all);
        let signature = v2_signature(&self.key.secret, &string_to_sign);
        query.push(("Signature".into(), signature));
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host.into()),
            ("x-acs-version".into(), self.version.clone()),
            ("x-acs-action".into(), self.action.clone()),
            ("user-agent".into(), USER_AGENT.into()),
        ];
        if self.content_type {
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        headers.push(("x-acs-credentials-provider".into(), "static_ak".into()));
        Signed {
            method: self.method.clone(),
            target: format!("/?{}", encode_pairs(&query)),
            headers,
            body,
            string_to_sign,
        }
    }
}

impl Signed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// HTTP/1.1 bytes with `Content-Length` and `Connection: close`.
    pub fn raw_bytes(&self) -> Vec<u8> {
        raw_request(
            self.method.as_bytes(),
            self.target.as_bytes(),
            &self
                .headers
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect::<Vec<_>>(),
            &self.body,
        )
    }
}

/// Assembles an HTTP/1.1 request from raw parts; adds a correct `Content-Length` and
/// `Connection: close`.
pub fn raw_request(
    method: &[u8],
    target: &[u8],
    headers: &[(Vec<u8>, Vec<u8>)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 512);
    out.extend_from_slice(method);
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (k, v) in headers {
        if k.eq_ignore_ascii_case(b"content-length") || k.eq_ignore_ascii_case(b"connection") {
            continue;
        }
        out.extend_from_slice(k);
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    out.extend_from_slice(b"connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// A response as received over a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

/// Writes `bytes` to a fresh connection while reading the response (like curl: an early
/// answer such as a 413 is read even if the server stops reading the body), until the
/// server closes the connection. `None` when no HTTP status line came back.
pub fn send_raw(port: u16, bytes: &[u8]) -> Option<RawResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut writer = stream.try_clone().expect("clone socket");
    writer
        .set_write_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let bytes = bytes.to_vec();
    let writing = std::thread::spawn(move || {
        // The server may answer and close before everything is sent.
        let _ = writer.write_all(&bytes);
        let _ = writer.flush();
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writing.join();
    parse_raw_response(&buf)
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON, asserting the error shape's RequestId matches the header.
    #[track_caller]
    pub fn error_json(&self) -> Value {
        let v: Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "error body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        });
        assert_eq!(
            self.header("x-acs-request-id"),
            v["RequestId"].as_str(),
            "x-acs-request-id header vs body: {}",
            self.head
        );
        v
    }
}

pub fn parse_raw_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .lines()
        .next()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(RawResponse {
        status,
        head,
        body: buf[end + 4..].to_vec(),
    })
}

// ---------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub request_id_header: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
    /// The body parsed as JSON; `Value::Null` when it is not JSON.
    pub json: Value,
    /// What the request carried as `host` (the error body's HostId).
    pub host: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.json["Message"].as_str().unwrap_or("")
    }

    /// Asserts a 200 with a JSON body whose RequestId matches the header; returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.text
        );
        let rid = self.json["RequestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no RequestId in {}", self.text));
        assert!(!rid.is_empty());
        assert_eq!(
            self.request_id_header.as_deref(),
            Some(rid),
            "x-acs-request-id header vs body"
        );
        &self.json
    }

    /// Asserts the documented error shape: JSON with RequestId (= `x-acs-request-id`), HostId
    /// (the host the client called), Code, Message, Recommend; the status and code given.
    #[track_caller]
    pub fn err(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.text
        );
        self.assert_error_shape();
        &self.json
    }

    #[track_caller]
    pub fn assert_error_shape(&self) {
        let obj = self
            .json
            .as_object()
            .unwrap_or_else(|| panic!("error body is not a JSON object: {:?}", self.text));
        for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
            assert!(
                obj.get(field).is_some_and(Value::is_string),
                "error body lacks string {field}: {}",
                self.text
            );
        }
        let rid = obj["RequestId"].as_str().unwrap_or_default();
        assert!(!rid.is_empty(), "empty RequestId: {}", self.text);
        assert_eq!(
            self.request_id_header.as_deref(),
            Some(rid),
            "x-acs-request-id header vs body"
        );
        assert_eq!(
            obj["HostId"].as_str(),
            Some(self.host.as_str()),
            "HostId must be the host the client called"
        );
        assert!(!self.code().is_empty(), "empty Code");
        assert!(!self.message().is_empty(), "empty Message");
        let ct = self.content_type.as_deref().unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "error content-type {ct:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

/// Options for [`Server::spawn`].
pub struct ServerOptions {
    pub backend: Backend,
    /// `OPENICE_ACCESS_KEY_ID`/`_SECRET` for the child; `None` lets the server generate
    /// the default account's key.
    pub env_key: Option<Key>,
    pub extra_args: Vec<String>,
    /// An `openice dump` archive restored into the fresh store before the first start.
    pub restore_from: Option<PathBuf>,
}

impl ServerOptions {
    pub fn new(backend: Backend) -> Self {
        ServerOptions {
            backend,
            env_key: Some(Key::random()),
            extra_args: Vec::new(),
            restore_from: None,
        }
    }

    pub fn without_env_key(mut self) -> Self {
        self.env_key = None;
        self
    }

    pub async fn spawn(self) -> Server {
        let tmp = tempfile::Builder::new()
            .prefix("openice-test-")
            .tempdir()
            .expect("tempdir");
        let (database, database_url) = match self.backend {
            Backend::Sqlite => (None, None),
            Backend::Postgres => {
                let (name, url) = create_database().await;
                (Some(name), Some(url))
            }
        };
        let env = match &self.env_key {
            Some(k) => vec![
                ("OPENICE_ACCESS_KEY_ID".to_string(), k.id.clone()),
                ("OPENICE_ACCESS_KEY_SECRET".to_string(), k.secret.clone()),
            ],
            None => Vec::new(),
        };
        let server = Server {
            backend: self.backend,
            data_dir: tmp.path().to_path_buf(),
            _tmp: tmp,
            database,
            database_url,
            key: Mutex::new(self.env_key.clone()),
            env: Mutex::new(env),
            extra_args: self.extra_args,
            port: AtomicU16::new(0),
            child: Mutex::new(None),
            logs: Arc::new(Mutex::new(String::new())),
            http: http_client_builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
        };
        if let Some(archive) = &self.restore_from {
            let archive = archive.to_string_lossy().into_owned();
            let out = server.command_on_store(&["restore", &archive]).await;
            assert!(
                out.status.success(),
                "openice restore failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        server.start().await;
        if server.key.lock().unwrap().is_none() {
            let creds = server.default_credentials();
            *server.key.lock().unwrap() = Some(Key::from_credentials(&creds));
        }
        server
    }
}

/// A reqwest client builder. The server's own reqwest (URL uploads) brings in rustls
/// without a default crypto provider; the tests use the same one the server installs.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// `openice <args> <store_args>` with no OPENICE_* variables from the caller.
pub async fn run_on_store(args: &[&str], store_args: &[String]) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_openice"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OPENICE_") {
            cmd.env_remove(&k);
        }
    }
    cmd.args(args).args(store_args).stdin(Stdio::null());
    cmd.output()
        .await
        .unwrap_or_else(|e| panic!("run openice {args:?}: {e}"))
}

/// Starts the binary with the default options for `backend`.
pub async fn spawn_server(backend: Backend) -> Server {
    ServerOptions::new(backend).spawn().await
}

pub struct Server {
    pub backend: Backend,
    pub data_dir: PathBuf,
    _tmp: tempfile::TempDir,
    /// PostgreSQL database name (dropped with the server).
    database: Option<String>,
    pub database_url: Option<String>,
    key: Mutex<Option<Key>>,
    /// OPENICE_* variables for the child (everything else named OPENICE_* is removed).
    env: Mutex<Vec<(String, String)>>,
    extra_args: Vec<String>,
    port: AtomicU16,
    child: Mutex<Option<Child>>,
    logs: Arc<Mutex<String>>,
    http: reqwest::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn clean_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OPENICE_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("OPENICE_LOG", "info,sqlx=warn");
}

impl Server {
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// The `host` header value the harness sends (and expects back as HostId).
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    /// The default key: the environment key, or the generated default account's.
    pub fn key(&self) -> Key {
        self.key.lock().unwrap().clone().expect("server key")
    }

    /// Replaces the OPENICE_ACCESS_KEY_* variables used by the next (re)start.
    pub fn set_env_key(&self, key: Option<(Option<&str>, Option<&str>)>) {
        let mut env = self.env.lock().unwrap();
        env.retain(|(k, _)| !k.starts_with("OPENICE_ACCESS_KEY_"));
        if let Some((id, secret)) = key {
            if let Some(id) = id {
                env.push(("OPENICE_ACCESS_KEY_ID".into(), id.into()));
            }
            if let Some(secret) = secret {
                env.push(("OPENICE_ACCESS_KEY_SECRET".into(), secret.into()));
            }
        }
    }

    /// `--data-dir … [--database-url …]`.
    pub fn store_args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_string(),
            self.data_dir.to_string_lossy().into_owned(),
        ];
        if let Some(url) = &self.database_url {
            args.push("--database-url".into());
            args.push(url.clone());
        }
        args
    }

    fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_openice"));
        clean_env(&mut cmd);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(self.store_args())
            .args(&self.extra_args)
            .envs(self.env.lock().unwrap().iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn spawn_child(&self, port: u16) -> Child {
        let mut child = self.command(port).spawn().expect("spawn openice");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::clone(&self.logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = logs.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        child
    }

    /// Starts the binary on a free port and waits for `/healthz`; retries on a port race.
    async fn start(&self) {
        if let Some(db) = &self.database {
            wait_for_no_sessions(db).await;
        }
        for attempt in 0..5 {
            let port = free_port();
            let child = self.spawn_child(port);
            self.port.store(port, Ordering::SeqCst);
            *self.child.lock().unwrap() = Some(child);
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if self.healthz().await == Some(200) {
                    return;
                }
                let exited = self
                    .child
                    .lock()
                    .unwrap()
                    .as_mut()
                    .and_then(|c| c.try_wait().ok().flatten());
                if let Some(status) = exited {
                    let logs = self.logs();
                    if logs.contains("in use") && attempt < 4 {
                        break;
                    }
                    panic!("openice exited during start ({status}):\n{logs}");
                }
                if Instant::now() > deadline {
                    panic!("openice did not become healthy:\n{}", self.logs());
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        panic!("could not start openice on a free port");
    }

    /// GET /healthz status, `None` when nothing answers.
    pub async fn healthz(&self) -> Option<u16> {
        let url = format!("http://127.0.0.1:{}/healthz", self.port());
        match self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(r) => Some(r.status().as_u16()),
            Err(_) => None,
        }
    }

    pub fn is_running(&self) -> bool {
        self.child
            .lock()
            .unwrap()
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().as_ref().expect("running").id()
    }

    /// SIGKILL, then reap.
    pub fn kill9(&self) {
        if let Some(mut child) = self.child.lock().unwrap().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait (at most 30 s) for the exit status.
    pub fn sigterm(&self) -> ExitStatus {
        let mut child = self.child.lock().unwrap().take().expect("running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "openice did not exit within 30 s of SIGTERM:\n{}",
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM if it still runs) and starts it again on the same store.
    pub async fn restart(&self) {
        if self.is_running() {
            let status = self.sigterm();
            assert!(status.success(), "SIGTERM exit status {status}");
        } else {
            self.kill9();
        }
        self.start().await;
    }

    /// Starts a second process on the same store that is expected to refuse to start.
    /// Returns its exit status and its stderr.
    pub async fn start_expecting_failure(&self) -> (ExitStatus, String) {
        let port = free_port();
        let mut cmd = self.command(port);
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn openice");
        let mut stderr = child.stderr.take().expect("stderr");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            let url = format!("http://127.0.0.1:{port}/healthz");
            let health = self
                .http
                .get(url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok();
            if health == Some(200) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("openice started although it should have refused to");
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("openice neither started nor exited within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        (status, reader.join().unwrap_or_default())
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) for a log line containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self.logs().lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `openice account <args> --data-dir … [--database-url …]`.
    pub async fn cli(&self, args: &[&str]) -> Output {
        let mut full = vec!["account"];
        full.extend_from_slice(args);
        self.command_on_store(&full).await
    }

    /// `openice <args> --data-dir … [--database-url …]` on this server's store.
    pub async fn command_on_store(&self, args: &[&str]) -> Output {
        run_on_store(args, &self.store_args()).await
    }

    /// Like [`Server::cli`], asserting success; returns stdout.
    pub async fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).await;
        assert!(
            out.status.success(),
            "openice account {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// `account create <name>`: the new account's credentials.
    pub async fn create_account(&self, name: &str) -> (String, Key) {
        let out = self.cli_ok(&["create", name]).await;
        let v: Value = serde_json::from_str(out.trim()).expect("account create prints JSON");
        let account_id = v["AccountId"].as_str().expect("AccountId").to_string();
        (account_id, Key::from_credentials(&v))
    }

    /// `<data-dir>/default-credentials.json`, parsed.
    pub fn default_credentials(&self) -> Value {
        let path = self.credentials_path();
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("credentials file is JSON")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.data_dir.join("default-credentials.json")
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Sends a signed request over HTTP; panics if no response comes back.
    pub async fn send(&self, s: &Signed) -> Resp {
        self.try_send(s)
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.logs()))
    }

    /// Sends a signed request over HTTP; `Err` when the client got no response.
    pub async fn try_send(&self, s: &Signed) -> Result<Resp, String> {
        let url = format!("http://127.0.0.1:{}{}", self.port(), s.target);
        let method = reqwest::Method::from_bytes(s.method.as_bytes()).expect("method");
        let mut rb = self.http.request(method, url);
        for (k, v) in &s.headers {
            rb = rb.header(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                reqwest::header::HeaderValue::from_bytes(v.as_bytes()).expect("header value"),
            );
        }
        let r = rb.body(s.body.clone()).send().await.map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                msg.push_str(&format!(": {inner}"));
                source = inner.source();
            }
            msg
        })?;
        let host = s.header("host").unwrap_or_default().to_string();
        Ok(resp_from(r, host).await)
    }

    /// A V3-signed call as the SDK makes it.
    pub async fn call(&self, action: &str, params: &[(&str, &str)], key: &Key) -> Resp {
        self.send(&Call::new(action, params, key).sign_v3(&self.host()))
            .await
    }

    /// A V2-signed call as the SDK makes it with `signature_algorithm='v2'`.
    pub async fn call_v2(&self, action: &str, params: &[(&str, &str)], key: &Key) -> Resp {
        self.send(&Call::new(action, params, key).sign_v2(&self.host()))
            .await
    }

    /// A V3 call with the default key that must succeed; returns the body.
    #[track_caller]
    pub fn ok<'a>(
        &'a self,
        action: &'a str,
        params: &'a [(&'a str, &'a str)],
    ) -> impl Future<Output = Value> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let r = self.call(action, params, &self.key()).await;
            if r.status != 200 {
                panic!(
                    "{action} {params:?} at {caller}: expected 200, got {}: {}",
                    r.status, r.text
                );
            }
            r.ok().clone()
        }
    }

    /// GetMediaInfo of `media_id` once its probe has ended (the status is neither `Init` nor
    /// `Preparing`); panics after 60 s.
    pub async fn probed(&self, media_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let info = self.ok("GetMediaInfo", &[("MediaId", media_id)]).await;
            let status = &info["MediaInfo"]["MediaBasicInfo"]["Status"];
            if status != "Init" && status != "Preparing" {
                return info;
            }
            assert!(
                Instant::now() < deadline,
                "the probe of {media_id} did not end: {info}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn resp_from(r: reqwest::Response, host: String) -> Resp {
    let status = r.status().as_u16();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let request_id_header = header("x-acs-request-id");
    let content_type = header("content-type");
    let bytes = r.bytes().await.expect("response body");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Resp {
        status,
        request_id_header,
        content_type,
        text,
        json,
        host,
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self
            .child
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let logs = self.logs();
            let tail: Vec<&str> = logs.lines().rev().take(40).collect();
            eprintln!(
                "--- last openice log lines ({:?}, {}):",
                self.backend,
                self.data_dir.display()
            );
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
        if let Some(name) = self.database.take() {
            drop_database_blocking(name);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Small helpers for tests
// ---------------------------------------------------------------------------------------

/// A timeline with one video clip of `seconds` on the timeline.
/// A `/proc/PID/status` field in KiB (0 when unreadable).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn timeline_of(seconds: f64) -> String {
    format!(
        r#"{{"VideoTracks":[{{"VideoTrackClips":[{{"MediaURL":"https://example.com/a.mp4","In":0,"Out":{seconds}}}]}}]}}"#
    )
}

/// `Project.ProjectId` of a CreateEditingProject answer.
pub fn project_id(created: &Value) -> String {
    created["Project"]["ProjectId"]
        .as_str()
        .unwrap_or_else(|| panic!("no Project.ProjectId in {created}"))
        .to_string()
}

/// Damage done to a request's bytes after it was signed (shared by the fuzzers).
#[derive(Debug, Clone)]
pub enum ByteMutation {
    None,
    /// Random percent-encoded bytes appended to the query.
    QueryBytes(Vec<u8>),
    /// Random visible ASCII replacing the whole query.
    QueryText(String),
    /// Random body bytes.
    Body(Vec<u8>),
    /// A header's value replaced by random bytes that HTTP allows.
    Header(usize, Vec<u8>),
    /// One byte of the target or body replaced.
    Flip(usize, u8),
    /// The body cut short.
    Truncate(usize),
    /// A header dropped.
    DropHeader(usize),
}

/// A signed request as editable bytes.
pub struct RawParts {
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawParts {
    pub fn of(s: &Signed) -> Self {
        RawParts {
            target: s.target.clone().into_bytes(),
            headers: s
                .headers
                .iter()
                .map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes()))
                .collect(),
            body: s.body.clone(),
        }
    }

    pub fn apply(&mut self, m: &ByteMutation) {
        let RawParts {
            target,
            headers,
            body,
        } = self;
        match m {
            ByteMutation::None => {}
            ByteMutation::QueryBytes(bytes) => {
                target.push(if target.contains(&b'?') { b'&' } else { b'?' });
                for b in bytes {
                    target.extend_from_slice(format!("%{b:02X}").as_bytes());
                    if b % 7 == 0 {
                        target.push(b'=');
                    }
                }
            }
            ByteMutation::QueryText(t) => *target = format!("/?{t}").into_bytes(),
            ByteMutation::Body(bytes) => *body = bytes.clone(),
            ByteMutation::Header(i, v) => {
                let n = headers.len();
                headers[i % n].1 = v.clone();
            }
            ByteMutation::Flip(i, b) => {
                // Only bytes RFC 3986 allows in a request target; any byte in the body.
                let total = target.len() + body.len();
                let at = i % total.max(1);
                if at < target.len() {
                    if at > 0 && (b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@/?%-".contains(b))
                    {
                        target[at] = *b;
                    }
                } else if let Some(slot) = body.get_mut(at - target.len()) {
                    *slot = *b;
                }
            }
            ByteMutation::Truncate(i) => {
                let len = body.len();
                body.truncate(i % (len + 1));
            }
            ByteMutation::DropHeader(i) => {
                let n = headers.len();
                headers.remove(i % n);
            }
        }
    }

    pub fn bytes(&self, method: &str) -> Vec<u8> {
        raw_request(method.as_bytes(), &self.target, &self.headers, &self.body)
    }
}
