//! Shared helpers of the integration tests (emulators, fixtures).

pub mod harness;
pub mod moto;
pub mod stack;
