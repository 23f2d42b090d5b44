//! Fault injection at the HTTP layer, for `tests/tests/faults.rs`.
//!
//! - [`FaultyManagementApi`]: an API Gateway Management API (`POST`/`DELETE /@connections/{id}`) on
//!   `127.0.0.1:0` with a per-connection script of failures (410 `GoneException`, 429
//!   `LimitExceededException`, 500, a call that never answers), counting every request. The production
//!   adapter (`ApiGatewayBroadcaster`, the real AWS SDK) talks to it unchanged.
//! - [`FaultyDynamo`]: an HTTP proxy on `127.0.0.1:0` in front of a DynamoDB endpoint (the tests' moto) that
//!   forwards everything except the requests of one operation (`x-amz-target`) it was told to fail: a
//!   throttling answer or a 500 without forwarding, or the nasty one, forward and then answer 500 anyway (the
//!   write happened, its response was lost).
//! - The handlers run through [`crate::harness::TestApp::with_parts`] with any store and broadcaster; requests are
//!   built from the sample events in `events/` like [`crate::harness::TestApp`]'s.

use auction::frames::Frame;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serve `router` on a fresh `127.0.0.1` port for the rest of the test (the server task dies with the test's
/// runtime). Returns `http://127.0.0.1:<port>`.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// An `SdkConfig` with dummy static credentials and a region, as the adapters need (nothing reaches AWS).
pub async fn dummy_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "auction-tests-faults",
        ))
        .load()
        .await
}

// ---------------------------------------------------------------------------------------------------------
// The Management API

/// What the fake Management API answers one request with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFault {
    /// 410 with `x-amzn-errortype: GoneException`.
    Gone,
    /// 429 with `x-amzn-errortype: LimitExceededException`.
    Throttled,
    /// 500 with `x-amzn-errortype: InternalServerErrorException`.
    ServerError,
    /// Never answers.
    Hang,
    /// Delivers (the frame counts as received) but answers only after this long, like a call whose answer
    /// reaches a CPU-starved caller late.
    Late(std::time::Duration),
}

#[derive(Default)]
struct ConnScript {
    /// Consumed one per request (POST or DELETE), in order.
    next: VecDeque<ApiFault>,
    /// Once `next` is empty: this, or success when `None`.
    always: Option<ApiFault>,
    posts: usize,
    deletes: usize,
    delivered: Vec<Vec<u8>>,
    deleted: bool,
}

#[derive(Default)]
struct ApiState {
    conns: Mutex<HashMap<String, ConnScript>>,
}

/// A scripted Management API. Connections never scripted simply succeed.
pub struct FaultyManagementApi {
    pub url: String,
    state: Arc<ApiState>,
}

fn api_error(status: http::StatusCode, kind: &'static str, message: &str) -> Response {
    let mut r = (status, axum::Json(json!({ "message": message }))).into_response();
    r.headers_mut()
        .insert("x-amzn-errortype", http::HeaderValue::from_static(kind));
    r
}

async fn management(
    State(st): State<Arc<ApiState>>,
    Path(id): Path<String>,
    method: http::Method,
    body: Bytes,
) -> Response {
    let fault = {
        let mut conns = lock(&st.conns);
        let c = conns.entry(id).or_default();
        if method == http::Method::DELETE {
            c.deletes += 1;
        } else {
            c.posts += 1;
        }
        let fault = c.next.pop_front().or(c.always);
        if matches!(fault, None | Some(ApiFault::Late(_))) {
            if method == http::Method::DELETE {
                c.deleted = true;
            } else {
                c.delivered.push(body.to_vec());
            }
        }
        fault
    };
    if let Some(ApiFault::Late(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    match fault {
        None | Some(ApiFault::Late(_)) if method == http::Method::DELETE => {
            http::StatusCode::NO_CONTENT.into_response()
        }
        None | Some(ApiFault::Late(_)) => http::StatusCode::OK.into_response(),
        Some(ApiFault::Gone) => api_error(
            http::StatusCode::GONE,
            "GoneException",
            "Connection is gone",
        ),
        Some(ApiFault::Throttled) => api_error(
            http::StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Rate exceeded",
        ),
        Some(ApiFault::ServerError) => api_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
            "Internal server error",
        ),
        Some(ApiFault::Hang) => std::future::pending().await,
    }
}

impl FaultyManagementApi {
    pub async fn start() -> Self {
        let state = Arc::new(ApiState::default());
        let router = axum::Router::new()
            .route(
                "/@connections/{id}",
                axum::routing::post(management).delete(management),
            )
            .with_state(state.clone());
        Self {
            url: serve(router).await,
            state,
        }
    }

    /// The next requests for `id` fail as listed, in order; then `id` succeeds (unless [`Self::always`]).
    pub fn script(&self, id: &str, faults: &[ApiFault]) {
        lock(&self.state.conns)
            .entry(id.to_owned())
            .or_default()
            .next
            .extend(faults.iter().copied());
    }

    /// Every request for `id` (after any scripted ones) fails like this.
    pub fn always(&self, id: &str, fault: ApiFault) {
        lock(&self.state.conns)
            .entry(id.to_owned())
            .or_default()
            .always = Some(fault);
    }

    fn read<T>(&self, id: &str, f: impl FnOnce(&ConnScript) -> T) -> T {
        let conns = lock(&self.state.conns);
        match conns.get(id) {
            Some(c) => f(c),
            None => f(&ConnScript::default()),
        }
    }

    /// PostToConnection requests received for `id`, failed ones included.
    pub fn posts(&self, id: &str) -> usize {
        self.read(id, |c| c.posts)
    }

    /// DeleteConnection requests received for `id`, failed ones included.
    pub fn deletes(&self, id: &str) -> usize {
        self.read(id, |c| c.deletes)
    }

    /// Whether a DeleteConnection for `id` was answered with success.
    pub fn deleted(&self, id: &str) -> bool {
        self.read(id, |c| c.deleted)
    }

    /// Frames answered with 200 for `id`, decoded.
    pub fn frames(&self, id: &str) -> Vec<Frame> {
        self.read(id, |c| {
            c.delivered
                .iter()
                .map(|b| serde_json::from_slice(b).expect("a delivered frame is a Frame"))
                .collect()
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// The DynamoDB proxy

/// What the proxy does with one request of a faulted operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynamoFault {
    /// `400 ThrottlingException`, not forwarded.
    Throttling,
    /// `400 ProvisionedThroughputExceededException`, not forwarded.
    ProvisionedThroughputExceeded,
    /// `500 InternalServerError`, not forwarded.
    ServerError,
    /// Forwarded (the write happens), then answered `500 InternalServerError`: the response was lost.
    ForwardThenServerError,
}

#[derive(Default)]
struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    /// Operation (e.g. `UpdateItem`) → the faults its next requests get, in order.
    faults: Mutex<HashMap<String, VecDeque<DynamoFault>>>,
    /// Operation → requests received.
    seen: Mutex<HashMap<String, usize>>,
    /// Operation → requests that reached the upstream.
    forwarded: Mutex<HashMap<String, usize>>,
}

/// A fault-injecting proxy in front of a DynamoDB endpoint.
pub struct FaultyDynamo {
    pub url: String,
    state: Arc<ProxyState>,
}

const DYNAMO_TARGET_PREFIX: &str = "DynamoDB_20120810.";

fn dynamo_error(status: http::StatusCode, kind: &str, message: &str) -> Response {
    let body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": message,
    });
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    r
}

fn hop_by_hop(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "content-length" | "connection" | "transfer-encoding" | "keep-alive"
    )
}

async fn forward(st: &ProxyState, op: &str, parts: &http::request::Parts, body: Bytes) -> Response {
    *lock(&st.forwarded).entry(op.to_owned()).or_default() += 1;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut headers = http::HeaderMap::new();
    for (k, v) in &parts.headers {
        if !hop_by_hop(k) {
            headers.append(k.clone(), v.clone());
        }
    }
    let sent = st
        .client
        .request(parts.method.clone(), format!("{}{path}", st.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            return (
                http::StatusCode::BAD_GATEWAY,
                format!("proxy could not reach the upstream: {e}"),
            )
                .into_response()
        }
    };
    let status = upstream.status();
    let mut out_headers = http::HeaderMap::new();
    for (k, v) in upstream.headers() {
        if !hop_by_hop(k) {
            out_headers.append(k.clone(), v.clone());
        }
    }
    let bytes = upstream.bytes().await.unwrap_or_default();
    let mut r = (status, bytes).into_response();
    r.headers_mut().extend(out_headers);
    r
}

async fn proxy(State(st): State<Arc<ProxyState>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 16 * 1024 * 1024).await else {
        return http::StatusCode::BAD_REQUEST.into_response();
    };
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.strip_prefix(DYNAMO_TARGET_PREFIX).unwrap_or(t).to_owned())
        .unwrap_or_default();
    *lock(&st.seen).entry(op.clone()).or_default() += 1;
    let fault = lock(&st.faults).get_mut(&op).and_then(VecDeque::pop_front);
    match fault {
        None => forward(&st, &op, &parts, body).await,
        Some(DynamoFault::Throttling) => dynamo_error(
            http::StatusCode::BAD_REQUEST,
            "ThrottlingException",
            "Rate of requests exceeds the allowed throughput.",
        ),
        Some(DynamoFault::ProvisionedThroughputExceeded) => dynamo_error(
            http::StatusCode::BAD_REQUEST,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded.",
        ),
        Some(DynamoFault::ServerError) => dynamo_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "Internal server error",
        ),
        Some(DynamoFault::ForwardThenServerError) => {
            let _lost = forward(&st, &op, &parts, body).await;
            dynamo_error(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error",
            )
        }
    }
}

impl FaultyDynamo {
    /// A proxy in front of `upstream` (e.g. [`crate::moto::endpoint`]), forwarding everything until told.
    pub async fn start(upstream: &str) -> Self {
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            ..Default::default()
        });
        let router = axum::Router::new()
            .fallback(proxy)
            .with_state(state.clone());
        Self {
            url: serve(router).await,
            state,
        }
    }

    /// The next requests of `operation` (`UpdateItem`, `GetItem`, …) get these faults, in order.
    pub fn inject(&self, operation: &str, faults: &[DynamoFault]) {
        lock(&self.state.faults)
            .entry(operation.to_owned())
            .or_default()
            .extend(faults.iter().copied());
    }

    /// Faults still waiting for `operation`.
    pub fn pending(&self, operation: &str) -> usize {
        lock(&self.state.faults)
            .get(operation)
            .map_or(0, VecDeque::len)
    }

    /// Requests of `operation` received.
    pub fn seen(&self, operation: &str) -> usize {
        lock(&self.state.seen).get(operation).copied().unwrap_or(0)
    }

    /// Requests of `operation` that reached the upstream.
    pub fn forwarded(&self, operation: &str) -> usize {
        lock(&self.state.forwarded)
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// A DynamoDB client through this proxy with the given SDK retry policy.
    pub async fn client(&self, retry: aws_config::retry::RetryConfig) -> aws_sdk_dynamodb::Client {
        let sdk = dummy_sdk_config().await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(&self.url)
            .retry_config(retry)
            .build();
        aws_sdk_dynamodb::Client::from_conf(conf)
    }
}
