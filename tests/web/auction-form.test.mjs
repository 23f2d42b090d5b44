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

// ------------------------------------------------------------------ issue 10: soft close, ladder, reserve, start

import { parseLocalDateTime, SOFT_CLOSE_MAX, START_MAX_AHEAD_MS } from "../../web/auction-form.js";

test("soft close: 0 (sudden death) to 300 whole seconds; blank leaves the server's default", () => {
  assert.equal(SOFT_CLOSE_MAX, 300);
  assert.equal(check({ softCloseSeconds: "0" }).body.softCloseSeconds, 0);
  assert.equal(check({ softCloseSeconds: "300" }).body.softCloseSeconds, 300);
  assert.equal("softCloseSeconds" in check({ softCloseSeconds: "" }).body, false);
  for (const v of ["301", "-1", "1.5", "ten"]) assert.equal(check({ softCloseSeconds: v }).field, "softCloseSeconds", v);
});

test("bid step: a fixed minIncrement when given, the default ladder (neither field) when blank", () => {
  const fixed = check({ minIncrement: "2" }).body;
  assert.equal(fixed.minIncrement, 200);
  assert.equal("increments" in fixed, false, "never both");
  const ladder = check({ minIncrement: "" }).body;
  assert.equal("minIncrement" in ladder || "increments" in ladder, false);
});

test("reserve price: optional positive cents", () => {
  assert.equal(check({ reservePrice: "250.50" }).body.reservePrice, 25_050);
  assert.equal("reservePrice" in check({ reservePrice: "  " }).body, false);
  assert.equal(check({ reservePrice: "0" }).field, "reservePrice");
  assert.equal(check({ reservePrice: "1.001" }).field, "reservePrice");
});

test("start time: a local date-time from now to 30 days ahead, as epoch ms", () => {
  const now = new Date("2030-06-01T12:00:00").getTime();
  const at = "2030-06-01T12:30";
  assert.equal(validateAuctionForm({ ...good, startsAt: at }, now).body.startsAt, new Date(at).getTime());
  assert.equal(validateAuctionForm({ ...good, startsAt: "2030-06-01T11:59" }, now).field, "startsAt", "in the past");
  assert.equal(validateAuctionForm({ ...good, startsAt: "2030-07-02T12:00" }, now).field, "startsAt", "beyond 30 days");
  assert.equal(validateAuctionForm({ ...good, startsAt: "tomorrow" }, now).field, "startsAt");
  assert.equal("startsAt" in validateAuctionForm({ ...good, startsAt: "" }, now).body, false);
  assert.equal(START_MAX_AHEAD_MS, 30 * 86_400_000);
  assert.equal(parseLocalDateTime("2030-06-01T12:30:15"), new Date("2030-06-01T12:30:15").getTime());
  assert.ok(Number.isNaN(parseLocalDateTime("2030-06-01")));
  assert.equal(parseLocalDateTime(""), null);
});
