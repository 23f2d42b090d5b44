//! `bench-close`: the close on the second, on the local stack — from an auction's effective end (its `endsAt`
//! after every soft-close extension) to a viewer's receipt of `auction.ended`.
//!
//! N auctions on one in-process local stack (the embedded store, its close-timer task, its publisher), each
//! with one WebSocket viewer; durations 10–14 s, staggered. Every other auction gets a bid 2 s before its end,
//! which its 10 s soft close turns into an extension; the others are sudden death. Measured per auction:
//! `receipt − endsAt` at the viewer (both on this machine's clock), and the server's own lag
//! `endedAt − endsAt`. Loopback only, bounded (at most 200 auctions, one run ≈ 30 s). `--smoke`: 4 auctions,
//! no report.

use auction_bench::cli::{num, report_path};
use auction_bench::machine;
use auction_bench::stats::percentile;
use auction_tests::stack::{self, Client};
use clap::Parser;
use futures::StreamExt;
use local_stack::StoreChoice;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser, Debug)]
#[command(name = "bench-close", args_override_self = true)]
struct Cli {
    /// Auctions (half of them extended by a last-seconds bid), at most 200
    #[arg(long, value_parser = num::<usize>, default_value_t = 60)]
    auctions: usize,
    /// Report path (default bench/results/close.md; none for --smoke)
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    smoke: bool,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One auction's outcome: extended or not, the viewer's lag and the server's lag (ms).
struct Sample {
    extended: bool,
    viewer_ms: f64,
    server_ms: f64,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let n = if cli.smoke {
        4
    } else {
        cli.auctions.clamp(2, 200)
    };
    let stack = stack::start(StoreChoice::Sqlite).await;
    let c = Client::new(&stack);
    // A seller per 20 auctions and a bidder per auction: the stack's per-seller quota (25 open auctions) and
    // per-user bid rate stay out of the measurement.
    let mut sellers = Vec::new();
    for s in 0..n.div_ceil(20) {
        sellers.push(c.token(&format!("Seller {s}"), "seller").await);
    }

    let mut runs = Vec::new();
    for i in 0..n {
        let extended = i % 2 == 0;
        let (status, created) = c
            .post(
                "/auctions",
                &sellers[i / 20],
                json!({
                    "title": format!("Lot {i}"),
                    "startingPrice": 1_000,
                    "durationSeconds": 10 + (i % 5) as i64,
                    "softCloseSeconds": if extended { 10 } else { 0 },
                }),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["auction"]["auctionId"].as_str().unwrap().to_owned();
        let ends_at = created["auction"]["endsAt"].as_i64().unwrap();
        let viewer = c.token(&format!("Viewer {i}"), "bidder").await;
        let bidder = viewer.clone();
        let socket = stack::connect(&stack, &id, &viewer)
            .await
            .expect("viewer connects");
        // The viewer: the local time `auction.ended` arrived.
        let reader = tokio::spawn(async move {
            let (_, mut rx) = socket.split();
            while let Some(Ok(msg)) = rx.next().await {
                if let Message::Text(t) = msg {
                    if t.contains("\"auction.ended\"") {
                        return Some(now_ms());
                    }
                }
            }
            None
        });
        let (c2, id2) = (Client::new(&stack), id.clone());
        let bid = tokio::spawn(async move {
            if extended {
                tokio::time::sleep(Duration::from_millis(
                    (ends_at - 2_000 - now_ms()).max(0) as u64
                ))
                .await;
                let (s, b) = c2
                    .post(
                        &format!("/auctions/{id2}/bids"),
                        &bidder,
                        json!({"amount": 1_000}),
                    )
                    .await;
                assert_eq!(s, 201, "{b}");
            }
        });
        runs.push((id, extended, reader, bid));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    let mut samples = Vec::new();
    for (id, extended, reader, bid) in runs {
        bid.await.unwrap();
        let receipt = tokio::time::timeout(Duration::from_secs(40), reader)
            .await
            .expect("auction.ended within 40 s")
            .unwrap()
            .expect("auction.ended received");
        let (_, view) = c.get(&format!("/auctions/{id}")).await;
        let a: &Value = &view["auction"];
        let ends_at = a["endsAt"].as_i64().unwrap();
        let ended_at = a["endedAt"].as_i64().unwrap();
        samples.push(Sample {
            extended,
            viewer_ms: (receipt - ends_at) as f64,
            server_ms: (ended_at - ends_at) as f64,
        });
    }
    stack.shutdown().await;

    let mut out = String::new();
    let _ = writeln!(out, "# Close latency on the local stack (bench-close)\n");
    let _ = writeln!(out, "Machine: {}  ", machine::describe());
    let _ = writeln!(out, "Command: `{}`  ", machine::command_line());
    let _ = writeln!(
        out,
        "{n} auctions, one viewer each; every other one extended by a bid 2 s before its end (10 s soft close).\n"
    );
    let _ = writeln!(
        out,
        "| auctions | n | viewer p50 | p90 | p99 | max | server p50 | server max |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|");
    for (label, pick) in [
        ("all", None),
        ("extended", Some(true)),
        ("sudden death", Some(false)),
    ] {
        let chosen: Vec<&Sample> = samples
            .iter()
            .filter(|s| pick.is_none_or(|p| s.extended == p))
            .collect();
        let mut v: Vec<f64> = chosen.iter().map(|s| s.viewer_ms).collect();
        let mut sv: Vec<f64> = chosen.iter().map(|s| s.server_ms).collect();
        let p = |v: &mut Vec<f64>, q| percentile(v, q).unwrap_or(f64::NAN);
        let _ = writeln!(
            out,
            "| {label} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
            chosen.len(),
            p(&mut v, 50.0),
            p(&mut v, 90.0),
            p(&mut v, 99.0),
            p(&mut v, 100.0),
            p(&mut sv, 50.0),
            p(&mut sv, 100.0)
        );
    }
    let _ = writeln!(
        out,
        "\nviewer = the viewer's receipt of `auction.ended` − the auction's effective `endsAt`; server = `endedAt − endsAt`."
    );
    print!("{out}");
    if let Some(path) = report_path(cli.out, cli.smoke, "bench/results/close.md") {
        auction_bench::report::write(&path, &out).expect("write the report");
        eprintln!("report: {}", path.display());
    }
}
