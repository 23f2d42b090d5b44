// The server's clock as seen from here, and the 4×/s ticker that drives countdowns.

// Offset between the server clock and ours (server = local + offset), learnt from server timestamps we receive
// right after sending a request.
let offset = 0;
export const clock = {
  now: () => Date.now() + offset,
  /** Use an offset learnt elsewhere (the auction page's, from its frames' serverTime). */
  adopt(o) {
    if (Number.isFinite(o)) offset = o;
  },
  /** serverTs was stamped by the server between localSent and localRecv. */
  observe(serverTs, localSent, localRecv) {
    const ts = Number(serverTs);
    if (!Number.isFinite(ts) || ts <= 0) return;
    const lo = localSent + offset - 1000;
    const hi = localRecv + offset + 1000;
    if (ts < lo || ts > hi) offset = ts - (localSent + localRecv) / 2;
  },
};

/** A frame's serverTime more than this far from the current estimate is a new clock (sleep, NTP step): jump to it. */
export const OFFSET_JUMP_MS = 2_000;
/** Weight of a new sample: smooths the jitter of one-way delays without lagging behind for long. */
export const OFFSET_WEIGHT = 0.25;

/**
 * The next estimate of the server clock's offset (server = local + offset) after one sample, the serverTime of a
 * frame minus the local time it arrived. Pure. The first sample is taken as is; later ones are averaged in
 * (weight OFFSET_WEIGHT), unless far off (OFFSET_JUMP_MS), which replaces the estimate. Returns whole ms.
 */
export function smoothOffset(prev, serverTime, localRecv) {
  const ts = Number(serverTime);
  const at = Number(localRecv);
  if (!Number.isFinite(ts) || ts <= 0 || !Number.isFinite(at)) return prev ?? null;
  const sample = ts - at;
  if (prev == null || !Number.isFinite(prev) || Math.abs(sample - prev) > OFFSET_JUMP_MS) return Math.round(sample);
  return Math.round(prev + (sample - prev) * OFFSET_WEIGHT);
}

const tickers = new Set();
let interval = null;
/** Run fn 4×/s until the returned function is called. */
export function onTick(fn) {
  tickers.add(fn);
  interval ??= setInterval(() => {
    for (const f of tickers) {
      try {
        f();
      } catch (e) {
        console.error(e);
      }
    }
  }, 250);
  fn();
  return () => tickers.delete(fn);
}
