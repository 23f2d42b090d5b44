//! POST /auctions/{id}/bids (one conditional write, then the hand-off) and POST /auctions/{id}/ticket.
use auction::{telemetry, wiring};
use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(app.bid_or_ticket(req).await)
    }))
    .await
}
