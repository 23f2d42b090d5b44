// The create-auction form's rules, the same limits the server applies (shared/src/domain.rs, parse_draft). Pure.
import { parseDollars } from "./money.js";
import { lcFirst } from "./format.js";

export const TITLE_MAX = 200; // characters, after trimming; required
export const DESCRIPTION_MAX = 4_000; // characters, after trimming
export const DURATION_MIN = 10; // seconds
export const DURATION_MAX = 30 * 24 * 3_600; // 2_592_000 s = 30 days
export const SOFT_CLOSE_MAX = 300; // seconds; 0 = sudden death
export const SOFT_CLOSE_DEFAULT = 10;
export const START_MAX_AHEAD_MS = 30 * 24 * 3_600_000; // startsAt: now ..= now + 30 days

/** Characters as the server counts them (Unicode scalar values, not UTF-16 units). */
export function charCount(s) {
  return [...String(s)].length;
}

// Control characters other than newline and tab are refused by the server.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * A <input type="datetime-local"> value ("2026-12-01T21:30" or with seconds) as epoch ms in the browser's time
 * zone, or null when blank; NaN when unreadable.
 */
export function parseLocalDateTime(value) {
  const v = String(value ?? "").trim();
  if (!v) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?$/.test(v)) return NaN;
  const ms = new Date(v).getTime(); // no zone in the string: local time, as the input shows it
  return Number.isFinite(ms) ? ms : NaN;
}

/**
 * Check the form's raw values; on success return the POST /auctions body.
 * `now`: the server clock (epoch ms), for the start time's range.
 * -> {ok: true, body} | {ok: false, field, message}
 */
export function validateAuctionForm({
  title, description, startingPrice, minIncrement, durationSeconds, softCloseSeconds, reservePrice, startsAt,
}, now = Date.now()) {
  const fail = (field, message) => ({ ok: false, field, message });
  const t = String(title ?? "").trim();
  if (!t) return fail("title", "Give your auction a title.");
  if (charCount(t) > TITLE_MAX) return fail("title", `The title can have at most ${TITLE_MAX} characters (it has ${charCount(t)}).`);
  if (CONTROL.test(t)) return fail("title", "The title can't contain control characters.");
  const d = String(description ?? "").trim();
  if (charCount(d) > DESCRIPTION_MAX) {
    return fail("description", `The description can have at most ${DESCRIPTION_MAX} characters (it has ${charCount(d)}).`);
  }
  if (CONTROL.test(d)) return fail("description", "The description can't contain control characters.");

  const sp = parseDollars(startingPrice);
  if (!sp.ok) return fail("startingPrice", `Starting price: ${lcFirst(sp.error)}`);
  if (sp.cents <= 0) return fail("startingPrice", "Starting price must be more than $0.00.");
  const body = { title: t, description: d, startingPrice: sp.cents };

  // A fixed step when given; blank: the server's default ladder (neither field sent).
  if (String(minIncrement ?? "").trim()) {
    const mi = parseDollars(minIncrement);
    if (!mi.ok) return fail("minIncrement", `Minimum increment: ${lcFirst(mi.error)}`);
    if (mi.cents <= 0) return fail("minIncrement", "Minimum increment must be more than $0.00.");
    body.minIncrement = mi.cents;
  }

  if (String(reservePrice ?? "").trim()) {
    const rp = parseDollars(reservePrice);
    if (!rp.ok) return fail("reservePrice", `Reserve price: ${lcFirst(rp.error)}`);
    if (rp.cents <= 0) return fail("reservePrice", "Reserve price must be more than $0.00 (or leave it blank).");
    body.reservePrice = rp.cents;
  }

  const sc = String(softCloseSeconds ?? "").trim();
  if (sc) {
    const n = /^\d+$/.test(sc) ? Number(sc) : NaN;
    if (!Number.isSafeInteger(n) || n > SOFT_CLOSE_MAX) {
      return fail("softCloseSeconds", `Soft close must be a whole number of seconds from 0 (sudden death) to ${SOFT_CLOSE_MAX}.`);
    }
    body.softCloseSeconds = n;
  }

  const start = parseLocalDateTime(startsAt);
  if (start !== null) {
    if (!Number.isFinite(start)) return fail("startsAt", "Pick a valid start date and time.");
    if (start < now) return fail("startsAt", "The start time is in the past: leave it blank to start now.");
    if (start > now + START_MAX_AHEAD_MS) return fail("startsAt", "The start can be at most 30 days ahead.");
    body.startsAt = start;
  }

  const raw = String(durationSeconds ?? "").trim();
  const secs = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(secs)) return fail("durationSeconds", "Duration must be a whole number of seconds.");
  if (secs < DURATION_MIN || secs > DURATION_MAX) {
    return fail("durationSeconds", `Duration must be from ${DURATION_MIN} seconds to 30 days (${DURATION_MAX} seconds).`);
  }
  body.durationSeconds = secs;
  return { ok: true, body };
}
