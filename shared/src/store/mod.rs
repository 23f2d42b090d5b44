//! Store adapters. Both pass the one conformance suite in [`conformance`].

pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod sqlite;
