//! Viewers: `$connect` refusals, the read-only `$default`, and the fan-out of accepted bids.

use auction::broadcast::memory::Fault;
use auction::domain::{
    Admission, Auction, AuctionId, Bid, BidOutcome, BidRequest, CloseOutcome, Closing, Connection,
    ConnectionId, Publication, SyncVerdict,
};
use auction::frames::Event;
use auction::ports::{AuctionStore, ConnectionStore, StoreResult};
use auction_tests::harness::{TestApp, T0};
use auction_tests::scenario;

fn cid(s: &str) -> ConnectionId {
    ConnectionId::parse(s).unwrap()
}

scenario! {
    async fn connect_refuses_bad_token_unknown_and_ended_auctions(t) {
        let id = t.auction().await;
        let viewer = t.viewer("c1=");
        assert_eq!(t.connect("c1=", &id, "forged.token.here").await, 401);
        assert_eq!(
            t.connect("c1=", "01JD5Z8Q4W3N6R2T9V7X0Y1ZZZ", &viewer)
                .await,
            404
        );
        assert_eq!(t.connect("c1=", "a#b", &viewer).await, 400);
        assert_eq!(t.connect("c1=", &id, &viewer).await, 200);
        let conn = t
            .store()
            .get_connection(&cid("c1="))
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(conn.connected_at, T0);
        assert_eq!(
            conn.expires_at,
            T0 / 1000 + 2 * 3600 + 600,
            "TTL a bit past API Gateway's 2 h limit"
        );
        assert_eq!(t.disconnect("c1=").await, 200);
        assert_eq!(t.disconnect("c1=").await, 200, "disconnect is idempotent");
        assert!(t
            .store()
            .get_connection(&cid("c1="))
            .await
            .unwrap()
            .is_none());
        t.clock.set(T0 + 300_000);
        assert_eq!(t.connect("c2=", &id, &viewer).await, 410, "past endsAt");
        t.close_run().await;
        assert_eq!(t.connect("c2=", &id, &viewer).await, 410, "ended");
    }
}

scenario! {
    async fn client_frames_are_never_relayed_and_sync_answers_the_sender_only(t) {
        let id = t.auction().await;
        for c in ["a=", "b="] {
            assert_eq!(t.connect(c, &id, &t.viewer(c)).await, 200);
        }
        let publish = r#"{"type":"bid.placed","data":{"bidId":"x","amount":1,"bidderName":"Mallory","placedAt":1}}"#;
        assert_eq!(t.send("a=", publish).await, 400);
        let a = t.frames("a=");
        assert_eq!(a.len(), 1, "the refusal is told to the sender");
        assert!(matches!(&a[0].event, Event::Error(e) if e.error == "read_only"));
        assert!(t.frames("b=").is_empty(), "nothing is relayed to other viewers");
        assert_eq!(t.auction_state(&id).await.bid_count, 0);

        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        assert_eq!(t.send("b=", r#"{"action":"sync"}"#).await, 200);
        let b = t.frames("b=");
        let last = b.last().unwrap();
        assert_eq!(last.seq, 1);
        assert!(
            matches!(&last.event, Event::AuctionStatus(s) if s.current_price == 10_000 && s.bid_count == 1)
        );
        assert_eq!(t.send("unknown=", r#"{"action":"sync"}"#).await, 410);
    }
}

scenario! {
    async fn sync_is_answered_once_a_second_and_garbage_closes_the_socket(t) {
        let id = t.auction().await;
        assert_eq!(t.connect("s=", &id, &t.viewer("s=")).await, 200);
        let sync = r#"{"action":"sync"}"#;
        let errors = |c: &str| -> Vec<String> {
            t.frames(c)
                .iter()
                .filter_map(|f| match &f.event {
                    Event::Error(e) => Some(e.error.clone()),
                    _ => None,
                })
                .collect()
        };
        let statuses = |c: &str| {
            t.frames(c)
                .iter()
                .filter(|f| matches!(f.event, Event::AuctionStatus(_)))
                .count()
        };
        // A burst of syncs within one second: one answer, one notice, then silence.
        assert_eq!(t.send("s=", sync).await, 200);
        for _ in 0..5 {
            assert_eq!(t.send("s=", sync).await, 429);
        }
        assert_eq!(statuses("s="), 1);
        assert_eq!(errors("s="), ["rate_limited"]);
        // A second later: answered again.
        t.clock.advance(1_000);
        assert_eq!(t.send("s=", sync).await, 200);
        assert_eq!(statuses("s="), 2);

        // Garbage: one notice, then silence, then the connection is closed and forgotten.
        assert_eq!(t.connect("g=", &id, &t.viewer("g=")).await, 200);
        for _ in 0..2 {
            assert_eq!(t.send("g=", "garbage").await, 400);
        }
        assert_eq!(errors("g="), ["read_only"], "told once");
        assert!(t.revoked().is_empty());
        assert_eq!(t.send("g=", &"x".repeat(10_000)).await, 400);
        assert_eq!(t.revoked(), vec!["g="], "closed at the third");
        assert!(t.store().get_connection(&cid("g=")).await.unwrap().is_none());
        assert_eq!(t.send("g=", "more").await, 410, "and forgotten");
        assert_eq!(errors("g="), ["read_only"]);
    }
}

scenario! {
    async fn a_users_fourth_socket_is_refused_unless_one_of_the_three_is_gone(t) {
        let id = t.auction().await;
        let ada = t.bidder(7);
        for c in ["s1=", "s2=", "s3="] {
            assert_eq!(t.connect(c, &id, &ada).await, 200);
        }
        assert_eq!(t.connect("s4=", &id, &ada).await, 429, "the fourth is refused");
        assert!(t.store().get_connection(&cid("s4=")).await.unwrap().is_none());
        assert_eq!(t.connect("o1=", &id, &t.bidder(8)).await, 200, "another user is not");
        // One of the three was closed without a $disconnect (API Gateway says it is gone): it makes room.
        t.broadcaster().mark_gone(&cid("s2="));
        assert_eq!(t.connect("s4=", &id, &ada).await, 200);
        assert!(t.store().get_connection(&cid("s2=")).await.unwrap().is_none());
        let mut mine: Vec<String> = t
            .viewers(&id)
            .await
            .into_iter()
            .filter(|c| c.user_id.as_str() == "bidder-7")
            .map(|c| c.connection_id.to_string())
            .collect();
        mine.sort();
        assert_eq!(mine, ["s1=", "s3=", "s4="]);
    }
}

scenario! {
    async fn one_frame_per_viewer_per_bid_gone_viewers_removed_other_auctions_untouched(t) {
        let id = t.auction().await;
        let other = t.auction().await;
        for c in ["v1=", "v2=", "v3=", "v4="] {
            assert_eq!(t.connect(c, &id, &t.viewer(c)).await, 200);
        }
        assert_eq!(t.connect("o1=", &other, &t.viewer("o1=")).await, 200);
        t.broadcaster().mark_gone(&cid("v2="));
        t.broadcaster().mark_gone(&cid("v4="));

        let r = t.bid(&t.bidder(1), &id, 10_000).await;
        assert_eq!(r.status, 201);
        for c in ["v1=", "v3="] {
            let frames = t.frames(c);
            assert_eq!(frames.len(), 1, "exactly one post per viewer per bid");
            let Event::Batch(events) = &frames[0].event else {
                panic!("combined frame expected")
            };
            assert_eq!(frames[0].seq, 1);
            assert!(
                matches!(&events[0].event, Event::BidPlaced(b) if b.amount == 10_000 && b.bidder_name == "Bidder 1")
            );
            assert!(
                matches!(&events[1].event, Event::AuctionStatus(s) if s.current_price == 10_000 && s.bid_count == 1)
            );
        }
        let left: Vec<String> = t
            .viewers(&id)
            .await
            .into_iter()
            .map(|c| c.connection_id.to_string())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(
            left,
            vec!["v1=", "v3="],
            "exactly the gone connections were removed"
        );
        assert!(
            t.frames("o1=").is_empty(),
            "a viewer of another auction receives nothing"
        );
        assert!(t
            .store()
            .get_connection(&cid("o1="))
            .await
            .unwrap()
            .is_some());
    }
}

#[tokio::test]
async fn throttled_failing_and_hanging_viewers_do_not_fail_the_bid() {
    let settings = auction::config::Settings {
        call_timeout: std::time::Duration::from_millis(100),
        fanout_backoff: std::time::Duration::from_millis(1),
        ..auction_tests::harness::test_settings()
    };
    let t = TestApp::with_store_and_settings(
        auction::store::sqlite::SqliteStore::in_memory().unwrap(),
        settings,
    );
    let id = t.auction().await;
    for c in ["ok=", "slow=", "err=", "hang=", "down="] {
        assert_eq!(t.connect(c, &id, &t.viewer(c)).await, 200);
    }
    t.broadcaster()
        .inject(&cid("slow="), &[Fault::Throttled, Fault::Throttled]);
    t.broadcaster().inject(&cid("err="), &[Fault::ServerError]);
    t.broadcaster().inject(&cid("hang="), &[Fault::Hang]);
    t.broadcaster()
        .inject(&cid("down="), &[Fault::ServerError; 10]);
    let started = std::time::Instant::now();
    let r = t.bid(&t.bidder(1), &id, 10_000).await;
    assert_eq!(
        r.status, 201,
        "the bid is committed whatever the viewers do"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "every call is bounded"
    );
    for c in ["ok=", "slow=", "err=", "hang="] {
        assert_eq!(
            t.frames(c).len(),
            1,
            "{c} gets its frame after bounded retries"
        );
    }
    assert!(
        t.frames("down=").is_empty(),
        "retries are bounded: a viewer that keeps failing is given up on"
    );
    assert!(
        t.store()
            .get_connection(&cid("down="))
            .await
            .unwrap()
            .is_some(),
        "only 410 removes a connection"
    );
}

/// A store that ends the auction right after a connection is written: the race between `$connect` and the
/// close, forced (an early end).
#[derive(Clone)]
struct EndsOnConnect(auction::store::sqlite::SqliteStore);

#[async_trait::async_trait]
impl AuctionStore for EndsOnConnect {
    async fn create_auction(
        &self,
        a: &Auction,
        d: &auction::domain::AuctionDetails,
    ) -> StoreResult<()> {
        self.0.create_auction(a, d).await
    }
    async fn get_auction(&self, id: &AuctionId) -> StoreResult<Option<Auction>> {
        self.0.get_auction(id).await
    }
    async fn get_details(&self, id: &AuctionId) -> StoreResult<auction::domain::AuctionDetails> {
        self.0.get_details(id).await
    }
    async fn list_active(&self, now: i64, limit: usize) -> StoreResult<Vec<Auction>> {
        self.0.list_active(now, limit).await
    }
    async fn recent_bids(&self, id: &AuctionId, limit: usize) -> StoreResult<Vec<Bid>> {
        self.0.recent_bids(id, limit).await
    }
    async fn place_bid(&self, r: &BidRequest) -> StoreResult<BidOutcome> {
        self.0.place_bid(r).await
    }
    async fn due_auctions(&self, now: i64, limit: usize) -> StoreResult<Vec<AuctionId>> {
        self.0.due_auctions(now, limit).await
    }
    async fn close_auction(
        &self,
        id: &AuctionId,
        now: i64,
        closing: &Closing,
    ) -> StoreResult<CloseOutcome> {
        self.0.close_auction(id, now, closing).await
    }
    async fn mark_finalized(&self, id: &AuctionId) -> StoreResult<()> {
        self.0.mark_finalized(id).await
    }
    async fn bids_between(&self, id: &AuctionId, from: u64, to: u64) -> StoreResult<Vec<Bid>> {
        self.0.bids_between(id, from, to).await
    }
    async fn mark_published(&self, id: &AuctionId, p: Publication) -> StoreResult<()> {
        self.0.mark_published(id, p).await
    }
}

#[async_trait::async_trait]
impl ConnectionStore for EndsOnConnect {
    async fn add_connection(&self, c: &Connection, max: usize) -> StoreResult<Admission> {
        let admitted = self.0.add_connection(c, max).await?;
        self.0
            .close_auction(
                &c.auction_id,
                T0,
                &Closing::Early(auction::domain::EndedBy {
                    user_id: auction::domain::UserId::parse("admin").unwrap(),
                    role: auction::domain::Role::Admin,
                }),
            )
            .await?;
        Ok(admitted)
    }
    async fn remove_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        self.0.remove_connection(id).await
    }
    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        self.0.get_connection(id).await
    }
    async fn connections_in_shards(
        &self,
        id: &AuctionId,
        shards: &[u16],
    ) -> StoreResult<Vec<Connection>> {
        self.0.connections_in_shards(id, shards).await
    }
    async fn record_sync(&self, id: &ConnectionId, now: i64) -> StoreResult<SyncVerdict> {
        self.0.record_sync(id, now).await
    }
    async fn record_strike(&self, id: &ConnectionId) -> StoreResult<u32> {
        self.0.record_strike(id).await
    }
}

#[async_trait::async_trait]
impl auction::ports::LimitStore for EndsOnConnect {
    async fn take_bid_slot(
        &self,
        u: &auction::domain::UserId,
        now: i64,
        r: auction::ports::BidRate,
    ) -> StoreResult<auction::ports::RateVerdict> {
        self.0.take_bid_slot(u, now, r).await
    }
    async fn create_auction_within_quota(
        &self,
        a: &Auction,
        d: &auction::domain::AuctionDetails,
        max: usize,
    ) -> StoreResult<auction::ports::Creation> {
        self.0.create_auction_within_quota(a, d, max).await
    }
    async fn release_seller_slot(
        &self,
        seller: &auction::domain::UserId,
        a: &AuctionId,
    ) -> StoreResult<()> {
        self.0.release_seller_slot(seller, a).await
    }
    async fn list_active_page(
        &self,
        now: i64,
        limit: usize,
        after: Option<&auction::ports::ListCursor>,
    ) -> StoreResult<auction::ports::ActivePage> {
        self.0.list_active_page(now, limit, after).await
    }
    async fn schedule_purge(&self, id: &AuctionId, at: i64) -> StoreResult<()> {
        self.0.schedule_purge(id, at).await
    }
    async fn purge_due(&self, now: i64, limit: usize) -> StoreResult<Vec<AuctionId>> {
        self.0.purge_due(now, limit).await
    }
}

#[tokio::test]
async fn a_connect_racing_the_close_is_refused_and_leaves_no_viewer_behind() {
    let t = TestApp::with_store(EndsOnConnect(
        auction::store::sqlite::SqliteStore::in_memory().unwrap(),
    ));
    let id = t.auction().await;
    assert_eq!(t.connect("late=", &id, &t.viewer("late=")).await, 410);
    assert!(t
        .store()
        .get_connection(&cid("late="))
        .await
        .unwrap()
        .is_none());
    assert!(t.viewers(&id).await.is_empty());
}
