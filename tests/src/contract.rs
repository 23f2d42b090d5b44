//! Real bodies and frames against the committed contract (`contract/`): every HTTP answer the tests see, by route
//! and status, against `openapi.json`; every frame a viewer receives, by its `type`, against `asyncapi.json`;
//! every request body the server accepted against the route's request schema. The harness (`harness.rs`) and
//! the local-stack client (`stack.rs`) call these on everything they read, so every integration test checks
//! the contract as a side effect.
//!
//! The published schemas leave objects open (clients must ignore fields they do not know, so new fields can be
//! added). Here every object type of the contract is closed (`unevaluatedProperties: false`): the server must
//! not send a field the contract does not name.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

pub fn contract_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../contract")
}

/// A committed document of `contract/`, parsed.
pub fn document(path: &str) -> Value {
    let file = contract_dir().join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", file.display()))
}

struct Contract {
    openapi: Value,
    asyncapi: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| Contract {
    openapi: document("openapi.json"),
    asyncapi: document("asyncapi.json"),
    validators: Mutex::new(HashMap::new()),
});

/// `schemas` with every object type closed: a root that lists `properties` and says nothing of others.
fn closed(schemas: &Value) -> Value {
    let mut schemas = schemas.clone();
    if let Some(map) = schemas.as_object_mut() {
        for schema in map.values_mut() {
            if let Some(s) = schema.as_object_mut() {
                if s.contains_key("properties") && !s.contains_key("additionalProperties") {
                    s.insert("unevaluatedProperties".into(), json!(false));
                }
            }
        }
    }
    schemas
}

impl Contract {
    /// A validator for `schema`, a part of `doc` whose `$ref`s point into `doc`'s `components/schemas`.
    fn validator(&self, key: &str, doc: &Value, schema: &Value) -> Arc<jsonschema::Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(key.to_owned())
            .or_insert_with(|| {
                let root = json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "components": {"schemas": closed(&doc["components"]["schemas"])},
                    "allOf": [schema],
                });
                Arc::new(
                    jsonschema::draft202012::new(&root)
                        .unwrap_or_else(|e| panic!("contract schema for {key}: {e}")),
                )
            })
            .clone()
    }
}

fn violations(validator: &jsonschema::Validator, value: &Value) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("  at {}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n"))
    }
}

/// The OpenAPI path template `path` matches (`{id}` is one segment), if any.
fn template_of(paths: &Value, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    paths.as_object()?.keys().find_map(|template| {
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        let same = parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && p.ends_with('}') && !s.is_empty()));
        same.then(|| template.clone())
    })
}

/// The answer `status` `body` of `method` `path` against `openapi.json`. `Ok` for a request to no route (API
/// Gateway answers those, not this API); an error for a status the route does not document.
pub fn http_violations(method: &str, path: &str, status: u16, body: &Value) -> Result<(), String> {
    let c = &*CONTRACT;
    let method = method.to_ascii_lowercase();
    let Some(template) = template_of(&c.openapi["paths"], path) else {
        return Ok(());
    };
    let operation = &c.openapi["paths"][&template][&method];
    if operation.is_null() {
        return Ok(());
    }
    let response = &operation["responses"][status.to_string()];
    if response.is_null() {
        return Err(format!(
            "{method} {template}: status {status} is not in contract/openapi.json (body {body})"
        ));
    }
    let schema = &response["content"]["application/json"]["schema"];
    let key = format!("{method} {template} {status}");
    violations(&c.validator(&key, &c.openapi, schema), body).map_err(|e| {
        format!("{key}: the body is not what contract/openapi.json says:\n{e}\nbody: {body}")
    })
}

/// A request body the server accepted, against the route's request schema.
pub fn request_violations(method: &str, path: &str, body: &Value) -> Result<(), String> {
    let c = &*CONTRACT;
    let method = method.to_ascii_lowercase();
    let Some(template) = template_of(&c.openapi["paths"], path) else {
        return Err(format!(
            "{method} {path}: no such route in contract/openapi.json"
        ));
    };
    let schema = &c.openapi["paths"][&template][&method]["requestBody"]["content"]
        ["application/json"]["schema"];
    if schema.is_null() {
        return Err(format!(
            "{method} {template} takes no body in contract/openapi.json"
        ));
    }
    let key = format!("{method} {template} request");
    violations(&c.validator(&key, &c.openapi, schema), body).map_err(|e| {
        format!("{key}: the server accepted a body contract/openapi.json does not allow:\n{e}\nbody: {body}")
    })
}

/// A frame a viewer received, against the AsyncAPI message of its `type`.
pub fn frame_violations(frame: &Value) -> Result<(), String> {
    let c = &*CONTRACT;
    let kind = frame["type"].as_str().unwrap_or("");
    let payload = &c.asyncapi["components"]["messages"][kind]["payload"];
    if kind == "sync" || payload.is_null() {
        return Err(format!(
            "a frame of type {kind:?} is not a message of contract/asyncapi.json: {frame}"
        ));
    }
    let key = format!("frame {kind}");
    violations(&c.validator(&key, &c.asyncapi, payload), frame)
        .map_err(|e| format!("{key}: not what contract/asyncapi.json says:\n{e}\nframe: {frame}"))
}

/// A message a client sends, against the AsyncAPI `sync` message.
pub fn client_message_violations(message: &Value) -> Result<(), String> {
    let c = &*CONTRACT;
    let payload = &c.asyncapi["components"]["messages"]["sync"]["payload"];
    violations(&c.validator("client sync", &c.asyncapi, payload), message)
}

/// [`http_violations`], as a test failure.
pub fn check_http(method: &str, path: &str, status: u16, body: &Value) {
    if let Err(e) = http_violations(method, path, status, body) {
        panic!("{e}");
    }
}

/// [`request_violations`], as a test failure.
pub fn check_request(method: &str, path: &str, body: &Value) {
    if let Err(e) = request_violations(method, path, body) {
        panic!("{e}");
    }
}

/// [`frame_violations`] on the raw bytes of a frame, as a test failure.
pub fn check_frame(bytes: &[u8]) {
    let frame: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "a frame is not JSON ({e}): {}",
            String::from_utf8_lossy(bytes)
        )
    });
    if let Err(e) = frame_violations(&frame) {
        panic!("{e}");
    }
}
