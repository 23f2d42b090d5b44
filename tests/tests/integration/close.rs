//! Closing, on every store: exactly one transition however many runs race, the winner announced, every
//! viewer revoked; a close that crashed before announcing is finished by a later run; the seller's early end
//! takes the same path.

use auction::domain::{AuctionEndedEvent, AuctionId, AuctionStatus, CloseOutcome, Closing};
use auction::frames::Event;
use auction::handlers::close::FINALIZE_GRACE_MS;
use auction_tests::harness::T0;
use auction_tests::scenario;

scenario! {
    async fn concurrent_close_runs_make_one_transition_per_auction_and_announce_each_winner(t) {
        let ids = [t.auction().await, t.auction().await, t.auction().await];
        let viewers = [["a1=", "a2="], ["b1=", "b2="], ["c1=", "c2="]];
        for (id, vs) in ids.iter().zip(viewers) {
            for v in vs {
                assert_eq!(t.connect(v, id, &t.viewer(v)).await, 200);
            }
        }
        assert_eq!(t.bid(&t.bidder(1), &ids[0], 10_000).await.status, 201);
        assert_eq!(t.bid(&t.bidder(2), &ids[0], 12_000).await.status, 201);
        assert_eq!(t.bid(&t.bidder(3), &ids[1], 10_000).await.status, 201);

        let before = t.close_run().await;
        assert!(before.closed.is_empty(), "nothing is due before endsAt");
        assert!(before.redelivered.is_empty(), "nothing was left undelivered");

        t.clock.set(T0 + 300_000);
        let (a, b) = tokio::join!(t.close_run(), t.close_run());
        let mut closed = a.closed.clone();
        closed.extend(b.closed.clone());
        closed.sort();
        let mut expected = ids.to_vec();
        expected.sort();
        assert_eq!(
            closed, expected,
            "every due auction closed by exactly one of the two runs ({a:?} / {b:?})"
        );
        assert!(a.recovered.is_empty() && b.recovered.is_empty());

        let winners = [
            (Some("Bidder 2"), Some(12_000), 3),
            (Some("Bidder 3"), Some(10_000), 2),
            (None, None, 1),
        ];
        for ((id, vs), (winner, price, seq)) in ids.iter().zip(viewers).zip(winners) {
            let state = t.auction_state(id).await;
            assert_eq!(state.status, AuctionStatus::Ended, "{id}");
            assert!(state.finalized, "{id}");
            assert_eq!(state.seq, seq, "{id}: one transition, one seq");
            for v in vs {
                let ended = t.ended(v);
                assert_eq!(ended.len(), 1, "{v}: exactly one auction.ended");
                assert!(
                    matches!(t.events(v).last(), Some((_, Event::AuctionEnded(_)))),
                    "{v}: auction.ended is the last event"
                );
                assert_eq!(ended[0].0, seq, "{v}: the end frame outranks every bid frame");
                assert_eq!(ended[0].1.winner_name.as_deref(), winner, "{v}");
                assert_eq!(ended[0].1.final_price, price, "{v}");
            }
        }
        let no_bids = t.auction_state(&ids[2]).await;
        assert_eq!(
            no_bids.ended_event(),
            AuctionEndedEvent { winner_id: None, winner_name: None, final_price: None }
        );
        let revoked = t.revoked();
        let mut all: Vec<String> = viewers.iter().flatten().map(|s| s.to_string()).collect();
        all.sort();
        assert_eq!(revoked, all, "each viewer revoked once");
        for id in &ids {
            assert!(t.viewers(id).await.is_empty());
        }
        let again = t.close_run().await;
        assert!(again.closed.is_empty() && again.recovered.is_empty(), "nothing happens twice");
    }
}

scenario! {
    async fn a_close_that_crashed_before_announcing_is_finished_by_a_later_run(t) {
        let id = t.auction().await;
        let aid = AuctionId::parse(&id).unwrap();
        for v in ["v1=", "v2="] {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        t.clock.set(T0 + 300_000);
        // The "crash": the transition commits, nothing else happens.
        assert!(matches!(
            t.store()
                .close_auction(&aid, T0 + 300_000, &Closing::Due)
                .await
                .unwrap(),
            CloseOutcome::Closed(_)
        ));

        let too_soon = t.close_run().await;
        assert!(
            too_soon.closed.is_empty() && too_soon.recovered.is_empty(),
            "a run does not step on a close that may still be in progress"
        );
        assert!(t.broadcaster().disconnected().is_empty());
        for v in ["v1=", "v2="] {
            assert!(t.ended(v).is_empty());
        }

        t.clock.advance(FINALIZE_GRACE_MS);
        let r = t.close_run().await;
        assert_eq!(r.recovered, vec![id.clone()]);
        assert!(r.closed.is_empty(), "the transition is not repeated");
        for v in ["v1=", "v2="] {
            let ended = t.ended(v);
            assert_eq!(ended.len(), 1, "{v}: {:?}", t.frames(v));
            let (seq, e) = &ended[0];
            assert_eq!(e.winner_name.as_deref(), Some("Bidder 1"));
            assert_eq!(e.final_price, Some(10_000));
            assert_eq!(*seq, 2, "the close took the next seq");
        }
        assert_eq!(t.revoked(), vec!["v1=", "v2="]);
        assert!(t.viewers(&id).await.is_empty());
        let a = t.auction_state(&id).await;
        assert!(a.finalized);
        assert_eq!(a.seq, 2);

        let again = t.close_run().await;
        assert!(again.closed.is_empty() && again.recovered.is_empty());
        assert_eq!(t.broadcaster().disconnected().len(), 2, "nothing happens twice");
    }
}

scenario! {
    async fn the_sellers_early_end_takes_the_same_path(t) {
        let id = t.auction().await;
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        // With bids, only an admin may end it early.
        let refused = t.end(&t.seller(), &id).await;
        assert_eq!((refused.status, refused.code()), (403, "admin_only"), "{}", refused.body);
        let r = t.end(&t.admin(), &id).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["auction"]["endedBy"], "admin");
        assert_eq!(r.body["auction"]["winnerName"], "Bidder 1");
        assert_eq!(r.body["auction"]["finalPrice"], 10_000);
        assert!(matches!(t.events("v1=").last(), Some((_, Event::AuctionEnded(_)))));
        assert_eq!(t.revoked(), vec!["v1="]);
        assert_eq!(t.bid(&t.bidder(2), &id, 20_000).await.code(), "auction_not_active");
        let again = t.end(&t.seller(), &id).await;
        assert_eq!((again.status, again.body["alreadyEnded"].as_bool()), (200, Some(true)));
    }
}
