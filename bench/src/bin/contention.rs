//! `bench-contention`: K concurrent bidders on one auction through the bid handler, against the embedded
//! store (SQLite file, durable; optionally in memory) and DynamoDB's emulator (moto_server with its request
//! lock). Reports accepted/refused bids per second and handler latency, checks the auction's invariants after
//! every run (a violation exits 1), and works out DynamoDB capacity per bid from real item sizes.
//!
//! ```text
//! cargo run --release -p auction-bench --bin bench-contention                 # full: K=50,200,500 × 3 runs
//! cargo run -p auction-bench --bin bench-contention -- --smoke                # CI: K=20, short, 1 run
//! options: --runs N  --secs S  --bidders 50,200,500  --stores file,memory,moto  --out FILE
//! ```
//! Needs `moto_server` (`.venv/bin/moto_server`, see `tests/src/moto.rs`) for the `moto` store.

use auction::store::sqlite::SqliteStore;
use auction_bench::cli::num;
use auction_bench::contention::{self, item_size, rcu, wcu, RunConfig, RunResult};
use auction_bench::machine;
use auction_bench::stats::Summary;
use auction_tests::harness::TestApp;
use auction_tests::moto;
use aws_sdk_dynamodb::types::AttributeValue;
use clap::{ArgAction, Parser};
use serde_json::json;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Store {
    File,
    Memory,
    Moto,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::File => "embedded (SQLite file, synchronous=FULL)",
            Store::Memory => "embedded (SQLite in memory)",
            Store::Moto => "moto_server (request lock)",
        }
    }
    /// The clap value parser of `--stores`.
    fn parse(s: &str) -> Result<Store, String> {
        match s.trim() {
            "file" => Ok(Store::File),
            "memory" => Ok(Store::Memory),
            "moto" => Ok(Store::Moto),
            _ => Err(format!("unknown store {s}")),
        }
    }
}

/// bench-contention: K concurrent bidders on one auction through the bid handler, per store.
#[derive(Parser, Debug)]
#[command(name = "bench-contention", args_override_self = true)]
struct Cli {
    /// K=20, 1 s, stores file,moto, 1 run (each unless given)
    #[arg(long)]
    smoke: bool,
    /// Runs per (K, store) [default: 3; --smoke: 1]
    #[arg(long, value_name = "N", value_parser = num::<usize>)]
    runs: Option<usize>,
    /// Seconds of bidding per run [default: 5; --smoke: 1]
    #[arg(long, value_name = "S", value_parser = num::<f64>)]
    secs: Option<f64>,
    /// Concurrent bidders K, comma-separated [default: 50,200,500; --smoke: 20]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = num::<usize>,
          action = ArgAction::Set)]
    bidders: Option<Vec<usize>>,
    /// Stores, comma-separated: file, memory, moto [default: file,memory,moto; --smoke: file,moto]
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = Store::parse,
          action = ArgAction::Set)]
    stores: Option<Vec<Store>>,
    /// Write the markdown report here [default: none]
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

struct Args {
    smoke: bool,
    runs: usize,
    secs: f64,
    bidders: Vec<usize>,
    stores: Vec<Store>,
    out: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let c = Cli::parse();
    // Defaults; `--smoke` changes each one that was not given.
    let (runs, secs, bidders, stores) = if c.smoke {
        (1, 1.0, vec![20], vec![Store::File, Store::Moto])
    } else {
        (
            3,
            5.0,
            vec![50, 200, 500],
            vec![Store::File, Store::Memory, Store::Moto],
        )
    };
    let a = Args {
        smoke: c.smoke,
        runs: c.runs.unwrap_or(runs),
        secs: c.secs.unwrap_or(secs),
        bidders: c.bidders.unwrap_or(bidders),
        stores: c.stores.unwrap_or(stores),
        out: c.out,
    };
    if a.runs == 0 || a.bidders.is_empty() || a.stores.is_empty() || a.secs <= 0.0 {
        return Err("nothing to run".into());
    }
    Ok(a)
}

fn temp_db(n: usize) -> PathBuf {
    std::env::temp_dir().join(format!(
        "auction-bench-contention-{}-{n}.db",
        std::process::id()
    ))
}

fn remove_db(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

async fn one_run(store: Store, cfg: RunConfig, n: usize) -> Result<RunResult, String> {
    match store {
        Store::File => {
            let path = temp_db(n);
            remove_db(&path);
            let s =
                SqliteStore::open(&path).map_err(|e| format!("open {}: {e}", path.display()))?;
            let r = contention::run(Arc::new(TestApp::with_store(s)), cfg).await;
            remove_db(&path);
            r
        }
        Store::Memory => {
            let s = SqliteStore::in_memory().map_err(|e| e.to_string())?;
            contention::run(Arc::new(TestApp::with_store(s)), cfg).await
        }
        Store::Moto => {
            let s = moto::fresh_table().await;
            contention::run(Arc::new(TestApp::with_store(s)), cfg).await
        }
    }
}

struct Row {
    store: Store,
    k: usize,
    /// Share of maxima among the requests (0: plain bids only).
    max_share: f64,
    runs: Vec<RunResult>,
}

/// The maxima run of each (K, store): this share of the requests are `{"maxAmount"}`.
const MAX_SHARE: f64 = 0.3;

fn mix(max_share: f64) -> String {
    if max_share > 0.0 {
        format!("{:.0} % maxima", max_share * 100.0)
    } else {
        "plain".to_string()
    }
}

/// Item sizes of a real auction in moto (the bench's auction, and one with a maximal 4,000-byte
/// description), and of its BID#/IDEM# items.
/// The capacity table (markdown) and the WCU figures behind it.
type Capacity = (String, Vec<Cap>);

/// Capacity per bid of one auction shape (the read-and-transact write of issue 13).
struct Cap {
    label: &'static str,
    /// WCU of one write of the META item (before or after, the larger).
    a: u64,
    /// RCU of the consistent read of the META item every bid starts with.
    read: u64,
    /// WCU of an accepted bid's transaction: every item at twice its WCU (transactional writes).
    accepted: u64,
    accepted_keyed: u64,
}

async fn capacity_probe() -> Result<Capacity, String> {
    let store = moto::fresh_table().await;
    let table = store.table_name().to_owned();
    let t = TestApp::with_store(store);
    let client = moto::dynamodb_client().await;
    let get = |pk: String, sk: String| {
        let client = client.clone();
        let table = table.clone();
        async move {
            client
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk))
                .key("sk", AttributeValue::S(sk))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| format!("GetItem: {e}"))?
                .item
                .ok_or_else(|| "item not found".to_string())
        }
    };
    let mut out = String::new();
    let small = t.auction().await;
    let long = {
        let r = t
            .create(
                &t.seller(),
                json!({"title": "T".repeat(200), "description": "D".repeat(4000), "startingPrice": 10_000, "minIncrement": 100, "durationSeconds": 300}),
            )
            .await;
        r.body["auction"]["auctionId"]
            .as_str()
            .ok_or("create failed")?
            .to_owned()
    };
    let (b1, b2) = (t.bidder(1), t.bidder(2));
    let mut lines = Vec::new();
    for (label, id) in [
        ("bench auction (no description)", &small),
        ("4,000-byte description, 200-byte title", &long),
    ] {
        let before = item_size(&get(format!("AUCTION#{id}"), "META".into()).await?);
        // Two keyed bids by two bidders: the second one's items are a typical bid's.
        let r1 = t
            .bid_raw(
                Some(&b1),
                id,
                Some(json!({"amount": 10_000}).to_string()),
                Some("key-aaaaaaaa-0001"),
            )
            .await;
        let r2 = t
            .bid_raw(
                Some(&b2),
                id,
                Some(json!({"amount": 10_100}).to_string()),
                Some("key-bbbbbbbb-0002"),
            )
            .await;
        if r1.status != 201 || r2.status != 201 {
            return Err(format!("probe bids failed: {} {}", r1.status, r2.status));
        }
        let after = item_size(&get(format!("AUCTION#{id}"), "META".into()).await?);
        let bid = item_size(&get(format!("AUCTION#{id}"), format!("BID#{:020}", 2)).await?);
        let idem = item_size(
            &get(
                format!("AUCTION#{id}"),
                "IDEM#bidder-2#key-bbbbbbbb-0002".into(),
            )
            .await?,
        );
        let a = wcu(before.max(after));
        lines.push((label, before, after, bid, idem, a, wcu(bid), wcu(idem)));
    }
    writeln!(out, "| Auction | META item before / after a bid (B) | BID# item (B) | IDEM# record (B) | A = WCU of a META write | read of META (RCU, consistent) | accepted, no key | accepted, keyed | refused |").ok();
    writeln!(out, "|---|---|---|---|---|---|---|---|---|").ok();
    let mut caps = Vec::new();
    for (label, before, after, bid, idem, a, wb, wi) in lines {
        let read = rcu(before.max(after));
        let accepted = 2 * (a + wb);
        let accepted_keyed = accepted + 2 * wi;
        writeln!(
            out,
            "| {label} | {before} / {after} | {bid} | {idem} | {a} | {read} | {read} RCU + {accepted} WCU | {} RCU + {accepted_keyed} WCU | {read} RCU, no write |",
            read + 1
        )
        .ok();
        caps.push(Cap {
            label,
            a,
            read,
            accepted,
            accepted_keyed,
        });
    }
    Ok((out, caps))
}

/// Accepted bids/s one auction can sustain on one partition (1,000 WCU/s and 3,000 RCU/s), given `r` refused
/// bids per accepted one: every bid reads the META item (x·(1 + r)·read ≤ 3000), only accepted ones write
/// (x·accepted ≤ 1000); and the bound on the META item alone, which no split for heat can lift (x·2A ≤ 1000).
fn ceilings(rows: &[Row], caps: &[Cap]) -> String {
    let mut o = String::new();
    writeln!(o, "| Store the refusal ratio comes from | K | refused per accepted r (median) | Auction | accepted bids/s ceiling, one partition, no key | keyed | META-item-only ceiling (after a split for heat) |").ok();
    writeln!(o, "|---|---|---|---|---|---|---|").ok();
    let mut cases: Vec<(String, String, f64)> = Vec::new();
    for r in rows {
        let mut ratios: Vec<f64> = r
            .runs
            .iter()
            .map(|x| x.refused as f64 / x.accepted.max(1) as f64)
            .collect();
        let ratio = auction_bench::stats::percentile(&mut ratios, 50.0).unwrap_or(0.0);
        cases.push((
            format!("{} ({})", r.store.name(), mix(r.max_share)),
            r.k.to_string(),
            ratio,
        ));
    }
    for (store, k, ratio) in cases {
        for c in caps {
            // Every bid reads META; a keyed accepted one also reads its IDEM# record (1 RCU).
            let reads = 3000.0 / ((1.0 + ratio) * c.read as f64);
            let keyed_reads = 3000.0 / ((1.0 + ratio) * c.read as f64 + 1.0);
            writeln!(
                o,
                "| {store} | {k} | {ratio:.1} | {} | {:.0} | {:.0} | {:.0} |",
                c.label,
                (1000.0 / c.accepted as f64).min(reads),
                (1000.0 / c.accepted_keyed as f64).min(keyed_reads),
                (1000.0 / (2 * c.a) as f64).min(reads)
            )
            .ok();
        }
    }
    o
}

fn report(
    args: &Args,
    rows: &[Row],
    capacity: &Capacity,
    total: Duration,
    machine: &str,
) -> String {
    let mut o = String::new();
    writeln!(o, "# Contention: K concurrent bidders on one auction\n").ok();
    writeln!(
        o,
        "Generated by `bench-contention` ({}).\n",
        if args.smoke {
            "smoke mode"
        } else {
            "full mode"
        }
    )
    .ok();
    writeln!(o, "- Machine: {machine}").ok();
    writeln!(
        o,
        "- Command: `{}` (wall time {:.0} s)",
        machine::command_line(),
        total.as_secs_f64()
    )
    .ok();
    writeln!(o, "- Each run: a fresh auction (start 100.00, increment 1.00) on a fresh store, K bidder tasks on a 2-worker tokio runtime for {} s (at most 100,000 bids per bidder); each bidder bids the `minimumBid` of its last answer plus 0–2 increments, through `App::place_bid` with requests built from `events/place-bid.json` (no Idempotency-Key; JWT verified per request); no viewers. Latency is the handler call alone (request parsing excluded). {} run(s) per (K, store): median (min–max).", args.secs, args.runs).ok();
    writeln!(o, "- Invariants checked after every run (a violation aborts with exit 1): one accept per price level; accepted seqs are exactly 1..n; amounts strictly increasing by at least the increment in seq order; final price = max accepted; bidCount = seq = accepted count; the stored history's 20 most recent bids = the last 20 accepted. With maxima (each request a maximum with probability {:.0} %, up to 20 increments above the minimum; a maximum's answer is a bid by someone else): the stored history has seqs 1..n and never-falling amounts, bidCount = seq = n, the price is the last bid's. `accepted` counts 201 answers (a maximum may commit two bids, or none when a leader raises it). **All runs below passed.**\n", MAX_SHARE * 100.0).ok();
    writeln!(o, "| Store | K | bids | accepted bids/s | refused bids/s | refused per accepted | p50 latency (ms) | p99 latency (ms) | bids per run | other answers |").ok();
    writeln!(o, "|---|---|---|---|---|---|---|---|---|---|").ok();
    for r in rows {
        let f = |g: &dyn Fn(&RunResult) -> f64| {
            Summary::of(&r.runs.iter().map(g).collect::<Vec<_>>()).expect("runs")
        };
        let acc = f(&|x| x.accepted_per_s());
        let refd = f(&|x| x.refused_per_s());
        let ratio = f(&|x| x.refused as f64 / x.accepted.max(1) as f64);
        let p50 = f(&|x| x.percentile(50.0));
        let p99 = f(&|x| x.percentile(99.0));
        let bids = f(&|x| (x.accepted + x.refused) as f64);
        let mut other = std::collections::BTreeMap::new();
        for run in &r.runs {
            for (k, v) in &run.other {
                *other.entry(k.clone()).or_insert(0u64) += v;
            }
        }
        let other = if other.is_empty() {
            "none".to_string()
        } else {
            other
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.store.name(),
            r.k,
            mix(r.max_share),
            acc.show(0),
            refd.show(0),
            ratio.show(1),
            p50.show(2),
            p99.show(1),
            bids.show(0),
            other
        )
        .ok();
    }
    writeln!(
        o,
        "\n## DynamoDB capacity per bid (item sizes measured in moto)\n"
    )
    .ok();
    writeln!(o, "Sizes by DynamoDB's rules (attribute names + values; numbers ≈ 1 byte per 2 significant digits + 1). A bid reads the META item (consistent: 1 RCU per 4 KB) and is judged on it; a refusal ends there. An accepted bid is one TransactWriteItems of the META update (billed on the larger of the item before and after), the new BID# item and, keyed, the IDEM# record (read first: +1 RCU); transactional writes cost 2 WCU per KB per item. A transaction lost to a racing bid is judged again without a read. No gsi1 write: a bid does not change the index keys.\n").ok();
    o.push_str(&capacity.0);
    if !capacity.1.is_empty() {
        writeln!(o, "\n### What one hot auction can use of a partition\n").ok();
        writeln!(o, "META, BID# and IDEM# items share the partition key `AUCTION#id` (viewers are in their own shard partitions), and one partition takes at most 1,000 WCU/s and 3,000 RCU/s. With `r` refused bids per accepted one (the ratio measured above under each K), accepted bids/s ≤ min(1000 ÷ WCU per accepted, 3000 ÷ ((1 + r) × RCU per read)). The last column is the bound that nothing lifts: every accepted bid writes the one META item (2A WCU) and every bid reads it, and an item never spans partitions.\n").ok();
        o.push_str(&ceilings(rows, &capacity.1));
    }
    o
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench-contention: {e}");
            std::process::exit(2);
        }
    };
    let machine_desc = machine::describe();
    eprintln!("bench-contention: {machine_desc}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let result: Result<(Vec<Row>, Capacity), String> = rt.block_on(async {
        let mut rows = Vec::new();
        let mut n = 0;
        for &k in &args.bidders {
            for &store in &args.stores {
              for max_share in [0.0, MAX_SHARE] {
                let mut runs = Vec::new();
                for run in 0..args.runs {
                    n += 1;
                    let cfg = RunConfig {
                        bidders: k,
                        duration: Duration::from_secs_f64(args.secs),
                        max_bids_per_bidder: 100_000,
                        max_share,
                    };
                    let r = one_run(store, cfg, n).await.map_err(|e| {
                        format!("INVARIANT VIOLATED ({}, K={k}, run {}): {e}", store.name(), run + 1)
                    })?;
                    eprintln!(
                        "{:<45} K={k:<4} max {max_share:.1} run {}: {:>6} accepted {:>7} refused in {:.2} s, p50 {:.2} ms p99 {:.1} ms, other {:?}; invariants ok",
                        store.name(),
                        run + 1,
                        r.accepted,
                        r.refused,
                        r.elapsed.as_secs_f64(),
                        r.percentile(50.0),
                        r.percentile(99.0),
                        r.other
                    );
                    runs.push(r);
                }
                rows.push(Row { store, k, max_share, runs });
              }
            }
        }
        let capacity = if args.stores.contains(&Store::Moto) {
            capacity_probe()
                .await
                .unwrap_or_else(|e| (format!("(capacity probe failed: {e})\n"), Vec::new()))
        } else {
            ("(needs the moto store)\n".to_string(), Vec::new())
        };
        Ok((rows, capacity))
    });
    let (rows, capacity) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench-contention: {e}");
            std::process::exit(1);
        }
    };
    let text = report(&args, &rows, &capacity, started.elapsed(), &machine_desc);
    println!("{text}");
    if let Some(out) = &args.out {
        if let Err(e) = auction_bench::report::write(out, &text) {
            eprintln!("bench-contention: cannot write {}: {e}", out.display());
            std::process::exit(1);
        }
        eprintln!("bench-contention: wrote {}", out.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auction_bench::cli::parse_line;

    #[test]
    fn flags_parse_as_documented() {
        // scripts/bench.sh
        let c: Cli = parse_line("bench-contention --out bench/results/contention.md").unwrap();
        assert_eq!(c.out, Some(PathBuf::from("bench/results/contention.md")));
        assert_eq!((c.runs, c.bidders, c.stores), (None, None, None));
        let c: Cli =
            parse_line("bench-contention --smoke --bidders 50,200 --stores file,memory").unwrap();
        assert_eq!(c.bidders, Some(vec![50, 200]));
        assert_eq!(c.stores, Some(vec![Store::File, Store::Memory]));
        assert!(parse_line::<Cli>("bench-contention --stores file,disk").is_err());
    }
}
