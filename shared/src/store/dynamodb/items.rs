//! The stored items (serde types, camelCase attributes) and their mapping to and from the domain.

use super::keys::{auction_pk, bid_sk, idem_sk, DETAILS, GSI_ACTIVE, GSI_ENDING, META};
use crate::domain::{
    self, Auction, AuctionDetails, AuctionId, AuctionStatus, Bid, BidReceipt, Connection,
    ConnectionId, EndedBy, IdempotencyKey, Ladder, Millis, Money, PlacedBid, ProxyMax, Publication,
    UserId,
};
use crate::ports::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::HashMap;

pub(super) type Item = HashMap<String, AttributeValue>;

/// The high bid as stored inside the auction item: the bid without `seq` (the conditional write cannot know
/// the sequence number in advance; it is stored beside it as `highBidSeq = seq + 1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct HighBidAttr {
    bid_id: String,
    auction_id: AuctionId,
    bidder_id: UserId,
    bidder_name: String,
    amount: Money,
    placed_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<IdempotencyKey>,
}

impl HighBidAttr {
    pub(super) fn from_bid(b: &Bid) -> Self {
        Self {
            bid_id: b.bid_id.clone(),
            auction_id: b.auction_id.clone(),
            bidder_id: b.bidder_id.clone(),
            bidder_name: b.bidder_name.clone(),
            amount: b.amount,
            placed_at: b.placed_at,
            idempotency_key: b.idempotency_key.clone(),
        }
    }
    pub(super) fn into_bid(self, seq: u64) -> Bid {
        Bid {
            bid_id: self.bid_id,
            auction_id: self.auction_id,
            bidder_id: self.bidder_id,
            bidder_name: self.bidder_name,
            amount: self.amount,
            placed_at: self.placed_at,
            seq,
            idempotency_key: self.idempotency_key,
        }
    }
}

/// `AUCTION#<id>` / `DETAILS`: what only the auction's page reads, so that the META item every bid rewrites
/// stays small (an item's write costs 1 WCU per KB). Absent for empty details.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DetailsItem {
    pk: String,
    sk: String,
    description: String,
}

impl DetailsItem {
    pub(super) fn from_domain(id: &AuctionId, d: &AuctionDetails) -> Self {
        Self {
            pk: auction_pk(id),
            sk: DETAILS.to_owned(),
            description: d.description.clone(),
        }
    }
    pub(super) fn into_domain(self) -> AuctionDetails {
        AuctionDetails {
            description: self.description,
        }
    }
}

/// `AUCTION#<id>` / `META`. Items written before the details had their own item also hold a
/// `description`, which nothing reads (serde ignores it).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AuctionItem {
    pk: String,
    sk: String,
    auction_id: AuctionId,
    seller_id: UserId,
    seller_name: String,
    title: String,
    starting_price: Money,
    increments: Ladder,
    #[serde(default)]
    soft_close_ms: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reserve_price: Option<Money>,
    #[serde(default)]
    starts_at: Millis,
    /// The leader's hidden maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    proxy: Option<ProxyMax>,
    #[serde(default)]
    rev: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_by: Option<EndedBy>,
    current_price: Money,
    minimum_bid: Money,
    bid_count: u64,
    seq: u64,
    status: AuctionStatus,
    created_at: Millis,
    ends_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_at: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    high_bid: Option<HighBidAttr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    high_bid_seq: Option<u64>,
    #[serde(default)]
    finalized: bool,
    #[serde(default = "one")]
    viewer_shards: u16,
    /// The publisher's progress (`domain::Publication`), flat so one UpdateItem sets it.
    #[serde(default)]
    published_seq: u64,
    #[serde(default)]
    published_at: Millis,
    #[serde(default)]
    audience: u64,
    #[serde(default)]
    status_at: Millis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<i64>,
}

fn one() -> u16 {
    1
}

impl AuctionItem {
    pub(super) fn from_domain(a: &Auction) -> Self {
        let gsi1pk = match (a.status, a.finalized) {
            (AuctionStatus::Active, _) => Some(GSI_ACTIVE),
            (AuctionStatus::Ended, false) => Some(GSI_ENDING),
            (AuctionStatus::Ended, true) => None,
        };
        Self {
            pk: auction_pk(&a.auction_id),
            sk: META.to_owned(),
            auction_id: a.auction_id.clone(),
            seller_id: a.seller_id.clone(),
            seller_name: a.seller_name.clone(),
            title: a.title.clone(),
            starting_price: a.starting_price,
            increments: a.increments.clone(),
            soft_close_ms: a.soft_close_ms,
            reserve_price: a.reserve_price,
            starts_at: a.starts_at,
            proxy: a.proxy.clone(),
            rev: a.rev,
            ended_by: a.ended_by.clone(),
            current_price: a.current_price,
            minimum_bid: a.minimum_bid,
            bid_count: a.bid_count,
            seq: a.seq,
            status: a.status,
            created_at: a.created_at,
            ends_at: a.ends_at,
            ended_at: a.ended_at,
            high_bid: a.high_bid.as_ref().map(HighBidAttr::from_bid),
            high_bid_seq: a.high_bid.as_ref().map(|b| b.seq),
            finalized: a.finalized,
            viewer_shards: a.viewer_shards,
            published_seq: a.publication.seq,
            published_at: a.publication.at,
            audience: a.publication.audience,
            status_at: a.publication.status_at,
            gsi1sk: gsi1pk.map(|_| a.ends_at),
            gsi1pk: gsi1pk.map(str::to_owned),
        }
    }

    pub(super) fn into_domain(self) -> StoreResult<Auction> {
        let high_bid = match (self.high_bid, self.high_bid_seq) {
            (Some(b), Some(seq)) => Some(b.into_bid(seq)),
            (None, _) => None,
            (Some(_), None) => {
                return Err(StoreError::Corrupt(format!(
                    "auction {} has a highBid without highBidSeq",
                    self.auction_id
                )))
            }
        };
        Ok(Auction {
            auction_id: self.auction_id,
            seller_id: self.seller_id,
            seller_name: self.seller_name,
            title: self.title,
            starting_price: self.starting_price,
            increments: self.increments,
            soft_close_ms: self.soft_close_ms,
            reserve_price: self.reserve_price,
            starts_at: self.starts_at,
            proxy: self.proxy,
            rev: self.rev,
            ended_by: self.ended_by,
            current_price: self.current_price,
            minimum_bid: self.minimum_bid,
            bid_count: self.bid_count,
            seq: self.seq,
            status: self.status,
            created_at: self.created_at,
            ends_at: self.ends_at,
            ended_at: self.ended_at,
            high_bid,
            finalized: self.finalized,
            viewer_shards: self.viewer_shards,
            publication: Publication {
                seq: self.published_seq,
                at: self.published_at,
                audience: self.audience,
                status_at: self.status_at,
            },
        })
    }
}

/// `AUCTION#<id>` / `BID#<seq>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BidItem {
    pk: String,
    sk: String,
    bid_id: String,
    auction_id: AuctionId,
    bidder_id: UserId,
    bidder_name: String,
    amount: Money,
    placed_at: Millis,
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    idempotency_key: Option<IdempotencyKey>,
}

impl BidItem {
    pub(super) fn from_domain(b: &Bid) -> Self {
        Self {
            pk: auction_pk(&b.auction_id),
            sk: bid_sk(b.seq),
            bid_id: b.bid_id.clone(),
            auction_id: b.auction_id.clone(),
            bidder_id: b.bidder_id.clone(),
            bidder_name: b.bidder_name.clone(),
            amount: b.amount,
            placed_at: b.placed_at,
            seq: b.seq,
            idempotency_key: b.idempotency_key.clone(),
        }
    }
    pub(super) fn into_domain(self) -> Bid {
        Bid {
            bid_id: self.bid_id,
            auction_id: self.auction_id,
            bidder_id: self.bidder_id,
            bidder_name: self.bidder_name,
            amount: self.amount,
            placed_at: self.placed_at,
            seq: self.seq,
            idempotency_key: self.idempotency_key,
        }
    }
}

/// `AUCTION#<id>` / `IDEM#<bidderId>#<key>`: what an accepted keyed request was answered.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct IdemItem {
    pk: String,
    pub(super) sk: String,
    /// What the bidder was answered: the bid, the status after it and the next minimum (< 1 KB).
    pub(super) receipt: BidReceipt,
    pub(super) expires_at: i64,
}

impl IdemItem {
    /// `None` for an unkeyed bid.
    pub(super) fn from_placed(
        placed: &PlacedBid,
        key: Option<&IdempotencyKey>,
        now: Millis,
    ) -> Option<Self> {
        let key = key?;
        Some(Self {
            pk: auction_pk(&placed.auction.auction_id),
            sk: idem_sk(&placed.bidder_id, key),
            receipt: placed.receipt(),
            expires_at: domain::idempotency_expires_at(now),
        })
    }
}

/// Both the `AUCTION#<aid>` / `CONN#<cid>` item and the `CONN#<cid>` / `CONN` pointer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConnItem {
    pk: String,
    sk: String,
    connection_id: ConnectionId,
    auction_id: AuctionId,
    user_id: UserId,
    connected_at: Millis,
    expires_at: i64,
    #[serde(default)]
    shard: u16,
}

impl ConnItem {
    pub(super) fn new(pk: String, sk: String, c: &Connection) -> Self {
        Self {
            pk,
            sk,
            connection_id: c.connection_id.clone(),
            auction_id: c.auction_id.clone(),
            user_id: c.user_id.clone(),
            connected_at: c.connected_at,
            expires_at: c.expires_at,
            shard: c.shard,
        }
    }
    pub(super) fn into_domain(self) -> Connection {
        Connection {
            connection_id: self.connection_id,
            auction_id: self.auction_id,
            user_id: self.user_id,
            connected_at: self.connected_at,
            expires_at: self.expires_at,
            shard: self.shard,
        }
    }
}

pub(super) fn encode<T: Serialize>(what: &str, value: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Other(format!("cannot encode {what}: {e}")))
}

pub(super) fn decode<T: DeserializeOwned>(what: &str, item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode {what}: {e}")))
}

pub(super) fn decode_auction(item: Item) -> StoreResult<Auction> {
    decode::<AuctionItem>("auction item", item)?.into_domain()
}

/// The id in an `AUCTION#<id>` partition key (from a KEYS_ONLY index entry).
pub(super) fn auction_id_from_keys(item: &Item) -> StoreResult<AuctionId> {
    let pk = item
        .get("pk")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("index entry without a string pk".to_owned()))?;
    let raw = pk
        .strip_prefix("AUCTION#")
        .ok_or_else(|| StoreError::Corrupt(format!("unexpected pk in gsi1: {pk:?}")))?;
    AuctionId::parse(raw).map_err(|e| StoreError::Corrupt(format!("bad auction id in gsi1: {e}")))
}

pub(super) fn dynamo_limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::dynamodb::keys::{n, s};

    fn auction() -> Auction {
        Auction {
            auction_id: AuctionId::parse("a1").unwrap(),
            seller_id: UserId::parse("seller").unwrap(),
            seller_name: "Sam".into(),
            title: "Lamp".into(),
            starting_price: Money::new(1000).unwrap(),
            increments: Ladder::standard(),
            soft_close_ms: 10_000,
            reserve_price: Some(Money::new(5_000).unwrap()),
            starts_at: 0,
            proxy: None,
            rev: 1,
            ended_by: None,
            current_price: Money::new(1500).unwrap(),
            minimum_bid: Money::new(1600).unwrap(),
            bid_count: 1,
            seq: 1,
            status: AuctionStatus::Active,
            created_at: 1,
            ends_at: 2_000,
            ended_at: None,
            high_bid: Some(Bid {
                bid_id: "b1".into(),
                auction_id: AuctionId::parse("a1").unwrap(),
                bidder_id: UserId::parse("u1").unwrap(),
                bidder_name: "Una".into(),
                amount: Money::new(1500).unwrap(),
                placed_at: 5,
                seq: 1,
                idempotency_key: Some(IdempotencyKey::parse("k1").unwrap()),
            }),
            finalized: false,
            viewer_shards: 1,
            publication: Publication::default(),
        }
    }

    #[test]
    fn auction_item_round_trips_and_carries_index_keys() {
        let a = auction();
        let item = encode("auction", &AuctionItem::from_domain(&a)).unwrap();
        assert_eq!(item.get("pk"), Some(&s("AUCTION#a1")));
        assert_eq!(item.get("sk"), Some(&s("META")));
        assert_eq!(item.get("gsi1pk"), Some(&s("ACTIVE")));
        assert_eq!(item.get("gsi1sk"), Some(&n(2_000)));
        assert_eq!(item.get("highBidSeq"), Some(&n(1)));
        assert_eq!(decode_auction(item).unwrap(), a);

        let mut done = a.clone();
        done.status = AuctionStatus::Ended;
        done.finalized = true;
        let item = encode("auction", &AuctionItem::from_domain(&done)).unwrap();
        assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"));
    }

    #[test]
    fn keys_are_padded_and_prefixed() {
        assert_eq!(bid_sk(42), "BID#00000000000000000042");
        assert_eq!(bid_sk(u64::MAX).len(), 4 + 20);
        let a = auction();
        let placed = PlacedBid {
            bids: vec![a.high_bid.clone().unwrap()],
            auction: a.clone(),
            bidder_id: UserId::parse("u1").unwrap(),
            kind: domain::BidKind::Plain,
            asked: Money::new(1500).unwrap(),
        };
        let key = IdempotencyKey::parse("k1").unwrap();
        let idem = IdemItem::from_placed(&placed, Some(&key), 5).unwrap();
        assert_eq!(idem.sk, "IDEM#u1#k1");
        assert_eq!(idem.expires_at, domain::IDEMPOTENCY_RETENTION_SECS);
    }

    #[test]
    fn corrupt_items_are_reported_not_panicked() {
        let mut item = encode("auction", &AuctionItem::from_domain(&auction())).unwrap();
        item.insert("bidCount".into(), s("many"));
        assert!(matches!(decode_auction(item), Err(StoreError::Corrupt(_))));
        let mut item = encode("auction", &AuctionItem::from_domain(&auction())).unwrap();
        item.remove("highBidSeq");
        assert!(matches!(decode_auction(item), Err(StoreError::Corrupt(_))));
    }
}
