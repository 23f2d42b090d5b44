//! Public JSON views: what the HTTP API returns. Bidder ids never appear in bid history.

use crate::domain::{Auction, AuctionStatus, Bid, PublicBid};
use serde::Serialize;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionView {
    pub auction_id: String,
    pub title: String,
    pub description: String,
    pub seller_id: String,
    pub seller_name: String,
    pub starting_price: i64,
    pub min_increment: i64,
    pub current_price: i64,
    pub minimum_bid: i64,
    pub bid_count: u64,
    pub seq: u64,
    pub status: AuctionStatus,
    pub created_at: i64,
    pub ends_at: i64,
    pub ended_at: Option<i64>,
    /// The leading bidder's display name while active; the winner's once ended.
    pub high_bidder_name: Option<String>,
    pub winner_name: Option<String>,
    pub final_price: Option<i64>,
}

impl From<&Auction> for AuctionView {
    fn from(a: &Auction) -> Self {
        let ended = a.status == AuctionStatus::Ended;
        Self {
            auction_id: a.auction_id.to_string(),
            title: a.title.clone(),
            description: a.description.clone(),
            seller_id: a.seller_id.to_string(),
            seller_name: a.seller_name.clone(),
            starting_price: a.starting_price.cents(),
            min_increment: a.min_increment.cents(),
            current_price: a.current_price.cents(),
            minimum_bid: a.minimum_bid.cents(),
            bid_count: a.bid_count,
            seq: a.seq,
            status: a.status,
            created_at: a.created_at,
            ends_at: a.ends_at,
            ended_at: a.ended_at,
            high_bidder_name: a.high_bid.as_ref().map(|b| b.bidder_name.clone()),
            winner_name: a
                .high_bid
                .as_ref()
                .filter(|_| ended)
                .map(|b| b.bidder_name.clone()),
            final_price: a
                .high_bid
                .as_ref()
                .filter(|_| ended)
                .map(|b| b.amount.cents()),
        }
    }
}

/// The body of a successful bid (201), identical on an idempotent replay.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BidAccepted {
    pub bid: PublicBid,
    pub status: crate::domain::AuctionStatusEvent,
    pub seq: u64,
    pub minimum_bid: i64,
}

/// `201` of `POST /auctions`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuctionCreated {
    pub auction: AuctionView,
}

/// `200` of `GET /auctions`: active auctions, soonest ending first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuctionList {
    pub auctions: Vec<AuctionView>,
}

/// `200` of `GET /auctions/{id}`: the auction and its most recent bids, newest first.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuctionDetail {
    pub auction: AuctionView,
    pub bids: Vec<PublicBid>,
}

/// `200` of `POST /auctions/{id}/end`; `alreadyEnded: true` when it had ended before this call.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuctionEndResult {
    pub auction: AuctionView,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_ended: bool,
}

pub fn public_bids(bids: &[Bid]) -> Vec<PublicBid> {
    bids.iter().map(Bid::public).collect()
}
