//! Domain types and rules. Everything here is pure: no I/O, no clock, no AWS.
//!
//! Input is parsed once into validated newtypes (`AuctionId`, `Money`, …) so that the rest of the code
//! can never see a malformed id or a negative price.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Money in integer minor units (cents). Always strictly positive when it is a price or a bid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

/// The largest amount accepted anywhere: 10^15 cents (ten trillion units). Far past any real auction, and far
/// enough from `i64::MAX` that `amount + minIncrement` can never overflow.
pub const MAX_MONEY: i64 = 1_000_000_000_000_000;

impl Money {
    pub fn new(cents: i64) -> Result<Self, DomainError> {
        if cents <= 0 {
            return Err(DomainError::invalid(
                "amount",
                "must be a positive integer number of cents",
            ));
        }
        if cents > MAX_MONEY {
            return Err(DomainError::invalid(
                "amount",
                "is larger than the largest accepted amount",
            ));
        }
        Ok(Self(cents))
    }
    pub const fn cents(self) -> i64 {
        self.0
    }
    /// `self + other`, which cannot overflow because both are at most `MAX_MONEY`.
    pub fn plus(self, other: Money) -> i64 {
        self.0 + other.0
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Epoch milliseconds.
pub type Millis = i64;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, DomainError> {
                validate_id(raw, $what).map(|()| Self(raw.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(raw: String) -> Result<Self, DomainError> {
                validate_id(&raw, $what).map(|()| Self(raw))
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// An auction id: server-generated ULID, but accepted from paths only after validation.
    AuctionId,
    "auctionId"
);
id_type!(
    /// A user id: the `sub` claim of a verified token.
    UserId,
    "userId"
);
id_type!(
    /// An API Gateway connection id (base64-ish, e.g. `L0SM9cOFvHcCIhw=`).
    ConnectionId,
    "connectionId"
);
id_type!(
    /// A client-chosen `Idempotency-Key`.
    IdempotencyKey,
    "Idempotency-Key"
);

pub const MAX_ID_LEN: usize = 128;

/// How long an accepted bid's `Idempotency-Key` is remembered: a retry within this window gets the original
/// answer; after it, the store may have forgotten the key (DynamoDB TTL, the embedded store's sweeper).
pub const IDEMPOTENCY_RETENTION_SECS: i64 = 24 * 3600;

/// When (epoch seconds, the unit DynamoDB TTL reads) the idempotency record of a bid placed at `placed_at`
/// may be forgotten.
pub fn idempotency_expires_at(placed_at: Millis) -> i64 {
    placed_at.div_euclid(1000) + IDEMPOTENCY_RETENTION_SECS
}

/// Ids become parts of storage keys (`AUCTION#<id>`), so only a conservative alphabet is accepted: no `#`,
/// no whitespace, no control characters, bounded length. No user input can forge another key.
fn validate_id(raw: &str, what: &'static str) -> Result<(), DomainError> {
    if raw.is_empty() {
        return Err(DomainError::invalid(what, "must not be empty"));
    }
    if raw.len() > MAX_ID_LEN {
        return Err(DomainError::invalid(
            what,
            "is too long (at most 128 characters)",
        ));
    }
    let ok = raw.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'/' | b':')
    });
    if !ok {
        return Err(DomainError::invalid(
            what,
            "may contain only letters, digits and - _ . = + / :",
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Bidder,
    Seller,
    Admin,
}

/// Who is calling: the verified claims of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub name: String,
    pub role: Role,
}

impl Principal {
    pub fn can_sell(&self) -> bool {
        matches!(self.role, Role::Seller | Role::Admin)
    }
    pub fn can_end(&self, auction: &Auction) -> bool {
        self.role == Role::Admin || (self.role == Role::Seller && self.user_id == auction.seller_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuctionStatus {
    Active,
    Ended,
}

/// The auction item: the single source of truth for price, count, sequence and winner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auction {
    pub auction_id: AuctionId,
    pub seller_id: UserId,
    pub seller_name: String,
    pub title: String,
    pub description: String,
    pub starting_price: Money,
    pub min_increment: Money,
    /// The price to beat: the starting price until the first bid, then the highest accepted bid.
    pub current_price: Money,
    /// The smallest amount the next bid may have (`startingPrice`, then `currentPrice + minIncrement`).
    pub minimum_bid: Money,
    pub bid_count: u64,
    /// Per-auction sequence number: bumped by every accepted bid and by the close.
    pub seq: u64,
    pub status: AuctionStatus,
    pub created_at: Millis,
    pub ends_at: Millis,
    pub ended_at: Option<Millis>,
    pub high_bid: Option<Bid>,
    /// True once `auction.ended` was announced and every viewer revoked (the close is complete).
    pub finalized: bool,
    /// How many shard partitions its viewers' connection records are spread over (fixed at creation).
    #[serde(default = "one_shard")]
    pub viewer_shards: u16,
    /// How far the publisher has delivered this auction's frames.
    #[serde(default)]
    pub publication: Publication,
}

fn one_shard() -> u16 {
    1
}

/// Where the publisher is with one auction: every seq up to `seq` reached every viewer (at least once).
/// Written only by the publisher, after a delivery; a bid never touches it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    /// The last seq delivered.
    pub seq: u64,
    /// When that delivery started (the coalescing window counts from here).
    pub at: Millis,
    /// Viewers the last delivery reached: sizes the next delivery (slices) and its pacing.
    pub audience: u64,
    /// When viewers last got the periodic status (it does not count as a delivery for the window).
    #[serde(default)]
    pub status_at: Millis,
}

impl Auction {
    pub fn status_event(&self) -> AuctionStatusEvent {
        AuctionStatusEvent {
            current_price: self.current_price.cents(),
            bid_count: self.bid_count,
            ends_at: self.ends_at,
        }
    }
    pub fn ended_event(&self) -> AuctionEndedEvent {
        match &self.high_bid {
            Some(bid) => AuctionEndedEvent {
                winner_id: Some(bid.bidder_id.clone()),
                winner_name: Some(bid.bidder_name.clone()),
                final_price: Some(bid.amount.cents()),
            },
            None => AuctionEndedEvent {
                winner_id: None,
                winner_name: None,
                final_price: None,
            },
        }
    }
    /// Accepting bids right now?
    pub fn is_open(&self, now: Millis) -> bool {
        self.status == AuctionStatus::Active && now < self.ends_at
    }

    /// Committed changes (bids, the close) not yet delivered to viewers, or an ended auction whose viewers
    /// were not yet told and revoked.
    pub fn needs_publishing(&self) -> bool {
        self.seq > self.publication.seq || (self.status == AuctionStatus::Ended && !self.finalized)
    }

    /// When its state last changed: the close, else the last bid, else its creation.
    pub fn last_change_at(&self) -> Millis {
        self.ended_at
            .or(self.high_bid.as_ref().map(|b| b.placed_at))
            .unwrap_or(self.created_at)
    }
}

/// The shard partition of a viewer's connection record: a stable hash (FNV-1a) of its connection id, so
/// viewers spread evenly and a connection's shard can be computed again from its id alone.
pub fn viewer_shard(connection_id: &ConnectionId, shards: u16) -> u16 {
    let hash = connection_id
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % u64::from(shards.max(1))) as u16
}

/// An accepted bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bid {
    pub bid_id: String,
    pub auction_id: AuctionId,
    pub bidder_id: UserId,
    pub bidder_name: String,
    pub amount: Money,
    pub placed_at: Millis,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<IdempotencyKey>,
}

impl Bid {
    pub fn placed_event(&self) -> BidPlacedEvent {
        BidPlacedEvent {
            bid_id: self.bid_id.clone(),
            amount: self.amount.cents(),
            bidder_name: self.bidder_name.clone(),
            placed_at: self.placed_at,
        }
    }
    /// The public view of a bid: never the bidder's id.
    pub fn public(&self) -> PublicBid {
        PublicBid {
            bid_id: self.bid_id.clone(),
            amount: self.amount.cents(),
            bidder_name: self.bidder_name.clone(),
            placed_at: self.placed_at,
            seq: self.seq,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicBid {
    pub bid_id: String,
    pub amount: i64,
    pub bidder_name: String,
    pub placed_at: Millis,
    pub seq: u64,
}

/// What the store is asked to do for a bid; all fields validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BidRequest {
    pub auction_id: AuctionId,
    pub bidder_id: UserId,
    pub bidder_name: String,
    pub amount: Money,
    pub now: Millis,
    pub bid_id: String,
    pub idempotency_key: Option<IdempotencyKey>,
}

/// The result of an accepted bid: the bid and the auction right after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedBid {
    pub bid: Bid,
    pub auction: Auction,
}

impl PlacedBid {
    /// What the bidder was answered, kept for replays.
    pub fn receipt(&self) -> BidReceipt {
        BidReceipt {
            bid: self.bid.clone(),
            status: self.auction.status_event(),
            minimum_bid: self.auction.minimum_bid,
        }
    }
}

/// The answer to an accepted bid, as its idempotency record keeps it: a retry with the same key gets exactly
/// this back. Small on purpose (no auction snapshot): it is written with every keyed bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidReceipt {
    pub bid: Bid,
    /// The auction's status right after the bid.
    pub status: AuctionStatusEvent,
    /// The minimum next bid right after the bid.
    pub minimum_bid: Money,
}

// An outcome is moved once from the store to the handler, never stored: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidOutcome {
    Accepted(PlacedBid),
    /// Same bidder, same Idempotency-Key, same amount: the original answer, nothing written.
    Replayed(BidReceipt),
    Rejected(BidRejection),
}

/// Why the conditional write refused a bid, decided from the item the failed write returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidRejection {
    AuctionNotFound,
    /// Ended, or past `endsAt` and waiting for the closer.
    NotActive {
        auction: Box<Auction>,
    },
    TooLow {
        current_price: Money,
        minimum_bid: Money,
    },
    OwnAuction,
    /// The Idempotency-Key was used before by this bidder for a different request.
    IdempotencyKeyReused,
}

impl BidRejection {
    /// Classify a refused bid against the auction state the failed conditional write returned.
    /// The order matters and mirrors the write's condition: existence, seller, liveness, price.
    pub fn classify(auction: Option<&Auction>, req: &BidRequest) -> BidRejection {
        let Some(a) = auction else {
            return BidRejection::AuctionNotFound;
        };
        if a.seller_id == req.bidder_id {
            BidRejection::OwnAuction
        } else if !a.is_open(req.now) {
            BidRejection::NotActive {
                auction: Box::new(a.clone()),
            }
        } else {
            BidRejection::TooLow {
                current_price: a.current_price,
                minimum_bid: a.minimum_bid,
            }
        }
    }
}

/// Apply an accepted bid to the auction: the pure twin of the conditional write, used by the embedded store
/// and to compute the new state from the old item returned by DynamoDB.
pub fn apply_bid(before: &Auction, req: &BidRequest) -> PlacedBid {
    let seq = before.seq + 1;
    let bid = Bid {
        bid_id: req.bid_id.clone(),
        auction_id: req.auction_id.clone(),
        bidder_id: req.bidder_id.clone(),
        bidder_name: req.bidder_name.clone(),
        amount: req.amount,
        placed_at: req.now,
        seq,
        idempotency_key: req.idempotency_key.clone(),
    };
    let mut auction = before.clone();
    auction.current_price = req.amount;
    auction.minimum_bid = Money(req.amount.plus(before.min_increment));
    auction.bid_count += 1;
    auction.seq = seq;
    auction.high_bid = Some(bid.clone());
    PlacedBid { bid, auction }
}

/// The condition every accepted bid satisfies, evaluated in memory (the embedded store runs it inside a
/// write transaction; DynamoDB runs the same rule as a ConditionExpression).
pub fn bid_allowed(a: &Auction, req: &BidRequest) -> bool {
    a.is_open(req.now) && a.seller_id != req.bidder_id && req.amount >= a.minimum_bid
}

/// The decision on a bid against one version of its auction (`None`: no such auction). Both stores make it:
/// the embedded store inside its write transaction, the DynamoDB adapter on the item it read, then commits the
/// `Accept` with a write conditioned on that very version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidDecision {
    /// Allowed: this is the auction after it.
    Accept(PlacedBid),
    /// This request already committed (it leads): a retry of the same request (same `bid_id`, e.g. the SDK
    /// retrying a write whose response was lost) is `Accepted` again; a client retry with the same
    /// Idempotency-Key racing its original is `Replayed`, or `IdempotencyKeyReused` with another amount.
    Committed(BidOutcome),
    Reject(BidRejection),
}

/// Decide a bid on the state `current`. Pure: the stores supply the state and commit the result.
pub fn judge_bid(current: Option<&Auction>, req: &BidRequest) -> BidDecision {
    match current {
        Some(a) if bid_allowed(a, req) => BidDecision::Accept(apply_bid(a, req)),
        Some(a) => match a.high_bid.as_ref() {
            Some(hb) if hb.bid_id == req.bid_id => {
                BidDecision::Committed(BidOutcome::Accepted(PlacedBid {
                    bid: hb.clone(),
                    auction: a.clone(),
                }))
            }
            Some(hb)
                if req.idempotency_key.is_some()
                    && hb.bidder_id == req.bidder_id
                    && hb.idempotency_key == req.idempotency_key =>
            {
                let placed = PlacedBid {
                    bid: hb.clone(),
                    auction: a.clone(),
                };
                BidDecision::Committed(replay_or_reused(placed.receipt(), req))
            }
            _ => BidDecision::Reject(BidRejection::classify(Some(a), req)),
        },
        None => BidDecision::Reject(BidRejection::AuctionNotFound),
    }
}

/// A keyed request whose key was already accepted: the original answer if the amount is the same, else a
/// refusal (the key was reused for another request).
pub fn replay_or_reused(original: BidReceipt, req: &BidRequest) -> BidOutcome {
    if original.bid.amount == req.amount {
        BidOutcome::Replayed(original)
    } else {
        BidOutcome::Rejected(BidRejection::IdempotencyKeyReused)
    }
}

/// Move an auction to `ended`: the pure twin of the close's conditional write.
pub fn apply_close(before: &Auction, now: Millis) -> Auction {
    let mut a = before.clone();
    a.status = AuctionStatus::Ended;
    a.ended_at = Some(now);
    a.seq += 1;
    a
}

/// Which close is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// The scheduled close: only once `endsAt` has passed.
    Due,
    /// The seller's or an admin's early end: at any time while active.
    Early,
}

/// May this auction be closed at `now`?
pub fn close_allowed(a: &Auction, now: Millis, closing: Closing) -> bool {
    a.status == AuctionStatus::Active && (closing == Closing::Early || a.ends_at <= now)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// This call moved the auction active → ended.
    Closed(Auction),
    /// Already ended by someone else; `finalized` on the auction tells whether the announcement is done.
    AlreadyEnded(Auction),
    /// Active and not yet due (only for [`Closing::Due`]).
    NotDue(Auction),
    NotFound,
}

/// A viewer's WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub connection_id: ConnectionId,
    pub auction_id: AuctionId,
    pub user_id: UserId,
    pub connected_at: Millis,
    /// Epoch *seconds*, the unit DynamoDB TTL reads.
    pub expires_at: i64,
    /// Its shard partition ([`viewer_shard`] of its id).
    #[serde(default)]
    pub shard: u16,
}

/// What adding a viewer's connection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Added,
    /// The user already has the most connections allowed to this auction: nothing was written.
    UserLimit {
        others: Vec<ConnectionId>,
    },
}

/// What to do with a `sync` (decided from the connection's counters by [`sync_verdict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncVerdict {
    /// Answer with the current status.
    Answer,
    /// Too soon: tell the client once (`rate_limited`).
    Notice,
    /// Too soon again: no answer at all (it would cost a post).
    Drop,
}

/// At most one answered `sync` per connection per second, and at most one `rate_limited` notice per
/// second: the decision and the counters after it (`last_sync_at`, `last_notice_at`).
pub fn sync_verdict(
    last_sync_at: Option<Millis>,
    last_notice_at: Option<Millis>,
    now: Millis,
) -> SyncVerdict {
    let older_than_a_second = |t: Option<Millis>| t.is_none_or(|t| now - t >= SYNC_INTERVAL_MS);
    if older_than_a_second(last_sync_at) {
        SyncVerdict::Answer
    } else if older_than_a_second(last_notice_at) {
        SyncVerdict::Notice
    } else {
        SyncVerdict::Drop
    }
}

/// The shortest interval between two answered `sync`s of one connection (and between two notices).
pub const SYNC_INTERVAL_MS: Millis = 1_000;

// ---- the three seed events; names and fields are fixed ----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidPlacedEvent {
    pub bid_id: String,
    pub amount: i64,
    pub bidder_name: String,
    pub placed_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionStatusEvent {
    pub current_price: i64,
    pub bid_count: u64,
    pub ends_at: Millis,
}

/// With no bids, all three fields are `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionEndedEvent {
    pub winner_id: Option<UserId>,
    pub winner_name: Option<String>,
    pub final_price: Option<i64>,
}

// ---- creating an auction ----

pub const MAX_TITLE_LEN: usize = 200;
pub const MAX_DESCRIPTION_LEN: usize = 4_000;
pub const MAX_NAME_LEN: usize = 64;
pub const MIN_DURATION_MS: i64 = 10_000;
pub const MAX_DURATION_MS: i64 = 30 * 24 * 3_600_000;
pub const DEFAULT_MIN_INCREMENT: i64 = 100;

/// Build a new auction from validated parts.
pub fn new_auction(
    auction_id: AuctionId,
    seller: &Principal,
    draft: AuctionDraft,
    now: Millis,
) -> Auction {
    Auction {
        auction_id,
        seller_id: seller.user_id.clone(),
        seller_name: seller.name.clone(),
        title: draft.title,
        description: draft.description,
        starting_price: draft.starting_price,
        min_increment: draft.min_increment,
        current_price: draft.starting_price,
        minimum_bid: draft.starting_price,
        bid_count: 0,
        seq: 0,
        status: AuctionStatus::Active,
        created_at: now,
        ends_at: draft.ends_at,
        ended_at: None,
        high_bid: None,
        finalized: false,
        viewer_shards: draft.viewer_shards.max(1),
        publication: Publication::default(),
    }
}

/// A validated create-auction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionDraft {
    /// Shard partitions for its viewers' connection records (the deployment's `VIEWER_SHARDS`).
    pub viewer_shards: u16,
    pub title: String,
    pub description: String,
    pub starting_price: Money,
    pub min_increment: Money,
    pub ends_at: Millis,
}

/// Text fields: trimmed, non-empty where required, bounded, no control characters.
pub fn validate_text(
    field: &'static str,
    raw: &str,
    max: usize,
    required: bool,
) -> Result<String, DomainError> {
    let s = raw.trim();
    if required && s.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(DomainError::Invalid {
            field,
            reason: format!("is too long (at most {max} characters)"),
        });
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    // Bidi controls reorder what follows (a name that reads as another's); zero-width characters make two
    // names that look alike differ.
    if s.chars().any(|c| {
        matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    }) {
        return Err(DomainError::invalid(
            field,
            "must not contain bidi controls or zero-width characters",
        ));
    }
    Ok(s.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field} {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl DomainError {
    pub fn invalid(field: &'static str, reason: &str) -> Self {
        DomainError::Invalid {
            field,
            reason: reason.to_owned(),
        }
    }
    pub fn field(&self) -> &'static str {
        match self {
            DomainError::Invalid { field, .. } => field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_separators_and_long_input() {
        assert!(AuctionId::parse("01HZX3K8Q9").is_ok());
        for bad in ["", "a#b", "a b", "a\nb", "AUCTION#x", "ü", "a%23b"] {
            assert!(AuctionId::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(AuctionId::parse(&"a".repeat(1024)).is_err());
        assert!(AuctionId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn money_is_positive_and_bounded() {
        assert!(Money::new(0).is_err());
        assert!(Money::new(-1).is_err());
        assert!(Money::new(MAX_MONEY + 1).is_err());
        assert_eq!(Money::new(1).unwrap().cents(), 1);
    }

    #[test]
    fn ended_event_has_nulls_without_bids() {
        let e = AuctionEndedEvent {
            winner_id: None,
            winner_name: None,
            final_price: None,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"winnerId": null, "winnerName": null, "finalPrice": null})
        );
    }
}
