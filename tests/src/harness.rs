//! `TestApp`: the real handlers over a real store, an in-memory broadcaster and a manual clock. Requests are
//! built from the sample events in `events/`, so every test runs through the shapes API Gateway sends.

use auction::auth::TokenIssuer;
use auction::broadcast::memory::MemoryBroadcaster;
use auction::config::Settings;
use auction::domain::AuctionEndedEvent;
use auction::domain::{AuctionId, ConnectionId, Role};
use auction::frames::{Event, Frame};
use auction::handlers::{close, App};
use auction::handoff::memory::MemoryHandOff;
use auction::ports::{Broadcaster, ManualClock, Store};
use auction::store::dynamodb::DynamoStore;
use auction::store::sqlite::SqliteStore;
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";
/// 2026-01-01T00:00:00Z: tests run on a manual clock that starts here.
pub const T0: i64 = 1_767_225_600_000;

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// A sample event from `events/`, parsed.
pub fn sample_event(name: &str) -> Value {
    let path = events_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// An HTTP API response, decoded.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: http::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// Answered as a replay of an earlier request with the same Idempotency-Key (`Idempotent-Replayed: true`).
    pub fn replayed(&self) -> bool {
        self.headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true")
    }
}

/// Decode a handler's response.
pub fn reply(resp: lambda_http::Response<lambda_http::Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes: Vec<u8> = match resp.into_body() {
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

/// `r`, the answer of `method route`, after checking it against the contract (`contract/openapi.json`), and
/// the request body against the route's request schema when the server accepted it.
fn checked(method: &str, route: &str, request: Option<&str>, r: Reply) -> Reply {
    crate::contract::check_http(method, route, r.status, &r.body);
    if let (200..=299, Some(body)) = (r.status, request) {
        let body: Value = serde_json::from_str(body).expect("an accepted body is JSON");
        crate::contract::check_request(method, route, &body);
    }
    r
}

/// How to build one HTTP request from a sample event.
#[derive(Debug, Clone, Default)]
pub struct Req<'a> {
    pub token: Option<&'a str>,
    pub auction_id: Option<&'a str>,
    /// `None` keeps no body at all.
    pub body: Option<String>,
    pub idempotency_key: Option<&'a str>,
    pub method: Option<&'a str>,
    pub query: Option<(&'a str, &'a str)>,
}

/// Fill a v2 HTTP API sample event with this request's token, path id, body and headers.
pub fn http_event(sample: &str, r: &Req<'_>) -> lambda_http::Request {
    let mut e = sample_event(sample);
    let headers = e["headers"].as_object_mut().expect("headers");
    headers.remove("authorization");
    headers.remove("idempotency-key");
    headers.remove("content-length");
    if let Some(t) = r.token {
        headers.insert("authorization".into(), json!(format!("Bearer {t}")));
    }
    if let Some(k) = r.idempotency_key {
        headers.insert("idempotency-key".into(), json!(k));
    }
    if let Some(id) = r.auction_id {
        let raw_path = e["rawPath"]
            .as_str()
            .unwrap_or("")
            .replace("01JD5Z8Q4W3N6R2T9V7X0Y1ABC", id);
        e["pathParameters"]["id"] = json!(id);
        e["rawPath"] = json!(raw_path.clone());
        e["requestContext"]["http"]["path"] = json!(raw_path);
    }
    if let Some(m) = r.method {
        e["requestContext"]["http"]["method"] = json!(m);
    }
    if let Some((k, v)) = r.query {
        e["rawQueryString"] = json!(format!("{k}={v}"));
        e["queryStringParameters"] = json!({ k: v });
    }
    match &r.body {
        Some(b) => e["body"] = json!(b),
        None => {
            e.as_object_mut().expect("event").remove("body");
        }
    }
    lambda_http::request::from_str(&e.to_string()).expect("a valid API Gateway v2 event")
}

/// A WebSocket sample event for `connection_id`, with `auctionId`/`ticket` for `$connect` and a body for
/// `$default`.
pub fn ws_event(
    sample: &str,
    connection_id: &str,
    query: Option<(&str, &str)>,
    body: Option<&str>,
) -> ApiGatewayWebsocketProxyRequest {
    let mut e = sample_event(sample);
    e["requestContext"]["connectionId"] = json!(connection_id);
    if let Some((auction_id, ticket)) = query {
        e["queryStringParameters"] = json!({ "auctionId": auction_id, "ticket": ticket });
        e["multiValueQueryStringParameters"] =
            json!({ "auctionId": [auction_id], "ticket": [ticket] });
    }
    if let Some(b) = body {
        e["body"] = json!(b);
    }
    serde_json::from_value(e).expect("a valid API Gateway WebSocket event")
}

/// The real handlers over a store `S` and a broadcaster `B` (by default an in-memory one that records every
/// frame), on a manual clock starting at [`T0`]. Hand-offs to the publisher are recorded in `handoff`; after
/// every request the helpers below run the publisher on what was handed off ([`TestApp::publish_pending`]),
/// as the queue would, unless `auto_publish` is turned off (kill-point tests run it themselves).
pub struct TestApp<S, B = Arc<MemoryBroadcaster>> {
    pub app: App<S, B>,
    pub clock: Arc<ManualClock>,
    pub handoff: Arc<MemoryHandOff>,
    pub auto_publish: AtomicBool,
    /// One publisher at a time, as the queue hands one auction's jobs out one at a time.
    publishing: tokio::sync::Mutex<()>,
    issuer: TokenIssuer,
}

/// The production settings, but no coalescing window (tests that need one set it): a window would make
/// every test that places bids in a row wait for it. And the abuse limits out of the way: tests of other
/// things place many bids and create many auctions as one user; `limits.rs` tests the limits themselves.
pub fn test_settings() -> Settings {
    Settings {
        publish_window: std::time::Duration::ZERO,
        limits: auction::config::Limits {
            bid_rate_limit: u32::MAX,
            max_active_auctions_per_seller: 100_000,
            ..Default::default()
        },
        ..Settings::default()
    }
}

impl TestApp<SqliteStore> {
    /// A fresh app on a fresh in-memory embedded store.
    pub fn sqlite() -> Self {
        Self::with_store(SqliteStore::in_memory().expect("in-memory store"))
    }
}

impl TestApp<DynamoStore> {
    /// A fresh app on a fresh DynamoDB table in moto (started once per test binary).
    pub async fn dynamodb() -> Self {
        Self::with_store(crate::moto::fresh_table().await)
    }
}

/// Defines a handler-level scenario once and runs it on every store: `async fn name(t) { … }` becomes
/// `pub async fn name<S: Store>(t: TestApp<S>)` and a module `name` with two tests, `embedded` (SQLite in
/// memory) and `dynamodb` (the DynamoDB adapter on moto). A scenario cannot be written without running on
/// both.
#[macro_export]
macro_rules! scenario {
    ($(#[$meta:meta])* async fn $name:ident($t:ident) $body:block) => {
        $(#[$meta])*
        pub async fn $name<S: ::auction::ports::Store>($t: $crate::harness::TestApp<S>) $body

        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                super::$name($crate::harness::TestApp::sqlite()).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn dynamodb() {
                super::$name($crate::harness::TestApp::dynamodb().await).await
            }
        }
    };
}

impl<S: Store> TestApp<S> {
    pub fn with_store(store: S) -> Self {
        Self::with_store_and_settings(store, test_settings())
    }

    pub fn with_store_and_settings(store: S, settings: Settings) -> Self {
        Self::with_parts(store, Arc::new(MemoryBroadcaster::new()), settings)
    }

    /// The in-memory broadcaster: frames delivered, gone and faulty connections.
    pub fn broadcaster(&self) -> &MemoryBroadcaster {
        self.app.broadcaster()
    }

    /// Frames a viewer received, but the viewer-count frames (`auction.viewers` alone, sent as viewers come
    /// and go; `all_frames` has them): what the fan-out tests count.
    pub fn frames(&self, connection_id: &str) -> Vec<Frame> {
        self.all_frames(connection_id)
            .into_iter()
            .filter(|f| !matches!(f.event, Event::AuctionViewers(_)))
            .collect()
    }

    /// Every frame a viewer received, each checked against the contract (`contract/asyncapi.json`).
    pub fn all_frames(&self, connection_id: &str) -> Vec<Frame> {
        let id = ConnectionId::parse(connection_id).expect("connection id");
        for raw in self.broadcaster().raw_frames(&id) {
            crate::contract::check_frame(&raw);
        }
        self.broadcaster().frames(&id)
    }

    /// Every event a viewer received, in order, with the seq each carries (a batch's items flattened).
    pub fn events(&self, connection_id: &str) -> Vec<(u64, Event)> {
        self.frames(connection_id)
            .iter()
            .flat_map(|f| {
                f.events()
                    .into_iter()
                    .map(|(seq, e)| (seq, e.clone()))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The seqs of the `bid.placed` events a viewer received, in arrival order.
    pub fn bid_seqs(&self, connection_id: &str) -> Vec<u64> {
        self.events(connection_id)
            .into_iter()
            .filter(|(_, e)| matches!(e, Event::BidPlaced(_)))
            .map(|(seq, _)| seq)
            .collect()
    }

    /// The counts of the `auction.viewers` events a viewer received (alone or inside a delivery), in order.
    pub fn viewer_counts(&self, connection_id: &str) -> Vec<u64> {
        self.all_frames(connection_id)
            .iter()
            .flat_map(|f| {
                f.events()
                    .into_iter()
                    .filter_map(|(_, e)| match e {
                        Event::AuctionViewers(v) => Some(v.count),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The `auction.ended` events a viewer received, with their seq.
    pub fn ended(&self, connection_id: &str) -> Vec<(u64, AuctionEndedEvent)> {
        self.events(connection_id)
            .into_iter()
            .filter_map(|(seq, e)| match e {
                Event::AuctionEnded(ended) => Some((seq, ended)),
                _ => None,
            })
            .collect()
    }

    /// The connections the server closed (DeleteConnection), sorted, duplicates kept.
    pub fn revoked(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .broadcaster()
            .disconnected()
            .iter()
            .map(|c| c.to_string())
            .collect();
        ids.sort();
        ids
    }
}

impl<S: Store, B: Broadcaster> TestApp<S, B> {
    pub fn with_parts(store: S, broadcaster: B, settings: Settings) -> Self {
        let secret = SecretString::from(SECRET);
        let clock = Arc::new(ManualClock::new(T0));
        let verifier = auction::auth::TokenVerifier::new(&secret).expect("secret");
        let handoff = Arc::new(MemoryHandOff::new());
        let app = App::new(store, broadcaster, verifier, clock.clone(), settings)
            .with_hand_off(handoff.clone());
        Self {
            app,
            clock,
            handoff,
            auto_publish: AtomicBool::new(true),
            publishing: tokio::sync::Mutex::new(()),
            issuer: TokenIssuer::new(&secret).expect("secret"),
        }
    }

    /// Run the publisher on every job handed off so far, oldest first, until none is left (as the queue
    /// would: a failed job is kept and retried on the next call). Returns the jobs run.
    pub async fn publish_pending(&self) -> usize {
        let _one_at_a_time = self.publishing.lock().await;
        let mut ran = 0;
        loop {
            let jobs = self.handoff.take();
            if jobs.is_empty() {
                return ran;
            }
            for job in jobs {
                ran += 1;
                if let Err(e) = self.app.publish(&job).await {
                    panic!("publish {job:?} failed: {e}");
                }
            }
        }
    }

    async fn after_request(&self) {
        if self.auto_publish.load(Ordering::SeqCst) {
            self.publish_pending().await;
        }
    }

    /// The connection records of an auction, over all its shards.
    pub async fn viewers(&self, auction_id: &str) -> Vec<auction::domain::Connection> {
        let aid = AuctionId::parse(auction_id).expect("id");
        let shards = self
            .store()
            .get_auction(&aid)
            .await
            .expect("store")
            .map_or(1, |a| a.viewer_shards);
        self.store()
            .connections_for_auction(&aid, shards)
            .await
            .expect("store")
    }

    pub fn store(&self) -> &S {
        &self.app.store
    }

    /// A valid token (the JWT library checks `exp` against the real clock, so it is minted from it).
    pub fn token(&self, sub: &str, name: &str, role: Role) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        self.issuer
            .mint_for(sub, name, role, now, 3600)
            .expect("HS256 signing")
    }

    pub fn seller(&self) -> String {
        self.token("seller-1", "Sam Seller", Role::Seller)
    }
    pub fn admin(&self) -> String {
        self.token("admin-1", "Ada Admin", Role::Admin)
    }
    pub fn bidder(&self, n: u32) -> String {
        self.token(&format!("bidder-{n}"), &format!("Bidder {n}"), Role::Bidder)
    }
    /// A token of a user of its own for the viewer on `connection_id` (one user may open only a few sockets).
    pub fn viewer(&self, connection_id: &str) -> String {
        let user: String = connection_id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        self.token(&format!("viewer-{user}"), "Viewer", Role::Bidder)
    }

    pub async fn create(&self, token: &str, body: Value) -> Reply {
        let body = body.to_string();
        let req = http_event(
            "create-auction.json",
            &Req {
                token: Some(token),
                body: Some(body.clone()),
                ..Default::default()
            },
        );
        let r = reply(self.app.create_auction(req).await);
        let r = checked("POST", "/auctions", Some(&body), r);
        self.after_request().await;
        r
    }

    /// Create an auction that starts at 100.00 with a 1.00 increment and ends in five minutes.
    pub async fn auction(&self) -> String {
        let r = self
            .create(&self.seller(), json!({"title": "Vintage Leica M3", "startingPrice": 10_000, "minIncrement": 100, "durationSeconds": 300}))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r.body["auction"]["auctionId"]
            .as_str()
            .expect("auctionId")
            .to_owned()
    }

    pub async fn bid_raw(
        &self,
        token: Option<&str>,
        auction_id: &str,
        body: Option<String>,
        key: Option<&str>,
    ) -> Reply {
        let req = http_event(
            "place-bid.json",
            &Req {
                token,
                auction_id: Some(auction_id),
                body: body.clone(),
                idempotency_key: key,
                ..Default::default()
            },
        );
        let r = reply(self.app.place_bid(req).await);
        let r = checked("POST", "/auctions/{id}/bids", body.as_deref(), r);
        self.after_request().await;
        r
    }

    pub async fn bid(&self, token: &str, auction_id: &str, amount: i64) -> Reply {
        self.bid_with_key(token, auction_id, amount, None).await
    }

    /// `POST /auctions/{id}/bids` with `{"amount": amount}` and an optional Idempotency-Key.
    pub async fn bid_with_key(
        &self,
        token: &str,
        auction_id: &str,
        amount: i64,
        key: Option<&str>,
    ) -> Reply {
        self.bid_raw(
            Some(token),
            auction_id,
            Some(json!({ "amount": amount }).to_string()),
            key,
        )
        .await
    }

    pub async fn get(&self, auction_id: &str) -> Reply {
        let req = http_event(
            "get-auction.json",
            &Req {
                auction_id: Some(auction_id),
                ..Default::default()
            },
        );
        checked(
            "GET",
            "/auctions/{id}",
            None,
            reply(self.app.get_auction(req).await),
        )
    }

    pub async fn list(&self) -> Reply {
        let r = reply(
            self.app
                .list_auctions(http_event("list-auctions.json", &Req::default()))
                .await,
        );
        checked("GET", "/auctions", None, r)
    }

    pub async fn end(&self, token: &str, auction_id: &str) -> Reply {
        let req = http_event(
            "end-auction.json",
            &Req {
                token: Some(token),
                auction_id: Some(auction_id),
                ..Default::default()
            },
        );
        let r = reply(self.app.end_auction(req).await);
        let r = checked("POST", "/auctions/{id}/end", None, r);
        self.after_request().await;
        r
    }

    /// `POST /auctions/{id}/ticket` with a session token.
    pub async fn ticket(&self, token: &str, auction_id: &str) -> Reply {
        let req = http_event(
            "end-auction.json",
            &Req {
                token: Some(token),
                auction_id: Some(auction_id),
                ..Default::default()
            },
        );
        reply(self.app.ws_ticket(req).await)
    }

    /// `$connect` with this ticket (or any string in its place).
    pub async fn connect_with_ticket(
        &self,
        connection_id: &str,
        auction_id: &str,
        ticket: &str,
    ) -> i64 {
        let e = ws_event(
            "ws-connect.json",
            connection_id,
            Some((auction_id, ticket)),
            None,
        );
        self.app.ws_connect(e).await.status_code
    }

    /// A viewer's way in, as the web client does it: a ticket for the session token, then `$connect` with it.
    /// Returns the status of whichever refused, or 200.
    pub async fn connect(&self, connection_id: &str, auction_id: &str, token: &str) -> i64 {
        let t = self.ticket(token, auction_id).await;
        let Some(ticket) = t.body["ticket"].as_str().filter(|_| t.status == 200) else {
            return i64::from(t.status);
        };
        self.connect_with_ticket(connection_id, auction_id, ticket)
            .await
    }

    pub async fn disconnect(&self, connection_id: &str) -> i64 {
        self.app
            .ws_disconnect(ws_event("ws-disconnect.json", connection_id, None, None))
            .await
            .status_code
    }

    pub async fn send(&self, connection_id: &str, body: &str) -> i64 {
        self.app
            .ws_default(ws_event("ws-default.json", connection_id, None, Some(body)))
            .await
            .status_code
    }

    pub async fn close_run(&self) -> close::CloseRunReport {
        let r = self.app.close_run().await.expect("close run");
        self.after_request().await;
        r
    }

    pub async fn auction_state(&self, auction_id: &str) -> auction::domain::Auction {
        self.store()
            .get_auction(&AuctionId::parse(auction_id).expect("id"))
            .await
            .expect("store")
            .expect("auction exists")
    }
}
