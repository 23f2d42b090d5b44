// Endpoint overrides and session binding (web/endpoints.js): a crafted link must not redirect the token.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  proposalFromSearch, resolveConfig, confirmedOverride, bindSession, sessionUsable, checkEndpoints, hostsOf,
} from "../../web/endpoints.js";

const defaults = { httpUrl: "http://127.0.0.1:3000", wsUrl: "ws://127.0.0.1:3000/ws", devTokens: true };
const evil = "?api=https://evil.example/&ws=wss://evil.example/socket&dev=1";

test("the same-origin default config is used as is, and a session made against it works", () => {
  const { config, proposal } = resolveConfig({ defaults });
  assert.deepEqual(config, { ...defaults, source: "config" });
  assert.equal(proposal, null);
  const s = bindSession({ token: "t", name: "Ada" }, config);
  assert.ok(sessionUsable(s, resolveConfig({ defaults }).config));
});

test("a link's ?api=&ws= cannot take effect without confirmation", () => {
  const { proposal, search } = proposalFromSearch(evil);
  assert.deepEqual(proposal, { httpUrl: "https://evil.example", wsUrl: "wss://evil.example/socket", devTokens: true });
  assert.equal(search, "", "the link's parameters are taken out of the address");
  const r = resolveConfig({ defaults, stored: null, proposal });
  assert.equal(r.config.httpUrl, defaults.httpUrl);
  assert.equal(r.config.wsUrl, defaults.wsUrl);
  assert.deepEqual(r.proposal, proposal, "it awaits the user's confirmation");
  // The session made against the real server is still the one in use; nothing reaches evil.example.
  const s = bindSession({ token: "t" }, resolveConfig({ defaults }).config);
  assert.ok(sessionUsable(s, r.config));
});

test("with no server configured, a link's proposal still waits for confirmation", () => {
  const r = resolveConfig({ defaults: null, stored: null, proposal: proposalFromSearch(evil).proposal });
  assert.equal(r.config.httpUrl, "");
  assert.equal(r.config.source, "none");
  assert.equal(r.proposal.httpUrl, "https://evil.example");
});

test("once confirmed, the override is used and the proposal is settled", () => {
  const { proposal } = proposalFromSearch(evil);
  const stored = confirmedOverride(proposal.httpUrl, proposal.wsUrl, proposal.devTokens);
  assert.equal(stored.confirmed, true);
  const r = resolveConfig({ defaults, stored, proposal });
  assert.equal(r.config.source, "override");
  assert.equal(r.config.wsUrl, "wss://evil.example/socket");
  assert.equal(r.proposal, null);
});

test("a stored override an older client saved straight from a link (unconfirmed) is not used", () => {
  const stored = { httpUrl: "https://evil.example", wsUrl: "wss://evil.example", devTokens: false };
  const r = resolveConfig({ defaults, stored });
  assert.equal(r.config.source, "config");
  assert.equal(r.config.wsUrl, defaults.wsUrl);
  assert.equal(r.proposal.httpUrl, "https://evil.example", "it is offered for confirmation instead");
});

test("a proposal equal to the endpoints in use needs no confirmation", () => {
  const r = resolveConfig({ defaults, proposal: { httpUrl: defaults.httpUrl + "/", wsUrl: defaults.wsUrl } });
  assert.equal(r.proposal, null);
});

test("a session bound to another WebSocket URL is refused (same HTTP URL)", () => {
  const s = bindSession({ token: "t" }, defaults);
  assert.ok(sessionUsable(s, defaults));
  assert.equal(sessionUsable(s, { ...defaults, wsUrl: "wss://evil.example/socket" }), false);
});

test("a session bound to another HTTP URL is refused", () => {
  const s = bindSession({ token: "t" }, defaults);
  assert.equal(sessionUsable(s, { ...defaults, httpUrl: "https://evil.example" }), false);
});

test("a session stored without its WebSocket URL (older client) is refused", () => {
  assert.equal(sessionUsable({ token: "t", httpUrl: defaults.httpUrl }, defaults), false);
});

test("no session is usable when no server is configured", () => {
  assert.equal(sessionUsable({ token: "t", httpUrl: "", wsUrl: "" }, { httpUrl: "", wsUrl: "" }), false);
});

test("links with bad URLs propose nothing", () => {
  for (const q of [
    "?api=javascript:alert(1)&ws=wss://x.example",
    "?api=https://x.example&ws=https://x.example",
    "?api=https://user:pw@x.example&ws=wss://x.example",
    "?api=https://x.example",
  ]) {
    assert.equal(proposalFromSearch(q).proposal, null, q);
  }
  assert.equal(proposalFromSearch("?api=https://x.example&keep=1").search, "?keep=1");
});

test("endpoint checks and the host named on the confirmation", () => {
  assert.equal(checkEndpoints("ftp://x", "wss://x").ok, false);
  assert.equal(checkEndpoints("https://x.example", "ws://y.example").ok, true);
  assert.equal(hostsOf("https://a.example", "wss://a.example/prod"), "a.example");
  assert.equal(hostsOf("https://a.example", "wss://b.example"), "a.example and b.example");
});

test("dev sign-in follows the server's own config when the override is that server", () => {
  const stored = confirmedOverride(defaults.httpUrl, "ws://127.0.0.1:3000/other", false);
  assert.equal(resolveConfig({ defaults, stored }).config.devTokens, true);
});
