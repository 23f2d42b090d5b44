//! A load target on 127.0.0.1 that behaves like API Gateway's WebSocket callback endpoint (the Management API)
//! under its published limits, for `bench-fanout`.
//!
//! - `POST /@connections/{id}` (PostToConnection) and `DELETE /@connections/{id}` (DeleteConnection); `GET`
//!   (GetConnection, used by the broadcaster's cold-start warm-up) answers 410 and is not throttled.
//! - **Throttling**: one token bucket, `rate` requests/s refilled continuously, `burst` capacity (starts full).
//!   A request finding the bucket empty gets `429` with `x-amzn-errortype: LimitExceededException` at once.
//! - **Latency**: every admitted request waits a log-normal delay (default median 20 ms, p99 100 ms) before it
//!   answers.
//! - **Gone**: a share of connection ids (default 2 %) answers `410` with `x-amzn-errortype: GoneException`,
//!   decided by a fixed hash of the id, so a gone connection stays gone across retries and runs.
//! - **Hung calls**: a share of admitted calls (default 1 %, decided per call) never answer: the target holds
//!   them until the client gives up and closes the connection (or `hang_limit`, or shutdown). A hung call
//!   delivers nothing.
//! - **Counters**: TCP connections accepted, requests, 429s, 410s, hung calls, 200s, and deliveries per
//!   connection id (a delivery is counted when the 200 is about to be written).
//!
//! Plain HTTP/1.1 (no TLS, no ALPN), hyper's server on the caller's tokio runtime.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rand::Rng;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How the emulated endpoint behaves.
#[derive(Debug, Clone)]
pub struct TargetConfig {
    /// Steady-state requests per second (API Gateway: 10,000 per account and Region).
    pub rate_per_sec: f64,
    /// Bucket capacity (API Gateway: 5,000).
    pub burst: f64,
    /// Median injected latency.
    pub latency_median: Duration,
    /// 99th percentile of the injected latency (log-normal between the two).
    pub latency_p99: Duration,
    /// Share of connection ids that are gone (410), decided by hash of the id.
    pub gone_share: f64,
    /// Share of calls that never answer, decided per call.
    pub hang_share: f64,
    /// Safety bound on how long a hung call is held before the target drops it without answering.
    pub hang_limit: Duration,
}

impl Default for TargetConfig {
    fn default() -> Self {
        Self {
            rate_per_sec: 10_000.0,
            burst: 5_000.0,
            latency_median: Duration::from_millis(20),
            latency_p99: Duration::from_millis(100),
            gone_share: 0.02,
            hang_share: 0.01,
            hang_limit: Duration::from_secs(30),
        }
    }
}

impl TargetConfig {
    /// Is this connection id one of the gone ones? Deterministic: the same id is always gone or always live.
    pub fn is_gone(&self, connection_id: &str) -> bool {
        is_gone(connection_id, self.gone_share)
    }
}

/// The per-id 410 decision, shared by the target and the benchmark's bookkeeping.
pub fn is_gone(connection_id: &str, share: f64) -> bool {
    // `DefaultHasher::new()` is SipHash with fixed zero keys: stable within a build, so "gone stays gone".
    let mut h = std::collections::hash_map::DefaultHasher::new();
    connection_id.hash(&mut h);
    (h.finish() % 1_000_000) < (share * 1_000_000.0) as u64
}

/// Everything the target counted.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_accepted: AtomicU64,
    pub requests: AtomicU64,
    pub throttled_429: AtomicU64,
    pub gone_410: AtomicU64,
    pub hung: AtomicU64,
    pub ok_200: AtomicU64,
    pub deletes: AtomicU64,
    deliveries: Mutex<HashMap<String, u32>>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub connections_accepted: u64,
    pub requests: u64,
    pub throttled_429: u64,
    pub gone_410: u64,
    pub hung: u64,
    pub ok_200: u64,
    pub deletes: u64,
}

impl std::ops::Sub for Snapshot {
    type Output = Snapshot;
    fn sub(self, o: Snapshot) -> Snapshot {
        Snapshot {
            connections_accepted: self.connections_accepted - o.connections_accepted,
            requests: self.requests - o.requests,
            throttled_429: self.throttled_429 - o.throttled_429,
            gone_410: self.gone_410 - o.gone_410,
            hung: self.hung - o.hung,
            ok_200: self.ok_200 - o.ok_200,
            deletes: self.deletes - o.deletes,
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> Snapshot {
        let l = |a: &AtomicU64| a.load(Ordering::SeqCst);
        Snapshot {
            connections_accepted: l(&self.connections_accepted),
            requests: l(&self.requests),
            throttled_429: l(&self.throttled_429),
            gone_410: l(&self.gone_410),
            hung: l(&self.hung),
            ok_200: l(&self.ok_200),
            deletes: l(&self.deletes),
        }
    }
    /// How many times each connection id was delivered to (POST answered 200).
    pub fn deliveries(&self) -> HashMap<String, u32> {
        self.deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
    fn delivered(&self, id: &str) {
        *self
            .deliveries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_insert(0) += 1;
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

struct Shared {
    config: TargetConfig,
    counters: Arc<Counters>,
    bucket: Mutex<Bucket>,
    /// Log-normal parameters of the latency: ln(latency in ms) ~ N(mu, sigma).
    mu: f64,
    sigma: f64,
}

impl Shared {
    fn take_token(&self) -> bool {
        let mut b = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + elapsed * self.config.rate_per_sec).min(self.config.burst);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn latency(&self) -> Duration {
        let mut rng = rand::rng();
        // Box–Muller: one standard normal from two uniforms.
        let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        let u2: f64 = rng.random();
        let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
        let ms = (self.mu + self.sigma * z).exp();
        Duration::from_secs_f64((ms / 1_000.0).min(10.0))
    }
}

/// A running target. [`Target::shutdown`] stops it and drops every held call.
pub struct Target {
    pub addr: SocketAddr,
    pub url: String,
    pub counters: Arc<Counters>,
    accept: tokio::task::JoinHandle<()>,
}

impl Target {
    pub async fn start(config: TargetConfig) -> std::io::Result<Target> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let counters = Arc::new(Counters::default());
        // z(0.99) = 2.3263: sigma such that the 99th percentile is `latency_p99`.
        let median_ms = config.latency_median.as_secs_f64() * 1_000.0;
        let p99_ms = config.latency_p99.as_secs_f64() * 1_000.0;
        let mu = median_ms.max(0.001).ln();
        let sigma = ((p99_ms.max(median_ms) / median_ms.max(0.001)).ln() / 2.3263).max(0.0);
        let shared = Arc::new(Shared {
            bucket: Mutex::new(Bucket {
                tokens: config.burst,
                last: Instant::now(),
            }),
            config,
            counters: counters.clone(),
            mu,
            sigma,
        });
        let accept = tokio::spawn(async move {
            // Connection tasks live in this set: aborting the accept task drops (and aborts) all of them.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        shared.counters.connections_accepted.fetch_add(1, Ordering::SeqCst);
                        let shared = shared.clone();
                        conns.spawn(async move {
                            let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .keep_alive(true)
                                .serve_connection(TokioIo::new(stream), svc)
                                .await;
                        });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        Ok(Target {
            addr,
            url: format!("http://{addr}"),
            counters,
            accept,
        })
    }

    /// Stop accepting and drop every open connection (and every held call).
    pub async fn shutdown(self) {
        self.accept.abort();
        let _ = self.accept.await;
    }
}

fn aws_error(status: StatusCode, kind: &'static str, message: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!(
        "{{\"message\":\"{message}\"}}"
    ))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    r.headers_mut()
        .insert("x-amzn-errortype", http::HeaderValue::from_static(kind));
    r
}

/// The SDK percent-encodes the connection id in the path (`=` → `%3D`).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::SeqCst);
    let Some(id) = req
        .uri()
        .path()
        .strip_prefix("/@connections/")
        .map(percent_decode)
    else {
        return Ok(aws_error(
            StatusCode::NOT_FOUND,
            "NotFoundException",
            "Not Found",
        ));
    };
    let method = req.method().clone();
    if method == Method::GET {
        // The broadcaster's warm-up (GetConnection on a made-up id): answer like API Gateway, not throttled.
        return Ok(aws_error(
            StatusCode::GONE,
            "GoneException",
            "Connection is gone",
        ));
    }
    if method != Method::POST && method != Method::DELETE {
        return Ok(aws_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "Method not allowed",
        ));
    }
    if !shared.take_token() {
        c.throttled_429.fetch_add(1, Ordering::SeqCst);
        return Ok(aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Rate exceeded",
        ));
    }
    // Read the body (PostToConnection's data) like the real endpoint does.
    let _ = http_body_util::BodyExt::collect(req.into_body()).await;
    if rand::rng().random_bool(shared.config.hang_share.clamp(0.0, 1.0)) {
        c.hung.fetch_add(1, Ordering::SeqCst);
        // Never answer: held until the client closes the connection (hyper then drops this future), the
        // safety limit, or shutdown. The connection is then closed without a response.
        tokio::time::sleep(shared.config.hang_limit).await;
        return Ok(aws_error(
            StatusCode::GATEWAY_TIMEOUT,
            "InternalServerErrorException",
            "held call released",
        ));
    }
    tokio::time::sleep(shared.latency()).await;
    if shared.config.is_gone(&id) {
        c.gone_410.fetch_add(1, Ordering::SeqCst);
        return Ok(aws_error(
            StatusCode::GONE,
            "GoneException",
            "Connection is gone",
        ));
    }
    if method == Method::DELETE {
        c.deletes.fetch_add(1, Ordering::SeqCst);
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NO_CONTENT;
        return Ok(r);
    }
    c.ok_200.fetch_add(1, Ordering::SeqCst);
    c.delivered(&id);
    Ok(Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_is_deterministic_and_near_the_share() {
        let ids: Vec<String> = (0..20_000).map(|i| format!("bench{i:06}")).collect();
        let gone = ids.iter().filter(|i| is_gone(i, 0.02)).count();
        assert!((300..500).contains(&gone), "{gone}");
        assert!(ids.iter().all(|i| is_gone(i, 0.02) == is_gone(i, 0.02)));
        assert_eq!(ids.iter().filter(|i| is_gone(i, 0.0)).count(), 0);
        assert_eq!(percent_decode("abc%3D%3d"), "abc==");
        assert_eq!(percent_decode("a%2"), "a%2");
    }
}
