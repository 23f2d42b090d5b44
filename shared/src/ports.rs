//! Ports: the narrow traits the handlers are generic over. Adapters live in `store/` and `broadcast/`.

use crate::domain::{
    Admission, Auction, AuctionDetails, AuctionId, Bid, BidOutcome, BidRequest, CloseOutcome,
    Closing, Connection, ConnectionId, Millis, Publication, SyncVerdict, UserId,
};
use crate::fanout::FanoutReport;
use crate::publisher::{PublishJob, SliceJob};
use async_trait::async_trait;

/// A failure of the storage backend itself (not a refused bid: that is a `BidOutcome::Rejected`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend asked us to slow down (DynamoDB throttling, SQLite busy). Safe to retry.
    #[error("store throttled the request")]
    Throttled,
    /// The backend is unavailable or answered 5xx. Nothing was committed that the caller can observe.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An id that must be unique is already taken.
    #[error("item already exists")]
    AlreadyExists,
    /// A stored item could not be decoded: a bug or a hand-edited table.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("store error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Auctions and bids. Every method that changes state is atomic: it happens whole or not at all.
#[async_trait]
pub trait AuctionStore: Send + Sync {
    /// Insert a new auction and its details, in one atomic write; `AlreadyExists` if the id is taken.
    async fn create_auction(&self, auction: &Auction, details: &AuctionDetails) -> StoreResult<()>;

    /// Strongly consistent read of one auction (its item only: never its details).
    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>>;

    /// Strongly consistent read of an auction's details; empty ones for an auction created without any
    /// (or unknown: [`get_auction`](Self::get_auction) says whether it exists).
    async fn get_details(&self, id: &AuctionId) -> StoreResult<AuctionDetails>;

    /// Active auctions that end after `now`, soonest first, at most `limit`.
    async fn list_active(&self, now: Millis, limit: usize) -> StoreResult<Vec<Auction>>;

    /// The most recent accepted bids, newest first (highest seq first), at most `limit`.
    async fn recent_bids(&self, id: &AuctionId, limit: usize) -> StoreResult<Vec<Bid>>;

    /// The one atomic bid operation. Accepts only if the auction is active, `now < endsAt`, the bidder is not
    /// the seller and `amount >= minimumBid`; otherwise says why from the state the failed write saw.
    /// A request whose (bidder, Idempotency-Key) was already accepted is `Replayed`, never a second bid.
    async fn place_bid(&self, req: &BidRequest) -> StoreResult<BidOutcome>;

    /// Auctions that need the closer: active with `endsAt <= now`, or ended but not yet finalized.
    async fn due_auctions(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>>;

    /// Move active → ended exactly once (conditional write): at or after `endsAt` ([`Closing::Due`]), or at
    /// any time ([`Closing::Early`], the seller's or an admin's end).
    async fn close_auction(
        &self,
        id: &AuctionId,
        now: Millis,
        closing: &Closing,
    ) -> StoreResult<CloseOutcome>;

    /// Record that `auction.ended` was announced and viewers revoked; removes it from `due_auctions`.
    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()>;

    /// The accepted bids with `from_seq <= seq <= to_seq`, ascending by seq (what a delivery carries).
    async fn bids_between(
        &self,
        id: &AuctionId,
        from_seq: u64,
        to_seq: u64,
    ) -> StoreResult<Vec<Bid>>;

    /// Record how far the publisher has delivered. Monotonic: a publication older than the stored one
    /// (a slower, retried publisher) changes nothing. Never touches the bid state.
    async fn mark_published(&self, id: &AuctionId, publication: Publication) -> StoreResult<()>;
}

/// Viewer connections. Records live in shard partitions (`Connection::shard`), not in the auction's own.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Store a viewer, unless its user already has `max_per_user` connections to that auction: then
    /// nothing is written and the user's other connections are returned (some may be dead: the caller may
    /// probe and remove them, then try again).
    async fn add_connection(
        &self,
        conn: &Connection,
        max_per_user: usize,
    ) -> StoreResult<Admission>;

    /// Remove a connection by id; returns what was removed. Idempotent: removing twice is `Ok(None)`.
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;

    /// Every connection of one auction in the given shards (one Query per shard partition, never a Scan;
    /// consistent). Expired ones may still be listed until the TTL sweeper removes them; posting to them
    /// answers 410 and removes them.
    async fn connections_in_shards(
        &self,
        auction: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>>;

    /// A `sync` from this connection at `now`: answered at most once per second; beyond that, at most one
    /// `rate_limited` notice per second, else dropped (see [`crate::domain::sync_verdict`]).
    async fn record_sync(&self, id: &ConnectionId, now: Millis) -> StoreResult<SyncVerdict>;

    /// Another refused client message from this connection; returns how many it has sent.
    async fn record_strike(&self, id: &ConnectionId) -> StoreResult<u32>;

    /// Every connection of one auction, over all its `shards`.
    async fn connections_for_auction(
        &self,
        auction: &AuctionId,
        shards: u16,
    ) -> StoreResult<Vec<Connection>> {
        let all: Vec<u16> = (0..shards.max(1)).collect();
        self.connections_in_shards(auction, &all).await
    }
}

/// A per-user bid rate: at most `limit` bids in each fixed window of `window_ms` (README, "Table design").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BidRate {
    pub limit: u32,
    pub window_ms: Millis,
}

impl BidRate {
    /// The window `now` falls in, as its start (epoch ms).
    pub fn window_start(&self, now: Millis) -> Millis {
        let w = self.window_ms.max(1);
        now.div_euclid(w) * w
    }

    /// When (epoch seconds, the TTL unit) the counter of `now`'s window may be forgotten: one window past its
    /// end.
    pub fn counter_expires_at(&self, now: Millis) -> i64 {
        (self.window_start(now) + 2 * self.window_ms.max(1)).div_euclid(1000) + 1
    }

    /// How long until the window of `now` ends (at least 1 ms).
    pub fn retry_after_ms(&self, now: Millis) -> Millis {
        (self.window_start(now) + self.window_ms.max(1) - now).max(1)
    }
}

/// Whether one more bid of a user fits its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateVerdict {
    Allowed,
    /// Over the limit: nothing was counted; the window ends in `retry_after_ms`.
    Limited {
        retry_after_ms: Millis,
    },
}

/// The answer of [`LimitStore::create_auction_within_quota`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    Created,
    /// The seller already has `max_active` auctions that have not closed: nothing was written.
    SellerAtQuota,
}

/// A position in the listing of active auctions (its order: `endsAt`, then the id). Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub ends_at: Millis,
    pub auction_id: AuctionId,
}

/// One page of active auctions; `next` is where the next page starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq)]
pub struct ActivePage {
    pub auctions: Vec<Auction>,
    pub next: Option<ListCursor>,
}

/// What the public can make the store do, bounded: the per-user bid rate, the per-seller quota of active
/// auctions, a paged listing, and the retention of ended auctions. None of it touches an auction item's
/// partition except the create and the purge themselves.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Count one bid of `user` at `now` against `rate`, atomically, unless its window is full (then nothing
    /// is counted). Never reads or writes an auction.
    async fn take_bid_slot(
        &self,
        user: &UserId,
        now: Millis,
        rate: BidRate,
    ) -> StoreResult<RateVerdict>;

    /// [`AuctionStore::create_auction`], and atomically with it one of the seller's `max_active` slots:
    /// `SellerAtQuota` (nothing written) when every slot is taken. `AlreadyExists` as `create_auction`.
    async fn create_auction_within_quota(
        &self,
        auction: &Auction,
        details: &AuctionDetails,
        max_active: usize,
    ) -> StoreResult<Creation>;

    /// Give back the slot `auction` holds of its seller's quota. Idempotent (a slot is released once
    /// however often this runs), so the closer may repeat it.
    async fn release_seller_slot(&self, seller: &UserId, auction: &AuctionId) -> StoreResult<()>;

    /// Active auctions that end after `now`, after `after` in listing order, at most `limit`; eventually
    /// consistent (a listing may lag a write by a moment; the auction's own page is consistent).
    async fn list_active_page(
        &self,
        now: Millis,
        limit: usize,
        after: Option<&ListCursor>,
    ) -> StoreResult<ActivePage>;

    /// Remember that the ended auction `id` (with its bids and idempotency records) is to be deleted at
    /// `at`. Idempotent.
    async fn schedule_purge(&self, id: &AuctionId, at: Millis) -> StoreResult<()>;

    /// Delete, whole, at most `limit` auctions whose purge time is `<= now`; returns them. Idempotent: an
    /// interrupted purge is finished by the next call.
    async fn purge_due(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>>;
}

/// Everything the handlers need from storage: the three ports, in one bound. Every store adapter is a cheap
/// handle (a client or an `Arc`), so the handlers and the fan-out each hold a clone.
pub trait Store: AuctionStore + ConnectionStore + LimitStore + Clone + 'static {}

impl<T: AuctionStore + ConnectionStore + LimitStore + Clone + 'static> Store for T {}

/// Why a post or delete to one connection failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// 410: the connection no longer exists; its record should be removed.
    #[error("connection gone")]
    Gone,
    /// 429: throttled by API Gateway; retryable.
    #[error("throttled")]
    Throttled,
    /// Payload over API Gateway's limits.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Timeout, 5xx, network: retryable.
    #[error("transient failure: {0}")]
    Transient(String),
    #[error("failed: {0}")]
    Other(String),
}

impl PushError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, PushError::Throttled | PushError::Transient(_))
    }
}

/// The API Gateway Management API, narrowed to what the auction needs.
#[async_trait]
pub trait Broadcaster: Send + Sync {
    /// PostToConnection.
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError>;
    /// DeleteConnection: the server closes the socket.
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError>;
    /// GetConnection: is the socket still open? (`Gone` if not.)
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError>;
}

/// Why a hand-off to the publisher failed (nothing was queued; the schedule's sweep delivers the change).
#[derive(Debug, thiserror::Error)]
#[error("publish hand-off failed: {0}")]
pub struct HandOffError(pub String);

/// The durable hand-off from a commit (a bid, a close) to the publisher: SQS FIFO (message group
/// [`PublishJob::group`]: one per auction's changes, one per auction's viewer counts) on AWS, a SQLite queue in the local stack, a recorder in tests. Returns once the job is durable.
#[async_trait]
pub trait HandOff: Send + Sync {
    async fn enqueue(&self, job: &PublishJob) -> Result<(), HandOffError>;
}

/// Why a close timer could not be armed (the schedule's `rate(...)` sweep still closes the auction, late).
#[derive(Debug, thiserror::Error)]
#[error("close timer failed: {0}")]
pub struct TimerError(pub String);

/// Wakes the closer at an auction's end, to the second: one Step Functions execution per auction on AWS, a
/// timer task in the local stack. The woken closer runs `App::close_at_end`, which follows an end moved by
/// the soft close. Arming twice is harmless (the same execution, the same task).
#[async_trait]
pub trait CloseTimer: Send + Sync {
    async fn arm(&self, auction_id: &AuctionId, ends_at: Millis) -> Result<(), TimerError>;
}

/// Why a slice could not be delivered (the whole delivery is retried).
#[derive(Debug, thiserror::Error)]
#[error("slice delivery failed: {0}")]
pub struct SliceError(pub String);

/// Delivering one slice of a large audience in another invocation (Lambda Invoke of the `deliver`
/// function); waits until it is done.
#[async_trait]
pub trait SliceDelivery: Send + Sync {
    async fn deliver(&self, job: &SliceJob) -> Result<FanoutReport, SliceError>;
}

/// The time, injectable so tests can move past `endsAt` without sleeping.
pub trait Clock: Send + Sync {
    fn now_millis(&self) -> Millis;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> Millis {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        d.as_millis() as Millis
    }
}

/// A clock tests can set and advance.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(now: Millis) -> Self {
        Self(std::sync::atomic::AtomicI64::new(now))
    }
    pub fn set(&self, now: Millis) {
        self.0.store(now, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn advance(&self, by: Millis) {
        self.0.fetch_add(by, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> Millis {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait]
impl<T: AuctionStore + ?Sized> AuctionStore for std::sync::Arc<T> {
    async fn create_auction(&self, a: &Auction, d: &AuctionDetails) -> StoreResult<()> {
        (**self).create_auction(a, d).await
    }
    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        (**self).get_auction(id).await
    }
    async fn get_details(&self, id: &AuctionId) -> StoreResult<AuctionDetails> {
        (**self).get_details(id).await
    }
    async fn list_active(&self, now: Millis, limit: usize) -> StoreResult<Vec<Auction>> {
        (**self).list_active(now, limit).await
    }
    async fn recent_bids(&self, id: &AuctionId, limit: usize) -> StoreResult<Vec<Bid>> {
        (**self).recent_bids(id, limit).await
    }
    async fn place_bid(&self, req: &BidRequest) -> StoreResult<BidOutcome> {
        (**self).place_bid(req).await
    }
    async fn due_auctions(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        (**self).due_auctions(now, limit).await
    }
    async fn close_auction(
        &self,
        id: &AuctionId,
        now: Millis,
        closing: &Closing,
    ) -> StoreResult<CloseOutcome> {
        (**self).close_auction(id, now, closing).await
    }
    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()> {
        (**self).mark_finalized(id).await
    }
    async fn bids_between(&self, id: &AuctionId, from: u64, to: u64) -> StoreResult<Vec<Bid>> {
        (**self).bids_between(id, from, to).await
    }
    async fn mark_published(&self, id: &AuctionId, p: Publication) -> StoreResult<()> {
        (**self).mark_published(id, p).await
    }
}

#[async_trait]
impl<T: ConnectionStore + ?Sized> ConnectionStore for std::sync::Arc<T> {
    async fn add_connection(&self, c: &Connection, max_per_user: usize) -> StoreResult<Admission> {
        (**self).add_connection(c, max_per_user).await
    }
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        (**self).remove_connection(id).await
    }
    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        (**self).get_connection(id).await
    }
    async fn connections_in_shards(
        &self,
        auction: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>> {
        (**self).connections_in_shards(auction, shards).await
    }
    async fn record_sync(&self, id: &ConnectionId, now: Millis) -> StoreResult<SyncVerdict> {
        (**self).record_sync(id, now).await
    }
    async fn record_strike(&self, id: &ConnectionId) -> StoreResult<u32> {
        (**self).record_strike(id).await
    }
}

#[async_trait]
impl<T: LimitStore + ?Sized> LimitStore for std::sync::Arc<T> {
    async fn take_bid_slot(&self, u: &UserId, now: Millis, r: BidRate) -> StoreResult<RateVerdict> {
        (**self).take_bid_slot(u, now, r).await
    }
    async fn create_auction_within_quota(
        &self,
        a: &Auction,
        d: &AuctionDetails,
        max: usize,
    ) -> StoreResult<Creation> {
        (**self).create_auction_within_quota(a, d, max).await
    }
    async fn release_seller_slot(&self, seller: &UserId, a: &AuctionId) -> StoreResult<()> {
        (**self).release_seller_slot(seller, a).await
    }
    async fn list_active_page(
        &self,
        now: Millis,
        limit: usize,
        after: Option<&ListCursor>,
    ) -> StoreResult<ActivePage> {
        (**self).list_active_page(now, limit, after).await
    }
    async fn schedule_purge(&self, id: &AuctionId, at: Millis) -> StoreResult<()> {
        (**self).schedule_purge(id, at).await
    }
    async fn purge_due(&self, now: Millis, limit: usize) -> StoreResult<Vec<AuctionId>> {
        (**self).purge_due(now, limit).await
    }
}

#[async_trait]
impl<T: Broadcaster + ?Sized> Broadcaster for std::sync::Arc<T> {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        (**self).post(id, payload).await
    }
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        (**self).disconnect(id).await
    }
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        (**self).probe(id).await
    }
}
