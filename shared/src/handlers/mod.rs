//! The handlers every function runs, as methods on [`App`], generic over the ports so tests and the local
//! stack hand them other adapters. A function's `main.rs` builds an `App` once per cold start and calls one
//! method per event:
//!
//! | Surface | Methods | File |
//! |---|---|---|
//! | HTTP API | `create_auction`, `list_auctions`, `get_auction`, `place_bid`, `end_auction` | [`http_api`] |
//! | WebSocket API | `ws_connect`, `ws_disconnect`, `ws_default` | [`websocket`] |
//! | Schedule | `close_run` (and `close_due`, `end_early`, shared with `end_auction`) | [`close`] |
//! | Close timer | `close_at_end` (one auction, at its end, following soft-close extensions) | [`close`] |
//! | Publisher | `publish` (one hand-off job), `deliver_slice` (one slice of a large audience) | [`publish`] |

pub mod close;
pub mod http_api;
pub mod known_minimums;
pub mod publish;
pub mod views;
pub mod websocket;

use crate::auth::TokenVerifier;
use crate::close_timer::NoTimer;
use crate::config::Settings;
use crate::fanout::Fanout;
use crate::handoff::NoHandOff;
use crate::ports::{Broadcaster, Clock, CloseTimer, HandOff, SliceDelivery, Store};
use crate::publisher::PublishJob;
use std::sync::Arc;

/// Everything a handler needs, built once per cold start.
pub struct App<S, B> {
    pub store: S,
    /// Every post to viewers goes through it (the store's clone, the Management API, the call slots).
    pub fanout: Fanout<S, B>,
    pub verifier: TokenVerifier,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// Where committed changes are handed to the publisher (SQS FIFO, the local queue, a test recorder).
    pub handoff: Arc<dyn HandOff>,
    /// Delivers the slices of a large audience in other invocations; `None`: every slice in this process.
    pub remote_slices: Option<Arc<dyn SliceDelivery>>,
    /// Wakes the closer at each auction's end (Step Functions, the local stack's timer); the schedule's sweep
    /// is the safety net.
    pub close_timer: Arc<dyn CloseTimer>,
    /// The last minimum bid seen per auction: bids below it are refused without a store call.
    pub known_minimums: known_minimums::KnownMinimums,
}

impl<S: Store, B: Broadcaster> App<S, B> {
    pub fn new(
        store: S,
        broadcaster: B,
        verifier: TokenVerifier,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            known_minimums: known_minimums::KnownMinimums::new(settings.limits.known_minimums),
            fanout: Fanout::new(store.clone(), broadcaster, &settings),
            store,
            verifier,
            clock,
            settings,
            handoff: Arc::new(NoHandOff),
            remote_slices: None,
            close_timer: Arc::new(NoTimer),
        }
    }

    /// Arm a close timer for each auction created (`close_at_end` at its end).
    pub fn with_close_timer(mut self, timer: Arc<dyn CloseTimer>) -> Self {
        self.close_timer = timer;
        self
    }

    /// Hand committed changes to the publisher through `hand_off`.
    pub fn with_hand_off(mut self, handoff: Arc<dyn HandOff>) -> Self {
        self.handoff = handoff;
        self
    }

    /// Deliver the slices of large audiences through `slices` (the `deliver` function).
    pub fn with_remote_slices(mut self, slices: Arc<dyn SliceDelivery>) -> Self {
        self.remote_slices = Some(slices);
        self
    }

    /// Hand `job` to the publisher. A failure is logged, never returned: the change is committed, and the
    /// schedule's sweep hands it off again.
    pub async fn hand_off(&self, job: PublishJob) {
        if let Err(e) = self.handoff.enqueue(&job).await {
            tracing::error!(
                auction_id = %job.auction_id,
                seq = job.seq,
                error = %e,
                "publish hand-off failed; the schedule's sweep delivers it"
            );
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The Management API adapter (tests read what it recorded).
    pub fn broadcaster(&self) -> &B {
        self.fanout.broadcaster()
    }
}
