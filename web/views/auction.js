// The auction page's DOM: title, price, count, countdown (with the soft-close flash, or the start countdown of a
// scheduled auction), connection, viewers, the soft-close / reserve badges, "you lead" / "you've been outbid",
// feed, result and the seller's "End now". It renders the state from ../state.js and never changes it.
import { h, setText, showMsg, backLink } from "../dom.js";
import { formatCents } from "../money.js";
import { countdown, startCountdown, extensionText, viewersText, formatTime, plural, initial } from "../format.js";
import { isOwner, isMine, isLeading, outbidNotice, phase, reserveState, softClose } from "../state.js";

export const FEED_SIZE = 100;
/** How long the countdown flashes after a soft-close extension. */
export const EXTENSION_FLASH_MS = 1_200;

/**
 * session: the signed-in user; bidForm: a bidFormView (shown to everyone but the seller); onEndNow(). "You" is
 * decided by public ids (state.me, identity.js), never by display names (two users may share a name).
 */
export function auctionView({ session, bidForm, onEndNow }) {
  const el = h("div", { class: "auction-page" },
    backLink(),
    h("div", { class: "loading card" }, h("p", { class: "muted" }, "Loading auction…")));
  let r = null; // DOM refs once built

  function build(a, me) {
    r = { items: new Map(), rendered: false, resultShown: false, ended: false };
    r.owner = isOwner(a, session, me);
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
    r.extended = h("span", { class: "countdown-extended", testid: "countdown-extended", "aria-live": "polite" });
    r.countdownBox = h("div", { class: "countdown-box", testid: "countdown-box", dataset: { extensions: "0" } },
      r.countdownLabel, r.countdown, r.extended);
    r.extensions = 0;
    r.flashTimer = null;
    r.softClose = h("span", { class: "badge", testid: "soft-close", hidden: true });
    r.reserve = h("span", { class: "badge", testid: "reserve-status", hidden: true });
    r.viewers = h("span", { class: "badge badge-quiet", testid: "viewer-count", hidden: true });
    r.badges = h("div", { class: "badges" }, r.softClose, r.reserve, r.viewers);
    r.lead = h("p", { class: "lead-badge", testid: "you-lead", role: "status", hidden: true }, "You're the high bidder");
    r.outbid = h("p", { class: "msg msg-warn outbid", testid: "outbid-notice", role: "alert", hidden: true });
    r.startsAt = h("p", { class: "muted small", testid: "starts-at", hidden: true });
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
      r.startsAt,
      r.badges,
      r.priceLabel,
      r.price,
      h("p", { class: "price-meta" }, r.bidCount, " ", r.bidWord, r.leader),
      r.lead,
      r.outbid,
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

  function bidItem(st, b, animate) {
    const mine = isMine(st, b);
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
      if (!li) r.items.set(b.bidId, (li = bidItem(st, b, r.rendered)));
      else if (isMine(st, b) && !li.querySelector(".you")) {
        // Our id arrived after the bid was drawn.
        li.querySelector(".bid-who").append(h("span", { class: "you" }, "you"));
      }
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
    const sold = !!(res.winnerName || res.winnerId);
    const youWon = sold && !!st.me && res.winnerId === st.me && !r.owner;
    r.resultSlot.replaceChildren(
      h("div", { class: sold ? "result sold" : "result unsold", testid: "result", role: "status", dataset: { outcome: sold ? "sold" : res.reserveNotMet ? "reserve-not-met" : "no-bids" } },
        h("div", { class: "result-kicker" }, "Auction ended"),
        sold
          ? h("p", { class: "result-line" }, "Sold to ", h("strong", { testid: "result-winner" }, res.winnerName || "the high bidder"), " for ",
            h("strong", { testid: "result-price" }, formatCents(res.finalPrice ?? a.currentPrice)))
          : res.reserveNotMet
            ? h("p", { class: "result-line", testid: "result-reserve" }, "Reserve not met — the item was not sold")
            : h("p", { class: "result-line" }, "Ended with no bids"),
        youWon ? h("p", { class: "result-you" }, "Congratulations — you won!") : null));
    if (r.endBox) r.endBox.hidden = true;
  }

  function renderBadges(st) {
    const a = st.auction;
    const sc = softClose(a);
    r.softClose.hidden = !sc;
    if (sc) {
      setText(r.softClose, sc.suddenDeath ? "Sudden death" : `Soft close: ${sc.seconds} s`);
      r.softClose.title = sc.suddenDeath
        ? "Ends exactly on time: late bids do not extend it."
        : `A bid in the last ${sc.seconds} s extends the auction so others can answer.`;
      r.softClose.className = sc.suddenDeath ? "badge badge-danger" : "badge";
      r.softClose.dataset.seconds = String(sc.seconds);
    }
    const rs = reserveState(a);
    r.reserve.hidden = !rs;
    if (rs) {
      setText(r.reserve, rs === "met" ? "Reserve met" : "Reserve not met");
      r.reserve.className = rs === "met" ? "badge badge-ok" : "badge badge-warn";
      r.reserve.dataset.state = rs;
    }
    const v = viewersText(st.viewers);
    r.viewers.hidden = !v;
    setText(r.viewers, v);
    if (v) r.viewers.dataset.count = String(st.viewers);

    const leading = !st.ended && !r.owner && isLeading(st) === true;
    r.lead.hidden = !leading;
    const ob = r.owner ? null : outbidNotice(st);
    r.outbid.hidden = !ob;
    if (ob) {
      setText(r.outbid, `You've been outbid — the high bid is now ${formatCents(ob.amount)}.` +
        (ob.minimumBid ? ` Bid at least ${formatCents(ob.minimumBid)} to lead again.` : ""));
      r.outbid.dataset.amount = String(ob.amount);
    }

    // A soft-close extension: flash the countdown and say by how much.
    const n = st.extension?.count ?? 0;
    r.countdownBox.dataset.extensions = String(n);
    if (n > r.extensions && r.rendered) {
      setText(r.extended, extensionText(st.extension.by));
      r.countdownBox.classList.remove("extended");
      void r.countdownBox.offsetWidth; // restart the animation
      r.countdownBox.classList.add("extended");
      clearTimeout(r.flashTimer);
      r.flashTimer = setTimeout(() => {
        r.countdownBox.classList.remove("extended");
        setText(r.extended, "");
      }, EXTENSION_FLASH_MS);
    }
    r.extensions = n;
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
      if (!r) build(a, st.me);
      document.title = `${a.title} · Gavel`;
      setText(r.title, a.title);
      setText(r.seller, `Sold by ${a.sellerName || "unknown seller"}`);
      setText(r.desc, a.description || "No description provided.");
      r.desc.classList.toggle("muted", !a.description);

      const sold = st.ended && (st.result?.winnerName || st.result?.winnerId);
      const priceLabel = st.ended
        ? (sold ? "Winning bid" : a.bidCount > 0 ? "Highest bid" : "Starting price")
        : a.bidCount > 0 ? "Current bid" : "Starting price";
      setText(r.priceLabel, priceLabel);
      const cents = st.ended && st.result?.finalPrice != null ? st.result.finalPrice : a.currentPrice;
      setText(r.price, formatCents(cents));
      r.price.dataset.cents = String(cents);
      setText(r.bidCount, String(a.bidCount ?? 0));
      setText(r.bidWord, plural(a.bidCount, "bid", "bids"));
      const leader = st.bids[0]?.bidderName || a.highBidderName;
      setText(r.leader, a.bidCount > 0 && leader ? ` · ${st.ended ? "won by" : "leading:"} ${leader}` : "");

      renderBadges(st);
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

    /** The countdown at server time `now`; returns it with the phase (the page polls when it is overdue). */
    tick(st, now) {
      if (!r || !st.auction) return null;
      const a = st.auction;
      const p = phase(st, now);
      const c = p === "scheduled" ? startCountdown(a.startsAt, now) : countdown(a.endsAt, now, st.ended);
      setText(r.countdownLabel, c.label);
      setText(r.countdown, c.text);
      r.countdown.classList.toggle("urgent", c.urgent);
      r.countdownBox.classList.toggle("urgent", c.urgent);
      r.countdownBox.dataset.phase = p;
      r.countdownBox.dataset.endsAt = String(a.endsAt ?? "");
      r.countdownBox.dataset.startsAt = String(a.startsAt ?? "");
      r.startsAt.hidden = p !== "scheduled";
      if (p === "scheduled") setText(r.startsAt, `Bidding opens at ${formatTime(a.startsAt)}.`);
      return { ...c, phase: p };
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
