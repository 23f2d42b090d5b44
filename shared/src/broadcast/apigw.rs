//! The API Gateway Management API adapter (PostToConnection, DeleteConnection).
//!
//! The endpoint comes from configuration, so the same code talks to AWS or to the local stack's emulator.
//! The SDK's own retries are off: [`crate::fanout`] retries with jitter and a per-call timeout, in one place.

use crate::domain::ConnectionId;
use crate::ports::{Broadcaster, PushError};
use async_trait::async_trait;
use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::get_connection::GetConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ApiGatewayBroadcaster {
    client: Client,
}

impl ApiGatewayBroadcaster {
    /// `endpoint`: `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` or a local emulator's URL.
    /// `ceiling` bounds every call in the SDK itself, as a safety net: the fan-out cuts attempts sooner
    /// ([`crate::config::Settings::attempt_timeout`]); pass [`crate::config::Settings::longest_call`].
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str, ceiling: Duration) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(sdk)
            .endpoint_url(endpoint)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            // With retries off, one operation is one attempt: one timer per call, not two.
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(ceiling)
                    .operation_timeout(ceiling)
                    .build(),
            )
            // Stalled-stream protection watches long response bodies; these answers are empty, and the
            // timeout above already bounds the call. Off: one interceptor and one body wrapper less per post.
            .stalled_stream_protection(
                aws_config::stalled_stream_protection::StalledStreamProtectionConfig::disabled(),
            )
            .build();
        Self {
            client: Client::from_conf(conf),
        }
    }

    /// Open the TLS connection now (at cold start) rather than on the first bid. Any answer will do.
    pub async fn warm_up(&self) {
        let _ = self
            .client
            .get_connection()
            .connection_id("warm-up")
            .send()
            .await;
    }
}

fn classify<E: std::error::Error + Send + Sync + 'static>(
    err: SdkError<E, aws_sdk_apigatewaymanagement::config::http::HttpResponse>,
    service: impl FnOnce(&E) -> Option<PushError>,
) -> PushError {
    match &err {
        SdkError::ServiceError(se) => {
            if let Some(e) = service(se.err()) {
                return e;
            }
            match se.raw().status().as_u16() {
                410 => PushError::Gone,
                429 => PushError::Throttled,
                413 => PushError::PayloadTooLarge,
                s if s >= 500 => PushError::Transient(format!("HTTP {s}")),
                s => PushError::Other(format!("HTTP {s}")),
            }
        }
        SdkError::ResponseError(re) => match re.raw().status().as_u16() {
            410 => PushError::Gone,
            429 => PushError::Throttled,
            s if s >= 500 => PushError::Transient(format!("HTTP {s}")),
            s => PushError::Other(format!("unparseable HTTP {s} response")),
        },
        SdkError::TimeoutError(_) => PushError::Transient("timed out".into()),
        SdkError::DispatchFailure(d) => PushError::Transient(format!("dispatch failure: {d:?}")),
        _ => PushError::Other(err.to_string()),
    }
}

#[async_trait]
impl Broadcaster for ApiGatewayBroadcaster {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        self.client
            .post_to_connection()
            .connection_id(id.as_str())
            .data(Blob::new(payload))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                classify(e, |e| match e {
                    PostToConnectionError::GoneException(_) => Some(PushError::Gone),
                    PostToConnectionError::LimitExceededException(_) => Some(PushError::Throttled),
                    PostToConnectionError::PayloadTooLargeException(_) => {
                        Some(PushError::PayloadTooLarge)
                    }
                    _ => None,
                })
            })
    }

    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.client
            .delete_connection()
            .connection_id(id.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                classify(e, |e| match e {
                    DeleteConnectionError::GoneException(_) => Some(PushError::Gone),
                    DeleteConnectionError::LimitExceededException(_) => Some(PushError::Throttled),
                    _ => None,
                })
            })
    }

    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.client
            .get_connection()
            .connection_id(id.as_str())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                classify(e, |e| match e {
                    GetConnectionError::GoneException(_) => Some(PushError::Gone),
                    GetConnectionError::LimitExceededException(_) => Some(PushError::Throttled),
                    _ => None,
                })
            })
    }
}
