//! `bench-fanout`: one bid frame broadcast to N viewers through the PRODUCTION fan-out path
//! (`auction::fanout::publish` with `ApiGatewayBroadcaster` and a real `ConnectionStore`), against an emulated
//! API Gateway Management API on 127.0.0.1 with API Gateway's published limits (see
//! `auction_bench::mgmt_target`). Also the naive one-at-a-time loop as a baseline.
//!
//! `--help` lists the flags. `--smoke` is a tiny run (N=200, 1 run, no baseline, no report file) for CI.

use async_trait::async_trait;
use auction::broadcast::apigw::ApiGatewayBroadcaster;
use auction::config::Settings;
use auction::domain::{
    new_auction, AuctionDraft, AuctionId, BidOutcome, BidRequest, Connection, ConnectionId, Money,
    Principal, Role, UserId,
};
use auction::fanout::{Fanout, FanoutReport};
use auction::frames::Frame;
use auction::ports::{AuctionStore, Broadcaster, ConnectionStore, PushError};
use auction::store::sqlite::SqliteStore;
use auction_bench::cli::{num, report_path};
use auction_bench::machine;
use auction_bench::mgmt_target::{Snapshot, Target, TargetConfig};
use auction_bench::stats::{percentile, Summary};
use clap::{ArgAction, Parser};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// bench-fanout: broadcast one bid frame to N connections through the production fan-out path against an
/// emulated API Gateway Management API on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(name = "bench-fanout", args_override_self = true)]
struct Cli {
    /// Connection counts, comma-separated
    #[arg(long = "n", value_name = "LIST", value_delimiter = ',', value_parser = num::<usize>,
          action = ArgAction::Set, default_value = "1000,10000")]
    n: Vec<usize>,
    /// Repetitions per configuration
    #[arg(long, value_name = "R", value_parser = num::<usize>, default_value_t = 5)]
    runs: usize,
    /// FANOUT_CONCURRENCY [default: Settings::default()]
    #[arg(long, value_name = "C", value_parser = num::<usize>)]
    concurrency: Option<usize>,
    /// FANOUT_CALL_TIMEOUT_MS [default: Settings::default()]
    #[arg(long, value_name = "T", value_parser = num::<u64>)]
    timeout_ms: Option<u64>,
    /// FANOUT_BACKOFF_MS [default: Settings::default()]
    #[arg(long, value_name = "B", value_parser = num::<u64>)]
    backoff_ms: Option<u64>,
    /// FANOUT_MAX_ATTEMPTS [default: Settings::default()]
    #[arg(long, value_name = "A", value_parser = num::<u32>)]
    attempts: Option<u32>,
    /// Injected latency median [default: 20]
    #[arg(long, value_name = "M", value_parser = num::<f64>)]
    latency_median_ms: Option<f64>,
    /// Injected latency p99, log-normal [default: 100]
    #[arg(long, value_name = "P", value_parser = num::<f64>)]
    latency_p99_ms: Option<f64>,
    /// Share of connection ids answering 410 [default: 0.02]
    #[arg(long, value_name = "S", value_parser = num::<f64>)]
    gone_share: Option<f64>,
    /// Share of calls never answered [default: 0.01]
    #[arg(long, value_name = "S", value_parser = num::<f64>)]
    hang_share: Option<f64>,
    /// Token bucket rate, requests per second [default: 10000]
    #[arg(long, value_name = "R", value_parser = num::<f64>)]
    rate: Option<f64>,
    /// Token bucket burst [default: 5000]
    #[arg(long, value_name = "B", value_parser = num::<f64>)]
    burst: Option<f64>,
    /// Skip the extra N=max run with --hang-share 0
    #[arg(long)]
    no_hang_variant: bool,
    /// Skip the naive baseline
    #[arg(long)]
    no_naive: bool,
    /// Naive baseline size
    #[arg(long, value_name = "N", value_parser = num::<usize>, default_value_t = 1_000)]
    naive_n: usize,
    /// Wall-clock cap of one naive run, seconds
    #[arg(long, value_name = "S", value_parser = num::<f64>, default_value_t = 60.0)]
    naive_cap_s: f64,
    /// Naive repetitions [default: --runs]
    #[arg(long, value_name = "R", value_parser = num::<usize>)]
    naive_runs: Option<usize>,
    /// Also run N=max at each concurrency (tuning evidence), comma-separated
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = num::<usize>,
          action = ArgAction::Set)]
    sweep_concurrency: Vec<usize>,
    /// ... and at each call timeout, comma-separated
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = num::<u64>,
          action = ArgAction::Set)]
    sweep_timeout_ms: Vec<u64>,
    /// Repetitions per sweep point
    #[arg(long, value_name = "R", value_parser = num::<usize>, default_value_t = 3)]
    sweep_runs: usize,
    /// Write the markdown report here [default: bench/results/fanout.md; --smoke: none]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// N=200, 1 run, no baseline, no variant, no sweep, no report file
    #[arg(long)]
    smoke: bool,
}

#[derive(Debug, Clone)]
struct Args {
    ns: Vec<usize>,
    runs: usize,
    settings: Settings,
    target: TargetConfig,
    hang_variant: bool,
    naive: bool,
    naive_n: usize,
    naive_cap: Duration,
    naive_runs: Option<usize>,
    sweep_concurrency: Vec<usize>,
    sweep_timeout_ms: Vec<u64>,
    sweep_runs: usize,
    out: Option<PathBuf>,
    smoke: bool,
}

fn parse_args() -> Args {
    let c = Cli::parse();
    let mut a = Args {
        ns: c.n,
        runs: c.runs,
        settings: Settings::default(),
        target: TargetConfig::default(),
        hang_variant: !c.no_hang_variant,
        naive: !c.no_naive,
        naive_n: c.naive_n,
        naive_cap: Duration::from_secs_f64(c.naive_cap_s),
        naive_runs: c.naive_runs,
        sweep_concurrency: c.sweep_concurrency,
        sweep_timeout_ms: c.sweep_timeout_ms,
        sweep_runs: c.sweep_runs,
        out: report_path(
            c.out,
            c.smoke,
            concat!(env!("CARGO_MANIFEST_DIR"), "/results/fanout.md"),
        ),
        smoke: c.smoke,
    };
    let (s, t) = (&mut a.settings, &mut a.target);
    if let Some(v) = c.concurrency {
        s.fanout_concurrency = v;
    }
    if let Some(v) = c.timeout_ms {
        s.call_timeout = Duration::from_millis(v);
    }
    if let Some(v) = c.backoff_ms {
        s.fanout_backoff = Duration::from_millis(v);
    }
    if let Some(v) = c.attempts {
        s.fanout_max_attempts = v;
    }
    if let Some(v) = c.latency_median_ms {
        t.latency_median = Duration::from_secs_f64(v / 1e3);
    }
    if let Some(v) = c.latency_p99_ms {
        t.latency_p99 = Duration::from_secs_f64(v / 1e3);
    }
    t.gone_share = c.gone_share.unwrap_or(t.gone_share);
    t.hang_share = c.hang_share.unwrap_or(t.hang_share);
    t.rate_per_sec = c.rate.unwrap_or(t.rate_per_sec);
    t.burst = c.burst.unwrap_or(t.burst);
    if a.smoke {
        a.ns = vec![200];
        a.runs = 1;
        a.naive = false;
        a.hang_variant = false;
        a.sweep_concurrency.clear();
        a.sweep_timeout_ms.clear();
    }
    a.runs = a.runs.max(1);
    a.ns.retain(|n| *n > 0);
    if a.ns.is_empty() {
        a.ns = vec![1_000];
    }
    a
}

// ---------------------------------------------------------------------------------------------------------
// A wrapper Broadcaster that measures every call on the client side, including calls the fan-out cancels
// at its per-call timeout (measured when the call's future is dropped).

#[derive(Default)]
struct CallTimes {
    max_us: AtomicU64,
    calls: AtomicU64,
    over_1s: AtomicU64,
    samples_us: Mutex<Vec<u32>>,
}

struct Timed<B> {
    inner: B,
    times: CallTimes,
}

struct CallGuard<'a> {
    start: Instant,
    times: &'a CallTimes,
}

impl Drop for CallGuard<'_> {
    fn drop(&mut self) {
        let us = self.start.elapsed().as_micros() as u64;
        self.times.max_us.fetch_max(us, Ordering::Relaxed);
        self.times.calls.fetch_add(1, Ordering::Relaxed);
        if us > 1_000_000 {
            self.times.over_1s.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut v) = self.times.samples_us.lock() {
            v.push(us.min(u32::MAX as u64) as u32);
        }
    }
}

#[async_trait]
impl<B: Broadcaster> Broadcaster for Timed<B> {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        let _guard = CallGuard {
            start: Instant::now(),
            times: &self.times,
        };
        self.inner.post(id, payload).await
    }
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        let _guard = CallGuard {
            start: Instant::now(),
            times: &self.times,
        };
        self.inner.disconnect(id).await
    }
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.inner.probe(id).await
    }
}

// ---------------------------------------------------------------------------------------------------------

/// One measured broadcast.
#[derive(Debug, Clone, Default)]
struct RunResult {
    elapsed_s: f64,
    /// Live (not 410) connection ids with no delivery at all when `publish` returned.
    lost: u64,
    /// Live ids delivered more than once (a retry after a call that was slow but did deliver).
    duplicated: u64,
    /// Connection records removed from the store (410s).
    removed: u64,
    report: FanoutReport,
    target: Snapshot,
    longest_call_ms: f64,
    p99_call_ms: f64,
    calls_over_1s: u64,
    capped: bool,
}

fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("bench", "bench", None, None, "bench"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

/// A realistic combined bid frame (`bid.placed` + `auction.status`), produced by the real store and frame code.
async fn bid_frame() -> Frame {
    let store = SqliteStore::in_memory().expect("in-memory store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let seller = Principal {
        user_id: UserId::parse("u-sam-seller").expect("id"),
        name: "Sam Seller".into(),
        role: Role::Seller,
    };
    let auction_id = AuctionId::parse(&ulid::Ulid::generate().to_string()).expect("id");
    let draft = AuctionDraft {
        viewer_shards: 4,
        title: "Vintage Leica M3".into(),
        starting_price: Money::new(10_000).expect("money"),
        increments: auction::domain::Ladder::fixed(Money::new(100).expect("money")),
        soft_close_ms: 0,
        reserve_price: None,
        starts_at: 0,
        ends_at: now + 300_000,
    };
    store
        .create_auction(
            &new_auction(auction_id.clone(), &seller, draft, now),
            &auction::domain::AuctionDetails {
                description: "Double-stroke, 1955, with Summicron 50 mm f/2".into(),
            },
        )
        .await
        .expect("create");
    let req = BidRequest {
        kind: auction::domain::BidKind::Plain,
        auction_id,
        bidder_id: UserId::parse("u-ada-lovelace").expect("id"),
        bidder_name: "Ada Lovelace".into(),
        amount: Money::new(12_500).expect("money"),
        now,
        bid_id: ulid::Ulid::generate().to_string(),
        idempotency_key: None,
    };
    match store.place_bid(&req).await.expect("bid") {
        BidOutcome::Accepted(placed) => {
            Frame::delivery(&placed.auction, placed.seq(), &placed.bids)
        }
        other => panic!("bid not accepted: {other:?}"),
    }
}

/// A fresh in-memory store holding `n` viewer connections of one auction; returns them as the handler would
/// list them (`connections_for_auction`).
async fn viewers(n: usize) -> (SqliteStore, AuctionId, Vec<Connection>) {
    let store = SqliteStore::in_memory().expect("in-memory store");
    let auction_id = AuctionId::parse(&ulid::Ulid::generate().to_string()).expect("id");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    for i in 0..n {
        let c = Connection {
            connection_id: ConnectionId::parse(&format!("bench{i:06}AA=")).expect("id"),
            auction_id: auction_id.clone(),
            user_id: UserId::parse(&format!("u-viewer-{i}")).expect("id"),
            connected_at: now,
            expires_at: now / 1000 + 7_800,
            shard: 0,
        };
        store.add_connection(&c, 1).await.expect("add connection");
    }
    let conns = store
        .connections_for_auction(&auction_id, 1)
        .await
        .expect("list");
    assert_eq!(conns.len(), n);
    (store, auction_id, conns)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Production,
    /// The naive loop, capped at this wall-clock time.
    Naive(Duration),
}

async fn run_once(
    mode: Mode,
    n: usize,
    settings: &Settings,
    tcfg: &TargetConfig,
    frame: &Frame,
) -> RunResult {
    let (store, auction_id, conns) = viewers(n).await;
    let target = Target::start(tcfg.clone()).await.expect("target starts");
    // The naive loop has no timeout of its own: the SDK's is its only one, at `call_timeout`.
    let ceiling = match mode {
        Mode::Production => settings.longest_call(),
        Mode::Naive(_) => settings.call_timeout,
    };
    // One fan-out in the process, as in one Lambda invocation: its own call slots.
    let fanout = Fanout::new(
        store.clone(),
        Timed {
            inner: ApiGatewayBroadcaster::new(&sdk_config(), &target.url, ceiling),
            times: CallTimes::default(),
        },
        settings,
    );
    let broadcaster = fanout.broadcaster();
    // Like the Lambda's cold start: one connection opened during init, not on the first bid.
    broadcaster.inner.warm_up().await;
    let payload = frame.to_bytes().expect("frame encodes");
    let before = target.counters.snapshot();
    let t0 = Instant::now();
    let (report, capped) = match mode {
        Mode::Production => (fanout.publish(&conns, frame).await, false),
        Mode::Naive(cap) => {
            // What a straightforward handler does: one post after the other, no retries, no 410 handling.
            let mut report = FanoutReport {
                targets: n,
                ..Default::default()
            };
            let naive = async {
                for c in &conns {
                    match broadcaster.post(&c.connection_id, &payload).await {
                        Ok(()) => report.delivered += 1,
                        Err(PushError::Gone) => report.gone += 1,
                        Err(_) => report.failed += 1,
                    }
                }
            };
            let capped = tokio::time::timeout(cap, naive).await.is_err();
            (report, capped)
        }
    };
    let elapsed_s = t0.elapsed().as_secs_f64();
    let target_counts = target.counters.snapshot() - before;
    let deliveries = target.counters.deliveries();
    target.shutdown().await;
    let (mut lost, mut duplicated) = (0, 0);
    for c in &conns {
        let id = c.connection_id.as_str();
        if tcfg.is_gone(id) {
            continue;
        }
        match deliveries.get(id).copied().unwrap_or(0) {
            0 => lost += 1,
            1 => {}
            _ => duplicated += 1,
        }
    }
    let remaining = store
        .connections_for_auction(&auction_id, 1)
        .await
        .expect("list")
        .len();
    let times = &broadcaster.times;
    let mut samples: Vec<f64> = times
        .samples_us
        .lock()
        .map(|v| v.iter().map(|us| *us as f64 / 1e3).collect())
        .unwrap_or_default();
    RunResult {
        elapsed_s,
        lost,
        duplicated,
        removed: (n - remaining) as u64,
        report,
        target: target_counts,
        longest_call_ms: times.max_us.load(Ordering::Relaxed) as f64 / 1e3,
        p99_call_ms: percentile(&mut samples, 99.0).unwrap_or(0.0),
        calls_over_1s: times.over_1s.load(Ordering::Relaxed),
        capped,
    }
}

/// One configuration repeated `runs` times.
struct Row {
    label: String,
    n: usize,
    settings: Settings,
    tcfg: TargetConfig,
    results: Vec<RunResult>,
}

fn summary(rs: &[RunResult], f: impl Fn(&RunResult) -> f64) -> Summary {
    let v: Vec<f64> = rs.iter().map(f).collect();
    Summary::of(&v).unwrap_or(Summary {
        median: 0.0,
        min: 0.0,
        max: 0.0,
        runs: 0,
    })
}

fn quota_floor_s(n: usize, t: &TargetConfig) -> f64 {
    (n as f64 - t.burst).max(0.0) / t.rate_per_sec
}

/// `3` when min = max, else `3 (2–4)`.
fn show_int(s: Summary) -> String {
    if s.min == s.max {
        format!("{:.0}", s.median)
    } else {
        s.show(0)
    }
}

async fn measure(
    label: &str,
    mode: Mode,
    n: usize,
    runs: usize,
    settings: &Settings,
    tcfg: &TargetConfig,
    frame: &Frame,
) -> Row {
    let mut results = Vec::new();
    for run in 1..=runs {
        let r = run_once(mode, n, settings, tcfg, frame).await;
        eprintln!(
            "  {label} N={n} run {run}/{runs}: {:.3} s, lost {}, dup {}, 410 removed {}, 429 {}, retries {}, conns {}, hung {}, longest call {:.0} ms{}",
            r.elapsed_s,
            r.lost,
            r.duplicated,
            r.removed,
            r.target.throttled_429,
            r.report.retries,
            r.target.connections_accepted,
            r.target.hung,
            r.longest_call_ms,
            if r.capped { " (CAPPED)" } else { "" }
        );
        results.push(r);
    }
    Row {
        label: label.to_owned(),
        n,
        settings: settings.clone(),
        tcfg: tcfg.clone(),
        results,
    }
}

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    s.push_str("| Path | N | Concurrency / timeout | Time to complete, s | Quota floor, s | Lost (live, undelivered) | Duplicated | 410 removed | 429 seen | Retries | Hung calls | HTTP connections opened | Longest call, ms | p99 call, ms | Calls > 1 s |\n");
    s.push_str("|---|---:|---|---|---:|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let rs = &r.results;
        let capped = rs.iter().filter(|x| x.capped).count();
        let _ = writeln!(
            s,
            "| {}{} | {} | {} / {} ms | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            if capped > 0 {
                format!(" (capped in {capped}/{} runs)", rs.len())
            } else {
                String::new()
            },
            r.n,
            if r.label.starts_with("naive") {
                "1".to_owned()
            } else {
                r.settings.fanout_concurrency.to_string()
            },
            r.settings.call_timeout.as_millis(),
            summary(rs, |x| x.elapsed_s).show(3),
            quota_floor_s(r.n, &r.tcfg),
            show_int(summary(rs, |x| x.lost as f64)),
            show_int(summary(rs, |x| x.duplicated as f64)),
            show_int(summary(rs, |x| x.removed as f64)),
            show_int(summary(rs, |x| x.target.throttled_429 as f64)),
            show_int(summary(rs, |x| x.report.retries as f64)),
            show_int(summary(rs, |x| x.target.hung as f64)),
            show_int(summary(rs, |x| x.target.connections_accepted as f64)),
            summary(rs, |x| x.longest_call_ms).show(0),
            summary(rs, |x| x.p99_call_ms).show(0),
            show_int(summary(rs, |x| x.calls_over_1s as f64)),
        );
    }
    s
}

/// The CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), seconds.
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The production adapter's own CPU per post (what a Lambda pays): `Fanout::publish` to `n` viewers on a
/// current-thread runtime in a thread of its own, so every cycle of the SDK, hyper and the fan-out is that
/// thread's; the target answers at once (no latency, no 410, no hang) from the main runtime's threads.
/// Returns µs of client-thread CPU per post, and the posts.
async fn client_cpu_per_post(n: usize, settings: &Settings, frame: &Frame) -> (f64, usize) {
    let tcfg = TargetConfig {
        rate_per_sec: 1e9,
        burst: 1e9,
        latency_median: Duration::ZERO,
        latency_p99: Duration::ZERO,
        gone_share: 0.0,
        hang_share: 0.0,
        ..TargetConfig::default()
    };
    let target = Target::start(tcfg).await.expect("target starts");
    let url = target.url.clone();
    let (settings, frame) = (settings.clone(), frame.clone());
    let result = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let (store, _, conns) = viewers(n).await;
            let fanout = Fanout::new(
                store,
                ApiGatewayBroadcaster::new(&sdk_config(), &url, settings.longest_call()),
                &settings,
            );
            fanout.broadcaster().warm_up().await;
            // One warm-up round (connections, caches), then the measured one.
            fanout.publish(&conns[..conns.len().min(256)], &frame).await;
            let cpu = thread_cpu_s();
            let r = fanout.publish(&conns, &frame).await;
            (
                (thread_cpu_s() - cpu) * 1e6 / r.delivered.max(1) as f64,
                r.delivered,
            )
        })
    })
    .await
    .expect("client thread");
    target.shutdown().await;
    result
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let (fd_before, fd_after) = machine::raise_fd_limit(65_536);
    let machine_line = machine::describe();
    let load_before = machine::load1();
    let frame = bid_frame().await;
    let frame_bytes = frame.to_bytes().expect("frame encodes").len();
    eprintln!("bench-fanout: frame {frame_bytes} bytes; fd limit {fd_before} -> {fd_after}; {machine_line}");
    let s = &args.settings;
    let t = &args.target;
    let started = Instant::now();

    let mut main_rows = Vec::new();
    for &n in &args.ns {
        main_rows.push(
            measure(
                "production (`Fanout::publish`)",
                Mode::Production,
                n,
                args.runs,
                s,
                t,
                &frame,
            )
            .await,
        );
    }
    if args.hang_variant && t.hang_share > 0.0 {
        let n = *args.ns.iter().max().unwrap_or(&10_000);
        let mut t0 = t.clone();
        t0.hang_share = 0.0;
        main_rows.push(
            measure(
                "production, no hung calls (`--hang-share 0`)",
                Mode::Production,
                n,
                args.runs,
                s,
                &t0,
                &frame,
            )
            .await,
        );
    }
    let cpu_posts = if args.smoke { 500 } else { 10_000 };
    let (cpu_us, cpu_n) = client_cpu_per_post(cpu_posts, s, &frame).await;
    eprintln!("  client CPU: {cpu_us:.1} µs per post over {cpu_n} posts");
    let mut naive_rows = Vec::new();
    if args.naive {
        // The old default per-call timeout (1 s) bounds a hung call; with none the loop would block forever.
        let mut ns = s.clone();
        ns.call_timeout = Duration::from_secs(1);
        naive_rows.push(
            measure(
                "naive sequential loop, no retries",
                Mode::Naive(args.naive_cap),
                args.naive_n,
                args.naive_runs.unwrap_or(args.runs),
                &ns,
                t,
                &frame,
            )
            .await,
        );
    }
    let mut sweep_rows = Vec::new();
    if !args.sweep_concurrency.is_empty() || !args.sweep_timeout_ms.is_empty() {
        let n = *args.ns.iter().max().unwrap_or(&10_000);
        let cs = if args.sweep_concurrency.is_empty() {
            vec![s.fanout_concurrency]
        } else {
            args.sweep_concurrency.clone()
        };
        let ts = if args.sweep_timeout_ms.is_empty() {
            vec![s.call_timeout.as_millis() as u64]
        } else {
            args.sweep_timeout_ms.clone()
        };
        for &c in &cs {
            for &tm in &ts {
                let mut st = s.clone();
                st.fanout_concurrency = c;
                st.call_timeout = Duration::from_millis(tm);
                sweep_rows.push(
                    measure(
                        "sweep",
                        Mode::Production,
                        n,
                        args.sweep_runs,
                        &st,
                        t,
                        &frame,
                    )
                    .await,
                );
            }
        }
    }
    let load_after = machine::load1();
    let total = started.elapsed().as_secs_f64();

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Fan-out through an emulated Management API (`bench-fanout`)\n"
    );
    let _ = writeln!(md, "- Machine: {machine_line}; 1-minute load {load_before:.2} at start, {load_after:.2} at end; file-descriptor soft limit raised in-process {fd_before} → {fd_after}.");
    let _ = writeln!(
        md,
        "- Command: `{}` (total wall time {total:.0} s).",
        machine::command_line()
    );
    let _ = writeln!(md, "- Frame: one `Frame::bid_accepted` (bid.placed + auction.status), {} bytes, from the real store and frame code.", frame_bytes);
    let _ = writeln!(md, "- Load target (`bench/src/mgmt_target.rs`, same process, HTTP/1.1 on 127.0.0.1): token bucket {:.0} req/s, burst {:.0} (429 `LimitExceededException` past it, answered at once); log-normal latency median {} ms, p99 {} ms; {}% of connection ids 410 `GoneException` (fixed hash of the id: gone stays gone); {}% of admitted calls never answered (per call).",
        t.rate_per_sec, t.burst, t.latency_median.as_millis(), t.latency_p99.as_millis(), t.gone_share * 100.0, t.hang_share * 100.0);
    let _ = writeln!(md, "- Fan-out settings (production path): `FANOUT_CONCURRENCY={}`, `FANOUT_CALL_TIMEOUT_MS={}`, `FANOUT_BACKOFF_MS={}`, `FANOUT_MAX_ATTEMPTS={}`. One fresh SDK client per run, warmed like a Lambda cold start (one connection), store = `SqliteStore::in_memory` with N connection records.",
        s.fanout_concurrency, s.call_timeout.as_millis(), s.fanout_backoff.as_millis(), s.fanout_max_attempts);
    let _ = writeln!(md, "- Every figure: median (min–max) over the runs (`auction_bench::stats::Summary`); {} runs per configuration.\n", args.runs);
    let _ = writeln!(md, "**The production adapter's own CPU: {cpu_us:.1} µs per post** ({cpu_n} posts; the fan-out, the SDK client, SigV4 and hyper on one current-thread runtime in a thread of its own, measured with `CLOCK_THREAD_CPUTIME_ID`; the target answers at once from other threads; plain HTTP on loopback, so TLS is not included). This is the per-post CPU a Lambda pays at one vCPU, the figure `bench-scale` uses.\n");
    md.push_str("## Results\n\n");
    md.push_str(&table(&main_rows));
    if !naive_rows.is_empty() {
        md.push_str("\n### Baseline: naive one-at-a-time loop\n\n");
        let _ = writeln!(md, "`for conn in connections {{ broadcaster.post(conn, frame).await }}`: same broadcaster and target, no retries, no 410 handling (records stay), SDK call timeout 1 s (without one a hung call blocks the loop forever). Bounded: N = {} only, each run capped at {:.0} s.\n", args.naive_n, args.naive_cap.as_secs_f64());
        md.push_str(&table(&naive_rows));
    }
    if !sweep_rows.is_empty() {
        md.push_str("\n### Tuning sweep\n\n");
        let _ = writeln!(
            md,
            "Production path, N = {}, {} runs per point, other settings as above.\n",
            sweep_rows[0].n, args.sweep_runs
        );
        md.push_str(&table(&sweep_rows));
    }
    md.push_str(
        "\n### Definitions\n\n\
- **Time to complete**: wall clock around `Fanout::publish` (or the naive loop), from the first post to the return of the last one, retries included.\n\
- **Quota floor**: `max(0, N − burst) / rate`: no client can finish sooner against API Gateway's published account limits.\n\
- **Lost**: connection ids that are live (not 410 by the target's fixed rule) with no 200 delivery recorded by the target when the fan-out returned. A hung call delivers nothing, so it counts as lost unless a retry delivered.\n\
- **Duplicated**: live ids that received the frame more than once (a call slower than the timeout that did deliver, then its retry).\n\
- **410 removed**: connection records gone from the store after the fan-out (the production path removes them; the naive loop does not).\n\
- **429 seen / Hung calls / HTTP connections opened**: counted by the target (TCP connections accepted after the warm-up).\n\
- **Retries**: `FanoutReport::retries` (429, 5xx, timeouts).\n\
- **Longest / p99 call**: client side, per attempt, measured in a wrapper `Broadcaster` around `ApiGatewayBroadcaster` (a call cancelled at the per-call timeout counts with the time it ran).\n\
\n### What limits these numbers\n\n\
- The client, the load target and the Tokio runtime share one 2-vCPU machine (its load before and after the run is in the header): the production path's single fan-out task signs and serialises every request (SigV4) on one core while the target's connections use the other. The HTTP client is plain HTTP/1.1 on loopback: no TLS handshakes (each new connection to the real endpoint costs a TLS handshake) and no HTTP/2 multiplexing (the SDK offers `h2` by ALPN to real endpoints).\n\
- With API Gateway's limits, 10,000 posts cannot finish before 0.5 s (5,000 burst, then 10 per ms). A call that never answers can only be detected by a timeout longer than the latency's tail (p99 100 ms), and its retry pays one more latency; the calls issued in the last ~timeout of the fan-out set the completion time, so with 1 % hung calls completion is ≈ quota floor + timeout + backoff + one latency.\n\
- In-flight HTTP/1.1 requests cannot be cancelled without closing their connection, so every hung call (and every timeout) costs a new connection: connections opened ≈ concurrency + hung calls.\n",
    );
    println!("{md}");
    if let Some(path) = &args.out {
        match auction_bench::report::write(path, &md) {
            Ok(()) => eprintln!("wrote {}", path.display()),
            Err(e) => eprintln!("could not write {}: {e}", path.display()),
        }
    }
    let bad = main_rows
        .iter()
        .flat_map(|r| r.results.iter())
        .any(|r| r.lost > 0);
    if bad {
        eprintln!(
            "bench-fanout: some live connections were not delivered to (see the Lost column)"
        );
    }
    if args.smoke && bad {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auction_bench::cli::parse_line;

    #[test]
    fn flags_parse_as_documented() {
        let c: Cli = parse_line("bench-fanout --smoke").unwrap();
        assert_eq!((c.n, c.runs, c.naive_cap_s), (vec![1_000, 10_000], 5, 60.0));
        // bench/results/fanout.md
        let c: Cli = parse_line("bench-fanout --naive-runs 5 --naive-cap-s 60 --sweep-concurrency 128,256,512 --sweep-runs 3").unwrap();
        assert_eq!(c.sweep_concurrency, [128, 256, 512]);
        assert_eq!((c.naive_runs, c.sweep_runs), (Some(5), 3));
        // `_` separators; the last of a repeated flag wins, lists included.
        let c: Cli = parse_line("bench-fanout --n 10_000 --n 1_000,2000 --hang-share 0").unwrap();
        assert_eq!((c.n, c.hang_share), (vec![1_000, 2_000], Some(0.0)));
    }
}
