//! A stand-in identity provider for local use: `POST /dev/token` mints a token for a name and role, signed
//! with the stack's secret. Refused unless enabled (loopback only by default, off with `--aws`).
//!
//! Any web page a developer visits could otherwise mint an admin token: a cross-origin `text/plain` POST
//! needs no preflight. So the endpoint takes only `Content-Type: application/json` (which a page of another
//! origin can send only after a preflight, and the stack answers none for this path), refuses a request whose
//! `Origin` is not the stack's own page (the `Host` it was asked as, if that is an IP address or `localhost`:
//! a DNS-rebound name is refused too), and its answer carries no CORS header.

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
    headers: http::HeaderMap,
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
    if !same_origin(&headers) {
        return error(
            403,
            "forbidden_origin",
            "dev tokens are minted only for the stack's own page",
        );
    }
    let json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return error(
            415,
            "unsupported_media_type",
            "send the request as Content-Type: application/json",
        );
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
    let user_id = dev_user_id(&name);
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

/// The user id of a dev name: a readable ASCII part and a digest of the whole (case-folded) name, so the same
/// name is the same user across restarts and two names are never one user (before, every non-ASCII name
/// was `u-`, and one such user could end another's auctions).
pub fn dev_user_id(name: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let folded = name.to_lowercase();
    let slug: String = folded
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(32)
        .collect();
    let digest = sha2::Sha256::digest(folded.as_bytes());
    let tag = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12]);
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        format!("u-{tag}")
    } else {
        format!("u-{slug}-{tag}")
    }
}

/// No `Origin` (not a browser), or the origin of the very host the request was sent to, when that host is an
/// IP address or `localhost`.
fn same_origin(headers: &http::HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (
        origin.to_str(),
        headers.get(http::header::HOST).map(|h| h.to_str()),
    ) else {
        return false;
    };
    let Ok(authority) = host.parse::<http::uri::Authority>() else {
        return false;
    };
    let name = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let literal =
        name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok();
    literal && origin == format!("http://{host}")
}
