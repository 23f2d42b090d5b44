//! SDK errors mapped to [`StoreError`]: throttling is retryable, 5xx and transport failures are
//! "unavailable", anything else is a bug or a misconfiguration.

use crate::ports::StoreError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

const THROTTLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "LimitExceededException",
];

pub(super) fn store_err<E>(op: &'static str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default();
            if THROTTLE_CODES.contains(&code) {
                crate::metrics::store_throttled(op);
                StoreError::Throttled
            } else if ctx.raw().status().is_server_error() {
                StoreError::Unavailable(format!("{op}: {}", DisplayErrorContext(&err)))
            } else {
                StoreError::Other(format!("{op}: {}", DisplayErrorContext(&err)))
            }
        }
        _ => StoreError::Other(format!("{op}: {}", DisplayErrorContext(&err))),
    }
}

/// A cancellation reason that means "try again later": another transaction held an item, or capacity ran
/// out.
pub(super) fn is_contention(reason_code: Option<&str>) -> bool {
    matches!(
        reason_code,
        Some("TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded")
    )
}

pub(super) fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(format!("cannot build request: {e}"))
}
