//! DynamoDB TTL emulation for the embedded store: expired connections, idempotency records and bid-rate
//! windows are deleted on a timer, as DynamoDB's TTL deletes them in AWS (the DynamoDB adapter needs nothing of this).

use auction::ports::{Clock, SystemClock};
use auction::store::sqlite::{SqliteStore, Swept};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Sweep `store` now and then every `period` until `stop` changes.
pub(crate) fn spawn(
    store: SqliteStore,
    period: Duration,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    crate::schedule::every(period, stop, move || {
        let store = store.clone();
        async move { sweep(&store).await }
    })
}

async fn sweep(store: &SqliteStore) {
    // The bid-rate windows (DynamoDB: the TTL'd `RATE#` items).
    match store.sweep_limits(SystemClock.now_millis()).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(windows = n, "ttl: expired bid-rate windows deleted"),
        Err(e) => tracing::error!(error = %e, "ttl: bid-rate sweep failed"),
    }
    match store.sweep_expired(SystemClock.now_millis()).await {
        Ok(s) if s != Swept::default() => tracing::info!(
            connections = s.connections,
            idempotency_records = s.idempotency_records,
            "ttl: expired rows deleted"
        ),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "ttl: sweep failed"),
    }
}
