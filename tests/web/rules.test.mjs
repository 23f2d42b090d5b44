// Issue 10 in the auction state (web/state.js): server clock, soft-close extensions, viewers, who leads, outbid,
// reserve, scheduled start, the public id (web/identity.js) and the increment ladder (web/money.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  reduce, initialState, isLeading, outbidNotice, serverNow, phase, reserveState, softClose, minIncrement,
  deriveMinimum, bidLanded, isMine,
} from "../../web/state.js";
import { smoothOffset, OFFSET_JUMP_MS } from "../../web/clock.js";
import { jwtSub, publicId, sessionPublicId } from "../../web/identity.js";
import { DEFAULT_LADDER, stepAt, addSteps, describeLadder, validLadder } from "../../web/money.js";
import { ID, FAR, pid, auction, batch, delivery, status, ended, bidResponse, snapshot, driver } from "./helpers.mjs";

const ME = pid("Ada");
const frame = (type, seq, data, over = {}) => ({ type, seq, auctionId: ID, data, ...over });
const withMe = (first = snapshot([])) => {
  const d = driver(first);
  d.send({ local: "identity", publicId: ME });
  return d;
};

// ------------------------------------------------------------------ server clock

test("every frame's serverTime sets the clock offset; countdowns read server time", () => {
  const d = driver();
  d.send({ ...status(0, 10_000, 0), serverTime: 50_000 }, { now: 45_000 });
  assert.equal(d.state.clockOffset, 5_000);
  assert.equal(serverNow(d.state, 46_000), 51_000);
  // Error frames and duplicates are samples too.
  d.send({ type: "error", seq: 0, serverTime: 50_400, data: { error: "rate_limited" } }, { now: 45_000 });
  assert.equal(d.state.clockOffset, 5_100, "smoothed: a quarter of the way to the new sample");
});

test("without a serverTime or a receipt time the offset is unknown and the fallback clock is used", () => {
  const d = driver();
  d.send(status(0, 10_000, 0), { now: 1_000 });
  d.send({ ...status(0, 10_000, 0), serverTime: 9_000 });
  assert.equal(d.state.clockOffset, null);
  assert.equal(serverNow(d.state, 1_000, 1_234), 1_234);
});

test("clock smoothing: the first sample as is, small moves averaged, a jump replaces the estimate", () => {
  assert.equal(smoothOffset(null, 10_000, 4_000), 6_000);
  assert.equal(smoothOffset(6_000, 10_400, 4_000), 6_100);
  assert.equal(smoothOffset(6_000, 10_000 + OFFSET_JUMP_MS + 1, 4_000), 6_000 + OFFSET_JUMP_MS + 1);
  assert.equal(smoothOffset(6_000, "nope", 4_000), 6_000);
  assert.equal(smoothOffset(null, 0, 4_000), null);
});

// ------------------------------------------------------------------ soft close

test("endsAt moving later is an extension (counted, with its size); the same or earlier is not", () => {
  const d = driver(snapshot([], { endsAt: 100_000 }));
  d.send(frame("auction.status", 0, { currentPrice: 10_000, bidCount: 0, endsAt: 100_000 }));
  assert.equal(d.state.extension.count, 0);
  d.send({ ...delivery(1, [[10_000]]), data: [
    { type: "bid.placed", seq: 1, bidderId: pid("Ada"), data: { bidId: "bid-1", amount: 10_000, bidderName: "Ada", placedAt: 1 } },
    { type: "auction.status", seq: 1, data: { currentPrice: 10_000, bidCount: 1, endsAt: 108_000 } },
  ] });
  assert.deepEqual(d.state.extension, { count: 1, by: 8_000 });
  assert.equal(d.state.auction.endsAt, 108_000);
  const next = delivery(2, [[10_100]]);
  next.data.at(-1).data.endsAt = 108_000;
  d.send(next);
  assert.equal(d.state.auction.bidCount, 2);
  assert.equal(d.state.extension.count, 1, "a newer status with the same endsAt is no new extension");
});

test("our own 201 and a resync's snapshot report an extension too; the first snapshot does not", () => {
  const d = driver(snapshot([], { endsAt: 100_000 }));
  assert.equal(d.state.extension.count, 0);
  d.send({ ...bidResponse(1, 10_000), status: { currentPrice: 10_000, bidCount: 1, endsAt: 105_000 } });
  assert.deepEqual(d.state.extension, { count: 1, by: 5_000 });
  d.send(snapshot([10_000, 10_100], { endsAt: 110_000 }));
  assert.deepEqual(d.state.extension, { count: 2, by: 5_000 });
});

test("soft close: sudden death for 0, seconds otherwise, nothing from an older server", () => {
  assert.deepEqual(softClose(auction({ softCloseSeconds: 0 })), { suddenDeath: true, seconds: 0 });
  assert.deepEqual(softClose(auction({ softCloseSeconds: 10 })), { suddenDeath: false, seconds: 10 });
  assert.equal(softClose(auction()), null);
});

// ------------------------------------------------------------------ viewers, reserve

test("auction.viewers sets the count, as a frame or a batch item, whatever its seq", () => {
  const d = driver(snapshot([10_000, 10_100]));
  d.send(frame("auction.viewers", 2, { count: 3 }));
  assert.equal(d.state.viewers, 3);
  d.send({ ...batch(3, 10_200), data: [...batch(3, 10_200).data, { type: "auction.viewers", seq: 3, data: { count: 5 } }] });
  assert.equal(d.state.viewers, 5);
  d.send(frame("auction.viewers", 1, { count: 4 }));
  assert.equal(d.state.viewers, 4, "a count is not a seq-ordered fact: the latest frame wins");
  const before = d.state;
  assert.equal(d.send(frame("auction.viewers", 1, { count: 4 })).state, before, "an unchanged count changes nothing");
});

test("auction.reserve after the status sets reserveMet; a stale one does not move it back", () => {
  const d = driver(snapshot([], { hasReserve: true, reserveMet: false }));
  assert.equal(reserveState(d.state.auction), "notMet");
  const f = batch(1, 20_000);
  d.send({ ...f, data: [...f.data, { type: "auction.reserve", seq: 1, data: { reserveMet: true } }] });
  assert.equal(reserveState(d.state.auction), "met");
  d.send(batch(2, 20_100));
  d.send(frame("auction.reserve", 1, { reserveMet: false }));
  assert.equal(reserveState(d.state.auction), "met");
});

test("no reserve, no badge", () => {
  assert.equal(reserveState(auction({ hasReserve: false, reserveMet: null })), null);
  assert.equal(reserveState(auction()), null);
});

test("auction.ended with no winner after bids on a reserve auction is 'reserve not met'", () => {
  const d = driver(snapshot([10_000, 10_100], { hasReserve: true, reserveMet: false }));
  d.send(ended(3, null, null));
  assert.equal(d.state.ended, true);
  assert.deepEqual(d.state.result, { winnerId: null, winnerName: null, finalPrice: null, reserveNotMet: true });
});

test("auction.ended with no winner and no bids is not 'reserve not met'", () => {
  const d = driver(snapshot([], { hasReserve: true, reserveMet: false }));
  d.send(ended(1, null, null));
  assert.equal(d.state.result.reserveNotMet, false);
});

// ------------------------------------------------------------------ who leads

test("the newest bid's bidderId decides who leads, compared with our public id", () => {
  const d = withMe();
  d.send(batch(1, 10_000, "Ada"));
  assert.equal(isLeading(d.state), true);
  d.send(batch(2, 10_100, "Grace"));
  assert.equal(isLeading(d.state), false);
  d.send(batch(3, 10_200, "Ada"));
  assert.equal(isLeading(d.state), true);
});

test("the same display name is not us: only the id counts", () => {
  const d = withMe();
  const f = batch(1, 10_000, "Ada");
  f.data[0].bidderId = pid("another Ada");
  d.send(f);
  assert.equal(isLeading(d.state), false);
  assert.equal(isMine(d.state, d.state.bids[0]), false);
});

test("without our identity nobody can say we lead from frames", () => {
  const d = driver();
  d.send(batch(1, 10_000, "Ada"));
  assert.equal(isLeading(d.state), null);
  d.send({ local: "identity", publicId: ME });
  assert.equal(isLeading(d.state), true, "the id arriving later settles it");
});

test("the snapshot's leaderId says who leads", () => {
  const d = withMe();
  d.send(snapshot([10_000], { leaderId: ME }));
  assert.equal(isLeading(d.state), true);
  d.send(snapshot([10_000, 10_100], { leaderId: pid("Grace") }));
  assert.equal(isLeading(d.state), false);
});

test("an older frame does not change who leads", () => {
  const d = withMe();
  d.send(batch(2, 10_100, "Ada"));
  d.send(batch(1, 10_000, "Grace"));
  assert.equal(isLeading(d.state), true);
});

test("our bid response's `leading` says it, also before our id is known", () => {
  const d = driver();
  d.send(bidResponse(1, 10_000, "Ada", 100, true));
  assert.equal(isLeading(d.state), true);
  assert.equal(isMine(d.state, d.state.bids[0]), true, "the bid in our own 201 is ours");
  d.send(batch(2, 10_100, "Grace"));
  assert.equal(isLeading(d.state), null, "a newer bid by an id we cannot compare: unknown");
});

test("a plain bid answered by a proxy: accepted, but leading=false and we are outbid at once", () => {
  const d = withMe(snapshot([10_000], { leaderId: pid("Grace") }));
  // Our $105 (seq 2) is accepted; Grace's max answers at $106 (seq 3).
  const r = d.send({
    bid: { bidId: "bid-2", amount: 10_500, bidderName: "Ada", placedAt: 2, seq: 2 }, leading: false,
    currentPrice: 10_600, minimumBid: 10_700, status: { currentPrice: 10_600, bidCount: 3, endsAt: FAR }, seq: 3,
  });
  assert.equal(isLeading(d.state), false);
  assert.deepEqual(outbidNotice(d.state), { amount: 10_600, minimumBid: 10_700 });
  assert.equal(d.state.auction.currentPrice, 10_600);
  assert.ok(r.effects.some((e) => e.type === "gapCheck"), "the proxy's bid (seq 3) is still to come");
  // The delivery brings both bids: Grace's proxy bid is the newest; she still leads.
  d.send(delivery(2, [[10_500, "Ada"], [10_600, "Grace"]]));
  assert.equal(isLeading(d.state), false);
  assert.deepEqual(d.seqs(), [3, 2, 1]);
});

test("raising our own max: no bid, still leading", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME }));
  d.send({ bid: null, leading: true, currentPrice: 10_000, minimumBid: 10_100, status: { currentPrice: 10_000, bidCount: 1, endsAt: FAR }, seq: 1 });
  assert.equal(isLeading(d.state), true);
  assert.deepEqual(d.seqs(), [1]);
});

// ------------------------------------------------------------------ outbid

test("bid.outbid shows 'you've been outbid' with the amount and the minimum, and raises the minimum", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME }));
  const r = d.send(frame("bid.outbid", 2, { amount: 10_100, minimumBid: 10_200 }));
  assert.equal(isLeading(d.state), false);
  assert.deepEqual(outbidNotice(d.state), { amount: 10_100, minimumBid: 10_200 });
  assert.equal(d.state.minimumBid, 10_200);
  assert.ok(r.effects.some((e) => e.type === "outbid"));
  // Its bid arrives; nothing changes but the feed.
  d.send(batch(2, 10_100, "Grace"));
  assert.deepEqual(outbidNotice(d.state), { amount: 10_100, minimumBid: 10_200 });
  // Bidding again and leading clears it.
  d.send(bidResponse(3, 10_200, "Ada"));
  assert.equal(outbidNotice(d.state), null);
  assert.equal(isLeading(d.state), true);
});

test("the notice follows the price when more bids land after it", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME }));
  d.send(frame("bid.outbid", 2, { amount: 10_100, minimumBid: 10_200 }));
  d.send(delivery(2, [[10_100, "Grace"], [10_500, "Linus"]]));
  assert.deepEqual(outbidNotice(d.state), { amount: 10_500, minimumBid: 10_600 });
});

test("a late bid.outbid older than our newer lead is ignored", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME }));
  d.send(bidResponse(3, 10_300, "Ada")); // we bid again (seq 3) and lead
  d.send(frame("bid.outbid", 2, { amount: 10_100, minimumBid: 10_200 }));
  assert.equal(isLeading(d.state), true);
  assert.equal(outbidNotice(d.state), null);
  assert.equal(d.state.outbid, null, "not even kept for later");
});

test("losing the lead in a delivery shows the notice even when the bid.outbid frame was missed", () => {
  const d = withMe();
  d.send(batch(1, 10_000, "Ada"));
  const r = d.send(batch(2, 10_100, "Grace"));
  assert.deepEqual(outbidNotice(d.state), { amount: 10_100, minimumBid: 10_200 });
  assert.equal(r.effects.filter((e) => e.type === "outbid").length, 1);
  // …and the frame arriving after that adds nothing twice.
  const r2 = d.send(frame("bid.outbid", 2, { amount: 10_100, minimumBid: 10_200 }));
  assert.equal(r2.effects.filter((e) => e.type === "outbid").length, 0);
});

test("someone else being outbid is no notice for us", () => {
  const d = withMe();
  d.send(batch(1, 10_000, "Grace"));
  d.send(batch(2, 10_100, "Linus"));
  assert.equal(outbidNotice(d.state), null);
});

test("already_leading: the server says we lead", () => {
  const d = withMe(snapshot([10_000], { leaderId: pid("Grace") }));
  const r = d.send({ local: "alreadyLeading" });
  assert.equal(isLeading(d.state), true);
  assert.deepEqual(r.effects, [{ type: "resync" }]);
});

// ------------------------------------------------------------------ scheduled auctions

test("a scheduled auction is 'scheduled' until startsAt on the server clock, then active", () => {
  const d = driver(snapshot([], { status: "scheduled", startsAt: 50_000 }));
  assert.equal(phase(d.state, 49_999), "scheduled");
  assert.equal(phase(d.state, 50_000), "active");
  d.send(snapshot([], { status: "active", startsAt: 50_000, seq: 0 }));
  assert.equal(phase(d.state, 10), "active", "the server's word wins");
  d.send(ended(1, null, null));
  assert.equal(phase(d.state, 10), "ended");
});

test("auction_not_started marks the auction scheduled with the server's startsAt and resyncs", () => {
  const d = driver();
  const r = d.send({ local: "notStarted", startsAt: 90_000 });
  assert.equal(d.state.auction.status, "scheduled");
  assert.equal(d.state.auction.startsAt, 90_000);
  assert.equal(phase(d.state, 80_000), "scheduled");
  assert.deepEqual(r.effects, [{ type: "resync" }]);
});

// ------------------------------------------------------------------ lost responses

test("a lost response: our plain bid is found by id and exact amount; a max bid by id and ≤ the max", () => {
  const d = withMe(snapshot([10_000]));
  const known = new Set(d.state.bids.map((b) => b.bidId));
  d.send(batch(2, 10_100, "Ada"));
  assert.equal(bidLanded(d.state, known, { amount: 10_100 }), true);
  assert.equal(bidLanded(d.state, known, { amount: 10_200 }), false);
  assert.equal(bidLanded(d.state, known, { amount: 50_000, max: true }), true);
  const other = withMe(snapshot([10_000]));
  other.send(batch(2, 10_100, "Grace"));
  assert.equal(bidLanded(other.state, known, { amount: 10_100 }), false, "someone else's bid of the amount");
});

// ------------------------------------------------------------------ increments ladder

test("the ladder: the step at a price is the highest rung at or below it", () => {
  assert.equal(stepAt(DEFAULT_LADDER, 0), 100);
  assert.equal(stepAt(DEFAULT_LADDER, 2_999), 100);
  assert.equal(stepAt(DEFAULT_LADDER, 3_000), 200);
  assert.equal(stepAt(DEFAULT_LADDER, 150_000), 2_000);
  assert.equal(stepAt(DEFAULT_LADDER, 10_000_000), 5_000);
  assert.equal(stepAt([[0, 250]], 999_999), 250);
  assert.equal(stepAt("garbage", 3_000), 200, "an unusable ladder falls back to the default one");
});

test("the ladder must start at 0, ascend strictly and have positive steps", () => {
  assert.ok(validLadder([[0, 1], [10, 2]]));
  assert.equal(validLadder([[5, 1]]), null);
  assert.equal(validLadder([[0, 1], [0, 2]]), null);
  assert.equal(validLadder([[0, 0]]), null);
  assert.equal(validLadder([]), null);
});

test("steps walk the ladder across rungs", () => {
  assert.equal(addSteps(DEFAULT_LADDER, 2_900, 2), 3_200); // +$1 to $30, then +$2
  assert.equal(addSteps([[0, 100]], 1_000, 5), 1_500);
  assert.equal(describeLadder([[0, 100]]), "$1.00 steps");
  assert.match(describeLadder(DEFAULT_LADDER), /^\$1\.00 under \$30\.00, \$2\.00 under \$50\.00, .*\$50\.00 from \$2,000\.00$/);
});

test("the minimum next bid follows the auction's ladder at the current price", () => {
  const a = auction({ increments: DEFAULT_LADDER, currentPrice: 4_900, bidCount: 3, minIncrement: 200 });
  assert.equal(minIncrement(a), 200);
  assert.equal(deriveMinimum(a), 5_100);
  assert.equal(deriveMinimum({ ...a, currentPrice: 5_000 }), 5_300, "at $50 the step is $3");
  const d = driver(snapshot([], { increments: DEFAULT_LADDER, startingPrice: 2_900, currentPrice: 2_900, minimumBid: 2_900 }));
  d.send(batch(1, 3_000));
  assert.equal(d.state.minimumBid, 3_200);
});

// ------------------------------------------------------------------ identity

test("public id: p- and 20 hex digits of SHA-256 of 'auction-public-id:' + sub (vectors from Python's hashlib)", async () => {
  assert.equal(await publicId("u-ada"), "p-8f634cc0276fd5421e31");
  assert.equal(await publicId("user-1"), "p-2704833c873c702b355e");
  assert.equal(await publicId("Zoë"), "p-0673bed01e171c5f34aa", "UTF-8, not UTF-16 or Latin-1");
  const node = "p-" + createHash("sha256").update("auction-public-id:xyz").digest("hex").slice(0, 20);
  assert.equal(await publicId("xyz"), node);
  assert.equal(await publicId(""), null);
  assert.equal(await publicId(undefined), null);
});

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const jwt = (claims) => `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}.sig`;

test("the sub comes from the token's payload (base64url, UTF-8)", async () => {
  assert.equal(jwtSub(jwt({ sub: "u-ada", name: "Ada" })), "u-ada");
  assert.equal(jwtSub(jwt({ sub: "Zoë~?>" })), "Zoë~?>");
  assert.equal(jwtSub(jwt({ name: "no sub" })), null);
  assert.equal(jwtSub("not a token"), null);
  assert.equal(jwtSub(null), null);
  assert.equal(await sessionPublicId({ token: jwt({ sub: "u-ada" }) }), "p-8f634cc0276fd5421e31");
  assert.equal(await sessionPublicId(null), null);
});

test("reduce with the new inputs never mutates the state it is given", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME, hasReserve: true, reserveMet: false }));
  const frozen = structuredClone(d.state);
  reduce(d.state, frame("bid.outbid", 2, { amount: 10_100, minimumBid: 10_200 }));
  reduce(d.state, frame("auction.viewers", 1, { count: 9 }), { now: 1 });
  reduce(d.state, { ...frame("auction.reserve", 1, { reserveMet: true }), serverTime: 5 }, { now: 1 });
  reduce(d.state, { local: "alreadyLeading" });
  reduce(d.state, { local: "notStarted", startsAt: 5 });
  reduce(d.state, frame("auction.status", 1, { currentPrice: 10_000, bidCount: 1, endsAt: FAR + 1 }));
  assert.deepEqual(d.state, frozen);
  assert.equal(initialState(ID).me, null);
});

test("a viewers or outbid frame ahead of the deliveries does not make the next delivery stale", () => {
  const d = withMe(snapshot([10_000], { leaderId: ME }));
  d.send(frame("auction.viewers", 3, { count: 2 }));
  d.send(frame("bid.outbid", 3, { amount: 10_200, minimumBid: 10_300 }));
  assert.equal(d.state.lastSeq, 1);
  d.send(delivery(2, [[10_100, "Grace"], [10_200, "Linus"]]));
  assert.equal(d.state.auction.currentPrice, 10_200, "the delivery's status applies");
  assert.equal(d.state.auction.bidCount, 3);
  assert.equal(d.state.lastSeq, 3);
});

test("the seller is recognised by public id, never by display name", async () => {
  const { isOwner } = await import("../../web/state.js");
  const auction = { sellerId: "p-aaaaaaaaaaaaaaaaaaaa", sellerName: "Sam" };
  const session = { name: "Sam", role: "seller" };
  assert.equal(isOwner(auction, session, "p-aaaaaaaaaaaaaaaaaaaa"), true);
  assert.equal(isOwner(auction, session, "p-bbbbbbbbbbbbbbbbbbbb"), false, "same name, another user");
  assert.equal(isOwner(auction, session, null), false, "no id known: not the owner");
});
