// The home page: live auctions as cards (price, bids, countdown), and the create form for sellers.
import { h, setText } from "../dom.js";
import { formatCents } from "../money.js";
import { cardCountdown, plural } from "../format.js";

export function homeView({ canSell, createForm, onMore }) {
  const list = h("div", { class: "auction-list", testid: "auction-list" });
  const more = h("button", { class: "btn btn-ghost", type: "button", testid: "list-more", onclick: () => onMore?.() }, "Show more");
  more.hidden = true;
  const status = h("p", { class: "muted list-status" }, "Loading live auctions…");
  const cards = new Map(); // auctionId -> card

  function card(a) {
    const price = h("span", { class: "price" });
    const priceLabel = h("span", { class: "price-label" });
    const bids = h("span", { class: "bids" });
    const cd = h("span", { class: "countdown-pill" });
    const title = h("span", { class: "card-title" });
    const seller = h("span", { class: "card-seller" });
    const el = h("a", { class: "auction-card", href: `#/auction/${encodeURIComponent(a.auctionId)}`, testid: "auction-link", dataset: { auctionId: a.auctionId } },
      h("div", { class: "card-main" }, title, seller),
      h("div", { class: "card-price" }, priceLabel, price),
      h("div", { class: "card-foot" }, bids, cd));
    const c = { el, a };
    c.update = (na) => {
      c.a = na;
      setText(title, na.title);
      setText(seller, na.sellerName ? `by ${na.sellerName}` : "");
      setText(priceLabel, na.bidCount > 0 ? "Current bid" : "Starting at");
      setText(price, formatCents(na.currentPrice));
      setText(bids, `${na.bidCount} ${plural(na.bidCount, "bid", "bids")}`);
    };
    c.tick = (now) => {
      const t = cardCountdown(c.a.endsAt, now);
      setText(cd, t.text);
      cd.classList.toggle("urgent", t.urgent);
    };
    c.update(a);
    return c;
  }

  function showStatus(text, isError = false) {
    status.textContent = text;
    status.className = isError ? "msg msg-error list-status" : "muted list-status";
  }

  return {
    el: h("div", { class: canSell ? "home home-seller" : "home" },
      h("section", { class: "home-list" },
        h("div", { class: "section-head" }, h("h1", {}, "Live auctions")),
        status,
        list,
        more),
      createForm?.el ?? null),

    /** Show these auctions (already filtered to the live ones); `hasMore`: the server has another page. */
    render(auctions, now, hasMore = false) {
      more.hidden = !hasMore;
      const seen = new Set();
      const els = [];
      for (const a of auctions) {
        seen.add(a.auctionId);
        let c = cards.get(a.auctionId);
        if (c) c.update(a);
        else cards.set(a.auctionId, (c = card(a)));
        c.tick(now);
        els.push(c.el);
      }
      for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
      list.replaceChildren(...els);
      if (auctions.length) showStatus(`${auctions.length} live ${plural(auctions.length, "auction", "auctions")}`);
      else if (canSell) showStatus("No live auctions right now. Create one to get started.");
      else showStatus("No live auctions right now. Check back soon — this list updates by itself.");
    },

    showError(text) {
      showStatus(text, true);
    },

    tick(now) {
      for (const c of cards.values()) c.tick(now);
    },
  };
}
