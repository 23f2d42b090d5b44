//! The published contract (`contract/`): the committed documents are exactly what the types generate, they
//! are valid OpenAPI 3.1 / AsyncAPI 3.0 / JSON Schema, the local stack serves them, and the checks the harness
//! runs on every body and frame do reject what the contract does not allow. `UPDATE_CONTRACT=1` rewrites the
//! committed documents.

use auction::contract;
use auction::frames::ClientMessage;
use auction_tests::contract::{
    client_message_violations, contract_dir, document, frame_violations, http_violations,
    request_violations,
};
use auction_tests::harness::TestApp;
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The first line where `committed` and `generated` differ, with a few lines of context from each.
fn first_difference(committed: &str, generated: &str) -> String {
    let (old, new): (Vec<&str>, Vec<&str>) =
        (committed.lines().collect(), generated.lines().collect());
    let at = (0..old.len().max(new.len()))
        .find(|&i| old.get(i) != new.get(i))
        .unwrap_or(0);
    let context = |lines: &[&str], sign: char| {
        lines
            .iter()
            .enumerate()
            .skip(at.saturating_sub(3))
            .take(7)
            .map(|(i, l)| format!("  {sign}{:>5} {l}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "first difference at line {}:\n committed:\n{}\n generated:\n{}",
        at + 1,
        context(&old, '-'),
        context(&new, '+')
    )
}

#[test]
fn the_committed_contract_is_what_the_types_generate() {
    let dir = contract_dir();
    let update = std::env::var_os("UPDATE_CONTRACT").is_some_and(|v| v == "1");
    let documents = contract::documents();
    let mut stale = Vec::new();
    for (path, generated) in &documents {
        let file = dir.join(path);
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        if committed == *generated {
            continue;
        }
        if update {
            std::fs::create_dir_all(file.parent().expect("a folder")).expect("create contract/");
            std::fs::write(&file, generated).expect("write the contract");
        } else {
            stale.push(format!(
                "contract/{path}: {}",
                first_difference(&committed, generated)
            ));
        }
    }
    // A schema file no type generates any more (a type renamed or removed).
    let generated: BTreeSet<String> = documents.iter().map(|(p, _)| p.clone()).collect();
    for entry in std::fs::read_dir(dir.join("schemas")).expect("contract/schemas") {
        let name = format!(
            "schemas/{}",
            entry.expect("entry").file_name().to_string_lossy()
        );
        if !generated.contains(&name) {
            if update {
                std::fs::remove_file(dir.join(&name)).expect("remove a stale schema");
            } else {
                stale.push(format!("contract/{name}: no type generates it any more"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "the committed contract differs from what the Rust types generate. If the change is intended, run\n\n  \
         UPDATE_CONTRACT=1 cargo test -p auction-tests --test integration contract::\n\nand commit contract/.\n\n{}",
        stale.join("\n\n")
    );
}

#[test]
fn the_documents_are_valid_openapi_3_1_and_asyncapi_3_0() {
    for (doc, meta) in [
        ("openapi.json", "meta/openapi-3.1.schema.json"),
        ("asyncapi.json", "meta/asyncapi-3.0.0.schema.json"),
    ] {
        let validator = jsonschema::validator_for(&document(meta)).expect(meta);
        let doc_value = document(doc);
        let errors: Vec<String> = validator
            .iter_errors(&doc_value)
            .map(|e| format!("  at {}: {e}", e.instance_path()))
            .take(20)
            .collect();
        assert!(
            errors.is_empty(),
            "contract/{doc} against {meta}:\n{}",
            errors.join("\n")
        );
    }
    // Every schema is a valid JSON Schema (2020-12) that compiles, in the documents and on its own.
    for (name, _) in contract::schemas() {
        let schema = document(&format!("schemas/{name}.json"));
        jsonschema::meta::validate(&schema).unwrap_or_else(|e| panic!("schemas/{name}.json: {e}"));
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("schemas/{name}.json: {e}"));
    }
}

#[test]
fn every_route_of_the_local_stack_and_no_other_is_in_the_openapi_document() {
    let openapi = document("openapi.json");
    let documented: BTreeSet<String> = openapi["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .expect("methods")
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let served: BTreeSet<String> = local_stack::http_api::Route::ALL
        .iter()
        .map(|r| r.key().to_owned())
        .collect();
    assert_eq!(documented, served);
}

/// The README's "Error codes" table, as (status, code).
fn readme_error_codes() -> BTreeSet<(u16, String)> {
    let readme = std::fs::read_to_string(contract_dir().join("../README.md")).expect("README.md");
    let section = readme
        .split("### Error codes")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README has an Error codes section");
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let status = cells.get(1)?.parse().ok()?;
            Some((status, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect()
}

#[test]
fn the_error_codes_are_the_readmes_with_the_same_statuses() {
    let from_types: BTreeSet<(u16, String)> = contract::api_error_codes()
        .into_iter()
        .map(|(code, status)| (status, code.to_owned()))
        .collect();
    assert_eq!(from_types, readme_error_codes());
    // Every code a route lists is answered with the status the document files it under.
    let openapi = document("openapi.json");
    for (path, methods) in openapi["paths"].as_object().expect("paths") {
        for (method, op) in methods.as_object().expect("methods") {
            for (status, response) in op["responses"].as_object().expect("responses") {
                let codes = response["content"]["application/json"]["schema"]["properties"]
                    ["error"]["enum"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for code in codes {
                    let code = code.as_str().expect("a code");
                    assert_eq!(
                        contract::api_error_codes()[code].to_string(),
                        *status,
                        "{method} {path}: {code}"
                    );
                }
            }
        }
    }
}

/// A real answer from the handlers, then the same answer changed: the contract must take the first and refuse
/// every change (so the checks the harness runs on every test can fail).
#[tokio::test]
async fn the_checks_refuse_bodies_and_frames_the_contract_does_not_allow() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let viewer = "conn-contract-1";
    assert_eq!(t.connect(viewer, &id, &t.viewer(viewer)).await, 200);
    let bid = t.bid(&t.bidder(1), &id, 10_000).await;
    assert_eq!(bid.status, 201, "{}", bid.body);
    let detail = t.get(&id).await.body;
    http_violations("GET", "/auctions/{id}", 200, &detail).expect("the real answer");

    let mut leaks_bidder = detail.clone();
    leaks_bidder["bids"][0]["bidderId"] = json!("bidder-1");
    let mut no_seq = detail.clone();
    no_seq["auction"]
        .as_object_mut()
        .expect("auction")
        .remove("seq");
    let mut price_as_text = detail.clone();
    price_as_text["auction"]["currentPrice"] = json!("100.00");
    let mut bad_status = detail.clone();
    bad_status["auction"]["status"] = json!("paused");
    for (what, body) in [
        ("an undocumented field", leaks_bidder),
        ("a missing field", no_seq),
        ("a price as text", price_as_text),
        ("an unknown status", bad_status),
    ] {
        assert!(
            http_violations("GET", "/auctions/{id}", 200, &body).is_err(),
            "{what} passed: {body}"
        );
    }

    // Errors: a code the route does not answer, a code under another status, a status it never answers.
    let low = t.bid(&t.bidder(2), &id, 10_000).await;
    assert_eq!((low.status, low.code()), (409, "bid_too_low"));
    http_violations("POST", "/auctions/{id}/bids", 409, &low.body).expect("the real refusal");
    let mut not_seller = low.body.clone();
    not_seller["error"] = json!("not_seller");
    assert!(http_violations("POST", "/auctions/{id}/bids", 409, &not_seller).is_err());
    assert!(http_violations("POST", "/auctions/{id}/bids", 403, &not_seller).is_err());
    assert!(http_violations("POST", "/auctions/{id}/bids", 418, &low.body).is_err());
    assert!(http_violations("GET", "/auctions/{id}", 409, &low.body).is_err());

    // Requests the server would not take.
    request_violations("POST", "/auctions/{id}/bids", &json!({"amount": 10_100})).expect("a bid");
    request_violations("POST", "/auctions/{id}/bids", &json!({"maxAmount": 20_000}))
        .expect("a maximum");
    for body in [
        json!({"amount": "10100"}),
        json!({"amount": 0}),
        json!({}),
        json!({"amount": 1, "max": 2}),
        json!({"amount": 1, "maxAmount": 2}),
    ] {
        assert!(
            request_violations("POST", "/auctions/{id}/bids", &body).is_err(),
            "{body}"
        );
    }
    let create = json!({"title": "Lamp", "startingPrice": 100, "durationSeconds": 60});
    request_violations("POST", "/auctions", &create).expect("a create");
    let mut both_ends = create.clone();
    both_ends["endsAt"] = json!(1);
    assert!(request_violations("POST", "/auctions", &both_ends).is_err());

    // Frames: the real one, then changed.
    let raw = t
        .broadcaster()
        .raw_frames(&auction::domain::ConnectionId::parse(viewer).unwrap());
    let frame: Value = serde_json::from_slice(raw.last().expect("the viewer got the bid")).unwrap();
    assert_eq!(frame["type"], "batch", "{frame}");
    frame_violations(&frame).expect("the real frame");
    let mut unknown_type = frame.clone();
    unknown_type["type"] = json!("bid.retracted");
    let mut item_without_seq_type = frame.clone();
    item_without_seq_type["data"][0]["type"] = json!("bid.retracted");
    let mut amount_as_text = frame.clone();
    amount_as_text["data"][0]["data"]["amount"] = json!("100.00");
    let mut bidder_id = frame.clone();
    bidder_id["data"][0]["data"]["bidderId"] = json!("bidder-1");
    let mut no_seq = frame.clone();
    no_seq.as_object_mut().unwrap().remove("seq");
    for (what, f) in [
        ("an unknown frame type", unknown_type),
        ("an unknown event in a batch", item_without_seq_type),
        ("an amount as text", amount_as_text),
        ("a bidder id in bid.placed", bidder_id),
        ("a frame without seq", no_seq),
    ] {
        assert!(frame_violations(&f).is_err(), "{what} passed: {f}");
    }
    let mut notice = json!({"type": "error", "seq": 0, "serverTime": 1, "data": {"error": "read_only", "message": "…"}});
    frame_violations(&notice).expect("a notice");
    notice["data"]["error"] = json!("bid_too_low");
    assert!(
        frame_violations(&notice).is_err(),
        "a notice with a code no notice has"
    );
}

/// The `sync` schema takes exactly what `ClientMessage::parse` takes.
#[test]
fn the_sync_schema_is_what_the_server_accepts() {
    for text in [
        r#"{"action":"sync"}"#,
        r#"{"action":"SYNC"}"#,
        r#"{"action":"sync","x":1}"#,
        r#"{"action":"publish"}"#,
        r#"{"type":"bid.placed","data":{}}"#,
        r#"{}"#,
        r#"[]"#,
        r#""sync""#,
    ] {
        let value: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(
            client_message_violations(&value).is_ok(),
            ClientMessage::parse(text).is_some(),
            "{text}"
        );
    }
}

#[tokio::test]
async fn the_local_stack_serves_the_committed_documents() {
    if std::env::var_os("UPDATE_CONTRACT").is_some_and(|v| v == "1") {
        // The stack serves the documents it was built with (`include_str!`): the ones before this update.
        return;
    }
    let stack = auction_tests::stack::start(local_stack::StoreChoice::Sqlite).await;
    let http = reqwest::Client::new();
    for doc in ["openapi.json", "asyncapi.json"] {
        let r = http
            .get(format!("{}/{doc}", stack.http_url))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 200, "{doc}");
        assert_eq!(r.headers()["content-type"], "application/json", "{doc}");
        assert_eq!(
            r.json::<Value>().await.expect("JSON"),
            document(doc),
            "{doc}"
        );
    }
    stack.shutdown().await;
}
