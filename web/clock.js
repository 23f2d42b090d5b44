// The server's clock as seen from here, and the 4×/s ticker that drives countdowns.

// Offset between the server clock and ours (server = local + offset), learnt from server timestamps we receive
// right after sending a request.
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
