//! Step Functions emulation for the close on the second: each auction the create handler arms
//! (`ChannelTimer`) gets a task that sleeps until its end and runs `App::close_at_end` — the handler the
//! state machine's task invokes on AWS — and waits again while the soft close moves the end. At start every
//! active auction is armed again, so a restart loses no timer.

use crate::Stack;
use auction::domain::{AuctionId, Millis};
use auction::handlers::close::CloseTimerEvent;
use auction::ports::Store;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Drive the timers armed on `armed` until `stop` changes.
pub(crate) fn spawn<S: Store>(
    stack: Arc<Stack<S>>,
    mut armed: mpsc::UnboundedReceiver<(AuctionId, Millis)>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // One task per auction, however often it is armed.
        let running: Arc<Mutex<HashSet<AuctionId>>> = Arc::default();
        match stack
            .app
            .store
            .list_active(stack.app.now(), usize::MAX)
            .await
        {
            Ok(active) => {
                for a in active {
                    wake(&stack, &running, a.auction_id, a.ends_at, &stop);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "close timer: could not list active auctions; the schedule closes them")
            }
        }
        loop {
            tokio::select! {
                next = armed.recv() => match next {
                    Some((id, ends_at)) => wake(&stack, &running, id, ends_at, &stop),
                    None => break,
                },
                _ = stop.changed() => break,
            }
        }
    })
}

fn wake<S: Store>(
    stack: &Arc<Stack<S>>,
    running: &Arc<Mutex<HashSet<AuctionId>>>,
    id: AuctionId,
    ends_at: Millis,
    stop: &watch::Receiver<bool>,
) {
    if !running.lock().expect("timer set").insert(id.clone()) {
        return;
    }
    let (stack, running, mut stop) = (stack.clone(), running.clone(), stop.clone());
    tokio::spawn(async move {
        let mut at = ends_at;
        loop {
            // The Wait state: until the end's whole second (close_at_end sleeps the rest).
            let wait = (at.div_euclid(1000) * 1000 - stack.app.now()).max(0);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = stop.changed() => break,
            }
            match stack
                .app
                .close_at_end(CloseTimerEvent {
                    auction_id: id.clone(),
                })
                .await
            {
                Ok(reply) if reply.done => break,
                Ok(reply) => at = reply.wake_at_ms,
                Err(e) => {
                    // Step Functions retries the task; so do we, a second later.
                    tracing::warn!(auction_id = %id, error = %e, "close timer: close failed; retrying");
                    at = stack.app.now() + 1_000;
                }
            }
        }
        running.lock().expect("timer set").remove(&id);
    });
}
