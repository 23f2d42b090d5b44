//! The publish hand-off on AWS: an SQS FIFO queue, the job's [`PublishJob::group`] as message group (an
//! auction's changes are handed to the publisher one batch at a time, in order; its viewer counts in a group of
//! their own), the job's [`PublishJob::dedup_id`] as deduplication id.

use crate::ports::{HandOff, HandOffError};
use crate::publisher::PublishJob;
use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;

#[derive(Debug, Clone)]
pub struct SqsHandOff {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsHandOff {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl HandOff for SqsHandOff {
    async fn enqueue(&self, job: &PublishJob) -> Result<(), HandOffError> {
        let body = serde_json::to_string(job).map_err(|e| HandOffError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_group_id(job.group())
            .message_deduplication_id(job.dedup_id())
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| HandOffError(DisplayErrorContext(&e).to_string()))
    }
}
