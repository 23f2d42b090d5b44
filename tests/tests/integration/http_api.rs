//! The HTTP API through the real handlers and the embedded store: every refusal has an exact status and
//! code and changes nothing.

use auction::domain::Role;
use auction_tests::harness::{Reply, TestApp, T0};
use serde_json::json;

/// Assert a refusal and that the auction did not change.
async fn refused(
    t: &TestApp<auction::store::sqlite::SqliteStore>,
    auction_id: &str,
    r: Reply,
    status: u16,
    code: &str,
) {
    assert_eq!((r.status, r.code()), (status, code), "body: {}", r.body);
    assert!(
        r.body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "every error has a message: {}",
        r.body
    );
    let a = t.auction_state(auction_id).await;
    assert_eq!(
        (a.bid_count, a.seq),
        (0, 0),
        "a refused request changed the auction"
    );
    assert!(t.get(auction_id).await.body["bids"]
        .as_array()
        .is_some_and(Vec::is_empty));
}

#[tokio::test]
async fn bad_bid_bodies_are_refused_with_exact_codes() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let tok = t.bidder(1);
    let cases: Vec<(Option<String>, u16, &str)> = vec![
        (Some("{\"amount\": 12".into()), 400, "invalid_json"),
        (Some("not json".into()), 400, "invalid_json"),
        (None, 400, "empty_body"),
        (Some("   ".into()), 400, "empty_body"),
        (Some("[12500]".into()), 422, "validation_failed"),
        (
            Some(json!({"amount": "12500"}).to_string()),
            422,
            "invalid_amount",
        ),
        (
            Some(json!({"amount": true}).to_string()),
            422,
            "invalid_amount",
        ),
        (
            Some(json!({"amount": null}).to_string()),
            422,
            "invalid_amount",
        ),
        (Some(json!({}).to_string()), 422, "invalid_amount"),
        (
            Some(json!({"bid": 12500}).to_string()),
            422,
            "invalid_amount",
        ),
        (
            Some(json!({"amount": -100}).to_string()),
            422,
            "invalid_amount",
        ),
        (
            Some(json!({"amount": 0}).to_string()),
            422,
            "invalid_amount",
        ),
        (Some("{\"amount\": 125.5}".into()), 422, "invalid_amount"),
        (Some("{\"amount\": 12500.0}".into()), 422, "invalid_amount"),
        (Some("{\"amount\": 1e4}".into()), 422, "invalid_amount"),
        (
            Some(json!({"amount": "NaN"}).to_string()),
            422,
            "invalid_amount",
        ),
        (
            Some(json!({"amount": "Infinity"}).to_string()),
            422,
            "invalid_amount",
        ),
        (Some("{\"amount\": NaN}".into()), 400, "invalid_json"),
        (
            Some("{\"amount\": 9223372036854775808}".into()),
            422,
            "invalid_amount",
        ),
        (
            Some("{\"amount\": 99999999999999999999999}".into()),
            422,
            "invalid_amount",
        ),
        (
            Some("{\"amount\": 9223372036854775807}".into()),
            422,
            "invalid_amount",
        ),
        (
            Some(format!(
                "{{\"amount\": 12500, \"pad\": \"{}\"}}",
                "x".repeat(17 * 1024)
            )),
            413,
            "payload_too_large",
        ),
    ];
    for (body, status, code) in cases {
        let shown = body
            .as_deref()
            .map(|b| b.chars().take(60).collect::<String>());
        let r = t.bid_raw(Some(&tok), &id, body, None).await;
        assert_eq!(
            (r.status, r.code()),
            (status, code),
            "body {shown:?} -> {}",
            r.body
        );
        refused(&t, &id, r, status, code).await;
    }
}

#[tokio::test]
async fn bid_auth_failures_are_401() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let body = Some(json!({"amount": 12_500}).to_string());
    let r = t.bid_raw(None, &id, body.clone(), None).await;
    refused(&t, &id, r, 401, "missing_token").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let issuer = auction::auth::TokenIssuer::new(&secrecy::SecretString::from(
        auction_tests::harness::SECRET,
    ))
    .unwrap();
    let expired = issuer
        .mint_for("bidder-1", "Bidder 1", Role::Bidder, now - 7200, 60)
        .unwrap();
    let r = t.bid_raw(Some(&expired), &id, body.clone(), None).await;
    refused(&t, &id, r, 401, "token_expired").await;
    let forger = auction::auth::TokenIssuer::new(&secrecy::SecretString::from(
        "some-other-secret-some-other-secret",
    ))
    .unwrap();
    let forged = forger
        .mint_for("bidder-1", "Bidder 1", Role::Bidder, now, 60)
        .unwrap();
    let r = t.bid_raw(Some(&forged), &id, body.clone(), None).await;
    refused(&t, &id, r, 401, "invalid_token").await;
    // alg: none, with a claims part that would otherwise be valid.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(
            json!({"sub":"bidder-1","name":"B","role":"bidder","exp": now + 60}).to_string()
        )
    );
    let r = t.bid_raw(Some(&none), &id, body.clone(), None).await;
    refused(&t, &id, r, 401, "invalid_token").await;
    let r = t.bid_raw(Some("not-a-jwt"), &id, body, None).await;
    refused(&t, &id, r, 401, "invalid_token").await;
}

#[tokio::test]
async fn bids_refused_by_the_conditional_write() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    // Own auction.
    let r = t.bid(&t.seller(), &id, 20_000).await;
    refused(&t, &id, r, 403, "own_auction").await;
    // Below the starting price: 409 with the price to beat.
    let r = t.bid(&t.bidder(1), &id, 9_999).await;
    assert_eq!(
        (
            r.body["currentPrice"].as_i64(),
            r.body["minimumBid"].as_i64()
        ),
        (Some(10_000), Some(10_000))
    );
    refused(&t, &id, r, 409, "bid_too_low").await;
    // Unknown auction and malformed ids.
    let r = t
        .bid(&t.bidder(1), "01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ", 20_000)
        .await;
    assert_eq!((r.status, r.code()), (404, "auction_not_found"));
    for bad in ["a#b", "AUCTION#x", &"a".repeat(1024)] {
        let r = t.bid(&t.bidder(1), bad, 20_000).await;
        assert_eq!((r.status, r.code()), (400, "invalid_id"), "{bad}");
    }
    // A first bid at the starting price is accepted; the next must add the increment.
    assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
    let r = t.bid(&t.bidder(2), &id, 10_050).await;
    assert_eq!(
        (r.status, r.code(), r.body["minimumBid"].as_i64()),
        (409, "bid_too_low", Some(10_100))
    );
    // After endsAt, before the closer ran: refused.
    t.clock.set(T0 + 300_000);
    let r = t.bid(&t.bidder(2), &id, 50_000).await;
    assert_eq!((r.status, r.code()), (409, "auction_not_active"));
    // Ended auction.
    t.close_run().await;
    let r = t.bid(&t.bidder(2), &id, 60_000).await;
    assert_eq!((r.status, r.code()), (409, "auction_not_active"));
    let a = t.auction_state(&id).await;
    assert_eq!((a.bid_count, a.current_price.cents()), (1, 10_000));
}

#[tokio::test]
async fn accepted_bid_response_and_idempotent_retry() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let tok = t.bidder(1);
    let body = Some(json!({"amount": 12_500}).to_string());
    let first = t
        .bid_raw(Some(&tok), &id, body.clone(), Some("key-1"))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["bid"]["amount"], 12_500);
    assert_eq!(first.body["bid"]["bidderName"], "Bidder 1");
    assert!(
        first.body["bid"]["bidderId"]
            .as_str()
            .is_some_and(|id| id.starts_with("p-")),
        "a bid carries its bidder's public id, never the internal one: {}",
        first.body
    );
    assert!(
        !first.body.to_string().contains("u-bidder"),
        "{}",
        first.body
    );
    assert_eq!(
        first.body["status"],
        json!({"currentPrice": 12_500, "bidCount": 1, "endsAt": T0 + 300_000})
    );
    assert_eq!(first.body["seq"], 1);
    let again = t.bid_raw(Some(&tok), &id, body, Some("key-1")).await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body, first.body,
        "a retry returns the original result"
    );
    assert!(again.replayed(), "a replay");
    let other = t
        .bid_raw(
            Some(&tok),
            &id,
            Some(json!({"amount": 20_000}).to_string()),
            Some("key-1"),
        )
        .await;
    assert_eq!(
        (other.status, other.code()),
        (422, "idempotency_key_reused")
    );
    let bad_key = t
        .bid_raw(
            Some(&tok),
            &id,
            Some(json!({"amount": 20_000}).to_string()),
            Some("a#b"),
        )
        .await;
    assert_eq!((bad_key.status, bad_key.code()), (422, "validation_failed"));
    assert_eq!(t.auction_state(&id).await.bid_count, 1);
}

#[tokio::test]
async fn create_auction_validation_and_roles() {
    let t = TestApp::sqlite();
    let ok = json!({"title": "Lamp", "startingPrice": 1_000, "durationSeconds": 60});
    let r = t.create(&t.bidder(1), ok.clone()).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let admin = t.token("admin-1", "Ada Admin", Role::Admin);
    let r = t.create(&admin, ok.clone()).await;
    assert_eq!(r.status, 201);
    assert_eq!(
        r.body["auction"]["minIncrement"], 100,
        "the default ladder's step at $10 is $1"
    );
    assert_eq!(r.body["auction"]["increments"][1], json!([3_000, 200]));
    assert_eq!(r.body["auction"]["softCloseSeconds"], 10);
    assert_eq!(r.body["auction"]["endsAt"], T0 + 60_000);
    let seller = t.seller();
    let cases = vec![
        (
            json!({"title": "x".repeat(301), "startingPrice": 1_000, "durationSeconds": 60}),
            "title",
        ),
        (
            json!({"title": "   ", "startingPrice": 1_000, "durationSeconds": 60}),
            "title",
        ),
        (
            json!({"startingPrice": 1_000, "durationSeconds": 60}),
            "title",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 10.5, "durationSeconds": 60}),
            "startingPrice",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 0, "durationSeconds": 60}),
            "startingPrice",
        ),
        (
            json!({"title": "Lamp", "durationSeconds": 60}),
            "startingPrice",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 1_000, "minIncrement": -1, "durationSeconds": 60}),
            "minIncrement",
        ),
        (json!({"title": "Lamp", "startingPrice": 1_000}), "endsAt"),
        (
            json!({"title": "Lamp", "startingPrice": 1_000, "durationSeconds": 5}),
            "durationSeconds",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 1_000, "endsAt": T0 - 1}),
            "endsAt",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 1_000, "endsAt": (T0 + 60_000) / 1000}),
            "endsAt",
        ),
        (
            json!({"title": "Lamp", "startingPrice": 1_000, "endsAt": T0 + 60_000, "durationSeconds": 60}),
            "endsAt",
        ),
        (
            json!({"title": "Lamp", "description": "x".repeat(4001), "startingPrice": 1_000, "durationSeconds": 60}),
            "description",
        ),
    ];
    for (body, field) in cases {
        let r = t.create(&seller, body.clone()).await;
        assert_eq!(r.status, 422, "{body} -> {}", r.body);
        assert_eq!(r.body["field"], field, "{body} -> {}", r.body);
    }
    assert_eq!(
        t.list().await.body["auctions"].as_array().map(Vec::len),
        Some(1),
        "nothing else was created"
    );
}

#[tokio::test]
async fn end_auction_roles() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let r = t.end(&t.bidder(1), &id).await;
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let other_seller = t.token("seller-2", "Other Seller", Role::Seller);
    let r = t.end(&other_seller, &id).await;
    assert_eq!((r.status, r.code()), (403, "not_seller"));
    assert_eq!(
        t.auction_state(&id).await.status,
        auction::domain::AuctionStatus::Active
    );
    let r = t.end(&t.seller(), "01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ").await;
    assert_eq!((r.status, r.code()), (404, "auction_not_found"));
    let r = t.end(&t.seller(), &id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["auction"]["status"], "ended");
    let r = t
        .end(&t.token("admin-1", "Ada Admin", Role::Admin), &id)
        .await;
    assert_eq!(
        (r.status, r.body["alreadyEnded"].as_bool()),
        (200, Some(true))
    );
}

#[tokio::test]
async fn get_and_list_show_public_state() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    for (n, amount) in [(1, 10_000), (2, 10_100), (1, 10_500)] {
        assert_eq!(t.bid(&t.bidder(n), &id, amount).await.status, 201);
    }
    let r = t.get(&id).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["auction"]["currentPrice"], 10_500);
    assert_eq!(r.body["auction"]["bidCount"], 3);
    assert_eq!(r.body["auction"]["highBidderName"], "Bidder 1");
    let bids = r.body["bids"].as_array().unwrap();
    let amounts: Vec<i64> = bids.iter().map(|b| b["amount"].as_i64().unwrap()).collect();
    assert_eq!(amounts, vec![10_500, 10_100, 10_000], "newest first");
    assert!(bids.iter().all(|b| b["bidderId"]
        .as_str()
        .is_some_and(|id| id.starts_with("p-") && !id.contains("bidder"))
        && b["bidderName"].is_string()));
    assert_eq!(
        t.get("01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ").await.code(),
        "auction_not_found"
    );
    let list = t.list().await;
    assert_eq!(list.body["auctions"][0]["auctionId"], id.as_str());
    t.clock.set(T0 + 300_000);
    assert_eq!(
        t.list().await.body["auctions"].as_array().map(Vec::len),
        Some(0),
        "past endsAt is not listed"
    );
}

/// Issue 11, item 10: a key given twice is refused (serde_json alone keeps the last one), in a bid and in a
/// create, and changes nothing.
#[tokio::test]
async fn duplicate_json_keys_are_refused() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    for body in [
        r#"{"amount": 1, "amount": 20000}"#,
        r#"{"amount": 20000, "amount": 20000}"#,
    ] {
        let r = t
            .bid_raw(Some(&t.bidder(1)), &id, Some(body.into()), None)
            .await;
        refused(&t, &id, r, 400, "invalid_json").await;
    }
    let r = t
        .create(
            &t.seller(),
            serde_json::from_str::<serde_json::Value>("{}").unwrap(),
        )
        .await;
    assert_eq!(r.status, 422);
    let req = auction_tests::harness::http_event(
        "create-auction.json",
        &auction_tests::harness::Req {
            token: Some(&t.seller()),
            body: Some(
                r#"{"title": "A", "title": "B", "startingPrice": 100, "durationSeconds": 60}"#
                    .into(),
            ),
            ..Default::default()
        },
    );
    let r = auction_tests::harness::reply(t.app.create_auction(req).await);
    assert_eq!((r.status, r.code()), (400, "invalid_json"), "{}", r.body);
    assert_eq!(t.list().await.body["auctions"].as_array().unwrap().len(), 1);
}
