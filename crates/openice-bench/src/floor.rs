//! The floor: a bare hyper HTTP/1.1 server inside the bench process answering every request
//! with a fixed JSON body of the size of a small ICE answer. Driven by the same client as
//! openice, it is the most requests/s this machine's client and a server can exchange over
//! loopback; the throughput targets are ratios to it.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::client::MakeRequest;

/// The floor's fixed answer: the shape and size of a small ICE JSON body (~200 bytes).
const FLOOR_BODY: &str = r#"{"RequestId":"6F2A3C1E-0B7D-4E38-9C55-1D2E3F4A5B6C","Project":{"ProjectId":"4c3b2a19f8e7d6c5b4a3928170f6e5d4","Title":"floor","Status":"Editing","CreateTime":"2026-01-01T00:00:00Z","Duration":4.5,"ProjectType":"EditingProject"}}"#;

async fn floor_answer(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .header("content-type", "application/json;charset=utf-8")
        .header("x-acs-request-id", "6F2A3C1E-0B7D-4E38-9C55-1D2E3F4A5B6C")
        .body(Full::new(Bytes::from_static(FLOOR_BODY.as_bytes())))
        .expect("valid response"))
}

/// Starts the floor on its own 2-thread runtime (as many threads as the machine's openice
/// gets cores); it lives as long as the process.
pub fn start() -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("floor")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("floor".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("floor listener");
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(
                                TokioIo::new(stream),
                                hyper::service::service_fn(floor_answer),
                            )
                            .await;
                    });
                }
            })
        })?;
    Ok(addr)
}

/// The floor's request: unsigned, as small as a request can be.
pub fn request(addr: SocketAddr) -> MakeRequest {
    let host = addr.to_string();
    std::sync::Arc::new(move |_| {
        Request::builder()
            .method("GET")
            .uri("/")
            .header("host", host.as_str())
            .body(Full::new(Bytes::new()))
            .expect("valid request")
    })
}
