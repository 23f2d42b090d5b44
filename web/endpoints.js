// Which server the client talks to, and whether a stored session may be used with it. Pure.
//
// Three sources:
//   - defaults: the same-origin /config.json (the server that served this page); used as is;
//   - the override the user saved or confirmed on the settings screen (stored with confirmed: true);
//   - a proposal in the page URL (?api=&ws=&dev=): a link anyone can craft. It is never used and never stored
//     until the user confirms it on the settings screen, which names the host(s) it would send the sign-in to.
//     A stored override without the confirmed flag (written by an older client straight from a link) counts
//     as a proposal too.
// A session (its token) is bound to BOTH endpoints it was created against: if the HTTP or the WebSocket URL in
// use differs, the session is not used and the user signs in again, so the token never reaches another host.

export const LINK_PARAMS = ["api", "ws", "dev"];

export function normalizeUrl(u) {
  return String(u ?? "").trim().replace(/\/+$/, "");
}

/** -> {ok: true, httpUrl, wsUrl} | {ok: false, field, error} */
export function checkEndpoints(httpUrl, wsUrl) {
  const a = parse(normalizeUrl(httpUrl));
  if (!a || !/^https?:$/.test(a.protocol)) {
    return { ok: false, field: "http", error: "The API URL must start with http:// or https://." };
  }
  const w = parse(normalizeUrl(wsUrl));
  if (!w || !/^wss?:$/.test(w.protocol)) {
    return { ok: false, field: "ws", error: "The WebSocket URL must start with ws:// or wss://." };
  }
  if (a.username || a.password || w.username || w.password) {
    return { ok: false, field: a.username || a.password ? "http" : "ws", error: "The URLs must not contain a user name or password." };
  }
  if (a.search || a.hash || w.hash) {
    return { ok: false, field: a.search || a.hash ? "http" : "ws", error: "The URLs must not contain a query or fragment." };
  }
  return { ok: true, httpUrl: normalizeUrl(httpUrl), wsUrl: normalizeUrl(wsUrl) };
}

function parse(u) {
  try {
    return u ? new URL(u) : null;
  } catch {
    return null;
  }
}

/** "api.example.com" or "api.example.com and ws.example.com" */
export function hostsOf(httpUrl, wsUrl) {
  const hosts = [...new Set([parse(httpUrl)?.host, parse(wsUrl)?.host].filter(Boolean))];
  return hosts.join(" and ");
}

/**
 * Read a link's proposal from location.search.
 * -> {proposal: {httpUrl, wsUrl, devTokens} | null, search: the query without the link's parameters}
 */
export function proposalFromSearch(search) {
  const params = new URLSearchParams(search || "");
  const api = params.get("api");
  const ws = params.get("ws");
  const dev = params.get("dev");
  const present = LINK_PARAMS.some((k) => params.has(k));
  for (const k of LINK_PARAMS) params.delete(k);
  const rest = params.toString();
  let proposal = null;
  if (api && ws) {
    const c = checkEndpoints(api, ws);
    if (c.ok) proposal = { httpUrl: c.httpUrl, wsUrl: c.wsUrl, devTokens: dev === "1" || dev === "true" };
  }
  return { proposal, present, search: rest ? `?${rest}` : "" };
}

/** What the settings screen stores once the user saved or confirmed endpoints. */
export function confirmedOverride(httpUrl, wsUrl, devTokens) {
  const c = checkEndpoints(httpUrl, wsUrl);
  if (!c.ok) return null;
  return { httpUrl: c.httpUrl, wsUrl: c.wsUrl, devTokens: !!devTokens, confirmed: true };
}

const NONE = Object.freeze({ httpUrl: "", wsUrl: "", devTokens: false, source: "none" });

/**
 * Decide the endpoints in use.
 *   defaults: from /config.json or null; stored: the saved override or null; proposal: from the URL or null.
 * -> {config: {httpUrl, wsUrl, devTokens, source: "override"|"config"|"none"},
 *     proposal: endpoints awaiting the user's confirmation, or null}
 * The proposal never changes config.
 */
export function resolveConfig({ defaults = null, stored = null, proposal = null } = {}) {
  const def = defaults && checkEndpoints(defaults.httpUrl, defaults.wsUrl).ok
    ? { httpUrl: normalizeUrl(defaults.httpUrl), wsUrl: normalizeUrl(defaults.wsUrl), devTokens: !!defaults.devTokens }
    : null;
  const saved = stored && checkEndpoints(stored.httpUrl, stored.wsUrl).ok
    ? { httpUrl: normalizeUrl(stored.httpUrl), wsUrl: normalizeUrl(stored.wsUrl), devTokens: !!stored.devTokens }
    : null;

  let config;
  let pending = proposal && checkEndpoints(proposal.httpUrl, proposal.wsUrl).ok
    ? { httpUrl: normalizeUrl(proposal.httpUrl), wsUrl: normalizeUrl(proposal.wsUrl), devTokens: !!proposal.devTokens }
    : null;
  if (saved && stored.confirmed === true) {
    // Dev sign-in is what the server itself says, when the override is that server.
    const devTokens = def && def.httpUrl === saved.httpUrl ? def.devTokens : saved.devTokens;
    config = { ...saved, devTokens, source: "override" };
  } else {
    if (saved && !pending) pending = saved; // unconfirmed (legacy) override: ask, don't use
    config = def ? { ...def, source: "config" } : { ...NONE };
  }
  if (pending && pending.httpUrl === config.httpUrl && pending.wsUrl === config.wsUrl) pending = null;
  return { config, proposal: pending };
}

/** Stamp a new session with the endpoints it is created against. */
export function bindSession(session, config) {
  if (!session) return null;
  return { ...session, httpUrl: config.httpUrl, wsUrl: config.wsUrl };
}

/** May this stored session (its token) be sent to the endpoints in use? */
export function sessionUsable(session, config) {
  return !!(
    session && typeof session.token === "string" && session.token &&
    config && config.httpUrl && config.wsUrl &&
    session.httpUrl === config.httpUrl && session.wsUrl === config.wsUrl
  );
}
