//! WebSocket API handlers: `$connect`, `$disconnect`, `$default`. Viewers only listen.
//!
//! `$connect` authenticates with `?auctionId=…&token=…` (browsers cannot set headers on a WebSocket) and
//! refuses the handshake with the status of its [`WsError`]. `$default` never relays anything: the only
//! accepted client message is `{"action":"sync"}`, answered with the current `auction.status` to that one
//! connection.

use super::App;
use crate::domain::{AuctionId, Connection, ConnectionId};
use crate::error::{ws_response, WsError};
use crate::frames::{ClientMessage, Frame};
use crate::ports::{Broadcaster, Store};
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use http::StatusCode;

fn connection_id(event: &ApiGatewayWebsocketProxyRequest) -> Result<ConnectionId, WsError> {
    event
        .request_context
        .connection_id
        .as_deref()
        .and_then(|c| ConnectionId::parse(c).ok())
        .ok_or(WsError::MissingConnectionId)
}

fn answer(result: Result<&'static str, WsError>) -> ApiGatewayProxyResponse {
    match result {
        Ok(text) => ws_response(StatusCode::OK, text),
        Err(e) => e.response(),
    }
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// `$connect`: 200 stores the viewer; otherwise the handshake is refused with the error's status.
    pub async fn ws_connect(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        answer(self.ws_connect_inner(&event).await)
    }

    /// `$disconnect`: best effort and idempotent (API Gateway may never send it; TTL cleans up then).
    pub async fn ws_disconnect(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        answer(self.ws_disconnect_inner(&event).await)
    }

    /// `$default`: the channel is read-only. `{"action":"sync"}` gets the current status; anything else gets
    /// one error frame, to the sender only, and is never relayed.
    pub async fn ws_default(
        &self,
        event: ApiGatewayWebsocketProxyRequest,
    ) -> ApiGatewayProxyResponse {
        answer(self.ws_default_inner(&event).await)
    }

    async fn ws_connect_inner(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<&'static str, WsError> {
        let connection_id = connection_id(event)?;
        let query = &event.query_string_parameters;
        let principal = self.verifier.verify(query.first("token"))?;
        let auction_id = query
            .first("auctionId")
            .and_then(|a| AuctionId::parse(a).ok())
            .ok_or(WsError::InvalidAuctionId)?;
        let now = self.now();
        let auction = self
            .store
            .get_auction(&auction_id)
            .await?
            .ok_or(WsError::AuctionNotFound)?;
        if !auction.is_open(now) {
            return Err(WsError::AuctionEnded);
        }
        let conn = Connection {
            connection_id,
            auction_id,
            user_id: principal.user_id,
            connected_at: now,
            expires_at: now / 1000 + self.settings.connection_ttl_secs,
        };
        self.store.add_connection(&conn).await?;
        // The close lists viewers only after its transition. Re-reading after our write means either the
        // closer sees this connection (and revokes it) or we see the end here: no viewer is left behind.
        let still_open = match self.store.get_auction(&conn.auction_id).await {
            Ok(a) => a.is_some_and(|a| a.is_open(self.now())),
            Err(e) => {
                let _ = self.store.remove_connection(&conn.connection_id).await;
                return Err(e.into());
            }
        };
        if !still_open {
            let _ = self.store.remove_connection(&conn.connection_id).await;
            return Err(WsError::AuctionEnded);
        }
        tracing::info!(connection_id = %conn.connection_id, auction_id = %conn.auction_id, "viewer connected");
        Ok("connected")
    }

    async fn ws_disconnect_inner(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<&'static str, WsError> {
        let connection_id = connection_id(event)?;
        let removed = self.store.remove_connection(&connection_id).await?;
        tracing::info!(connection_id = %connection_id, known = removed.is_some(), "viewer disconnected");
        Ok("disconnected")
    }

    async fn ws_default_inner(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<&'static str, WsError> {
        let connection_id = connection_id(event)?;
        let conn = self
            .store
            .get_connection(&connection_id)
            .await?
            .ok_or(WsError::UnknownConnection)?;
        let answer = match event.body.as_deref().and_then(ClientMessage::parse) {
            Some(ClientMessage::Sync) => self
                .store
                .get_auction(&conn.auction_id)
                .await?
                .map(|a| Frame::status(&a))
                .ok_or(WsError::AuctionNotFound),
            None => Err(WsError::ReadOnly),
        };
        // The sender alone hears the answer, or the refusal; a failed post changes nothing else.
        let frame = match &answer {
            Ok(frame) => Some(frame.clone()),
            Err(e) => e.notice(),
        };
        if let Some(frame) = frame {
            let _ = self.fanout.send_one(&conn, &frame).await;
        }
        answer.map(|_| "ok")
    }
}
