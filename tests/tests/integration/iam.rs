//! Issue 11, item 6: every function's IAM policy in `template.yaml` is exactly what its code calls.
//!
//! Each function is wired as on Lambda (`wiring::lambda_app_with`, with the environment the template gives
//! it: `JWT_SECRET_ARN`, `WS_MANAGEMENT_ENDPOINT`, `PUBLISH_QUEUE_URL`, `DELIVER_FUNCTION`), every AWS client
//! pointed at a recording proxy in front of moto (DynamoDB, SQS, Secrets Manager) that also stands in for the
//! Management API and for Lambda Invoke. Its handler is then run through its paths — warm-up included — and
//! every request is recorded as the IAM action it needs (a `TransactWriteItems` as the actions of its items;
//! a Query of the index apart from one of the table; a Management API call with its method). The test fails
//! if a function calls what its policy does not grant, and if its policy grants what no path of it called.

use auction::auth::TokenIssuer;
use auction::config::Config;
use auction::domain::{
    new_auction, AuctionDraft, AuctionId, Connection, ConnectionId, Money, Principal, Publication,
    Role, UserId,
};
use auction::ports::{AuctionStore, ConnectionStore, LimitStore};
use auction::publisher::{PublishJob, SliceJob};
use auction::store::dynamodb::{create_table, DynamoStore};
use auction_tests::harness::{http_event, reply, ws_event, Req};
use axum::body::Bytes;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use yaml_rust2::{Yaml, YamlLoader};

const SECRET: &str = "iam-test-secret-0123456789abcdef0123456789";

/// What the proxy saw: (function, IAM action).
#[derive(Default)]
struct Recorder {
    current: Mutex<String>,
    seen: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl Recorder {
    fn record(&self, action: String) {
        let f = self.current.lock().unwrap().clone();
        self.seen
            .lock()
            .unwrap()
            .entry(f)
            .or_default()
            .insert(action);
    }
    fn now_running(&self, function: &str) {
        *self.current.lock().unwrap() = function.to_owned();
    }
}

struct Proxy {
    recorder: Arc<Recorder>,
    upstream: String,
    http: reqwest::Client,
}

/// The IAM actions one request needs.
fn actions(method: &http::Method, path: &str, target: Option<&str>, body: &[u8]) -> Vec<String> {
    if path.starts_with("/@connections/") {
        return vec![format!("execute-api:ManageConnections {method}")];
    }
    if path.starts_with("/2015-03-31/functions/") && path.ends_with("/invocations") {
        return vec!["lambda:InvokeFunction".into()];
    }
    let Some(target) = target else {
        return vec![format!("unknown {method} {path}")];
    };
    let (service, op) = target.split_once('.').unwrap_or((target, ""));
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match service {
        s if s.starts_with("DynamoDB_") => match op {
            "TransactWriteItems" => v["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_object()?.keys().next().cloned())
                .map(|kind| match kind.as_str() {
                    "ConditionCheck" => "dynamodb:ConditionCheckItem".to_owned(),
                    k => format!("dynamodb:{k}Item"),
                })
                .collect(),
            "Query" if v.get("IndexName").is_some() => vec!["dynamodb:Query index".into()],
            op => vec![format!("dynamodb:{op}")],
        },
        "AmazonSQS" => vec![format!("sqs:{op}")],
        "secretsmanager" => vec![format!("secretsmanager:{op}")],
        "AWSStepFunctions" => vec![format!("states:{op}")],
        other => vec![format!("{other}:{op}")],
    }
}

async fn proxy(
    axum::extract::State(p): axum::extract::State<Arc<Proxy>>,
    method: http::Method,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = uri.path().to_owned();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    for a in actions(&method, &path, target, &body) {
        p.recorder.record(a);
    }
    if let Some(id) = path.strip_prefix("/@connections/") {
        // The Management API: posts and deletes succeed, except to ids starting with "gone"; every
        // GetConnection says the connection is gone (the warm-up's made-up id, the socket-limit probe).
        let gone = method == http::Method::GET || id.starts_with("gone");
        if gone {
            let mut r = (http::StatusCode::GONE, "{\"message\":\"gone\"}").into_response();
            r.headers_mut().insert(
                "x-amzn-errortype",
                http::HeaderValue::from_static("GoneException"),
            );
            return r;
        }
        return http::StatusCode::OK.into_response();
    }
    if path.starts_with("/2015-03-31/functions/") {
        // Lambda Invoke of `deliver`: answered as a deliver that reached nobody.
        return axum::Json(auction::fanout::FanoutReport::default()).into_response();
    }
    let mut req = p.http.request(
        method,
        format!(
            "{}{}",
            p.upstream,
            uri.path_and_query().map_or("/", |q| q.as_str())
        ),
    );
    for (k, v) in &headers {
        if k != http::header::HOST && k != http::header::CONTENT_LENGTH {
            req = req.header(k, v);
        }
    }
    let resp = req.body(body).send().await.expect("moto answers");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    let mut r = (status, bytes).into_response();
    for (k, v) in &headers {
        if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
            r.headers_mut().insert(k, v.clone());
        }
    }
    r
}

fn template() -> Yaml {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    YamlLoader::load_from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap()
        .remove(0)
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::String(s) => vec![s.clone()],
        Yaml::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The actions a function's `Policies:` grant, named like [`actions`]; only explicit statements count (a
/// SAM policy template here is an error: it grants what nobody reviewed).
fn granted(function: &Yaml) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for policy in function["Properties"]["Policies"]
        .as_vec()
        .into_iter()
        .flatten()
    {
        let statements = policy["Statement"]
            .as_vec()
            .unwrap_or_else(|| panic!("only explicit Statement policies: {policy:?}"));
        for st in statements {
            assert_eq!(st["Effect"].as_str(), Some("Allow"));
            let resources = strings(&st["Resource"]);
            for action in strings(&st["Action"]) {
                match action.as_str() {
                    "execute-api:ManageConnections" => {
                        for r in &resources {
                            let method = r
                                .rsplit("/@connections")
                                .nth(1)
                                .and_then(|p| p.rsplit('/').next())
                                .unwrap_or("?");
                            out.insert(format!("{action} {method}"));
                        }
                    }
                    "dynamodb:Query" if resources.iter().all(|r| r.contains("/index/")) => {
                        out.insert("dynamodb:Query index".into());
                    }
                    _ => {
                        out.insert(action);
                    }
                }
            }
        }
    }
    out
}

fn env_names(function: &Yaml) -> BTreeSet<String> {
    function["Properties"]["Environment"]["Variables"]
        .as_hash()
        .into_iter()
        .flatten()
        .filter_map(|(k, _)| k.as_str().map(str::to_owned))
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct World {
    recorder: Arc<Recorder>,
    proxy_url: String,
    table: String,
    queue_url: String,
    secret_arn: String,
    close_timer_arn: String,
    /// Direct (unrecorded) access for setting things up.
    store: DynamoStore,
    template: Yaml,
}

impl World {
    async fn new() -> Self {
        let upstream = auction_tests::moto::endpoint();
        let recorder = Arc::new(Recorder::default());
        let state = Arc::new(Proxy {
            recorder: recorder.clone(),
            upstream: upstream.clone(),
            http: reqwest::Client::new(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy_url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(proxy).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });

        let sdk = sdk(&upstream);
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("iam-{}", ulid::Ulid::generate());
        create_table(&ddb, &table).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("iam-{}.fifo", ulid::Ulid::generate()))
            .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret_arn = secrets
            .create_secret()
            .name(format!("iam-{}", ulid::Ulid::generate()))
            .secret_string(SECRET)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        let sfn = aws_sdk_sfn::Client::new(&sdk);
        let close_timer_arn = sfn
            .create_state_machine()
            .name(format!("iam-{}", ulid::Ulid::generate()))
            .definition(r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#)
            .role_arn("arn:aws:iam::123456789012:role/close-timer")
            .send()
            .await
            .unwrap()
            .state_machine_arn;
        Self {
            recorder,
            proxy_url,
            store: DynamoStore::new(ddb, table.clone()),
            table,
            queue_url,
            secret_arn,
            close_timer_arn,
            template: template(),
        }
    }

    /// The function `logical_id` wired as on Lambda, with the environment the template gives it, every
    /// client through the proxy. Recording starts here: the warm-up counts.
    async fn function(
        &self,
        logical_id: &str,
        extra: &[(&str, &str)],
    ) -> auction::wiring::LambdaApp {
        self.recorder.now_running(logical_id);
        let resource = &self.template["Resources"][logical_id];
        assert!(!resource.is_badvalue(), "{logical_id} is in the template");
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("TABLE_NAME".into(), self.table.clone());
        for name in env_names(resource) {
            let value = match name.as_str() {
                "JWT_SECRET_ARN" => self.secret_arn.clone(),
                "WS_MANAGEMENT_ENDPOINT" => self.proxy_url.clone(),
                "PUBLISH_QUEUE_URL" => self.queue_url.clone(),
                "DELIVER_FUNCTION" => "deliver".into(),
                "CLOSE_TIMER_ARN" => self.close_timer_arn.clone(),
                other => {
                    panic!("{logical_id}: an environment variable the test does not know: {other}")
                }
            };
            env.insert(name, value);
        }
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        auction::wiring::lambda_app_with(config, &sdk(&self.proxy_url))
            .await
            .unwrap()
    }

    async fn auction(&self, ends_in_ms: i64) -> AuctionId {
        let id = AuctionId::parse(&ulid::Ulid::generate().to_string()).unwrap();
        let seller = Principal {
            user_id: UserId::parse("seller-1").unwrap(),
            name: "Sam".into(),
            role: Role::Seller,
        };
        let now = now_ms();
        let draft = AuctionDraft {
            viewer_shards: 4,
            title: "Lamp".into(),
            starting_price: Money::new(100).unwrap(),
            increments: auction::domain::Ladder::fixed(Money::new(10).unwrap()),
            soft_close_ms: 0,
            reserve_price: None,
            starts_at: 0,
            ends_at: now + ends_in_ms,
        };
        let a = new_auction(id.clone(), &seller, draft, now - 60_000);
        self.store
            .create_auction(&a, &Default::default())
            .await
            .unwrap();
        id
    }

    async fn viewer(&self, auction: &AuctionId, conn: &str, user: &str) -> ConnectionId {
        let now = now_ms();
        let connection_id = ConnectionId::parse(conn).unwrap();
        let c = Connection {
            shard: auction::domain::viewer_shard(&connection_id, 4),
            connection_id: connection_id.clone(),
            auction_id: auction.clone(),
            user_id: UserId::parse(user).unwrap(),
            connected_at: now,
            expires_at: now / 1000 + 3600,
        };
        self.store.add_connection(&c, 10).await.unwrap();
        connection_id
    }

    fn recorded(&self, logical_id: &str) -> BTreeSet<String> {
        self.recorder
            .seen
            .lock()
            .unwrap()
            .get(logical_id)
            .cloned()
            .unwrap_or_default()
    }
}

fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "iam"),
        ))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build()
}

fn token(sub: &str, role: Role) -> String {
    TokenIssuer::new(&SecretString::from(SECRET))
        .unwrap()
        .mint_for(sub, sub, role, now_ms() as u64 / 1000, 600)
        .unwrap()
}

fn status(r: lambda_http::Response<lambda_http::Body>) -> u16 {
    reply(r).status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_is_granted_exactly_what_its_code_calls() {
    let w = World::new().await;
    let seller = token("seller-1", Role::Seller);
    let bidder = token("bidder-1", Role::Bidder);

    // create-auction: a create.
    let app = w.function("CreateAuctionFunction", &[]).await;
    let req = http_event(
        "create-auction.json",
        &Req {
            token: Some(&seller),
            body: Some(
                json!({"title": "Lamp", "startingPrice": 100, "durationSeconds": 600}).to_string(),
            ),
            ..Default::default()
        },
    );
    assert_eq!(status(app.create_auction(req).await), 201);

    // get-auction: one auction (with its bids), the list.
    let id = w.auction(600_000).await;
    let app = w.function("GetAuctionFunction", &[]).await;
    let one = Req {
        auction_id: Some(id.as_str()),
        ..Default::default()
    };
    assert_eq!(
        status(
            app.read_auctions(http_event("get-auction.json", &one))
                .await
        ),
        200
    );
    assert_eq!(
        status(
            app.read_auctions(http_event("list-auctions.json", &Req::default()))
                .await
        ),
        200
    );

    // place-bid: an unkeyed and a keyed bid (two bidders: a leader may not outbid themselves), its replay, and
    // a ticket.
    let app = w.function("PlaceBidFunction", &[]).await;
    let rival = token("bidder-2", Role::Bidder);
    for (who, amount, key) in [
        (&bidder, 100, None),
        (&rival, 200, Some("k-1")),
        (&rival, 200, Some("k-1")),
    ] {
        let req = http_event(
            "place-bid.json",
            &Req {
                token: Some(who),
                auction_id: Some(id.as_str()),
                body: Some(json!({ "amount": amount }).to_string()),
                idempotency_key: key,
                ..Default::default()
            },
        );
        assert_eq!(status(app.bid_or_ticket(req).await), 201);
    }
    let mut ticket_req = http_event(
        "place-bid.json",
        &Req {
            token: Some(&bidder),
            auction_id: Some(id.as_str()),
            ..Default::default()
        },
    );
    *ticket_req.uri_mut() = format!("/auctions/{id}/ticket").parse().unwrap();
    let ticket = reply(app.bid_or_ticket(ticket_req).await);
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();

    // ws-connect: a viewer; the same user's fourth socket, admitted once the probe finds one of the three gone.
    let app = w
        .function("WsConnectFunction", &[("MAX_SOCKETS_PER_USER", "1")])
        .await;
    let connect = |cid: &str| ws_event("ws-connect.json", cid, Some((id.as_str(), &ticket)), None);
    assert_eq!(app.ws_connect(connect("c-1=")).await.status_code, 200);
    assert_eq!(
        app.ws_connect(connect("c-2=")).await.status_code,
        200,
        "c-1 was gone"
    );

    // ws-default: a sync, then garbage until the connection is closed.
    let viewer = w.viewer(&id, "d-1=", "viewer-d").await;
    let app = w.function("WsDefaultFunction", &[]).await;
    let send = |body: &str| ws_event("ws-default.json", viewer.as_str(), None, Some(body));
    assert_eq!(
        app.ws_default(send(r#"{"action":"sync"}"#))
            .await
            .status_code,
        200
    );
    for _ in 0..3 {
        app.ws_default(send("hello")).await;
    }

    // ws-disconnect.
    let app = w.function("WsDisconnectFunction", &[]).await;
    assert_eq!(
        app.ws_disconnect(ws_event("ws-disconnect.json", "c-2=", None, None))
            .await
            .status_code,
        200
    );

    // end-auction: an admin ends it early (it has bids: its seller may not).
    let app = w.function("EndAuctionFunction", &[]).await;
    let admin = token("admin-1", Role::Admin);
    let req = http_event(
        "end-auction.json",
        &Req {
            token: Some(&admin),
            auction_id: Some(id.as_str()),
            ..Default::default()
        },
    );
    assert_eq!(status(app.end_auction(req).await), 200);

    // close-auctions: a due auction, an active one (its periodic status), the ended one's announcement, and
    // the retention purge of the auction ended above (its schedule made due here, unrecorded).
    let _due = w.auction(-1_000).await;
    let _active = w.auction(600_000).await;
    w.store.schedule_purge(&id, now_ms() - 1).await.unwrap();
    let app = w
        .function("CloseAuctionsFunction", &[("STATUS_INTERVAL_MS", "1000")])
        .await;
    app.close_run().await.unwrap();

    // publish: bids to two viewers of a large-looking audience (slices go to `deliver`), one of them gone;
    // then the end (announcement, revocation, finalize).
    let big = w.auction(600_000).await;
    w.viewer(&big, "p-1=", "viewer-p1").await;
    w.viewer(&big, "gone-p2=", "viewer-p2").await;
    let bid = auction::domain::BidRequest {
        auction_id: big.clone(),
        bidder_id: UserId::parse("bidder-2").unwrap(),
        bidder_name: "B".into(),
        kind: auction::domain::BidKind::Plain,
        amount: Money::new(100).unwrap(),
        now: now_ms(),
        bid_id: "b-1".into(),
        idempotency_key: None,
    };
    w.store.place_bid(&bid).await.unwrap();
    w.store
        .mark_published(
            &big,
            Publication {
                seq: 0,
                at: 0,
                audience: 500,
                status_at: 0,
            },
        )
        .await
        .unwrap();
    let app = w
        .function(
            "PublishFunction",
            &[("SLICE_VIEWERS", "100"), ("PUBLISH_WINDOW_MS", "0")],
        )
        .await;
    let sqs_event = |job: &PublishJob| -> aws_lambda_events::sqs::SqsEvent {
        serde_json::from_value(json!({"Records": [{
            "messageId": ulid::Ulid::generate().to_string(),
            "body": serde_json::to_string(job).unwrap(),
            "attributes": {"MessageGroupId": job.auction_id.as_str()},
            "eventSource": "aws:sqs",
        }]}))
        .unwrap()
    };
    app.publish_batch(sqs_event(&PublishJob::changed(&big, 1, now_ms())))
        .await;
    let small = w.auction(600_000).await;
    w.viewer(&small, "q-1=", "viewer-q1").await;
    w.viewer(&small, "gone-q2=", "viewer-q2").await;
    w.store
        .place_bid(&auction::domain::BidRequest {
            auction_id: small.clone(),
            bid_id: "b-2".into(),
            ..bid.clone()
        })
        .await
        .unwrap();
    app.publish_batch(sqs_event(&PublishJob::changed(&small, 1, now_ms())))
        .await;
    w.store
        .close_auction(
            &small,
            now_ms(),
            &auction::domain::Closing::Early(auction::domain::EndedBy {
                user_id: UserId::parse("admin").unwrap(),
                role: auction::domain::Role::Admin,
            }),
        )
        .await
        .unwrap();
    app.publish_batch(sqs_event(&PublishJob::changed(&small, 2, now_ms())))
        .await;

    // deliver: one slice with a gone viewer, then a revoking slice.
    let slice = w.auction(600_000).await;
    for (c, u) in [
        ("s-1=", "viewer-s1"),
        ("gone-s2=", "viewer-s2"),
        ("s-3=", "viewer-s3"),
    ] {
        w.viewer(&slice, c, u).await;
    }
    let app = w.function("DeliverFunction", &[]).await;
    let a = w.store.get_auction(&slice).await.unwrap().unwrap();
    for revoke in [false, true] {
        let job = SliceJob {
            auction_id: slice.clone(),
            shards: (0..4).collect(),
            frame: auction::frames::Frame::status(&a),
            revoke,
            posts_per_second: 1_000_000,
            outbid: Vec::new(),
            notice: None,
        };
        app.deliver_slice(&job).await.unwrap();
    }
    w.recorder.now_running("done");

    let mut problems = Vec::new();
    for (logical_id, resource) in w.template["Resources"].as_hash().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = logical_id.as_str().unwrap();
        let called = w.recorded(logical_id);
        let grants = granted(resource);
        assert!(!called.is_empty(), "{logical_id} was never exercised");
        let missing: Vec<_> = called.difference(&grants).collect();
        let unused: Vec<_> = grants.difference(&called).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{logical_id} calls what its policy does not grant: {missing:?}"
            ));
        }
        if !unused.is_empty() {
            problems.push(format!(
                "{logical_id} is granted what none of its paths called: {unused:?}"
            ));
        }
        // The secret: read by exactly the functions that verify tokens.
        let reads_secret = env_names(resource).contains("JWT_SECRET_ARN");
        assert!(
            !env_names(resource).contains("JWT_SECRET"),
            "{logical_id}: the secret itself in the environment"
        );
        assert_eq!(
            reads_secret,
            [
                "WsConnectFunction",
                "CreateAuctionFunction",
                "PlaceBidFunction",
                "EndAuctionFunction"
            ]
            .contains(&logical_id),
            "{logical_id}: only verifying functions read the secret"
        );
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_recorder_names_actions_as_iam_does() {
    let get = http::Method::GET;
    let post = http::Method::POST;
    assert_eq!(
        actions(&post, "/@connections/abc", None, b""),
        ["execute-api:ManageConnections POST"]
    );
    assert_eq!(
        actions(&get, "/@connections/abc", None, b""),
        ["execute-api:ManageConnections GET"]
    );
    let tx = br#"{"TransactItems":[{"Update":{}},{"Put":{}},{"ConditionCheck":{}}]}"#;
    assert_eq!(
        actions(&post, "/", Some("DynamoDB_20120810.TransactWriteItems"), tx),
        [
            "dynamodb:UpdateItem",
            "dynamodb:PutItem",
            "dynamodb:ConditionCheckItem"
        ]
    );
    assert_eq!(
        actions(
            &post,
            "/",
            Some("DynamoDB_20120810.Query"),
            br#"{"IndexName":"gsi1"}"#
        ),
        ["dynamodb:Query index"]
    );
    assert_eq!(
        actions(&post, "/", Some("AmazonSQS.SendMessage"), b"{}"),
        ["sqs:SendMessage"]
    );
    assert_eq!(
        actions(
            &post,
            "/2015-03-31/functions/deliver/invocations",
            None,
            b""
        ),
        ["lambda:InvokeFunction"]
    );
}
