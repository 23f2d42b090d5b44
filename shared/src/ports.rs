//! Ports: the narrow traits the handlers are generic over. Adapters live in `store/` and `broadcast/`.

use crate::domain::{
    Auction, AuctionId, Bid, BidOutcome, BidRequest, CloseOutcome, Closing, Connection,
    ConnectionId, Millis,
};
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
    /// Insert a new auction; `AlreadyExists` if the id is taken.
    async fn create_auction(&self, auction: &Auction) -> StoreResult<()>;

    /// Strongly consistent read of one auction.
    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>>;

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
        closing: Closing,
    ) -> StoreResult<CloseOutcome>;

    /// Record that `auction.ended` was announced and viewers revoked; removes it from `due_auctions`.
    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()>;
}

/// Viewer connections.
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn add_connection(&self, conn: &Connection) -> StoreResult<()>;

    /// Remove a connection by id; returns what was removed. Idempotent: removing twice is `Ok(None)`.
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;

    /// Every connection of one auction (a Query, never a Scan). Expired ones may still be listed until
    /// the TTL sweeper removes them; posting to them answers 410 and removes them.
    async fn connections_for_auction(&self, id: &AuctionId) -> StoreResult<Vec<Connection>>;
}

/// Everything the handlers need from storage: both ports, in one bound. Every store adapter is a cheap
/// handle (a client or an `Arc`), so the handlers and the fan-out each hold a clone.
pub trait Store: AuctionStore + ConnectionStore + Clone + 'static {}

impl<T: AuctionStore + ConnectionStore + Clone + 'static> Store for T {}

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
    async fn create_auction(&self, a: &Auction) -> StoreResult<()> {
        (**self).create_auction(a).await
    }
    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        (**self).get_auction(id).await
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
        closing: Closing,
    ) -> StoreResult<CloseOutcome> {
        (**self).close_auction(id, now, closing).await
    }
    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()> {
        (**self).mark_finalized(id).await
    }
}

#[async_trait]
impl<T: ConnectionStore + ?Sized> ConnectionStore for std::sync::Arc<T> {
    async fn add_connection(&self, c: &Connection) -> StoreResult<()> {
        (**self).add_connection(c).await
    }
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        (**self).remove_connection(id).await
    }
    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        (**self).get_connection(id).await
    }
    async fn connections_for_auction(&self, id: &AuctionId) -> StoreResult<Vec<Connection>> {
        (**self).connections_for_auction(id).await
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
}
