//! HTTP API handlers (API Gateway HTTP API, payload v2): create, get/list, bid, end.

use super::close::{self, Closed};
use super::views::{public_bids, AuctionView, BidAccepted};
use super::App;
use crate::domain::{
    new_auction, validate_text, AuctionDraft, AuctionId, BidOutcome, BidRequest, DomainError,
    Money, PlacedBid, Principal, DEFAULT_MIN_INCREMENT, MAX_DESCRIPTION_LEN, MAX_DURATION_MS,
    MAX_TITLE_LEN, MIN_DURATION_MS,
};
use crate::error::ApiError;
use crate::fanout;
use crate::frames::Frame;
use crate::http::{
    auction_id_param, bearer_token, idempotency_key, int_field, json_object, json_response,
    money_field, query_limit, respond, string_field,
};
use crate::ports::{AuctionStore, Broadcaster, ConnectionStore};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::json;
use std::time::Instant;

fn authenticate<S, B>(app: &App<S, B>, req: &Request) -> Result<Principal, ApiError> {
    Ok(app.verifier.verify(bearer_token(req))?)
}

fn method_is(req: &Request, m: http::Method) -> Result<(), ApiError> {
    if req.method() == m {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed)
    }
}

// ---------------------------------------------------------------------------------------------------------
// POST /auctions

pub async fn create_auction<S, B>(app: &App<S, B>, req: Request) -> Response<Body>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    respond(create_auction_inner(app, &req).await)
}

async fn create_auction_inner<S, B>(
    app: &App<S, B>,
    req: &Request,
) -> Result<Response<Body>, ApiError>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    method_is(req, http::Method::POST)?;
    let seller = authenticate(app, req)?;
    if !seller.can_sell() {
        return Err(ApiError::Forbidden {
            needed: "seller or admin",
        });
    }
    let now = app.now();
    let draft = parse_draft(&json_object(req)?, now)?;
    let auction = new_auction(
        AuctionId::parse(&ulid::Ulid::generate().to_string())?,
        &seller,
        draft,
        now,
    );
    app.store.create_auction(&auction).await?;
    tracing::info!(auction_id = %auction.auction_id, seller = %seller.user_id, ends_at = auction.ends_at, "auction created");
    Ok(json_response(
        http::StatusCode::CREATED,
        &json!({ "auction": AuctionView::from(&auction) }),
    ))
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
        title,
        description,
        starting_price,
        min_increment,
        ends_at,
    })
}

// ---------------------------------------------------------------------------------------------------------
// GET /auctions/{id} and GET /auctions

pub async fn get_auction<S, B>(app: &App<S, B>, req: Request) -> Response<Body>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    respond(get_auction_inner(app, &req).await)
}

async fn get_auction_inner<S, B>(app: &App<S, B>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    method_is(req, http::Method::GET)?;
    if req.path_parameters().first("id").is_none() {
        let limit = query_limit(req, "limit", 50, 100)?;
        let auctions = app.store.list_active(app.now(), limit).await?;
        let views: Vec<AuctionView> = auctions.iter().map(AuctionView::from).collect();
        return Ok(json_response(
            http::StatusCode::OK,
            &json!({ "auctions": views }),
        ));
    }
    let id = auction_id_param(req)?;
    // Two reads, possibly of two moments: a bid landing between them is reconciled by `seq` on the client.
    let auction = app
        .store
        .get_auction(&id)
        .await?
        .ok_or(ApiError::AuctionNotFound)?;
    let bids = app.store.recent_bids(&id, app.settings.recent_bids).await?;
    Ok(json_response(
        http::StatusCode::OK,
        &json!({ "auction": AuctionView::from(&auction), "bids": public_bids(&bids) }),
    ))
}

// ---------------------------------------------------------------------------------------------------------
// POST /auctions/{id}/bids

pub async fn place_bid<S, B>(app: &App<S, B>, req: Request) -> Response<Body>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    respond(place_bid_inner(app, &req).await)
}

async fn place_bid_inner<S, B>(app: &App<S, B>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    method_is(req, http::Method::POST)?;
    let bidder = authenticate(app, req)?;
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
        now: app.now(),
        bid_id: ulid::Ulid::generate().to_string(),
        idempotency_key,
    };
    match app.store.place_bid(&bid_req).await? {
        BidOutcome::Accepted(placed) => {
            tracing::info!(
                auction_id = %placed.auction.auction_id,
                bid_id = %placed.bid.bid_id,
                seq = placed.bid.seq,
                amount = placed.bid.amount.cents(),
                "bid accepted"
            );
            publish_bid(app, &placed).await;
            Ok(bid_response(&placed, false))
        }
        BidOutcome::Recovered(placed) => {
            tracing::info!(auction_id = %placed.auction.auction_id, bid_id = %placed.bid.bid_id, "recovered a committed bid on retry");
            publish_bid(app, &placed).await;
            Ok(bid_response(&placed, true))
        }
        BidOutcome::Replayed(placed) => {
            tracing::info!(auction_id = %placed.auction.auction_id, bid_id = %placed.bid.bid_id, "idempotent replay");
            Ok(bid_response(&placed, true))
        }
        BidOutcome::Rejected(r) => Err(r.into()),
    }
}

fn bid_response(placed: &PlacedBid, replayed: bool) -> Response<Body> {
    let body = BidAccepted {
        bid: placed.bid.public(),
        status: placed.auction.status_event(),
        seq: placed.bid.seq,
        minimum_bid: placed.auction.minimum_bid.cents(),
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

/// One combined frame per viewer. Failures are logged, never returned: the bid is committed.
async fn publish_bid<S, B>(app: &App<S, B>, placed: &PlacedBid)
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    let started = Instant::now();
    let connections = match app
        .store
        .connections_for_auction(&placed.auction.auction_id)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not list viewers; bid stands, viewers resync by status frames");
            return;
        }
    };
    let frame = Frame::bid_accepted(placed).to_bytes();
    let r = fanout::publish(
        &app.store,
        &app.broadcaster,
        &app.call_slots,
        &connections,
        &frame,
        &app.settings,
    )
    .await;
    tracing::info!(
        targets = r.targets,
        delivered = r.delivered,
        gone = r.gone,
        failed = r.failed,
        retries = r.retries,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "bid fan-out"
    );
}

// ---------------------------------------------------------------------------------------------------------
// POST /auctions/{id}/end

pub async fn end_auction<S, B>(app: &App<S, B>, req: Request) -> Response<Body>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    respond(end_auction_inner(app, &req).await)
}

async fn end_auction_inner<S, B>(app: &App<S, B>, req: &Request) -> Result<Response<Body>, ApiError>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    method_is(req, http::Method::POST)?;
    let caller = authenticate(app, req)?;
    let id = auction_id_param(req)?;
    if !caller.can_sell() {
        return Err(ApiError::Forbidden {
            needed: "seller or admin",
        });
    }
    let auction = app
        .store
        .get_auction(&id)
        .await?
        .ok_or(ApiError::AuctionNotFound)?;
    if !caller.can_end(&auction) {
        return Err(ApiError::NotSeller);
    }
    // The permission read above is not part of the transition: the close itself is the conditional write.
    match close::close_one(app, &id, true).await? {
        Closed::Now(a) => Ok(json_response(
            http::StatusCode::OK,
            &json!({ "auction": AuctionView::from(&a) }),
        )),
        Closed::Earlier { auction, .. } => Ok(json_response(
            http::StatusCode::OK,
            &json!({ "auction": AuctionView::from(&auction), "alreadyEnded": true }),
        )),
        Closed::NotDue(_) => Err(ApiError::Internal("forced close reported not due".into())),
        Closed::NotFound => Err(ApiError::AuctionNotFound),
    }
}
