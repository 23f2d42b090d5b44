//! Publishing to viewers: one post per connection, bounded concurrency, bounded retries with full jitter,
//! a timeout on every call, and removal of the connections API Gateway reports gone (410).
//!
//! A failed post never fails the bid that caused it: the bid is already committed.

use crate::config::Settings;
use crate::domain::{Connection, ConnectionId};
use crate::ports::{Broadcaster, ConnectionStore, PushError};
use futures::stream::{FuturesUnordered, StreamExt};
use rand::Rng;
use std::time::Duration;

/// What one fan-out did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
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

/// What is done to each connection of a fan-out.
#[derive(Clone, Copy)]
enum Op<'a> {
    /// PostToConnection with this payload; 410 removes the record.
    Post(&'a [u8]),
    /// DeleteConnection; the record is removed whatever the answer.
    Disconnect,
}

enum Delivery {
    Delivered { retries: usize },
    Gone { retries: usize },
    Failed { retries: usize },
}

/// Post `payload` to every connection. Returns when every post has succeeded or been given up on.
pub async fn publish<S, B>(
    store: &S,
    broadcaster: &B,
    connections: &[Connection],
    payload: &[u8],
    settings: &Settings,
) -> FanoutReport
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    for_each(store, broadcaster, connections, Op::Post(payload), settings).await
}

/// Close every viewer's socket (DeleteConnection) and remove their records. 410 means already gone: fine.
/// `delivered` counts the sockets closed here, `gone` those API Gateway had already closed.
pub async fn revoke_all<S, B>(
    store: &S,
    broadcaster: &B,
    connections: &[Connection],
    settings: &Settings,
) -> FanoutReport
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    for_each(store, broadcaster, connections, Op::Disconnect, settings).await
}

/// Run `op` on every connection with at most `fanout_concurrency` calls in flight.
async fn for_each<S, B>(
    store: &S,
    broadcaster: &B,
    connections: &[Connection],
    op: Op<'_>,
    settings: &Settings,
) -> FanoutReport
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    // Written without closures so the future stays `Send` for any caller lifetime (closures here trip rustc's
    // higher-ranked lifetime inference under `tokio::spawn`), and memory stays bounded by the window, not by
    // the number of viewers.
    let limit = settings.fanout_concurrency.max(1);
    let mut pending = connections.iter();
    let mut in_flight = FuturesUnordered::new();
    let mut report = FanoutReport {
        targets: connections.len(),
        ..Default::default()
    };
    loop {
        while in_flight.len() < limit {
            let Some(conn) = pending.next() else { break };
            in_flight.push(apply(store, broadcaster, conn, op, settings));
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
    report
}

async fn apply<S, B>(
    store: &S,
    broadcaster: &B,
    conn: &Connection,
    op: Op<'_>,
    settings: &Settings,
) -> Delivery
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    let id = &conn.connection_id;
    let (result, retries) = call_with_retry(broadcaster, id, op, settings).await;
    // A post removes exactly the connection API Gateway says is gone. A revocation removes the record
    // either way: the auction is over, nothing will be sent to it again, and a socket we failed to close
    // dies at API Gateway's idle or 2 h limit.
    if matches!(op, Op::Disconnect) || matches!(result, Err(PushError::Gone)) {
        if let Err(e) = store.remove_connection(id).await {
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

/// Post to one connection (used by `sync`, and by [`publish`] for each viewer).
pub async fn post_with_retry<B: Broadcaster + ?Sized>(
    broadcaster: &B,
    conn: &Connection,
    payload: &[u8],
    settings: &Settings,
) -> (Result<(), PushError>, usize) {
    call_with_retry(
        broadcaster,
        &conn.connection_id,
        Op::Post(payload),
        settings,
    )
    .await
}

/// One call with a timeout on every attempt ([`Settings::attempt_timeout`]), retried with jittered backoff
/// while the failure is retryable (429, 5xx, timeout) and attempts remain. Returns the last result and the
/// number of retries made.
async fn call_with_retry<B: Broadcaster + ?Sized>(
    broadcaster: &B,
    id: &ConnectionId,
    op: Op<'_>,
    settings: &Settings,
) -> (Result<(), PushError>, usize) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let call = async {
            match op {
                Op::Post(payload) => broadcaster.post(id, payload).await,
                Op::Disconnect => broadcaster.disconnect(id).await,
            }
        };
        let result = tokio::time::timeout(settings.attempt_timeout(attempt), call)
            .await
            .unwrap_or_else(|_| Err(PushError::Transient("timed out".into())));
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

    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..20 {
            assert!(backoff(Duration::from_millis(25), attempt) <= Duration::from_secs(1));
        }
    }
}
