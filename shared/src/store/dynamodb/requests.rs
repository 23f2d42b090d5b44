//! The request helpers the adapter is built from: consistent reads, the bid's transaction, batch reads with
//! their `UnprocessedKeys` retries, queries of a partition or of `gsi1` (paged by the SDK's paginator).

use super::errors::{build_err, is_contention, store_err};
use super::items::{
    auction_id_from_keys, decode, decode_auction, dynamo_limit, encode, AuctionItem, BidItem,
    DetailsItem, HighBidAttr, IdemItem, Item,
};
use super::keys::{
    auction_pk, idem_sk, key, n, names, s, BATCH_ATTEMPTS, BATCH_GET_MAX, GSI1, META,
};
use super::DynamoStore;
use crate::domain::{
    Auction, AuctionDetails, AuctionId, BidReceipt, BidRequest, IdempotencyKey, Millis, PlacedBid,
    UserId,
};
use crate::ports::{StoreError, StoreResult};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
    Update,
};
use std::collections::HashMap;
use std::time::Duration;

/// Why a create's transaction was refused (nothing was written).
pub(super) enum CreateRefused {
    /// An auction with this id exists.
    IdTaken,
    /// The extra update's condition failed (the seller's quota is full).
    SlotTaken,
}

impl DynamoStore {
    /// Create an auction in ONE transaction: its META item (only if the id is free), then `slot` (the
    /// seller's quota update, when given), then its DETAILS item unless the details are empty.
    pub(super) async fn create_transaction(
        &self,
        auction: &Auction,
        details: &AuctionDetails,
        slot: Option<Update>,
    ) -> StoreResult<Result<(), CreateRefused>> {
        let put = |item: Item, conditional: bool| {
            let p = Put::builder().table_name(&self.table).set_item(Some(item));
            let p = if conditional {
                p.condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", "pk")
            } else {
                p
            };
            p.build()
                .map(|p| TransactWriteItem::builder().put(p).build())
                .map_err(build_err)
        };
        let mut tx = self.client.transact_write_items().transact_items(put(
            encode("auction", &AuctionItem::from_domain(auction))?,
            true,
        )?);
        let has_slot = slot.is_some();
        if let Some(update) = slot {
            tx = tx.transact_items(TransactWriteItem::builder().update(update).build());
        }
        if !details.is_empty() {
            let item = DetailsItem::from_domain(&auction.auction_id, details);
            tx = tx.transact_items(put(encode("details", &item)?, false)?);
        }
        let err = match tx.send().await {
            Ok(_) => return Ok(Ok(())),
            Err(err) => err,
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(e)) =
            err.as_service_error()
        {
            let reasons = e.cancellation_reasons();
            let failed =
                |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
            if failed(0) {
                return Ok(Err(CreateRefused::IdTaken));
            }
            if has_slot && failed(1) {
                return Ok(Err(CreateRefused::SlotTaken));
            }
            if reasons.iter().any(|r| is_contention(r.code())) {
                return Err(StoreError::Throttled);
            }
        }
        Err(store_err("TransactWriteItems(create auction)", err))
    }

    pub(super) async fn get_item(&self, op: &'static str, key: Item) -> StoreResult<Option<Item>> {
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

    pub(super) async fn get_idem(
        &self,
        auction: &AuctionId,
        bidder: &UserId,
        k: &IdempotencyKey,
    ) -> StoreResult<Option<BidReceipt>> {
        let Some(item) = self
            .get_item(
                "GetItem(idempotency)",
                key(auction_pk(auction), idem_sk(bidder, k)),
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(
            decode::<IdemItem>("idempotency record", item)?.receipt,
        ))
    }

    /// The commit of an accepted bid request: ONE TransactWriteItems of the auction item's update, conditioned
    /// on the version the decision was made on (`seq` and `rev`: nothing changed since the read) and on the bid
    /// rule itself (active, started, not past its end, not the seller's, the first bid at least the minimum),
    /// with each bid's `BID#` item and, when keyed, its `IDEM#` record. All of it or nothing.
    pub(super) fn bid_transaction(
        &self,
        before: &Auction,
        req: &BidRequest,
        placed: &PlacedBid,
    ) -> StoreResult<TransactWriteItemsFluentBuilder> {
        let after = &placed.auction;
        let mut condition = "#seq = :seq AND (#rev = :rev OR attribute_not_exists(#rev)) \
             AND #status = :active AND #endsAt > :now \
             AND (#startsAt <= :now OR attribute_not_exists(#startsAt)) AND #sellerId <> :bidder"
            .to_owned();
        let mut set = vec![
            "#seq = :newSeq",
            "#rev = :newRev",
            "#bidCount = :bidCount",
            "#currentPrice = :price",
            "#minimumBid = :newMinimum",
            "#endsAt = :endsAt",
            "#gsi1sk = :endsAt",
        ];
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(auction_pk(&before.auction_id), META)))
            .expression_attribute_values(":seq", n(before.seq))
            .expression_attribute_values(":rev", n(before.rev))
            .expression_attribute_values(":active", s("active"))
            .expression_attribute_values(":now", n(req.now))
            .expression_attribute_values(":bidder", s(req.bidder_id.as_str()))
            .expression_attribute_values(":newSeq", n(after.seq))
            .expression_attribute_values(":newRev", n(after.rev))
            .expression_attribute_values(":bidCount", n(after.bid_count))
            .expression_attribute_values(":price", n(after.current_price.cents()))
            .expression_attribute_values(":newMinimum", n(after.minimum_bid.cents()))
            .expression_attribute_values(":endsAt", n(after.ends_at));
        if let Some(first) = placed.bids.first() {
            condition.push_str(" AND #minimumBid <= :amount");
            update = update.expression_attribute_values(":amount", n(first.amount.cents()));
        }
        if let Some(bid) = &after.high_bid {
            set.extend(["#highBid = :highBid", "#highBidSeq = :highBidSeq"]);
            update = update
                .expression_attribute_values(
                    ":highBid",
                    serde_dynamo::to_attribute_value::<_, AttributeValue>(HighBidAttr::from_bid(
                        bid,
                    ))
                    .map_err(|e| StoreError::Other(format!("cannot encode bid: {e}")))?,
                )
                .expression_attribute_values(":highBidSeq", n(bid.seq));
        }
        let mut expression = format!("SET {}", set.join(", "));
        match &after.proxy {
            Some(p) => {
                expression.push_str(", #proxy = :proxy");
                let v = serde_dynamo::to_attribute_value::<_, AttributeValue>(p)
                    .map_err(|e| StoreError::Other(format!("cannot encode the maximum: {e}")))?;
                update = update.expression_attribute_values(":proxy", v);
            }
            None => expression.push_str(" REMOVE #proxy"),
        }
        let update = update
            .condition_expression(condition)
            .update_expression(expression)
            .set_expression_attribute_names(Some(names(&[
                ("#seq", "seq"),
                ("#rev", "rev"),
                ("#status", "status"),
                ("#endsAt", "endsAt"),
                ("#startsAt", "startsAt"),
                ("#sellerId", "sellerId"),
                ("#minimumBid", "minimumBid"),
                ("#bidCount", "bidCount"),
                ("#currentPrice", "currentPrice"),
                ("#highBid", "highBid"),
                ("#highBidSeq", "highBidSeq"),
                ("#proxy", "proxy"),
                ("#gsi1sk", "gsi1sk"),
            ])))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build());
        for bid in &placed.bids {
            let history = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode("bid", &BidItem::from_domain(bid))?))
                .build()
                .map_err(build_err)?;
            tx = tx.transact_items(TransactWriteItem::builder().put(history).build());
        }
        if let Some(idem) = IdemItem::from_placed(placed, req.idempotency_key.as_ref(), req.now) {
            let record = Put::builder()
                .table_name(&self.table)
                .set_item(Some(encode("idempotency record", &idem)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", "pk")
                .build()
                .map_err(build_err)?;
            tx = tx.transact_items(TransactWriteItem::builder().put(record).build());
        }
        Ok(tx)
    }

    /// Query a partition of `gsi1`, following pages until `limit` keys or the end; returns auction ids.
    pub(super) async fn query_gsi1(
        &self,
        partition: &str,
        sort: Option<(&str, Millis)>,
        limit: usize,
    ) -> StoreResult<Vec<AuctionId>> {
        let key_cond = match sort {
            Some((op, _)) => format!("#gpk = :gpk AND #gsk {op} :now"),
            None => "#gpk = :gpk".to_owned(),
        };
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression(key_cond)
            .expression_attribute_names("#gpk", "gsi1pk")
            .expression_attribute_values(":gpk", s(partition))
            .scan_index_forward(true);
        if let Some((_, now)) = sort {
            q = q
                .expression_attribute_names("#gsk", "gsi1sk")
                .expression_attribute_values(":now", n(now));
        }
        query_items("Query(gsi1)", q, Some(limit))
            .await?
            .iter()
            .map(auction_id_from_keys)
            .collect()
    }

    /// BatchGetItem of auction items (consistent), in the order of `ids`; missing ones are skipped.
    pub(super) async fn batch_get_auctions(&self, ids: &[AuctionId]) -> StoreResult<Vec<Auction>> {
        self.batch_get_auctions_read(ids, true).await
    }

    /// [`Self::batch_get_auctions`], with strongly consistent reads or eventually consistent ones (half the
    /// read capacity: the public listing's).
    pub(super) async fn batch_get_auctions_read(
        &self,
        ids: &[AuctionId],
        consistent: bool,
    ) -> StoreResult<Vec<Auction>> {
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
                    pause(attempt).await;
                }
                attempt += 1;
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(consistent)
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

    /// Query one partition for a sort-key range (inclusive), all pages, ascending, consistent.
    pub(super) async fn query_between(
        &self,
        op: &'static str,
        pk: String,
        from_sk: String,
        to_sk: String,
    ) -> StoreResult<Vec<Item>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from_sk))
            .expression_attribute_values(":to", s(to_sk))
            .consistent_read(true);
        query_items(op, q, None).await
    }

    /// Query one auction partition for a sort-key prefix, all pages (or up to `limit`).
    pub(super) async fn query_prefix(
        &self,
        op: &'static str,
        pk: String,
        prefix: &str,
        forward: bool,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(forward)
            .consistent_read(true);
        query_items(op, q, limit).await
    }
}

/// Every item `query` returns, following its pages with the SDK's paginator, stopping at `limit` items (which
/// is also the page size, so a limited query reads no more than it needs).
pub(super) async fn query_items(
    op: &'static str,
    query: QueryFluentBuilder,
    limit: Option<usize>,
) -> StoreResult<Vec<Item>> {
    let mut pages = match limit {
        Some(0) => return Ok(Vec::new()),
        Some(l) => query.limit(dynamo_limit(l)),
        None => query,
    }
    .into_paginator()
    .items()
    .send();
    let mut items = Vec::new();
    while limit.is_none_or(|l| items.len() < l) {
        match pages.next().await {
            Some(item) => items.push(item.map_err(|e| store_err(op, e))?),
            None => break,
        }
    }
    Ok(items)
}

/// A short, growing pause before retrying leftovers or a contended write.
pub(super) async fn pause(attempt: u32) {
    let ms = 25u64.saturating_mul(1u64 << attempt.min(6));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
