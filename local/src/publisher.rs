//! SQS FIFO → Lambda emulation for the publisher: the hand-off queue (`EmbeddedHandOff`, durable in
//! `<data-dir>/handoff.db`) handed to the same `App::publish` the `publish` function runs, one job per message
//! group at a time (an auction's changes; its viewer counts apart) and groups in parallel, a failed job retried with backoff. Jobs accepted before a stop or a
//! crash are delivered after the restart.

use crate::Stack;
use auction::handoff::embedded::EmbeddedHandOff;
use auction::ports::{Clock, Store, SystemClock};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How long a handed-out job stays invisible (SQS's visibility timeout): far above a publication's time.
const LEASE_MS: i64 = 60_000;
/// Jobs handed out per poll (auctions in parallel).
const CLAIM: usize = 64;

/// Run the consumer until `stop` changes, then let the publications in flight finish.
pub(crate) fn spawn<S: Store>(
    stack: Arc<Stack<S>>,
    queue: EmbeddedHandOff,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = queue.release_all().await {
            tracing::error!(error = %e, "hand-off: could not release old leases");
        }
        let mut running = JoinSet::new();
        loop {
            match queue.claim(SystemClock.now_millis(), LEASE_MS, CLAIM).await {
                Ok(claimed) => {
                    for c in claimed {
                        let (stack, queue) = (stack.clone(), queue.clone());
                        running.spawn(async move {
                            match stack.app.publish(&c.job).await {
                                Ok(_) => {
                                    if let Err(e) = queue.ack(c.id).await {
                                        tracing::error!(error = %e, "hand-off: ack failed");
                                    }
                                }
                                Err(e) => {
                                    let backoff = 100i64 << c.attempts.min(6);
                                    tracing::warn!(auction_id = %c.job.auction_id, attempts = c.attempts, error = %e, "publish failed; retrying");
                                    let at = SystemClock.now_millis() + backoff;
                                    if let Err(e) = queue.retry_at(c.id, at).await {
                                        tracing::error!(error = %e, "hand-off: retry failed");
                                    }
                                }
                            }
                        });
                    }
                }
                Err(e) => tracing::error!(error = %e, "hand-off: claim failed"),
            }
            while running.try_join_next().is_some() {}
            tokio::select! {
                _ = queue.wait() => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = stop.changed() => break,
            }
        }
        while running.join_next().await.is_some() {}
    })
}
