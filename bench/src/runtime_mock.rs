//! A mock of the AWS Lambda Runtime API (HTTP on 127.0.0.1:0) for `bench-coldstart`:
//!
//! - `GET /2018-06-01/runtime/invocation/next` long-polls for the next event and serves it with
//!   `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and
//!   `Lambda-Runtime-Trace-Id`. The arrival of the first such request is the end of init.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `…/{id}/error` complete an invocation; the
//!   invocation's latency is from serving the event to having received the whole response.
//! - `POST /2018-06-01/runtime/init/error` records an init failure.
//!
//! Also a Management API stub (`mgmt_stub`): GetConnection answers 410 (the broadcaster's warm-up), posts 200,
//! deletes 204, and posts are counted.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Response,
    Error,
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub request_id: String,
    pub served_at: Instant,
    pub done_at: Instant,
    pub outcome: Outcome,
    pub body: Bytes,
}

impl Completion {
    pub fn latency(&self) -> Duration {
        self.done_at.saturating_duration_since(self.served_at)
    }
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<(String, Vec<u8>)>>,
    first_next: watch::Sender<Option<Instant>>,
    served: Mutex<HashMap<String, Instant>>,
    done: mpsc::UnboundedSender<Completion>,
    init_error: watch::Sender<Option<String>>,
    function_arn: String,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    events: mpsc::Sender<(String, Vec<u8>)>,
    done: mpsc::UnboundedReceiver<Completion>,
    first_next: watch::Receiver<Option<Instant>>,
    init_error: watch::Receiver<Option<String>>,
    next_id: u64,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (events, queue) = mpsc::channel(1);
        let (done_tx, done) = mpsc::unbounded_channel();
        let (first_tx, first_next) = watch::channel(None);
        let (init_tx, init_error) = watch::channel(None);
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue),
            first_next: first_tx,
            served: Mutex::new(HashMap::new()),
            done: done_tx,
            init_error: init_tx,
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|s, p, b| complete(s, p, b, Outcome::Response)),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|s, p, b| complete(s, p, b, Outcome::Error)),
            )
            .route("/2018-06-01/runtime/init/error", post(on_init_error))
            .with_state(shared);
        let (addr, server) = serve(app).await?;
        Ok(Self {
            addr,
            events,
            done,
            first_next,
            init_error,
            next_id: 0,
            server,
        })
    }

    /// When the function first asked for an event (the end of its init).
    pub async fn wait_first_next(&mut self, timeout: Duration) -> Result<Instant, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(t) = *self.first_next.borrow() {
                return Ok(t);
            }
            if let Some(e) = self.init_error.borrow().clone() {
                return Err(format!("init error: {e}"));
            }
            tokio::select! {
                _ = self.first_next.changed() => {}
                _ = self.init_error.changed() => {}
                _ = tokio::time::sleep_until(deadline) => return Err("no GET /invocation/next before the timeout".into()),
            }
        }
    }

    /// Serve one event and wait for its response (or error).
    pub async fn invoke(
        &mut self,
        event: Vec<u8>,
        timeout: Duration,
    ) -> Result<Completion, String> {
        self.next_id += 1;
        let id = format!("bench-{:08}-{}", self.next_id, ulid_like(self.next_id));
        self.events
            .send((id.clone(), event))
            .await
            .map_err(|_| "runtime API closed".to_string())?;
        match tokio::time::timeout(timeout, self.done.recv()).await {
            Ok(Some(c)) if c.request_id == id => Ok(c),
            Ok(Some(c)) => Err(format!(
                "response for {} while waiting for {id}",
                c.request_id
            )),
            Ok(None) => Err("runtime API closed".into()),
            Err(_) => Err(format!("no response to {id} within {timeout:?}")),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn ulid_like(n: u64) -> String {
    format!("{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

async fn next(State(s): State<Arc<Shared>>) -> Response {
    let now = Instant::now();
    s.first_next.send_if_modified(|v| {
        if v.is_none() {
            *v = Some(now);
            true
        } else {
            false
        }
    });
    let mut queue = s.queue.lock().await;
    let Some((id, body)) = queue.recv().await else {
        drop(queue);
        std::future::pending::<()>().await;
        unreachable!()
    };
    drop(queue);
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64 + 30_000)
        .unwrap_or_default();
    let mut headers = HeaderMap::new();
    let h = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x"));
    headers.insert("lambda-runtime-aws-request-id", h(&id));
    headers.insert("lambda-runtime-deadline-ms", h(&deadline.to_string()));
    headers.insert("lambda-runtime-invoked-function-arn", h(&s.function_arn));
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        ),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(mut served) = s.served.lock() {
        served.insert(id, Instant::now());
    }
    (StatusCode::OK, headers, body).into_response()
}

async fn complete(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
    outcome: Outcome,
) -> Response {
    let done_at = Instant::now();
    let served_at = s
        .served
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&id))
        .unwrap_or(done_at);
    let _ = s.done.send(Completion {
        request_id: id,
        served_at,
        done_at,
        outcome,
        body,
    });
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

async fn on_init_error(State(s): State<Arc<Shared>>, body: Bytes) -> Response {
    let _ = s
        .init_error
        .send(Some(String::from_utf8_lossy(&body).into_owned()));
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

/// The Management API stub (plain HTTP; put a [`crate::tls_proxy::TlsProxy`] in front of it).
pub struct MgmtStub {
    pub addr: SocketAddr,
    pub posts: Arc<AtomicU64>,
    server: JoinHandle<()>,
}

impl MgmtStub {
    pub async fn start() -> std::io::Result<Self> {
        let posts = Arc::new(AtomicU64::new(0));
        let p = posts.clone();
        let app = Router::new().fallback(move |method: Method| {
            let p = p.clone();
            async move {
                match method {
                    Method::POST => {
                        p.fetch_add(1, Ordering::SeqCst);
                        StatusCode::OK.into_response()
                    }
                    Method::DELETE => StatusCode::NO_CONTENT.into_response(),
                    _ => (
                        StatusCode::GONE,
                        [("x-amzn-errortype", "GoneException")],
                        r#"{"message":"Gone"}"#,
                    )
                        .into_response(),
                }
            }
        });
        let (addr, server) = serve(app).await?;
        Ok(Self {
            addr,
            posts,
            server,
        })
    }
}

impl Drop for MgmtStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serve `app` on a free 127.0.0.1 port until the returned task is aborted.
async fn serve(app: Router) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, server))
}
