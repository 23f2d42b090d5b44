//! Keys of the single-table design (README, "Table design"), and small builders for attribute values.
//! Ids are validated by the domain types (no `#`), so no input can forge another key.

use super::items::Item;
use crate::domain::{AuctionId, ConnectionId, IdempotencyKey, UserId};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Name of the global secondary index.
pub const GSI1: &str = "gsi1";
/// The TTL attribute (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

pub(super) const META: &str = "META";
/// An auction's details (`domain::AuctionDetails`), beside its META item: written once, never by a bid.
pub(super) const DETAILS: &str = "DETAILS";
pub(super) const CONN_POINTER_SK: &str = "CONN";
pub(super) const GSI_ACTIVE: &str = "ACTIVE";
pub(super) const GSI_ENDING: &str = "ENDING";
/// Attempts for BatchWriteItem/BatchGetItem leftovers (`Unprocessed*`), with exponential backoff.
pub(super) const BATCH_ATTEMPTS: u32 = 6;
pub(super) const BATCH_GET_MAX: usize = 100;

pub(super) fn auction_pk(id: &AuctionId) -> String {
    format!("AUCTION#{id}")
}
pub(super) fn bid_sk(seq: u64) -> String {
    format!("BID#{seq:020}")
}
pub(super) fn idem_sk(bidder: &UserId, key: &IdempotencyKey) -> String {
    format!("IDEM#{bidder}#{key}")
}
pub(super) fn conn_sk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}
pub(super) fn conn_pointer_pk(id: &ConnectionId) -> String {
    format!("CONN#{id}")
}
/// A shard partition of an auction's viewers.
pub(super) fn viewers_pk(auction: &AuctionId, shard: u16) -> String {
    format!("VIEWERS#{auction}#{shard}")
}
/// A user's connections to one auction (for the per-user socket limit).
pub(super) fn user_pk(user: &UserId) -> String {
    format!("USER#{user}")
}
pub(super) fn viewing_sk(auction: &AuctionId) -> String {
    format!("VIEWING#{auction}")
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}
pub(super) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A user's bid counter for one rate window: its own partition per user, never the auction's.
pub(super) fn rate_pk(user: &UserId) -> String {
    format!("RATE#{user}")
}
pub(super) fn rate_sk(window_start: i64) -> String {
    format!("BIDS#{window_start:020}")
}
/// A seller's active auctions (the per-seller quota).
pub(super) fn seller_pk(seller: &UserId) -> String {
    format!("SELLER#{seller}")
}
pub(super) const SELLER_ACTIVE_SK: &str = "ACTIVE";
/// The one partition of retention schedules: `sk` = purge time (20 digits) `#` auction id.
pub(super) const PURGE_PK: &str = "PURGE";
pub(super) fn purge_sk(at: i64, auction: &AuctionId) -> String {
    format!("{:020}#{auction}", at.max(0))
}
