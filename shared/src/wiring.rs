//! Cold-start wiring for the Lambda functions: configuration, AWS clients and TLS connections, built once.
//!
//! Every function's `main.rs` is `telemetry::init_lambda(); let app = wiring::lambda_app().await?;` and a
//! `run(service_fn(...))` around one handler. What a function gets is what its environment names:
//! `WS_MANAGEMENT_ENDPOINT` (the Management API), `PUBLISH_QUEUE_URL` (the hand-off to the publisher),
//! `DELIVER_FUNCTION` (slices of large audiences in other invocations), `CLOSE_TIMER_ARN` (the close on the
//! second: create-auction arms it), `JWT_SECRET_ARN` (token verification: the Secrets Manager secret, read
//! once here with GetSecretValue; `JWT_SECRET`, the key itself, is for local runs such as `cargo lambda
//! watch`). A function deployed without either verifies no token.
//!
//! `WARM_UP` (default `true`): during init, one GetItem of a key that never exists and one GetConnection of
//! a made-up id open the TLS connections to DynamoDB and the Management API (in parallel), so the first
//! request does not pay for the handshakes. `WARM_UP=false` (or `0`, `off`, `no`) skips both; it exists so
//! `bench-coldstart` can show the difference (see `bench/results/coldstart.md`), not for production.

use crate::auth::TokenVerifier;
use crate::broadcast::apigw::ApiGatewayBroadcaster;
use crate::close_timer::step_functions::StepFunctionsTimer;
use crate::config::{Config, StoreConfig};
use crate::domain::ConnectionId;
use crate::handlers::App;
use crate::handoff::sqs::SqsHandOff;
use crate::ports::{Broadcaster, PushError, SystemClock};
use crate::slices::LambdaSlices;
use crate::store::dynamodb::DynamoStore;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::sync::Arc;

/// The app every Lambda function runs: DynamoDB, and the Management API when `WS_MANAGEMENT_ENDPOINT` is set.
pub type LambdaApp = App<DynamoStore, Option<ApiGatewayBroadcaster>>;

/// A function without a Management API endpoint (it never posts) gets `None`; a call then fails loudly.
#[async_trait]
impl<B: Broadcaster> Broadcaster for Option<B> {
    async fn post(&self, id: &ConnectionId, payload: &[u8]) -> Result<(), PushError> {
        match self {
            Some(b) => b.post(id, payload).await,
            None => Err(PushError::Other(
                "WS_MANAGEMENT_ENDPOINT is not configured".into(),
            )),
        }
    }
    async fn disconnect(&self, id: &ConnectionId) -> Result<(), PushError> {
        match self {
            Some(b) => b.disconnect(id).await,
            None => Err(PushError::Other(
                "WS_MANAGEMENT_ENDPOINT is not configured".into(),
            )),
        }
    }
    async fn probe(&self, id: &ConnectionId) -> Result<(), PushError> {
        match self {
            Some(b) => b.probe(id).await,
            None => Err(PushError::Other(
                "WS_MANAGEMENT_ENDPOINT is not configured".into(),
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Secret(#[from] crate::auth::WeakSecret),
    #[error("JWT secret {arn}: {reason}")]
    SecretUnreadable { arn: String, reason: String },
}

/// Build the app from the environment and open the TLS connections now, during init, so the first
/// request does not pay for the handshakes.
pub async fn lambda_app() -> Result<LambdaApp, WiringError> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    lambda_app_with(config, &sdk).await
}

/// The HS256 key: `JWT_SECRET_ARN` read from Secrets Manager (one GetSecretValue per cold start), else
/// `JWT_SECRET`, else none.
async fn jwt_secret(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Option<secrecy::SecretString>, WiringError> {
    let Some(arn) = &config.jwt_secret_arn else {
        return Ok(config.jwt_secret.clone());
    };
    let unreadable = |reason: String| WiringError::SecretUnreadable {
        arn: arn.clone(),
        reason,
    };
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            unreadable(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
        })?;
    let value = out
        .secret_string()
        .ok_or_else(|| unreadable("the secret has no string value".into()))?;
    Ok(Some(secrecy::SecretString::from(value.trim().to_owned())))
}

/// [`lambda_app`] with a given configuration and SDK configuration (tests point every client elsewhere).
pub async fn lambda_app_with(
    config: Config,
    sdk: &aws_config::SdkConfig,
) -> Result<LambdaApp, WiringError> {
    let secret = jwt_secret(&config, sdk).await?;
    let StoreConfig { table, endpoint } = config.store;
    let mut ddb = aws_sdk_dynamodb::config::Builder::from(sdk);
    if let Some(endpoint) = endpoint {
        ddb = ddb.endpoint_url(endpoint);
    }
    let client = aws_sdk_dynamodb::Client::from_conf(ddb.build());
    let broadcaster = config
        .ws_management_endpoint
        .as_deref()
        .map(|e| ApiGatewayBroadcaster::new(sdk, e, config.settings.longest_call()));
    if warm_up_enabled() {
        let warm_ddb = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("WARMUP".into()))
            .key("sk", AttributeValue::S("WARMUP".into()))
            .send();
        let warm_ws = async {
            if let Some(b) = &broadcaster {
                b.warm_up().await;
            }
        };
        let (ddb_result, ()) = tokio::join!(warm_ddb, warm_ws);
        if let Err(e) = ddb_result {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(&e), "DynamoDB warm-up failed");
        }
    }
    let verifier = TokenVerifier::from_config(secret.as_ref())?;
    let mut app = App::new(
        DynamoStore::new(client, table),
        broadcaster,
        verifier,
        Arc::new(SystemClock),
        config.settings,
    );
    if let Some(url) = config.publish_queue_url {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        app = app.with_hand_off(Arc::new(SqsHandOff::new(sqs, url)));
    }
    if let Some(arn) = config.close_timer_arn {
        let sfn = aws_sdk_sfn::Client::new(sdk);
        app = app.with_close_timer(Arc::new(StepFunctionsTimer::new(sfn, arn)));
    }
    if let Some(function) = config.deliver_function {
        let lambda = aws_sdk_lambda::Client::new(sdk);
        app = app.with_remote_slices(Arc::new(LambdaSlices::new(lambda, function)));
    }
    Ok(app)
}

/// `WARM_UP` unset or anything but `false`/`0`/`off`/`no` (case-insensitive): warm up during init.
fn warm_up_enabled() -> bool {
    !matches!(
        std::env::var("WARM_UP")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
            .as_str(),
        "false" | "0" | "off" | "no"
    )
}
