//! WebSocket $connect: authenticate the viewer and store the connection.
use auction::{telemetry, wiring};
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init_lambda();
    let app = wiring::lambda_app().await?;
    let app = &app;
    run(service_fn(
        move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
            Ok::<_, Error>(app.ws_connect(event.payload).await)
        },
    ))
    .await
}
