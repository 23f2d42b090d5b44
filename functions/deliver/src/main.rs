//! Invoked by the publisher (RequestResponse): deliver one frame to the viewers of some shard partitions.
use auction::publisher::SliceJob;
use auction::{telemetry, wiring};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<SliceJob>| async move {
        app.deliver_slice(&event.payload).await.map_err(Error::from)
    }))
    .await
}
