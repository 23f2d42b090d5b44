//! Adapters of the [`CloseTimer`] port: what wakes the closer at an auction's end.
//!
//! - [`step_functions`] — AWS: one Standard Step Functions execution per auction (named after it), whose
//!   `Wait` state sleeps until the end and whose task invokes `close-auctions` with `{"auctionId"}`; the answer
//!   (`TimerReply`) says whether to wait again (the soft close moved the end) or stop.
//! - [`ChannelTimer`] — the local stack and tests: each armed auction is sent on a channel; the local stack's
//!   timer task (`local/src/close_timer.rs`) sleeps until the end and runs the same `App::close_at_end`.
//! - [`NoTimer`] — nothing armed: only the schedule's sweep closes (minute precision on AWS).
//!
//! Why Step Functions (README, "The close on the second"): EventBridge rules and EventBridge Scheduler fire
//! within the scheduled minute; SQS delays stop at 15 minutes (auctions last up to 30 days); a Standard Step
//! Functions `Wait` until a timestamp is second-precise, costs 4 state transitions per auction ($25 per
//! million: $0.0001) plus 3 per soft-close re-check, and needs no poller. The `Wait` wakes at the end's whole
//! second; `close_at_end` sleeps the rest (under a second) in the function.

#[cfg(feature = "aws")]
pub mod step_functions;

use crate::domain::{AuctionId, Millis};
use crate::ports::{CloseTimer, TimerError};
use async_trait::async_trait;
use tokio::sync::mpsc;

/// No timer: the schedule's sweep is the only closer.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTimer;

#[async_trait]
impl CloseTimer for NoTimer {
    async fn arm(&self, _: &AuctionId, _: Millis) -> Result<(), TimerError> {
        Ok(())
    }
}

/// Sends each armed `(auction, endsAt)` to whoever drives the timers (the local stack, a test).
#[derive(Debug, Clone)]
pub struct ChannelTimer {
    tx: mpsc::UnboundedSender<(AuctionId, Millis)>,
}

impl ChannelTimer {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<(AuctionId, Millis)>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }
}

#[async_trait]
impl CloseTimer for ChannelTimer {
    async fn arm(&self, auction_id: &AuctionId, ends_at: Millis) -> Result<(), TimerError> {
        self.tx
            .send((auction_id.clone(), ends_at))
            .map_err(|_| TimerError("the timer task has stopped".into()))
    }
}
