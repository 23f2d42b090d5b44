// The home page: polls GET /auctions every 5 s while visible (the pages shown so far, following nextCursor;
// "Show more" adds one); sellers get the create form.
import { getSession, Api, errorMessage } from "../api.js";
import { clock, onTick } from "../clock.js";
import { validateAuctionForm } from "../auction-form.js";
import { homeView } from "../views/home.js";
import { readPages } from "../listing.js";
import { createFormView } from "../views/create-form.js";

const REFRESH_MS = 5000;

export function homePage(nav) {
  const s = getSession();
  const canSell = s.role === "seller" || s.role === "admin";
  let destroyed = false;
  let pages = 1;

  async function create(values) {
    const v = validateAuctionForm(values);
    if (!v.ok) return v;
    try {
      const t0 = Date.now();
      const r = await Api.createAuction(v.body);
      const a = r.auction;
      clock.observe(a?.createdAt, t0, Date.now());
      nav.prefetch(a);
      nav.go(`#/auction/${encodeURIComponent(a.auctionId)}`);
      return { ok: true };
    } catch (err) {
      if (err.isAuth) {
        nav.authFailed(err);
        return { ok: true };
      }
      return { ok: false, field: err.body?.field, message: errorMessage(err) };
    }
  }

  const view = homeView({
    canSell,
    createForm: canSell ? createFormView({ onSubmit: create }) : null,
    onMore: () => {
      pages += 1;
      refresh();
    },
  });

  async function refresh() {
    try {
      const r = await readPages((cursor) => Api.listAuctions(cursor), pages);
      if (destroyed) return;
      view.render(r.auctions.filter((a) => a.status !== "ended"), clock.now(), r.nextCursor !== null);
    } catch (err) {
      if (destroyed) return;
      if (err.isAuth) return nav.authFailed(err);
      view.showError(errorMessage(err));
    }
  }

  const stopTick = onTick(() => view.tick(clock.now()));
  refresh();
  const timer = setInterval(() => {
    if (document.visibilityState === "visible") refresh();
  }, REFRESH_MS);

  return {
    el: view.el,
    destroy() {
      destroyed = true;
      clearInterval(timer);
      stopTick();
    },
  };
}
