// Tiny DOM helpers: h() builds elements (text is always set as text, never HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "testid") el.dataset.testid = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

// ------------------------------------------------------------- clock

// Offset between the server clock and ours (server = local + offset), learnt
// from server timestamps we receive right after sending a request.
let offset = 0;
export const clock = {
  now: () => Date.now() + offset,
  /** serverTs was stamped by the server between localSent and localRecv. */
  observe(serverTs, localSent, localRecv) {
    const ts = Number(serverTs);
    if (!Number.isFinite(ts) || ts <= 0) return;
    const lo = localSent + offset - 1000;
    const hi = localRecv + offset + 1000;
    if (ts < lo || ts > hi) offset = ts - (localSent + localRecv) / 2;
  },
};

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

// ------------------------------------------------------------- ticker

const tickers = new Set();
setInterval(() => {
  for (const fn of tickers) {
    try {
      fn();
    } catch (e) {
      console.error(e);
    }
  }
}, 250);
/** Run fn 4×/s until the returned function is called. */
export function onTick(fn) {
  tickers.add(fn);
  fn();
  return () => tickers.delete(fn);
}

export function formatTime(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
