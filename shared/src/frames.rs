//! The WebSocket wire format. Every frame is JSON, camelCase, and carries the auction's sequence number `seq`
//! (bumped by every accepted bid and by the close).
//!
//! What the publisher sends (one post per viewer per delivery, covering every seq from `fromSeq` to `seq`):
//!
//! ```text
//! {"type":"batch","seq":9,"fromSeq":7,"auctionId":"…","serverTime":…,"data":[
//!   {"type":"bid.placed","seq":7,"bidderId":"p-…","data":{…}},   one per accepted bid in the range, in seq order
//!   {"type":"bid.placed","seq":8,"bidderId":"p-…","data":{…}},
//!   {"type":"auction.viewers","seq":8,"data":{…}},    at most every 2 s: the viewer count
//!   {"type":"auction.status","seq":8,"data":{…}},     the state after the last bid of the range
//!   {"type":"auction.reserve","seq":8,"data":{…}},    auctions with a hidden reserve: met or not
//!   {"type":"auction.ended","seq":9,"data":{…}}]}     when the range includes the close
//! ```
//!
//! Besides deliveries: `auction.viewers` alone as viewers come and go, `bid.outbid` to the previous leader's
//! own connections, `auction.status` alone (below), `error` to one connection.
//!
//! A viewer receives one auction's frames in seq order: no frame's `seq` is below the previous one's, and its
//! range starts at most right after it (`fromSeq <= previous seq + 1`; more is a gap). A range may repeat seqs the viewer
//! already has — after a publisher retry, or when a long paced delivery took in bids committed while it ran
//! (`Frame::extended`) — drop what you have. A status-only frame (the periodic
//! status, the answer to `sync`) is `{"type":"auction.status","seq":8,…}` with no `fromSeq`. The three seed
//! events keep exactly their fields; the per-event `seq` and `fromSeq` are envelope.

use crate::domain::{
    public_id, Auction, AuctionEndedEvent, AuctionId, AuctionStatusEvent, Bid, BidPlacedEvent,
    Millis,
};
use serde::{Deserialize, Serialize};

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    #[serde(rename = "bid.placed")]
    BidPlaced(BidPlacedEvent),
    #[serde(rename = "auction.status")]
    AuctionStatus(AuctionStatusEvent),
    #[serde(rename = "auction.ended")]
    AuctionEnded(AuctionEndedEvent),
    /// How many viewers are watching (at most every 2 s while it changes).
    #[serde(rename = "auction.viewers")]
    AuctionViewers(ViewersEvent),
    /// Whether a hidden reserve is met (auctions with a reserve; after `auction.status` in a delivery).
    #[serde(rename = "auction.reserve")]
    AuctionReserve(ReserveEvent),
    /// Sent only to the connections of the bidder who just lost the lead.
    #[serde(rename = "bid.outbid")]
    BidOutbid(OutbidEvent),
    #[serde(rename = "batch")]
    Batch(Vec<Item>),
    /// Sent only to one connection, in answer to something it sent.
    #[serde(rename = "error")]
    Error(ErrorEvent),
}

/// One event inside a batch, with the seq it brought the auction to.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub seq: Option<u64>,
    /// On `bid.placed`: the bidder's public id (`domain::public_id`), so a client knows its own bids.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^p-[0-9a-f]{20}$")))]
    pub bidder_id: Option<String>,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ViewersEvent {
    pub count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReserveEvent {
    pub reserve_met: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OutbidEvent {
    /// The price that beat you.
    pub amount: i64,
    pub minimum_bid: i64,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub error: String,
    pub message: String,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    pub seq: u64,
    /// The first seq this frame covers (publisher frames only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub from_seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auction_id: Option<AuctionId>,
    /// The server's clock when the frame was sent (epoch ms), so countdowns agree with the server.
    #[serde(default)]
    pub server_time: Millis,
    #[serde(flatten)]
    pub event: Event,
}

fn bid_item(b: &Bid) -> Item {
    Item {
        seq: Some(b.seq),
        bidder_id: Some(public_id(&b.bidder_id)),
        event: Event::BidPlaced(b.placed_event()),
    }
}

fn item(seq: u64, event: Event) -> Item {
    Item {
        seq: Some(seq),
        bidder_id: None,
        event,
    }
}

/// What closes a delivery: the status at `seq`, then whether a reserve is met (auctions with one).
fn status_items(auction: &Auction, seq: u64) -> Vec<Item> {
    let mut items = vec![item(seq, Event::AuctionStatus(auction.status_event()))];
    if let Some(met) = auction.reserve_met() {
        items.push(item(
            seq,
            Event::AuctionReserve(ReserveEvent { reserve_met: met }),
        ));
    }
    items
}

impl Frame {
    /// This frame stamped with the server's clock (`serverTime`) as it is sent.
    pub fn at(mut self, now: Millis) -> Frame {
        self.server_time = now;
        self
    }
    fn of(auction: &Auction, seq: u64, from_seq: Option<u64>, event: Event) -> Frame {
        Frame {
            seq,
            from_seq,
            auction_id: Some(auction.auction_id.clone()),
            server_time: 0,
            event,
        }
    }
    /// `bid.outbid` for the bidder who lost the lead, with the price now and the next minimum.
    pub fn outbid(auction: &Auction) -> Frame {
        Frame::of(
            auction,
            auction.seq,
            None,
            Event::BidOutbid(OutbidEvent {
                amount: auction.current_price.cents(),
                minimum_bid: auction.minimum_bid.cents(),
            }),
        )
    }
    /// This delivery with `auction.viewers`, right before its status (which stays the state after the range).
    pub fn with_viewers(mut self, count: u64) -> Frame {
        if let Event::Batch(items) = &mut self.event {
            let at = items
                .iter()
                .position(|i| matches!(i.event, Event::AuctionStatus(_)))
                .unwrap_or(items.len());
            items.insert(
                at,
                item(self.seq, Event::AuctionViewers(ViewersEvent { count })),
            );
        }
        self
    }
    /// Does it tell the viewer count?
    pub fn carries_viewers(&self) -> bool {
        self.events()
            .iter()
            .any(|(_, e)| matches!(e, Event::AuctionViewers(_)))
    }
    /// `auction.viewers`.
    pub fn viewers(auction: &Auction, count: u64) -> Frame {
        Frame::of(
            auction,
            auction.seq,
            None,
            Event::AuctionViewers(ViewersEvent { count }),
        )
    }
    /// A delivery of `auction` (its state now) covering `from_seq..=auction.seq`: every bid of the range
    /// (`bids`, ascending by seq), the status after them, and `auction.ended` when the range includes the close.
    pub fn delivery(auction: &Auction, from_seq: u64, bids: &[Bid]) -> Frame {
        let mut items: Vec<Item> = bids.iter().map(bid_item).collect();
        let status_seq = bids.last().map_or(auction.seq, |b| b.seq);
        items.extend(status_items(auction, status_seq));
        if auction.status == crate::domain::AuctionStatus::Ended {
            items.push(item(
                auction.seq,
                Event::AuctionEnded(auction.ended_event()),
            ));
        }
        Frame::of(auction, auction.seq, Some(from_seq), Event::Batch(items))
    }
    /// This delivery, grown while it is being delivered: the same range start, its bids, then `bids` (the
    /// ones committed since, ascending by seq, right after this frame's `seq`) and the status of `auction` now.
    /// `None` unless this is a delivery of an active auction (a backlog part, a close, a status frame) and
    /// `bids` continue it without a gap.
    pub fn extended(&self, auction: &Auction, bids: &[Bid]) -> Option<Frame> {
        let (Some(from_seq), Event::Batch(items)) = (self.from_seq, &self.event) else {
            return None;
        };
        // A delivery ends with its status (and reserve) items, after its bids.
        let status_at = items
            .iter()
            .position(|i| matches!(i.event, Event::AuctionStatus(_)))?;
        let contiguous = bids.iter().zip(self.seq + 1..).all(|(b, seq)| b.seq == seq);
        if !contiguous
            || auction.status != crate::domain::AuctionStatus::Active
            || bids.last().map(|b| b.seq) != Some(auction.seq)
        {
            return None;
        }
        let mut all: Vec<Item> = items[..status_at].to_vec();
        all.extend(bids.iter().map(bid_item));
        all.extend(status_items(auction, auction.seq));
        Some(Frame {
            server_time: self.server_time,
            ..Frame::of(auction, auction.seq, Some(from_seq), Event::Batch(all))
        })
    }

    /// Part of a long backlog: the bids `from_seq..=to_seq` only (the status comes with the last part).
    pub fn backlog(auction: &Auction, from_seq: u64, to_seq: u64, bids: &[Bid]) -> Frame {
        Frame::of(
            auction,
            to_seq,
            Some(from_seq),
            Event::Batch(bids.iter().map(bid_item).collect()),
        )
    }

    /// The current status alone (the periodic status, the answer to `sync`).
    pub fn status(auction: &Auction) -> Frame {
        Frame::of(
            auction,
            auction.seq,
            None,
            Event::AuctionStatus(auction.status_event()),
        )
    }
    pub fn error(code: &str, message: &str) -> Frame {
        Frame {
            seq: 0,
            from_seq: None,
            auction_id: None,
            server_time: 0,
            event: Event::Error(ErrorEvent {
                error: code.to_owned(),
                message: message.to_owned(),
            }),
        }
    }
    /// The frame's JSON. Encoding cannot fail for the frames the server builds (string keys, no floats), but
    /// the error is passed on rather than replaced by an empty payload.
    pub fn to_bytes(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }

    /// Every event of the frame in order, with the seq it carries (a batch's items, or the frame itself).
    pub fn events(&self) -> Vec<(u64, &Event)> {
        match &self.event {
            Event::Batch(items) => items
                .iter()
                .map(|i| (i.seq.unwrap_or(self.seq), &i.event))
                .collect(),
            other => vec![(self.seq, other)],
        }
    }
}

/// What a client may send on the socket. Anything else is refused with an error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
// The schema describes what `parse` accepts: exactly `{"action":"sync"}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(tag = "action", rename_all = "lowercase", deny_unknown_fields)
)]
pub enum ClientMessage {
    /// Ask for the current `auction.status` (late joiners; API Gateway cannot post during `$connect`).
    Sync,
}

/// Client frames over this size are refused without parsing.
pub const MAX_CLIENT_FRAME: usize = 1024;

impl ClientMessage {
    pub fn parse(body: &str) -> Option<ClientMessage> {
        if body.len() > MAX_CLIENT_FRAME {
            return None;
        }
        // Exactly `{"action":"sync"}`: no other keys, so nothing can ride along.
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(body).ok()?;
        match (value.len(), value.get("action").and_then(|a| a.as_str())) {
            (1, Some("sync")) => Some(ClientMessage::Sync),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_delivery_frame_covers_its_range_in_seq_order() {
        let f = Frame {
            seq: 4,
            from_seq: Some(3),
            auction_id: Some(AuctionId::parse("A1").unwrap()),
            server_time: 77,
            event: Event::Batch(vec![
                Item {
                    seq: Some(3),
                    bidder_id: Some("p-1".into()),
                    event: Event::BidPlaced(BidPlacedEvent {
                        bid_id: "b".into(),
                        amount: 500,
                        bidder_name: "Ada".into(),
                        placed_at: 9,
                    }),
                },
                Item {
                    seq: Some(3),
                    bidder_id: None,
                    event: Event::AuctionStatus(AuctionStatusEvent {
                        current_price: 500,
                        bid_count: 1,
                        ends_at: 10,
                    }),
                },
                Item {
                    seq: Some(4),
                    bidder_id: None,
                    event: Event::AuctionEnded(AuctionEndedEvent {
                        winner_id: None,
                        winner_name: Some("Ada".into()),
                        final_price: Some(500),
                    }),
                },
            ]),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"type":"batch","seq":4,"fromSeq":3,"auctionId":"A1","serverTime":77,"data":[
                {"type":"bid.placed","seq":3,"bidderId":"p-1","data":{"bidId":"b","amount":500,"bidderName":"Ada","placedAt":9}},
                {"type":"auction.status","seq":3,"data":{"currentPrice":500,"bidCount":1,"endsAt":10}},
                {"type":"auction.ended","seq":4,"data":{"winnerId":null,"winnerName":"Ada","finalPrice":500}}]})
        );
        assert_eq!(serde_json::from_value::<Frame>(v).unwrap(), f);
        let seqs: Vec<u64> = f.events().iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [3, 3, 4]);
    }

    /// An auction and the bids 1..=n placed on it, through the real bid rule.
    fn auction_with_bids(n: i64) -> (Auction, Vec<Bid>) {
        use crate::domain::{self, AuctionDraft, BidRequest, Money, Principal, Role, UserId};
        let seller = Principal {
            user_id: UserId::parse("seller-1").unwrap(),
            name: "Sam".into(),
            role: Role::Seller,
        };
        let draft = AuctionDraft {
            viewer_shards: 1,
            title: "Lamp".into(),
            starting_price: Money::new(1_000).unwrap(),
            increments: domain::Ladder::fixed(Money::new(100).unwrap()),
            soft_close_ms: 0,
            reserve_price: None,
            starts_at: 0,
            ends_at: 10_000,
        };
        let mut a = domain::new_auction(AuctionId::parse("A1").unwrap(), &seller, draft, 0);
        let mut bids = Vec::new();
        for i in 0..n {
            let placed = domain::resolve_bid(
                &a,
                &BidRequest {
                    auction_id: a.auction_id.clone(),
                    // Two bidders taking turns (a leader may not outbid themselves).
                    bidder_id: UserId::parse(&format!("bidder-{}", i % 2)).unwrap(),
                    bidder_name: "Bea".into(),
                    kind: domain::BidKind::Plain,
                    amount: Money::new(1_000 + 100 * i).unwrap(),
                    now: 1 + i,
                    bid_id: format!("b{i}"),
                    idempotency_key: None,
                },
            )
            .unwrap();
            a = placed.auction;
            bids.extend(placed.bids);
        }
        (a, bids)
    }

    #[test]
    fn a_delivery_grows_by_the_bids_right_after_it_and_nothing_else() {
        let (a2, bids) = auction_with_bids(4);
        let (a1, _) = auction_with_bids(2);
        let frame = Frame::delivery(&a1, 1, &bids[..2]);
        let grown = frame.extended(&a2, &bids[2..]).expect("contiguous");
        assert_eq!(
            grown,
            Frame::delivery(&a2, 1, &bids),
            "the same as one frame built at once"
        );

        assert_eq!(frame.extended(&a2, &bids[3..]), None, "a gap");
        assert_eq!(
            frame.extended(&a2, &bids[2..3]),
            None,
            "short of the auction's seq"
        );
        assert_eq!(
            Frame::status(&a1).extended(&a2, &bids[2..]),
            None,
            "not a delivery"
        );
        let backlog = Frame::backlog(&a1, 1, 2, &bids[..2]);
        assert_eq!(backlog.extended(&a2, &bids[2..]), None, "a backlog part");
        let mut ended = a2.clone();
        ended.status = crate::domain::AuctionStatus::Ended;
        assert_eq!(
            frame.extended(&ended, &bids[2..]),
            None,
            "the close goes in the next pass"
        );
    }

    #[test]
    fn only_sync_is_a_valid_client_message() {
        assert_eq!(
            ClientMessage::parse(r#"{"action":"sync"}"#),
            Some(ClientMessage::Sync)
        );
        for bad in [
            r#"{"action":"publish"}"#,
            r#"{"type":"bid.placed","data":{}}"#,
            "sync",
            "",
            r#"{"action":"sync","x":1}"#,
        ] {
            assert_eq!(ClientMessage::parse(bad), None, "{bad}");
        }
    }
}
