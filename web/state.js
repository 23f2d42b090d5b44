// The auction page's state and its rules. Pure: no DOM, no fetch, no timers, no globals.
//
//   const { state, effects } = reduce(state, input)
//
// input is one of
//   - a WebSocket frame: {type: "batch"|"bid.placed"|"auction.status"|"auction.ended"|"error", seq, auctionId, data}
//     A publisher's batch covers fromSeq..=seq: one {type, seq, data} item per bid of the range (in seq order),
//     then the status after them, then auction.ended if the range includes the close. An item without its own
//     seq takes the frame's.
//   - a snapshot from GET /auctions/{id}: {auction, bids}          (also the body of POST /auctions/{id}/end)
//   - a bid response, the 201 body of POST /auctions/{id}/bids: {bid, status, seq, minimumBid}
//   - a local input from the page: {local: "gapCheck"} (the gap-check delay passed), {local: "notFound"} (404),
//     {local: "bidRejected", minimumBid} (409 bid_too_low)
// effects are what the caller must do:
//   {type: "gapCheck", delayMs}  wait, then reduce {local: "gapCheck"}
//   {type: "resync"}             GET /auctions/{id} and reduce the snapshot
//   {type: "ended"}              the auction just ended: stop the socket, close the bid form
//   {type: "bidAdded", bid}      a bid joined the feed (the bid form settles a pending bid with it)
//
// The server's `seq` is bumped by every accepted bid and by the close, so bids are seq 1..bidCount and
// `auction.ended` has seq bidCount + 1. A frame whose seq is below the one shown never moves the status back, but
// its bid still joins the feed. A bid the server has announced (a bid seq, a status's bidCount, an ended frame's
// seq - 1) that is not in the feed is a gap: given a moment for the frame to arrive, it is then fetched.

export const GAP_CHECK_DELAY_MS = 1500;
/** The server's cap on the increment it picks when an auction is created without one (`DEFAULT_MIN_INCREMENT`). */
export const DEFAULT_MIN_INCREMENT = 100;
/** Bids kept in the state (the feed shows fewer). */
export const MAX_BIDS = 200;

const EVENT_TYPES = new Set(["bid.placed", "auction.status", "auction.ended"]);

export function initialState(auctionId) {
  return {
    auctionId,
    auction: null,
    bids: [], // newest first: seq descending; unique bidId
    lastSeq: 0, // the seq of the status shown
    minimumBid: null,
    minimumBidSeq: -1, // seq at which the server itself gave minimumBid (a derived one never overrides it)
    ended: false,
    result: null, // {winnerName, finalPrice} once ended
    notFound: false,
    bidsThrough: 0, // every bid up to this seq is in the feed (within the snapshot's window of recent bids)
    bidsAnnounced: 0, // the highest bid seq the server has told us about
    gapCheckPending: false,
  };
}

// ------------------------------------------------------------------ derived values

/** The auction's increment; without one, the rule the server applies at creation (5 % of the start, 1 ¢..$1). */
export function minIncrement(auction) {
  const inc = Number(auction?.minIncrement);
  if (Number.isSafeInteger(inc) && inc > 0) return inc;
  const start = Number(auction?.startingPrice);
  if (!Number.isSafeInteger(start) || start <= 0) return DEFAULT_MIN_INCREMENT;
  return Math.min(Math.max(Math.floor(start / 20), 1), DEFAULT_MIN_INCREMENT);
}

/** The smallest next bid: the starting price until the first bid, then the current price plus the increment. */
export function deriveMinimum(auction) {
  const price = Number(auction?.currentPrice) || 0;
  if (Number(auction?.bidCount) > 0) return price + minIncrement(auction);
  return Math.max(price, Number(auction?.startingPrice) || 0);
}

/** A bid the server announced is missing from the feed. */
export function gapOpen(state) {
  return state.bidsAnnounced > state.bidsThrough;
}

/** Is this signed-in user the seller? By id only: a display name is not an identity. */
export function isOwner(auction, session) {
  if (!auction || !session) return false;
  return !!session.userId && !!auction.sellerId && session.userId === auction.sellerId;
}

/** Did a bid of ours for this amount join the feed since `knownIds` was taken (its response was lost)? */
export function bidLanded(state, knownIds, amount, bidderName) {
  return state.bids.some((b) => !knownIds.has(b.bidId) && b.amount === amount && b.bidderName === bidderName);
}

// ------------------------------------------------------------------ reduce

export function reduce(state, input) {
  if (!input || typeof input !== "object") return unchanged(state);
  if (typeof input.type === "string") return onFrame(state, input);
  if (typeof input.local === "string") return onLocal(state, input);
  if ("auction" in input) return onSnapshot(state, input);
  if ("bid" in input) return onBidResponse(state, input);
  return unchanged(state);
}

function unchanged(state) {
  return { state, effects: [] };
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
  for (const ev of events) {
    const evSeq = seqOfEvent(ev);
    if (ev.type === "bid.placed") {
      const b = addBid(s, ev.data, evSeq);
      if (b) effects.push({ type: "bidAdded", bid: b });
    } else if (ev.type === "auction.status") {
      const count = seqOf(ev.data?.bidCount ?? evSeq);
      announce(s, count);
      if (!stale) applyStatus(s, ev.data, evSeq);
    } else if (ev.type === "auction.ended") {
      announce(s, evSeq - 1); // the close's own seq is not a bid
      if (!stale && !s.ended) markEnded(s, ev.data, effects);
    }
  }
  if (!stale) s.lastSeq = Math.max(s.lastSeq, seq);
  return settle(s, effects);
}

/** Nothing newer than what is shown, every bid already in the feed, nothing announced that we didn't know. */
function isDuplicate(state, events, seq, seqOfEvent) {
  if (seq > state.lastSeq) return false;
  return events.every((ev) => {
    if (ev.type === "bid.placed") return !ev.data?.bidId || state.bids.some((b) => b.bidId === ev.data.bidId);
    if (ev.type === "auction.status") return seqOf(ev.data?.bidCount ?? seqOfEvent(ev)) <= state.bidsAnnounced;
    return seqOfEvent(ev) - 1 <= state.bidsAnnounced && (seq < state.lastSeq || state.ended);
  });
}

function onSnapshot(state, { auction, bids }) {
  if (!auction || typeof auction !== "object") return unchanged(state);
  if (auction.auctionId && auction.auctionId !== state.auctionId) return unchanged(state);
  const s = { ...state, notFound: false };
  const effects = [];
  for (const b of Array.isArray(bids) ? bids : []) {
    const added = addBid(s, b, b?.seq);
    if (added) effects.push({ type: "bidAdded", bid: added });
  }
  const seq = seqOf(auction.seq);
  // The auction and its bids are two reads: a bid may land between them. Each part counts for what it shows.
  if (!s.auction || seq >= s.lastSeq) {
    s.auction = { ...(s.auction || {}), ...auction };
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
      winnerName: auction.winnerName,
      finalPrice: auction.finalPrice ?? (auction.winnerName ? auction.currentPrice : null),
    }, effects);
  }
  return settle(s, effects);
}

function onBidResponse(state, res) {
  if (!state.auction) return unchanged(state);
  const seq = seqOf(res.seq ?? res.bid?.seq);
  const s = { ...state };
  const effects = [];
  const added = addBid(s, res.bid, seq);
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
  if (d.endsAt != null) a.endsAt = Number(d.endsAt);
  s.auction = a;
  if (seq !== s.minimumBidSeq) s.minimumBid = deriveMinimum(a);
}

function markEnded(s, d, effects) {
  s.ended = true;
  s.result = { winnerName: d?.winnerName ?? null, finalPrice: d?.finalPrice ?? null };
  if (s.auction) {
    s.auction = { ...s.auction, status: "ended", winnerName: s.result.winnerName, finalPrice: s.result.finalPrice };
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
