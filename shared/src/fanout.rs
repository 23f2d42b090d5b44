//! Publishing to viewers: one post per connection, bounded concurrency, bounded retries with full jitter,
//! a timeout on every call, and removal of the connections API Gateway reports gone (410).
//!
//! A failed post never fails the bid that caused it: the bid is already committed.

use crate::config::Settings;
use crate::domain::Connection;
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
    // A window of at most `fanout_concurrency` posts in flight. Written without closures so the future stays
    // `Send` for any caller lifetime (closures here trip rustc's higher-ranked lifetime inference under
    // `tokio::spawn`), and memory stays bounded by the window, not by the number of viewers.
    let limit = settings.fanout_concurrency.max(1);
    let mut pending = connections.iter();
    let mut in_flight = FuturesUnordered::new();
    let mut outcomes = Vec::with_capacity(connections.len());
    loop {
        while in_flight.len() < limit {
            let Some(conn) = pending.next() else { break };
            in_flight.push(post_one(store, broadcaster, conn, payload, settings));
        }
        match in_flight.next().await {
            Some(o) => outcomes.push(o),
            None => break,
        }
    }
    let mut report = FanoutReport {
        targets: connections.len(),
        ..Default::default()
    };
    for o in outcomes {
        match o {
            Delivery::Delivered { retries } => {
                report.delivered += 1;
                report.retries += retries;
            }
            Delivery::Gone { retries } => {
                report.gone += 1;
                report.retries += retries;
            }
            Delivery::Failed { retries } => {
                report.failed += 1;
                report.retries += retries;
            }
        }
    }
    report
}

/// Post to one connection (used by `sync`, and by [`publish`] for each viewer).
pub async fn post_with_retry<B: Broadcaster + ?Sized>(
    broadcaster: &B,
    conn: &Connection,
    payload: &[u8],
    settings: &Settings,
) -> (Result<(), PushError>, usize) {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = match tokio::time::timeout(
            settings.call_timeout,
            broadcaster.post(&conn.connection_id, payload),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(PushError::Transient("timed out".into())),
        };
        match result {
            Err(e) if e.is_retryable() && attempt < settings.fanout_max_attempts => {
                tokio::time::sleep(backoff(settings.fanout_backoff, attempt)).await;
            }
            other => return (other, (attempt - 1) as usize),
        }
    }
}

async fn post_one<S, B>(
    store: &S,
    broadcaster: &B,
    conn: &Connection,
    payload: &[u8],
    settings: &Settings,
) -> Delivery
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    let (result, retries) = post_with_retry(broadcaster, conn, payload, settings).await;
    match result {
        Ok(()) => Delivery::Delivered { retries },
        Err(PushError::Gone) => {
            // Remove exactly this connection: the one API Gateway says is gone.
            if let Err(e) = store.remove_connection(&conn.connection_id).await {
                tracing::warn!(connection_id = %conn.connection_id, error = %e, "could not remove gone connection");
            }
            Delivery::Gone { retries }
        }
        Err(e) => {
            tracing::warn!(connection_id = %conn.connection_id, error = %e, retries, "post failed; giving up on this viewer");
            Delivery::Failed { retries }
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

/// Close every viewer's socket (DeleteConnection) and remove their records. 410 means already gone: fine.
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
    let limit = settings.fanout_concurrency.max(1);
    let mut pending = connections.iter();
    let mut in_flight = FuturesUnordered::new();
    let mut outcomes = Vec::with_capacity(connections.len());
    loop {
        while in_flight.len() < limit {
            let Some(conn) = pending.next() else { break };
            in_flight.push(revoke_one(store, broadcaster, conn, settings));
        }
        match in_flight.next().await {
            Some(o) => outcomes.push(o),
            None => break,
        }
    }
    let delivered = outcomes.iter().filter(|ok| **ok).count();
    FanoutReport {
        targets: connections.len(),
        delivered,
        failed: connections.len() - delivered,
        ..Default::default()
    }
}

async fn revoke_one<S, B>(
    store: &S,
    broadcaster: &B,
    conn: &Connection,
    settings: &Settings,
) -> bool
where
    S: ConnectionStore + ?Sized,
    B: Broadcaster + ?Sized,
{
    let mut attempt = 0u32;
    let closed = loop {
        attempt += 1;
        let r = match tokio::time::timeout(
            settings.call_timeout,
            broadcaster.disconnect(&conn.connection_id),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(PushError::Transient("timed out".into())),
        };
        match r {
            Ok(()) | Err(PushError::Gone) => break true,
            Err(e) if e.is_retryable() && attempt < settings.fanout_max_attempts => {
                tokio::time::sleep(backoff(settings.fanout_backoff, attempt)).await;
            }
            Err(e) => {
                tracing::warn!(connection_id = %conn.connection_id, error = %e, "could not disconnect viewer");
                break false;
            }
        }
    };
    // The record goes either way: the auction is over, nothing will be sent to it again, and a socket we
    // failed to close dies at API Gateway's idle or 2 h limit.
    if let Err(e) = store.remove_connection(&conn.connection_id).await {
        tracing::warn!(connection_id = %conn.connection_id, error = %e, "could not remove connection record");
    }
    closed
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
