//! The handlers every function runs, generic over the ports so tests and the local stack hand them other
//! adapters. A function's `main.rs` builds an [`App`] once per cold start and calls one of these per event.

pub mod close;
pub mod http_api;
pub mod views;
pub mod websocket;

use crate::auth::TokenVerifier;
use crate::config::Settings;
use crate::fanout::CallSlots;
use crate::ports::{AuctionStore, Broadcaster, Clock, ConnectionStore};
use std::sync::Arc;

/// Everything a handler needs, built once per cold start.
pub struct App<S, B> {
    pub store: S,
    pub broadcaster: B,
    pub verifier: TokenVerifier,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// Management API calls in flight across every handler of this process (`FANOUT_CONCURRENCY`).
    pub call_slots: CallSlots,
}

impl<S, B> App<S, B>
where
    S: AuctionStore + ConnectionStore,
    B: Broadcaster,
{
    pub fn new(
        store: S,
        broadcaster: B,
        verifier: TokenVerifier,
        clock: Arc<dyn Clock>,
        settings: Settings,
    ) -> Self {
        Self {
            store,
            broadcaster,
            verifier,
            clock,
            call_slots: CallSlots::new(settings.fanout_concurrency),
            settings,
        }
    }
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }
}
