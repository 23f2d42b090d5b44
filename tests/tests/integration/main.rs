//! The integration tests, one test binary (one link of the AWS SDK): a module per surface. Handler-level
//! scenarios are written once with `scenario!` and run on every store; the store conformance suite runs on
//! every adapter (`store_sqlite`, `store_dynamodb`).

mod close;
mod concurrency;
mod contract;
mod decode_props;
mod events;
mod faults;
mod http_api;
mod iam;
mod limits;
mod local_stack;
mod metrics;
mod publisher;
mod rules;
mod security;
mod store_dynamodb;
mod store_sqlite;
mod template;
mod websocket_and_fanout;
