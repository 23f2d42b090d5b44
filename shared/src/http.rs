//! Small helpers for the HTTP API handlers: bodies, responses, path and header access.

use crate::domain::{AuctionId, DomainError, IdempotencyKey, Money};
use crate::error::ApiError;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// Bodies larger than this are refused with 413 before parsing.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn json_response<T: Serialize>(status: http::StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .unwrap_or_default()
}

pub fn error_response(err: &ApiError) -> Response<Body> {
    let status = err.status();
    if status.is_server_error() {
        tracing::error!(code = err.code(), error = ?err, "request failed");
    } else {
        tracing::info!(
            code = err.code(),
            status = status.as_u16(),
            "request refused"
        );
    }
    let mut resp = json_response(status, &err.body());
    if let Some(secs) = err.retry_after() {
        if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(http::header::RETRY_AFTER, v);
        }
    }
    resp
}

/// Turn a handler result into the response the Lambda returns.
pub fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(|e| error_response(&e))
}

/// The body as a JSON object: 413 past [`MAX_BODY_BYTES`], 400 when empty or not JSON (a key given twice in
/// any object included: serde_json would keep the last one silently), 422 when not an object.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes: &[u8] = match req.body() {
        Body::Empty => &[],
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::EmptyBody);
    }
    match serde_json::from_slice::<UniqueKeys>(bytes).map(|v| v.0) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(DomainError::invalid("body", "must be a JSON object").into()),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// A required JSON integer field. Refuses strings, fractions, exponents, booleans and values past i64.
pub fn int_field(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<i64>, DomainError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if n.is_u64() {
                Err(DomainError::invalid(field, "is too large"))
            } else {
                Err(DomainError::invalid(
                    field,
                    "must be a whole number (integer minor units, e.g. cents)",
                ))
            }
        }
        Some(_) => Err(DomainError::invalid(
            field,
            "must be a JSON integer (minor units, e.g. cents)",
        )),
    }
}

/// A positive amount of money in cents.
pub fn money_field(
    obj: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<Money>, DomainError> {
    match int_field(obj, field)? {
        None => Ok(None),
        Some(cents) => Money::new(cents).map(Some).map_err(|_| {
            DomainError::invalid(
                field,
                "must be a positive integer number of cents, at most 10^15",
            )
        }),
    }
}

pub fn string_field<'a>(
    obj: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, DomainError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DomainError::invalid(field, "must be a string")),
    }
}

/// `{id}` from the path, validated.
pub fn auction_id_param(req: &Request) -> Result<AuctionId, ApiError> {
    let params = req.path_parameters();
    let raw = params.first("id").ok_or(ApiError::RouteNotFound)?;
    AuctionId::parse(raw).map_err(ApiError::InvalidId)
}

/// The raw bearer token, if the `Authorization` header has one.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The optional `Idempotency-Key` header, validated.
pub fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| DomainError::invalid("Idempotency-Key", "must be ASCII"))?;
            Ok(Some(IdempotencyKey::parse(s.trim())?))
        }
    }
}

/// An integer query-string parameter with a default and a bound.
pub fn query_limit(
    req: &Request,
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let params = req.query_string_parameters();
    match params.first(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(DomainError::Invalid {
                field: "limit",
                reason: format!("must be an integer from 1 to {max}"),
            }
            .into()),
        },
    }
}

/// A JSON value whose objects each name a key once. serde_json's own `Value` keeps the last of repeated keys
/// (`{"amount": 1, "amount": 20000}` would bid 20000 where a proxy or a log read 1); this visitor builds the
/// same `Value` and refuses a repeated key with a parse error.
struct UniqueKeys(Value);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(UniqueKeys(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format_args!(
                    "duplicate key {key:?}"
                )));
            }
            let UniqueKeys(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<UniqueKeys>(s).map(|v| v.0)
    }

    #[test]
    fn unique_keys_parse_like_serde_json_and_refuse_repeats() {
        for ok in [
            r#"{"amount": 12500, "note": ["a", {"b": null}], "x": -1, "y": 1.5, "z": true}"#,
            "[]",
            "7",
            r#""s""#,
        ] {
            assert_eq!(
                parse(ok).unwrap(),
                serde_json::from_str::<Value>(ok).unwrap()
            );
        }
        for bad in [
            r#"{"amount": 1, "amount": 20000}"#,
            r#"{"a": {"k": 1, "k": 2}}"#,
            r#"[{"k": 1, "k": 1}]"#,
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.to_string().contains("duplicate key"), "{bad}: {e}");
        }
    }
}
