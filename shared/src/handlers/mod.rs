//! The handlers every function runs, as methods on [`App`], generic over the ports so tests and the local
//! stack hand them other adapters. A function's `main.rs` builds an `App` once per cold start and calls one
//! method per event:
//!
//! | Surface | Methods | File |
//! |---|---|---|
//! | HTTP API | `create_auction`, `list_auctions`, `get_auction`, `place_bid`, `end_auction` | [`http_api`] |
//! | WebSocket API | `ws_connect`, `ws_disconnect`, `ws_default` | [`websocket`] |
//! | Schedule | `close_run` (and `close_due`, `end_early`, shared with `end_auction`) | [`close`] |

pub mod close;
pub mod http_api;
pub mod views;
pub mod websocket;

use crate::auth::TokenVerifier;
use crate::config::Settings;
use crate::fanout::Fanout;
use crate::ports::{Broadcaster, Clock, Store};
use std::sync::Arc;

/// Everything a handler needs, built once per cold start.
pub struct App<S, B> {
    pub store: S,
    /// Every post to viewers goes through it (the store's clone, the Management API, the call slots).
    pub fanout: Fanout<S, B>,
    pub verifier: TokenVerifier,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
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
            fanout: Fanout::new(store.clone(), broadcaster, &settings),
            store,
            verifier,
            clock,
            settings,
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
