//! The metric lines (CloudWatch EMF) the real handlers emit, captured from `tracing` as Lambda writes them:
//! names, units, dimensions and values of a bid accepted, a bid refused, a fan-out and a scheduled close.

use auction::metrics::{declared, Capture, Declared};
use auction_tests::harness::{TestApp, T0};
use serde_json::Value;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The one captured document declaring `metric`.
fn one_with(docs: &[Value], metric: &str) -> (Value, Declared) {
    let found: Vec<_> = docs
        .iter()
        .filter_map(|d| declared(d).map(|decl| (d.clone(), decl)))
        .filter(|(_, decl)| decl.metrics.iter().any(|(n, _)| n == metric))
        .collect();
    assert_eq!(found.len(), 1, "one {metric} line in {docs:#?}");
    found.into_iter().next().unwrap()
}

fn units(decl: &Declared) -> Vec<(String, String)> {
    decl.metrics.clone()
}

#[tokio::test]
async fn bids_fanout_and_close_emit_their_metric_lines() {
    let t = TestApp::sqlite();
    let id = t.auction().await;
    assert_eq!(t.connect("c-1", &id, &t.viewer("c-1")).await, 200);
    // The viewer count the join asked for (its own job, its own post) is not what this test counts.
    assert!(t.handoff.take().iter().all(|j| j.viewers));
    let capture = Capture::default();
    let guard = capture.install();

    let ok = t.bid(&t.bidder(1), &id, 10_000).await;
    assert_eq!(ok.status, 201, "{}", ok.body);
    let low = t.bid(&t.bidder(2), &id, 10_000).await;
    assert_eq!(low.code(), "bid_too_low");
    t.clock.set(T0 + 300_000 + 1_500);
    let report = t.close_run().await;
    assert_eq!(report.closed, vec![id.clone()]);
    drop(guard);
    let docs = capture.documents();

    let (doc, decl) = one_with(&docs, "BidsAccepted");
    assert_eq!(decl.namespace, "LiveAuction");
    assert_eq!(decl.dimension_sets, vec![Vec::<String>::new()]);
    assert_eq!(
        units(&decl),
        vec![
            ("BidsAccepted".into(), "Count".into()),
            ("BidLatency".into(), "Milliseconds".into())
        ]
    );
    assert_eq!(doc["BidsAccepted"], 1.0);

    let (doc, decl) = one_with(&docs, "BidsRefused");
    assert_eq!(decl.dimension_sets, vec![strings(&["Code"]), vec![]]);
    assert_eq!(doc["Code"], "bid_too_low");
    assert_eq!(doc["BidsRefused"], 1.0);

    // The accepted bid's frame to the one viewer, then the close's frame and the revocation.
    let posts: Vec<_> = docs
        .iter()
        .filter(|d| d["Operation"] == "post" && d.get("FanoutDuration").is_some())
        .collect();
    assert_eq!(posts.len(), 2, "{docs:#?}");
    for p in &posts {
        assert_eq!(
            (&p["FanoutDeliveries"], &p["FanoutGone"], &p["FanoutGaveUp"]),
            (&Value::from(1.0), &Value::from(0.0), &Value::from(0.0))
        );
        let decl = declared(p).unwrap();
        assert_eq!(decl.dimension_sets, vec![strings(&["Operation"]), vec![]]);
        assert!(decl
            .metrics
            .contains(&("FanoutDuration".into(), "Milliseconds".into())));
        assert!(decl
            .metrics
            .contains(&("FanoutGone".into(), "Count".into())));
    }
    assert!(docs
        .iter()
        .any(|d| d["Operation"] == "revoke" && d["FanoutDeliveries"] == 1.0));

    let (doc, decl) = one_with(&docs, "CloseLag");
    assert_eq!(
        units(&decl),
        vec![("CloseLag".into(), "Milliseconds".into())]
    );
    assert_eq!(doc["CloseLag"], 1_500.0, "closed 1.5 s after endsAt");
    let (doc, _) = one_with(&docs, "AuctionsClosed");
    assert_eq!(
        (&doc["AuctionsClosed"], &doc["CloseErrors"]),
        (&Value::from(1.0), &Value::from(0.0))
    );
}
