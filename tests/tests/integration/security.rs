//! Issue 11 ("Safe in public"): what a token may do, which token goes where, and what the logs never hold.
//!
//! - A claims matrix through the real handlers: each hostile session token refused by the HTTP API, each
//!   hostile ticket by `$connect`, with its documented code (README, Error codes), and nothing changed.
//! - The Lambda runtime itself (`lambda_http::run` against a stand-in Runtime API) at `RUST_LOG=trace`: no
//!   token and no `Authorization` header value in anything it logs.

use auction::auth::{Claims, TokenIssuer, ISSUER, SESSION_AUDIENCE, TICKET_AUDIENCE};
use auction::domain::Role;
use auction_tests::harness::{ws_event, TestApp, SECRET};
use jsonwebtoken::{Algorithm, Header};
use secrecy::SecretString;
use serde_json::{json, Value};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(&SecretString::from(SECRET)).unwrap()
}

fn session(now: u64) -> Claims {
    Claims::session("bidder-9", "Bidder 9", Role::Bidder, now, 3600)
}

fn ticket_claims(auction: &str, now: u64) -> Claims {
    Claims {
        aud: Some(TICKET_AUDIENCE.into()),
        auc: Some(auction.into()),
        exp: now + 30,
        ..session(now)
    }
}

fn mint(claims: &Claims) -> String {
    issuer().mint(claims).unwrap()
}

fn with_crit(claims: &Claims) -> String {
    let header = Header {
        crit: Some(vec!["exp".into()]),
        ..Header::new(Algorithm::HS256)
    };
    issuer().mint_with(&header, claims).unwrap()
}

#[tokio::test]
async fn hostile_session_tokens_are_refused_by_the_http_api_with_their_codes() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let n = now();
    let ticket = t.ticket(&t.bidder(1), &id).await;
    assert_eq!(ticket.status, 200, "{}", ticket.body);
    let ticket = ticket.body["ticket"].as_str().unwrap().to_owned();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "missing iat",
            mint(&Claims {
                iat: None,
                ..session(n)
            }),
            "invalid_token",
        ),
        (
            "iat in the future",
            mint(&Claims {
                iat: Some(n + 600),
                exp: n + 1200,
                ..session(n)
            }),
            "invalid_token",
        ),
        (
            "lifetime over the 24 h cap",
            mint(&Claims {
                exp: n + 25 * 3600,
                ..session(n)
            }),
            "token_lifetime_too_long",
        ),
        (
            "valid until 2100",
            mint(&Claims {
                exp: 4_102_444_800,
                ..session(n)
            }),
            "token_lifetime_too_long",
        ),
        (
            "future nbf",
            mint(&Claims {
                nbf: Some(n + 600),
                ..session(n)
            }),
            "token_not_yet_valid",
        ),
        (
            "foreign iss",
            mint(&Claims {
                iss: Some("https://evil.example".into()),
                ..session(n)
            }),
            "invalid_token",
        ),
        (
            "no iss",
            mint(&Claims {
                iss: None,
                ..session(n)
            }),
            "invalid_token",
        ),
        (
            "wrong aud",
            mint(&Claims {
                aud: Some("someone-else".into()),
                ..session(n)
            }),
            "wrong_token_type",
        ),
        (
            "no aud",
            mint(&Claims {
                aud: None,
                ..session(n)
            }),
            "invalid_token",
        ),
        (
            "a ticket used as a bidding token",
            ticket,
            "wrong_token_type",
        ),
        ("crit header", with_crit(&session(n)), "invalid_token"),
        (
            "expired",
            mint(&Claims {
                iat: Some(n - 7200),
                exp: n - 3600,
                ..session(n)
            }),
            "token_expired",
        ),
    ];
    for (what, token, code) in cases {
        let r = t.bid(&token, &id, 10_000).await;
        assert_eq!((r.status, r.code()), (401, code), "{what}: {}", r.body);
        let r = t.ticket(&token, &id).await;
        assert_eq!((r.status, r.code()), (401, code), "ticket route, {what}");
    }
    let a = t.auction_state(&id).await;
    assert_eq!(
        (a.bid_count, a.seq),
        (0, 0),
        "a refused token changed the auction"
    );
    // The token every case above was varied from is accepted.
    assert_eq!(t.bid(&mint(&session(n)), &id, 10_000).await.status, 201);
}

async fn connect_code(
    t: &TestApp<auction::store::sqlite::SqliteStore>,
    cid: &str,
    aid: &str,
    ticket: &str,
) -> (i64, String) {
    let r = t
        .app
        .ws_connect(ws_event("ws-connect.json", cid, Some((aid, ticket)), None))
        .await;
    let body = match r.body {
        Some(aws_lambda_events::encodings::Body::Text(t)) => t,
        _ => String::new(),
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    (r.status_code, v["error"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn connect_takes_only_a_fresh_ticket_for_its_own_auction() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    let other = t.auction().await;
    let n = now();
    let cases: Vec<(&str, String, &str)> = vec![
        ("no ticket", String::new(), "missing_token"),
        (
            "a bidding token used as a ticket",
            t.bidder(1),
            "wrong_token_type",
        ),
        (
            "expired ticket",
            mint(&Claims {
                iat: Some(n - 120),
                exp: n - 60,
                ..ticket_claims(&id, n)
            }),
            "token_expired",
        ),
        (
            "ticket for another auction",
            mint(&ticket_claims(&other, n)),
            "ticket_wrong_auction",
        ),
        (
            "ticket without an auction",
            mint(&Claims {
                auc: None,
                ..ticket_claims(&id, n)
            }),
            "ticket_wrong_auction",
        ),
        (
            "ticket living over 60 s",
            mint(&Claims {
                exp: n + 3600,
                ..ticket_claims(&id, n)
            }),
            "token_lifetime_too_long",
        ),
        (
            "ticket without iat",
            mint(&Claims {
                iat: None,
                ..ticket_claims(&id, n)
            }),
            "invalid_token",
        ),
        (
            "ticket with a future nbf",
            mint(&Claims {
                nbf: Some(n + 600),
                ..ticket_claims(&id, n)
            }),
            "token_not_yet_valid",
        ),
        (
            "ticket of a foreign iss",
            mint(&Claims {
                iss: Some("other".into()),
                ..ticket_claims(&id, n)
            }),
            "invalid_token",
        ),
        (
            "ticket with the session audience",
            mint(&Claims {
                aud: Some(SESSION_AUDIENCE.into()),
                ..ticket_claims(&id, n)
            }),
            "wrong_token_type",
        ),
        (
            "ticket with crit",
            with_crit(&ticket_claims(&id, n)),
            "invalid_token",
        ),
        (
            "ticket signed with another key",
            TokenIssuer::new(&SecretString::from("another-secret-another-secret-000"))
                .unwrap()
                .mint(&ticket_claims(&id, n))
                .unwrap(),
            "invalid_token",
        ),
    ];
    for (what, ticket, code) in cases {
        let got = connect_code(&t, "c1=", &id, &ticket).await;
        assert_eq!(got, (401, code.to_owned()), "{what}");
    }
    assert!(
        t.viewers(&id).await.is_empty(),
        "a refused ticket stored a viewer"
    );
    // A ticket from the route opens one socket to its auction.
    let r = t.ticket(&t.bidder(1), &id).await;
    assert_eq!(r.status, 200);
    let expires = r.body["expiresAt"].as_i64().unwrap();
    let now_ms = (n * 1000) as i64;
    assert!((now_ms..=now_ms + 61_000).contains(&expires), "{expires}");
    let ticket = r.body["ticket"].as_str().unwrap();
    assert_eq!(connect_code(&t, "c1=", &id, ticket).await.0, 200);
    assert_eq!(t.viewers(&id).await.len(), 1);
    // Its claims: the auction, the ticket audience, the issuer, at most a minute.
    let claims: Value = {
        use base64::Engine as _;
        let part = ticket.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        (
            claims["aud"].as_str(),
            claims["auc"].as_str(),
            claims["iss"].as_str()
        ),
        (Some(TICKET_AUDIENCE), Some(id.as_str()), Some(ISSUER))
    );
    assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 60);
}

/// A `MakeWriter` collecting everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The place-bid function's handler under the real Lambda runtime, at `RUST_LOG=trace`: one bid event (with
/// a bearer token) and one `$connect`-style query with a ticket pass through it; neither credential appears
/// in what is logged.
#[test]
fn no_log_level_writes_a_token() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let captured = Captured::default();
    let (filter, problem) = auction::telemetry::filter_from(Some("trace"));
    assert_eq!(problem, None);
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_ansi(false)
                .with_writer(captured.clone()),
        )
        .with(filter);
    let _guard = tracing::subscriber::set_default(subscriber);
    // The proof that the capture works: the runtime's own TRACE lines are in it.
    let (token, ticket, logged) = rt.block_on(async {
        let t = TestApp::sqlite();
        let id = t.auction().await;
        let token = t.bidder(1);
        let ticket = t.ticket(&token, &id).await.body["ticket"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut event = auction_tests::harness::sample_event("place-bid.json");
        event["headers"]["authorization"] = json!(format!("Bearer {token}"));
        event["rawQueryString"] = json!(format!("ticket={ticket}"));
        event["queryStringParameters"] = json!({ "ticket": ticket });
        event["pathParameters"]["id"] = json!(id);
        event["body"] = json!(json!({"amount": 10_000}).to_string());
        let answered = runtime_api::serve_one(event.to_string(), &t).await;
        assert_eq!(answered["statusCode"], 201, "{answered}");
        (
            token,
            ticket,
            String::from_utf8(captured.0.lock().unwrap().clone()).unwrap(),
        )
    });
    assert!(
        logged.contains("lambda_runtime"),
        "the runtime's own lines are captured: {logged}"
    );
    for (what, secret) in [("token", &token), ("ticket", &ticket)] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!logged.contains(secret.as_str()), "the {what} was logged");
        assert!(
            !logged.contains(signature),
            "the {what}'s signature was logged"
        );
    }
    assert!(
        !logged.to_ascii_lowercase().contains("bearer "),
        "an Authorization value was logged"
    );
}

/// A stand-in for the Lambda Runtime API: hands out one event, takes its response, then holds `next`.
mod runtime_api {
    use axum::extract::State;
    use axum::routing::{get, post};
    use serde_json::Value;
    use std::sync::{Arc, Mutex};
    use tokio::sync::oneshot;

    type Slot = Arc<Mutex<(Option<String>, Option<oneshot::Sender<Value>>)>>;

    pub async fn serve_one(
        event: String,
        t: &auction_tests::harness::TestApp<auction::store::sqlite::SqliteStore>,
    ) -> Value {
        let (tx, rx) = oneshot::channel();
        let slot: Slot = Arc::new(Mutex::new((Some(event), Some(tx))));
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(response))
            .with_state(slot);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        for (k, v) in [
            ("AWS_LAMBDA_RUNTIME_API", addr.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", "place-bid".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "1".into()),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "test".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "test".into()),
        ] {
            std::env::set_var(k, v);
        }
        let runtime = lambda_http::run(lambda_http::service_fn(
            |req: lambda_http::Request| async move {
                Ok::<_, lambda_http::Error>(t.app.bid_or_ticket(req).await)
            },
        ));
        let answered = tokio::select! {
            r = runtime => panic!("the runtime stopped: {r:?}"),
            a = tokio::time::timeout(std::time::Duration::from_secs(20), rx) => {
                a.expect("the runtime answered").unwrap()
            }
        };
        server.abort();
        answered
    }

    async fn next(State(slot): State<Slot>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let event = slot.lock().unwrap().0.take();
        match event {
            Some(body) => (
                [
                    ("lambda-runtime-aws-request-id", "req-1"),
                    ("lambda-runtime-deadline-ms", "99999999999999"),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:us-east-1:000000000000:function:place-bid",
                    ),
                    ("content-type", "application/json"),
                ],
                body,
            )
                .into_response(),
            None => std::future::pending().await,
        }
    }

    async fn response(State(slot): State<Slot>, body: String) -> http::StatusCode {
        if let Some(tx) = slot.lock().unwrap().1.take() {
            let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
        }
        http::StatusCode::ACCEPTED
    }
}

/// Issue 11, item 7: names (and titles) refuse bidi controls and zero-width characters, in a token's `name`
/// and at the dev identity endpoint's validation alike (`domain::validate_text`).
#[tokio::test]
async fn names_with_bidi_or_zero_width_characters_are_refused() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    for name in [
        "Ada\u{202E}nimda",
        "A\u{200B}da",
        "\u{2066}Ada\u{2069}",
        "Ad\u{FEFF}a",
        "\u{200F}Ada",
    ] {
        let token = mint(&Claims::session("bidder-7", name, Role::Bidder, now(), 600));
        let r = t.bid(&token, &id, 10_000).await;
        assert_eq!((r.status, r.code()), (401, "invalid_token"), "{name:?}");
        assert!(auction::domain::validate_text("name", name, 64, true).is_err());
        let r = t
            .create(
                &t.seller(),
                json!({"title": name, "startingPrice": 100, "durationSeconds": 60}),
            )
            .await;
        assert_eq!((r.status, r.code()), (422, "validation_failed"), "{name:?}");
    }
    let a = t.auction_state(&id).await;
    assert_eq!(a.bid_count, 0);
    // Ordinary non-ASCII names are fine.
    let token = mint(&Claims::session(
        "bidder-8",
        "Ада Лавлейс",
        Role::Bidder,
        now(),
        600,
    ));
    assert_eq!(t.bid(&token, &id, 10_000).await.status, 201);
}
