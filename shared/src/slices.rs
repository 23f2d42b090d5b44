//! Slice delivery in other invocations ([`crate::ports::SliceDelivery`]): the publisher invokes the
//! `deliver` function synchronously (Lambda Invoke, RequestResponse) once per slice of a large audience, all
//! at once, and waits for every one, so frames stay in order per viewer. The local stack and tests deliver
//! every slice in process instead (`App::remote_slices` unset).

use crate::fanout::FanoutReport;
use crate::ports::{SliceDelivery, SliceError};
use crate::publisher::SliceJob;
use async_trait::async_trait;
use aws_sdk_lambda::error::DisplayErrorContext;
use aws_sdk_lambda::primitives::Blob;

#[derive(Debug, Clone)]
pub struct LambdaSlices {
    client: aws_sdk_lambda::Client,
    function: String,
}

impl LambdaSlices {
    pub fn new(client: aws_sdk_lambda::Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }
}

#[async_trait]
impl SliceDelivery for LambdaSlices {
    async fn deliver(&self, job: &SliceJob) -> Result<FanoutReport, SliceError> {
        let payload = serde_json::to_vec(job).map_err(|e| SliceError(e.to_string()))?;
        let out = self
            .client
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| SliceError(DisplayErrorContext(&e).to_string()))?;
        if let Some(kind) = out.function_error() {
            return Err(SliceError(format!("deliver failed: {kind}")));
        }
        let body = out.payload().map(|b| b.as_ref()).unwrap_or_default();
        serde_json::from_slice(body).map_err(|e| SliceError(format!("deliver answered: {e}")))
    }
}
