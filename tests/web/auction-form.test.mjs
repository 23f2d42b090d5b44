// The create form's limits (web/auction-form.js) match the server's: title 1–200 characters, description up to
// 4000, durationSeconds 10..=2592000.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateAuctionForm, TITLE_MAX, DESCRIPTION_MAX, DURATION_MIN, DURATION_MAX } from "../../web/auction-form.js";

const good = { title: "Leica", description: "", startingPrice: "100", minIncrement: "", durationSeconds: "300" };
const check = (over) => validateAuctionForm({ ...good, ...over });

test("the limits are the server's", () => {
  assert.equal(TITLE_MAX, 200);
  assert.equal(DESCRIPTION_MAX, 4000);
  assert.equal(DURATION_MIN, 10);
  assert.equal(DURATION_MAX, 2_592_000);
});

test("a valid form gives the POST /auctions body", () => {
  assert.deepEqual(check({ title: "  Leica  ", minIncrement: "2.50" }), {
    ok: true,
    body: { title: "Leica", description: "", startingPrice: 10_000, minIncrement: 250, durationSeconds: 300 },
  });
});

test("title: 1 to 200 characters after trimming, counted as the server counts them", () => {
  assert.equal(check({ title: "   " }).field, "title");
  assert.equal(check({ title: "x".repeat(200) }).ok, true);
  assert.equal(check({ title: "x".repeat(201) }).field, "title");
  assert.equal(check({ title: "📷".repeat(200) }).ok, true, "200 characters of 2 UTF-16 units each");
  assert.equal(check({ title: "a\u0007b" }).field, "title");
});

test("description: up to 4000 characters", () => {
  assert.equal(check({ description: "d".repeat(4000) }).ok, true);
  assert.equal(check({ description: "d".repeat(4001) }).field, "description");
  assert.equal(check({ description: "line 1\nline 2\tend" }).ok, true);
});

test("duration: whole seconds from 10 to 30 days", () => {
  assert.equal(check({ durationSeconds: "10" }).ok, true);
  assert.equal(check({ durationSeconds: "2592000" }).ok, true);
  for (const v of ["9", "2592001", "1.5", "", "-10", "abc"]) assert.equal(check({ durationSeconds: v }).field, "durationSeconds", v);
});

test("prices: positive amounts in whole cents", () => {
  assert.equal(check({ startingPrice: "0" }).field, "startingPrice");
  assert.equal(check({ startingPrice: "1.999" }).field, "startingPrice");
  assert.equal(check({ minIncrement: "0" }).field, "minIncrement");
  assert.equal("minIncrement" in check({ minIncrement: " " }).body, false, "blank: the server picks one");
});
