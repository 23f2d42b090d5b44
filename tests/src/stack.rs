//! Helpers for end-to-end tests against a running local stack: HTTP calls, dev tokens, WebSocket viewers.

use futures::{SinkExt, StreamExt};
use local_stack::{Options, Running, StoreChoice};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A stack on a free loopback port with a fresh data directory and a fast schedule.
pub async fn start(store: StoreChoice) -> Running {
    local_stack::start(options(store))
        .await
        .expect("local stack starts")
}

/// The options [`start`] uses, to change before starting.
pub fn options(store: StoreChoice) -> Options {
    let dir = std::env::temp_dir().join(format!("auction-e2e-{}", ulid::Ulid::generate()));
    let mut opts = Options::new(dir);
    opts.port = 0;
    opts.store = store;
    opts.schedule = Duration::from_millis(100);
    opts.web_dir = None;
    opts
}

pub struct Client {
    pub base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(stack: &Running) -> Self {
        Self {
            base: stack.http_url.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub async fn token(&self, name: &str, role: &str) -> String {
        let r = self
            .http
            .post(format!("{}/dev/token", self.base))
            .json(&json!({"name": name, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        let (status, answer) = self.send("POST", path, req.json(&body)).await;
        if (200..300).contains(&status) {
            crate::contract::check_request("POST", path, &body);
        }
        (status, answer)
    }

    /// A POST without a body (the ticket route takes none).
    pub async fn post_empty(&self, path: &str, token: &str) -> (u16, Value) {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token);
        self.send("POST", path, req).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send("GET", path, req).await
    }

    /// Send, and check the answer against the contract.
    async fn send(&self, method: &str, path: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let answer = r.json().await.unwrap_or(Value::Null);
        crate::contract::check_http(method, path, status, &answer);
        (status, answer)
    }
}

/// Open a viewer socket as the web client does (a ticket for the session token, then the socket with it);
/// `Err(status)` when either is refused.
pub async fn connect(stack: &Running, auction_id: &str, token: &str) -> Result<Socket, u16> {
    let (status, body) = Client::new(stack)
        .post_empty(&format!("/auctions/{auction_id}/ticket"), token)
        .await;
    let Some(ticket) = body["ticket"].as_str().filter(|_| status == 200) else {
        return Err(status);
    };
    connect_with_ticket(stack, auction_id, ticket).await
}

/// Open a viewer socket with this ticket (or anything in its place).
pub async fn connect_with_ticket(
    stack: &Running,
    auction_id: &str,
    ticket: &str,
) -> Result<Socket, u16> {
    let url = format!("{}?auctionId={auction_id}&ticket={ticket}", stack.ws_url);
    match tokio_tungstenite::connect_async(url).await {
        Ok((s, _)) => Ok(s),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket connect failed: {e}"),
    }
}

pub async fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::text(text)).await.unwrap();
}

/// What a viewer saw until the server closed its socket (or the deadline).
#[derive(Debug, Default)]
pub struct Seen {
    pub frames: Vec<Value>,
    pub closed_by_server: bool,
}

pub async fn read_until_closed(mut socket: Socket, deadline: Duration) -> Seen {
    let mut seen = Seen::default();
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match tokio::time::timeout_at(until, socket.next()).await {
            Err(_) => break,
            Ok(None) => break,
            Ok(Some(Ok(Message::Text(t)))) => {
                crate::contract::check_frame(t.as_bytes());
                seen.frames.push(serde_json::from_str(t.as_str()).unwrap())
            }
            Ok(Some(Ok(Message::Close(_)))) => {
                seen.closed_by_server = true;
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) => break,
        }
    }
    seen
}
