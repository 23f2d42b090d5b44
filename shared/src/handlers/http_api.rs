//! HTTP API handlers (API Gateway HTTP API, payload v2): create, list, get, bid, end.

use super::close::Closed;
use super::known_minimums::KnownMinimum;
use super::views::{
    cursor, public_bids, AuctionCreated, AuctionDetail, AuctionEndResult, AuctionList,
    AuctionSummary, AuctionView, BidAccepted,
};
use super::App;
use crate::domain::{
    new_auction, validate_text, AuctionDetails, AuctionDraft, AuctionId, BidKind, BidOutcome,
    BidReceipt, BidRequest, DomainError, EndedBy, Ladder, Principal, Role, DEFAULT_SOFT_CLOSE_SECS,
    MAX_DESCRIPTION_LEN, MAX_DURATION_MS, MAX_SOFT_CLOSE_SECS, MAX_TITLE_LEN, MIN_DURATION_MS,
};
use crate::error::ApiError;
use crate::http::{
    auction_id_param, bearer_token, idempotency_key, int_field, json_object, json_response,
    money_field, query_limit, respond, string_field,
};
use crate::ports::{BidRate, Broadcaster, Creation, RateVerdict, Store};
use crate::publisher::PublishJob;
use lambda_http::{Body, Request, RequestExt, Response};

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

    /// `GET /auctions?limit=N&cursor=C`: a page of active auctions as summaries, soonest ending first, and
    /// the `nextCursor` of the next page (`null` after the last).
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
        respond(crate::metrics::timed_bid(self.place_bid_inner(&req)).await)
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
        let (mut draft, details) = parse_draft(&json_object(req)?, now)?;
        draft.viewer_shards = self.settings.viewer_shards;
        let auction = new_auction(
            AuctionId::parse(&ulid::Ulid::generate().to_string())?,
            &seller,
            draft,
            now,
        );
        let quota = self.settings.limits.max_active_auctions_per_seller;
        if self
            .store
            .create_auction_within_quota(&auction, &details, quota)
            .await?
            == Creation::SellerAtQuota
        {
            return Err(ApiError::TooManyAuctions { limit: quota });
        }
        // The close on the second; if arming fails, the schedule's sweep still closes it (late).
        if let Err(e) = self
            .close_timer
            .arm(&auction.auction_id, auction.ends_at)
            .await
        {
            tracing::error!(auction_id = %auction.auction_id, error = %e, "close timer not armed; the sweep closes it");
        }
        tracing::info!(auction_id = %auction.auction_id, seller = %seller.user_id, ends_at = auction.ends_at, "auction created");
        Ok(json_response(
            http::StatusCode::CREATED,
            &AuctionCreated {
                auction: AuctionView::new(&auction, &details, self.now()),
            },
        ))
    }

    async fn list_auctions_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::GET)?;
        let l = &self.settings.limits;
        let limit = query_limit(req, "limit", l.list_page_default, l.list_page_max)?;
        let after = match req.query_string_parameters().first("cursor") {
            Some(raw) => Some(cursor::decode(raw).ok_or(ApiError::InvalidCursor)?),
            None => None,
        };
        let now = self.now();
        let page = self
            .store
            .list_active_page(now, limit, after.as_ref())
            .await?;
        let views: Vec<AuctionSummary> = page
            .auctions
            .iter()
            .map(|a| AuctionSummary::new(a, now))
            .collect();
        Ok(json_response(
            http::StatusCode::OK,
            &AuctionList {
                auctions: views,
                next_cursor: page.next.as_ref().map(cursor::encode),
            },
        ))
    }

    async fn get_auction_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::GET)?;
        let id = auction_id_param(req)?;
        // Three reads at once, possibly of two moments: a bid landing between them is reconciled by `seq` on
        // the client. The details are their own item: the auction item every bid rewrites stays small.
        let (auction, details, bids) = tokio::try_join!(
            self.store.get_auction(&id),
            self.store.get_details(&id),
            self.store.recent_bids(&id, self.settings.recent_bids),
        )?;
        let auction = auction.ok_or(ApiError::AuctionNotFound)?;
        Ok(json_response(
            http::StatusCode::OK,
            &AuctionDetail {
                auction: AuctionView::new(&auction, &details, self.now()),
                bids: public_bids(&bids),
            },
        ))
    }

    async fn place_bid_inner(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        method_is(req, http::Method::POST)?;
        let bidder = self.authenticate(req)?;
        let auction_id = auction_id_param(req)?;
        let body = json_object(req)?;
        let (kind, amount) = match (
            money_field(&body, "amount")?,
            money_field(&body, "maxAmount")?,
        ) {
            (Some(a), None) => (BidKind::Plain, a),
            (None, Some(m)) => (BidKind::Max, m),
            (Some(_), Some(_)) => {
                return Err(DomainError::invalid(
                    "amount",
                    "give either amount or maxAmount, not both",
                )
                .into())
            }
            (None, None) => {
                return Err(
                    DomainError::invalid("amount", "amount (or maxAmount) is required").into(),
                )
            }
        };
        let idempotency_key = idempotency_key(req)?;
        let bid_req = BidRequest {
            auction_id,
            bidder_id: bidder.user_id,
            bidder_name: bidder.name,
            kind,
            amount,
            now: self.now(),
            bid_id: ulid::Ulid::generate().to_string(),
            idempotency_key,
        };
        self.admit_bid(&bid_req).await?;
        let outcome = self.store.place_bid(&bid_req).await?;
        self.remember_minimum(&bid_req, &outcome);
        match outcome {
            BidOutcome::Accepted(placed) => {
                // Never the maximum: only what was bid.
                tracing::info!(
                    auction_id = %placed.auction.auction_id,
                    request_id = %bid_req.bid_id,
                    seq = placed.seq(),
                    bids = placed.bids.len(),
                    price = placed.auction.current_price.cents(),
                    "bid accepted"
                );
                // Committed: hand it to the publisher and answer. Viewers hear of it from the publisher. A raised
                // maximum changed nothing viewers see.
                if !placed.bids.is_empty() {
                    self.hand_off(PublishJob::changed(
                        &placed.auction.auction_id,
                        placed.seq(),
                        self.now(),
                    ))
                    .await;
                }
                Ok(bid_response(&placed.receipt(), false))
            }
            BidOutcome::Replayed(receipt) => {
                tracing::info!(auction_id = %bid_req.auction_id, seq = receipt.seq, "idempotent replay");
                // The original invocation may have died between its commit and its hand-off: hand it off
                // again (the publisher does nothing if it was delivered).
                self.hand_off(PublishJob::changed(
                    &bid_req.auction_id,
                    receipt.seq,
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
        // Only an admin ends an auction that has bids. The close's write checks it again (`bidCount = 0`), so
        // a bid landing after this read cannot be ended by its seller.
        if caller.role != Role::Admin
            && auction.status == crate::domain::AuctionStatus::Active
            && auction.bid_count > 0
        {
            return Err(ApiError::AdminOnly);
        }
        let by = EndedBy {
            user_id: caller.user_id.clone(),
            role: caller.role,
        };
        tracing::info!(auction_id = %id, caller = %caller.user_id, role = ?caller.role, "early end asked");
        // The permission read above is not part of the transition: the close itself is the conditional write.
        let (auction, already_ended) = match self.end_early(&id, by).await? {
            Closed::Now(a) => (a, false),
            Closed::Earlier { auction, .. } => (auction, true),
            // The seller's end lost a race with a bid.
            Closed::NotDue(_) => return Err(ApiError::AdminOnly),
            Closed::NotFound => return Err(ApiError::AuctionNotFound),
        };
        let details = self.store.get_details(&id).await?;
        Ok(json_response(
            http::StatusCode::OK,
            &AuctionEndResult {
                auction: AuctionView::new(&auction, &details, self.now()),
                already_ended,
            },
        ))
    }
}

/// The bid path's protections of the hot auction item (issue 11): they run before the store's `place_bid`.
impl<S: Store, B: Broadcaster> App<S, B> {
    /// Refuse a bid before it reaches the auction: below the auction's known minimum (no store call at
    /// all), or over the bidder's rate (one write on the bidder's own partition, never the auction's).
    async fn admit_bid(&self, req: &BidRequest) -> Result<(), ApiError> {
        if req.idempotency_key.is_none() {
            if let Some(known) = self.known_minimums.refuses(&req.auction_id, req.amount) {
                return Err(ApiError::BidTooLow {
                    current_price: known.current_price,
                    minimum_bid: known.minimum_bid,
                });
            }
        }
        let l = &self.settings.limits;
        let rate = BidRate {
            limit: l.bid_rate_limit,
            window_ms: i64::try_from(l.bid_rate_window.as_millis()).unwrap_or(i64::MAX),
        };
        match self
            .store
            .take_bid_slot(&req.bidder_id, req.now, rate)
            .await?
        {
            RateVerdict::Allowed => Ok(()),
            RateVerdict::Limited { retry_after_ms } => {
                tracing::info!(bidder = %req.bidder_id, auction_id = %req.auction_id, "bid rate limited");
                Err(ApiError::RateLimited {
                    retry_after_secs: u32::try_from((retry_after_ms + 999) / 1000)
                        .unwrap_or(u32::MAX)
                        .max(1),
                })
            }
        }
    }

    /// Remember the minimum an outcome reports (accepted or refused as too low).
    fn remember_minimum(&self, req: &BidRequest, outcome: &BidOutcome) {
        let seen = match outcome {
            BidOutcome::Accepted(p) => KnownMinimum {
                current_price: p.auction.current_price,
                minimum_bid: p.auction.minimum_bid,
            },
            BidOutcome::Rejected(crate::domain::BidRejection::TooLow {
                current_price,
                minimum_bid,
            }) => KnownMinimum {
                current_price: *current_price,
                minimum_bid: *minimum_bid,
            },
            _ => return,
        };
        self.known_minimums.observe(&req.auction_id, seen);
    }
}

fn bid_response(receipt: &BidReceipt, replayed: bool) -> Response<Body> {
    let body = BidAccepted {
        bid: receipt.bid.as_ref().map(|b| b.public()),
        leading: receipt.leading,
        current_price: receipt.status.current_price,
        status: receipt.status.clone(),
        seq: receipt.seq,
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
/// one of `endsAt` (epoch ms) or `durationSeconds`. The auction item's part, and its details apart.
pub fn parse_draft(
    obj: &serde_json::Map<String, serde_json::Value>,
    now: i64,
) -> Result<(AuctionDraft, AuctionDetails), DomainError> {
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
    let increments = match (money_field(obj, "minIncrement")?, obj.get("increments")) {
        (Some(_), Some(_)) => {
            return Err(DomainError::invalid(
                "increments",
                "give either minIncrement or increments, not both",
            ))
        }
        (Some(step), None) => Ladder::fixed(step),
        (None, Some(raw)) => parse_ladder(raw)?,
        (None, None) => Ladder::standard(),
    };
    let soft_close_secs = int_field(obj, "softCloseSeconds")?.unwrap_or(DEFAULT_SOFT_CLOSE_SECS);
    if !(0..=MAX_SOFT_CLOSE_SECS).contains(&soft_close_secs) {
        return Err(DomainError::invalid(
            "softCloseSeconds",
            "must be from 0 (sudden death) to 300",
        ));
    }
    let reserve_price = money_field(obj, "reservePrice")?;
    let starts_at = match int_field(obj, "startsAt")? {
        None => 0,
        Some(at) if (now..=now + MAX_DURATION_MS).contains(&at) => at,
        Some(_) => {
            return Err(DomainError::invalid(
                "startsAt",
                "must be between now and 30 days from now (epoch milliseconds)",
            ))
        }
    };
    // The duration counts from the start.
    let opens = starts_at.max(now);
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
            opens + secs * 1000
        }
    };
    let duration = ends_at.saturating_sub(opens);
    if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&duration) {
        return Err(DomainError::invalid(
            "endsAt",
            "must be between 10 seconds and 30 days from now (epoch milliseconds)",
        ));
    }
    let draft = AuctionDraft {
        viewer_shards: 1,
        title,
        starting_price,
        increments,
        soft_close_ms: soft_close_secs * 1000,
        reserve_price,
        starts_at,
        ends_at,
    };
    Ok((draft, AuctionDetails { description }))
}

/// `increments`: `[[fromPriceCents, stepCents], …]` (validated by `Ladder::parse`).
fn parse_ladder(raw: &serde_json::Value) -> Result<Ladder, DomainError> {
    let shape = || {
        DomainError::invalid(
            "increments",
            "must be a list of [fromPriceCents, stepCents] pairs",
        )
    };
    let rungs = raw
        .as_array()
        .ok_or_else(shape)?
        .iter()
        .map(|r| match r.as_array().map(Vec::as_slice) {
            Some([from, step]) => Ok((
                from.as_i64().ok_or_else(shape)?,
                step.as_i64().ok_or_else(shape)?,
            )),
            _ => Err(shape()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ladder::parse(rungs)
}
