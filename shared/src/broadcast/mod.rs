//! Broadcaster adapters: the Management API one used in Lambda, and an in-memory one for tests.

#[cfg(feature = "aws")]
pub mod apigw;
pub mod memory;
