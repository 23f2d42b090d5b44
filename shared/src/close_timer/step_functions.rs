//! The close timer on AWS: `StartExecution` of the close-timer state machine (template.yaml,
//! `CloseTimerStateMachine`), named after the auction so arming twice starts nothing new (Standard
//! executions are idempotent by name and input), with `{"auctionId", "wakeAt"}` as input.

use super::super::handlers::close::wake_at_iso;
use crate::domain::{AuctionId, Millis};
use crate::ports::{CloseTimer, TimerError};
use async_trait::async_trait;
use aws_sdk_sfn::error::DisplayErrorContext;

#[derive(Debug, Clone)]
pub struct StepFunctionsTimer {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctionsTimer {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl CloseTimer for StepFunctionsTimer {
    async fn arm(&self, auction_id: &AuctionId, ends_at: Millis) -> Result<(), TimerError> {
        let input = serde_json::json!({ "auctionId": auction_id, "wakeAt": wake_at_iso(ends_at) });
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(auction_id.as_str())
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Armed already (a retried create): its execution is the timer.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(())
            }
            Err(e) => Err(TimerError(DisplayErrorContext(&e).to_string())),
        }
    }
}
