//! Closing auctions: the EventBridge schedule's sweep (end whatever is due, exactly once; the safety net) and
//! the close timer's task (one auction at its end, to the second; Step Functions `{"auctionId": …}`).
use auction::handlers::close::CloseTimerEvent;
use auction::{telemetry, wiring};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde::Deserialize;

/// What invokes the function: the close timer's task names an auction; anything else is the schedule.
#[derive(Deserialize)]
#[serde(untagged)]
enum Invocation {
    Timer(CloseTimerEvent),
    Schedule(Box<EventBridgeEvent<serde_json::Value>>),
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(
        move |event: LambdaEvent<Invocation>| async move {
            match event.payload {
                Invocation::Timer(t) => serde_json::to_value(app.close_at_end(t).await?),
                Invocation::Schedule(e) => {
                    tracing::debug!(scheduled_at = ?e.time, "close run");
                    serde_json::to_value(app.close_run().await?)
                }
            }
            .map_err(Error::from)
        },
    ))
    .await
}
