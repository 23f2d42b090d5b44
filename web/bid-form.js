// The bid form's state machine. Pure: the page feeds it events, performs its effects, and the view renders it.
//
//   const { form, effects } = step(form, event)
//
// events
//   {type: "input", value}                       the user typed
//   {type: "quick", steps, minimumBid, increment} a "+$x" chip: steps increments above the amount (or the minimum)
//   {type: "minimum", minimumBid, focused}       the minimum next bid changed (or was re-rendered)
//   {type: "submit", key}                        the user pressed Place bid; key is a fresh Idempotency-Key
//   {type: "placed", amount}                     201
//   {type: "failed", error, landed}              the request failed; error = {network, status, code, message,
//                                                minimumBid, field}; landed: the live feed already shows our bid
//   {type: "liveBid", bid, me}                   a bid joined the feed (me: our display name)
//   {type: "close"}                              the auction ended
// effects
//   {type: "place", amount, key}   POST the bid with this Idempotency-Key
//   {type: "tooLow", minimumBid}   tell the auction state (reduce {local: "bidRejected", minimumBid})
//   {type: "resync"}               refresh the auction
//   {type: "auth", error}          the session is no longer valid
//   {type: "focus"}                put the caret in the amount
//
// A failure whose outcome is unknown (network, 5xx, 503) keeps {amount, key} pending: pressing "Retry bid" with
// the same amount resends the same Idempotency-Key, so the server can never take it twice. While a bid is pending
// the amount is never rewritten.
import { formatCents, centsToInput, parseDollars } from "./money.js";

export const QUICK_STEPS = [1, 5, 10];

export function initialForm() {
  return { value: "", dirty: false, busy: false, pending: null, notice: null, closed: false };
}

const error = (text) => ({ kind: "error", text });
const ok = (text) => ({ kind: "ok", text });

/** Unknown outcome: the bid may or may not have been taken. */
export function outcomeUnknown(err) {
  return !!(err?.network || err?.code === "service_unavailable" || Number(err?.status) >= 500);
}

export function step(form, event) {
  const none = { form, effects: [] };
  switch (event?.type) {
    case "input":
      return { form: { ...form, value: String(event.value ?? ""), dirty: true }, effects: [] };

    case "quick": {
      if (form.closed || event.minimumBid == null) return none;
      const min = Number(event.minimumBid);
      const p = parseDollars(form.value);
      const base = p.ok && p.cents >= min ? p.cents : min;
      const value = centsToInput(base + Number(event.steps) * Number(event.increment));
      return { form: { ...form, value, dirty: true, notice: null }, effects: [{ type: "focus" }] };
    }

    case "minimum": {
      if (form.closed || form.pending || event.minimumBid == null) return none;
      const min = Number(event.minimumBid);
      const p = parseDollars(form.value);
      const tooLow = !p.ok || p.cents < min;
      if (form.dirty && !(tooLow && !event.focused)) return none;
      const value = centsToInput(min);
      if (value === form.value && !form.dirty) return none;
      return { form: { ...form, value, dirty: false }, effects: [] };
    }

    case "submit": {
      if (form.busy || form.closed) return none;
      const p = parseDollars(form.value);
      if (!p.ok) return { form: { ...form, notice: error(p.error) }, effects: [] };
      if (p.cents <= 0) return { form: { ...form, notice: error("Enter an amount greater than $0.00.") }, effects: [] };
      const key = form.pending && form.pending.amount === p.cents ? form.pending.key : event.key;
      return {
        form: { ...form, busy: true, pending: { amount: p.cents, key }, notice: null },
        effects: [{ type: "place", amount: p.cents, key }],
      };
    }

    case "placed":
      return {
        form: {
          ...form, busy: false, pending: null, dirty: false,
          notice: ok(`Your bid of ${formatCents(event.amount)} is in — you're the high bidder.`),
        },
        effects: [],
      };

    case "failed":
      return failed(form, event.error || {}, !!event.landed);

    case "liveBid": {
      const b = event.bid;
      const p = form.pending;
      if (!p || form.busy || !b || b.amount !== p.amount || b.bidderName !== event.me) return none;
      return {
        form: { ...form, pending: null, dirty: false, notice: ok(`Your bid of ${formatCents(b.amount)} went through.`) },
        effects: [],
      };
    }

    case "close":
      if (form.closed) return none;
      return { form: { ...form, closed: true, busy: false, pending: null, notice: null }, effects: [] };

    default:
      return none;
  }
}

function failed(form, err, landed) {
  const amount = form.pending?.amount;
  const f = { ...form, busy: false };
  if (landed) {
    // The response was lost but the live feed already shows our bid.
    return { form: { ...f, pending: null, dirty: false, notice: ok(`Your bid of ${formatCents(amount)} went through.`) }, effects: [] };
  }
  if (outcomeUnknown(err)) {
    // Keep {amount, key}: retrying the same amount can't double-bid.
    return {
      form: { ...f, notice: error(`${err.message} Your bid may not have gone through — press “Retry bid” to try again safely.`) },
      effects: [],
    };
  }
  f.pending = null;
  if (err.isAuth) return { form: f, effects: [{ type: "auth", error: err }] };
  if (err.code === "bid_too_low") {
    const min = Number(err.minimumBid);
    if (Number.isFinite(min)) {
      return {
        form: { ...f, value: centsToInput(min), dirty: false, notice: error(`Minimum next bid is ${formatCents(min)}.`) },
        effects: [{ type: "tooLow", minimumBid: min }],
      };
    }
    return { form: { ...f, notice: error(err.message) }, effects: [{ type: "resync" }] };
  }
  if (err.code === "auction_not_active") return { form: { ...f, notice: error(err.message) }, effects: [{ type: "resync" }] };
  return { form: { ...f, notice: error(err.message) }, effects: err.field === "amount" ? [{ type: "focus" }] : [] };
}

/** The submit button's text. */
export function submitLabel(form) {
  if (form.closed) return "Bidding closed";
  if (form.busy) return "Placing bid…";
  const p = parseDollars(form.value);
  return form.pending && p.ok && p.cents === form.pending.amount ? "Retry bid" : "Place bid";
}
