//! The DynamoDB adapter against moto (or `DYNAMODB_TEST_ENDPOINT`): the shared conformance suite, one fresh
//! table per case, plus DynamoDB-specific checks of the item layout and the self-healing bid history.

auction::store_conformance_tests!(auction_tests::moto::fresh_table());

use auction::domain::{
    new_auction, Auction, AuctionDraft, AuctionId, AuctionStatus, BidOutcome, BidRequest,
    CloseOutcome, Closing, Connection, ConnectionId, IdempotencyKey, Money, Principal, Role,
    UserId,
};
use auction::ports::{AuctionStore, ConnectionStore};
use auction::store::dynamodb::DynamoStore;
use auction_tests::moto::fresh_table;
use aws_sdk_dynamodb::types::AttributeValue;

const NOW: i64 = 1_700_000_000_000;

fn seller() -> Principal {
    Principal {
        user_id: UserId::parse("seller-1").unwrap(),
        name: "Sally".into(),
        role: Role::Seller,
    }
}

fn auction(id: &str, ends_at: i64) -> Auction {
    let draft = AuctionDraft {
        viewer_shards: 4,
        title: format!("Lot {id}"),
        starting_price: Money::new(1_000).unwrap(),
        increments: auction::domain::Ladder::fixed(Money::new(100).unwrap()),
        soft_close_ms: 0,
        reserve_price: None,
        starts_at: 0,
        ends_at,
    };
    new_auction(AuctionId::parse(id).unwrap(), &seller(), draft, NOW)
}

fn bid(id: &str, bidder: &str, amount: i64, key: Option<&str>) -> BidRequest {
    BidRequest {
        kind: auction::domain::BidKind::Plain,
        auction_id: AuctionId::parse(id).unwrap(),
        bidder_id: UserId::parse(bidder).unwrap(),
        bidder_name: format!("name-{bidder}"),
        amount: Money::new(amount).unwrap(),
        now: NOW + 1,
        bid_id: format!("bid-{bidder}-{amount}"),
        idempotency_key: key.map(|k| IdempotencyKey::parse(k).unwrap()),
    }
}

fn pk(id: &str) -> AttributeValue {
    AttributeValue::S(format!("AUCTION#{id}"))
}

async fn raw_get(
    store: &DynamoStore,
    pk: AttributeValue,
    sk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(store.table_name())
        .key("pk", pk)
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The description is its own item: the META item every bid rewrites holds none of it, so a bid costs the
/// same 1 WCU on the auction item with the longest description as with none (it was ≈ 5 WCU at 4,000 bytes).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_description_lives_beside_the_auction_item_never_in_it() {
    let store = fresh_table().await;
    // GIVEN an auction with the longest title and description the API takes (300 and 4,000 bytes)
    let mut a = auction("long", NOW + 60_000);
    a.title = "T".repeat(auction::domain::MAX_TITLE_LEN);
    let description = "🦀".repeat(auction::domain::MAX_DESCRIPTION_LEN / 4);
    let details = auction::domain::AuctionDetails {
        description: description.clone(),
    };
    store.create_auction(&a, &details).await.unwrap();
    // WHEN a bid is accepted on it
    let BidOutcome::Accepted(_) = store
        .place_bid(&bid("long", "u1", 1_000, Some("k1")))
        .await
        .unwrap()
    else {
        panic!("accepted")
    };
    // THEN the auction item has no description and stays under 1 KB: the bid's write is 1 WCU
    let meta = raw_get(&store, pk("long"), "META").await.expect("META");
    assert!(!meta.contains_key("description"), "{:?}", meta.keys());
    let size = auction_tests::item_size::item_size(&meta);
    assert_eq!(
        auction_tests::item_size::wcu(size),
        1,
        "META item {size} bytes after a bid"
    );
    // AND the DETAILS item holds the description, and the port reads it back whole
    let item = raw_get(&store, pk("long"), "DETAILS")
        .await
        .expect("DETAILS");
    assert_eq!(
        item.get("description"),
        Some(&AttributeValue::S(description.clone()))
    );
    assert_eq!(store.get_details(&a.auction_id).await.unwrap(), details);
    // AND an auction without a description has no DETAILS item at all (no write spent on it)
    store
        .create_auction(&auction("plain", NOW + 60_000), &Default::default())
        .await
        .unwrap();
    assert_eq!(raw_get(&store, pk("plain"), "DETAILS").await, None);
}

/// The bid, its history item and its idempotency record are one transaction: after an accepted keyed bid all
/// three exist, and the record is small (the answer only, no auction snapshot).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bid_commits_with_its_history_item_and_a_small_idempotency_record() {
    let store = fresh_table().await;
    store
        .create_auction(&auction("a1", NOW + 60_000), &Default::default())
        .await
        .unwrap();
    let BidOutcome::Accepted(first) = store
        .place_bid(&bid("a1", "u1", 1_000, Some("k1")))
        .await
        .unwrap()
    else {
        panic!("accepted")
    };
    let bid_item = raw_get(&store, pk("a1"), &format!("BID#{:020}", 1))
        .await
        .expect("history item written with the bid");
    assert_eq!(
        bid_item.get("bidId"),
        Some(&AttributeValue::S(first.bids[0].bid_id.clone()))
    );
    let idem = raw_get(&store, pk("a1"), "IDEM#u1#k1")
        .await
        .expect("idempotency record written with the bid");
    assert!(idem.contains_key("expiresAt"));
    assert!(!idem.contains_key("auction"), "no auction snapshot");
    let size: usize = idem
        .iter()
        .map(|(k, v)| k.len() + format!("{v:?}").len())
        .sum();
    assert!(size < 1024, "idempotency record ≈ {size} bytes");
    assert_eq!(
        store
            .place_bid(&bid("a1", "u1", 1_000, Some("k1")))
            .await
            .unwrap(),
        BidOutcome::Replayed(first.receipt())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn close_due_and_finalize_move_through_the_sparse_index() {
    let store = fresh_table().await;
    let soon = auction("soon", NOW + 10_000);
    let later = auction("later", NOW + 20_000);
    store
        .create_auction(&later, &Default::default())
        .await
        .unwrap();
    store
        .create_auction(&soon, &Default::default())
        .await
        .unwrap();

    assert_eq!(
        store
            .list_active(NOW, 10)
            .await
            .unwrap()
            .iter()
            .map(|a| a.auction_id.as_str())
            .collect::<Vec<_>>(),
        ["soon", "later"]
    );
    assert_eq!(store.list_active(NOW, 1).await.unwrap().len(), 1);
    assert!(store.due_auctions(NOW, 10).await.unwrap().is_empty());
    assert!(matches!(
        store
            .close_auction(&soon.auction_id, NOW, &Closing::Due)
            .await
            .unwrap(),
        CloseOutcome::NotDue(_)
    ));
    assert_eq!(
        store
            .close_auction(&AuctionId::parse("x").unwrap(), NOW, &Closing::Due)
            .await
            .unwrap(),
        CloseOutcome::NotFound
    );

    let t = NOW + 10_000;
    assert_eq!(
        store.due_auctions(t, 10).await.unwrap(),
        vec![soon.auction_id.clone()]
    );
    let CloseOutcome::Closed(closed) = store
        .close_auction(&soon.auction_id, t, &Closing::Due)
        .await
        .unwrap()
    else {
        panic!("closed")
    };
    assert_eq!(
        (closed.status, closed.ended_at, closed.seq),
        (AuctionStatus::Ended, Some(t), 1)
    );
    let item = raw_get(&store, pk("soon"), "META").await.unwrap();
    assert_eq!(
        item.get("gsi1pk"),
        Some(&AttributeValue::S("ENDING".into()))
    );
    assert!(matches!(
        store.close_auction(&soon.auction_id, t, &Closing::Early(auction::domain::EndedBy { user_id: auction::domain::UserId::parse("admin").unwrap(), role: auction::domain::Role::Admin })).await.unwrap(),
        CloseOutcome::AlreadyEnded(a) if !a.finalized
    ));
    // Still due (the announcement is pending), no longer listed as active.
    assert_eq!(
        store.due_auctions(t, 10).await.unwrap(),
        vec![soon.auction_id.clone()]
    );
    assert_eq!(store.list_active(t, 10).await.unwrap().len(), 1);

    store.mark_finalized(&soon.auction_id).await.unwrap();
    store.mark_finalized(&soon.auction_id).await.unwrap();
    assert!(store.due_auctions(t, 10).await.unwrap().is_empty());
    let item = raw_get(&store, pk("soon"), "META").await.unwrap();
    assert!(!item.contains_key("gsi1pk") && !item.contains_key("gsi1sk"));
    assert!(
        store
            .get_auction(&soon.auction_id)
            .await
            .unwrap()
            .unwrap()
            .finalized
    );
    // Finalizing an active or missing auction changes nothing and creates nothing.
    store.mark_finalized(&later.auction_id).await.unwrap();
    assert!(
        !store
            .get_auction(&later.auction_id)
            .await
            .unwrap()
            .unwrap()
            .finalized
    );
    store
        .mark_finalized(&AuctionId::parse("ghost").unwrap())
        .await
        .unwrap();
    assert_eq!(
        store
            .get_auction(&AuctionId::parse("ghost").unwrap())
            .await
            .unwrap(),
        None
    );
}

/// Connection records live in their shard partition (`VIEWERS#<auction>#<shard>`), never in the auction's
/// own partition; the pointer `CONN#<id>` carries the TTL; the user's sockets item names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connection_items_live_in_shard_partitions_not_the_auctions() {
    let store = fresh_table().await;
    let conn = |cid: &str, aid: &str, shard: u16| Connection {
        connection_id: ConnectionId::parse(cid).unwrap(),
        auction_id: AuctionId::parse(aid).unwrap(),
        user_id: UserId::parse("viewer").unwrap(),
        connected_at: NOW,
        expires_at: NOW / 1000 + 7_200,
        shard,
    };
    let c1 = conn("L0SM9cOFvHcCIhw=", "a1", 3);
    let c2 = conn("c2", "a1", 0);
    for c in [&c1, &c2] {
        store.add_connection(c, 3).await.unwrap();
    }
    assert!(raw_get(
        &store,
        AttributeValue::S("VIEWERS#a1#3".into()),
        "CONN#L0SM9cOFvHcCIhw="
    )
    .await
    .is_some());
    assert!(
        raw_get(&store, AttributeValue::S("VIEWERS#a1#0".into()), "CONN#c2")
            .await
            .is_some()
    );
    assert!(
        raw_get(&store, pk("a1"), "CONN#c2").await.is_none(),
        "not in the auction's partition"
    );
    let pointer = raw_get(&store, AttributeValue::S("CONN#c2".into()), "CONN")
        .await
        .unwrap();
    assert_eq!(
        pointer.get("expiresAt"),
        Some(&AttributeValue::N((NOW / 1000 + 7_200).to_string()))
    );
    let user = raw_get(
        &store,
        AttributeValue::S("USER#viewer".into()),
        "VIEWING#a1",
    )
    .await
    .unwrap();
    let mut named = user.get("conns").unwrap().as_ss().unwrap().clone();
    named.sort();
    assert_eq!(named, ["L0SM9cOFvHcCIhw=", "c2"]);
    store.remove_connection(&c1.connection_id).await.unwrap();
    let user = raw_get(
        &store,
        AttributeValue::S("USER#viewer".into()),
        "VIEWING#a1",
    )
    .await
    .unwrap();
    assert_eq!(
        user.get("conns").unwrap().as_ss().unwrap(),
        &["c2".to_owned()]
    );
    assert!(raw_get(
        &store,
        AttributeValue::S("VIEWERS#a1#3".into()),
        "CONN#L0SM9cOFvHcCIhw="
    )
    .await
    .is_none());
}
