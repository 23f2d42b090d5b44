//! WebSocket API emulation. Each socket gets an API Gateway-style connection id; `$connect`, `$default` and
//! `$disconnect` events in API Gateway's shape go to the real handlers: a socket becomes a `$connect` event in
//! [`upgrade`], a client frame a `$default` event in `on_message`, a closed socket a `$disconnect` event in
//! `disconnected`. [`Registry`] holds the live sockets the Management API emulation posts to.

use crate::Stack;
use auction::ports::{PushError, Store};
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Per-socket read buffer (see `upgrade`).
const READ_BUFFER_BYTES: usize = 4 * 1024;

/// Frames one socket may have queued before posts to it are answered 429 (a viewer that does not read).
const QUEUE_FRAMES: usize = 64;

/// What the Management API emulation asks a socket to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    Frame(Vec<u8>),
    Close,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tx: mpsc::Sender<Outgoing>,
    pub connected_at: i64,
    pub last_active_at: i64,
    pub source_ip: String,
    pub user_agent: String,
    /// The `auctionId` the socket asked for (for tests and logs).
    pub auction_id: String,
}

/// Live sockets by connection id.
#[derive(Default)]
pub(crate) struct Registry(Mutex<HashMap<String, Entry>>);

impl Registry {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
    pub fn insert(&self, id: &str, e: Entry) {
        self.with(|m| m.insert(id.to_owned(), e));
    }
    pub fn remove(&self, id: &str) -> Option<Entry> {
        self.with(|m| m.remove(id))
    }
    pub fn get(&self, id: &str) -> Option<Entry> {
        self.with(|m| m.get(id).cloned())
    }
    pub fn ids_for_auction(&self, auction_id: &str) -> Vec<String> {
        self.with(|m| {
            m.iter()
                .filter(|(_, e)| e.auction_id == auction_id)
                .map(|(k, _)| k.clone())
                .collect()
        })
    }
    /// PostToConnection's rules: 410 for an unknown socket, 413 past API Gateway's 128 KB, 429 when the
    /// socket's queue is full (a viewer that does not read).
    pub fn post(&self, id: &str, payload: Vec<u8>) -> Result<(), PushError> {
        if payload.len() > crate::MAX_MESSAGE_BYTES {
            return Err(PushError::PayloadTooLarge);
        }
        self.send(id, Outgoing::Frame(payload))
    }
    /// DeleteConnection: the socket task closes the socket and runs `$disconnect`.
    pub fn close(&self, id: &str) -> Result<(), PushError> {
        match self.send(id, Outgoing::Close) {
            Err(PushError::Throttled) => Ok(()),
            other => other,
        }
    }
    /// Queue `out` for the socket `id` (under the lock: no copy of the entry per post).
    fn send(&self, id: &str, out: Outgoing) -> Result<(), PushError> {
        self.with(|m| {
            let entry = m.get(id).ok_or(PushError::Gone)?;
            match entry.tx.try_send(out) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Full(_)) => Err(PushError::Throttled),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(PushError::Gone),
            }
        })
    }
    pub fn touch(&self, id: &str, now: i64) {
        self.with(|m| {
            if let Some(e) = m.get_mut(id) {
                e.last_active_at = now;
            }
        });
    }
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

/// An id shaped like API Gateway's (`L0SM9cOFvHcCIhw=`: base64 of 10 random bytes), URL-safe alphabet.
fn new_connection_id() -> String {
    let bytes: [u8; 10] = rand::random();
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

/// Which WebSocket route an event is for, with what that route carries.
pub(crate) enum WsRoute<'a> {
    Connect {
        query: &'a HashMap<String, String>,
        headers: &'a http::HeaderMap,
    },
    Message(&'a str),
    Disconnect,
}

/// A WebSocket event in API Gateway's shape.
pub(crate) fn ws_event(
    route: WsRoute<'_>,
    connection_id: &str,
    connected_at: i64,
    source: &str,
) -> Option<ApiGatewayWebsocketProxyRequest> {
    let (event_type, route_key) = match route {
        WsRoute::Connect { .. } => ("CONNECT", "$connect"),
        WsRoute::Message(_) => ("MESSAGE", "$default"),
        WsRoute::Disconnect => ("DISCONNECT", "$disconnect"),
    };
    let mut e = json!({
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": ulid::Ulid::generate().to_string(),
            "requestTime": "",
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": connected_at,
            "requestTimeEpoch": now_millis(),
            "identity": { "sourceIp": source },
            "requestId": ulid::Ulid::generate().to_string(),
            "domainName": "127.0.0.1",
            "connectionId": connection_id,
            "apiId": "local",
        },
        "isBase64Encoded": false,
    });
    match route {
        WsRoute::Connect { query, headers } => {
            let single: Map<String, Value> =
                query.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
            let multi: Map<String, Value> =
                query.iter().map(|(k, v)| (k.clone(), json!([v]))).collect();
            e["queryStringParameters"] = Value::Object(single);
            e["multiValueQueryStringParameters"] = Value::Object(multi);
            let hs: Map<String, Value> = headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), json!(v))))
                .collect();
            e["headers"] = Value::Object(hs);
        }
        WsRoute::Message(body) => {
            e["requestContext"]["messageId"] = json!(ulid::Ulid::generate().to_string());
            e["body"] = json!(body);
        }
        WsRoute::Disconnect => {
            e["requestContext"]["disconnectStatusCode"] = json!(1000);
            e["requestContext"]["disconnectReason"] = json!("");
        }
    }
    match serde_json::from_value(e) {
        Ok(ev) => Some(ev),
        Err(err) => {
            tracing::error!(error = %err, "could not build a WebSocket event");
            None
        }
    }
}

/// `GET /ws?auctionId=…&token=…`: run `$connect`; refuse the upgrade with its status, or upgrade.
pub(crate) async fn upgrade<S: Store>(
    State(st): State<Arc<Stack<S>>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    headers: http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let id = new_connection_id();
    let connected_at = now_millis();
    // Register before `$connect` runs, so a post that races the upgrade is queued, not answered 410.
    let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let source_ip = source.ip().to_string();
    st.sockets.insert(
        &id,
        Entry {
            tx,
            connected_at,
            last_active_at: connected_at,
            source_ip: source_ip.clone(),
            user_agent,
            auction_id: query.get("auctionId").cloned().unwrap_or_default(),
        },
    );
    let Some(event) = ws_event(
        WsRoute::Connect {
            query: &query,
            headers: &headers,
        },
        &id,
        connected_at,
        &source_ip,
    ) else {
        st.sockets.remove(&id);
        return http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let resp = st.app.ws_connect(event).await;
    if resp.status_code != 200 {
        st.sockets.remove(&id);
        let status = u16::try_from(resp.status_code)
            .ok()
            .and_then(|s| http::StatusCode::from_u16(s).ok())
            .unwrap_or(http::StatusCode::FORBIDDEN);
        tracing::info!(
            status = status.as_u16(),
            "websocket handshake refused by $connect"
        );
        return (
            status,
            axum::Json(json!({ "message": "Forbidden", "status": status.as_u16() })),
        )
            .into_response();
    }
    let failed_st = st.clone();
    let failed_id = id.clone();
    // Small buffers: a viewer only listens (client frames are at most 1 KB; the read buffer grows for a larger
    // one), and frames are written as they come. tungstenite's default is 128 KiB each way per socket.
    ws.max_frame_size(crate::MAX_FRAME_BYTES)
        .max_message_size(crate::MAX_MESSAGE_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .on_failed_upgrade(move |e| {
            tracing::warn!(error = %e, "websocket upgrade failed");
            let st = failed_st.clone();
            let id = failed_id.clone();
            tokio::spawn(async move { disconnected(&st, &id, connected_at).await });
        })
        .on_upgrade(move |socket| run(st, id, connected_at, socket, rx))
}

async fn run<S: Store>(
    st: Arc<Stack<S>>,
    id: String,
    connected_at: i64,
    socket: WebSocket,
    mut rx: mpsc::Receiver<Outgoing>,
) {
    tracing::debug!(connection_id = %id, "socket open");
    let (mut sink, mut stream) = socket.split();
    let mut stop = st.stop.clone();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(Outgoing::Frame(bytes)) => {
                    let msg = match String::from_utf8(bytes) {
                        Ok(text) => Message::Text(text.into()),
                        Err(e) => Message::Binary(e.into_bytes().into()),
                    };
                    if sink.send(msg).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => {
                    // DeleteConnection: the server closes the socket.
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1000, reason: "".into() }))).await;
                    break;
                }
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    st.sockets.touch(&id, now_millis());
                    on_message(&st, &id, connected_at, text.as_str()).await;
                }
                Some(Ok(Message::Binary(bytes))) => {
                    st.sockets.touch(&id, now_millis());
                    on_message(&st, &id, connected_at, &String::from_utf8_lossy(&bytes)).await;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => st.sockets.touch(&id, now_millis()),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    // Over API Gateway's frame or message limit, or a broken socket.
                    tracing::info!(error = %e, "socket error; closing");
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 1009, reason: "Message too big".into() }))).await;
                    break;
                }
            },
            _ = stop.changed() => {
                let _ = sink.send(Message::Close(Some(CloseFrame { code: 1001, reason: "Going away".into() }))).await;
                break;
            }
        }
    }
    disconnected(&st, &id, connected_at).await;
}

async fn on_message<S: Store>(st: &Stack<S>, id: &str, connected_at: i64, body: &str) {
    if let Some(event) = ws_event(WsRoute::Message(body), id, connected_at, "127.0.0.1") {
        let r = st.app.ws_default(event).await;
        tracing::debug!(connection_id = %id, status = r.status_code, "$default");
    }
}

async fn disconnected<S: Store>(st: &Stack<S>, id: &str, connected_at: i64) {
    st.sockets.remove(id);
    if let Some(event) = ws_event(WsRoute::Disconnect, id, connected_at, "127.0.0.1") {
        st.app.ws_disconnect(event).await;
    }
    tracing::debug!(connection_id = %id, "socket closed");
}
