//! Broadcaster adapters: the Management API one used in Lambda, and an in-memory one for tests.

pub mod apigw;
pub mod memory;
