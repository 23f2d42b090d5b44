// Countdown maths, durations and money (web/format.js, web/money.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatCountdown, countdown, cardCountdown, humanDuration, plural } from "../../web/format.js";
import { formatCents, centsToInput, parseDollars } from "../../web/money.js";

test("countdown text rounds up to the second and grows hours and days", () => {
  assert.equal(formatCountdown(0), "00:00");
  assert.equal(formatCountdown(1), "00:01");
  assert.equal(formatCountdown(61_000), "01:01");
  assert.equal(formatCountdown(3_600_000), "1:00:00");
  assert.equal(formatCountdown(2 * 86_400_000 + 3_723_000), "2d 01:02:03");
  assert.equal(formatCountdown(-5_000), "00:00");
});

test("countdown state: urgent in the last 10 s, closing past the end, overdue after 2.5 s, ended", () => {
  assert.deepEqual(countdown(100_000, 50_000), { label: "Ends in", text: "00:50", urgent: false, overdue: false });
  assert.equal(countdown(100_000, 90_000).urgent, true);
  assert.equal(countdown(100_000, 101_000).label, "Closing…");
  assert.equal(countdown(100_000, 102_000).overdue, false);
  assert.equal(countdown(100_000, 103_000).overdue, true);
  assert.deepEqual(countdown(100_000, 103_000, true), { label: "", text: "Ended", urgent: false, overdue: false });
  assert.equal(cardCountdown(100_000, 100_000).text, "Ending…");
});

test("durations and plurals", () => {
  assert.equal(humanDuration(3725), "1 h 2 min 5 s");
  assert.equal(humanDuration(2_592_000), "30 d");
  assert.equal(humanDuration(0), "");
  assert.equal(plural(1, "bid", "bids"), "bid");
  assert.equal(plural(0, "bid", "bids"), "bids");
});

test("money: exact cents both ways", () => {
  assert.equal(formatCents(123_456), "$1,234.56");
  assert.equal(centsToInput(12_550), "125.50");
  assert.deepEqual(parseDollars("$1,250.5"), { ok: true, cents: 125_050 });
  assert.deepEqual(parseDollars(".5"), { ok: true, cents: 50 });
  assert.equal(parseDollars("1.234").ok, false);
  assert.equal(parseDollars("").ok, false);
});

test("issue 10: start countdown, extension size, viewer count", async () => {
  const { startCountdown, extensionText, viewersText } = await import("../../web/format.js");
  assert.deepEqual(startCountdown(100_000, 40_000), { label: "Starts in", text: "01:00", urgent: false, overdue: false, started: false });
  assert.equal(startCountdown(100_000, 100_000).started, true);
  assert.equal(startCountdown(100_000, 100_000).label, "Starting…");
  assert.equal(extensionText(8_000), "+8 s");
  assert.equal(extensionText(90_400), "+1 min 30 s");
  assert.equal(extensionText(200), "+1 s");
  assert.equal(viewersText(1), "1 watching");
  assert.equal(viewersText(12), "12 watching");
  assert.equal(viewersText(null), "");
});
