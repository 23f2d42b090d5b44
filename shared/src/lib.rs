//! The live auction's shared library: domain rules, ports (traits) and their adapters, and the handlers
//! every Lambda function runs. Function crates only wire configuration and clients to these.
//!
//! - [`domain`]: validated types and the pure bid/close rules.
//! - [`ports`]: `AuctionStore`, `ConnectionStore`, `Broadcaster`, `Clock`.
//! - [`store`]: DynamoDB and embedded (SQLite) adapters, and the conformance suite they both pass.
//! - [`broadcast`]: the API Gateway Management API adapter and an in-memory one for tests.
//! - [`handlers`]: one module per function, generic over the ports.

pub mod auth;
pub mod broadcast;
pub mod close_timer;
pub mod config;
#[cfg(feature = "schema")]
pub mod contract;
pub mod domain;
pub mod error;
pub mod fanout;
pub mod frames;
pub mod handlers;
pub mod handoff;
pub mod http;
pub mod metrics;
pub mod ports;
pub mod publisher;
#[cfg(feature = "aws")]
pub mod slices;
pub mod store;
pub mod telemetry;
#[cfg(feature = "aws")]
pub mod wiring;
