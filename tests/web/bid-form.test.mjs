// The bid form's state machine (web/bid-form.js): safe retries, too-low answers, the minimum, quick chips.
import { test } from "node:test";
import assert from "node:assert/strict";
import { initialForm, step, submitLabel } from "../../web/bid-form.js";

function run(form, ...events) {
  const effects = [];
  for (const e of events) {
    const r = step(form, e);
    form = r.form;
    effects.push(...r.effects);
  }
  return { form, effects };
}
const typed = (v) => ({ type: "input", value: v });
const network = { network: true, message: "Can't reach the auction server." };

test("submitting a valid amount places it with the fresh key", () => {
  const { form, effects } = run(initialForm(), typed("125.50"), { type: "submit", key: "k1" });
  assert.deepEqual(effects, [{ type: "place", amount: 12_550, key: "k1", max: false }]);
  assert.equal(form.busy, true);
  assert.equal(submitLabel(form), "Placing bid…");
});

test("retry after an unknown outcome resends the same Idempotency-Key", () => {
  let { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network });
  assert.equal(form.busy, false);
  assert.match(form.notice.text, /Retry bid/);
  assert.equal(submitLabel(form), "Retry bid");
  const r = step(form, { type: "submit", key: "k2" });
  assert.deepEqual(r.effects, [{ type: "place", amount: 15_000, key: "k1", max: false }]);
});

test("a 503 is an unknown outcome too; a 4xx is not", () => {
  const a = run(initialForm(), typed("150"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 503, code: "service_unavailable", message: "Busy." } });
  assert.equal(a.form.pending.key, "k1");
  const b = run(initialForm(), typed("150"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "auction_not_active", message: "Ended." } });
  assert.equal(b.form.pending, null);
  assert.deepEqual(b.effects.slice(1), [{ type: "resync" }]);
});

test("changing the amount after a failure gets a new key", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network }, typed("160"));
  assert.equal(submitLabel(form), "Place bid");
  assert.deepEqual(step(form, { type: "submit", key: "k2" }).effects, [{ type: "place", amount: 16_000, key: "k2", max: false }]);
});

test("a live frame of our pending bid settles it", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network },
    { type: "liveBid", bid: { amount: 15_000, bidderName: "Ada" }, mine: true });
  assert.equal(form.pending, null);
  assert.equal(form.notice.kind, "ok");
  assert.match(form.notice.text, /\$150\.00 went through/);
});

test("someone else's bid of the same amount (even under our name) does not settle ours", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network },
    { type: "liveBid", bid: { amount: 15_000, bidderName: "Ada" }, mine: false });
  assert.equal(form.pending.key, "k1");
});

test("a lost response whose bid is in the feed is reported as through", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network, landed: true });
  assert.equal(form.pending, null);
  assert.match(form.notice.text, /went through/);
});

test("too low shows the server's minimum, sets the input to it and tells the state", () => {
  const { form, effects } = run(initialForm(), typed("50"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "bid_too_low", minimumBid: 10_000, message: "Too low." } });
  assert.equal(form.notice.text, "Minimum next bid is $100.00.");
  assert.equal(form.value, "100.00");
  assert.equal(form.pending, null);
  assert.deepEqual(effects.at(-1), { type: "tooLow", minimumBid: 10_000 });
});

test("201 clears the pending bid and congratulates", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "placed", amount: 15_000 });
  assert.equal(form.pending, null);
  assert.equal(form.busy, false);
  assert.match(form.notice.text, /\$150\.00 is in/);
});

test("invalid amounts are refused without a request", () => {
  for (const v of ["", "abc", "1.234", "0"]) {
    const r = run(initialForm(), typed(v), { type: "submit", key: "k" });
    assert.deepEqual(r.effects, [], v);
    assert.equal(r.form.notice.kind, "error", v);
  }
});

test("the minimum fills an untouched input, and a too-low one when not being edited", () => {
  let { form } = run(initialForm(), { type: "minimum", minimumBid: 10_100, focused: false });
  assert.equal(form.value, "101.00");
  form = run(form, typed("90")).form;
  assert.equal(run(form, { type: "minimum", minimumBid: 10_200, focused: true }).form.value, "90", "not while typing");
  assert.equal(run(form, { type: "minimum", minimumBid: 10_200, focused: false }).form.value, "102.00");
  form = run(form, typed("500")).form;
  assert.equal(run(form, { type: "minimum", minimumBid: 10_200, focused: false }).form.value, "500", "a higher amount stays");
});

test("the minimum never rewrites the amount while a bid's outcome is unknown", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network },
    { type: "minimum", minimumBid: 20_000, focused: false });
  assert.equal(form.value, "150");
  assert.equal(submitLabel(form), "Retry bid");
});

test("quick chips add whole increments above the minimum (or the amount when higher)", () => {
  let { form } = run(initialForm(), { type: "minimum", minimumBid: 10_100, focused: false },
    { type: "quick", steps: 5, minimumBid: 10_100, increment: 100 });
  assert.equal(form.value, "106.00");
  form = run(form, { type: "quick", steps: 1, minimumBid: 10_100, increment: 100 }).form;
  assert.equal(form.value, "107.00");
});

test("closed: no more bids", () => {
  const { form, effects } = run(initialForm(), typed("150"), { type: "close" }, { type: "submit", key: "k" });
  assert.deepEqual(effects, []);
  assert.equal(submitLabel(form), "Bidding closed");
});

test("auth failures hand the error to the page", () => {
  const err = { status: 401, code: "token_expired", isAuth: true, message: "Expired." };
  const { effects } = run(initialForm(), typed("150"), { type: "submit", key: "k" }, { type: "failed", error: err });
  assert.deepEqual(effects.at(-1), { type: "auth", error: err });
});

// ------------------------------------------------------------------ issue 10: max bids, new refusals, schedule

const max = { type: "mode", mode: "max" };

test("a max bid is placed as max; its retry keeps the key only in the same mode", () => {
  let { form, effects } = run(initialForm(), max, typed("500"), { type: "submit", key: "k1" });
  assert.deepEqual(effects.at(-1), { type: "place", amount: 50_000, key: "k1", max: true });
  assert.equal(submitLabel(form), "Setting max…");
  form = run(form, { type: "failed", error: network }).form;
  assert.equal(submitLabel(form), "Retry max bid");
  assert.deepEqual(step(form, { type: "submit", key: "k2" }).effects, [{ type: "place", amount: 50_000, key: "k1", max: true }]);
  form = run(form, { type: "mode", mode: "amount" }).form;
  assert.equal(submitLabel(form), "Place bid");
  assert.deepEqual(step(form, { type: "submit", key: "k3" }).effects, [{ type: "place", amount: 50_000, key: "k3", max: false }],
    "the same number as a plain bid is another request");
});

test("201 of a max bid: leading with a bid, leading after only raising it, or outbid at once", () => {
  const sent = run(initialForm(), max, typed("500"), { type: "submit", key: "k1" }).form;
  let f = step(sent, { type: "placed", amount: 50_000, max: true, leading: true, bid: { amount: 10_000 }, currentPrice: 10_000 }).form;
  assert.equal(f.notice.kind, "ok");
  assert.match(f.notice.text, /max bid of \$500\.00 is set — you lead at \$100\.00/);
  assert.equal(f.maxSet, 50_000);
  f = step(sent, { type: "placed", amount: 50_000, max: true, leading: true, bid: null, currentPrice: 12_000 }).form;
  assert.match(f.notice.text, /max bid is now \$500\.00 — you're still the high bidder at \$120\.00/);
  f = step(sent, { type: "placed", amount: 50_000, max: true, leading: false, bid: { amount: 50_000 }, currentPrice: 50_000 }).form;
  assert.equal(f.notice.kind, "warn");
  assert.match(f.notice.text, /outbid at \$500\.00/);
  assert.equal(f.maxSet, null);
});

test("201 of a plain bid answered by a proxy: accepted, but outbid", () => {
  const { form } = run(initialForm(), typed("105"), { type: "submit", key: "k1" },
    { type: "placed", amount: 10_500, max: false, leading: false, bid: { amount: 10_500 }, currentPrice: 10_600 });
  assert.equal(form.notice.kind, "warn");
  assert.match(form.notice.text, /\$105\.00 was accepted, but another bidder's max bid is higher — you've been outbid at \$106\.00/);
});

test("already_leading switches to a max bid and tells the state", () => {
  const { form, effects } = run(initialForm(), typed("150"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "already_leading", message: "x" } });
  assert.equal(form.mode, "max");
  assert.match(form.notice.text, /already the high bidder.*max bid/);
  assert.deepEqual(effects.slice(1), [{ type: "alreadyLeading" }, { type: "focus" }]);
});

test("max_not_raised says so without a number", () => {
  const { form } = run(initialForm(), max, typed("150"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "max_not_raised", message: "x" } });
  assert.equal(form.notice.text, "Your new max bid must be higher than the max you already set.");
  assert.equal(form.value, "150", "the amount stays for editing");
});

test("bid_too_low on a max bid names the minimum for the max", () => {
  const { form } = run(initialForm(), max, typed("50"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "bid_too_low", minimumBid: 10_000, message: "x" } });
  assert.equal(form.notice.text, "Your max bid must be at least $100.00.");
  assert.equal(form.value, "100.00");
});

test("auction_not_started: no bids until the start, and the state learns startsAt", () => {
  const startsAt = Date.UTC(2030, 0, 1, 12, 0, 0);
  const { form, effects } = run(initialForm(), typed("150"), { type: "submit", key: "k1" },
    { type: "failed", error: { status: 409, code: "auction_not_started", startsAt, message: "x" } });
  assert.equal(form.notYet, true);
  assert.match(form.notice.text, /hasn't started yet\. Bidding opens at /);
  assert.deepEqual(effects.at(-1), { type: "notStarted", startsAt });
  assert.equal(submitLabel(form), "Not started");
  assert.deepEqual(step(form, { type: "submit", key: "k2" }).effects, [], "no request before the start");
});

test("a scheduled phase disables bidding; active enables it", () => {
  let f = run(initialForm(), { type: "phase", phase: "scheduled" }, typed("150")).form;
  assert.deepEqual(step(f, { type: "submit", key: "k" }).effects, []);
  f = step(f, { type: "phase", phase: "active" }).form;
  assert.deepEqual(step(f, { type: "submit", key: "k" }).effects, [{ type: "place", amount: 15_000, key: "k", max: false }]);
});

test("quick chips walk the ladder across rungs", () => {
  const ladder = [[0, 100], [3_000, 200]];
  const { form } = run(initialForm(), { type: "minimum", minimumBid: 2_900, focused: false },
    { type: "quick", steps: 2, minimumBid: 2_900, increments: ladder });
  assert.equal(form.value, "32.00"); // $29 → $30 (+$1) → $32 (+$2)
});

test("a pending max bid is settled by one of our bids at or below it; a plain one only by its exact amount", () => {
  const lost = run(initialForm(), max, typed("500"), { type: "submit", key: "k1" }, { type: "failed", error: network }).form;
  assert.equal(step(lost, { type: "liveBid", bid: { amount: 10_000 }, mine: true }).form.pending, null);
  assert.notEqual(step(lost, { type: "liveBid", bid: { amount: 60_000 }, mine: true }).form.pending, null);
  assert.notEqual(step(lost, { type: "liveBid", bid: { amount: 10_000 }, mine: false }).form.pending, null);
});

test("being outbid drops a 'you lead' notice and the remembered max, but not an error", () => {
  const lead = run(initialForm(), max, typed("500"), { type: "submit", key: "k1" },
    { type: "placed", amount: 50_000, max: true, leading: true, bid: { amount: 10_000 }, currentPrice: 10_000 }).form;
  const f = step(lead, { type: "outbid" }).form;
  assert.equal(f.notice, null);
  assert.equal(f.maxSet, null);
  const bad = run(initialForm(), typed("abc"), { type: "submit", key: "k" }).form;
  assert.equal(step(bad, { type: "outbid" }).form.notice.kind, "error");
});
