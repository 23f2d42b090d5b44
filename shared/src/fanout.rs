//! Publishing to viewers: one post per connection, bounded concurrency, bounded retries with full jitter,
//! a timeout on every call, and removal of the connections API Gateway reports gone (410).
//!
//! A failed post never fails the bid that caused it: the bid is already committed.

use crate::config::Settings;
use crate::domain::{Connection, ConnectionId};
use crate::frames::Frame;
use crate::ports::{Broadcaster, ConnectionStore, PushError};
use crate::publisher::Pacer;
use futures::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// What one fan-out did, for logs and tests (and what a `deliver` invocation answers).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FanoutReport {
    pub targets: usize,
    pub delivered: usize,
    /// 410 Gone: the record was removed.
    pub gone: usize,
    /// Gave up after the retries (or a non-retryable failure).
    pub failed: usize,
    /// Retries made (429, 5xx, timeouts).
    pub retries: usize,
}

impl std::ops::AddAssign for FanoutReport {
    fn add_assign(&mut self, o: Self) {
        self.targets += o.targets;
        self.delivered += o.delivered;
        self.gone += o.gone;
        self.failed += o.failed;
        self.retries += o.retries;
    }
}

/// The Management API calls this process may have in flight at once, shared by every fan-out, revocation and
/// sync it runs (`FANOUT_CONCURRENCY` of them).
///
/// A call's timeout starts only once it holds a slot. Without a shared bound, fan-outs that overlap (bids
/// arriving faster than one fan-out takes, or a close announcing to many auctions) multiply the calls in
/// flight until the CPU cannot keep up; calls then wait for the CPU longer than their timeout, are retried
/// although delivered, and are finally given up on. With it, the extra calls queue, untimed and in arrival
/// order (the semaphore is fair, so an earlier bid's frames go first), and the ones in flight see only the
/// network's latency.
#[derive(Debug, Clone)]
pub struct CallSlots(Arc<Semaphore>);

impl CallSlots {
    pub fn new(slots: usize) -> Self {
        Self(Arc::new(Semaphore::new(slots.max(1))))
    }
}

/// A frame's bytes that may be replaced while its fan-out runs (`App::deliver_slice` grows a long paced
/// delivery with the bids committed meanwhile): each post, and each retry, sends the newest.
pub type LivePayload = watch::Receiver<Arc<[u8]>>;

/// A payload that never changes.
fn fixed(payload: Vec<u8>) -> LivePayload {
    watch::channel(Arc::from(payload)).1
}

/// What is done to each connection of a fan-out.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// PostToConnection with the payload's newest bytes; 410 removes the record.
    Post(&'a LivePayload),
    /// DeleteConnection; the record is removed whatever the answer.
    Disconnect,
}

enum Delivery {
    Delivered { retries: usize },
    Gone { retries: usize },
    Failed { retries: usize },
}

/// The fan-out: the store (to remove the connections API Gateway reports gone), the Management API, the
/// process's call slots and the retry settings, in one value. Every post and revocation of the process goes
/// through it, so the 410 policy lives in one place ([`Fanout::apply`]).
pub struct Fanout<S, B> {
    store: S,
    broadcaster: B,
    slots: CallSlots,
    settings: Settings,
}

impl<S: ConnectionStore, B: Broadcaster> Fanout<S, B> {
    /// A fan-out with its own [`CallSlots`] (`settings.fanout_concurrency` of them).
    pub fn new(store: S, broadcaster: B, settings: &Settings) -> Self {
        Self::with_slots(
            store,
            broadcaster,
            CallSlots::new(settings.fanout_concurrency),
            settings,
        )
    }

    /// A fan-out sharing `slots` with others (tests compare shared and separate slots).
    pub fn with_slots(store: S, broadcaster: B, slots: CallSlots, settings: &Settings) -> Self {
        Self {
            store,
            broadcaster,
            slots,
            settings: settings.clone(),
        }
    }

    pub fn broadcaster(&self) -> &B {
        &self.broadcaster
    }

    /// Post `frame` to every connection. Returns when every post has succeeded or been given up on.
    pub async fn publish(&self, connections: &[Connection], frame: &Frame) -> FanoutReport {
        self.publish_paced(connections, frame, &Pacer::unpaced())
            .await
    }

    /// [`publish`](Self::publish), every call (retries included) waiting for a slot of `pacer`.
    pub async fn publish_paced(
        &self,
        connections: &[Connection],
        frame: &Frame,
        pacer: &Pacer,
    ) -> FanoutReport {
        match encode(frame) {
            Some(payload) => self.publish_live(connections, &fixed(payload), pacer).await,
            None => FanoutReport {
                targets: connections.len(),
                failed: connections.len(),
                ..Default::default()
            },
        }
    }

    /// Post to every connection whatever `payload` holds when its turn (or its retry) comes, paced.
    pub async fn publish_live(
        &self,
        connections: &[Connection],
        payload: &LivePayload,
        pacer: &Pacer,
    ) -> FanoutReport {
        self.for_each(connections, Op::Post(payload), pacer).await
    }

    /// Close every viewer's socket (DeleteConnection) and remove their records. 410 means already gone: fine.
    /// `delivered` counts the sockets closed here, `gone` those API Gateway had already closed.
    pub async fn revoke_all(&self, connections: &[Connection], pacer: &Pacer) -> FanoutReport {
        self.for_each(connections, Op::Disconnect, pacer).await
    }

    /// Post `frame` to one connection (the answer to a `sync`, an error notice), with the same retries and
    /// the same 410 policy as a fan-out.
    pub async fn send_one(&self, conn: &Connection, frame: &Frame) -> Result<(), PushError> {
        let payload = encode(frame).ok_or_else(|| PushError::Other("unencodable frame".into()))?;
        match self
            .apply(conn, Op::Post(&fixed(payload)), &Pacer::unpaced())
            .await
        {
            Delivery::Delivered { .. } => Ok(()),
            Delivery::Gone { .. } => Err(PushError::Gone),
            Delivery::Failed { .. } => Err(PushError::Other("gave up".into())),
        }
    }

    /// Run `op` on every connection: at most `fanout_concurrency` connections handled at once by this fan-out,
    /// and every call holding one of the process's [`CallSlots`].
    async fn for_each(
        &self,
        connections: &[Connection],
        op: Op<'_>,
        pacer: &Pacer,
    ) -> FanoutReport {
        // Written without closures so the future stays `Send` for any caller lifetime (closures here trip
        // rustc's higher-ranked lifetime inference under `tokio::spawn`), and memory stays bounded by the
        // window, not by the number of viewers.
        let started = std::time::Instant::now();
        let limit = self.settings.fanout_concurrency.max(1);
        let mut pending = connections.iter();
        let mut in_flight = FuturesUnordered::new();
        let mut report = FanoutReport {
            targets: connections.len(),
            ..Default::default()
        };
        loop {
            while in_flight.len() < limit {
                let Some(conn) = pending.next() else { break };
                in_flight.push(self.apply(conn, op, pacer));
            }
            let retries = match in_flight.next().await {
                Some(Delivery::Delivered { retries }) => {
                    report.delivered += 1;
                    retries
                }
                Some(Delivery::Gone { retries }) => {
                    report.gone += 1;
                    retries
                }
                Some(Delivery::Failed { retries }) => {
                    report.failed += 1;
                    retries
                }
                None => break,
            };
            report.retries += retries;
        }
        crate::metrics::fanout_done(matches!(op, Op::Disconnect), &report, started.elapsed());
        report
    }

    /// One connection: the call with its retries, then THE 410 policy. A post removes exactly the connection
    /// API Gateway says is gone. A revocation removes the record either way: the auction is over, nothing will
    /// be sent to it again, and a socket we failed to close dies at API Gateway's idle or 2 h limit.
    async fn apply(&self, conn: &Connection, op: Op<'_>, pacer: &Pacer) -> Delivery {
        let id = &conn.connection_id;
        let (result, retries) = call_with_retry(
            &self.broadcaster,
            &self.slots,
            id,
            op,
            &self.settings,
            pacer,
        )
        .await;
        if matches!(op, Op::Disconnect) || matches!(result, Err(PushError::Gone)) {
            if let Err(e) = self.store.remove_connection(id).await {
                tracing::warn!(connection_id = %id, error = %e, "could not remove connection record");
            }
        }
        match result {
            Ok(()) => Delivery::Delivered { retries },
            Err(PushError::Gone) => Delivery::Gone { retries },
            Err(e) => {
                tracing::warn!(connection_id = %id, error = %e, retries, "Management API call failed; giving up on this viewer");
                Delivery::Failed { retries }
            }
        }
    }
}

/// A frame's bytes; `None` (logged) if it cannot be encoded, which no frame the server builds can hit.
pub fn encode(frame: &Frame) -> Option<Vec<u8>> {
    match frame.to_bytes() {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::error!(error = %e, "frame could not be encoded; nothing sent");
            None
        }
    }
}

/// One call with a timeout on every attempt ([`Settings::attempt_timeout`]), counted from when the attempt
/// holds a slot, retried with jittered backoff while the failure is retryable (429, 5xx, timeout) and
/// attempts remain. No slot is held during the backoff. Returns the last result and the number of retries.
async fn call_with_retry<B: Broadcaster + ?Sized>(
    broadcaster: &B,
    slots: &CallSlots,
    id: &ConnectionId,
    op: Op<'_>,
    settings: &Settings,
    pacer: &Pacer,
) -> (Result<(), PushError>, usize) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        // Every attempt counts against API Gateway's request quota: each waits for a paced slot.
        pacer.ready().await;
        let call = async {
            match op {
                Op::Post(payload) => {
                    let bytes = Arc::clone(&payload.borrow());
                    broadcaster.post(id, &bytes).await
                }
                Op::Disconnect => broadcaster.disconnect(id).await,
            }
        };
        // The semaphore is never closed; were it, the call would simply go ahead without a slot.
        let slot = slots.0.acquire().await.ok();
        let result = tokio::time::timeout(settings.attempt_timeout(attempt), call)
            .await
            .unwrap_or_else(|_| Err(PushError::Transient("timed out".into())));
        drop(slot);
        match result {
            Err(e) if e.is_retryable() && attempt < settings.fanout_max_attempts => {
                tokio::time::sleep(backoff(settings.fanout_backoff, attempt)).await;
            }
            other => return (other, (attempt - 1) as usize),
        }
    }
}

/// Exponential backoff with full jitter: uniform in [0, base * 2^(attempt-1)], capped at 1 s.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let cap = base
        .saturating_mul(1u32 << attempt.min(10).saturating_sub(1))
        .min(Duration::from_secs(1));
    let millis = cap.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(0..=millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::{Admission, AuctionId, Millis, SyncVerdict, UserId};
    use crate::ports::StoreResult;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..20 {
            assert!(backoff(Duration::from_millis(25), attempt) <= Duration::from_secs(1));
        }
    }

    /// A Management API whose latency grows with the calls in flight, like a saturated CPU or link: each
    /// call takes `per_call` × (calls in flight when it started). Counts the calls that completed.
    #[derive(Default)]
    struct Saturating {
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
        delivered: AtomicUsize,
    }

    struct InFlight<'a>(&'a AtomicUsize);
    impl Drop for InFlight<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl Broadcaster for Saturating {
        async fn post(&self, _: &ConnectionId, _: &[u8]) -> Result<(), PushError> {
            let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let _guard = InFlight(&self.in_flight);
            self.most_in_flight.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5) * n as u32).await;
            self.delivered.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
            self.post(id, b"").await
        }
        async fn probe(&self, _: &ConnectionId) -> Result<(), PushError> {
            Ok(())
        }
    }

    fn viewers(fanout: usize, n: usize) -> Vec<Connection> {
        (0..n)
            .map(|i| Connection {
                connection_id: ConnectionId::parse(&format!("c{fanout}-{i}=")).unwrap(),
                auction_id: AuctionId::parse(&format!("a{fanout}")).unwrap(),
                user_id: UserId::parse("viewer").unwrap(),
                connected_at: 0,
                expires_at: 0,
                shard: 0,
            })
            .collect()
    }

    /// No connection records: these tests are about the Management API calls only.
    #[derive(Clone, Copy)]
    struct NoRecords;

    #[async_trait]
    impl ConnectionStore for NoRecords {
        async fn add_connection(&self, _: &Connection, _: usize) -> StoreResult<Admission> {
            Ok(Admission::Added)
        }
        async fn remove_connection(&self, _: &ConnectionId) -> StoreResult<Option<Connection>> {
            Ok(None)
        }
        async fn get_connection(&self, _: &ConnectionId) -> StoreResult<Option<Connection>> {
            Ok(None)
        }
        async fn connections_in_shards(
            &self,
            _: &AuctionId,
            _: &[u16],
        ) -> StoreResult<Vec<Connection>> {
            Ok(Vec::new())
        }
        async fn record_sync(&self, _: &ConnectionId, _: Millis) -> StoreResult<SyncVerdict> {
            Ok(SyncVerdict::Answer)
        }
        async fn record_strike(&self, _: &ConnectionId) -> StoreResult<u32> {
            Ok(1)
        }
    }

    /// Eight fan-outs at once (8 bids in quick succession) to 16 viewers each, 8 calls per fan-out at once,
    /// a 60 ms first timeout: returns what they reported together and the most calls ever in flight.
    async fn eight_overlapping_fanouts(shared: bool) -> (FanoutReport, usize, usize) {
        let settings = Settings {
            fanout_concurrency: 8,
            call_timeout: Duration::from_millis(60),
            fanout_max_attempts: 4,
            fanout_backoff: Duration::from_millis(5),
            ..Settings::default()
        };
        let api = Arc::new(Saturating::default());
        let process_slots = CallSlots::new(settings.fanout_concurrency);
        let audiences: Vec<Vec<Connection>> = (0..8).map(|f| viewers(f, 16)).collect();
        let runs = audiences.iter().map(|conns| {
            // Shared: the process's slots, as `App` holds them. Not shared: every fan-out bounded alone.
            let slots = if shared {
                process_slots.clone()
            } else {
                CallSlots::new(settings.fanout_concurrency)
            };
            let fanout = Fanout::with_slots(NoRecords, api.clone(), slots, &settings);
            let frame = Frame::error("test", "frame");
            async move { fanout.publish(conns, &frame).await }
        });
        let mut total = FanoutReport::default();
        for r in futures::future::join_all(runs).await {
            total += r;
        }
        let delivered = api.delivered.load(Ordering::SeqCst);
        (total, api.most_in_flight.load(Ordering::SeqCst), delivered)
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_fanouts_share_the_call_slots_so_none_times_out() {
        let (report, most, delivered) = eight_overlapping_fanouts(true).await;
        assert_eq!(most, 8, "calls in flight are bounded process-wide");
        assert_eq!(report.targets, 128);
        assert_eq!((report.delivered, report.failed), (128, 0), "{report:?}");
        assert_eq!(
            report.retries, 0,
            "at most 8 × 5 ms = 40 ms per call, under 60 ms"
        );
        assert_eq!(delivered, 128);
    }

    #[tokio::test(start_paused = true)]
    async fn without_shared_slots_the_same_load_times_out_and_gives_up() {
        // The failure the slots prevent: 64 calls in flight take 320 ms each, over every attempt's timeout
        // (60, 120, 240, 240 ms), so viewers are given up on although the API is up.
        let (report, most, _) = eight_overlapping_fanouts(false).await;
        assert!(most > 8, "{most}");
        assert!(report.failed > 0, "{report:?}");
    }
}
