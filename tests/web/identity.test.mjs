// Issue 11, item 7: the web client decides "you" by ids, never by display names; the socket gets a ticket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isOwner } from "../../web/state.js";

test("the seller is recognised by public id only, never by a shared display name", () => {
  const auction = { sellerId: "p-aaaaaaaaaaaaaaaaaaaa", sellerName: "Ada" };
  const session = { name: "Someone", role: "seller" };
  assert.equal(isOwner(auction, session, "p-aaaaaaaaaaaaaaaaaaaa"), true);
  // Another user who picked the same name (or a session whose id is not known) is not the seller.
  assert.equal(isOwner(auction, { name: "Ada", role: "seller" }, "p-bbbbbbbbbbbbbbbbbbbb"), false);
  assert.equal(isOwner(auction, { name: "Ada", role: "seller" }, null), false);
  assert.equal(isOwner({ sellerName: "Ada" }, { name: "Ada", role: "admin" }, "p-aaaaaaaaaaaaaaaaaaaa"), false);
});

test("the live connection asks for a ticket per connect and never puts the session token in the URL", async () => {
  const opened = [];
  globalThis.window = { addEventListener() {}, removeEventListener() {} };
  globalThis.document = { addEventListener() {}, removeEventListener() {}, visibilityState: "visible" };
  globalThis.WebSocket = class {
    static OPEN = 1;
    constructor(url) {
      opened.push(url);
      this.readyState = 0;
    }
    close() {}
  };
  const { LiveConnection } = await import("../../web/live.js");
  let asked = 0;
  const live = new LiveConnection({
    wsUrl: "ws://127.0.0.1:3000/ws",
    auctionId: "A1",
    getTicket: async () => `ticket-${++asked}`,
    resync: async () => "active",
    onFrame() {},
    onState() {},
  });
  live.start();
  await new Promise((r) => setTimeout(r, 10));
  live.stop();
  assert.equal(asked, 1);
  assert.deepEqual(opened, ["ws://127.0.0.1:3000/ws?auctionId=A1&ticket=ticket-1"]);
  assert.ok(!opened[0].includes("token="));
});
