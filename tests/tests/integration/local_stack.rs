//! End to end over real sockets against the running local stack: the same handlers, the production
//! Management API adapter posting through the emulator, the schedule closing the auction.

use auction::broadcast::apigw::ApiGatewayBroadcaster;
use auction::domain::{AuctionId, Connection, ConnectionId, UserId};
use auction::ports::{Broadcaster, ConnectionStore, PushError};
use auction::store::sqlite::SqliteStore;
use auction_tests::stack::{self, connect, read_until_closed, send, Client};
use local_stack::StoreChoice;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// 3 viewers + 2 bidders on one auction, a viewer of another auction, close by schedule, refused reconnect.
async fn live_auction_flow(store: StoreChoice) {
    let stack = stack::start(store).await;
    let c = Client::new(&stack);
    let seller = c.token("Sam Seller", "seller").await;
    let bidders = [
        c.token("Ada", "bidder").await,
        c.token("Grace", "bidder").await,
    ];
    let viewer = c.token("Viewer", "bidder").await;

    let ends_at = now_ms() + 10_500;
    let (status, created) = c
        .post("/auctions", &seller, json!({"title": "Vintage Leica M3", "startingPrice": 10_000, "minIncrement": 100, "endsAt": ends_at}))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["auction"]["auctionId"].as_str().unwrap().to_owned();
    let (_, other) = c
        .post(
            "/auctions",
            &seller,
            json!({"title": "Other", "startingPrice": 500, "durationSeconds": 600}),
        )
        .await;
    let other_id = other["auction"]["auctionId"].as_str().unwrap().to_owned();

    assert_eq!(connect(&stack, &id, "not-a-token").await.err(), Some(401));
    assert_eq!(
        connect(&stack, "01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ", &viewer)
            .await
            .err(),
        Some(404)
    );

    let mut viewers = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&stack, &id, &viewer)
            .await
            .expect("viewer connects");
        send(&mut s, r#"{"action":"sync"}"#).await;
        viewers.push(tokio::spawn(read_until_closed(s, Duration::from_secs(30))));
    }
    let mut outsider = connect(&stack, &other_id, &viewer)
        .await
        .expect("outsider connects");
    send(
        &mut outsider,
        r#"{"type":"bid.placed","data":{"amount":1}}"#,
    )
    .await;
    let outsider = tokio::spawn(read_until_closed(outsider, Duration::from_secs(14)));
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Two bidders race; some bids are too low and must reach nobody.
    // (seq, amount, round). Bids of one round are concurrent; rounds are sequential.
    let mut accepted: Vec<(u64, i64, i64)> = Vec::new();
    let mut rejected: Vec<i64> = Vec::new();
    for round in 0..6i64 {
        let a = 10_000 + round * 1_000;
        let b = a + if round % 2 == 0 { 50 } else { 500 };
        let path = format!("/auctions/{id}/bids");
        let (ra, rb) = tokio::join!(
            c.post(&path, &bidders[0], json!({ "amount": a })),
            c.post(&path, &bidders[1], json!({ "amount": b })),
        );
        for ((status, body), amount) in [(ra, a), (rb, b)] {
            match status {
                201 => accepted.push((body["seq"].as_u64().unwrap(), amount, round)),
                // Too low, or its bidder led after the previous round.
                409 => {
                    assert!(
                        body["error"] == "bid_too_low" || body["error"] == "already_leading",
                        "{body}"
                    );
                    rejected.push(amount);
                }
                s => panic!("unexpected {s}: {body}"),
            }
        }
    }
    let (s, body) = c
        .post(
            &format!("/auctions/{id}/bids"),
            &bidders[0],
            json!({ "amount": 1 }),
        )
        .await;
    assert!(
        s == 409
            && ["bid_too_low", "already_leading"].contains(&body["error"].as_str().unwrap_or("")),
        "{body}"
    );
    rejected.push(1);
    accepted.sort();
    assert!(accepted.len() >= 6, "{accepted:?}");
    let expected_seqs: Vec<u64> = accepted.iter().map(|(s, _, _)| *s).collect();
    let accepted_amounts: BTreeSet<i64> = accepted.iter().map(|(_, a, _)| *a).collect();
    let winner = *accepted.iter().max_by_key(|(s, _, _)| *s).unwrap();

    for v in viewers {
        let seen = v.await.unwrap();
        assert!(
            seen.closed_by_server,
            "the server closes every viewer after the end"
        );
        let mut bid_seqs = Vec::new();
        let mut amounts = BTreeSet::new();
        let mut ended = Vec::new();
        let mut covered = 0;
        for f in &seen.frames {
            assert_eq!(
                f["auctionId"],
                id.as_str(),
                "only this auction's frames: {f}"
            );
            let events: Vec<Value> = match f["type"].as_str().unwrap() {
                "batch" => {
                    // A delivery covers fromSeq..=seq, starting at most right after the previous one.
                    let from = f["fromSeq"].as_u64().unwrap();
                    assert!(from <= covered + 1, "no gap before {f}");
                    covered = covered.max(f["seq"].as_u64().unwrap());
                    f["data"].as_array().unwrap().clone()
                }
                "auction.status" | "auction.viewers" => vec![f.clone()],
                other => panic!("unexpected frame type {other}: {f}"),
            };
            for e in events {
                match e["type"].as_str().unwrap() {
                    "bid.placed" => {
                        bid_seqs.push(e["seq"].as_u64().unwrap());
                        amounts.insert(e["data"]["amount"].as_i64().unwrap());
                    }
                    "auction.status" | "auction.viewers" => {}
                    "auction.ended" => ended.push(e.clone()),
                    other => panic!("unexpected event {other}: {f}"),
                }
            }
        }
        // Exactly once, nothing lost, and in seq order: one publisher per auction delivers every frame in
        // order, even for the two bids of a round accepted at the same moment.
        assert_eq!(
            bid_seqs, expected_seqs,
            "every accepted bid exactly once, in seq order"
        );
        assert_eq!(amounts, accepted_amounts, "rejected bids reach nobody");
        assert_eq!(ended.len(), 1);
        let e = &ended[0]["data"];
        assert_eq!(e["finalPrice"], winner.1);
        assert!(e["winnerName"] == "Ada" || e["winnerName"] == "Grace");
        let last = seen.frames.last().unwrap();
        assert_eq!(
            last["data"]
                .as_array()
                .and_then(|d| d.last())
                .map(|e| &e["type"]),
            Some(&json!("auction.ended")),
            "auction.ended is the last event: {last}"
        );
    }
    let outsider = outsider.await.unwrap();
    assert!(
        outsider.frames.iter().all(|f| f["type"] != "batch"
            && f["type"] != "auction.ended"
            && f["auctionId"] != id.as_str()),
        "a viewer of another auction receives nothing of this one: {:?}",
        outsider.frames
    );
    assert!(outsider
        .frames
        .iter()
        .any(|f| f["type"] == "error" && f["data"]["error"] == "read_only"));

    assert_eq!(
        connect(&stack, &id, &viewer).await.err(),
        Some(410),
        "a reconnect after the end is refused"
    );
    let (_, state) = c.get(&format!("/auctions/{id}")).await;
    assert_eq!(state["auction"]["status"], "ended");
    assert_eq!(state["auction"]["finalPrice"], winner.1);
    assert_eq!(state["bids"].as_array().map(Vec::len), Some(accepted.len()));
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_auction_end_to_end_on_the_embedded_store() {
    live_auction_flow(StoreChoice::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_auction_end_to_end_on_dynamodb_moto() {
    let endpoint = auction_tests::moto::endpoint();
    live_auction_flow(StoreChoice::DynamoDb {
        endpoint: Some(endpoint),
        table: format!("e2e-{}", ulid::Ulid::generate()),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_management_adapter_through_the_emulator() {
    let stack = stack::start(StoreChoice::Sqlite).await;
    let c = Client::new(&stack);
    let seller = c.token("Sam Seller", "seller").await;
    let (_, created) = c
        .post(
            "/auctions",
            &seller,
            json!({"title": "Lamp", "startingPrice": 500, "durationSeconds": 60}),
        )
        .await;
    let id = created["auction"]["auctionId"].as_str().unwrap();
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("k", "s", None, None, "test"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let b = ApiGatewayBroadcaster::new(&sdk, &stack.http_url, Duration::from_secs(2));
    let unknown = ConnectionId::parse("bm90LWEtY29ubg==").unwrap();
    assert!(matches!(
        b.post(&unknown, b"{}").await,
        Err(PushError::Gone)
    ));
    assert!(matches!(b.disconnect(&unknown).await, Err(PushError::Gone)));

    // A real viewer: find its connection id through the store's view of the auction.
    let viewer = c.token("Viewer", "bidder").await;
    let socket = connect(&stack, id, &viewer).await.unwrap();
    let reader = tokio::spawn(read_until_closed(socket, Duration::from_secs(10)));
    let conn = wait_for_connection(&stack, id).await;
    b.post(
        &conn,
        br#"{"type":"auction.status","seq":0,"serverTime":1,"data":{"currentPrice":1,"bidCount":0,"endsAt":2}}"#,
    )
    .await
    .unwrap();
    let too_big = vec![b'x'; 129 * 1024];
    assert!(matches!(
        b.post(&conn, &too_big).await,
        Err(PushError::PayloadTooLarge)
    ));
    b.disconnect(&conn).await.unwrap();
    let seen = reader.await.unwrap();
    // Our frame arrived exactly once; anything else is the schedule's periodic status or the viewer count.
    let ours = seen
        .frames
        .iter()
        .filter(|f| f["data"]["currentPrice"] == 1)
        .count();
    assert_eq!(ours, 1, "{:?}", seen.frames);
    assert!(
        seen.frames
            .iter()
            .all(|f| f["type"] == "auction.status" || f["type"] == "auction.viewers"),
        "{:?}",
        seen.frames
    );
    assert!(seen.closed_by_server, "DeleteConnection closes the socket");
    stack.shutdown().await;
}

/// The embedded store's TTL emulation: the running stack deletes an expired connection written by another
/// process (a second handle on its SQLite file) and leaves a live one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_sweeps_expired_rows_from_the_embedded_store() {
    // GIVEN a stack on the embedded store sweeping every 100 ms, and a second handle on its file
    let mut opts = stack::options(StoreChoice::Sqlite);
    opts.sweep = Duration::from_millis(100);
    let db = opts.data_dir.join("auction.db");
    let running = local_stack::start(opts).await.unwrap();
    let other = SqliteStore::open(&db).unwrap();

    // WHEN a connection past its expiry and a live one are written
    let auction = AuctionId::parse("01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ").unwrap();
    let row = |id: &str, expires_at: i64| Connection {
        connection_id: ConnectionId::parse(id).unwrap(),
        auction_id: auction.clone(),
        user_id: UserId::parse("viewer-1").unwrap(),
        connected_at: now_ms(),
        expires_at,
        shard: 0,
    };
    let now_secs = now_ms() / 1000;
    other
        .add_connection(&row("expired", now_secs - 10), 3)
        .await
        .unwrap();
    other
        .add_connection(&row("live", now_secs + 3_600), 3)
        .await
        .unwrap();

    // THEN within a few sweeps only the live one is left
    let mut left = Vec::new();
    for _ in 0..50 {
        left = other.connections_for_auction(&auction, 1).await.unwrap();
        if left.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids: Vec<&str> = left.iter().map(|c| c.connection_id.as_str()).collect();
    assert_eq!(ids, ["live"]);
    running.shutdown().await;
}

/// The connection id the stack assigned to the viewer of `auction_id`.
async fn wait_for_connection(stack: &local_stack::Running, auction_id: &str) -> ConnectionId {
    for _ in 0..50 {
        if let Some(id) = stack.connections_of(auction_id).into_iter().next() {
            return ConnectionId::parse(&id).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the viewer's connection never appeared");
}

/// A hand-off accepted before the stack was killed — queued, or already handed to a publisher that died —
/// is delivered after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_off_accepted_before_a_kill_is_delivered_after_the_restart() {
    use auction::handoff::embedded::EmbeddedHandOff;
    use auction::ports::{AuctionStore, HandOff};
    use auction::publisher::PublishJob;

    // A stack with an auction, then stopped.
    let opts = stack::options(StoreChoice::Sqlite);
    let dir = opts.data_dir.clone();
    let first = local_stack::start(opts.clone()).await.unwrap();
    let c = Client::new(&first);
    let seller = c.token("Sam Seller", "seller").await;
    let (status, created) = c
        .post(
            "/auctions",
            &seller,
            json!({"title": "Lamp", "startingPrice": 1_000, "durationSeconds": 600}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = AuctionId::parse(created["auction"]["auctionId"].as_str().unwrap()).unwrap();
    first.shutdown().await;

    // What a kill right after the hand-off leaves: two committed bids, one job queued, one job already
    // handed out (leased) to a publisher that died.
    let store = SqliteStore::open(&dir.join("auction.db")).unwrap();
    let queue = EmbeddedHandOff::open(&dir.join("handoff.db")).unwrap();
    let bid = |n: u64, amount: i64| auction::domain::BidRequest {
        kind: auction::domain::BidKind::Plain,
        auction_id: id.clone(),
        bidder_id: UserId::parse(&format!("u-{n}")).unwrap(),
        bidder_name: format!("Bidder {n}"),
        amount: auction::domain::Money::new(amount).unwrap(),
        now: now_ms(),
        bid_id: format!("bid-{n}"),
        idempotency_key: None,
    };
    for (n, amount) in [(1, 1_000), (2, 1_100)] {
        store.place_bid(&bid(n, amount)).await.unwrap();
        queue
            .enqueue(&PublishJob::changed(&id, n, now_ms()))
            .await
            .unwrap();
    }
    let leased = queue.claim(now_ms(), 600_000, 10).await.unwrap();
    assert_eq!(
        leased.len(),
        1,
        "the first job was being handled when the stack died"
    );
    assert_eq!(
        store
            .get_auction(&id)
            .await
            .unwrap()
            .unwrap()
            .publication
            .seq,
        0
    );
    drop(queue);

    // After the restart both are delivered: the publication reaches seq 2 and the queue empties.
    let second = local_stack::start(opts).await.unwrap();
    let queue = EmbeddedHandOff::open(&dir.join("handoff.db")).unwrap();
    let mut delivered = 0;
    for _ in 0..100 {
        delivered = store
            .get_auction(&id)
            .await
            .unwrap()
            .unwrap()
            .publication
            .seq;
        if delivered == 2 && queue.is_empty().await.unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered, 2);
    assert!(queue.is_empty().await.unwrap());
    second.shutdown().await;
}
