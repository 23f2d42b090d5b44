//! `bench-scale`: the real publisher (`App::publish`, `App::deliver_slice`, the fan-out with its retries and
//! call slots, the pacer, the coalescing window, the slice plan) run in virtual time (tokio's paused clock)
//! against a model of AWS, at audiences this machine cannot hold.
//!
//! The model (every figure is a flag):
//! - **API Gateway Management API**: the account's PostToConnection quota as a token bucket (10,000/s, burst
//!   5,000; past it 429), post latency log-normal (median 20 ms, p99 100 ms), 2 % of viewers gone (410), 1 %
//!   of posts never answered (the fan-out's timeout cuts them and retries);
//! - **Lambda**: per-post CPU (what this machine measured for the SDK adapter, `--cpu-us-per-post`, at one
//!   vCPU) scaled to each function's memory (1,769 MB = 1 vCPU), each invocation's CPU a serial resource;
//!   Invoke latency log-normal (median 15 ms), cold starts (`--cold-start-ms`) when no warm instance is
//!   idle, the scale-up rate (+1,000 environments per 10 s);
//! - **SQS FIFO → Lambda**: one message group per auction handled one batch at a time, the hop log-normal
//!   (median 100 ms);
//! - **DynamoDB**: each call log-normal (median 5 ms), consistent reads counted in RCU per partition and per
//!   second (a partition takes 3,000 RCU/s).
//!
//! Reported per (viewers, bids/s): delivered-to-all p50/p99 (a bid's commit → the last viewer's receipt),
//! against the floor the posts-per-second share allows; posts/s against the share (the highest 1 s window);
//! concurrency; cost per 1M bids and per 1,000 viewer-hours.

use async_trait::async_trait;
use auction::auth::TokenVerifier;
use auction::config::Settings;
use auction::domain::{
    self, Admission, Auction, AuctionDetails, AuctionDraft, AuctionId, Bid, BidOutcome, BidRequest,
    CloseOutcome, Closing, Connection, ConnectionId, Millis, Money, Principal, Publication, Role,
    SyncVerdict, UserId,
};
use auction::fanout::FanoutReport;
use auction::frames::{Event, Frame};
use auction::handlers::App;
use auction::ports::{
    AuctionStore, Broadcaster, Clock, ConnectionStore, PushError, SliceDelivery, SliceError,
    StoreError, StoreResult,
};
use auction::publisher::{PublishJob, SliceJob};
use auction_bench::cli::{num, report_path};
use auction_bench::stats::percentile;
use clap::Parser;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Parser, Debug, Clone)]
#[command(name = "bench-scale", args_override_self = true)]
struct Cli {
    /// Audiences, comma-separated
    #[arg(long, default_value = "1000,10000,100000")]
    viewers: String,
    /// Bid rates per second, comma-separated
    #[arg(long, default_value = "1,5,20")]
    rates: String,
    /// Virtual seconds of bidding per scenario
    #[arg(long, value_parser = num::<u64>, default_value_t = 120)]
    seconds: u64,
    /// The account's PostToConnection quota (requests/s) and its burst
    #[arg(long, value_parser = num::<u32>, default_value_t = 10_000)]
    quota: u32,
    #[arg(long, value_parser = num::<u32>, default_value_t = 5_000)]
    burst: u32,
    /// PUBLISH_POSTS_PER_SECOND: the share of the quota one auction's deliveries may use
    #[arg(long, value_parser = num::<u32>, default_value_t = 5_000)]
    share: u32,
    /// PUBLISH_WINDOW_MS
    #[arg(long, value_parser = num::<u64>, default_value_t = 250)]
    window_ms: u64,
    /// FANOUT_CALL_TIMEOUT_MS
    #[arg(long, value_parser = num::<u64>, default_value_t = 300)]
    call_timeout_ms: u64,
    /// VIEWER_SHARDS and SLICE_VIEWERS
    #[arg(long, value_parser = num::<u16>, default_value_t = 16)]
    shards: u16,
    #[arg(long, value_parser = num::<u64>, default_value_t = 2_000)]
    slice_viewers: u64,
    /// CPU per post of the SDK adapter at one vCPU (µs), as measured here (bench-fanout: 65 µs on plain HTTP)
    #[arg(long, value_parser = num::<f64>, default_value_t = 65.0)]
    cpu_us_per_post: f64,
    /// Memory of the publish and deliver functions (MB)
    #[arg(long, value_parser = num::<u32>, default_value_t = 1_024)]
    publish_mb: u32,
    #[arg(long, value_parser = num::<u32>, default_value_t = 512)]
    deliver_mb: u32,
    /// Post latency median and p99 (ms), viewers gone (410) and posts never answered (per cent)
    #[arg(long, value_parser = num::<f64>, default_value_t = 20.0)]
    post_median_ms: f64,
    #[arg(long, value_parser = num::<f64>, default_value_t = 100.0)]
    post_p99_ms: f64,
    #[arg(long, value_parser = num::<f64>, default_value_t = 2.0)]
    gone_pct: f64,
    #[arg(long, value_parser = num::<f64>, default_value_t = 1.0)]
    hang_pct: f64,
    /// Cold start of the deliver function (ms)
    #[arg(long, value_parser = num::<u64>, default_value_t = 250)]
    cold_start_ms: u64,
    /// Markdown report [default: bench/results/scale.md; --smoke: none]
    #[arg(long)]
    out: Option<PathBuf>,
    /// 1,000 viewers at 5 bids/s for 10 s, no report
    #[arg(long)]
    smoke: bool,
}

// ---------------------------------------------------------------------------------------------------------
// virtual time

struct VirtualClock {
    epoch: Instant,
    base: Millis,
}

impl Clock for VirtualClock {
    fn now_millis(&self) -> Millis {
        self.base + self.epoch.elapsed().as_millis() as Millis
    }
}

/// Log-normal with this median and p99.
fn lognormal(rng: &mut impl Rng, median_ms: f64, p99_ms: f64) -> Duration {
    let sigma = (p99_ms / median_ms).ln() / 2.326;
    // Box–Muller
    let (u1, u2): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    Duration::from_secs_f64((median_ms * (sigma * z).exp()) / 1e3)
}

/// What the whole model observed.
#[derive(Default)]
struct Observed {
    /// bid seq → when it was committed, and when its last viewer first got it.
    committed: Mutex<HashMap<u64, Instant>>,
    last_receipt: Mutex<HashMap<u64, Instant>>,
    /// viewer → the highest bid seq it has (a viewer's frames come in seq order without gaps, so a frame's
    /// seqs above it are the ones new to it: repeats, which the client drops, do not count as receipts).
    highest: Mutex<HashMap<usize, u64>>,
    /// Posts accepted by the quota, per virtual second.
    posts_per_second: Mutex<BTreeMap<u64, u64>>,
    throttled: AtomicU64,
    messages: AtomicU64,
    /// Lambda GB-ms billed, invocations, the most concurrent deliver instances.
    gb_ms: Mutex<f64>,
    invocations: AtomicU64,
    deliver_concurrency: AtomicUsize,
    deliver_most: AtomicUsize,
    rcu: Mutex<HashMap<String, BTreeMap<u64, f64>>>,
    wcu: Mutex<f64>,
    start: Mutex<Option<Instant>>,
}

impl Observed {
    fn second(&self, at: Instant) -> u64 {
        let start = self.start.lock().unwrap().unwrap_or(at);
        at.saturating_duration_since(start).as_secs()
    }
    fn rcu(&self, partition: &str, units: f64) {
        let s = self.second(Instant::now());
        *self
            .rcu
            .lock()
            .unwrap()
            .entry(partition.to_owned())
            .or_default()
            .entry(s)
            .or_default() += units;
    }
}

// ---------------------------------------------------------------------------------------------------------
// the Management API model

struct Quota {
    tokens: f64,
    at: Instant,
    rate: f64,
    burst: f64,
}

struct ModelApi {
    quota: Arc<Mutex<Quota>>,
    /// This invocation's CPU: busy until then (posts queue for it; exact throughput whatever tokio's 1 ms
    /// timer granularity).
    cpu: Mutex<Instant>,
    cpu_per_post: Duration,
    latency: (f64, f64),
    hang: f64,
    gone: Arc<Vec<bool>>,
    observed: Arc<Observed>,
    rng: Mutex<rand::rngs::StdRng>,
}

fn viewer_index(id: &ConnectionId) -> usize {
    id.as_str()
        .trim_start_matches('v')
        .trim_end_matches('=')
        .parse()
        .unwrap_or(0)
}

#[async_trait]
impl Broadcaster for ModelApi {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        let done = {
            let mut busy = self.cpu.lock().unwrap();
            *busy = (*busy).max(Instant::now()) + self.cpu_per_post;
            *busy
        };
        tokio::time::sleep_until(done).await;
        let admitted = {
            let mut q = self.quota.lock().unwrap();
            let now = Instant::now();
            let dt = now.saturating_duration_since(q.at).as_secs_f64();
            q.tokens = (q.tokens + dt * q.rate).min(q.burst);
            q.at = now;
            if q.tokens >= 1.0 {
                q.tokens -= 1.0;
                true
            } else {
                false
            }
        };
        if !admitted {
            self.observed.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(PushError::Throttled);
        }
        let (latency, hang) = {
            let mut rng = self.rng.lock().unwrap();
            (
                lognormal(&mut *rng, self.latency.0, self.latency.1),
                rng.random_bool(self.hang),
            )
        };
        let s = self.observed.second(Instant::now());
        *self
            .observed
            .posts_per_second
            .lock()
            .unwrap()
            .entry(s)
            .or_default() += 1;
        if hang {
            futures::future::pending::<()>().await;
        }
        tokio::time::sleep(latency).await;
        if self.gone[viewer_index(id)] {
            return Err(PushError::Gone);
        }
        self.observed.messages.fetch_add(1, Ordering::Relaxed);
        if let Ok(frame) = serde_json::from_slice::<Frame>(payload) {
            let now = Instant::now();
            let mut highest = self.observed.highest.lock().unwrap();
            let had = highest.entry(viewer_index(id)).or_default();
            let mut last = self.observed.last_receipt.lock().unwrap();
            for (seq, e) in frame.events() {
                if matches!(e, Event::BidPlaced(_)) && seq > *had {
                    let v = last.entry(seq).or_insert(now);
                    *v = (*v).max(now);
                }
            }
            *had = (*had).max(frame.seq);
        }
        Ok(())
    }
    async fn disconnect(&self, _: &ConnectionId) -> Result<(), PushError> {
        Ok(())
    }
    async fn probe(&self, _: &ConnectionId) -> Result<(), PushError> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// the DynamoDB model: just what the publisher reads and writes, in memory, with latency and RCU counted

#[derive(Default)]
struct StoreState {
    auction: Option<Auction>,
    bids: Vec<Bid>,
    shards: HashMap<u16, Vec<Connection>>,
}

#[derive(Clone)]
struct ModelStore {
    state: Arc<Mutex<StoreState>>,
    observed: Arc<Observed>,
}

impl ModelStore {
    async fn call(&self) {
        let d = lognormal(&mut rand::rng(), 5.0, 25.0);
        tokio::time::sleep(d).await;
    }
}

fn not_modeled<T>(what: &str) -> StoreResult<T> {
    Err(StoreError::Other(format!(
        "{what} is not part of the model"
    )))
}

#[async_trait]
impl AuctionStore for ModelStore {
    async fn create_auction(&self, a: &Auction, _: &AuctionDetails) -> StoreResult<()> {
        self.state.lock().unwrap().auction = Some(a.clone());
        Ok(())
    }
    async fn get_details(&self, _: &AuctionId) -> StoreResult<AuctionDetails> {
        not_modeled("get_details")
    }
    async fn get_auction(&self, _: &AuctionId) -> StoreResult<Option<Auction>> {
        self.call().await;
        self.observed.rcu("AUCTION", 1.0);
        Ok(self.state.lock().unwrap().auction.clone())
    }
    async fn list_active(&self, _: Millis, _: usize) -> StoreResult<Vec<Auction>> {
        not_modeled("list_active")
    }
    async fn recent_bids(&self, _: &AuctionId, _: usize) -> StoreResult<Vec<Bid>> {
        not_modeled("recent_bids")
    }
    async fn place_bid(&self, req: &BidRequest) -> StoreResult<BidOutcome> {
        self.call().await;
        let mut s = self.state.lock().unwrap();
        let decision = domain::judge_bid(s.auction.as_ref(), req);
        match decision {
            domain::BidDecision::Accept(placed) => {
                s.auction = Some(placed.auction.clone());
                s.bids.push(placed.bids[0].clone());
                *self.observed.wcu.lock().unwrap() += 4.0;
                Ok(BidOutcome::Accepted(placed))
            }
            domain::BidDecision::Committed(o) => Ok(o),
            domain::BidDecision::Reject(r) => Ok(BidOutcome::Rejected(r)),
        }
    }
    async fn due_auctions(&self, _: Millis, _: usize) -> StoreResult<Vec<AuctionId>> {
        not_modeled("due_auctions")
    }
    async fn close_auction(
        &self,
        _: &AuctionId,
        _: Millis,
        _: &Closing,
    ) -> StoreResult<CloseOutcome> {
        not_modeled("close_auction")
    }
    async fn mark_finalized(&self, _: &AuctionId) -> StoreResult<()> {
        not_modeled("mark_finalized")
    }
    async fn bids_between(&self, _: &AuctionId, from: u64, to: u64) -> StoreResult<Vec<Bid>> {
        self.call().await;
        let s = self.state.lock().unwrap();
        let bids: Vec<Bid> = s
            .bids
            .iter()
            .filter(|b| (from..=to).contains(&b.seq))
            .cloned()
            .collect();
        self.observed
            .rcu("AUCTION", (bids.len() as f64 * 0.2 / 4.0).ceil().max(1.0));
        Ok(bids)
    }
    async fn mark_published(&self, _: &AuctionId, p: Publication) -> StoreResult<()> {
        self.call().await;
        *self.observed.wcu.lock().unwrap() += 1.0;
        let mut s = self.state.lock().unwrap();
        if let Some(a) = s.auction.as_mut() {
            if a.publication.seq <= p.seq {
                a.publication = p;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl auction::ports::LimitStore for ModelStore {
    async fn take_bid_slot(
        &self,
        _: &auction::domain::UserId,
        _: Millis,
        _: auction::ports::BidRate,
    ) -> StoreResult<auction::ports::RateVerdict> {
        not_modeled("take_bid_slot")
    }
    async fn create_auction_within_quota(
        &self,
        _: &Auction,
        _: &AuctionDetails,
        _: usize,
    ) -> StoreResult<auction::ports::Creation> {
        not_modeled("create_auction_within_quota")
    }
    async fn release_seller_slot(
        &self,
        _: &auction::domain::UserId,
        _: &AuctionId,
    ) -> StoreResult<()> {
        not_modeled("release_seller_slot")
    }
    async fn list_active_page(
        &self,
        _: Millis,
        _: usize,
        _: Option<&auction::ports::ListCursor>,
    ) -> StoreResult<auction::ports::ActivePage> {
        not_modeled("list_active_page")
    }
    async fn schedule_purge(&self, _: &AuctionId, _: Millis) -> StoreResult<()> {
        not_modeled("schedule_purge")
    }
    async fn purge_due(&self, _: Millis, _: usize) -> StoreResult<Vec<AuctionId>> {
        not_modeled("purge_due")
    }
}

#[async_trait]
impl ConnectionStore for ModelStore {
    async fn add_connection(&self, c: &Connection, _: usize) -> StoreResult<Admission> {
        self.state
            .lock()
            .unwrap()
            .shards
            .entry(c.shard)
            .or_default()
            .push(c.clone());
        Ok(Admission::Added)
    }
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        self.call().await;
        *self.observed.wcu.lock().unwrap() += 3.0;
        let mut s = self.state.lock().unwrap();
        for list in s.shards.values_mut() {
            if let Some(i) = list.iter().position(|c| &c.connection_id == id) {
                return Ok(Some(list.swap_remove(i)));
            }
        }
        Ok(None)
    }
    async fn get_connection(&self, _: &ConnectionId) -> StoreResult<Option<Connection>> {
        not_modeled("get_connection")
    }
    async fn connections_in_shards(
        &self,
        _: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>> {
        let mut out = Vec::new();
        for shard in shards {
            let conns = self
                .state
                .lock()
                .unwrap()
                .shards
                .get(shard)
                .cloned()
                .unwrap_or_default();
            // One Query per shard partition, a page per MB: ~150 B per record, consistent (4 KB per RCU).
            let pages = (conns.len() as f64 * 150.0 / 1_048_576.0).ceil().max(1.0) as usize;
            for _ in 0..pages {
                self.call().await;
            }
            self.observed.rcu(
                &format!("VIEWERS#{shard}"),
                (conns.len() as f64 * 150.0 / 4096.0).ceil().max(1.0),
            );
            out.extend(conns);
        }
        Ok(out)
    }
    async fn record_sync(&self, _: &ConnectionId, _: Millis) -> StoreResult<SyncVerdict> {
        not_modeled("record_sync")
    }
    async fn record_strike(&self, _: &ConnectionId) -> StoreResult<u32> {
        not_modeled("record_strike")
    }
}

// ---------------------------------------------------------------------------------------------------------
// the Lambda model: deliver instances with cold starts, each an App with its own CPU

struct Parts {
    store: ModelStore,
    quota: Arc<Mutex<Quota>>,
    gone: Arc<Vec<bool>>,
    observed: Arc<Observed>,
    clock: Arc<VirtualClock>,
    settings: Settings,
    cli: Cli,
}

fn cpu_per_post(cli: &Cli, mb: u32) -> Duration {
    let vcpu = (f64::from(mb) / 1_769.0).min(6.0);
    Duration::from_secs_f64(cli.cpu_us_per_post / 1e6 / vcpu.max(0.05))
}

fn app(parts: &Parts, mb: u32, seed: u64) -> App<ModelStore, ModelApi> {
    let api = ModelApi {
        quota: parts.quota.clone(),
        cpu: Mutex::new(Instant::now()),
        cpu_per_post: cpu_per_post(&parts.cli, mb),
        latency: (parts.cli.post_median_ms, parts.cli.post_p99_ms),
        hang: parts.cli.hang_pct / 100.0,
        gone: parts.gone.clone(),
        observed: parts.observed.clone(),
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)),
    };
    let verifier = TokenVerifier::new(&SecretString::from("x".repeat(32))).expect("verifier");
    App::new(
        parts.store.clone(),
        api,
        verifier,
        parts.clock.clone(),
        parts.settings.clone(),
    )
}

struct ModelLambda {
    parts: Arc<Parts>,
    idle: Mutex<Vec<Arc<App<ModelStore, ModelApi>>>>,
    created: AtomicUsize,
    /// Environments that may exist by now (the scale-up rate).
    scale_start: Instant,
}

#[async_trait]
impl SliceDelivery for ModelLambda {
    async fn deliver(&self, job: &SliceJob) -> Result<FanoutReport, SliceError> {
        let o = &self.parts.observed;
        let invoke = lognormal(&mut rand::rng(), 15.0, 60.0);
        tokio::time::sleep(invoke).await;
        let warm = self.idle.lock().unwrap().pop();
        let instance = match warm {
            Some(a) => a,
            None => {
                // +1,000 environments per 10 s.
                let allowed = 1_000 * (1 + self.scale_start.elapsed().as_secs() as usize / 10);
                while self.created.load(Ordering::SeqCst) >= allowed {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let n = self.created.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(self.parts.cli.cold_start_ms)).await;
                Arc::new(app(
                    &self.parts,
                    self.parts.cli.deliver_mb,
                    1_000 + n as u64,
                ))
            }
        };
        let now_busy = o.deliver_concurrency.fetch_add(1, Ordering::SeqCst) + 1;
        o.deliver_most.fetch_max(now_busy, Ordering::SeqCst);
        let started = Instant::now();
        let r = instance.deliver_slice(job).await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        *o.gb_ms.lock().unwrap() += ms * f64::from(self.parts.cli.deliver_mb) / 1024.0;
        o.invocations.fetch_add(1, Ordering::Relaxed);
        o.deliver_concurrency.fetch_sub(1, Ordering::SeqCst);
        self.idle.lock().unwrap().push(instance);
        r.map_err(|e| SliceError(e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------------------
// one scenario

#[derive(Debug, Clone, Default)]
struct Outcome {
    viewers: usize,
    rate: f64,
    bids: usize,
    delivered: usize,
    p50_s: f64,
    p99_s: f64,
    floor_s: f64,
    max_posts_s: u64,
    seconds_over_share: usize,
    throttled: u64,
    deliver_most: usize,
    publish_invocations: u64,
    max_rcu_partition: f64,
    cost_per_million_bids: f64,
    cost_per_1000_viewer_hours: f64,
}

async fn scenario(cli: &Cli, viewers: usize, rate: f64, seconds: u64) -> Outcome {
    let observed = Arc::new(Observed::default());
    let clock = Arc::new(VirtualClock {
        epoch: Instant::now(),
        base: 1_800_000_000_000,
    });
    let settings = Settings {
        publish_window: Duration::from_millis(cli.window_ms),
        publish_posts_per_second: cli.share,
        slice_viewers: cli.slice_viewers,
        viewer_shards: cli.shards,
        call_timeout: Duration::from_millis(cli.call_timeout_ms),
        ..Settings::default()
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(viewers as u64 * 31 + rate as u64);
    let gone: Vec<bool> = (0..viewers)
        .map(|_| rng.random_bool(cli.gone_pct / 100.0))
        .collect();
    let store = ModelStore {
        state: Arc::new(Mutex::new(StoreState::default())),
        observed: observed.clone(),
    };
    let seller = Principal {
        user_id: UserId::parse("seller").expect("id"),
        name: "Seller".into(),
        role: Role::Seller,
    };
    let now = clock.now_millis();
    let id = AuctionId::parse("SCALE").expect("id");
    let mut auction = domain::new_auction(
        id.clone(),
        &seller,
        AuctionDraft {
            viewer_shards: cli.shards,
            title: "Model".into(),
            starting_price: Money::new(100).expect("money"),
            increments: auction::domain::Ladder::fixed(Money::new(1).expect("money")),
            soft_close_ms: 0,
            reserve_price: None,
            starts_at: 0,
            ends_at: now + 3_600_000,
        },
        now,
    );
    // As after a first delivery counted the audience (the periodic status does on AWS).
    auction.publication.audience = viewers as u64;
    store
        .create_auction(&auction, &AuctionDetails::default())
        .await
        .expect("create");
    for i in 0..viewers {
        let cid = ConnectionId::parse(&format!("v{i}=")).expect("id");
        let c = Connection {
            shard: domain::viewer_shard(&cid, cli.shards),
            connection_id: cid,
            auction_id: id.clone(),
            user_id: UserId::parse(&format!("u{i}")).expect("id"),
            connected_at: now,
            expires_at: now / 1000 + 7_200,
        };
        store.add_connection(&c, 3).await.expect("add");
    }
    let quota = Arc::new(Mutex::new(Quota {
        tokens: f64::from(cli.burst),
        at: Instant::now(),
        rate: f64::from(cli.quota),
        burst: f64::from(cli.burst),
    }));
    let parts = Arc::new(Parts {
        store: store.clone(),
        quota,
        gone: Arc::new(gone),
        observed: observed.clone(),
        clock: clock.clone(),
        settings,
        cli: cli.clone(),
    });
    let lambda = Arc::new(ModelLambda {
        parts: parts.clone(),
        idle: Mutex::new(Vec::new()),
        created: AtomicUsize::new(0),
        scale_start: Instant::now(),
    });
    let publisher = Arc::new(app(&parts, cli.publish_mb, 7).with_remote_slices(lambda.clone()));
    *observed.start.lock().unwrap() = Some(Instant::now());

    // The FIFO group of this auction: jobs, handed to one publish invocation at a time after the SQS hop.
    let queue: Arc<Mutex<VecDeque<PublishJob>>> = Arc::new(Mutex::new(VecDeque::new()));
    let wake = Arc::new(tokio::sync::Notify::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let consumer = {
        let (queue, wake, stop, publisher, observed) = (
            queue.clone(),
            wake.clone(),
            stop.clone(),
            publisher.clone(),
            observed.clone(),
        );
        let publish_mb = cli.publish_mb;
        tokio::spawn(async move {
            loop {
                let batch: Vec<PublishJob> = {
                    let mut q = queue.lock().unwrap();
                    let n = q.len().min(10);
                    q.drain(..n).collect()
                };
                if batch.is_empty() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    wake.notified().await;
                    continue;
                }
                let hop = lognormal(&mut rand::rng(), 100.0, 300.0);
                tokio::time::sleep(hop).await;
                let job = batch.iter().max_by_key(|j| j.seq).cloned().expect("a job");
                let started = Instant::now();
                if std::env::var("SCALE_DEBUG").is_ok() {
                    eprintln!(
                        "publish job seq {} at {:?}",
                        job.seq,
                        observed
                            .start
                            .lock()
                            .unwrap()
                            .map(|s| started.duration_since(s))
                    );
                }
                if publisher.publish(&job).await.is_err() {
                    queue.lock().unwrap().push_front(job);
                }
                let ms = started.elapsed().as_secs_f64() * 1e3;
                *observed.gb_ms.lock().unwrap() += ms * f64::from(publish_mb) / 1024.0;
                observed.invocations.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    // Bidders: `rate` bids per second for `seconds`, committed then handed off (what place-bid does).
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * seconds as f64) as usize;
    let started = Instant::now();
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let req = BidRequest {
            kind: auction::domain::BidKind::Plain,
            auction_id: id.clone(),
            bidder_id: UserId::parse(&format!("b{}", i % 2)).expect("id"),
            bidder_name: format!("Bidder {}", i % 2),
            amount: Money::new(100 + i as i64).expect("money"),
            now: clock.now_millis(),
            bid_id: format!("bid-{i}"),
            idempotency_key: None,
        };
        if let Ok(BidOutcome::Accepted(p)) = store.place_bid(&req).await {
            observed
                .committed
                .lock()
                .unwrap()
                .insert(p.seq(), Instant::now());
            queue
                .lock()
                .unwrap()
                .push_back(PublishJob::changed(&id, p.seq(), clock.now_millis()));
            wake.notify_one();
        }
    }
    // Let the last deliveries finish (bounded).
    let drain_until = Instant::now() + Duration::from_secs(300);
    loop {
        let done = {
            let a = store.state.lock().unwrap().auction.clone();
            a.is_some_and(|a| a.publication.seq >= a.seq)
        };
        if (done && queue.lock().unwrap().is_empty()) || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    wake.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(60), consumer).await;

    let committed = observed.committed.lock().unwrap().clone();
    let last = observed.last_receipt.lock().unwrap().clone();
    let mut lat: Vec<f64> = committed
        .iter()
        .filter_map(|(seq, at)| {
            last.get(seq)
                .map(|l| l.saturating_duration_since(*at).as_secs_f64())
        })
        .collect();
    let pps = observed.posts_per_second.lock().unwrap().clone();
    let max_posts_s = pps.values().copied().max().unwrap_or(0);
    let seconds_over_share = pps.values().filter(|n| **n > u64::from(cli.share)).count();
    let max_rcu_partition = observed
        .rcu
        .lock()
        .unwrap()
        .values()
        .flat_map(|m| m.values().copied())
        .fold(0.0, f64::max);
    // Cost (us-east-1 list prices): API Gateway WebSocket $1.00 per million messages and $0.25 per million
    // connection-minutes; Lambda arm64 $0.0000133334 per GB-s and $0.20 per million requests; DynamoDB on
    // demand $0.625 per million write units and $0.125 per million read units; SQS FIFO $0.50 per million
    // requests (send, receive, delete: 3 per bid).
    let messages = observed.messages.load(Ordering::Relaxed) as f64;
    let gb_s = *observed.gb_ms.lock().unwrap() / 1e3;
    let invocations = observed.invocations.load(Ordering::Relaxed) as f64;
    let rcu_total: f64 = observed
        .rcu
        .lock()
        .unwrap()
        .values()
        .flat_map(|m| m.values().copied())
        .sum();
    let wcu_total = *observed.wcu.lock().unwrap();
    let bids = committed.len() as f64;
    let cost = messages * 1.0 / 1e6
        + gb_s * 0.000_013_333_4
        + (invocations + bids) * 0.2 / 1e6
        + wcu_total * 0.625 / 1e6
        + rcu_total * 0.125 / 1e6
        + bids * 3.0 * 0.5 / 1e6;
    let run_s = started.elapsed().as_secs_f64().max(1.0);
    let viewer_hours = viewers as f64 * run_s / 3_600.0;
    let connection_cost = viewers as f64 * run_s / 60.0 * 0.25 / 1e6;
    let floor_s = viewers as f64 / f64::from(cli.share);
    Outcome {
        viewers,
        rate,
        bids: committed.len(),
        delivered: lat.len(),
        p50_s: percentile(&mut lat, 50.0).unwrap_or(0.0),
        p99_s: percentile(&mut lat, 99.0).unwrap_or(0.0),
        floor_s,
        max_posts_s,
        seconds_over_share,
        throttled: observed.throttled.load(Ordering::Relaxed),
        deliver_most: observed.deliver_most.load(Ordering::SeqCst),
        publish_invocations: observed.invocations.load(Ordering::Relaxed),
        max_rcu_partition,
        cost_per_million_bids: if bids > 0.0 {
            (cost + connection_cost) / bids * 1e6
        } else {
            0.0
        },
        cost_per_1000_viewer_hours: (cost + connection_cost) / viewer_hours.max(1e-9) * 1_000.0,
    }
}

fn list<T: std::str::FromStr>(s: &str) -> Vec<T> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let wall = std::time::Instant::now();
    let (viewers, rates, seconds): (Vec<usize>, Vec<f64>, u64) = if cli.smoke {
        (vec![1_000], vec![5.0], 10)
    } else {
        (list(&cli.viewers), list(&cli.rates), cli.seconds)
    };
    let mut rows = Vec::new();
    for &v in &viewers {
        for &r in &rates {
            let o = rt.block_on(scenario(&cli, v, r, seconds));
            eprintln!(
                "  V={v} {r}/s: p50 {:.2} s p99 {:.2} s (floor {:.2} s), max {} posts/s, {} s over the share, {} × 429, {} deliver instances",
                o.p50_s, o.p99_s, o.floor_s, o.max_posts_s, o.seconds_over_share, o.throttled, o.deliver_most
            );
            rows.push(o);
        }
    }
    // Sensitivity: one change at a time against the defaults, at 1,000 and 10,000 viewers and 5 bids/s.
    let mut variants = Vec::new();
    if !cli.smoke {
        let base = |f: &dyn Fn(&mut Cli)| {
            let mut c = cli.clone();
            f(&mut c);
            c
        };
        let cases: Vec<(&str, Cli)> = vec![
            (
                "the whole quota as the share (`--share 10000`)",
                base(&|c| c.share = 10_000),
            ),
            (
                "no coalescing window (`--window-ms 0`)",
                base(&|c| c.window_ms = 0),
            ),
            (
                "a shorter first call timeout (`--call-timeout-ms 150`)",
                base(&|c| c.call_timeout_ms = 150),
            ),
            (
                "3× the measured CPU per post (`--cpu-us-per-post 200`)",
                base(&|c| c.cpu_us_per_post = 200.0),
            ),
            (
                "publish at 256 MB, deliver at 128 MB",
                base(&|c| {
                    c.publish_mb = 256;
                    c.deliver_mb = 128;
                }),
            ),
            ("64 shards (`--shards 64`)", base(&|c| c.shards = 64)),
        ];
        for &v in &[1_000usize, 10_000] {
            for (label, c) in &cases {
                let o = rt.block_on(scenario(c, v, 5.0, seconds.min(60)));
                eprintln!(
                    "  variant {label} V={v}: p50 {:.2} s p99 {:.2} s",
                    o.p50_s, o.p99_s
                );
                variants.push((*label, o));
            }
        }
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Scale model: the real publisher in virtual time (`bench-scale`)\n"
    );
    let _ = writeln!(
        md,
        "- Command: `{}` ({:.0} s of wall time for the whole sweep).",
        auction_bench::machine::command_line(),
        wall.elapsed().as_secs_f64()
    );
    let _ = writeln!(md, "- Model: quota {} posts/s (burst {}), share `PUBLISH_POSTS_PER_SECOND={}`, window {} ms, `FANOUT_CALL_TIMEOUT_MS={}`, {} shards, {} viewers per slice; post latency log-normal 20 ms median / 100 ms p99, 2 % of viewers gone (410), 1 % of posts never answered; {:.0} µs of CPU per post at 1 vCPU (publish {} MB, deliver {} MB; 1,769 MB = 1 vCPU); Invoke 15 ms median, cold start {} ms, +1,000 environments per 10 s; SQS FIFO hop 100 ms median; DynamoDB calls 5 ms median. {} virtual seconds of bidding per row.", cli.quota, cli.burst, cli.share, cli.window_ms, cli.call_timeout_ms, cli.shards, cli.slice_viewers, cli.cpu_us_per_post, cli.publish_mb, cli.deliver_mb, cli.cold_start_ms, seconds);
    let _ = writeln!(md, "\n| Viewers | bids/s | bids reaching every viewer / placed | delivered to all p50 (s) | p99 (s) | floor V ÷ share (s) | p99 ÷ floor | highest posts in 1 s | seconds over the share | 429s | most deliver instances | publish invocations | most RCU/s on one partition | cost per 1M bids ($) | cost per 1,000 viewer-hours ($) |");
    let _ = writeln!(
        md,
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for o in &rows {
        let _ = writeln!(md, "| {} | {} | {} / {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {:.0} | {:.2} | {:.3} |", o.viewers, o.rate, o.delivered, o.bids, o.p50_s, o.p99_s, o.floor_s, o.p99_s / o.floor_s.max(1e-9), o.max_posts_s, o.seconds_over_share, o.throttled, o.deliver_most, o.publish_invocations, o.max_rcu_partition, o.cost_per_million_bids, o.cost_per_1000_viewer_hours);
    }
    if !variants.is_empty() {
        let _ = writeln!(
            md,
            "\n### One change at a time (5 bids/s, 60 virtual seconds)\n"
        );
        let _ = writeln!(md, "| Change | Viewers | delivered to all p50 (s) | p99 (s) | highest posts in 1 s | seconds over the share | cost per 1M bids ($) | cost per 1,000 viewer-hours ($) |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
        for (label, o) in &variants {
            let _ = writeln!(
                md,
                "| {label} | {} | {:.2} | {:.2} | {} | {} | {:.2} | {:.3} |",
                o.viewers,
                o.p50_s,
                o.p99_s,
                o.max_posts_s,
                o.seconds_over_share,
                o.cost_per_million_bids,
                o.cost_per_1000_viewer_hours
            );
        }
    }
    let _ = writeln!(md, "\n- **Delivered to all**: a bid's commit → the moment the model's Management API answered the post that first carried it to its last live viewer (a later repeat to a viewer that had it is not a receipt).");
    let _ = writeln!(md, "- **Floor**: one post per viewer at the share takes V ÷ share, so no bid can reach all V viewers sooner. A pass that takes longer than the window grows its frame with the bids committed meanwhile (README, *Publishing*), so a bid waits at most about one pass wherever it lands; without that it would wait for the pass under way and then its own (up to 2 × the floor).");
    let _ = writeln!(md, "- **Seconds over the share**: 1 s windows in which more posts than the share were made (retries count).");
    let _ = writeln!(md, "- **Cost** (us-east-1 list prices, everything the run did): API Gateway $1.00 per million messages (every post made) and $0.25 per million connection-minutes; Lambda arm64 $0.0000133334 per GB-s (both functions, billed duration) and $0.20 per million requests (invocations and the bids' own); DynamoDB on demand $0.625 per million WCU and $0.125 per million RCU (the publisher's reads and writes, the bids' commits); SQS FIFO $0.50 per million requests (3 per bid). Per 1M bids divides the total by the bids; per 1,000 viewer-hours divides it by the viewer-hours of the run. At a low bid rate each bid pays for one post to every viewer; faster bids share posts through the window.");
    if let Some(path) = report_path(cli.out.clone(), cli.smoke, "bench/results/scale.md") {
        auction_bench::report::write(&path, &md).expect("write report");
        eprintln!("bench-scale: wrote {}", path.display());
    } else {
        println!("{md}");
    }
}
