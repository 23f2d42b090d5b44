//! [`LimitStore`] on DynamoDB: the per-user bid counter, the per-seller quota, the paged listing and the
//! retention purge. Items and access patterns: README, "Table design".
//!
//! # Why a fixed-window counter for the bid rate
//!
//! A bid refused by the limiter must cost the auction's partition nothing, so the limiter is one item per
//! user and window, `RATE#<user>/BIDS#<windowStart>`, on the user's own partition: ONE `UpdateItem`
//! `ADD n :one` with `ConditionExpression: attribute_not_exists(n) OR n < :limit` (atomic, no read), TTL'd
//! after its window. 1 WCU per attempt, allowed or not; a flood from one account spends its own partition's
//! capacity (≈ 1,000 WCU/s) and at most `limit` bids per window reach the auction item. A token bucket would
//! need a read and a conditional write of its state (or a version check that fails under exactly the flood
//! it is for); the fixed window's only cost is a burst of up to 2 × `limit` across a window boundary, far
//! below what hurts the auction's partition.

use super::errors::{build_err, store_err};
use super::items::{auction_id_from_keys, dynamo_limit, Item};
use super::keys::{
    auction_pk, key, n, purge_sk, rate_pk, rate_sk, s, seller_pk, GSI1, GSI_ACTIVE, META, PURGE_PK,
    SELLER_ACTIVE_SK, TTL_ATTRIBUTE,
};
use super::requests::{pause, query_items, CreateRefused};
use super::DynamoStore;
use crate::domain::{Auction, AuctionDetails, AuctionId, AuctionStatus, Millis, UserId};
use crate::ports::{
    ActivePage, AuctionStore, BidRate, Creation, LimitStore, ListCursor, RateVerdict, StoreError,
    StoreResult,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, ReturnValuesOnConditionCheckFailure, Update, WriteRequest,
};
use std::collections::HashMap;

/// BatchWriteItem takes at most 25 requests.
const BATCH_WRITE_MAX: usize = 25;

impl DynamoStore {
    /// Delete `keys` with BatchWriteItem, retrying `UnprocessedItems` with backoff.
    async fn delete_keys(&self, keys: Vec<Item>) -> StoreResult<()> {
        for chunk in keys.chunks(BATCH_WRITE_MAX) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    DeleteRequest::builder()
                        .set_key(Some(k.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(build_err)
                })
                .collect::<StoreResult<_>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt >= super::keys::BATCH_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
                if attempt > 0 {
                    pause(attempt).await;
                }
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(self.table.clone(), std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| store_err("BatchWriteItem(purge)", e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Every key of one auction's partition (the auction, its bids, its idempotency records).
    async fn partition_keys(&self, id: &AuctionId) -> StoreResult<Vec<Item>> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .projection_expression("#pk, #sk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(auction_pk(id)));
        query_items("Query(purge)", q, None).await
    }
}

fn gsi1_position(item: &Item) -> StoreResult<ListCursor> {
    let ends_at = item
        .get("gsi1sk")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<Millis>().ok())
        .ok_or_else(|| StoreError::Corrupt("gsi1 entry without a numeric gsi1sk".to_owned()))?;
    Ok(ListCursor {
        ends_at,
        auction_id: auction_id_from_keys(item)?,
    })
}

#[async_trait]
impl LimitStore for DynamoStore {
    async fn take_bid_slot(
        &self,
        user: &UserId,
        now: Millis,
        rate: BidRate,
    ) -> StoreResult<RateVerdict> {
        let start = rate.window_start(now);
        // Kept one window past its end, then DynamoDB's TTL deletes it.
        let expires_at = rate.counter_expires_at(now);
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(rate_pk(user), rate_sk(start))))
            .update_expression("ADD #n :one SET #exp = :exp")
            .condition_expression("attribute_not_exists(#n) OR #n < :limit")
            .expression_attribute_names("#n", "n")
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":exp", n(expires_at))
            .expression_attribute_values(":limit", n(rate.limit))
            .send()
            .await;
        match res {
            Ok(_) => Ok(RateVerdict::Allowed),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(RateVerdict::Limited {
                    retry_after_ms: rate.retry_after_ms(now),
                })
            }
            Err(e) => Err(store_err("UpdateItem(bid rate)", e)),
        }
    }

    async fn create_auction_within_quota(
        &self,
        auction: &Auction,
        details: &AuctionDetails,
        max_active: usize,
    ) -> StoreResult<Creation> {
        // The seller's open auctions, as a string set: its size is the quota's condition, in the same
        // transaction as the auction itself (no read-then-write race between two creates).
        let slot = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(seller_pk(&auction.seller_id), SELLER_ACTIVE_SK)))
            .update_expression("ADD #auctions :id")
            .condition_expression("attribute_not_exists(#auctions) OR size(#auctions) < :max")
            .expression_attribute_names("#auctions", "auctions")
            .expression_attribute_values(
                ":id",
                AttributeValue::Ss(vec![auction.auction_id.to_string()]),
            )
            .expression_attribute_values(":max", n(max_active))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
            .build()
            .map_err(build_err)?;
        match self
            .create_transaction(auction, details, Some(slot))
            .await?
        {
            Ok(()) => Ok(Creation::Created),
            Err(CreateRefused::IdTaken) => Err(StoreError::AlreadyExists),
            Err(CreateRefused::SlotTaken) => Ok(Creation::SellerAtQuota),
        }
    }

    async fn release_seller_slot(&self, seller: &UserId, auction: &AuctionId) -> StoreResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(seller_pk(seller), SELLER_ACTIVE_SK)))
            .update_expression("DELETE #auctions :id")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#auctions", "auctions")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":id", AttributeValue::Ss(vec![auction.to_string()]))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // The seller has no quota item (created before the quota existed): nothing to release.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(store_err("UpdateItem(seller slot)", e)),
        }
    }

    async fn list_active_page(
        &self,
        now: Millis,
        limit: usize,
        after: Option<&ListCursor>,
    ) -> StoreResult<ActivePage> {
        if limit == 0 {
            return Ok(ActivePage {
                auctions: Vec::new(),
                next: None,
            });
        }
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1)
            .key_condition_expression("#gpk = :gpk AND #gsk > :now")
            .expression_attribute_names("#gpk", "gsi1pk")
            .expression_attribute_names("#gsk", "gsi1sk")
            .expression_attribute_values(":gpk", s(GSI_ACTIVE))
            .expression_attribute_values(":now", n(now))
            .scan_index_forward(true)
            .limit(dynamo_limit(limit));
        // A cursor at or before `now` points before everything still listed: the same as no cursor (and a
        // start key outside the key condition would be refused).
        if let Some(c) = after.filter(|c| c.ends_at > now) {
            let mut start: Item = key(auction_pk(&c.auction_id), META);
            start.insert("gsi1pk".to_owned(), s(GSI_ACTIVE));
            start.insert("gsi1sk".to_owned(), n(c.ends_at));
            q = q.set_exclusive_start_key(Some(start));
        }
        // Index entries, eventually consistent as every GSI read is.
        let entries = query_items("Query(gsi1 page)", q, Some(limit)).await?;
        let next = match entries.last() {
            Some(last) if entries.len() >= limit => Some(gsi1_position(last)?),
            _ => None,
        };
        let ids: Vec<AuctionId> = entries
            .iter()
            .map(auction_id_from_keys)
            .collect::<StoreResult<_>>()?;
        let auctions = self.batch_get_auctions_read(&ids, false).await?;
        Ok(ActivePage {
            auctions: auctions.into_iter().filter(|a| a.is_open(now)).collect(),
            next,
        })
    }

    async fn schedule_purge(&self, id: &AuctionId, at: Millis) -> StoreResult<()> {
        let item: Item = HashMap::from([
            ("pk".to_owned(), s(PURGE_PK)),
            ("sk".to_owned(), s(purge_sk(at, id))),
            ("auctionId".to_owned(), s(id.as_str())),
        ]);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| store_err("PutItem(purge schedule)", e))?;
        Ok(())
    }

    async fn purge_due(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Every schedule whose time is <= now: `sk` is "<20 digits>#<id>" and '$' sorts right after '#'.
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND #sk < :cut")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(PURGE_PK))
            .expression_attribute_values(":cut", s(format!("{:020}$", now.max(0))))
            .scan_index_forward(true)
            .consistent_read(true);
        let schedules = query_items("Query(purge schedules)", q, Some(limit)).await?;
        let mut purged = Vec::with_capacity(schedules.len());
        for schedule in schedules {
            let id = schedule
                .get("auctionId")
                .and_then(|v| v.as_s().ok())
                .and_then(|raw| AuctionId::parse(raw).ok())
                .ok_or_else(|| StoreError::Corrupt("purge schedule without an auctionId".into()))?;
            // Only an ended auction is ever deleted (an active one keeps its schedule's removal only).
            let ended = match self.get_auction(&id).await? {
                Some(a) => a.status == AuctionStatus::Ended,
                None => true,
            };
            if ended {
                // The auction item last among its own: an interrupted purge leaves it, and its schedule,
                // to the next run.
                let mut keys = self.partition_keys(&id).await?;
                let meta = key(auction_pk(&id), META);
                keys.retain(|k| *k != meta);
                self.delete_keys(keys).await?;
                self.delete_keys(vec![meta]).await?;
                purged.push(id);
            }
            let sk = schedule
                .get("sk")
                .cloned()
                .ok_or_else(|| StoreError::Corrupt("purge schedule without an sk".into()))?;
            self.client
                .delete_item()
                .table_name(&self.table)
                .key("pk", s(PURGE_PK))
                .key("sk", sk)
                .send()
                .await
                .map_err(|e| store_err("DeleteItem(purge schedule)", e))?;
        }
        Ok(purged)
    }
}
