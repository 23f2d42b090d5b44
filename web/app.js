// Gavel — live auction browser client. Vanilla ES modules, no build step.
import { h, setText, clock, formatCountdown, onTick, formatTime } from "./dom.js";
import { formatCents, centsToInput, parseDollars } from "./money.js";
import {
  config, loadConfig, saveOverride, clearOverride, hasOverride,
  getSession, setSession, sessionFromJwt, tokenExpired,
  Api, errorMessage, newIdempotencyKey,
} from "./api.js";
import { LiveConnection } from "./live.js";

window.__auction = { auctionId: null, lastSeq: 0, frames: 0 };

const root = document.getElementById("app");
const userBox = document.getElementById("user");
const footer = document.getElementById("footer");
let current = null;
let flash = null; // one-shot notice for the sign-in screen
const prefetched = new Map(); // auctionId -> auction just created here

// ------------------------------------------------------------------ routing

function mount(view) {
  try {
    current?.destroy?.();
  } catch (e) {
    console.error(e);
  }
  current = view;
  root.replaceChildren(view.el);
  window.scrollTo(0, 0);
}

function route() {
  renderChrome();
  const hash = location.hash || "#/";
  if (hash.startsWith("#/settings") || !config.httpUrl) {
    document.title = "Server settings · Gavel";
    return mount(settingsView());
  }
  const s = getSession();
  if (!s || tokenExpired(s.token)) {
    if (s) {
      setSession(null);
      flash = "Your session has expired. Please sign in again.";
      renderChrome();
    }
    document.title = "Sign in · Gavel";
    return mount(signInView());
  }
  const m = /^#\/auction\/([^/?#]+)/.exec(hash);
  if (m) return mount(auctionView(decodeURIComponent(m[1])));
  document.title = "Live auctions · Gavel";
  mount(homeView());
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function handleAuthError(err) {
  setSession(null);
  flash = errorMessage(err);
  route();
}

function renderChrome() {
  const s = getSession();
  if (s) {
    userBox.replaceChildren(
      h("div", { class: "who" },
        h("span", { class: "avatar", "aria-hidden": "true" }, (s.name || "?").trim().charAt(0).toUpperCase()),
        h("span", { class: "who-text" },
          h("span", { class: "who-name", testid: "signed-in-as", title: `Signed in as ${s.name}` }, s.name),
          h("span", { class: `role role-${s.role}` }, s.role))),
      h("button", { class: "btn btn-ghost btn-sm", type: "button", testid: "sign-out", onclick: () => { setSession(null); go("#/"); } }, "Sign out"),
    );
  } else {
    userBox.replaceChildren();
  }
  let host = "";
  try {
    host = config.httpUrl ? new URL(config.httpUrl).host : "";
  } catch {
    host = config.httpUrl;
  }
  footer.replaceChildren(
    h("span", {}, host ? `Server: ${host}` : "No server configured"),
    h("a", { href: "#/settings", testid: "settings-link" }, "Server settings"),
  );
}

// ------------------------------------------------------------------ helpers

function field(labelText, control, hint) {
  return h("label", { class: "field" },
    h("span", { class: "field-label" }, labelText),
    control,
    hint ? h("span", { class: "field-hint" }, hint) : null);
}

function showMsg(el, text, kind = "error") {
  el.textContent = text || "";
  el.hidden = !text;
  el.className = `msg msg-${kind}`;
}

function lcFirst(t) {
  return t.charAt(0).toLowerCase() + t.slice(1);
}

function plural(n, one, many) {
  return Number(n) === 1 ? one : many;
}

function humanDuration(sec) {
  sec = Math.round(sec);
  if (!Number.isFinite(sec) || sec <= 0) return "";
  const parts = [];
  const d = Math.floor(sec / 86400); sec %= 86400;
  const hh = Math.floor(sec / 3600); sec %= 3600;
  const mm = Math.floor(sec / 60); const ss = sec % 60;
  if (d) parts.push(`${d} d`);
  if (hh) parts.push(`${hh} h`);
  if (mm) parts.push(`${mm} min`);
  if (ss) parts.push(`${ss} s`);
  return parts.join(" ");
}

function isOwner(auction, s = getSession()) {
  if (!auction || !s) return false;
  if (s.userId && auction.sellerId) return s.userId === auction.sellerId;
  return !!s.name && s.name === auction.sellerName && s.role !== "bidder";
}

// ------------------------------------------------------------------ settings

function settingsView() {
  const d = config.defaults;
  const httpIn = h("input", { type: "url", required: true, testid: "settings-http", placeholder: "https://abc.execute-api.us-east-1.amazonaws.com", value: config.httpUrl || "" });
  const wsIn = h("input", { type: "url", required: true, testid: "settings-ws", placeholder: "wss://def.execute-api.us-east-1.amazonaws.com/prod", value: config.wsUrl || "" });
  const devIn = h("input", { type: "checkbox", testid: "settings-dev" });
  devIn.checked = !!config.devTokens;
  const msg = h("p", { class: "msg", hidden: true, role: "alert" });

  const form = h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      const a = httpIn.value.trim();
      const w = wsIn.value.trim();
      if (!/^https?:\/\//i.test(a)) return showMsg(msg, "The API URL must start with http:// or https://.");
      if (!/^wss?:\/\//i.test(w)) return showMsg(msg, "The WebSocket URL must start with ws:// or wss://.");
      saveOverride(a, w, devIn.checked);
      await loadConfig();
      go("#/");
    },
  },
  field("HTTP API URL", httpIn),
  field("WebSocket URL", wsIn),
  h("label", { class: "check" }, devIn, h("span", {}, "Dev sign-in available (local stacks)")),
  msg,
  h("div", { class: "row" },
    h("button", { class: "btn btn-primary", type: "submit", testid: "settings-save" }, "Save"),
    d && hasOverride()
      ? h("button", { class: "btn btn-ghost", type: "button", onclick: async () => { clearOverride(); await loadConfig(); go("#/"); } }, "Use this server's defaults")
      : null,
    config.httpUrl ? h("a", { class: "btn btn-ghost", href: "#/" }, "Cancel") : null));

  return {
    el: h("section", { class: "center-card card" },
      h("h1", {}, "Server settings"),
      h("p", { class: "muted" }, config.httpUrl
        ? "Point the app at a local stack or a deployed one. These URLs are remembered on this device."
        : "We couldn't load this server's configuration. Enter the API and WebSocket URLs of your auction stack."),
      form),
  };
}

// ------------------------------------------------------------------ sign in

function signInView() {
  const notice = flash;
  flash = null;
  const msg = h("p", { class: "msg", hidden: true, role: "alert", testid: "signin-error" });

  const nameIn = h("input", { type: "text", testid: "signin-name", required: true, maxlength: "40", autocomplete: "nickname", placeholder: "e.g. Ada", autofocus: true });
  const roleIn = h("select", { testid: "signin-role" },
    h("option", { value: "bidder" }, "Bidder"),
    h("option", { value: "seller" }, "Seller"),
    h("option", { value: "admin" }, "Admin"));
  const submit = h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "signin-submit" }, "Continue");

  const devForm = h("form", {
    class: "stack",
    onsubmit: async (e) => {
      e.preventDefault();
      const name = nameIn.value.trim();
      if (!name) return showMsg(msg, "Please enter your name.");
      submit.disabled = true;
      submit.textContent = "Signing in…";
      try {
        const r = await Api.devToken(name, roleIn.value);
        setSession({ token: r.token, userId: r.userId, name: r.name || name, role: r.role || roleIn.value });
        route();
      } catch (err) {
        showMsg(msg, errorMessage(err));
        submit.disabled = false;
        submit.textContent = "Continue";
      }
    },
  },
  field("Your name", nameIn),
  field("I want to", roleIn, "Bidders place bids. Sellers create auctions."),
  submit);

  const tokenIn = h("textarea", { testid: "signin-token", rows: "4", placeholder: "eyJhbGciOi…", spellcheck: "false" });
  const tokenForm = h("form", {
    class: "stack",
    onsubmit: (e) => {
      e.preventDefault();
      const s = sessionFromJwt(tokenIn.value);
      if (!s) return showMsg(msg, "That doesn't look like a valid token.");
      if (tokenExpired(s.token)) return showMsg(msg, "That token has expired.");
      setSession(s);
      route();
    },
  },
  field("Access token (JWT)", tokenIn, "Paste the token issued by your identity provider."),
  h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "signin-token-submit" }, "Sign in"));

  let showDev = config.devTokens;
  const body = h("div");
  const toggle = h("button", { class: "linklike", type: "button" });
  function sync() {
    body.replaceChildren(showDev ? devForm : tokenForm);
    toggle.textContent = showDev ? "Have a token? Paste it instead" : "Sign in with a name (dev stacks)";
    showMsg(msg, "");
  }
  toggle.addEventListener("click", () => { showDev = !showDev; sync(); });
  sync();

  return {
    el: h("section", { class: "center-card card" },
      h("h1", {}, "Welcome to Gavel"),
      h("p", { class: "muted" }, "Live auctions, in real time. Sign in to bid or sell."),
      notice ? h("p", { class: "msg msg-warn" }, notice) : null,
      body,
      msg,
      h("div", { class: "toggle-row" }, toggle)),
  };
}

// ------------------------------------------------------------------ home

function homeView() {
  const s = getSession();
  const canSell = s.role === "seller" || s.role === "admin";
  const list = h("div", { class: "auction-list", testid: "auction-list" });
  const status = h("p", { class: "muted list-status" }, "Loading live auctions…");
  const cards = new Map();
  let timer = null;
  let destroyed = false;

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
    c.tick = () => {
      const left = Number(c.a.endsAt) - clock.now();
      setText(cd, left > 0 ? formatCountdown(left) : "Ending…");
      cd.classList.toggle("urgent", left <= 10_000);
    };
    c.update(a);
    return c;
  }

  async function refresh() {
    try {
      const r = await Api.listAuctions();
      if (destroyed) return;
      const auctions = (r.auctions || []).filter((a) => a.status !== "ended");
      const seen = new Set();
      const els = [];
      for (const a of auctions) {
        seen.add(a.auctionId);
        let c = cards.get(a.auctionId);
        if (c) c.update(a);
        else cards.set(a.auctionId, (c = card(a)));
        c.tick();
        els.push(c.el);
      }
      for (const id of [...cards.keys()]) if (!seen.has(id)) cards.delete(id);
      list.replaceChildren(...els);
      if (auctions.length) {
        showListStatus(`${auctions.length} live ${plural(auctions.length, "auction", "auctions")}`);
      } else {
        showListStatus(canSell ? "No live auctions right now. Create one to get started." : "No live auctions right now. Check back soon — this list updates by itself.");
      }
    } catch (err) {
      if (destroyed) return;
      if (err.isAuth) return handleAuthError(err);
      showListStatus(errorMessage(err), true);
    }
  }
  function showListStatus(text, isError = false) {
    status.textContent = text;
    status.className = isError ? "msg msg-error list-status" : "muted list-status";
  }

  const stopTick = onTick(() => {
    for (const c of cards.values()) c.tick();
  });
  refresh();
  timer = setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, 5000);

  const el = h("div", { class: canSell ? "home home-seller" : "home" },
    h("section", { class: "home-list" },
      h("div", { class: "section-head" }, h("h1", {}, "Live auctions")),
      status,
      list),
    canSell ? createForm() : null);

  return {
    el,
    destroy() {
      destroyed = true;
      clearInterval(timer);
      stopTick();
    },
  };
}

function createForm() {
  const title = h("input", { type: "text", testid: "create-title", required: true, maxlength: "120", placeholder: "Vintage film camera" });
  const desc = h("textarea", { testid: "create-description", rows: "3", maxlength: "2000", placeholder: "Condition, what's included, shipping…" });
  const start = h("input", { type: "text", inputmode: "decimal", testid: "create-starting-price", required: true, placeholder: "25.00", autocomplete: "off" });
  const inc = h("input", { type: "text", inputmode: "decimal", testid: "create-min-increment", placeholder: "1.00", autocomplete: "off" });
  const dur = h("input", { type: "number", testid: "create-duration-seconds", required: true, min: "1", step: "1", value: "300", inputmode: "numeric" });
  const durHint = h("span", { class: "field-hint" });
  const msg = h("p", { class: "msg", hidden: true, role: "alert", testid: "create-error" });
  const submit = h("button", { class: "btn btn-primary btn-block", type: "submit", testid: "create-submit" }, "Start auction");

  const updateHint = () => setText(durHint, humanDuration(Number(dur.value)) ? `Runs for ${humanDuration(Number(dur.value))}` : "Duration in seconds");
  dur.addEventListener("input", updateHint);
  updateHint();

  const presets = h("div", { class: "chips" },
    [[30, "30 s"], [60, "1 min"], [300, "5 min"], [3600, "1 h"]].map(([v, label]) =>
      h("button", { type: "button", class: "chip", onclick: () => { dur.value = String(v); updateHint(); } }, label)));

  const fieldsByName = { title, description: desc, startingPrice: start, minIncrement: inc, durationSeconds: dur };
  const clearInvalid = () => Object.values(fieldsByName).forEach((f) => f.removeAttribute("aria-invalid"));
  const fail = (text, f) => {
    showMsg(msg, text);
    if (f) {
      f.setAttribute("aria-invalid", "true");
      f.focus();
    }
  };

  const form = h("form", {
    class: "stack",
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      clearInvalid();
      showMsg(msg, "");
      const t = title.value.trim();
      if (!t) return fail("Give your auction a title.", title);
      const sp = parseDollars(start.value);
      if (!sp.ok) return fail(`Starting price: ${lcFirst(sp.error)}`, start);
      if (sp.cents <= 0) return fail("Starting price must be more than $0.00.", start);
      const body = { title: t, description: desc.value.trim(), startingPrice: sp.cents };
      if (inc.value.trim()) {
        const mi = parseDollars(inc.value);
        if (!mi.ok) return fail(`Minimum increment: ${lcFirst(mi.error)}`, inc);
        if (mi.cents <= 0) return fail("Minimum increment must be more than $0.00.", inc);
        body.minIncrement = mi.cents;
      }
      const secs = Number(dur.value);
      if (!Number.isInteger(secs) || secs <= 0) return fail("Duration must be a whole number of seconds.", dur);
      body.durationSeconds = secs;

      submit.disabled = true;
      submit.textContent = "Starting…";
      try {
        const t0 = Date.now();
        const r = await Api.createAuction(body);
        const a = r.auction;
        clock.observe(a?.createdAt, t0, Date.now());
        prefetched.set(a.auctionId, a);
        go(`#/auction/${encodeURIComponent(a.auctionId)}`);
      } catch (err) {
        submit.disabled = false;
        submit.textContent = "Start auction";
        if (err.isAuth) return handleAuthError(err);
        fail(errorMessage(err), fieldsByName[err.body?.field]);
      }
    },
  },
  field("Title", title),
  field("Description", desc),
  h("div", { class: "grid-2" },
    field("Starting price ($)", start),
    field("Min. increment ($)", inc, "Optional")),
  h("label", { class: "field" },
    h("span", { class: "field-label" }, "Duration (seconds)"),
    dur, presets, durHint),
  msg,
  submit);

  return h("aside", { class: "card create-card" },
    h("h2", {}, "Create an auction"),
    h("p", { class: "muted small" }, "It goes live immediately and ends automatically."),
    form);
}

// ------------------------------------------------------------------ auction

function auctionView(id) {
  const session = getSession();
  const stats = { auctionId: id, lastSeq: 0, frames: 0 };
  window.__auction = stats;

  const st = {
    auction: prefetched.get(id) || null,
    bids: new Map(), // bidId -> bid (with seq)
    lastSeq: 0,
    minimumBid: null,
    minimumBidSeq: -1,
    ended: false,
    result: null,
    notFound: false,
  };
  prefetched.delete(id);
  let live = null;
  let destroyed = false;
  let built = null; // DOM refs once the page is built
  let lastPoll = 0;

  const el = h("div", { class: "auction-page" },
    h("a", { class: "back", href: "#/" }, "← All auctions"),
    h("div", { class: "loading card" }, h("p", { class: "muted" }, "Loading auction…")));

  // ---------- state updates

  const bumpSeq = (seq) => {
    if (Number.isFinite(seq) && seq > st.lastSeq) st.lastSeq = seq;
    stats.lastSeq = st.lastSeq;
  };

  function deriveMinimum(seq) {
    if (seq === st.minimumBidSeq) return;
    const a = st.auction;
    const inc = Number(a.minIncrement) > 0 ? Number(a.minIncrement) : 1;
    st.minimumBid = a.bidCount > 0 ? a.currentPrice + inc : Math.max(a.currentPrice, a.startingPrice ?? 0);
  }

  function addBid(b, seq) {
    if (!b || !b.bidId) return;
    const prev = st.bids.get(b.bidId);
    const s = Number(b.seq ?? seq ?? prev?.seq ?? 0);
    st.bids.set(b.bidId, { ...prev, ...b, seq: s, fresh: !prev && !!built });
  }

  function applyStatus(d, seq) {
    if (!d || !st.auction) return;
    const a = st.auction;
    if (d.currentPrice != null) a.currentPrice = d.currentPrice;
    if (d.bidCount != null) a.bidCount = d.bidCount;
    if (d.endsAt != null) a.endsAt = d.endsAt;
    deriveMinimum(seq);
  }

  function markEnded(d) {
    const a = st.auction;
    st.ended = true;
    if (a) a.status = "ended";
    st.result = {
      winnerName: d?.winnerName ?? null,
      finalPrice: d?.finalPrice ?? null,
    };
    if (a) {
      a.winnerName = st.result.winnerName;
      a.finalPrice = st.result.finalPrice;
      a.endedAt = a.endedAt || Date.now();
    }
    live?.finish();
  }

  function applySnapshot(auction, bids) {
    if (!auction || (auction.auctionId && auction.auctionId !== id)) return;
    const seq = Number(auction.seq ?? 0);
    for (const b of bids || []) addBid(b, b.seq);
    if (!st.auction || seq >= st.lastSeq) {
      st.auction = { ...(st.auction || {}), ...auction };
      bumpSeq(seq);
      if (auction.minimumBid != null) {
        st.minimumBid = auction.minimumBid;
        st.minimumBidSeq = seq;
      } else {
        deriveMinimum(seq);
      }
    }
    if (auction.status === "ended" && !st.ended) {
      markEnded({ winnerName: auction.winnerName, finalPrice: auction.finalPrice ?? (auction.winnerName ? auction.currentPrice : null) });
    }
  }

  function onFrame(f) {
    stats.frames += 1;
    if (destroyed || !f || typeof f !== "object") return;
    if (f.auctionId && f.auctionId !== id) return;
    if (f.type === "error") {
      console.warn("auction socket error frame", f.data);
      return;
    }
    const seq = Number(f.seq ?? 0);
    if (!st.auction) return;
    // Two bids accepted at the same moment are posted by two independent invocations, so their frames can
    // arrive out of order. An older frame never moves the status back, but its bid still joins the feed
    // (sorted by seq, deduped by bidId).
    const stale = seq < st.lastSeq;
    if (!stale) {
      if (f.type === "batch" && seq > st.lastSeq + 1) scheduleGapCheck(st.lastSeq, seq);
      bumpSeq(seq);
    }
    const apply = (ev) => {
      if (!ev) return;
      if (ev.type === "bid.placed") {
        addBid(ev.data, seq);
        if (!stale) built?.bidForm?.noticeBid(ev.data);
      }
      else if (stale) return;
      else if (ev.type === "auction.status") applyStatus(ev.data, seq);
      else if (ev.type === "auction.ended") markEnded(ev.data);
    };
    if (f.type === "batch") (Array.isArray(f.data) ? f.data : []).forEach(apply);
    else apply(f);
    render();
  }

  // A gap in bid seqs that is still open after a moment (a frame lost or given up on by the server's
  // bounded retries) is filled from GET /auctions/{id}.
  function scheduleGapCheck(from, to) {
    setTimeout(() => {
      if (destroyed || st.ended) return;
      const have = new Set([...st.bids.values()].map((b) => b.seq));
      for (let s = from + 1; s < to; s++) {
        if (!have.has(s)) {
          resync().then(render, () => {}); // best effort: the next frame or reconnect resyncs anyway
          return;
        }
      }
    }, 1500);
  }

  async function resync() {
    if (destroyed) return "ended";
    const s = getSession();
    if (!s || tokenExpired(s.token)) {
      handleAuthError({ message: "Your session has expired. Please sign in again." });
      return "ended";
    }
    try {
      const r = await Api.getAuction(id);
      if (destroyed) return "ended";
      applySnapshot(r.auction, r.bids);
      render();
    } catch (err) {
      if (err.code === "auction_not_found" || err.status === 404) {
        st.notFound = true;
        render();
        return "ended";
      }
      throw err;
    }
    return st.ended ? "ended" : "active";
  }

  // ---------- rendering

  function build() {
    const a = st.auction;
    const r = {};
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
    r.actionSlot = h("div", { class: "action-slot" });
    r.items = new Map();

    // bid form (not shown to the seller of this auction)
    if (!isOwner(a, session)) r.bidForm = bidForm(r);

    // seller / admin: end now
    if (isOwner(a, session) || session.role === "admin") {
      r.endMsg = h("p", { class: "msg", hidden: true, role: "alert", testid: "end-error" });
      r.endBtn = h("button", { class: "btn btn-danger btn-block", type: "button", testid: "end-now", onclick: endNow }, "End now");
      r.endBox = h("div", { class: "end-box" },
        isOwner(a, session) ? h("p", { class: "muted small" }, "This is your auction. Bids appear here live; you can close it early.") : null,
        r.endBtn, r.endMsg);
    }

    const header = h("header", { class: "auction-head" }, r.title, r.seller);
    const side = h("aside", { class: "auction-side card" },
      h("div", { class: "side-top" }, r.conn, r.countdownBox),
      r.priceLabel,
      r.price,
      h("p", { class: "price-meta" }, r.bidCount, " ", r.bidWord, r.leader),
      r.resultSlot,
      r.bidForm?.el ?? null,
      r.endBox ?? null);
    const details = h("div", { class: "auction-details" },
      h("section", { class: "card" }, h("h2", {}, "About this item"), r.desc),
      h("section", { class: "card" },
        h("div", { class: "section-head" }, h("h2", {}, "Bid history"), r.feedCount),
        r.feedEmpty,
        r.feed));

    el.replaceChildren(h("a", { class: "back", href: "#/" }, "← All auctions"),
      h("div", { class: "auction-layout" }, header, side, details));
    built = r;
    r.stopTick = onTick(tick);
  }

  function render() {
    if (destroyed) return;
    if (st.notFound && !st.auction) {
      el.replaceChildren(h("a", { class: "back", href: "#/" }, "← All auctions"),
        h("section", { class: "card center-card" },
          h("h1", {}, "Auction not found"),
          h("p", { class: "muted" }, "This auction doesn't exist or is no longer available."),
          h("a", { class: "btn btn-primary", href: "#/" }, "Browse live auctions")));
      return;
    }
    if (!st.auction) return;
    if (!built) build();
    const a = st.auction;
    const r = built;
    document.title = `${a.title} · Gavel`;
    setText(r.title, a.title);
    setText(r.seller, `Sold by ${a.sellerName || "unknown seller"}`);
    setText(r.desc, a.description || "No description provided.");
    r.desc.classList.toggle("muted", !a.description);

    setText(r.priceLabel, st.ended ? (st.result?.winnerName ? "Winning bid" : "Starting price") : a.bidCount > 0 ? "Current bid" : "Starting price");
    const cents = st.ended && st.result?.finalPrice != null ? st.result.finalPrice : a.currentPrice;
    setText(r.price, formatCents(cents));
    r.price.dataset.cents = String(cents);
    setText(r.bidCount, String(a.bidCount ?? 0));
    setText(r.bidWord, plural(a.bidCount, "bid", "bids"));

    // feed
    const sorted = [...st.bids.values()].sort((x, y) => (y.seq - x.seq) || (Number(y.placedAt) - Number(x.placedAt)));
    const leader = sorted[0]?.bidderName || a.highBidderName;
    setText(r.leader, a.bidCount > 0 && leader ? ` · ${st.ended ? "won by" : "leading:"} ${leader}` : "");
    const els = sorted.slice(0, 100).map((b) => {
      let li = r.items.get(b.bidId);
      if (!li) {
        const mine = b.bidderName && b.bidderName === session.name;
        li = h("li", { class: b.fresh ? "bid-item fresh" : "bid-item", testid: "bid-item", dataset: { seq: String(b.seq), bidId: b.bidId } },
          h("span", { class: "bid-who" }, h("span", { class: "avatar sm", "aria-hidden": "true" }, String(b.bidderName || "?").charAt(0).toUpperCase()),
            h("span", { class: "bid-name" }, b.bidderName || "Someone"), mine ? h("span", { class: "you" }, "you") : null),
          h("span", { class: "bid-amount" }, formatCents(b.amount)),
          h("time", { class: "bid-time", datetime: new Date(Number(b.placedAt) || 0).toISOString() }, formatTime(b.placedAt)));
        li.addEventListener("animationend", () => li.classList.remove("fresh"), { once: true });
        r.items.set(b.bidId, li);
      }
      li.dataset.seq = String(b.seq);
      li.classList.toggle("top", b === sorted[0]);
      return li;
    });
    // Minimal DOM moves (new bids are inserted, others stay put, so animations don't restart).
    els.forEach((li, i) => {
      if (r.feed.children[i] !== li) r.feed.insertBefore(li, r.feed.children[i] || null);
    });
    while (r.feed.children.length > els.length) r.feed.lastElementChild.remove();
    r.feedEmpty.hidden = els.length > 0;
    setText(r.feedEmpty, st.ended ? "No bids were placed." : isOwner(a, session) ? "No bids yet." : "No bids yet — be the first.");
    setText(r.feedCount, els.length ? `${a.bidCount ?? els.length} total` : "");

    // ended
    if (st.ended) {
      setText(r.conn, "ended");
      r.conn.dataset.state = "ended";
      if (!r.resultShown) {
        r.resultShown = true;
        const res = st.result || {};
        r.resultSlot.replaceChildren(
          h("div", { class: res.winnerName ? "result sold" : "result unsold", testid: "result", role: "status" },
            h("div", { class: "result-kicker" }, "Auction ended"),
            res.winnerName
              ? h("p", { class: "result-line" }, "Sold to ", h("strong", { testid: "result-winner" }, res.winnerName), " for ",
                h("strong", { testid: "result-price" }, formatCents(res.finalPrice ?? a.currentPrice)))
              : h("p", { class: "result-line" }, "Ended with no bids"),
            res.winnerName && res.winnerName === session.name && !isOwner(a, session)
              ? h("p", { class: "result-you" }, "Congratulations — you won!")
              : null));
        r.bidForm?.disable();
        if (r.endBox) r.endBox.hidden = true;
      }
    } else {
      r.bidForm?.syncMinimum();
    }
    tick();
  }

  function tick() {
    if (!built || !st.auction) return;
    const r = built;
    if (st.ended) {
      setText(r.countdownLabel, "");
      setText(r.countdown, "Ended");
      r.countdown.classList.remove("urgent");
      r.countdownBox.classList.remove("urgent");
      return;
    }
    const left = Number(st.auction.endsAt) - clock.now();
    const urgent = left <= 10_000;
    setText(r.countdownLabel, left > 0 ? "Ends in" : "Closing…");
    setText(r.countdown, formatCountdown(left));
    r.countdown.classList.toggle("urgent", urgent);
    r.countdownBox.classList.toggle("urgent", urgent);
    // Past the end and no auction.ended yet: ask the server every 2 s.
    if (left < -2500 && Date.now() - lastPoll > 2000) {
      lastPoll = Date.now();
      resync().then((o) => { if (o === "ended") live?.finish(); }).catch(() => {});
    }
  }

  function setConn(state) {
    if (!built || st.ended) return;
    setText(built.conn, state);
    built.conn.dataset.state = state;
  }

  // ---------- bidding

  function bidForm(r) {
    const input = h("input", { type: "text", inputmode: "decimal", autocomplete: "off", testid: "bid-input", "aria-label": "Your bid in dollars" });
    const submit = h("button", { class: "btn btn-primary", type: "submit", testid: "bid-submit" }, "Place bid");
    const hint = h("p", { class: "field-hint", testid: "bid-hint" });
    const error = h("p", { class: "msg msg-error", hidden: true, role: "alert", testid: "bid-error" });
    const ok = h("p", { class: "msg msg-ok", hidden: true, role: "status", testid: "bid-success" });
    const inc = () => (Number(st.auction.minIncrement) > 0 ? Number(st.auction.minIncrement) : 100);
    const quick = [1, 5, 10].map((k) =>
      h("button", {
        type: "button", class: "chip", testid: `bid-quick-${k}`,
        onclick: () => {
          const p = parseDollars(input.value);
          const base = p.ok && p.cents >= (st.minimumBid ?? 0) ? p.cents : (st.minimumBid ?? 0);
          input.value = centsToInput(base + k * inc());
          dirty = true;
          clearMsgs();
          input.focus();
        },
      }));
    let dirty = false;
    let busy = false;
    let pending = null; // { amount, key } kept after a network failure for a safe retry

    input.addEventListener("input", () => { dirty = true; if (pending) setLabel(); });
    const clearMsgs = () => { showMsg(error, ""); ok.hidden = true; };
    const setLabel = () => {
      const p = parseDollars(input.value);
      submit.textContent = busy ? "Placing bid…" : pending && p.ok && p.cents === pending.amount ? "Retry bid" : "Place bid";
    };
    const setError = (text) => { ok.hidden = true; showMsg(error, text, "error"); };

    // A live bid.placed for our pending (unknown-outcome) bid settles it.
    function noticeBid(b) {
      if (!pending || busy || !b || b.amount !== pending.amount || b.bidderName !== session.name) return;
      pending = null;
      dirty = false;
      showMsg(error, "");
      ok.textContent = `Your bid of ${formatCents(b.amount)} went through.`;
      ok.hidden = false;
      setLabel();
    }

    function syncMinimum() {
      const min = st.minimumBid;
      if (min == null) return;
      quick.forEach((b, i) => setText(b, `+${formatCents([1, 5, 10][i] * inc())}`));
      setText(hint, `Minimum bid ${formatCents(min)}`);
      const p = parseDollars(input.value);
      const tooLow = !p.ok || p.cents < min;
      // Never rewrite the amount while a bid's outcome is unknown: the retry must resend it.
      if (!pending && (!dirty || (tooLow && document.activeElement !== input))) {
        input.value = centsToInput(min);
        dirty = false;
        if (pending) setLabel();
      }
    }

    async function place(e) {
      e.preventDefault();
      if (busy || st.ended) return;
      clearMsgs();
      const p = parseDollars(input.value);
      if (!p.ok) return setError(p.error);
      if (p.cents <= 0) return setError("Enter an amount greater than $0.00.");
      const key = pending && pending.amount === p.cents ? pending.key : newIdempotencyKey();
      pending = { amount: p.cents, key };
      busy = true;
      submit.disabled = true;
      setLabel();
      const known = new Set(st.bids.keys());
      try {
        const t0 = Date.now();
        const res = await Api.placeBid(id, p.cents, key);
        clock.observe(res.bid?.placedAt, t0, Date.now());
        pending = null;
        const seq = Number(res.seq ?? res.bid?.seq ?? 0);
        addBid({ ...res.bid, bidderName: res.bid?.bidderName || session.name }, seq);
        if (seq >= st.lastSeq) {
          bumpSeq(seq);
          applyStatus(res.status, seq);
          if (res.minimumBid != null) {
            st.minimumBid = res.minimumBid;
            st.minimumBidSeq = seq;
          }
        }
        dirty = false;
        ok.textContent = `Your bid of ${formatCents(p.cents)} is in — you're the high bidder.`;
        ok.hidden = false;
        render();
      } catch (err) {
        const landed = [...st.bids.values()].some((b) => !known.has(b.bidId) && b.amount === p.cents && b.bidderName === session.name);
        if (landed) {
          // The response was lost but the live feed already shows our bid.
          pending = null;
          dirty = false;
          ok.textContent = `Your bid of ${formatCents(p.cents)} went through.`;
          ok.hidden = false;
        } else if (err.network || err.code === "service_unavailable" || err.status >= 500) {
          // Outcome unknown: keep the key so retrying the same amount can't double-bid.
          setError(`${errorMessage(err)} Your bid may not have gone through — press “Retry bid” to try again safely.`);
        } else {
          pending = null;
          if (err.isAuth) return handleAuthError(err);
          if (err.code === "bid_too_low") {
            const min = Number(err.body?.minimumBid);
            if (Number.isFinite(min)) {
              st.minimumBid = Math.max(min, st.minimumBid ?? 0);
              input.value = centsToInput(min);
              dirty = false;
              setError(`Minimum next bid is ${formatCents(min)}.`);
            } else {
              setError(errorMessage(err));
            }
            resync().catch(() => {});
          } else if (err.code === "auction_not_active") {
            setError(errorMessage(err));
            resync().catch(() => {});
          } else if (err.code === "auction_not_found") {
            setError(errorMessage(err));
          } else {
            setError(errorMessage(err));
            if (err.body?.field === "amount") input.focus();
          }
        }
      } finally {
        busy = false;
        if (!st.ended) submit.disabled = false;
        setLabel();
        if (!st.ended) render();
      }
    }

    const form = h("form", { class: "bid-form", novalidate: true, onsubmit: place },
      h("label", { class: "field-label", for: "bid-amount" }, "Your bid"),
      h("div", { class: "bid-row" },
        h("div", { class: "money-input" }, h("span", { class: "currency", "aria-hidden": "true" }, "$"), input),
        submit),
      h("div", { class: "chips" }, quick),
      hint,
      error,
      ok);
    input.id = "bid-amount";

    return {
      el: form,
      syncMinimum,
      noticeBid,
      disable() {
        input.disabled = true;
        submit.disabled = true;
        quick.forEach((b) => (b.disabled = true));
        submit.textContent = "Bidding closed";
        setText(hint, "This auction has ended.");
        ok.hidden = true;
        showMsg(error, "");
        form.classList.add("closed");
      },
    };
  }

  async function endNow() {
    const r = built;
    r.endBtn.disabled = true;
    r.endBtn.textContent = "Ending…";
    showMsg(r.endMsg, "");
    try {
      const res = await Api.endAuction(id);
      if (res.auction) applySnapshot(res.auction, []);
      if (!st.ended) markEnded({ winnerName: res.auction?.winnerName, finalPrice: res.auction?.finalPrice });
      render();
    } catch (err) {
      r.endBtn.disabled = false;
      r.endBtn.textContent = "End now";
      if (err.isAuth) return handleAuthError(err);
      showMsg(r.endMsg, errorMessage(err));
      if (err.code === "auction_not_active") resync().catch(() => {});
    }
  }

  // ---------- start

  if (st.auction) render();
  (async () => {
    try {
      const outcome = await resync();
      if (destroyed || outcome === "ended") {
        if (built && st.ended) setText(built.conn, "ended");
        return;
      }
    } catch (err) {
      if (destroyed) return;
      if (!st.auction) {
        el.replaceChildren(h("a", { class: "back", href: "#/" }, "← All auctions"),
          h("section", { class: "card center-card" },
            h("h1", {}, "Couldn't load this auction"),
            h("p", { class: "msg msg-error" }, errorMessage(err)),
            h("button", { class: "btn btn-primary", type: "button", onclick: () => route() }, "Try again")));
        return;
      }
    }
    live = new LiveConnection({
      wsUrl: config.wsUrl,
      auctionId: id,
      getToken: () => getSession()?.token,
      resync,
      onFrame,
      onState: setConn,
    });
    live.start();
  })();

  return {
    el,
    destroy() {
      destroyed = true;
      live?.stop();
      built?.stopTick?.();
    },
  };
}

// ------------------------------------------------------------------ boot

window.addEventListener("hashchange", route);
window.addEventListener("storage", (e) => {
  // Signed in/out in another tab.
  if (e.key === "auction.session") location.reload();
});

(async () => {
  await loadConfig();
  route();
})();
