//! `bench-contention`: K concurrent bidders on one auction through the real bid handler
//! (`App::place_bid`, requests built from `events/place-bid.json` by `lambda_http::request::from_str`),
//! against one store. No viewers, so the store's conditional write is what is measured.
//!
//! Each bidder loops until the deadline (or its bid cap): it bids the minimum it last heard of
//! (`minimumBid` from its previous 201 or 409 answer) plus 0–2 increments, so bidders collide on the same
//! price levels and most bids are refused, as in a hot live auction. After the run the invariants are
//! checked from the outside ([`check_invariants`]); a violation is an `Err`, and the binary exits non-zero.

use auction::domain::AuctionId;
use auction::ports::Store;
use auction_tests::harness::{sample_event, TestApp};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The auction `TestApp::auction` creates: starts at 100.00, 1.00 increment.
pub const STARTING_PRICE: i64 = 10_000;
pub const INCREMENT: i64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    pub bidders: usize,
    pub duration: Duration,
    /// Upper bound on bids per bidder (the run is bounded in count as well as in time).
    pub max_bids_per_bidder: usize,
    /// Share of requests that are maxima (`{"maxAmount"}`, up to 20 steps above the minimum) instead of plain
    /// bids; 0: plain bids only.
    pub max_share: f64,
}

#[derive(Debug, Clone)]
pub struct RunResult {
    pub accepted: u64,
    pub refused: u64,
    /// Any other answer, by `status code`.
    pub other: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// Handler latency of every request, ms.
    pub latencies_ms: Vec<f64>,
    pub auction_id: String,
    pub final_price: i64,
}

impl RunResult {
    pub fn accepted_per_s(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }
    pub fn refused_per_s(&self) -> f64 {
        self.refused as f64 / self.elapsed.as_secs_f64()
    }
    pub fn percentile(&self, p: f64) -> f64 {
        let mut v = self.latencies_ms.clone();
        crate::stats::percentile(&mut v, p).unwrap_or(f64::NAN)
    }
}

/// The place-bid sample event, loaded once; [`BidRequests::build`] fills in token, auction id and amount the
/// way `auction_tests::harness::http_event` does (without reading the file per request).
#[derive(Clone)]
pub struct BidRequests {
    sample: Value,
}

impl Default for BidRequests {
    fn default() -> Self {
        Self::new()
    }
}

impl BidRequests {
    pub fn new() -> Self {
        Self {
            sample: sample_event("place-bid.json"),
        }
    }

    pub fn build(&self, token: &str, auction_id: &str, amount: i64) -> lambda_http::Request {
        self.build_body(token, auction_id, json!({ "amount": amount }))
    }

    /// The same with any bid body (a maximum: `{"maxAmount": …}`).
    pub fn build_body(&self, token: &str, auction_id: &str, body: Value) -> lambda_http::Request {
        let mut e = self.sample.clone();
        let headers = e["headers"].as_object_mut().expect("headers");
        headers.remove("idempotency-key");
        headers.remove("content-length");
        headers.insert("authorization".into(), json!(format!("Bearer {token}")));
        let raw_path = format!("/auctions/{auction_id}/bids");
        e["pathParameters"]["id"] = json!(auction_id);
        e["rawPath"] = json!(raw_path);
        e["requestContext"]["http"]["path"] = json!(raw_path);
        e["body"] = json!(body.to_string());
        lambda_http::request::from_str(&e.to_string()).expect("a valid API Gateway v2 event")
    }
}

fn decode(resp: lambda_http::Response<lambda_http::Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let bytes: Vec<u8> = match resp.into_body() {
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[derive(Default)]
struct BidderLog {
    accepted: Vec<(u64, i64)>,
    refused: u64,
    other: BTreeMap<String, u64>,
    latencies_ms: Vec<f64>,
}

/// One run: a fresh auction on `t`'s store, `cfg.bidders` concurrent bidders, then the invariants.
pub async fn run<S: Store>(t: Arc<TestApp<S>>, cfg: RunConfig) -> Result<RunResult, String> {
    let auction_id = t.auction().await;
    let requests = Arc::new(BidRequests::new());
    let tokens: Vec<String> = (0..cfg.bidders as u32).map(|n| t.bidder(n)).collect();
    let start = Instant::now();
    let deadline = start + cfg.duration;
    let mut tasks = Vec::with_capacity(cfg.bidders);
    for token in tokens {
        let t = t.clone();
        let requests = requests.clone();
        let id = auction_id.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let mut log = BidderLog::default();
            let mut minimum = STARTING_PRICE;
            for _ in 0..cfg.max_bids_per_bidder {
                if Instant::now() >= deadline {
                    break;
                }
                let max = rng.random_bool(cfg.max_share.clamp(0.0, 1.0));
                let (amount, req) = if max {
                    let amount = minimum + INCREMENT * rng.random_range(0..=20i64);
                    (
                        amount,
                        requests.build_body(&token, &id, json!({ "maxAmount": amount })),
                    )
                } else {
                    let amount = minimum + INCREMENT * rng.random_range(0..=2i64);
                    (amount, requests.build(&token, &id, amount))
                };
                let t0 = Instant::now();
                let resp = t.app.place_bid(req).await;
                log.latencies_ms.push(t0.elapsed().as_secs_f64() * 1e3);
                let (status, body) = decode(resp);
                match (status, body["error"].as_str()) {
                    (201, _) => {
                        let seq = body["seq"].as_u64().unwrap_or(0);
                        log.accepted.push((seq, amount));
                        minimum = body["minimumBid"].as_i64().unwrap_or(amount + INCREMENT);
                    }
                    (409, Some("bid_too_low")) => {
                        log.refused += 1;
                        minimum = body["minimumBid"].as_i64().unwrap_or(minimum + INCREMENT);
                    }
                    // It led when its bid was judged: wait to be outbid.
                    (409, Some("already_leading" | "max_not_raised")) => {
                        log.refused += 1;
                        minimum += INCREMENT;
                    }
                    (s, code) => {
                        *log.other
                            .entry(format!("{s} {}", code.unwrap_or("?")))
                            .or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            log
        }));
    }
    let mut accepted = Vec::new();
    let mut refused = 0;
    let mut other = BTreeMap::new();
    let mut latencies_ms = Vec::new();
    for task in tasks {
        let log = task
            .await
            .map_err(|e| format!("a bidder task panicked: {e}"))?;
        accepted.extend(log.accepted);
        refused += log.refused;
        for (k, v) in log.other {
            *other.entry(k).or_insert(0) += v;
        }
        latencies_ms.extend(log.latencies_ms);
    }
    let elapsed = start.elapsed();
    let final_price = if cfg.max_share > 0.0 {
        // A maximum's answer is a bid of someone else's: check the stored history instead of the answers.
        check_history(&t, &auction_id).await?
    } else {
        check_invariants(&t, &auction_id, &mut accepted).await?
    };
    Ok(RunResult {
        accepted: accepted.len() as u64,
        refused,
        other,
        elapsed,
        latencies_ms,
        auction_id,
        final_price,
    })
}

/// The auction as the store has it.
async fn stored_auction<S: Store>(
    t: &TestApp<S>,
    auction_id: &str,
) -> Result<(AuctionId, auction::domain::Auction), String> {
    let id = AuctionId::parse(auction_id).map_err(|e| format!("bad id: {e:?}"))?;
    let a = t
        .store()
        .get_auction(&id)
        .await
        .map_err(|e| format!("reading the auction: {e}"))?
        .ok_or("the auction vanished")?;
    Ok((id, a))
}

/// With maxima: the whole stored history has seqs 1..=n, amounts never fall (a maximum's answer may equal the
/// bid it answers, at a tie), bidCount = seq = n, and the price is the last bid's. Returns the final price.
pub async fn check_history<S: Store>(t: &TestApp<S>, auction_id: &str) -> Result<i64, String> {
    let (id, a) = stored_auction(t, auction_id).await?;
    let mut history = t
        .store()
        .recent_bids(&id, usize::MAX)
        .await
        .map_err(|e| format!("reading the history: {e}"))?;
    history.reverse();
    let n = history.len() as u64;
    if history.iter().map(|b| b.seq).ne(1..=n) {
        return Err(format!("history seqs are not 1..={n}"));
    }
    if let Some(w) = history.windows(2).find(|w| w[1].amount < w[0].amount) {
        return Err(format!("the price fell: {:?} then {:?}", w[0], w[1]));
    }
    if a.bid_count != n || a.seq != n {
        return Err(format!(
            "bidCount {} / seq {} != history {n}",
            a.bid_count, a.seq
        ));
    }
    let last = history.last().map_or(STARTING_PRICE, |b| b.amount.cents());
    if a.current_price.cents() != last || a.high_bid.as_ref() != history.last() {
        return Err(format!(
            "price {} / high bid != the last bid {last}",
            a.current_price.cents()
        ));
    }
    Ok(last)
}

/// One accept per price level; strictly increasing amounts (by at least the increment) in seq order with
/// seq = 1..=n; final price = max accepted; bidCount = seq = accepted count; the stored history's most recent
/// bids are exactly the last accepted ones. Returns the final price.
pub async fn check_invariants<S: Store>(
    t: &TestApp<S>,
    auction_id: &str,
    accepted: &mut [(u64, i64)],
) -> Result<i64, String> {
    accepted.sort();
    let n = accepted.len();
    if n == 0 {
        return Err("no bid was accepted".into());
    }
    let levels: HashSet<i64> = accepted.iter().map(|(_, a)| *a).collect();
    if levels.len() != n {
        return Err(format!(
            "{} accepts for {} price levels: a price level was accepted twice",
            n,
            levels.len()
        ));
    }
    for (i, (seq, _)) in accepted.iter().enumerate() {
        if *seq != i as u64 + 1 {
            return Err(format!(
                "accepted seqs are not 1..={n}: position {i} has seq {seq}"
            ));
        }
    }
    if let Some(w) = accepted.windows(2).find(|w| w[1].1 < w[0].1 + INCREMENT) {
        return Err(format!(
            "amounts not strictly increasing by the increment in seq order: {:?} then {:?}",
            w[0], w[1]
        ));
    }
    let (_, a) = stored_auction(t, auction_id).await?;
    let max = accepted.iter().map(|(_, a)| *a).max().unwrap_or_default();
    if a.current_price.cents() != max {
        return Err(format!(
            "final price {} != max accepted {max}",
            a.current_price.cents()
        ));
    }
    if a.bid_count != n as u64 || a.seq != n as u64 {
        return Err(format!(
            "bidCount {} / seq {} != accepted count {n}",
            a.bid_count, a.seq
        ));
    }
    // The history (GET /auctions/{id}: 20 most recent, newest first) is the tail of the accepted bids.
    let got = t.get(auction_id).await;
    let history: Vec<(u64, i64)> = got.body["bids"]
        .as_array()
        .map(|b| {
            b.iter()
                .map(|b| {
                    (
                        b["seq"].as_u64().unwrap_or(0),
                        b["amount"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<(u64, i64)> = accepted.iter().rev().take(20).copied().collect();
    if history != expected {
        return Err(format!(
            "bid history (newest first) {history:?} != last accepted {expected:?}"
        ));
    }
    Ok(max)
}

pub use auction_tests::item_size::{item_size, rcu, wcu};
