//! `auction-local`: the whole live auction on this machine. See `--help`.

use clap::Parser;
use local_stack::{Options, StoreChoice};
use std::path::PathBuf;
use std::time::Duration;

/// Run the live auction locally: HTTP API, WebSocket API, Management API and schedule emulation around the
/// same handlers the Lambda functions run, with the web client at the printed URL.
#[derive(Debug, Parser)]
#[command(name = "auction-local", version)]
struct Cli {
    /// Address to listen on. Dev tokens are refused on non-loopback addresses unless --allow-dev-tokens.
    #[arg(long, default_value = "127.0.0.1", env = "AUCTION_HOST")]
    host: std::net::IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 3000, env = "AUCTION_PORT")]
    port: u16,
    /// Where the embedded store (auction.db) and the generated JWT secret live; survives restarts.
    #[arg(long, default_value = ".local-data", env = "AUCTION_DATA_DIR")]
    data_dir: PathBuf,
    /// Use the DynamoDB adapter at this endpoint (e.g. moto_server) instead of the embedded store.
    #[arg(long, env = "DYNAMODB_ENDPOINT")]
    dynamodb_endpoint: Option<String>,
    /// Use the DynamoDB adapter against real AWS (usual credential chain) instead of the embedded store.
    #[arg(long, conflicts_with = "dynamodb_endpoint")]
    aws: bool,
    /// DynamoDB table name (created if missing).
    #[arg(long, default_value = "live-auction-local", env = "TABLE_NAME")]
    table: String,
    /// How often the close function runs, in milliseconds (EventBridge schedule emulation).
    #[arg(long, default_value_t = 1000)]
    schedule_ms: u64,
    /// HS256 secret (at least 32 bytes). Default: generated once into <data-dir>/jwt-secret.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    jwt_secret: Option<String>,
    /// Disable the local-only POST /dev/token endpoint.
    #[arg(long)]
    no_dev_tokens: bool,
    /// Allow POST /dev/token even when listening on a non-loopback address or with --aws (off by default
    /// there: a dev token is an admin of whatever store the stack uses).
    #[arg(long)]
    allow_dev_tokens: bool,
    /// Folder of the web client served at / (default: web/ in the source tree).
    #[arg(long)]
    web_dir: Option<PathBuf>,
    /// Management API calls in flight at once, across every fan-out of the process.
    #[arg(long, default_value_t = 256)]
    fanout_concurrency: usize,
    /// Posts per second one auction's deliveries may make (PUBLISH_POSTS_PER_SECOND). The emulated Management
    /// API has no account quota to share, so the default does not pace; set it to see AWS's pacing.
    #[arg(long, env = "PUBLISH_POSTS_PER_SECOND", default_value_t = 1_000_000)]
    publish_posts_per_second: u32,
    /// Bids one user may place per 10 s window (BID_RATE_LIMIT; a load generator bidding as few users needs more)
    #[arg(long, env = "BID_RATE_LIMIT", default_value_t = 20)]
    bid_rate_limit: u32,
    /// The coalescing window in ms (PUBLISH_WINDOW_MS)
    #[arg(long, env = "PUBLISH_WINDOW_MS", default_value_t = 250)]
    publish_window_ms: u64,
    /// Deliver through the HTTP Management API emulation with the production SDK adapter (as a Lambda does)
    /// instead of in process.
    #[arg(long)]
    management_over_http: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    auction::telemetry::init_local();
    let cli = Cli::parse();
    let mut opts = Options::new(cli.data_dir.clone());
    opts.host = cli.host;
    opts.port = cli.port;
    opts.schedule = Duration::from_millis(cli.schedule_ms.max(50));
    opts.jwt_secret = cli.jwt_secret;
    opts.dev_tokens =
        local_stack::dev_tokens_enabled(cli.host, cli.aws, cli.no_dev_tokens, cli.allow_dev_tokens);
    if let Some(dir) = cli.web_dir {
        opts.web_dir = Some(dir);
    }
    opts.settings.fanout_concurrency = cli.fanout_concurrency.max(1);
    opts.management_over_http = cli.management_over_http;
    opts.settings.publish_posts_per_second = cli.publish_posts_per_second.max(1);
    opts.settings.publish_window = Duration::from_millis(cli.publish_window_ms);
    opts.settings.limits.bid_rate_limit = cli.bid_rate_limit.max(1);
    opts.store = match (cli.dynamodb_endpoint, cli.aws) {
        (Some(endpoint), _) => StoreChoice::DynamoDb {
            endpoint: Some(endpoint),
            table: cli.table,
        },
        (None, true) => StoreChoice::DynamoDb {
            endpoint: None,
            table: cli.table,
        },
        (None, false) => StoreChoice::Sqlite,
    };
    let store_desc = match &opts.store {
        StoreChoice::Sqlite => format!(
            "embedded SQLite at {}",
            cli.data_dir.join("auction.db").display()
        ),
        StoreChoice::DynamoDb {
            endpoint: Some(e),
            table,
        } => format!("DynamoDB table {table} at {e}"),
        StoreChoice::DynamoDb {
            endpoint: None,
            table,
        } => format!("DynamoDB table {table} on AWS"),
    };
    let running = match local_stack::start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("auction-local: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!();
    println!("  Live auction running");
    println!("    Web client     {}/", running.http_url);
    println!("    HTTP API       {}", running.http_url);
    println!("    WebSocket API  {}?auctionId=…&ticket=…", running.ws_url);
    println!(
        "    Management API {}/@connections/{{id}}",
        running.http_url
    );
    println!("    Store          {store_desc}");
    println!("  Ctrl-C to stop.");
    println!();
    stop_signal().await;
    tracing::info!("shutting down: closing sockets, finishing in-flight requests");
    running.shutdown().await;
    tracing::info!("stopped");
    std::process::ExitCode::SUCCESS
}

/// Ctrl-C (SIGINT) or SIGTERM (what `kill`, systemd and container runtimes send): both stop cleanly.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM handler not installed; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
