// The auction page: holds the auction state and the bid form's state, feeds them what arrives (snapshots,
// frames, bid responses), performs their effects (resync, gap-check timers, POST the bid, stop the socket) and
// asks the views to render. The rules are in ../state.js and ../bid-form.js.
import { config, getSession, tokenExpired, Api, request, errorMessage, newIdempotencyKey } from "../api.js";
import { LiveConnection } from "../live.js";
import { clock, onTick } from "../clock.js";
import { initialState, reduce, minIncrement, bidLanded, isMine, phase, serverNow } from "../state.js";
import { validLadder } from "../money.js";
import { sessionPublicId } from "../identity.js";
import { initialForm, step } from "../bid-form.js";
import { auctionView } from "../views/auction.js";
import { bidFormView } from "../views/bid-form.js";

const POLL_OVERDUE_MS = 2000;

/** nav: the router's helpers (app.js). */
export function auctionPage(nav, id) {
  const session = getSession();
  let state = initialState(id);
  let form = initialForm();
  let end = { busy: false, error: "" };
  let live = null;
  let destroyed = false;
  let lastPoll = 0;
  let shownPhase = null;
  const timers = new Set();

  const bidForm = bidFormView({
    onInput: (value) => formStep({ type: "input", value }),
    onQuick: (steps) => formStep({ type: "quick", steps, minimumBid: state.minimumBid, increments: increments() }),
    onMode: (mode) => formStep({ type: "mode", mode }),
    onSubmit: () => formStep({ type: "submit", key: newIdempotencyKey() }),
  });
  const view = auctionView({ session, bidForm, onEndNow: endNow });

  // ---------- state

  function dispatch(input) {
    if (destroyed) return;
    const r = reduce(state, input, { now: Date.now() });
    const offset = state.clockOffset;
    state = r.state;
    if (state.clockOffset !== offset) clock.adopt(state.clockOffset); // the list page's countdowns too
    r.effects.forEach(perform);
    render();
  }

  /** The auction's ladder (a fixed step is a one-rung ladder). */
  function increments() {
    const a = state.auction;
    return validLadder(a?.increments) ?? [[0, minIncrement(a)]];
  }

  const now = () => serverNow(state, Date.now(), clock.now());

  function perform(e) {
    switch (e.type) {
      case "gapCheck":
        later(e.delayMs, () => dispatch({ local: "gapCheck" }));
        break;
      case "resync":
        resync().catch(() => {}); // best effort: the next frame or reconnect resyncs anyway
        break;
      case "ended":
        live?.finish();
        formStep({ type: "close" }, false);
        break;
      case "bidAdded":
        formStep({ type: "liveBid", bid: e.bid, mine: isMine(state, e.bid) }, false);
        break;
      case "outbid":
        formStep({ type: "outbid" }, false);
        break;
    }
  }

  function formStep(event, rerender = true) {
    if (destroyed) return;
    const r = step(form, event);
    form = r.form;
    for (const e of r.effects) {
      if (e.type === "place") placeBid(e.amount, e.key, e.max);
      else if (e.type === "tooLow") dispatch({ local: "bidRejected", minimumBid: e.minimumBid });
      else if (e.type === "notStarted") dispatch({ local: "notStarted", startsAt: e.startsAt });
      else if (e.type === "alreadyLeading") dispatch({ local: "alreadyLeading" });
      else if (e.type === "resync") resync().catch(() => {});
      else if (e.type === "auth") nav.authFailed(e.error.cause ?? e.error);
      else if (e.type === "focus") bidForm.focus();
    }
    if (rerender) render();
  }

  function render() {
    if (destroyed) return;
    if (state.auction && !state.ended) {
      form = step(form, { type: "minimum", minimumBid: state.minimumBid, focused: bidForm.isFocused() }).form;
      form = step(form, { type: "phase", phase: phase(state, now()) }).form;
    }
    view.render(state, { end });
    bidForm.render(form, { minimumBid: state.minimumBid, increments: increments() });
    tick();
  }

  function tick() {
    const c = view.tick(state, now());
    // A scheduled auction reached its start: open the form, and ask the server (its status is "active" now).
    if (c && c.phase !== shownPhase) {
      const was = shownPhase;
      shownPhase = c.phase;
      if (was === "scheduled" && c.phase === "active") {
        render();
        resync().catch(() => {});
      }
    }
    // Past the end and no auction.ended yet: ask the server every 2 s.
    if (c?.overdue && Date.now() - lastPoll > POLL_OVERDUE_MS) {
      lastPoll = Date.now();
      resync().then((o) => { if (o === "ended") live?.finish(); }).catch(() => {});
    }
  }

  function later(ms, fn) {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  // ---------- server

  /** GET /auctions/{id} into the state; "ended" when there is nothing more to listen for. */
  async function resync() {
    if (destroyed) return "ended";
    const s = getSession();
    if (!s || tokenExpired(s.token)) {
      nav.authFailed({ message: "Your session has expired. Please sign in again." });
      return "ended";
    }
    try {
      const snapshot = await Api.getAuction(id);
      if (destroyed) return "ended";
      dispatch(snapshot);
    } catch (err) {
      if (destroyed) return "ended";
      if (err.code === "auction_not_found" || err.status === 404) {
        dispatch({ local: "notFound" });
        return "ended";
      }
      throw err;
    }
    return state.ended ? "ended" : "active";
  }

  /** POST the bid: {"amount"} or {"maxAmount"} (issue 10). */
  function postBid(amount, key, max) {
    if (!max) return Api.placeBid(id, amount, key);
    return request(`/auctions/${encodeURIComponent(id)}/bids`, {
      method: "POST", body: { maxAmount: amount }, auth: true, headers: { "Idempotency-Key": key },
    });
  }

  async function placeBid(amount, key, max = false) {
    const known = new Set(state.bids.map((b) => b.bidId));
    try {
      const t0 = Date.now();
      const res = await postBid(amount, key, max);
      clock.observe(res.bid?.placedAt, t0, Date.now());
      if (destroyed) return;
      dispatch({ ...res, bid: res.bid ? { ...res.bid, bidderName: res.bid.bidderName || session.name } : null });
      formStep({
        type: "placed", amount, max, leading: res.leading, bid: res.bid ?? null,
        currentPrice: res.currentPrice ?? res.status?.currentPrice,
      });
    } catch (err) {
      if (destroyed) return;
      formStep({
        type: "failed",
        landed: bidLanded(state, known, { amount, max }),
        error: {
          network: !!err.network, status: err.status, code: err.code, isAuth: !!err.isAuth,
          message: errorMessage(err), minimumBid: err.body?.minimumBid, startsAt: err.body?.startsAt,
          field: err.body?.field, cause: err,
        },
      });
    }
  }

  async function endNow() {
    end = { busy: true, error: "" };
    render();
    try {
      const res = await Api.endAuction(id);
      if (destroyed) return;
      end = { busy: false, error: "" };
      if (res.auction) dispatch({ auction: res.auction, bids: [] });
      if (!state.ended) resync().catch(() => {});
    } catch (err) {
      if (destroyed) return;
      end = { busy: false, error: errorMessage(err) };
      if (err.isAuth) return nav.authFailed(err);
      render();
      if (err.code === "auction_not_active") resync().catch(() => {});
    }
  }

  function onFrame(f) {
    if (!f || typeof f !== "object" || typeof f.type !== "string") return;
    if (f.type === "error") console.warn("auction socket error frame", f.data);
    dispatch(f);
  }

  // ---------- start

  const stopTick = onTick(tick);
  const created = nav.takePrefetched(id); // the create form's answer: show it at once
  (async () => {
    // Who "you" are first — our public id, from the token's sub (identity.js): frames name bidders only by it,
    // and the page is built for the seller or for a bidder by it. (No WebCrypto, no id: a bidder's page.)
    const publicId = await sessionPublicId(session).catch(() => null);
    if (publicId) dispatch({ local: "identity", publicId });
    if (created) dispatch({ auction: created, bids: [] });
    try {
      const outcome = await resync();
      if (destroyed || outcome === "ended") return;
    } catch (err) {
      if (destroyed) return;
      if (!state.auction) {
        view.showLoadError(errorMessage(err), () => nav.route());
        return;
      }
    }
    live = new LiveConnection({
      wsUrl: config.wsUrl,
      auctionId: id,
      getTicket: async () => (getSession()?.token ? (await Api.wsTicket(id)).ticket : null),
      resync,
      onFrame,
      onState: (s) => view.setConnection(s),
    });
    live.start();
  })();

  return {
    el: view.el,
    destroy() {
      destroyed = true;
      live?.stop();
      stopTick();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
