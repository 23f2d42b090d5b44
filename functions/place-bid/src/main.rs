//! POST /auctions/{id}/bids: one conditional write, then fan-out to viewers.
use auction::{telemetry, wiring};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(app.place_bid(req).await)
    }))
    .await
}
