//! Management API emulation (`@connections`), so the production broadcaster runs unchanged against it.
//! Errors carry `x-amzn-ErrorType` like API Gateway's, so the SDK maps them to its typed errors.
//!
//! Both ways into a local socket share one set of rules ([`Registry::post`], [`Registry::close`]): the HTTP
//! endpoint here (what the production adapter and external tools call), and [`DirectManagementApi`], the
//! in-process adapter the stack's own publisher uses by default (no HTTP, no signing: see README, Local stack).

use crate::websocket_api::Registry;
use crate::Stack;
use async_trait::async_trait;
use auction::domain::ConnectionId;
use auction::ports::{Broadcaster, PushError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

fn aws_error(status: http::StatusCode, kind: &'static str, message: &str) -> Response {
    let mut r = (status, axum::Json(json!({ "message": message }))).into_response();
    r.headers_mut()
        .insert("x-amzn-errortype", http::HeaderValue::from_static(kind));
    r
}

fn gone() -> Response {
    aws_error(
        http::StatusCode::GONE,
        "GoneException",
        "Connection is gone",
    )
}

fn iso8601(millis: i64) -> String {
    aws_smithy_types::DateTime::from_millis(millis)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// `POST` (PostToConnection), `GET` (GetConnection), `DELETE` (DeleteConnection) on `/@connections/{id}`.
pub(crate) async fn connection<S>(
    State(st): State<Arc<Stack<S>>>,
    Path(id): Path<String>,
    method: http::Method,
    body: Bytes,
) -> Response {
    let sockets = &st.sockets;
    match method {
        http::Method::POST => match sockets.post(&id, body.to_vec()) {
            Ok(()) => http::StatusCode::OK.into_response(),
            Err(e) => push_error(e),
        },
        http::Method::GET => match sockets.get(&id) {
            Some(entry) => axum::Json(json!({
                "connectedAt": iso8601(entry.connected_at),
                "lastActiveAt": iso8601(entry.last_active_at),
                "identity": { "sourceIp": entry.source_ip, "userAgent": entry.user_agent },
            }))
            .into_response(),
            None => gone(),
        },
        http::Method::DELETE => match sockets.close(&id) {
            Ok(()) => http::StatusCode::NO_CONTENT.into_response(),
            Err(e) => push_error(e),
        },
        _ => aws_error(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "Method not allowed",
        ),
    }
}

fn push_error(e: PushError) -> Response {
    match e {
        PushError::Gone => gone(),
        PushError::PayloadTooLarge => aws_error(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLargeException",
            "Message too long",
        ),
        PushError::Throttled => aws_error(
            http::StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "Rate exceeded",
        ),
        PushError::Transient(m) | PushError::Other(m) => aws_error(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerErrorException",
            &m,
        ),
    }
}

/// The Management API as an in-process adapter: the same rules as the HTTP emulation, without HTTP.
#[derive(Clone)]
pub struct DirectManagementApi(pub(crate) Arc<Registry>);

#[async_trait]
impl Broadcaster for DirectManagementApi {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        self.0.post(id.as_str(), payload.to_vec())
    }
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.0.close(id.as_str())
    }
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        self.0.get(id.as_str()).map(|_| ()).ok_or(PushError::Gone)
    }
}
