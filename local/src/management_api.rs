//! Management API emulation (`@connections`), so the production broadcaster runs unchanged against it.
//! Errors carry `x-amzn-ErrorType` like API Gateway's, so the SDK maps them to its typed errors.
//!
//! Every call must be SigV4-signed (service `execute-api`) with the stack's own credentials, made up at each
//! start and never written anywhere ([`ManagementCredentials`]; `Running::management_credentials` hands them
//! to tests and tools): a connection id alone lets no one post frames to a viewer, and a browser cannot send
//! an `Authorization` header cross-origin (the CORS layer does not cover `/@connections`). Unsigned or
//! wrongly signed calls get 403 `InvalidSignatureException`, like AWS; a signature older than 5 minutes too.
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

/// The access key and secret the Management API emulation accepts signatures of.
#[derive(Clone)]
pub struct ManagementCredentials(pub aws_credential_types::Credentials);

impl std::fmt::Debug for ManagementCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ManagementCredentials(…)")
    }
}

impl ManagementCredentials {
    /// Fresh random credentials.
    pub fn generate() -> Self {
        use rand::distr::{Alphanumeric, SampleString};
        let secret = Alphanumeric.sample_string(&mut rand::rng(), 40);
        Self(aws_credential_types::Credentials::new(
            "LOCALSTACKMANAGEMENT",
            secret,
            None,
            None,
            "local-stack",
        ))
    }

    /// Is this request signed with these credentials, within the last 5 minutes (either way)?
    pub(crate) fn verify(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> bool {
        self.check(method, uri, headers, body).is_some()
    }

    fn check(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Option<()> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let fields = auth.strip_prefix("AWS4-HMAC-SHA256 ")?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for field in fields.split(',') {
            match field.trim().split_once('=')? {
                ("Credential", v) => credential = Some(v),
                ("SignedHeaders", v) => signed = Some(v),
                ("Signature", v) => signature = Some(v),
                _ => {}
            }
        }
        let mut scope = credential?.split('/');
        let (key, _date, region, service) =
            (scope.next()?, scope.next()?, scope.next()?, scope.next()?);
        if key != self.0.access_key_id() || service != "execute-api" {
            return None;
        }
        let amz_date = headers.get("x-amz-date")?.to_str().ok()?;
        let time = parse_amz_date(amz_date)?;
        let skew = match std::time::SystemTime::now().duration_since(time) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > std::time::Duration::from_secs(300) {
            return None;
        }
        let mut pairs = Vec::new();
        for name in signed?.split(';') {
            pairs.push((name, headers.get(name)?.to_str().ok()?));
        }
        let identity = aws_smithy_runtime_api::client::identity::Identity::from(self.0.clone());
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .ok()?
            .into();
        let request = SignableRequest::new(
            method.as_str(),
            uri.to_string(),
            pairs.into_iter(),
            SignableBody::Bytes(body),
        )
        .ok()?;
        let expected = sign(request, &params).ok()?;
        // Compared in full; the secret is per run and the answer says nothing about where it differs.
        (expected.signature() == signature?).then_some(())
    }
}

/// `20260101T000000Z` → the time.
fn parse_amz_date(s: &str) -> Option<std::time::SystemTime> {
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    let t = aws_smithy_types::DateTime::from_str(
        &rfc3339,
        aws_smithy_types::date_time::Format::DateTime,
    )
    .ok()?;
    std::time::SystemTime::try_from(t).ok()
}

/// `POST` (PostToConnection), `GET` (GetConnection), `DELETE` (DeleteConnection) on `/@connections/{id}`,
/// each SigV4-signed with the stack's [`ManagementCredentials`].
pub(crate) async fn connection<S>(
    State(st): State<Arc<Stack<S>>>,
    Path(id): Path<String>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> Response {
    if !st
        .management_credentials
        .verify(&method, &uri, &headers, &body)
    {
        return aws_error(
            http::StatusCode::FORBIDDEN,
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        );
    }
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
