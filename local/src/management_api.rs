//! Management API emulation (`@connections`), so the production broadcaster runs unchanged against it.
//! Errors carry `x-amzn-ErrorType` like API Gateway's, so the SDK maps them to its typed errors.

use crate::websocket_api::Outgoing;
use crate::Stack;
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
    let Some(entry) = st.sockets.get(&id) else {
        return gone();
    };
    match method {
        http::Method::POST => {
            if body.len() > crate::MAX_MESSAGE_BYTES {
                return aws_error(
                    http::StatusCode::PAYLOAD_TOO_LARGE,
                    "PayloadTooLargeException",
                    "Message too long",
                );
            }
            match entry.tx.try_send(Outgoing::Frame(body.to_vec())) {
                Ok(()) => http::StatusCode::OK.into_response(),
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => aws_error(
                    http::StatusCode::TOO_MANY_REQUESTS,
                    "LimitExceededException",
                    "Rate exceeded",
                ),
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => gone(),
            }
        }
        http::Method::GET => axum::Json(json!({
            "connectedAt": iso8601(entry.connected_at),
            "lastActiveAt": iso8601(entry.last_active_at),
            "identity": { "sourceIp": entry.source_ip, "userAgent": entry.user_agent },
        }))
        .into_response(),
        http::Method::DELETE => {
            // The socket task closes the socket and runs `$disconnect`.
            let _ = entry.tx.try_send(Outgoing::Close);
            http::StatusCode::NO_CONTENT.into_response()
        }
        _ => aws_error(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowedException",
            "Method not allowed",
        ),
    }
}
