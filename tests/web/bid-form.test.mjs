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
  assert.deepEqual(effects, [{ type: "place", amount: 12_550, key: "k1" }]);
  assert.equal(form.busy, true);
  assert.equal(submitLabel(form), "Placing bid…");
});

test("retry after an unknown outcome resends the same Idempotency-Key", () => {
  let { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network });
  assert.equal(form.busy, false);
  assert.match(form.notice.text, /Retry bid/);
  assert.equal(submitLabel(form), "Retry bid");
  const r = step(form, { type: "submit", key: "k2" });
  assert.deepEqual(r.effects, [{ type: "place", amount: 15_000, key: "k1" }]);
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
  assert.deepEqual(step(form, { type: "submit", key: "k2" }).effects, [{ type: "place", amount: 16_000, key: "k2" }]);
});

test("a live frame of our pending bid settles it", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network },
    { type: "liveBid", bid: { amount: 15_000, bidderName: "Ada" }, me: "Ada" });
  assert.equal(form.pending, null);
  assert.equal(form.notice.kind, "ok");
  assert.match(form.notice.text, /\$150\.00 went through/);
});

test("someone else's bid of the same amount does not settle ours", () => {
  const { form } = run(initialForm(), typed("150"), { type: "submit", key: "k1" }, { type: "failed", error: network },
    { type: "liveBid", bid: { amount: 15_000, bidderName: "Grace" }, me: "Ada" });
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
