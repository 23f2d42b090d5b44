//! HTTP API handlers (API Gateway HTTP API, payload v2): create, list, get, bid, end.

use super::close::Closed;
use super::views::{public_bids, AuctionView, BidAccepted};
use super::App;
use crate::domain::{
    new_auction, validate_text, AuctionDraft, AuctionId, BidOutcome, BidReceipt, BidRequest,
    DomainError, Money, Principal, DEFAULT_MIN_INCREMENT, MAX_DESCRIPTION_LEN, MAX_DURATION_MS,
    MAX_TITLE_LEN, MIN_DURATION_MS,
};
use crate::error::ApiError;
use crate::http::{
    auction_id_param, bearer_token, idempotency_key, int_field, json_object, json_response,
    money_field, query_limit, respond, string_field,
};
use crate::ports::{Broadcaster, Store};
use crate::publisher::PublishJob;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;

fn method_is(req: &Request, m: http::Method) -> Result<(), ApiError> {
    if req.method() == m {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

impl<S: Store, B: Broadcaster> App<S, B> {
    /// `POST /auctions` (seller or admin).
    pub async fn create_auction(&self, req: Request) -> Response<Body> {
        respond(self.create_auction_inner(&req).await)
    }

    /// `GET /auctions?limit=N`: active auctions, soonest ending first.
    pub async fn list_auctions(&self, req: Request) -> Response<Body> {
        respond(self.list_auctions_inner(&req).await)
    }

    /// `GET /auctions/{id}`: the auction and its most recent bids.
    pub async fn get_auction(&self, req: Request) -> Response<Body> {
        respond(self.get_auction_inner(&req).await)
    }

    /// The `get-auction` function serves both read routes; the path says which.
    pub async fn read_auctions(&self, req: Request) -> Response<Body> {
        if req.path_parameters().first("id").is_some() {
            self.get_auction(req).await
        } else {
            self.list_auctions(req).await
        }
    }

    /// `POST /auctions/{id}/bids`: one conditional write, then the fan-out to viewers.
    pub async fn place_bid(&self, req: Request) -> Response<Body> {
        respond(self.place_bid_inner(&req).await)
    }

    /// The `place-bid` function serves the bid route and the WebSocket ticket route; the path says which.
    pub async fn bid_or_ticket(&self, req: Request) -> Response<Body> {
        if req.uri().path().ends_with("/ticket") {
            self.ws_ticket(req).await
        } else {
            self.place_bid(req).await
        }
    }

    /// `POST /auctions/{id}/end` (the auction's seller, or an admin).
    pub async fn end_auction(&self, req: Request) -> Response<Body> {
        respond(self.end_auction_inner(&req).await)
    }

    fn authenticate(&self, req: &Request) -> Result<Principal, ApiError> {
        Ok(self.verifier.verify(bearer_token(req))?)
    }

    async fn create_auction_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::POST)?;
        let seller = self.authenticate(req)?;
        if !seller.can_sell() {
            return Err(ApiError::Forbidden {
                needed: "seller or admin",
            });
        }
        let now = self.now();
        let mut draft = parse_draft(&json_object(req)?, now)?;
        draft.viewer_shards = self.settings.viewer_shards;
        let auction = new_auction(
            AuctionId::parse(&ulid::Ulid::generate().to_string())?,
            &seller,
            draft,
            now,
        );
        self.store.create_auction(&auction).await?;
        tracing::info!(auction_id = %auction.auction_id, seller = %seller.user_id, ends_at = auction.ends_at, "auction created");
        Ok(json_response(
            http::StatusCode::CREATED,
            &json!({ "auction": AuctionView::from(&auction) }),
        ))
    }

    async fn list_auctions_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::GET)?;
        let limit = query_limit(req, "limit", 50, 100)?;
        let auctions = self.store.list_active(self.now(), limit).await?;
        let views: Vec<AuctionView> = auctions.iter().map(AuctionView::from).collect();
        Ok(json_response(
            http::StatusCode::OK,
            &json!({ "auctions": views }),
        ))
    }

    async fn get_auction_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::GET)?;
        let id = auction_id_param(req)?;
        // Two reads, possibly of two moments: a bid landing between them is reconciled by `seq` on the client.
        let auction = self
            .store
            .get_auction(&id)
            .await?
            .ok_or(ApiError::AuctionNotFound)?;
        let bids = self
            .store
            .recent_bids(&id, self.settings.recent_bids)
            .await?;
        Ok(json_response(
            http::StatusCode::OK,
            &json!({ "auction": AuctionView::from(&auction), "bids": public_bids(&bids) }),
        ))
    }

    async fn place_bid_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::POST)?;
        let bidder = self.authenticate(req)?;
        let auction_id = auction_id_param(req)?;
        let body = json_object(req)?;
        let amount = money_field(&body, "amount")?
            .ok_or_else(|| DomainError::invalid("amount", "is required"))?;
        let idempotency_key = idempotency_key(req)?;
        let bid_req = BidRequest {
            auction_id,
            bidder_id: bidder.user_id,
            bidder_name: bidder.name,
            amount,
            now: self.now(),
            bid_id: ulid::Ulid::generate().to_string(),
            idempotency_key,
        };
        match self.store.place_bid(&bid_req).await? {
            BidOutcome::Accepted(placed) => {
                tracing::info!(
                    auction_id = %placed.auction.auction_id,
                    bid_id = %placed.bid.bid_id,
                    seq = placed.bid.seq,
                    amount = placed.bid.amount.cents(),
                    "bid accepted"
                );
                // Committed: hand it to the publisher and answer. Viewers hear of it from the publisher.
                self.hand_off(PublishJob::changed(
                    &placed.auction.auction_id,
                    placed.bid.seq,
                    self.now(),
                ))
                .await;
                Ok(bid_response(&placed.receipt(), false))
            }
            BidOutcome::Replayed(receipt) => {
                tracing::info!(auction_id = %receipt.bid.auction_id, bid_id = %receipt.bid.bid_id, seq = receipt.bid.seq, "idempotent replay");
                // The original invocation may have died between its commit and its hand-off: hand it off
                // again (the publisher does nothing if it was delivered).
                self.hand_off(PublishJob::changed(
                    &receipt.bid.auction_id,
                    receipt.bid.seq,
                    self.now(),
                ))
                .await;
                Ok(bid_response(&receipt, true))
            }
            BidOutcome::Rejected(r) => Err(r.into()),
        }
    }

    async fn end_auction_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::POST)?;
        let caller = self.authenticate(req)?;
        let id = auction_id_param(req)?;
        if !caller.can_sell() {
            return Err(ApiError::Forbidden {
                needed: "seller or admin",
            });
        }
        let auction = self
            .store
            .get_auction(&id)
            .await?
            .ok_or(ApiError::AuctionNotFound)?;
        if !caller.can_end(&auction) {
            return Err(ApiError::NotSeller);
        }
        // The permission read above is not part of the transition: the close itself is the conditional write.
        match self.end_early(&id).await? {
            Closed::Now(a) => Ok(json_response(
                http::StatusCode::OK,
                &json!({ "auction": AuctionView::from(&a) }),
            )),
            Closed::Earlier { auction, .. } => Ok(json_response(
                http::StatusCode::OK,
                &json!({ "auction": AuctionView::from(&auction), "alreadyEnded": true }),
            )),
            Closed::NotDue(_) => Err(ApiError::Internal("an early end reported not due".into())),
            Closed::NotFound => Err(ApiError::AuctionNotFound),
        }
    }
}

fn bid_response(receipt: &BidReceipt, replayed: bool) -> Response<Body> {
    let body = BidAccepted {
        bid: receipt.bid.public(),
        status: receipt.status.clone(),
        seq: receipt.bid.seq,
        minimum_bid: receipt.minimum_bid.cents(),
    };
    let mut resp = json_response(http::StatusCode::CREATED, &body);
    if replayed {
        resp.headers_mut().insert(
            "idempotent-replayed",
            http::HeaderValue::from_static("true"),
        );
    }
    resp
}

/// Validate a create-auction body: `title`, `description?`, `startingPrice`, `minIncrement?`, and exactly
/// one of `endsAt` (epoch ms) or `durationSeconds`.
pub fn parse_draft(
    obj: &serde_json::Map<String, serde_json::Value>,
    now: i64,
) -> Result<AuctionDraft, DomainError> {
    let title = validate_text(
        "title",
        string_field(obj, "title")?.unwrap_or(""),
        MAX_TITLE_LEN,
        true,
    )?;
    let description = validate_text(
        "description",
        string_field(obj, "description")?.unwrap_or(""),
        MAX_DESCRIPTION_LEN,
        false,
    )?;
    let starting_price = money_field(obj, "startingPrice")?
        .ok_or_else(|| DomainError::invalid("startingPrice", "is required"))?;
    let min_increment = match money_field(obj, "minIncrement")? {
        Some(m) => m,
        // 5 % of the starting price, at least 1 cent and at most DEFAULT_MIN_INCREMENT.
        None => Money::new((starting_price.cents() / 20).clamp(1, DEFAULT_MIN_INCREMENT))?,
    };
    let ends_at = match (
        int_field(obj, "endsAt")?,
        int_field(obj, "durationSeconds")?,
    ) {
        (Some(_), Some(_)) => {
            return Err(DomainError::invalid(
                "endsAt",
                "give either endsAt or durationSeconds, not both",
            ))
        }
        (None, None) => {
            return Err(DomainError::invalid(
                "endsAt",
                "endsAt (epoch ms) or durationSeconds is required",
            ))
        }
        (Some(at), None) => at,
        (None, Some(secs)) => {
            if !(MIN_DURATION_MS / 1000..=MAX_DURATION_MS / 1000).contains(&secs) {
                return Err(DomainError::invalid(
                    "durationSeconds",
                    "must be from 10 to 2592000 (30 days)",
                ));
            }
            now + secs * 1000
        }
    };
    let duration = ends_at.saturating_sub(now);
    if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&duration) {
        return Err(DomainError::invalid(
            "endsAt",
            "must be between 10 seconds and 30 days from now (epoch milliseconds)",
        ));
    }
    Ok(AuctionDraft {
        viewer_shards: 1,
        title,
        description,
        starting_price,
        min_increment,
        ends_at,
    })
}
