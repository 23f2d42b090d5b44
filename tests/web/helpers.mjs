// Builders for the wire shapes the server sends (see shared/src/frames.rs and the HTTP handlers), and a small
// driver that plays the caller's part: it performs the reducer's effects the way web/pages/auction.js does.
import { initialState, reduce } from "../../web/state.js";

export const ID = "A1";
export const FAR = 10_000_000_000_000; // endsAt far in the future

/** A stand-in public id for a display name (the real ones are hashes: identity.js). */
export const pid = (name) => `p-${name}`;

export function auction(over = {}) {
  return {
    auctionId: ID, title: "Leica M3", description: "", sellerId: "u-sam", sellerName: "Sam",
    startingPrice: 10_000, minIncrement: 100, currentPrice: 10_000, minimumBid: 10_000,
    bidCount: 0, seq: 0, status: "active", createdAt: 1, endsAt: FAR,
    ...over,
  };
}

/** The public bid (snapshot, 201 body) for seq n. */
export function bid(seq, amount, bidderName = "Ada") {
  return { bidId: `bid-${seq}`, amount, bidderName, placedAt: 1_000 + seq, seq };
}

/** bid.placed event data: the same bid without seq (the frame carries it). */
function placed(seq, amount, bidderName) {
  const { seq: _drop, ...rest } = bid(seq, amount, bidderName);
  return rest;
}

/** The publisher's frame for one accepted bid (a delivery covering just its seq). */
export function batch(seq, amount, bidderName = "Ada") {
  return delivery(seq, [[amount, bidderName]]);
}

/**
 * The publisher's frame covering fromSeq..=seq: one bid.placed per [amount, bidderName] (seqs from, from+1, …),
 * the status after them, and auction.ended (at the next seq) when `endedAs` is given.
 */
export function delivery(fromSeq, bids, endedAs = null) {
  const items = bids.map(([amount, name], i) => ({
    type: "bid.placed", seq: fromSeq + i, bidderId: pid(name ?? "Ada"), data: placed(fromSeq + i, amount, name ?? "Ada"),
  }));
  const lastBid = fromSeq + bids.length - 1;
  const price = bids.length ? bids[bids.length - 1][0] : 10_000;
  items.push({ type: "auction.status", seq: lastBid, data: { currentPrice: price, bidCount: lastBid, endsAt: FAR } });
  let seq = lastBid;
  if (endedAs) {
    seq += 1;
    items.push({ type: "auction.ended", seq, data: { winnerId: pid(endedAs), winnerName: endedAs, finalPrice: price } });
  }
  return { type: "batch", seq, fromSeq, auctionId: ID, data: items };
}

/** auction.status: the {"action":"sync"} answer and the close run's periodic frame. */
export function status(seq, currentPrice, bidCount = seq) {
  return { type: "auction.status", seq, auctionId: ID, data: { currentPrice, bidCount, endsAt: FAR } };
}

export function ended(seq, winnerName, finalPrice) {
  return { type: "auction.ended", seq, auctionId: ID, data: { winnerId: winnerName ? pid(winnerName) : null, winnerName, finalPrice } };
}

/** The 201 body of POST /auctions/{id}/bids. */
export function bidResponse(seq, amount, bidderName = "Ada", minIncrement = 100, leading = true) {
  return {
    bid: bid(seq, amount, bidderName), leading, currentPrice: amount, minimumBid: amount + minIncrement,
    status: { currentPrice: amount, bidCount: seq, endsAt: FAR }, seq,
  };
}

/** GET /auctions/{id} after bids 1..n at the given prices (the 20 most recent bids, newest first). */
export function snapshot(prices, over = {}) {
  const n = prices.length;
  const bids = prices.map((p, i) => bid(i + 1, p)).reverse().slice(0, 20);
  const last = prices[n - 1];
  return {
    auction: auction({
      bidCount: n, seq: n, currentPrice: n ? last : 10_000, minimumBid: n ? last + 100 : 10_000, ...over,
    }),
    bids,
  };
}

/** Plays the caller: remembers gap-check timers, counts resyncs, and can answer a resync with a snapshot. */
export function driver(first = snapshot([])) {
  const d = {
    state: initialState(ID),
    effects: [],
    timers: [],
    send(input, ctx) {
      const r = reduce(d.state, input, ctx);
      d.state = r.state;
      d.effects.push(...r.effects);
      for (const e of r.effects) if (e.type === "gapCheck") d.timers.push(e);
      return r;
    },
    /** Let the gap-check delay pass. */
    elapse() {
      const due = d.timers;
      d.timers = [];
      for (const { type: _t, ...rest } of due) d.send({ ...rest, local: "gapCheck" });
    },
    count(type) {
      return d.effects.filter((e) => e.type === type).length;
    },
    clear() {
      d.effects = [];
    },
    seqs() {
      return d.state.bids.map((b) => b.seq);
    },
  };
  if (first) {
    d.send(first);
    d.clear();
  }
  return d;
}
