//! The request helpers the adapter is built from: consistent reads, batch writes and reads with their
//! `Unprocessed*` retries, paged queries of a partition or of `gsi1`, and the bid-history write.

use super::errors::{build_err, store_err};
use super::items::{
    auction_id_from_keys, decode, decode_auction, dynamo_limit, encode, BidItem, IdemItem, Item,
};
use super::keys::{auction_pk, idem_sk, key, n, s, BATCH_ATTEMPTS, BATCH_GET_MAX, GSI1, META};
use super::DynamoStore;
use crate::domain::{Auction, AuctionId, IdempotencyKey, Millis, PlacedBid, UserId};
use crate::ports::{StoreError, StoreResult};
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use std::collections::HashMap;
use std::time::Duration;

impl DynamoStore {
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
    pub(super) async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
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

    pub(super) async fn put_plain(&self, op: &'static str, item: Item) -> StoreResult<()> {
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
    pub(super) async fn write_bid_history(
        &self,
        before: &Auction,
        placed: &PlacedBid,
    ) -> StoreResult<()> {
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
    pub(super) async fn query_gsi1(
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
    pub(super) async fn batch_get_auctions(&self, ids: &[AuctionId]) -> StoreResult<Vec<Auction>> {
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
    pub(super) async fn query_prefix(
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

async fn backoff(attempt: u32) {
    let ms = 25u64.saturating_mul(1u64 << attempt.min(6));
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
