//! The error types of the two client-facing boundaries, each with its status and a stable code:
//! [`ApiError`] for the HTTP API, [`WsError`] for the WebSocket API. (The store's is
//! [`crate::ports::StoreError`].)
//!
//! An HTTP error body is always `{"error": "<code>", "message": "<human text>", ...details}`. Codes are part
//! of the API contract (listed in the README); messages are for people and may change.

use crate::auth::AuthError;
use crate::domain::{BidRejection, DomainError, Money};
use crate::frames::Frame;
use crate::ports::StoreError;
use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use http::StatusCode;
use serde::Serialize;

/// The body of every error answer: `{"error": "<code>", "message": "<text>", ...details}`. Each detail is present
/// only for the codes that carry it (README, "Error codes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The stable machine-readable code.
    pub error: String,
    /// For people; may change.
    pub message: String,
    /// The invalid field (`invalid_id`, `invalid_amount`, `validation_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `bid_too_low`: the price to beat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_price: Option<i64>,
    /// `bid_too_low`: the smallest amount the next bid may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_bid: Option<i64>,
    /// `auction_not_active`: when the auction ends or ended (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<i64>,
    /// `auction_not_started`: when bids open (epoch ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<i64>,
    /// `service_unavailable`, `rate_limited`: also in the `Retry-After` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
    /// `too_many_auctions`: the seller's open-auction quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl ErrorBody {
    pub fn new(code: &str, message: String) -> Self {
        Self {
            error: code.to_owned(),
            message,
            field: None,
            current_price: None,
            minimum_bid: None,
            ends_at: None,
            starts_at: None,
            retry_after_seconds: None,
            limit: None,
        }
    }
}

#[derive(thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("this action needs the {needed} role")]
    Forbidden { needed: &'static str },
    #[error("you cannot bid on your own auction")]
    OwnAuction,
    #[error("only the auction's seller or an admin may end it")]
    NotSeller,
    #[error("auction not found")]
    AuctionNotFound,
    #[error("{0}")]
    InvalidId(DomainError),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the request body is empty")]
    EmptyBody,
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    Validation(#[from] DomainError),
    #[error("the bid is too low: the minimum bid is {minimum_bid}")]
    BidTooLow {
        current_price: Money,
        minimum_bid: Money,
    },
    #[error("the auction is not accepting bids")]
    AuctionNotActive { ends_at: i64 },
    #[error("the auction has not started yet")]
    AuctionNotStarted { starts_at: i64 },
    #[error("you already lead this auction (raise your maximum instead)")]
    AlreadyLeading,
    #[error("a new maximum must be above your current one")]
    MaxNotRaised,
    #[error("this auction has bids: only an admin may end it early")]
    AdminOnly,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the service is busy, retry shortly")]
    Unavailable { retry_after_secs: u32 },
    /// More bids from this user than `BID_RATE_LIMIT` per window.
    #[error("too many bids in a short time; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u32 },
    /// The seller already has `MAX_ACTIVE_AUCTIONS_PER_SELLER` auctions open.
    #[error("you already have {limit} open auctions; create more once some have ended")]
    TooManyAuctions { limit: usize },
    /// A listing `cursor` this API did not hand out.
    #[error("the cursor is not one this API returned")]
    InvalidCursor,
    #[error("internal error")]
    Internal(String),
}

impl std::fmt::Debug for ApiError {
    /// Debug prints the error chain, so logs show the cause and not just the top-level message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, "\n  caused by: {cause}")?;
            source = cause.source();
        }
        if let ApiError::Internal(detail) = self {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. }
            | ApiError::OwnAuction
            | ApiError::NotSeller
            | ApiError::AdminOnly => StatusCode::FORBIDDEN,
            ApiError::AuctionNotFound | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::EmptyBody
            | ApiError::InvalidJson(_)
            | ApiError::InvalidId(_)
            | ApiError::InvalidCursor => StatusCode::BAD_REQUEST,
            ApiError::RateLimited { .. } | ApiError::TooManyAuctions { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BidTooLow { .. }
            | ApiError::AuctionNotActive { .. }
            | ApiError::AuctionNotStarted { .. }
            | ApiError::AlreadyLeading
            | ApiError::MaxNotRaised => StatusCode::CONFLICT,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => e.code(),
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::OwnAuction => "own_auction",
            ApiError::NotSeller => "not_seller",
            ApiError::AuctionNotFound => "auction_not_found",
            ApiError::RouteNotFound => "not_found",
            ApiError::InvalidId(_) => "invalid_id",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::EmptyBody => "empty_body",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::Validation(e) if e.field() == "amount" => "invalid_amount",
            ApiError::Validation(_) => "validation_failed",
            ApiError::BidTooLow { .. } => "bid_too_low",
            ApiError::AuctionNotActive { .. } => "auction_not_active",
            ApiError::AuctionNotStarted { .. } => "auction_not_started",
            ApiError::AlreadyLeading => "already_leading",
            ApiError::MaxNotRaised => "max_not_raised",
            ApiError::AdminOnly => "admin_only",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyAuctions { .. } => "too_many_auctions",
            ApiError::InvalidCursor => "invalid_cursor",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Extra fields next to `error` and `message`.
    fn details(&self, body: &mut ErrorBody) {
        match self {
            ApiError::BidTooLow {
                current_price,
                minimum_bid,
            } => {
                body.current_price = Some(current_price.cents());
                body.minimum_bid = Some(minimum_bid.cents());
            }
            ApiError::AuctionNotActive { ends_at } => {
                body.ends_at = Some(*ends_at);
            }
            ApiError::AuctionNotStarted { starts_at } => {
                body.starts_at = Some(*starts_at);
            }
            ApiError::Validation(e) | ApiError::InvalidId(e) => {
                body.field = Some(e.field().to_owned());
            }
            ApiError::Unavailable { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => {
                body.retry_after_seconds = Some(*retry_after_secs);
            }
            ApiError::TooManyAuctions { limit } => {
                body.limit = Some(*limit);
            }
            _ => {}
        }
    }

    pub fn body(&self) -> ErrorBody {
        // Internal details stay in the logs, never in the response.
        let message = match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let mut body = ErrorBody::new(self.code(), message);
        self.details(&mut body);
        body
    }

    /// `Retry-After` header value, for 503s and 429 `rate_limited`.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::Unavailable { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Throttled | StoreError::Unavailable(_) => ApiError::Unavailable {
                retry_after_secs: 1,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<BidRejection> for ApiError {
    fn from(r: BidRejection) -> Self {
        match r {
            BidRejection::AuctionNotFound => ApiError::AuctionNotFound,
            BidRejection::NotActive { auction } => ApiError::AuctionNotActive {
                ends_at: auction.ends_at,
            },
            BidRejection::TooLow {
                current_price,
                minimum_bid,
            } => ApiError::BidTooLow {
                current_price,
                minimum_bid,
            },
            BidRejection::NotStarted { starts_at } => ApiError::AuctionNotStarted { starts_at },
            BidRejection::AlreadyLeading => ApiError::AlreadyLeading,
            BidRejection::MaxNotRaised => ApiError::MaxNotRaised,
            BidRejection::OwnAuction => ApiError::OwnAuction,
            BidRejection::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
        }
    }
}

/// The WebSocket boundary's one error type: why a `$connect` handshake is refused (its status is the
/// handshake's status) or why a `$default` / `$disconnect` event is not served.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("missing connection id")]
    MissingConnectionId,
    #[error("missing or invalid auctionId")]
    InvalidAuctionId,
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("auction not found")]
    AuctionNotFound,
    #[error("the auction has ended")]
    AuctionEnded,
    /// `$default` from a connection the store does not know (already revoked or expired).
    #[error("unknown connection")]
    UnknownConnection,
    /// `$connect` of a user who already has `MAX_SOCKETS_PER_USER` sockets to this auction.
    #[error("too many open connections to this auction from one user")]
    TooManySockets,
    /// `$connect` to an auction at its `MAX_VIEWERS_PER_AUCTION`.
    #[error("this auction has as many viewers as it can take")]
    AuctionFull,
    /// `sync` more often than once a second.
    #[error("sync at most once a second")]
    RateLimited,
    /// `$default` with anything but `{"action":"sync"}`.
    #[error(
        "this channel is read-only; the only accepted message is {{\"action\":\"sync\"}}. \
         Bids go through POST /auctions/{{id}}/bids"
    )]
    ReadOnly,
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
}

impl WsError {
    pub fn status(&self) -> StatusCode {
        match self {
            WsError::MissingConnectionId | WsError::InvalidAuctionId | WsError::ReadOnly => {
                StatusCode::BAD_REQUEST
            }
            WsError::Auth(_) => StatusCode::UNAUTHORIZED,
            WsError::AuctionNotFound => StatusCode::NOT_FOUND,
            WsError::AuctionEnded | WsError::UnknownConnection => StatusCode::GONE,
            WsError::TooManySockets | WsError::AuctionFull | WsError::RateLimited => {
                StatusCode::TOO_MANY_REQUESTS
            }
            WsError::Store(StoreError::Throttled | StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WsError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WsError::MissingConnectionId => "missing_connection_id",
            WsError::InvalidAuctionId => "invalid_id",
            WsError::Auth(e) => e.code(),
            WsError::AuctionNotFound => "auction_not_found",
            WsError::AuctionEnded => "auction_ended",
            WsError::UnknownConnection => "unknown_connection",
            WsError::TooManySockets => "too_many_sockets",
            WsError::AuctionFull => "auction_full",
            WsError::RateLimited => "rate_limited",
            WsError::ReadOnly => "read_only",
            WsError::Store(StoreError::Throttled | StoreError::Unavailable(_)) => {
                "service_unavailable"
            }
            WsError::Store(_) => "internal_error",
        }
    }

    /// The error frame the sender is told on its own socket, for refusals of what it sent.
    pub fn notice(&self) -> Option<Frame> {
        match self {
            WsError::ReadOnly | WsError::RateLimited => {
                Some(Frame::error(self.code(), &self.to_string()))
            }
            WsError::AuctionNotFound => {
                Some(Frame::error(self.code(), "the auction no longer exists"))
            }
            _ => None,
        }
    }

    /// The Lambda integration response: the status (for `$connect`, the handshake's) and a JSON body.
    pub fn response(&self) -> ApiGatewayProxyResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(code = self.code(), error = %self, "websocket event failed");
        } else {
            tracing::info!(
                code = self.code(),
                status = status.as_u16(),
                "websocket event refused"
            );
        }
        let message = match self {
            WsError::Store(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        let body = serde_json::to_string(&ErrorBody::new(self.code(), message))
            .unwrap_or_else(|_| "{}".to_owned());
        ws_response(status, &body)
    }
}

/// A WebSocket route's integration response.
pub fn ws_response(status: StatusCode, body: &str) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = i64::from(status.as_u16());
    r.body = Some(Body::Text(body.to_owned()));
    r
}
