// Text for the page: countdowns, times, durations, plurals. Pure.

/** Remaining ms -> "mm:ss" (or "h:mm:ss", "2d 03:04:05"). */
export function formatCountdown(ms) {
  let s = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  const ss = s - mm * 60;
  const p = (n) => String(n).padStart(2, "0");
  if (d > 0) return `${d}d ${p(hh)}:${p(mm)}:${p(ss)}`;
  if (hh > 0) return `${hh}:${p(mm)}:${p(ss)}`;
  return `${p(mm)}:${p(ss)}`;
}

export const URGENT_MS = 10_000;
/** Past the end by this much with no auction.ended yet: ask the server. */
export const OVERDUE_MS = 2_500;

/** The countdown of an auction ending at endsAt, seen at now (both server-clock ms). */
export function countdown(endsAt, now, ended = false) {
  if (ended) return { label: "", text: "Ended", urgent: false, overdue: false };
  const left = Number(endsAt) - now;
  return {
    label: left > 0 ? "Ends in" : "Closing…",
    text: formatCountdown(left),
    urgent: left <= URGENT_MS,
    overdue: left < -OVERDUE_MS,
  };
}

/** A scheduled auction's countdown to its start (server-clock ms). `started` once startsAt has passed. */
export function startCountdown(startsAt, now) {
  const left = Number(startsAt) - now;
  return { label: left > 0 ? "Starts in" : "Starting…", text: formatCountdown(left), urgent: false, overdue: false, started: !(left > 0) };
}

/** "+8 s" for a soft-close extension of 8000 ms (whole seconds, at least 1). */
export function extensionText(ms) {
  const s = Math.max(1, Math.round(Number(ms) / 1000) || 0);
  return `+${humanDuration(s)}`;
}

/** "1 watching", "12 watching". */
export function viewersText(n) {
  const c = n == null || n === "" ? NaN : Number(n);
  return Number.isSafeInteger(c) && c >= 0 ? `${c} watching` : "";
}

/** The short countdown of a card in the list. */
export function cardCountdown(endsAt, now) {
  const left = Number(endsAt) - now;
  return { text: left > 0 ? formatCountdown(left) : "Ending…", urgent: left <= URGENT_MS };
}

export function formatTime(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** 3725 -> "1 h 2 min 5 s" */
export function humanDuration(sec) {
  sec = Math.round(sec);
  if (!Number.isFinite(sec) || sec <= 0) return "";
  const parts = [];
  const d = Math.floor(sec / 86400); sec %= 86400;
  const hh = Math.floor(sec / 3600); sec %= 3600;
  const mm = Math.floor(sec / 60); const ss = sec % 60;
  if (d) parts.push(`${d} d`);
  if (hh) parts.push(`${hh} h`);
  if (mm) parts.push(`${mm} min`);
  if (ss) parts.push(`${ss} s`);
  return parts.join(" ");
}

export function plural(n, one, many) {
  return Number(n) === 1 ? one : many;
}

export function lcFirst(t) {
  return t.charAt(0).toLowerCase() + t.slice(1);
}

export function initial(name) {
  return String(name || "?").trim().charAt(0).toUpperCase() || "?";
}
