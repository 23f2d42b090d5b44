//! THE conformance suite: every store adapter (SQLite, DynamoDB) runs these same cases, so the handlers can
//! rely on one set of semantics whatever the backend.
//!
//! Each case is a `pub async fn case<S: Store>(store: S)` that panics on a violation, written inside the one
//! `conformance_cases!` list that also generates [`store_conformance_tests!`]: one `#[tokio::test]` per case,
//! given an expression that evaluates to a future of a fresh store. Compiled only with the `conformance`
//! feature (test crates turn it on; Lambda binaries never contain it):
//!
//! ```text
//! mod in_memory {
//!     auction::store_conformance_tests!(async { auction::store::sqlite::SqliteStore::in_memory().unwrap() });
//! }
//! ```
//!
//! The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
//!
//! Rules the cases follow, so they also hold on a shared, persistent table (DynamoDB Local, a test stage):
//! - every auction, user and connection id is fresh (ULID), so cases never see each other's items;
//! - time is never read from the clock: every `now` is a fixed value passed explicitly;
//! - queries that see the whole table (`list_active`, `due_auctions`) use their own time window and only
//!   assert about the case's own ids (plus ordering of the whole answer), and the case ends the auctions it
//!   made visible there (close + `mark_finalized`) so later runs are not polluted.

use crate::domain::{
    self, Admission, Auction, AuctionDetails, AuctionDraft, AuctionId, AuctionStatus, Bid, BidKind,
    BidOutcome, BidRejection, BidRequest, CloseOutcome, Closing, Connection, ConnectionId,
    IdempotencyKey, Millis, Money, PlacedBid, Principal, Publication, Role, SyncVerdict, UserId,
};
use crate::ports::{AuctionStore, BidRate, Creation, ListCursor, RateVerdict, Store, StoreError};
use std::collections::HashSet;

/// The fixed "now" of the suite (2023-11-14T22:13:20Z).
pub const NOW: Millis = 1_700_000_000_000;
/// When the suite's ordinary auctions end: one hour after [`NOW`].
pub const ENDS_AT: Millis = NOW + HOUR;
const HOUR: Millis = 3_600_000;

// ---------------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------------

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::generate())
}

fn user(prefix: &str) -> UserId {
    UserId::parse(&unique(prefix)).expect("generated user ids are valid")
}

fn auction_id() -> AuctionId {
    AuctionId::parse(&ulid::Ulid::generate().to_string()).expect("ULIDs are valid auction ids")
}

fn money(cents: i64) -> Money {
    Money::new(cents).expect("test amounts are valid")
}

fn seller() -> Principal {
    Principal {
        user_id: user("seller"),
        name: "Sam Seller".to_owned(),
        role: Role::Seller,
    }
}

fn new_auction(starting: i64, increment: i64, created_at: Millis, ends_at: Millis) -> Auction {
    let draft = AuctionDraft {
        viewer_shards: 4,
        title: "Brass lamp".to_owned(),
        starting_price: money(starting),
        increments: domain::Ladder::fixed(money(increment)),
        // Sudden death: these cases keep their end; the soft-close cases set their own.
        soft_close_ms: 0,
        reserve_price: None,
        starts_at: 0,
        ends_at,
    };
    domain::new_auction(auction_id(), &seller(), draft, created_at)
}

/// What the GIVEN helpers store beside each auction.
fn details() -> AuctionDetails {
    AuctionDetails {
        description: "A 1920s brass lamp.".to_owned(),
    }
}

/// GIVEN helper: a stored auction created at `created_at`.
async fn given_auction<S: AuctionStore>(
    store: &S,
    starting: i64,
    increment: i64,
    created_at: Millis,
    ends_at: Millis,
) -> Auction {
    let a = new_auction(starting, increment, created_at, ends_at);
    store
        .create_auction(&a, &details())
        .await
        .expect("create_auction");
    a
}

fn bid_req(
    a: &Auction,
    bidder: &UserId,
    amount: i64,
    now: Millis,
    key: Option<&str>,
) -> BidRequest {
    BidRequest {
        auction_id: a.auction_id.clone(),
        bidder_id: bidder.clone(),
        bidder_name: format!("Name of {bidder}"),
        kind: BidKind::Plain,
        amount: money(amount),
        now,
        bid_id: ulid::Ulid::generate().to_string(),
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).expect("test keys are valid")),
    }
}

async fn place<S: AuctionStore>(store: &S, req: &BidRequest) -> BidOutcome {
    store.place_bid(req).await.expect("place_bid")
}

#[track_caller]
fn accepted(outcome: BidOutcome) -> PlacedBid {
    match outcome {
        BidOutcome::Accepted(p) => p,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// GIVEN helper: a stored auction from 10.00, step 1.00, ending at ENDS_AT, changed by `edit`.
async fn given_rules<S: AuctionStore>(store: &S, edit: impl FnOnce(&mut Auction)) -> Auction {
    let mut a = new_auction(1_000, 100, NOW, ENDS_AT);
    edit(&mut a);
    store
        .create_auction(&a, &details())
        .await
        .expect("create_auction");
    a
}

/// A maximum of `amount` from `bidder`.
fn max_req(a: &Auction, bidder: &UserId, amount: i64, now: Millis) -> BidRequest {
    BidRequest {
        kind: BidKind::Max,
        ..bid_req(a, bidder, amount, now, None)
    }
}

/// Who bid what, in seq order, in one accepted request.
fn amounts(p: &PlacedBid) -> Vec<(UserId, i64)> {
    p.bids
        .iter()
        .map(|b| (b.bidder_id.clone(), b.amount.cents()))
        .collect()
}

#[track_caller]
fn rejected(outcome: BidOutcome) -> BidRejection {
    match outcome {
        BidOutcome::Rejected(r) => r,
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_active(outcome: BidOutcome, expected_state: &Auction) {
    match rejected(outcome) {
        BidRejection::NotActive { auction } => {
            assert_eq!(*auction, *expected_state, "NotActive carries the state")
        }
        other => panic!("expected NotActive, got {other:?}"),
    }
}

async fn get<S: AuctionStore>(store: &S, id: &AuctionId) -> Auction {
    store
        .get_auction(id)
        .await
        .expect("get_auction")
        .expect("auction exists")
}

async fn bids<S: AuctionStore>(store: &S, id: &AuctionId) -> Vec<Bid> {
    store.recent_bids(id, 1_000).await.expect("recent_bids")
}

/// THEN helper: the auction and its bid history are exactly as given.
async fn assert_state<S: AuctionStore>(
    store: &S,
    expected: &Auction,
    expected_bids_newest_first: &[Bid],
) {
    assert_eq!(
        get(store, &expected.auction_id).await,
        *expected,
        "auction item changed"
    );
    assert_eq!(
        bids(store, &expected.auction_id).await,
        expected_bids_newest_first,
        "bid history changed"
    );
}

async fn close<S: AuctionStore>(
    store: &S,
    id: &AuctionId,
    now: Millis,
    closing: Closing,
) -> CloseOutcome {
    store
        .close_auction(id, now, &closing)
        .await
        .expect("close_auction")
}

/// An admin's early end (allowed at any time while active).
fn admin_end() -> Closing {
    Closing::Early(domain::EndedBy {
        user_id: UserId::parse("admin").expect("a valid id"),
        role: Role::Admin,
    })
}

/// The one bid an accepted plain bid (without maxima) committed.
trait OneBid {
    fn bid(&self) -> Bid;
}

impl OneBid for PlacedBid {
    #[track_caller]
    fn bid(&self) -> Bid {
        assert_eq!(self.bids.len(), 1, "expected exactly one bid in {self:?}");
        self.bids[0].clone()
    }
}

/// Clean-up on shared tables: end the auction and finalize it so it leaves `list_active`/`due_auctions`.
async fn finish<S: AuctionStore>(store: &S, id: &AuctionId, now: Millis) {
    close(store, id, now, admin_end()).await;
    store.mark_finalized(id).await.expect("mark_finalized");
}

/// Place a bid, retrying while the backend throttles (a throttled request committed nothing).
async fn place_retrying<S: AuctionStore>(store: &S, req: &BidRequest) -> BidOutcome {
    let mut attempt = 0u32;
    loop {
        match store.place_bid(req).await {
            Err(StoreError::Throttled) if attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(attempt))).await;
            }
            other => return other.expect("place_bid"),
        }
    }
}

/// Shard partitions of the suite's viewer connections.
const SHARDS: u16 = 4;

fn connection(auction: &AuctionId, connected_at: Millis) -> Connection {
    connection_of(auction, &user("viewer"), connected_at)
}

fn connection_of(auction: &AuctionId, user: &UserId, connected_at: Millis) -> Connection {
    let connection_id = ConnectionId::parse(&format!("c{}=", ulid::Ulid::generate()))
        .expect("generated connection ids are valid");
    Connection {
        shard: domain::viewer_shard(&connection_id, SHARDS),
        connection_id,
        auction_id: auction.clone(),
        user_id: user.clone(),
        connected_at,
        expires_at: connected_at / 1000 + 7_200,
    }
}

fn sorted(mut conns: Vec<Connection>) -> Vec<Connection> {
    conns.sort_by(|a, b| a.connection_id.cmp(&b.connection_id));
    conns
}

fn bid_req_like(b: &Bid) -> BidRequest {
    BidRequest {
        auction_id: b.auction_id.clone(),
        bidder_id: b.bidder_id.clone(),
        bidder_name: b.bidder_name.clone(),
        kind: BidKind::Plain,
        amount: b.amount,
        now: b.placed_at,
        bid_id: b.bid_id.clone(),
        idempotency_key: b.idempotency_key.clone(),
    }
}

/// (bidder index, amount) for `n` bids, reproducible from `seed`.
fn random_bids(seed: u64, n: usize, bidders: usize) -> Vec<(usize, i64)> {
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| (rng.random_range(0..bidders), rng.random_range(100..=20_000)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// the cases, defined and registered by one macro
// ---------------------------------------------------------------------------------------------------------

/// Defines every case as `pub async fn case<S: Store>(store: S)` and the exported
/// [`store_conformance_tests!`] macro that runs each of them, from one list: a case cannot exist without
/// running. `$d` is a literal `$`, so the generated macro can have metavariables of its own.
macro_rules! conformance_cases {
    ($d:tt $( $(#[$meta:meta])* async fn $name:ident($store:ident) $body:block )+) => {
        $( $(#[$meta])* pub async fn $name<S: Store>($store: S) $body )+

        /// Expands to one `#[tokio::test]` per conformance case. `$make` is an expression evaluating to a
        /// future of a fresh store (evaluated once per case); invoke it inside a module to run the suite
        /// twice in one crate.
        #[macro_export]
        macro_rules! store_conformance_tests {
            ($d make:expr) => {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        $crate::store::conformance::$name($d make.await).await
                    }
                )+
            };
        }
    };
}

conformance_cases! { $

// ---------------------------------------------------------------------------------------------------------
// create / get
// ---------------------------------------------------------------------------------------------------------

async fn create_then_get_round_trips_every_field(store) {
    // GIVEN an auction with non-default values in every field
    let mut a = new_auction(12_345, 250, NOW, ENDS_AT + 17);
    a.title = "Lampe en laiton — «1920»".to_owned();
    a.seller_name = "Zoë O'Neil".to_owned();
    let d = AuctionDetails {
        description: "Line one\nLine two\twith a tab, ünïcödé, 🦀 and \"quotes\"".to_owned(),
    };

    // WHEN it is created and read back
    store.create_auction(&a, &d).await.expect("create_auction");
    let read = store.get_auction(&a.auction_id).await.expect("get_auction");

    // THEN every field is equal, and the details too
    assert_eq!(read, Some(a.clone()));
    assert_eq!(store.get_details(&a.auction_id).await.expect("details"), d);

    // AND after a bid, the auction (with its high bid, key included) and the bid round-trip too
    let bidder = user("bidder");
    let mut req = bid_req(&a, &bidder, 12_345, NOW + 5, Some("key-1"));
    req.bidder_name = "Ünïcode Bidder".to_owned();
    let placed = accepted(place(&store, &req).await);
    assert_eq!(placed.bid().bid_id, req.bid_id);
    assert_eq!(placed.bid().placed_at, NOW + 5);
    assert_eq!(placed.bid().idempotency_key, req.idempotency_key);
    assert_eq!(placed.auction.high_bid.as_ref(), Some(&placed.bid()));
    assert_state(&store, &placed.auction, std::slice::from_ref(&placed.bid())).await;
    // AND the bid left the details as they were
    assert_eq!(store.get_details(&a.auction_id).await.expect("details"), d);
}

async fn empty_details_and_unknown_auctions_read_as_empty_details(store) {
    // GIVEN an auction created without a description
    let a = new_auction(1_000, 100, NOW, ENDS_AT);
    store
        .create_auction(&a, &AuctionDetails::default())
        .await
        .expect("create_auction");

    // WHEN its details, and an unknown auction's, are read THEN both are empty (not an error)
    assert_eq!(
        store.get_details(&a.auction_id).await.expect("details"),
        AuctionDetails::default()
    );
    assert_eq!(
        store.get_details(&auction_id()).await.expect("details"),
        AuctionDetails::default()
    );
    finish(&store, &a.auction_id, NOW).await;
}

async fn create_duplicate_is_already_exists(store) {
    // GIVEN a stored auction
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;

    // WHEN another auction with the same id is created
    let mut other = new_auction(5_000, 500, NOW + 1, ENDS_AT + 1);
    other.auction_id = a.auction_id.clone();
    other.title = "Impostor".to_owned();
    let impostor = AuctionDetails {
        description: "Not the lamp".to_owned(),
    };
    let result = store.create_auction(&other, &impostor).await;

    // THEN it is refused as AlreadyExists and the original, details included, is untouched
    assert!(
        matches!(result, Err(StoreError::AlreadyExists)),
        "got {result:?}"
    );
    assert_state(&store, &a, &[]).await;
    assert_eq!(
        store.get_details(&a.auction_id).await.expect("details"),
        details()
    );
}

async fn get_unknown_is_none(store) {
    // GIVEN an id nobody created
    let id = auction_id();

    // WHEN it is read THEN there is nothing, and no bids
    assert_eq!(store.get_auction(&id).await.expect("get_auction"), None);
    assert_eq!(bids(&store, &id).await, vec![]);
}

// ---------------------------------------------------------------------------------------------------------
// bid rules
// ---------------------------------------------------------------------------------------------------------

async fn first_bid_at_starting_price_is_accepted(store) {
    // GIVEN an auction starting at 1000 with increment 100
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");

    // WHEN the first bid equals the starting price
    let placed = accepted(place(&store, &bid_req(&a, &bidder, 1_000, NOW + 1, None)).await);

    // THEN it is accepted as seq 1 and the auction moves to price 1000, minimum 1100
    assert_eq!(placed.bid().seq, 1);
    assert_eq!(placed.bid().amount, money(1_000));
    assert_eq!(placed.bid().bidder_id, bidder);
    assert_eq!(placed.auction.current_price, money(1_000));
    assert_eq!(placed.auction.minimum_bid, money(1_100));
    assert_eq!(placed.auction.bid_count, 1);
    assert_eq!(placed.auction.seq, 1);
    assert_eq!(
        placed.auction,
        domain::resolve_bid(&a, &bid_req_like(&placed.bid()))
            .expect("the same bid is allowed on the state before it")
            .auction
    );
    assert_state(&store, &placed.auction, std::slice::from_ref(&placed.bid())).await;
}


async fn first_bid_below_starting_price_is_too_low(store) {
    // GIVEN an auction starting at 1000
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;

    // WHEN the first bid is one cent below the starting price
    let outcome = place(&store, &bid_req(&a, &user("bidder"), 999, NOW + 1, None)).await;

    // THEN it is TooLow with the starting price as both price and minimum, and nothing changed
    assert_eq!(
        rejected(outcome),
        BidRejection::TooLow {
            current_price: money(1_000),
            minimum_bid: money(1_000)
        }
    );
    assert_state(&store, &a, &[]).await;
}

async fn next_bid_needs_current_price_plus_min_increment(store) {
    // GIVEN an auction at price 1000 after one bid, increment 100
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let first = accepted(place(&store, &bid_req(&a, &user("bidder"), 1_000, NOW + 1, None)).await);

    // WHEN the next bid is 1099 (one cent short)
    let outcome = place(&store, &bid_req(&a, &user("bidder"), 1_099, NOW + 2, None)).await;

    // THEN it is TooLow{1000, 1100} and nothing changed
    assert_eq!(
        rejected(outcome),
        BidRejection::TooLow {
            current_price: money(1_000),
            minimum_bid: money(1_100)
        }
    );
    assert_state(&store, &first.auction, std::slice::from_ref(&first.bid())).await;

    // WHEN the next bid is exactly 1100 THEN it is accepted as seq 2
    let second = accepted(place(&store, &bid_req(&a, &user("bidder"), 1_100, NOW + 3, None)).await);
    assert_eq!(second.bid().seq, 2);
    assert_eq!(second.auction.current_price, money(1_100));
    assert_eq!(second.auction.minimum_bid, money(1_200));
    assert_state(
        &store,
        &second.auction,
        &[second.bid().clone(), first.bid().clone()],
    )
    .await;

    // AND a bid equal to the current price is TooLow
    let outcome = place(&store, &bid_req(&a, &user("bidder"), 1_100, NOW + 4, None)).await;
    assert_eq!(
        rejected(outcome),
        BidRejection::TooLow {
            current_price: money(1_100),
            minimum_bid: money(1_200)
        }
    );
}

async fn unknown_auction_is_not_found_and_nothing_is_created(store) {
    // GIVEN an id nobody created
    let ghost = new_auction(1_000, 100, NOW, ENDS_AT);

    // WHEN it is bid on, closed (due and early) and finalized
    let outcome = place(
        &store,
        &bid_req(&ghost, &user("bidder"), 5_000, NOW + 1, Some("k")),
    )
    .await;
    let closed = close(&store, &ghost.auction_id, ENDS_AT, Closing::Due).await;
    let forced = close(&store, &ghost.auction_id, NOW + 1, admin_end()).await;
    store
        .mark_finalized(&ghost.auction_id)
        .await
        .expect("mark_finalized of an unknown auction is a no-op");

    // THEN the bid is AuctionNotFound, the closes NotFound, and no item or bid was created
    assert_eq!(rejected(outcome), BidRejection::AuctionNotFound);
    assert_eq!(closed, CloseOutcome::NotFound);
    assert_eq!(forced, CloseOutcome::NotFound);
    assert_eq!(
        store
            .get_auction(&ghost.auction_id)
            .await
            .expect("get_auction"),
        None
    );
    assert_eq!(bids(&store, &ghost.auction_id).await, vec![]);
}

async fn seller_cannot_bid_on_own_auction(store) {
    // GIVEN an auction
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;

    // WHEN its seller bids a valid amount
    let outcome = place(&store, &bid_req(&a, &a.seller_id, 5_000, NOW + 1, None)).await;

    // THEN it is OwnAuction and nothing changed
    assert_eq!(rejected(outcome), BidRejection::OwnAuction);
    assert_state(&store, &a, &[]).await;
}

async fn bid_at_or_after_ends_at_is_not_active(store) {
    // GIVEN an active auction ending at ENDS_AT
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");

    // WHEN a bid arrives one millisecond before the end THEN it is accepted
    let last = accepted(place(&store, &bid_req(&a, &bidder, 1_000, ENDS_AT - 1, None)).await);

    // WHEN bids arrive exactly at the end and after it (not yet closed)
    let at_end = place(&store, &bid_req(&a, &bidder, 2_000, ENDS_AT, None)).await;
    let after = place(&store, &bid_req(&a, &bidder, 2_000, ENDS_AT + 60_000, None)).await;

    // THEN both are NotActive, carrying the unchanged state, and nothing was written
    assert_not_active(at_end, &last.auction);
    assert_not_active(after, &last.auction);
    assert_eq!(last.auction.status, AuctionStatus::Active);
    assert_state(&store, &last.auction, std::slice::from_ref(&last.bid())).await;
}

async fn bid_on_closed_auction_is_not_active(store) {
    // GIVEN an auction ended early by its seller, well before ENDS_AT
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let CloseOutcome::Closed(closed) = close(&store, &a.auction_id, NOW + 10, admin_end()).await else {
        panic!("an early end of an active auction must close it")
    };

    // WHEN a valid bid arrives before ENDS_AT
    let outcome = place(&store, &bid_req(&a, &user("bidder"), 5_000, NOW + 20, None)).await;

    // THEN it is NotActive with the ended state, and nothing was written
    assert_not_active(outcome, &closed);
    assert_state(&store, &closed, &[]).await;
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

async fn refused_bids_change_nothing(store) {
    // GIVEN an auction with one keyed bid at 1000 (increment 100)
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");
    let first = accepted(place(&store, &bid_req(&a, &bidder, 1_000, NOW + 1, Some("key-a"))).await);
    let history = vec![first.bid().clone()];

    // WHEN every kind of refused bid is tried
    let refusals = [
        place(&store, &bid_req(&a, &user("bidder"), 1_050, NOW + 2, None)).await, // too low
        place(&store, &bid_req(&a, &a.seller_id, 9_000, NOW + 3, None)).await,    // own auction
        place(&store, &bid_req(&a, &user("bidder"), 9_000, ENDS_AT, None)).await, // at the end
        place(&store, &bid_req(&a, &bidder, 9_000, NOW + 4, Some("key-a"))).await, // key reused
    ];

    // THEN each is a rejection of the expected kind, and the auction and its history are unchanged
    assert!(
        matches!(
            refusals[0],
            BidOutcome::Rejected(BidRejection::TooLow { .. })
        ),
        "{:?}",
        refusals[0]
    );
    assert_eq!(refusals[1], BidOutcome::Rejected(BidRejection::OwnAuction));
    assert!(
        matches!(
            refusals[2],
            BidOutcome::Rejected(BidRejection::NotActive { .. })
        ),
        "{:?}",
        refusals[2]
    );
    assert_eq!(
        refusals[3],
        BidOutcome::Rejected(BidRejection::IdempotencyKeyReused)
    );
    assert_state(&store, &first.auction, &history).await;

    // AND after a close, a bid on the closed auction changes nothing either
    let CloseOutcome::Closed(closed) = close(&store, &a.auction_id, ENDS_AT, Closing::Due).await else {
        panic!("due auction must close")
    };
    let late = place(&store, &bid_req(&a, &user("bidder"), 9_000, NOW + 5, None)).await;
    assert_not_active(late, &closed);
    assert_state(&store, &closed, &history).await;
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

// ---------------------------------------------------------------------------------------------------------
// idempotency
// ---------------------------------------------------------------------------------------------------------

async fn same_key_and_amount_is_replayed(store) {
    // GIVEN an accepted bid with an Idempotency-Key
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");
    let original =
        accepted(place(&store, &bid_req(&a, &bidder, 1_000, NOW + 1, Some("key-1"))).await);

    // WHEN the same bidder retries with the same key and amount (a new request: new bid id, later time)
    let retry = place(&store, &bid_req(&a, &bidder, 1_000, NOW + 2, Some("key-1"))).await;

    // THEN it is Replayed with the identical bid (same bid id, seq) and state, and nothing was written
    assert_eq!(retry, BidOutcome::Replayed(original.receipt()));
    assert_eq!(get(&store, &a.auction_id).await.bid_count, 1);
    assert_state(
        &store,
        &original.auction,
        std::slice::from_ref(&original.bid()),
    )
    .await;
}

async fn replay_returns_the_original_result_after_later_bids_and_the_close(store) {
    // GIVEN a keyed bid at 1000, then a higher bid at 2000 by someone else
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let original = accepted(
        place(
            &store,
            &bid_req(&a, &alice, 1_000, NOW + 1, Some("retry-me")),
        )
        .await,
    );
    let outbid = accepted(place(&store, &bid_req(&a, &bob, 2_000, NOW + 2, None)).await);

    // WHEN alice's request is retried (it would now be too low as a new bid)
    let retry = place(
        &store,
        &bid_req(&a, &alice, 1_000, NOW + 3, Some("retry-me")),
    )
    .await;

    // THEN it is the original result: the state right after her bid, not the current one
    assert_eq!(retry, BidOutcome::Replayed(original.receipt()));
    assert_state(
        &store,
        &outbid.auction,
        &[outbid.bid().clone(), original.bid().clone()],
    )
    .await;

    // AND the same holds once the auction has ended
    let CloseOutcome::Closed(closed) = close(&store, &a.auction_id, ENDS_AT, Closing::Due).await else {
        panic!("due auction must close")
    };
    let retry = place(
        &store,
        &bid_req(&a, &alice, 1_000, ENDS_AT + 1, Some("retry-me")),
    )
    .await;
    assert_eq!(retry, BidOutcome::Replayed(original.receipt()));
    assert_state(&store, &closed, &[outbid.bid().clone(), original.bid().clone()]).await;
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

async fn racing_retries_with_one_key_commit_once(store) {
    // GIVEN an auction and one bidder's request, sent 8 times at once with the same key (a client retrying
    // while its first attempt is still in flight): each attempt is a new request with its own bid id
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");
    let attempts: Vec<BidRequest> = (0..8)
        .map(|i| bid_req(&a, &bidder, 1_500, NOW + 1 + i, Some("racing-key")))
        .collect();

    // WHEN they all race
    let mut tasks = Vec::new();
    for req in attempts {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { place_retrying(&store, &req).await }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }

    // THEN exactly one is Accepted and every other one is a replay of it: one bid, one history item
    let winners: Vec<PlacedBid> = outcomes
        .iter()
        .filter_map(|o| match o {
            BidOutcome::Accepted(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let receipt = winners[0].receipt();
    for o in &outcomes {
        match o {
            BidOutcome::Accepted(_) => {}
            BidOutcome::Replayed(r) => assert_eq!(*r, receipt),
            other => panic!("expected a replay, got {other:?}"),
        }
    }
    assert_state(&store, &winners[0].auction, std::slice::from_ref(&winners[0].bid())).await;
}

async fn same_key_different_amount_is_key_reused(store) {
    // GIVEN an accepted keyed bid at 1000
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");
    let original =
        accepted(place(&store, &bid_req(&a, &bidder, 1_000, NOW + 1, Some("key-1"))).await);

    // WHEN the same bidder sends the same key with a different (otherwise valid) amount
    let outcome = place(&store, &bid_req(&a, &bidder, 1_500, NOW + 2, Some("key-1"))).await;

    // THEN it is IdempotencyKeyReused and nothing was written
    assert_eq!(rejected(outcome), BidRejection::IdempotencyKeyReused);
    assert_state(
        &store,
        &original.auction,
        std::slice::from_ref(&original.bid()),
    )
    .await;

    // AND the original request still replays
    let retry = place(&store, &bid_req(&a, &bidder, 1_000, NOW + 3, Some("key-1"))).await;
    assert_eq!(retry, BidOutcome::Replayed(original.receipt()));
}

async fn idempotency_key_is_scoped_to_the_bidder(store) {
    // GIVEN alice's accepted bid with key "shared-key"
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let (alice, bob) = (user("alice"), user("bob"));
    let hers = accepted(
        place(
            &store,
            &bid_req(&a, &alice, 1_000, NOW + 1, Some("shared-key")),
        )
        .await,
    );

    // WHEN bob uses the same key for his own bid
    let his = accepted(
        place(
            &store,
            &bid_req(&a, &bob, 1_100, NOW + 2, Some("shared-key")),
        )
        .await,
    );

    // THEN his bid is a new, accepted bid (seq 2), and each key still replays its own bidder's result
    assert_eq!(his.bid().seq, 2);
    assert_eq!(his.bid().bidder_id, bob);
    assert_eq!(
        place(
            &store,
            &bid_req(&a, &alice, 1_000, NOW + 3, Some("shared-key"))
        )
        .await,
        BidOutcome::Replayed(hers.receipt())
    );
    assert_eq!(
        place(
            &store,
            &bid_req(&a, &bob, 1_100, NOW + 3, Some("shared-key"))
        )
        .await,
        BidOutcome::Replayed(his.receipt())
    );
    assert_state(&store, &his.auction, &[his.bid().clone(), hers.bid().clone()]).await;

    // AND a bid without a key is never deduplicated
    let plain = accepted(place(&store, &bid_req(&a, &alice, 1_200, NOW + 4, None)).await);
    assert_eq!(plain.bid().seq, 3);
}

// ---------------------------------------------------------------------------------------------------------
// ordering
// ---------------------------------------------------------------------------------------------------------

async fn bids_get_consecutive_seqs_and_recent_bids_is_newest_first(store) {
    // GIVEN an auction (start 1000, increment 100) and two bidders
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidders = [user("alice"), user("bob")];

    // WHEN five increasing bids are placed, alternating bidders
    let mut placed = Vec::new();
    for (i, amount) in [1_000, 1_100, 1_250, 1_400, 2_000].into_iter().enumerate() {
        let req = bid_req(
            &a,
            &bidders[i % 2],
            amount,
            NOW + 10 * (i as Millis + 1),
            None,
        );
        placed.push(accepted(place(&store, &req).await));
    }

    // THEN seqs are 1..=5 and each result is the state right after that bid
    for (i, p) in placed.iter().enumerate() {
        assert_eq!(p.bid().seq, i as u64 + 1);
        assert_eq!(p.auction.seq, p.bid().seq);
        assert_eq!(p.auction.bid_count, i as u64 + 1);
        assert_eq!(p.auction.current_price, p.bid().amount);
        assert_eq!(p.auction.high_bid.as_ref(), Some(&p.bid()));
    }
    // AND recent_bids is newest first, honours its limit, and the high bid is the last accepted one
    let newest_first: Vec<Bid> = placed.iter().rev().map(|p| p.bid().clone()).collect();
    assert_eq!(bids(&store, &a.auction_id).await, newest_first);
    assert_eq!(
        store
            .recent_bids(&a.auction_id, 2)
            .await
            .expect("recent_bids"),
        newest_first[..2].to_vec()
    );
    let now = get(&store, &a.auction_id).await;
    assert_eq!(now.high_bid.as_ref(), Some(&newest_first[0]));
    assert_eq!(
        (now.current_price, now.minimum_bid, now.bid_count),
        (money(2_000), money(2_100), 5)
    );
}

// ---------------------------------------------------------------------------------------------------------
// close
// ---------------------------------------------------------------------------------------------------------

async fn concurrent_closes_close_exactly_once(store) {
    // GIVEN a due auction with bids by two bidders, the highest 1500 by bob
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let (alice, bob) = (user("alice"), user("bob"));
    accepted(place(&store, &bid_req(&a, &alice, 1_000, NOW + 1, None)).await);
    let winning = accepted(place(&store, &bid_req(&a, &bob, 1_500, NOW + 2, None)).await);

    // WHEN eight closers race at exactly ENDS_AT
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let id = a.auction_id.clone();
            tokio::spawn(async move { store.close_auction(&id, ENDS_AT, &Closing::Due).await })
        })
        .collect();
    let mut closed = Vec::new();
    let mut already = Vec::new();
    for t in tasks {
        match t.await.expect("closer task").expect("close_auction") {
            CloseOutcome::Closed(x) => closed.push(x),
            CloseOutcome::AlreadyEnded(x) => already.push(x),
            other => panic!("unexpected close outcome {other:?}"),
        }
    }

    // THEN exactly one closed it; the others saw it already ended
    assert_eq!(closed.len(), 1, "exactly one Closed");
    assert_eq!(already.len(), 7);
    let ended = &closed[0];
    assert_eq!(*ended, domain::apply_close(&winning.auction, ENDS_AT, &Closing::Due));
    assert_eq!(ended.status, AuctionStatus::Ended);
    assert_eq!(ended.ended_at, Some(ENDS_AT));
    assert_eq!(ended.seq, 3, "the close bumps seq once");
    assert!(!ended.finalized);
    for x in &already {
        assert_eq!(x, ended, "AlreadyEnded carries the ended state");
    }
    // AND the winner is the highest bid
    assert_eq!(ended.high_bid.as_ref(), Some(&winning.bid()));
    assert_eq!(ended.ended_event().winner_id, Some(domain::public_id(&bob)));
    assert_eq!(ended.ended_event().final_price, Some(1_500));
    assert_eq!(get(&store, &a.auction_id).await, *ended);

    // AND a later close (even an early end) is AlreadyEnded and changes nothing
    assert_eq!(
        close(&store, &a.auction_id, ENDS_AT + 5, admin_end()).await,
        CloseOutcome::AlreadyEnded(ended.clone())
    );
    assert_eq!(get(&store, &a.auction_id).await, *ended);
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

async fn close_without_bids_has_no_winner(store) {
    // GIVEN a due auction nobody bid on
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;

    // WHEN it is closed after ENDS_AT
    let outcome = close(&store, &a.auction_id, ENDS_AT + 1_000, Closing::Due).await;

    // THEN it is Closed with no high bid: winner, name and price are all null
    let CloseOutcome::Closed(ended) = outcome else {
        panic!("expected Closed, got {outcome:?}")
    };
    assert_eq!(ended.high_bid, None);
    assert_eq!(ended.bid_count, 0);
    assert_eq!(ended.current_price, money(1_000));
    assert_eq!(ended.ended_at, Some(ENDS_AT + 1_000));
    assert_eq!(
        ended.ended_event(),
        domain::AuctionEndedEvent {
            winner_id: None,
            winner_name: None,
            final_price: None
        }
    );
    assert_state(&store, &ended, &[]).await;
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

async fn close_before_ends_at_needs_an_early_end(store) {
    // GIVEN an active auction with one bid, not yet due
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let placed = accepted(place(&store, &bid_req(&a, &user("bidder"), 1_000, NOW + 1, None)).await);

    // WHEN it is closed as due one millisecond before ENDS_AT
    let outcome = close(&store, &a.auction_id, ENDS_AT - 1, Closing::Due).await;

    // THEN it is NotDue with the unchanged state, and still active
    assert_eq!(outcome, CloseOutcome::NotDue(placed.auction.clone()));
    assert_state(&store, &placed.auction, std::slice::from_ref(&placed.bid())).await;

    // WHEN it is ended early THEN it ends now, keeping its endsAt and winner
    let outcome = close(&store, &a.auction_id, NOW + 100, admin_end()).await;
    let CloseOutcome::Closed(ended) = outcome else {
        panic!("expected Closed, got {outcome:?}")
    };
    assert_eq!(ended, domain::apply_close(&placed.auction, NOW + 100, &admin_end()));
    assert_eq!(
        (ended.status, ended.ended_at, ended.ends_at),
        (AuctionStatus::Ended, Some(NOW + 100), ENDS_AT)
    );
    assert_eq!(ended.high_bid.as_ref(), Some(&placed.bid()));
    assert_state(&store, &ended, std::slice::from_ref(&placed.bid())).await;

    // AND a due close before ENDS_AT now says AlreadyEnded, not NotDue
    assert_eq!(
        close(&store, &a.auction_id, NOW + 200, Closing::Due).await,
        CloseOutcome::AlreadyEnded(ended)
    );
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
}

async fn due_auctions_lists_until_finalized(store) {
    // GIVEN, in a time window no other case uses, auctions ending at E-500 (early), E (due) and E+1000 (later)
    let e: Millis = NOW - 10 * HOUR;
    let created = e - HOUR;
    let early = given_auction(&store, 1_000, 100, created, e - 500).await;
    let due = given_auction(&store, 1_000, 100, created, e).await;
    let later = given_auction(&store, 1_000, 100, created, e + 1_000).await;
    let ours = |ids: Vec<AuctionId>| -> Vec<AuctionId> {
        ids.into_iter()
            .filter(|id| [&early, &due, &later].iter().any(|a| a.auction_id == *id))
            .collect()
    };
    let due_at = |now: Millis| {
        let store = store.clone();
        async move { store.due_auctions(now, 1_000).await.expect("due_auctions") }
    };

    // WHEN the closer asks just before E THEN only the early one is due
    assert_eq!(ours(due_at(e - 1).await), vec![early.auction_id.clone()]);

    // WHEN it asks at E THEN both due ones are listed, soonest first, the later one not
    let listed = due_at(e).await;
    assert_eq!(
        ours(listed.clone()),
        vec![early.auction_id.clone(), due.auction_id.clone()]
    );
    assert!(listed.len() <= 1_000);

    // AND mark_finalized on an auction that has not ended yet changes nothing
    store
        .mark_finalized(&due.auction_id)
        .await
        .expect("mark_finalized");
    assert_eq!(get(&store, &due.auction_id).await, due);

    // WHEN it is closed THEN it stays due (ended, not finalized) until finalized
    let CloseOutcome::Closed(ended) = close(&store, &due.auction_id, e, Closing::Due).await else {
        panic!("due auction must close")
    };
    assert!(ours(due_at(e).await).contains(&due.auction_id));
    assert!(ours(due_at(e + 1).await).contains(&due.auction_id));

    // WHEN it is finalized THEN it leaves due_auctions for good, and finalized is stored
    store
        .mark_finalized(&due.auction_id)
        .await
        .expect("mark_finalized");
    assert_eq!(ours(due_at(e).await), vec![early.auction_id.clone()]);
    assert_eq!(
        ours(due_at(e + 2_000).await),
        vec![early.auction_id.clone(), later.auction_id.clone()]
    );
    let finalized = get(&store, &due.auction_id).await;
    assert_eq!(
        finalized,
        Auction {
            finalized: true,
            ..ended
        }
    );

    // AND finalizing twice is harmless
    store
        .mark_finalized(&due.auction_id)
        .await
        .expect("mark_finalized twice");
    assert_eq!(get(&store, &due.auction_id).await, finalized);

    // clean-up: the other two leave the index too
    finish(&store, &early.auction_id, e).await;
    finish(&store, &later.auction_id, e).await;
    assert_eq!(ours(due_at(e + 2_000).await), vec![]);
}

async fn list_active_is_soonest_first_and_omits_ended(store) {
    // GIVEN, in a window far after the other cases' auctions, two active auctions and one ended early
    let l: Millis = NOW + 100 * HOUR;
    let second = given_auction(&store, 1_000, 100, NOW, l + 1_000).await;
    let first = given_auction(&store, 1_000, 100, NOW, l).await;
    let ended = given_auction(&store, 1_000, 100, NOW, l + 500).await;
    let CloseOutcome::Closed(_) = close(&store, &ended.auction_id, NOW + 1, admin_end()).await else {
        panic!("an early end must close")
    };
    let ids = [&first, &second, &ended].map(|a| a.auction_id.clone());
    let ours = |list: &[Auction]| -> Vec<AuctionId> {
        list.iter()
            .map(|a| a.auction_id.clone())
            .filter(|id| ids.contains(id))
            .collect()
    };

    // WHEN active auctions are listed just before L
    let listed = store.list_active(l - 1, 1_000).await.expect("list_active");

    // THEN both active ones are there, soonest first, with their full state; the ended one is absent
    assert_eq!(
        ours(&listed),
        vec![first.auction_id.clone(), second.auction_id.clone()]
    );
    assert!(listed.contains(&first) && listed.contains(&second));
    assert!(listed
        .iter()
        .all(|a| a.status == AuctionStatus::Active && a.ends_at > l - 1));
    assert!(
        listed.windows(2).all(|w| w[0].ends_at <= w[1].ends_at),
        "sorted by endsAt"
    );

    // AND at L the first one (ends_at == now) is no longer listed
    let listed = store.list_active(l, 1_000).await.expect("list_active");
    assert_eq!(ours(&listed), vec![second.auction_id.clone()]);

    // AND the limit is honoured
    assert!(
        store
            .list_active(l - 1, 1)
            .await
            .expect("list_active")
            .len()
            <= 1
    );
    assert_eq!(
        store.list_active(l - 1, 0).await.expect("list_active"),
        vec![]
    );

    // clean-up
    store
        .mark_finalized(&ended.auction_id)
        .await
        .expect("mark_finalized");
    finish(&store, &first.auction_id, NOW + 2).await;
    finish(&store, &second.auction_id, NOW + 2).await;
    assert_eq!(
        ours(&store.list_active(l - 1, 1_000).await.expect("list_active")),
        vec![]
    );
}

// ---------------------------------------------------------------------------------------------------------
// connections
// ---------------------------------------------------------------------------------------------------------

async fn connections_round_trip(store) {
    // GIVEN two connections to auction A and one to auction B
    let (a, b) = (auction_id(), auction_id());
    let (c1, c2, c3) = (
        connection(&a, NOW),
        connection(&a, NOW + 1),
        connection(&b, NOW + 2),
    );
    for c in [&c1, &c2, &c3] {
        store.add_connection(c, 3).await.expect("add_connection");
    }

    // WHEN they are read back THEN every field round-trips (expires_at, the TTL, included)
    assert_eq!(
        store.get_connection(&c1.connection_id).await.expect("get"),
        Some(c1.clone())
    );
    assert_eq!(c1.expires_at, NOW / 1000 + 7_200);
    // AND each auction lists exactly its own connections
    let of_a = store
        .connections_for_auction(&a, SHARDS)
        .await
        .expect("connections_for_auction");
    assert_eq!(sorted(of_a), sorted(vec![c1.clone(), c2.clone()]));
    let of_b = store
        .connections_for_auction(&b, SHARDS)
        .await
        .expect("connections_for_auction");
    assert_eq!(of_b, vec![c3.clone()]);

    // WHEN c1 is added again with a refreshed TTL THEN it is replaced, not duplicated
    let c1b = Connection {
        expires_at: c1.expires_at + 60,
        ..c1.clone()
    };
    store
        .add_connection(&c1b, 3)
        .await
        .expect("add_connection again");
    assert_eq!(
        store.get_connection(&c1.connection_id).await.expect("get"),
        Some(c1b.clone())
    );
    let of_a = store
        .connections_for_auction(&a, SHARDS)
        .await
        .expect("connections_for_auction");
    assert_eq!(sorted(of_a), sorted(vec![c1b.clone(), c2.clone()]));

    // WHEN c1 is removed THEN the removal returns it, and it is gone from get and the list
    assert_eq!(
        store
            .remove_connection(&c1.connection_id)
            .await
            .expect("remove"),
        Some(c1b)
    );
    assert_eq!(
        store.get_connection(&c1.connection_id).await.expect("get"),
        None
    );
    assert_eq!(
        store.connections_for_auction(&a, SHARDS).await.expect("list"),
        vec![c2.clone()]
    );

    // AND removing it again is Ok(None)
    assert_eq!(
        store
            .remove_connection(&c1.connection_id)
            .await
            .expect("remove twice"),
        None
    );

    // AND unknown ids are None / empty
    let unknown = connection(&auction_id(), NOW);
    assert_eq!(
        store
            .get_connection(&unknown.connection_id)
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .connections_for_auction(&unknown.auction_id, SHARDS)
            .await
            .expect("list"),
        vec![]
    );

    // clean-up
    assert_eq!(
        store
            .remove_connection(&c2.connection_id)
            .await
            .expect("remove"),
        Some(c2)
    );
    assert_eq!(
        store
            .remove_connection(&c3.connection_id)
            .await
            .expect("remove"),
        Some(c3)
    );
    assert_eq!(
        store.connections_for_auction(&b, SHARDS).await.expect("list"),
        vec![]
    );
}

async fn connections_live_in_their_shards(store) {
    // GIVEN twelve viewers of one auction, spread over its shards
    let a = auction_id();
    let viewers: Vec<Connection> = (0..12).map(|i| connection(&a, NOW + i)).collect();
    for c in &viewers {
        assert_eq!(store.add_connection(c, 3).await.expect("add"), Admission::Added);
    }
    // WHEN each shard is listed THEN it holds exactly the viewers hashed to it, and together they are all
    let mut seen = Vec::new();
    for shard in 0..SHARDS {
        let of_shard = store
            .connections_in_shards(&a, &[shard])
            .await
            .expect("shard");
        assert!(of_shard.iter().all(|c| c.shard == shard), "shard {shard}");
        seen.extend(of_shard);
    }
    assert_eq!(sorted(seen), sorted(viewers.clone()));
    let two = store.connections_in_shards(&a, &[0, 2]).await.expect("shards");
    assert_eq!(
        sorted(two),
        sorted(viewers.iter().filter(|c| c.shard == 0 || c.shard == 2).cloned().collect())
    );
    for c in &viewers {
        store.remove_connection(&c.connection_id).await.expect("remove");
    }
    assert!(store.connections_for_auction(&a, SHARDS).await.expect("list").is_empty());
}

async fn a_users_connections_to_one_auction_are_limited(store) {
    // GIVEN a user with three connections to auction A (the limit is 3)
    let (a, b) = (auction_id(), auction_id());
    let ada = user("ada");
    let three: Vec<Connection> = (0..3).map(|i| connection_of(&a, &ada, NOW + i)).collect();
    for c in &three {
        assert_eq!(store.add_connection(c, 3).await.expect("add"), Admission::Added);
    }
    // WHEN a fourth is added THEN nothing is written and the other three are named
    let fourth = connection_of(&a, &ada, NOW + 10);
    let Admission::UserLimit { others } = store.add_connection(&fourth, 3).await.expect("add") else {
        panic!("the fourth connection must be refused")
    };
    let mut others: Vec<String> = others.iter().map(|c| c.to_string()).collect();
    others.sort();
    let mut expected: Vec<String> = three.iter().map(|c| c.connection_id.to_string()).collect();
    expected.sort();
    assert_eq!(others, expected);
    assert_eq!(store.get_connection(&fourth.connection_id).await.expect("get"), None);
    // AND the limit is per user and per auction
    assert_eq!(
        store.add_connection(&connection_of(&b, &ada, NOW), 3).await.expect("add"),
        Admission::Added,
        "another auction"
    );
    assert_eq!(
        store.add_connection(&connection(&a, NOW), 3).await.expect("add"),
        Admission::Added,
        "another user"
    );
    // WHEN one of the three goes THEN the fourth fits
    store.remove_connection(&three[0].connection_id).await.expect("remove");
    assert_eq!(store.add_connection(&fourth, 3).await.expect("add"), Admission::Added);
    assert_eq!(store.connections_for_auction(&a, SHARDS).await.expect("list").len(), 4);
}

async fn sync_is_answered_once_a_second_with_one_notice_a_second(store) {
    // GIVEN a connection
    let c = connection(&auction_id(), NOW);
    store.add_connection(&c, 3).await.expect("add");
    let id = &c.connection_id;
    // WHEN it syncs repeatedly THEN: answer, one notice, silence, and again once a second has passed
    let store_ref = &store;
    let at = |t: Millis| async move { store_ref.record_sync(id, t).await.expect("sync") };
    assert_eq!(at(NOW).await, SyncVerdict::Answer);
    assert_eq!(at(NOW + 100).await, SyncVerdict::Notice);
    assert_eq!(at(NOW + 200).await, SyncVerdict::Drop);
    assert_eq!(at(NOW + 999).await, SyncVerdict::Drop);
    assert_eq!(at(NOW + 1_000).await, SyncVerdict::Answer);
    assert_eq!(at(NOW + 1_050).await, SyncVerdict::Drop, "one notice per second");
    assert_eq!(at(NOW + 1_100).await, SyncVerdict::Notice);
    // AND an unknown connection is never answered
    let unknown = connection(&auction_id(), NOW);
    assert_eq!(
        store.record_sync(&unknown.connection_id, NOW).await.expect("sync"),
        SyncVerdict::Drop
    );
    store.remove_connection(id).await.expect("remove");
}

async fn strikes_count_refused_messages(store) {
    let c = connection(&auction_id(), NOW);
    store.add_connection(&c, 3).await.expect("add");
    for n in 1..=4 {
        assert_eq!(store.record_strike(&c.connection_id).await.expect("strike"), n);
    }
    store.remove_connection(&c.connection_id).await.expect("remove");
    assert_eq!(
        store.record_strike(&c.connection_id).await.expect("strike"),
        u32::MAX,
        "a connection that is gone has struck out"
    );
}

async fn bids_between_is_the_range_ascending(store) {
    // GIVEN an auction with five bids
    let a = given_auction(&store, 100, 100, NOW, ENDS_AT).await;
    let bidders = [user("bidder"), user("rival")];
    let mut placed = Vec::new();
    for i in 0..5 {
        let bidder = &bidders[i as usize % 2];
        placed.push(accepted(place(&store, &bid_req(&a, bidder, 100 + 100 * i, NOW + 1 + i, None)).await).bid());
    }
    // WHEN ranges are asked for THEN exactly the bids with those seqs come back, oldest first
    let range = |from, to| {
        let store = store.clone();
        let id = a.auction_id.clone();
        async move { store.bids_between(&id, from, to).await.expect("bids_between") }
    };
    assert_eq!(range(2, 4).await, placed[1..4].to_vec());
    assert_eq!(range(1, 5).await, placed);
    assert_eq!(range(5, 9).await, placed[4..].to_vec(), "past the last seq");
    assert!(range(6, 9).await.is_empty());
    assert!(range(4, 3).await.is_empty());
    finish(&store, &a.auction_id, NOW + 10).await;
}

async fn mark_published_is_monotonic_and_leaves_the_bid_state_alone(store) {
    // GIVEN an auction with a bid
    let a = given_auction(&store, 100, 100, NOW, ENDS_AT).await;
    let placed = accepted(place(&store, &bid_req(&a, &user("bidder"), 100, NOW + 1, None)).await);
    // WHEN its publication is recorded THEN it reads back, and nothing else changed
    let p1 = Publication { seq: 1, at: NOW + 2, audience: 7, status_at: 0 };
    store.mark_published(&a.auction_id, p1).await.expect("mark");
    let after = get(&store, &a.auction_id).await;
    assert_eq!(after.publication, p1);
    assert_eq!(Auction { publication: Publication::default(), ..after.clone() }, placed.auction);
    assert!(!after.needs_publishing());
    // WHEN an older publication arrives late THEN it changes nothing
    let stale = Publication { seq: 0, at: NOW + 3, audience: 1, status_at: 0 };
    store.mark_published(&a.auction_id, stale).await.expect("mark");
    assert_eq!(get(&store, &a.auction_id).await.publication, p1);
    // AND a later bid is not delivered until it is published
    accepted(place(&store, &bid_req(&a, &user("other"), 200, NOW + 4, None)).await);
    let pending = get(&store, &a.auction_id).await;
    assert!(pending.needs_publishing());
    assert_eq!(pending.publication, p1, "a bid never touches the publication");
    // AND an unknown auction is a no-op
    store.mark_published(&auction_id(), p1).await.expect("mark unknown");
    finish(&store, &a.auction_id, NOW + 10).await;
}

// ---------------------------------------------------------------------------------------------------------
// concurrency
// ---------------------------------------------------------------------------------------------------------


async fn identical_concurrent_bids_accept_exactly_one(store) {
    // GIVEN an auction starting at 1,000
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    // WHEN 100 bidders bid the starting price at once
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let store = store.clone();
            let req = bid_req(&a, &user("bidder"), 1_000, NOW + 1 + i, None);
            tokio::spawn(async move { place_retrying(&store, &req).await })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.expect("bidder task") {
            BidOutcome::Accepted(_) => accepted += 1,
            BidOutcome::Rejected(BidRejection::TooLow { .. }) => {}
            other => panic!("only Accepted or TooLow are possible here, got {other:?}"),
        }
    }
    // THEN exactly one is accepted, and the auction says so
    assert_eq!(accepted, 1, "identical concurrent bids: exactly one accepted");
    let state = get(&store, &a.auction_id).await;
    assert_eq!((state.bid_count, state.seq, state.current_price), (1, 1, money(1_000)));
}

async fn concurrent_bids_keep_the_invariants(store) {
    // GIVEN an auction starting at 100 with increment 1, five bidders and 200 random amounts in 100..=20000
    let a = given_auction(&store, 100, 1, NOW, ENDS_AT).await;
    let bidders: Vec<UserId> = (0..5).map(|_| user("bidder")).collect();
    let seed: u64 = rand::random();
    let plan = random_bids(seed, 200, bidders.len());
    let ctx = format!("seed {seed}");

    // WHEN all 200 are placed at once, from spawned tasks on clones of the store
    let tasks: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, &(b, amount))| {
            let store = store.clone();
            let req = bid_req(&a, &bidders[b], amount, NOW + 1 + i as Millis, None);
            tokio::spawn(async move {
                let outcome = place_retrying(&store, &req).await;
                (req, outcome)
            })
        })
        .collect();
    let mut accepted_bids = Vec::new();
    let mut leading_refused = Vec::new();
    for t in tasks {
        let (req, outcome) = t.await.expect("bidder task");
        match outcome {
            BidOutcome::Accepted(p) => {
                // each result is the state right after that bid
                assert_eq!(p.bid().bid_id, req.bid_id, "{ctx}");
                assert_eq!(
                    (p.auction.seq, p.auction.current_price),
                    (p.bid().seq, req.amount),
                    "{ctx}"
                );
                accepted_bids.push(p.bid());
            }
            BidOutcome::Rejected(BidRejection::TooLow {
                current_price,
                minimum_bid,
            }) => {
                assert!(
                    req.amount < minimum_bid,
                    "{ctx}: refused {} though minimum was {minimum_bid}",
                    req.amount
                );
                assert!(current_price >= req.amount, "{ctx}");
            }
            // Its bidder led when it was judged (a leader may not outbid themselves).
            BidOutcome::Rejected(BidRejection::AlreadyLeading) => leading_refused.push(req.amount),
            other => panic!(
                "{ctx}: only Accepted, TooLow or AlreadyLeading are possible here, got {other:?}"
            ),
        }
    }

    // THEN accepted bids have seqs 1..=n without gaps, and amounts strictly increase with seq
    accepted_bids.sort_by_key(|b| b.seq);
    let n = accepted_bids.len();
    assert!(n >= 1, "{ctx}: at least the first bid is accepted");
    let seqs: Vec<u64> = accepted_bids.iter().map(|b| b.seq).collect();
    assert_eq!(
        seqs,
        (1..=n as u64).collect::<Vec<_>>(),
        "{ctx}: seqs without gaps"
    );
    assert!(
        accepted_bids.windows(2).all(|w| w[0].amount < w[1].amount),
        "{ctx}: amounts strictly increase"
    );
    // AND exactly one accepted bid per price level
    let levels: HashSet<Money> = accepted_bids.iter().map(|b| b.amount).collect();
    assert_eq!(levels.len(), n, "{ctx}: one accepted bid per amount");
    // AND the highest amount sent was accepted, and the auction agrees with the history
    let max_sent = plan
        .iter()
        .map(|&(_, amount)| amount)
        .max()
        .unwrap_or_default();
    let last = accepted_bids.last().cloned();
    let state = get(&store, &a.auction_id).await;
    // (unless its bidder already led when it was judged: then the price is the highest accepted bid)
    let max_final = if leading_refused.contains(&money(max_sent)) {
        last.as_ref().map_or(100, |b| b.amount.cents())
    } else {
        max_sent
    };
    assert_eq!(
        state.current_price,
        money(max_final),
        "{ctx}: final price is the highest bid sent"
    );
    assert_eq!(state.minimum_bid, money(max_final + 1), "{ctx}");
    assert_eq!((state.bid_count, state.seq), (n as u64, n as u64), "{ctx}");
    assert_eq!(
        state.high_bid, last,
        "{ctx}: the high bid is the last accepted one"
    );
    // AND recent_bids is exactly the accepted set, newest first
    let newest_first: Vec<Bid> = accepted_bids.iter().rev().cloned().collect();
    assert_eq!(bids(&store, &a.auction_id).await, newest_first, "{ctx}");

    // WHEN the clock passes ends_at and 50 more (higher) bids race in
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let req = bid_req(
                &a,
                &bidders[i % bidders.len()],
                max_sent + 1 + i as i64,
                ENDS_AT + i as Millis,
                None,
            );
            tokio::spawn(async move { place_retrying(&store, &req).await })
        })
        .collect();

    // THEN none is accepted and nothing changed
    for t in tasks {
        assert_not_active(t.await.expect("bidder task"), &state);
    }
    assert_state(&store, &state, &newest_first).await;
}


// ---------------------------------------------------------------------------------------------------------
// live-auction rules (issue 10): soft close, ladder, maxima, reserve, scheduled start, already leading
// ---------------------------------------------------------------------------------------------------------

async fn a_bid_in_the_soft_close_moves_the_end_in_the_same_write(store) {
    // GIVEN an auction with a 10 s soft close, ending at ENDS_AT
    let a = given_rules(&store, |a| a.soft_close_ms = 10_000).await;
    let (ada, bob) = (user("ada"), user("bob"));
    // WHEN a bid lands 3 s before the end
    let first = accepted(place(&store, &bid_req(&a, &ada, 1_000, ENDS_AT - 3_000, None)).await);
    // THEN the write moved the end to 10 s after the bid, and the stored item says so
    assert_eq!(first.auction.ends_at, ENDS_AT + 7_000);
    assert_eq!(get(&store, &a.auction_id).await.ends_at, ENDS_AT + 7_000);
    // AND the auction is not due at its old end (the due index moved with it)
    assert!(!store.due_auctions(ENDS_AT + 1, 100).await.expect("due").contains(&a.auction_id));
    assert!(matches!(close(&store, &a.auction_id, ENDS_AT + 1, Closing::Due).await, CloseOutcome::NotDue(_)));
    // AND a bid after the old end but before the new one is accepted (and extends again)
    let second = accepted(place(&store, &bid_req(&a, &bob, 1_100, ENDS_AT + 5_000, None)).await);
    assert_eq!(second.auction.ends_at, ENDS_AT + 15_000);
    // AND a bid early in the window does not move it
    let a2 = given_rules(&store, |a| a.soft_close_ms = 10_000).await;
    let early = accepted(place(&store, &bid_req(&a2, &ada, 1_000, ENDS_AT - 20_000, None)).await);
    assert_eq!(early.auction.ends_at, ENDS_AT);
    finish(&store, &a2.auction_id, ENDS_AT).await;
    // AND at the effective end nothing more is accepted, and the close follows the moved end
    let state = get(&store, &a.auction_id).await;
    assert_not_active(place(&store, &bid_req(&a, &ada, 5_000, ENDS_AT + 15_000, None)).await, &state);
    assert!(matches!(close(&store, &a.auction_id, ENDS_AT + 15_000, Closing::Due).await, CloseOutcome::Closed(_)));
    store.mark_finalized(&a.auction_id).await.expect("mark_finalized");
}

async fn sudden_death_never_moves_the_end(store) {
    let a = given_rules(&store, |a| a.soft_close_ms = 0).await;
    let placed = accepted(place(&store, &bid_req(&a, &user("ada"), 1_000, ENDS_AT - 1, None)).await);
    assert_eq!(placed.auction.ends_at, ENDS_AT);
    let state = get(&store, &a.auction_id).await;
    assert_not_active(place(&store, &bid_req(&a, &user("bob"), 2_000, ENDS_AT, None)).await, &state);
    finish(&store, &a.auction_id, ENDS_AT).await;
}

async fn the_minimum_bid_follows_the_ladder_at_every_boundary(store) {
    // GIVEN the default ladder and a start of 29.00
    let a = given_rules(&store, |a| {
        a.increments = domain::Ladder::standard();
        a.starting_price = money(2_900);
        a.current_price = money(2_900);
        a.minimum_bid = money(2_900);
    })
    .await;
    let bidders = [user("ada"), user("bob")];
    // (bid, the minimum after it): across every rung, just below and at or past each rung's price
    let steps = [
        (2_900, 3_000),
        (3_000, 3_200),
        (4_999, 5_199),
        (5_199, 5_499),
        (9_999, 10_299),
        (10_299, 10_799),
        (29_999, 30_499),
        (30_499, 31_499),
        (99_999, 100_999),
        (100_999, 102_999),
        (199_999, 201_999),
        (201_999, 206_999),
    ];
    for (i, (amount, minimum)) in steps.into_iter().enumerate() {
        let bidder = &bidders[i % 2];
        // One cent under the minimum is refused, with the minimum the ladder says
        let before = get(&store, &a.auction_id).await;
        if amount > before.minimum_bid.cents() {
            match rejected(place(&store, &bid_req(&a, bidder, before.minimum_bid.cents() - 1, NOW + 1, None)).await) {
                BidRejection::TooLow { minimum_bid, .. } => assert_eq!(minimum_bid, before.minimum_bid),
                other => panic!("expected TooLow, got {other:?}"),
            }
        }
        let placed = accepted(place(&store, &bid_req(&a, bidder, amount, NOW + 2 + i as Millis, None)).await);
        assert_eq!(placed.auction.minimum_bid, money(minimum), "after a bid of {amount}");
    }
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn a_max_answers_a_lower_plain_bid_one_step_up(store) {
    // GIVEN Ada's maximum of 50.00 on an auction starting at 10.00 (step 1.00)
    let a = given_rules(&store, |_| {}).await;
    let (ada, bob) = (user("ada"), user("bob"));
    let first = accepted(place(&store, &max_req(&a, &ada, 5_000, NOW + 1)).await);
    // THEN she leads at the starting price: her maximum is not her bid
    assert_eq!(amounts(&first), vec![(ada.clone(), 1_000)]);
    // WHEN Bob bids 20.00
    let second = accepted(place(&store, &bid_req(&a, &bob, 2_000, NOW + 2, None)).await);
    // THEN his bid is accepted and the proxy answers for Ada at 21.00, in the same write
    assert_eq!(amounts(&second), vec![(bob.clone(), 2_000), (ada.clone(), 2_100)]);
    assert!(!second.receipt().leading);
    let state = get(&store, &a.auction_id).await;
    assert_eq!((state.current_price, state.bid_count, state.seq), (money(2_100), 3, 3));
    assert_eq!(state.high_bid.as_ref().map(|b| &b.bidder_id), Some(&ada));
    // AND a plain bid above her maximum takes the lead (her maximum is not bid: that would show it)
    let third = accepted(place(&store, &bid_req(&a, &bob, 6_000, NOW + 3, None)).await);
    assert_eq!(amounts(&third), vec![(bob.clone(), 6_000)]);
    assert!(get(&store, &a.auction_id).await.proxy.is_none(), "a beaten maximum is spent");
    let history: Vec<i64> = bids(&store, &a.auction_id).await.iter().map(|b| b.amount.cents()).collect();
    assert_eq!(history, vec![6_000, 2_100, 2_000, 1_000], "proxy bids are bids like any other");
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn two_maxima_resolve_at_the_second_highest_plus_a_step(store) {
    let a = given_rules(&store, |_| {}).await;
    let (ada, bob, cy) = (user("ada"), user("bob"), user("cy"));
    accepted(place(&store, &max_req(&a, &ada, 5_000, NOW + 1)).await);
    // A lower maximum is bid in full and answered
    let lower = accepted(place(&store, &max_req(&a, &bob, 3_000, NOW + 2)).await);
    assert_eq!(amounts(&lower), vec![(bob.clone(), 3_000), (ada.clone(), 3_100)]);
    // A higher one wins at the old maximum plus a step, capped at its own
    let higher = accepted(place(&store, &max_req(&a, &cy, 8_000, NOW + 3)).await);
    assert_eq!(amounts(&higher), vec![(cy.clone(), 5_100)]);
    assert!(higher.receipt().leading);
    let capped = accepted(place(&store, &max_req(&a, &ada, 8_050, NOW + 4)).await);
    assert_eq!(amounts(&capped), vec![(ada.clone(), 8_050)], "capped at the highest maximum");
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn an_equal_maximum_loses_to_the_earlier_one(store) {
    let a = given_rules(&store, |_| {}).await;
    let (ada, bob) = (user("ada"), user("bob"));
    accepted(place(&store, &max_req(&a, &ada, 5_000, NOW + 1)).await);
    let tie = accepted(place(&store, &max_req(&a, &bob, 5_000, NOW + 2)).await);
    assert_eq!(amounts(&tie), vec![(bob.clone(), 5_000), (ada.clone(), 5_000)]);
    let state = get(&store, &a.auction_id).await;
    assert_eq!(state.high_bid.as_ref().map(|b| &b.bidder_id), Some(&ada));
    assert_eq!(state.current_price, money(5_000));
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn a_leader_raises_their_maximum_without_moving_the_price(store) {
    let a = given_rules(&store, |_| {}).await;
    let (ada, bob) = (user("ada"), user("bob"));
    accepted(place(&store, &max_req(&a, &ada, 3_000, NOW + 1)).await);
    let before = get(&store, &a.auction_id).await;
    // WHEN she raises it
    let raised = accepted(place(&store, &max_req(&a, &ada, 6_000, NOW + 2)).await);
    // THEN no bid, the same price and seq; only the hidden maximum changed
    assert!(raised.bids.is_empty());
    let after = get(&store, &a.auction_id).await;
    assert_eq!((after.current_price, after.seq, after.bid_count), (before.current_price, before.seq, before.bid_count));
    assert!(after.rev > before.rev, "the write is versioned even without a seq");
    // AND a lower or equal maximum is refused, a plain bid from the leader too
    assert_eq!(rejected(place(&store, &max_req(&a, &ada, 6_000, NOW + 3)).await), BidRejection::MaxNotRaised);
    assert_eq!(rejected(place(&store, &bid_req(&a, &ada, 4_000, NOW + 3, None)).await), BidRejection::AlreadyLeading);
    // AND the raised maximum answers a rival
    let answered = accepted(place(&store, &bid_req(&a, &bob, 4_000, NOW + 4, None)).await);
    assert_eq!(amounts(&answered), vec![(bob.clone(), 4_000), (ada.clone(), 4_100)]);
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn a_maximum_below_the_minimum_is_too_low(store) {
    let a = given_rules(&store, |_| {}).await;
    let state = get(&store, &a.auction_id).await;
    match rejected(place(&store, &max_req(&a, &user("ada"), 999, NOW + 1)).await) {
        BidRejection::TooLow { minimum_bid, .. } => assert_eq!(minimum_bid, money(1_000)),
        other => panic!("expected TooLow, got {other:?}"),
    }
    assert_state(&store, &state, &[]).await;
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn a_plain_bid_from_the_leader_is_already_leading(store) {
    let a = given_rules(&store, |_| {}).await;
    let ada = user("ada");
    let first = accepted(place(&store, &bid_req(&a, &ada, 1_000, NOW + 1, None)).await);
    let state = get(&store, &a.auction_id).await;
    assert_eq!(rejected(place(&store, &bid_req(&a, &ada, 5_000, NOW + 2, None)).await), BidRejection::AlreadyLeading);
    assert_state(&store, &state, &first.bids).await;
    finish(&store, &a.auction_id, NOW + 100).await;
}

async fn below_a_hidden_reserve_there_is_no_winner(store) {
    let (ada, bob) = (user("ada"), user("bob"));
    let unmet = given_rules(&store, |a| a.reserve_price = Some(money(5_000))).await;
    let placed = accepted(place(&store, &bid_req(&unmet, &ada, 4_000, NOW + 1, None)).await);
    assert_eq!(placed.auction.reserve_met(), Some(false));
    let CloseOutcome::Closed(ended) = close(&store, &unmet.auction_id, ENDS_AT, Closing::Due).await else {
        panic!("due");
    };
    let e = ended.ended_event();
    assert_eq!((e.winner_id, e.winner_name, e.final_price), (None, None, None));
    store.mark_finalized(&unmet.auction_id).await.expect("mark_finalized");

    let met = given_rules(&store, |a| a.reserve_price = Some(money(5_000))).await;
    accepted(place(&store, &bid_req(&met, &ada, 4_000, NOW + 1, None)).await);
    let reached = accepted(place(&store, &bid_req(&met, &bob, 5_000, NOW + 2, None)).await);
    assert_eq!(reached.auction.reserve_met(), Some(true));
    let CloseOutcome::Closed(ended) = close(&store, &met.auction_id, ENDS_AT, Closing::Due).await else {
        panic!("due");
    };
    assert_eq!(ended.ended_event().final_price, Some(5_000));
    assert_eq!(ended.ended_event().winner_id, Some(domain::public_id(&bob)));
    store.mark_finalized(&met.auction_id).await.expect("mark_finalized");
}

async fn bids_before_a_scheduled_start_are_refused(store) {
    let a = given_rules(&store, |a| a.starts_at = NOW + 60_000).await;
    let state = get(&store, &a.auction_id).await;
    assert_eq!(
        rejected(place(&store, &bid_req(&a, &user("ada"), 1_000, NOW + 59_999, None)).await),
        BidRejection::NotStarted { starts_at: NOW + 60_000 }
    );
    assert_state(&store, &state, &[]).await;
    accepted(place(&store, &bid_req(&a, &user("ada"), 1_000, NOW + 60_000, None)).await);
    finish(&store, &a.auction_id, NOW + 100_000).await;
}

async fn only_an_admin_ends_an_auction_with_bids(store) {
    let a = given_rules(&store, |_| {}).await;
    let seller_end = Closing::Early(domain::EndedBy { user_id: a.seller_id.clone(), role: Role::Seller });
    // Without bids its seller may end it; the end records who
    let b = given_rules(&store, |_| {}).await;
    let CloseOutcome::Closed(ended) = close(&store, &b.auction_id, NOW + 1, seller_end.clone()).await else {
        panic!("a seller ends an auction without bids");
    };
    assert_eq!(ended.ended_by.as_ref().map(|e| e.role), Some(Role::Seller));
    store.mark_finalized(&b.auction_id).await.expect("mark_finalized");
    // With a bid, the seller's end is refused in the write itself, an admin's is not
    accepted(place(&store, &bid_req(&a, &user("ada"), 1_000, NOW + 1, None)).await);
    assert!(matches!(close(&store, &a.auction_id, NOW + 2, seller_end).await, CloseOutcome::NotDue(_)));
    let CloseOutcome::Closed(ended) = close(&store, &a.auction_id, NOW + 3, admin_end()).await else {
        panic!("an admin ends it");
    };
    assert_eq!(ended.ended_by.as_ref().map(|e| e.role), Some(Role::Admin));
    store.mark_finalized(&a.auction_id).await.expect("mark_finalized");
}

async fn concurrent_plain_and_max_bids_keep_the_invariants(store) {
    // GIVEN an auction starting at 1.00 with a 1-cent step, five bidders, 200 random requests (a third maxima)
    let a = given_auction(&store, 100, 1, NOW, ENDS_AT).await;
    let bidders: Vec<UserId> = (0..5).map(|_| user("bidder")).collect();
    let seed: u64 = rand::random();
    let plan = random_bids(seed, 200, bidders.len());
    let ctx = format!("seed {seed}");
    let tasks: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, &(b, amount))| {
            let store = store.clone();
            let mut req = bid_req(&a, &bidders[b], amount, NOW + 1 + i as Millis, None);
            if i % 3 == 0 {
                req.kind = BidKind::Max;
            }
            tokio::spawn(async move { place_retrying(&store, &req).await })
        })
        .collect();
    let mut committed = Vec::new();
    for t in tasks {
        match t.await.expect("bidder task") {
            BidOutcome::Accepted(p) => committed.extend(p.bids),
            BidOutcome::Rejected(
                BidRejection::TooLow { .. } | BidRejection::AlreadyLeading | BidRejection::MaxNotRaised,
            ) => {}
            other => panic!("{ctx}: unexpected {other:?}"),
        }
    }
    // THEN the history is exactly the committed bids, seqs 1..=n, prices never fall
    committed.sort_by_key(|b| b.seq);
    let n = committed.len() as u64;
    assert_eq!(committed.iter().map(|b| b.seq).collect::<Vec<_>>(), (1..=n).collect::<Vec<_>>(), "{ctx}");
    assert!(committed.windows(2).all(|w| w[0].amount <= w[1].amount), "{ctx}: prices never fall");
    let state = get(&store, &a.auction_id).await;
    assert_eq!((state.bid_count, state.seq), (n, n), "{ctx}");
    assert_eq!(state.high_bid.as_ref(), committed.last(), "{ctx}");
    let newest_first: Vec<Bid> = committed.iter().rev().cloned().collect();
    assert_eq!(bids(&store, &a.auction_id).await, newest_first, "{ctx}");
    // AND a leader's maximum is never below the price
    if let Some(p) = &state.proxy {
        assert!(p.max_amount >= state.current_price, "{ctx}");
    }
    finish(&store, &a.auction_id, NOW + 1_000).await;
}

// ---------------------------------------------------------------------------------------------------------
// limits (issue 11): bid rate, seller quota, the paged listing, retention
// ---------------------------------------------------------------------------------------------------------

async fn the_bid_rate_is_counted_per_user_and_window(store) {
    // GIVEN a limit of 3 bids per 10 s window
    let rate = BidRate {
        limit: 3,
        window_ms: 10_000,
    };
    let (flooder, other) = (user("flooder"), user("other"));
    let t = NOW + 2_500; // 2.5 s into a window

    // WHEN one user takes 3 slots, THEN they are allowed, and the 4th is refused until the window ends
    for i in 0..3 {
        assert_eq!(
            store
                .take_bid_slot(&flooder, t + i, rate)
                .await
                .expect("take"),
            RateVerdict::Allowed
        );
    }
    assert_eq!(
        store
            .take_bid_slot(&flooder, t + 3, rate)
            .await
            .expect("take"),
        RateVerdict::Limited {
            retry_after_ms: 10_000 - 2_503
        }
    );
    // AND a refusal counts nothing, AND another user is not affected
    assert!(matches!(
        store
            .take_bid_slot(&flooder, t + 4, rate)
            .await
            .expect("take"),
        RateVerdict::Limited { .. }
    ));
    assert_eq!(
        store
            .take_bid_slot(&other, t + 5, rate)
            .await
            .expect("take"),
        RateVerdict::Allowed
    );
    // AND the next window starts afresh
    assert_eq!(
        store
            .take_bid_slot(&flooder, NOW + 10_000, rate)
            .await
            .expect("take"),
        RateVerdict::Allowed
    );

    // WHEN 30 takes of one user race, THEN exactly `limit` are allowed (the count is atomic)
    let racer = user("racer");
    let rate = BidRate {
        limit: 5,
        window_ms: 60_000,
    };
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (store, racer) = (store.clone(), racer.clone());
            tokio::spawn(async move {
                loop {
                    match store.take_bid_slot(&racer, NOW, rate).await {
                        Err(StoreError::Throttled) => tokio::task::yield_now().await,
                        other => return other.expect("take"),
                    }
                }
            })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.expect("task") == RateVerdict::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

async fn the_seller_quota_is_atomic_and_a_released_slot_is_reusable(store) {
    // GIVEN a seller allowed 3 open auctions, and 10 creates of theirs racing
    let seller_a = seller();
    let make = |p: &Principal| {
        let draft = AuctionDraft {
            viewer_shards: 1,
            title: "Quota lot".to_owned(),
            starting_price: money(100),
            increments: domain::Ladder::fixed(money(1)),
            soft_close_ms: 0,
            reserve_price: None,
            starts_at: 0,
            ends_at: ENDS_AT,
        };
        domain::new_auction(auction_id(), p, draft, NOW)
    };
    let lots: Vec<Auction> = (0..10).map(|_| make(&seller_a)).collect();
    let tasks: Vec<_> = lots
        .iter()
        .cloned()
        .map(|a| {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    match store.create_auction_within_quota(&a, &details(), 3).await {
                        Err(StoreError::Throttled) => tokio::task::yield_now().await,
                        other => return (a, other.expect("create")),
                    }
                }
            })
        })
        .collect();
    let mut created = Vec::new();
    for t in tasks {
        let (a, outcome) = t.await.expect("task");
        match outcome {
            Creation::Created => created.push(a),
            Creation::SellerAtQuota => {
                // THEN a refused create wrote nothing, details included
                assert_eq!(store.get_auction(&a.auction_id).await.expect("get"), None);
                assert_eq!(
                    store.get_details(&a.auction_id).await.expect("details"),
                    AuctionDetails::default()
                );
            }
        }
    }
    for a in &created {
        assert_eq!(
            store.get_details(&a.auction_id).await.expect("details"),
            details()
        );
    }
    // THEN exactly 3 were created
    assert_eq!(created.len(), 3, "exactly the quota is created");
    // AND another seller is not affected, AND an id that exists is still AlreadyExists
    let seller_b = seller();
    let b = make(&seller_b);
    assert_eq!(
        store
            .create_auction_within_quota(&b, &details(), 3)
            .await
            .expect("create"),
        Creation::Created
    );
    assert!(matches!(
        store.create_auction_within_quota(&b, &details(), 3).await,
        Err(StoreError::AlreadyExists)
    ));

    // WHEN one slot is released (twice: release is idempotent), THEN exactly one more fits
    let first = &created[0];
    for _ in 0..2 {
        store
            .release_seller_slot(&seller_a.user_id, &first.auction_id)
            .await
            .expect("release");
    }
    let more = make(&seller_a);
    assert_eq!(
        store
            .create_auction_within_quota(&more, &details(), 3)
            .await
            .expect("create"),
        Creation::Created
    );
    assert_eq!(
        store
            .create_auction_within_quota(&make(&seller_a), &details(), 3)
            .await
            .expect("create"),
        Creation::SellerAtQuota
    );
    // AND releasing an unknown seller's slot is a no-op
    store
        .release_seller_slot(&user("nobody"), &first.auction_id)
        .await
        .expect("release");

    for a in created.iter().chain([&b, &more]) {
        finish(&store, &a.auction_id, NOW).await;
    }
}

async fn the_listing_pages_cover_every_active_auction_once_in_order(store) {
    // GIVEN 7 auctions in the case's own time window (two pairs ending in the same ms), and one ended
    let t0 = NOW + 500 * HOUR + (rand::random::<u32>() as Millis % HOUR);
    let ends = [5, 1, 3, 3, 9, 1, 7];
    let mut mine = Vec::new();
    for e in ends {
        mine.push(given_auction(&store, 1_000, 100, NOW, t0 + e).await);
    }
    let gone = given_auction(&store, 1_000, 100, NOW, t0 + 4).await;
    close(&store, &gone.auction_id, NOW, admin_end()).await;
    let mine_ids: HashSet<AuctionId> = mine.iter().map(|a| a.auction_id.clone()).collect();

    // WHEN it is read 3 at a time from t0, following the cursors
    let mut seen: Vec<Auction> = Vec::new();
    let mut after: Option<ListCursor> = None;
    for _ in 0..100 {
        let page = store
            .list_active_page(t0, 3, after.as_ref())
            .await
            .expect("list_active_page");
        assert!(page.auctions.len() <= 3);
        seen.extend(page.auctions);
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    // THEN each of them appears exactly once, in (endsAt, id) order, and the ended one not at all
    let own: Vec<&Auction> = seen
        .iter()
        .filter(|a| mine_ids.contains(&a.auction_id))
        .collect();
    assert_eq!(own.len(), 7, "every auction once");
    let set: HashSet<&AuctionId> = own.iter().map(|a| &a.auction_id).collect();
    assert_eq!(set.len(), 7, "no auction twice");
    assert!(seen
        .iter()
        .all(|a| a.auction_id != gone.auction_id && a.ends_at > t0));
    assert!(
        seen.windows(2).all(|w| w[0].ends_at <= w[1].ends_at),
        "soonest ending first"
    );

    // AND a cursor at or before `now` is the first page, AND a cursor past everything is an empty page
    let first = store.list_active_page(t0, 3, None).await.expect("page");
    let stale = ListCursor {
        ends_at: t0 - 1,
        auction_id: auction_id(),
    };
    let again = store
        .list_active_page(t0, 3, Some(&stale))
        .await
        .expect("page");
    assert_eq!(first.auctions, again.auctions);
    let past = ListCursor {
        ends_at: Millis::MAX / 2,
        auction_id: auction_id(),
    };
    let empty = store
        .list_active_page(t0, 3, Some(&past))
        .await
        .expect("page");
    assert!(empty
        .auctions
        .iter()
        .all(|a| !mine_ids.contains(&a.auction_id)));

    for a in mine.iter().chain([&gone]) {
        finish(&store, &a.auction_id, NOW).await;
    }
}

async fn a_purge_deletes_an_ended_auction_with_its_bids_once_due_and_never_an_active_one(store) {
    // GIVEN an ended auction with a keyed bid, its purge scheduled at NOW + 1 s, and an active one scheduled
    let a = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    let bidder = user("bidder");
    accepted(
        place(
            &store,
            &bid_req(&a, &bidder, 1_000, NOW + 1, Some("k-purge")),
        )
        .await,
    );
    close(&store, &a.auction_id, NOW + 2, admin_end()).await;
    store
        .mark_finalized(&a.auction_id)
        .await
        .expect("mark_finalized");
    store
        .schedule_purge(&a.auction_id, NOW + 1_000)
        .await
        .expect("schedule");
    store
        .schedule_purge(&a.auction_id, NOW + 1_000)
        .await
        .expect("schedule twice");
    let live = given_auction(&store, 1_000, 100, NOW, ENDS_AT).await;
    store
        .schedule_purge(&live.auction_id, NOW + 1_000)
        .await
        .expect("schedule");

    // WHEN purges run before it is due, THEN nothing of it is deleted
    let early = store.purge_due(NOW + 999, 1_000).await.expect("purge");
    assert!(!early.contains(&a.auction_id));
    assert!(store
        .get_auction(&a.auction_id)
        .await
        .expect("get")
        .is_some());

    // WHEN it is due, THEN the auction and its bids are gone, the active one is kept
    let due = store.purge_due(NOW + 1_000, 1_000).await.expect("purge");
    assert!(due.contains(&a.auction_id));
    assert!(!due.contains(&live.auction_id));
    assert_eq!(store.get_auction(&a.auction_id).await.expect("get"), None);
    assert!(bids(&store, &a.auction_id).await.is_empty());
    assert_eq!(
        store.get_details(&a.auction_id).await.expect("details"),
        AuctionDetails::default()
    );
    assert_eq!(
        store.get_details(&live.auction_id).await.expect("details"),
        details()
    );
    assert!(store
        .get_auction(&live.auction_id)
        .await
        .expect("get")
        .is_some());
    // AND a later run finds nothing more of it
    let later = store.purge_due(NOW + 2_000, 1_000).await.expect("purge");
    assert!(!later.contains(&a.auction_id));
    assert!(!later.contains(&live.auction_id));

    finish(&store, &live.auction_id, NOW).await;
}

}
