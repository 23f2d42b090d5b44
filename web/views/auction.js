// The auction page's DOM: title, price, count, countdown, connection, feed, result and the seller's "End now".
// It renders the state from ../state.js and never changes it.
import { h, setText, showMsg, backLink } from "../dom.js";
import { formatCents } from "../money.js";
import { countdown, formatTime, plural, initial } from "../format.js";
import { isOwner } from "../state.js";

export const FEED_SIZE = 100;

/**
 * session: the signed-in user; myBids: the ids of the bids this user placed here (a Set the page fills);
 * bidForm: a bidFormView (shown to everyone but the seller); onEndNow(). "You" is decided by ids, never by
 * display names (two users may share a name).
 */
export function auctionView({ session, myBids = new Set(), bidForm, onEndNow }) {
  const el = h("div", { class: "auction-page" },
    backLink(),
    h("div", { class: "loading card" }, h("p", { class: "muted" }, "Loading auction…")));
  let r = null; // DOM refs once built

  function build(a) {
    r = { items: new Map(), rendered: false, resultShown: false, ended: false };
    r.owner = isOwner(a, session);
    r.title = h("h1", { class: "auction-title", testid: "auction-title" });
    r.seller = h("p", { class: "muted meta" });
    r.desc = h("p", { class: "description", testid: "auction-description" });
    r.conn = h("span", { class: "conn", testid: "connection-status", role: "status" }, "connecting");
    r.priceLabel = h("div", { class: "price-label" });
    r.price = h("div", { class: "big-price", testid: "current-price" });
    r.bidCount = h("span", { testid: "bid-count" });
    r.bidWord = h("span");
    r.leader = h("span", { class: "leader" });
    r.countdown = h("span", { class: "countdown", testid: "countdown" });
    r.countdownLabel = h("span", { class: "countdown-label" }, "Ends in");
    r.countdownBox = h("div", { class: "countdown-box" }, r.countdownLabel, r.countdown);
    r.feed = h("ol", { class: "feed", testid: "bid-feed", "aria-live": "polite" });
    r.feedEmpty = h("p", { class: "muted feed-empty" }, "No bids yet — be the first.");
    r.feedCount = h("span", { class: "muted" });
    r.resultSlot = h("div");
    if (r.owner || session.role === "admin") {
      r.endMsg = h("p", { class: "msg", hidden: true, role: "alert", testid: "end-error" });
      r.endBtn = h("button", { class: "btn btn-danger btn-block", type: "button", testid: "end-now", onclick: onEndNow }, "End now");
      r.endBox = h("div", { class: "end-box" },
        r.owner ? h("p", { class: "muted small" }, "This is your auction. Bids appear here live; you can close it early.") : null,
        r.endBtn, r.endMsg);
    }

    const header = h("header", { class: "auction-head" }, r.title, r.seller);
    const side = h("aside", { class: "auction-side card" },
      h("div", { class: "side-top" }, r.conn, r.countdownBox),
      r.priceLabel,
      r.price,
      h("p", { class: "price-meta" }, r.bidCount, " ", r.bidWord, r.leader),
      r.resultSlot,
      r.owner ? null : bidForm.el,
      r.endBox ?? null);
    const details = h("div", { class: "auction-details" },
      h("section", { class: "card" }, h("h2", {}, "About this item"), r.desc),
      h("section", { class: "card" },
        h("div", { class: "section-head" }, h("h2", {}, "Bid history"), r.feedCount),
        r.feedEmpty,
        r.feed));
    el.replaceChildren(backLink(), h("div", { class: "auction-layout" }, header, side, details));
  }

  function bidItem(b, animate) {
    const mine = myBids.has(b.bidId);
    const li = h("li", { class: animate ? "bid-item fresh" : "bid-item", testid: "bid-item", dataset: { seq: String(b.seq), bidId: b.bidId } },
      h("span", { class: "bid-who" }, h("span", { class: "avatar sm", "aria-hidden": "true" }, initial(b.bidderName)),
        h("span", { class: "bid-name" }, b.bidderName || "Someone"), mine ? h("span", { class: "you" }, "you") : null),
      h("span", { class: "bid-amount" }, formatCents(b.amount)),
      h("time", { class: "bid-time", datetime: new Date(Number(b.placedAt) || 0).toISOString() }, formatTime(b.placedAt)));
    li.addEventListener("animationend", () => li.classList.remove("fresh"), { once: true });
    return li;
  }

  function renderFeed(st) {
    const a = st.auction;
    const shown = st.bids.slice(0, FEED_SIZE); // newest first
    const els = shown.map((b, i) => {
      let li = r.items.get(b.bidId);
      if (!li) r.items.set(b.bidId, (li = bidItem(b, r.rendered)));
      li.classList.toggle("top", i === 0);
      return li;
    });
    // Minimal DOM moves (new bids are inserted, others stay put, so animations don't restart).
    els.forEach((li, i) => {
      if (r.feed.children[i] !== li) r.feed.insertBefore(li, r.feed.children[i] || null);
    });
    while (r.feed.children.length > els.length) r.feed.lastElementChild.remove();
    r.feedEmpty.hidden = els.length > 0;
    setText(r.feedEmpty, st.ended ? "No bids were placed." : r.owner ? "No bids yet." : "No bids yet — be the first.");
    setText(r.feedCount, els.length ? `${a.bidCount ?? els.length} total` : "");
  }

  function renderResult(st) {
    const a = st.auction;
    r.ended = true;
    setText(r.conn, "ended");
    r.conn.dataset.state = "ended";
    if (r.resultShown) return;
    r.resultShown = true;
    const res = st.result || {};
    r.resultSlot.replaceChildren(
      h("div", { class: res.winnerName ? "result sold" : "result unsold", testid: "result", role: "status" },
        h("div", { class: "result-kicker" }, "Auction ended"),
        res.winnerName
          ? h("p", { class: "result-line" }, "Sold to ", h("strong", { testid: "result-winner" }, res.winnerName), " for ",
            h("strong", { testid: "result-price" }, formatCents(res.finalPrice ?? a.currentPrice)))
          : h("p", { class: "result-line" }, "Ended with no bids"),
        res.winnerName && st.bids[0] && myBids.has(st.bids[0].bidId) && !r.owner
          ? h("p", { class: "result-you" }, "Congratulations — you won!")
          : null));
    if (r.endBox) r.endBox.hidden = true;
  }

  return {
    el,

    /** st: the auction state; ui.end: {busy, error} of the seller's "End now". */
    render(st, ui = {}) {
      if (st.notFound && !st.auction) {
        r = null;
        el.replaceChildren(backLink(),
          h("section", { class: "card center-card" },
            h("h1", {}, "Auction not found"),
            h("p", { class: "muted" }, "This auction doesn't exist or is no longer available."),
            h("a", { class: "btn btn-primary", href: "#/" }, "Browse live auctions")));
        return;
      }
      const a = st.auction;
      if (!a) return;
      if (!r) build(a);
      document.title = `${a.title} · Gavel`;
      setText(r.title, a.title);
      setText(r.seller, `Sold by ${a.sellerName || "unknown seller"}`);
      setText(r.desc, a.description || "No description provided.");
      r.desc.classList.toggle("muted", !a.description);

      const sold = st.ended && st.result?.winnerName;
      setText(r.priceLabel, st.ended ? (sold ? "Winning bid" : "Starting price") : a.bidCount > 0 ? "Current bid" : "Starting price");
      const cents = st.ended && st.result?.finalPrice != null ? st.result.finalPrice : a.currentPrice;
      setText(r.price, formatCents(cents));
      r.price.dataset.cents = String(cents);
      setText(r.bidCount, String(a.bidCount ?? 0));
      setText(r.bidWord, plural(a.bidCount, "bid", "bids"));
      const leader = st.bids[0]?.bidderName || a.highBidderName;
      setText(r.leader, a.bidCount > 0 && leader ? ` · ${st.ended ? "won by" : "leading:"} ${leader}` : "");

      renderFeed(st);
      if (st.ended) renderResult(st);
      if (r.endBtn && !st.ended) {
        const end = ui.end || {};
        r.endBtn.disabled = !!end.busy;
        setText(r.endBtn, end.busy ? "Ending…" : "End now");
        showMsg(r.endMsg, end.error || "");
      }
      r.rendered = true;
    },

    /** The countdown at server time `now`; returns it (the page polls when it is overdue). */
    tick(st, now) {
      if (!r || !st.auction) return null;
      const c = countdown(st.auction.endsAt, now, st.ended);
      setText(r.countdownLabel, c.label);
      setText(r.countdown, c.text);
      r.countdown.classList.toggle("urgent", c.urgent);
      r.countdownBox.classList.toggle("urgent", c.urgent);
      return c;
    },

    /** The socket's state: connecting | live | reconnecting | ended. */
    setConnection(state) {
      if (!r || r.ended) return;
      setText(r.conn, state);
      r.conn.dataset.state = state;
    },

    showLoadError(message, onRetry) {
      r = null;
      el.replaceChildren(backLink(),
        h("section", { class: "card center-card" },
          h("h1", {}, "Couldn't load this auction"),
          h("p", { class: "msg msg-error" }, message),
          h("button", { class: "btn btn-primary", type: "button", onclick: onRetry }, "Try again")));
    },
  };
}
