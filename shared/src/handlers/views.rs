//! Public JSON views: what the HTTP API returns. Bidder ids never appear in bid history.

use crate::domain::{
    public_id, Auction, AuctionDetails, AuctionStatus, Bid, Millis, Phase, PublicBid, Role,
};
use serde::Serialize;

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionView {
    pub auction_id: String,
    pub title: String,
    pub description: String,
    /// The seller's public id (`domain::public_id`), never the internal one.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^p-[0-9a-f]{20}$")))]
    pub seller_id: String,
    pub seller_name: String,
    pub starting_price: i64,
    /// The step at the current price (the ladder's rung).
    pub min_increment: i64,
    /// The whole ladder: `[[fromPriceCents, stepCents], …]`.
    pub increments: Vec<(i64, i64)>,
    pub current_price: i64,
    pub minimum_bid: i64,
    pub bid_count: u64,
    pub seq: u64,
    /// `scheduled` (before `startsAt`), `active`, `ended`.
    pub status: Phase,
    pub created_at: i64,
    /// When bids open (`createdAt` for an auction open from its creation).
    pub starts_at: i64,
    pub ends_at: i64,
    pub ended_at: Option<i64>,
    /// 0: sudden death (a hard end).
    pub soft_close_seconds: i64,
    pub has_reserve: bool,
    /// `null` without a reserve. The reserve itself is never shown.
    pub reserve_met: Option<bool>,
    /// The leading bidder's public id (`domain::public_id`).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^p-[0-9a-f]{20}$")))]
    pub leader_id: Option<String>,
    /// The leading bidder's display name while active; the winner's once ended.
    pub high_bidder_name: Option<String>,
    pub winner_name: Option<String>,
    pub final_price: Option<i64>,
    /// `schedule`, `seller` or `admin` once ended.
    pub ended_by: Option<&'static str>,
}

impl AuctionView {
    /// The view of `a` and its details at `now` (the phase depends on the clock).
    pub fn new(a: &Auction, details: &AuctionDetails, now: Millis) -> Self {
        let ended = a.status == AuctionStatus::Ended;
        let winner = a.winning_bid().filter(|_| ended);
        Self {
            auction_id: a.auction_id.to_string(),
            title: a.title.clone(),
            description: details.description.clone(),
            seller_id: public_id(&a.seller_id),
            seller_name: a.seller_name.clone(),
            starting_price: a.starting_price.cents(),
            min_increment: a.increments.step_at(a.current_price.cents()),
            increments: a.increments.rungs().to_vec(),
            current_price: a.current_price.cents(),
            minimum_bid: a.minimum_bid.cents(),
            bid_count: a.bid_count,
            seq: a.seq,
            status: a.phase(now),
            created_at: a.created_at,
            starts_at: a.starts_at.max(a.created_at),
            ends_at: a.ends_at,
            ended_at: a.ended_at,
            soft_close_seconds: a.soft_close_ms / 1000,
            has_reserve: a.reserve_price.is_some(),
            reserve_met: a.reserve_met(),
            leader_id: a.high_bid.as_ref().map(|b| public_id(&b.bidder_id)),
            high_bidder_name: a.high_bid.as_ref().map(|b| b.bidder_name.clone()),
            winner_name: winner.map(|b| b.bidder_name.clone()),
            final_price: winner.map(|b| b.amount.cents()),
            ended_by: match (&a.ended_by, ended) {
                (_, false) => None,
                (None, true) => Some("schedule"),
                (Some(by), true) if by.role == Role::Admin => Some("admin"),
                (Some(_), true) => Some("seller"),
            },
        }
    }
}

/// The body of a successful bid (201), identical on an idempotent replay.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BidAccepted {
    /// The caller's own bid (`null`: a leader raised their maximum). A maximum is never shown.
    pub bid: Option<PublicBid>,
    /// Whether the caller leads now.
    pub leading: bool,
    pub current_price: i64,
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
#[serde(rename_all = "camelCase")]
pub struct AuctionList {
    pub auctions: Vec<AuctionSummary>,
    /// Pass back as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
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

/// One auction in the public listing (`GET /auctions`): what a card shows, no description and no internal
/// user id (the seller and the leader appear by display name only).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuctionSummary {
    pub auction_id: String,
    pub title: String,
    pub seller_name: String,
    pub current_price: i64,
    pub minimum_bid: i64,
    pub bid_count: u64,
    pub seq: u64,
    /// `scheduled` (before `startsAt`), `active`, `ended`.
    pub status: Phase,
    pub starts_at: i64,
    pub ends_at: i64,
    /// 0: sudden death.
    pub soft_close_seconds: i64,
    pub high_bidder_name: Option<String>,
}

impl AuctionSummary {
    /// The summary of `a` at `now` (the phase depends on the clock).
    pub fn new(a: &Auction, now: Millis) -> Self {
        Self {
            auction_id: a.auction_id.to_string(),
            title: a.title.clone(),
            seller_name: a.seller_name.clone(),
            current_price: a.current_price.cents(),
            minimum_bid: a.minimum_bid.cents(),
            bid_count: a.bid_count,
            seq: a.seq,
            status: a.phase(now),
            starts_at: a.starts_at.max(a.created_at),
            ends_at: a.ends_at,
            soft_close_seconds: a.soft_close_ms / 1000,
            high_bidder_name: a.high_bid.as_ref().map(|b| b.bidder_name.clone()),
        }
    }
}

/// The listing's `cursor` / `nextCursor`: a position in listing order (`endsAt`, id), base64url of
/// `v1:<endsAt>:<auctionId>`. Opaque to clients; a position, never a key: decoding validates the id as
/// every id is validated (no `#`), and the store only ever starts the ACTIVE listing after it.
pub mod cursor {
    use crate::domain::AuctionId;
    use crate::ports::ListCursor;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    /// Longer than any cursor this API makes (an id is at most 128 characters).
    const MAX_LEN: usize = 256;

    pub fn encode(c: &ListCursor) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1:{}:{}", c.ends_at, c.auction_id))
    }

    /// `None` for anything [`encode`] did not make.
    pub fn decode(raw: &str) -> Option<ListCursor> {
        if raw.len() > MAX_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let rest = text.strip_prefix("v1:")?;
        let (ends_at, id) = rest.split_once(':')?;
        if ends_at.is_empty() || !ends_at.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return None;
        }
        Some(ListCursor {
            ends_at: ends_at.parse().ok()?,
            auction_id: AuctionId::parse(id).ok()?,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_and_refuses_what_it_did_not_make() {
            let c = ListCursor {
                ends_at: 1_700_000_000_000,
                auction_id: AuctionId::parse("01HZX3Q5V7").unwrap(),
            };
            assert_eq!(decode(&encode(&c)), Some(c));
            let forge = |s: &str| URL_SAFE_NO_PAD.encode(s);
            for bad in [
                String::new(),
                "not base64 !".to_owned(),
                forge("v2:1:abc"),
                forge("v1:1"),
                forge("v1::abc"),
                forge("v1:+1:abc"),
                forge("v1:99999999999999999999:abc"),
                forge("v1:1:AUCTION#x"),
                forge("v1:1:"),
                URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
                "A".repeat(300),
            ] {
                assert_eq!(decode(&bad), None, "{bad:?}");
            }
        }
    }
}

/// `200` of `POST /auctions/{id}/ticket`: the credential of one WebSocket `$connect` to this auction.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TicketIssued {
    /// A short-lived JWT for `?ticket=` (aud `live-auction:ws`, this auction, this user).
    pub ticket: String,
    /// Epoch ms after which `$connect` refuses it.
    pub expires_at: i64,
}
