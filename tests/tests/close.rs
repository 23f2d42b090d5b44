//! Closing: exactly one transition with concurrent closers, winner announcement, revocation, recovery.

use auction::domain::{AuctionId, AuctionStatus, CloseOutcome};
use auction::frames::Event;
use auction::ports::{AuctionStore, ConnectionStore};
use auction_tests::harness::{TestApp, T0};

#[tokio::test]
async fn due_auction_closes_once_announces_winner_and_revokes_viewers() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let quiet = t.auction().await;
    for c in ["v1=", "v2="] {
        assert_eq!(t.connect(c, &id, &t.bidder(9)).await, 200);
    }
    assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
    assert_eq!(t.bid(&t.bidder(2), &id, 12_000).await.status, 201);
    let before = t.close_run().await;
    assert!(before.closed.is_empty(), "nothing is due before endsAt");
    assert_eq!(
        before.status_frames, 2,
        "viewers of active auctions get the periodic status"
    );

    t.clock.set(T0 + 300_000);
    let (a, b) = tokio::join!(t.close_run(), t.close_run());
    let mut closed = a.closed.clone();
    closed.extend(b.closed.clone());
    closed.sort();
    let mut expected = vec![id.clone(), quiet.clone()];
    expected.sort();
    assert_eq!(
        closed, expected,
        "each due auction is closed by exactly one of two concurrent runs"
    );

    let ended = t.auction_state(&id).await;
    assert_eq!(ended.status, AuctionStatus::Ended);
    assert!(ended.finalized);
    for c in ["v1=", "v2="] {
        let frames = t.frames(c);
        let last = frames.last().unwrap();
        let Event::AuctionEnded(e) = &last.event else {
            panic!("auction.ended expected, got {last:?}")
        };
        assert_eq!(e.winner_id.as_ref().map(|w| w.as_str()), Some("bidder-2"));
        assert_eq!(e.winner_name.as_deref(), Some("Bidder 2"));
        assert_eq!(e.final_price, Some(12_000));
        assert_eq!(
            frames
                .iter()
                .filter(|f| matches!(f.event, Event::AuctionEnded(_)))
                .count(),
            1
        );
        assert!(last.seq > 2, "the end frame outranks every bid frame");
    }
    let revoked = t.revoked();
    assert_eq!(revoked, vec!["v1=", "v2="]);
    assert!(t
        .store()
        .connections_for_auction(&AuctionId::parse(&id).unwrap())
        .await
        .unwrap()
        .is_empty());
    let no_bids = t.auction_state(&quiet).await;
    assert_eq!(
        (no_bids.status, no_bids.high_bid.clone()),
        (AuctionStatus::Ended, None)
    );
    assert_eq!(
        no_bids.ended_event(),
        auction::domain::AuctionEndedEvent {
            winner_id: None,
            winner_name: None,
            final_price: None
        }
    );
    let again = t.close_run().await;
    assert!(
        again.closed.is_empty() && again.recovered.is_empty(),
        "nothing happens twice"
    );
}

#[tokio::test]
async fn a_close_that_crashed_before_announcing_is_finished_by_the_next_run() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    assert_eq!(t.connect("v1=", &id, &t.bidder(9)).await, 200);
    assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
    t.clock.set(T0 + 300_000);
    // Simulated crash: the transition commits, then the process dies before announcing.
    let aid = AuctionId::parse(&id).unwrap();
    assert!(matches!(
        t.store()
            .close_auction(&aid, T0 + 300_000, false)
            .await
            .unwrap(),
        CloseOutcome::Closed(_)
    ));
    let too_soon = t.close_run().await;
    assert!(
        too_soon.recovered.is_empty(),
        "a run does not step on a close that may still be in progress"
    );
    assert!(t
        .frames("v1=")
        .iter()
        .all(|f| !matches!(f.event, Event::AuctionEnded(_))));
    t.clock.advance(auction::handlers::close::FINALIZE_GRACE_MS);
    let r = t.close_run().await;
    assert_eq!(r.recovered, vec![id.clone()]);
    assert!(r.closed.is_empty(), "the transition is not repeated");
    assert!(matches!(
        t.frames("v1=").last().unwrap().event,
        Event::AuctionEnded(_)
    ));
    assert_eq!(t.broadcaster().disconnected().len(), 1);
    assert!(t.auction_state(&id).await.finalized);
}

#[tokio::test]
async fn seller_end_uses_the_same_path() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    assert_eq!(t.connect("v1=", &id, &t.bidder(9)).await, 200);
    assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
    let r = t.end(&t.seller(), &id).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["auction"]["winnerName"], "Bidder 1");
    assert_eq!(r.body["auction"]["finalPrice"], 10_000);
    assert!(matches!(
        t.frames("v1=").last().unwrap().event,
        Event::AuctionEnded(_)
    ));
    assert_eq!(
        t.bid(&t.bidder(2), &id, 20_000).await.code(),
        "auction_not_active"
    );
}
