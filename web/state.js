// The auction page's state and its rules. Pure: no DOM, no fetch, no timers, no globals.
//
//   const { state, effects } = reduce(state, input, { now })
//
// `now` is the local time (Date.now()) the input arrived: with a frame's `serverTime` it gives the server clock's
// offset (state.clockOffset; countdowns run on server time: serverNow()).
//
// input is one of
//   - a WebSocket frame: {type, seq, auctionId, serverTime, data}, type one of "batch", "bid.placed",
//     "auction.status", "auction.ended", "auction.viewers" {count}, "auction.reserve" {reserveMet},
//     "bid.outbid" {amount, minimumBid} (sent only to the previous leader's connections), "error".
//     A publisher's batch covers fromSeq..=seq: one {type, seq, bidderId, data} item per bid of the range (in seq
//     order; bidderId is the bidder's public id, see identity.js), then the status after them (then
//     auction.reserve for an auction with a reserve), then auction.ended if the range includes the close. An
//     item without its own seq takes the frame's.
//   - a snapshot from GET /auctions/{id}: {auction, bids}          (also the body of POST /auctions/{id}/end)
//   - a bid response, the 201 body of POST /auctions/{id}/bids:
//     {bid (ours, or null when we only raised our max), leading, currentPrice, minimumBid, status, seq}
//   - a local input from the page: {local: "gapCheck"} (the gap-check delay passed), {local: "notFound"} (404),
//     {local: "bidRejected", minimumBid} (409 bid_too_low), {local: "identity", publicId} (our public id),
//     {local: "notStarted", startsAt} (409 auction_not_started), {local: "alreadyLeading"} (409 already_leading)
// effects are what the caller must do:
//   {type: "gapCheck", delayMs}  wait, then reduce {local: "gapCheck"}
//   {type: "resync"}             GET /auctions/{id} and reduce the snapshot
//   {type: "ended"}              the auction just ended: stop the socket, close the bid form
//   {type: "bidAdded", bid}      a bid joined the feed (the bid form settles a pending bid with it)
//   {type: "outbid"}             we just lost the lead (the bid form drops its "you lead" notice)
//
// Who leads: the bidder of the newest bid (each accepted bid, a proxy's answer included, becomes the price), so
// state.leader follows the highest seq that told us: a batch item's bidderId, a snapshot's leaderId, or our own
// bid response's `leading`. isLeading() compares with our public id, never a display name.
//
// The server's `seq` is bumped by every accepted bid and by the close, so bids are seq 1..bidCount and
// `auction.ended` has seq bidCount + 1. A frame whose seq is below the one shown never moves the status back, but
// its bid still joins the feed. A bid the server has announced (a bid seq, a status's bidCount, an ended frame's
// seq - 1) that is not in the feed is a gap: given a moment for the frame to arrive, it is then fetched.

import { smoothOffset } from "./clock.js";
import { stepAt, validLadder } from "./money.js";

export const GAP_CHECK_DELAY_MS = 1500;
/** The server's cap on the increment it picks when an auction is created without one (`DEFAULT_MIN_INCREMENT`). */
export const DEFAULT_MIN_INCREMENT = 100;
/** Bids kept in the state (the feed shows fewer). */
export const MAX_BIDS = 200;

/** The events that carry the auction's status at their seq (the others ride along). */
const SEQ_EVENTS = new Set(["bid.placed", "auction.status", "auction.ended"]);
const EVENT_TYPES = new Set([
  "bid.placed", "auction.status", "auction.ended", "auction.viewers", "auction.reserve", "bid.outbid",
]);

export function initialState(auctionId) {
  return {
    auctionId,
    auction: null,
    bids: [], // newest first: seq descending; unique bidId
    lastSeq: 0, // the seq of the status shown
    minimumBid: null,
    minimumBidSeq: -1, // seq at which the server itself gave minimumBid (a derived one never overrides it)
    ended: false,
    result: null, // {winnerId, winnerName, finalPrice, reserveNotMet} once ended
    notFound: false,
    bidsThrough: 0, // every bid up to this seq is in the feed (within the snapshot's window of recent bids)
    bidsAnnounced: 0, // the highest bid seq the server has told us about
    gapCheckPending: false,
    me: null, // our public id (identity.js), once computed
    clockOffset: null, // server clock − local clock, from the frames' serverTime
    viewers: null, // auction.viewers count
    extension: { count: 0, by: 0 }, // soft-close extensions seen (endsAt moved later) and the last one's size in ms
    leader: { id: null, self: null, seq: -1 }, // id: public id of the high bidder; self: what our bid response said
    outbid: null, // {amount, minimumBid, seq}: we lost the lead (bid.outbid, or our bid answered by a proxy)
  };
}

// ------------------------------------------------------------------ derived values

/**
 * The step at the auction's current price: from its ladder (`increments`, always sent since issue 10), else its
 * `minIncrement`, else the rule an older server applied at creation (5 % of the start, 1 ¢..$1).
 */
export function minIncrement(auction) {
  if (validLadder(auction?.increments)) return stepAt(auction.increments, auction.currentPrice);
  const inc = Number(auction?.minIncrement);
  if (Number.isSafeInteger(inc) && inc > 0) return inc;
  const start = Number(auction?.startingPrice);
  if (!Number.isSafeInteger(start) || start <= 0) return DEFAULT_MIN_INCREMENT;
  return Math.min(Math.max(Math.floor(start / 20), 1), DEFAULT_MIN_INCREMENT);
}

/** The smallest next bid: the starting price until the first bid, then the current price plus the step at it. */
export function deriveMinimum(auction) {
  const price = Number(auction?.currentPrice) || 0;
  if (Number(auction?.bidCount) > 0) return price + minIncrement(auction);
  return Math.max(price, Number(auction?.startingPrice) || 0);
}

/** A bid the server announced is missing from the feed. */
export function gapOpen(state) {
  return state.bidsAnnounced > state.bidsThrough;
}

/** Is this signed-in user the seller? By public id only (`me`, see identity.js): a display name is not an identity. */
export function isOwner(auction, session, me) {
  if (!auction || !session || !me) return false;
  return !!auction.sellerId && auction.sellerId === me;
}

/** Is this bid ours (by public id, or because it came back in our own bid response)? */
export function isMine(state, bid) {
  return !!bid && (bid.mine === true || (!!state.me && bid.bidderId === state.me));
}

/**
 * Did a bid of ours join the feed since `knownIds` was taken (its response was lost)? A plain bid shows as a bid
 * of exactly its amount; a max bid as one of ours at most the max (the proxy bids only what it must).
 */
export function bidLanded(state, knownIds, { amount, max = false }) {
  return state.bids.some((b) => !knownIds.has(b.bidId) && isMine(state, b) &&
    (max ? b.amount <= amount : b.amount === amount));
}

/** true: we lead; false: someone else does (or nobody); null: we can't tell (no identity, no answer of ours). */
export function isLeading(state) {
  const l = state.leader;
  if (!l || l.seq < 0) return null;
  if (typeof l.self === "boolean") return l.self;
  if (!state.me) return null;
  return l.id === state.me;
}

/** The "you've been outbid" notice, with today's figures when the price has moved on since; or null. */
export function outbidNotice(state) {
  if (!state.outbid || state.ended || isLeading(state) === true) return null;
  const price = Number(state.auction?.currentPrice) || 0;
  return {
    amount: Math.max(Number(state.outbid.amount) || 0, price),
    minimumBid: Math.max(Number(state.outbid.minimumBid) || 0, Number(state.minimumBid) || 0),
  };
}

/** The server clock at local time `localNow` (null offset: none learnt yet, use `fallback`). */
export function serverNow(state, localNow, fallback = localNow) {
  return state.clockOffset == null ? fallback : localNow + state.clockOffset;
}

/** "scheduled" (before startsAt), "active" or "ended", at server time `now`. */
export function phase(state, now) {
  const a = state.auction;
  if (state.ended || a?.status === "ended") return "ended";
  const startsAt = Number(a?.startsAt);
  if (a?.status === "scheduled" && !(Number.isFinite(startsAt) && now >= startsAt)) return "scheduled";
  return "active";
}

/** The reserve badge: "met", "notMet", or null when the auction has no reserve. */
export function reserveState(auction) {
  if (!auction?.hasReserve) return null;
  return auction.reserveMet === true ? "met" : "notMet";
}

/** The auction's soft close: {suddenDeath: true} for 0, else {suddenDeath: false, seconds}; null if not sent. */
export function softClose(auction) {
  const n = Number(auction?.softCloseSeconds);
  if (auction?.softCloseSeconds == null || !Number.isSafeInteger(n) || n < 0) return null;
  return n === 0 ? { suddenDeath: true, seconds: 0 } : { suddenDeath: false, seconds: n };
}

// ------------------------------------------------------------------ reduce

export function reduce(state, input, ctx = {}) {
  if (!input || typeof input !== "object") return unchanged(state);
  if (typeof input.type === "string") return onFrame(withClock(state, input.serverTime, ctx.now), input);
  if (typeof input.local === "string") return onLocal(state, input);
  if ("auction" in input) return onSnapshot(state, input);
  if ("bid" in input) return onBidResponse(state, input);
  return unchanged(state);
}

function unchanged(state) {
  return { state, effects: [] };
}

/** Learn the server clock from a frame's serverTime (any frame, duplicates included: it is still a sample). */
function withClock(state, serverTime, now) {
  if (serverTime == null || now == null) return state;
  const offset = smoothOffset(state.clockOffset, serverTime, now);
  return offset === state.clockOffset ? state : { ...state, clockOffset: offset };
}

function onFrame(state, f) {
  if (!state.auction) return unchanged(state); // the page fetches the snapshot before it listens
  if (f.auctionId && f.auctionId !== state.auctionId) return unchanged(state);
  const events = (f.type === "batch" ? (Array.isArray(f.data) ? f.data : []) : [f])
    .filter((ev) => ev && EVENT_TYPES.has(ev.type));
  if (!events.length) return unchanged(state); // "error" and unknown frames
  const seq = seqOf(f.seq);
  const seqOfEvent = (ev) => seqOf(ev.seq ?? f.seq);
  if (isDuplicate(state, events, seq, seqOfEvent)) return unchanged(state);

  const stale = seq < state.lastSeq;
  const s = { ...state };
  const effects = [];
  const wasLeading = isLeading(state);
  for (const ev of events) {
    const evSeq = seqOfEvent(ev);
    if (ev.type === "bid.placed") {
      const bidderId = typeof ev.bidderId === "string" ? ev.bidderId : undefined;
      const b = addBid(s, bidderId ? { ...ev.data, bidderId } : ev.data, evSeq);
      if (b) effects.push({ type: "bidAdded", bid: b });
      if (ev.data?.bidId) setLeader(s, { id: bidderId ?? null, self: null }, evSeq);
    } else if (ev.type === "auction.status") {
      const count = seqOf(ev.data?.bidCount ?? evSeq);
      announce(s, count);
      if (!stale) applyStatus(s, ev.data, evSeq);
    } else if (ev.type === "auction.ended") {
      announce(s, evSeq - 1); // the close's own seq is not a bid
      if (!stale && !s.ended) markEnded(s, ev.data, effects);
    } else if (ev.type === "auction.viewers") {
      const n = Number(ev.data?.count);
      if (Number.isSafeInteger(n) && n >= 0) s.viewers = n;
    } else if (ev.type === "auction.reserve") {
      if (!stale && typeof ev.data?.reserveMet === "boolean" && s.auction) {
        s.auction = { ...s.auction, hasReserve: true, reserveMet: ev.data.reserveMet };
      }
    } else if (ev.type === "bid.outbid") {
      if (evSeq > 0) announce(s, evSeq); // the bid that outbid us
      if (outbidApplies(s, evSeq)) {
        markOutbid(s, { amount: ev.data?.amount, minimumBid: ev.data?.minimumBid }, evSeq);
        setLeader(s, { id: null, self: false }, evSeq);
      }
    }
  }
  // Only what the status follows moves the seq shown: a viewers / outbid / reserve frame may carry a seq whose
  // delivery has not reached us yet, and that delivery must not then look stale.
  if (!stale && events.some((ev) => SEQ_EVENTS.has(ev.type))) s.lastSeq = Math.max(s.lastSeq, seq);
  lostLead(s, wasLeading, effects);
  return settle(s, effects);
}

/** Nothing newer than what is shown, every bid already in the feed, nothing announced that we didn't know. */
function isDuplicate(state, events, seq, seqOfEvent) {
  if (seq > state.lastSeq) return false;
  return events.every((ev) => {
    if (ev.type === "bid.placed") return !ev.data?.bidId || state.bids.some((b) => b.bidId === ev.data.bidId);
    if (ev.type === "auction.status") return seqOf(ev.data?.bidCount ?? seqOfEvent(ev)) <= state.bidsAnnounced;
    if (ev.type === "auction.viewers") return Number(ev.data?.count) === state.viewers;
    if (ev.type === "auction.reserve") return seqOfEvent(ev) < state.lastSeq || ev.data?.reserveMet === state.auction?.reserveMet;
    if (ev.type === "bid.outbid") return !outbidApplies(state, seqOfEvent(ev)) || state.outbid?.seq === seqOfEvent(ev);
    return seqOfEvent(ev) - 1 <= state.bidsAnnounced && (seq < state.lastSeq || state.ended);
  });
}

function onSnapshot(state, { auction, bids }) {
  if (!auction || typeof auction !== "object") return unchanged(state);
  if (auction.auctionId && auction.auctionId !== state.auctionId) return unchanged(state);
  const s = { ...state, notFound: false };
  const effects = [];
  const wasLeading = isLeading(state);
  for (const b of Array.isArray(bids) ? bids : []) {
    const added = addBid(s, b, b?.seq);
    if (added) effects.push({ type: "bidAdded", bid: added });
  }
  const seq = seqOf(auction.seq);
  // The auction and its bids are two reads: a bid may land between them. Each part counts for what it shows.
  if (!s.auction || seq >= s.lastSeq) {
    const before = s.auction?.endsAt;
    s.auction = { ...(s.auction || {}), ...auction };
    if (before != null && s.auction.status !== "ended") noteExtension(s, before, s.auction.endsAt);
    if ("leaderId" in auction) setLeader(s, { id: auction.leaderId ?? null, self: null }, seq);
    s.lastSeq = Math.max(s.lastSeq, seq);
    if (auction.minimumBid != null) {
      s.minimumBid = Number(auction.minimumBid);
      s.minimumBidSeq = seq;
    } else {
      s.minimumBid = deriveMinimum(s.auction);
    }
  }
  // The snapshot lists the most recent bids up to its bidCount: the feed is complete up to there.
  const count = seqOf(auction.bidCount);
  s.bidsThrough = Math.max(s.bidsThrough, count);
  announce(s, count);
  if (auction.status === "ended" && !s.ended) {
    markEnded(s, {
      winnerId: auction.winnerId ?? (auction.winnerName ? auction.leaderId : null) ?? null,
      winnerName: auction.winnerName,
      finalPrice: auction.finalPrice ?? (auction.winnerName ? auction.currentPrice : null),
    }, effects);
  }
  lostLead(s, wasLeading, effects);
  return settle(s, effects);
}

function onBidResponse(state, res) {
  if (!state.auction) return unchanged(state);
  const seq = seqOf(res.seq ?? res.bid?.seq);
  const s = { ...state };
  const effects = [];
  const mine = res.bid && typeof res.bid === "object" ? { ...res.bid, mine: true, bidderId: res.bid.bidderId ?? s.me ?? undefined } : null;
  const added = addBid(s, mine, seq);
  if (added) effects.push({ type: "bidAdded", bid: added });
  announce(s, seq);
  announce(s, seqOf(res.status?.bidCount));
  if (seq >= s.lastSeq) {
    s.lastSeq = seq;
    applyStatus(s, res.status, seq);
    if (res.minimumBid != null) {
      s.minimumBid = Number(res.minimumBid);
      s.minimumBidSeq = seq;
    }
  }
  if (typeof res.leading === "boolean" && seq >= s.leader.seq) {
    setLeader(s, { id: res.leading ? s.me : null, self: res.leading }, seq);
    if (res.leading) s.outbid = null;
    else {
      // Accepted, and at once answered by a higher max: we are outbid already.
      markOutbid(s, { amount: res.currentPrice ?? res.status?.currentPrice, minimumBid: res.minimumBid }, seq);
    }
  }
  return settle(s, effects);
}

function onLocal(state, input) {
  switch (input.local) {
    case "gapCheck": {
      const s = { ...state, gapCheckPending: false };
      return { state: s, effects: gapOpen(s) ? [{ type: "resync" }] : [] };
    }
    case "notFound":
      return { state: { ...state, notFound: true }, effects: [] };
    case "bidRejected": {
      const min = Number(input.minimumBid);
      const s = Number.isFinite(min) ? { ...state, minimumBid: Math.max(min, state.minimumBid ?? 0) } : state;
      return { state: s, effects: [{ type: "resync" }] };
    }
    case "identity": {
      const id = typeof input.publicId === "string" && input.publicId ? input.publicId : null;
      if (id === state.me) return unchanged(state);
      return { state: { ...state, me: id }, effects: [] };
    }
    case "notStarted": {
      if (!state.auction) return unchanged(state);
      const startsAt = Number(input.startsAt);
      const auction = { ...state.auction, status: "scheduled" };
      if (Number.isFinite(startsAt) && startsAt > 0) auction.startsAt = startsAt;
      return { state: { ...state, auction }, effects: [{ type: "resync" }] };
    }
    case "alreadyLeading": {
      const s = { ...state, outbid: null };
      setLeader(s, { id: state.me, self: true }, Math.max(state.lastSeq, state.leader.seq));
      return { state: s, effects: [{ type: "resync" }] };
    }
    default:
      return unchanged(state);
  }
}

// ------------------------------------------------------------------ helpers (on a fresh copy `s`)

function seqOf(v) {
  const n = Number(v ?? 0);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

function announce(s, bidSeq) {
  if (bidSeq > s.bidsAnnounced) s.bidsAnnounced = bidSeq;
}

/** Add a bid unless its bidId is in the feed already; returns the added bid. */
function addBid(s, b, seq) {
  if (!b || typeof b !== "object" || !b.bidId) return null;
  if (s.bids.some((x) => x.bidId === b.bidId)) return null;
  const bid = { ...b, seq: seqOf(b.seq ?? seq) };
  s.bids = [...s.bids, bid]
    .sort((x, y) => (y.seq - x.seq) || (Number(y.placedAt) - Number(x.placedAt)))
    .slice(0, MAX_BIDS);
  announce(s, bid.seq);
  return bid;
}

function applyStatus(s, d, seq) {
  if (!d || typeof d !== "object" || !s.auction) return;
  const a = { ...s.auction };
  if (d.currentPrice != null) a.currentPrice = Number(d.currentPrice);
  if (d.bidCount != null) a.bidCount = Number(d.bidCount);
  if (d.endsAt != null) {
    if (!s.ended) noteExtension(s, a.endsAt, Number(d.endsAt));
    a.endsAt = Number(d.endsAt);
  }
  s.auction = a;
  if (seq !== s.minimumBidSeq) s.minimumBid = deriveMinimum(a);
}

/** endsAt moved later: a soft-close extension (the view flashes the countdown). */
function noteExtension(s, before, after) {
  const b = Number(before);
  const a = Number(after);
  if (Number.isFinite(b) && b > 0 && Number.isFinite(a) && a > b) {
    s.extension = { count: s.extension.count + 1, by: a - b };
  }
}

/** Who leads, as of `seq` (only a newer or equal seq replaces what we know). */
function setLeader(s, { id, self }, seq) {
  if (seq < s.leader.seq) return;
  s.leader = { id: id ?? null, self: typeof self === "boolean" ? self : null, seq };
  if (isLeading(s) === true) s.outbid = null;
}

/** A bid.outbid at `seq` counts unless we have since taken the lead again (our own answer at a newer seq). */
function outbidApplies(s, seq) {
  return !s.ended && !(isLeading(s) === true && s.leader.seq > seq);
}

function markOutbid(s, { amount, minimumBid }, seq) {
  const min = Number(minimumBid);
  s.outbid = { amount: Number(amount) || 0, minimumBid: Number.isFinite(min) ? min : null, seq };
  if (Number.isFinite(min) && min > (s.minimumBid ?? 0)) s.minimumBid = min;
}

/** We led before this input and no longer do: the notice, even when the bid.outbid frame itself was missed. */
function lostLead(s, wasLeading, effects) {
  if (wasLeading !== true || isLeading(s) !== false || s.ended) return;
  if (!s.outbid || s.outbid.seq < s.leader.seq) {
    markOutbid(s, { amount: s.auction?.currentPrice, minimumBid: s.minimumBid }, s.leader.seq);
  }
  effects.push({ type: "outbid" });
}

function markEnded(s, d, effects) {
  s.ended = true;
  const winnerName = d?.winnerName ?? null;
  const winnerId = d?.winnerId ?? null;
  const a = s.auction;
  // No winner although there were bids: only a reserve can do that (the contract nulls all three fields then).
  const reserveNotMet = !winnerName && !winnerId && Number(a?.bidCount) > 0 && (!!a?.hasReserve || a?.reserveMet === false);
  s.result = { winnerId, winnerName, finalPrice: d?.finalPrice ?? null, reserveNotMet };
  if (a) {
    s.auction = {
      ...a, status: "ended", winnerName, finalPrice: s.result.finalPrice,
      ...(reserveNotMet ? { reserveMet: false } : {}),
    };
  }
  effects.push({ type: "ended" });
}

/** After any change: how far the feed is complete, and a gap check if a bid is missing. */
function settle(s, effects) {
  const have = new Set(s.bids.map((b) => b.seq));
  while (have.has(s.bidsThrough + 1)) s.bidsThrough += 1;
  if (gapOpen(s) && !s.gapCheckPending) {
    s.gapCheckPending = true;
    effects.push({ type: "gapCheck", delayMs: GAP_CHECK_DELAY_MS });
  }
  return { state: s, effects };
}
