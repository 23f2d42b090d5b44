//! The HTTP boundary's one error type: every failure a client can see, with its status and a stable code.
//!
//! The body is always `{"error": "<code>", "message": "<human text>", ...details}`. Codes are part of the
//! API contract (listed in the README); messages are for people and may change.

use crate::auth::AuthError;
use crate::domain::{BidRejection, DomainError, Money};
use crate::ports::StoreError;
use http::StatusCode;
use serde_json::{json, Map, Value};

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
    #[error("the auction has already ended")]
    AuctionEnded,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("the service is busy, retry shortly")]
    Unavailable { retry_after_secs: u32 },
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
            ApiError::Forbidden { .. } | ApiError::OwnAuction | ApiError::NotSeller => {
                StatusCode::FORBIDDEN
            }
            ApiError::AuctionNotFound | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::EmptyBody | ApiError::InvalidJson(_) | ApiError::InvalidId(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BidTooLow { .. } | ApiError::AuctionNotActive { .. } => StatusCode::CONFLICT,
            ApiError::AuctionEnded => StatusCode::GONE,
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
            ApiError::AuctionEnded => "auction_ended",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::Unavailable { .. } => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Extra fields next to `error` and `message`.
    fn details(&self, body: &mut Map<String, Value>) {
        match self {
            ApiError::BidTooLow {
                current_price,
                minimum_bid,
            } => {
                body.insert("currentPrice".into(), json!(current_price.cents()));
                body.insert("minimumBid".into(), json!(minimum_bid.cents()));
            }
            ApiError::AuctionNotActive { ends_at } => {
                body.insert("endsAt".into(), json!(ends_at));
            }
            ApiError::Validation(e) | ApiError::InvalidId(e) => {
                body.insert("field".into(), json!(e.field()));
            }
            ApiError::Unavailable { retry_after_secs } => {
                body.insert("retryAfterSeconds".into(), json!(retry_after_secs));
            }
            _ => {}
        }
    }

    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code()));
        // Internal details stay in the logs, never in the response.
        let message = match self {
            ApiError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        body.insert("message".into(), json!(message));
        self.details(&mut body);
        Value::Object(body)
    }

    /// `Retry-After` header value, for 503s.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::Unavailable { retry_after_secs } => Some(*retry_after_secs),
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
            BidRejection::OwnAuction => ApiError::OwnAuction,
            BidRejection::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
        }
    }
}
