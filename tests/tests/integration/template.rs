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
/// The AWS metrics the alarms may name, per namespace, and the resource type each dimension must name.
const AWS_METRICS: &[(&str, &[&str])] = &[
    (
        "AWS/Lambda",
        &["Errors", "Throttles", "Invocations", "Duration"],
    ),
    (
        "AWS/DynamoDB",
        &["ReadThrottleEvents", "WriteThrottleEvents"],
    ),
    (
        "AWS/ApiGateway",
        &["5xx", "4xx", "ExecutionError", "IntegrationError"],
    ),
    ("AWS/SQS", &["ApproximateNumberOfMessagesVisible"]),
];
const DIMENSION_TYPES: &[(&str, &[&str])] = &[
    ("FunctionName", &["AWS::Serverless::Function"]),
    ("TableName", &["AWS::DynamoDB::Table"]),
    ("QueueName", &["AWS::SQS::Queue"]),
    (
        "ApiId",
        &["AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"],
    ),
];

/// The namespace the functions emit into (Globals' METRICS_NAMESPACE, a `!Sub`).
fn own_namespace(t: &Yaml) -> String {
    str_of(&t["Globals"]["Function"]["Environment"]["Variables"]["METRICS_NAMESPACE"]).to_owned()
}

/// Checks one metric an alarm or the dashboard names: ours must be one `auction::metrics` emits, with no
/// dimension or one it emits; an AWS one must be known and its dimensions must name resources of this template.
fn check_metric(t: &Yaml, who: &str, namespace: &str, name: &str, dimensions: &[(String, String)]) {
    if namespace == own_namespace(t) {
        assert!(
            auction::metrics::ALL.iter().any(|m| m.name == name),
            "{who}: {name} is not a metric the functions emit"
        );
        for (d, _) in dimensions {
            assert!(
                ["Code", "Operation"].contains(&d.as_str()),
                "{who}: dimension {d}"
            );
        }
        return;
    }
    let known = AWS_METRICS
        .iter()
        .find(|(ns, _)| *ns == namespace)
        .unwrap_or_else(|| panic!("{who}: namespace {namespace}"));
    assert!(known.1.contains(&name), "{who}: {namespace} {name}");
    assert!(
        !dimensions.is_empty(),
        "{who}: an AWS metric of no resource"
    );
    for (d, value) in dimensions {
        if d == "Stage" {
            assert_eq!(
                value, "StageName",
                "{who}: the stage is the StageName parameter"
            );
            continue;
        }
        let logical = value.split('.').next().unwrap_or_default();
        let types = DIMENSION_TYPES
            .iter()
            .find(|(k, _)| k == d)
            .unwrap_or_else(|| panic!("{who}: dimension {d}"))
            .1;
        let ty = t["Resources"][logical]["Type"].as_str();
        assert!(
            ty.is_some_and(|ty| types.contains(&ty)),
            "{who}: {d} = {value} is not a resource of type {types:?} ({ty:?})"
        );
    }
}

fn dimensions_of(y: &Yaml) -> Vec<(String, String)> {
    y.as_vec()
        .map(|v| {
            v.iter()
                .map(|d| {
                    (
                        str_of(&d["Name"]).to_owned(),
                        str_of(&d["Value"]).to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn of_type<'a>(t: &'a Yaml, ty: &str) -> Vec<(&'a str, &'a Yaml)> {
    hash_entries(&t["Resources"])
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .collect()
}

#[test]
fn every_alarm_names_a_metric_that_exists_and_notifies_the_optional_topic() {
    let t = template();
    let alarms = of_type(&t, "AWS::CloudWatch::Alarm");
    let names: BTreeSet<&str> = alarms.iter().map(|(n, _)| *n).collect();
    for required in [
        "CloseRunFailedAlarm",
        "CloseErrorsAlarm",
        "CloseLagAlarm",
        "PlaceBidErrorsAlarm",
        "PlaceBidThrottlesAlarm",
        "TableThrottlesAlarm",
        "HttpApi5xxAlarm",
    ] {
        assert!(names.contains(required), "{required} missing: {names:?}");
    }
    for (name, alarm) in alarms {
        let p = &alarm["Properties"];
        for actions in ["AlarmActions", "OKActions"] {
            // !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
            let a = p[actions]
                .as_vec()
                .unwrap_or_else(|| panic!("{name}: {actions}"));
            assert_eq!(a[0].as_str(), Some("HasAlarmTopic"), "{name}: {actions}");
        }
        let mut metrics = 0;
        if !p["MetricName"].is_badvalue() {
            check_metric(
                &t,
                name,
                str_of(&p["Namespace"]),
                str_of(&p["MetricName"]),
                &dimensions_of(&p["Dimensions"]),
            );
            metrics += 1;
        }
        for m in p["Metrics"].as_vec().into_iter().flatten() {
            let stat = &m["MetricStat"]["Metric"];
            if !stat.is_badvalue() {
                check_metric(
                    &t,
                    name,
                    str_of(&stat["Namespace"]),
                    str_of(&stat["MetricName"]),
                    &dimensions_of(&stat["Dimensions"]),
                );
                metrics += 1;
            }
        }
        assert!(metrics > 0, "{name} watches no metric");
    }
    assert!(!t["Conditions"]["HasAlarmTopic"].is_badvalue());
    assert_eq!(str_of(&t["Parameters"]["AlarmTopicArn"]["Default"]), "");
}

#[test]
fn every_dashboard_metric_exists() {
    let t = template();
    let body = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    // !Sub [text, {Ns: !Sub LiveAuction/${AWS::StackName}}]
    let parts = body
        .as_vec()
        .expect("DashboardBody is a !Sub with variables");
    assert_eq!(str_of(&parts[1]["Ns"]), own_namespace(&t));
    let text = str_of(&parts[0]).replace("${Ns}", &own_namespace(&t));
    let json: serde_json::Value = serde_json::from_str(&text).expect("the dashboard body is JSON");
    let mut seen = 0;
    for w in json["widgets"].as_array().expect("widgets") {
        for m in w["properties"]["metrics"].as_array().expect("metrics") {
            let m = m.as_array().expect("a metric row");
            let Some(ns) = m[0].as_str() else { continue }; // an expression row
            let name = m[1].as_str().expect("metric name");
            let dims: Vec<(String, String)> = m[2..]
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .chunks(2)
                .map(|c| {
                    let value = c[1].trim_start_matches("${").trim_end_matches('}');
                    (c[0].to_owned(), value.to_owned())
                })
                .collect();
            check_metric(&t, "Dashboard", ns, name, &dims);
            seen += 1;
        }
    }
    assert!(seen >= 10, "{seen} metrics");
}

#[test]
fn access_logs_on_both_apis_never_log_the_query_string() {
    let t = template();
    let http = &t["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"];
    let ws = &t["Resources"]["WebSocketStage"]["Properties"];
    for (api, settings) in [
        ("HttpApi", http),
        ("WebSocketStage", &ws["AccessLogSettings"]),
    ] {
        let format = str_of(&settings["Format"]);
        serde_json::from_str::<serde_json::Value>(format).expect("a JSON access log format");
        let lower = format.to_ascii_lowercase();
        for leak in [
            "querystring",
            "$request.",
            "$input",
            "requesturi",
            "authorizer",
            "header",
        ] {
            assert!(!lower.contains(leak), "{api} logs {leak}: {format}");
        }
        let group = str_of(&settings["DestinationArn"])
            .split('.')
            .next()
            .unwrap();
        assert_eq!(
            t["Resources"][group]["Type"].as_str(),
            Some("AWS::Logs::LogGroup"),
            "{api}"
        );
    }
    // Execution logs and data traces of the WebSocket stage would log the $connect URL with its ?token=.
    assert_eq!(
        ws["DefaultRouteSettings"]["DataTraceEnabled"].as_bool(),
        Some(false)
    );
    assert_eq!(
        ws["DefaultRouteSettings"]["LoggingLevel"].as_str(),
        Some("OFF")
    );
}

#[test]
fn the_websocket_stage_deploys_every_route_change() {
    let t = template();
    assert!(
        of_type(&t, "AWS::ApiGatewayV2::Deployment").is_empty(),
        "a fixed Deployment never redeploys"
    );
    let stage = &t["Resources"]["WebSocketStage"]["Properties"];
    assert_eq!(stage["AutoDeploy"].as_bool(), Some(true));
    assert!(stage["DeploymentId"].is_badvalue());
}

#[test]
fn cors_origins_are_a_parameter_and_never_any() {
    let t = template();
    let api = &t["Resources"]["HttpApi"]["Properties"];
    assert!(
        api["CorsConfiguration"].is_badvalue(),
        "CORS lives in the definition"
    );
    // !Split [",", !Ref AllowedOrigins]
    let origins = &api["DefinitionBody"]["x-amazon-apigateway-cors"]["allowOrigins"];
    assert_eq!(origins[1].as_str(), Some("AllowedOrigins"), "{origins:?}");
    let p = &t["Parameters"]["AllowedOrigins"];
    assert!(p["AllowedPattern"]
        .as_str()
        .is_some_and(|p| p.contains("^https?://")));
    for origin in str_of(&p["Default"]).split(',') {
        assert!(
            origin.starts_with("http") && !origin.contains('*'),
            "{origin}"
        );
    }
}

#[test]
fn the_close_schedule_is_bounded_and_its_failures_are_kept() {
    let t = template();
    let f = &t["Resources"]["CloseAuctionsFunction"]["Properties"];
    let invoke = &f["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"].as_i64(), Some(0));
    assert_eq!(invoke["MaximumEventAgeInSeconds"].as_i64(), Some(60));
    let failures = str_of(&invoke["DestinationConfig"]["OnFailure"]["Destination"]);
    assert_eq!(failures, "CloseFailuresQueue.Arn");
    let schedule = &f["Events"]["Schedule"]["Properties"];
    assert!(schedule["RetryPolicy"]["MaximumEventAgeInSeconds"]
        .as_i64()
        .is_some());
    assert_eq!(
        str_of(&schedule["DeadLetterConfig"]["Arn"]),
        "CloseFailuresQueue.Arn"
    );
    assert!(
        t["Globals"]["Function"]["Tracing"].is_badvalue(),
        "X-Ray without subsegments"
    );
    for p in ["CloseScheduleRate", "LogLevel"] {
        assert!(
            t["Parameters"][p]["AllowedPattern"].as_str().is_some(),
            "{p} accepts any string"
        );
    }
}
