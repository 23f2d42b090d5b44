//! Issue 11 ("Safe in public"), on every store through the real handlers: a bid flood from one account is
//! held at its rate (429 + Retry-After) while others bid on; a bid below a known minimum costs no store
//! call; a seller's open auctions are capped; one close run drains a flood of due auctions; the listing is
//! a paged summary with a validated cursor; ended auctions are purged after their retention.

use auction::domain::{
    new_auction, AuctionDraft, AuctionId, Closing, Money, Principal, Role, UserId,
};
use auction_tests::harness::{http_event, reply, Reply, Req, TestApp, T0};
use auction_tests::scenario;
use serde_json::json;
use std::collections::HashSet;

fn lot() -> serde_json::Value {
    json!({"title": "Lot", "startingPrice": 1_000, "minIncrement": 100, "durationSeconds": 300})
}

async fn list_page<S: auction::ports::Store>(t: &TestApp<S>, query: Option<(&str, &str)>) -> Reply {
    let req = http_event(
        "list-auctions.json",
        &Req {
            query,
            ..Default::default()
        },
    );
    reply(t.app.list_auctions(req).await)
}

scenario! {
    async fn a_bid_flood_from_one_account_gets_429_while_another_bidder_is_accepted(t) {
        let mut t = t;
        t.app.settings.limits.bid_rate_limit = 5;
        t.app.settings.limits.bid_rate_window = std::time::Duration::from_secs(10);
        let id = t.auction().await;
        // (two other bidders taking turns: a leader may not outbid themselves)
        let (flooder, others) = (t.bidder(1), [t.bidder(2), t.bidder(3)]);

        // GIVEN one account sending 12 ever-higher bids inside one window, another bidding in between
        let mut limited = 0;
        let mut through = 0;
        let mut other_price = 0;
        for i in 0..12 {
            let r = t.bid(&flooder, &id, 10_000 + 1_000 * i).await;
            match r.status {
                // Accepted, or refused because it led already (a store call, counted like any other)
                201 => through += 1,
                409 => assert_eq!(r.code(), "already_leading", "{}", r.body),
                429 => {
                    limited += 1;
                    assert_eq!(r.code(), "rate_limited", "{}", r.body);
                    // THEN each refusal says when to come back, in the header and in the body
                    let after = r.headers.get("retry-after").expect("Retry-After").to_str().unwrap();
                    let secs: u64 = after.parse().unwrap();
                    assert!((1..=10).contains(&secs), "{after}");
                    assert_eq!(r.body["retryAfterSeconds"], secs);
                }
                s => panic!("unexpected {s}: {}", r.body),
            }
            if i % 3 == 2 {
                other_price = 10_000 + 1_000 * i + 500;
                let r = t.bid(&others[(i as usize / 3) % 2], &id, other_price).await;
                assert_eq!(r.status, 201, "the other bidder is never limited: {}", r.body);
            }
        }
        // THEN the flooder got exactly `limit` bids to the store (accepted, or already leading)
        assert_eq!(limited, 12 - 5);
        let state = t.auction_state(&id).await;
        assert_eq!(state.bid_count, through + 4, "the flooder's accepted ones and the other's 4");
        // AND a refused bid changed nothing: the price is the highest accepted one
        assert!(state.current_price.cents() >= other_price);
        // AND after the window the flooder may bid again (an other bidder leads: the last bid was theirs)
        t.clock.advance(10_000);
        let r = t.bid(&flooder, &id, state.minimum_bid.cents()).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

scenario! {
    async fn a_bid_below_a_known_minimum_is_refused_without_a_store_call(t) {
        let mut t = t;
        t.app.settings.limits.bid_rate_limit = 3;
        let id = t.auction().await;
        let bidder = t.bidder(1);
        assert_eq!(t.bid(&t.bidder(2), &id, 20_000).await.status, 201);
        // GIVEN a refusal that tells this process the minimum (20,100)
        let r = t.bid(&bidder, &id, 15_000).await;
        assert_eq!((r.status, r.code()), (409, "bid_too_low"));
        assert_eq!(r.body["minimumBid"], 20_100);
        // AND the auction then ended behind the process's back (a store call would now say
        // auction_not_active)
        let aid = AuctionId::parse(&id).unwrap();
        t.store()
            .close_auction(
                &aid,
                T0 + 1,
                &Closing::Early(auction::domain::EndedBy {
                    user_id: auction::domain::UserId::parse("admin").unwrap(),
                    role: auction::domain::Role::Admin,
                }),
            )
            .await
            .unwrap();

        // WHEN the same bidder sends 10 more bids below that minimum
        for amount in [15_000, 20_000, 20_099, 100, 19_999, 15_001, 16_000, 17_000, 18_000, 19_000] {
            let r = t.bid(&bidder, &id, amount).await;
            // THEN each is refused from memory: not the store's answer (auction_not_active), and not even
            // the rate limiter's (its limit of 3 would have answered 429 by now)
            assert_eq!((r.status, r.code()), (409, "bid_too_low"), "{amount}: {}", r.body);
            assert_eq!(r.body["minimumBid"], 20_100);
            assert_eq!(r.body["currentPrice"], 20_000);
        }
        // AND a keyed bid (perhaps the retry of an accepted one) still goes to the store
        let r = t.bid_with_key(&bidder, &id, 15_000, Some("k-1")).await;
        assert_eq!((r.status, r.code()), (409, "auction_not_active"), "{}", r.body);
        // AND at or above the minimum the store decides
        let r = t.bid(&bidder, &id, 20_100).await;
        assert_eq!((r.status, r.code()), (409, "auction_not_active"), "{}", r.body);
    }
}

scenario! {
    async fn a_sellers_open_auctions_are_capped_and_a_closed_one_frees_its_slot(t) {
        let mut t = t;
        t.app.settings.limits.max_active_auctions_per_seller = 3;
        let seller = t.seller();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let r = t.create(&seller, lot()).await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.push(r.body["auction"]["auctionId"].as_str().unwrap().to_owned());
        }
        // WHEN the seller creates a 4th, THEN it is refused with its code and nothing is listed for it
        let r = t.create(&seller, lot()).await;
        assert_eq!((r.status, r.code()), (429, "too_many_auctions"), "{}", r.body);
        assert_eq!(r.body["limit"], 3);
        let listed = list_page(&t, None).await;
        assert_eq!(listed.body["auctions"].as_array().map(Vec::len), Some(3));
        // AND another seller is not affected
        let other = t.token("seller-2", "Other", Role::Seller);
        assert_eq!(t.create(&other, lot()).await.status, 201);
        // AND 6 creates racing at the quota: none gets in
        let racing: Vec<_> = (0..6).map(|_| t.create(&seller, lot())).collect();
        for r in futures::future::join_all(racing).await {
            assert_eq!(r.code(), "too_many_auctions");
        }
        // WHEN one auction ends (the seller's early end), THEN exactly one more fits
        assert_eq!(t.end(&seller, &ids[0]).await.status, 200);
        assert_eq!(t.create(&seller, lot()).await.status, 201);
        assert_eq!(t.create(&seller, lot()).await.code(), "too_many_auctions");
        // AND ending it again (already ended) gives nothing more back
        assert_eq!(t.end(&seller, &ids[0]).await.status, 200);
        assert_eq!(t.create(&seller, lot()).await.code(), "too_many_auctions");
        // AND the schedule's close frees slots too
        t.clock.set(T0 + 300_000);
        let report = t.close_run().await;
        assert!(report.closed.len() >= 3, "{report:?}");
        t.clock.set(T0 + 300_001);
        assert_eq!(t.create(&seller, lot()).await.status, 201);
    }
}

scenario! {
    async fn one_close_run_drains_200_due_auctions(t) {
        // GIVEN 200 auctions of 200 sellers ending together; a run takes 25 per batch
        let mut t = t;
        t.app.settings.close_batch = 25;
        let mut created = Vec::new();
        for i in 0..200 {
            let seller = Principal {
                user_id: UserId::parse(&format!("seller-{i}")).unwrap(),
                name: format!("Seller {i}"),
                role: Role::Seller,
            };
            let draft = AuctionDraft {
                viewer_shards: 1,
                title: format!("Lot {i}"),
                starting_price: Money::new(1_000).unwrap(),
                increments: auction::domain::Ladder::fixed(Money::new(100).unwrap()),
                soft_close_ms: 0,
                reserve_price: None,
                starts_at: 0,
                ends_at: T0 + 60_000,
            };
            let id = AuctionId::parse(&ulid::Ulid::generate().to_string()).unwrap();
            created.push(new_auction(id, &seller, draft, T0));
        }
        let none = auction::domain::AuctionDetails::default();
        let writes = created.iter().map(|a| t.store().create_auction(a, &none));
        for r in futures::future::join_all(writes).await {
            r.unwrap();
        }
        // WHEN one run starts after they all ended
        t.clock.set(T0 + 60_000);
        let report = t.close_run().await;
        // THEN it closed every one of them, in several batches
        let expected: HashSet<String> = created.iter().map(|a| a.auction_id.to_string()).collect();
        let closed: HashSet<String> = report.closed.iter().cloned().collect();
        assert_eq!(closed, expected, "every due auction is closed in one run");
        assert!(report.batches >= 8, "{} batches", report.batches);
        assert_eq!(report.errors, 0);
        // AND a second run finds nothing to close
        assert!(t.close_run().await.closed.is_empty());
    }
}

scenario! {
    async fn the_listing_is_a_paged_summary_with_a_validated_cursor(t) {
        let seller = t.seller();
        let mut ids = HashSet::new();
        for i in 0..7 {
            let body = json!({"title": format!("Lot {i}"), "description": "secret-ish long text",
                              "startingPrice": 1_000, "durationSeconds": 100 + i});
            let r = t.create(&seller, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.insert(r.body["auction"]["auctionId"].as_str().unwrap().to_owned());
        }
        // WHEN it is read 3 at a time
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let r = list_page(&t, Some(("limit", "3"))).await;
            let r = match &cursor {
                None => r,
                Some(c) => {
                    // Two query parameters: build the event by hand.
                    let mut e = auction_tests::harness::sample_event("list-auctions.json");
                    e["rawQueryString"] = json!(format!("limit=3&cursor={c}"));
                    e["queryStringParameters"] = json!({"limit": "3", "cursor": c});
                    let req = lambda_http::request::from_str(&e.to_string()).unwrap();
                    reply(t.app.list_auctions(req).await)
                }
            };
            assert_eq!(r.status, 200, "{}", r.body);
            pages += 1;
            let page = r.body["auctions"].as_array().unwrap().clone();
            assert!(page.len() <= 3);
            for a in &page {
                // THEN each entry is a summary: no description, no internal user id
                assert!(a.get("description").is_none(), "{a}");
                assert!(a.get("sellerId").is_none(), "{a}");
                assert!(!a.to_string().contains("seller-1"), "{a}");
                assert_eq!(a["sellerName"], "Sam Seller");
                assert!(a["currentPrice"].is_i64() && a["endsAt"].is_i64() && a["bidCount"].is_u64());
                seen.push(a["auctionId"].as_str().unwrap().to_owned());
            }
            match r.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => {
                    assert!(r.body["nextCursor"].is_null());
                    break;
                }
            }
            assert!(pages < 10, "the cursor moves on");
        }
        // THEN every auction appears once, in ending order
        assert_eq!(seen.len(), 7);
        assert_eq!(seen.iter().cloned().collect::<HashSet<_>>(), ids);
        assert!(pages >= 3);

        // AND hostile parameters keep their codes and change nothing
        for bad in ["x", "AAAA", "djE6MTpBVUNUSU9OI3g", &"Q".repeat(400)] {
            let r = list_page(&t, Some(("cursor", bad))).await;
            assert_eq!((r.status, r.code()), (400, "invalid_cursor"), "{bad:?}: {}", r.body);
        }
        for bad in ["0", "51", "-1", "abc", "1000000000000000000000"] {
            let r = list_page(&t, Some(("limit", bad))).await;
            assert_eq!((r.status, r.code()), (422, "validation_failed"), "{bad:?}: {}", r.body);
        }
        let r = list_page(&t, None).await;
        assert_eq!(r.body["auctions"].as_array().map(Vec::len), Some(7), "default page holds them");
    }
}

scenario! {
    async fn an_ended_auction_is_purged_with_its_bids_after_its_retention(t) {
        let mut t = t;
        t.app.settings.limits.retention_days = 2;
        let id = t.auction().await;
        assert_eq!(t.bid_with_key(&t.bidder(1), &id, 10_000, Some("k-1")).await.status, 201);
        t.clock.set(T0 + 300_000);
        let report = t.close_run().await;
        assert_eq!(report.closed, vec![id.clone()]);
        assert!(report.purged.is_empty());
        let aid = AuctionId::parse(&id).unwrap();

        // WHEN runs happen just before its retention has passed, THEN it is kept
        t.clock.set(T0 + 300_000 + 2 * 86_400_000 - 1);
        assert!(t.close_run().await.purged.is_empty());
        assert_eq!(t.get(&id).await.status, 200);

        // WHEN it has passed, THEN the auction and its bids are gone
        t.clock.set(T0 + 300_000 + 2 * 86_400_000);
        assert_eq!(t.close_run().await.purged, vec![id.clone()]);
        assert_eq!(t.get(&id).await.code(), "auction_not_found");
        assert!(t.store().recent_bids(&aid, 100).await.unwrap().is_empty());
        assert!(t.store().purge_due(T0 + 10 * 86_400_000, 100).await.unwrap().is_empty());
    }
}
