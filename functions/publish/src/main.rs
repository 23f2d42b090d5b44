//! SQS FIFO (one message group per auction's changes, one per its viewer counts): deliver each auction's
//! committed changes to its viewers.
use auction::{telemetry, wiring};
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(app.publish_batch(event.payload).await)
    }))
    .await
}
