//! 200 concurrent bids through the real bid handler (HTTP event → handler → store), checking the
//! auction's invariants from the outside. The store-level twin runs in the conformance suite.

use auction_tests::scenario;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;

scenario! {
    async fn two_hundred_concurrent_bids(t) {
    let t = Arc::new(t);
    let id = t.auction().await;
    assert_eq!(t.connect("viewer=", &id, &t.viewer("viewer=")).await, 200);
    let tokens: Vec<String> = (0..20).map(|n| t.bidder(n)).collect();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let t = t.clone();
        let id = id.clone();
        let token = tokens[i % tokens.len()].clone();
        let amount = rand::rng().random_range(10_000..=40_000i64);
        tasks.push(tokio::spawn(async move {
            let r = t
                .bid_raw(
                    Some(&token),
                    &id,
                    Some(json!({ "amount": amount }).to_string()),
                    None,
                )
                .await;
            (amount, r)
        }));
    }
    let mut accepted = Vec::new();
    for task in tasks {
        let (amount, r) = task.await.unwrap();
        match r.status {
            201 => accepted.push((r.body["seq"].as_u64().unwrap(), amount)),
            // Too low, or its bidder already led when it was judged.
            409 => assert!(
                ["bid_too_low", "already_leading"].contains(&r.code()),
                "{}",
                r.body
            ),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    accepted.sort();
    assert!(!accepted.is_empty());
    let seqs: Vec<u64> = accepted.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=accepted.len() as u64).collect::<Vec<_>>(),
        "seq has no gaps or repeats"
    );
    assert!(
        accepted.windows(2).all(|w| w[1].1 >= w[0].1 + 100),
        "strictly increasing by the increment in seq order"
    );
    let a = t.auction_state(&id).await;
    assert_eq!(
        a.current_price.cents(),
        accepted.last().unwrap().1,
        "final price = highest accepted"
    );
    assert_eq!(a.bid_count, accepted.len() as u64);
    // The viewer saw every accepted bid exactly once, in seq order (one publisher per auction at a time).
    assert_eq!(
        t.bid_seqs("viewer="),
        seqs,
        "every accepted bid reached the viewer exactly once, in seq order"
    );
    // Nothing is accepted after endsAt.
    t.clock.set(a.ends_at);
    let late = t.bid(&tokens[0], &id, 10_000_000).await;
    assert_eq!((late.status, late.code()), (409, "auction_not_active"));
}
}
