//! Store adapters. Both pass the one conformance suite in [`conformance`].

pub mod conformance;
pub mod dynamodb;
pub mod sqlite;
