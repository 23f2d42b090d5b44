//! The local stack: the whole live auction on one machine, with the *same handler code* the Lambdas run.
//!
//! - **HTTP API emulation**: each request becomes an API Gateway HTTP API (payload v2) event and goes through
//!   `lambda_http`'s own event parser into the real handler.
//! - **WebSocket API emulation**: `ws://…/ws?auctionId=…&token=…`; one connection id per socket; `$connect`,
//!   `$default` and `$disconnect` events in API Gateway's shape go to the real handlers; a refused `$connect`
//!   refuses the upgrade with its status.
//! - **Management API emulation**: `POST|GET|DELETE /@connections/{id}`, 410 for unknown ids, API Gateway's
//!   128 KB message and 32 KB frame limits. The production broadcaster (aws-sdk-apigatewaymanagement) posts
//!   here unchanged.
//! - **Schedule emulation**: the close run on a timer.
//! - **TTL emulation** (embedded store only): expired connections and idempotency records are deleted on a
//!   timer, as DynamoDB's TTL deletes them in AWS.
//! - **Dev identity**: `POST /dev/token` mints tokens for a name and role; refused unless enabled.

mod bridge;
mod management;
mod sockets;

use auction::auth::{TokenIssuer, TokenVerifier};
use auction::broadcast::apigw::ApiGatewayBroadcaster;
use auction::config::Settings;
use auction::domain::{validate_text, Role, MAX_NAME_LEN};
use auction::handlers::{close, App};
use auction::ports::{AuctionStore, Clock, ConnectionStore, SystemClock};
use auction::store::dynamodb::{self, DynamoStore};
use auction::store::sqlite::{SqliteStore, Swept};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;
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
    sockets: Arc<sockets::Registry>,
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
    pub app: App<S, ApiGatewayBroadcaster>,
    pub sockets: Arc<sockets::Registry>,
    pub issuer: TokenIssuer,
    pub dev_tokens: bool,
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
            // The embedded store's stand-in for DynamoDB TTL.
            let sweeper = spawn_every(every, running.stop.subscribe(), move || {
                let store = store.clone();
                async move { sweep_expired(&store).await }
            });
            running.tasks.push(sweeper);
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

/// Run `job` now and then every `period` (a late run delays the next, never doubles up) until `stop` changes.
fn spawn_every<F, Fut>(period: Duration, mut stop: watch::Receiver<bool>, job: F) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => job().await,
                _ = stop.changed() => break,
            }
        }
    })
}

async fn sweep_expired(store: &SqliteStore) {
    match store.sweep_expired(SystemClock.now_millis()).await {
        Ok(s) if s != Swept::default() => tracing::info!(
            connections = s.connections,
            idempotency_records = s.idempotency_records,
            "ttl: expired rows deleted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "ttl: sweep failed"),
    }
}

fn load_or_create_secret(dir: &std::path::Path) -> Result<String, StartError> {
    let path = dir.join("jwt-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        if s.trim().len() >= auction::auth::MIN_SECRET_LEN {
            return Ok(s.trim().to_owned());
        }
    }
    use rand::distr::{Alphanumeric, SampleString};
    let s = Alphanumeric.sample_string(&mut rand::rng(), 48);
    std::fs::write(&path, &s).map_err(|source| StartError::DataDir {
        path: path.clone(),
        source,
    })?;
    Ok(s)
}

async fn serve<S>(store: S, opts: Options, secret: String) -> Result<Running, StartError>
where
    S: AuctionStore + ConnectionStore + Clone + 'static,
{
    let addr = SocketAddr::new(opts.host, opts.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let http_url = format!("http://{addr}");
    let ws_url = format!("ws://{addr}/ws");

    // The production Management API adapter, pointed at this process's own emulation of it.
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "local-stack"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let broadcaster = ApiGatewayBroadcaster::new(&sdk, &http_url, opts.settings.longest_call());
    let secret = SecretString::from(secret.clone());
    let verifier = TokenVerifier::new(&secret)?;
    let issuer = TokenIssuer::new(&secret)?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let stack = Arc::new(Stack {
        app: App::new(
            store,
            broadcaster,
            verifier,
            Arc::new(SystemClock),
            opts.settings.clone(),
        ),
        sockets: Arc::new(sockets::Registry::default()),
        issuer,
        dev_tokens: opts.dev_tokens,
        http_url: http_url.clone(),
        ws_url: ws_url.clone(),
        stop: stop_rx.clone(),
    });

    let mut router = Router::new()
        .route("/config.json", get(config_json::<S>))
        .route("/dev/token", post(dev_token::<S>))
        .route("/ws", get(sockets::upgrade::<S>))
        .route("/@connections/{id}", any(management::connection::<S>))
        .route("/auctions", any(bridge::http_api::<S>))
        .route("/auctions/{*rest}", any(bridge::http_api::<S>));
    if let Some(dir) = &opts.web_dir {
        router = router.fallback_service(
            tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html"))),
        );
    }
    let router = router
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
        )
        .with_state(stack.clone());

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

    let sched_stack = stack.clone();
    let scheduler = spawn_every(opts.schedule, stop_rx.clone(), move || {
        let stack = sched_stack.clone();
        async move {
            match close::run(&stack.app).await {
                Ok(r) if !r.closed.is_empty() || !r.recovered.is_empty() => {
                    tracing::info!(closed = ?r.closed, recovered = ?r.recovered, "schedule: auctions closed");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "schedule: close run failed"),
            }
        }
    });

    tracing::info!(%http_url, %ws_url, "local stack listening");
    Ok(Running {
        addr,
        http_url,
        ws_url,
        jwt_secret: secret_string(&secret),
        sockets: stack.sockets.clone(),
        stop: stop_tx,
        tasks: vec![scheduler, server],
    })
}

fn secret_string(s: &SecretString) -> String {
    use secrecy::ExposeSecret;
    s.expose_secret().to_owned()
}

async fn config_json<S>(State(st): State<Arc<Stack<S>>>) -> Response {
    Json(json!({ "httpUrl": st.http_url, "wsUrl": st.ws_url, "devTokens": st.dev_tokens }))
        .into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    name: String,
    role: Role,
}

/// Local-only identity: a token for a name and role. The user id is derived from the name, so the same name
/// is the same user across restarts.
async fn dev_token<S>(State(st): State<Arc<Stack<S>>>, body: axum::body::Bytes) -> Response {
    let error = |status: u16, code: &str, message: &str| {
        (
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST),
            Json(json!({ "error": code, "message": message })),
        )
            .into_response()
    };
    if !st.dev_tokens {
        return error(404, "not_found", "dev tokens are disabled");
    }
    let Ok(req) = serde_json::from_slice::<TokenRequest>(&body) else {
        return error(
            422,
            "validation_failed",
            "expected {\"name\": string, \"role\": \"bidder\"|\"seller\"|\"admin\"}",
        );
    };
    let Ok(name) = validate_text("name", &req.name, MAX_NAME_LEN, true) else {
        return error(422, "validation_failed", "name must be 1 to 64 characters");
    };
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let user_id = format!("u-{}", slug.trim_matches('-'));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let token = st
        .issuer
        .mint_for(&user_id, &name, req.role, now, 12 * 3600);
    Json(json!({ "token": token, "userId": user_id, "name": name, "role": req.role }))
        .into_response()
}
