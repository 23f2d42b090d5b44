//! `bench-e2e`: the live path end to end, each server in its own process, side by side with the seed 004
//! Socket.IO server in the same harness and the same run.
//!
//! Servers: **ours** (`auction-local`, the real handlers and publisher, the embedded store, the publisher
//! posting to sockets in process), **ours over HTTP** (`auction-local --management-over-http`: the publisher
//! posts through the HTTP Management API emulation with the production SDK adapter, as a Lambda does — the
//! previous default, and the baseline of the per-frame CPU), and **seed** (`bench/seed-socketio/server.js`,
//! the tutorial's Express + Socket.IO server rebuilt from its code).
//!
//! Measured:
//! 1. the bid's answer (ours: `201`) at V = 0, 1,000, 5,000 viewers, one bid at a time;
//! 2. delivered-to-all: bidder's send → the LAST viewer's receipt of that bid, V × bid interval, on every
//!    server, with lost / out-of-order / duplicated (viewer, bid) pairs and the backlog (first vs last bids);
//! 3. server memory per connected viewer (VmRSS with V viewers − before, ÷ V);
//! 4. server CPU per delivered frame (utime + stime of the server process during the bids ÷ frames read by
//!    viewers) and frames/s against bids/s.
//!
//! Loopback only, bounded (at most 5,000 viewers and 200 bids per run). `--smoke`: V = 20, a few bids, every
//! server once, no report file. The seed needs `npm ci` in `bench/seed-socketio` (scripts/bench.sh does it).

use auction::auth::TokenIssuer;
use auction::domain::Role;
use auction::frames::{Event, Frame};
use auction_bench::cli::{num, report_path};
use auction_bench::machine;
use auction_bench::stats::percentile;
use clap::Parser;
use futures::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// bench-e2e: ours (in process, over HTTP) and the seed Socket.IO server, V viewers, bids at an interval.
#[derive(Parser, Debug)]
#[command(name = "bench-e2e", args_override_self = true)]
struct Cli {
    /// Viewer counts of the answer-latency runs (one bid at a time), comma-separated
    #[arg(long, default_value = "0,1000,5000")]
    latency_viewers: String,
    /// Viewer counts of the delivered-to-all runs, comma-separated
    #[arg(long, default_value = "1000,5000")]
    viewers: String,
    /// Bid intervals of the delivered-to-all runs in ms, comma-separated
    #[arg(long, default_value = "200,50")]
    intervals_ms: String,
    /// Bids per delivered-to-all run (at most 200)
    #[arg(long, value_parser = num::<usize>, default_value_t = 60)]
    bids: usize,
    /// Also run ours with this coalescing window (PUBLISH_WINDOW_MS; the product's is 250), e.g. 0
    #[arg(long, value_parser = num::<u64>, default_value_t = 0)]
    compare_window_ms: u64,
    /// Leave out the seed Socket.IO server
    #[arg(long)]
    no_seed: bool,
    /// Markdown report [default: bench/results/e2e.md; --smoke: none]
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// V = 20, a few bids, every server once, no report file
    #[arg(long)]
    smoke: bool,
}

const SECRET: &str = "bench-e2e-secret-0123456789abcdef0123456789";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Our stack with this coalescing window (None: the product's default, 250 ms).
    Ours(Option<u64>),
    OursHttp,
    Seed,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Ours(None) => "ours (publisher → sockets in process; window 250 ms)".into(),
            Kind::Ours(Some(w)) => format!("ours, PUBLISH_WINDOW_MS={w}"),
            Kind::OursHttp => {
                "ours over HTTP (SDK adapter → Management API emulation; window 250 ms)".into()
            }
            Kind::Seed => "seed 004 (Express + Socket.IO)".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// servers

struct Server {
    kind: Kind,
    child: tokio::process::Child,
    pid: u32,
    base: String,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl Server {
    async fn start(kind: Kind) -> Server {
        let port = free_port();
        let mut cmd = match kind {
            Kind::Ours(_) | Kind::OursHttp => {
                let bin = std::env::current_exe()
                    .expect("current exe")
                    .with_file_name("auction-local");
                assert!(
                    bin.exists(),
                    "{} is missing: build it first (scripts/bench.sh does)",
                    bin.display()
                );
                let dir =
                    std::env::temp_dir().join(format!("bench-e2e-{}", ulid::Ulid::generate()));
                let mut c = tokio::process::Command::new(bin);
                c.args(["--port", &port.to_string(), "--data-dir"])
                    .arg(&dir)
                    .args([
                        "--jwt-secret",
                        SECRET,
                        "--no-dev-tokens",
                        "--schedule-ms",
                        "60000",
                        // A handful of bidder accounts place every bid: the per-user rate limit is not measured here.
                        "--bid-rate-limit",
                        "1000000",
                    ]);
                if kind == Kind::OursHttp {
                    c.arg("--management-over-http");
                }
                if let Kind::Ours(Some(w)) = kind {
                    c.env("PUBLISH_WINDOW_MS", w.to_string());
                }
                c
            }
            Kind::Seed => {
                let mut c = tokio::process::Command::new("node");
                c.arg(repo_root().join("bench/seed-socketio/server.js"))
                    .env("PORT", port.to_string());
                c
            }
        };
        let mut child = cmd
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("server starts");
        let pid = child.id().expect("pid");
        // Drain stdout so the server never blocks on it.
        if let Some(out) = child.stdout.take() {
            tokio::spawn(async move {
                let mut lines = tokio::io::BufReader::new(out).lines();
                while let Ok(Some(_)) = lines.next_line().await {}
            });
        }
        let base = format!("http://127.0.0.1:{port}");
        let probe = match kind {
            Kind::Seed => format!("{base}/"),
            _ => format!("{base}/config.json"),
        };
        for _ in 0..300 {
            if reqwest::get(&probe)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Server {
            kind,
            child,
            pid,
            base,
            port,
        }
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.pid)).unwrap_or_default()
    }

    /// VmRSS in KB.
    fn rss_kb(&self) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// utime + stime, seconds.
    fn cpu_s(&self) -> f64 {
        let stat = self.proc_file("stat");
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        ticks as f64 / hz
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// clients

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn token(sub: &str, name: &str, role: Role) -> String {
    TokenIssuer::new(&SecretString::from(SECRET))
        .expect("issuer")
        .mint_for(sub, name, role, now_secs(), 3_600)
        .expect("HS256 signing")
}

/// A WebSocket connect ticket for `auction` (what `POST /auctions/{id}/ticket` answers), minted directly.
fn ticket(sub: &str, auction: &str) -> String {
    let now = now_secs();
    let claims = auction::auth::Claims {
        aud: Some(auction::auth::TICKET_AUDIENCE.into()),
        auc: Some(auction.into()),
        ..auction::auth::Claims::session(
            sub,
            "Viewer",
            Role::Bidder,
            now,
            auction::auth::TICKET_TTL_SECS,
        )
    };
    TokenIssuer::new(&SecretString::from(SECRET))
        .expect("issuer")
        .mint(&claims)
        .expect("HS256 signing")
}

async fn ws(url: &str) -> Option<Socket> {
    tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false)
        .await
        .ok()
        .map(|(s, _)| s)
}

/// A Socket.IO v4 client on the websocket transport: the engine.io open packet, then the namespace connect
/// with `auth` (the seed's middleware reads `socket.handshake.auth.token`).
async fn socket_io(port: u16, token: &str) -> Option<Socket> {
    let mut s = ws(&format!(
        "ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
    ))
    .await?;
    let open = tokio::time::timeout(Duration::from_secs(10), s.next())
        .await
        .ok()??
        .ok()?;
    if !open.to_text().ok()?.starts_with('0') {
        return None;
    }
    s.send(Message::Text(
        json!({ "token": token })
            .to_string()
            .replacen('{', "40{", 1)
            .into(),
    ))
    .await
    .ok()?;
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), s.next())
            .await
            .ok()??
            .ok()?;
        let t = m.to_text().ok()?;
        if t.starts_with("40") {
            return Some(s);
        }
        if t.starts_with("44") {
            return None;
        }
    }
}

/// One viewer's reads: the key of every bid it was told of (ours: the bid's seq; seed: its amount), with
/// the arrival time, in arrival order. Answers engine.io pings.
async fn read_bids(
    kind: Kind,
    socket: Socket,
    mut stop: watch::Receiver<bool>,
    frames: Arc<AtomicU64>,
    bids_seen: Arc<AtomicU64>,
) -> Vec<(i64, Instant)> {
    let (mut sink, mut stream) = socket.split();
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let at = Instant::now();
                    let t = t.as_str();
                    match kind {
                        Kind::Seed => {
                            if t == "2" {
                                let _ = sink.send(Message::Text("3".into())).await;
                            } else if let Some(body) = t.strip_prefix("42") {
                                if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(body) {
                                    if a.first().and_then(Value::as_str) == Some("bid-updated") {
                                        frames.fetch_add(1, Ordering::Relaxed);
                                        if let Some(amount) = a.get(1).and_then(|d| d["currentBid"].as_i64()) {
                                            seen.push((amount, at));
                                            bids_seen.fetch_add(1, Ordering::Relaxed);
                                        }
                                    }
                                }
                            }
                        }
                        _ => {
                            if let Ok(frame) = serde_json::from_str::<Frame>(t) {
                                frames.fetch_add(1, Ordering::Relaxed);
                                for (seq, event) in frame.events() {
                                    if matches!(event, Event::BidPlaced(_)) {
                                        seen.push((seq as i64, at));
                                        bids_seen.fetch_add(1, Ordering::Relaxed);
                                    }
                                }
                            }
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = stop.changed() => break,
        }
    }
    let _ = sink.close().await;
    seen
}

/// An auction to bid on, and how to bid on it.
enum Target {
    Ours {
        http: reqwest::Client,
        bids_url: String,
        ws_url: String,
        bidders: [String; 2],
    },
    Seed {
        tx: mpsc::UnboundedSender<String>,
        auction_id: i64,
    },
}

const START_PRICE: i64 = 100;
const STEP: i64 = 100;

async fn prepare(server: &Server) -> Target {
    match server.kind {
        Kind::Seed => {
            let mut s = socket_io(server.port, "bidder")
                .await
                .expect("bidder connects");
            let auction_id = 1;
            let create = json!(["create-auction", {
                "id": auction_id, "title": "Vintage Leica M3", "description": "bench",
                "startingPrice": START_PRICE, "duration": 3_600_000
            }]);
            s.send(Message::Text(format!("42{create}").into()))
                .await
                .expect("create");
            // Wait for the server's broadcast of the new auction.
            loop {
                let m = s.next().await.expect("open").expect("message");
                if m.to_text().unwrap_or("").contains("auction-created") {
                    break;
                }
            }
            let (mut sink, mut stream) = s.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<String>();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        out = rx.recv() => match out {
                            Some(text) => { let _ = sink.send(Message::Text(text.into())).await; }
                            None => break,
                        },
                        msg = stream.next() => match msg {
                            Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                                let _ = sink.send(Message::Text("3".into())).await;
                            }
                            Some(Ok(_)) => {}
                            _ => break,
                        },
                    }
                }
            });
            Target::Seed { tx, auction_id }
        }
        _ => {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(16)
                .build()
                .expect("http client");
            let seller = token("u-sam", "Sam Seller", Role::Seller);
            let created: Value = http
                .post(format!("{}/auctions", server.base))
                .bearer_auth(&seller)
                .json(&json!({"title": "Vintage Leica M3", "startingPrice": START_PRICE, "minIncrement": STEP, "durationSeconds": 3_600}))
                .send()
                .await
                .expect("create auction")
                .json()
                .await
                .expect("create auction body");
            let id = created["auction"]["auctionId"]
                .as_str()
                .expect("auctionId")
                .to_owned();
            Target::Ours {
                http,
                bids_url: format!("{}/auctions/{id}/bids", server.base),
                ws_url: format!("ws://127.0.0.1:{}/ws?auctionId={id}", server.port),
                bidders: [
                    token("u-bidder-0", "Ada", Role::Bidder),
                    token("u-bidder-1", "Grace", Role::Bidder),
                ],
            }
        }
    }
}

async fn connect_viewers(target: &Target, port: u16, n: usize) -> Vec<Socket> {
    futures::stream::iter(0..n)
        .map(|i| async move {
            match target {
                Target::Ours { ws_url, .. } => {
                    let auction = ws_url.rsplit("auctionId=").next().unwrap_or_default();
                    let t = ticket(&format!("u-viewer-{i}"), auction);
                    ws(&format!("{ws_url}&ticket={t}")).await
                }
                Target::Seed { .. } => socket_io(port, "viewer").await,
            }
        })
        .buffer_unordered(64)
        .filter_map(|s| async move { s })
        .collect()
        .await
}

/// One bid: when it was sent, when it was answered (ours), its key if accepted.
#[derive(Debug, Clone)]
struct Sent {
    key: Option<i64>,
    sent: Instant,
    answered_ms: Option<f64>,
}

async fn bid(target: &Target, i: usize, amount: i64) -> Sent {
    let sent = Instant::now();
    match target {
        Target::Ours {
            http,
            bids_url,
            bidders,
            ..
        } => {
            let r = http
                .post(bids_url)
                .bearer_auth(&bidders[i % 2])
                .json(&json!({ "amount": amount }))
                .send()
                .await;
            let answered_ms = Some(sent.elapsed().as_secs_f64() * 1e3);
            let key = match r {
                Ok(r) if r.status().as_u16() == 201 => {
                    r.json::<Value>().await.ok().and_then(|b| b["seq"].as_i64())
                }
                _ => None,
            };
            Sent {
                key,
                sent,
                answered_ms,
            }
        }
        Target::Seed { tx, auction_id } => {
            let msg = json!(["place-bid", {"auctionId": auction_id, "amount": amount}]);
            let _ = tx.send(format!("42{msg}"));
            Sent {
                key: Some(amount),
                sent,
                answered_ms: None,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// one run

#[derive(Debug, Clone, Default)]
struct Run {
    accepted: usize,
    answer_p50: f64,
    answer_p99: f64,
    all_p50: f64,
    all_p99: f64,
    all_max: f64,
    /// Delivered-to-all of the first and the last tenth of the bids (a backlog makes the second grow).
    first_p50: f64,
    last_p50: f64,
    lost: usize,
    out_of_order: usize,
    duplicates: usize,
    frames: u64,
    bidding_s: f64,
    cpu_us_per_frame: f64,
    kb_per_viewer: f64,
}

async fn run(kind: Kind, viewers: usize, interval: Duration, bids: usize) -> Run {
    let server = Server::start(kind).await;
    let target = prepare(&server).await;
    let rss_before = server.rss_kb();
    let sockets = connect_viewers(&target, server.port, viewers).await;
    let connected = sockets.len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = server.rss_kb();
    let (stop_tx, stop_rx) = watch::channel(false);
    let frames = Arc::new(AtomicU64::new(0));
    let bids_seen = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = sockets
        .into_iter()
        .map(|s| {
            tokio::spawn(read_bids(
                kind,
                s,
                stop_rx.clone(),
                frames.clone(),
                bids_seen.clone(),
            ))
        })
        .collect();

    let cpu_before = server.cpu_s();
    let started = Instant::now();
    let target = Arc::new(target);
    let mut tasks = Vec::new();
    let t0 = tokio::time::Instant::now() + Duration::from_millis(50);
    for i in 0..bids {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(t0 + interval * i as u32).await;
            // Every amount beats the last (and the starting price, which the seed requires strictly).
            bid(&target, i, START_PRICE + STEP * (i as i64 + 1)).await
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.push(t.await.expect("bid task"));
    }
    let accepted: HashMap<i64, Sent> = sent
        .iter()
        .filter_map(|s| s.key.map(|k| (k, s.clone())))
        .collect();
    let expected = (accepted.len() * connected) as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    while bids_seen.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bidding_s = started.elapsed().as_secs_f64();
    let cpu = server.cpu_s() - cpu_before;
    let _ = stop_tx.send(true);
    let mut seen_all = Vec::new();
    for r in readers {
        seen_all.push(r.await.unwrap_or_default());
    }
    server.stop().await;

    // Per bid: the last viewer's receipt; per viewer: order, duplicates, losses.
    let mut last: HashMap<i64, f64> = HashMap::new();
    let (mut lost, mut out_of_order, mut duplicates) = (0, 0, 0);
    for seen in &seen_all {
        let mut got = std::collections::HashSet::new();
        let mut highest = i64::MIN;
        for &(key, at) in seen {
            if key < highest {
                out_of_order += 1;
            }
            highest = highest.max(key);
            if !got.insert(key) {
                duplicates += 1;
                continue;
            }
            if let Some(s) = accepted.get(&key) {
                let ms = at.saturating_duration_since(s.sent).as_secs_f64() * 1e3;
                let e = last.entry(key).or_insert(0.0);
                *e = e.max(ms);
            }
        }
        lost += accepted.keys().filter(|k| !got.contains(k)).count();
    }
    let mut by_order: Vec<(i64, f64)> = last.iter().map(|(k, v)| (*k, *v)).collect();
    by_order.sort_by_key(|(k, _)| *k);
    let tenth = (by_order.len() / 10).max(1);
    let mut first: Vec<f64> = by_order.iter().take(tenth).map(|(_, v)| *v).collect();
    let mut tail: Vec<f64> = by_order.iter().rev().take(tenth).map(|(_, v)| *v).collect();
    let mut all: Vec<f64> = last.values().copied().collect();
    let mut answers: Vec<f64> = sent.iter().filter_map(|s| s.answered_ms).collect();
    let frames = frames.load(Ordering::Relaxed);
    Run {
        accepted: accepted.len(),
        answer_p50: percentile(&mut answers, 50.0).unwrap_or(0.0),
        answer_p99: percentile(&mut answers, 99.0).unwrap_or(0.0),
        all_p50: percentile(&mut all, 50.0).unwrap_or(0.0),
        all_p99: percentile(&mut all, 99.0).unwrap_or(0.0),
        all_max: percentile(&mut all, 100.0).unwrap_or(0.0),
        first_p50: percentile(&mut first, 50.0).unwrap_or(0.0),
        last_p50: percentile(&mut tail, 50.0).unwrap_or(0.0),
        lost,
        out_of_order,
        duplicates,
        frames,
        bidding_s,
        cpu_us_per_frame: if frames == 0 {
            0.0
        } else {
            cpu * 1e6 / frames as f64
        },
        kb_per_viewer: if connected == 0 {
            0.0
        } else {
            rss_after.saturating_sub(rss_before) as f64 / connected as f64
        },
    }
}

fn list(s: &str) -> Vec<u64> {
    s.split(',').filter_map(|x| x.trim().parse().ok()).collect()
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let (fd_before, fd_after) = machine::raise_fd_limit(65_536);
    let machine_line = machine::describe();
    let load_before = machine::load_average();
    let seed_ready = repo_root()
        .join("bench/seed-socketio/node_modules/socket.io")
        .exists();
    let mut kinds = vec![
        Kind::Ours(None),
        Kind::Ours(Some(cli.compare_window_ms)),
        Kind::OursHttp,
    ];
    if !cli.no_seed {
        assert!(
            seed_ready,
            "bench/seed-socketio has no node_modules: run `npm ci` there (scripts/bench.sh does), or --no-seed"
        );
        kinds.push(Kind::Seed);
    }
    let (latency_vs, delivery_vs, intervals, bids) = if cli.smoke {
        (vec![0, 20], vec![20], vec![50], 8)
    } else {
        (
            list(&cli.latency_viewers),
            list(&cli.viewers),
            list(&cli.intervals_ms),
            cli.bids.clamp(5, 200),
        )
    };
    eprintln!("bench-e2e: fd limit {fd_before} -> {fd_after}; {machine_line}");
    let started = Instant::now();

    // 1. The bid's answer, one bid at a time, against the audience.
    let mut answer_rows = Vec::new();
    for &v in &latency_vs {
        let r = run(
            Kind::Ours(None),
            v as usize,
            Duration::from_millis(300),
            if cli.smoke { 5 } else { 40 },
        )
        .await;
        eprintln!(
            "  answer V={v}: p50 {:.1} ms p99 {:.1} ms",
            r.answer_p50, r.answer_p99
        );
        answer_rows.push((v, r));
    }

    // 2–4. Delivered-to-all on every server.
    let mut rows = Vec::new();
    for &v in &delivery_vs {
        for &ms in &intervals {
            for &kind in &kinds {
                let r = run(kind, v as usize, Duration::from_millis(ms), bids).await;
                eprintln!(
                    "  {} V={v} every {ms} ms: all p50 {:.0} p99 {:.0} ms, lost {}, out of order {}, dup {}, {:.1} KB/viewer, {:.1} µs/frame",
                    kind.label(), r.all_p50, r.all_p99, r.lost, r.out_of_order, r.duplicates, r.kb_per_viewer, r.cpu_us_per_frame
                );
                rows.push((kind, v, ms, r));
            }
        }
    }
    let total = started.elapsed();
    let healthy = rows
        .iter()
        .filter(|(k, ..)| *k != Kind::Seed)
        .all(|(_, _, _, r)| r.accepted > 0 && r.lost == 0 && r.out_of_order == 0)
        && answer_rows.iter().all(|(_, r)| r.accepted > 0);

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# End to end, side by side with the seed Socket.IO server (`bench-e2e`)\n"
    );
    let _ = writeln!(
        md,
        "- Command: `{}` (total wall time {:.0} s).",
        machine::command_line(),
        total.as_secs_f64()
    );
    let _ = writeln!(
        md,
        "- Machine: {machine_line}; load average before: {load_before}."
    );
    let _ = writeln!(md, "- Every server runs in its own process on 127.0.0.1; the harness (viewers, bidders) is one other process on the same 2 cores. Our stack: `auction-local` ({} build), embedded SQLite store on disk, the local default `PUBLISH_POSTS_PER_SECOND` (no quota to share: unpaced).", if cfg!(debug_assertions) { "debug" } else { "release" });
    let _ = writeln!(
        md,
        "\n## 1. The bid's answer against the audience (ours, one bid every 300 ms)\n"
    );
    let _ = writeln!(
        md,
        "| Viewers | bids | `201` p50 (ms) | `201` p99 (ms) | delivered-to-all p50 (ms) |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for (v, r) in &answer_rows {
        let _ = writeln!(
            md,
            "| {v} | {} | {:.1} | {:.1} | {} |",
            r.accepted,
            r.answer_p50,
            r.answer_p99,
            if *v == 0 {
                "–".into()
            } else {
                format!("{:.0}", r.all_p50)
            }
        );
    }
    let _ = writeln!(
        md,
        "\n## 2. Delivered to all viewers (bidder's send → the last viewer's receipt)\n"
    );
    let _ = writeln!(md, "| Server | Viewers | bid every (ms) | bids accepted | p50 (ms) | p99 (ms) | max (ms) | first / last tenth p50 (ms) | lost | out of order | duplicated |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (k, v, ms, r) in &rows {
        let _ = writeln!(
            md,
            "| {} | {v} | {ms} | {} | {:.0} | {:.0} | {:.0} | {:.0} / {:.0} | {} | {} | {} |",
            k.label(),
            r.accepted,
            r.all_p50,
            r.all_p99,
            r.all_max,
            r.first_p50,
            r.last_p50,
            r.lost,
            r.out_of_order,
            r.duplicates
        );
    }
    let _ = writeln!(
        md,
        "\n## 3–4. Cost per viewer and per frame (the server process)\n"
    );
    let _ = writeln!(md, "| Server | Viewers | bid every (ms) | memory per connected viewer (KB) | frames read by viewers | frames/s | bids/s | server CPU per frame (µs) |");
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for (k, v, ms, r) in &rows {
        let _ = writeln!(
            md,
            "| {} | {v} | {ms} | {:.1} | {} | {:.0} | {:.1} | {:.1} |",
            k.label(),
            r.kb_per_viewer,
            r.frames,
            r.frames as f64 / r.bidding_s.max(1e-9),
            r.accepted as f64 / r.bidding_s.max(1e-9),
            r.cpu_us_per_frame
        );
    }
    let _ = writeln!(md, "\n### Definitions\n");
    let _ = writeln!(md, "- **Delivered-to-all**: per accepted bid, the time from the bidder's send (ours: the `POST`; seed: the `place-bid` emit) to the last viewer's receipt of a frame carrying it (ours: a `bid.placed` with that seq; seed: `bid-updated` with that amount). One sample per bid; p50/p99 over the bids of the run. One monotonic clock.");
    let _ = writeln!(md, "- **Lost / out of order / duplicated**: (viewer, bid) pairs never received; received after a later bid; received twice.");
    let _ = writeln!(md, "- **Memory per viewer**: the server's VmRSS with every viewer connected, minus before they connected, divided by the viewers.");
    let _ = writeln!(md, "- **CPU per frame**: utime + stime of the server process from the first bid until every viewer had every bid, divided by the frames viewers read (ours coalesces: one frame may carry several bids). 10 ms clock ticks: short runs are coarse.");
    if let Some(path) = report_path(cli.out, cli.smoke, "bench/results/e2e.md") {
        auction_bench::report::write(&path, &md).expect("write report");
        eprintln!("bench-e2e: wrote {}", path.display());
    } else {
        println!("{md}");
    }
    if !healthy {
        eprintln!(
            "bench-e2e: a run of ours lost frames, delivered out of order, or accepted no bid"
        );
        std::process::exit(1);
    }
}
