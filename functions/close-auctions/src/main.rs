//! EventBridge schedule: end due auctions exactly once, announce winners, revoke viewers.
use auction::{telemetry, wiring};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(
        move |_: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            app.close_run().await
        },
    ))
    .await
}
