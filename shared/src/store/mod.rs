//! Store adapters: DynamoDB (feature `aws`, what Lambda runs) and the embedded SQLite store (feature
//! `embedded`, the local stack's). Both pass the one conformance suite in `conformance` (feature
//! `conformance`, for test crates).

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "aws")]
pub mod dynamodb;
#[cfg(feature = "embedded")]
pub mod sqlite;
