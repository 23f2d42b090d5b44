//! Faults at the HTTP layer, through the production adapters:
//!
//! 1. the Management API answering 410 / 429 / 500 / never, behind `ApiGatewayBroadcaster` (the real SDK);
//! 2. DynamoDB throttling and 5xx behind `DynamoStore` (the real SDK), including a write whose response is
//!    lost;
//!
//! (A close dying between the transition and the announcement, and racing itself, is a scenario of
//! `close.rs`, run on every store.)

use auction::broadcast::apigw::ApiGatewayBroadcaster;
use auction::config::Settings;
use auction::domain::{AuctionId, ConnectionId};
use auction::frames::Event;
use auction::ports::{AuctionStore, ConnectionStore};
use auction::store::dynamodb::DynamoStore;
use auction::store::sqlite::SqliteStore;
use auction_tests::faults::{
    dummy_sdk_config, ApiFault, DynamoFault, FaultyDynamo, FaultyManagementApi,
};
use auction_tests::harness::TestApp;
use auction_tests::moto;
use aws_config::retry::RetryConfig;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------------------
// 1. Management API faults through the production adapter

const CALL_TIMEOUT: Duration = Duration::from_millis(200);

fn fanout_settings() -> Settings {
    Settings {
        fanout_max_attempts: 4,
        fanout_backoff: Duration::from_millis(10),
        call_timeout: CALL_TIMEOUT,
        ..auction_tests::harness::test_settings()
    }
}

/// Every attempt of a call that always hangs timing out: `call_timeout`, doubled per retry up to 4×.
fn all_attempts_timed_out(s: &Settings) -> Duration {
    (1..=s.fanout_max_attempts)
        .map(|n| s.attempt_timeout(n))
        .sum()
}

/// The longest a fan-out can take when every call hangs: all attempts time out, plus the backoffs between
/// them (each at most `base * 2^(n-1)`), plus 2 s of slack for a loaded CI machine.
fn fanout_bound(s: &Settings) -> Duration {
    let backoffs: Duration = (1..s.fanout_max_attempts)
        .map(|n| (s.fanout_backoff * (1u32 << (n - 1))).min(Duration::from_secs(1)))
        .sum();
    all_attempts_timed_out(s) + backoffs + Duration::from_secs(2)
}

async fn management_app() -> (
    TestApp<SqliteStore, ApiGatewayBroadcaster>,
    FaultyManagementApi,
) {
    let api = FaultyManagementApi::start().await;
    let settings = fanout_settings();
    let broadcaster =
        ApiGatewayBroadcaster::new(&dummy_sdk_config().await, &api.url, settings.longest_call());
    let store = SqliteStore::in_memory().expect("in-memory store");
    (TestApp::with_parts(store, broadcaster, settings), api)
}

async fn connected(store: &SqliteStore, id: &str) -> bool {
    store
        .get_connection(&ConnectionId::parse(id).unwrap())
        .await
        .unwrap()
        .is_some()
}

#[tokio::test]
async fn management_api_faults_never_fail_a_bid_and_are_bounded() {
    let (t, api) = management_app().await;
    let settings = fanout_settings();
    let max = settings.fanout_max_attempts as usize;
    let id = t.auction().await;
    let other = t.auction().await;

    // Viewers, each with its script (a connection id ends with `=` like API Gateway's).
    api.always("gone1=", ApiFault::Gone);
    api.always("gone2=", ApiFault::Gone);
    api.script("slow=", &[ApiFault::Throttled, ApiFault::Throttled]);
    api.script("err=", &vec![ApiFault::ServerError; max - 1]);
    api.script("hang=", &[ApiFault::Hang]);
    api.always("down=", ApiFault::ServerError);
    api.always("stuck=", ApiFault::Hang);
    // Answers every call after 1.5 × the first attempt's timeout (delivered, but late): the first attempt is
    // cut, the retry's doubled timeout outlasts it. A fixed timeout would give up on this live viewer.
    api.always("late=", ApiFault::Late(CALL_TIMEOUT * 3 / 2));
    let viewers = [
        "ok=", "gone1=", "gone2=", "slow=", "err=", "hang=", "down=", "stuck=", "late=",
    ];
    for v in viewers {
        assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200, "{v}");
    }
    assert_eq!(t.connect("other=", &other, &t.viewer("other=")).await, 200);
    // The viewer-count jobs the connects handed off are not this test's subject (their posts would use up the
    // fault scripts): drop them.
    t.handoff.take();

    let started = Instant::now();
    let r = t.bid_with_key(&t.bidder(1), &id, 10_000, None).await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 201, "{:?}", r.body);

    // Live viewers got exactly their one frame, however many attempts it took.
    for v in ["ok=", "slow=", "err=", "hang="] {
        let frames = api.frames(v);
        assert_eq!(frames.len(), 1, "{v}: {frames:?}");
        assert_eq!(frames[0].seq, 1, "{v}");
        assert!(matches!(frames[0].event, Event::Batch(_)), "{v}");
        assert_eq!(frames[0].from_seq, Some(1), "{v}: the frame covers seq 1");
    }
    // Requests per connection: success first time; 410 is never retried; 429 and 500 are retried until they
    // clear; a hang is cut at the timeout and retried; a viewer that always fails or always hangs gets exactly
    // `fanout_max_attempts` requests and no more.
    let expected = [
        ("ok=", 1),
        ("gone1=", 1),
        ("gone2=", 1),
        ("slow=", 3),
        ("err=", max),
        ("hang=", 2),
        ("down=", max),
        ("stuck=", max),
        ("late=", 2),
        ("other=", 0),
    ];
    for (v, n) in expected {
        assert_eq!(api.posts(v), n, "PostToConnection requests for {v}");
    }
    // Only the gone connections were removed; the failing ones stay (they may recover; TTL ends them).
    for v in viewers {
        let gone = v.starts_with("gone");
        assert_eq!(connected(&t.app.store, v).await, !gone, "{v}");
    }
    assert!(connected(&t.app.store, "other=").await);
    // The hanging calls were cut at their attempt's timeout, and the whole fan-out is bounded.
    assert!(
        elapsed >= all_attempts_timed_out(&settings),
        "`stuck=` waited out {max} timeouts: {elapsed:?}"
    );
    assert!(
        elapsed <= fanout_bound(&settings),
        "fan-out took {elapsed:?}, bound {:?}",
        fanout_bound(&settings)
    );

    // A second bid: the gone viewers are not asked again, the live ones get frame 2.
    let r = t.bid_with_key(&t.bidder(2), &id, 10_100, None).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(api.posts("gone1="), 1);
    assert_eq!(api.posts("gone2="), 1);
    for v in ["ok=", "slow=", "err=", "hang="] {
        let seqs: Vec<u64> = api.frames(v).iter().map(|f| f.seq).collect();
        assert_eq!(seqs, vec![1, 2], "{v}");
    }
    assert_eq!(api.posts("down="), 2 * max);
    assert_eq!(api.posts("other="), 0);
    // The late viewer saw each frame twice (the cut attempt had delivered it): a duplicate with the same
    // seq, which clients drop, never a gap.
    let seqs: Vec<u64> = api.frames("late=").iter().map(|f| f.seq).collect();
    assert_eq!(seqs, vec![1, 1, 2, 2]);
    assert_eq!(api.posts("late="), 4);
}

#[tokio::test]
async fn management_api_faults_during_the_close_are_bounded_and_every_record_goes() {
    let (t, api) = management_app().await;
    let settings = fanout_settings();
    let max = settings.fanout_max_attempts as usize;
    let id = t.auction().await;
    for v in ["ok=", "gone=", "down=", "stuck=", "flaky="] {
        assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200, "{v}");
    }
    // The viewer count the joins asked for (its own job, its own post) is not what this test counts.
    assert!(t.handoff.take().iter().all(|j| j.viewers));
    assert_eq!(
        t.bid_with_key(&t.bidder(1), &id, 10_000, None).await.status,
        201
    );
    let posts_before: Vec<usize> = ["ok=", "gone=", "down=", "stuck=", "flaky="]
        .iter()
        .map(|v| api.posts(v))
        .collect();
    assert_eq!(posts_before, vec![1; 5]);

    // From now on: `gone=` is gone, `down=` always 500s, `stuck=` never answers, `flaky=` is throttled once.
    api.always("gone=", ApiFault::Gone);
    api.always("down=", ApiFault::ServerError);
    api.always("stuck=", ApiFault::Hang);
    api.script("flaky=", &[ApiFault::Throttled]);

    let started = Instant::now();
    let r = t.end(&t.admin(), &id).await;
    let elapsed = started.elapsed();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["auction"]["winnerName"], "Bidder 1");

    // auction.ended reached the live viewers.
    for v in ["ok=", "flaky="] {
        let frames = api.frames(v);
        let last = frames.last().map(|f| f.events());
        assert!(
            matches!(
                last.as_deref().and_then(|e| e.last()),
                Some((2, Event::AuctionEnded(_)))
            ),
            "{v}: {frames:?}"
        );
    }
    // Announcement: 410 once (and removed), failures bounded by `fanout_max_attempts`.
    assert_eq!(api.posts("gone="), 2);
    assert_eq!(api.posts("down="), 1 + max);
    assert_eq!(api.posts("stuck="), 1 + max);
    assert_eq!(api.posts("flaky="), 1 + 2);
    // Revocation: the gone viewer was already removed, so it is not deleted; the others are, with bounded
    // retries.
    assert_eq!(api.deletes("gone="), 0);
    assert_eq!(api.deletes("ok="), 1);
    assert_eq!(api.deletes("flaky="), 1);
    assert_eq!(api.deletes("down="), max);
    assert_eq!(api.deletes("stuck="), max);
    assert!(api.deleted("ok=") && api.deleted("flaky="));
    // Every record is gone: the auction is over.
    let aid = AuctionId::parse(&id).unwrap();
    assert!(t
        .app
        .store
        .connections_for_auction(&aid, 16)
        .await
        .unwrap()
        .is_empty());
    assert!(t.auction_state(&id).await.finalized);
    // Announcement and revocation each bounded like one fan-out.
    assert!(
        elapsed <= fanout_bound(&settings) * 2,
        "the close took {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------------------
// 2. DynamoDB throttling and 5xx behind the production store adapter
//
// The store's client keeps the SDK's production retry policy, `standard` mode with 3 attempts (what
// `wiring::lambda_app` gets from `aws_config` defaults), only with a 5 ms initial backoff instead of 1 s so
// the tests stay fast. Faults are therefore injected 3 times in a row: the SDK's own retries eat all of them
// and the store sees the failure. (Injecting fewer than 3 shows the SDK absorbing them: see
// `a_lost_response_retried_by_the_sdk_is_answered_as_a_replay`.)

const SDK_ATTEMPTS: u32 = 3;

struct DynamoFixture {
    t: TestApp<DynamoStore>,
    proxy: FaultyDynamo,
    /// The same table, straight to moto (not through the proxy), to observe the state.
    direct: DynamoStore,
}

async fn dynamo_fixture() -> DynamoFixture {
    let direct = moto::fresh_table().await;
    let proxy = FaultyDynamo::start(&moto::endpoint()).await;
    let client = proxy
        .client(
            RetryConfig::standard()
                .with_max_attempts(SDK_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .await;
    let store = DynamoStore::new(client, direct.table_name());
    DynamoFixture {
        t: TestApp::with_store(store),
        proxy,
        direct,
    }
}

async fn unavailable_then_exactly_one_bid(fault: DynamoFault) {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
    let before = direct.get_auction(&aid).await.unwrap().unwrap();
    let bidder = t.bidder(1);
    let key = Some("retry-key-1");

    // (`$connect` above also used TransactWriteItems: count from here.)
    let seen_before = proxy.seen("TransactWriteItems");
    let forwarded_before = proxy.forwarded("TransactWriteItems");
    proxy.inject("TransactWriteItems", &vec![fault; SDK_ATTEMPTS as usize]);
    let r = t
        .bid_raw(Some(&bidder), &id, Some(r#"{"amount":10000}"#.into()), key)
        .await;
    assert_eq!(r.status, 503, "{fault:?}: {:?}", r.body);
    assert_eq!(r.code(), "service_unavailable");
    assert!(r.body["message"].is_string());
    assert!(r.body["retryAfterSeconds"].as_u64().is_some_and(|s| s >= 1));
    let retry_after = r.headers.get("retry-after").expect("Retry-After header");
    assert!(retry_after.to_str().unwrap().parse::<u32>().unwrap() >= 1);
    assert_eq!(
        proxy.seen("TransactWriteItems") - seen_before,
        SDK_ATTEMPTS as usize,
        "the SDK retried {fault:?} a bounded number of times"
    );
    assert_eq!(
        proxy.pending("TransactWriteItems"),
        0,
        "the fault has cleared"
    );
    assert_eq!(proxy.forwarded("TransactWriteItems"), forwarded_before);

    // No partial state: the auction, its bids and its viewers saw nothing.
    let after = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!(
        (
            after.bid_count,
            after.seq,
            after.current_price,
            after.minimum_bid
        ),
        (
            before.bid_count,
            before.seq,
            before.current_price,
            before.minimum_bid
        ),
        "{fault:?}"
    );
    assert!(after.high_bid.is_none());
    assert!(direct.recent_bids(&aid, 10).await.unwrap().is_empty());
    assert!(t.frames("v1=").is_empty());

    // The client retries with the same key: exactly one bid, then replays of it.
    let first = t
        .bid_raw(Some(&bidder), &id, Some(r#"{"amount":10000}"#.into()), key)
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert!(!first.replayed());
    let again = t
        .bid_raw(Some(&bidder), &id, Some(r#"{"amount":10000}"#.into()), key)
        .await;
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert!(again.replayed(), "a replay");
    assert_eq!(again.body["bid"]["bidId"], first.body["bid"]["bidId"]);
    assert_eq!(again.body["seq"], 1);
    let end = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!(
        (end.bid_count, end.seq, end.current_price.cents()),
        (1, 1, 10_000)
    );
    let bids = direct.recent_bids(&aid, 10).await.unwrap();
    assert_eq!(bids.len(), 1);
    assert_eq!(bids[0].bid_id, first.body["bid"]["bidId"].as_str().unwrap());
    // The viewer saw the bid once: the replay handed it off again and the publisher found it delivered.
    assert_eq!(t.bid_seqs("v1="), vec![1], "viewers saw the bid once");
}

#[tokio::test]
async fn dynamodb_throttling_is_503_with_no_partial_state_and_a_keyed_retry_bids_once() {
    unavailable_then_exactly_one_bid(DynamoFault::Throttling).await;
}

#[tokio::test]
async fn dynamodb_provisioned_throughput_exceeded_is_503_and_a_keyed_retry_bids_once() {
    unavailable_then_exactly_one_bid(DynamoFault::ProvisionedThroughputExceeded).await;
}

#[tokio::test]
async fn dynamodb_5xx_is_503_with_no_partial_state_and_a_keyed_retry_bids_once() {
    unavailable_then_exactly_one_bid(DynamoFault::ServerError).await;
}

/// The write commits but its response is lost, and the SDK's retries fail too: the bidder sees 503 although
/// the bid stands. Its retry with the same key must return that bid, never place a second one.
#[tokio::test]
async fn a_lost_bid_response_then_a_keyed_retry_returns_the_original_bid() {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    let bidder = t.bidder(1);
    let key = Some("lost-response-1");
    let body = || Some(r#"{"amount":10000}"#.to_owned());

    let mut faults = vec![DynamoFault::ForwardThenServerError];
    faults.extend(vec![DynamoFault::ServerError; SDK_ATTEMPTS as usize - 1]);
    // The auction's create is a transaction too (with its seller's quota slot).
    let created = proxy.forwarded("TransactWriteItems");
    proxy.inject("TransactWriteItems", &faults);
    let r = t.bid_raw(Some(&bidder), &id, body(), key).await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.code(), "service_unavailable");
    assert!(r.headers.get("retry-after").is_some());
    assert_eq!(proxy.forwarded("TransactWriteItems") - created, 1);

    // The auction DID take the bid.
    let taken = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!((taken.bid_count, taken.seq), (1, 1));
    let original = taken.high_bid.clone().expect("the lost write committed");
    assert_eq!(original.amount.cents(), 10_000);
    assert_eq!(original.bidder_id.as_str(), "bidder-1");

    // Retries with the same key: the original bid, replayed, never a second one.
    for _ in 0..2 {
        let again = t.bid_raw(Some(&bidder), &id, body(), key).await;
        assert_eq!(again.status, 201, "{:?}", again.body);
        assert!(again.replayed(), "a replay");
        assert_eq!(again.body["bid"]["bidId"], original.bid_id.as_str());
        assert_eq!(again.body["seq"], 1);
    }
    let end = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!(
        (end.bid_count, end.seq, end.current_price.cents()),
        (1, 1, 10_000)
    );
    // The same key with another amount is refused, not a second bid either.
    let other = t
        .bid_raw(Some(&bidder), &id, Some(r#"{"amount":20000}"#.into()), key)
        .await;
    assert_eq!(other.status, 422, "{:?}", other.body);
    assert_eq!(other.code(), "idempotency_key_reused");
    assert_eq!(
        direct.get_auction(&aid).await.unwrap().unwrap().bid_count,
        1
    );
}

/// One lost response, and the SDK's own retry reaches DynamoDB. DynamoDB itself answers a retried
/// TransactWriteItems with the same ClientRequestToken as a success; moto re-runs it, the version condition
/// refuses the duplicate and the store recognises its own committed bid. Either way the bidder sees 201 at once.
#[tokio::test]
async fn a_lost_response_retried_by_the_sdk_is_answered_with_the_committed_bid() {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    // The auction's create is a transaction too (with its seller's quota slot).
    let created = proxy.forwarded("TransactWriteItems");
    proxy.inject("TransactWriteItems", &[DynamoFault::ForwardThenServerError]);
    let r = t
        .bid_raw(
            Some(&t.bidder(1)),
            &id,
            Some(r#"{"amount":10000}"#.into()),
            Some("sdk-retry-1"),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(proxy.forwarded("TransactWriteItems") - created, 2);
    let a = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!((a.bid_count, a.seq), (1, 1));
    assert_eq!(r.body["bid"]["bidId"], a.high_bid.unwrap().bid_id.as_str());
}

/// An UNKEYED bid whose transaction committed but whose response was lost is retried by the SDK itself (same
/// request, same bid id); on moto the retry fails the version condition. The store must recognise its own bid
/// (`highBid.bidId == req.bid_id`) and answer 201, not `bid_too_low`, and viewers hear.
#[tokio::test]
async fn an_unkeyed_bid_whose_response_was_lost_is_not_reported_as_too_low() {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
    proxy.inject("TransactWriteItems", &[DynamoFault::ForwardThenServerError]);
    let r = t.bid(&t.bidder(1), &id, 10_000).await;
    let a = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!((a.bid_count, a.seq), (1, 1), "never a second bid");
    assert_eq!(r.status, 201, "the bid leads: {:?}", r.body);
    assert_eq!(t.frames("v1=").len(), 1, "viewers are told");
}

/// After a lost response (the process gave up: 503), the keyed retry is a replay. The bid's history and its
/// idempotency record were committed with it; the original invocation never announced it, so the replay
/// announces it again: `GET /auctions/{id}` lists the bid and viewers receive it.
#[tokio::test]
async fn a_bid_recovered_after_a_lost_response_reaches_history_and_viewers() {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
    let mut faults = vec![DynamoFault::ForwardThenServerError];
    faults.extend(vec![DynamoFault::ServerError; SDK_ATTEMPTS as usize - 1]);
    proxy.inject("TransactWriteItems", &faults);
    let body = || Some(r#"{"amount":10000}"#.to_owned());
    let key = Some("recovered-1");
    assert_eq!(
        t.bid_raw(Some(&t.bidder(1)), &id, body(), key).await.status,
        503
    );
    let r = t.bid_raw(Some(&t.bidder(1)), &id, body(), key).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        direct.recent_bids(&aid, 10).await.unwrap().len(),
        1,
        "history"
    );
    assert_eq!(t.frames("v1=").len(), 1, "viewers are told");
}

// ---------------------------------------------------------------------------------------------------------
// 3. Nothing accepted is ever forgotten: consecutive failed bid writes, and commits whose answer was lost
//
// A bid's history item and idempotency record are written in the same transaction as the auction's update,
// so there is no separate history write that could fail on its own. Two ways a bid's write "fails":
// - A: the transaction is refused (throttled) on every SDK attempt: nothing is committed, 503, and the keyed
//   retry places the bid;
// - B: the transaction commits and its answer is lost on every attempt (the process is as good as killed
//   between the commit and anything after it): 503, yet the bid, its history and its record exist, and the
//   keyed retry is a replay.
// `n` consecutive bids fail each way; afterwards the history is exactly the accepted bids.

async fn consecutive_failures_then_recovery(n: usize) {
    let DynamoFixture { t, proxy, direct } = dynamo_fixture().await;
    let id = t.auction().await;
    let aid = AuctionId::parse(&id).unwrap();
    assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
    let key = |i: usize| format!("consecutive-{n}-{i}");
    let body = |i: usize| Some(format!(r#"{{"amount":{}}}"#, 10_000 + 100 * i));
    let bidder = |i: usize| t.bidder(1 + (i % 2) as u32);
    let (t_ref, id_ref) = (&t, &id);
    let bid = |i: usize| {
        let (k, token) = (key(i), bidder(i));
        async move { t_ref.bid_raw(Some(&token), id_ref, body(i), Some(&k)).await }
    };
    let throttled = vec![DynamoFault::Throttling; SDK_ATTEMPTS as usize];
    let mut lost = vec![DynamoFault::ForwardThenServerError];
    lost.extend(vec![DynamoFault::ServerError; SDK_ATTEMPTS as usize - 1]);

    // A: n consecutive bids refused outright; nothing is written.
    for i in 0..n {
        proxy.inject("TransactWriteItems", &throttled);
        assert_eq!(bid(i).await.status, 503, "A: bid {i} of {n}");
    }
    assert!(direct.recent_bids(&aid, 100).await.unwrap().is_empty());
    assert_eq!(
        direct.get_auction(&aid).await.unwrap().unwrap().bid_count,
        0
    );
    // Their keyed retries place them now.
    for i in 0..n {
        let r = bid(i).await;
        assert_eq!(r.status, 201, "A: retry {i} of {n}: {:?}", r.body);
        assert!(!r.replayed(), "placed now, not replayed");
    }
    // B: n consecutive bids commit, and their answers are lost.
    for i in n..2 * n {
        proxy.inject("TransactWriteItems", &lost);
        assert_eq!(bid(i).await.status, 503, "B: bid {i} of {n}");
        assert_eq!(proxy.pending("TransactWriteItems"), 0);
    }
    assert_eq!(
        direct.recent_bids(&aid, 100).await.unwrap().len(),
        2 * n,
        "every committed bid has its history item"
    );
    // Every keyed retry, of either kind, is now a replay of its original bid.
    let mut accepted = Vec::new();
    for i in 0..2 * n {
        let r = bid(i).await;
        assert_eq!(r.status, 201, "retry {i}: {:?}", r.body);
        assert!(r.replayed(), "retry {i} is a replay");
        accepted.push((
            r.body["seq"].as_u64().unwrap(),
            r.body["bid"]["bidId"].as_str().unwrap().to_owned(),
        ));
    }
    // The history is exactly the accepted bids, seq 1..2n; price and count agree.
    let mut history: Vec<(u64, String)> = direct
        .recent_bids(&aid, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|b| (b.seq, b.bid_id))
        .collect();
    history.sort();
    assert_eq!(history, accepted, "n = {n}");
    assert_eq!(
        history.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=2 * n as u64).collect::<Vec<_>>()
    );
    let a = direct.get_auction(&aid).await.unwrap().unwrap();
    assert_eq!(a.bid_count, 2 * n as u64);
    assert_eq!(a.current_price.cents(), 10_000 + 100 * (2 * n as i64 - 1));
    // The close records a winner whose bid item exists.
    assert_eq!(t.end(&t.admin(), &id).await.status, 200);
    let winner = direct
        .get_auction(&aid)
        .await
        .unwrap()
        .unwrap()
        .high_bid
        .unwrap();
    assert!(direct
        .recent_bids(&aid, 100)
        .await
        .unwrap()
        .contains(&winner));
}

#[tokio::test]
async fn one_failed_bid_write_then_recovery_forgets_nothing() {
    consecutive_failures_then_recovery(1).await;
}

#[tokio::test]
async fn two_consecutive_failed_bid_writes_then_recovery_forget_nothing() {
    consecutive_failures_then_recovery(2).await;
}

#[tokio::test]
async fn five_consecutive_failed_bid_writes_then_recovery_forget_nothing() {
    consecutive_failures_then_recovery(5).await;
}
