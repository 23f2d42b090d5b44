//! The WebSocket wire format. Every frame is JSON, camelCase, and carries the auction's sequence number.
//!
//! Single event: `{"type":"bid.placed","seq":7,"auctionId":"…","data":{…}}`.
//! Combined (one post per viewer per accepted bid): `{"type":"batch","seq":7,"auctionId":"…","data":[
//!   {"type":"bid.placed","data":{…}}, {"type":"auction.status","data":{…}}]}`.
//! Clients ignore any frame whose `seq` is lower than the one they already show.

use crate::domain::{
    Auction, AuctionEndedEvent, AuctionId, AuctionStatusEvent, BidPlacedEvent, BidReceipt,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    #[serde(rename = "bid.placed")]
    BidPlaced(BidPlacedEvent),
    #[serde(rename = "auction.status")]
    AuctionStatus(AuctionStatusEvent),
    #[serde(rename = "auction.ended")]
    AuctionEnded(AuctionEndedEvent),
    #[serde(rename = "batch")]
    Batch(Vec<Event>),
    /// Sent only to one connection, in answer to something it sent.
    #[serde(rename = "error")]
    Error(ErrorEvent),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Frame {
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auction_id: Option<AuctionId>,
    #[serde(flatten)]
    pub event: Event,
}

impl Frame {
    /// The one frame every viewer gets for an accepted bid: `bid.placed` and `auction.status` together.
    pub fn bid_accepted(receipt: &BidReceipt) -> Frame {
        Frame {
            seq: receipt.bid.seq,
            auction_id: Some(receipt.bid.auction_id.clone()),
            event: Event::Batch(vec![
                Event::BidPlaced(receipt.bid.placed_event()),
                Event::AuctionStatus(receipt.status.clone()),
            ]),
        }
    }
    pub fn status(auction: &Auction) -> Frame {
        Frame {
            seq: auction.seq,
            auction_id: Some(auction.auction_id.clone()),
            event: Event::AuctionStatus(auction.status_event()),
        }
    }
    pub fn ended(auction: &Auction) -> Frame {
        Frame {
            seq: auction.seq,
            auction_id: Some(auction.auction_id.clone()),
            event: Event::AuctionEnded(auction.ended_event()),
        }
    }
    pub fn error(code: &str, message: &str) -> Frame {
        Frame {
            seq: 0,
            auction_id: None,
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
}

/// What a client may send on the socket. Anything else is refused with an error frame.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    fn combined_frame_shape_round_trips() {
        let f = Frame {
            seq: 3,
            auction_id: Some(AuctionId::parse("A1").unwrap()),
            event: Event::Batch(vec![
                Event::BidPlaced(BidPlacedEvent {
                    bid_id: "b".into(),
                    amount: 500,
                    bidder_name: "Ada".into(),
                    placed_at: 9,
                }),
                Event::AuctionStatus(AuctionStatusEvent {
                    current_price: 500,
                    bid_count: 1,
                    ends_at: 10,
                }),
            ]),
        };
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"type":"batch","seq":3,"auctionId":"A1","data":[
                {"type":"bid.placed","data":{"bidId":"b","amount":500,"bidderName":"Ada","placedAt":9}},
                {"type":"auction.status","data":{"currentPrice":500,"bidCount":1,"endsAt":10}}]})
        );
        assert_eq!(serde_json::from_value::<Frame>(v).unwrap(), f);
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
