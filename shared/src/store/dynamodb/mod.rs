//! The DynamoDB adapter: one table, one conditional write per bid. The table design (items, keys, the
//! sparse `gsi1` index, every access pattern) is in the README's "Table design"; this module keeps the
//! algorithms. Its files: [`keys`] (key layout), [`items`] (stored items and their mapping), [`errors`]
//! (SDK errors → [`StoreError`]), [`schema`] (the table and `create_table`), [`requests`] (batch and paging
//! helpers), and here the two ports.
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

mod errors;
mod items;
mod keys;
mod requests;
mod schema;

pub use keys::{GSI1, TTL_ATTRIBUTE};
pub use schema::{create_table, IndexSpec, TableSpec, TABLE};

use crate::domain::{
    self, Auction, AuctionId, AuctionStatus, Bid, BidOutcome, BidRejection, BidRequest,
    CloseOutcome, Closing, Connection, ConnectionId, Millis, PlacedBid,
};
use crate::ports::{AuctionStore, ConnectionStore, StoreError, StoreResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use errors::{build_err, store_err};
use items::{decode, decode_auction, encode, AuctionItem, BidItem, ConnItem, HighBidAttr, Item};
use keys::{
    auction_pk, conn_pointer_pk, conn_sk, key, n, names, s, CONN_POINTER_SK, GSI_ACTIVE,
    GSI_ENDING, META,
};

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
        closing: Closing,
    ) -> StoreResult<CloseOutcome> {
        let early = closing == Closing::Early;
        let condition = if early {
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
                if !early {
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
