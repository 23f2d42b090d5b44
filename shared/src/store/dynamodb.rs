//! DynamoDB adapter: one table, one conditional write per bid.
//!
//! # Single-table design
//!
//! | Item | `pk` | `sk` | Other attributes |
//! |---|---|---|---|
//! | Auction | `AUCTION#<auctionId>` | `META` | the `Auction` fields (camelCase), `highBid` (map, without `seq`), `highBidSeq`, `gsi1pk`, `gsi1sk` |
//! | Bid | `AUCTION#<auctionId>` | `BID#<seq, 20 digits>` | the `Bid` fields |
//! | Idempotency record | `AUCTION#<auctionId>` | `IDEM#<bidderId>#<key>` | `bid`, `auction` (snapshot right after the bid), `expiresAt` = placedAt + 24 h |
//! | Connection | `AUCTION#<auctionId>` | `CONN#<connectionId>` | the `Connection` fields, `expiresAt` |
//! | Connection pointer | `CONN#<connectionId>` | `CONN` | the same `Connection` fields, `expiresAt` |
//!
//! Keys `pk` (S) and `sk` (S). Global secondary index `gsi1`: partition `gsi1pk` (S), sort `gsi1sk` (N),
//! projection `KEYS_ONLY`. TTL attribute `expiresAt` (epoch seconds). On-demand billing.
//! Ids and Idempotency-Keys are validated by the domain types (no `#`), so no input can forge another key.
//!
//! `gsi1` is a sparse "needs attention" index over auction items only: `gsi1pk = "ACTIVE"`, `gsi1sk = endsAt`
//! while the auction is active; the close sets `gsi1pk = "ENDING"` (it stays findable until the announcement
//! is done); `mark_finalized` sets `finalized = true` and REMOVEs both attributes, so finished auctions leave
//! the index. A bid never touches `gsi1pk`/`gsi1sk`, and with a `KEYS_ONLY` projection an update that does not
//! change the index keys causes no index write.
//!
//! # Access patterns
//!
//! | Operation | Request(s) |
//! |---|---|
//! | `create_auction` | PutItem `AUCTION#id/META`, condition `attribute_not_exists(pk)` |
//! | `get_auction` | GetItem `AUCTION#id/META`, consistent |
//! | `list_active(now, limit)` | Query `gsi1`: `gsi1pk = "ACTIVE" AND gsi1sk > :now`, ascending; then BatchGetItem of those keys (consistent, order preserved, `UnprocessedKeys` retried) |
//! | `recent_bids(id, limit)` | Query `pk = AUCTION#id AND begins_with(sk, "BID#")`, `ScanIndexForward = false`, `Limit` |
//! | `place_bid` | (keyed only) GetItem `IDEM#…`, consistent; UpdateItem `AUCTION#id/META` with a ConditionExpression (the commit point); BatchWriteItem of the bid history |
//! | `due_auctions(now, limit)` | Query `gsi1`: `gsi1pk = "ACTIVE" AND gsi1sk <= :now`; Query `gsi1`: `gsi1pk = "ENDING"`. No Scan. |
//! | `close_auction` | UpdateItem `AUCTION#id/META`, condition `status = active [AND endsAt <= :now]`; PutItem of the winning bid's `BID#` item (repair) |
//! | `mark_finalized` | UpdateItem `SET finalized = true REMOVE gsi1pk, gsi1sk`, condition `attribute_exists(pk) AND status = ended` |
//! | `add_connection` | TransactWriteItems: Put `AUCTION#aid/CONN#cid` + Put `CONN#cid/CONN` |
//! | `get_connection` | GetItem `CONN#cid/CONN`, consistent |
//! | `remove_connection` | DeleteItem `CONN#cid/CONN` (ReturnValues ALL_OLD), then DeleteItem `AUCTION#aid/CONN#cid`; idempotent |
//! | `connections_for_auction` | Query `pk = AUCTION#aid AND begins_with(sk, "CONN#")`, consistent, all pages |
//!
//! # `place_bid`
//!
//! 1. With an Idempotency-Key: consistent GetItem of `IDEM#<bidder>#<key>`. Found → `Replayed(original)` if the
//!    amount is equal, else `Rejected(IdempotencyKeyReused)`. This is a dedupe read, never a validation read.
//! 2. The commit point, ONE UpdateItem on the auction item:
//!    `ConditionExpression: attribute_exists(pk) AND status = :active AND endsAt > :now AND sellerId <> :bidder
//!    AND minimumBid <= :amount` (keyed bids add `AND NOT (highBid.bidderId = :bidder AND
//!    highBid.idempotencyKey = :key)`, so a key whose record was lost can never be accepted twice);
//!    `SET highBidSeq = seq + :one, bidCount = bidCount + :one, seq = seq + :one, currentPrice = :amount,
//!    minimumBid = :amount + minIncrement, highBid = :bid`; `ReturnValues = ALL_OLD`,
//!    `ReturnValuesOnConditionCheckFailure = ALL_OLD`. No action reads an attribute that an earlier action of
//!    the same expression writes, so the result is the same whether operands see pre-update values (DynamoDB)
//!    or are applied in order (some emulators). The new state is `domain::apply_bid(old, req)`.
//! 3. After the commit, BatchWriteItem (unprocessed items retried a bounded number of times): the new `BID#`
//!    item, its `IDEM#` record if keyed, and *repair* puts of the previous high bid's `BID#` item (and its
//!    `IDEM#` record if it had a key, snapshot = the old state). These are idempotent puts of deterministic
//!    items, so if a Lambda died between steps 2 and 3 of the previous bid, the next bid heals the history. A
//!    failure in this step is logged and the bid is still reported `Accepted`: it is committed.
//! 4. On `ConditionalCheckFailedException` the returned item is decoded (absent → not found). If the request
//!    is keyed and the returned `highBid` has the same bidder and key, it is the same request racing itself:
//!    `Replayed`/`IdempotencyKeyReused` as in 1. Otherwise `Rejected(BidRejection::classify(..))`. No second read.
//!
//! # Capacity per bid (on-demand; 1 WCU per started KB of the larger of old and new item)
//!
//! Let `A` = size of the auction item in KB rounded up (1–2 for a typical description, at most ~5 with a
//! 4000-character description) and `S ≈ A` for an `IDEM#` record (it embeds an auction snapshot).
//!
//! - Accepted bid, no key: `A` (conditional update) + 1 (`BID#`) + 1 (repair of the previous `BID#`, when there
//!   is a previous bid). Typically 3 WCU. No `gsi1` write.
//! - Accepted bid, keyed: the above + `S` (its `IDEM#`) + `S` if the previous high bid was keyed (repair), plus
//!   the dedupe read (1 RCU: strongly consistent, ≤ 4 KB; the minimum 1 RCU is billed when it is absent).
//! - Refused bid: `A` WCU (a failed conditional write is billed like a write) and nothing else, plus the
//!   dedupe read if keyed. No extra read to explain the refusal: the old item comes back with the failure.
//! - Create: `A` + 1 `gsi1` put. Close: `A` (conditional update) + 2 `gsi1` writes (`gsi1pk` changes: the
//!   index deletes the old entry and puts the new one; KEYS_ONLY entries are < 1 KB) + 1 (repair put of the
//!   winning `BID#` item). `mark_finalized`: `A` + 1 `gsi1` delete. `add_connection`: 4 WCU (two items, and a
//!   transactional write costs 2 WCU per item); `remove_connection`: 2 WCU.
//!
//! # Errors
//!
//! Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`, and
//! `TransactionConflict` cancellations) → [`StoreError::Throttled`]; 5xx, dispatch failures and timeouts →
//! [`StoreError::Unavailable`]; undecodable items → [`StoreError::Corrupt`].

use crate::domain::{
    self, Auction, AuctionId, AuctionStatus, Bid, BidOutcome, BidRejection, BidRequest,
    CloseOutcome, Connection, ConnectionId, IdempotencyKey, Millis, Money, PlacedBid, UserId,
};
use crate::ports::{AuctionStore, ConnectionStore, StoreError, StoreResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, IndexStatus,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableStatus,
    TimeToLiveSpecification, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

type Item = HashMap<String, AttributeValue>;

/// Name of the global secondary index.
pub const GSI1: &str = "gsi1";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

const META: &str = "META";
const CONN_POINTER_SK: &str = "CONN";
const GSI_ACTIVE: &str = "ACTIVE";
const GSI_ENDING: &str = "ENDING";
/// Attempts for BatchWriteItem/BatchGetItem leftovers (`Unprocessed*`), with exponential backoff.
const BATCH_ATTEMPTS: u32 = 6;
const BATCH_GET_MAX: usize = 100;

/// The DynamoDB implementation of [`AuctionStore`] and [`ConnectionStore`].
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

// ---------------------------------------------------------------------------------------------------------
// Keys

fn auction_pk(id: &AuctionId) -> String {
    format!("AUCTION#{id}")
}
fn bid_sk(seq: u64) -> String {
    format!("BID#{seq:020}")
}
fn idem_sk(bidder: &UserId, key: &IdempotencyKey) -> String {
    format!("IDEM#{bidder}#{key}")
}
fn conn_sk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}
fn conn_pointer_pk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}
fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Storage DTOs

/// The high bid as stored inside the auction item: the bid without `seq` (the conditional write cannot know
/// the sequence number in advance; it is stored beside it as `highBidSeq = seq + 1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HighBidAttr {
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
    fn from_bid(b: &Bid) -> Self {
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
    fn from_request(r: &BidRequest) -> Self {
        Self {
            bid_id: r.bid_id.clone(),
            auction_id: r.auction_id.clone(),
            bidder_id: r.bidder_id.clone(),
            bidder_name: r.bidder_name.clone(),
            amount: r.amount,
            placed_at: r.now,
            idempotency_key: r.idempotency_key.clone(),
        }
    }
    fn into_bid(self, seq: u64) -> Bid {
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

/// `AUCTION#<id>` / `META`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuctionItem {
    pk: String,
    sk: String,
    auction_id: AuctionId,
    seller_id: UserId,
    seller_name: String,
    title: String,
    description: String,
    starting_price: Money,
    min_increment: Money,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi1sk: Option<i64>,
}

impl AuctionItem {
    fn from_domain(a: &Auction) -> Self {
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
            description: a.description.clone(),
            starting_price: a.starting_price,
            min_increment: a.min_increment,
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
            gsi1sk: gsi1pk.map(|_| a.ends_at),
            gsi1pk: gsi1pk.map(str::to_owned),
        }
    }

    fn into_domain(self) -> StoreResult<Auction> {
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
            description: self.description,
            starting_price: self.starting_price,
            min_increment: self.min_increment,
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
        })
    }
}

/// `AUCTION#<id>` / `BID#<seq>`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BidItem {
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
    fn from_domain(b: &Bid) -> Self {
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
    fn into_domain(self) -> Bid {
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

/// `AUCTION#<id>` / `IDEM#<bidderId>#<key>`: the accepted bid and the auction right after it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdemItem {
    pk: String,
    sk: String,
    bid: Bid,
    auction: Auction,
    expires_at: i64,
}

impl IdemItem {
    /// `None` for an unkeyed bid. Deterministic in its inputs, so a repair put rewrites the same item.
    fn from_placed(bid: &Bid, auction: &Auction) -> Option<Self> {
        let key = bid.idempotency_key.as_ref()?;
        Some(Self {
            pk: auction_pk(&bid.auction_id),
            sk: idem_sk(&bid.bidder_id, key),
            bid: bid.clone(),
            auction: auction.clone(),
            expires_at: domain::idempotency_expires_at(bid.placed_at),
        })
    }
}

/// Both the `AUCTION#<aid>` / `CONN#<cid>` item and the `CONN#<cid>` / `CONN` pointer.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConnItem {
    pk: String,
    sk: String,
    connection_id: ConnectionId,
    auction_id: AuctionId,
    user_id: UserId,
    connected_at: Millis,
    expires_at: i64,
}

impl ConnItem {
    fn new(pk: String, sk: String, c: &Connection) -> Self {
        Self {
            pk,
            sk,
            connection_id: c.connection_id.clone(),
            auction_id: c.auction_id.clone(),
            user_id: c.user_id.clone(),
            connected_at: c.connected_at,
            expires_at: c.expires_at,
        }
    }
    fn into_domain(self) -> Connection {
        Connection {
            connection_id: self.connection_id,
            auction_id: self.auction_id,
            user_id: self.user_id,
            connected_at: self.connected_at,
            expires_at: self.expires_at,
        }
    }
}

fn encode<T: Serialize>(what: &str, value: &T) -> StoreResult<Item> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Other(format!("cannot encode {what}: {e}")))
}

fn decode<T: DeserializeOwned>(what: &str, item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("cannot decode {what}: {e}")))
}

fn decode_auction(item: Item) -> StoreResult<Auction> {
    decode::<AuctionItem>("auction item", item)?.into_domain()
}

/// The id in an `AUCTION#<id>` partition key (from a KEYS_ONLY index entry).
fn auction_id_from_keys(item: &Item) -> StoreResult<AuctionId> {
    let pk = item
        .get("pk")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("index entry without a string pk".to_owned()))?;
    let raw = pk
        .strip_prefix("AUCTION#")
        .ok_or_else(|| StoreError::Corrupt(format!("unexpected pk in gsi1: {pk:?}")))?;
    AuctionId::parse(raw).map_err(|e| StoreError::Corrupt(format!("bad auction id in gsi1: {e}")))
}

fn dynamo_limit(limit: usize) -> i32 {
    i32::try_from(limit).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------------------
// Errors

const THROTTLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "LimitExceededException",
];

fn store_err<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            if THROTTLE_CODES.contains(&code) {
                StoreError::Throttled
            } else if ctx.raw().status().is_server_error() {
                StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
            } else {
                StoreError::Other(format!("{op}: {}", DisplayErrorContext(&err)))
            }
        }
        _ => StoreError::Other(format!("{op}: {}", DisplayErrorContext(&err))),
    }
}

fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("cannot build request: {e}"))
}

async fn backoff(attempt: u32) {
    let ms = 25u64.saturating_mul(1u64 << attempt.min(6));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

// ---------------------------------------------------------------------------------------------------------
// Table creation

/// Create the table (on-demand, `gsi1` KEYS_ONLY), wait until it and its index are active, and enable TTL on
/// `expiresAt`. An existing table is accepted (the function then only waits and enables TTL). The SAM template
/// defines the same table.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let attr = |n: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(t)
            .build()
            .map_err(build_err)
    };
    let key_el = |n: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .map_err(build_err)
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key_el("gsi1pk", KeyType::Hash)?)
        .key_schema(key_el("gsi1sk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(build_err)?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S)?)
        .attribute_definitions(attr("sk", ScalarAttributeType::S)?)
        .attribute_definitions(attr("gsi1pk", ScalarAttributeType::S)?)
        .attribute_definitions(attr("gsi1sk", ScalarAttributeType::N)?)
        .key_schema(key_el("pk", KeyType::Hash)?)
        .key_schema(key_el("sk", KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await;
    if let Err(err) = created {
        let exists = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        if !exists {
            return Err(store_err("CreateTable", err));
        }
    }

    // Wait until ACTIVE (real DynamoDB: seconds to a minute; emulators: immediately).
    let mut active = false;
    for attempt in 0..240u32 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| store_err("DescribeTable", e))?;
        if let Some(t) = out.table() {
            let indexes_active = t
                .global_secondary_indexes()
                .iter()
                .all(|i| matches!(i.index_status(), None | Some(IndexStatus::Active)));
            if t.table_status() == Some(&TableStatus::Active) && indexes_active {
                active = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(if attempt < 10 { 100 } else { 500 })).await;
    }
    if !active {
        return Err(StoreError::Unavailable(format!(
            "table {name} did not become ACTIVE"
        )));
    }

    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL_ATTRIBUTE)
        .build()
        .map_err(build_err)?;
    if let Err(err) = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        // "TimeToLive is already enabled" is a ValidationException; emulators without TTL answer
        // UnknownOperation / not implemented. Neither matters to correctness.
        let ignorable = err.as_service_error().is_some_and(|e| {
            matches!(
                e.code(),
                Some(
                    "ValidationException"
                        | "UnknownOperationException"
                        | "NotImplementedException"
                        | "UnsupportedOperation"
                )
            )
        });
        if !ignorable {
            return Err(store_err("UpdateTimeToLive", err));
        }
        tracing::debug!(table = name, error = %DisplayErrorContext(&err), "TTL not enabled (ignored)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------
// Helpers on the store

impl DynamoStore {
    async fn get_item(&self, op: &'static str, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_err(op, e))?;
        Ok(out.item.filter(|i| !i.is_empty()))
    }

    async fn get_idem(
        &self,
        auction: &AuctionId,
        bidder: &UserId,
        k: &IdempotencyKey,
    ) -> StoreResult<Option<PlacedBid>> {
        let Some(item) = self
            .get_item(
                "GetItem(idempotency)",
                key(auction_pk(auction), idem_sk(bidder, k)),
            )
            .await?
        else {
            return Ok(None);
        };
        let rec: IdemItem = decode("idempotency record", item)?;
        Ok(Some(PlacedBid {
            bid: rec.bid,
            auction: rec.auction,
        }))
    }

    /// BatchWriteItem of puts (≤ 25), retrying `UnprocessedItems` a bounded number of times.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        let mut requests = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(build_err)?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        for attempt in 0..BATCH_ATTEMPTS {
            if requests.is_empty() {
                return Ok(());
            }
            if attempt > 0 {
                backoff(attempt).await;
            }
            let out = self
                .client
                .batch_write_item()
                .request_items(self.table.clone(), std::mem::take(&mut requests))
                .send()
                .await
                .map_err(|e| store_err("BatchWriteItem", e))?;
            requests = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
        }
        if requests.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Throttled)
        }
    }

    async fn put_plain(&self, op: &'static str, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_err(op, e))
    }

    /// Step 3 of `place_bid`: the new bid's history items plus the repair of the previous high bid's.
    async fn write_bid_history(&self, before: &Auction, placed: &PlacedBid) -> StoreResult<()> {
        let mut items = vec![encode("bid", &BidItem::from_domain(&placed.bid))?];
        if let Some(idem) = IdemItem::from_placed(&placed.bid, &placed.auction) {
            items.push(encode("idempotency record", &idem)?);
        }
        if let Some(prev) = &before.high_bid {
            items.push(encode("bid", &BidItem::from_domain(prev))?);
            if let Some(idem) = IdemItem::from_placed(prev, before) {
                items.push(encode("idempotency record", &idem)?);
            }
        }
        // A batch must not name one key twice (the keyed condition makes it impossible; stay defensive).
        let mut seen = std::collections::HashSet::new();
        items.retain(|i| {
            let part = |name: &str| i.get(name).and_then(|v| v.as_s().ok()).cloned();
            seen.insert((part("pk"), part("sk")))
        });
        self.batch_put(items).await
    }

    /// Query a partition of `gsi1`, following pages until `limit` keys or the end; returns auction ids.
    async fn query_gsi1(
        &self,
        partition: &str,
        sort: Option<(&str, Millis)>,
        limit: usize,
    ) -> StoreResult<Vec<AuctionId>> {
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        let key_cond = match sort {
            Some((op, _)) => format!("#gpk = :gpk AND #gsk {op} :now"),
            None => "#gpk = :gpk".to_owned(),
        };
        while ids.len() < limit {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI1)
                .key_condition_expression(&key_cond)
                .expression_attribute_names("#gpk", "gsi1pk")
                .expression_attribute_values(":gpk", s(partition))
                .scan_index_forward(true)
                .limit(dynamo_limit(limit - ids.len()))
                .set_exclusive_start_key(start.take());
            if let Some((_, now)) = sort {
                q = q
                    .expression_attribute_names("#gsk", "gsi1sk")
                    .expression_attribute_values(":now", n(now));
            }
            let out = q.send().await.map_err(|e| store_err("Query(gsi1)", e))?;
            for item in out.items() {
                ids.push(auction_id_from_keys(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        ids.truncate(limit);
        Ok(ids)
    }

    /// BatchGetItem of auction items (consistent), in the order of `ids`; missing ones are skipped.
    async fn batch_get_auctions(&self, ids: &[AuctionId]) -> StoreResult<Vec<Auction>> {
        let mut found: HashMap<AuctionId, Auction> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(BATCH_GET_MAX) {
            let mut keys: Vec<Item> = chunk.iter().map(|id| key(auction_pk(id), META)).collect();
            keys.dedup();
            let mut attempt = 0;
            while !keys.is_empty() {
                if attempt >= BATCH_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                if attempt > 0 {
                    backoff(attempt).await;
                }
                attempt += 1;
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.clone(), ka)
                    .send()
                    .await
                    .map_err(|e| store_err("BatchGetItem", e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let a = decode_auction(item)?;
                    found.insert(a.auction_id.clone(), a);
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|ka| ka.keys)
                    .unwrap_or_default();
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// Query one auction partition for a sort-key prefix, all pages (or up to `limit`).
    async fn query_prefix(
        &self,
        op: &'static str,
        pk: String,
        prefix: &str,
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let remaining = limit.map(|l| l.saturating_sub(items.len()));
            if remaining == Some(0) {
                break;
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#sk", "sk")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(remaining.map(dynamo_limit))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| store_err(op, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        if let Some(l) = limit {
            items.truncate(l);
        }
        Ok(items)
    }
}

/// For a failed conditional UpdateItem on an auction: the auction item it returned (`ALL_OLD`), decoded;
/// `Ok(None)` when there was no item. `None` when the error is anything else.
fn condition_failed_auction(
    err: &SdkError<UpdateItemError, HttpResponse>,
) -> Option<StoreResult<Option<Auction>>> {
    match err.as_service_error() {
        Some(UpdateItemError::ConditionalCheckFailedException(e)) => Some(
            e.item()
                .filter(|i| !i.is_empty())
                .cloned()
                .map(decode_auction)
                .transpose(),
        ),
        _ => None,
    }
}

/// A refused bid that is really this request's own committed bid, found in the item the failed write
/// returned: `Some((placed, ours))`. `ours`: the very same request (`bid_id` equal), which happens when the SDK
/// retried an UpdateItem whose response was lost; otherwise a client retry with the same Idempotency-Key whose
/// record was never written (the original invocation failed after the commit).
fn own_committed_bid(current: Option<&Auction>, req: &BidRequest) -> Option<(PlacedBid, bool)> {
    let a = current?;
    let hb = a.high_bid.as_ref()?;
    let ours = hb.bid_id == req.bid_id;
    let same_key = req.idempotency_key.is_some()
        && hb.bidder_id == req.bidder_id
        && hb.idempotency_key == req.idempotency_key;
    (ours || same_key).then(|| {
        (
            PlacedBid {
                bid: hb.clone(),
                auction: a.clone(),
            },
            ours,
        )
    })
}

fn replay_or_reused(original: PlacedBid, req: &BidRequest) -> BidOutcome {
    if original.bid.amount == req.amount {
        BidOutcome::Replayed(original)
    } else {
        BidOutcome::Rejected(BidRejection::IdempotencyKeyReused)
    }
}

// ---------------------------------------------------------------------------------------------------------
// AuctionStore

#[async_trait]
impl AuctionStore for DynamoStore {
    async fn create_auction(&self, auction: &Auction) -> StoreResult<()> {
        let item = encode("auction", &AuctionItem::from_domain(auction))?;
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(PutItemError::ConditionalCheckFailedException(_)) =
                    err.as_service_error()
                {
                    Err(StoreError::AlreadyExists)
                } else {
                    Err(store_err("PutItem(auction)", err))
                }
            }
        }
    }

    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        self.get_item("GetItem(auction)", key(auction_pk(id), META))
            .await?
            .map(decode_auction)
            .transpose()
    }

    async fn list_active(&self, now: Millis, limit: usize) -> StoreResult<Vec<Auction>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let ids = self.query_gsi1(GSI_ACTIVE, Some((">", now)), limit).await?;
        let auctions = self.batch_get_auctions(&ids).await?;
        // The index is eventually consistent; the items are read consistently. Keep only what is still open.
        Ok(auctions.into_iter().filter(|a| a.is_open(now)).collect())
    }

    async fn recent_bids(&self, id: &AuctionId, limit: usize) -> StoreResult<Vec<Bid>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .query_prefix("Query(bids)", auction_pk(id), "BID#", false, Some(limit))
            .await?;
        items
            .into_iter()
            .map(|i| decode::<BidItem>("bid", i).map(BidItem::into_domain))
            .collect()
    }

    async fn place_bid(&self, req: &BidRequest) -> StoreResult<BidOutcome> {
        // 1. Dedupe read (keyed requests only).
        if let Some(k) = &req.idempotency_key {
            if let Some(original) = self.get_idem(&req.auction_id, &req.bidder_id, k).await? {
                return Ok(replay_or_reused(original, req));
            }
        }

        // 2. The commit point.
        let high_bid =
            serde_dynamo::to_attribute_value::<_, AttributeValue>(HighBidAttr::from_request(req))
                .map_err(|e| StoreError::Other(format!("cannot encode bid: {e}")))?;
        let mut condition = "attribute_exists(#pk) AND #status = :active AND #endsAt > :now \
                             AND #sellerId <> :bidder AND #minimumBid <= :amount"
            .to_owned();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(&req.auction_id), META)))
            .update_expression(
                "SET #highBidSeq = #seq + :one, #bidCount = #bidCount + :one, #seq = #seq + :one, \
                 #currentPrice = :amount, #minimumBid = :amount + #minIncrement, #highBid = :highBid",
            )
            .set_expression_attribute_names(Some(names(&[
                ("#pk", "pk"),
                ("#status", "status"),
                ("#endsAt", "endsAt"),
                ("#sellerId", "sellerId"),
                ("#minimumBid", "minimumBid"),
                ("#minIncrement", "minIncrement"),
                ("#currentPrice", "currentPrice"),
                ("#bidCount", "bidCount"),
                ("#seq", "seq"),
                ("#highBid", "highBid"),
                ("#highBidSeq", "highBidSeq"),
            ])))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":now", n(req.now))
            .expression_attribute_values(":bidder", s(req.bidder_id.as_str()))
            .expression_attribute_values(":amount", n(req.amount.cents()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":highBid", high_bid)
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(k) = &req.idempotency_key {
            condition.push_str(
                " AND NOT (#highBid.#bidderId = :bidder AND #highBid.#idemKey = :idemKey)",
            );
            update = update
                .expression_attribute_names("#bidderId", "bidderId")
                .expression_attribute_names("#idemKey", "idempotencyKey")
                .expression_attribute_values(":idemKey", s(k.as_str()));
        }
        let result = update.condition_expression(condition).send().await;

        match result {
            Ok(out) => {
                let old = out.attributes.filter(|i| !i.is_empty()).ok_or_else(|| {
                    StoreError::Corrupt("conditional bid update returned no old item".to_owned())
                })?;
                let before = decode_auction(old)?;
                let placed = domain::apply_bid(&before, req);
                // 3. History (and repair of the previous bid's). The bid is committed whatever happens here.
                if let Err(e) = self.write_bid_history(&before, &placed).await {
                    tracing::warn!(
                        auction_id = %req.auction_id,
                        seq = placed.bid.seq,
                        error = %e,
                        "bid committed but its history write failed; the next bid or the close repairs it"
                    );
                }
                Ok(BidOutcome::Accepted(placed))
            }
            Err(err) => {
                if let Some(current) = condition_failed_auction(&err) {
                    // 4. Explain the refusal from the item the failed write saw.
                    let current = current?;
                    let Some((placed, ours)) = own_committed_bid(current.as_ref(), req) else {
                        return Ok(BidOutcome::Rejected(BidRejection::classify(
                            current.as_ref(),
                            req,
                        )));
                    };
                    if !ours && placed.bid.amount != req.amount {
                        return Ok(BidOutcome::Rejected(BidRejection::IdempotencyKeyReused));
                    }
                    // Its history (and idempotency record) may never have been written: do it now.
                    if let Err(e) = self.write_bid_history(&placed.auction, &placed).await {
                        tracing::warn!(auction_id = %req.auction_id, error = %e, "history write of a recovered bid failed");
                    }
                    return Ok(if ours {
                        BidOutcome::Accepted(placed)
                    } else {
                        BidOutcome::Recovered(placed)
                    });
                }
                Err(store_err("UpdateItem(bid)", err))
            }
        }
    }

    async fn due_auctions(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Overdue active auctions first (soonest endsAt first), then closed ones whose announcement is pending:
        // a stuck announcement can then never starve new closes.
        let mut ids = self
            .query_gsi1(GSI_ACTIVE, Some(("<=", now)), limit)
            .await?;
        if ids.len() < limit {
            let ending = self.query_gsi1(GSI_ENDING, None, limit - ids.len()).await?;
            for id in ending {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    async fn close_auction(
        &self,
        id: &AuctionId,
        now: Millis,
        force: bool,
    ) -> StoreResult<CloseOutcome> {
        let condition = if force {
            "#status = :active"
        } else {
            "#status = :active AND #endsAt <= :now"
        };
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(id), META)))
            .condition_expression(condition)
            .update_expression(
                "SET #status = :ended, #endedAt = :now, #seq = #seq + :one, #gsi1pk = :ending",
            )
            .set_expression_attribute_names({
                let mut m = names(&[
                    ("#status", "status"),
                    ("#endedAt", "endedAt"),
                    ("#seq", "seq"),
                    ("#gsi1pk", "gsi1pk"),
                ]);
                if !force {
                    m.insert("#endsAt".to_owned(), "endsAt".to_owned());
                }
                Some(m)
            })
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":ended", s("ended"))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ending", s(GSI_ENDING))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match res {
            Ok(out) => {
                let item = out.attributes.filter(|i| !i.is_empty()).ok_or_else(|| {
                    StoreError::Corrupt("close update returned no item".to_owned())
                })?;
                let closed = decode_auction(item)?;
                // Repair: the winning bid's history item, in case its writer died after committing.
                if let Some(hb) = &closed.high_bid {
                    let repaired = match encode("bid", &BidItem::from_domain(hb)) {
                        Ok(item) => self.put_plain("PutItem(bid repair)", item).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = repaired {
                        tracing::warn!(auction_id = %id, error = %e, "auction closed but the winning bid's repair put failed");
                    }
                }
                Ok(CloseOutcome::Closed(closed))
            }
            Err(err) => {
                if let Some(current) = condition_failed_auction(&err) {
                    let current = current?;
                    return Ok(match current {
                        None => CloseOutcome::NotFound,
                        Some(a) if a.status == AuctionStatus::Ended => {
                            CloseOutcome::AlreadyEnded(a)
                        }
                        Some(a) => CloseOutcome::NotDue(a),
                    });
                }
                Err(store_err("UpdateItem(close)", err))
            }
        }
    }

    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(id), META)))
            .condition_expression("attribute_exists(#pk) AND #status = :ended")
            .update_expression("SET #finalized = :true REMOVE #gsi1pk, #gsi1sk")
            .set_expression_attribute_names(Some(names(&[
                ("#pk", "pk"),
                ("#status", "status"),
                ("#finalized", "finalized"),
                ("#gsi1pk", "gsi1pk"),
                ("#gsi1sk", "gsi1sk"),
            ])))
            .expression_attribute_values(":ended", s("ended"))
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Missing or not ended: nothing to finalize (idempotent no-op; never creates an item).
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(store_err("UpdateItem(finalize)", err)),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ConnectionStore

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(&self, conn: &Connection) -> StoreResult<()> {
        let in_auction = encode(
            "connection",
            &ConnItem::new(
                auction_pk(&conn.auction_id),
                conn_sk(&conn.connection_id),
                conn,
            ),
        )?;
        let pointer = encode(
            "connection pointer",
            &ConnItem::new(
                conn_pointer_pk(&conn.connection_id),
                CONN_POINTER_SK.to_owned(),
                conn,
            ),
        )?;
        let put = |item: Item| -> StoreResult<TransactWriteItem> {
            let p = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(build_err)?;
            Ok(TransactWriteItem::builder().put(p).build())
        };
        let res = self
            .client
            .transact_write_items()
            .transact_items(put(in_auction)?)
            .transact_items(put(pointer)?)
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
                    err.as_service_error()
                {
                    let contended = e.cancellation_reasons().iter().any(|r| {
                        matches!(
                            r.code(),
                            Some(
                                "TransactionConflict"
                                    | "ThrottlingError"
                                    | "ProvisionedThroughputExceeded"
                            )
                        )
                    });
                    if contended {
                        return Err(StoreError::Throttled);
                    }
                }
                Err(store_err("TransactWriteItems(connection)", err))
            }
        }
    }

    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(conn_pointer_pk(id), CONN_POINTER_SK)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| store_err("DeleteItem(connection pointer)", e))?;
        let Some(old) = out.attributes.filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let conn = decode::<ConnItem>("connection pointer", old)?.into_domain();
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(&conn.auction_id), conn_sk(id))))
            .send()
            .await
            .map_err(|e| store_err("DeleteItem(connection)", e))?;
        Ok(Some(conn))
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        self.get_item(
            "GetItem(connection)",
            key(conn_pointer_pk(id), CONN_POINTER_SK),
        )
        .await?
        .map(|i| decode::<ConnItem>("connection pointer", i).map(ConnItem::into_domain))
        .transpose()
    }

    async fn connections_for_auction(&self, id: &AuctionId) -> StoreResult<Vec<Connection>> {
        let items = self
            .query_prefix("Query(connections)", auction_pk(id), "CONN#", true, None)
            .await?;
        items
            .into_iter()
            .map(|i| decode::<ConnItem>("connection", i).map(ConnItem::into_domain))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auction() -> Auction {
        Auction {
            auction_id: AuctionId::parse("a1").unwrap(),
            seller_id: UserId::parse("seller").unwrap(),
            seller_name: "Sam".into(),
            title: "Lamp".into(),
            description: String::new(),
            starting_price: Money::new(1000).unwrap(),
            min_increment: Money::new(100).unwrap(),
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
        let hb = a.high_bid.clone().unwrap();
        let idem = IdemItem::from_placed(&hb, &a).unwrap();
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
