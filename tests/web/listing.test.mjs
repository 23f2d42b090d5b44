// The paged listing (web/listing.js): pages followed by their cursor, never past the last, no duplicates.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readPages } from "../../web/listing.js";

const lot = (id) => ({ auctionId: id, title: id, sellerName: "Sam", currentPrice: 1, bidCount: 0, endsAt: 1 });

function server(pages) {
  const asked = [];
  return {
    asked,
    fetchPage: async (cursor) => {
      asked.push(cursor);
      const i = cursor === null ? 0 : Number(cursor.slice(1));
      return { auctions: pages[i].map(lot), nextCursor: i + 1 < pages.length ? `c${i + 1}` : null };
    },
  };
}

test("reads as many pages as asked, following nextCursor", async () => {
  const s = server([["a", "b"], ["c", "d"], ["e"]]);
  const one = await readPages(s.fetchPage, 1);
  assert.deepEqual(one.auctions.map((a) => a.auctionId), ["a", "b"]);
  assert.equal(one.nextCursor, "c1");
  const two = await readPages(s.fetchPage, 2);
  assert.deepEqual(two.auctions.map((a) => a.auctionId), ["a", "b", "c", "d"]);
  assert.equal(two.nextCursor, "c2");
  assert.deepEqual(s.asked, [null, null, "c1"]);
});

test("stops at the last page and drops an auction seen twice across a moving boundary", async () => {
  const s = server([["a", "b"], ["b", "c"]]);
  const all = await readPages(s.fetchPage, 5);
  assert.deepEqual(all.auctions.map((a) => a.auctionId), ["a", "b", "c"]);
  assert.equal(all.nextCursor, null);
  assert.equal(s.asked.length, 2, "never asks past the last page");
});

test("a body without auctions or cursor is an empty last page", async () => {
  const r = await readPages(async () => ({}), 3);
  assert.deepEqual(r, { auctions: [], nextCursor: null });
});
