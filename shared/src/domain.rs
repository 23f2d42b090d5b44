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
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[cfg_attr(feature = "schema", schemars(extend("pattern" = "^[A-Za-z0-9._=+/:-]{1,128}$")))]
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

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuctionStatus {
    Active,
    Ended,
}

/// What viewers see as an auction's state (`status` in views): the stored status, with `scheduled` for an
/// active auction before its `startsAt`. Derived from the clock, so the start needs no write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Scheduled,
    Active,
    Ended,
}

/// Who ended an auction before its end: the caller and the role they ended it with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndedBy {
    pub user_id: UserId,
    pub role: Role,
}

/// A leader's hidden maximum. It lives on the auction item only: `Debug` hides the amount, and no view,
/// frame or error is built from it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyMax {
    pub bidder_id: UserId,
    pub bidder_name: String,
    pub max_amount: Money,
    /// When this maximum was set: an earlier maximum wins a tie.
    pub placed_at: Millis,
    /// The request that set it (a retry of that request is recognised as committed).
    pub request_id: String,
}

impl fmt::Debug for ProxyMax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyMax")
            .field("bidder_id", &self.bidder_id)
            .field("max_amount", &"<hidden>")
            .field("placed_at", &self.placed_at)
            .finish_non_exhaustive()
    }
}

/// The opaque public id of a user, for public views and frames (`winnerId`, `leaderId`, a bid's `bidderId`):
/// `p-` and the first 20 hex digits of SHA-256(`auction-public-id:` + user id). It never reveals the internal id;
/// the web client computes its own from its token's `sub` to know which bids are its own.
pub fn public_id(user: &UserId) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("auction-public-id:{user}").as_bytes());
    let hex: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("p-{hex}")
}

// ---- the increment ladder ----

/// The increment ladder: from each rung's price on (cents), a bid must beat the current price by its step.
/// On the wire and in storage `[[fromPriceCents, stepCents], …]`, the first rung from 0, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(i64, i64)>", into = "Vec<(i64, i64)>")]
pub struct Ladder(Vec<(i64, i64)>);

pub const MAX_LADDER_RUNGS: usize = 20;

/// The default ladder (Whatnot's): $1 from $0, $2 from $30, $3 from $50, $5 from $100, $10 from $300, $20 from
/// $1,000, $50 from $2,000.
pub const DEFAULT_LADDER: [(i64, i64); 7] = [
    (0, 100),
    (3_000, 200),
    (5_000, 300),
    (10_000, 500),
    (30_000, 1_000),
    (100_000, 2_000),
    (200_000, 5_000),
];

impl Ladder {
    /// A fixed step at every price (`minIncrement`).
    pub fn fixed(step: Money) -> Self {
        Self(vec![(0, step.cents())])
    }
    pub fn standard() -> Self {
        Self(DEFAULT_LADDER.to_vec())
    }
    /// Validate rungs: 1 to 20, the first from 0, `from` strictly ascending and at most `MAX_MONEY`, every
    /// step a positive amount.
    pub fn parse(rungs: Vec<(i64, i64)>) -> Result<Self, DomainError> {
        if rungs.is_empty() || rungs.len() > MAX_LADDER_RUNGS {
            return Err(DomainError::invalid(
                "increments",
                "must have 1 to 20 rungs",
            ));
        }
        if rungs[0].0 != 0 {
            return Err(DomainError::invalid(
                "increments",
                "the first rung must start at price 0",
            ));
        }
        if rungs.windows(2).any(|w| w[1].0 <= w[0].0) {
            return Err(DomainError::invalid(
                "increments",
                "rung prices must be strictly ascending",
            ));
        }
        for &(from, step) in &rungs {
            if from > MAX_MONEY {
                return Err(DomainError::invalid(
                    "increments",
                    "a rung price is too large",
                ));
            }
            Money::new(step).map_err(|_| {
                DomainError::invalid(
                    "increments",
                    "every step must be a positive amount of cents",
                )
            })?;
        }
        Ok(Self(rungs))
    }
    pub fn rungs(&self) -> &[(i64, i64)] {
        &self.0
    }
    /// The step at `price`: the last rung starting at or below it.
    pub fn step_at(&self, price: i64) -> i64 {
        self.0
            .iter()
            .rev()
            .find(|(from, _)| *from <= price)
            .or(self.0.first())
            .map_or(1, |&(_, step)| step)
    }
    /// The smallest bid that beats `price` (it may exceed `MAX_MONEY`; then no bid can).
    pub fn next_bid(&self, price: Money) -> Money {
        Money(price.0 + self.step_at(price.0))
    }
}

impl TryFrom<Vec<(i64, i64)>> for Ladder {
    type Error = DomainError;
    fn try_from(rungs: Vec<(i64, i64)>) -> Result<Self, DomainError> {
        Ladder::parse(rungs)
    }
}

impl From<Ladder> for Vec<(i64, i64)> {
    fn from(l: Ladder) -> Self {
        l.0
    }
}

/// The auction item: the single source of truth for price, count, sequence and winner. Every bid rewrites
/// it, so it holds only what a bid, the close or the publisher reads; what only the auction's page shows is
/// in [`AuctionDetails`], stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Auction {
    pub auction_id: AuctionId,
    pub seller_id: UserId,
    pub seller_name: String,
    pub title: String,
    pub starting_price: Money,
    /// The increment ladder: how much a bid must beat the current price by, by price.
    pub increments: Ladder,
    /// A bid accepted with less than this left moves `endsAt` to `now + softClose` (0: sudden death).
    #[serde(default)]
    pub soft_close_ms: Millis,
    /// Hidden: below it the auction ends with no winner. Never in a view, frame, log or error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_price: Option<Money>,
    /// Bids are refused before this (the auction is `scheduled`); 0 for an auction open from its creation.
    #[serde(default)]
    pub starts_at: Millis,
    /// The leader's hidden maximum (a proxy bid), if the leader gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyMax>,
    /// Bumped by every bid write (a raised max changes no `seq`): the version a bid decision is made on.
    #[serde(default)]
    pub rev: u64,
    /// Who ended it early (absent for the scheduled close).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<EndedBy>,
    /// The price to beat: the starting price until the first bid, then the highest accepted bid.
    pub current_price: Money,
    /// The smallest amount the next bid may have (`startingPrice`, then `currentPrice` + the ladder's step).
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

/// What a buyer reads about an auction but nothing decides on: kept out of the auction item, which every
/// bid rewrites (a write costs 1 WCU per KB of the item). Written once, with the auction; read only by the
/// auction's page (`GET /auctions/{id}`) and the answers that show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionDetails {
    /// At most [`MAX_DESCRIPTION_LEN`] bytes; may be empty.
    pub description: String,
}

impl AuctionDetails {
    pub fn is_empty(&self) -> bool {
        self.description.is_empty()
    }
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
    /// The winner: the high bid, unless a reserve was not met.
    pub fn winning_bid(&self) -> Option<&Bid> {
        self.high_bid
            .as_ref()
            .filter(|_| self.reserve_met() != Some(false))
    }
    /// `None` without a reserve; else whether the current price reached it (with at least one bid).
    pub fn reserve_met(&self) -> Option<bool> {
        self.reserve_price
            .map(|r| self.high_bid.is_some() && self.current_price >= r)
    }
    /// What a viewer sees as the state: `scheduled` until `startsAt`, then the stored status.
    pub fn phase(&self, now: Millis) -> Phase {
        match self.status {
            AuctionStatus::Ended => Phase::Ended,
            AuctionStatus::Active if now < self.starts_at => Phase::Scheduled,
            AuctionStatus::Active => Phase::Active,
        }
    }
    pub fn ended_event(&self) -> AuctionEndedEvent {
        match self.winning_bid() {
            Some(bid) => AuctionEndedEvent {
                winner_id: Some(public_id(&bid.bidder_id)),
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
        self.status == AuctionStatus::Active && self.starts_at <= now && now < self.ends_at
    }

    /// May a viewer connect: active (scheduled or open) and before its end.
    pub fn accepts_viewers(&self, now: Millis) -> bool {
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
    /// The public view of a bid: the bidder's public id, never the internal one.
    pub fn public(&self) -> PublicBid {
        PublicBid {
            bid_id: self.bid_id.clone(),
            amount: self.amount.cents(),
            bidder_name: self.bidder_name.clone(),
            bidder_id: public_id(&self.bidder_id),
            placed_at: self.placed_at,
            seq: self.seq,
        }
    }
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublicBid {
    pub bid_id: String,
    pub amount: i64,
    pub bidder_name: String,
    /// The bidder's public id ([`public_id`]).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^p-[0-9a-f]{20}$")))]
    pub bidder_id: String,
    pub placed_at: Millis,
    pub seq: u64,
}

/// A plain bid (`amount`: bid exactly this) or a maximum (`maxAmount`: the server bids for you, one step at a
/// time, up to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BidKind {
    Plain,
    Max,
}

/// What the store is asked to do for a bid; all fields validated. `Debug` hides a maximum's amount.
#[derive(Clone, PartialEq, Eq)]
pub struct BidRequest {
    pub auction_id: AuctionId,
    pub bidder_id: UserId,
    pub bidder_name: String,
    pub kind: BidKind,
    /// The bid (plain) or the maximum (max).
    pub amount: Money,
    pub now: Millis,
    pub bid_id: String,
    pub idempotency_key: Option<IdempotencyKey>,
}

impl fmt::Debug for BidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let amount: &dyn fmt::Debug = match self.kind {
            BidKind::Plain => &self.amount,
            BidKind::Max => &"<hidden>",
        };
        f.debug_struct("BidRequest")
            .field("auction_id", &self.auction_id)
            .field("bidder_id", &self.bidder_id)
            .field("kind", &self.kind)
            .field("amount", amount)
            .field("now", &self.now)
            .field("bid_id", &self.bid_id)
            .finish_non_exhaustive()
    }
}

impl BidRequest {
    /// The id of the bid the proxy places in answer to this request (for the holder of the highest max).
    pub fn proxy_bid_id(&self) -> String {
        format!("{}-p", self.bid_id)
    }
}

/// The result of an accepted bid request: the bids it committed and the auction right after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedBid {
    /// In seq order: the caller's own bid and, when the holder of a higher maximum answered, the proxy's bid.
    /// Empty when a leader only raised their maximum.
    pub bids: Vec<Bid>,
    pub auction: Auction,
    /// Who asked, and what (the receipt compares a retry with it).
    pub bidder_id: UserId,
    pub kind: BidKind,
    pub asked: Money,
}

impl PlacedBid {
    /// The caller's own bid among `bids`.
    pub fn own_bid(&self) -> Option<&Bid> {
        self.bids
            .iter()
            .rev()
            .find(|b| b.bidder_id == self.bidder_id)
    }
    /// The last seq this request committed (the auction's seq after it).
    pub fn seq(&self) -> u64 {
        self.auction.seq
    }
    /// What the bidder was answered, kept for replays.
    pub fn receipt(&self) -> BidReceipt {
        BidReceipt {
            bid: self.own_bid().cloned(),
            leading: self.auction.high_bid.as_ref().map(|b| &b.bidder_id) == Some(&self.bidder_id),
            status: self.auction.status_event(),
            minimum_bid: self.auction.minimum_bid,
            seq: self.auction.seq,
            kind: self.kind,
            asked: self.asked,
        }
    }
}

/// The answer to an accepted bid, as its idempotency record keeps it: a retry with the same key gets exactly
/// this back. Small on purpose (no auction snapshot): it is written with every keyed bid. `kind` and `asked`
/// (the request, possibly a maximum) stay on the server: the response is built from the other fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidReceipt {
    /// The caller's own bid (`None`: a leader raised their maximum).
    pub bid: Option<Bid>,
    /// Whether the caller leads right after the request.
    pub leading: bool,
    /// The auction's status right after the bid.
    pub status: AuctionStatusEvent,
    /// The minimum next bid right after the bid.
    pub minimum_bid: Money,
    /// The auction's seq right after the request.
    pub seq: u64,
    pub kind: BidKind,
    pub asked: Money,
}

// An outcome is moved once from the store to the handler, never stored: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidOutcome {
    Accepted(PlacedBid),
    /// Same bidder, same Idempotency-Key, same request: the original answer, nothing written.
    Replayed(BidReceipt),
    Rejected(BidRejection),
}

/// Why a bid was refused, decided on the auction state it was judged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidRejection {
    AuctionNotFound,
    /// Ended, or past `endsAt` and waiting for the closer.
    NotActive {
        auction: Box<Auction>,
    },
    /// Scheduled: bids open at `starts_at`.
    NotStarted {
        starts_at: Millis,
    },
    TooLow {
        current_price: Money,
        minimum_bid: Money,
    },
    OwnAuction,
    /// A plain bid from the current leader (raising a maximum is allowed).
    AlreadyLeading,
    /// A leader's new maximum is not above their current one.
    MaxNotRaised,
    /// The Idempotency-Key was used before by this bidder for a different request.
    IdempotencyKeyReused,
}

/// The decision on a bid against one version of its auction (`None`: no such auction). Both stores make it:
/// the embedded store inside its write transaction, the DynamoDB adapter on the item it read, then commits the
/// `Accept` with a write conditioned on that very version (`seq` and `rev`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BidDecision {
    /// Allowed: the bids and the auction after them.
    Accept(PlacedBid),
    /// This request already committed: a retry of the same request (same `bid_id`, e.g. the SDK retrying a
    /// write whose response was lost) is `Accepted` again; a client retry with the same Idempotency-Key
    /// racing its original is `Replayed`, or `IdempotencyKeyReused` for another request.
    Committed(BidOutcome),
    Reject(BidRejection),
}

/// Decide a bid on the state `current`. Pure: the stores supply the state and commit the result.
///
/// The order of the checks: existence, a retry of a committed request, own auction, not started, not
/// open (ended or past `endsAt`), then the bid itself ([`resolve_bid`]).
pub fn judge_bid(current: Option<&Auction>, req: &BidRequest) -> BidDecision {
    let Some(a) = current else {
        return BidDecision::Reject(BidRejection::AuctionNotFound);
    };
    if let Some(committed) = already_committed(a, req) {
        return BidDecision::Committed(committed);
    }
    if a.seller_id == req.bidder_id {
        return BidDecision::Reject(BidRejection::OwnAuction);
    }
    if a.status == AuctionStatus::Active && req.now < a.starts_at {
        return BidDecision::Reject(BidRejection::NotStarted {
            starts_at: a.starts_at,
        });
    }
    if !a.is_open(req.now) {
        return BidDecision::Reject(BidRejection::NotActive {
            auction: Box::new(a.clone()),
        });
    }
    match resolve_bid(a, req) {
        Ok(placed) => BidDecision::Accept(placed),
        Err(r) => BidDecision::Reject(r),
    }
}

/// Did this very request (same `bid_id`) or this key's original already commit? Only the latest change can be
/// recognised on the auction item; an older one is found by its idempotency record (keyed requests).
fn already_committed(a: &Auction, req: &BidRequest) -> Option<BidOutcome> {
    let hb = a.high_bid.as_ref();
    let this_request = hb.is_some_and(|b| b.bid_id == req.bid_id || b.bid_id == req.proxy_bid_id())
        || a.proxy.as_ref().is_some_and(|p| p.request_id == req.bid_id);
    let placed = |bids: Vec<Bid>| PlacedBid {
        bids,
        auction: a.clone(),
        bidder_id: req.bidder_id.clone(),
        kind: req.kind,
        asked: req.amount,
    };
    if this_request {
        let own: Vec<Bid> = hb
            .filter(|b| b.bid_id == req.bid_id)
            .cloned()
            .into_iter()
            .collect();
        return Some(BidOutcome::Accepted(placed(own)));
    }
    match hb {
        Some(hb)
            if req.idempotency_key.is_some()
                && hb.bidder_id == req.bidder_id
                && hb.idempotency_key == req.idempotency_key =>
        {
            // Its original request was a maximum if the leader's maximum was set by that same request.
            let mut original = placed(vec![hb.clone()]).receipt();
            (original.kind, original.asked) = match &a.proxy {
                Some(p) if p.request_id == hb.bid_id => (BidKind::Max, p.max_amount),
                _ => (BidKind::Plain, hb.amount),
            };
            Some(replay_or_reused(original, req))
        }
        _ => None,
    }
}

/// A keyed request whose key was already accepted: the original answer if the request is the same, else a
/// refusal (the key was reused for another request).
pub fn replay_or_reused(original: BidReceipt, req: &BidRequest) -> BidOutcome {
    if original.kind == req.kind && original.asked == req.amount {
        BidOutcome::Replayed(original)
    } else {
        BidOutcome::Rejected(BidRejection::IdempotencyKeyReused)
    }
}

/// The bid rules on an open auction `a`: the increment ladder, proxy maxima (eBay-style), already leading,
/// and the soft close. Returns the bids to commit and the auction after them.
///
/// - A plain bid must reach `minimumBid` and come from someone other than the leader. If the leader holds a
///   maximum at least as high, the bid is accepted and the proxy answers at once for the leader with the
///   bid plus one step, capped at the maximum (an earlier maximum wins a tie).
/// - A maximum from a challenger must reach `minimumBid`. Against a higher or equal maximum, the challenger's
///   maximum is bid and answered as above (a beaten maximum is spent). Against a lower one (or none), the
///   challenger leads at the second-highest maximum (or the current price) plus one step, capped at their
///   maximum. A winning maximum is never bid in full: no bid, view or frame shows it.
/// - A maximum from the leader sets or raises their maximum without moving the price.
pub fn resolve_bid(a: &Auction, req: &BidRequest) -> Result<PlacedBid, BidRejection> {
    let leader = a.high_bid.as_ref().map(|b| &b.bidder_id);
    let is_leader = leader == Some(&req.bidder_id);
    // A maximum only counts while its holder leads.
    let holder = a.proxy.as_ref().filter(|p| Some(&p.bidder_id) == leader);
    let too_low = || BidRejection::TooLow {
        current_price: a.current_price,
        minimum_bid: a.minimum_bid,
    };
    let step = |amount: Money| a.increments.next_bid(amount);
    let mine = |amount: Money| (req.bidder_id.clone(), req.bidder_name.clone(), amount, true);
    let theirs =
        |p: &ProxyMax, amount: Money| (p.bidder_id.clone(), p.bidder_name.clone(), amount, false);
    let challenger_max = || ProxyMax {
        bidder_id: req.bidder_id.clone(),
        bidder_name: req.bidder_name.clone(),
        max_amount: req.amount,
        placed_at: req.now,
        request_id: req.bid_id.clone(),
    };
    // (bidder, name, amount, is the caller's own bid)
    let mut bids: Vec<(UserId, String, Money, bool)> = Vec::new();
    let mut proxy = holder.cloned();
    match (req.kind, is_leader) {
        (BidKind::Plain, true) => return Err(BidRejection::AlreadyLeading),
        (BidKind::Max, true) => {
            match holder {
                Some(p) if req.amount <= p.max_amount => return Err(BidRejection::MaxNotRaised),
                None if req.amount < a.minimum_bid => return Err(too_low()),
                _ => {}
            }
            proxy = Some(challenger_max());
        }
        (_, false) if req.amount < a.minimum_bid => return Err(too_low()),
        (kind, false) => match holder {
            // The holder's maximum answers (it was there first: it wins a tie).
            Some(p) if p.max_amount >= req.amount => {
                bids.push(mine(req.amount));
                bids.push(theirs(p, step(req.amount).min(p.max_amount)));
            }
            Some(p) => {
                // Beaten. The holder's maximum is not bid (it would show it): the price says only what the
                // rule must, the second-highest maximum plus a step.
                let second = p.max_amount.max(a.current_price);
                match kind {
                    BidKind::Plain => {
                        bids.push(mine(req.amount));
                        proxy = None;
                    }
                    BidKind::Max => {
                        bids.push(mine(step(second).min(req.amount)));
                        proxy = Some(challenger_max());
                    }
                }
            }
            None => match kind {
                BidKind::Plain => bids.push(mine(req.amount)),
                BidKind::Max => {
                    bids.push(mine(a.minimum_bid));
                    proxy = Some(challenger_max());
                }
            },
        },
    }
    let mut auction = a.clone();
    let mut committed = Vec::with_capacity(bids.len());
    for (bidder_id, bidder_name, amount, own) in bids {
        auction.seq += 1;
        let bid = Bid {
            bid_id: if own {
                req.bid_id.clone()
            } else {
                req.proxy_bid_id()
            },
            auction_id: a.auction_id.clone(),
            bidder_id,
            bidder_name,
            amount,
            placed_at: req.now,
            seq: auction.seq,
            idempotency_key: req.idempotency_key.clone().filter(|_| own),
        };
        auction.current_price = amount;
        auction.bid_count += 1;
        auction.high_bid = Some(bid.clone());
        committed.push(bid);
    }
    auction.minimum_bid = if auction.high_bid.is_some() {
        auction.increments.next_bid(auction.current_price)
    } else {
        auction.starting_price
    };
    auction.proxy = proxy;
    auction.rev += 1;
    if !committed.is_empty() {
        auction.ends_at = soft_close(a, req.now);
    }
    Ok(PlacedBid {
        bids: committed,
        auction,
        bidder_id: req.bidder_id.clone(),
        kind: req.kind,
        asked: req.amount,
    })
}

/// The end after a bid accepted at `now`: moved to `now + softClose` when less than that was left.
pub fn soft_close(a: &Auction, now: Millis) -> Millis {
    if a.soft_close_ms > 0 && a.ends_at - now < a.soft_close_ms {
        now + a.soft_close_ms
    } else {
        a.ends_at
    }
}

/// Move an auction to `ended`: the pure twin of the close's conditional write.
pub fn apply_close(before: &Auction, now: Millis, closing: &Closing) -> Auction {
    let mut a = before.clone();
    a.status = AuctionStatus::Ended;
    a.ended_at = Some(now);
    a.ended_by = closing.by().cloned();
    a.seq += 1;
    a
}

/// Which close is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closing {
    /// The scheduled close: only once `endsAt` has passed.
    Due,
    /// An early end by `by`: an admin's at any time while active; a seller's only while it has no bids.
    Early(EndedBy),
}

impl Closing {
    pub fn by(&self) -> Option<&EndedBy> {
        match self {
            Closing::Due => None,
            Closing::Early(by) => Some(by),
        }
    }
    /// Only an admin may end an auction that has bids.
    pub fn needs_no_bids(&self) -> bool {
        matches!(self, Closing::Early(by) if by.role != Role::Admin)
    }
}

/// May this auction be closed at `now`?
pub fn close_allowed(a: &Auction, now: Millis, closing: &Closing) -> bool {
    a.status == AuctionStatus::Active
        && match closing {
            Closing::Due => a.ends_at <= now,
            Closing::Early(_) => !closing.needs_no_bids() || a.bid_count == 0,
        }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// This call moved the auction active → ended.
    Closed(Auction),
    /// Already ended by someone else; `finalized` on the auction tells whether the announcement is done.
    AlreadyEnded(Auction),
    /// Active and not yet due (for [`Closing::Due`]), or a seller's early end of an auction that has bids.
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

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BidPlacedEvent {
    pub bid_id: String,
    pub amount: i64,
    pub bidder_name: String,
    pub placed_at: Millis,
}

#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionStatusEvent {
    pub current_price: i64,
    pub bid_count: u64,
    pub ends_at: Millis,
}

/// With no bids, or below a hidden reserve, all three fields are `null`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuctionEndedEvent {
    /// The winner's public id ([`public_id`]).
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^p-[0-9a-f]{20}$")))]
    pub winner_id: Option<String>,
    pub winner_name: Option<String>,
    pub final_price: Option<i64>,
}

// ---- creating an auction ----

/// Text limits, in bytes of UTF-8 (a character is 1 to 4).
pub const MAX_TITLE_LEN: usize = 300;
pub const MAX_DESCRIPTION_LEN: usize = 4_000;
pub const MAX_NAME_LEN: usize = 64;
pub const MIN_DURATION_MS: i64 = 10_000;
pub const MAX_DURATION_MS: i64 = 30 * 24 * 3_600_000;
/// The soft close when the seller gives none: a bid in the last 10 s resets the end to 10 s from then.
pub const DEFAULT_SOFT_CLOSE_SECS: i64 = 10;
pub const MAX_SOFT_CLOSE_SECS: i64 = 300;

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
        starting_price: draft.starting_price,
        increments: draft.increments,
        soft_close_ms: draft.soft_close_ms,
        reserve_price: draft.reserve_price,
        starts_at: draft.starts_at,
        proxy: None,
        rev: 0,
        ended_by: None,
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

/// A validated create-auction request: the auction item's part (its [`AuctionDetails`] are apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuctionDraft {
    /// Shard partitions for its viewers' connection records (the deployment's `VIEWER_SHARDS`).
    pub viewer_shards: u16,
    pub title: String,
    pub starting_price: Money,
    pub increments: Ladder,
    pub soft_close_ms: Millis,
    pub reserve_price: Option<Money>,
    /// 0: open at once.
    pub starts_at: Millis,
    pub ends_at: Millis,
}

/// Text fields: trimmed, non-empty where required, at most `max` bytes (UTF-8), no control characters.
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
    // Bytes, not characters: what the stored item (and every write of it) costs is its UTF-8 size; 4,000
    // characters of emoji would be 16 KB.
    if s.len() > max {
        return Err(DomainError::Invalid {
            field,
            reason: format!("is too long (at most {max} bytes of UTF-8)"),
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
    fn the_default_ladder_steps_at_each_rung() {
        let l = Ladder::standard();
        for (price, step) in [
            (0, 100),
            (2_999, 100),
            (3_000, 200),
            (4_999, 200),
            (5_000, 300),
            (9_999, 300),
            (10_000, 500),
            (29_999, 500),
            (30_000, 1_000),
            (99_999, 1_000),
            (100_000, 2_000),
            (199_999, 2_000),
            (200_000, 5_000),
            (MAX_MONEY, 5_000),
        ] {
            assert_eq!(l.step_at(price), step, "at {price}");
        }
        assert_eq!(l.next_bid(Money::new(3_000).unwrap()).cents(), 3_200);
    }

    #[test]
    fn ladders_are_validated() {
        assert!(Ladder::parse(vec![(0, 100), (500, 50)]).is_ok());
        for bad in [
            vec![],
            vec![(1, 100)],
            vec![(0, 100), (0, 200)],
            vec![(0, 100), (500, 0)],
            vec![(0, -5)],
            vec![(0, 100); 21],
        ] {
            assert!(Ladder::parse(bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_maximum_never_shows_in_debug_output() {
        let p = ProxyMax {
            bidder_id: UserId::parse("u1").unwrap(),
            bidder_name: "Ada".into(),
            max_amount: Money::new(987_654).unwrap(),
            placed_at: 1,
            request_id: "r".into(),
        };
        assert!(!format!("{p:?}").contains("987654"));
        let req = BidRequest {
            auction_id: AuctionId::parse("a").unwrap(),
            bidder_id: UserId::parse("u1").unwrap(),
            bidder_name: "Ada".into(),
            kind: BidKind::Max,
            amount: Money::new(987_654).unwrap(),
            now: 1,
            bid_id: "b".into(),
            idempotency_key: None,
        };
        assert!(!format!("{req:?}").contains("987654"));
    }

    #[test]
    fn public_ids_are_opaque_and_stable() {
        let id = public_id(&UserId::parse("u-42").unwrap());
        assert!(id.starts_with("p-") && id.len() == 22 && !id.contains("42"));
        assert_eq!(id, public_id(&UserId::parse("u-42").unwrap()));
        assert_ne!(id, public_id(&UserId::parse("u-43").unwrap()));
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
