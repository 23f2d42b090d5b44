// Money helpers. All amounts are integer cents; user input is dollars as text.

const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

/** 123456 -> "$1,234.56" */
export function formatCents(cents) {
  const n = Number(cents);
  if (!Number.isFinite(n)) return "—";
  return usd.format(Math.round(n) / 100);
}

/** 12550 -> "125.50" (plain value for <input>) */
export function centsToInput(cents) {
  const n = Math.max(0, Math.round(Number(cents) || 0));
  const whole = Math.floor(n / 100);
  const frac = n % 100;
  return `${whole}.${String(frac).padStart(2, "0")}`;
}

/**
 * Parse a dollar string exactly, without floating point.
 * Accepts "125", "125.5", "125.50", "$1,250.00", ".5". Rejects >2 decimals.
 * Returns { ok: true, cents } or { ok: false, error }.
 */
export function parseDollars(input) {
  let s = String(input ?? "").trim();
  if (s.startsWith("$")) s = s.slice(1).trim();
  if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(s)) s = s.replace(/,/g, "");
  if (s === "") return { ok: false, error: "Enter an amount." };
  const m = /^(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[1] === "" && (m[2] ?? "") === "")) {
    return { ok: false, error: "Enter an amount like 125 or 125.50." };
  }
  const whole = m[1] || "0";
  const frac = m[2] ?? "";
  if (frac.length > 2) return { ok: false, error: "Use at most 2 decimal places (whole cents)." };
  const digits = (whole + frac.padEnd(2, "0")).replace(/^0+(?=\d)/, "");
  if (digits.length > 15) return { ok: false, error: "That amount is too large." };
  const cents = Number.parseInt(digits, 10);
  if (!Number.isSafeInteger(cents)) return { ok: false, error: "That amount is too large." };
  return { ok: true, cents };
}

// ---------------------------------------------------------------- bid increments (issue 10)

/** The server's ladder when an auction is created with neither minIncrement nor increments: [[fromCents, stepCents]]. */
export const DEFAULT_LADDER = Object.freeze([
  [0, 100], [3_000, 200], [5_000, 300], [10_000, 500], [30_000, 1_000], [100_000, 2_000], [200_000, 5_000],
].map((r) => Object.freeze(r)));

/** A usable ladder (first rung from 0, `from` strictly ascending, steps > 0), or null. */
export function validLadder(increments) {
  if (!Array.isArray(increments) || !increments.length) return null;
  let last = -1;
  for (const r of increments) {
    if (!Array.isArray(r) || r.length !== 2) return null;
    const [from, step] = r.map(Number);
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(step) || from <= last || step <= 0) return null;
    if (last < 0 && from !== 0) return null;
    last = from;
  }
  return increments;
}

/** The step at `price`: the rung with the highest `from` ≤ price. */
export function stepAt(increments, price) {
  const ladder = validLadder(increments) ?? DEFAULT_LADDER;
  const p = Number(price) || 0;
  let step = Number(ladder[0][1]);
  for (const [from, s] of ladder) if (p >= Number(from)) step = Number(s);
  return step;
}

/** `amount` raised by `n` steps of the ladder, each step taken at the amount reached so far. */
export function addSteps(increments, amount, n) {
  let a = Number(amount) || 0;
  for (let i = 0; i < n; i++) a += stepAt(increments, a);
  return a;
}

/** A ladder as text: "$1.00 steps", or "$1.00 under $30.00, $2.00 under $50.00, …, $50.00 from $2,000.00". */
export function describeLadder(increments) {
  const ladder = validLadder(increments) ?? DEFAULT_LADDER;
  if (ladder.length === 1) return `${formatCents(ladder[0][1])} steps`;
  return ladder.map(([from, step], i) => (i + 1 < ladder.length
    ? `${formatCents(step)} under ${formatCents(ladder[i + 1][0])}`
    : `${formatCents(step)} from ${formatCents(from)}`)).join(", ");
}
