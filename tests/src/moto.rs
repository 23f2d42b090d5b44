//! A DynamoDB endpoint for tests.
//!
//! - `DYNAMODB_TEST_ENDPOINT` set: that endpoint is used as is (DynamoDB Local, LocalStack, a moto server you
//!   started yourself, …). It must apply each conditional write atomically; a stock `moto_server` does not (see
//!   below), so prefer letting the tests start moto themselves.
//! - Otherwise `moto_server` is started once per test binary: `<workspace>/.venv/bin/moto_server` if it
//!   exists, else the first `moto_server` on `PATH`, bound to a free `127.0.0.1` port. It exits with the test
//!   process: it watches its stdin, a pipe held by this process, and exits at end-of-file.
//! - Neither available: the tests PANIC. A test that skips itself would be a check that cannot fail.
//!
//! # Why moto is started with a request lock
//!
//! `moto_server` serves each request on its own thread (werkzeug `threaded=True`), and moto's DynamoDB
//! `UpdateItem` reads the item, evaluates the ConditionExpression and applies the update with no lock. Under
//! concurrent requests two writers can both pass the same condition: with 200 concurrent identical
//! conditional updates against a stock `moto_server` 5.x we observed two successes, and even a lost update
//! (two successes, `seq` incremented once). Real DynamoDB serializes writes to one item, so the conformance
//! suite's concurrency case would fail for the emulator's sake, not the adapter's.
//!
//! The fix: the server is started with a `sitecustomize.py` on its `PYTHONPATH` (written to a temp directory
//! by this module, `scripts/moto/sitecustomize.py`, active only when `AUCTION_MOTO_SERIALIZE=1`) that wraps moto's WSGI
//! dispatcher in one process-wide lock, so every request is handled atomically, and marks every response
//! with an `x-auction-tests-serialized` header. The readiness probe refuses to run the tests unless that header
//! is present, so the patch can never silently be missing. Requests are still *sent* concurrently (the
//! suite keeps its 200 concurrent bids); the server just handles them one at a time, like DynamoDB does for
//! writes to a single item.

use auction::store::dynamodb::{create_table, DynamoStore};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Environment variable naming an already running DynamoDB-compatible endpoint.
pub const ENDPOINT_ENV: &str = "DYNAMODB_TEST_ENDPOINT";

const SERIALIZED_HEADER: &str = "x-auction-tests-serialized";

const SITECUSTOMIZE: &str = include_str!("../../scripts/moto/sitecustomize.py");

/// A moto server started by this process. Never dropped (it lives in a static): it exits when this process
/// exits and its stdin pipe closes.
struct MotoServer {
    url: String,
    _child: Mutex<Child>,
}

static MOTO: OnceLock<MotoServer> = OnceLock::new();
static TABLES: AtomicU64 = AtomicU64::new(0);

/// The DynamoDB endpoint URL: `DYNAMODB_TEST_ENDPOINT`, or a moto server started on first use.
/// Panics with instructions when neither is available.
pub fn endpoint() -> String {
    if let Ok(url) = std::env::var(ENDPOINT_ENV) {
        if !url.trim().is_empty() {
            let url = url.trim().to_owned();
            static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
            if let Err(e) = CHECKED.get_or_init(|| refuse_stock_moto(&url)) {
                panic!("{e}");
            }
            return url;
        }
    }
    MOTO.get_or_init(|| match start_moto() {
        Ok(server) => server,
        Err(reason) => panic!(
            "DynamoDB tests need an endpoint and none is available: {reason}.\n\
             Either set {ENDPOINT_ENV}=http://host:port (a DynamoDB-compatible endpoint that applies \
             conditional writes atomically), or install moto's server: \
             `python3 -m venv .venv && .venv/bin/pip install 'moto[server]'` in the workspace root \
             (or put `moto_server` on PATH)."
        ),
    })
    .url
    .clone()
}

/// A DynamoDB client for [`endpoint`]: region us-east-1, dummy credentials.
pub async fn dynamodb_client() -> Client {
    let url = endpoint();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "auction-tests",
        ))
        .endpoint_url(url)
        .load()
        .await;
    Client::new(&config)
}

/// A store on a new, uniquely named table (created with [`create_table`]).
pub async fn fresh_table() -> DynamoStore {
    let client = dynamodb_client().await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let name = format!(
        "auction-test-{}-{}-{}",
        std::process::id(),
        nanos,
        TABLES.fetch_add(1, Ordering::Relaxed)
    );
    if let Err(e) = create_table(&client, &name).await {
        panic!("cannot create DynamoDB table {name} at {}: {e}", endpoint());
    }
    DynamoStore::new(client, name)
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn find_moto_server() -> Option<PathBuf> {
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("moto_server"))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind a local port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the local port: {e}"))
}

fn start_moto() -> Result<MotoServer, String> {
    let exe = find_moto_server().ok_or_else(|| {
        format!(
            "{ENDPOINT_ENV} is not set and no moto_server was found in {} or on PATH",
            workspace_root().join(".venv/bin").display()
        )
    })?;
    let dir = std::env::temp_dir().join("auction-tests-moto");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    prune_old_logs(&dir);
    // Other test binaries may be writing the same file right now: write a private copy, then rename.
    let pid = std::process::id();
    let private = dir.join(format!("sitecustomize.py.{pid}"));
    std::fs::write(&private, SITECUSTOMIZE)
        .and_then(|()| std::fs::rename(&private, dir.join("sitecustomize.py")))
        .map_err(|e| format!("cannot write sitecustomize.py in {}: {e}", dir.display()))?;
    let python_path = match std::env::var_os("PYTHONPATH") {
        Some(existing) if !existing.is_empty() => {
            let mut paths = vec![dir.clone()];
            paths.extend(std::env::split_paths(&existing));
            std::env::join_paths(paths).map_err(|e| format!("bad PYTHONPATH: {e}"))?
        }
        _ => dir.clone().into_os_string(),
    };

    // The port is free when chosen but could be taken before moto binds it: retry a few times.
    let mut last_error = String::new();
    for attempt in 0..3 {
        let port = free_port()?;
        let log_path = dir.join(format!("moto-{pid}-{attempt}.log"));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("cannot clone log handle: {e}"))?;
        let mut child = Command::new(&exe)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONPATH", &python_path)
            .env("AUCTION_MOTO_SERIALIZE", "1")
            .env("AUCTION_MOTO_EXIT_WITH_STDIN", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;

        match wait_ready(&mut child, port) {
            Ok(()) => {
                return Ok(MotoServer {
                    url: format!("http://127.0.0.1:{port}"),
                    _child: Mutex::new(child),
                })
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                last_error = format!("{} (log: {}): {e}", exe.display(), log_path.display());
                if e.contains("serialization") {
                    break; // retrying cannot help
                }
            }
        }
    }
    Err(last_error)
}

/// Best effort: remove server logs of earlier runs (older than a day).
fn prune_old_logs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_log = entry.file_name().to_string_lossy().ends_with(".log");
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(24 * 3600));
        if is_log && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Wait until the server answers an HTTP request with the serialization marker.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto_server exited early ({status})"));
        }
        match probe(addr) {
            Ok(headers) => {
                return if headers.to_ascii_lowercase().contains(SERIALIZED_HEADER) {
                    Ok(())
                } else {
                    Err(format!(
                        "moto_server answered without the `{SERIALIZED_HEADER}` header: the request-serialization \
                         patch (sitecustomize.py on PYTHONPATH) is not active, and without it moto races \
                         concurrent conditional writes"
                    ))
                };
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("moto_server did not answer within 60 s: {e}")),
        }
    }
}

/// An external endpoint that is a stock `moto_server` (werkzeug answering `/moto-api/`) without the
/// serialization patch would make the concurrency cases fail at random: refuse it with the reason.
/// Other endpoints (DynamoDB Local, LocalStack, AWS) are not probed beyond one request.
fn refuse_stock_moto(url: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let Some(authority) = url
        .strip_prefix("http://")
        .map(|rest| rest.split('/').next().unwrap_or(rest))
    else {
        return Ok(());
    };
    let Some(addr) = authority.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return Ok(());
    };
    let Ok(head) = probe(addr) else { return Ok(()) };
    let head = head.to_ascii_lowercase();
    let is_moto = head.starts_with("http/1.0 200") || head.starts_with("http/1.1 200");
    if is_moto && head.contains("server: werkzeug") && !head.contains(SERIALIZED_HEADER) {
        return Err(format!(
            "{ENDPOINT_ENV}={url} is a stock moto_server. It handles requests on parallel threads and evaluates \
             DynamoDB ConditionExpressions without a lock, so concurrent conditional writes race (two bids can \
             both pass one condition) and the concurrency cases would fail at random. Unset {ENDPOINT_ENV} and \
             let the tests start moto themselves (from <workspace>/.venv/bin/moto_server or PATH): they start it \
             with a request lock (see tests/src/moto.rs)."
        ));
    }
    Ok(())
}

/// One HTTP/1.0 request; returns the response head.
fn probe(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET /moto-api/ HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    if head.starts_with("HTTP/1.") {
        Ok(head.to_owned())
    } else {
        Err(std::io::Error::other("not an HTTP response"))
    }
}
