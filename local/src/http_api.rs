//! HTTP API emulation: an HTTP request becomes the API Gateway HTTP API (payload format 2.0) event the
//! Lambda would receive, parsed by `lambda_http` itself, and goes to the same handler the Lambda runs.

use crate::Stack;
use auction::ports::Store;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// The routes of `template.yaml`'s HTTP API (a test compares the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    CreateAuction,
    ListAuctions,
    GetAuction,
    PlaceBid,
    EndAuction,
    /// The WebSocket connect ticket (served by the `place-bid` function).
    Ticket,
}

impl Route {
    pub const ALL: [Route; 6] = [
        Route::CreateAuction,
        Route::ListAuctions,
        Route::GetAuction,
        Route::PlaceBid,
        Route::EndAuction,
        Route::Ticket,
    ];

    /// API Gateway's route key: `METHOD /path`, `{id}` a path parameter.
    pub fn key(self) -> &'static str {
        match self {
            Route::CreateAuction => "POST /auctions",
            Route::ListAuctions => "GET /auctions",
            Route::GetAuction => "GET /auctions/{id}",
            Route::PlaceBid => "POST /auctions/{id}/bids",
            Route::EndAuction => "POST /auctions/{id}/end",
            Route::Ticket => "POST /auctions/{id}/ticket",
        }
    }
}

/// Match like API Gateway: method and path; `{id}` is one path segment.
pub fn route(method: &http::Method, path: &str) -> Option<(Route, Option<String>)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let r = match (method.as_str(), segments.as_slice()) {
        ("POST", ["auctions"]) => (Route::CreateAuction, None),
        ("GET", ["auctions"]) => (Route::ListAuctions, None),
        ("GET", ["auctions", id]) if !id.is_empty() => (Route::GetAuction, Some(id)),
        ("POST", ["auctions", id, "bids"]) if !id.is_empty() => (Route::PlaceBid, Some(id)),
        ("POST", ["auctions", id, "end"]) if !id.is_empty() => (Route::EndAuction, Some(id)),
        ("POST", ["auctions", id, "ticket"]) if !id.is_empty() => (Route::Ticket, Some(id)),
        _ => return None,
    };
    Some((r.0, r.1.map(|id| percent_decode(id))))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Build the v2 event for one request.
pub(crate) fn v2_event(
    route_key: &str,
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
    path_id: Option<&str>,
    source: SocketAddr,
    body: &[u8],
) -> Value {
    let mut hs = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        // API Gateway passes a header value it cannot read as ASCII on as it came (UTF-8): dropping it here
        // would turn a bid with an unreadable `Idempotency-Key` into an unkeyed one instead of a 422.
        let v = String::from_utf8_lossy(value.as_bytes());
        let v = v.as_ref();
        if name == http::header::COOKIE {
            cookies.extend(v.split(';').map(|c| json!(c.trim())));
            continue;
        }
        // API Gateway lower-cases header names and joins repeated headers with commas.
        match hs.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(v);
            }
            _ => {
                hs.insert(name.as_str().to_owned(), json!(v));
            }
        }
    }
    let raw_query = uri.query().unwrap_or("");
    let mut query = Map::new();
    for pair in raw_query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (
            percent_decode(&k.replace('+', " ")),
            percent_decode(&v.replace('+', " ")),
        );
        match query.get_mut(&k) {
            Some(Value::String(prev)) => {
                prev.push(',');
                prev.push_str(&v);
            }
            _ => {
                query.insert(k, json!(v));
            }
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64;
    let user_agent = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let host = headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": uri.path(),
        "rawQueryString": raw_query,
        "headers": hs,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host),
            "http": {
                "method": method.as_str(),
                "path": uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source.ip().to_string(),
                "userAgent": user_agent,
            },
            "requestId": ulid::Ulid::generate().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": "",
            "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    if let Some(id) = path_id {
        event["pathParameters"] = json!({ "id": id });
    }
    if !body.is_empty() {
        match std::str::from_utf8(body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    event
}

/// The published contract of the HTTP API (OpenAPI 3.1), as committed in `contract/` (a test keeps it equal to
/// what the types generate).
pub async fn openapi() -> Response {
    contract_document(include_str!("../../contract/openapi.json"))
}

/// The published contract of the WebSocket API (AsyncAPI 3.0), as committed in `contract/`.
pub async fn asyncapi() -> Response {
    contract_document(include_str!("../../contract/asyncapi.json"))
}

fn contract_document(text: &'static str) -> Response {
    ([(http::header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// The answer for an unknown route: 404 with the API's error shape (`not_found`) and API Gateway's own
/// `message`. Every path that is neither a route, the Management API, the dev endpoint nor a file of the web
/// client gets it, whatever the method.
pub(crate) fn not_found() -> Response {
    (
        http::StatusCode::NOT_FOUND,
        axum::Json(json!({ "error": "not_found", "message": "Not Found" })),
    )
        .into_response()
}

/// One request: match the route, build the event, run the function's handler, answer with its response.
pub(crate) async fn handle<S: Store>(
    State(st): State<Arc<Stack<S>>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let Some((matched, id)) = route(&parts.method, parts.uri.path()) else {
        return not_found();
    };
    // API Gateway HTTP APIs accept payloads up to 10 MB; the handlers refuse more than 16 KiB themselves.
    let Ok(body): Result<Bytes, _> = axum::body::to_bytes(body, 10 * 1024 * 1024).await else {
        return (
            http::StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(json!({ "message": "Request Entity Too Large" })),
        )
            .into_response();
    };
    let event = v2_event(
        matched.key(),
        &parts.method,
        &parts.uri,
        &parts.headers,
        id.as_deref(),
        source,
        &body,
    );
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "could not build the API Gateway event");
            return (
                http::StatusCode::BAD_REQUEST,
                axum::Json(json!({ "message": "Bad Request" })),
            )
                .into_response();
        }
    };
    let app = &st.app;
    let response = match matched {
        Route::CreateAuction => app.create_auction(request).await,
        Route::ListAuctions => app.list_auctions(request).await,
        Route::GetAuction => app.get_auction(request).await,
        Route::PlaceBid => app.place_bid(request).await,
        Route::EndAuction => app.end_auction(request).await,
        Route::Ticket => app.bid_or_ticket(request).await,
    };
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_keys_resolve_to_their_route_and_ids_are_decoded() {
        for r in Route::ALL {
            let (method, path) = r.key().split_once(' ').unwrap();
            let path = path.replace("{id}", "abc");
            let id = path.contains("abc").then(|| "abc".to_owned());
            assert_eq!(
                route(&method.parse().unwrap(), &path),
                Some((r, id)),
                "{}",
                r.key()
            );
        }
        let post = http::Method::POST;
        let get = http::Method::GET;
        assert_eq!(
            route(&post, "/auctions/a%23b/end"),
            Some((Route::EndAuction, Some("a#b".into())))
        );
        assert_eq!(route(&get, "/auctions/abc/bids"), None);
        assert_eq!(route(&get, "/auctions/"), None);
        assert_eq!(route(&http::Method::DELETE, "/auctions/abc"), None);
    }
}
