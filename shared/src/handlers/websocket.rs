//! WebSocket API handlers: `$connect`, `$disconnect`, `$default`. Viewers only listen.
//!
//! `$connect` authenticates with `?auctionId=…&ticket=…` (browsers cannot set headers on a WebSocket): a
//! connect ticket from `POST /auctions/{id}/ticket` ([`App::ws_ticket`]; `auth.rs`), valid for one auction
//! and a minute, never the session token itself. It refuses the handshake with the status of its [`WsError`]: a user's socket past `MAX_SOCKETS_PER_USER` to one
//! auction (429 `too_many_sockets`; the user's sockets that API Gateway says are gone do not count), an
//! auction at `MAX_VIEWERS_PER_AUCTION` (429 `auction_full`). `$default` never relays anything: the only
//! accepted client message is `{"action":"sync"}`, answered with the current `auction.status` to that one
//! connection, at most once a second (beyond that one `rate_limited` notice a second, then silence); any other
//! message gets one `read_only` notice, and the connection is closed at its [`MAX_STRIKES`]-th.

use super::App;
use crate::domain::{viewer_shard, Admission, AuctionId, Connection, ConnectionId, SyncVerdict};
use crate::error::{ws_response, WsError};
use crate::frames::{ClientMessage, Frame};
use crate::ports::{Broadcaster, PushError, Store};
use crate::publisher::{Pacer, PublishJob};

/// Refused client messages after which a connection is closed.
pub const MAX_STRIKES: u32 = 3;
use crate::error::ApiError;
use crate::http::{auction_id_param, bearer_token, json_response, respond};
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use http::StatusCode;
use lambda_http::{Body, Request, Response};

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
    /// `POST /auctions/{id}/ticket` (any signed-in user): `200 {"ticket", "expiresAt"}`, the credential of one
    /// `$connect` to this auction within [`crate::auth::TICKET_TTL_SECS`]. Served by the `place-bid` function
    /// (it already verifies session tokens). Nothing is read or written: `$connect` checks the auction.
    pub async fn ws_ticket(&self, req: Request) -> Response<Body> {
        respond(self.ws_ticket_inner(&req))
    }

    fn ws_ticket_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        if req.method() != http::Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
        let who = self.verifier.verify(bearer_token(req))?;
        let auction_id = auction_id_param(req)?;
        let ticket = self.verifier.issue_ticket(&who, &auction_id)?;
        Ok(json_response(
            StatusCode::OK,
            &super::views::TicketIssued {
                ticket: ticket.ticket,
                expires_at: ticket.expires_at,
            },
        ))
    }

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
        let auction_id = query
            .first("auctionId")
            .and_then(|a| AuctionId::parse(a).ok())
            .ok_or(WsError::InvalidAuctionId)?;
        let principal = self
            .verifier
            .verify_ticket(query.first("ticket").filter(|t| !t.is_empty()), &auction_id)?;
        let now = self.now();
        let auction = self
            .store
            .get_auction(&auction_id)
            .await?
            .ok_or(WsError::AuctionNotFound)?;
        // A scheduled auction is watched before it opens.
        if !auction.accepts_viewers(now) {
            return Err(WsError::AuctionEnded);
        }
        if auction.publication.audience >= self.settings.max_viewers_per_auction {
            return Err(WsError::AuctionFull);
        }
        let conn = Connection {
            shard: viewer_shard(&connection_id, auction.viewer_shards),
            connection_id,
            auction_id,
            user_id: principal.user_id,
            connected_at: now,
            expires_at: now / 1000 + self.settings.connection_ttl_secs,
        };
        self.admit(&conn).await?;
        // The close lists viewers only after its transition. Re-reading after our write means either the
        // closer sees this connection (and revokes it) or we see the end here: no viewer is left behind.
        let still_open = match self.store.get_auction(&conn.auction_id).await {
            Ok(a) => a.is_some_and(|a| a.accepts_viewers(self.now())),
            Err(e) => {
                let _ = self.store.remove_connection(&conn.connection_id).await;
                return Err(e.into());
            }
        };
        if !still_open {
            let _ = self.store.remove_connection(&conn.connection_id).await;
            return Err(WsError::AuctionEnded);
        }
        // A connection id is a capability on the Management API: never at info.
        tracing::debug!(connection_id = %conn.connection_id, auction_id = %conn.auction_id, "viewer connected");
        // The viewer count changed (the publisher tells viewers at most every 2 s).
        self.hand_off(PublishJob::viewers(&conn.auction_id, self.now()))
            .await;
        Ok("connected")
    }

    /// Store the connection within the user's socket limit. At the limit, the user's other sockets are
    /// probed (GetConnection): those API Gateway says are gone (a `$disconnect` that never came) are removed,
    /// and the connection is admitted if that made room.
    async fn admit(&self, conn: &Connection) -> Result<(), WsError> {
        let limit = self.settings.max_sockets_per_user;
        let Admission::UserLimit { others } = self.store.add_connection(conn, limit).await? else {
            return Ok(());
        };
        let mut freed = false;
        for other in &others {
            if let Err(PushError::Gone) = self.broadcaster().probe(other).await {
                self.store.remove_connection(other).await?;
                freed = true;
            }
        }
        if freed && self.store.add_connection(conn, limit).await? == Admission::Added {
            return Ok(());
        }
        tracing::info!(auction_id = %conn.auction_id, open = others.len(), "connect refused: socket limit");
        Err(WsError::TooManySockets)
    }

    async fn ws_disconnect_inner(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<&'static str, WsError> {
        let connection_id = connection_id(event)?;
        let removed = self.store.remove_connection(&connection_id).await?;
        if let Some(c) = &removed {
            self.hand_off(PublishJob::viewers(&c.auction_id, self.now()))
                .await;
        }
        tracing::debug!(connection_id = %connection_id, known = removed.is_some(), "viewer disconnected");
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
            Some(ClientMessage::Sync) => {
                match self.store.record_sync(&connection_id, self.now()).await? {
                    SyncVerdict::Answer => self
                        .store
                        .get_auction(&conn.auction_id)
                        .await?
                        .map(|a| Frame::status(&a).at(self.now()))
                        .ok_or(WsError::AuctionNotFound),
                    SyncVerdict::Notice => Err(WsError::RateLimited),
                    // Too soon again: no answer at all (each would cost a post).
                    SyncVerdict::Drop => return Err(WsError::RateLimited),
                }
            }
            None => {
                let strikes = self.store.record_strike(&connection_id).await?;
                tracing::info!(auction_id = %conn.auction_id, strikes, "client frame refused: read-only channel");
                if strikes >= MAX_STRIKES {
                    // It keeps sending: close it rather than answer each frame.
                    self.fanout
                        .revoke_all(std::slice::from_ref(&conn), &Pacer::unpaced())
                        .await;
                    return Err(WsError::ReadOnly);
                }
                if strikes > 1 {
                    // Told once already: no reply this time.
                    return Err(WsError::ReadOnly);
                }
                Err(WsError::ReadOnly)
            }
        };
        // The sender alone hears the answer, or the refusal; a failed post changes nothing else.
        let frame = match &answer {
            Ok(frame) => Some(frame.clone()),
            Err(e) => e.notice().map(|f| f.at(self.now())),
        };
        if let Some(frame) = frame {
            let _ = self.fanout.send_one(&conn, &frame).await;
        }
        answer.map(|_| "ok")
    }
}
