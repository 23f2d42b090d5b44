//! Every sample event in `events/` is parsed as the Lambda runtime would and run through its handler.

use auction::domain::{new_auction, AuctionDraft, AuctionId, Money, Principal, Role, UserId};
use auction::frames::Event;
use auction::ports::AuctionStore;
use auction_tests::harness::{events_dir, TestApp, T0};
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_lambda_events::eventbridge::EventBridgeEvent;

const SAMPLE_AUCTION: &str = "01JD5Z8Q4W3N6R2T9V7X0Y1ABC";
const SAMPLE_CONNECTION: &str = "L0SM9cOFvHcCIhw=";

fn read(name: &str, token: &str) -> String {
    std::fs::read_to_string(events_dir().join(name))
        .expect("sample event")
        .replace("REPLACE_WITH_TOKEN", token)
}

fn http(name: &str, token: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&read(name, token)).expect("HTTP API v2 event parses")
}

fn ws(name: &str, token: &str) -> ApiGatewayWebsocketProxyRequest {
    serde_json::from_str(&read(name, token)).expect("WebSocket event parses")
}

#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let t = TestApp::sqlite();
    let seller = t.seller();
    let bidder = t.bidder(1);
    // The auction the samples refer to.
    let principal = Principal {
        user_id: UserId::parse("seller-1").unwrap(),
        name: "Sam Seller".into(),
        role: Role::Seller,
    };
    let draft = AuctionDraft {
        viewer_shards: 4,
        title: "Vintage Leica M3".into(),
        starting_price: Money::new(10_000).unwrap(),
        increments: auction::domain::Ladder::fixed(Money::new(500).unwrap()),
        soft_close_ms: 0,
        reserve_price: None,
        starts_at: 0,
        ends_at: T0 + 300_000,
    };
    let sample = new_auction(
        AuctionId::parse(SAMPLE_AUCTION).unwrap(),
        &principal,
        draft,
        T0,
    );
    t.store()
        .create_auction(&sample, &Default::default())
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut run = |name: &'static str| {
        seen.push(name);
        name
    };

    let ticket = t.ticket(&bidder, SAMPLE_AUCTION).await.body["ticket"]
        .as_str()
        .expect("a ticket")
        .to_owned();
    assert_eq!(
        t.app
            .ws_connect(ws(run("ws-connect.json"), &ticket))
            .await
            .status_code,
        200
    );
    assert_eq!(
        t.app
            .ws_default(ws(run("ws-default.json"), ""))
            .await
            .status_code,
        200
    );
    assert_eq!(
        t.app
            .ws_default(ws(run("ws-default-publish.json"), ""))
            .await
            .status_code,
        400
    );

    let r = t
        .app
        .create_auction(http(run("create-auction.json"), &seller))
        .await;
    assert_eq!(r.status(), 201);
    let r = t.app.get_auction(http(run("get-auction.json"), "")).await;
    assert_eq!(r.status(), 200);
    let r = t
        .app
        .list_auctions(http(run("list-auctions.json"), ""))
        .await;
    assert_eq!(r.status(), 200);
    let r = t.app.place_bid(http(run("place-bid.json"), &bidder)).await;
    assert_eq!(r.status(), 201);
    t.publish_pending().await;
    let r = t.app.place_bid(http("place-bid.json", &bidder)).await;
    assert_eq!(
        r.status(),
        201,
        "the sample carries an Idempotency-Key: a resend is a replay"
    );
    assert_eq!(r.headers().get("idempotent-replayed").unwrap(), "true");
    // It has a bid: its seller may not end it early, an admin may.
    let r = t
        .app
        .end_auction(http(run("end-auction.json"), &seller))
        .await;
    assert_eq!(r.status(), 403);
    let r = t
        .app
        .end_auction(http("end-auction.json", &t.admin()))
        .await;
    assert_eq!(r.status(), 200);
    t.publish_pending().await;

    let frames = t.frames(SAMPLE_CONNECTION);
    let kinds: Vec<&str> = frames
        .iter()
        .map(|f| match &f.event {
            Event::AuctionStatus(_) => "status",
            Event::Error(_) => "error",
            Event::Batch(items)
                if items
                    .iter()
                    .any(|i| matches!(i.event, Event::AuctionEnded(_))) =>
            {
                "ended"
            }
            Event::Batch(_) => "bid",
            Event::AuctionEnded(_) => "ended",
            Event::BidPlaced(_) => "bid.placed",
            Event::AuctionViewers(_) => "viewers",
            Event::AuctionReserve(_) => "reserve",
            Event::BidOutbid(_) => "outbid",
        })
        .collect();
    assert_eq!(kinds, vec!["status", "error", "bid", "ended"]);
    assert_eq!(
        t.broadcaster().disconnected().len(),
        1,
        "the viewer was revoked at the end"
    );

    assert_eq!(
        t.app
            .ws_disconnect(ws(run("ws-disconnect.json"), ""))
            .await
            .status_code,
        200
    );

    let scheduled: EventBridgeEvent<serde_json::Value> =
        serde_json::from_str(&read(run("close-auctions.json"), ""))
            .expect("EventBridge event parses");
    assert_eq!(scheduled.detail_type, "Scheduled Event");
    t.clock.set(T0 + 10 * 60_000);
    let report = t.app.close_run().await.unwrap();
    assert_eq!(
        report.closed.len(),
        1,
        "the auction created from create-auction.json is due and closes"
    );

    // Every file in events/ was exercised.
    let mut files: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut seen: Vec<String> = seen.iter().map(|s| s.to_string()).collect();
    seen.sort();
    assert_eq!(files, seen);
}
