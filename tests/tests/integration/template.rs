//! `template.yaml` against the code: the HTTP API routes the template declares are exactly the routes the
//! local stack serves (and each resolves to its handler), and the `AuctionTable` resource is the table
//! `create_table` makes (`store::dynamodb::TABLE`).

use auction::store::dynamodb::TABLE;
use local_stack::http_api::{route, Route};
use std::collections::BTreeSet;
use yaml_rust2::{Yaml, YamlLoader};

fn template() -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    YamlLoader::load_from_str(&text)
        .expect("template.yaml is YAML")
        .into_iter()
        .next()
        .expect("one document")
}

fn str_of(y: &Yaml) -> &str {
    y.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {y:?}"))
}

fn hash_entries(y: &Yaml) -> Vec<(&str, &Yaml)> {
    y.as_hash()
        .map(|h| h.iter().map(|(k, v)| (str_of(k), v)).collect())
        .unwrap_or_default()
}

/// `[(first, second)]` from a list of maps, e.g. `AttributeDefinitions` → (AttributeName, AttributeType).
fn pairs(list: &Yaml, first: &str, second: &str) -> Vec<(String, String)> {
    list.as_vec()
        .unwrap_or_else(|| panic!("expected a list, got {list:?}"))
        .iter()
        .map(|e| (str_of(&e[first]).to_owned(), str_of(&e[second]).to_owned()))
        .collect()
}

fn owned(spec: &[(&str, &str)]) -> Vec<(String, String)> {
    spec.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_http_routes_of_the_template_are_the_routes_the_local_stack_serves() {
    let t = template();
    let mut declared = BTreeSet::new();
    for (_, resource) in hash_entries(&t["Resources"]) {
        for (_, event) in hash_entries(&resource["Properties"]["Events"]) {
            if event["Type"].as_str() == Some("HttpApi") {
                let p = &event["Properties"];
                declared.insert(format!(
                    "{} {}",
                    str_of(&p["Method"]).to_ascii_uppercase(),
                    str_of(&p["Path"])
                ));
            }
        }
    }
    let served: BTreeSet<String> = Route::ALL.iter().map(|r| r.key().to_owned()).collect();
    assert_eq!(declared, served);
    for r in Route::ALL {
        let (method, path) = r.key().split_once(' ').unwrap();
        let concrete = path.replace("{id}", "01JD5Z8Q4W3N6R2T9V7X0Y1ABC");
        let matched = route(&method.parse().unwrap(), &concrete).map(|(r, _)| r);
        assert_eq!(matched, Some(r), "{concrete} resolves to its route");
    }
}

#[test]
fn the_template_table_is_the_table_create_table_makes() {
    let t = template();
    let table = &t["Resources"]["AuctionTable"];
    assert_eq!(str_of(&table["Type"]), "AWS::DynamoDB::Table");
    let p = &table["Properties"];
    assert_eq!(str_of(&p["BillingMode"]), TABLE.billing_mode);
    let mut attributes = pairs(&p["AttributeDefinitions"], "AttributeName", "AttributeType");
    let mut expected = owned(TABLE.attributes);
    attributes.sort();
    expected.sort();
    assert_eq!(attributes, expected, "AttributeDefinitions");
    assert_eq!(
        pairs(&p["KeySchema"], "AttributeName", "KeyType"),
        owned(TABLE.key_schema)
    );
    let indexes = p["GlobalSecondaryIndexes"].as_vec().expect("indexes");
    assert_eq!(indexes.len(), TABLE.indexes.len(), "GlobalSecondaryIndexes");
    for spec in TABLE.indexes {
        let index = indexes
            .iter()
            .find(|i| i["IndexName"].as_str() == Some(spec.name))
            .unwrap_or_else(|| panic!("index {} in the template", spec.name));
        assert_eq!(
            pairs(&index["KeySchema"], "AttributeName", "KeyType"),
            owned(spec.key_schema),
            "{}",
            spec.name
        );
        assert_eq!(
            str_of(&index["Projection"]["ProjectionType"]),
            spec.projection
        );
    }
    let ttl = &p["TimeToLiveSpecification"];
    assert_eq!(str_of(&ttl["AttributeName"]), TABLE.ttl_attribute);
    assert_eq!(ttl["Enabled"].as_bool(), Some(true));
}

#[test]
fn the_close_timer_state_machine_speaks_the_close_handlers_language() {
    use auction::domain::AuctionId;
    use auction::handlers::close::{wake_at_iso, CloseTimerEvent, TimerReply};
    let t = template();
    let sm = &t["Resources"]["CloseTimerStateMachine"]["Properties"];
    assert_eq!(
        str_of(&sm["Type"]),
        "STANDARD",
        "Express workflows cannot wait 30 days"
    );
    let states = &sm["Definition"]["States"];
    assert_eq!(str_of(&states["WaitForEnd"]["TimestampPath"]), "$.wakeAt");
    // The task's payload is a CloseTimerEvent.
    let payload = &states["Close"]["Parameters"]["Payload"];
    let mut event = serde_json::Map::new();
    for (key, path) in hash_entries(payload) {
        let field = key.strip_suffix(".$").expect("a path parameter");
        assert_eq!(str_of(path), format!("$.{field}"));
        event.insert(field.to_owned(), serde_json::json!("A1"));
    }
    let parsed: CloseTimerEvent = serde_json::from_value(serde_json::Value::Object(event))
        .expect("the payload is a CloseTimerEvent");
    assert_eq!(parsed.auction_id.as_str(), "A1");
    // What it selects from the answer are TimerReply fields; `done` decides, `wakeAt` feeds the Wait.
    let reply = serde_json::to_value(TimerReply {
        auction_id: AuctionId::parse("A1").unwrap(),
        done: false,
        wake_at: wake_at_iso(1_796_158_218_317),
        wake_at_ms: 1_796_158_218_317,
    })
    .unwrap();
    assert_eq!(
        reply["wakeAt"], "2026-12-01T20:50:18Z",
        "whole seconds, UTC, Z"
    );
    let selected: Vec<&str> = hash_entries(&states["Close"]["ResultSelector"])
        .into_iter()
        .map(|(key, path)| {
            let field = str_of(path)
                .strip_prefix("$.Payload.")
                .expect("from the payload");
            assert!(reply.get(field).is_some(), "{field} is not in the reply");
            key.strip_suffix(".$").expect("a path")
        })
        .collect();
    assert!(
        selected.contains(&"done")
            && selected.contains(&"wakeAt")
            && selected.contains(&"auctionId")
    );
    assert_eq!(str_of(&states["Ended"]["Choices"][0]["Variable"]), "$.done");
    // create-auction arms it.
    let env = &t["Resources"]["CreateAuctionFunction"]["Properties"]["Environment"]["Variables"];
    assert!(
        !env["CLOSE_TIMER_ARN"].is_badvalue(),
        "create-auction needs CLOSE_TIMER_ARN"
    );
}
