//! Decoding properties (proptest): the place-bid and create-auction handlers, client frames, server frames
//! and ids, fed arbitrary input.
//!
//! Case count: `PROPTEST_CASES` (proptest reads it), default 256 per property.
//! A long run: `PROPTEST_CASES=200000 cargo test --release -p auction-tests --test decode_props`.

use auction::domain::{
    AuctionEndedEvent, AuctionId, AuctionStatusEvent, BidPlacedEvent, MAX_ID_LEN, MAX_MONEY,
};
use auction::frames::{ClientMessage, ErrorEvent, Event, Frame, MAX_CLIENT_FRAME};
use auction::http::MAX_BODY_BYTES;
use auction::store::sqlite::SqliteStore;
use auction_tests::harness::{http_event, Req, TestApp, T0};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

const ALLOWED_STATUSES: [u16; 8] = [201, 400, 401, 403, 404, 409, 413, 422];
const STARTING_PRICE: i128 = 10_000;
const DAY_MS: i64 = 24 * 3_600_000;

// ---------------------------------------------------------------------------------------------------------
// Running the handlers

/// One runtime and one app for all cases of a property (the store is in memory; each case uses a fresh
/// auction, so earlier cases cannot change what a later one expects).
struct Fixture {
    rt: tokio::runtime::Runtime,
    t: TestApp<SqliteStore>,
    seller: String,
    bidder: String,
    /// Statuses answered, to show (and check) that the generators reach both acceptance and refusal.
    statuses: std::cell::RefCell<std::collections::BTreeMap<u16, usize>>,
}

impl Fixture {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let t = TestApp::sqlite();
        let seller = t.seller();
        let bidder = t.bidder(1);
        Self {
            rt,
            t,
            seller,
            bidder,
            statuses: Default::default(),
        }
    }

    fn record(&self, a: Answer) -> Answer {
        *self.statuses.borrow_mut().entry(a.status).or_default() += 1;
        a
    }

    /// After a property: print the status histogram, and fail if a run of a reasonable size never saw an
    /// acceptance or never saw a refusal (the property would then be checking nothing).
    fn report(&self, name: &str, expect_accepts: bool) {
        let statuses = self.statuses.borrow();
        eprintln!("{name}: statuses {statuses:?}");
        let total: usize = statuses.values().sum();
        if Config::default().cases >= 200 {
            let created = statuses.get(&201).copied().unwrap_or(0);
            assert!(
                created > 0 || !expect_accepts,
                "{name}: no case was accepted ({statuses:?})"
            );
            assert!(
                created < total,
                "{name}: no case was refused ({statuses:?})"
            );
        }
    }
}

/// What the handler answered, decoded without assuming anything about it.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Option<Value>,
}

fn answer(resp: lambda_http::Response<lambda_http::Body>) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes: Vec<u8> = match resp.into_body() {
        lambda_http::Body::Text(t) => t.into_bytes(),
        lambda_http::Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Answer {
        status,
        headers,
        body: serde_json::from_slice(&bytes).ok(),
    }
}

/// The contract every answer keeps, whatever the input.
fn check_contract(a: &Answer, input: &dyn std::fmt::Debug) -> Result<(), TestCaseError> {
    prop_assert!(
        ALLOWED_STATUSES.contains(&a.status),
        "status {} for {:?}: {:?}",
        a.status,
        input,
        a.body
    );
    let body = a.body.as_ref();
    prop_assert!(
        body.is_some_and(Value::is_object),
        "the body is a JSON object"
    );
    if !(200..300).contains(&a.status) {
        let body = body.unwrap();
        prop_assert!(body["error"].is_string(), "error code in {:?}", body);
        prop_assert!(body["message"].is_string(), "message in {:?}", body);
    }
    Ok(())
}

/// A request body as API Gateway hands it over: text (a UTF-8 body) or binary (`isBase64Encoded`).
#[derive(Debug, Clone)]
enum RawBody {
    Text(String),
    Binary(Vec<u8>),
}

fn with_body(mut req: lambda_http::Request, body: &RawBody) -> lambda_http::Request {
    *req.body_mut() = match body {
        RawBody::Text(t) => lambda_http::Body::Text(t.clone()),
        RawBody::Binary(b) => lambda_http::Body::Binary(b.clone()),
    };
    req
}

impl Fixture {
    fn place_bid(&self, auction_id: &str, body: &RawBody, key: Option<&str>) -> Answer {
        let req = http_event(
            "place-bid.json",
            &Req {
                token: Some(&self.bidder),
                auction_id: Some(auction_id),
                body: Some(String::new()),
                idempotency_key: key,
                ..Default::default()
            },
        );
        let req = with_body(req, body);
        self.record(answer(self.rt.block_on(self.t.app.place_bid(req))))
    }

    fn create(&self, body: &RawBody) -> Answer {
        let req = http_event(
            "create-auction.json",
            &Req {
                token: Some(&self.seller),
                body: Some(String::new()),
                ..Default::default()
            },
        );
        let req = with_body(req, body);
        self.record(answer(self.rt.block_on(self.t.app.create_auction(req))))
    }

    fn fresh_auction(&self) -> String {
        self.rt.block_on(self.t.auction())
    }

    fn bid_count(&self, auction_id: &str) -> u64 {
        self.rt.block_on(self.t.auction_state(auction_id)).bid_count
    }
}

/// `Config::default()` honours `PROPTEST_CASES` (default 256). No regression files: a failure prints the
/// minimal input, which belongs in a named test.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config());
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Generators

/// A JSON number (or other value) as it appears in a body, and what it is as a JSON integer, if it is one.
#[derive(Debug, Clone)]
struct Tok {
    text: String,
    /// `Some` only for a plain integer literal (`-?[0-9]+`, no fraction, no exponent).
    int: Option<i128>,
    null: bool,
}

fn int_tok(v: i128) -> Tok {
    Tok {
        text: v.to_string(),
        int: Some(v),
        null: false,
    }
}

fn other_tok(text: impl Into<String>) -> Tok {
    let text = text.into();
    Tok {
        null: text == "null",
        text,
        int: None,
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Integers around `edges` (±3), anywhere in i64, and past it.
fn int_around(edges: Vec<i128>) -> impl Strategy<Value = Tok> {
    prop_oneof![
        (prop::sample::select(edges), -3i128..=3).prop_map(|(e, d)| int_tok(e + d)),
        any::<i64>().prop_map(|v| int_tok(v as i128)),
        (-20i128..20_000).prop_map(int_tok),
        // Past i64 (and past u64): still JSON integers, never accepted.
        "-?[1-9][0-9]{19,30}".prop_map(|s| {
            let v = s.parse::<i128>().unwrap_or(i128::MAX);
            Tok {
                text: s,
                int: Some(v),
                null: false,
            }
        }),
    ]
}

/// Anything that is not a JSON integer literal, many of them numbers.
fn non_int_tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        // Fractions and exponents, including whole-valued ones (10000.0, 1e4) and -0.
        (any::<i32>(), 0u32..100).prop_map(|(i, f)| other_tok(format!("{i}.{f}"))),
        (0i64..100_000).prop_map(|i| other_tok(format!("{i}.0"))),
        (1u32..9, 0i32..20).prop_map(|(m, e)| other_tok(format!("{m}e{e}"))),
        (1u32..9, 0i32..20).prop_map(|(m, e)| other_tok(format!("{m}E+{e}"))),
        (1u32..9, 0i32..5).prop_map(|(m, e)| other_tok(format!("{m}.0e-{e}"))),
        Just(other_tok("-0")),
        Just(other_tok("-0.0")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| other_tok(json!(f).to_string())),
        // Not numbers at all.
        (-20i64..20_000).prop_map(|i| other_tok(format!("\"{i}\""))),
        Just(other_tok("null")),
        Just(other_tok("true")),
        Just(other_tok("false")),
        arb_json().prop_map(|v| other_tok(v.to_string())),
    ]
}

fn money_tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        3 => int_around(vec![0, 1, STARTING_PRICE, MAX_MONEY as i128, i64::MAX as i128, i64::MIN as i128]),
        1 => non_int_tok(),
    ]
}

fn ws() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,2}"
}

/// Render `{"k": v, ...}` with arbitrary whitespace; values are raw JSON texts.
fn object_text(fields: &[(String, String)], pad: &[String]) -> String {
    let p = |i: usize| pad.get(i % pad.len().max(1)).cloned().unwrap_or_default();
    let mut s = format!("{}{{", p(0));
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "{}{}{}:{}{}{}",
            p(i + 1),
            serde_json::to_string(k).unwrap(),
            p(i + 2),
            p(i + 3),
            v,
            p(i + 4)
        ));
    }
    s.push('}');
    s.push_str(&p(fields.len() + 5));
    s
}

/// An optional Idempotency-Key: absent, valid, or printable ASCII that may not be.
fn arb_key() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        2 => Just(None),
        1 => "[A-Za-z0-9._=+/:-]{1,128}".prop_map(Some),
        1 => "[ -~]{0,140}".prop_map(Some),
    ]
}

fn key_is_valid(k: &str) -> bool {
    let k = k.trim();
    !k.is_empty()
        && k.len() <= MAX_ID_LEN
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.=+/:".contains(&b))
}

#[derive(Debug, Clone)]
struct BidBody {
    amount: Option<Tok>,
    extras: Vec<(String, Value)>,
    pad: Vec<String>,
}

impl BidBody {
    fn text(&self) -> String {
        let mut fields: Vec<(String, String)> = self
            .extras
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        if let Some(a) = &self.amount {
            fields.push(("amount".into(), a.text.clone()));
        }
        object_text(&fields, &self.pad)
    }
}

fn arb_bid_body() -> impl Strategy<Value = BidBody> {
    (
        prop::option::weighted(0.9, money_tok()),
        prop::collection::vec(
            (
                "[a-zA-Z]{1,8}".prop_filter("not amount", |k| k != "amount"),
                arb_json(),
            ),
            0..3,
        ),
        prop::collection::vec(ws(), 1..6),
    )
        .prop_map(|(amount, extras, pad)| BidBody {
            amount,
            extras,
            pad,
        })
}

/// A title or description: mostly strings (with whitespace, control characters, long ones), sometimes not.
fn arb_text(max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "[ \t\na-zA-Z0-9é😀]{0,24}".prop_map(Value::String),
        1 => ".{0,24}".prop_map(Value::String),
        1 => "[a-z\\x00-\\x1f\\x7f\\x{85}]{0,6}".prop_map(Value::String),
        1 => (max - 2..max + 3, prop::sample::select(vec!['a', 'é', '😀', ' ']))
            .prop_map(|(n, c)| Value::String(std::iter::repeat_n(c, n).collect())),
        1 => arb_json(),
    ]
}

#[derive(Debug, Clone)]
struct CreateBody {
    title: Option<Value>,
    description: Option<Value>,
    starting_price: Option<Tok>,
    min_increment: Option<Tok>,
    ends_at: Option<Tok>,
    duration_seconds: Option<Tok>,
    pad: Vec<String>,
}

impl CreateBody {
    fn text(&self) -> String {
        let mut fields = Vec::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                fields.push((k.to_owned(), v));
            }
        };
        put("title", self.title.as_ref().map(Value::to_string));
        put(
            "description",
            self.description.as_ref().map(Value::to_string),
        );
        put(
            "startingPrice",
            self.starting_price.as_ref().map(|t| t.text.clone()),
        );
        put(
            "minIncrement",
            self.min_increment.as_ref().map(|t| t.text.clone()),
        );
        put("endsAt", self.ends_at.as_ref().map(|t| t.text.clone()));
        put(
            "durationSeconds",
            self.duration_seconds.as_ref().map(|t| t.text.clone()),
        );
        object_text(&fields, &self.pad)
    }

    /// The README's create rules, from the generated parts (not from the handler's parsing).
    fn is_valid(&self) -> bool {
        fn text_ok(v: Option<&Value>, max: usize, required: bool) -> bool {
            let s = match v {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return false,
            };
            let s = s.trim();
            !(required && s.is_empty())
                && s.len() <= max
                // No control characters, bidi controls or zero-width characters (issue 11).
                && !s.chars().any(|c| {
                    (c.is_control() && c != '\n' && c != '\t')
                        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
                })
        }
        let money_ok = |t: &Tok| t.int.is_some_and(|v| (1..=MAX_MONEY as i128).contains(&v));
        // `null` counts as absent; anything else present must be a JSON integer that fits i64.
        fn present(t: &Option<Tok>) -> Option<&Tok> {
            t.as_ref().filter(|t| !t.null)
        }
        let int_ok = |t: &Tok| {
            t.int
                .is_some_and(|v| (i64::MIN as i128..=i64::MAX as i128).contains(&v))
        };
        // Limits in bytes of UTF-8.
        let title = text_ok(self.title.as_ref(), 300, true);
        let description = text_ok(self.description.as_ref(), 4000, false);
        let price = present(&self.starting_price).is_some_and(money_ok);
        let increment = present(&self.min_increment).is_none_or(money_ok);
        let end = match (present(&self.ends_at), present(&self.duration_seconds)) {
            (Some(e), None) => {
                int_ok(e) && (10_000..=30 * DAY_MS as i128).contains(&(e.int.unwrap() - T0 as i128))
            }
            (None, Some(d)) => int_ok(d) && (10..=2_592_000).contains(&d.int.unwrap()),
            _ => false,
        };
        // Bodies over 16 KiB are refused before parsing, whatever they hold.
        let fits = self.text().len() <= MAX_BODY_BYTES;
        title && description && price && increment && end && fits
    }
}

fn arb_create_body() -> impl Strategy<Value = CreateBody> {
    // Valid values often enough that acceptance is exercised, edges and junk the rest of the time.
    let valid_money = || (1..=MAX_MONEY as i128).prop_map(int_tok);
    let price = prop_oneof![3 => valid_money(), 2 => money_tok()];
    let increment = prop_oneof![2 => valid_money(), 3 => money_tok()];
    let ends_at = prop_oneof![
        2 => (T0 as i128 + 10_000..=T0 as i128 + 30 * DAY_MS as i128).prop_map(int_tok),
        3 => int_around(vec![
            T0 as i128,
            T0 as i128 + 10_000,
            T0 as i128 + 30 * DAY_MS as i128,
            T0 as i128 + 3_600_000,
        ]),
        1 => non_int_tok(),
    ];
    let duration = prop_oneof![
        2 => (10i128..=2_592_000).prop_map(int_tok),
        3 => int_around(vec![0, 10, 300, 2_592_000]),
        1 => non_int_tok(),
    ];
    // Usually exactly one of endsAt / durationSeconds, sometimes both or neither.
    let end = prop_oneof![
        4 => ends_at.clone().prop_map(|e| (Some(e), None)),
        4 => duration.clone().prop_map(|d| (None, Some(d))),
        1 => (ends_at, duration).prop_map(|(e, d)| (Some(e), Some(d))),
        1 => Just((None, None)),
    ];
    (
        prop::option::weighted(0.9, arb_text(300)),
        prop::option::weighted(0.5, arb_text(4000)),
        prop::option::weighted(0.95, price),
        prop::option::weighted(0.4, increment),
        end,
        prop::collection::vec(ws(), 1..6),
    )
        .prop_map(
            |(
                title,
                description,
                starting_price,
                min_increment,
                (ends_at, duration_seconds),
                pad,
            )| {
                CreateBody {
                    title,
                    description,
                    starting_price,
                    min_increment,
                    ends_at,
                    duration_seconds,
                    pad,
                }
            },
        )
}

/// Arbitrary bytes: random, near-JSON (a valid body with a few bytes changed), or large.
fn arb_bytes(seeds: Vec<&'static str>) -> impl Strategy<Value = RawBody> {
    let mutated = (
        prop::sample::select(seeds),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    )
        .prop_map(|(seed, edits)| {
            let mut b = seed.as_bytes().to_vec();
            for (at, byte, op) in edits {
                let i = at.index(b.len() + 1);
                match op {
                    0 => b.insert(i, byte),
                    1 if i < b.len() => b[i] = byte,
                    _ if i < b.len() => {
                        b.remove(i);
                    }
                    _ => b.push(byte),
                }
            }
            b
        });
    let bytes = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..64),
        3 => mutated,
        1 => (16_380usize..16_390, any::<u8>()).prop_map(|(n, b)| {
            // Around the 16 KiB limit: a valid-looking body padded with whitespace or junk.
            let mut v = br#"{"amount":10000}"#.to_vec();
            v.resize(n, if b % 2 == 0 { b' ' } else { b });
            v
        }),
    ];
    (bytes, any::<bool>()).prop_map(|(b, text)| match String::from_utf8(b) {
        Ok(s) if text => RawBody::Text(s),
        Ok(s) => RawBody::Binary(s.into_bytes()),
        Err(e) => RawBody::Binary(e.into_bytes()),
    })
}

fn raw_bytes(b: &RawBody) -> &[u8] {
    match b {
        RawBody::Text(t) => t.as_bytes(),
        RawBody::Binary(b) => b,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Place bid

#[test]
fn place_bid_with_json_bid_bodies() {
    let f = Fixture::new();
    run(
        (arb_bid_body(), arb_key(), any::<bool>()),
        |(body, key, binary)| {
            let id = f.fresh_auction();
            let text = body.text();
            let raw = if binary {
                RawBody::Binary(text.clone().into_bytes())
            } else {
                RawBody::Text(text.clone())
            };
            let a = f.place_bid(&id, &raw, key.as_deref());
            check_contract(&a, &(&text, &key))?;
            let amount_ok = body
                .amount
                .as_ref()
                .and_then(|t| t.int)
                .is_some_and(|v| (STARTING_PRICE..=MAX_MONEY as i128).contains(&v));
            let key_ok = key.as_deref().is_none_or(key_is_valid);
            prop_assert_eq!(
                a.status == 201,
                amount_ok && key_ok,
                "status {} for {} (key {:?}): {:?}",
                a.status,
                text,
                key,
                a.body
            );
            prop_assert_eq!(f.bid_count(&id), u64::from(a.status == 201));
            if a.status == 201 {
                let body = a.body.unwrap();
                prop_assert_eq!(
                    body["bid"]["amount"].as_i64().map(i128::from),
                    body_amount(&text)
                );
                prop_assert!(a.headers.get("idempotent-replayed").is_none());
            }
            Ok(())
        },
    );
    f.report("place_bid_with_json_bid_bodies", true);
}

fn body_amount(text: &str) -> Option<i128> {
    serde_json::from_str::<Value>(text).ok()?["amount"]
        .as_i64()
        .map(i128::from)
}

#[test]
fn place_bid_with_arbitrary_bytes() {
    let f = Fixture::new();
    let seeds = vec![
        r#"{"amount":10000}"#,
        r#"{"amount": 10000.0}"#,
        r#"{"amount":1e4}"#,
        r#" { "amount" : 12500 , "x" : [1, {"y": null}] } "#,
        r#"{"amount":"10000"}"#,
    ];
    run(arb_bytes(seeds), |raw| {
        let id = f.fresh_auction();
        let a = f.place_bid(&id, &raw, None);
        check_contract(&a, &raw)?;
        if a.status == 201 {
            // Accepted only if the bytes are a JSON object whose `amount` is an integer in range.
            let v: Value = serde_json::from_slice(raw_bytes(&raw))
                .map_err(|e| TestCaseError::fail(format!("201 for non-JSON: {e}")))?;
            let amount = v["amount"].as_i64().map(i128::from);
            prop_assert!(
                amount.is_some_and(|a| (STARTING_PRICE..=MAX_MONEY as i128).contains(&a)),
                "201 for {:?}",
                raw
            );
            prop_assert!(raw_bytes(&raw).len() <= 16 * 1024);
        }
        prop_assert_eq!(f.bid_count(&id), u64::from(a.status == 201));
        Ok(())
    });
    f.report("place_bid_with_arbitrary_bytes", false);
}

// ---------------------------------------------------------------------------------------------------------
// Create auction

#[test]
fn create_auction_with_json_create_bodies() {
    let f = Fixture::new();
    run((arb_create_body(), any::<bool>()), |(body, binary)| {
        let text = body.text();
        let raw = if binary {
            RawBody::Binary(text.clone().into_bytes())
        } else {
            RawBody::Text(text.clone())
        };
        let a = f.create(&raw);
        check_contract(&a, &text)?;
        prop_assert_eq!(
            a.status == 201,
            body.is_valid(),
            "status {} for {}: {:?}",
            a.status,
            text,
            a.body
        );
        if a.status == 201 {
            let auction = &a.body.as_ref().unwrap()["auction"];
            let price = body.starting_price.as_ref().and_then(|t| t.int);
            prop_assert_eq!(auction["startingPrice"].as_i64().map(i128::from), price);
            prop_assert_eq!(auction["bidCount"].as_u64(), Some(0));
            prop_assert!(AuctionId::parse(auction["auctionId"].as_str().unwrap_or("")).is_ok());
        }
        Ok(())
    });
    f.report("create_auction_with_json_create_bodies", true);
}

#[test]
fn create_auction_with_arbitrary_bytes() {
    let f = Fixture::new();
    let seeds = vec![
        r#"{"title":"Lamp","startingPrice":500,"durationSeconds":60}"#,
        r#"{"title":"Lamp","startingPrice":500,"minIncrement":25,"endsAt":1767225700000}"#,
        r#"{"title":" ","description":"x","startingPrice":5e2,"durationSeconds":60.0}"#,
    ];
    run(arb_bytes(seeds), |raw| {
        let a = f.create(&raw);
        check_contract(&a, &raw)?;
        if a.status == 201 {
            let v: Value = serde_json::from_slice(raw_bytes(&raw))
                .map_err(|e| TestCaseError::fail(format!("201 for non-JSON: {e}")))?;
            prop_assert!(v["title"].is_string(), "201 without a title: {:?}", raw);
            prop_assert!(v["startingPrice"].as_i64().is_some_and(|p| p >= 1));
        }
        Ok(())
    });
    f.report("create_auction_with_arbitrary_bytes", false);
}

// ---------------------------------------------------------------------------------------------------------
// Client frames

/// A JSON string literal for `s`, sometimes with every character \u-escaped.
fn json_string(s: &str, escape_all: bool) -> String {
    if escape_all {
        let mut out = String::from("\"");
        for unit in s.encode_utf16() {
            out.push_str(&format!("\\u{unit:04x}"));
        }
        out.push('"');
        out
    } else {
        serde_json::to_string(s).unwrap()
    }
}

#[derive(Debug, Clone)]
struct ClientObject {
    /// Distinct keys, with the value each carries (`Ok(string)` or other raw JSON).
    fields: Vec<(String, Result<String, Value>)>,
    escape: Vec<bool>,
    pad: Vec<String>,
    trailing: String,
}

impl ClientObject {
    fn text(&self) -> String {
        let esc = |i: usize| self.escape.get(i % self.escape.len().max(1)) == Some(&true);
        let p = |i: usize| {
            self.pad
                .get(i % self.pad.len().max(1))
                .cloned()
                .unwrap_or_default()
        };
        let mut s = format!("{}{{", p(0));
        for (i, (k, v)) in self.fields.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let v = match v {
                Ok(text) => json_string(text, esc(2 * i + 1)),
                Err(other) => other.to_string(),
            };
            s.push_str(&format!(
                "{}{}{}:{}{}{}",
                p(i + 1),
                json_string(k, esc(2 * i)),
                p(i + 2),
                p(i + 3),
                v,
                p(i + 4)
            ));
        }
        s.push('}');
        s.push_str(&self.trailing);
        s
    }
    fn is_sync(&self) -> bool {
        matches!(self.fields.as_slice(), [(k, Ok(v))] if k == "action" && v == "sync")
    }
}

fn arb_client_object() -> impl Strategy<Value = ClientObject> {
    let key = prop_oneof![
        3 => Just("action".to_owned()),
        1 => prop::sample::select(vec!["Action", "action ", "actions", "type", "data", ""]).prop_map(str::to_owned),
        1 => "[a-z]{1,6}",
    ];
    let value = prop_oneof![
        4 => Just(Ok("sync".to_owned())),
        2 => prop::sample::select(vec!["Sync", "SYNC", " sync", "sync ", "sync\u{0}", "publish", ""]).prop_map(|s| Ok(s.to_owned())),
        1 => arb_json().prop_map(Err),
    ];
    (
        prop::collection::vec((key, value), 0..3),
        prop::collection::vec(any::<bool>(), 1..4),
        prop::collection::vec(ws(), 1..6),
        prop_oneof![
            8 => ws(),
            1 => Just(" ".repeat(MAX_CLIENT_FRAME)),
            1 => prop::sample::select(vec!["x", "}", ",", "{}", "\u{0}"]).prop_map(str::to_owned),
        ],
    )
        .prop_map(|(mut fields, escape, pad, trailing)| {
            // Distinct keys: which of two duplicates wins is the JSON parser's choice, not the protocol's.
            let mut seen = std::collections::HashSet::new();
            fields.retain(|(k, _)| seen.insert(k.clone()));
            ClientObject {
                fields,
                escape,
                pad,
                trailing,
            }
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn client_message_is_sync_exactly_for_the_sync_object(o in arb_client_object()) {
        let text = o.text();
        let trailing_ok = o.trailing.chars().all(|c| " \t\r\n".contains(c));
        let expected = o.is_sync() && trailing_ok && text.len() <= MAX_CLIENT_FRAME;
        prop_assert_eq!(
            ClientMessage::parse(&text) == Some(ClientMessage::Sync),
            expected,
            "{:?}",
            text
        );
    }

    #[test]
    fn client_message_never_panics_and_accepts_nothing_else(s in prop_oneof![
        any::<String>(),
        "[{}\":, \\\\a-z0-9\\[\\]]{0,40}",
    ]) {
        if ClientMessage::parse(&s).is_some() {
            prop_assert!(s.len() <= MAX_CLIENT_FRAME);
            prop_assert_eq!(serde_json::from_str::<Value>(&s).ok(), Some(json!({"action": "sync"})), "{:?}", s);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Server frames

fn arb_auction_id() -> impl Strategy<Value = AuctionId> {
    "[A-Za-z0-9._=+/:-]{1,128}".prop_map(|s| AuctionId::parse(&s).unwrap())
}

fn arb_event() -> impl Strategy<Value = Event> {
    let leaf = prop_oneof![
        (any::<String>(), any::<i64>(), any::<String>(), any::<i64>()).prop_map(
            |(bid_id, amount, bidder_name, placed_at)| Event::BidPlaced(BidPlacedEvent {
                bid_id,
                amount,
                bidder_name,
                placed_at,
            })
        ),
        (any::<i64>(), any::<u64>(), any::<i64>()).prop_map(
            |(current_price, bid_count, ends_at)| {
                Event::AuctionStatus(AuctionStatusEvent {
                    current_price,
                    bid_count,
                    ends_at,
                })
            }
        ),
        (
            prop::option::of(any::<String>()),
            prop::option::of(any::<String>()),
            prop::option::of(any::<i64>())
        )
            .prop_map(|(winner_id, winner_name, final_price)| {
                Event::AuctionEnded(AuctionEndedEvent {
                    winner_id,
                    winner_name,
                    final_price,
                })
            }),
        (any::<String>(), any::<String>())
            .prop_map(|(error, message)| Event::Error(ErrorEvent { error, message })),
        any::<u64>()
            .prop_map(|count| Event::AuctionViewers(auction::frames::ViewersEvent { count })),
        any::<bool>().prop_map(|reserve_met| Event::AuctionReserve(
            auction::frames::ReserveEvent { reserve_met }
        )),
        (any::<i64>(), any::<i64>()).prop_map(|(amount, minimum_bid)| {
            Event::BidOutbid(auction::frames::OutbidEvent {
                amount,
                minimum_bid,
            })
        }),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop::collection::vec(
            (
                prop::option::of(any::<u64>()),
                prop::option::of(any::<String>()),
                inner,
            ),
            0..4,
        )
        .prop_map(|items| {
            Event::Batch(
                items
                    .into_iter()
                    .map(|(seq, bidder_id, event)| auction::frames::Item {
                        seq,
                        bidder_id,
                        event,
                    })
                    .collect(),
            )
        })
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frames_round_trip_through_json(
        seq in any::<u64>(),
        from_seq in prop::option::of(any::<u64>()),
        auction_id in prop::option::of(arb_auction_id()),
        server_time in any::<i64>(),
        event in arb_event(),
    ) {
        let frame = Frame { seq, from_seq, auction_id, server_time, event };
        let bytes = frame
            .to_bytes()
            .map_err(|e| TestCaseError::fail(format!("frame does not encode: {e}")))?;
        prop_assert!(!bytes.is_empty());
        let back: Frame = serde_json::from_slice(&bytes)
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&back, &frame);
        // Through a generic JSON value too (what a client library would do).
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        prop_assert!(v["type"].is_string() && v["seq"].is_u64());
        prop_assert_eq!(serde_json::from_value::<Frame>(v).unwrap(), frame);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Ids

fn id_allowed(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=+/:".contains(c))
}

fn arb_id_candidate() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9._=+/:-]{0,140}",
        (
            "[A-Za-z0-9._=+/:-]{0,20}",
            any::<char>(),
            "[A-Za-z0-9._=+/:-]{0,20}"
        )
            .prop_map(|(a, c, b)| format!("{a}{c}{b}")),
        (126usize..131).prop_map(|n| "A".repeat(n)),
        prop::sample::select(vec![
            "",
            "#",
            "a#b",
            "AUCTION#x",
            " a",
            "a ",
            "é",
            "a\u{0}",
            "ａ",
            "٣"
        ])
        .prop_map(str::to_owned),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn auction_id_accepts_exactly_the_documented_alphabet(s in arb_id_candidate()) {
        let parsed = AuctionId::parse(&s);
        prop_assert_eq!(parsed.is_ok(), id_allowed(&s), "{:?}", s);
        if let Ok(id) = parsed {
            prop_assert_eq!(id.as_str(), s.as_str());
        }
        // Deserializing (the stored and wire form) applies the same rule.
        let de = serde_json::from_value::<AuctionId>(Value::String(s.clone()));
        prop_assert_eq!(de.is_ok(), id_allowed(&s));
    }
}
