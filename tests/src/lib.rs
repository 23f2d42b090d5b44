//! Shared helpers of the integration tests (emulators, fixtures).

pub mod contract;
pub mod faults;
pub mod harness;
pub mod item_size;
pub mod moto;
pub mod stack;
