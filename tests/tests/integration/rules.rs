//! The live-auction rules end to end through the handlers (issue 10), on every store: the close on the
//! second following soft-close extensions, maxima answered by the proxy with the outbid notice, a hidden
//! reserve, a scheduled start — and a maximum never leaving the server.

use auction::domain::AuctionId;
use auction::frames::Event;
use auction::handlers::close::CloseTimerEvent;
use auction_tests::harness::T0;
use auction_tests::scenario;
use serde_json::json;

fn timer(id: &str) -> CloseTimerEvent {
    CloseTimerEvent {
        auction_id: AuctionId::parse(id).unwrap(),
    }
}

scenario! {
    async fn the_close_timer_closes_at_the_end_and_follows_a_soft_close_extension(t) {
        // GIVEN an auction ending in five minutes with the default 10 s soft close, and a viewer
        let id = t.auction().await;
        let ends_at = T0 + 300_000;
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        // WHEN the timer wakes early THEN it is told to wait until the end
        let early = t.app.close_at_end(timer(&id)).await.unwrap();
        assert_eq!((early.done, early.wake_at_ms), (false, ends_at));
        // WHEN a bid lands 3 s before the end THEN the end moves to 10 s after it, in the bid's answer
        t.clock.set(ends_at - 3_000);
        let bid = t.bid(&t.bidder(1), &id, 10_000).await;
        assert_eq!(bid.status, 201, "{}", bid.body);
        assert_eq!(bid.body["status"]["endsAt"], ends_at + 7_000);
        // AND viewers see the new end in auction.status
        assert!(t.events("v1=").iter().any(|(_, e)| matches!(e, Event::AuctionStatus(s) if s.ends_at == ends_at + 7_000)));
        // WHEN the timer wakes at the old end THEN it waits again, for the moved end
        t.clock.set(ends_at);
        let again = t.app.close_at_end(timer(&id)).await.unwrap();
        assert_eq!((again.done, again.wake_at_ms), (false, ends_at + 7_000));
        assert_eq!(t.bid(&t.bidder(2), &id, 20_000).await.status, 201, "still open after the old end");
        // WHEN it wakes at the effective end THEN it closes, and viewers hear the winner
        let end = t.get(&id).await.body["auction"]["endsAt"].as_i64().unwrap();
        t.clock.set(end);
        let done = t.app.close_at_end(timer(&id)).await.unwrap();
        assert!(done.done);
        t.publish_pending().await;
        assert_eq!(t.ended("v1=").len(), 1);
        assert_eq!(t.bid(&t.bidder(1), &id, 30_000).await.code(), "auction_not_active");
        // AND a timer waking after the end does nothing more
        assert!(t.app.close_at_end(timer(&id)).await.unwrap().done);
        assert_eq!(t.get(&id).await.body["auction"]["endedBy"], "schedule");
    }
}

scenario! {
    async fn a_maximum_answers_rivals_and_never_leaves_the_server(t) {
        // GIVEN viewers for Ada, Bob and a watcher, on an auction from 100.00 with a 1.00 step
        let id = t.auction().await;
        let (ada, bob, cy) = (t.bidder(1), t.bidder(2), t.bidder(3));
        for (conn, token) in [("ada=", &ada), ("bob=", &bob), ("watch=", &t.viewer("watch="))] {
            assert_eq!(t.connect(conn, &id, token).await, 200);
        }
        let mut bodies = Vec::new();
        // WHEN Ada gives a maximum of 987.65
        let r = t.bid_raw(Some(&ada), &id, Some(json!({"maxAmount": 98_765}).to_string()), None).await;
        assert_eq!(r.status, 201, "{}", r.body);
        // THEN she leads at the starting price
        assert_eq!((r.body["leading"].as_bool(), r.body["currentPrice"].as_i64()), (Some(true), Some(10_000)));
        bodies.push(r.body.clone());
        // WHEN Bob bids 200.00 THEN it is accepted and answered at once: Ada leads at 201.00
        let r = t.bid(&bob, &id, 20_000).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!((r.body["leading"].as_bool(), r.body["currentPrice"].as_i64()), (Some(false), Some(20_100)));
        bodies.push(r.body.clone());
        // AND Bob's own sockets are told he was outbid (the watcher's and Ada's are not)
        let outbid = |conn: &str| {
            t.events(conn).into_iter().filter_map(|(_, e)| match e {
                Event::BidOutbid(o) => Some((o.amount, o.minimum_bid)),
                _ => None,
            }).collect::<Vec<_>>()
        };
        assert_eq!(outbid("bob="), vec![(20_100, 20_200)]);
        assert!(outbid("ada=").is_empty() && outbid("watch=").is_empty());
        // AND everyone saw both bids, the proxy's like any other, each with its bidder's public id
        let placed: Vec<i64> = t.events("watch=").into_iter().filter_map(|(_, e)| match e {
            Event::BidPlaced(b) => Some(b.amount),
            _ => None,
        }).collect();
        assert_eq!(placed, vec![10_000, 20_000, 20_100]);
        // AND raising her own maximum moves nothing; a plain bid of hers is already_leading
        let r = t.bid_raw(Some(&ada), &id, Some(json!({"maxAmount": 99_000}).to_string()), None).await;
        assert_eq!((r.status, r.body["bid"].is_null(), r.body["currentPrice"].as_i64()), (201, true, Some(20_100)));
        bodies.push(r.body.clone());
        assert_eq!(t.bid(&ada, &id, 30_000).await.code(), "already_leading");
        // WHEN Cy bids above her maximum THEN Cy leads and Ada is told
        let r = t.bid(&cy, &id, 100_000).await;
        assert_eq!((r.status, r.body["leading"].as_bool()), (201, Some(true)), "{}", r.body);
        bodies.push(r.body.clone());
        assert_eq!(outbid("ada="), vec![(100_000, 100_100)]);
        // THEN no answer, view, frame or error ever carried a maximum
        bodies.push(t.get(&id).await.body);
        bodies.push(t.bid(&bob, &id, 1).await.body);
        let frames: Vec<String> = ["ada=", "bob=", "watch="].iter()
            .flat_map(|c| t.frames(c))
            .map(|f| String::from_utf8(f.to_bytes().unwrap()).unwrap())
            .collect();
        for text in bodies.iter().map(|b| b.to_string()).chain(frames) {
            assert!(!text.contains("98765") && !text.contains("99000"), "a maximum leaked: {text}");
            assert!(!text.contains("bidder-"), "an internal user id leaked: {text}");
        }
    }
}

scenario! {
    async fn below_a_hidden_reserve_the_auction_ends_without_a_winner(t) {
        let r = t.create(&t.seller(), json!({"title": "Lamp", "startingPrice": 10_000, "reservePrice": 54_321, "durationSeconds": 60})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["auction"]["auctionId"].as_str().unwrap().to_owned();
        assert_eq!((r.body["auction"]["hasReserve"].as_bool(), r.body["auction"]["reserveMet"].as_bool()), (Some(true), Some(false)));
        assert!(!r.body.to_string().contains("54321"), "the reserve is hidden: {}", r.body);
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        assert_eq!(t.bid(&t.bidder(1), &id, 20_000).await.status, 201);
        // Deliveries say whether the reserve is met
        assert!(t.events("v1=").iter().any(|(_, e)| matches!(e, Event::AuctionReserve(r) if !r.reserve_met)));
        t.clock.set(T0 + 60_000);
        assert!(t.app.close_at_end(CloseTimerEvent { auction_id: AuctionId::parse(&id).unwrap() }).await.unwrap().done);
        t.publish_pending().await;
        let ended = t.ended("v1=");
        assert_eq!(ended.len(), 1);
        let e = &ended[0].1;
        assert_eq!((&e.winner_id, &e.winner_name, e.final_price), (&None, &None, None));
        let view = t.get(&id).await.body;
        assert_eq!((view["auction"]["winnerName"].is_null(), view["auction"]["reserveMet"].as_bool()), (true, Some(false)));
    }
}

scenario! {
    async fn a_scheduled_auction_is_watched_before_it_opens(t) {
        let starts = T0 + 60_000;
        let r = t.create(&t.seller(), json!({"title": "Lamp", "startingPrice": 10_000, "startsAt": starts, "durationSeconds": 60})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["auction"]["auctionId"].as_str().unwrap().to_owned();
        assert_eq!(r.body["auction"]["status"], "scheduled");
        assert_eq!(r.body["auction"]["endsAt"], starts + 60_000, "the duration counts from the start");
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200, "viewers may wait for the start");
        let early = t.bid(&t.bidder(1), &id, 10_000).await;
        assert_eq!((early.status, early.code(), early.body["startsAt"].as_i64()), (409, "auction_not_started", Some(starts)));
        t.clock.set(starts);
        assert_eq!(t.get(&id).await.body["auction"]["status"], "active");
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
    }
}

scenario! {
    async fn every_frame_carries_the_server_time(t) {
        let id = t.auction().await;
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        t.clock.set(T0 + 1_234);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        let frames = t.frames("v1=");
        assert!(!frames.is_empty());
        assert!(frames.iter().all(|f| f.server_time == T0 + 1_234), "{frames:?}");
    }
}

#[tokio::test]
async fn new_create_and_bid_fields_are_validated() {
    let t = auction_tests::harness::TestApp::sqlite();
    let seller = t.seller();
    let base = json!({"title": "Lamp", "startingPrice": 1_000, "durationSeconds": 60});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("softCloseSeconds", json!(301)), "softCloseSeconds"),
        (with("softCloseSeconds", json!(-1)), "softCloseSeconds"),
        (with("increments", json!([[100, 50]])), "increments"),
        (
            with("increments", json!([[0, 100], [0, 200]])),
            "increments",
        ),
        (with("increments", json!("steps")), "increments"),
        (with("startsAt", json!(T0 - 1)), "startsAt"),
        (with("reservePrice", json!(0)), "reservePrice"),
    ] {
        let r = t.create(&seller, body.clone()).await;
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some(field)),
            "{body}: {}",
            r.body
        );
    }
    let mut both = with("increments", json!([[0, 100]]));
    both["minIncrement"] = json!(100);
    assert_eq!(t.create(&seller, both).await.status, 422);
    let r = t
        .create(&seller, with("increments", json!([[0, 25], [2_000, 100]])))
        .await;
    assert_eq!(
        r.body["auction"]["increments"],
        json!([[0, 25], [2_000, 100]])
    );
    let id = t.auction().await;
    let r = t
        .bid_raw(
            Some(&t.bidder(1)),
            &id,
            Some(json!({"amount": 10_000, "maxAmount": 20_000}).to_string()),
            None,
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_amount"));
    let r = t
        .bid_raw(Some(&t.bidder(1)), &id, Some(json!({}).to_string()), None)
        .await;
    assert_eq!((r.status, r.code()), (422, "invalid_amount"));
}

scenario! {
    async fn viewers_hear_the_viewer_count_as_viewers_come_and_go(t) {
        let id = t.auction().await;
        let counts = |conn: &str| t.viewer_counts(conn);
        for v in ["v1=", "v2=", "v3="] {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        // Three joins in the same 2 s: one job, one count
        t.publish_pending().await;
        assert_eq!(counts("v1="), vec![3]);
        // Two seconds later one leaves: the others hear it
        t.clock.advance(2_000);
        assert_eq!(t.disconnect("v3=").await, 200);
        t.publish_pending().await;
        assert_eq!(counts("v1="), vec![3, 2]);
        assert_eq!(counts("v3="), vec![3]);
        // A bid delivery after the interval carries the count too (unchanged here, still told)
        t.clock.advance(2_000);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        assert_eq!(counts("v2="), vec![3, 2, 2]);
    }
}

scenario! {
    async fn the_description_is_on_the_auctions_page_and_never_in_what_bids_rewrite(t) {
        // GIVEN an auction with a description near the 4,000-byte limit
        let seller = t.seller();
        let description = format!("Double-stroke, 1955 — {}", "🦀".repeat(990));
        let r = t
            .create(&seller, json!({"title": "Leica M3", "description": description, "startingPrice": 10_000, "minIncrement": 100, "durationSeconds": 300}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["auction"]["description"], description.as_str());
        let id = r.body["auction"]["auctionId"].as_str().unwrap().to_owned();

        // WHEN bids are accepted on it
        for (n, amount) in [(1, 10_000), (2, 10_100), (1, 10_200)] {
            assert_eq!(t.bid(&t.bidder(n), &id, amount).await.status, 201);
        }

        // THEN the auction's page shows it whole, beside the state the bids made
        let page = t.get(&id).await;
        assert_eq!(page.body["auction"]["description"], description.as_str());
        assert_eq!(page.body["auction"]["bidCount"], 3);
        // AND the listing, a summary, does not carry it
        let list = t.list().await;
        let entry = list.body["auctions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["auctionId"] == id.as_str())
            .expect("listed");
        assert!(entry.get("description").is_none(), "{entry}");
        // AND the auction item every bid rewrites holds none of it
        let state = serde_json::to_string(&t.auction_state(&id).await).unwrap();
        assert!(!state.contains("description") && !state.contains("🦀"), "{state}");
        // AND the early end's answer shows it too
        let r = t.end(&t.admin(), &id).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["auction"]["description"], description.as_str());
    }
}

#[tokio::test]
async fn text_limits_count_bytes_not_characters() {
    let t = auction_tests::harness::TestApp::sqlite();
    let seller = t.seller();
    // 1,000 four-byte emoji: 1,000 characters, 4,000 bytes — the most a description may be
    let at_limit = "🦀".repeat(1_000);
    let r = t
        .create(&seller, json!({"title": "Lamp", "description": at_limit, "startingPrice": 1_000, "durationSeconds": 60}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // one more byte is refused
    let over = format!("{at_limit}x");
    let r = t
        .create(&seller, json!({"title": "Lamp", "description": over, "startingPrice": 1_000, "durationSeconds": 60}))
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("description")),
        "{}",
        r.body
    );
    // 4,000 emoji (the old character limit) are 16 KB: refused
    let r = t
        .create(&seller, json!({"title": "Lamp", "description": "🦀".repeat(4_000), "startingPrice": 1_000, "durationSeconds": 60}))
        .await;
    assert!(r.status == 422 || r.status == 413, "{}", r.body);
    // a title of 100 emoji is 400 bytes: over the 300-byte limit
    let r = t
        .create(
            &seller,
            json!({"title": "🦀".repeat(100), "startingPrice": 1_000, "durationSeconds": 60}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("title")),
        "{}",
        r.body
    );
}
