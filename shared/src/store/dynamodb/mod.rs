//! The DynamoDB adapter: one table, one conditional write per bid. The table design (items, keys, the
//! sparse `gsi1` index, every access pattern) is in the README's "Table design"; this module keeps the
//! algorithms. Its files: [`keys`] (key layout), [`items`] (stored items and their mapping), [`errors`]
//! (SDK errors → [`StoreError`]), [`schema`] (the table and `create_table`), [`requests`] (batch and paging
//! helpers), [`limits`] (the `LimitStore` port: bid rate, seller quota, listing pages, retention), and here
//! the two other ports.
//!
//! # `place_bid`
//!
//! 1. With an Idempotency-Key: consistent GetItem of `IDEM#<bidder>#<key>`. Found → its receipt is `Replayed` if
//!    the amount is equal, else `Rejected(IdempotencyKeyReused)`. A dedupe read, never a validation read.
//! 2. Consistent GetItem of the auction item: the state the decision is made on.
//! 3. `domain::judge_bid(state, req)`, the same pure function the embedded store runs in its transaction. A
//!    refusal is answered at once and writes nothing (prices only rise; an ended or past-due auction never
//!    reopens: a refusal on a consistent read is final). `Committed` (the leading bid is this very request, or
//!    this key's original) is answered as such.
//! 4. The commit point, ONE TransactWriteItems ([`requests`]' `bid_transaction`): Update of the auction item with
//!    `ConditionExpression: seq = :seq AND rev = :rev AND status = :active AND endsAt > :now AND startsAt <=
//!    :now AND sellerId <> :bidder [AND minimumBid <= :firstAmount]` (the version the decision was made on, and
//!    the bid rule itself), setting the new price, minimum, `endsAt` (soft close) and hidden maximum,
//!    `ReturnValuesOnConditionCheckFailure = ALL_OLD`; a Put of each `BID#<seq>` item (two when a maximum
//!    answers); Put of the `IDEM#` record (keyed; `attribute_not_exists`). The history items and the record exist
//!    exactly when the bids do.
//! 5. Cancelled with the auction's condition failed: judge again on the returned item (no re-read), at most
//!    [`BID_ATTEMPTS`] rounds. The record's condition failed: the same key committed first, its record is read
//!    and replayed. `TransactionConflict` or throttling of an item: pause, re-read, judge again.
//!
//! # Capacity
//!
//! Per bid: README, "The bid write" (`A`, the META item's WCU, is 1 for every auction the API accepts: the
//! description is in the `DETAILS` item, which no bid touches). Create: one transaction of the META put, the
//! seller's quota slot and, with a description, the `DETAILS` put (2 WCU per KB of each), + 1 `gsi1` put. Close: `A` (conditional update) + 2 `gsi1`
//! writes (`gsi1pk` changes: the index deletes the old entry and puts the new one; KEYS_ONLY entries are < 1 KB).
//! `mark_finalized`: `A` + 1 `gsi1` delete. `add_connection`: 4 WCU (two items, and a transactional write costs
//! 2 WCU per item); `remove_connection`: 2 WCU.
//!
//! # Errors
//!
//! Throttling (`ProvisionedThroughputExceededException`, `ThrottlingException`, `RequestLimitExceeded`, and
//! `TransactionConflict` cancellations) → [`StoreError::Throttled`]; 5xx, dispatch failures and timeouts →
//! [`StoreError::Unavailable`]; undecodable items → [`StoreError::Corrupt`].

mod errors;
mod items;
mod keys;
mod limits;
mod requests;
mod schema;

pub use keys::{GSI1, TTL_ATTRIBUTE};
pub use schema::{create_table, IndexSpec, TableSpec, TABLE};

use crate::domain::{
    self, Admission, Auction, AuctionDetails, AuctionId, AuctionStatus, Bid, BidDecision,
    BidOutcome, BidRequest, CloseOutcome, Closing, Connection, ConnectionId, Millis, Publication,
    SyncVerdict,
};
use crate::ports::{AuctionStore, ConnectionStore, StoreError, StoreResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use aws_sdk_dynamodb::Client;
use errors::{build_err, is_contention, store_err};
use items::{decode, decode_auction, encode, BidItem, ConnItem, DetailsItem, Item};
use keys::{
    auction_pk, bid_sk, conn_pointer_pk, conn_sk, key, n, names, s, user_pk, viewers_pk,
    viewing_sk, CONN_POINTER_SK, DETAILS, GSI_ACTIVE, GSI_ENDING, META,
};
use requests::CreateRefused;

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

/// How many times one bid is re-decided when another bid committed between its read and its write. Each lost
/// race means another bid won, and a re-decision usually finds the bid too low now; a bid that stays valid
/// loses at most about ln(n) races among n concurrent ones (the "records" of a random order), so 32 is far
/// past what 200 simultaneous bidders on one auction need (the conformance suite's concurrency case).
const BID_ATTEMPTS: u32 = 32;

/// Why a bid's transaction was cancelled, from its cancellation reasons (in the order of its items: the
/// auction's update, the `BID#` put, the `IDEM#` put).
enum Cancelled {
    /// The auction changed since it was read: here is its current state (ALL_OLD), when DynamoDB returned it.
    AuctionChanged(Option<Item>),
    /// The idempotency record exists: a request with the same key committed first.
    KeyTaken,
    /// Another transaction held the item (TransactionConflict) or capacity ran out: retry after a pause.
    Contended,
}

fn cancelled(err: &SdkError<TransactWriteItemsError, HttpResponse>) -> Option<Cancelled> {
    let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error()
    else {
        return None;
    };
    let reasons = e.cancellation_reasons();
    let code = |i: usize| reasons.get(i).and_then(|r| r.code());
    if code(0) == Some("ConditionalCheckFailed") {
        let item = reasons[0].item().filter(|i| !i.is_empty()).cloned();
        return Some(Cancelled::AuctionChanged(item));
    }
    // The only other condition in the transaction is the idempotency record's (after the bids' puts).
    if reasons
        .iter()
        .skip(1)
        .any(|r| r.code() == Some("ConditionalCheckFailed"))
    {
        return Some(Cancelled::KeyTaken);
    }
    let contended = reasons.iter().any(|r| is_contention(r.code()));
    contended.then_some(Cancelled::Contended)
}

// ---------------------------------------------------------------------------------------------------------
// AuctionStore

#[async_trait]
impl AuctionStore for DynamoStore {
    async fn create_auction(&self, auction: &Auction, details: &AuctionDetails) -> StoreResult<()> {
        match self.create_transaction(auction, details, None).await? {
            Ok(()) => Ok(()),
            Err(CreateRefused::IdTaken | CreateRefused::SlotTaken) => {
                Err(StoreError::AlreadyExists)
            }
        }
    }

    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        self.get_item("GetItem(auction)", key(auction_pk(id), META))
            .await?
            .map(decode_auction)
            .transpose()
    }

    async fn get_details(&self, id: &AuctionId) -> StoreResult<AuctionDetails> {
        match self
            .get_item("GetItem(details)", key(auction_pk(id), DETAILS))
            .await?
        {
            Some(item) => Ok(decode::<DetailsItem>("details item", item)?.into_domain()),
            None => Ok(AuctionDetails::default()),
        }
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
                return Ok(domain::replay_or_reused(original, req));
            }
        }
        // 2. The state the decision is made on: a consistent read of the auction item.
        let mut current = self.get_auction(&req.auction_id).await?;
        for attempt in 1..=BID_ATTEMPTS {
            // 3. The decision (pure, shared with the embedded store). A refusal is final: prices only rise,
            //    an ended or past-due auction never reopens, so a refusal needs no write.
            let placed = match domain::judge_bid(current.as_ref(), req) {
                BidDecision::Accept(placed) => placed,
                BidDecision::Committed(outcome) => return Ok(outcome),
                BidDecision::Reject(r) => return Ok(BidOutcome::Rejected(r)),
            };
            let before = current.as_ref().ok_or_else(|| {
                StoreError::Corrupt("an accepted bid without an auction".to_owned())
            })?;
            // 4. The commit point: the conditional transaction.
            let err = match self.bid_transaction(before, req, &placed)?.send().await {
                Ok(_) => return Ok(BidOutcome::Accepted(placed)),
                Err(err) => err,
            };
            current = match cancelled(&err) {
                // Another bid (or the close) got in between: decide again on what it left.
                Some(Cancelled::AuctionChanged(Some(item))) => Some(decode_auction(item)?),
                Some(Cancelled::AuctionChanged(None)) => self.get_auction(&req.auction_id).await?,
                // The same key committed first (a client retry racing its original).
                Some(Cancelled::KeyTaken) => {
                    let Some(k) = &req.idempotency_key else {
                        return Err(StoreError::Corrupt("an unkeyed bid lost a key race".into()));
                    };
                    return match self.get_idem(&req.auction_id, &req.bidder_id, k).await? {
                        Some(original) => Ok(domain::replay_or_reused(original, req)),
                        None => Err(StoreError::Unavailable(
                            "idempotency record not yet visible".into(),
                        )),
                    };
                }
                Some(Cancelled::Contended) => {
                    requests::pause(attempt).await;
                    self.get_auction(&req.auction_id).await?
                }
                None => return Err(store_err("TransactWriteItems(bid)", err)),
            };
        }
        // Lost every race: the bid is not committed; the client may retry.
        Err(StoreError::Throttled)
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
        closing: &Closing,
    ) -> StoreResult<CloseOutcome> {
        let condition = match closing {
            Closing::Due => "#status = :active AND #endsAt <= :now",
            // A seller's early end: only while it has no bids (an admin's: any time).
            Closing::Early(_) if closing.needs_no_bids() => {
                "#status = :active AND #bidCount = :zero"
            }
            Closing::Early(_) => "#status = :active",
        };
        let mut set =
            "SET #status = :ended, #endedAt = :now, #seq = #seq + :one, #gsi1pk = :ending"
                .to_owned();
        let mut update = self.client.update_item();
        if let Some(by) = closing.by() {
            set.push_str(", #endedBy = :endedBy");
            update = update.expression_attribute_values(
                ":endedBy",
                serde_dynamo::to_attribute_value::<_, AttributeValue>(by)
                    .map_err(|e| StoreError::Other(format!("cannot encode endedBy: {e}")))?,
            );
        }
        if closing.needs_no_bids() {
            update = update.expression_attribute_values(":zero", n(0));
        }
        let mut attrs = names(&[
            ("#status", "status"),
            ("#endedAt", "endedAt"),
            ("#seq", "seq"),
            ("#gsi1pk", "gsi1pk"),
        ]);
        for (placeholder, attr) in [
            ("#endsAt", "endsAt"),
            ("#bidCount", "bidCount"),
            ("#endedBy", "endedBy"),
        ] {
            if condition.contains(placeholder) || set.contains(placeholder) {
                attrs.insert(placeholder.to_owned(), attr.to_owned());
            }
        }
        let res = update
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(id), META)))
            .condition_expression(condition)
            .update_expression(set)
            .set_expression_attribute_names(Some(attrs))
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
                Ok(CloseOutcome::Closed(decode_auction(item)?))
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

    async fn bids_between(&self, id: &AuctionId, from: u64, to: u64) -> StoreResult<Vec<Bid>> {
        if from > to {
            return Ok(Vec::new());
        }
        let items = self
            .query_between(
                "Query(bids between)",
                auction_pk(id),
                bid_sk(from),
                bid_sk(to),
            )
            .await?;
        items
            .into_iter()
            .map(|i| decode::<BidItem>("bid", i).map(BidItem::into_domain))
            .collect()
    }

    async fn mark_published(&self, id: &AuctionId, publication: Publication) -> StoreResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(id), META)))
            .update_expression(
                "SET #seq = :seq, #at = :at, #audience = :audience, #statusAt = :statusAt",
            )
            .condition_expression(
                "attribute_exists(#pk) AND (attribute_not_exists(#seq) OR #seq <= :seq)",
            )
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#seq", "publishedSeq")
            .expression_attribute_names("#at", "publishedAt")
            .expression_attribute_names("#audience", "audience")
            .expression_attribute_names("#statusAt", "statusAt")
            .expression_attribute_values(":statusAt", n(publication.status_at))
            .expression_attribute_values(":seq", n(publication.seq))
            .expression_attribute_values(":at", n(publication.at))
            .expression_attribute_values(":audience", n(publication.audience))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Unknown, or a later publication is already recorded: nothing to do.
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(store_err("UpdateItem(published)", e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// ConnectionStore

#[async_trait]
impl ConnectionStore for DynamoStore {
    async fn add_connection(
        &self,
        conn: &Connection,
        max_per_user: usize,
    ) -> StoreResult<Admission> {
        let viewer = encode(
            "connection",
            &ConnItem::new(
                viewers_pk(&conn.auction_id, conn.shard),
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
        // The user's connections to this auction, as a string set: the condition is the per-user limit.
        let user = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(
                user_pk(&conn.user_id),
                viewing_sk(&conn.auction_id),
            )))
            .update_expression("ADD #conns :conn SET #expiresAt = :exp")
            .condition_expression("attribute_not_exists(#conns) OR size(#conns) < :max")
            .expression_attribute_names("#conns", "conns")
            .expression_attribute_names("#expiresAt", TTL_ATTRIBUTE)
            .expression_attribute_values(
                ":conn",
                AttributeValue::Ss(vec![conn.connection_id.to_string()]),
            )
            .expression_attribute_values(":exp", n(conn.expires_at))
            .expression_attribute_values(":max", n(max_per_user))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let res = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(user).build())
            .transact_items(put(viewer)?)
            .transact_items(put(pointer)?)
            .send()
            .await;
        let err = match res {
            Ok(_) => return Ok(Admission::Added),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
            err.as_service_error()
        {
            let reasons = e.cancellation_reasons();
            if let Some(first) = reasons.first() {
                if first.code() == Some("ConditionalCheckFailed") {
                    let others = first
                        .item()
                        .and_then(|i| i.get("conns"))
                        .and_then(|v| v.as_ss().ok())
                        .map(|ids| {
                            ids.iter()
                                .filter_map(|id| ConnectionId::parse(id).ok())
                                .collect()
                        })
                        .unwrap_or_default();
                    return Ok(Admission::UserLimit { others });
                }
            }
            let contended = reasons.iter().any(|r| {
                matches!(
                    r.code(),
                    Some(
                        "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                    )
                )
            });
            if contended {
                return Err(StoreError::Throttled);
            }
        }
        Err(store_err("TransactWriteItems(connection)", err))
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
            .set_key(Some(key(
                viewers_pk(&conn.auction_id, conn.shard),
                conn_sk(id),
            )))
            .send()
            .await
            .map_err(|e| store_err("DeleteItem(connection)", e))?;
        let forgotten = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                user_pk(&conn.user_id),
                viewing_sk(&conn.auction_id),
            )))
            .update_expression("DELETE #conns :conn")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#conns", "conns")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":conn", AttributeValue::Ss(vec![id.to_string()]))
            .send()
            .await;
        match forgotten {
            Ok(_) => {}
            // No record of the user's connections (already gone): nothing to forget.
            Err(e) if is_condition_failure(&e) => {}
            Err(e) => return Err(store_err("UpdateItem(user connections)", e)),
        }
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

    async fn connections_in_shards(
        &self,
        auction: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>> {
        let queries = shards.iter().map(|shard| {
            self.query_prefix(
                "Query(connections)",
                viewers_pk(auction, *shard),
                "CONN#",
                true,
                None,
            )
        });
        let mut all = Vec::new();
        for items in futures::future::try_join_all(queries).await? {
            for item in items {
                all.push(decode::<ConnItem>("connection", item)?.into_domain());
            }
        }
        Ok(all)
    }

    async fn record_sync(&self, id: &ConnectionId, now: Millis) -> StoreResult<SyncVerdict> {
        // One conditional write per counter: the first that passes decides (`domain::sync_verdict`).
        for (attribute, verdict) in [
            ("lastSyncAt", SyncVerdict::Answer),
            ("lastNoticeAt", SyncVerdict::Notice),
        ] {
            let res = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(conn_pointer_pk(id), CONN_POINTER_SK)))
                .update_expression("SET #at = :now")
                .condition_expression(
                    "attribute_exists(#pk) AND (attribute_not_exists(#at) OR #at <= :cut)",
                )
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_names("#at", attribute)
                .expression_attribute_values(":now", n(now))
                .expression_attribute_values(":cut", n(now - domain::SYNC_INTERVAL_MS))
                .send()
                .await;
            match res {
                Ok(_) => return Ok(verdict),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(store_err("UpdateItem(sync)", e)),
            }
        }
        Ok(SyncVerdict::Drop)
    }

    async fn record_strike(&self, id: &ConnectionId) -> StoreResult<u32> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(conn_pointer_pk(id), CONN_POINTER_SK)))
            .update_expression("ADD #strikes :one")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#strikes", "strikes")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(out
                .attributes
                .and_then(|a| a.get("strikes").and_then(|v| v.as_n().ok()).cloned())
                .and_then(|n| n.parse().ok())
                .unwrap_or(u32::MAX)),
            Err(e) if is_condition_failure(&e) => Ok(u32::MAX),
            Err(e) => Err(store_err("UpdateItem(strike)", e)),
        }
    }
}

fn is_condition_failure(err: &SdkError<UpdateItemError, HttpResponse>) -> bool {
    matches!(
        err.as_service_error(),
        Some(UpdateItemError::ConditionalCheckFailedException(_))
    )
}
