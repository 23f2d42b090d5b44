//! The publisher, on every store: kill points of the hand-off (after the commit, mid-delivery, one slice of
//! a large audience), coalescing, order, and shards.

use async_trait::async_trait;
use auction::auth::TokenVerifier;
use auction::broadcast::memory::{Fault, MemoryBroadcaster};
use auction::domain::{AuctionId, ConnectionId};
use auction::fanout::FanoutReport;
use auction::frames::Event;
use auction::handlers::App;
use auction::ports::{SliceDelivery, SliceError, Store};
use auction::publisher::{PublishJob, SliceJob, REDELIVER_AFTER_MS};
use auction_tests::harness::{test_settings, SECRET};
use auction_tests::scenario;
use secrecy::SecretString;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn cid(s: &str) -> ConnectionId {
    ConnectionId::parse(s).unwrap()
}

scenario! {
    /// Killed right after the commit: the hand-off never happened. The schedule's sweep finds the change
    /// undelivered and hands it off; every viewer gets the bid.
    async fn a_bid_whose_hand_off_was_lost_is_delivered_by_the_sweep(t) {
        let id = t.auction().await;
        for v in ["v1=", "v2="] {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        // The viewer count the connects asked for goes out first (its own job: it never carries bids).
        t.publish_pending().await;
        t.handoff.fail_next(1);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201, "the bid stands");
        assert!(t.bid_seqs("v1=").is_empty(), "nobody heard of it yet");
        assert!(t.auction_state(&id).await.needs_publishing());

        let soon = t.close_run().await;
        assert!(soon.redelivered.is_empty(), "not before REDELIVER_AFTER_MS");
        t.clock.advance(REDELIVER_AFTER_MS);
        let r = t.close_run().await;
        assert_eq!(r.redelivered, vec![id.clone()]);
        for v in ["v1=", "v2="] {
            assert_eq!(t.bid_seqs(v), vec![1], "{v}");
        }
        assert!(!t.auction_state(&id).await.needs_publishing());
    }
}

scenario! {
    /// The publisher dies mid-delivery (one viewer's post still in flight): nothing is recorded as delivered,
    /// the retried job delivers to everyone, and those who had it see the same seq again (they drop it).
    async fn a_publisher_killed_mid_delivery_is_retried_and_every_viewer_gets_the_bid(t) {
        let id = t.auction().await;
        for v in ["v1=", "v2=", "v3="] {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        t.publish_pending().await;
        t.auto_publish.store(false, Ordering::SeqCst);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        let jobs = t.handoff.take();
        assert_eq!(jobs.len(), 1);
        t.broadcaster().inject(&cid("v2="), &[Fault::Hang]);
        // The "kill": the invocation stops while v2='s post hangs.
        let killed = tokio::time::timeout(Duration::from_millis(100), t.app.publish(&jobs[0])).await;
        assert!(killed.is_err(), "the publication was still in progress");
        assert!(t.auction_state(&id).await.needs_publishing(), "not recorded as delivered");
        // The queue hands the job out again.
        t.app.publish(&jobs[0]).await.unwrap();
        for v in ["v1=", "v2=", "v3="] {
            let mut seqs = t.bid_seqs(v);
            seqs.dedup();
            assert_eq!(seqs, vec![1], "{v}: the bid, possibly twice");
        }
        assert!(!t.auction_state(&id).await.needs_publishing());
    }
}

scenario! {
    /// A viewer count runs beside the auction's deliveries (its own message group), so it never delivers the
    /// bids the auction's own job will: two publishers of one auction's bids at once would break their order.
    async fn a_viewer_count_never_delivers_bids_its_auctions_own_job_does(t) {
        let id = t.auction().await;
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        t.publish_pending().await;
        t.auto_publish.store(false, Ordering::SeqCst);
        // GIVEN a committed bid whose job has not run yet, and a viewer joining after the count's interval
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        t.clock.advance(3_000);
        assert_eq!(t.connect("v2=", &id, &t.viewer("v2=")).await, 200);
        let (counts, changes): (Vec<PublishJob>, Vec<PublishJob>) =
            t.handoff.take().into_iter().partition(|j| j.viewers);
        assert_eq!((counts.len(), changes.len()), (1, 1));
        assert_ne!(counts[0].group(), changes[0].group());

        // WHEN the count's job runs first
        t.app.publish(&counts[0]).await.unwrap();

        // THEN the viewers got the count, not the bid, which is still to be delivered
        let heard = t.viewer_counts("v1=");
        assert_eq!(heard.last(), Some(&2), "{heard:?}");
        assert!(t.bid_seqs("v1=").is_empty(), "the count delivered a bid");
        assert!(t.auction_state(&id).await.needs_publishing());
        // AND the bid's own job delivers it
        t.app.publish(&changes[0]).await.unwrap();
        assert_eq!(t.bid_seqs("v1="), vec![1]);
        assert!(!t.auction_state(&id).await.needs_publishing());
    }
}

scenario! {
    /// SQS drops a duplicate for five minutes even after the first job ran, so the joins of one interval are
    /// one job: it counts at the interval's end, and a join after it started is in its count.
    async fn a_viewer_count_counts_the_joins_of_its_whole_interval(t) {
        let t = std::sync::Arc::new(t);
        let id = t.auction().await;
        t.auto_publish.store(false, Ordering::SeqCst);
        t.clock.advance(10);
        // GIVEN a first viewer's join, its count job already running
        assert_eq!(t.connect("v1=", &id, &t.viewer("v1=")).await, 200);
        let first = t.handoff.take();
        assert!(first.len() == 1 && first[0].viewers);
        let running = {
            let (t, job) = (t.clone(), first[0].clone());
            tokio::spawn(async move { t.app.publish(&job).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        // WHEN a second viewer joins in the same interval: the same job, which the queue drops
        assert_eq!(t.connect("v2=", &id, &t.viewer("v2=")).await, 200);
        let second = t.handoff.take();
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].dedup_id(), first[0].dedup_id(), "one job per interval");
        running.await.unwrap();
        // THEN the count that went out is 2: taken at the interval's end, not at the job's start
        assert_eq!(t.viewer_counts("v1="), vec![2]);
    }
}

/// The `deliver` function, as another invocation: an App of its own over the same store and Management API.
/// Its first `fail` calls fail (the invocation died).
struct FlakyDeliver<S: Store> {
    app: App<S, Arc<MemoryBroadcaster>>,
    fail: AtomicUsize,
    calls: AtomicUsize,
}

#[async_trait]
impl<S: Store> SliceDelivery for FlakyDeliver<S> {
    async fn deliver(&self, job: &SliceJob) -> Result<FanoutReport, SliceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing = self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(SliceError("the deliver invocation died".into()));
        }
        self.app
            .deliver_slice(job)
            .await
            .map_err(|e| SliceError(e.to_string()))
    }
}

scenario! {
    /// A large audience is delivered in slices by other invocations; one of them dies: the job fails, is
    /// retried, and every viewer gets the bid. Each slice reads only its own shards.
    async fn a_slice_that_dies_is_retried_and_every_viewer_gets_the_bid(t) {
        let mut t = t;
        t.app.settings.slice_viewers = 2;
        let deliver = Arc::new(FlakyDeliver {
            app: App::new(
                t.store().clone(),
                t.app.broadcaster().clone(),
                TokenVerifier::new(&SecretString::from(SECRET)).unwrap(),
                t.clock.clone(),
                test_settings(),
            ),
            fail: AtomicUsize::new(1),
            calls: AtomicUsize::new(0),
        });
        t.app.remote_slices = Some(deliver.clone());
        let id = t.auction().await;
        let viewers: Vec<String> = (0..12).map(|i| format!("v{i}=")).collect();
        for v in &viewers {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        let shards: std::collections::BTreeSet<u16> =
            t.viewers(&id).await.iter().map(|c| c.shard).collect();
        assert!(shards.len() > 1, "the viewers span several shards: {shards:?}");

        // The viewer count of the joins (one job, one slice in this process: nothing was counted before)
        // counts the audience.
        t.publish_pending().await;
        assert_eq!(deliver.calls.load(Ordering::SeqCst), 0);
        assert_eq!(t.auction_state(&id).await.publication.audience, 12);

        // The bid is then sliced (12 viewers, 2 per slice: 6 slices), and one slice dies.
        t.auto_publish.store(false, Ordering::SeqCst);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        let job = t.handoff.take().pop().unwrap();
        assert!(t.app.publish(&job).await.is_err(), "a dead slice fails the job");
        assert_eq!(deliver.calls.load(Ordering::SeqCst), 6);
        assert_eq!(t.auction_state(&id).await.publication.seq, 0, "not recorded");
        t.app.publish(&job).await.unwrap();
        assert_eq!(deliver.calls.load(Ordering::SeqCst), 12);
        for v in &viewers {
            let mut seqs = t.bid_seqs(v);
            seqs.dedup();
            assert_eq!(seqs, vec![1], "{v}");
        }
    }
}

scenario! {
    /// Bids faster than the window reach each viewer as ONE frame per window, carrying every bid of it in
    /// order; a bid after a quiet window goes out at once.
    async fn bids_within_a_window_are_coalesced_into_one_frame(t) {
        let mut t = t;
        t.app.settings.publish_window = Duration::from_millis(300);
        let id = t.auction().await;
        assert_eq!(t.connect("v=", &id, &t.viewer("v=")).await, 200);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        assert_eq!(t.frames("v=").len(), 1, "the first bid goes out at once");

        t.auto_publish.store(false, Ordering::SeqCst);
        for (i, amount) in [10_100, 10_200, 10_300, 10_400].iter().enumerate() {
            let r = t.bid(&t.bidder(2 + (i as u32 % 2)), &id, *amount).await;
            assert_eq!(r.status, 201);
        }
        let started = std::time::Instant::now();
        t.publish_pending().await;
        assert!(started.elapsed() >= Duration::from_millis(250), "it waited out the window");
        let frames = t.frames("v=");
        assert_eq!(frames.len(), 2, "one frame for the four bids of the window");
        let last = &frames[1];
        assert_eq!((last.from_seq, last.seq), (Some(2), 5));
        assert_eq!(t.bid_seqs("v="), vec![1, 2, 3, 4, 5]);
        assert!(matches!(last.events().last(), Some((5, Event::AuctionStatus(s))) if s.current_price == 10_400));
    }
}

scenario! {
    /// A paced delivery that takes longer than the window takes in the bids committed while it runs: the
    /// viewers it has not reached yet get them in the same pass, the next pass brings them to the ones it had
    /// passed, and every viewer's frames stay in seq order (a repeated seq is dropped by the client).
    async fn a_long_paced_delivery_takes_in_the_bids_committed_meanwhile(t) {
        let mut t = t;
        t.app.settings.publish_posts_per_second = 30; // 30 viewers: a one-second pass
        t.app.settings.publish_window = Duration::from_millis(100);
        let id = t.auction().await;
        let viewers: Vec<String> = (0..30).map(|i| format!("v{i:02}=")).collect();
        for v in &viewers {
            assert_eq!(t.connect(v, &id, &t.viewer(v)).await, 200);
        }
        t.auto_publish.store(false, Ordering::SeqCst);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        let first = t.handoff.take().pop().unwrap();
        let (report, second) = tokio::join!(t.app.publish(&first), async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            t.bid(&t.bidder(2), &id, 10_100).await
        });
        assert_eq!(second.status, 201);
        assert_eq!(report.unwrap().seq, 1, "the pass records only the frame it started with");
        let firsts: Vec<u64> = viewers.iter().map(|v| t.frames(v)[0].seq).collect();
        assert!(firsts.contains(&1), "viewers passed before the second bid: {firsts:?}");
        assert!(firsts.contains(&2), "viewers reached after it got both bids: {firsts:?}");

        t.publish_pending().await;
        for v in &viewers {
            let frames = t.frames(v);
            for pair in frames.windows(2) {
                assert!(pair[1].seq >= pair[0].seq, "{v}: frames in seq order");
                assert!(pair[1].from_seq.unwrap() <= pair[0].seq + 1, "{v}: no gap");
            }
            let mut seqs = t.bid_seqs(v);
            seqs.dedup();
            assert_eq!(seqs, vec![1, 2], "{v}");
        }
        assert_eq!(t.auction_state(&id).await.publication.seq, 2);
    }
}

scenario! {
    /// A duplicate or late job finds nothing new: no frame, one read.
    async fn a_duplicate_job_delivers_nothing(t) {
        let id = t.auction().await;
        assert_eq!(t.connect("v=", &id, &t.viewer("v=")).await, 200);
        assert_eq!(t.bid(&t.bidder(1), &id, 10_000).await.status, 201);
        let aid = AuctionId::parse(&id).unwrap();
        let again = PublishJob::changed(&aid, 1, 0);
        let r = t.app.publish(&again).await.unwrap();
        assert_eq!(r.frames, 0);
        assert_eq!(t.frames("v=").len(), 1);
        assert_eq!(t.store().get_auction(&aid).await.unwrap().unwrap().publication.seq, 1);
    }
}

/// A backlog too long for one frame (800 bids with the longest names that escape worst) goes out as several
/// frames, each under API Gateway's 128 KB, covering every bid in order. (The split is the publisher's, the
/// same on every store; this runs on the embedded one only: 800 transactions on moto take half a minute.)
#[tokio::test]
async fn a_long_backlog_is_split_into_frames_under_128_kb() {
    let t = auction_tests::harness::TestApp::sqlite();
    let id = t.auction().await;
    assert_eq!(t.connect("v=", &id, &t.viewer("v=")).await, 200);
    t.auto_publish.store(false, Ordering::SeqCst);
    let name = "\"".repeat(64);
    let bidders = [
        t.token("long-1", &name, auction::domain::Role::Bidder),
        t.token("long-2", &name, auction::domain::Role::Bidder),
    ];
    for i in 0..800 {
        let r = t.bid(&bidders[i % 2], &id, 10_000 + 100 * i as i64).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    t.handoff.take();
    let aid = AuctionId::parse(&id).unwrap();
    let report = t
        .app
        .publish(&PublishJob::changed(&aid, 800, 0))
        .await
        .unwrap();
    assert!(report.frames > 1, "{report:?}");
    let raw = t.broadcaster().raw_frames(&cid("v="));
    assert!(
        raw.iter().all(|f| f.len() <= 128 * 1024),
        "{:?}",
        raw.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(t.bid_seqs("v="), (1..=800).collect::<Vec<u64>>());
    let mut next = 1;
    for f in t.frames("v=") {
        assert_eq!(
            f.from_seq,
            Some(next),
            "each frame starts right after the previous one"
        );
        next = f.seq + 1;
    }
}
