// Gavel — live auction browser client. Vanilla ES modules, no build step.
// This file only routes: hash -> page, mount it, and boot. Pages (pages/*) wire state to views (views/*); the
// rules live in pure modules (state.js, bid-form.js, endpoints.js, auction-form.js, format.js, money.js).
import {
  config, loadConfig, getSession, setSession, tokenExpired, pendingProposal, errorMessage, SESSION_KEY, OVERRIDE_KEY,
} from "./api.js";
import { renderChrome } from "./views/chrome.js";
import { settingsPage } from "./pages/settings.js";
import { signInPage } from "./pages/signin.js";
import { homePage } from "./pages/home.js";
import { auctionPage } from "./pages/auction.js";

const root = document.getElementById("app");
const userBox = document.getElementById("user");
const footer = document.getElementById("footer");
let current = null;
let flash = null; // one-shot notice for the sign-in screen
const prefetched = new Map(); // auctionId -> auction just created here

/** What pages may ask of the router. */
const nav = {
  go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  route: () => route(),
  authFailed(err) {
    setSession(null);
    flash = errorMessage(err);
    route();
  },
  takeFlash() {
    const f = flash;
    flash = null;
    return f;
  },
  prefetch(auction) {
    if (auction?.auctionId) prefetched.set(auction.auctionId, auction);
  },
  takePrefetched(id) {
    const a = prefetched.get(id) ?? null;
    prefetched.delete(id);
    return a;
  },
};

function mount(page, title) {
  try {
    current?.destroy?.();
  } catch (e) {
    console.error(e);
  }
  current = page;
  if (title) document.title = title;
  root.replaceChildren(page.el);
  window.scrollTo(0, 0);
}

function chrome() {
  renderChrome(userBox, footer, {
    session: getSession(),
    httpUrl: config.httpUrl,
    onSignOut: () => {
      setSession(null);
      nav.go("#/");
    },
  });
}

function route() {
  chrome();
  const hash = location.hash || "#/";
  // A link's endpoints wait for the user's decision before anything else is shown.
  if (pendingProposal() || hash.startsWith("#/settings") || !config.httpUrl) {
    return mount(settingsPage(nav), "Server settings · Gavel");
  }
  const s = getSession();
  if (!s || tokenExpired(s.token)) {
    if (s) {
      setSession(null);
      flash = "Your session has expired. Please sign in again.";
      chrome();
    }
    return mount(signInPage(nav), "Sign in · Gavel");
  }
  const m = /^#\/auction\/([^/?#]+)/.exec(hash);
  if (m) return mount(auctionPage(nav, decodeURIComponent(m[1]))); // the page titles itself
  mount(homePage(nav), "Live auctions · Gavel");
}

// ------------------------------------------------------------------ boot

window.addEventListener("hashchange", route);
window.addEventListener("storage", (e) => {
  // Signed in/out or switched servers in another tab.
  if (e.key === SESSION_KEY || e.key === OVERRIDE_KEY) location.reload();
});

(async () => {
  await loadConfig();
  route();
})();
