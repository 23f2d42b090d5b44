//! Shared helpers of the benchmark binaries: statistics over repeated runs and report formatting.

pub mod cli;
pub mod coldstart;
pub mod contention;
pub mod machine;
pub mod mgmt_target;
pub mod report;
pub mod runtime_mock;
pub mod stats;
pub mod tls_proxy;
