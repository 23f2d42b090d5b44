//! The publisher's pure parts: what a hand-off carries, how a delivery is split into slices, how long the
//! coalescing window is, and the pacer that keeps posts within their share of the account's quota. The
//! pipeline itself (`App::publish`, `App::deliver_slice`) is in `handlers/publish.rs`.
//!
//! ```text
//! place-bid / close / schedule ──hand-off (PublishJob, durable)──► publisher (one at a time per auction)
//!     │ commit first, then enqueue                                   │ read the auction, wait out the window,
//!     ▼ 201 without waiting for viewers                              │ read the bids of the range, build ONE frame
//!                                                                    ▼
//!                                  slices of shard partitions, delivered in parallel (in process or by
//!                                  other invocations), each paced to its share of the posts/s budget
//!                                                                    │ every slice done
//!                                                                    ▼
//!                                  mark_published(seq): the next delivery starts right after it
//! ```
//!
//! A slice whose paced delivery takes longer than the window (a large audience) does not hold the bids
//! committed meanwhile for the next delivery: every window it reads them and grows its frame
//! (`Frame::extended`), so the viewers it has not reached yet get them in this pass, and the next pass only
//! has to reach the ones it already passed. A bid then reaches everyone within one pass (audience ÷ budget),
//! wherever in a pass it lands, instead of up to two.

use crate::config::Settings;
use crate::domain::{AuctionId, Millis, UserId};
use crate::frames::Frame;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The hand-off from a commit to the publisher: "deliver `auction_id` up to at least `seq`". At least once;
/// a duplicate, or one that arrives after a later one, finds nothing new and does nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishJob {
    pub auction_id: AuctionId,
    pub seq: u64,
    /// Also send the current status when there is nothing new (the schedule's periodic status).
    #[serde(default)]
    pub status: bool,
    /// When it was asked for (the schedule's jobs are told apart by it).
    pub requested_at: Millis,
    /// A viewer joined or left: send `auction.viewers` if the count changed (at most every 2 s).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub viewers: bool,
}

impl PublishJob {
    /// After a bid or a close committed at `seq`.
    pub fn changed(auction_id: &AuctionId, seq: u64, now: Millis) -> Self {
        Self {
            auction_id: auction_id.clone(),
            seq,
            status: false,
            requested_at: now,
            viewers: false,
        }
    }

    /// After a viewer joined or left (`ws-connect`, `ws-disconnect`).
    pub fn viewers(auction_id: &AuctionId, now: Millis) -> Self {
        Self {
            viewers: true,
            ..Self::changed(auction_id, 0, now)
        }
    }

    /// The schedule's periodic status (and safety net: it also delivers whatever a lost hand-off left).
    pub fn status(auction_id: &AuctionId, seq: u64, now: Millis) -> Self {
        Self {
            status: true,
            ..Self::changed(auction_id, seq, now)
        }
    }

    /// Its SQS FIFO message group: an auction's changes in one (handed out one at a time, in order), its viewer
    /// counts in another. A count waits out its interval ([`VIEWERS_INTERVAL_MS`]) inside its job, and a group
    /// hands out nothing while a job of it is in flight: in the changes' group that wait held every bid
    /// behind it (up to 2 s; bench-e2e measured p99 ≈ 1 s at 1,000 viewers joining before the bids).
    pub fn group(&self) -> String {
        if self.viewers {
            // `#` is never in an id (`domain::AuctionId`), so no auction's group is another's counts'.
            format!("{}#viewers", self.auction_id)
        } else {
            self.auction_id.to_string()
        }
    }

    /// When a viewer-count job counts: at the end of the [`VIEWERS_INTERVAL_MS`] interval it was asked for in.
    /// Every join and leave of that interval asks for the same job (one deduplication id), and SQS drops a
    /// duplicate for five minutes even after the first ran: a count taken before the interval's end would miss
    /// the joins after it.
    pub fn viewers_due(&self) -> Millis {
        (self.requested_at.div_euclid(VIEWERS_INTERVAL_MS) + 1) * VIEWERS_INTERVAL_MS
    }

    /// A duplicate of this job has the same id (SQS FIFO drops duplicates within five minutes).
    pub fn dedup_id(&self) -> String {
        if self.viewers {
            // One per auction per viewer-count interval: a crowd joining costs one job per 2 s.
            format!(
                "{}:viewers:{}",
                self.auction_id,
                self.requested_at.div_euclid(VIEWERS_INTERVAL_MS)
            )
        } else if self.status {
            format!(
                "{}:{}:status:{}",
                self.auction_id, self.seq, self.requested_at
            )
        } else {
            format!("{}:{}", self.auction_id, self.seq)
        }
    }
}

/// One slice of a delivery: a frame for the viewers in some shard partitions of one auction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SliceJob {
    pub auction_id: AuctionId,
    pub shards: Vec<u16>,
    pub frame: Frame,
    /// After the frame, close every socket of the slice and remove its records (the auction ended).
    pub revoke: bool,
    /// This slice's share of the posts-per-second budget.
    pub posts_per_second: u32,
    /// Bidders who lost the lead in this frame's range: their own connections also get `notice`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbid: Vec<UserId>,
    /// `bid.outbid`, for the connections of `outbid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<Frame>,
}

/// The shortest interval between two `auction.viewers` of one auction.
pub const VIEWERS_INTERVAL_MS: Millis = 2_000;

/// The bids one delivery reads at most; the frame then takes as many as fit in [`FRAME_BUDGET_BYTES`].
pub const MAX_BIDS_PER_FRAME: u64 = 2_000;

/// The bytes of bids one frame may carry: under API Gateway's 128 KB per message with room for the status
/// and the envelope. A longer backlog goes out as several frames, in order.
pub const FRAME_BUDGET_BYTES: usize = 120 * 1024;

/// One `bid.placed` item's JSON, without its bidder's name (the envelope, a 20-digit seq, the 22-character
/// public `bidderId`, a 28-character bid id, a 16-digit amount, a 13-digit time): an upper bound, so a frame never exceeds its budget (the name counts
/// twice its bytes: JSON escaping at most doubles it).
pub const BID_ITEM_BYTES: usize = 220;

/// A change the hand-off should have delivered but that is still undelivered this long after it happened is
/// handed off again by the schedule (a lost hand-off, a publisher that died).
pub const REDELIVER_AFTER_MS: Millis = 5_000;

/// The coalescing window after a delivery to `audience` viewers: the configured window, widened so that
/// one post per viewer per window stays within the posts-per-second budget (at 100,000 viewers and 5,000
/// posts/s: 20 s).
pub fn window(settings: &Settings, audience: u64) -> Duration {
    let budget = u64::from(settings.publish_posts_per_second.max(1));
    let paced = Duration::from_millis(audience.saturating_mul(1_000) / budget);
    settings.publish_window.max(paced)
}

/// Split an auction's `shards` into slices for a delivery to about `audience` viewers: one slice per
/// `slice_viewers` viewers (at least one, at most one per shard), shards dealt round-robin.
pub fn slices(shards: u16, audience: u64, slice_viewers: u64) -> Vec<Vec<u16>> {
    let shards = shards.max(1);
    let wanted = audience.div_ceil(slice_viewers.max(1)).max(1);
    let n = wanted.min(u64::from(shards)) as usize;
    let mut out = vec![Vec::new(); n];
    for shard in 0..shards {
        out[usize::from(shard) % n].push(shard);
    }
    out
}

/// Paces one slice's posts on tokio's clock (so it runs in virtual time too): a delivery small enough to fit in
/// a fifth of a second's worth of its rate goes out at once (its frames are at least a window apart, so that
/// stays within the rate); a larger one is spread evenly at `rate`, so no second ever sees more than `rate`
/// posts from it. A rate of 0 means unpaced.
pub struct Pacer {
    interval: Option<Duration>,
    next: std::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    /// For a delivery of `posts` posts at `per_second`.
    pub fn new(per_second: u32, posts: usize) -> Self {
        let burst = u64::from(per_second) / 5;
        let paced = per_second > 0 && posts as u64 > burst;
        Self {
            interval: paced.then(|| Duration::from_secs(1) / per_second),
            next: std::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// No pacing at all.
    pub fn unpaced() -> Self {
        Self::new(0, 0)
    }

    /// How long `posts` posts take at this pace (none when unpaced).
    pub fn spans(&self, posts: usize) -> Duration {
        self.interval.map_or(Duration::ZERO, |i| {
            i.saturating_mul(u32::try_from(posts).unwrap_or(u32::MAX))
        })
    }

    /// Wait until this call may start.
    pub async fn ready(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let slot = (*next).max(tokio::time::Instant::now());
            *next = slot + interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewer_counts_have_their_own_group_beside_the_changes_of_their_auction() {
        let a = AuctionId::parse("a1").unwrap();
        let changed = PublishJob::changed(&a, 3, 10);
        // a bid's job and the schedule's status share the auction's group: delivered in order
        assert_eq!(changed.group(), "a1");
        assert_eq!(PublishJob::status(&a, 3, 20).group(), changed.group());
        // a viewer count is apart: its wait never holds a bid back
        let viewers = PublishJob::viewers(&a, 10);
        assert_eq!(viewers.group(), "a1#viewers");
        // it counts when its interval has ended, so the later joins of the interval (the same job) are in it
        assert_eq!(PublishJob::viewers(&a, 1_999).viewers_due(), 2_000);
        assert_eq!(PublishJob::viewers(&a, 2_000).viewers_due(), 4_000);
        assert_eq!(
            PublishJob::viewers(&a, 10).dedup_id(),
            PublishJob::viewers(&a, 1_999).dedup_id()
        );
        // and is no other auction's group (ids may hold `:` but never `#`)
        assert!(AuctionId::parse("a1#viewers").is_err());
    }

    #[test]
    fn the_window_widens_with_the_audience_to_stay_within_the_budget() {
        let s = Settings {
            publish_window: Duration::from_millis(250),
            publish_posts_per_second: 5_000,
            ..Settings::default()
        };
        assert_eq!(window(&s, 0), Duration::from_millis(250));
        assert_eq!(window(&s, 1_000), Duration::from_millis(250));
        assert_eq!(window(&s, 10_000), Duration::from_secs(2));
        assert_eq!(window(&s, 100_000), Duration::from_secs(20));
    }

    #[test]
    fn slices_cover_every_shard_once() {
        assert_eq!(slices(16, 10, 2_000), vec![(0..16).collect::<Vec<u16>>()]);
        let s = slices(16, 10_000, 2_000);
        assert_eq!(s.len(), 5);
        let mut all: Vec<u16> = s.concat();
        all.sort();
        assert_eq!(all, (0..16).collect::<Vec<u16>>());
        assert_eq!(
            slices(16, 1_000_000, 2_000).len(),
            16,
            "at most one per shard"
        );
        assert_eq!(slices(1, 1_000_000, 2_000), vec![vec![0]]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spreads_a_large_delivery_and_lets_a_small_one_through() {
        let large = Pacer::new(100, 50);
        let t0 = tokio::time::Instant::now();
        for _ in 0..50 {
            large.ready().await;
        }
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(490) && took <= Duration::from_millis(500),
            "{took:?}"
        );
        let small = Pacer::new(100, 20);
        let t1 = tokio::time::Instant::now();
        for _ in 0..20 {
            small.ready().await;
        }
        assert_eq!(
            t1.elapsed(),
            Duration::ZERO,
            "a fifth of a second's worth goes at once"
        );
    }

    #[test]
    fn dedup_ids_tell_changes_and_status_requests_apart() {
        let id = AuctionId::parse("a1").unwrap();
        assert_eq!(PublishJob::changed(&id, 7, 1).dedup_id(), "a1:7");
        assert_eq!(PublishJob::changed(&id, 7, 2).dedup_id(), "a1:7");
        assert_ne!(
            PublishJob::status(&id, 7, 1).dedup_id(),
            PublishJob::status(&id, 7, 2).dedup_id()
        );
    }
}
