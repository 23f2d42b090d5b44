// The create-auction form's rules, the same limits the server applies (shared/src/domain.rs, parse_draft). Pure.
import { parseDollars } from "./money.js";
import { lcFirst } from "./format.js";

export const TITLE_MAX = 200; // characters, after trimming; required
export const DESCRIPTION_MAX = 4_000; // characters, after trimming
export const DURATION_MIN = 10; // seconds
export const DURATION_MAX = 30 * 24 * 3_600; // 2_592_000 s = 30 days

/** Characters as the server counts them (Unicode scalar values, not UTF-16 units). */
export function charCount(s) {
  return [...String(s)].length;
}

// Control characters other than newline and tab are refused by the server.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

/**
 * Check the form's raw values; on success return the POST /auctions body.
 * -> {ok: true, body} | {ok: false, field, message}
 */
export function validateAuctionForm({ title, description, startingPrice, minIncrement, durationSeconds }) {
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

  if (String(minIncrement ?? "").trim()) {
    const mi = parseDollars(minIncrement);
    if (!mi.ok) return fail("minIncrement", `Minimum increment: ${lcFirst(mi.error)}`);
    if (mi.cents <= 0) return fail("minIncrement", "Minimum increment must be more than $0.00.");
    body.minIncrement = mi.cents;
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
