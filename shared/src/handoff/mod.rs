//! Adapters of the publish hand-off ([`crate::ports::HandOff`]): SQS FIFO on AWS (`sqs`, message group
//! [`crate::publisher::PublishJob::group`]: one auction's changes are handled one at a time and in order, its
//! viewer counts apart), a SQLite queue in the local stack (`embedded`, durable across restarts, the same
//! one-at-a-time-per-group rule), and a recorder for
//! tests (`memory`).

#[cfg(feature = "embedded")]
pub mod embedded;
pub mod memory;
#[cfg(feature = "aws")]
pub mod sqs;

use crate::ports::{HandOff, HandOffError};
use crate::publisher::PublishJob;
use async_trait::async_trait;

/// A function deployed without a hand-off (it never publishes): every enqueue fails loudly.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHandOff;

#[async_trait]
impl HandOff for NoHandOff {
    async fn enqueue(&self, _: &PublishJob) -> Result<(), HandOffError> {
        Err(HandOffError("no publish hand-off is configured".into()))
    }
}
