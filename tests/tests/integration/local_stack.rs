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
    let sdk_with = |credentials: aws_sdk_dynamodb::config::Credentials| {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                credentials,
            ))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    };
    // The stack's own per-run credentials: the emulator checks every call's SigV4 signature.
    let b = ApiGatewayBroadcaster::new(
        &sdk_with(stack.management_credentials.clone()),
        &stack.http_url,
        Duration::from_secs(2),
    );
    let forger = ApiGatewayBroadcaster::new(
        &sdk_with(aws_sdk_dynamodb::config::Credentials::new(
            "k", "s", None, None, "test",
        )),
        &stack.http_url,
        Duration::from_secs(2),
    );
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
    // Whoever knows the connection id but not the credentials posts nothing and closes nothing: signed with
    // other credentials (the production adapter), or not signed at all (a page, curl).
    let forged =
        br#"{"type":"auction.status","seq":0,"data":{"currentPrice":666,"bidCount":0,"endsAt":2}}"#;
    assert!(matches!(
        forger.post(&conn, forged).await,
        Err(PushError::Other(_))
    ));
    assert!(forger.disconnect(&conn).await.is_err());
    let http = reqwest::Client::new();
    let url = format!(
        "{}/@connections/{}",
        stack.http_url,
        conn.as_str().replace('=', "%3D")
    );
    for req in [
        http.post(&url).body(forged.to_vec()),
        http.post(&url)
            .header("content-type", "text/plain")
            .header("origin", "http://evil.example")
            .body(forged.to_vec()),
        http.post(&url)
            .header("authorization", "AWS4-HMAC-SHA256 Credential=LOCALSTACKMANAGEMENT/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00")
            .body(forged.to_vec()),
        http.delete(&url),
        http.get(&url),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.headers().get("access-control-allow-origin").is_none());
    }
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
        !seen.frames.iter().any(|f| f["data"]["currentPrice"] == 666),
        "a forged frame reached the viewer: {:?}",
        seen.frames
    );
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

/// Issue 11, item 8: `/dev/token` mints nothing for another origin's page, the secret file is the owner's
/// alone, dev tokens are off by default against real AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tokens_only_for_the_stacks_own_page_and_the_secret_file_is_private() {
    let stack = stack::start(StoreChoice::Sqlite).await;
    let http = reqwest::Client::new();
    let url = format!("{}/dev/token", stack.http_url);
    let body = r#"{"name":"Mallory","role":"admin"}"#;
    let host = stack.http_url.trim_start_matches("http://").to_owned();
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        // What any web page can send without a preflight: text/plain, its own Origin.
        (
            http.post(&url)
                .header("content-type", "text/plain")
                .header("origin", "http://evil.example")
                .body(body),
            403,
            "forbidden_origin",
        ),
        (
            http.post(&url)
                .header("content-type", "application/json")
                .header("origin", "http://evil.example")
                .body(body),
            403,
            "forbidden_origin",
        ),
        // DNS rebinding: the Host and Origin agree, but the name is not the stack's.
        (
            http.post(&url)
                .header("content-type", "application/json")
                .header("host", "evil.example")
                .header("origin", "http://evil.example")
                .body(body),
            403,
            "forbidden_origin",
        ),
        // No Origin (curl) but not JSON: a form or text/plain body is refused too.
        (
            http.post(&url)
                .header("content-type", "text/plain")
                .body(body),
            415,
            "unsupported_media_type",
        ),
    ];
    for (req, status, code) in cases {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), status);
        assert!(r.headers().get("access-control-allow-origin").is_none());
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"], code);
        assert!(v.get("token").is_none());
    }
    // The preflight a page would need for a JSON POST is not granted.
    let r = http
        .request(http::Method::OPTIONS, &url)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // The stack's own page (same origin) and tools (no Origin) get a token.
    let r = http
        .post(&url)
        .header("content-type", "application/json")
        .header("origin", format!("http://{host}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!Client::new(&stack).token("Ada", "bidder").await.is_empty());
    stack.shutdown().await;

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        // A fresh secret file, and one left 0644 by an older version, are both 0600 after a start.
        let opts = stack::options(StoreChoice::Sqlite);
        let path = opts.data_dir.join("jwt-secret");
        let s = local_stack::start(opts.clone()).await.unwrap();
        s.shutdown().await;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "fresh secret file mode {mode:o}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = local_stack::start(opts).await.unwrap();
        s.shutdown().await;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "existing secret file mode {mode:o}");
    }

    let loopback: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
    let any: std::net::IpAddr = std::net::Ipv4Addr::UNSPECIFIED.into();
    use local_stack::dev_tokens_enabled as on;
    assert!(on(loopback, false, false, false), "local default: on");
    assert!(!on(loopback, true, false, false), "--aws: off by default");
    assert!(on(loopback, true, false, true), "--aws --allow-dev-tokens");
    assert!(
        !on(any, false, false, false),
        "a LAN address: off by default"
    );
    assert!(!on(loopback, false, true, true), "--no-dev-tokens wins");
}

/// Issue 11, item 7: two names are two users, also when they are not ASCII.
#[test]
fn dev_user_ids_of_different_names_differ() {
    use local_stack::dev_identity::dev_user_id;
    let names = ["Ада", "Боб", "李", "王", "🙂", "Ada", "ada-", "a d a"];
    let ids: BTreeSet<String> = names.iter().map(|n| dev_user_id(n)).collect();
    assert_eq!(ids.len(), names.len(), "{ids:?}");
    assert_eq!(
        dev_user_id("Ada"),
        dev_user_id("ADA"),
        "case does not matter"
    );
    for id in &ids {
        assert!(UserId::parse(id).is_ok(), "{id}");
    }
}

/// Issue 11, item 10: what a real client sent through the local stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_unreadable_keys_get_their_documented_answers() {
    let mut opts = stack::options(StoreChoice::Sqlite);
    opts.web_dir = Some(local_stack::default_web_dir());
    let stack = local_stack::start(opts).await.unwrap();
    let http = reqwest::Client::new();
    for (method, path) in [
        (http::Method::GET, "/nope"),
        (http::Method::GET, "/auctions/"),
        (http::Method::POST, "/nope"),
        (http::Method::DELETE, "/auctions"),
        (http::Method::PUT, "/index.html"),
        (http::Method::GET, "/auctions/abc/bids"),
    ] {
        let r = http
            .request(method.clone(), format!("{}{path}", stack.http_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
        let v: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(v["error"], "not_found", "{method} {path}: {v}");
    }
    let r = http
        .get(format!("{}/", stack.http_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the web client is still served");

    // A non-ASCII Idempotency-Key is refused (422), not ignored; its retry too, and no bid is made.
    let c = Client::new(&stack);
    let seller = c.token("Sam Seller", "seller").await;
    let bidder = c.token("Ada", "bidder").await;
    let (_, created) = c
        .post(
            "/auctions",
            &seller,
            json!({"title": "Lamp", "startingPrice": 500, "durationSeconds": 60}),
        )
        .await;
    let id = created["auction"]["auctionId"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = http
            .post(format!("{}/auctions/{id}/bids", stack.http_url))
            .bearer_auth(&bidder)
            .header(
                "idempotency-key",
                http::HeaderValue::from_bytes("ключ-1".as_bytes()).unwrap(),
            )
            .json(&json!({"amount": 500}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let v: Value = r.json().await.unwrap();
        assert_eq!(
            (v["error"].as_str(), v["field"].as_str()),
            (Some("validation_failed"), Some("Idempotency-Key")),
            "{v}"
        );
    }
    let (_, got) = c.get(&format!("/auctions/{id}")).await;
    assert_eq!(got["auction"]["bidCount"], 0);
    stack.shutdown().await;
}

/// Issue 11, item 10: SIGTERM stops the stack as Ctrl-C does, closing every socket with a close frame.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_sockets_cleanly() {
    use tokio::io::AsyncBufReadExt as _;
    let bin = local_binary();
    let dir = std::env::temp_dir().join(format!("auction-sigterm-{}", ulid::Ulid::generate()));
    let mut child = tokio::process::Command::new(&bin)
        .args(["--port", "0", "--data-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("auction-local starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut http_url = None;
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.trim().strip_prefix("HTTP API") {
            http_url = Some(rest.trim().to_owned());
            break;
        }
    }
    let http_url = http_url.expect("the stack printed its URL");
    let ws_url = format!("{}/ws", http_url.replace("http://", "ws://"));
    let http = reqwest::Client::new();
    let token = |name: &'static str, role: &'static str| {
        let http = http.clone();
        let url = format!("{http_url}/dev/token");
        async move {
            let v: Value = http
                .post(url)
                .json(&json!({"name": name, "role": role}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["token"].as_str().unwrap().to_owned()
        }
    };
    let seller = token("Sam Seller", "seller").await;
    let viewer = token("Vic", "bidder").await;
    let created: Value = http
        .post(format!("{http_url}/auctions"))
        .bearer_auth(&seller)
        .json(&json!({"title": "Lamp", "startingPrice": 500, "durationSeconds": 600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["auction"]["auctionId"].as_str().unwrap().to_owned();
    let ticket: Value = http
        .post(format!("{http_url}/auctions/{id}/ticket"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (socket, _) = tokio_tungstenite::connect_async(format!(
        "{ws_url}?auctionId={id}&ticket={}",
        ticket["ticket"].as_str().unwrap()
    ))
    .await
    .expect("viewer connects");
    let reader = tokio::spawn(read_until_closed(socket, Duration::from_secs(15)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("the stack stops")
        .unwrap();
    let seen = reader.await.unwrap();
    assert!(seen.closed_by_server, "the socket got a close frame");
    assert!(
        status.success(),
        "clean exit, not killed by the signal: {status:?}"
    );
}

/// The `auction-local` binary next to this test binary (`cargo test --workspace` builds it), built if missing.
#[cfg(unix)]
fn local_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("auction-local");
    if bin.exists() {
        return bin;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = std::process::Command::new(cargo)
        .args(["build", "-p", "local-stack", "--bin", "auction-local"])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "auction-local builds");
    assert!(bin.exists(), "{}", bin.display());
    bin
}
