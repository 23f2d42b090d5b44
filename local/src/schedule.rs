//! EventBridge schedule emulation: the close run (`App::close_run`, what `close-auctions` runs) on a timer,
//! and the timer loop the TTL emulation shares.

use crate::Stack;
use auction::ports::Store;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Run the close every `period` until `stop` changes.
pub(crate) fn spawn<S: Store>(
    stack: Arc<Stack<S>>,
    period: Duration,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    every(period, stop, move || {
        let stack = stack.clone();
        async move {
            match stack.app.close_run().await {
                Ok(r) if !r.closed.is_empty() || !r.recovered.is_empty() => {
                    tracing::info!(closed = ?r.closed, recovered = ?r.recovered, "schedule: auctions closed");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "schedule: close run failed"),
            }
        }
    })
}

/// Run `job` now and then every `period` (a late run delays the next, never doubles up) until `stop` changes.
pub(crate) fn every<F, Fut>(
    period: Duration,
    mut stop: watch::Receiver<bool>,
    job: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => job().await,
                _ = stop.changed() => break,
            }
        }
    })
}
