//! WebSocket API handlers: `$connect`, `$disconnect`, `$default`. Viewers only listen.
//!
//! `$connect` authenticates with `?auctionId=…&token=…` (browsers cannot set headers on a WebSocket) and
//! refuses the handshake with 401 / 404 / 410. `$default` never relays anything: the only accepted client
//! message is `{"action":"sync"}`, answered with the current `auction.status` to that one connection.

use super::App;
use crate::auth::AuthError;
use crate::domain::{AuctionId, Connection, ConnectionId};
use crate::fanout;
use crate::frames::{ClientMessage, Frame};
use crate::ports::{AuctionStore, Broadcaster, ConnectionStore, StoreError};
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;

pub fn ws_response(status: u16, message: &str) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status);
    r.body = Some(Body::Text(message.to_owned()));
    r
}

fn store_failure(e: &StoreError) -> ApiGatewayProxyResponse {
    tracing::error!(error = %e, "store failure");
    match e {
        StoreError::Throttled | StoreError::Unavailable(_) => {
            ws_response(503, "service unavailable")
        }
        _ => ws_response(500, "internal error"),
    }
}

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Option<ConnectionId> {
    event
        .request_context
        .connection_id
        .as_deref()
        .and_then(|c| ConnectionId::parse(c).ok())
}

/// `$connect`: 200 stores the viewer; 400 bad request, 401 bad token, 404 unknown auction, 410 ended.
pub async fn connect<S, B>(
    app: &App<S, B>,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    let Some(conn_id) = connection_id(&event) else {
        return ws_response(400, "missing connection id");
    };
    let query = &event.query_string_parameters;
    let principal = match app.verifier.verify(query.first("token")) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(code = e.code(), "connect refused: token");
            return ws_response(
                401,
                if e == AuthError::MissingToken {
                    "missing token"
                } else {
                    "invalid token"
                },
            );
        }
    };
    let Some(auction_id) = query
        .first("auctionId")
        .and_then(|a| AuctionId::parse(a).ok())
    else {
        return ws_response(400, "missing or invalid auctionId");
    };
    let now = app.now();
    let auction = match app.store.get_auction(&auction_id).await {
        Ok(Some(a)) => a,
        Ok(None) => return ws_response(404, "auction not found"),
        Err(e) => return store_failure(&e),
    };
    if !auction.is_open(now) {
        return ws_response(410, "auction has ended");
    }
    let conn = Connection {
        connection_id: conn_id,
        auction_id,
        user_id: principal.user_id,
        connected_at: now,
        expires_at: now / 1000 + app.settings.connection_ttl_secs,
    };
    if let Err(e) = app.store.add_connection(&conn).await {
        return store_failure(&e);
    }
    // The close lists viewers only after its transition. Re-reading after our write means either the
    // closer sees this connection (and revokes it) or we see the end here: no viewer is left behind.
    match app.store.get_auction(&conn.auction_id).await {
        Ok(Some(a)) if a.is_open(app.now()) => {}
        Ok(_) => {
            let _ = app.store.remove_connection(&conn.connection_id).await;
            return ws_response(410, "auction has ended");
        }
        Err(e) => {
            let _ = app.store.remove_connection(&conn.connection_id).await;
            return store_failure(&e);
        }
    }
    tracing::info!(connection_id = %conn.connection_id, auction_id = %conn.auction_id, "viewer connected");
    ws_response(200, "connected")
}

/// `$disconnect`: best effort and idempotent (API Gateway may never send it; TTL cleans up then).
pub async fn disconnect<S, B>(
    app: &App<S, B>,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    let Some(conn_id) = connection_id(&event) else {
        return ws_response(400, "missing connection id");
    };
    match app.store.remove_connection(&conn_id).await {
        Ok(removed) => {
            tracing::info!(connection_id = %conn_id, known = removed.is_some(), "viewer disconnected");
            ws_response(200, "disconnected")
        }
        Err(e) => store_failure(&e),
    }
}

/// `$default`: the channel is read-only. `{"action":"sync"}` gets the current status; anything else gets
/// one error frame, to the sender only, and is never relayed.
pub async fn default<S, B>(
    app: &App<S, B>,
    event: ApiGatewayWebsocketProxyRequest,
) -> ApiGatewayProxyResponse
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    let Some(conn_id) = connection_id(&event) else {
        return ws_response(400, "missing connection id");
    };
    let conn = match app.store.get_connection(&conn_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return ws_response(410, "unknown connection"),
        Err(e) => return store_failure(&e),
    };
    let message = event.body.as_deref().and_then(ClientMessage::parse);
    let (frame, status) = match message {
        Some(ClientMessage::Sync) => match app.store.get_auction(&conn.auction_id).await {
            Ok(Some(a)) => (Frame::status(&a), 200),
            Ok(None) => (
                Frame::error("auction_not_found", "the auction no longer exists"),
                404,
            ),
            Err(e) => return store_failure(&e),
        },
        None => {
            tracing::info!(connection_id = %conn_id, "client frame refused: read-only channel");
            (
                Frame::error(
                    "read_only",
                    "this channel is read-only; the only accepted message is {\"action\":\"sync\"}. \
                     Bids go through POST /auctions/{id}/bids",
                ),
                400,
            )
        }
    };
    let (result, _) = fanout::post_with_retry(
        &app.broadcaster,
        &app.call_slots,
        &conn,
        &frame.to_bytes(),
        &app.settings,
    )
    .await;
    if let Err(crate::ports::PushError::Gone) = result {
        let _ = app.store.remove_connection(&conn_id).await;
    }
    ws_response(status, if status == 200 { "ok" } else { "refused" })
}
