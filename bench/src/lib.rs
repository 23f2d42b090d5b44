//! Shared helpers of the benchmark binaries: statistics over repeated runs and report formatting.

pub mod stats;
