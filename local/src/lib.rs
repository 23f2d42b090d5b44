//! The local stack: the whole live auction on one machine, with the *same handler code* the Lambdas run.
//! One module per AWS piece it stands in for:
//!
//! - [`http_api`] — **HTTP API**: each request becomes an API Gateway HTTP API (payload v2) event, parsed by
//!   `lambda_http`'s own event parser, and goes to the real handler.
//! - [`websocket_api`] — **WebSocket API**: `ws://…/ws?auctionId=…&token=…`; one connection id per socket;
//!   `$connect`, `$default` and `$disconnect` events in API Gateway's shape go to the real handlers; a
//!   refused `$connect` refuses the upgrade with its status.
//! - [`management_api`] — **Management API**: `POST|GET|DELETE /@connections/{id}`, SigV4-signed with the
//!   stack's per-run credentials, 410 for unknown ids, API Gateway's 128 KB message and 32 KB frame limits. The production broadcaster
//!   (aws-sdk-apigatewaymanagement) posts here unchanged.
//! - [`publisher`] — **SQS FIFO → the `publish` function**: the durable hand-off queue consumed by the same
//!   publisher code, one job per auction (and one per its viewer counts) at a time; slices of large audiences
//!   are delivered in process.
//! - [`close_timer`] — **Step Functions** (the close on the second): a timer per auction until its end, then
//!   the same `close_at_end` handler the state machine's task invokes.
//! - [`schedule`] — **EventBridge schedule**: the close run on a timer (the safety net).
//! - [`ttl`] — **DynamoDB TTL** (embedded store only): expired connections and idempotency records are
//!   deleted on a timer.
//! - [`dev_identity`] — **an identity provider**: `POST /dev/token` mints tokens for a name and role;
//!   refused unless enabled, and to other origins' pages.

pub mod close_timer;
pub mod dev_identity;
pub mod http_api;
pub mod management_api;
pub mod publisher;
pub mod schedule;
pub mod ttl;
pub mod websocket_api;

use auction::auth::{TokenIssuer, TokenVerifier};
use auction::broadcast::apigw::ApiGatewayBroadcaster;
use auction::close_timer::ChannelTimer;
use auction::config::Settings;
use auction::handlers::App;
use auction::handoff::embedded::EmbeddedHandOff;
use auction::ports::{Broadcaster, Store, SystemClock};
use auction::store::dynamodb::{self, DynamoStore};
use auction::store::sqlite::SqliteStore;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::json;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// API Gateway's WebSocket limits.
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;
pub const MAX_FRAME_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// The embedded store in `<data_dir>/auction.db`.
    Sqlite,
    /// DynamoDB at `endpoint` (moto_server, DynamoDB Local) or, with `None`, real AWS with the usual credentials.
    DynamoDb {
        endpoint: Option<String>,
        table: String,
    },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub host: std::net::IpAddr,
    /// 0 picks a free port.
    pub port: u16,
    pub data_dir: PathBuf,
    pub store: StoreChoice,
    /// How often the close function runs.
    pub schedule: Duration,
    /// How often the embedded store deletes expired connections and idempotency records (DynamoDB's TTL
    /// does this in AWS; ignored with DynamoDB).
    pub sweep: Duration,
    /// HS256 secret; `None` reads or creates `<data_dir>/jwt-secret`.
    pub jwt_secret: Option<String>,
    pub dev_tokens: bool,
    /// Static web client served at `/`.
    pub web_dir: Option<PathBuf>,
    /// How the stack's own publisher reaches the sockets: in process (default), or through the HTTP
    /// Management API emulation with the production SDK adapter (what a Lambda does; `--management-over-http`).
    pub management_over_http: bool,
    pub settings: Settings,
}

impl Options {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            host: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 3000,
            data_dir,
            store: StoreChoice::Sqlite,
            schedule: Duration::from_secs(1),
            sweep: Duration::from_secs(60),
            jwt_secret: None,
            dev_tokens: true,
            web_dir: Some(default_web_dir()),
            management_over_http: false,
            settings: Settings::default(),
        }
    }
}

/// `web/` next to this crate in the source tree.
pub fn default_web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] auction::ports::StoreError),
    #[error("JWT secret: {0}")]
    Secret(#[from] auction::auth::WeakSecret),
}

/// A running stack. Dropping it does not stop it: call [`Running::shutdown`].
pub struct Running {
    pub addr: SocketAddr,
    pub http_url: String,
    pub ws_url: String,
    /// The secret tokens are signed with (tests mint their own).
    pub jwt_secret: String,
    /// The credentials the Management API emulation accepts SigV4 signatures of (per run, never stored).
    pub management_credentials: aws_credential_types::Credentials,
    sockets: Arc<websocket_api::Registry>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Connection ids of the open sockets watching `auction_id`.
    pub fn connections_of(&self, auction_id: &str) -> Vec<String> {
        self.sockets.ids_for_auction(auction_id)
    }

    /// Stop accepting, close every socket cleanly, stop the schedule, wait for in-flight work.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

/// Everything the routes share.
pub(crate) struct Stack<S> {
    pub app: App<S, Arc<dyn Broadcaster>>,
    pub sockets: Arc<websocket_api::Registry>,
    pub issuer: TokenIssuer,
    pub dev_tokens: bool,
    pub management_credentials: management_api::ManagementCredentials,
    pub http_url: String,
    pub ws_url: String,
    pub stop: watch::Receiver<bool>,
}

/// Start the stack and return once it is listening.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| StartError::DataDir {
        path: opts.data_dir.clone(),
        source,
    })?;
    let secret = match &opts.jwt_secret {
        Some(s) => s.clone(),
        None => load_or_create_secret(&opts.data_dir)?,
    };
    match &opts.store {
        StoreChoice::Sqlite => {
            let store = SqliteStore::open(&opts.data_dir.join("auction.db"))?;
            let every = opts.sweep;
            let mut running = serve(store.clone(), opts, secret).await?;
            running
                .tasks
                .push(ttl::spawn(store, every, running.stop.subscribe()));
            Ok(running)
        }
        StoreChoice::DynamoDb { endpoint, table } => {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(e) = endpoint {
                // An emulator: any region and credentials will do, unless the environment sets them.
                loader = loader.endpoint_url(e).region(aws_config::Region::new(
                    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                ));
                if std::env::var("AWS_ACCESS_KEY_ID").is_err() {
                    loader =
                        loader.credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                            "local",
                            "local",
                            None,
                            None,
                            "local-stack",
                        ));
                }
            }
            let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
            dynamodb::create_table(&client, table).await?;
            serve(DynamoStore::new(client, table.clone()), opts, secret).await
        }
    }
}

fn load_or_create_secret(dir: &std::path::Path) -> Result<String, StartError> {
    let path = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= auction::auth::MIN_SECRET_LEN {
            // Rewritten, so a file an older version left readable by everyone (0644) becomes private too.
            write_private(&path, s.trim()).map_err(|source| StartError::DataDir {
                path: path.clone(),
                source,
            })?;
            return Ok(s.trim().to_owned());
        }
    }
    use rand::distr::{Alphanumeric, SampleString};
    let s = Alphanumeric.sample_string(&mut rand::rng(), 48);
    write_private(&path, &s).map_err(|source| StartError::DataDir {
        path: path.clone(),
        source,
    })?;
    Ok(s)
}

/// Write a file only its owner can read (0600 on Unix), also when it exists with wider permissions.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())
    }
    #[cfg(not(unix))]
    {
        options.open(path)?.write_all(contents.as_bytes())
    }
}

/// Whether `POST /dev/token` is on: never when disabled; on a loopback address by default, unless the stack
/// acts on real AWS (`--aws`: a dev token there is an admin on real data); otherwise only when allowed
/// explicitly (`--allow-dev-tokens`).
pub fn dev_tokens_enabled(
    host: std::net::IpAddr,
    aws: bool,
    disabled: bool,
    allowed: bool,
) -> bool {
    !disabled && (allowed || (host.is_loopback() && !aws))
}

async fn serve<S: Store>(store: S, opts: Options, secret: String) -> Result<Running, StartError> {
    let addr = SocketAddr::new(opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let http_url = format!("http://{addr}");
    let ws_url = format!("ws://{addr}/ws");

    // The production Management API adapter, pointed at this process's own emulation of it, signing with the
    // credentials the emulation checks.
    let management_credentials = management_api::ManagementCredentials::generate();
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            management_credentials.0.clone(),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let sockets = Arc::new(websocket_api::Registry::default());
    let broadcaster: Arc<dyn Broadcaster> = if opts.management_over_http {
        Arc::new(ApiGatewayBroadcaster::new(
            &sdk,
            &http_url,
            opts.settings.longest_call(),
        ))
    } else {
        Arc::new(management_api::DirectManagementApi(sockets.clone()))
    };
    let secret = SecretString::from(secret.clone());
    let verifier = TokenVerifier::new(&secret)?;
    let issuer = TokenIssuer::new(&secret)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let queue = EmbeddedHandOff::open(&opts.data_dir.join("handoff.db"))?;
    let (timer, armed) = ChannelTimer::new();
    let stack = Arc::new(Stack {
        app: App::new(
            store,
            broadcaster,
            verifier,
            Arc::new(SystemClock),
            opts.settings.clone(),
        )
        .with_hand_off(Arc::new(queue.clone()))
        .with_close_timer(Arc::new(timer)),
        sockets,
        issuer,
        dev_tokens: opts.dev_tokens,
        management_credentials: management_credentials.clone(),
        http_url: http_url.clone(),
        ws_url: ws_url.clone(),
        stop: stop_rx.clone(),
    });

    // CORS covers the HTTP API alone, as the template's does: `/dev/token`, `/config.json` and the Management
    // API answer no other origin's page (the dev endpoint also refuses one outright: dev_identity.rs).
    let api = Router::new()
        .route("/auctions", any(http_api::handle::<S>))
        .route("/auctions/", any(http_api::handle::<S>))
        .route("/auctions/{*rest}", any(http_api::handle::<S>))
        .layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([http::Method::GET, http::Method::POST, http::Method::OPTIONS])
                .allow_headers([
                    http::header::AUTHORIZATION,
                    http::header::CONTENT_TYPE,
                    http::HeaderName::from_static("idempotency-key"),
                ])
                .max_age(Duration::from_secs(600)),
        );
    let mut router = Router::new()
        .route("/config.json", get(config_json::<S>))
        .route("/openapi.json", get(http_api::openapi))
        .route("/asyncapi.json", get(http_api::asyncapi))
        .route("/dev/token", post(dev_identity::dev_token::<S>))
        .route("/ws", get(websocket_api::upgrade::<S>))
        .route("/@connections/{id}", any(management_api::connection::<S>))
        .merge(api)
        .method_not_allowed_fallback(not_found);
    // The web client's files, by GET or HEAD; anything else is an unknown route: 404 `not_found` (the client
    // routes with the URL's hash, so no path needs index.html in its place).
    router = match &opts.web_dir {
        Some(dir) => {
            let files = tower_http::services::ServeDir::new(dir)
                .not_found_service(axum::routing::any(not_found));
            router.fallback(axum::routing::get_service(files).fallback(not_found))
        }
        None => router.fallback(not_found),
    };
    let router = router.with_state(stack.clone());

    let mut stop_server = stop_rx.clone();
    let server = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_server.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        {
            tracing::error!(error = %e, "server error");
        }
    });

    let scheduler = schedule::spawn(stack.clone(), opts.schedule, stop_rx.clone());
    let publishing = publisher::spawn(stack.clone(), queue, stop_rx.clone());
    let timers = close_timer::spawn(stack.clone(), armed, stop_rx.clone());

    tracing::info!(%http_url, %ws_url, "local stack listening");
    Ok(Running {
        addr,
        http_url,
        ws_url,
        jwt_secret: secret_string(&secret),
        management_credentials: management_credentials.0.clone(),
        sockets: stack.sockets.clone(),
        stop: stop_tx,
        tasks: vec![scheduler, publishing, timers, server],
    })
}

async fn not_found() -> Response {
    http_api::not_found()
}

fn secret_string(s: &SecretString) -> String {
    use secrecy::ExposeSecret;
    s.expose_secret().to_owned()
}

async fn config_json<S>(State(st): State<Arc<Stack<S>>>) -> Response {
    Json(json!({ "httpUrl": st.http_url, "wsUrl": st.ws_url, "devTokens": st.dev_tokens }))
        .into_response()
}
