// The bid form's state machine. Pure: the page feeds it events, performs its effects, and the view renders it.
//
//   const { form, effects } = step(form, event)
//
// events
//   {type: "input", value}                       the user typed
//   {type: "mode", mode}                         "amount" (a plain bid) or "max" (a max bid: the server bids for
//                                                us, one step at a time, up to it)
//   {type: "quick", steps, minimumBid, increments} a "+$x" chip: steps of the ladder above the amount (or the
//                                                minimum); `increment` (a fixed step) instead of `increments` works too
//   {type: "minimum", minimumBid, focused}       the minimum next bid changed (or was re-rendered)
//   {type: "phase", phase}                       "scheduled" | "active" | "ended": no bids before the start
//   {type: "submit", key}                        the user pressed Place bid; key is a fresh Idempotency-Key
//   {type: "placed", amount, max, leading, bid, currentPrice}   201 (bid: ours, or null when we only raised our max)
//   {type: "failed", error, landed}              the request failed; error = {network, status, code, message,
//                                                minimumBid, startsAt, field}; landed: the live feed shows our bid
//   {type: "liveBid", bid, mine}                 a bid joined the feed; mine: it is ours (by public id)
//   {type: "outbid"}                             we lost the lead: a "you lead" notice no longer holds
//   {type: "close"}                              the auction ended
// effects
//   {type: "place", amount, key, max}  POST {"amount"} (or {"maxAmount"} when max) with this Idempotency-Key
//   {type: "tooLow", minimumBid}   tell the auction state (reduce {local: "bidRejected", minimumBid})
//   {type: "notStarted", startsAt} tell the auction state (reduce {local: "notStarted", startsAt})
//   {type: "alreadyLeading"}       tell the auction state (reduce {local: "alreadyLeading"})
//   {type: "resync"}               refresh the auction
//   {type: "auth", error}          the session is no longer valid
//   {type: "focus"}                put the caret in the amount
//
// A failure whose outcome is unknown (network, 5xx, 503) keeps {amount, key, max} pending: pressing "Retry" with
// the same amount in the same mode resends the same Idempotency-Key, so the server can never take it twice. While
// a bid is pending the amount is never rewritten.
import { formatCents, centsToInput, parseDollars, addSteps } from "./money.js";
import { formatTime } from "./format.js";

export const QUICK_STEPS = [1, 5, 10];

export function initialForm() {
  return {
    value: "", dirty: false, busy: false, pending: null, notice: null, closed: false,
    mode: "amount", // or "max"
    notYet: false, // the auction is scheduled: no bids before it starts
    maxSet: null, // the max we set and still lead with (the server never echoes it; this page's memory only)
  };
}

const error = (text) => ({ kind: "error", text });
const ok = (text) => ({ kind: "ok", text });
const warn = (text) => ({ kind: "warn", text });

/** Unknown outcome: the bid may or may not have been taken. */
export function outcomeUnknown(err) {
  return !!(err?.network || err?.code === "service_unavailable" || Number(err?.status) >= 500);
}

export function step(form, event) {
  const none = { form, effects: [] };
  switch (event?.type) {
    case "input":
      return { form: { ...form, value: String(event.value ?? ""), dirty: true }, effects: [] };

    case "mode": {
      const mode = event.mode === "max" ? "max" : "amount";
      if (mode === form.mode || form.busy) return none;
      return { form: { ...form, mode, notice: null }, effects: [{ type: "focus" }] };
    }

    case "phase": {
      const notYet = event.phase === "scheduled";
      return notYet === form.notYet ? none : { form: { ...form, notYet }, effects: [] };
    }

    case "quick": {
      if (form.closed || event.minimumBid == null) return none;
      const min = Number(event.minimumBid);
      const p = parseDollars(form.value);
      const base = p.ok && p.cents >= min ? p.cents : min;
      const ladder = event.increments ?? [[0, Number(event.increment)]];
      const value = centsToInput(addSteps(ladder, base, Number(event.steps)));
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
      if (form.notYet) return { form: { ...form, notice: error("Bidding hasn't started yet.") }, effects: [] };
      const p = parseDollars(form.value);
      if (!p.ok) return { form: { ...form, notice: error(p.error) }, effects: [] };
      if (p.cents <= 0) return { form: { ...form, notice: error("Enter an amount greater than $0.00.") }, effects: [] };
      const max = form.mode === "max";
      const same = form.pending && form.pending.amount === p.cents && form.pending.max === max;
      const key = same ? form.pending.key : event.key;
      return {
        form: { ...form, busy: true, pending: { amount: p.cents, key, max }, notice: null },
        effects: [{ type: "place", amount: p.cents, key, max }],
      };
    }

    case "placed":
      return placed(form, event);

    case "failed":
      return failed(form, event.error || {}, !!event.landed);

    case "liveBid": {
      const b = event.bid;
      const p = form.pending;
      if (!p || form.busy || !b || !event.mine || (p.max ? b.amount > p.amount : b.amount !== p.amount)) return none;
      const text = p.max ? `Your max bid of ${formatCents(p.amount)} went through.` : `Your bid of ${formatCents(b.amount)} went through.`;
      return { form: { ...form, pending: null, dirty: false, notice: ok(text) }, effects: [] };
    }

    case "outbid":
      if (form.notice?.kind !== "ok" && form.maxSet == null) return none;
      return { form: { ...form, maxSet: null, notice: form.notice?.kind === "ok" ? null : form.notice }, effects: [] };

    case "close":
      if (form.closed) return none;
      return { form: { ...form, closed: true, busy: false, pending: null, notice: null }, effects: [] };

    default:
      return none;
  }
}

/** 201: what became of our bid. `leading` is absent from an older server's answer (a plain bid then leads). */
function placed(form, { amount, max = false, leading, bid, currentPrice }) {
  const f = { ...form, busy: false, pending: null, dirty: false };
  const lead = leading !== false;
  const price = formatCents(currentPrice ?? bid?.amount ?? amount);
  if (!max) {
    if (lead) return { form: { ...f, notice: ok(`Your bid of ${formatCents(amount)} is in — you're the high bidder.`) }, effects: [] };
    return {
      form: { ...f, maxSet: null, notice: warn(`Your bid of ${formatCents(amount)} was accepted, but another bidder's max bid is higher — you've been outbid at ${price}.`) },
      effects: [],
    };
  }
  if (!lead) {
    return {
      form: { ...f, maxSet: null, notice: warn(`Your max bid of ${formatCents(amount)} was accepted, but another bidder's max is as high or higher — you've been outbid at ${price}.`) },
      effects: [],
    };
  }
  const text = bid
    ? `Your max bid of ${formatCents(amount)} is set — you lead at ${price}. We'll bid for you up to your max.`
    : `Your max bid is now ${formatCents(amount)} — you're still the high bidder at ${price}.`;
  return { form: { ...f, maxSet: amount, notice: ok(text) }, effects: [] };
}

function failed(form, err, landed) {
  const amount = form.pending?.amount;
  const wasMax = !!form.pending?.max;
  const f = { ...form, busy: false };
  if (landed) {
    // The response was lost but the live feed already shows our bid.
    const text = wasMax ? `Your max bid of ${formatCents(amount)} went through.` : `Your bid of ${formatCents(amount)} went through.`;
    return { form: { ...f, pending: null, dirty: false, notice: ok(text) }, effects: [] };
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
      const text = wasMax ? `Your max bid must be at least ${formatCents(min)}.` : `Minimum next bid is ${formatCents(min)}.`;
      return {
        form: { ...f, value: centsToInput(min), dirty: false, notice: error(text) },
        effects: [{ type: "tooLow", minimumBid: min }],
      };
    }
    return { form: { ...f, notice: error(err.message) }, effects: [{ type: "resync" }] };
  }
  if (err.code === "already_leading") {
    // A plain bid can't raise your own lead; a max bid can.
    return {
      form: { ...f, mode: "max", notice: error("You're already the high bidder. To go higher, set a max bid — the system bids for you only when someone outbids you.") },
      effects: [{ type: "alreadyLeading" }, { type: "focus" }],
    };
  }
  if (err.code === "max_not_raised") {
    return {
      form: { ...f, notice: error("Your new max bid must be higher than the max you already set.") },
      effects: [{ type: "focus" }],
    };
  }
  if (err.code === "auction_not_started") {
    const at = Number(err.startsAt);
    const when = Number.isFinite(at) && at > 0 ? ` Bidding opens at ${formatTime(at)}.` : "";
    return {
      form: { ...f, notYet: true, notice: error(`This auction hasn't started yet.${when}`) },
      effects: [{ type: "notStarted", startsAt: Number.isFinite(at) ? at : null }],
    };
  }
  if (err.code === "auction_not_active") return { form: { ...f, notice: error(err.message) }, effects: [{ type: "resync" }] };
  return { form: { ...f, notice: error(err.message) }, effects: err.field === "amount" ? [{ type: "focus" }] : [] };
}

/** The submit button's text. */
export function submitLabel(form) {
  if (form.closed) return "Bidding closed";
  if (form.notYet) return "Not started";
  const max = form.mode === "max";
  if (form.busy) return max ? "Setting max…" : "Placing bid…";
  const p = parseDollars(form.value);
  const retry = form.pending && p.ok && p.cents === form.pending.amount && form.pending.max === max;
  if (max) return retry ? "Retry max bid" : "Set max bid";
  return retry ? "Retry bid" : "Place bid";
}
