//! The published contract, generated from the wire types (feature `schema`): a JSON Schema of every body and
//! frame, an OpenAPI 3.1 document of the HTTP API and an AsyncAPI 3.0 document of the WebSocket API. The
//! committed copies live in `contract/`; `tests/tests/integration/contract.rs` fails when they differ from what
//! this module generates, and `UPDATE_CONTRACT=1` rewrites them (README, "Contract").
//!
//! Every schema comes from `#[derive(schemars::JsonSchema)]` on the type that is serialized (behind
//! `cfg_attr(feature = "schema")`, so no Lambda binary links schemars): a field added to a view, an event or the
//! frame envelope is in the contract at the next regeneration. Two things are not types, and are written here:
//! the request bodies (decoded by hand, `handlers::http_api::parse_draft` and `place_bid`, for their exact
//! error codes: the tests check every request the server accepted against these schemas) and which error codes
//! each route can answer (their statuses come from `ApiError::status`).
//!
//! Both documents are assembled as JSON from the schemars schemas rather than with an OpenAPI crate: `utoipa`
//! derives schemas of its own (a second derive on every wire type, with its own reading of the serde
//! attributes) and its current release needs a newer Rust than this workspace's `rust-version`; `aide` takes
//! schemars schemas but is built around axum routers (these routes are API Gateway's) and its stable release is
//! on schemars 0.9. No Rust crate writes AsyncAPI. The tests validate both documents against the official
//! OpenAPI 3.1 and AsyncAPI 3.0 JSON Schemas (`contract/meta/`), which is what a typed builder would have given.

use crate::auth::AuthError;
use crate::domain::{
    DomainError, Money, MAX_DESCRIPTION_LEN, MAX_DURATION_MS, MAX_MONEY, MAX_TITLE_LEN,
    MIN_DURATION_MS,
};
use crate::error::{ApiError, ErrorBody, WsError};
use crate::frames::{ClientMessage, Frame};
use crate::handlers::views::{
    AuctionCreated, AuctionDetail, AuctionEndResult, AuctionList, BidAccepted, TicketIssued,
};
use crate::ports::StoreError;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Where both documents keep their schemas; every `$ref` points here.
pub const COMPONENTS: &str = "#/components/schemas/";

// ---- request bodies: decoded by hand, described here ----

/// The body of `POST /auctions`: exactly one of `endsAt` and `durationSeconds`, at most one of
/// `minIncrement` and `increments`.
#[derive(JsonSchema)]
#[schemars(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{"required": ["endsAt"]}, {"required": ["durationSeconds"]}]))]
#[schemars(extend("not" = {"required": ["minIncrement", "increments"]}))]
pub struct CreateAuctionRequest {
    /// 1–300 bytes of UTF-8 (surrounding whitespace trimmed; JSON Schema counts characters, the server bytes).
    #[schemars(length(min = 1, max = MAX_TITLE_LEN))]
    pub title: String,
    /// Up to 4,000 bytes of UTF-8 (JSON Schema counts characters, the server bytes: 1,000 four-byte emoji at
    /// most). Shown on the auction's page only, never in the listing.
    #[schemars(length(max = MAX_DESCRIPTION_LEN))]
    pub description: Option<String>,
    /// Integer cents.
    #[schemars(range(min = 1, max = MAX_MONEY))]
    pub starting_price: i64,
    /// A fixed step at every price (integer cents). Without it and without `increments`: the default ladder.
    #[schemars(range(min = 1, max = MAX_MONEY))]
    pub min_increment: Option<i64>,
    /// The increment ladder: `[[fromPriceCents, stepCents], …]`, 1–20 rungs, the first from 0, ascending.
    #[schemars(length(min = 1, max = 20))]
    pub increments: Option<Vec<(i64, i64)>>,
    /// 0 (sudden death) to 300; default 10. A bid with less than this left moves the end to now + this.
    #[schemars(range(min = 0, max = 300))]
    pub soft_close_seconds: Option<i64>,
    /// Hidden reserve, integer cents: below it the auction ends with no winner. Never returned.
    #[schemars(range(min = 1, max = MAX_MONEY))]
    pub reserve_price: Option<i64>,
    /// Epoch ms, now to 30 days ahead: the auction is `scheduled` until then.
    pub starts_at: Option<i64>,
    /// Epoch ms, 10 s to 30 days after the start.
    pub ends_at: Option<i64>,
    #[schemars(range(min = MIN_DURATION_MS / 1000, max = MAX_DURATION_MS / 1000))]
    pub duration_seconds: Option<i64>,
}

/// The body of `POST /auctions/{id}/bids`: a plain bid or a maximum.
#[derive(JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum PlaceBidRequest {
    Plain {
        /// Integer cents: at least the auction's `minimumBid`.
        #[schemars(range(min = 1, max = MAX_MONEY))]
        amount: i64,
    },
    Max {
        /// Integer cents: the server bids for you, one step at a time, up to it. Never shown to anyone.
        #[serde(rename = "maxAmount")]
        #[schemars(range(min = 1, max = MAX_MONEY))]
        max_amount: i64,
    },
}

// ---- error codes, read from the error types ----

/// One value of every [`ApiError`] variant, and of every code a variant can give.
fn api_errors() -> Vec<ApiError> {
    let cents = Money::new(1).unwrap_or_else(|_| unreachable!("1 cent is valid money"));
    let invalid = |field| DomainError::invalid(field, "");
    let all = vec![
        ApiError::Auth(AuthError::MissingToken),
        ApiError::Auth(AuthError::Invalid),
        ApiError::Auth(AuthError::Expired),
        ApiError::Auth(AuthError::NotYetValid),
        ApiError::Auth(AuthError::LifetimeTooLong),
        ApiError::Auth(AuthError::WrongAudience),
        ApiError::Auth(AuthError::WrongAuction),
        ApiError::Forbidden { needed: "" },
        ApiError::OwnAuction,
        ApiError::NotSeller,
        ApiError::AuctionNotFound,
        ApiError::InvalidId(invalid("auctionId")),
        ApiError::RouteNotFound,
        ApiError::MethodNotAllowed,
        ApiError::EmptyBody,
        ApiError::InvalidJson(String::new()),
        ApiError::PayloadTooLarge { limit: 0 },
        ApiError::Validation(invalid("amount")),
        ApiError::Validation(invalid("title")),
        ApiError::BidTooLow {
            current_price: cents,
            minimum_bid: cents,
        },
        ApiError::AuctionNotActive { ends_at: 0 },
        ApiError::AuctionNotStarted { starts_at: 0 },
        ApiError::AlreadyLeading,
        ApiError::MaxNotRaised,
        ApiError::AdminOnly,
        ApiError::IdempotencyKeyReused,
        ApiError::Unavailable {
            retry_after_secs: 1,
        },
        ApiError::RateLimited {
            retry_after_secs: 1,
        },
        ApiError::TooManyAuctions { limit: 1 },
        ApiError::InvalidCursor,
        ApiError::Internal(String::new()),
    ];
    // A new variant does not compile until it has a sample above.
    for e in &all {
        match e {
            ApiError::Auth(
                AuthError::MissingToken
                | AuthError::Invalid
                | AuthError::Expired
                | AuthError::NotYetValid
                | AuthError::LifetimeTooLong
                | AuthError::WrongAudience
                | AuthError::WrongAuction,
            )
            | ApiError::Forbidden { .. }
            | ApiError::OwnAuction
            | ApiError::NotSeller
            | ApiError::AuctionNotFound
            | ApiError::InvalidId(_)
            | ApiError::RouteNotFound
            | ApiError::MethodNotAllowed
            | ApiError::EmptyBody
            | ApiError::InvalidJson(_)
            | ApiError::PayloadTooLarge { .. }
            | ApiError::Validation(_)
            | ApiError::BidTooLow { .. }
            | ApiError::AuctionNotActive { .. }
            | ApiError::AuctionNotStarted { .. }
            | ApiError::AlreadyLeading
            | ApiError::MaxNotRaised
            | ApiError::AdminOnly
            | ApiError::IdempotencyKeyReused
            | ApiError::Unavailable { .. }
            | ApiError::RateLimited { .. }
            | ApiError::TooManyAuctions { .. }
            | ApiError::InvalidCursor
            | ApiError::Internal(_) => {}
        }
    }
    all
}

/// One value of every [`WsError`] variant, and of every code a variant can give.
fn ws_errors() -> Vec<WsError> {
    let all = vec![
        WsError::MissingConnectionId,
        WsError::InvalidAuctionId,
        WsError::Auth(AuthError::MissingToken),
        WsError::Auth(AuthError::Invalid),
        WsError::Auth(AuthError::Expired),
        WsError::Auth(AuthError::NotYetValid),
        WsError::Auth(AuthError::LifetimeTooLong),
        WsError::Auth(AuthError::WrongAudience),
        WsError::Auth(AuthError::WrongAuction),
        WsError::AuctionNotFound,
        WsError::AuctionEnded,
        WsError::UnknownConnection,
        WsError::TooManySockets,
        WsError::AuctionFull,
        WsError::RateLimited,
        WsError::ReadOnly,
        WsError::Store(StoreError::Throttled),
        WsError::Store(StoreError::Corrupt(String::new())),
    ];
    for e in &all {
        match e {
            WsError::MissingConnectionId
            | WsError::InvalidAuctionId
            | WsError::Auth(
                AuthError::MissingToken
                | AuthError::Invalid
                | AuthError::Expired
                | AuthError::NotYetValid
                | AuthError::LifetimeTooLong
                | AuthError::WrongAudience
                | AuthError::WrongAuction,
            )
            | WsError::AuctionNotFound
            | WsError::AuctionEnded
            | WsError::UnknownConnection
            | WsError::TooManySockets
            | WsError::AuctionFull
            | WsError::RateLimited
            | WsError::ReadOnly
            | WsError::Store(_) => {}
        }
    }
    all
}

/// Every HTTP error code with its status.
pub fn api_error_codes() -> BTreeMap<&'static str, u16> {
    api_errors()
        .iter()
        .map(|e| (e.code(), e.status().as_u16()))
        .collect()
}

// ---- the HTTP API ----

/// One route of the HTTP API.
struct Operation {
    method: &'static str,
    path: &'static str,
    operation_id: &'static str,
    summary: &'static str,
    description: &'static str,
    authenticated: bool,
    parameters: &'static [&'static str],
    request: Option<fn(&mut SchemaGenerator) -> Value>,
    success: (u16, &'static str, fn(&mut SchemaGenerator) -> Value),
    /// The codes it can answer besides success (statuses from `ApiError::status`).
    errors: &'static [&'static str],
}

fn schema_ref<T: JsonSchema>(gen: &mut SchemaGenerator) -> Value {
    gen.subschema_for::<T>().to_value()
}

/// Every answer a store failure can give.
const STORE: [&str; 2] = ["service_unavailable", "internal_error"];
const AUTH: [&str; 6] = [
    "missing_token",
    "invalid_token",
    "token_expired",
    "token_not_yet_valid",
    "token_lifetime_too_long",
    "wrong_token_type",
];
const BODY: [&str; 3] = ["payload_too_large", "empty_body", "invalid_json"];

fn operations() -> Vec<Operation> {
    fn codes(groups: &[&[&'static str]]) -> &'static [&'static str] {
        Vec::leak(groups.concat())
    }
    vec![
        Operation {
            method: "post",
            path: "/auctions",
            operation_id: "createAuction",
            summary: "Create an auction",
            description: "Seller or admin. `201` with the new auction.",
            authenticated: true,
            parameters: &[],
            request: Some(schema_ref::<CreateAuctionRequest>),
            success: (201, "The auction created.", schema_ref::<AuctionCreated>),
            errors: codes(&[
                &AUTH,
                &["forbidden", "validation_failed", "too_many_auctions", "method_not_allowed"],
                &BODY,
                &STORE,
            ]),
        },
        Operation {
            method: "get",
            path: "/auctions",
            operation_id: "listAuctions",
            summary: "List active auctions",
            description: "Active auctions, soonest ending first, a page at a time (pass `nextCursor` back as \
                `cursor`).",
            authenticated: false,
            parameters: &["limit", "cursor"],
            request: None,
            success: (200, "Active auctions.", schema_ref::<AuctionList>),
            errors: codes(&[
                &["validation_failed", "invalid_cursor", "method_not_allowed"],
                &STORE,
            ]),
        },
        Operation {
            method: "get",
            path: "/auctions/{id}",
            operation_id: "getAuction",
            summary: "One auction and its most recent bids",
            description: "The auction and its 20 most recent bids, newest first. Bid history shows names, never \
                bidder ids.",
            authenticated: false,
            parameters: &["id"],
            request: None,
            success: (200, "The auction.", schema_ref::<AuctionDetail>),
            errors: codes(&[
                &["invalid_id", "auction_not_found", "method_not_allowed"],
                &STORE,
            ]),
        },
        Operation {
            method: "post",
            path: "/auctions/{id}/bids",
            operation_id: "placeBid",
            summary: "Place a bid",
            description: "Any signed-in user but the seller. Accepted only by one conditional write; answered \
                once committed and handed to the publisher. A retry with the same `Idempotency-Key` gets the \
                original answer (with `Idempotent-Replayed: true`).",
            authenticated: true,
            parameters: &["id", "Idempotency-Key"],
            request: Some(schema_ref::<PlaceBidRequest>),
            success: (201, "The bid was accepted.", schema_ref::<BidAccepted>),
            errors: codes(&[
                &AUTH,
                &[
                    "invalid_id",
                    "invalid_amount",
                    "validation_failed",
                    "own_auction",
                    "auction_not_found",
                    "bid_too_low",
                    "auction_not_active",
                    "auction_not_started",
                    "already_leading",
                    "max_not_raised",
                    "idempotency_key_reused",
                    "rate_limited",
                    "method_not_allowed",
                ],
                &BODY,
                &STORE,
            ]),
        },
        Operation {
            method: "post",
            path: "/auctions/{id}/ticket",
            operation_id: "issueTicket",
            summary: "A WebSocket connect ticket",
            description: "Any signed-in user. The credential of one `$connect` to this auction (`?ticket=`), \
                valid 30 s: the session token never travels in a URL.",
            authenticated: true,
            parameters: &["id"],
            request: None,
            success: (200, "The ticket.", schema_ref::<TicketIssued>),
            errors: codes(&[&AUTH, &["invalid_id", "method_not_allowed"], &STORE]),
        },
        Operation {
            method: "post",
            path: "/auctions/{id}/end",
            operation_id: "endAuction",
            summary: "End an auction early",
            description: "The auction's seller (while it has no bids) or an admin. Exactly once however many \
                race; `alreadyEnded: true` when it had ended before.",
            authenticated: true,
            parameters: &["id"],
            request: None,
            success: (200, "The auction, ended.", schema_ref::<AuctionEndResult>),
            errors: codes(&[
                &AUTH,
                &[
                    "forbidden",
                    "not_seller",
                    "admin_only",
                    "invalid_id",
                    "auction_not_found",
                    "method_not_allowed",
                ],
                &STORE,
            ]),
        },
    ]
}

fn parameter(name: &str) -> Value {
    let id = json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9._=+/:-]+$"});
    match name {
        "id" => {
            json!({"name": "id", "in": "path", "required": true, "description": "The auction id.",
            "schema": id})
        }
        "limit" => json!({"name": "limit", "in": "query", "required": false,
            "description": "At most this many auctions per page (default 20).",
            "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}}),
        "cursor" => json!({"name": "cursor", "in": "query", "required": false,
            "description": "The previous page's `nextCursor` (opaque).",
            "schema": {"type": "string", "maxLength": 256}}),
        "Idempotency-Key" => json!({"name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Retries with the same key within 24 h get the original answer; the same key with \
                another amount is `idempotency_key_reused`.",
            "schema": id}),
        other => unreachable!("no parameter {other}"),
    }
}

/// The error answers of one route, one per status, each naming the codes it can carry.
fn error_responses(op: &Operation, responses: &mut Map<String, Value>) {
    let statuses = api_error_codes();
    let mut by_status: BTreeMap<u16, Vec<&str>> = BTreeMap::new();
    for code in op.errors {
        let status = statuses
            .get(code)
            .unwrap_or_else(|| panic!("{} {}: no error code {code}", op.method, op.path));
        by_status.entry(*status).or_default().push(code);
    }
    for (status, codes) in by_status {
        let mut response = json!({
            "description": codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "),
            "content": {"application/json": {"schema": {
                "$ref": format!("{COMPONENTS}ErrorBody"),
                "properties": {"error": {"enum": codes}},
            }}},
        });
        if status == 503 {
            response["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before retrying (as `retryAfterSeconds`).",
                "schema": {"type": "integer", "minimum": 0}}});
        }
        responses.insert(status.to_string(), response);
    }
}

fn generator(deserialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    if deserialize {
        settings.for_deserialize().into_generator()
    } else {
        settings.for_serialize().into_generator()
    }
}

/// The OpenAPI 3.1 document of the HTTP API.
pub fn openapi() -> Value {
    let mut gen = generator(false);
    // Request bodies are read, not written: their optional fields may be absent.
    let mut requests = generator(true);
    let mut paths = Map::new();
    for op in operations() {
        let mut responses = Map::new();
        let (status, description, body) = op.success;
        let mut success = json!({"description": description,
            "content": {"application/json": {"schema": body(&mut gen)}}});
        if op.operation_id == "placeBid" {
            success["headers"] = json!({"Idempotent-Replayed": {
                "description": "`true` when this is the original answer to an earlier request with the same \
                    Idempotency-Key.",
                "schema": {"type": "string", "enum": ["true"]}}});
        }
        responses.insert(status.to_string(), success);
        error_responses(&op, &mut responses);
        let mut operation = json!({
            "operationId": op.operation_id,
            "summary": op.summary,
            "description": op.description,
            "parameters": op.parameters.iter().map(|p| parameter(p)).collect::<Vec<_>>(),
            "responses": responses,
        });
        if op.authenticated {
            operation["security"] = json!([{"bearer": []}]);
        }
        if let Some(request) = op.request {
            operation["requestBody"] = json!({"required": true,
                "description": "JSON, at most 16 KiB.",
                "content": {"application/json": {"schema": request(&mut requests)}}});
        }
        if let Value::Object(methods) = paths.entry(op.path).or_insert_with(|| json!({})) {
            methods.insert(op.method.to_owned(), operation);
        }
    }
    let _ = schema_ref::<ErrorBody>(&mut gen);
    let mut schemas = gen.take_definitions(true);
    schemas.extend(requests.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Live auction: HTTP API",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "MIT", "identifier": "MIT"},
            "description": "Bids and auctions over HTTPS. Money is integer minor units (cents); times are epoch \
                milliseconds. Every error is `ErrorBody`: a stable `error` code (README, \"Error codes\") and a \
                `message` for people. A request to no route is answered by API Gateway itself: `404 {\"message\": \"Not \
                Found\"}`. Generated from the Rust types \
                (`shared/src/contract.rs`); do not edit.",
        },
        "servers": [
            {"url": "http://127.0.0.1:3000", "description": "The local stack (`cargo run -p local-stack`)."},
            {"url": "https://{apiId}.execute-api.{region}.amazonaws.com", "description": "The deployed HTTP API.",
             "variables": {"apiId": {"default": "api-id"}, "region": {"default": "us-east-1"}}},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "HS256 with `sub`, `name`, `role` (`bidder`, `seller`, `admin`) and `exp`, all \
                    required."}},
        },
    })
}

// ---- the WebSocket API ----

/// What the document says of the frames the server sends today, by `type`. A type the `Event` enum gains is a
/// message without an entry here (its variant's doc comment is its summary).
fn frame_summary(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "batch" => (
            "Delivery",
            "Every bid committed since the previous delivery (`fromSeq..=seq`), in seq order, then the status \
             after them, and `auction.ended` when the range includes the close.",
        ),
        "auction.status" => (
            "Status",
            "The current status alone: periodic, and the answer to `sync` (no `fromSeq`).",
        ),
        "bid.placed" => (
            "Bid placed",
            "An accepted bid. Sent today only as an item of a `batch` (with the seq it took).",
        ),
        "auction.ended" => (
            "Auction ended",
            "The winner and final price (all `null` with no bids). Sent today only as the last item of a \
             `batch`; the server then closes every viewer's socket.",
        ),
        "error" => (
            "Notice",
            "Sent only to the connection whose message was refused (`seq` 0).",
        ),
        _ => return None,
    })
}

/// Every frame `type` with its variant's doc comment, read from the generated `Frame` schema (its `oneOf`, one
/// branch per `Event` variant).
fn frame_types(gen: &SchemaGenerator) -> Vec<(String, Option<String>)> {
    let branches = gen.definitions()["Frame"]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    branches
        .iter()
        .filter_map(|b| {
            let kind = b["properties"]["type"]["const"].as_str()?.to_owned();
            Some((kind, b["description"].as_str().map(str::to_owned)))
        })
        .collect()
}

/// The AsyncAPI 3.0 document of the WebSocket API.
pub fn asyncapi() -> Value {
    let mut gen = generator(false);
    let frame = schema_ref::<Frame>(&mut gen);
    let mut clients = generator(true);
    let sync = schema_ref::<ClientMessage>(&mut clients);
    let mut messages = Map::new();
    let mut channel_messages = Map::new();
    let op = |action: &str, message: &str| {
        json!({"action": action, "channel": {"$ref": "#/channels/auction"},
            "messages": [{"$ref": format!("#/channels/auction/messages/{message}")}]})
    };
    let mut operations = Map::new();
    let kinds = frame_types(&gen);
    assert!(
        !kinds.is_empty(),
        "the Frame schema has one branch per event type"
    );
    for (kind, doc) in kinds {
        let (title, summary) = match frame_summary(&kind) {
            Some((title, summary)) => (title.to_owned(), summary.to_owned()),
            None => (
                kind.clone(),
                doc.unwrap_or_else(|| format!("A frame of type `{kind}`.")),
            ),
        };
        let mut payload = json!({"allOf": [frame, {"properties": {"type": {"const": kind}}, "required": ["type"]}]});
        if kind == "error" {
            let codes: Vec<&str> = ws_errors()
                .iter()
                .filter_map(|e| e.notice().map(|_| e.code()))
                .collect();
            payload["allOf"][1]["properties"]["data"] =
                json!({"properties": {"error": {"enum": codes}}});
        }
        channel_messages.insert(
            kind.clone(),
            json!({"$ref": format!("#/components/messages/{kind}")}),
        );
        operations.insert(format!("send.{kind}"), op("send", &kind));
        messages.insert(
            kind.clone(),
            json!({"name": kind, "title": title, "summary": summary, "payload": payload}),
        );
    }
    messages.insert(
        "sync".into(),
        json!({"name": "sync", "title": "Sync", "payload": sync,
            "summary": "The only message a client may send: ask for the current `auction.status`, at most once a \
                second (faster: one `rate_limited` notice a second, then nothing). Anything else gets one \
                `read_only` notice and is never relayed; the third closes the connection."}),
    );
    channel_messages.insert("sync".into(), json!({"$ref": "#/components/messages/sync"}));
    let refusals: BTreeMap<&str, u16> = ws_errors()
        .iter()
        .filter(|e| {
            !matches!(
                e,
                WsError::ReadOnly | WsError::RateLimited | WsError::UnknownConnection
            )
        })
        .map(|e| (e.code(), e.status().as_u16()))
        .collect();
    let refusals = refusals
        .iter()
        .map(|(code, status)| format!("{status} `{code}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sync_op = op("receive", "sync");
    sync_op["reply"] = json!({"channel": {"$ref": "#/channels/auction"}, "messages": [
        {"$ref": "#/channels/auction/messages/auction.status"},
        {"$ref": "#/channels/auction/messages/error"}]});
    operations.insert("receive.sync".into(), sync_op);
    let mut schemas = gen.take_definitions(true);
    schemas.extend(clients.take_definitions(true));
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Live auction: WebSocket API",
            "version": env!("CARGO_PKG_VERSION"),
            "license": {"name": "MIT"},
            "description": "Viewers only listen. Every frame is JSON, camelCase, and carries the auction's sequence \
                number `seq` (each accepted bid takes the next number, the close one more); a viewer receives \
                one auction's frames in seq order, each range starting at most right after the previous frame \
                (`fromSeq <= previous seq + 1`; more is a gap: fill it with `GET /auctions/{id}`). Seqs a viewer \
                already has may repeat: drop them. A standalone `auction.viewers` frame is delivered apart and may \
                carry a lower seq than a frame already received: take its count, not its seq. After `auction.ended` the server closes every socket. \
                Generated from the Rust types (`shared/src/contract.rs`); do not edit.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:3000", "pathname": "/ws", "protocol": "ws",
                "description": "The local stack (`cargo run -p local-stack`)."},
            "aws": {"host": "{apiId}.execute-api.{region}.amazonaws.com", "pathname": "/{stage}", "protocol": "wss",
                "description": "The deployed WebSocket API.",
                "variables": {"apiId": {"default": "api-id"}, "region": {"default": "us-east-1"},
                    "stage": {"default": "prod"}}},
        },
        "channels": {"auction": {
            "title": "One viewer socket of one auction",
            "description": format!("Connect with `?auctionId=<id>&ticket=<ticket>` (browsers cannot set headers on \
                a WebSocket): a ticket from `POST /auctions/{{id}}/ticket`, valid 30 s, for this auction only. A refused handshake answers the status of its error (`WsError`; API Gateway passes the status \
                on, not the body): {refusals}."),
            "messages": channel_messages,
            "bindings": {"ws": {"bindingVersion": "0.1.0", "query": {"type": "object",
                "required": ["auctionId", "ticket"],
                "properties": {
                    "auctionId": {"type": "string", "pattern": "^[A-Za-z0-9._=+/:-]{1,128}$"},
                    "ticket": {"type": "string", "description": "A connect ticket (`POST /auctions/{id}/ticket`): \
                        a short-lived JWT bound to this auction and user, never the session token."}}}}},
        }},
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    })
}

// ---- standalone schemas ----

fn root<T: JsonSchema>(deserialize: bool) -> Value {
    let settings = SchemaSettings::draft2020_12();
    let settings = if deserialize {
        settings.for_deserialize()
    } else {
        settings.for_serialize()
    };
    settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// One self-contained JSON Schema (2020-12) per body and frame, by file name.
pub fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        ("AuctionCreated", root::<AuctionCreated>(false)),
        ("AuctionList", root::<AuctionList>(false)),
        ("AuctionDetail", root::<AuctionDetail>(false)),
        ("AuctionEndResult", root::<AuctionEndResult>(false)),
        ("BidAccepted", root::<BidAccepted>(false)),
        ("TicketIssued", root::<TicketIssued>(false)),
        ("ErrorBody", root::<ErrorBody>(false)),
        ("CreateAuctionRequest", root::<CreateAuctionRequest>(true)),
        ("PlaceBidRequest", root::<PlaceBidRequest>(true)),
        ("Frame", root::<Frame>(false)),
        ("ClientMessage", root::<ClientMessage>(true)),
    ]
}

/// Every committed file of `contract/`, by path inside it, as written (keys sorted, so the text is the same
/// whatever order the maps keep).
pub fn documents() -> Vec<(String, String)> {
    let mut docs = vec![
        ("openapi.json".to_owned(), openapi()),
        ("asyncapi.json".to_owned(), asyncapi()),
    ];
    docs.extend(
        schemas()
            .into_iter()
            .map(|(name, schema)| (format!("schemas/{name}.json"), schema)),
    );
    docs.into_iter()
        .map(|(path, doc)| (path, to_text(&doc)))
        .collect()
}

/// Pretty JSON with every object's keys sorted, and a final newline.
pub fn to_text(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}
