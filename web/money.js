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
