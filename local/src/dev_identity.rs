//! A stand-in identity provider for local use: `POST /dev/token` mints a token for a name and role, signed
//! with the stack's secret. Refused unless enabled (loopback only by default).

use crate::Stack;
use auction::domain::{validate_text, Role, MAX_NAME_LEN};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
struct TokenRequest {
    name: String,
    role: Role,
}

/// Local-only identity: a token for a name and role. The user id is derived from the name, so the same name
/// is the same user across restarts.
pub(crate) async fn dev_token<S>(
    State(st): State<Arc<Stack<S>>>,
    body: axum::body::Bytes,
) -> Response {
    let error = |status: u16, code: &str, message: &str| {
        (
            http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST),
            Json(json!({ "error": code, "message": message })),
        )
            .into_response()
    };
    if !st.dev_tokens {
        return error(404, "not_found", "dev tokens are disabled");
    }
    let Ok(req) = serde_json::from_slice::<TokenRequest>(&body) else {
        return error(
            422,
            "validation_failed",
            "expected {\"name\": string, \"role\": \"bidder\"|\"seller\"|\"admin\"}",
        );
    };
    let Ok(name) = validate_text("name", &req.name, MAX_NAME_LEN, true) else {
        return error(422, "validation_failed", "name must be 1 to 64 characters");
    };
    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let user_id = format!("u-{}", slug.trim_matches('-'));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let token = match st
        .issuer
        .mint_for(&user_id, &name, req.role, now, 12 * 3600)
    {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "dev token could not be signed");
            return error(500, "internal_error", "the token could not be signed");
        }
    };
    Json(json!({ "token": token, "userId": user_id, "name": name, "role": req.role }))
        .into_response()
}
