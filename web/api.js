// Configuration, session and HTTP access to the auction API (the decisions themselves live in endpoints.js).
import {
  proposalFromSearch, resolveConfig, confirmedOverride, bindSession, sessionUsable, normalizeUrl,
} from "./endpoints.js";

export const OVERRIDE_KEY = "auction.endpoints";
export const SESSION_KEY = "auction.session";

function readJson(key) {
  try {
    const raw = localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}
function writeJson(key, value) {
  try {
    if (value == null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage unavailable: keep going in memory */
  }
}

export const config = { httpUrl: "", wsUrl: "", devTokens: false, source: "none", defaults: null };

// Endpoints a link (?api=&ws=) proposes, awaiting the user's confirmation on the settings screen.
// Held in memory only: nothing is stored or used before the user confirms.
let proposal = null;

/**
 * Resolve the endpoints in use: a confirmed override > the same-origin /config.json. A link's ?api=&ws= only
 * becomes a proposal (see endpoints.js). Returns true when usable endpoints are known.
 */
export async function loadConfig() {
  const link = proposalFromSearch(location.search);

  let defaults = null;
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (res.ok) {
      const j = await res.json();
      if (j && j.httpUrl && j.wsUrl) {
        defaults = { httpUrl: normalizeUrl(j.httpUrl), wsUrl: normalizeUrl(j.wsUrl), devTokens: !!j.devTokens };
      }
    }
  } catch {
    /* no config.json: fall through */
  }

  const r = resolveConfig({ defaults, stored: readJson(OVERRIDE_KEY), proposal: link.proposal });
  Object.assign(config, r.config, { defaults });
  proposal = r.proposal;
  // Nothing to confirm (or a malformed link): tidy the address bar. Otherwise the parameters stay until the
  // user decides, so a reload shows the same question.
  if (!proposal && link.present) stripLinkParams();
  return !!config.httpUrl;
}

/** The endpoints a link proposes, or null. */
export function pendingProposal() {
  return proposal;
}

function stripLinkParams() {
  const { search } = proposalFromSearch(location.search);
  if (search !== location.search) history.replaceState(null, "", location.pathname + search + location.hash);
}

/** The user saved (or confirmed) these endpoints on the settings screen. */
export function saveOverride(httpUrl, wsUrl, devTokens) {
  const o = confirmedOverride(httpUrl, wsUrl, devTokens);
  if (!o) return false;
  writeJson(OVERRIDE_KEY, o);
  proposal = null;
  stripLinkParams();
  return true;
}

/** The user turned the link's proposal down. */
export function dismissProposal() {
  const stored = readJson(OVERRIDE_KEY);
  if (stored && stored.confirmed !== true) writeJson(OVERRIDE_KEY, null); // an older client's unconfirmed one
  proposal = null;
  stripLinkParams();
}

export function clearOverride() {
  writeJson(OVERRIDE_KEY, null);
}
export function hasOverride() {
  return readJson(OVERRIDE_KEY)?.confirmed === true;
}

// ---------------------------------------------------------------- session

function decodeJwt(token) {
  try {
    const part = String(token).split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

export function tokenExpired(token) {
  const claims = decodeJwt(token);
  return !!(claims && typeof claims.exp === "number" && claims.exp * 1000 <= Date.now());
}

let session = null; // also the fallback when storage is unavailable

/** The stored session, only if it was created against the HTTP and WebSocket URLs in use. */
export function getSession() {
  if (sessionUsable(session, config)) return session;
  const stored = readJson(SESSION_KEY);
  if (!sessionUsable(stored, config)) return null;
  session = stored;
  return session;
}

export function setSession(s) {
  session = bindSession(s, config);
  writeJson(SESSION_KEY, session);
}

/** Build a session from a pasted JWT (devTokens=false stacks). */
export function sessionFromJwt(token) {
  const t = String(token || "").trim().replace(/^Bearer\s+/i, "");
  const claims = decodeJwt(t);
  if (!claims) return null;
  return {
    token: t,
    userId: claims.sub || claims.userId || claims.user_id || "",
    name: claims.name || claims.preferred_username || claims.username || claims.email || claims.sub || "You",
    role: claims.role || (Array.isArray(claims["cognito:groups"]) ? claims["cognito:groups"][0] : "") || "bidder",
  };
}

// ---------------------------------------------------------------- http

export class ApiError extends Error {
  constructor({ status = 0, code = "network_error", message, body = null, retryAfter = null, network = false }) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfter = retryAfter;
    this.network = network;
  }
  get isAuth() {
    return (
      this.status === 401 ||
      ["missing_token", "invalid_token", "token_expired", "token_not_yet_valid", "token_lifetime_too_long", "wrong_token_type"].includes(this.code)
    );
  }
}

const FRIENDLY = {
  network_error: "Can't reach the auction server. Check your connection and try again.",
  auction_not_active: "This auction is no longer accepting bids.",
  own_auction: "You can't bid on your own auction.",
  missing_token: "Please sign in first.",
  invalid_token: "Your session is no longer valid. Please sign in again.",
  token_expired: "Your session has expired. Please sign in again.",
  token_not_yet_valid: "Your session is not valid yet. Check your device's clock, or sign in again.",
  token_lifetime_too_long: "This token lives longer than the server allows (24 h). Please sign in with a shorter-lived one.",
  wrong_token_type: "That token cannot be used here. Please sign in again.",
  forbidden: "You're not allowed to do that.",
  not_seller: "Only the seller (or an admin) can do that.",
  auction_not_found: "This auction doesn't exist (or was removed).",
  service_unavailable: "The service is busy right now. Please try again in a moment.",
  invalid_json: "The request was malformed. Please reload the page and try again.",
  payload_too_large: "That's too much text — please shorten it.",
  idempotency_key_reused: "That bid was already submitted with different details. Please try again.",
};

function humanize(code) {
  return String(code || "error").replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase()) + ".";
}

/** Message to show for an error: the server's own message when it has one. */
export function errorMessage(err) {
  if (!(err instanceof ApiError)) return err?.message || "Something went wrong.";
  if (err.network) return FRIENDLY.network_error;
  let msg = err.body && typeof err.body.message === "string" && err.body.message.trim();
  if (!msg) msg = FRIENDLY[err.code] || humanize(err.code);
  if (!/[.!?]$/.test(msg)) msg += ".";
  msg = msg.charAt(0).toUpperCase() + msg.slice(1);
  if (err.code === "service_unavailable" && err.retryAfter) {
    msg += ` Try again in ${err.retryAfter} s.`;
  }
  return msg;
}

export async function request(path, { method = "GET", body, auth = false, headers = {} } = {}) {
  const h = { Accept: "application/json", ...headers };
  if (body !== undefined) h["Content-Type"] = "application/json";
  if (auth) {
    const s = getSession();
    if (s?.token) h.Authorization = `Bearer ${s.token}`;
  }
  let res;
  try {
    res = await fetch(config.httpUrl + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (e) {
    throw new ApiError({ network: true, message: e?.message });
  }
  let data = null;
  const text = await res.text().catch(() => "");
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const ra = res.headers.get("Retry-After") ?? data?.retryAfter ?? data?.retryAfterSeconds ?? null;
    throw new ApiError({
      status: res.status,
      code: data?.error || (res.status === 401 ? "invalid_token" : res.status >= 500 ? "service_unavailable" : `http_${res.status}`),
      message: data?.message,
      body: data,
      retryAfter: ra != null && ra !== "" && Number.isFinite(Number(ra)) ? Number(ra) : null,
    });
  }
  return data ?? {};
}

export const Api = {
  devToken: (name, role) => request("/dev/token", { method: "POST", body: { name, role } }),
  listAuctions: (cursor = null) => request(cursor ? `/auctions?cursor=${encodeURIComponent(cursor)}` : "/auctions"),
  getAuction: (id) => request(`/auctions/${encodeURIComponent(id)}`),
  createAuction: (input) => request("/auctions", { method: "POST", body: input, auth: true }),
  placeBid: (id, amount, idempotencyKey) =>
    request(`/auctions/${encodeURIComponent(id)}/bids`, {
      method: "POST",
      body: { amount },
      auth: true,
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  endAuction: (id) => request(`/auctions/${encodeURIComponent(id)}/end`, { method: "POST", auth: true }),
  // A one-minute, one-auction ticket for the WebSocket handshake: {ticket, expiresAt}.
  wsTicket: (id) => request(`/auctions/${encodeURIComponent(id)}/ticket`, { method: "POST", auth: true }),
};

export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // Fallback for non-secure contexts (e.g. plain http on a LAN address).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
