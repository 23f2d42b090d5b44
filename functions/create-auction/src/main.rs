//! POST /auctions: a seller creates an auction.
use auction::{telemetry, wiring};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(app.create_auction(req).await)
    }))
    .await
}
