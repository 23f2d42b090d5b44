//! CloudWatch metrics as log lines in the Embedded Metric Format (EMF): no client, no extra call on the hot
//! path. CloudWatch Logs turns every stdout line of a Lambda function that is a JSON object with an `_aws` key
//! into metric data points, so a metric costs one line and no request.
//!
//! Every metric is emitted here, each as one `tracing` event of target [`TARGET`] whose `emf` field is the
//! whole EMF document; [`layer`] writes that document verbatim as one line (in Lambda: stdout, installed by
//! `telemetry::init_lambda`, which keeps these events out of the JSON log lines). Handlers call one function
//! per fact ([`bid_answered`], [`fanout_done`], [`auction_closed`], [`close_run`], [`store_throttled`]).
//!
//! The namespace is `METRICS_NAMESPACE` (the template sets `LiveAuction/<stack name>`; default
//! `LiveAuction`), read once. The names, units and dimensions are the consts below; `template.yaml`'s alarms and
//! dashboard use them (checked by `tests/tests/integration/template.rs` against [`ALL`]).
//!
//! Why not the `metrics_cloudwatch_embedded` crate: it is a global `metrics` recorder that aggregates and must
//! be flushed after each invocation by wrapping the runtime's `run` in every `main.rs`; these metrics are a
//! handful of events per invocation, which one line each carries without state or flushing.

use serde::Serialize;
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// The `tracing` target of metric events (this module's path).
pub const TARGET: &str = "auction::metrics";

/// The namespace when `METRICS_NAMESPACE` is unset.
pub const DEFAULT_NAMESPACE: &str = "LiveAuction";

/// A CloudWatch unit, as EMF spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Milliseconds,
}

/// One metric: its name and unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
}

const fn count(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Count,
    }
}

const fn millis(name: &'static str) -> Metric {
    Metric {
        name,
        unit: Unit::Milliseconds,
    }
}

/// A bid answered 2xx (accepted, or an idempotent replay of an accepted one). Dimensions: none.
pub const BIDS_ACCEPTED: Metric = count("BidsAccepted");
/// A bid answered with an error, dimensions `Code` (the stable error code) and none (the total).
pub const BIDS_REFUSED: Metric = count("BidsRefused");
/// Time from the bid request reaching the handler to its answer, with the bid's outcome's dimensions.
pub const BID_LATENCY: Metric = millis("BidLatency");
/// One fan-out (a frame to a slice of viewers, or a revocation): its duration and outcome counts.
/// Dimension `Operation` (`post` | `revoke`) and none.
pub const FANOUT_DURATION: Metric = millis("FanoutDuration");
pub const FANOUT_DELIVERIES: Metric = count("FanoutDeliveries");
/// Viewers API Gateway answered 410 Gone (their records are removed).
pub const FANOUT_GONE: Metric = count("FanoutGone");
/// Viewers given up on after the bounded retries (they see a gap and fill it).
pub const FANOUT_GAVE_UP: Metric = count("FanoutGaveUp");
/// Retried Management API calls (429, 5xx, timeouts).
pub const FANOUT_RETRIES: Metric = count("FanoutRetries");
/// For each auction the schedule closed: now − `endsAt`. Dimensions: none.
pub const CLOSE_LAG: Metric = millis("CloseLag");
/// Per close run: auctions moved to ended, and closes that failed (each retried next run). Dimensions: none.
pub const AUCTIONS_CLOSED: Metric = count("AuctionsClosed");
pub const CLOSE_ERRORS: Metric = count("CloseErrors");
/// A store request throttled (DynamoDB throttling or transaction conflict). Dimension `Operation` and none.
pub const STORE_THROTTLES: Metric = count("StoreThrottles");

/// Every metric this module emits.
pub const ALL: &[Metric] = &[
    BIDS_ACCEPTED,
    BIDS_REFUSED,
    BID_LATENCY,
    FANOUT_DURATION,
    FANOUT_DELIVERIES,
    FANOUT_GONE,
    FANOUT_GAVE_UP,
    FANOUT_RETRIES,
    CLOSE_LAG,
    AUCTIONS_CLOSED,
    CLOSE_ERRORS,
    STORE_THROTTLES,
];

fn namespace() -> &'static str {
    static NS: OnceLock<String> = OnceLock::new();
    NS.get_or_init(|| {
        std::env::var("METRICS_NAMESPACE")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata<'a> {
    timestamp: i64,
    cloud_watch_metrics: [Directive<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'a str,
    dimensions: &'a [&'a [&'a str]],
    metrics: Vec<Definition>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Definition {
    name: &'static str,
    unit: Unit,
}

/// The EMF document: `_aws` metadata, then the dimension values and metric values as top-level members.
fn document(
    namespace: &str,
    timestamp: i64,
    dimension_sets: &[&[&str]],
    dimensions: &[(&str, &str)],
    values: &[(Metric, f64)],
) -> Value {
    let meta = Metadata {
        timestamp,
        cloud_watch_metrics: [Directive {
            namespace,
            dimensions: dimension_sets,
            metrics: values
                .iter()
                .map(|(m, _)| Definition {
                    name: m.name,
                    unit: m.unit,
                })
                .collect(),
        }],
    };
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        serde_json::to_value(meta).unwrap_or(Value::Null),
    );
    for (k, v) in dimensions {
        doc.insert((*k).into(), Value::from(*v));
    }
    for (m, v) in values {
        doc.insert(m.name.into(), Value::from(*v));
    }
    Value::Object(doc)
}

fn emit(dimension_sets: &[&[&str]], dimensions: &[(&str, &str)], values: &[(Metric, f64)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let doc = document(namespace(), now, dimension_sets, dimensions, values);
    tracing::info!(target: TARGET, emf = %doc);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A bid's answer: accepted (2xx) or refused with its error code, and how long it took since `started`.
pub fn bid_answered(refused_code: Option<&str>, started: Instant) {
    let latency = (BID_LATENCY, ms(started.elapsed()));
    match refused_code {
        None => emit(&[&[]], &[], &[(BIDS_ACCEPTED, 1.0), latency]),
        Some(code) => emit(
            &[&["Code"], &[]],
            &[("Code", code)],
            &[(BIDS_REFUSED, 1.0), latency],
        ),
    }
}

/// Times a bid: `respond(metrics::timed_bid(self.place_bid_inner(&req)).await)`.
pub async fn timed_bid<T, E: CodedError>(
    answer: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = Instant::now();
    let result = answer.await;
    bid_answered(result.as_ref().err().map(CodedError::code), started);
    result
}

/// An error with a stable machine code (the `error` of the answer).
pub trait CodedError {
    fn code(&self) -> &'static str;
}

impl CodedError for crate::error::ApiError {
    fn code(&self) -> &'static str {
        crate::error::ApiError::code(self)
    }
}

/// One fan-out done (a frame posted to a slice of viewers, or a revocation), with what it did and how long it
/// took. Nothing for a fan-out to no one.
pub fn fanout_done(revoke: bool, report: &crate::fanout::FanoutReport, took: Duration) {
    if report.targets == 0 {
        return;
    }
    let operation = if revoke { "revoke" } else { "post" };
    emit(
        &[&["Operation"], &[]],
        &[("Operation", operation)],
        &[
            (FANOUT_DURATION, ms(took)),
            (FANOUT_DELIVERIES, report.delivered as f64),
            (FANOUT_GONE, report.gone as f64),
            (FANOUT_GAVE_UP, report.failed as f64),
            (FANOUT_RETRIES, report.retries as f64),
        ],
    );
}

/// An auction moved to ended at `now`; for the schedule's close, its lag after `ends_at` (epoch ms). An early
/// end has no lag.
pub fn auction_closed(closing: &crate::domain::Closing, ends_at: i64, now: i64) {
    if *closing == crate::domain::Closing::Due {
        emit(&[&[]], &[], &[(CLOSE_LAG, (now - ends_at).max(0) as f64)]);
    }
}

/// One close run's totals.
pub fn close_run(closed: usize, errors: usize) {
    emit(
        &[&[]],
        &[],
        &[
            (AUCTIONS_CLOSED, closed as f64),
            (CLOSE_ERRORS, errors as f64),
        ],
    );
}

/// A store request was throttled.
pub fn store_throttled(operation: &str) {
    emit(
        &[&["Operation"], &[]],
        &[("Operation", operation)],
        &[(STORE_THROTTLES, 1.0)],
    );
}

/// A `tracing` layer that writes each metric event's EMF document as one line to `make_writer`, and
/// nothing else.
pub fn layer<W>(make_writer: W) -> EmfLayer<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    EmfLayer { make_writer }
}

/// See [`layer`].
pub struct EmfLayer<W> {
    make_writer: W,
}

struct EmfField(Option<String>);

impl Visit for EmfField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "emf" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S, W> Layer<S> for EmfLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut field = EmfField(None);
        event.record(&mut field);
        if let Some(line) = field.0 {
            let mut w = self.make_writer.make_writer();
            let _ = writeln!(w, "{line}");
        }
    }
}

/// Captures metric lines in memory, for tests: install with [`Capture::install`] on the current thread.
#[derive(Clone, Default)]
pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Capture {
    /// Routes this thread's metric events here until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_default(tracing_subscriber::registry().with(layer(self.clone())))
    }

    /// Every line written so far, each parsed as JSON.
    pub fn documents(&self) -> Vec<Value> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// One writer per event, appending to the capture buffer.
pub struct CaptureWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Capture {
    type Writer = CaptureWriter;
    fn make_writer(&'w self) -> Self::Writer {
        CaptureWriter(std::sync::Arc::clone(&self.0))
    }
}

/// The metric names, units and dimension sets a document declares, and its values: what a test checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub namespace: String,
    pub dimension_sets: Vec<Vec<String>>,
    pub metrics: Vec<(String, String)>,
}

/// Reads back the `_aws` directive of an EMF document (`None` if it is not one).
pub fn declared(doc: &Value) -> Option<Declared> {
    let d = doc.get("_aws")?.get("CloudWatchMetrics")?.get(0)?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(Declared {
        namespace: d.get("Namespace")?.as_str()?.to_owned(),
        dimension_sets: d
            .get("Dimensions")?
            .as_array()?
            .iter()
            .map(strings)
            .collect(),
        metrics: d
            .get("Metrics")?
            .as_array()?
            .iter()
            .filter_map(|m| {
                Some((
                    m.get("Name")?.as_str()?.to_owned(),
                    m.get("Unit")?.as_str()?.to_owned(),
                ))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Closing;

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let cap = Capture::default();
        {
            let _guard = cap.install();
            f();
        }
        cap.documents()
    }

    #[test]
    fn a_refused_bid_is_one_emf_line_with_its_code_as_a_dimension() {
        let docs = capture(|| bid_answered(Some("bid_too_low"), Instant::now()));
        assert_eq!(docs.len(), 1, "{docs:?}");
        let doc = &docs[0];
        let d = declared(doc).expect("an EMF document");
        assert_eq!(d.namespace, DEFAULT_NAMESPACE);
        assert_eq!(
            d.dimension_sets,
            vec![vec!["Code".to_owned()], Vec::<String>::new()]
        );
        assert_eq!(
            d.metrics,
            vec![
                ("BidsRefused".to_owned(), "Count".to_owned()),
                ("BidLatency".to_owned(), "Milliseconds".to_owned())
            ]
        );
        assert_eq!(doc["Code"], "bid_too_low");
        assert_eq!(doc["BidsRefused"], 1.0);
        assert!(doc["BidLatency"].as_f64().is_some_and(|v| v >= 0.0));
        assert!(doc["_aws"]["Timestamp"].as_i64().is_some_and(|t| t > 0));
    }

    #[test]
    fn every_value_a_document_declares_is_a_top_level_member() {
        let docs = capture(|| {
            bid_answered(None, Instant::now());
            let report = crate::fanout::FanoutReport {
                targets: 6,
                delivered: 3,
                gone: 1,
                failed: 2,
                retries: 5,
            };
            fanout_done(false, &report, Duration::from_millis(40));
            fanout_done(true, &Default::default(), Duration::ZERO); // no one: nothing
            auction_closed(&Closing::Due, 1_000, 61_000);
            let admin = crate::domain::EndedBy {
                user_id: crate::domain::UserId::parse("admin").unwrap(),
                role: crate::domain::Role::Admin,
            };
            auction_closed(&Closing::Early(admin), 1_000, 500); // an early end has no lag
            close_run(2, 1);
            store_throttled("TransactWriteItems");
        });
        assert_eq!(docs.len(), 5);
        for doc in &docs {
            let d = declared(doc).expect("an EMF document");
            for (name, unit) in &d.metrics {
                assert!(doc[name].is_number(), "{name} missing in {doc}");
                let known = ALL.iter().find(|m| m.name == name).expect("a known metric");
                assert_eq!(serde_json::to_value(known.unit).unwrap(), **unit);
            }
            for set in &d.dimension_sets {
                for dim in set {
                    assert!(doc[dim].is_string(), "{dim} missing in {doc}");
                }
            }
        }
        assert_eq!(docs[1]["FanoutGone"], 1.0);
        assert_eq!(docs[1]["FanoutGaveUp"], 2.0);
        assert_eq!(docs[1]["Operation"], "post");
        assert_eq!(docs[2]["CloseLag"], 60_000.0);
        assert_eq!(docs[4]["Operation"], "TransactWriteItems");
    }

    #[test]
    fn the_layer_writes_metric_events_only() {
        let docs = capture(|| {
            tracing::info!("an ordinary log line");
            close_run(0, 0);
        });
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["AuctionsClosed"], 0.0);
    }
}
