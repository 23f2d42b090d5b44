//! `bench-coldstart`: size, cold start (exec → first `GET …/invocation/next`), first vs warm invocation and
//! peak RSS of every Lambda binary, next to a hello-world `lambda_runtime` function built the same way.
//!
//! Each bootstrap runs against a Runtime API mock on 127.0.0.1, with DynamoDB (moto_server with its request
//! lock) and the Management API (a stub) behind local TLS proxies whose throwaway CA the SDK trusts through
//! `SSL_CERT_FILE`; so the init-time TLS warm-up (`shared/src/wiring.rs`) does real handshakes. Every
//! function is cold-started with the warm-up on and with `WARM_UP=false`.
//!
//! ```text
//! .venv/bin/pip install -r scripts/requirements-bench.txt        # cargo-lambda (ships zig)
//! cargo run --release -p auction-bench --bin bench-coldstart -- --build --out bench/results/coldstart.md
//! cargo run -p auction-bench --bin bench-coldstart -- --smoke     # CI: the workspace debug build, hello + place-bid
//! options: --lambda-dir DIR (default target/lambda)  --functions a,b  --reps N (10)  --warm N (1000)
//!          --first-warm N (20)  --label TEXT  --build  --out FILE
//! ```

use auction::domain::Role;
use auction_bench::cli::num;
use auction_bench::coldstart::{cold_start, ColdRun, Launch};
use auction_bench::machine;
use auction_bench::runtime_mock::MgmtStub;
use auction_bench::stats::Summary;
use auction_bench::tls_proxy::{LocalCa, ProxyStats, TlsProxy};
use auction_tests::harness::{sample_event, TestApp, SECRET};
use auction_tests::moto;
use clap::{ArgAction, Parser};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FUNCTIONS: [&str; 8] = [
    "ws-connect",
    "ws-disconnect",
    "ws-default",
    "create-auction",
    "get-auction",
    "place-bid",
    "end-auction",
    "close-auctions",
];
const HELLO: &str = "hello-lambda";
const SAMPLE_ID: &str = "01JD5Z8Q4W3N6R2T9V7X0Y1ABC";
const SAMPLE_CONN: &str = "L0SM9cOFvHcCIhw=";

/// bench-coldstart: size, cold start, first vs warm invocation and peak RSS of every Lambda binary, next to
/// a hello-world function built the same way.
#[derive(Parser, Debug)]
#[command(name = "bench-coldstart", args_override_self = true)]
struct Cli {
    /// CI run: `cargo build` (debug) of hello + place-bid only; --reps 2 --warm 20 --first-warm 5 unless given
    #[arg(long)]
    smoke: bool,
    /// Run the cargo lambda build first
    #[arg(long)]
    build: bool,
    /// Where the bootstraps are: DIR/<name>/bootstrap [default: target/lambda]
    #[arg(long, value_name = "DIR")]
    lambda_dir: Option<PathBuf>,
    /// Functions to measure, comma-separated (hello-lambda is always added) [default: all]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = trimmed,
          action = ArgAction::Set)]
    functions: Option<Vec<String>>,
    /// Cold starts per function and warm-up setting [default: 10; --smoke: 2]
    #[arg(long, value_name = "N", value_parser = num::<usize>)]
    reps: Option<usize>,
    /// Invocations of the one process whose peak RSS (VmHWM) is read [default: 1000; --smoke: 20]
    #[arg(long, value_name = "N", value_parser = num::<usize>)]
    warm: Option<usize>,
    /// Invocations after the first, per cold start of hello and place-bid [default: 20; --smoke: 5]
    #[arg(long, value_name = "N", value_parser = num::<usize>)]
    first_warm: Option<usize>,
    /// Title suffix of the report
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    label: Option<String>,
    /// Write the markdown report here [default: none]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn trimmed(s: &str) -> Result<String, String> {
    Ok(s.trim().to_string())
}

struct Args {
    smoke: bool,
    build: bool,
    lambda_dir: PathBuf,
    functions: Vec<String>,
    reps: usize,
    warm: usize,
    first_warm: usize,
    label: String,
    out: Option<PathBuf>,
}

fn root() -> PathBuf {
    let m = Path::new(env!("CARGO_MANIFEST_DIR"));
    m.parent().unwrap_or(m).to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn parse_args() -> Result<Args, String> {
    let c = Cli::parse();
    let mut a = Args {
        smoke: c.smoke,
        build: c.build,
        lambda_dir: c.lambda_dir.unwrap_or_else(|| target_dir().join("lambda")),
        functions: std::iter::once(HELLO)
            .chain(FUNCTIONS)
            .map(String::from)
            .collect(),
        reps: 10,
        warm: 1000,
        first_warm: 20,
        label: c.label.unwrap_or_default(),
        out: c.out,
    };
    let (reps, warm, first, funcs) = (c.reps, c.warm, c.first_warm, c.functions);
    if a.smoke {
        a.functions = vec![HELLO.into(), "place-bid".into()];
        a.reps = 2;
        a.warm = 20;
        a.first_warm = 5;
    }
    if let Some(f) = funcs {
        a.functions = f;
    }
    a.reps = reps.unwrap_or(a.reps).max(1);
    a.warm = warm.unwrap_or(a.warm).max(2);
    a.first_warm = first.unwrap_or(a.first_warm).max(1);
    if !a.functions.iter().any(|f| f == HELLO) {
        a.functions.insert(0, HELLO.into());
    }
    for f in &a.functions {
        if f != HELLO && !FUNCTIONS.contains(&f.as_str()) {
            return Err(format!("unknown function {f}"));
        }
    }
    Ok(a)
}

fn run_build(args: &Args) -> Result<(String, Duration), String> {
    let t = Instant::now();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    let text = if args.smoke {
        // The test command's own build (one feature resolution for the workspace): a no-op after it, where
        // `-p` would resolve features anew and rebuild the dependencies a second time.
        cmd.args(["build", "--workspace", "--all-targets", "--locked"]);
        format!("{cargo} build --workspace --all-targets --locked")
    } else {
        let venv = root().join(".venv/bin");
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", venv.display()));
        cmd.args(["lambda", "build", "--release", "--x86-64"]);
        for f in &args.functions {
            cmd.args(["-p", f]);
        }
        format!(
            "cargo lambda build --release --x86-64 {}",
            args.functions
                .iter()
                .map(|f| format!("-p {f}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let status = cmd.current_dir(root()).status().map_err(|e| {
        format!(
            "{text}: {e} (cargo-lambda: .venv/bin/pip install -r scripts/requirements-bench.txt)"
        )
    })?;
    if !status.success() {
        return Err(format!("{text} failed: {status}"));
    }
    Ok((text, t.elapsed()))
}

fn binary(args: &Args, name: &str) -> PathBuf {
    if args.smoke {
        target_dir().join("debug").join(name)
    } else {
        args.lambda_dir.join(name).join("bootstrap")
    }
}

/// (size, size after `strip`), bytes.
fn sizes(bin: &Path) -> (u64, Option<u64>) {
    let size = std::fs::metadata(bin).map(|m| m.len()).unwrap_or(0);
    let tmp = std::env::temp_dir().join(format!("bench-coldstart-strip-{}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&tmp)
        .arg(bin)
        .status()
        .ok()
        .filter(|s| s.success())
        .and_then(|_| std::fs::metadata(&tmp).ok())
        .map(|m| m.len());
    let _ = std::fs::remove_file(&tmp);
    (size, stripped)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// A fresh table with: an active auction (a viewer `bench-viewer=` and the sample's connection on it) and a
/// second active auction for end-auction. Returns (table, events factory).
struct Fixture {
    table: String,
    auction: String,
    to_end: String,
    seller: String,
    bidder: String,
}

async fn fixture() -> Result<Fixture, String> {
    let store = moto::fresh_table().await;
    let table = store.table_name().to_owned();
    let t = TestApp::with_store(store);
    t.clock.set(now_ms());
    // A day long: a full run takes minutes, and the sample bid must find the auction active.
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = t
            .create(
                &t.seller(),
                json!({"title": "Vintage Leica M3", "description": "1957, serviced, with 50mm Summicron", "startingPrice": 10_000, "minIncrement": 100, "durationSeconds": 86_400}),
            )
            .await;
        ids.push(
            r.body["auction"]["auctionId"]
                .as_str()
                .ok_or_else(|| format!("fixture: create refused: {}", r.body))?
                .to_owned(),
        );
    }
    let (auction, to_end) = (ids[0].clone(), ids[1].clone());
    let viewer = t.bidder(500);
    if t.connect("bench-viewer=", &auction, &viewer).await != 200
        || t.connect(SAMPLE_CONN, &auction, &viewer).await != 200
    {
        return Err("fixture: $connect refused".into());
    }
    // Tokens are checked against the real clock; valid for an hour.
    Ok(Fixture {
        table,
        auction,
        to_end,
        seller: t.token("seller-1", "Sam Seller", Role::Seller),
        bidder: t.token("bidder-7", "Bidder 7", Role::Bidder),
    })
}

fn substitute(sample: &Value, token: &str, auction: &str) -> Value {
    let text = sample
        .to_string()
        .replace("REPLACE_WITH_TOKEN", token)
        .replace(SAMPLE_ID, auction);
    serde_json::from_str(&text).expect("valid JSON after substitution")
}

/// The event of invocation `n` (counted over all runs of the function).
/// Starts cold processes of the built functions, numbering each function's events on across all its
/// launches (`counters`), so every bid and auction a run creates is new.
struct Launcher<'a> {
    args: &'a Args,
    tls: Vec<Arc<ProxyStats>>,
    counters: BTreeMap<String, usize>,
}

impl Launcher<'_> {
    async fn launch(
        &mut self,
        f: &str,
        fx: &Fixture,
        env: Vec<(String, String)>,
        log: PathBuf,
        invocations: usize,
    ) -> Result<ColdRun, String> {
        let counter = self.counters.entry(f.to_owned()).or_insert(0);
        let mut event = |_: usize| {
            *counter += 1;
            event_for(f, fx, *counter)
        };
        cold_start(Launch {
            name: f,
            bin: &binary(self.args, f),
            env,
            log,
            invocations,
            event: &mut event,
            tls: self.tls.clone(),
        })
        .await
    }
}

fn event_for(name: &str, fx: &Fixture, n: usize) -> Vec<u8> {
    let v = match name {
        HELLO => sample_event("place-bid.json"),
        "place-bid" => {
            let mut e = substitute(&sample_event("place-bid.json"), &fx.bidder, &fx.auction);
            // Every invocation is a new accepted, keyed bid: IDEM read, conditional write, history, fan-out.
            let amount = 10_000 + 100 * n as i64;
            e["body"] = json!(json!({ "amount": amount }).to_string());
            e["headers"]["idempotency-key"] = json!(format!("bench-{n:08}"));
            e["headers"]
                .as_object_mut()
                .map(|h| h.remove("content-length"));
            e
        }
        "create-auction" | "end-auction" => substitute(
            &sample_event(&format!("{name}.json")),
            &fx.seller,
            &fx.to_end,
        ),
        "get-auction" => substitute(&sample_event("get-auction.json"), &fx.bidder, &fx.auction),
        "ws-connect" => substitute(&sample_event("ws-connect.json"), &fx.bidder, &fx.auction),
        other => sample_event(&format!("{other}.json")),
    };
    v.to_string().into_bytes()
}

struct FnResult {
    name: String,
    size: (u64, Option<u64>),
    on: Vec<ColdRun>,
    off: Vec<ColdRun>,
    long: Option<ColdRun>,
}

fn summary(v: &[f64]) -> Option<Summary> {
    Summary::of(v)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn show(s: Option<Summary>, d: usize) -> String {
    s.map(|s| s.show(d)).unwrap_or_else(|| "–".into())
}

fn mb(b: u64) -> String {
    format!("{:.2}", b as f64 / 1_000_000.0)
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    results: &[FnResult],
    trust: &str,
    build: &Option<(String, Duration)>,
    total: Duration,
    machine_desc: &str,
    env_note: &str,
) -> String {
    let mut o = String::new();
    let title = if args.label.is_empty() {
        String::new()
    } else {
        format!(" — {}", args.label)
    };
    writeln!(o, "## Cold start, size, memory{title}\n").ok();
    writeln!(o, "- Machine: {machine_desc}").ok();
    writeln!(
        o,
        "- Command: `{}` (wall time {:.0} s)",
        machine::command_line(),
        total.as_secs_f64()
    )
    .ok();
    if let Some((cmd, t)) = build {
        writeln!(o, "- Build: `{cmd}` ({:.0} s)", t.as_secs_f64()).ok();
    }
    writeln!(
        o,
        "- Binaries: {}",
        if args.smoke {
            "debug builds in target/debug (smoke mode: numbers are meaningless)".to_string()
        } else {
            format!("`{}/<name>/bootstrap`", args.lambda_dir.display())
        }
    )
    .ok();
    writeln!(o, "- {env_note}").ok();
    writeln!(o, "- Per function: {} cold starts with the warm-up and {} with `WARM_UP=false`, interleaved across functions; each followed by {} invocations (place-bid and hello) or 5 (others); then one process with the warm-up for {} invocations, after which `VmHWM` is read. Times are median (min–max) over the cold starts.\n", args.reps, args.reps, args.first_warm + 1, args.warm).ok();
    let hello_init = results
        .iter()
        .find(|r| r.name == HELLO)
        .and_then(|r| summary(&r.on.iter().map(|c| ms(c.init)).collect::<Vec<_>>()))
        .map(|s| s.median);
    writeln!(o, "| Function | bootstrap (MB) | after `strip` (MB) | init, warm-up on (ms) | × hello | init, `WARM_UP=false` (ms) | × hello | TLS handshakes in init (DynamoDB/Mgmt) | VmHWM after {} invocations (MB) | answers of that run |", args.warm).ok();
    writeln!(o, "|---|---|---|---|---|---|---|---|---|---|").ok();
    for r in results {
        let on = summary(&r.on.iter().map(|c| ms(c.init)).collect::<Vec<_>>());
        let off = summary(&r.off.iter().map(|c| ms(c.init)).collect::<Vec<_>>());
        let x = |s: Option<Summary>| match (s, hello_init) {
            (Some(s), Some(h)) if h > 0.0 => format!("{:.2}", s.median / h),
            _ => "–".into(),
        };
        let hs =
            r.on.first()
                .map(|c| {
                    c.tls_init
                        .iter()
                        .map(|(ok, fail)| {
                            if *fail > 0 {
                                format!("{ok} ok, {fail} failed")
                            } else {
                                ok.to_string()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
        let (rss, answers) = match &r.long {
            Some(l) => (
                l.vm_hwm_kib
                    .map(|k| format!("{:.1}", k as f64 * 1024.0 / 1_000_000.0))
                    .unwrap_or("–".into()),
                l.statuses
                    .iter()
                    .map(|(k, v)| format!("{k}×{v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => ("–".into(), String::new()),
        };
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            mb(r.size.0),
            r.size.1.map(mb).unwrap_or("–".into()),
            show(on, 2),
            x(on),
            show(off, 2),
            x(off),
            hs,
            rss,
            answers
        )
        .ok();
    }
    writeln!(o, "\n### First invocation after a cold start vs warm (measured at the Runtime API mock: event served → response received)\n").ok();
    writeln!(o, "| Function | warm-up | first invocation (ms) | warm median of the same process (ms) | first ÷ warm | TLS handshakes during the first invocation (DynamoDB/Mgmt) | warm median over {} invocations (ms) |", args.warm).ok();
    writeln!(o, "|---|---|---|---|---|---|---|").ok();
    for r in results {
        for (label, runs) in [("on", &r.on), ("`WARM_UP=false`", &r.off)] {
            let first = summary(&runs.iter().map(|c| c.first_ms()).collect::<Vec<_>>());
            let warm = summary(&runs.iter().map(|c| c.warm_median_ms()).collect::<Vec<_>>());
            let ratio = summary(
                &runs
                    .iter()
                    .map(|c| c.first_ms() / c.warm_median_ms())
                    .collect::<Vec<_>>(),
            );
            let hs = runs
                .first()
                .map(|c| {
                    c.tls_first
                        .iter()
                        .map(|(ok, _)| ok.to_string())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_default();
            let long = if label == "on" {
                r.long
                    .as_ref()
                    .map(|l| format!("{:.2}", l.warm_median_ms()))
                    .unwrap_or("–".into())
            } else {
                "".into()
            };
            writeln!(
                o,
                "| {} | {label} | {} | {} | {} | {hs} | {long} |",
                r.name,
                show(first, 2),
                show(warm, 2),
                show(ratio, 2)
            )
            .ok();
        }
    }
    writeln!(
        o,
        "\n### Does the SDK trust the local CA through `SSL_CERT_FILE`?\n\n{trust}"
    )
    .ok();
    o
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-coldstart: {e}");
            std::process::exit(2);
        }
    };
    let machine_desc = machine::describe();
    eprintln!("bench-coldstart: {machine_desc}");
    let started = Instant::now();
    let build = if args.build || args.smoke {
        match run_build(&args) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("bench-coldstart: {e}");
                std::process::exit(1);
            }
        }
    } else {
        None
    };
    for f in &args.functions {
        let b = binary(&args, f);
        if !b.is_file() {
            eprintln!(
                "bench-coldstart: {} is missing: build it with `cargo lambda build --release --x86-64 -p {f}` (or pass --build)",
                b.display()
            );
            std::process::exit(1);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(&args)) {
        Ok((results, trust, env_note)) => {
            let text = report(
                &args,
                &results,
                &trust,
                &build,
                started.elapsed(),
                &machine_desc,
                &env_note,
            );
            println!("{text}");
            if let Some(out) = &args.out {
                if let Err(e) = auction_bench::report::write(out, &text) {
                    eprintln!("bench-coldstart: cannot write {}: {e}", out.display());
                    std::process::exit(1);
                }
                eprintln!("bench-coldstart: wrote {}", out.display());
            }
        }
        Err(e) => {
            eprintln!("bench-coldstart: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args) -> Result<(Vec<FnResult>, String, String), String> {
    let work = std::env::temp_dir().join(format!("auction-bench-coldstart-{}", std::process::id()));
    let home = work.join("home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    let ca = LocalCa::generate()?;
    let bundle = work.join("ca-bundle.pem");
    ca.write_bundle(&bundle).map_err(|e| e.to_string())?;
    let moto_url = moto::endpoint();
    let moto_addr: SocketAddr = moto_url
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("moto endpoint {moto_url}: {e}"))?;
    let ddb = TlsProxy::start(ca.server_config.clone(), moto_addr)
        .await
        .map_err(|e| e.to_string())?;
    let stub = MgmtStub::start().await.map_err(|e| e.to_string())?;
    let mgmt = TlsProxy::start(ca.server_config.clone(), stub.addr)
        .await
        .map_err(|e| e.to_string())?;
    let logs = target_dir().join("bench-coldstart");
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let env_note = format!(
        "Endpoints: DynamoDB = moto_server {moto_url} behind a TLS proxy at {} ; Management API = a stub behind a TLS proxy at {} (rustls, ECDSA P-256 certificate from a throwaway CA made by rcgen; `SSL_CERT_FILE` = {} ({} bytes) + that CA). Env: AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256, AWS_REGION=us-east-1, dummy keys, AWS_EC2_METADATA_DISABLED=true, an empty HOME, RUST_LOG=info (logs in {}). Nothing limits CPU or memory the way Lambda's 256 MB (≈ 0.15 vCPU) does, so absolute times are far below Lambda's; the ratios are the point.",
        ddb.url(),
        mgmt.url(),
        auction_bench::tls_proxy::SYSTEM_BUNDLE,
        std::fs::metadata(auction_bench::tls_proxy::SYSTEM_BUNDLE).map(|m| m.len()).unwrap_or(0),
        logs.display()
    );
    let mut results = Vec::new();
    let mut fixtures = BTreeMap::new();
    let mut runs = Launcher {
        args,
        tls: vec![ddb.stats.clone(), mgmt.stats.clone()],
        counters: BTreeMap::new(),
    };
    for f in &args.functions {
        fixtures.insert(f.clone(), fixture().await?);
        results.push(FnResult {
            name: f.clone(),
            size: sizes(&binary(args, f)),
            on: Vec::new(),
            off: Vec::new(),
            long: None,
        });
    }
    let env_for = |f: &str, fx: &Fixture, warm_up: bool, trust: bool| {
        let mut env: Vec<(String, String)> = vec![
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{f}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/01/01/[$LATEST]bench".into(),
            ),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "AKIDBENCHCOLDSTART00".into()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "bench-secret-key-not-a-real-one".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("HOME", home.display().to_string()),
            ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
            ("TZ", ":UTC".into()),
            ("_HANDLER", "bootstrap".into()),
            ("RUST_LOG", "info".into()),
            ("TABLE_NAME", fx.table.clone()),
            ("JWT_SECRET", SECRET.into()),
            ("DYNAMODB_ENDPOINT", ddb.url()),
            ("WS_MANAGEMENT_ENDPOINT", mgmt.url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if trust {
            env.push(("SSL_CERT_FILE".into(), bundle.display().to_string()));
        }
        if !warm_up {
            env.push(("WARM_UP".into(), "false".into()));
        }
        env
    };
    let invocations = |f: &str| {
        if f == HELLO || f == "place-bid" {
            args.first_warm + 1
        } else {
            5
        }
    };
    for rep in 0..args.reps {
        for (i, f) in args.functions.iter().enumerate() {
            for warm_up in [true, false] {
                let fx = &fixtures[f];
                let env = env_for(f, fx, warm_up, true);
                let log = logs.join(format!("{f}.log"));
                let r = runs.launch(f, fx, env, log, invocations(f)).await?;
                eprintln!(
                    "rep {rep} {f:<15} warm-up {:<5} init {:>7.2} ms, first {:>7.2} ms, warm {:>6.2} ms, tls init {:?} first {:?}, {:?}",
                    warm_up,
                    ms(r.init),
                    r.first_ms(),
                    r.warm_median_ms(),
                    r.tls_init,
                    r.tls_first,
                    r.statuses
                );
                if warm_up {
                    results[i].on.push(r);
                } else {
                    results[i].off.push(r);
                }
            }
        }
    }
    for (i, f) in args.functions.iter().enumerate() {
        let fx = &fixtures[f];
        let env = env_for(f, fx, true, true);
        let log = logs.join(format!("{f}.log"));
        let r = runs.launch(f, fx, env, log, args.warm).await?;
        eprintln!(
            "{f:<15} {} invocations: warm median {:.2} ms, VmHWM {:?} KiB, {:?}",
            args.warm,
            r.warm_median_ms(),
            r.vm_hwm_kib,
            r.statuses
        );
        results[i].long = Some(r);
    }
    let posts_before = stub.posts.load(Ordering::SeqCst);
    // Negative control: place-bid without SSL_CERT_FILE must fail its handshakes (and so cannot store bids).
    let trust = if let Some(fx) = fixtures.get("place-bid") {
        let env = env_for("place-bid", fx, true, false);
        let log = logs.join("place-bid-untrusted.log");
        let r = runs.launch("place-bid", fx, env, log, 1).await?;
        let with = results
            .iter()
            .find(|r| r.name == "place-bid")
            .and_then(|r| r.on.first())
            .map(|c| (c.tls_init.clone(), c.statuses.clone()));
        format!(
            "With `SSL_CERT_FILE` (first warm-up cold start): handshakes during init (ok, failed) per endpoint (DynamoDB, Mgmt) = {:?}, answers {:?}. \
             Without it (same binary, same endpoints, one cold start): {:?} during init, {:?} during the bid, answer {:?} (503 = DynamoDB unreachable: the certificate was refused). \
             So `rustls-native-certs` (used by aws-smithy-http-client's rustls client) honours `SSL_CERT_FILE`, and the numbers above include real TLS handshakes. \
             Fan-out posts received by the Management API stub during the whole run: {posts_before}.",
            with.as_ref().map(|w| &w.0),
            with.as_ref().map(|w| &w.1),
            r.tls_init,
            r.tls_first,
            r.statuses
        )
    } else {
        "(place-bid not measured)".into()
    };
    let _ = std::fs::remove_dir_all(&work);
    Ok((results, trust, env_note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use auction_bench::cli::parse_line;

    #[test]
    fn flags_parse_as_documented() {
        // scripts/bench.sh, bench/results/coldstart.md
        let c: Cli = parse_line("bench-coldstart --build --out bench/results/coldstart.md --functions place-bid,ws-connect --reps 3 --warm 100 --first-warm 5").unwrap();
        assert!(c.build && !c.smoke);
        assert_eq!(
            c.functions,
            Some(vec!["place-bid".into(), "ws-connect".into()])
        );
        assert_eq!(
            (c.reps, c.warm, c.first_warm),
            (Some(3), Some(100), Some(5))
        );
        let c: Cli = parse_line("bench-coldstart --label -O3 --smoke").unwrap();
        assert_eq!(c.label.as_deref(), Some("-O3"));
    }
}
