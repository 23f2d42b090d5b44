// The auction page's rules (web/state.js): seq order, stale frames, dedupe, gaps, minimum bid, snapshots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { initialState, reduce, minIncrement, deriveMinimum } from "../../web/state.js";
import { ID, auction, bid, batch, delivery, status, ended, bidResponse, snapshot, driver } from "./helpers.mjs";

// ------------------------------------------------------------------ seq rules

test("a newer batch moves price, count, seq and minimum forward and joins the feed", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(2, 10_500, "Grace"));
  assert.equal(d.state.lastSeq, 2);
  assert.equal(d.state.auction.currentPrice, 10_500);
  assert.equal(d.state.auction.bidCount, 2);
  assert.equal(d.state.minimumBid, 10_600);
  assert.deepEqual(d.seqs(), [2, 1]);
  assert.equal(d.state.bids[0].bidderName, "Grace");
});

test("a delivery covering several bids adds each with its own seq, in order, and the status once", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  const r = d.send(delivery(2, [[10_100, "Grace"], [10_200, "Ada"], [10_300, "Grace"]]));
  assert.deepEqual(d.seqs(), [4, 3, 2, 1]);
  assert.equal(d.state.lastSeq, 4);
  assert.equal(d.state.auction.currentPrice, 10_300);
  assert.equal(d.state.auction.bidCount, 4);
  assert.equal(d.state.minimumBid, 10_400);
  assert.equal(r.effects.filter((e) => e.type === "bidAdded").length, 3);
  assert.ok(!r.effects.some((e) => e.type === "gapCheck"), "a covered range is no gap");
});

test("a delivery that includes the close shows the winner and is not a gap", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  const r = d.send(delivery(2, [[10_100, "Grace"]], "Grace"));
  assert.equal(d.state.ended, true);
  assert.equal(d.state.result.winnerName, "Grace");
  assert.equal(d.state.lastSeq, 3);
  assert.deepEqual(d.seqs(), [2, 1]);
  assert.ok(r.effects.some((e) => e.type === "ended"));
  assert.ok(!r.effects.some((e) => e.type === "gapCheck" || e.type === "resync"));
});

test("a repeated delivery (a publisher retry) is dropped", () => {
  const d = driver();
  const f = delivery(1, [[10_000], [10_100, "Grace"]]);
  d.send(f);
  const before = d.state;
  const r = d.send(f);
  assert.equal(r.state, before);
  assert.deepEqual(r.effects, []);
});

test("a frame of another auction is ignored", () => {
  const d = driver();
  const before = d.state;
  const r = d.send({ ...batch(1, 10_000), auctionId: "OTHER" });
  assert.equal(r.state, before);
  assert.deepEqual(r.effects, []);
});

test("an error frame changes nothing", () => {
  const d = driver();
  const before = d.state;
  d.send({ type: "error", seq: 0, data: { error: "bad_message", message: "no" } });
  assert.equal(d.state, before);
});

test("frames before the first snapshot are ignored (the page resyncs before it listens)", () => {
  const r = reduce(initialState(ID), batch(1, 10_000));
  assert.equal(r.state.auction, null);
  assert.deepEqual(r.state.bids, []);
});

// ------------------------------------------------------------------ stale frames

test("an older frame never moves the status back, but its bid joins the feed sorted by seq", () => {
  const d = driver();
  d.send(batch(2, 10_500, "Grace")); // two bids at the same moment: frames arrive out of order
  d.send(batch(1, 10_000, "Ada"));
  assert.equal(d.state.lastSeq, 2);
  assert.equal(d.state.auction.currentPrice, 10_500);
  assert.equal(d.state.auction.bidCount, 2);
  assert.equal(d.state.minimumBid, 10_600);
  assert.deepEqual(d.seqs(), [2, 1]);
});

test("a stale auction.status is ignored", () => {
  const d = driver(snapshot([10_000, 10_500, 11_000]));
  d.send(status(2, 10_500));
  assert.equal(d.state.auction.currentPrice, 11_000);
  assert.equal(d.state.auction.bidCount, 3);
  assert.equal(d.state.lastSeq, 3);
});

test("a stale auction.ended does not end the auction", () => {
  const d = driver(snapshot([10_000, 10_500, 11_000]));
  d.send(ended(2, "Ada", 10_500));
  assert.equal(d.state.ended, false);
});

// ------------------------------------------------------------------ dedupe

test("a duplicate frame is dropped (same state, no effects)", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  const before = d.state;
  const r = d.send(batch(1, 10_000));
  assert.equal(r.state, before);
  assert.deepEqual(r.effects, []);
  assert.equal(d.state.bids.length, 1);
});

test("a bid seen in the 201 body and again in its frame appears once", () => {
  const d = driver();
  d.send(bidResponse(1, 10_000));
  d.send(batch(1, 10_000));
  assert.deepEqual(d.seqs(), [1]);
});

test("a snapshot repeating bids the feed has adds none twice", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(2, 10_500));
  d.send(snapshot([10_000, 10_500]));
  assert.deepEqual(d.seqs(), [2, 1]);
});

test("each new bid is reported once as bidAdded (the bid form settles a pending bid with it)", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(1, 10_000));
  d.send(snapshot([10_000]));
  assert.equal(d.count("bidAdded"), 1);
  assert.equal(d.effects.find((e) => e.type === "bidAdded").bid.bidId, "bid-1");
});

// ------------------------------------------------------------------ gaps

test("a batch that skips a seq schedules a gap check; the late frame closes it without a resync", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(3, 11_000));
  assert.equal(d.count("gapCheck"), 1);
  d.send(batch(2, 10_500));
  d.elapse();
  assert.equal(d.count("resync"), 0);
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("a gap still open after the wait asks for GET /auctions/{id}, and the snapshot fills it", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(3, 11_000));
  d.elapse();
  assert.equal(d.count("resync"), 1);
  d.send(snapshot([10_000, 10_500, 11_000]));
  assert.deepEqual(d.seqs(), [3, 2, 1]);
  d.clear();
  d.elapse();
  assert.equal(d.count("resync"), 0);
});

test("defect: an auction.status ahead of the feed (its bid frame was missed) triggers the gap check and a resync", () => {
  const d = driver(snapshot([10_000, 10_500]));
  // Bid 3's batch frame never arrived; the close run's status frame says there are 3 bids.
  d.send(status(3, 11_000));
  assert.equal(d.count("gapCheck"), 1, "the status frame must schedule a gap check");
  d.elapse();
  assert.equal(d.count("resync"), 1, "the missing bid must be fetched");
  d.send(snapshot([10_000, 10_500, 11_000]));
  assert.deepEqual(d.seqs(), [3, 2, 1]);
  assert.equal(d.state.bids[0].amount, 11_000);
});

test("defect: the idle {\"action\":\"sync\"} answer ahead of the feed fills the missed bid", () => {
  const d = driver(snapshot([10_000]));
  d.send(batch(2, 10_500));
  // 30 s of silence: bid 3's frame was lost; the sync answer is a status frame at seq 3.
  d.send(status(3, 11_000));
  d.elapse();
  assert.equal(d.count("resync"), 1);
  d.send(snapshot([10_000, 10_500, 11_000]));
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("defect: a batch right after a status that jumped ahead still finds the bid missing before it", () => {
  const d = driver(snapshot([10_000]));
  d.send(status(2, 10_500)); // bid 2's frame missed; status moved lastSeq to 2
  d.send(batch(3, 11_000)); // seq = lastSeq + 1, but bid 2 is not in the feed
  d.elapse();
  assert.ok(d.count("resync") >= 1, "bid 2 must be fetched");
});

test("auction.ended at last bid seq + 1 is not a gap", () => {
  const d = driver(snapshot([10_000, 10_500]));
  d.send(ended(3, "Ada", 10_500));
  d.elapse();
  assert.equal(d.count("gapCheck"), 0);
  assert.equal(d.count("resync"), 0);
  assert.equal(d.state.ended, true);
  assert.equal(d.count("ended"), 1);
});

test("auction.ended after a missed last bid fetches it (the feed shows the winning bid)", () => {
  const d = driver(snapshot([10_000]));
  d.send(ended(3, "Grace", 10_500)); // bid 2 was never seen
  d.elapse();
  assert.equal(d.count("resync"), 1);
  d.send(snapshot([10_000, 10_500], { status: "ended", seq: 3, winnerName: "Grace", finalPrice: 10_500 }));
  assert.deepEqual(d.seqs(), [2, 1]);
  assert.equal(d.state.result.winnerName, "Grace");
});

test("a status frame of an auction with no bids is not a gap", () => {
  const d = driver();
  d.send(status(0, 10_000, 0));
  d.elapse();
  assert.equal(d.count("gapCheck"), 0);
});

test("a snapshot with only the 20 most recent of 35 bids is not a gap", () => {
  const prices = Array.from({ length: 35 }, (_, i) => 10_000 + i * 100);
  const d = driver(snapshot(prices));
  d.send(status(35, prices[34]));
  d.send(batch(36, 20_000));
  d.elapse();
  assert.equal(d.state.bids.length, 21);
  assert.equal(d.count("gapCheck"), 0);
  assert.equal(d.count("resync"), 0);
});

test("only one gap check is in flight at a time", () => {
  const d = driver();
  d.send(status(2, 10_500));
  d.send(status(3, 11_000));
  d.send(status(4, 11_500));
  assert.equal(d.count("gapCheck"), 1);
});

// ------------------------------------------------------------------ minimum bid

test("minimum next bid: the starting price before any bid, then current price + increment", () => {
  assert.equal(deriveMinimum(auction()), 10_000);
  assert.equal(deriveMinimum(auction({ bidCount: 1, currentPrice: 12_000, minIncrement: 250 })), 12_250);
});

test("the fallback increment is the server's default rule, the same for the state and the bid form", () => {
  // No minIncrement: the server uses 5 % of the starting price, from 1 cent up to $1.00.
  assert.equal(minIncrement({ startingPrice: 10_000 }), 100);
  assert.equal(minIncrement({ startingPrice: 1_000 }), 50);
  assert.equal(minIncrement({ startingPrice: 10 }), 1);
  assert.equal(minIncrement({}), 100);
  assert.equal(minIncrement({ minIncrement: 0, startingPrice: 100_000 }), 100);
  assert.equal(deriveMinimum({ startingPrice: 10_000, currentPrice: 12_000, bidCount: 1 }), 12_100);
});

test("a status frame derives the minimum from the price and increment", () => {
  const d = driver(snapshot([], { minIncrement: 500 }));
  d.send(batch(1, 20_000));
  assert.equal(d.state.minimumBid, 20_500);
});

test("the server's minimumBid (snapshot, 201 body) wins at its seq", () => {
  const d = driver(snapshot([10_000], { minimumBid: 10_777 }));
  assert.equal(d.state.minimumBid, 10_777);
  d.send(bidResponse(2, 11_000, "Ada", 333));
  assert.equal(d.state.minimumBid, 11_333);
  d.send(batch(2, 11_000)); // the same seq's frame does not override the server's figure
  assert.equal(d.state.minimumBid, 11_333);
});

test("a too-low refusal raises the minimum to the server's and asks for a resync", () => {
  const d = driver(snapshot([10_000]));
  d.send({ local: "bidRejected", minimumBid: 15_100 });
  assert.equal(d.state.minimumBid, 15_100);
  assert.equal(d.count("resync"), 1);
});

// ------------------------------------------------------------------ snapshots and bid responses

test("the first snapshot shows the auction, its bids newest first, its seq and minimum", () => {
  const r = reduce(initialState(ID), snapshot([10_000, 10_500, 11_000]));
  assert.equal(r.state.auction.title, "Leica M3");
  assert.equal(r.state.lastSeq, 3);
  assert.equal(r.state.minimumBid, 11_100);
  assert.deepEqual(r.state.bids.map((b) => b.seq), [3, 2, 1]);
});

test("a snapshot of another auction is ignored", () => {
  const d = driver();
  const before = d.state;
  d.send({ ...snapshot([10_000]), auction: auction({ auctionId: "OTHER", bidCount: 1, seq: 1 }) });
  assert.equal(d.state, before);
});

test("an older snapshot adds its bids but never moves the status back", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(batch(3, 11_000));
  d.send(snapshot([10_000, 10_500])); // read before bid 3 landed
  assert.equal(d.state.lastSeq, 3);
  assert.equal(d.state.auction.currentPrice, 11_000);
  assert.equal(d.state.auction.bidCount, 3);
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("a newer snapshot moves everything forward and keeps bids the snapshot no longer lists", () => {
  const d = driver();
  d.send(batch(1, 10_000));
  d.send(snapshot([10_000, 10_500, 11_000]));
  assert.equal(d.state.lastSeq, 3);
  assert.equal(d.state.auction.currentPrice, 11_000);
  assert.equal(d.state.minimumBid, 11_100);
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("a snapshot of an ended auction shows the result once", () => {
  const d = driver(snapshot([10_000, 12_000], { status: "ended", seq: 3, winnerName: "Ada", finalPrice: 12_000 }));
  assert.equal(d.state.ended, true);
  assert.deepEqual(d.state.result, { winnerId: null, winnerName: "Ada", finalPrice: 12_000, reserveNotMet: false });
  d.send(snapshot([10_000, 12_000], { status: "ended", seq: 3, winnerName: "Ada", finalPrice: 12_000 }));
  assert.equal(d.count("ended"), 0, "the first snapshot's ended effect was cleared; no second one");
});

test("auction.ended shows the winner and final price", () => {
  const d = driver(snapshot([10_000, 10_500]));
  d.send(ended(3, "Grace", 10_500));
  assert.deepEqual(d.state.result, { winnerId: "p-Grace", winnerName: "Grace", finalPrice: 10_500, reserveNotMet: false });
  assert.equal(d.state.auction.status, "ended");
  assert.equal(d.state.lastSeq, 3);
});

test("the 201 body applies the bid, the status and the server's minimum", () => {
  const d = driver(snapshot([10_000]));
  d.send(bidResponse(2, 12_000, "Ada", 100));
  assert.equal(d.state.lastSeq, 2);
  assert.equal(d.state.auction.currentPrice, 12_000);
  assert.equal(d.state.auction.bidCount, 2);
  assert.equal(d.state.minimumBid, 12_100);
  assert.deepEqual(d.seqs(), [2, 1]);
});

test("a 201 body older than what is shown (an idempotent replay) adds its bid but moves nothing back", () => {
  const d = driver(snapshot([10_000, 10_500, 11_000]));
  d.send(bidResponse(2, 10_500));
  assert.equal(d.state.lastSeq, 3);
  assert.equal(d.state.auction.currentPrice, 11_000);
  assert.equal(d.state.minimumBid, 11_100);
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("an unknown auction (404) is shown as not found", () => {
  const r = reduce(initialState(ID), { local: "notFound" });
  assert.equal(r.state.notFound, true);
});

test("reduce never mutates the state it is given", () => {
  const d = driver(snapshot([10_000]));
  const frozen = structuredClone(d.state);
  reduce(d.state, batch(2, 10_500));
  reduce(d.state, status(5, 12_000));
  reduce(d.state, snapshot([10_000, 10_500, 11_000]));
  reduce(d.state, bidResponse(2, 10_500));
  assert.deepEqual(d.state, frozen);
});

test("bid fixture sanity: seq and bidId line up", () => {
  assert.equal(bid(4, 1).bidId, "bid-4");
});
